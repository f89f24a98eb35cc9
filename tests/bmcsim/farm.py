"""Start a simulated BMC farm from Python (tests, demos, benchmarks).

Usage::

    from tests.bmcsim.farm import start_farm

    with start_farm(count=200, workdir=tmp_path) as farm:
        farm.hosts          # ["127.31.7.1:27123", ...], one per BMC, in index order
        farm.user, farm.password
        bmc = farm.bmc(3)   # SimBMC(index=3, address="127.31.7.4", port=27123)
        bmc.host            # "127.31.7.4:27123" (freeipmi -h syntax)
        farm.ipmitool(3)    # ["-I", "lanplus", "-H", ..., "-p", ..., "-U", ..., "-P", ...]
        farm.ready          # the ready file: pid, workers, count, start_seconds, hosts
        farm.log()          # the farm's output; each process ends it with a
                            # "bmcsim stats: {received, ignored, lost, answered, errors}" line

:func:`start_farm` runs ``python -m tests.bmcsim`` as a subprocess, waits for
its ready file (every socket bound), yields a :class:`Farm` and always stops
the process on exit (SIGTERM, then SIGKILL of its process group after
``stop_timeout``).  If the farm dies or does not get ready within
``start_timeout`` a :class:`FarmError` carrying the farm's log is raised.

Addressing: by default every BMC gets its own loopback address in a random
``127.a.b.0/24``-style block (addresses ending in .0 or .255 are skipped) and
all share one random high port, so ``ipmipower -h`` lists stay unambiguous.
Pass ``first_address`` + ``port`` to choose them, or ``address`` +
``first_port`` for one address with consecutive ports.  When the addresses
were picked at random and a port turns out to be taken, another block is
tried (up to ``attempts`` times).

Keyword options mirror the command line (see ``python -m tests.bmcsim -h``):
``processes``, ``power`` ("on"/"off"), ``dead``/``garbage``/``flip``
(iterable of indexes or a string such as ``"1,5"`` or ``"0.1"``), ``slow``
(``{index: seconds}`` or ``"LIST:SECONDS"``), ``loss`` (fraction of received
packets dropped), ``seed``, ``fru_limit``, ``soft_off_delay``,
``cycle_delay``, ``session_timeout``, ``max_sessions`` and ``extra_args``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_ADDRESS_IN_USE = 3

Selection = str | Iterable[int] | None


class FarmError(RuntimeError):
    """The farm did not start; the message includes its log."""


@dataclass(frozen=True)
class SimBMC:
    """Where simulated BMC ``index`` listens."""

    index: int
    address: str
    port: int

    @property
    def host(self) -> str:
        """``address:port``, as freeipmi's ``-h`` accepts it."""
        return f"{self.address}:{self.port}"


