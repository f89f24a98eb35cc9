"""xcatd against hostile and idle clients, partial streams, streaming and SIGTERM.

Every test here drives a real daemon subprocess (the ``daemon`` fixture)
with raw sockets and the standard ``ssl`` module as the client, so nothing
of the project's own client softens what the daemon receives.  Each
exchange is bounded by a socket timeout: a daemon that hangs fails the test
instead of stalling it.  Nothing asserts how long anything takes; where
"promptly" matters, the check is an ordering (served before the daemon's
own timeouts could have fired), and idle cost is measured in CPU time.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xcatpy import pki
from xcatpy.client import PREMATURE
from xcatpy.daemon.server import HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, SHUTDOWN_TIMEOUT
from xcatpy.wire import decode_response

EXCHANGE_TIMEOUT = 20.0  # seconds one hostile exchange may take before it counts as a hang
DONE = b"<serverdone>"
END = b"</xcatresponse>"
AUTHCHECK = b"<xcatrequest><command>authcheck</command></xcatrequest>\n"
RSS_GROWTH_LIMIT_KB = 50 * 1024


# -- a hostile client --------------------------------------------------------

def _context(cred: Path | None = None) -> ssl.SSLContext:
    """TLS client context that trusts anything: the daemon is what is under test."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cred is not None:
        ctx.load_cert_chain(str(cred))
    return ctx


@dataclass
class Exchange:
    data: bytes
    closed: bool  # the daemon ended the connection (EOF, reset or TLS alert)

    @property
    def documents(self) -> list[bytes]:
        return [d.strip() + END for d in self.data.split(END)[:-1]]

    @property
    def done(self) -> int:
        return self.data.count(DONE)

    def check_stream(self) -> None:
        """Whatever came back is a sequence of well-formed responses."""
        for doc in self.documents:
            decode_response(doc)


def _connect(daemon, ctx: ssl.SSLContext, timeout: float = EXCHANGE_TIMEOUT) -> ssl.SSLSocket:  # type: ignore[no-untyped-def]
    raw = socket.create_connection((daemon.host, daemon.port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw)
    except BaseException:
        raw.close()
        raise


def _exchange(daemon, pieces: list[bytes], *, want_done: int | None,  # type: ignore[no-untyped-def]
              ctx: ssl.SSLContext, half_close: bool = False,
              timeout: float = EXCHANGE_TIMEOUT) -> Exchange:
    """Send ``pieces`` (one TLS record each), then read until ``want_done`` serverdones or EOF.

    ``want_done=None`` reads until the daemon closes the connection.
    ``half_close`` ends the sending side afterwards (TCP FIN, no TLS
    close_notify), as a client that wrote a truncated request and gave up.
    Raises AssertionError if the daemon neither answers nor closes in time.
    """
    deadline = time.monotonic() + timeout
    with _connect(daemon, ctx, timeout) as conn:
        try:
            for piece in pieces:
                conn.sendall(piece)
            if half_close:
                socket.socket.shutdown(conn, socket.SHUT_WR)
        except OSError:
            pass  # the daemon may hang up before it has read everything
        data = b""
        while want_done is None or data.count(DONE) < want_done:
            left = deadline - time.monotonic()
            assert left > 0, f"xcatd neither answered nor closed; got {data[-300:]!r}"
            conn.settimeout(left)
            try:
                chunk = conn.recv(262144)
            except TimeoutError:
                raise AssertionError(f"xcatd neither answered nor closed; got {data[-300:]!r}") from None
            except OSError:
                chunk = b""
            if not chunk:
                return Exchange(data, True)
            data += chunk
        return Exchange(data, False)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alive(daemon) -> None:  # type: ignore[no-untyped-def]
    assert daemon.proc.poll() is None, f"xcatd exited: {daemon.log.read_text()[-2000:]}"
    r = daemon.run("nodels")
    assert r.code == 0, r.err


# -- hostile documents -------------------------------------------------------

_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                                       exclude_characters="\ufffe\uffff", include_characters="\t\n"),
                max_size=40)  # what XML 1.0 can carry
_PROLOG = st.sampled_from([b"", b"\n  ", b'<?xml version="1.0" encoding="UTF-8"?>\n',
                           b'<?xml version="1.0"?>'])


