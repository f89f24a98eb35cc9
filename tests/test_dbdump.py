"""dumpxCATdb and restorexCATdb: whole-database backups in CSV, restored atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import both_stores
from xcatpy.cli.tabrestore import multi_request
from xcatpy.commands.tables import split_sections
from xcatpy.errors import UsageError
from xcatpy.store.schema import TABLES

AUDIT_HDR = "#recid,audittime,userid,clientname,clienttype,command,noderange,args,status,comments,disable"


@pytest.fixture
def populated(mn, tmp_path: Path):  # type: ignore[no-untyped-def]
    mn.ok("chtab", "node=n1", "nodelist.groups=compute,all", "nodehm.mgt=ipmi",
          "ipmi.bmc=10.1.0.1", "ipmi.password=pa\"ss,word")
    mn.ok("chtab", "node=n2", "nodelist.groups=compute,all", "nodelist.comments=two\nlines")
    mn.ok("chtab", "key=system", "passwd.username=root", "passwd.password=cluster")
    audit = tmp_path / "seed" / "auditlog.csv"
    audit.parent.mkdir()
    audit.write_text(AUDIT_HDR + '\n"7","2024-05-01 10:00:00","root","mn","cli","nodels",,,'
                                 '"Allowed",,\n')
    mn.ok("tabrestore", str(audit))
    return mn


def test_dump_writes_one_file_per_table(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "backup" / "nested"          # created on demand
    r = populated.run("dumpxCATdb", "-p", str(target))
    assert (r.code, r.out, r.err) == (0, "Backup Complete.\n", "")
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted(f"{t}.csv" for t in TABLES if t not in ("auditlog", "eventlog"))
    for table in ("nodelist", "ipmi", "site", "nodehm", "zone"):
        assert (target / f"{table}.csv").read_text() == populated.dump(table)


def test_dump_all_and_verbose(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = populated.run("dumpxCATdb", "-a", "-V", "-p", str(tmp_path / "d"))
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[-1] == "Backup Complete."
    assert lines[:-1] == [f"Dumping {t}" for t in sorted(TABLES)]
    assert (tmp_path / "d" / "auditlog.csv").read_text() == populated.dump("auditlog")


def test_dump_skiptables(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    populated.ok("chtab", "key=skiptables", "site.value=passwd,ipmi")
    r = populated.run("dumpxCATdb", "-V", "-p", str(tmp_path / "a"))
    assert r.out.splitlines()[:4] == ["Skipping auditlog", "Skipping eventlog", "Skipping ipmi",
                                      "Skipping passwd"]
    assert not (tmp_path / "a" / "passwd.csv").exists()
    assert not (tmp_path / "a" / "ipmi.csv").exists()
    # the environment variable takes precedence over the site key
    r = populated.run("dumpxCATdb", "-p", str(tmp_path / "b"), env={"XCAT_SKIPTABLES": "hosts"})
    assert r.code == 0
    assert (tmp_path / "b" / "passwd.csv").exists()
    assert not (tmp_path / "b" / "hosts.csv").exists()


def test_dump_usage(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("dumpxCATdb")
    assert (r.code, r.err) == (1, "Error: Requires -p with path to directory to hold db files.\n")
    r = mn.run("dumpxCATdb", "-b", "-p", str(tmp_path))
    assert r.code == 1 and "not supported" in r.err
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = mn.run("dumpxCATdb", "-p", str(blocker / "sub"))
    assert r.code == 1 and r.err.startswith(f"Error: cannot create {blocker / 'sub'}")


@both_stores
def test_dump_restore_round_trip(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = populated.dump_all()
    populated.ok("dumpxCATdb", "-a", "-p", str(tmp_path / "bk"))
    populated.ok("chtab", "node=n3", "nodelist.groups=new", "ipmi.bmc=x")
    populated.ok("chtab", "-d", "node=n1", "nodelist", "nodehm")
    populated.ok("chtab", "key=domain", "site.value=changed.example")
    populated.ok("tabprune", "auditlog", "-a")
    assert populated.dump_all() != before
    r = populated.run("restorexCATdb", "-a", "-p", str(tmp_path / "bk"))
    assert (r.code, r.out, r.err) == (0, "Restore of Database Complete.\n", "")
    assert populated.dump_all() == before


@both_stores
def test_restore_is_one_transaction(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    populated.ok("dumpxCATdb", "-p", str(tmp_path / "bk"))
    (tmp_path / "bk" / "nodelist.csv").write_text("#node,groups\n")
    (tmp_path / "bk" / "nodehm.csv").write_text('#node,mgt\n"n1","ipmi"\n"n2","ipmi","x"\n')
    before = populated.dump_all()
    r = populated.run("restorexCATdb", "-p", str(tmp_path / "bk"))
    assert (r.code, r.out, r.err) == (
        1, "", "Error: nodehm.csv: line 3: wrong number of fields: expected 2, found 3\n")
    assert populated.dump_all() == before


def test_restore_rejects_bad_bytes_and_duplicates(populated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bk = tmp_path / "bk"
    populated.ok("dumpxCATdb", "-p", str(bk))
    before = populated.dump_all()
    (bk / "hosts.csv").write_bytes(b'#node,ip\n"n1","10.0.0.1\xc3"\n')
    r = populated.run("restorexCATdb", "-p", str(bk))
    assert (r.code, r.err) == (
        1, "Error: hosts.csv: line 2: not valid UTF-8 (byte 0xc3 at column 15)\n")
    (bk / "hosts.csv").write_text('#node,ip\n"n1","a"\n"n1","b"\n')
    r = populated.run("restorexCATdb", "-p", str(bk))
    assert (r.code, r.err) == (
        1, "Error: hosts.csv: line 3: duplicate key node=n1 (first on line 2)\n")
    assert populated.dump_all() == before


def test_restore_usage(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("restorexCATdb")
    assert (r.code, r.err) == (1, "Error: -p with path to database files is required\n")
    r = mn.run("restorexCATdb", "-p", str(tmp_path / "missing"))
    assert (r.code, r.err) == (1, "Error: Input path must exist\n")
    r = mn.run("restorexCATdb", "-p", str(tmp_path))
    assert (r.code, r.err) == (1, f"Error: no table files (*.csv) in {tmp_path}\n")
    r = mn.run("restorexCATdb", "-b", "-p", str(tmp_path))
    assert r.code == 1 and "not supported" in r.err


# A few files as a real xCAT 2.16 management node writes them with dumpxCATdb.
XCAT_DUMP = {
    "site.csv": (
        "#key,value,comments,disable\n"
        '"blademaxp","64",,\n'
        '"domain","cluster.example.com",,\n'
        '"master","10.0.0.1",,\n'
        '"skiptables","",,\n'
        '"xcatdport","3001",,\n'
    ),
    "nodelist.csv": (
        "#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden,"
        "updatestatus,updatestatustime,zonename,comments,disable\n"
        '"cn01","compute,all","booted","05-01-2024 10:00:00",,,,,,,,,\n'
        '"cn02","compute,all",,,,,,,,,,"spare ""hot"" node",\n'
    ),
    "nodehm.csv": (
        "#node,power,mgt,cons,termserver,termport,conserver,serialport,serialspeed,"
        "serialflow,getmac,cmdmapping,consoleondemand,consoleenabled,comments,disable\n"
        '"compute",,"ipmi","ipmi",,,,"0","115200",,,,,,,\n'
    ),
    "ipmi.csv": (
        "#node,bmc,bmcport,taggedvlan,bmcid,username,password,comments,disable\n"
        '"compute","|\\D+(\\d+)|10.1.0.($1+0)|",,,,"ADMIN","admin",,\n'
    ),
    # a column this schema lacks (from a newer xCAT) is dropped with a warning
    "nodetype.csv": (
        "#node,os,arch,profile,provmethod,supportedarchs,nodetype,hwtype,comments,disable\n"
        '"compute","rhels8.6.0","x86_64","compute",,,,"bmc",,\n'
    ),
    # a table this schema lacks is skipped with a warning
    "x_teal_config.csv": "#key,value,comments,disable\n\"k\",\"v\",,\n",
    # logs are left alone without -a
    "auditlog.csv": AUDIT_HDR + "\n\"3\",\"2024-05-01 10:00:00\",\"root\",,,,,,,,\n",
    "README": "not a table file, ignored\n",
}


@both_stores
def test_restore_real_xcat_dump(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name, text in XCAT_DUMP.items():
        (tmp_path / name).write_text(text)
    mn.ok("chtab", "node=old", "nodelist.groups=gone")
    r = mn.run("restorexCATdb", "-V", "-p", str(tmp_path))
    assert r.code == 0, r.err
    assert r.err == (
        "Warning: nodetype.csv: dropping column hwtype: not in table nodetype\n"
        "Warning: Skipping x_teal_config.csv: x_teal_config is not a table of this schema\n"
    )
    assert r.out == (
        "Skipping auditlog.csv\n"
        "Restoring ipmi.\nRestoring nodehm.\nRestoring nodelist.\nRestoring nodetype.\n"
        "Restoring site.\n"
        "Restore of Database Complete.\n"
    )
    for name in ("site", "nodelist", "nodehm", "ipmi"):
        assert mn.dump(name) == XCAT_DUMP[f"{name}.csv"]
    assert mn.dump("nodetype") == (
        "#node,os,arch,profile,provmethod,supportedarchs,nodetype,comments,disable\n"
        '"compute","rhels8.6.0","x86_64","compute",,,,,\n'
    )
    assert mn.dump("auditlog") == AUDIT_HDR + "\n"
    # values come back raw, and inheritance and regexes work on them
    assert mn.ok("gettab", "node=compute", "ipmi.bmc") == "|\\D+(\\d+)|10.1.0.($1+0)|\n"
    assert mn.ok("tabgrep", "cn01") == "ipmi\nnodehm\nnodelist\nnodetype\n"


def test_restore_skiptables(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "site.csv").write_text('#key,value\n"master","1.2.3.4"\n')
    (tmp_path / "nodelist.csv").write_text('#node,groups\n"a","b"\n')
    before_site = mn.dump("site")
    r = mn.run("restorexCATdb", "-p", str(tmp_path), env={"XCAT_SKIPTABLES": "site"})
    assert (r.code, r.out) == (0, "Skipping site\nRestore of Database Complete.\n")
    assert mn.dump("site") == before_site
    assert '"a","b"' in mn.dump("nodelist")


def test_multi_table_request_format() -> None:
    sections = [("site", '#key,value\n"a","--x"\n'), ("nodelist", "#node\n")]
    req = multi_request(sections, append=True, ignore_unknown=True)
    assert req.command == "tabrestore"
    assert req.args[:2] == ["-a", "-u"]
    boundary = req.args[req.args.index("--boundary") + 1]
    assert req.args[-4:] == ["-t", "site", "-t", "nodelist"]
    assert req.stdin == f"--{boundary}\n{sections[0][1]}--{boundary}\n{sections[1][1]}"
    got = split_sections(req.stdin or "", boundary, ["site", "nodelist"])
    assert [(t, s.rstrip("\n")) for t, s in got] == [(t, s.rstrip("\n")) for t, s in sections]
    with pytest.raises(UsageError):
        split_sections(req.stdin or "", boundary, ["site"])
    with pytest.raises(UsageError):
        split_sections(req.stdin or "", "short", ["site", "nodelist"])