@dataclass
class Farm:
    """A running farm: where its BMCs are and how to log in."""

    bmcs: list[SimBMC]
    user: str
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready: dict[str, object] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        """``address:port`` of every BMC, in index order."""
        return [b.host for b in self.bmcs]

    def bmc(self, index: int) -> SimBMC:
        """The BMC with this index."""
        return self.bmcs[index]

    def ipmitool(self, index: int, cipher: int | None = None) -> list[str]:
        """ipmitool connection arguments for BMC ``index`` (lanplus)."""
        b = self.bmcs[index]
        args = ["-I", "lanplus", "-H", b.address, "-p", str(b.port),
                "-U", self.user, "-P", self.password]
        if cipher is not None:
            args += ["-C", str(cipher)]
        return args

    def log(self) -> str:
        """What the farm wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _selection(value: Selection) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return ",".join(str(int(i)) for i in value)


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _random_block(rng: random.Random) -> tuple[str, int]:
    """A random ``127.a.b.1`` start address and a port free on it."""
    for _ in range(50):
        address = f"127.{rng.randint(2, 254)}.{rng.randint(0, 255)}.1"
        port = rng.randint(20000, 60000)
        if _port_free(address, port):
            return address, port
    raise FarmError("no free loopback address/port found")


def _random_ports(rng: random.Random, address: str, count: int) -> int:
    """A first port such that a sample of the ``count`` ports after it is free."""
    for _ in range(50):
        first = rng.randint(20000, 65535 - count)
        probe = {first, first + count - 1, first + count // 2}
        if all(_port_free(address, p) for p in probe):
            return first
    raise FarmError("no free port range found")


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout)
    if proc.stdin is not None:
        proc.stdin.close()


@contextmanager
def start_farm(count: int = 1, *, workdir: str | os.PathLike[str], first_address: str | None = None,
               port: int | None = None, address: str | None = None, first_port: int | None = None,
               user: str = "admin", password: str = "secret", processes: int = 1,
               power: str = "off", dead: Selection = None, garbage: Selection = None,
               flip: Selection = None, slow: str | Mapping[int, float] | None = None,
               loss: float = 0.0, seed: int = 0, fru_limit: int = 0,
               soft_off_delay: float | None = None, cycle_delay: float | None = None,
               session_timeout: float | None = None, max_sessions: int | None = None,
               extra_args: Iterable[str] = (), start_timeout: float = 30.0,
               stop_timeout: float = 5.0, lifetime: float = 1800.0,
               attempts: int = 3) -> Iterator[Farm]:
    """Run a farm of ``count`` simulated BMCs for the duration of the ``with`` block."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    options = ["--count", str(count), "--user", user, "--password", password,
               "--processes", str(processes), "--power", power, "--seed", str(seed),
               "--lifetime", str(lifetime), "--exit-on-stdin-eof"]
    for flag, value in (("--dead", dead), ("--garbage", garbage), ("--flip", flip)):
        text = _selection(value)
        if text:
            options += [flag, text]
    if isinstance(slow, str):
        options += ["--slow", slow]
    elif slow:
        for index, seconds in slow.items():
            options += ["--slow", f"{index}:{seconds}"]
    for flag, number in (("--loss", loss or None), ("--fru-limit", fru_limit or None),
                         ("--soft-off-delay", soft_off_delay), ("--cycle-delay", cycle_delay),
                         ("--session-timeout", session_timeout), ("--max-sessions", max_sessions)):
        if number is not None:
            options += [flag, str(number)]
    options += list(extra_args)
    chosen = first_address is not None or (address is not None and first_port is not None)
    for attempt in range(max(1, attempts)):
        if first_address is not None:
            where = ["--first-address", first_address, "--port", str(port)]
        elif address is not None:
            fp = first_port if first_port is not None else _random_ports(rng, address, count)
            where = ["--address", address, "--first-port", str(fp)]
        else:
            a, p = _random_block(rng)
            where = ["--first-address", a, "--port", str(p)]
        token = f"{os.getpid()}-{rng.randrange(1 << 30):08x}"
        ready_path = work / f"bmcsim-{token}.ready"
        log_path = work / f"bmcsim-{token}.log"
        ready_path.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "tests.bmcsim", *where, *options,
               "--ready-file", str(ready_path)]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + start_timeout
            while not ready_path.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if ready_path.exists():
                info = json.loads(ready_path.read_text())
                bmcs = []
                for i, host in enumerate(info["hosts"]):
                    a, _, p = host.rpartition(":")
                    bmcs.append(SimBMC(i, a, int(p)))
                farm = Farm(bmcs, user, password, proc, log_path, info)
                yield farm
                return
            code = proc.poll()
            text = log_path.read_text(errors="replace")
            if code == EXIT_ADDRESS_IN_USE and not chosen and attempt + 1 < attempts:
                continue
            reason = f"exited with {code}" if code is not None else "not ready in time"
            raise FarmError(f"bmcsim farm {reason}: {' '.join(cmd[:8])} ...\n{text}")
        finally:
            _stop(proc, stop_timeout)
    raise FarmError("bmcsim farm could not find free addresses")
