"""The IPMI engine: one asyncio I/O thread that owns all RMCP+ traffic.

Every BMC conversation in the process runs as coroutines on a single event
loop in a daemon thread.  A handful of unconnected UDP sockets (epoll, so any
number of BMCs) carry all packets; replies are routed to their session by the
console session ID we chose (unique in the process) and then matched by
payload type + message tag (login) or netfn/rqSeq/command (requests).

Other threads use :meth:`Engine.run` (one coroutine, blocking) and
:meth:`Engine.map` (many keyed jobs, results handed back as each completes).

Passwords never appear in a repr, message, log line or exception.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import hashlib
import ipaddress
import logging
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from xcatpy.ipmi import rmcp

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_TIMEOUT = 2.0  # site.ipmitimeout: seconds to wait for one packet's answer
DEFAULT_RETRIES = 3  # site.ipmiretries: resends after the first packet
# site.ipmimaxp as the engine understands it: BMC jobs in flight at once.  A job
# costs a few kilobytes and no thread, so the limit only guards against
# unbounded bursts; it is large so that dead BMCs (each holding a slot for its
# full deadline) never queue up behind each other in a realistic request.
DEFAULT_CONCURRENCY = 2048
DEFAULT_CACHE_SIZE = 4096  # logged-in sessions kept for reuse
# A session idle for longer is logged in afresh instead of reused: BMCs drop
# idle sessions after 30-60 s, and a dead cached session costs retries.
DEFAULT_IDLE_LIMIT = 25.0
SOCKETS_PER_FAMILY = 4
RCVBUF = 8 << 20
CLOSE_TIMEOUT = 2.0  # Engine.close(): total time for Close Session messages
# Suites tried in order; 17 (SHA-256) first, 3 (SHA-1) when the BMC refuses 17.
SUITE_ORDER = (17, 3)
# Open Session statuses that mean "not this cipher suite".
_SUITE_REFUSALS = {0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12}


# --------------------------------------------------------------------------
# Public value types and errors


@dataclass(frozen=True)
class Bmc:
    """Where and as whom to log in.  The password is kept out of repr/str."""

    host: str
    port: int = 623
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        """``host:port`` (IPv6 in brackets) for messages."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def cache_key(self) -> tuple[str, int, str, str]:
        """Session cache key; the password enters only as a hash."""
        digest = hashlib.sha256(self.password.encode("utf-8", "surrogateescape")).hexdigest()
        return (self.host, self.port, self.username, digest)


@dataclass(frozen=True)
class Response:
    """An IPMI response: response netfn (request netfn + 1), command,
    completion code and data bytes."""

    netfn: int
    command: int
    code: int
    data: bytes

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def error(self) -> str | None:
        """Readable completion code text, or None for success."""
        return None if self.code == 0 else rmcp.completion_text(self.code)


class IpmiError(Exception):
    """An IPMI failure for one BMC; ``str()`` is what the user sees."""


class IpmiTimeout(IpmiError):
    """The BMC did not answer within the allowed attempts."""


class IpmiAuthError(IpmiError):
    """Login refused: unknown user, wrong password, privilege not granted."""


