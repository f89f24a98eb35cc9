"""Send a request and yield its responses.

Commands call :func:`submit`.  Normally the request goes to ``xcatd`` over
TLS (``XCATHOST=host:port``, default ``localhost:3001``) with the user's
credential from ``~/.xcat/``; the server is verified against the cluster CA
(by certificate, not host name, as xCAT's client does).  With
``XCATBYPASS=YES`` the request is handled in this process, against the
database, by the same handler the daemon would run — that needs direct
access to the database, which only root has.

Only stdlib imports at module level: ssl, sockets, the wire codec, handlers
and the store load when a request is actually sent.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from pathlib import Path

from xcatpy.errors import XcatError
from xcatpy.protocol import Request, Response

BYPASS_VALUES = frozenset({"1", "yes", "y", "true"})
DEFAULT_PORT = 3001
CONNECT_TIMEOUT = 15.0
PREMATURE = "communication with xcatd seems to have ended prematurely"


def bypass_requested(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return env.get("XCATBYPASS", "").strip().lower() in BYPASS_VALUES


def submit(request: Request) -> Iterator[Response]:
    """Run ``request`` and yield each response as soon as it exists."""
    if bypass_requested():
        yield from run_local(request)
    else:
        yield from run_remote(request)


def run_local(request: Request) -> Iterator[Response]:
    from xcatpy.dispatch import run_request
    from xcatpy.paths import Paths

    if request.username is None:
        request.username = getpass.getuser()
    yield from run_request(request, Paths.from_env())


def daemon_address(value: str | None = None) -> tuple[str, int]:
    """``XCATHOST`` parsed: ``host``, ``host:port``, ``[v6]:port`` or ``v6%if``."""
    text = (value if value is not None else os.environ.get("XCATHOST", "")).strip()
    if not text:
        return "localhost", DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        return host, int(port) if port else DEFAULT_PORT
    except ValueError:
        raise XcatError(f"XCATHOST={text}: the port must be a number") from None


def credentials_dir() -> Path:
    return Path(os.environ.get("HOME") or Path.home()) / ".xcat"


def _context() -> tuple[object, list[Response]]:
    import ssl

    notes: list[Response] = []
    xdir = credentials_dir()
    ca = xdir / "ca.pem"
    cred = xdir / "client-cred.pem"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError):
        raise XcatError(
            f"cannot read {ca}: this account has no xcatpy credentials "
            "(root can issue them with 'xcatconfig --client USER')"
        ) from None
    try:
        ctx.load_cert_chain(str(cred))
    except (OSError, ssl.SSLError):
        from xcatpy.protocol import warning

        notes.append(warning(f"cannot read {cred}; connecting without a client certificate"))
    return ctx, notes


def run_remote(request: Request) -> Iterator[Response]:
    import socket
    import ssl

    from xcatpy.wire import WireError, decode_response, encode_request

    host, port = daemon_address()
    ctx, notes = _context()
    yield from notes
    try:
        raw = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise XcatError(f"cannot connect to xcatd at {host}:{port}: {exc.strerror or exc}") from None
    show_xml = os.environ.get("XCATSHOWXML", "") not in ("", "0")
    try:
        try:
            conn = ctx.wrap_socket(raw)  # type: ignore[attr-defined]
        except (ssl.SSLError, OSError) as exc:
            raise XcatError(f"TLS with xcatd at {host}:{port} failed: {exc}") from None
        conn.settimeout(None)
        conn.sendall(encode_request(request))
        buffer = bytearray()
        marker = b"</xcatresponse>"
        scanned = 0  # bytes of buffer already searched for the marker
        while True:
            try:
                chunk = conn.recv(262144)
            except OSError:
                chunk = b""
            if not chunk:
                yield Response("error", PREMATURE, errorcode=1)
                return
            buffer += chunk
            while True:
                # Search only what is new (minus a marker's length of overlap):
                # rescanning from the start made large answers quadratic.
                end = buffer.find(marker, max(0, scanned - len(marker)))
                if end < 0:
                    scanned = len(buffer)
                    break
                end += len(marker)
                doc = bytes(buffer[:end])
                del buffer[:end]
                scanned = 0
                try:
                    records, done = decode_response(doc.strip())
                except WireError as exc:
                    yield Response("error", exc.message, errorcode=1)
                    return
                if show_xml:
                    yield Response("info", doc.strip().decode("utf-8", "replace"))
                else:
                    yield from records
                if done:
                    return
    finally:
        raw.close()