def _esc(text: str) -> bytes:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .encode("utf-8", "surrogatepass"))


@st.composite
def _authcheck(draw: st.DrawFn) -> bytes:
    """A valid request an anonymous caller may make, in the shapes real clients vary in."""
    parts = [draw(_PROLOG), b"<xcatrequest>"]
    for _ in range(draw(st.integers(0, 24))):
        parts.append(draw(st.sampled_from([b"<arg/>", b"<arg></arg>", b"<arg />"])))
    for text in draw(st.lists(_TEXT, max_size=4)):
        parts.append(b"<arg>" + _esc(text) + b"</arg>")
    env = draw(st.lists(_NAME, max_size=24, unique=True))
    if env:
        parts.append(b"<environment>" + b"".join(
            b"<XCAT_" + n.encode() + b"/>" for n in env) + b"</environment>")
    parts.append(b"<command>authcheck</command></xcatrequest>\n")
    return draw(st.sampled_from([b"".join(parts), _XINCLUDE]))


def _laughs(levels: int, fan: int) -> bytes:
    ents = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * fan}">' for i in range(1, levels + 1)]
    return (f'<?xml version="1.0"?><!DOCTYPE xcatrequest [{"".join(ents)}]>'
            f"<xcatrequest><command>authcheck</command><arg>&l{levels};</arg></xcatrequest>").encode()


_EXTERNAL = [
    b'<!DOCTYPE xcatrequest SYSTEM "file:///etc/passwd"><xcatrequest><command>authcheck'
    b"</command></xcatrequest>",
    b'<!DOCTYPE xcatrequest [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<xcatrequest><command>authcheck</command><arg>&x;</arg></xcatrequest>",
    b'<!DOCTYPE xcatrequest [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    b"<xcatrequest><command>authcheck</command></xcatrequest>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]>'
    b"<xcatrequest><command>authcheck</command></xcatrequest>",
    b"<xcatrequest><command>authcheck</command><arg>&bad;</arg></xcatrequest>",
]
# XInclude is not processed: the element is ignored and the request answered.
_XINCLUDE = (b'<xcatrequest xmlns:xi="http://www.w3.org/2001/XInclude"><command>authcheck'
             b'</command><xi:include href="file:///etc/passwd" parse="text"/></xcatrequest>')

# Complete documents that must each be refused with an error and serverdone.
_REFUSED = st.one_of(
    st.tuples(st.integers(17, 100_000), st.sampled_from(["a", "é", "x:y", "_"])).map(
        lambda t: b"<xcatrequest>" + f"<{t[1]}>".encode() * t[0] + f"</{t[1]}>".encode() * t[0]
        + b"<command>authcheck</command></xcatrequest>"),
    st.tuples(st.integers(2, 9), st.integers(2, 12)).map(lambda t: _laughs(*t)),
    st.sampled_from(_EXTERNAL),
    st.sampled_from([b"<xcatrequest></xcatrequest>",
                     b"<xcatrequest><command> </command></xcatrequest>",
                     b"<xcatrequest><command>a</command><command>b</command></xcatrequest>",
                     b"<xcatrequest><command>authcheck</xcatrequest>",
                     b"<xcatrequest><command>\xff\xfe</command></xcatrequest>"]),
)


@dataclass
class Case:
    kind: str
    pieces: list[bytes]
    answers: list[str]  # per request: "ok" (authcheck answered), "error"; [] = must close
    half_close: bool = False

    def __repr__(self) -> str:
        sizes = [len(p) for p in self.pieces]
        head = b"".join(self.pieces)[:160]
        return f"Case({self.kind}, {len(sizes)} pieces, {sum(sizes)} bytes, {self.answers}, {head!r})"


