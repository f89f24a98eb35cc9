"""xcatd: one asyncio process serving xCAT's protocol over TLS.

Per connection: TLS handshake (bounded in time), the client's identity from
its certificate (anonymous without one), then any number of
``<xcatrequest>`` documents, each answered by a stream of ``<xcatresponse>``
documents ending with ``serverdone``.  Per request: decode (defusedxml,
bounded), find the node the connection comes from, check the policy table,
audit the decision, then run the same handler a bypassed command runs, in a
worker thread, writing each result as soon as it exists.

Idle and half-open connections are only parked coroutines: they cost no CPU
and are dropped after ``IDLE_TIMEOUT``.  Handlers block (SQLAlchemy, vendor
libraries) and so run on a bounded thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from xcatpy import __version__
from xcatpy.daemon import audit
from xcatpy.daemon.identity import NodeAddresses, cached_peer_name, peer_name
from xcatpy.daemon.tls import Revocations, peer_identity, server_context
from xcatpy.errors import UnknownNodesError, XcatError
from xcatpy.paths import Paths
from xcatpy.protocol import Request, Response, data, error
from xcatpy.wire import SERVERDONE, WireError, decode_request, encode_responses, split_request

log = logging.getLogger("xcatd")

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 15.0
# How long a closing connection waits for the peer's close_notify; an idle
# peer that never answers would otherwise keep its descriptor 30 s longer.
SHUTDOWN_TIMEOUT = 5.0
REQUEST_TIMEOUT = 60.0
FLUSH_INTERVAL = 0.02
FLUSH_COUNT = 512
DENIED = "Permission denied for request"
# Commands the daemon answers itself: they are about the connection, not the cluster.
BUILTINS = frozenset({"authcheck"})


@dataclass
class Decision:
    allowed: bool
    user: str | None
    reason: str


class _Cancelled(Exception):
    pass


class Daemon:
    """The server.  ``start()`` binds; ``serve()`` runs until ``stop()``."""

    def __init__(
        self,
        paths: Paths,
        *,
        listen: str | None = None,
        port: int | None = None,
        workers: int = 4,
    ) -> None:
        from xcatpy.store.db import open_store

        self.paths = paths
        self.store = open_store(paths)
        # Requests share the node index, site and policy rows until a write
        # (by any process) raises the store's generation.
        self.store.enable_cache()
        site = self._site()
        self.listen = listen
        self.port = int(port if port is not None else (site.get("xcatdport") or 3001))
        self.ssl = server_context(paths, site)
        self.revocations = Revocations(paths)
        self.addresses = NodeAddresses(self.store)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xcatd")
        self.server: asyncio.AbstractServer | None = None
        self.connections = 0
        self._stopped = asyncio.Event()

    # -- life cycle -------------------------------------------------------
    def _site(self) -> dict[str, str]:
        from xcatpy.store.attrs import NodeView

        with self.store.connect() as conn:
            return dict(NodeView(self.store, conn).site)

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_exceptions)
        _small_tls_buffers()
        self.server = await asyncio.start_server(
            self._connection,
            host=self.listen,
            port=self.port,
            ssl=self.ssl,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=SHUTDOWN_TIMEOUT,
            backlog=8192,
            reuse_address=True,
        )
        sock = self.server.sockets[0].getsockname()
        self.port = sock[1]
        log.info("listening on %s:%s", sock[0], sock[1])
        return sock[0], sock[1]

    async def serve(self) -> None:
        assert self.server is not None
        async with self.server:
            await self._stopped.wait()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self._stopped.set()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.dispose()

    # -- connections ------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        peer = writer.get_extra_info("peername") or ("", 0)
        ip = str(peer[0])
        try:
            sslobj = writer.get_extra_info("ssl_object")
            der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
            user, serial = peer_identity(der)
            if serial is not None and self.revocations.revoked(serial):
                log.warning("refused revoked certificate of %s from %s", user, ip)
                return
            await self._requests(reader, writer, user, ip)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # Shutting down.  The task ends normally: asyncio (3.11) logs a
            # cancelled connection task as an error with a traceback.
            pass
        finally:
            self.connections -= 1
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):  # as above
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, user: str | None, ip: str
    ) -> None:
        buffer = b""
        started: float | None = None
        while True:
            timeout = IDLE_TIMEOUT
            if started is not None:
                timeout = min(timeout, max(0.1, REQUEST_TIMEOUT - (time.monotonic() - started)))
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                return
            buffer += chunk
            if started is None:
                started = time.monotonic()
            if _foreign(buffer):
                return
            while True:
                try:
                    doc, buffer = split_request(buffer)
                except WireError as exc:
                    await self._send(writer, [error(exc.message)], done=True)
                    return
                if doc is None:
                    break
                await self._request(doc, writer, user, ip)
                started = time.monotonic() if buffer.strip() else None

    async def _send(self, writer: asyncio.StreamWriter, responses: list[Response],
                    *, done: bool = False) -> None:
        if responses:
            writer.write(encode_responses(responses))
        if done:
            writer.write(SERVERDONE)
        await writer.drain()

    # -- one request ------------------------------------------------------
    async def _request(self, doc: bytes, writer: asyncio.StreamWriter, user: str | None,
                       ip: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            req = decode_request(doc)
        except WireError as exc:
            await self._send(writer, [error(exc.message)], done=True)
            return
        requested = req.environment.pop("_requested_username", None)
        for key in [k for k in req.environment if k.startswith("_xcat")]:
            del req.environment[key]  # only the daemon sets these
        # Who is calling: a certificate names a user; an anonymous caller is
        # known only by the node its address belongs to (looked up only then).
        if user is None:
            clienthost = await loop.run_in_executor(self.executor, self.addresses.node_for, ip)
        else:
            clienthost = cached_peer_name(ip)
            if clienthost is None:  # a name lookup may block: not on the event loop
                clienthost = await loop.run_in_executor(self.executor, peer_name, ip)
        req.environment["_xcat_clienthost"] = clienthost or ""
        req.environment["_xcat_clientip"] = ip
        if req.command == "authcheck":
            resp = [data("Authenticated" if user else "Unauthenticated")]
            if user:
                resp.append(data(user, desc="username"))
            await self._send(writer, resp, done=True)
            return
        if user is None and not req.noderange and clienthost:
            req.noderange = clienthost

        def authorize() -> list[Response] | None:
            decision = self._authorize(req, user, requested, clienthost, ip)
            if not decision.allowed:
                return [error(DENIED)]
            req.username = decision.user
            return None

        # The policy check and the handler share one trip to a worker thread.
        await self._stream(req, writer, authorize)

    def _authorize(self, req: Request, user: str | None, requested: str | None,
                   clienthost: str | None, ip: str) -> Decision:
        """Policy check and audit record (blocking: runs on a worker thread)."""
        from xcatpy import policy
        from xcatpy.store import rows
        from xcatpy.store.attrs import NodeView
        from xcatpy.store.resolver import expand

        with self.store.connect() as conn:
            view = NodeView(self.store, conn)
            site = dict(view.site)
            table = view.shared(
                "policy", lambda: policy.rows_from_table(rows.read_rows(conn, self.store, "policy"))
            )
            noderange = req.noderange or policy.object_command_noderange(
                req.command, req.args, stdin=req.stdin
            )

            def expand_text(text: str) -> set[str]:
                return set(expand(text, view, allow_missing=True, cwd=req.cwd,
                                  environment=req.environment))

            nodes: set[str] | None = None
            exact: list[str] | None = None
            if noderange:
                try:
                    exact = expand(noderange, view, cwd=req.cwd, environment=req.environment)
                    nodes = set(exact)
                except UnknownNodesError:
                    # the handler reports the unknown names; policy judges the rest
                    nodes = expand_text(noderange)
                except XcatError:
                    nodes = None
            if user is None and nodes is not None and (not clienthost or nodes - {clienthost}):
                outcome = Decision(False, None, "anonymous requests may name only their own node")
            else:
                verdict = policy.evaluate(
                    table, user=user, host=clienthost or ip, command=req.command,
                    args=req.args, noderange=noderange,
                    nodes=sorted(nodes) if nodes is not None else None,
                    expand=expand_text, now=dt.datetime.now(),
                )
                effective = requested if (verdict.trusted and requested) else user
                outcome = Decision(verdict.allowed, effective, verdict.reason)
                if verdict.allowed and exact is not None and req.noderange:
                    req.nodes = exact  # spare the handler a second expansion
        try:
            audit.record(
                self.store, site, user=user, host=clienthost or ip, clienttype=req.clienttype,
                command=req.command, noderange=noderange, args=req.args,
                allowed=outcome.allowed, reason=outcome.reason,
            )
        except Exception:
            log.exception("could not write the audit record")
            if not outcome.allowed:
                return outcome
            return Decision(False, outcome.user, "audit failed")
        return outcome

    async def _stream(self, req: Request, writer: asyncio.StreamWriter,
                      authorize: Callable[[], list[Response] | None]) -> None:
        """Authorize, then run the handler, on a worker thread; write results as
        they come.  ``authorize`` returns the whole answer to a refused request."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[Response] | None] = asyncio.Queue()
        window = threading.BoundedSemaphore(32)
        cancelled = threading.Event()

        def push(item: list[Response] | None) -> None:
            while not window.acquire(timeout=0.5):
                if cancelled.is_set():
                    raise _Cancelled
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def produce() -> None:
            from xcatpy.dispatch import run_request

            try:
                refusal = authorize()
            except Exception:
                log.exception("policy check for %s failed", req.command)
                refusal = [error(DENIED)]
            if refusal is not None:
                with contextlib.suppress(_Cancelled):
                    push(refusal)
                    push(None)
                return
            results = run_request(req, self.paths, store=self.store)
            batch: list[Response] = []
            last = 0.0
            try:
                for resp in results:
                    batch.append(resp)
                    now = time.monotonic()
                    # A lone result goes out at once; a burst is sent in batches.
                    if len(batch) >= FLUSH_COUNT or now - last >= FLUSH_INTERVAL:
                        push(batch)
                        batch, last = [], now
            except _Cancelled:
                return
            except Exception:
                log.exception("handler for %s failed", req.command)
                batch.append(error(f"{req.command}: internal error (see the xcatd log)"))
            finally:
                results.close()
            with contextlib.suppress(_Cancelled):
                push(batch)
                push(None)

        future = loop.run_in_executor(self.executor, produce)
        try:
            ahead: list[list[Response] | None] = []  # taken from the queue, not yet sent
            done = False
            while not done:
                if ahead:
                    chunk = ahead.pop()
                else:
                    chunk = await queue.get()
                    window.release()
                done = chunk is None
                payload = encode_responses(chunk) if chunk else b""
                # When only the end is queued behind this chunk, it goes out in
                # the same write: a small answer and its serverdone make one
                # TLS record, not three.  Results are never held back for it.
                while not done and not ahead and not queue.empty():
                    nxt = queue.get_nowait()
                    window.release()
                    if nxt is None:
                        done = True
                    elif nxt:
                        ahead.append(nxt)
                if done:
                    payload += SERVERDONE
                if payload:
                    writer.write(payload)
                    await writer.drain()
        finally:
            cancelled.set()
            with contextlib.suppress(Exception):
                await future


