"""Bad policy values are refused by every command that writes the table.

Each refusal exits 1 with a message naming the column and the value, and
leaves the whole database as it was; the same values written correctly are
stored.  The examples of policy.5 are run as written.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import MN

HDR = "#priority,name,host,commands,noderange,parameters,time,rule,comments,disable"
DEFAULTS = '"1","root",,,,,,"allow",,\n"2",,,"getbmcconfig",,,,"allow",,\n'
MAN5 = Path(__file__).resolve().parents[1] / "man" / "man5" / "policy.5"


def refused(mn: MN, command: str, *args: str, column: str, value: str,
            stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command that must be refused; returns its stderr."""
    before = mn.dump_all()
    r = mn.run(command, *args, stdin=stdin, env=env)
    assert r.code == 1, (r.out, r.err)
    assert f"policy.{column}={value!r}" in r.err, r.err
    assert mn.dump_all() == before
    return r.err


# --------------------------------------------------------------------------- #
# chtab / tabch


@pytest.mark.parametrize("command", ["chtab", "tabch"])
@pytest.mark.parametrize(("args", "column", "value"), [
    (["priority=5", "policy.rule=disallow"], "rule", "disallow"),
    (["priority=5", "policy.name=bob", "policy.rule=Maybe"], "rule", "Maybe"),
    (["priority=5", "policy.rule=allow", "policy.time=Mon-Fri 25:00-18:00"],
     "time", "Mon-Fri 25:00-18:00"),
    (["priority=5", "policy.rule=allow", "policy.time=weekdays"], "time", "weekdays"),
    (["priority=5", "policy.rule=allow", "policy.parameters=(stat"], "parameters", "(stat"),
    (["priority=5", "policy.rule=allow", "policy.parameters=(a+)+$"], "parameters", "(a+)+$"),
    (["priority=abc", "policy.rule=allow"], "priority", "abc"),
])
def test_chtab_refuses_bad_values(mn: MN, command: str, args: list[str], column: str,
                                  value: str) -> None:
    refused(mn, command, *args, column=column, value=value)


def test_chtab_message(mn: MN) -> None:
    err = refused(mn, "chtab", "priority=5", "policy.rule=disallow", column="rule",
                  value="disallow")
    assert err == ("Error: policy.rule='disallow' (priority 5): must be allow, accept, "
                   "trusted or deny\n")


def test_chtab_stores_good_values(mn: MN) -> None:
    mn.ok("chtab", "priority=6", "policy.name=alice", "policy.commands=rpower",
          "policy.parameters=^(stat|state)$", "policy.time=Mon-Fri 08:00-18:00; Sat 10:00-12:00",
          "policy.rule=ALLOW")
    assert ('"6","alice",,"rpower",,"^(stat|state)$","Mon-Fri 08:00-18:00; Sat 10:00-12:00",'
            '"ALLOW",,') in mn.dump("policy")


def test_a_row_may_be_written_one_column_at_a_time(mn: MN) -> None:
    mn.ok("chtab", "priority=6", "policy.name=alice")
    assert '"6","alice",,,,,,,,' in mn.dump("policy")
    mn.ok("chtab", "priority=6", "policy.rule=deny")
    assert '"6","alice",,,,,,"deny",,' in mn.dump("policy")


# --------------------------------------------------------------------------- #
# mkdef / chdef


@pytest.mark.parametrize("command", ["mkdef", "chdef"])
@pytest.mark.parametrize(("attrs", "column", "value"), [
    (["rule=maybe"], "rule", "maybe"),
    (["name=bob", "rule=allow", "time=Mon-Fri"], "time", "Mon-Fri"),
    (["rule=allow", "parameters=[a-"], "parameters", "[a-"),
])
def test_object_commands_refuse_bad_values(mn: MN, command: str, attrs: list[str],
                                           column: str, value: str) -> None:
    err = refused(mn, command, "-t", "policy", "-o", "6", *attrs, column=column, value=value)
    assert "(priority 6)" in err


@pytest.mark.parametrize("command", ["mkdef", "chdef"])
def test_object_commands_refuse_a_priority_that_is_not_a_number(mn: MN, command: str) -> None:
    refused(mn, command, "-t", "policy", "-o", "six", "rule=allow", column="priority",
            value="six")


def test_mkdef_stanza_with_one_bad_policy_writes_nothing(mn: MN) -> None:
    stanza = ("6:\n    objtype=policy\n    name=alice\n    rule=allow\n"
              "7:\n    objtype=policy\n    name=bob\n    rule=sometimes\n"
              "n1:\n    objtype=node\n    groups=all\n")
    refused(mn, "mkdef", "-z", stdin=stanza, column="rule", value="sometimes")


def test_object_commands_store_good_values(mn: MN) -> None:
    mn.ok("chdef", "-t", "policy", "-o", "6", "name=@hpcops", "commands=rpower",
          "noderange=compute", "time=Mon-Fri 08:00-18:00", "rule=allow")
    mn.ok("mkdef", "-t", "policy", "-o", "6.1", "name=alice", "parameters=^(stat|state)$",
          "rule=Accept")
    dump = mn.dump("policy")
    assert '"6","@hpcops",,"rpower","compute",,"Mon-Fri 08:00-18:00","allow",,' in dump
    assert '"6.1","alice",,,,"^(stat|state)$",,"Accept",,' in dump