@st.composite
def _cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(
        ["bytes", "truncated", "refused", "huge", "pipelined", "tiny", "valid"]))
    if kind == "bytes":
        blob = draw(st.binary(max_size=3000))
        prefix = draw(st.sampled_from([b"", b"<xcatrequest>", b"<xcatrequest><command>"]))
        return Case(kind, [prefix + blob], [], half_close=True)
    if kind == "truncated":
        doc = draw(st.one_of(_authcheck(), _REFUSED))
        end = doc.rfind(b"</xcatrequest>") + len(b"</xcatrequest>") - 1
        cut = draw(st.integers(0, max(0, end)))
        return Case(kind, [doc[:cut]], [], half_close=True)
    if kind == "refused":
        return Case(kind, [draw(_REFUSED)], ["error"])
    if kind == "huge":
        size = draw(st.integers(10_000, 2_000_000))
        where = draw(st.sampled_from(["attr", "text", "name"]))
        big = b"A" * size
        if where == "attr":
            doc = b'<xcatrequest><command v="' + big + b'">authcheck</command></xcatrequest>'
        elif where == "text":
            doc = b"<xcatrequest><arg>" + big + b"</arg><command>authcheck</command></xcatrequest>"
        else:
            doc = b"<xcatrequest><" + big + b"/><command>authcheck</command></xcatrequest>"
        return Case(kind, [doc], ["ok"])
    if kind == "pipelined":
        docs = draw(st.lists(st.one_of(_authcheck().map(lambda d: ("ok", d)),
                                       _REFUSED.map(lambda d: ("error", d))),
                             min_size=2, max_size=40))
        return Case(kind, [b"".join(d for _, d in docs)], [a for a, _ in docs])
    doc = draw(_authcheck())
    if kind == "tiny":
        cuts = sorted(set(draw(st.lists(st.integers(1, len(doc) - 1), max_size=len(doc)))))
        edges = [0, *cuts, len(doc)]
        return Case(kind, [doc[a:b] for a, b in zip(edges, edges[1:], strict=False)], ["ok"])
    return Case(kind, [doc], ["ok"])


def _answers(exchange: Exchange) -> list[str]:
    """Per request answered, "ok" or "error", read from the response documents."""
    out, current = [], "ok"
    for doc in exchange.documents:
        if b"<error>" in doc:
            current = "error"
        if DONE in doc:
            out.append(current)
            current = "ok"
    return out


def test_hostile_documents_never_crash_hang_or_leak(daemon) -> None:  # type: ignore[no-untyped-def]
    pid = daemon.proc.pid
    ctx = _context()
    for _ in range(20):  # warm up: handler modules, TLS and the thread pool are loaded once
        assert _exchange(daemon, [AUTHCHECK], want_done=1, ctx=ctx).done == 1
    _alive(daemon)
    before = _rss_kb(pid)
    exchanges = 0

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_cases())
    def hostile(case: Case) -> None:
        nonlocal exchanges
        exchanges += 1
        got = _exchange(daemon, case.pieces, want_done=len(case.answers) or None, ctx=ctx,
                        half_close=case.half_close)
        got.check_stream()
        assert daemon.proc.poll() is None, daemon.log.read_text()[-2000:]
        if not case.answers:
            assert got.closed and got.done <= 1
            assert got.done == 0 or b"<error>" in got.data
            return
        assert _answers(got) == case.answers, got.data[-1000:]
        assert b"root:" not in got.data
        if "ok" in case.answers:
            assert b"Unauthenticated" in got.data

    hostile()
    _alive(daemon)
    grown = _rss_kb(pid) - before
    assert grown < RSS_GROWTH_LIMIT_KB, f"RSS grew {grown} kB over {exchanges} exchanges"
    assert "Traceback" not in daemon.log.read_text()


def test_oversized_request_is_refused_and_the_connection_closed(daemon) -> None:  # type: ignore[no-untyped-def]
    from xcatpy.wire import MAX_REQUEST_BYTES

    before = _rss_kb(daemon.proc.pid)
    head = b"<xcatrequest><command>authcheck</command><arg>"
    # one byte past the limit, so the daemon has read everything when it hangs up
    body = head + b"B" * (MAX_REQUEST_BYTES + 1 - len(head))
    got = _exchange(daemon, [body], want_done=1, ctx=_context())
    assert got.done == 1 and b"request too large" in got.data
    _alive(daemon)
    assert _rss_kb(daemon.proc.pid) - before < RSS_GROWTH_LIMIT_KB


def test_a_request_is_one_however_its_bytes_are_split(daemon) -> None:  # type: ignore[no-untyped-def]
    decl = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    with _connect(daemon, _context()) as conn:
        conn.sendall(decl)
        time.sleep(0.3)  # so the daemon reads the declaration on its own
        conn.sendall(AUTHCHECK)
        data = b""
        while DONE not in data:
            chunk = conn.recv(65536)
            assert chunk, "xcatd hung up on a request that began with an XML declaration"
            data += chunk
    assert b"Unauthenticated" in data
    # pipelined, each document with its own declaration after the previous newline
    got = _exchange(daemon, [(decl + AUTHCHECK) * 3], want_done=3, ctx=_context())
    assert _answers(got) == ["ok"] * 3, got.data


