"""The farm process: many :class:`~tests.bmcsim.bmc.BMC` objects behind UDP sockets.

Each BMC owns one UDP socket, served by an asyncio datagram endpoint (epoll
based).  With ``processes > 1`` the BMCs are dealt round-robin to forked worker
processes and the parent only supervises; with one process everything runs in
the main process.  The ready file is written (atomically, as JSON) once every
socket is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import json
import multiprocessing
import multiprocessing.connection
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.bmcsim.bmc import BMC, BMCConfig

EXIT_ADDRESS_IN_USE = 3
EXIT_START_FAILED = 4


@dataclass
class Faults:
    """Which BMCs misbehave and how."""

    dead: set[int] = field(default_factory=set)
    slow: dict[int, float] = field(default_factory=dict)
    garbage: set[int] = field(default_factory=set)
    flip: set[int] = field(default_factory=set)
    loss: float = 0.0


@dataclass
class FarmSpec:
    """Everything a shard needs to serve its BMCs."""

    endpoints: list[tuple[str, int]]
    config: BMCConfig
    faults: Faults
    seed: int = 0
    rcvbuf: int = 1 << 20
    lifetime: float = 0.0


def parse_selection(text: str, count: int) -> set[int]:
    """Indexes named by ``text``: ``"1,5,7-9"`` or a fraction such as ``"0.3"``.

    A fraction f picks the indexes where floor((i+1) f) > floor(i f): exactly
    floor(count f) BMCs, spread evenly, never index 0 unless f >= 1.
    """
    text = text.strip()
    if not text:
        return set()
    if "." in text:
        frac = float(text)
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"fraction out of range: {text}")
        return {i for i in range(count) if int((i + 1) * frac) > int(i * frac)}
    picked: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            picked.update(range(lo, hi + 1))
        elif part:
            picked.add(int(part))
    bad = [i for i in picked if not 0 <= i < count]
    if bad:
        raise ValueError(f"BMC index out of range 0..{count - 1}: {sorted(bad)[:5]}")
    return picked


def endpoints_for(count: int, *, first_address: str | None, port: int | None,
                  address: str | None, first_port: int | None) -> list[tuple[str, int]]:
    """Addresses of ``count`` BMCs, in one of the two addressing schemes.

    Per-address mode skips addresses whose last octet is 0 or 255.
    """
    loopback = ipaddress.ip_network("127.0.0.0/8")
    if first_address is not None:
        if address is not None or first_port is not None:
            raise ValueError("--first-address goes with --port only")
        port = 623 if port is None else port
        out: list[tuple[str, int]] = []
        ip = ipaddress.ip_address(first_address)
        limit = count * 2 + 4
        while len(out) < count and limit > 0:
            limit -= 1
            if ip not in loopback:
                raise ValueError(f"address {ip} leaves 127.0.0.0/8")
            if ip.packed[3] not in (0, 255):
                out.append((str(ip), port))
            ip += 1
        return out
    if address is None or first_port is None:
        raise ValueError("give --first-address/--port or --address/--first-port")
    if ipaddress.ip_address(address) not in loopback:
        raise ValueError("only 127.0.0.0/8 addresses are allowed")
    if first_port + count - 1 > 65535 or first_port < 1:
        raise ValueError("port range does not fit")
    return [(address, first_port + i) for i in range(count)]


@dataclass
class Stats:
    """Packet counters of one process, printed as a ``bmcsim stats:`` JSON line at exit."""

    received: int = 0
    ignored: int = 0
    lost: int = 0
    answered: int = 0
    errors: int = 0


class Endpoint(asyncio.DatagramProtocol):
    """The UDP face of one BMC, applying its faults."""

    def __init__(self, bmc: BMC, spec: FarmSpec, rng: random.Random, stats: Stats) -> None:
        i = bmc.index
        self.stats = stats
        self.bmc = bmc
        self.rng = rng
        self.dead = i in spec.faults.dead
        self.garbage = i in spec.faults.garbage
        self.delay = spec.faults.slow.get(i, 0.0)
        self.loss = spec.faults.loss
        self.transport: asyncio.DatagramTransport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.received += 1
        if self.dead:
            self.stats.ignored += 1
            return
        if self.loss and self.rng.random() < self.loss:
            self.stats.lost += 1
            return
        if self.garbage:
            junk = b"\x06\x00\xff\x07" + self.rng.randbytes(self.rng.randint(8, 64))
            self._send(junk, addr)
        elif self.delay:
            self.loop.call_later(self.delay, self._answer, data, addr)
        else:
            self._answer(data, addr)

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.bmc.handle(data)
        except Exception as exc:  # a malformed packet must not stop the farm
            self.stats.errors += 1
            print(f"bmc {self.bmc.index}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        if reply is not None:
            self._send(reply, addr)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.stats.answered += 1
            self.transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass


def _bind(addr: tuple[str, int], rcvbuf: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, rcvbuf)
                break
            except OSError:
                continue
        sock.bind(addr)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def _serve(spec: FarmSpec, indexes: list[int], on_ready: Callable[[str | None], None],
                 watch_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    transports: list[asyncio.BaseTransport] = []
    stats = Stats()
    try:
        for i in indexes:
            bmc = BMC(i, BMCConfig(**{**spec.config.__dict__, "flip": i in spec.faults.flip}))
            rng = random.Random(spec.seed * 1_000_003 + i)
            sock = _bind(spec.endpoints[i], spec.rcvbuf)
            transport, _ = await loop.create_datagram_endpoint(
                lambda b=bmc, r=rng: Endpoint(b, spec, r, stats), sock=sock)
            transports.append(transport)
        on_ready(None)
        if watch_stdin:
            _watch_stdin(loop, stop)
        timeout = spec.lifetime or None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
    finally:
        for t in transports:
            t.close()
        if transports:
            os.write(2, f"bmcsim stats: {json.dumps(stats.__dict__)}\n".encode())


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop when standard input reaches end of file (the parent went away)."""
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    try:
        loop.add_reader(fd, readable)
    except (OSError, ValueError, PermissionError):
        pass


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent exits."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)