class IpmiCommandError(IpmiError):
    """A command answered with a non-zero completion code (raised by ops)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _SuiteRefused(IpmiError):
    pass


class _Garbage(IpmiError):
    """Only undecodable answers arrived."""


class _Stale(IpmiError):
    """A session the BMC no longer knows."""


# --------------------------------------------------------------------------
# Sockets


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.engine._dispatch(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: let timeouts decide
        log.debug("ipmi socket error: %s", exc)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------
# One RMCP+ session with one BMC


class _Conn:
    """An RMCP+ session (or a login in progress) with one BMC."""

    def __init__(self, engine: Engine, bmc: Bmc, sockaddr: tuple[Any, ...],
                 transport: asyncio.DatagramTransport) -> None:
        self.engine = engine
        self.bmc = bmc
        self.sockaddr = sockaddr
        self.transport = transport
        self.csid = engine._new_csid(self)
        self.bsid = 0
        self.suite: rmcp.CipherSuite | None = None
        self.keys: rmcp.Keys | None = None
        self.out_seq = 1
        self.rq_seq = secrets.randbelow(64)
        self.tag = secrets.randbelow(256)
        self.lock = asyncio.Lock()
        self.established = False
        self.priv = 0  # session privilege now in force (USER once established)
        self.closed = False
        self.garbage = 0
        self.last_ok = time.monotonic()
        self._waiter: tuple[Callable[[bytes], Any], asyncio.Future[Any]] | None = None

    # -- receive path (called from the protocol, on the loop)
    def on_packet(self, data: bytes) -> None:
        w = self._waiter
        if w is None:
            return
        pred, fut = w
        try:
            res = pred(data)
        except (rmcp.CodecError, IndexError, ValueError):
            self.garbage += 1
            return
        except IpmiError as exc:
            if not fut.done():
                fut.set_exception(exc)
            return
        if res is not None and not fut.done():
            fut.set_result(res)

    def on_garbage(self) -> None:
        self.garbage += 1

    # -- one exchange with retransmission
    async def exchange(self, build: Callable[[], bytes], pred: Callable[[bytes], Any],
                       timeout: float, retries: int) -> Any:
        """Send ``build()`` up to ``retries + 1`` times until ``pred`` accepts a reply."""
        loop = asyncio.get_running_loop()
        garbage0 = self.garbage
        attempts = max(0, int(retries)) + 1
        try:
            for _ in range(attempts):
                fut: asyncio.Future[Any] = loop.create_future()
                self._waiter = (pred, fut)
                self.transport.sendto(build(), self.sockaddr)
                self.engine.stats["sent"] += 1
                handle = loop.call_later(timeout, _expire, fut)
                try:
                    res = await fut
                except _Expired:
                    continue
                finally:
                    handle.cancel()
                self.last_ok = time.monotonic()
                return res
        finally:
            self._waiter = None
        if self.garbage > garbage0:
            raise _Garbage(f"BMC answered garbage ({self.bmc.label})")
        raise IpmiTimeout(f"timeout: no answer from {self.bmc.label} after {attempts} attempts")

    # -- login
    def _next_tag(self) -> int:
        self.tag = (self.tag + 1) & 0xFF
        return self.tag

    async def login(self, suite: rmcp.CipherSuite, timeout: float, retries: int) -> None:
        """Open Session, RAKP 1-4 and Set Session Privilege Level (ADMINISTRATOR).

        A lost packet restarts the handshake from Open Session rather than
        resending the same step: a BMC that already consumed a RAKP 3 whose
        answer was lost will not answer the resent one.  At most
        ``retries + 1`` handshakes, each failing on its first silent step, so
        a dead BMC costs ``timeout * (retries + 1)``.
        """
        bmc = self.bmc
        user = bmc.username.encode("utf-8")
        password = bmc.password.encode("utf-8", "surrogateescape")
        if len(user) > 16:
            raise IpmiAuthError("login failed: user name longer than 16 bytes")
        if len(password) > 20:
            raise IpmiAuthError("login failed: password longer than 20 bytes")
        attempts = max(0, int(retries)) + 1
        last: IpmiError | None = None
        for _ in range(attempts):
            try:
                await self._handshake(suite, timeout, user, password)
                break
            except (IpmiTimeout, _Garbage) as exc:
                last = exc
        else:
            if isinstance(last, _Garbage):
                raise IpmiError(str(last))
            raise IpmiTimeout(f"timeout: no answer from {bmc.label} after {attempts} attempts")
        # An activated session runs at USER level; set_privilege() raises it
        # when a command first needs more, so read-only work saves a round trip.
        self.priv = rmcp.PRIV_USER

    async def set_privilege(self, priv: int, timeout: float, retries: int) -> None:
        """Set Session Privilege Level (up to what RAKP 1 asked for: ADMINISTRATOR)."""
        rsp = await self.request(0x06, 0x3B, bytes([priv]), timeout, retries)
        if rsp.code:
            name = rmcp.PRIV_NAMES.get(priv, str(priv))
            raise IpmiAuthError(f"login failed: {name} privilege refused: "
                                + rmcp.completion_text(rsp.code))
        self.priv = priv

    async def _handshake(self, suite: rmcp.CipherSuite, timeout: float, user: bytes,
                         password: bytes) -> None:
        """One pass of Open Session and RAKP 1-4, one packet per step."""
        bmc = self.bmc
        retries = 0
        # Open Session
        tag = self._next_tag()
        req = rmcp.rmcpp_unauth(rmcp.PT_OPEN_REQ, rmcp.open_session_request(tag, self.csid, suite))

        def got_open(pkt: bytes) -> rmcp.OpenSessionResponse | None:
            ptype, payload = rmcp.parse_unauth(pkt)
            if ptype != rmcp.PT_OPEN_RSP:
                return None
            r = rmcp.parse_open_session_response(payload)
            if r.tag != tag or r.console_sid not in (self.csid, None):
                return None
            return r

        osr: rmcp.OpenSessionResponse = await self.exchange(lambda: req, got_open, timeout, retries)
        if osr.status:
            if osr.status in _SUITE_REFUSALS:
                raise _SuiteRefused(f"login failed: cipher suite {suite.id} refused: "
                                    f"{rmcp.status_text(osr.status)}")
            raise IpmiAuthError(f"login failed: {rmcp.status_text(osr.status)}")
        if osr.suite is None:
            raise IpmiError(f"BMC answered garbage ({bmc.label}): unsupported algorithms "
                            "in Open Session Response")
        suite = osr.suite  # normally the proposal; a BMC may substitute another known suite
        bsid = osr.bmc_sid

        # RAKP 1 / 2
        tag = self._next_tag()
        crand = os.urandom(16)
        r1 = rmcp.rmcpp_unauth(rmcp.PT_RAKP1, rmcp.rakp1(tag, bsid, crand, user))

        def got_rakp2(pkt: bytes) -> rmcp.Rakp2 | None:
            ptype, payload = rmcp.parse_unauth(pkt)
            if ptype != rmcp.PT_RAKP2:
                return None
            r = rmcp.parse_rakp2(payload)
            if r.tag != tag or r.console_sid not in (self.csid, None):
                return None
            return r

        r2: rmcp.Rakp2 = await self.exchange(lambda: r1, got_rakp2, timeout, retries)
        if r2.status:
            raise IpmiAuthError(f"login failed: {rmcp.status_text(r2.status)}")
        expect = rmcp.rakp2_expected(suite, password, self.csid, bsid, crand, r2.bmc_rand,
                                     r2.bmc_guid, user)
        if r2.auth_code[: len(expect)] != expect:
            # Tell the BMC (best effort) so that it frees the half-open session.
            self._send(rmcp.rmcpp_unauth(rmcp.PT_RAKP3, rmcp.rakp3(
                suite, self._next_tag(), bsid, b"", b"", 0, b"", status=0x0F)))
            raise IpmiAuthError("login failed: invalid password (RAKP 2 HMAC mismatch)")
        keys = rmcp.derive_keys(suite, password, crand, r2.bmc_rand, user)

        # RAKP 3 / 4
        tag = self._next_tag()
        r3 = rmcp.rmcpp_unauth(rmcp.PT_RAKP3, rmcp.rakp3(suite, tag, bsid, password, r2.bmc_rand,
                                                          self.csid, user))

        def got_rakp4(pkt: bytes) -> rmcp.Rakp4 | None:
            ptype, payload = rmcp.parse_unauth(pkt)
            if ptype != rmcp.PT_RAKP4:
                return None
            r = rmcp.parse_rakp4(payload)
            if r.tag != tag or r.console_sid not in (self.csid, None):
                return None
            return r

        r4: rmcp.Rakp4 = await self.exchange(lambda: r3, got_rakp4, timeout, retries)
        if r4.status:
            raise IpmiAuthError(f"login failed: {rmcp.status_text(r4.status)}")
        if r4.icv[: suite.icv_len] != rmcp.rakp4_expected(suite, keys.sik, crand, bsid, r2.bmc_guid):
            raise IpmiAuthError("login failed: invalid integrity check value in RAKP 4")

        self.suite, self.keys, self.bsid = suite, keys, bsid
        self.established = True

    def _send(self, pkt: bytes) -> None:
        try:
            self.transport.sendto(pkt, self.sockaddr)
            self.engine.stats["sent"] += 1
        except OSError:
            pass

    # -- requests in the session
    async def request(self, netfn: int, cmd: int, data: bytes, timeout: float,
                      retries: int, lun: int = 0) -> Response:
        """One request/response; the caller serialises (one outstanding request)."""
        if not self.established or self.closed or self.keys is None or self.suite is None:
            raise _Stale("session closed")
        suite, keys = self.suite, self.keys
        self.rq_seq = (self.rq_seq + 1) & 0x3F
        seq = self.rq_seq
        msg = rmcp.ipmi_request(netfn, cmd, seq, data, lun)

        def build() -> bytes:
            self.out_seq = (self.out_seq + 1) & 0xFFFFFFFF or 1
            return rmcp.rmcpp_session_packet(suite, keys.k1, keys.k2, self.bsid,
                                             self.out_seq, msg)

        want_netfn = netfn | 1  # responses carry the request netfn + 1

        def got(pkt: bytes) -> Response | None:
            sp = rmcp.parse_session_packet(suite, keys.k1, keys.k2, pkt)
            if sp.ptype != rmcp.PT_IPMI or sp.session_id != self.csid:
                return None
            r = rmcp.parse_ipmi_response(sp.payload)
            if r.seq != seq or r.cmd != cmd or r.netfn != want_netfn:
                return None  # a late answer to an earlier request
            return Response(r.netfn, r.cmd, r.code, r.data)

        return await self.exchange(build, got, timeout, retries)

    async def close(self, timeout: float) -> None:
        """Close Session (best effort, one attempt) and forget the routing entry."""
        try:
            if self.established and not self.closed:
                async with asyncio.timeout(timeout * 2):
                    async with self.lock:
                        await self.request(0x06, 0x3C, self.bsid.to_bytes(4, "little"),
                                           timeout, 0)
        except (IpmiError, TimeoutError):
            pass
        finally:
            self.closed = True
            self.established = False
            self.engine._forget(self)


class _Expired(Exception):
    pass


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


# --------------------------------------------------------------------------
# The session handle callers use


class Session:
    """A logged-in BMC session as callers see it.

    The handle is cached by the engine and survives re-logins: when the
    underlying RMCP+ session dies (BMC restarted, session expired) the next
    command logs in again.  ``extras`` holds per-BMC state of other layers
    (the pyghmi bridge keeps its ``Command`` there, so SDRs are reused).
    """

    def __init__(self, engine: Engine, bmc: Bmc, timeout: float, retries: int) -> None:
        self.engine = engine
        self.bmc = bmc
        self.timeout = timeout
        self.retries = retries
        self.logins = 0
        self.extras: dict[str, Any] = {}
        self._conn: _Conn | None = None
        self._login_task: asyncio.Task[_Conn] | None = None

    def __repr__(self) -> str:
        return f"<ipmi Session {self.bmc.username}@{self.bmc.label} logins={self.logins}>"

    @property
    def suite(self) -> int | None:
        """Cipher suite of the current RMCP+ session, if logged in."""
        c = self._conn
        return c.suite.id if c is not None and c.suite is not None else None

    @property
    def logged_in(self) -> bool:
        c = self._conn
        return c is not None and c.established and not c.closed

    def _usable(self) -> bool:
        c = self._conn
        return (c is not None and c.established and not c.closed
                and time.monotonic() - c.last_ok < self.engine.idle_limit)

    async def ensure_login(self, timeout: float | None = None, retries: int | None = None) -> None:
        """Log in unless a usable session exists; concurrent callers share one login."""
        if self._usable():
            return
        if self._login_task is None or self._login_task.done():
            old, self._conn = self._conn, None
            if old is not None:
                asyncio.get_running_loop().create_task(old.close(0.5))
            self._login_task = asyncio.get_running_loop().create_task(
                self._login(self.timeout if timeout is None else timeout,
                            self.retries if retries is None else retries))
        self._conn = await asyncio.shield(self._login_task)

    async def _login(self, timeout: float, retries: int) -> _Conn:
        eng = self.engine
        sockaddr, transport = await eng._route(self.bmc)
        remembered = eng._suites.get((self.bmc.host, self.bmc.port))
        order = (remembered,) if remembered else SUITE_ORDER
        last: IpmiError | None = None
        for sid in order:
            conn = _Conn(eng, self.bmc, sockaddr, transport)
            try:
                await conn.login(rmcp.SUITES[sid], timeout, retries)
            except _SuiteRefused as exc:
                eng._forget(conn)
                last = exc
                continue
            except BaseException:
                eng._forget(conn)
                raise
            eng._suites[(self.bmc.host, self.bmc.port)] = conn.suite.id if conn.suite else sid
            self.logins += 1
            eng.stats["logins"] += 1
            return conn
        raise IpmiAuthError(str(last) if last else "login failed")

    async def command(self, netfn: int, cmd: int, data: bytes | bytearray = b"",
                      timeout: float | None = None, retries: int | None = None,
                      lun: int = 0, priv: int = rmcp.PRIV_ADMIN) -> Response:
        """Send one IPMI request and return its response (completion code included).

        ``priv`` is the session privilege the command needs; the session is
        raised to it first if it is not there yet (ADMINISTRATOR by default,
        so callers that do not say get a session that may do anything).

        Each packet waits ``timeout`` seconds and is resent up to ``retries``
        times.  If a reused session stops answering, it is dropped and the
        request is retried once on a fresh login, within the same deadline of
        ``timeout * (retries + 1)``.
        """
        timeout = self.timeout if timeout is None else float(timeout)
        retries = self.retries if retries is None else int(retries)
        data = bytes(data)
        budget = timeout * (retries + 1)
        start = time.monotonic()
        fresh = not self._usable()
        await self.ensure_login(timeout, retries)
        conn = self._conn
        assert conn is not None
        first = retries if fresh else max(0, (retries + 1) // 2 - 1)
        try:
            async with conn.lock:
                if conn.priv < priv:
                    await conn.set_privilege(priv, timeout, first)
                return await conn.request(netfn, cmd, data, timeout, first, lun)
        except (IpmiTimeout, _Stale):
            if fresh and conn.established and not conn.closed:
                raise
        # The cached session is gone: one fresh login and one more try.
        if self._conn is conn:
            self._conn = None
            conn.established = False
            self.engine._forget(conn)
        left = budget - (time.monotonic() - start)
        if left < timeout:
            raise IpmiTimeout(f"timeout: no answer from {self.bmc.label} "
                              f"within {budget:g} s (session lost)")
        tries = max(0, int(left // timeout) - 1)
        try:
            async with asyncio.timeout(left + 0.2):
                await self.ensure_login(timeout, tries)
                conn = self._conn
                assert conn is not None
                async with conn.lock:
                    if conn.priv < priv:
                        await conn.set_privilege(priv, timeout, tries)
                    return await conn.request(netfn, cmd, data, timeout, tries, lun)
        except TimeoutError:
            raise IpmiTimeout(f"timeout: no answer from {self.bmc.label} "
                              f"within {budget:g} s") from None

    async def close(self, timeout: float = 1.0) -> None:
        """Close the RMCP+ session on the BMC (best effort)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(timeout)