def test_empty_values_from_the_real_client_are_not_nesting(daemon) -> None:  # type: ignore[no-untyped-def]
    # The client writes <XCAT_X /> for an empty variable and <arg /> for an empty argument.
    empty = {f"XCAT_EMPTY{i}": "" for i in range(20)}
    r = daemon.run("nodels", env=empty)
    assert r.code == 0, r.err
    r = daemon.run("tabdump", *[""] * 20)
    assert "nested" not in r.err


# -- idle and half-open connections -----------------------------------------

@dataclass
class Held:
    tcp: list[socket.socket]  # TCP handshake done, TLS never started
    tls: list[ssl.SSLSocket]  # TLS done, no request ever sent

    def close(self) -> None:
        for s in [*self.tcp, *self.tls]:
            s.close()

    def still_open(self) -> int:
        """How many the daemon has not hung up on: nothing to read yet, not even an EOF."""
        alive = 0
        for s in [*self.tcp, *self.tls]:
            s.setblocking(False)
            try:
                # on the TLS ones a close_notify reads as b""
                alive += s.recv(1, socket.MSG_PEEK) != b"" if s in self.tcp else s.recv(1) != b""
            except (BlockingIOError, ssl.SSLWantReadError):
                alive += 1
            except OSError:
                pass
        return alive


@dataclass
class _Address:
    host: str
    port: int


def _hold(daemon, each: int = 250) -> Held:  # type: ignore[no-untyped-def]
    """``each`` half-open and ``each`` idle TLS connections to the daemon."""
    held = Held([], [])
    try:
        ctx = _context()
        for _ in range(each):
            held.tls.append(_connect(daemon, ctx, timeout=10))
        # last: the handshake timeout they are subject to is the shorter one
        for _ in range(each):
            held.tcp.append(socket.create_connection((daemon.host, daemon.port), timeout=10))
    except BaseException:
        held.close()
        raise
    return held


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_and_half_open_connections_cost_nothing_and_block_nobody(daemon) -> None:  # type: ignore[no-untyped-def]
    pid = daemon.proc.pid
    _alive(daemon)
    fds = _fds(pid)
    held = _hold(daemon, 250)
    try:
        assert held.still_open() == 500
        cpu = _cpu_seconds(pid)
        time.sleep(2)
        idle_cpu = _cpu_seconds(pid) - cpu
        assert idle_cpu < 0.2, f"xcatd used {idle_cpu:.2f} s of CPU with 500 idle connections"
        # served while all 500 are still held: before any handshake or idle timeout fired
        for _ in range(3):
            r = daemon.run("nodels")
            assert r.code == 0, r.err
        got = _exchange(daemon, [AUTHCHECK], want_done=1, ctx=_context())
        assert b"Unauthenticated" in got.data
        assert held.still_open() == 500
        # then dropped by the daemon's own timeouts, descriptors included
        limit = time.monotonic() + max(HANDSHAKE_TIMEOUT, IDLE_TIMEOUT) + SHUTDOWN_TIMEOUT + 10
        while (held.still_open() or _fds(pid) > fds + 5) and time.monotonic() < limit:
            time.sleep(0.5)
        assert held.still_open() == 0
        assert _fds(pid) <= fds + 5, f"{_fds(pid)} descriptors open, {fds} before"
    finally:
        held.close()
    _alive(daemon)


# -- the client against a server that stops short -------------------------------

class TinyServer:
    """One-shot TLS server with a certificate from the cluster CA, scripted replies."""

    def __init__(self, mn, tmp: Path, reply: bytes, *, tail: bytes = b"") -> None:  # type: ignore[no-untyped-def]
        cred = pki.issue_server(pki.CA(mn.root / "etc/xcatpy/ca"), tmp / "tiny", "localhost")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cred))
        self.reply, self.tail = reply, tail
        self.request = b""
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            try:
                tls = self.ctx.wrap_socket(conn, server_side=True)
                while b"</xcatrequest>" not in self.request:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    self.request += chunk
                tls.sendall(self.reply)
                if self.tail:
                    tls.sendall(self.tail)
            except OSError:
                return
            # a plain close: no serverdone, no TLS close_notify

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


