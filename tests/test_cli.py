"""Every console script: --help, --version, usage exit code, and a fast start.

Commands must not pull SQLAlchemy or a vendor library in on their way to the
daemon; the check runs each module's import in a fresh interpreter.
"""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "pyghmi", "pysnmp", "pyVmomi", "libvirt", "psycopg", "cryptography")


def console_scripts() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    text = cfg["options.entry_points"]["console_scripts"]
    out = {}
    for line in text.strip().splitlines():
        name, _, target = line.partition("=")
        out[name.strip()] = target.strip()
    return out


SCRIPTS = console_scripts()


def test_scripts_declared() -> None:
    assert {"nodels", "tabdump", "lsdef", "chtab", "xcatconfig"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help(mn, name: str) -> None:  # type: ignore[no-untyped-def]
    for flag in ("-h", "-?", "--help"):
        r = mn.run(name, flag)
        assert r.code == 0, r.err
        assert f"Usage: {name}" in r.out


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_version(mn, name: str) -> None:  # type: ignore[no-untyped-def]
    from xcatpy import __version__

    r = mn.run(name, "-v")
    assert r.code == 0, r.err
    assert r.out.strip() == f"Version {__version__}"


def test_unknown_option_is_usage_error(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("nodels", "--no-such-option")
    assert r.code == 1
    assert "Usage:" in r.err and "--no-such-option" in r.err


def test_commands_start_without_heavy_imports() -> None:
    modules = sorted({t.partition(":")[0] for t in SCRIPTS.values()})
    code = (
        "import sys, json\n"
        f"for m in {modules!r}: __import__(m)\n"
        f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == []


@pytest.mark.parametrize("command", ["nodels", "chtab", "tabdump", "lsdef"])
def test_unreachable_daemon_is_one_clear_error(mn, command: str) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = {"chtab": ["key=x", "site.value=1"], "tabdump": ["site"]}.get(command, [])
    r = mn.run(command, *args, env={"XCATBYPASS": "", "XCATHOST": f"127.0.0.1:{port}"})
    assert r.code == 1
    assert r.err.startswith(f"Error: cannot connect to xcatd at 127.0.0.1:{port}")
    assert "Traceback" not in r.err and len(r.err.splitlines()) == 1


def test_missing_credentials_are_explained(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("nodels", env={"XCATBYPASS": "", "HOME": str(tmp_path / "nobody")})
    assert r.code == 1
    assert "ca.pem" in r.err and "xcatconfig --client" in r.err
