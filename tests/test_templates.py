"""Install templates: every directive, xCAT's error texts, bulk reads, password
hashes against published vectors, the lookup order, and each shipped template
rendered for a node defined the way a newcomer defines one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_nodes import put
from xcatpy.provision import cryptpw
from xcatpy.provision.template import (
    Rendered,
    candidate_names,
    find_template,
    platform_of,
    render,
    render_nodes,
    templates_dir,
)

SHARE = templates_dir()


def _render(template: Path | str, nodes: list[str], **kw) -> dict[str, Rendered]:  # type: ignore[no-untyped-def]
    from xcatpy.paths import Paths
    from xcatpy.store.attrs import NodeView
    from xcatpy.store.db import open_store

    store = open_store(Paths.from_env())
    try:
        with store.connect() as conn:
            return render(template, nodes, NodeView(store, conn), **kw)
    finally:
        store.dispose()


def _render_nodes(nodes: list[str], **kw) -> dict[str, Rendered]:  # type: ignore[no-untyped-def]
    from xcatpy.paths import Paths
    from xcatpy.store.attrs import NodeView
    from xcatpy.store.db import open_store

    store = open_store(Paths.from_env())
    try:
        with store.connect() as conn:
            return render_nodes(nodes, NodeView(store, conn), **kw)
    finally:
        store.dispose()


def _tmpl(tmp_path: Path, text: str, name: str = "t.tmpl") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def _one(results: dict[str, Rendered], node: str = "n1") -> str:
    r = results[node]
    assert r.error is None, r.error
    assert r.text is not None
    return r.text


@pytest.fixture
def cluster(mn):  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1,n2", "groups=compute,all", "nodetype.os=rhels9.4",
          "nodetype.arch=x86_64", "nodetype.profile=compute")
    mn.ok("chtab", "key=master", "site.value=10.0.0.254")
    mn.ok("chtab", "key=timezone", "site.value=Europe/Berlin")
    mn.ok("chtab", "node=n1", "hosts.ip=10.0.0.1")
    mn.ok("chtab", "node=n1", "mac.mac=aa:bb:cc:dd:ee:01!n1-eth0|aa:bb:cc:dd:ee:02")
    mn.ok("chtab", "key=system,username=root", "passwd.password=cluster")
    mn.ok("chtab", "net=10.0.0.0", "networks.mask=255.255.255.0", "networks.netname=mgmt",
          "networks.domain=cluster.example", "networks.gateway=10.0.0.254")
    return mn


# -- password hashes ---------------------------------------------------------

def test_crypt_published_vectors() -> None:
    # Drepper's SHA-crypt specification and MD5-crypt as openssl passwd -1 computes it.
    assert cryptpw.sha_crypt("Hello world!", "$5$saltstring") == (
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5")
    assert cryptpw.sha_crypt("Hello world!", "$6$saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4"
        "OTLiBFdcbYEdFCoEOfaS35inz1")
    assert cryptpw.sha_crypt("Hello world!", "$5$rounds=10000$saltstringsaltstring") == (
        "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA")
    assert cryptpw.sha_crypt("we have a short salt string but not a short password",
                             "$6$rounds=77777$short") == (
        "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5C"
        "CaUeOxFmtlcGZelFl5CxtgfiAc0")
    assert cryptpw.md5_crypt("password", "saltsalt") == "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
    assert cryptpw.md5_crypt("", "abc") == "$1$abc$Or2rbeUYTvt12aiVzMuS/."


def test_crypt_matches_openssl_with_random_salts() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    for method, flag in (("md5", "-1"), ("sha256", "-5"), ("sha512", "-6")):
        h = cryptpw.hash_password("s3cret pass", method)
        salt = h.split("$")[2]
        assert len(salt) == 8
        ref = subprocess.run(["openssl", "passwd", flag, "-salt", salt, "s3cret pass"],
                             capture_output=True, text=True, timeout=30, check=True)
        assert h == ref.stdout.strip()
    assert cryptpw.hash_password("x") != cryptpw.hash_password("x")  # random salt
    assert cryptpw.hash_password("x").startswith("$5$")  # default sha256
    with pytest.raises(ValueError, match="unknown crypt method"):
        cryptpw.hash_password("x", "des")


# -- lookup order --------------------------------------------------------------

def test_candidate_names_in_xcat_order() -> None:
    assert candidate_names("compute", "rhels9.2", "x86_64") == [
        "compute.rhels9.2.x86_64.tmpl", "compute.rhels9.2.tmpl",
        "compute.rhels9.x86_64.tmpl", "compute.rhels9.tmpl",
        "compute.rhels9.1.x86_64.tmpl", "compute.rhels9.1.tmpl",
        "compute.rhels9.0.x86_64.tmpl", "compute.rhels9.0.tmpl",
        "compute.x86_64.tmpl", "compute.tmpl",
    ]
    assert candidate_names("c", "ubuntu22.04", "x86_64", "pkglist")[:2] == [
        "c.ubuntu22.04.x86_64.pkglist", "c.ubuntu22.04.pkglist"]
    assert platform_of("rhels9.4") == "rh" and platform_of("esxi8.0") == "esxi"
    assert platform_of("win2022") == "windows" and platform_of("plan9") is None


def test_find_template_order(tmp_path: Path) -> None:
    inst, share = tmp_path / "install", tmp_path / "share"
    custom = inst / "custom" / "install" / "rh"
    shipped = share / "rh"
    for d in (custom, shipped):
        d.mkdir(parents=True)

    def find(**kw):  # type: ignore[no-untyped-def]
        return find_template("compute", "rhels9.4", "x86_64", installdir=inst, sharedir=share, **kw)

    assert find() is None
    (shipped / "compute.tmpl").write_text("p")
    assert find() == shipped / "compute.tmpl"
    (shipped / "compute.rhels9.tmpl").write_text("g")
    assert find() == shipped / "compute.rhels9.tmpl"
    (custom / "compute.x86_64.tmpl").write_text("c")  # custom dir first, even less specific
    assert find() == custom / "compute.x86_64.tmpl"
    (custom / "compute.rhels9.3.tmpl").write_text("c")
    assert find() == custom / "compute.rhels9.3.tmpl"
    (custom / "compute.rhels9.4.x86_64.tmpl").write_text("c")
    assert find() == custom / "compute.rhels9.4.x86_64.tmpl"
    explicit = tmp_path / "mine.tmpl"
    explicit.write_text("e")
    assert find(template=explicit) == explicit  # linuximage.template
    assert find(template=tmp_path / "gone.tmpl") == custom / "compute.rhels9.4.x86_64.tmpl"
    assert find(ext="pkglist") is None


# -- directives ----------------------------------------------------------------

def test_table_directives_with_groups_regex_and_keys(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodegrpch", "compute", "noderes.netboot=xnba")
    put("hosts", {"node": "compute", "ip": "|n(\\d+)|10.0.0.($1+0)|"})
    t = _tmpl(tmp_path, "\n".join([
        "os=#TABLE:nodetype:$NODE:os# arch=#TABLE:nodetype:THISNODE:arch#",
        "netboot=#TABLE:noderes:$NODE:netboot# ip=#TABLE:hosts:$NODE:ip#",
        "tz=#TABLE:site:key=timezone:value# user=#TABLE:passwd:key=system:username#",
        "mac=#TABLE:mac:node=$NODE:mac#",
        "blank=[#TABLEBLANKOKAY:nodetype:$NODE:provmethod#]",
        "unknown #directive# stays",
    ]) + "\n")
    res = _render(t, ["n1", "n2"])
    assert _one(res) == (
        "os=rhels9.4 arch=x86_64\nnetboot=xnba ip=10.0.0.1\n"
        "tz=Europe/Berlin user=root\nmac=aa:bb:cc:dd:ee:01!n1-eth0|aa:bb:cc:dd:ee:02\n"
        "blank=[]\nunknown #directive# stays\n")
    # n2 has no mac row: xCAT's text, the file and the line, and n1 unaffected.
    assert res["n2"].error == (
        f"{t}:4: Unable to find requested field <mac> from table <mac>, with key <node=n2>")


def test_missing_value_fails_only_that_node(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = _tmpl(tmp_path, "a\nip #TABLE:hosts:$NODE:ip#\n")
    res = _render(t, ["n1", "n2"])
    assert _one(res) == "a\nip 10.0.0.1\n"
    assert res["n2"].text is None
    assert res["n2"].error == (
        f"{t}:2: Unable to find requested field <ip> from table <hosts>, with key <node=n2>")


def test_xcatmaster_nfsserver_tftpserver_fallbacks(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = _tmpl(tmp_path, "#TABLE:noderes:$NODE:xcatmaster# #TABLE:noderes:$NODE:nfsserver# "
                        "#TABLE:noderes:$NODE:tftpserver# #ENV:XCATMASTER#\n")
    cluster.ok("chtab", "node=n2", "noderes.xcatmaster=10.0.0.253")
    res = _render(t, ["n1", "n2"])
    assert _one(res) == "10.0.0.254 10.0.0.254 10.0.0.254 10.0.0.254\n"
    assert _one(res, "n2") == "10.0.0.253 10.0.0.253 10.0.0.253 10.0.0.253\n"
    cluster.ok("chtab", "-d", "key=master", "site")
    res = _render(t, ["n1"])
    assert res["n1"].error == (f"{t}:1: Unable to find requested field <xcatmaster> "
                               "from table <noderes>, with key <node=n1>")


def test_unknown_table_and_column_name_the_line(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = _tmpl(tmp_path, "ok\n#TABLE:nodetypo:$NODE:os#\n")
    assert _render(t, ["n1", "n2"])["n2"].error == f"{t}:2: nodetypo is not a valid table name"
    t = _tmpl(tmp_path, "ok\n\n#TABLE:nodetype:$NODE:oss#\n")
    assert _render(t, ["n1"])["n1"].error == f"{t}:3: oss is not a valid column of table nodetype"
    t = _tmpl(tmp_path, "#TABLE:site:$NODE:value#\n")
    assert "table site is not keyed by node" in str(_render(t, ["n1"])["n1"].error)


def test_builtin_node_directives(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster.ok("nodeadd", "n3.lab.example", "groups=all")
    cluster.ok("chtab", "key=httpport", "site.value=8080")
    put("prodkey", {"node": "all", "product": "win2022.standard", "key": "AAAAA-BBBBB"},
        {"node": "n1", "product": "win2022.standard", "key": "NODE1-KEY"})
    t = _tmpl(tmp_path, "#HOSTNAME# #SHORTNAME# #GETNODEDOMAIN:THISNODE# #GETPRINICMAC:THISNODE#"
                        "#COLONHTTPPORT#\n#WINTIMEZONE#\n#WINPRODKEY:win2022.standard#\n")
    assert _one(_render(t, ["n1"])) == (
        "n1 n1 cluster.example aa:bb:cc:dd:ee:01:8080\nW. Europe Standard Time\n"
        "<ProductKey><Key>NODE1-KEY</Key><WillShowUI>OnError</WillShowUI></ProductKey>\n")
    t2 = _tmpl(tmp_path, "#HOSTNAME# #SHORTNAME# #GETNODEDOMAIN:THISNODE# "
                         "[#WINPRODKEY:win2022.standard#]\n", "t2.tmpl")
    assert _one(_render(t2, ["n3.lab.example"]), "n3.lab.example") == (
        "n3.lab.example n3 lab.example [<ProductKey><Key>AAAAA-BBBBB</Key>"
        "<WillShowUI>OnError</WillShowUI></ProductKey>]\n")
    t3 = _tmpl(tmp_path, "#GETPRINICMAC:THISNODE#\n", "t3.tmpl")
    assert _render(t3, ["n2"])["n2"].error == (
        f"{t3}:1: Unable to find requested field <mac> from table <mac>, with key <node=n2>")


def test_kickstartnet_dhcp_and_static(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = _tmpl(tmp_path, "#KICKSTARTNET#\n")
    assert _one(_render(t, ["n1"])) == (
        "network --bootproto=dhcp --device=aa:bb:cc:dd:ee:01 --hostname=n1.cluster.example\n")
    cluster.ok("chtab", "key=managedaddressmode", "site.value=static")
    cluster.ok("chtab", "node=n1", "noderes.installnic=eth0")
    assert _one(_render(t, ["n1"])) == (
        "network --bootproto=static --device=eth0 --ip=10.0.0.1 --netmask=255.255.255.0 "
        "--gateway=10.0.0.254 --nameserver=127.0.0.1 --hostname=n1.cluster.example\n"
        if "127.0.0.1" in cluster.dump("site") else
        "network --bootproto=static --device=eth0 --ip=10.0.0.1 --netmask=255.255.255.0 "
        "--gateway=10.0.0.254 --hostname=n1.cluster.example\n")
    assert "<ip> from table <hosts>" in str(_render(t, ["n2"])["n2"].error)


def test_env_and_xcatvar(cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XCATPY_TEST_VAR", "hello")
    t = _tmpl(tmp_path, "#ENV:XCATPY_TEST_VAR# #XCATVAR:XCATPY_TEST_VAR# [#ENV:NOPE_NOT_SET#] "
                        "#ENV:HTTPPORT# #ENV:EXTRA#\n")
    assert _one(_render(t, ["n1"], env={"EXTRA": "x"})) == "hello hello [] 80 x\n"


def test_includes_relative_nested_and_env_paths(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _tmpl(tmp_path, "inner #HOSTNAME#\n#INCLUDE:deeper/c.inc#\n", "parts/b.inc")
    _tmpl(tmp_path, "deepest #TABLE:nodetype:$NODE:arch#\n", "parts/deeper/c.inc")
    _tmpl(tmp_path, "from env\n", "envdir/e.inc")
    t = _tmpl(tmp_path, "top\n#INCLUDE:parts/b.inc#\nbefore #INCLUDE:#ENV:INCDIR#/e.inc# after\n"
                        "#INCLUDE:$INCDIR/e.inc#\nend #TABLE:hosts:$NODE:ip#\n")
    res = _render(t, ["n1", "n2"], env={"INCDIR": str(tmp_path / "envdir")})
    assert _one(res) == ("top\ninner n1\ndeepest x86_64\nbefore from env after\n"
                         "from env\nend 10.0.0.1\n")
    # The error line is the template's own line 5, after includes moved it.
    assert res["n2"].error is not None and res["n2"].error.startswith(f"{t}:5: ")


def test_include_loop_and_missing_include(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _tmpl(tmp_path, "a\n#INCLUDE:b.inc#\n", "a.tmpl")
    b = _tmpl(tmp_path, "b\n\n#INCLUDE:a.tmpl#\n", "b.inc")
    res = _render(a, ["n1", "n2"])
    assert res["n1"].error == f"{b}:3: include loop: {a} -> {b} -> {a}"
    assert res["n2"].error == res["n1"].error
    t = _tmpl(tmp_path, "x\n#INCLUDE:nothere.inc#\n", "m.tmpl")
    assert _render(t, ["n1"])["n1"].error == f"{t}:2: cannot open {tmp_path / 'nothere.inc'}"
    _tmpl(tmp_path, "#INCLUDE:self.inc#\n", "self.inc")
    t = _tmpl(tmp_path, "#INCLUDE:self.inc#\n", "s.tmpl")
    assert "include loop" in str(_render(t, ["n1"])["n1"].error)


def test_include_nop_is_escaped_and_not_expanded(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _tmpl(tmp_path, "echo $HOME `id` #TABLE:hosts:$NODE:ip# #HOSTNAME#\n", "s.sh")
    t = _tmpl(tmp_path, "cat <<EOF\n#INCLUDE_NOP:s.sh#\nEOF\n#HOSTNAME#\n")
    assert _one(_render(t, ["n2"]), "n2") == (
        "cat <<EOF\necho \\$HOME \\`id\\` #TABLE:hosts:\\$NODE:ip# #HOSTNAME#\nEOF\nn2\n")


def test_pkglist_includes(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _tmpl(tmp_path, "# comment\n@base\nvim  # editor\n-postfix\n\n#INCLUDE:more.pkglist#\n",
          "x.pkglist")
    _tmpl(tmp_path, "rsync\n@hpc\n", "more.pkglist")
    t = _tmpl(tmp_path, "<p>#INCLUDE_PKGLIST:x.pkglist#</p>\n<t>#INCLUDE_PTRNLIST:x.pkglist#</t>\n"
                        "<r>#INCLUDE_RMPKGLIST:x.pkglist#</r>\n")
    assert _one(_render(t, ["n1"])) == (
        "<p><package>vim</package>\n<package>rsync</package></p>\n"
        "<t><pattern>base</pattern>\n<pattern>hpc</pattern></t>\n"
        "<r><package>postfix</package></r>\n")


def test_default_pkglist_lookup_and_variants(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    share = tmp_path / "share"
    _tmpl(share, "@core\nvim\n-postfix\n", "rh/compute.rhels9.pkglist")
    _tmpl(share, "@core\nemacs\n", "rh/compute.rhels8.pkglist")
    cluster.ok("chtab", "node=n2", "nodetype.os=rhels8.10")
    t = _tmpl(tmp_path, "%packages\n#INCLUDE_DEFAULT_PKGLIST#\n%end\n"
                        "pre: #INCLUDE_DEFAULT_PKGLIST_PRESEED#\n"
                        "<s>#INCLUDE_DEFAULT_PKGLIST_S#</s>#INCLUDE_DEFAULT_PTRNLIST_S#"
                        "#INCLUDE_DEFAULT_RMPKGLIST_S#\n")
    res = _render(t, ["n1", "n2"], sharedir=share, installdir=tmp_path / "inst")
    assert _one(res) == ("%packages\n@core\nvim\n-postfix\n%end\npre: @core vim -postfix\n"
                         "<s><package>vim</package></s><pattern>core</pattern>"
                         "<package>postfix</package>\n")
    assert _one(res, "n2").startswith("%packages\n@core\nemacs\n%end\n")
    explicit = _tmpl(tmp_path, "only\n", "mine.pkglist")
    assert _one(_render(t, ["n1"], pkglist=str(explicit))).startswith("%packages\nonly\n%end\n")
    cluster.ok("chtab", "node=n1", "nodetype.profile=gpu")
    res = _render(t, ["n1", "n2"], sharedir=share, installdir=tmp_path / "inst")
    assert res["n1"].error == (f"{t}:2: no default package list for profile 'gpu', os "
                               "'rhels9.4', arch 'x86_64' (set linuximage.pkglist or add "
                               "gpu.rhels9.4.pkglist)")
    assert res["n2"].ok


def test_crypt_directives(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    put("passwd",
        {"key": "vmware", "username": "root", "password": "$6$abc$alreadyhashed"},
        {"key": "md5", "username": "u", "password": "pw", "cryptmethod": "md5"},
        {"key": "sha512", "username": "u", "password": "pw", "cryptmethod": "sha512"},
        {"key": "bad", "username": "u", "password": "topsecret", "cryptmethod": "rot13"})
    t = _tmpl(tmp_path, "#CRYPT:passwd:key=system,username=root:password#\n"
                        "#CRYPT:passwd:key=vmware,username=root:password#\n"
                        "#CRYPT:passwd:key=md5,username=u:password#\n"
                        "#CRYPT:passwd:key=sha512,username=u:password#\n"
                        "#CRYPTORLOCKED:passwd:key=nobody,username=u:password#\n")
    lines = _one(_render(t, ["n1", "n2"])).splitlines()
    assert lines[0].startswith("$5$") and lines[0] == cryptpw.sha_crypt("cluster", lines[0])
    assert lines[1] == "$6$abc$alreadyhashed"
    assert lines[2].startswith("$1$") and lines[2] == cryptpw.md5_crypt("pw", lines[2][3:11])
    assert lines[3].startswith("$6$") and lines[3] == cryptpw.sha_crypt("pw", lines[3])
    assert lines[4] == "*"
    missing = _tmpl(tmp_path, "#CRYPT:passwd:key=nobody,username=u:password#\n", "m.tmpl")
    assert _render(missing, ["n1"])["n1"].error == (
        f"{missing}:1: Unable to find requested field <password> from table <passwd>, "
        "with key <key=nobody,username=u>")
    bad = _tmpl(tmp_path, "#CRYPT:passwd:key=bad,username=u:password#\n", "b.tmpl")
    err = str(_render(bad, ["n1"])["n1"].error)
    assert "unknown crypt method" in err and "topsecret" not in err
    cluster.ok("chtab", "key=secureroot", "site.value=1")
    assert _one(_render(t, ["n1"])).splitlines()[:2] == ["*", "*"]


def test_command_runs_once_with_timeout_and_no_injection(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    counter = tmp_path / "count"
    cluster.ok("chtab", "node=n1", f"nodetype.provmethod=$(touch {marker})")
    t = _tmpl(tmp_path, f"#COMMAND:echo run >> {counter}; echo out#\n"
                        "v=#TABLE:nodetype:$NODE:provmethod#\n"
                        "#COMMAND:echo '#TABLE'#\n")
    res = _render(t, ["n1", "n2"])
    assert _one(res).startswith(f"out\nv=$(touch {marker})\n")
    assert not marker.exists()
    assert counter.read_text() == "run\n"  # once per request, not per node
    assert res["n2"].error is not None and ":2: Unable to find" in res["n2"].error
    slow = _tmpl(tmp_path, "x\n#COMMAND:sleep 5#\n", "slow.tmpl")
    start = time.monotonic()
    r = _render(slow, ["n1"], command_timeout=0.3)
    assert time.monotonic() - start < 4
    assert r["n1"].error == f"{slow}:2: #COMMAND# did not finish within 0.3 s"


def test_tables_read_in_bulk(cluster, tmp_path: Path, statements: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The statement count does not grow with the number of nodes."""
    cluster.ok("nodeadd", "c[001-300]", "groups=compute,all", "noderes.xcatmaster=10.0.0.9")
    cluster.ok("nodegrpch", "compute", "nodetype.os=rhels9.4")
    put("hosts", {"node": "compute", "ip": "|c(\\d+)|10.1.0.($1+0)|"})
    t = _tmpl(tmp_path, "#TABLE:nodetype:$NODE:os# #TABLE:hosts:$NODE:ip# "
                        "#TABLE:noderes:$NODE:nfsserver# #TABLE:site:key=timezone:value# "
                        "#CRYPT:passwd:key=system,username=root:password# "
                        "#TABLEBLANKOKAY:vpd:$NODE:serial# #TABLEBLANKOKAY:chain:$NODE:currstate#\n")
    counts = {}
    for n in (3, 300):
        nodes = [f"c{i:03d}" for i in range(1, n + 1)]
        statements.clear()
        res = _render(t, nodes)
        counts[n] = len(statements)
        assert all(r.ok for r in res.values()), next(r.error for r in res.values() if not r.ok)
        assert res["c003"].text is not None and res["c003"].text.startswith(
            "rhels9.4 10.1.0.3 10.0.0.9 Europe/Berlin $5$")
    assert counts[300] == counts[3], statements
    assert counts[3] <= 12, statements