def _shard_main(spec: FarmSpec, indexes: list[int], conn: multiprocessing.connection.Connection) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    def ready(err: str | None) -> None:
        conn.send(err or "ok")

    try:
        asyncio.run(_serve(spec, indexes, ready, watch_stdin=False))
    except OSError as exc:
        conn.send(f"bind: {exc}")
        sys.exit(EXIT_ADDRESS_IN_USE if exc.errno == 98 else EXIT_START_FAILED)


def write_ready(path: Path | None, spec: FarmSpec, started: float,
                workers: list[int]) -> None:
    """Write the ready file atomically (JSON: pid, workers, count, start_seconds, hosts)."""
    if path is None:
        return
    info = {"pid": os.getpid(), "workers": workers, "count": len(spec.endpoints),
            "start_seconds": round(time.monotonic() - started, 3),
            "hosts": [f"{a}:{p}" for a, p in spec.endpoints]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)


def run(spec: FarmSpec, processes: int, ready_file: Path | None, watch_stdin: bool,
        start_timeout: float = 60.0) -> int:
    """Serve the farm until SIGTERM/SIGINT, stdin EOF or the lifetime ends."""
    started = time.monotonic()
    count = len(spec.endpoints)
    processes = max(1, min(processes, count))
    if processes == 1:
        try:
            asyncio.run(_serve(spec, list(range(count)),
                               lambda _e: write_ready(ready_file, spec, started, []), watch_stdin))
        except OSError as exc:
            print(f"bmcsim: cannot bind: {exc}", file=sys.stderr)
            return EXIT_ADDRESS_IN_USE if exc.errno == 98 else EXIT_START_FAILED
        return 0
    return _supervise(spec, processes, ready_file, watch_stdin, started, start_timeout)


def _supervise(spec: FarmSpec, processes: int, ready_file: Path | None, watch_stdin: bool,
               started: float, start_timeout: float) -> int:
    ctx = multiprocessing.get_context("fork")
    children: list[multiprocessing.process.BaseProcess] = []
    conns: list[multiprocessing.connection.Connection] = []
    count = len(spec.endpoints)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    for k in range(processes):
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_shard_main, args=(spec, list(range(k, count, processes)), child_end),
                           daemon=True)
        proc.start()
        child_end.close()
        children.append(proc)
        conns.append(parent_end)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    try:
        pending = set(range(processes))
        deadline = time.monotonic() + start_timeout
        while pending and not stopping:
            if time.monotonic() > deadline:
                print("bmcsim: workers did not start in time", file=sys.stderr)
                return EXIT_START_FAILED
            for k in list(pending):
                if conns[k].poll(0.01):
                    msg = conns[k].recv()
                    if msg != "ok":
                        print(f"bmcsim: worker {k}: {msg}", file=sys.stderr)
                        return EXIT_ADDRESS_IN_USE if "Errno 98" in msg else EXIT_START_FAILED
                    pending.discard(k)
                elif not children[k].is_alive():
                    print(f"bmcsim: worker {k} exited with {children[k].exitcode}", file=sys.stderr)
                    return EXIT_START_FAILED
        write_ready(ready_file, spec, started, [c.pid for c in children if c.pid])
        end = time.monotonic() + spec.lifetime if spec.lifetime else float("inf")
        stdin_fd = sys.stdin.fileno() if watch_stdin else None
        while not stopping and time.monotonic() < end:
            waitables: list[object] = [c.sentinel for c in children]
            if stdin_fd is not None:
                waitables.append(stdin_fd)
            ready = multiprocessing.connection.wait(waitables, timeout=0.2)  # type: ignore[arg-type]
            if stdin_fd is not None and stdin_fd in ready and not os.read(stdin_fd, 4096):
                break
            dead = [c for c in children if not c.is_alive()]
            if dead:
                print(f"bmcsim: worker {dead[0].pid} died ({dead[0].exitcode})", file=sys.stderr)
                code = EXIT_START_FAILED
                break
    finally:
        for c in children:
            if c.is_alive() and c.pid:
                os.kill(c.pid, signal.SIGTERM)
        for c in children:
            c.join(5.0)
            if c.is_alive() and c.pid:
                os.kill(c.pid, signal.SIGKILL)
                c.join(1.0)
    return code


