"""Shared fixtures: a management node under a temporary XCATPY_ROOT.

``mn`` initialises a real database (SQLite by default; PostgreSQL for tests
parametrised with ``store_backend``) and ``run`` runs a command's real entry
point in-process with captured output and exit code.  Tests that need the
installed console scripts use ``run_script``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_URL = os.environ.get("XCATPY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    code: int
    out: str
    err: str


def _main_of(command: str):  # type: ignore[no-untyped-def]
    import importlib

    return importlib.import_module(f"xcatpy.cli.{command.lower()}").main


@dataclass
class MN:
    """A management node rooted at ``root``."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def home(self) -> Path:
        return Path(os.environ["HOME"])

    def run(self, command: str, *args: str, stdin: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        """Run a command's console entry point in this process."""
        main = _main_of(command)
        out, err = io.StringIO(), io.StringIO()
        inp = io.StringIO(stdin) if stdin is not None else _TTYIn()
        code = 0
        with self.monkeypatch.context() as mp:
            for k, v in (env or {}).items():
                mp.setenv(k, v)
            mp.setattr(sys, "argv", [command, *args])
            mp.setattr(sys, "stdin", inp)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main()
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, command: str, *args: str, stdin: str | None = None) -> str:
        r = self.run(command, *args, stdin=stdin)
        assert r.code == 0, f"{command} {' '.join(args)} exited {r.code}: {r.err}"
        return r.out

    def dump(self, table: str) -> str:
        return self.ok("tabdump", table)

    def dump_all(self) -> dict[str, str]:
        from xcatpy.store.schema import TABLES

        return {t: self.dump(t) for t in TABLES}


class _TTYIn(io.StringIO):
    def isatty(self) -> bool:
        return True


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_stores: run the test on SQLite and on PostgreSQL (skipped where none runs)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_stores"
    ):
        metafunc.parametrize("store_backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def mn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_backend: str) -> Iterator[MN]:
    root = tmp_path / "root"
    root.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XCATPY_ROOT", str(root))
    monkeypatch.setenv("XCATBYPASS", "YES")
    monkeypatch.delenv("XCATHOST", raising=False)
    schema = None
    if store_backend == "postgresql":
        if not _pg_available():
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
        import psycopg

        schema = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f"CREATE SCHEMA {schema}")
        (root / "etc" / "xcatpy").mkdir(parents=True)
        (root / "etc" / "xcatpy" / "cfgloc").write_text(
            f"{PG_URL}?options=-csearch_path%3D{schema}\n"
        )
    node = MN(root, monkeypatch)
    r = node.run("xcatconfig", "-i")
    assert r.code == 0, r.err
    yield node
    if schema is not None:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


both_stores = pytest.mark.both_stores
"""Decorator: run a test on SQLite and on PostgreSQL (skipped where none runs)."""


@pytest.fixture
def run_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run an installed console script as a subprocess, with a timeout."""

    def _run(*argv: str, stdin: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> Result:
        full_env = dict(os.environ)
        full_env.update(env or {})
        p = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                           timeout=timeout, env=full_env)
        return Result(p.returncode, p.stdout, p.stderr)

    return _run


@dataclass
class Daemon:
    """A real xcatd serving ``mn`` on an ephemeral loopback port."""

    mn: MN
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def run(self, command: str, *args: str, stdin: str | None = None,
            home: Path | None = None, env: dict[str, str] | None = None) -> Result:
        """Run a command through the daemon (no bypass), as the owner of ``home``."""
        extra = {"XCATBYPASS": "", "XCATHOST": self.address}
        if home is not None:
            extra["HOME"] = str(home)
        extra.update(env or {})
        return self.mn.run(command, *args, stdin=stdin, env=extra)


def _wait_ready(ready: Path, proc: subprocess.Popen[bytes], log: Path, limit: float) -> str:
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if ready.exists():
            return ready.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"xcatd exited {proc.returncode}: {log.read_text()}")
        time.sleep(0.05)
    raise RuntimeError(f"xcatd not ready after {limit}s: {log.read_text()}")


@pytest.fixture
def daemon(mn: MN, tmp_path: Path) -> Iterator[Daemon]:
    """xcatd on 127.0.0.1 and a free port, stopped (SIGTERM, then SIGKILL) afterwards."""
    ready = tmp_path / "xcatd.ready"
    log = tmp_path / "xcatd.log"
    with open(log, "wb") as logfh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "xcatpy.cli.xcatd", "--listen", "127.0.0.1", "--port", "0",
             "--ready-file", str(ready)],
            stdout=logfh, stderr=subprocess.STDOUT, env=dict(os.environ),
        )
    try:
        host, _, port = _wait_ready(ready, proc, log, 30).rpartition(":")
        yield Daemon(mn, host, int(port), proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    import sqlalchemy as sa

    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