# -- shipped templates ------------------------------------------------------------

@pytest.fixture
def newcomer(mn):  # type: ignore[no-untyped-def]
    """Site, passwords and one node per shipped OS, defined as the docs tell a newcomer."""
    mn.ok("chtab", "key=master", "site.value=10.0.0.1")
    mn.ok("chtab", "key=domain", "site.value=cluster.example")
    mn.ok("chtab", "key=timezone", "site.value=America/New_York")
    mn.ok("chtab", "key=system,username=root", "passwd.password=cluster")
    mn.ok("chtab", "key=vmware,username=root", "passwd.password=vmw@re!")
    mn.ok("chtab", "key=system,username=Administrator", "passwd.password=Adm1n-pass")
    mn.ok("mkdef", "-t", "network", "-o", "mgmt", "net=10.0.0.0", "mask=255.255.0.0",
          "gateway=10.0.0.1")
    nodes = {}
    for i, (os_name, arch) in enumerate([
        ("rhels8.10", "x86_64"), ("rhels9.4", "x86_64"), ("rocky8.9", "x86_64"),
        ("rocky9.4", "x86_64"), ("alma8.10", "x86_64"), ("alma9.4", "aarch64"),
        ("esxi7.0", "x86_64"), ("esxi8.0", "x86_64"), ("ubuntu22.04", "x86_64"),
        ("ubuntu24.04", "x86_64"), ("sles15.5", "x86_64"), ("win2019", "x86_64"),
        ("win2022", "x86_64"),
    ], 11):
        node = f"cn{i}"
        mn.ok("mkdef", "-t", "node", "-o", node, "groups=compute,all", "mgt=ipmi",
              f"bmc=10.0.1.{i}", f"ip=10.0.0.{i}", f"mac=52:54:00:00:00:{i:02x}",
              f"os={os_name}", f"arch={arch}", "profile=compute", "netboot=xnba")
        nodes[os_name] = node
    return nodes


