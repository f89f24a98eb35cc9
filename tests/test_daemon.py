"""xcatd end to end: real TLS, real certificates, real commands, openssl as a foreign client."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from xcatpy import pki

FOOBAR_POLICY = """#priority,name,host,commands,noderange,parameters,time,rule,comments,disable
"1","root",,,,,,"allow",,
"1.1","foobar",,"rinv",,,,"allow",,
"1.11","foobar",,"rvitals",,,,"allow",,
"1.12","foobar",,"nodels",,,,"allow",,
"3",,,"nextdestiny",,,,"allow",,
"4",,,"getdestiny",,,,"allow",,
"""

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


def _add_nodes(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n[01-03]", "groups=compute,all", "hosts.ip=|n(\\d+)|127.0.0.($1+4)|")
    mn.ok("chtab", "node=compute", "chain.currchain=boot", "chain.currstate=install rocky9")


def _ssl_client(daemon, payload: bytes, *, bind: str | None = None,  # type: ignore[no-untyped-def]
                cert: Path | None = None) -> str:
    cmd = ["openssl", "s_client", "-quiet", "-connect", daemon.address,
           "-verify_return_error", "-CAfile", str(daemon.mn.home / ".xcat" / "ca.pem")]
    if bind:
        cmd += ["-bind", f"{bind}:0"]
    if cert:
        cmd += ["-cert", str(cert), "-key", str(cert)]
    # s_client -quiet keeps the connection after its input ends, so read until
    # the answer is complete (or the daemon hangs up) and stop it then.
    import selectors
    import time

    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(payload)
    proc.stdin.flush()
    out = b""
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"serverdone" not in out and time.monotonic() < deadline:
            if not sel.select(timeout=0.5):
                continue
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            out += chunk
    proc.kill()
    proc.wait(timeout=10)
    return out.decode()


def test_commands_through_the_daemon_match_bypass(daemon) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    _add_nodes(mn)
    direct = mn.ok("nodels", "compute", "hosts.ip", "groups")
    r = daemon.run("nodels", "compute", "hosts.ip", "groups")
    assert r.code == 0, r.err
    assert r.out == direct
    r = daemon.run("nodels", "nosuch")
    assert r.code == 1
    assert "Invalid nodes and/or groups in noderange: nosuch" in r.err


def test_table_writes_go_through_the_daemon(daemon) -> None:  # type: ignore[no-untyped-def]
    r = daemon.run("chtab", "key=demo", "site.value=42")
    assert r.code == 0, r.err
    assert '"demo","42",,' in daemon.mn.dump("site")


def test_foobar_may_run_exactly_what_policy_says(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    _add_nodes(mn)
    policy_csv = tmp_path / "policy.csv"
    policy_csv.write_text(FOOBAR_POLICY)
    mn.ok("tabrestore", str(policy_csv))
    home = tmp_path / "foobar"
    r = mn.run("xcatconfig", "--client", "foobar", "--home", str(home))
    assert r.code == 0, r.err
    ok = daemon.run("nodels", "compute", home=home)
    assert ok.code == 0, ok.err
    assert ok.out.split() == ["n01", "n02", "n03"]
    for cmd in (["tabdump", "site"], ["chtab", "key=x", "site.value=1"], ["lsdef", "n01"],
                ["nodech", "n01", "nodetype.os=x"]):
        denied = daemon.run(*cmd, home=home)
        assert denied.code == 1, cmd
        assert denied.err.strip() == "Error: Permission denied for request", cmd
    assert '"x","1"' not in mn.dump("site")
    audit = mn.dump("auditlog")
    assert '"foobar"' in audit and '"Denied"' in audit and '"tabdump"' in audit
    # root is allowed everything by row 1
    assert daemon.run("tabdump", "site").code == 0


def test_revocation_takes_effect_without_restart(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    home = tmp_path / "alice"
    mn.ok("chtab", "priority=6", "policy.name=alice", "policy.rule=allow")
    mn.ok("xcatconfig", "--client", "alice", "--home", str(home))
    assert daemon.run("nodels", home=home).code == 0
    mn.ok("xcatconfig", "--revoke", "alice")
    r = daemon.run("nodels", home=home)
    assert r.code == 1
    assert "ended prematurely" in r.err or "TLS" in r.err


def test_certificates_from_another_ca_or_expired_are_refused(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    mn.ok("chtab", "priority=6", "policy.name=*", "policy.rule=allow")
    other = pki.create_ca(tmp_path / "otherca")
    home = tmp_path / "mallory"
    pki.issue_client(other, "root", home)
    # trust the real server, present a certificate the daemon does not trust
    shutil.copy(mn.home / ".xcat" / "ca.pem", home / ".xcat" / "ca.pem")
    r = daemon.run("tabdump", "site", home=home)
    assert r.code == 1 and "site" not in r.out
    expired = tmp_path / "old"
    pki.issue_client(pki.CA(mn.root / "etc/xcatpy/ca"), "bob", expired, days=1,
                     not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    r = daemon.run("nodels", home=expired)
    assert r.code == 1


@needs_openssl
def test_installing_node_moves_its_own_destiny_only(daemon) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    _add_nodes(mn)
    mn.ok("chtab", "priority=3", "policy.commands=nextdestiny", "policy.rule=allow")
    req = b"<xcatrequest>\n<command>nextdestiny</command>\n</xcatrequest>\n"
    out = _ssl_client(daemon, req, bind="127.0.0.6")  # n02's address
    assert "<name>n02</name>" in out and "boot" in out and "serverdone" in out
    states = mn.ok("nodels", "compute", "chain.currstate")
    assert states.splitlines() == ["n01: install rocky9", "n02: boot", "n03: install rocky9"]
    # naming another node is refused for an anonymous caller
    other = b"<xcatrequest><command>nextdestiny</command><noderange>n03</noderange></xcatrequest>"
    out = _ssl_client(daemon, other, bind="127.0.0.6")
    assert "Permission denied for request" in out
    assert mn.ok("nodels", "n03", "chain.currstate") == "n03: install rocky9\n"
    # an address that is no node gets nothing either
    out = _ssl_client(daemon, req, bind="127.0.0.99")
    assert "Permission denied for request" in out or "no node" in out


@needs_openssl
def test_authcheck_and_garbage(daemon) -> None:  # type: ignore[no-untyped-def]
    out = _ssl_client(daemon, b"<xcatrequest><command>authcheck</command></xcatrequest>")
    assert "Unauthenticated" in out and "serverdone" in out
    cred = daemon.mn.home / ".xcat" / "client-cred.pem"
    out = _ssl_client(daemon, b"<xcatrequest><command>authcheck</command></xcatrequest>", cert=cred)
    assert "Authenticated" in out and "<contents>" in out
    assert _ssl_client(daemon, b"GET / HTTP/1.0\r\n\r\n" * 3) == ""
    out = _ssl_client(daemon, b"<xcatrequest><command>x</command><arg>&bad;</arg></xcatrequest>")
    assert "malformed request" in out and "serverdone" in out


def test_lsxcatd(daemon) -> None:  # type: ignore[no-untyped-def]
    r = daemon.run("lsxcatd", "-a")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Version ")
    assert "dbengine=sqlite" in lines
    assert "xcatdport=3001" in lines