PARTIAL = (b"<xcatresponse><node><name>n1</name><data><contents>on</contents></data></node>"
           b"</xcatresponse>\n")


@pytest.mark.parametrize("tail", [b"", b"<xcatresponse><node><name>n2</name><da"])
def test_client_reports_a_stream_that_ends_without_serverdone(mn, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              tail: bytes) -> None:
    server = TinyServer(mn, tmp_path, PARTIAL, tail=tail)
    try:
        r = mn.run("nodels", "n1", env={"XCATBYPASS": "", "XCATHOST": f"127.0.0.1:{server.port}"})
    finally:
        server.close()
    assert b"<command>nodels</command>" in server.request
    assert r.code == 1
    assert r.out == "n1: on\n"
    assert PREMATURE in r.err


def test_client_shows_raw_xml(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = b"<xcatresponse><serverdone></serverdone></xcatresponse>\n"
    server = TinyServer(mn, tmp_path, PARTIAL + done)
    try:
        r = mn.run("nodels", "n1", env={"XCATBYPASS": "", "XCATHOST": f"127.0.0.1:{server.port}",
                                        "XCATSHOWXML": "1"})
    finally:
        server.close()
    assert r.code == 0, r.err
    assert "<name>n1</name>" in r.out and "<contents>on</contents>" in r.out
    assert "<serverdone>" in r.out
    assert "n1: on" not in r.out


# -- streaming -----------------------------------------------------------------

def test_results_stream_in_several_documents_before_serverdone(daemon) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    mn.ok("nodeadd", "big[1-3000]", "groups=all,big")
    ctx = _context(mn.home / ".xcat" / "client-cred.pem")
    request = b"<xcatrequest><command>tabdump</command><arg>nodelist</arg></xcatrequest>\n"
    arrivals: list[bytes] = []  # what each recv() returned, in order
    with _connect(daemon, ctx) as conn:
        conn.sendall(request)
        data = b""
        while DONE not in data:
            chunk = conn.recv(262144)
            assert chunk, "xcatd closed before serverdone"
            arrivals.append(chunk)
            data += chunk
    docs = Exchange(data, False).documents
    assert len(docs) >= 3, "the answer came in one document"
    assert DONE in docs[-1] and all(DONE not in d for d in docs[:-1])
    # the first result is written on its own, before the rest exists
    first, _ = decode_response(docs[0])
    assert len(first) == 1 and first[0].text.startswith("#node,groups")
    assert END in arrivals[0] and DONE not in arrivals[0]
    lines = [r.text for d in docs for r in decode_response(d)[0]]
    assert len(lines) == 1 + 3000  # the header, then one row per node


# -- shutting down -------------------------------------------------------------

def test_sigterm_stops_cleanly_with_idle_connections_open(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ready, pidfile, log = tmp_path / "ready", tmp_path / "xcatd.pid", tmp_path / "xcatd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "xcatpy.cli.xcatd", "--listen", "127.0.0.1", "--port", "0",
             "--ready-file", str(ready), "--pidfile", str(pidfile)],
            stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    held = Held([], [])
    try:
        limit = time.monotonic() + 30
        while not ready.exists() and proc.poll() is None and time.monotonic() < limit:
            time.sleep(0.05)
        assert ready.exists(), log.read_text()
        assert pidfile.read_text().strip() == str(proc.pid)
        host, _, port = ready.read_text().strip().rpartition(":")
        daemon = _Address(host, int(port))
        assert b"Unauthenticated" in _exchange(daemon, [AUTHCHECK], want_done=1,
                                               ctx=_context()).data
        held = _hold(daemon, 100)
        busy = _connect(daemon, _context())  # one that has sent half a request
        held.tls.append(busy)
        busy.sendall(b"<xcatrequest><command>authcheck</command>")
        time.sleep(0.5)  # let the daemon accept them all
        for s in held.tls[:80]:  # and some it is closing when the signal comes
            s.close()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        held.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = log.read_text()
    assert code == 0, text
    assert not pidfile.exists()
    assert "Traceback" not in text and "ERROR" not in text, text