def build_parser() -> argparse.ArgumentParser:
    """Command line of ``python -m tests.bmcsim``."""
    p = argparse.ArgumentParser(
        prog="python -m tests.bmcsim",
        description="Serve N simulated IPMI 2.0 BMCs over UDP on 127.0.0.0/8.")
    p.add_argument("--count", type=int, default=1, help="number of BMCs (default 1)")
    p.add_argument("--first-address", help="one address per BMC, counting up from this one")
    p.add_argument("--port", type=int, help="UDP port of every BMC with --first-address (default 623)")
    p.add_argument("--address", help="one address for all BMCs, with --first-port")
    p.add_argument("--first-port", type=int, help="UDP port of BMC 0; BMC i uses first-port + i")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="secret")
    p.add_argument("--power", choices=("on", "off"), default="off", help="power state at start")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--ready-file", type=Path, help="JSON written when every socket is bound")
    p.add_argument("--dead", default="", help="LIST or FRACTION of BMCs that never answer")
    p.add_argument("--slow", action="append", default=[], metavar="LIST:SECONDS",
                   help="BMCs that answer after a delay (repeatable)")
    p.add_argument("--garbage", default="", help="LIST or FRACTION of BMCs answering junk")
    p.add_argument("--flip", default="", help="LIST or FRACTION of BMCs whose power toggles "
                   "after every Get Chassis Status")
    p.add_argument("--loss", type=float, default=0.0, help="fraction of received packets dropped")
    p.add_argument("--seed", type=int, default=0, help="seed of the loss and junk generators")
    p.add_argument("--fru-limit", type=int, default=0,
                   help="answer 0xC8 to Read FRU Data asking for more bytes (0 = no limit)")
    p.add_argument("--soft-off-delay", type=float, default=1.0, help="seconds until soft off")
    p.add_argument("--cycle-delay", type=float, default=1.0, help="seconds off during a cycle")
    p.add_argument("--session-timeout", type=float, default=60.0)
    p.add_argument("--max-sessions", type=int, default=16, help="sessions per BMC")
    p.add_argument("--rcvbuf", type=int, default=1 << 20, help="socket receive buffer bytes")
    p.add_argument("--lifetime", type=float, default=0.0,
                   help="exit after this many seconds (0 = run until signalled)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when standard input is closed (the caller went away)")
    return p


def spec_from_args(args: argparse.Namespace) -> FarmSpec:
    """Validate parsed options into a :class:`FarmSpec` (raises ValueError)."""
    if args.count < 1:
        raise ValueError("--count must be at least 1")
    endpoints = endpoints_for(args.count, first_address=args.first_address, port=args.port,
                              address=args.address, first_port=args.first_port)
    slow: dict[int, float] = {}
    for item in args.slow:
        which, _, seconds = item.rpartition(":")
        if not which:
            raise ValueError("--slow wants LIST:SECONDS")
        for i in parse_selection(which, args.count):
            slow[i] = float(seconds)
    if not 0.0 <= args.loss < 1.0:
        raise ValueError("--loss must be in [0, 1)")
    faults = Faults(dead=parse_selection(args.dead, args.count), slow=slow,
                    garbage=parse_selection(args.garbage, args.count),
                    flip=parse_selection(args.flip, args.count), loss=args.loss)
    config = BMCConfig(user=args.user, password=args.password, power_on=args.power == "on",
                       soft_off_delay=args.soft_off_delay, cycle_delay=args.cycle_delay,
                       session_timeout=args.session_timeout, max_sessions=args.max_sessions,
                       fru_limit=args.fru_limit)
    if len(args.user.encode()) > 16 or len(args.password.encode()) > 20:
        raise ValueError("user name is at most 16 bytes and password at most 20")
    return FarmSpec(endpoints, config, faults, seed=args.seed, rcvbuf=args.rcvbuf,
                    lifetime=args.lifetime)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tests.bmcsim``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        spec = spec_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    return run(spec, args.processes, args.ready_file, args.exit_on_stdin_eof)
