"""pyghmi on top of the engine: its decoders, our transport.

pyghmi stays the library for command semantics and data decoding (FRU
inventory, SDR and sensors, the event log, OEM quirks).  ``command_for``
returns a ``pyghmi.ipmi.command.Command`` built without its ``__init__`` (so
pyghmi opens no socket and starts no I/O thread) whose ``ipmi_session`` is a
:class:`EngineSession`: every raw command pyghmi sends is run on the engine
and the calling thread blocks until the answer or the node's deadline.
pyghmi's own session code - where its lock-order deadlock, lost wake-ups and
``select()`` limit live - is never used.

Call ``command_for`` and the Command's methods from worker threads, never on
the engine thread.  One Command is kept per BMC in the engine's session
cache, so pyghmi's SDR cache (``Command._sdr``) survives between requests.
A Command is not thread-safe (pyghmi's isn't): use ``command_lock(cmd)`` when
several threads may use the same BMC.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from xcatpy.ipmi.engine import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Bmc,
    Engine,
    IpmiError,
    Response,
    Session,
)

if TYPE_CHECKING:
    from pyghmi.ipmi.command import Command

T = TypeVar("T")

NETFN_STORAGE = 0x0A
CMD_READ_FRU = 0x11
# Completion codes with which BMCs refuse a Read FRU Data count as too large.
_FRU_TOO_BIG = (0xC8, 0xC9, 0xCA)
_FRU_MIN_CHUNK = 8
_EXTRA = "pyghmi.command"
_create_lock = threading.Lock()


class EngineSession:
    """The part of pyghmi's ``Session`` interface that ``Command`` and its
    helpers use, implemented on an engine :class:`Session`."""

    ipmiversion = 2.0
    logged = 1
    privlevel = 4

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session
        b = session.bmc
        self.bmc = b.host
        self.port = b.port
        self.userid = b.username.encode("utf-8")
        self.password = b.password.encode("utf-8", "surrogateescape")
        self.kg = self.password
        self.timeout = session.timeout
        self.retries = session.retries
        # Largest Read FRU Data count this BMC accepted after refusing a bigger one.
        self.fru_chunk: int | None = None
        self.lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<EngineSession {self.session.bmc.username}@{self.session.bmc.label}>"

    def _budget(self, timeout: float, retries: int) -> float:
        # Two full deadlines (a dead cached session plus a fresh login) and slack.
        return timeout * (retries + 1) * 2 + 5.0

    def _run(self, netfn: int, command: int, data: bytes, timeout: float, retries: int,
             lun: int, delay: float) -> Response:
        async def go() -> Response:
            if delay:
                await asyncio.sleep(delay)
            return await self.session.command(netfn, command, data, timeout=timeout,
                                              retries=retries, lun=lun)

        return self.engine.run(go(), timeout=self._budget(timeout, retries) + delay)

    def raw_command(self, netfn: int, command: int, bridge_request: Any = (),
                    data: Any = (), retry: bool = True, delay_xmit: float | None = None,
                    timeout: float | None = None, callback: Any = None,
                    rslun: int = 0) -> dict[str, Any]:
        """pyghmi's ``Session.raw_command``: a response dict with ``netfn``
        (response netfn), ``command``, ``code``, ``data`` and, for a non-zero
        code, ``error`` worded by pyghmi's own completion code table.

        Protocol failures (timeout, login lost, garbage) raise
        :class:`~xcatpy.ipmi.engine.IpmiError` instead of pyghmi's
        ``{'error': 'timeout'}``: the node is unreachable, and no pyghmi
        fallback path should spend another deadline on it.
        """
        if callback is not None:
            raise NotImplementedError("asynchronous pyghmi callbacks are not supported")
        if bridge_request:
            return {"netfn": netfn + 1, "command": command, "code": 0xFFFF, "data": bytearray(),
                    "error": "bridged IPMB requests are not supported"}
        payload = bytes(bytearray(data or ()))
        per_packet = max(self.timeout, float(timeout)) if timeout else self.timeout
        retries = self.retries if retry else 0
        delay = float(delay_xmit or 0)
        with self.lock:
            if netfn == NETFN_STORAGE and command == CMD_READ_FRU and len(payload) == 4:
                rsp = self._read_fru(payload, per_packet, retries, rslun, delay)
            else:
                rsp = self._run(netfn, command, payload, per_packet, retries, rslun, delay)
        return _as_pyghmi(rsp)

    def _read_fru(self, payload: bytes, timeout: float, retries: int, lun: int,
                  delay: float) -> Response:
        # ipmi_sim refuses Read FRU Data for more than 34 bytes with 0xC8
        # ("request data field length limit exceeded"), and other BMCs use
        # 0xC9/0xCA.  pyghmi 1.6.19's FRU reader backs off only on 0xC9/0xCA,
        # so a 0xC8 would end get_inventory().  Instead of mapping codes we
        # shrink the read here until the BMC accepts it and hand pyghmi the
        # short read: its reader advances by the count the BMC returns, so
        # nothing else changes.  The accepted size is remembered per BMC so
        # later chunks go straight to it.
        want = payload[3]
        count = min(want, self.fru_chunk) if self.fru_chunk else want
        for _ in range(8):
            req = payload[:3] + bytes([count])
            rsp = self._run(NETFN_STORAGE, CMD_READ_FRU, req, timeout, retries, lun, delay)
            delay = 0.0
            if rsp.code not in _FRU_TOO_BIG or count <= _FRU_MIN_CHUNK:
                if rsp.code == 0 and count < want:
                    self.fru_chunk = count
                return rsp
            count = 32 if count > 32 else max(_FRU_MIN_CHUNK, count // 2)
        return rsp

    def pause(self, seconds: float) -> None:
        """pyghmi's ``Session.pause``: just wait (bounded)."""
        time.sleep(max(0.0, min(float(seconds), 60.0)))

    def register_keepalive(self, cmd: Any, callback: Any) -> int:
        """Keepalives are not needed: idle sessions are logged in afresh."""
        return 0

    def unregister_keepalive(self, regid: Any) -> None:
        """No-op (see ``register_keepalive``)."""

    def logout(self, sessionok: bool = True) -> dict[str, Any]:
        """Closing is the engine's business (cache eviction, shutdown)."""
        return {"success": True}