def _ksvalidator() -> str | None:
    local = Path(sys.executable).parent / "ksvalidator"
    return str(local) if local.exists() else shutil.which("ksvalidator")


def test_every_shipped_template_renders(newcomer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = _render_nodes(list(newcomer.values()))
    for os_name, node in newcomer.items():
        r = res[node]
        assert r.ok, f"{os_name}: {r.error}"
        assert "#TABLE" not in str(r.text) and "#INCLUDE" not in str(r.text), os_name
        assert "cluster" not in str(r.text).replace("cluster.example", ""), os_name
    (tmp_path / "out").mkdir()
    for node, r in res.items():
        (tmp_path / "out" / node).write_text(str(r.text))


@pytest.mark.parametrize("os_name,version", [
    ("rhels8.10", "RHEL8"), ("rhels9.4", "RHEL9"), ("rocky8.9", "RHEL8"),
    ("rocky9.4", "RHEL9"), ("alma8.10", "RHEL8"), ("alma9.4", "RHEL9"),
])
def test_rhel_family_kickstarts_pass_ksvalidator(newcomer, tmp_path: Path, os_name: str,
                                                  version: str) -> None:  # type: ignore[no-untyped-def]
    node = newcomer[os_name]
    text = _one(_render_nodes([node]), node)
    assert f"url --url=http://10.0.0.1/install/{os_name}/" in text
    assert "rootpw --iscrypted $5$" in text
    assert "openssl s_client -quiet -connect \"$MASTER:3001\"" in text
    assert "MASTER=10.0.0.1" in text
    platform = {"rh": "rhels", "rocky": "rocky", "alma": "alma"}[str(platform_of(os_name))]
    pkgs = (SHARE / "rh" / f"compute.rhels{version[-1]}.pkglist").read_text()
    assert "\nchrony\n" in pkgs and "chrony" in text and platform
    validator = _ksvalidator()
    if validator is None:
        pytest.skip("ksvalidator (pykickstart) is not installed: pip install pykickstart")
    ks = tmp_path / f"{node}.ks"
    ks.write_text(text)
    p = subprocess.run([validator, "-v", version, str(ks)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("os_name", ["esxi7.0", "esxi8.0"])
def test_esxi_kickstart(newcomer, os_name: str) -> None:  # type: ignore[no-untyped-def]
    # ksvalidator knows Anaconda, not the ESXi installer: check the commands ESXi needs.
    node = newcomer[os_name]
    text = _one(_render_nodes([node]), node)
    lines = text.splitlines()
    assert "vmaccepteula" in lines
    assert "clearpart --alldrives --overwritevmfs" in lines
    assert "install --firstdisk --overwritevmfs" in lines
    rootpw = next(line for line in lines if line.startswith("rootpw "))
    hashed = rootpw.split()[-1]
    assert rootpw.startswith("rootpw --iscrypted $5$")
    assert hashed == cryptpw.sha_crypt("vmw@re!", hashed)
    assert f"network --bootproto=dhcp --device=52:54:00:00:00:{int(node[2:]):02x} " \
           f"--hostname={node}" in lines
    assert "%post --interpreter=busybox" in lines and "%firstboot --interpreter=busybox" in lines
    assert "openssl s_client -quiet -connect 10.0.0.1:3001" in text
    assert "<command>nextdestiny</command>" in text
    assert "vim-cmd hostsvc/enable_ssh" in lines
    assert f"/install/{os_name}/x86_64" in text


@pytest.mark.parametrize("os_name", ["ubuntu22.04", "ubuntu24.04"])
def test_ubuntu_autoinstall_is_yaml(newcomer, os_name: str) -> None:  # type: ignore[no-untyped-def]
    node = newcomer[os_name]
    text = _one(_render_nodes([node]), node)
    assert text.startswith("#cloud-config\n")
    try:
        import yaml
    except ImportError:
        pytest.skip("PyYAML is not installed: cannot parse the user-data")
    doc = yaml.safe_load(text)["autoinstall"]
    assert doc["version"] == 1
    assert doc["identity"]["hostname"] == node
    assert doc["identity"]["password"].startswith("$5$")
    assert doc["timezone"] == "America/New_York"
    mac = doc["network"]["ethernets"]["install0"]["match"]["macaddress"]
    assert mac == f"52:54:00:00:00:{int(node[2:]):02x}"
    assert "apt-get install -y openssh-server chrony nfs-common ipmitool rsync" in (
        doc["late-commands"][0])
    assert "10.0.0.1:3001" in doc["late-commands"][2]


def test_sles_autoyast_is_well_formed(newcomer) -> None:  # type: ignore[no-untyped-def]
    from defusedxml import ElementTree

    node = newcomer["sles15.5"]
    root = ElementTree.fromstring(_one(_render_nodes([node]), node))
    ns = {"y": "http://www.suse.com/1.0/yast2ns"}
    assert [p.text for p in root.findall("y:software/y:patterns/y:pattern", ns)] == [
        "base", "minimal_base"]
    pkgs = [p.text for p in root.findall("y:software/y:packages/y:package", ns)]
    assert "openssh" in pkgs and "postfix" not in pkgs
    assert [p.text for p in root.findall("y:software/y:remove-packages/y:package", ns)] == [
        "postfix"]
    assert root.find("y:networking/y:dns/y:hostname", ns).text == node
    assert root.find("y:networking/y:dns/y:domain", ns).text == "cluster.example"
    assert root.find("y:users/y:user/y:user_password", ns).text.startswith("$5$")


@pytest.mark.parametrize("os_name", ["win2019", "win2022"])
def test_windows_unattend_is_well_formed(newcomer, os_name: str) -> None:  # type: ignore[no-untyped-def]
    from defusedxml import ElementTree

    put("prodkey", {"node": "compute", "product": f"{os_name}.standard", "key": "KEY-1"})
    node = newcomer[os_name]
    root = ElementTree.fromstring(_one(_render_nodes([node]), node))
    ns = {"u": "urn:schemas-microsoft-com:unattend"}
    assert [e.text for e in root.iter("{urn:schemas-microsoft-com:unattend}ComputerName")] == [node]
    assert [e.text for e in root.iter("{urn:schemas-microsoft-com:unattend}TimeZone")] == [
        "Eastern Standard Time"]
    assert [e.text for e in root.iter("{urn:schemas-microsoft-com:unattend}Key")][-1] == "KEY-1"
    assert root.find(".//u:AdministratorPassword/u:Value", ns).text == "Adm1n-pass"


def test_render_nodes_reports_missing_template_and_osimage(newcomer, mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "node", "-o", "odd1", "groups=all", "os=plan9", "arch=x86_64",
          "profile=compute")
    res = _render_nodes(["odd1", newcomer["rhels9.4"]])
    assert res["odd1"].error == "no template for profile 'compute', os 'plan9', arch 'x86_64'"
    assert res[newcomer["rhels9.4"]].ok
    assert _render_nodes(["odd1"], osimage="nope")["odd1"].error == "cannot find the osimage nope"
    mine = _tmpl(tmp_path, "custom for #HOSTNAME#\n", "mine.tmpl")
    mn.ok("mkdef", "-t", "osimage", "-o", "img1", "imagetype=linux", "osvers=rhels9.4",
          "osarch=x86_64", "profile=compute", f"template={mine}")
    assert _one(_render_nodes(["odd1"], osimage="img1"), "odd1") == "custom for odd1\n"