# --------------------------------------------------------------------------- #
# tabrestore, tabedit, restorexCATdb


def test_tabrestore_refuses_a_bad_row_among_good_ones(mn: MN, tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(HDR + "\n" + DEFAULTS + '"5","alice",,,,,,"allow",,\n'
                    '"6","bob",,,,,"Mon-Fri 08:00-18:00","perhaps",,\n'
                    '"7","carol",,,,,,"deny",,\n')
    err = refused(mn, "tabrestore", str(path), column="rule", value="perhaps")
    assert "(priority 6)" in err


def test_tabrestore_addrows_refuses_a_bad_row(mn: MN, tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(HDR + '\n"5","alice",,,,,,"allow",,\n"6","bob",,,,"(",,"allow",,\n')
    refused(mn, "tabrestore", "-a", str(path), column="parameters", value="(")


def test_tabrestore_refuses_a_row_without_priority(mn: MN, tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(HDR + "\n" + DEFAULTS + ',"bob",,,,,,"allow",,\n')
    refused(mn, "tabrestore", str(path), column="priority", value=None)  # type: ignore[arg-type]


def test_tabrestore_loads_good_rows(mn: MN, tmp_path: Path) -> None:
    text = (HDR + "\n" + DEFAULTS + '"5","@ops",,"rpower","rack1","^(on|off)$",'
            '"Sat,Sun 00:00-24:00; Mon-Fri 22:00-06:00","trusted",,"1"\n')
    path = tmp_path / "policy.csv"
    path.write_text(text)
    mn.ok("tabrestore", str(path))
    assert mn.dump("policy") == text


def test_tabedit_refuses_a_bad_edit(mn: MN) -> None:
    editor = """sed -i 's/"root",,,,,,"allow"/"root",,,,,,"permit"/'"""
    err = refused(mn, "tabedit", "policy", column="rule", value="permit",
                  env={"TABEDITOR": editor})
    assert "(priority 1)" in err


def test_tabedit_saves_a_good_edit(mn: MN) -> None:
    editor = """sed -i 's/"root",,,,,,"allow"/"root",,,,,"00:00-24:00","Allow"/'"""
    r = mn.run("tabedit", "policy", env={"TABEDITOR": editor})
    assert r.code == 0, r.err
    assert '"1","root",,,,,"00:00-24:00","Allow",,' in mn.dump("policy")


def test_restorexcatdb_refuses_a_bad_policy_file(mn: MN, tmp_path: Path) -> None:
    mn.ok("chtab", "node=n1", "nodelist.groups=all")
    dump = tmp_path / "db"
    mn.ok("dumpxCATdb", "-p", str(dump))
    mn.ok("chtab", "node=n2", "nodelist.groups=all")
    policy = dump / "policy.csv"
    policy.write_text(policy.read_text() + '"9","eve",,,,,"Sun 10:00-10:00","allow",,\n')
    refused(mn, "restorexCATdb", "-p", str(dump), column="time", value="Sun 10:00-10:00")


# --------------------------------------------------------------------------- #
# updates of rows that already exist


def test_chtab_refuses_a_bad_value_in_an_existing_row(mn: MN) -> None:
    refused(mn, "chtab", "priority=1", "policy.rule=disallow", column="rule", value="disallow")


def test_chdef_refuses_a_bad_value_in_an_existing_row(mn: MN) -> None:
    refused(mn, "chdef", "-t", "policy", "-o", "1", "rule=maybe", column="rule", value="maybe")


def test_chdef_refuses_a_new_priority_that_is_not_a_number(mn: MN) -> None:
    refused(mn, "chdef", "-t", "policy", "-o", "1", "-n", "first", column="priority",
            value="first")


# --------------------------------------------------------------------------- #
# the examples of policy.5


def man_examples() -> list[list[str]]:
    """The mkdef and chtab commands of policy.5's EXAMPLES, as argument lists."""
    text = MAN5.read_text()
    body = text[text.index(".SH EXAMPLES"):text.index(".SH FILES")]
    commands = []
    for block in re.findall(r"^\.EX\n(.*?)^\.EE", body, re.M | re.S):
        block = block.replace("\\-", "-").replace("\\e\n", " ").replace("\\e", "\\")
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(shlex.split(line[2:]))
    return [c for c in commands if c[0] in ("mkdef", "chtab", "chdef")]


def test_the_manual_has_examples() -> None:
    assert len(man_examples()) >= 7


def test_the_manual_examples_are_accepted(mn: MN) -> None:
    for argv in man_examples():
        mn.ok(*argv)
    dump = mn.dump("policy")
    assert '"6.6","nightops",,"rpower",,"^(reset|boot|stat)$",' in dump
    assert '"7","bob",,,"rack3",,,"deny",,' in dump