def _as_pyghmi(rsp: Response) -> dict[str, Any]:
    from pyghmi.ipmi.private.util import get_ipmi_error

    out: dict[str, Any] = {"netfn": rsp.netfn, "command": rsp.command, "code": rsp.code,
                           "data": bytearray(rsp.data)}
    err = get_ipmi_error(out)
    if err:
        out["error"] = err
    return out


def _new_command(engine: Engine, session: Session) -> Command:
    from pyghmi.ipmi.command import Command

    cmd = Command.__new__(Command)
    # The attributes Command.__init__ sets, minus the network session.
    cmd.onlogon = None
    cmd.bmc = session.bmc.host
    cmd._sdrcachedir = None
    cmd._sdr = None
    cmd._oem = None
    cmd._oemknown = False
    cmd._netchannel = None
    cmd._ipv6support = None
    cmd.certverify = None
    cmd.kwargs = {}
    cmd.ipmi_session = EngineSession(engine, session)
    return cmd


def command_for(engine: Engine, bmc: Bmc, timeout: float = DEFAULT_TIMEOUT,
                retries: int = DEFAULT_RETRIES) -> Command:
    """A pyghmi ``Command`` for ``bmc`` that talks through ``engine``.

    Logs in (or reuses the cached session) before returning; raises
    :class:`~xcatpy.ipmi.engine.IpmiError` when the BMC cannot be reached or
    refuses the login.  Must not be called on the engine thread.
    """
    if engine.in_engine_thread():
        raise RuntimeError("command_for() would block the IPMI engine thread")
    session = engine.run(engine.session(bmc, timeout, retries),
                         timeout=timeout * (retries + 1) * 2 + 5.0)
    with _create_lock:
        cmd = session.extras.get(_EXTRA)
        if cmd is None:
            cmd = _new_command(engine, session)
            session.extras[_EXTRA] = cmd
    es: EngineSession = cmd.ipmi_session
    es.timeout, es.retries = float(timeout), int(retries)
    return cmd


def command_lock(cmd: Command) -> threading.RLock:
    """A per-BMC lock for callers that share one Command between threads."""
    es: EngineSession = cmd.ipmi_session
    return es.lock


async def call(engine: Engine, bmc: Bmc, fn: Callable[[Command], T],
               timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
               executor: Any = None) -> T:
    """From a coroutine on the engine: log in here, then run ``fn(command)``
    on a worker thread (``executor`` or the loop's default) and await it.

    Dead BMCs fail at login on the engine without occupying a worker.
    """
    session = await engine.session(bmc, timeout, retries)
    if session.extras.get(_EXTRA) is None:
        with _create_lock:
            if session.extras.get(_EXTRA) is None:
                session.extras[_EXTRA] = _new_command(engine, session)
    cmd = session.extras[_EXTRA]
    es: EngineSession = cmd.ipmi_session
    es.timeout, es.retries = float(timeout), int(retries)

    def work() -> T:
        with es.lock:
            return fn(cmd)

    return await asyncio.get_running_loop().run_in_executor(executor, work)


__all__ = ["EngineSession", "IpmiError", "call", "command_for", "command_lock"]
