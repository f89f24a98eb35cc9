"""tabdump, tabrestore, tabedit, chtab/tabch, gettab, tabgrep, tabprune through their entry points.

Outputs are compared character for character; every failing command is
checked to leave the whole database as it was.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import both_stores
from xcatpy.store.schema import TABLES

NODELIST_HDR = (
    "#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden,"
    "updatestatus,updatestatustime,zonename,comments,disable"
)
NODEHM_HDR = (
    "#node,power,mgt,cons,termserver,termport,conserver,serialport,serialspeed,"
    "serialflow,getmac,cmdmapping,consoleondemand,consoleenabled,comments,disable"
)
AUDIT_HDR = "#recid,audittime,userid,clientname,clienttype,command,noderange,args,status,comments,disable"


def nl_row(node: str, groups: str | None = None, **extra: str) -> str:
    cols = NODELIST_HDR[1:].split(",")
    vals = {"node": node, "groups": groups, **extra}
    return ",".join("" if vals.get(c) is None else f'"{vals[c]}"' for c in cols)


def write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def audit_csv(n: int, disabled: tuple[int, ...] = ()) -> str:
    lines = [AUDIT_HDR]
    for i in range(1, n + 1):
        dis = '"1"' if i in disabled else ""
        lines.append(f'"{i}","2020-01-{i:02d} 10:00:00","root","mn","cli","cmd{i}",,,"Allowed",,{dis}')
    return "\n".join(lines) + "\n"


@pytest.fixture
def nodes(mn):  # type: ignore[no-untyped-def]
    """Three nodes and a group row, added through chtab."""
    mn.ok("chtab", "node=n10", "nodelist.groups=compute,all", "nodehm.mgt=ipmi")
    mn.ok("chtab", "node=n2", "nodelist.groups=compute,all", "nodehm.mgt=kvm")
    mn.ok("chtab", "node=n1", "nodelist.groups=service,all", "nodehm.mgt=ipmi",
          "nodehm.power=ipmi")
    mn.ok("chtab", "node=compute", "noderes.netboot=xnba")
    return mn


# -- tabdump ---------------------------------------------------------------


def test_tabdump_lists_tables(mn) -> None:  # type: ignore[no-untyped-def]
    assert mn.ok("tabdump") == "".join(f"{t}\n" for t in sorted(TABLES))
    assert len(TABLES) == 73


def test_tabdump_empty_table_prints_header(mn) -> None:  # type: ignore[no-untyped-def]
    assert mn.ok("tabdump", "nodehm") == NODEHM_HDR + "\n"


def test_tabdump_rows_in_key_order(nodes) -> None:  # type: ignore[no-untyped-def]
    assert nodes.dump("nodelist") == "\n".join([
        NODELIST_HDR,
        nl_row("n1", "service,all"),
        nl_row("n2", "compute,all"),
        nl_row("n10", "compute,all"),
    ]) + "\n"


def test_tabdump_quotes_values(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("chtab", "key=motd", 'site.value=say "hi", then\nbye', "site.comments=")
    assert '"motd","say ""hi"", then\nbye",,\n' in mn.dump("site")


def test_tabdump_describe_table(mn) -> None:  # type: ignore[no-untyped-def]
    docs = TABLES["kvm_nodedata"].column_docs
    assert mn.ok("tabdump", "-d", "kvm_nodedata") == (
        f"node:\t\t{docs['node']}\n\n"
        f"xml:\t\t{docs['xml']}\n\n"
        f"comments:\t{docs['comments']}\n\n"
        f"disable:\t{docs['disable']}\n"
    )


def test_tabdump_describe_all_tables(mn) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("tabdump", "-d")
    first = sorted(TABLES)[0]
    assert out.startswith(f"{first}:\t{TABLES[first].description}\n\n")
    assert out.count("\n\n") == len(TABLES) - 1
    assert f"site:\t\t{TABLES['site'].description}\n" in out


@both_stores
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (["groups==compute,all"], ["n2", "n10"]),
        (["groups!=compute,all"], ["n1"]),
        (["node=~n1%"], ["n1", "n10"]),
        (["groups=~COMPUTE%"], ["n2", "n10"]),      # LIKE ignores ASCII case
        (["groups=~/%vice%/"], ["n1"]),            # slashes dropped, as in xCAT
        (["node!~n1%"], ["n2"]),
        (["node>n10"], ["n2"]),                    # compared as text
        (["node>=n10"], ["n10", "n2"]),
        (["node<n10"], ["n1"]),
        (["node<=n10"], ["n1", "n10"]),
        (["groups=~%compute%", "node!=n2"], ["n10"]),
    ],
)
def test_tabdump_where(nodes, where: list[str], expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    args = [a for w in where for a in ("-w", w)]
    out = nodes.ok("tabdump", *args, "nodelist").splitlines()
    assert out[0] == NODELIST_HDR
    got = [line.split(",")[0].strip('"') for line in out[1:]]
    assert sorted(got) == sorted(expected)


@both_stores
def test_tabdump_where_record_numbers(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn.ok("tabrestore", write(tmp_path / "auditlog.csv", audit_csv(12)))
    out = mn.ok("tabdump", "-w", "recid>9", "-w", "command=~CMD1%", "auditlog").splitlines()
    assert [line.split(",")[0] for line in out[1:]] == ['"10"', '"11"', '"12"']
    out = mn.ok("tabdump", "-w", "recid=~1%", "auditlog").splitlines()
    assert [line.split(",")[0] for line in out[1:]] == ['"1"', '"10"', '"11"', '"12"']
    r = mn.run("tabdump", "-w", "recid>x", "auditlog")
    assert (r.code, r.err) == (1, "Error: -w recid>x: recid is a whole number\n")


def test_tabdump_where_skips_disabled_rows_like_xcat(nodes) -> None:  # type: ignore[no-untyped-def]
    nodes.ok("chtab", "node=n2", "nodelist.disable=1")
    out = nodes.ok("tabdump", "-w", "groups==compute,all", "nodelist")
    assert out == NODELIST_HDR + "\n" + nl_row("n10", "compute,all") + "\n"
    assert "n2" in nodes.dump("nodelist")


def test_tabdump_where_errors(nodes) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    r = nodes.run("tabdump", "-w", "bogus==1", "nodelist")
    assert (r.code, r.out, r.err) == (1, "", "Error: bogus is not a valid column of table nodelist\n")
    r = nodes.run("tabdump", "-w", "groups", "nodelist")
    assert r.code == 1
    assert r.err.startswith("Error: Unsupported operator in -w groups")
    r = nodes.run("tabdump", "-n", "2", "-w", "node==x", "auditlog")
    assert (r.code, r.err) == (1, "Error: You  cannot use the -n and -w flag together.\n")
    assert nodes.dump_all() == before


def test_tabdump_to_file(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "nl.csv"
    r = nodes.run("tabdump", "-f", str(target), "-w", "node==n1", "nodelist")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert target.read_text() == NODELIST_HDR + "\n" + nl_row("n1", "service,all") + "\n"
    r = nodes.run("tabdump", "-f", str(target))
    assert (r.code, r.err) == (1, "Error: table name missing from the command input.\n")
    r = nodes.run("tabdump", "-f", str(target), "-n", "3", "auditlog")
    assert (r.code, r.err) == (1, "Error: You  cannot use the -n and -f flag together.\n")
    r = nodes.run("tabdump", "-f", str(tmp_path / "no" / "such" / "dir.csv"), "nodelist")
    assert r.code == 1 and r.err.startswith("Error: Error on tabdump of nodelist to ")


def test_tabdump_last_records(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("tabdump", "-n", "2", "auditlog")
    assert (r.code, r.out) == (0, "Nothing to display from auditlog.\n")
    mn.ok("tabrestore", write(tmp_path / "auditlog.csv", audit_csv(5)))
    lines = mn.ok("tabdump", "-n", "2", "auditlog").splitlines()
    assert lines[0] == AUDIT_HDR
    assert [line.split(",")[0] for line in lines[1:]] == ['"4"', '"5"']
    r = mn.run("tabdump", "-n", "2", "nodelist")
    assert (r.code, r.err) == (1, "Error: nodelist table is not supported in tabdump -n. "
                                  "You may only use this option on the auditlog or the eventlog.\n")
    r = mn.run("tabdump", "-n", "2", "-d", "auditlog")
    assert (r.code, r.err) == (1, "Error: You  cannot use the -n and -d flag together.\n")


def test_tabdump_bad_usage(mn) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("tabdump", "nosuch")
    assert (r.code, r.out, r.err) == (1, "", "Error: nosuch is not a valid table name\n")
    r = mn.run("tabdump", "site", "nodelist")
    assert r.code == 1 and "Usage:" in r.err
    r = mn.run("tabdump", "-n", "x", "auditlog")
    assert r.code == 1


# -- tabrestore ------------------------------------------------------------


@both_stores
def test_tabrestore_replaces_table(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = NODELIST_HDR + "\n" + nl_row("x2", "a,b", comments='multi\nline ""q""') + "\n" \
        + nl_row("x1", "") + "\n"
    r = nodes.run("tabrestore", write(tmp_path / "nodelist.csv", text))
    assert (r.code, r.out, r.err) == (0, "", "")
    assert nodes.dump("nodelist") == "\n".join([
        NODELIST_HDR,
        nl_row("x1", ""),
        nl_row("x2", "a,b", comments='multi\nline ""q""'),
    ]) + "\n"
    # the other tables are untouched
    assert "n10" in nodes.dump("nodehm")


@both_stores
def test_tabrestore_append(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "nodelist.rack3.csv", "#node,groups\n" + '"n3","rack3"\n')
    r = nodes.run("tabrestore", "-a", path)
    assert (r.code, r.out, r.err) == (0, "", "")
    dump = nodes.dump("nodelist").splitlines()
    assert [line.split(",")[0] for line in dump[1:]] == ['"n1"', '"n2"', '"n3"', '"n10"']
    before = nodes.dump_all()
    path = write(tmp_path / "nodelist.more.csv", '#node,groups\n"n4","x"\n"n2","y"\n')
    r = nodes.run("tabrestore", "--addrows", path)
    assert (r.code, r.err) == (1, "Error: key node=n2 already exists in table nodelist\n")
    assert nodes.dump_all() == before


@both_stores
def test_tabrestore_duplicate_keys_in_file(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    path = write(tmp_path / "nodelist.csv", '#node,groups\n"a","1"\n"b","2"\n"a","3"\n')
    r = nodes.run("tabrestore", path)
    assert (r.code, r.err) == (1, "Error: line 4: duplicate key node=a (first on line 2)\n")
    path = write(tmp_path / "passwd.csv",
                 '#key,username,password\n"system","root","x"\n"system","root","y"\n')
    r = nodes.run("tabrestore", path)
    assert r.err == "Error: line 3: duplicate key key=system,username=root (first on line 2)\n"
    assert nodes.dump_all() == before


@both_stores
@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("nosuch.csv", "#a,b\n", "nosuch is not a valid table name"),
        ("nodelist.csv", '#node,bogus\n"n1","x"\n',
         "line 1: column bogus not in table nodelist"),
        ("nodelist.csv", '#node,groups\n"n1","x","y"\n',
         "line 2: wrong number of fields: expected 2, found 3"),
        ("nodelist.csv", '#node,groups\n"n1","x"\n"n2","open\n',
         "line 3: unbalanced quotes: a quoted field is never closed"),
        ("nodelist.csv", '#node,groups\n"n1","x"y\n', "line 2: text after a closing quote: 'y'"),
        ("nodelist.csv", "node,groups\n\"n1\",\"x\"\n\"n2\",\"\x00\"\n", "line 3: NUL character in the data"),
        ("nodelist.csv", "", "line 1: missing header line (#column1,column2,...)"),
        ("auditlog.csv", AUDIT_HDR + '\n"x",,,,,,,,,,\n',
         "line 2: recid must be a whole number, not 'x'"),
    ],
)
def test_tabrestore_bad_input_changes_nothing(nodes, tmp_path: Path, name: str, content: str,
                                              error: str) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    r = nodes.run("tabrestore", write(tmp_path / name, content))
    assert (r.code, r.out, r.err) == (1, "", f"Error: {error}\n")
    assert nodes.dump_all() == before


def test_tabrestore_invalid_utf8(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    path = write(tmp_path / "nodelist.csv", b'#node,groups\n"n1","ok"\n"n2","caf\xe9"\n')
    r = nodes.run("tabrestore", path)
    assert (r.code, r.err) == (1, f"Error: {path}: line 3: not valid UTF-8 (byte 0xe9 at column 10)\n")
    assert nodes.dump_all() == before


def test_tabrestore_usage_and_unreadable(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = mn.run("tabrestore")
    assert r.code == 2 and r.out.startswith("Usage: tabrestore <tablename>.csv\n")
    missing = str(tmp_path / "site.csv")
    r = mn.run("tabrestore", missing)
    assert (r.code, r.err) == (3, f"Error: Unable to open {missing} for reading.\n")


@both_stores
def test_tabrestore_keeps_record_numbers(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn.ok("tabrestore", write(tmp_path / "auditlog.csv", audit_csv(3)))
    # a record without a number gets the next one, on every engine
    mn.ok("tabrestore", "-a", write(tmp_path / "auditlog.new.csv",
                                    '#recid,command\n,"later"\n'))
    lines = mn.dump("auditlog").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ['"1"', '"2"', '"3"', '"4"']
    assert lines[4].endswith('"later",,,,,')


# -- chtab / tabch ---------------------------------------------------------


@both_stores
@pytest.mark.parametrize("cmd", ["chtab", "tabch"])
def test_chtab_create_update_append_delete(mn, cmd: str) -> None:  # type: ignore[no-untyped-def]
    assert mn.ok(cmd, "node=n1", "nodelist.groups=compute", "postscripts.postbootscripts=a") == ""
    mn.ok(cmd, "node=n1", "postscripts.postbootscripts+=b,a", "postscripts.postbootscripts+=c")
    mn.ok(cmd, "node=n1", "nodelist.status=booted", "nodelist.groups+=all")
    assert mn.dump("postscripts") == (
        "#node,postscripts,postbootscripts,comments,disable\n" '"n1",,"a,b,c",,\n'
    )
    assert mn.dump("nodelist") == NODELIST_HDR + "\n" + nl_row("n1", "compute,all",
                                                                status="booted") + "\n"
    mn.ok(cmd, "node=n1", "nodelist.status=")          # empty unsets
    assert mn.dump("nodelist") == NODELIST_HDR + "\n" + nl_row("n1", "compute,all") + "\n"
    mn.ok(cmd, "-d", "node=n1", "nodelist", "postscripts")
    assert mn.dump("nodelist") == NODELIST_HDR + "\n"
    assert mn.dump("postscripts") == "#node,postscripts,postbootscripts,comments,disable\n"


@both_stores
def test_chtab_multi_column_key(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("chtab", "key=system", "passwd.username=root", "passwd.password=cluster")
    mn.ok("chtab", "key=ipmi,username=ADMIN", "passwd.password=admin")
    mn.ok("chtab", "key=system", "passwd.password=secret")   # key= selects the row
    assert mn.dump("passwd") == (
        "#key,username,password,cryptmethod,authdomain,comments,disable\n"
        '"ipmi","ADMIN","admin",,,,\n'
        '"system","root","secret",,,,\n'
    )
    mn.ok("chtab", "-d", "key=ipmi", "passwd")
    assert '"ipmi"' not in mn.dump("passwd")


@both_stores
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["node=n1", "nosuch.col=1"], "nosuch is not a valid table name"),
        (["node=n1", "nodelist.bogus=1"], "bogus is not a valid column of table nodelist"),
        (["bogus=n1", "nodelist.groups=1"], "bogus is not a valid column of table nodelist"),
        (["node", "nodelist.groups=1"], 'Incorrect argument "node": expected column=value (chtab)'),
        (["node=n1", "nodelist.groups"], "Malformed argument nodelist.groups: expected "
                                         "table.column=value"),
        (["username=x", "passwd.password=y"], "passwd: a value for key column key is required"),
        (["-d", "node=n1", "nosuch"], "nosuch is not a valid table name"),
        (["-d", "key=x", "nodelist"], "key is not a valid column of table nodelist"),
    ],
)
def test_chtab_errors_change_nothing(nodes, args: list[str], error: str) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    if args[0] == "node=n1":
        # the valid part of the command must not be applied either
        args = [args[0], "nodehm.mgt=changed", *args[1:]]
    r = nodes.run("chtab", *args)
    assert (r.code, r.out, r.err) == (1, "", f"Error: {error}\n")
    assert nodes.dump_all() == before


@both_stores
def test_chtab_failure_late_in_the_transaction(nodes) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    r = nodes.run("chtab", "node=n1", "nodehm.mgt=changed", "performance.attrvalue=1")
    assert (r.code, r.err) == (1, "Error: performance: a value for key column timestamp "
                                  "is required\n")
    assert nodes.dump_all() == before


def test_chtab_usage(mn) -> None:  # type: ignore[no-untyped-def]
    for args in ([], ["node=n1"], ["-d", "node=n1"], ["nodelist.groups=x"]):
        r = mn.run("chtab", *args)
        assert r.code == 1 and r.err.startswith("Error: "), args


# -- gettab ----------------------------------------------------------------


def test_gettab(nodes) -> None:  # type: ignore[no-untyped-def]
    assert nodes.ok("gettab", "node=n1", "nodehm.mgt") == "ipmi\n"
    assert nodes.ok("gettab", "-H", "node=n1", "nodehm.mgt") == "nodehm.mgt: ipmi\n"
    assert nodes.ok("gettab", "--with-fieldname", "node=n1", "nodehm.mgt") == "nodehm.mgt: ipmi\n"
    assert nodes.ok("gettab", "node=n1", "nodehm.mgt", "nodelist.groups", "nodehm.cons") == (
        "nodehm.mgt: ipmi\nnodelist.groups: service,all\nnodehm.cons: \n"
    )
    # selecting on a column that is not the key: the first matching row
    assert nodes.ok("gettab", "mgt=ipmi", "nodehm.node") == "n1\n"
    assert nodes.ok("gettab", "mgt=ipmi,power=", "nodehm.node") == "n10\n"
    assert nodes.ok("gettab", "node=nobody", "nodehm.mgt") == ""
    assert nodes.ok("gettab", "key=master", "site.value") != ""


def test_gettab_errors(nodes) -> None:  # type: ignore[no-untyped-def]
    for args, err in (
        (["node=n1", "nosuch.x"], "Error: nosuch is not a valid table name\n"),
        (["node=n1", "nodehm.bogus"], "Error: bogus is not a valid column of table nodehm\n"),
        (["key=n1", "nodehm.mgt"], "Error: key is not a valid column of table nodehm\n"),
    ):
        r = nodes.run("gettab", *args)
        assert (r.code, r.out, r.err) == (1, "", err)
    r = nodes.run("gettab", "node=n1")
    assert r.code == 1 and "Usage: gettab" in r.err


# -- tabgrep ---------------------------------------------------------------


def test_tabgrep(nodes) -> None:  # type: ignore[no-untyped-def]
    assert nodes.ok("tabgrep", "n2") == "nodehm\nnodelist\nnoderes\n"   # noderes via group
    assert nodes.ok("tabgrep", "n1") == "nodehm\nnodelist\n"
    r = nodes.run("tabgrep", "nobody")
    assert r.code == 1 and "nobody" in r.err
    r = nodes.run("tabgrep")
    assert r.code == 1 and r.err.startswith("Usage: tabgrep nodename")


# -- tabprune --------------------------------------------------------------


def recids(mn) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(line.split(",")[0].strip('"')) for line in mn.dump("auditlog").splitlines()[1:]]


@pytest.fixture
def audit(mn, tmp_path: Path):  # type: ignore[no-untyped-def]
    mn.ok("tabrestore", write(tmp_path / "auditlog.csv", audit_csv(10, disabled=(2,))))
    return mn


@both_stores
@pytest.mark.parametrize(
    ("args", "left"),
    [
        (["-n", "3"], [2, 4, 5, 6, 7, 8, 9, 10]),     # the disabled row stays, as in xCAT
        (["-i", "6"], [2, 6, 7, 8, 9, 10]),
        (["-p", "50"], [2, 6, 7, 8, 9, 10]),
        (["-a"], []),
        (["--number", "20"], [2]),
    ],
)
def test_tabprune(audit, args: list[str], left: list[int]) -> None:  # type: ignore[no-untyped-def]
    assert audit.ok("tabprune", "auditlog", *args) == "tabprune of auditlog complete.\n"
    assert recids(audit) == left


def test_tabprune_verbose_and_file(audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    full = audit.dump("auditlog").splitlines()
    out = audit.ok("tabprune", "auditlog", "-V", "-i", "3")
    assert out == "\n".join([AUDIT_HDR, full[1]]) + "\n"
    target = tmp_path / "pruned.csv"
    r = audit.run("tabprune", "auditlog", "-n", "2", "-f", str(target))
    assert (r.code, r.out, r.err) == (0, "tabprune of auditlog complete.\n", "")
    # the two lowest numbers are 2 (disabled, kept) and 3
    assert target.read_text() == "\n".join([AUDIT_HDR, full[3]]) + "\n"
    assert recids(audit) == [2, 4, 5, 6, 7, 8, 9, 10]
    # the archive is kept only when the prune happened
    bad = tmp_path / "never.csv"
    r = audit.run("tabprune", "nodelist", "-n", "2", "-f", str(bad))
    assert r.code == 1 and not bad.exists()


def test_tabprune_days(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    mn.ok("tabrestore", write(tmp_path / "auditlog.csv", textwrap.dedent(f"""\
        #recid,audittime,command
        "1","2001-01-01 00:00:00","old"
        "2","{now}","new"
        """)))
    mn.ok("tabprune", "auditlog", "-d", "30")
    assert recids(mn) == [2]


def test_tabprune_empty_and_any_table(nodes) -> None:  # type: ignore[no-untyped-def]
    assert nodes.ok("tabprune", "eventlog", "-n", "5") == (
        "Nothing to prune from eventlog.\ntabprune of eventlog complete.\n"
    )
    assert nodes.ok("tabprune", "nodehm", "-a") == "tabprune of nodehm complete.\n"
    assert nodes.dump("nodehm") == NODEHM_HDR + "\n"


def test_tabprune_errors(audit) -> None:  # type: ignore[no-untyped-def]
    before = audit.dump_all()
    for args, err in (
        ([], "Error: Table name required.\n"),
        (["auditlog"], "Error: One option -p or -i or -n or -a or -d must be supplied.\n"),
        (["auditlog", "-a", "-n", "2"],
         "Error: Only one option -p or -i or -n or -a maybe used at a time.\n"),
        (["nodelist", "-n", "2"],
         "Error: Table nodelist not supported, see tabprune -h for supported tables.\n"),
        (["nosuch", "-a"], "Error: nosuch is not a valid table name\n"),
    ):
        r = audit.run("tabprune", *args)
        assert (r.code, r.out, r.err) == (1, "", err), args
    r = audit.run("tabprune", "auditlog", "-i", "x")
    assert r.code == 1 and r.err.startswith("Error: -i needs a whole number, not x")
    assert audit.dump_all() == before


# -- tabedit ---------------------------------------------------------------


def editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys\npath = sys.argv[1]\n" + textwrap.dedent(body))
    return f"{sys.executable} {script}"


def test_tabedit_saves_changes(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ed = editor(tmp_path, """\
        text = open(path).read().replace('"kvm"', '"esx"')
        open(path, "w").write(text + '"n99",,,,,,,,,,,,,,,\\n')
        """)
    r = nodes.run("tabedit", "nodehm", env={"TABEDITOR": ed})
    assert (r.code, r.out, r.err) == (0, "", "")
    assert nodes.ok("gettab", "node=n2", "nodehm.mgt") == "esx\n"
    assert '"n99"' in nodes.dump("nodehm")


def test_tabedit_no_change(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    ed = editor(tmp_path, "open(path, 'a').close()\n")
    r = nodes.run("tabedit", "nodehm", env={"TABEDITOR": "", "EDITOR": ed})
    assert (r.code, r.out, r.err) == (0, "No file modifications detected, not restoring.\n", "")
    assert nodes.dump_all() == before


def test_tabedit_invalid_csv_keeps_file(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = nodes.dump_all()
    ed = editor(tmp_path, "open(path, 'a').write('\"n5\",\"oops\\n')\n")
    r = nodes.run("tabedit", "nodehm", env={"TABEDITOR": ed})
    assert r.code == 1
    first, second = r.err.splitlines()
    assert first == "Error: line 5: unbalanced quotes: a quoted field is never closed"
    prefix = "The table was not changed; your edited file is kept at "
    assert second.startswith(prefix)
    kept = Path(second[len(prefix):])
    assert kept.name == "nodehm.csv" and kept.read_text().endswith('"n5","oops\n')
    assert nodes.dump_all() == before
    kept.unlink()
    kept.parent.rmdir()


def test_tabedit_refusals(nodes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = nodes.run("tabedit", "auditlog")
    assert r.code == 1 and "may not be edited" in r.err
    r = nodes.run("tabedit", "nosuch", env={"TABEDITOR": "true"})
    assert (r.code, r.err) == (1, "Error: nosuch is not a valid table name\n")
    r = nodes.run("tabedit", "site", env={"TABEDITOR": "false"})
    assert r.code == 1 and "exited with status 1" in r.err
    r = nodes.run("tabedit", "site", env={"TABEDITOR": str(tmp_path / "no-such-editor")})
    assert r.code == 1 and "cannot run the editor" in r.err
