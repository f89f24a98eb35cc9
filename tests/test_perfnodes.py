"""xcatperftest-style fake nodes: layout, determinism, both output forms, and loading them."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xcatpy import perfnodes
from xcatpy.perfnodes import COLUMNS, csv_text, nodes, stanza, tables, write_tables


def _needs(*commands: str) -> None:
    for c in commands:
        if importlib.util.find_spec(f"xcatpy.cli.{c.lower()}") is None:
            pytest.skip(f"{c} is not written yet")


# -- layout ---------------------------------------------------------------

def test_names_rows_and_addresses_follow_xcatperftest() -> None:
    fake = nodes(501)
    assert [f.name for f in fake[:3]] == ["fake1", "fake2", "fake3"]
    assert fake[-1].name == "fake501"
    last_of_row1, first_of_row2, first_of_row3 = fake[249], fake[250], fake[500]
    assert (fake[0].row, fake[0].slot, fake[0].ip, fake[0].bmc) == (1, 1, "10.1.0.1", "10.1.128.1")
    assert (last_of_row1.row, last_of_row1.slot, last_of_row1.ip) == (1, 250, "10.1.0.250")
    assert (first_of_row2.row, first_of_row2.slot, first_of_row2.ip) == (2, 1, "10.2.0.1")
    assert first_of_row2.bmc == "10.2.128.1"
    assert first_of_row3.ip == "10.3.0.1"
    assert fake[0].groups == "all,perfgrp,row1,rack1"
    assert fake[50].groups == "all,perfgrp,row1,rack2"
    assert first_of_row2.groups == "all,perfgrp,row2,rack6"
    assert (fake[50].switch, fake[50].switchport) == ("sw2", "1")
    assert all(re.fullmatch(r"00:60:2F(:[0-9A-F]{2}){3}", f.mac) for f in fake)


def test_rows_from_256_on_carry_into_the_third_octet() -> None:
    assert perfnodes.ip_of(255, 7) == "10.255.0.7"
    assert perfnodes.ip_of(256, 7) == "10.0.1.7"
    assert perfnodes.bmc_of(256, 7) == "10.0.129.7"
    assert perfnodes.ip_regex(257) == r"|\D+(\d+)|10.1.1.(($1-1)%250+1)|"
    big = nodes(64_001)
    assert len({f.ip for f in big}) == len({f.bmc for f in big}) == 64_001
    assert not {f.ip for f in big} & {f.bmc for f in big}


def test_count_beyond_the_address_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        nodes(perfnodes.MAX_NODES + 1)


def test_prefix_and_group_are_used() -> None:
    fake = nodes(2, prefix="cn", group="bench")
    assert [f.name for f in fake] == ["cn1", "cn2"]
    assert fake[0].groups == "all,bench,row1,rack1"


@pytest.mark.parametrize("prefix", ["node1x", "", "1abc", "a b"])
def test_prefix_the_regex_cannot_parse_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        nodes(1, prefix=prefix)


def test_group_all_is_refused() -> None:
    with pytest.raises(ValueError, match="group"):
        nodes(1, group="all")


# -- determinism ----------------------------------------------------------

def test_same_seed_same_output() -> None:
    assert stanza(300, seed=7) == stanza(300, seed=7)
    assert tables(300, seed=7) == tables(300, seed=7)


def test_other_seed_other_macs_and_statuses() -> None:
    a, b = nodes(300, seed=1), nodes(300, seed=2)
    assert [f.mac for f in a] != [f.mac for f in b]
    assert [f.ip for f in a] == [f.ip for f in b]


def test_a_node_does_not_depend_on_the_count() -> None:
    assert nodes(300)[:2] == nodes(2)


def test_macs_are_distinct_at_20000() -> None:
    macs = [f.mac for f in nodes(20000)]
    assert len(set(macs)) == 20000


def test_status_mixes_booted_and_other() -> None:
    statuses = {f.status for f in nodes(300)}
    assert "booted" in statuses and len(statuses) > 1


# -- stanza ---------------------------------------------------------------

def _parse_stanza(text: str) -> dict[str, dict[str, str]]:
    objs: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            assert line.endswith(":"), line
            current = objs.setdefault(line[:-1], {})
            assert not current, f"stanza {line} repeated"
            continue
        assert current is not None and line.startswith("    ") and "=" in line, line
        key, _, value = line.strip().partition("=")
        current[key] = value
    return objs


def test_stanza_is_an_xcat_stanza_file() -> None:
    text = stanza(3)
    assert text.startswith("# <xCAT data object stanza file>\n\nfake1:\n    objtype=node\n")
    objs = _parse_stanza(text)
    assert list(objs) == ["fake1", "fake2", "fake3"]
    f2 = nodes(3)[1]
    assert objs["fake2"] == {
        "objtype": "node", "groups": "all,perfgrp,row1,rack1", "ip": "10.1.0.2",
        "mac": f2.mac, "mgt": "ipmi", "cons": "ipmi", "bmc": "10.1.128.2",
        "bmcusername": "fake", "bmcpassword": "fake", "netboot": "pxe", "os": "rhels9.4",
        "arch": "x86_64", "profile": "compute", "status": f2.status, "serial": f2.serial,
        "mtm": "7X21CTO1WW", "switch": "sw1", "switchport": "2",
    }


def test_empty_stanza_has_only_the_comment() -> None:
    assert stanza(0) == "# <xCAT data object stanza file>\n"


# -- tables ---------------------------------------------------------------

def test_csv_quotes_every_value_and_doubles_quotes() -> None:
    text = csv_text(["node", "groups", "comments"],
                    [{"node": "a", "comments": 'say "hi", twice'}])
    assert text == '#node,groups,comments\n"a",,"say ""hi"", twice"\n'


def test_tables_are_tabdump_csv() -> None:
    out = tables(300)
    assert set(out) == set(COLUMNS)
    for table, text in out.items():
        header, *body = text.splitlines()
        assert header == "#" + ",".join(COLUMNS[table])
        for rec in csv.reader(io.StringIO("\n".join(body))):
            assert len(rec) == len(COLUMNS[table])
        # every non-empty field is quoted: no bare value between commas
        for line in body:
            assert re.fullmatch(r'(|"(?:[^"]|"")*")(,(|"(?:[^"]|"")*"))*', line), line
    counts = {t: len(text.splitlines()) - 1 for t, text in out.items()}
    assert counts == {**{t: 300 for t in COLUMNS}, "hosts": 2}


def test_hosts_holds_one_regex_row_per_row_group() -> None:
    rows = perfnodes.table_rows(501)["hosts"]
    assert rows == [
        {"node": "row1", "ip": r"|\D+(\d+)|10.1.0.(($1-1)%250+1)|"},
        {"node": "row2", "ip": r"|\D+(\d+)|10.2.0.(($1-1)%250+1)|"},
        {"node": "row3", "ip": r"|\D+(\d+)|10.3.0.(($1-1)%250+1)|"},
    ]
    nodelist = tables(1)["nodelist"]
    assert nodelist.splitlines()[1].startswith('"fake1","all,perfgrp,row1,rack1",')


def _eval_xcat_regex(value: str, node: str) -> str:
    """The ``|pattern|replacement|`` rule of xcat-reference §3.5, for these values."""
    _, pattern, replacement, _ = value.split("|")
    m = re.search(pattern, node)
    assert m is not None
    out, depth, expr = "", 0, ""
    for ch in replacement:  # evaluate each top-level (...) as integer arithmetic
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                expr = re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))), expr)
                assert re.fullmatch(r"[0-9+\-*%() ]+", expr), expr
                out += str(eval(expr))  # digits and operators only, checked above
                expr = ""
                continue
        if depth:
            expr += ch
        else:
            out += ch
    return node[: m.start()] + out + node[m.end():]


def test_regex_rows_give_the_stanza_addresses() -> None:
    regex = {r["node"]: r["ip"] for r in perfnodes.table_rows(751)["hosts"]}
    for f in nodes(751):
        assert _eval_xcat_regex(regex[f"row{f.row}"], f.name) == f.ip


# -- command line ---------------------------------------------------------

def test_main_prints_stanza(capsys: pytest.CaptureFixture[str]) -> None:
    assert perfnodes.main(["stanza", "2", "--seed", "3"]) == 0
    assert capsys.readouterr().out == stanza(2, seed=3)


def test_main_writes_tables(tmp_path: Path) -> None:
    assert perfnodes.main(["tables", "300", str(tmp_path / "csv")]) == 0
    written = {p.name: p.read_text() for p in (tmp_path / "csv").iterdir()}
    assert written == {f"{t}.csv": text for t, text in tables(300).items()}


def test_main_refuses_a_bad_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert perfnodes.main(["stanza", "2", "--prefix", "n0de"]) == 1
    assert capsys.readouterr().err.startswith("Error: prefix 'n0de'")


def test_runs_as_a_module() -> None:
    p = subprocess.run([sys.executable, "-m", "xcatpy.perfnodes", "stanza", "1"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout == stanza(1)


def test_write_tables_returns_the_files(tmp_path: Path) -> None:
    paths = write_tables(tmp_path, 1)
    assert sorted(p.name for p in paths) == sorted(f"{t}.csv" for t in COLUMNS)


# -- loading into a management node --------------------------------------

def test_restore_300_nodes_then_nodels_evaluates_the_row_regex(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _needs("restorexCATdb", "nodels", "tabdump")
    write_tables(tmp_path / "csv", 300)
    mn.ok("restorexCATdb", "-p", str(tmp_path / "csv"))
    assert len(mn.ok("nodels").splitlines()) == 300
    assert mn.ok("nodels", "fake260", "hosts.ip") == "fake260: 10.2.0.10\n"
    assert mn.ok("nodels", "fake1", "hosts.ip") == "fake1: 10.1.0.1\n"
    assert '"row2","|\\D+(\\d+)|10.2.0.(($1-1)%250+1)|"' in mn.ok("tabdump", "hosts")


def test_tabrestore_each_table_then_group_and_attribute_selection(mn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _needs("tabrestore", "nodels")
    for path in write_tables(tmp_path / "csv", 300):
        mn.ok("tabrestore", str(path))
    assert sorted(mn.ok("nodels", "row2").split()) == sorted(f"fake{i}" for i in range(251, 301))
    out = mn.ok("nodels", "rack6", "noderes.netboot==pxe", "switch.switch")
    # two arguments (a selector counts) make nodels label the values
    assert sorted(out.splitlines()) == sorted(
        f"fake{i}: switch.switch: sw6" for i in range(251, 301)
    )


def test_mkdef_stanza_300_then_lsdef_shows_the_same_ip(mn) -> None:  # type: ignore[no-untyped-def]
    _needs("mkdef", "lsdef", "nodels")
    mn.ok("mkdef", "-z", stdin=stanza(300))
    assert len(mn.ok("nodels").splitlines()) == 300
    assert mn.ok("nodels", "fake260", "hosts.ip") == "fake260: 10.2.0.10\n"
    out = mn.ok("lsdef", "-t", "node", "-o", "fake260", "-i", "ip,bmc,mgt")
    assert out == "Object name: fake260\n    bmc=10.2.128.10\n    ip=10.2.0.10\n    mgt=ipmi\n"