def _foreign(buffer: bytes) -> bool:
    """True once ``buffer`` cannot begin a request, however the rest of it arrives.

    xCAT's rule: anything else is not a client of ours.  The verdict must not
    depend on how the bytes were split into reads: a request that begins with
    an XML declaration, written a few bytes at a time, is still a request.
    """
    head = buffer.lstrip()
    if head and not head.startswith(b"<"):
        return True
    return len(buffer) >= 4096 and b"<xcatrequest" not in buffer[:4096]


def _quiet_exceptions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
        log.debug("connection dropped: %s", exc)
        return
    loop.default_exception_handler(context)


# Bytes asyncio's TLS transport reads at a time.  Its default, 256 KiB, is a
# buffer every connection allocates and touches at once: 5,000 idle
# connections held over a gigabyte.  A TLS record carries at most 16 KiB, and
# requests are small; a larger answer to read just takes more reads.
TLS_READ_SIZE = 16 * 1024


def _small_tls_buffers() -> None:
    """Give every TLS connection of this process a TLS_READ_SIZE read buffer
    (asyncio offers no per-server setting; the class attribute is the knob)."""
    from asyncio import sslproto

    if getattr(sslproto.SSLProtocol, "max_size", 0) > TLS_READ_SIZE:
        sslproto.SSLProtocol.max_size = TLS_READ_SIZE