# --------------------------------------------------------------------------
# The engine


class Engine:
    """Process-wide owner of all IPMI traffic; see the module docstring."""

    _instance: Engine | None = None
    _instance_lock = threading.Lock()

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE,
                 idle_limit: float = DEFAULT_IDLE_LIMIT) -> None:
        self.cache_size = max(1, int(cache_size))
        self.idle_limit = idle_limit
        self.stats: collections.Counter[str] = collections.Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._sessions: collections.OrderedDict[tuple[str, int, str, str], Session] = (
            collections.OrderedDict())
        self._conns: dict[int, _Conn] = {}
        self._by_addr: dict[tuple[str, int], set[int]] = {}
        self._suites: dict[tuple[str, int], int] = {}
        self._transports: dict[int, list[asyncio.DatagramTransport]] = {}
        self._resolved: dict[tuple[str, int], tuple[Any, ...]] = {}

    # -- lifecycle
    @classmethod
    def instance(cls) -> Engine:
        """The process-wide engine (created on first use, closed at exit)."""
        with cls._instance_lock:
            if cls._instance is None or cls._instance._closed:
                cls._instance = cls()
                atexit.register(cls._instance.close)
            return cls._instance

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The engine's event loop (starting its thread if needed)."""
        if self._closed:
            raise IpmiError("IPMI engine is closed")
        self._start()
        assert self._loop is not None
        return self._loop

    def _start(self) -> None:
        if self._loop is not None:
            return
        with self._start_lock:
            if self._closed:
                raise IpmiError("IPMI engine is closed")
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            t = threading.Thread(target=main, name="ipmi-engine", daemon=True)
            t.start()
            if not ready.wait(10):
                raise IpmiError("IPMI engine thread did not start")
            self._thread = t
            self._loop = loop

    def in_engine_thread(self) -> bool:
        """True when called on the engine's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def close(self) -> None:
        """Close every cached session (bounded time), then stop the I/O thread."""
        if self._closed:
            return
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not loop.is_running():
            return

        async def shutdown() -> None:
            sessions = list(self._sessions.values())
            self._sessions.clear()
            if sessions:
                await asyncio.wait([asyncio.ensure_future(s.close(CLOSE_TIMEOUT / 2))
                                    for s in sessions], timeout=CLOSE_TIMEOUT)
            for ts in self._transports.values():
                for t in ts:
                    t.close()
            self._transports.clear()

        try:
            if self.in_engine_thread():
                loop.create_task(shutdown())
                loop.call_later(CLOSE_TIMEOUT + 0.5, loop.stop)
                return
            fut = asyncio.run_coroutine_threadsafe(shutdown(), loop)
            try:
                fut.result(CLOSE_TIMEOUT + 1)
            except Exception:  # noqa: BLE001 - closing is best effort
                fut.cancel()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            if not thread.is_alive():
                loop.close()
        except RuntimeError:
            pass

    # -- sockets and routing
    async def _transports_for(self, family: int) -> list[asyncio.DatagramTransport]:
        ts = self._transports.get(family)
        if ts is not None:
            return ts
        loop = asyncio.get_running_loop()
        made: list[asyncio.DatagramTransport] = []
        for _ in range(SOCKETS_PER_FAMILY):
            s = socket.socket(family, socket.SOCK_DGRAM)
            for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                if opt is None:
                    continue
                try:
                    s.setsockopt(socket.SOL_SOCKET, opt, RCVBUF)
                    break
                except OSError:
                    continue
            s.setblocking(False)
            s.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
            transport, _ = await loop.create_datagram_endpoint(lambda: _Proto(self), sock=s)
            made.append(transport)  # type: ignore[arg-type]
        self._transports[family] = made
        return made

    async def _route(self, bmc: Bmc) -> tuple[tuple[Any, ...], asyncio.DatagramTransport]:
        key = (bmc.host, bmc.port)
        sockaddr = self._resolved.get(key)
        if sockaddr is None:
            try:
                ip = ipaddress.ip_address(bmc.host)
                family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                sockaddr = (bmc.host, bmc.port, 0, 0) if ip.version == 6 else (bmc.host, bmc.port)
            except ValueError:
                try:
                    infos = await asyncio.get_running_loop().getaddrinfo(
                        bmc.host, bmc.port, type=socket.SOCK_DGRAM)
                except OSError as exc:
                    raise IpmiError(f"cannot resolve BMC {bmc.host}: {exc.strerror or exc}") from None
                family, sockaddr = infos[0][0], infos[0][4]
            self._resolved[key] = sockaddr
        family = socket.AF_INET6 if len(sockaddr) == 4 else socket.AF_INET
        ts = await self._transports_for(family)
        return sockaddr, ts[hash(key) % len(ts)]

    def _new_csid(self, conn: _Conn) -> int:
        for _ in range(100):
            csid = secrets.randbits(32)
            if csid and csid not in self._conns:
                self._conns[csid] = conn
                self._by_addr.setdefault((conn.sockaddr[0], conn.sockaddr[1]), set()).add(csid)
                return csid
        raise IpmiError("no free console session ID")

    def _forget(self, conn: _Conn) -> None:
        if self._conns.get(conn.csid) is conn:
            del self._conns[conn.csid]
        a = (conn.sockaddr[0], conn.sockaddr[1])
        ids = self._by_addr.get(a)
        if ids is not None:
            ids.discard(conn.csid)
            if not ids:
                del self._by_addr[a]

    def _dispatch(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.stats["received"] += 1
        ptype = rmcp.packet_payload_type(data)
        if ptype is not None:
            base = ptype & 0x3F
            if base in (rmcp.PT_OPEN_RSP, rmcp.PT_RAKP2, rmcp.PT_RAKP4):
                # Login answers name our session ID in the payload, except
                # short error answers, which only the address identifies.
                if len(data) >= 24:
                    csid = int.from_bytes(data[20:24], "little")
                else:
                    for c in self._conns_at(addr):
                        c.on_packet(data)
                    return
            else:
                csid = rmcp.packet_session_id(data)
            conn = self._conns.get(csid)
            if conn is not None and self._from_bmc(conn, addr):
                conn.on_packet(data)
                return
        # Unroutable: count it against the BMC at that address, if any.
        self.stats["unroutable"] += 1
        for c in self._conns_at(addr):
            c.on_garbage()

    def _conns_at(self, addr: tuple[Any, ...]) -> list[_Conn]:
        ids = self._by_addr.get((addr[0], addr[1]), ())
        return [self._conns[i] for i in ids if i in self._conns]

    @staticmethod
    def _from_bmc(conn: _Conn, addr: tuple[Any, ...]) -> bool:
        # A BMC bound to a wildcard address on loopback may answer from
        # 127.0.0.1 instead of the address we sent to; the MAC checks decide.
        return conn.sockaddr[1] == addr[1] and (
            conn.sockaddr[0] == addr[0]
            or (_is_loopback(addr[0]) and _is_loopback(conn.sockaddr[0])))

    # -- sessions
    async def session(self, bmc: Bmc, timeout: float = DEFAULT_TIMEOUT,
                      retries: int = DEFAULT_RETRIES) -> Session:
        """A logged-in ADMINISTRATOR session to ``bmc`` (cached, LRU-bounded)."""
        if self._closed:
            raise IpmiError("IPMI engine is closed")
        key = bmc.cache_key()
        s = self._sessions.get(key)
        if s is None:
            s = Session(self, bmc, timeout, retries)
            self._sessions[key] = s
            while len(self._sessions) > self.cache_size:
                _, old = self._sessions.popitem(last=False)
                asyncio.get_running_loop().create_task(old.close(0.5))
        else:
            self._sessions.move_to_end(key)
            s.timeout, s.retries = timeout, retries
        try:
            await s.ensure_login(timeout, retries)
        except IpmiError:
            if self._sessions.get(key) is s and not s.logged_in:
                del self._sessions[key]
            raise
        return s

    def cached_sessions(self) -> int:
        """Number of session handles in the cache."""
        return len(self._sessions)

    async def drop(self, bmc: Bmc) -> None:
        """Forget and close the cached session of ``bmc``, if any."""
        s = self._sessions.pop(bmc.cache_key(), None)
        if s is not None:
            await s.close(0.5)

    # -- thread API
    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the engine and wait for its result (from another thread)."""
        try:
            loop = self.loop
        except IpmiError:
            coro.close()
            raise
        if self.in_engine_thread():
            coro.close()
            raise RuntimeError("Engine.run() called on the engine thread")
        fut = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise IpmiTimeout(f"timeout: no result within {timeout:g} s") from None

    def map(self, jobs: Mapping[K, Callable[[], Awaitable[T]]],
            concurrency: int | None = None, job_timeout: float | None = None,
            deadline: float | None = None) -> Iterator[tuple[K, T | BaseException]]:
        """Run keyed jobs on the engine; yield ``(key, result or exception)``
        in completion order.

        ``jobs`` maps a key (node name) to a coroutine factory.  At most
        ``concurrency`` jobs are in flight (default DEFAULT_CONCURRENCY).
        A job running longer than ``job_timeout`` yields an IpmiTimeout; after
        ``deadline`` seconds in total (default: enough waves of
        ``job_timeout``, else 900 s) every unfinished job yields an IpmiTimeout.
        Closing the iterator early cancels what is still running.
        """
        keys = list(jobs)
        loop = self.loop  # raises at once on a closed engine
        if not keys:
            return
        conc = max(1, int(concurrency or DEFAULT_CONCURRENCY))
        if deadline is None:
            deadline = (math.ceil(len(keys) / conc) * job_timeout + 5.0) if job_timeout else 900.0
        results: queue.SimpleQueue[tuple[K, Any]] = queue.SimpleQueue()

        async def one(key: K, sem: asyncio.Semaphore) -> None:
            async with sem:
                res: Any
                try:
                    if job_timeout is not None:
                        try:
                            res = await asyncio.wait_for(jobs[key](), job_timeout)
                        except TimeoutError:
                            res = IpmiTimeout(f"timeout: no result within {job_timeout:g} s")
                    else:
                        res = await jobs[key]()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    res = exc
            results.put((key, res))

        async def runner() -> None:
            sem = asyncio.Semaphore(conc)
            await asyncio.gather(*(one(k, sem) for k in keys), return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(runner(), loop)
        pending = dict.fromkeys(keys)
        end = time.monotonic() + deadline
        try:
            while pending:
                try:
                    key, res = results.get(timeout=max(0.0, end - time.monotonic()))
                except queue.Empty:
                    break
                if key in pending:
                    del pending[key]
                    yield key, res
            fut.cancel()
            for key in list(pending):
                del pending[key]
                yield key, IpmiTimeout(f"timeout: no result within {deadline:g} s")
        finally:
            fut.cancel()