def _tune_gc() -> None:
    """Collect cycles less often: a large answer allocates millions of objects
    (row tuples, dicts, lines), none of them cyclic, and with the default
    thresholds the collector ran through the whole heap many times per
    request (about 15 % of lsdef -l on 20,000 nodes).  What start-up loaded
    (modules, the schema, certificates) is frozen out of the collections."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _preload() -> None:
    """Import every handler module and the IPMI engine in the background.

    A daemon runs for months; its first rpower or lsdef should not pay for
    importing SQLAlchemy, the handlers and the IPMI code (about 0.4 s on a
    small machine).  Runs after the daemon is ready, so start-up is not
    delayed; Python's import lock makes a request that needs the same module
    simply wait for it.  Vendor libraries (pyghmi, libvirt, pyVmomi) are still
    imported by the first request that uses them.
    """
    import importlib

    from xcatpy.dispatch import HANDLERS

    modules = sorted({target.partition(":")[0] for target in HANDLERS.values()})
    modules += ["xcatpy.backends.dispatch", "xcatpy.backends.ipmi", "xcatpy.ipmi.engine",
                "xcatpy.ipmi.ops"]
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the request that needs it will report the error
            log.exception("could not preload %s", name)


def run(paths: Paths, *, listen: str | None, port: int | None, workers: int,
        on_ready: Callable[[str, int], None] | None = None) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    import signal

    async def main() -> None:
        daemon = Daemon(paths, listen=listen, port=port, workers=workers)
        _tune_gc()
        try:
            host, bound = await daemon.start()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, daemon.stop)
            if on_ready is not None:
                on_ready(host, bound)
            log.info("xcatd %s ready on %s (%s)", __version__, bound, socket.gethostname())
            import threading

            threading.Thread(target=_preload, name="preload", daemon=True).start()
            await daemon.serve()
        finally:
            daemon.close()
            log.info("stopped")

    asyncio.run(main())
