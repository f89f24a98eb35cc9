"""xcatpy.policy: the policy table's rules as policy.5 states them.

Expectations are written out by hand (the matrix below is a table, not a
second implementation), so a change of behaviour shows up as a changed line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Sequence
from datetime import datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from xcatpy.errors import NoderangeError, StoreError
from xcatpy.policy import (
    Decision,
    PolicyRow,
    default_unix_groups,
    evaluate,
    object_command_noderange,
    parse_time,
    rows_from_table,
    validate_row,
)

COLUMNS = ("priority", "name", "host", "commands", "noderange", "parameters", "time", "rule",
           "disable")

GROUPS = {
    "rack1": ["n1", "n2"],
    "rack2": ["n3", "n4"],
    "rack3": ["r3a", "r3b", "r3c"],
    "rack4": ["r4a", "r4b"],
    "compute": ["n1", "n2", "n3", "n4"],
}
UNIX_GROUPS = {"alice": {"ops", "users"}, "foobar": {"users"}, "root": {"root"}}

MON_09 = datetime(2024, 5, 13, 9, 0)
WED_10 = datetime(2024, 5, 15, 10, 0)
WED_20 = datetime(2024, 5, 15, 20, 0)
SAT_10 = datetime(2024, 5, 18, 10, 0)


def expand(text: str) -> list[str]:
    """A noderange as the daemon would expand it: groups to members, names kept."""
    out: list[str] = []
    for item in text.split(","):
        if item.startswith("!"):
            raise NoderangeError(f"bad noderange {item}", item)
        for name in GROUPS.get(item, [item] if item else []):
            if name not in out:
                out.append(name)
    return out


def unix_groups(user: str) -> frozenset[str]:
    return frozenset(UNIX_GROUPS.get(user, ()))


def table(text: str) -> list[PolicyRow]:
    """Rows from 'priority|name|host|commands|noderange|parameters|time|rule[|disable]' lines.

    A ``|`` inside parentheses belongs to a regular expression.
    """
    records = []
    for line in text.strip().splitlines():
        values = [v.strip() or None for v in re.split(r"\|(?![^(]*\))", line)]
        records.append(dict(zip(COLUMNS, values, strict=False)))
    return rows_from_table(records)


def check(rows: Sequence[PolicyRow], user: str | None, command: str, args: Sequence[str] = (),
          noderange: str | None = None, *, now: datetime = WED_10, host: str | None = "login1",
          nodes: Collection[str] | None = None, remote_clients: Sequence[str] = ()) -> Decision:
    return evaluate(rows, user=user, host=host, command=command, args=list(args),
                    noderange=noderange, nodes=nodes, expand=expand, now=now,
                    unix_groups=unix_groups, remote_clients=remote_clients)


# --------------------------------------------------------------------------- #
# the matrix: user x command/args x noderange x time

MATRIX_ROWS = table("""
1    | root   |  |               |             |                 |                       | allow
1.1  | foobar |  | rinv          |             |                 |                       | allow
1.11 | foobar |  | rvitals       |             |                 |                       | allow
1.12 | foobar |  | nodels        |             |                 |                       | allow
2    |        |  | getpostscript |             |                 |                       | allow
3    | @ops   |  | rpower        | rack2       |                 |                       | deny
3.1  | @ops   |  | rpower        | rack1       | ^(stat|on|off)$ | Mon-Fri 08:00-18:00   | allow
3.3  | @ops   |  | nodels        |             |                 | Mon-Fri 08:00-18:00   | allow
4    | *      |  | rinv          | n1          |                 |                       | allow
10   | *      |  | rpower        | rack1,rack2 | ^stat$          | Sat,Sun 00:00-24:00   | allow
""")

USERS = {"root": "root", "foobar": "foobar", "alice": "alice", "anon": None}
REQUESTS = {
    "rpower-stat": ("rpower", ["stat"]),
    "rpower-reset": ("rpower", ["reset"]),
    "rinv-all": ("rinv", ["all"]),
    "nodels": ("nodels", []),
    "getpostscript": ("getpostscript", []),
}
NODERANGES = [None, "n1", "rack1", "rack2", "rack1,rack2"]
TIMES = [WED_10, WED_20, SAT_10]

# One line per user and request; columns are the noderanges (none, n1, rack1,
# rack2, rack1+rack2), each with three letters for Wed 10:00, Wed 20:00 and
# Sat 10:00.  A: allowed, D: refused.
EXPECTED = """
root   rpower-stat    AAA AAA AAA AAA AAA
root   rpower-reset   AAA AAA AAA AAA AAA
root   rinv-all       AAA AAA AAA AAA AAA
root   nodels         AAA AAA AAA AAA AAA
root   getpostscript  AAA AAA AAA AAA AAA
foobar rpower-stat    DDD DDA DDA DDA DDA
foobar rpower-reset   DDD DDD DDD DDD DDD
foobar rinv-all       AAA AAA AAA AAA AAA
foobar nodels         AAA AAA AAA AAA AAA
foobar getpostscript  AAA AAA AAA AAA AAA
alice  rpower-stat    DDD ADA ADA DDD DDD
alice  rpower-reset   DDD DDD DDD DDD DDD
alice  rinv-all       DDD AAA DDD DDD DDD
alice  nodels         ADD ADD ADD ADD ADD
alice  getpostscript  AAA AAA AAA AAA AAA
anon   rpower-stat    DDD DDD DDD DDD DDD
anon   rpower-reset   DDD DDD DDD DDD DDD
anon   rinv-all       DDD DDD DDD DDD DDD
anon   nodels         DDD DDD DDD DDD DDD
anon   getpostscript  AAA AAA AAA AAA AAA
"""


def matrix_cases() -> list[tuple[str, str, str | None, datetime, bool]]:
    cases = []
    for line in EXPECTED.strip().splitlines():
        user, request, *cells = line.split()
        assert len(cells) == len(NODERANGES)
        for noderange, cell in zip(NODERANGES, cells, strict=True):
            assert len(cell) == len(TIMES)
            for now, letter in zip(TIMES, cell, strict=True):
                cases.append((user, request, noderange, now, letter == "A"))
    return cases


CASES = matrix_cases()


def test_the_matrix_is_complete() -> None:
    assert len(CASES) == len(USERS) * len(REQUESTS) * len(NODERANGES) * len(TIMES) == 300
    assert len({c[:4] for c in CASES}) == 300


@pytest.mark.parametrize("pre_expanded", [True, False], ids=["nodes", "noderange"])
@pytest.mark.parametrize(
    ("user", "request_name", "noderange", "now", "allowed"), CASES,
    ids=[f"{u}-{r}-{n or 'none'}-{t:%a%H}" for u, r, n, t, _ in CASES],
)
def test_matrix(user: str, request_name: str, noderange: str | None, now: datetime,
                allowed: bool, pre_expanded: bool) -> None:
    command, args = REQUESTS[request_name]
    nodes = expand(noderange) if (pre_expanded and noderange) else None
    decision = check(MATRIX_ROWS, USERS[user], command, args, noderange, now=now, nodes=nodes)
    assert decision.allowed is allowed, decision.reason
    if allowed:
        assert decision.row is not None
        assert (decision.row.rule or "").lower() in ("allow", "accept", "trusted")


@pytest.mark.parametrize(("user", "request_name", "noderange", "now", "priority", "reason"), [
    ("root", "rpower-reset", "rack2", WED_10, "1", "matched policy row 1 (allow)"),
    ("foobar", "rinv-all", None, WED_10, "1.1", "matched policy row 1.1 (allow)"),
    ("alice", "rpower-stat", "rack1,rack2", WED_10, "3", "matched policy row 3 (deny)"),
    ("alice", "rpower-stat", "rack1", SAT_10, "10", "matched policy row 10 (allow)"),
    ("alice", "nodels", None, WED_20, None, "outside the time window of policy row 3.3"),
    ("alice", "rinv-all", "rack1", WED_10, None, "Request matched no policy rule for n2"),
    ("anon", "nodels", None, WED_10, None, "Request matched no policy rule"),
])
def test_matrix_reasons(user: str, request_name: str, noderange: str | None, now: datetime,
                        priority: str | None, reason: str) -> None:
    command, args = REQUESTS[request_name]
    decision = check(MATRIX_ROWS, USERS[user], command, args, noderange, now=now)
    assert decision.reason == reason
    assert (decision.row.priority if decision.row else None) == priority


# --------------------------------------------------------------------------- #
# the foobar example of xCAT's documentation

FOOBAR = table("""
1    | root   | |         | | | | allow
1.1  | foobar | | rinv    | | | | allow
1.11 | foobar | | rvitals | | | | allow
1.12 | foobar | | nodels  | | | | allow
""")
COMMANDS = ["rinv", "rvitals", "nodels", "rpower", "rsetboot", "nodeset", "lsdef", "chdef",
            "chtab", "tabdump", "tabedit", "getpostscript", "rinventory", "nodels2", "RINV"]


@pytest.mark.parametrize("command", COMMANDS)
def test_foobar_may_run_exactly_three_commands(command: str) -> None:
    decision = check(FOOBAR, "foobar", command, ["-l"], "rack1")
    assert decision.allowed is (command in ("rinv", "rvitals", "nodels"))
    assert check(FOOBAR, "root", command).allowed
    assert not check(FOOBAR, "alice", command).allowed
    assert not check(FOOBAR, None, command).allowed


def test_foobar_rows_decide_in_numeric_order() -> None:
    assert [r.priority for r in FOOBAR] == ["1", "1.1", "1.11", "1.12"]
    assert check(FOOBAR, "foobar", "rvitals").row == FOOBAR[2]
    assert check(FOOBAR, "foobar", "nodels").reason == "matched policy row 1.12 (allow)"


# --------------------------------------------------------------------------- #
# rows with a noderange


def test_rows_share_a_request_between_them() -> None:
    rows = table("""
8   | carol | | | rack3 | | | allow
8.1 | carol | | | rack4 | | | allow
""")
    d = check(rows, "carol", "rpower", ["stat"], "rack3,rack4")
    assert d.allowed and d.row == rows[1]
    assert d.reason == "matched policy row 8.1 (allow); its other nodes are covered by policy row 8"
    d = check(rows, "carol", "rpower", ["stat"], "rack3,n001")
    assert not d.allowed and d.row is None
    assert d.reason == "Request matched no policy rule for n001"
    assert check(rows, "carol", "rpower", ["stat"], "rack4").row == rows[1]
    assert check(rows, "carol", "rpower", ["stat"], "r3a,r4b").allowed


def test_a_deny_row_refuses_the_whole_request_when_it_covers_any_node() -> None:
    rows = table("""
7   | bob | | | rack3 | | | deny
7.1 | bob | | |       | | | allow
""")
    assert not check(rows, "bob", "rpower", ["off"], "r3a").allowed
    d = check(rows, "bob", "rpower", ["off"], "r4a,r3c")
    assert not d.allowed and d.row == rows[0]
    assert check(rows, "bob", "rpower", ["off"], "rack4").allowed
    assert check(rows, "bob", "nodels").allowed  # no nodes: the deny row does not fit


def test_deny_after_allow_is_never_consulted_for_covered_nodes() -> None:
    """xCAT issue #2072: a deny row below a wider allow row carves nothing out."""
    trap = table("""
5   | dave | | | compute | | | allow
5.1 | dave | | | rack2   | | | deny
""")
    assert check(trap, "dave", "rpower", ["off"], "rack2").allowed
    assert check(trap, "dave", "rpower", ["off"], "n4").allowed
    fixed = table("""
5   | dave | | | rack2   | | | deny
5.1 | dave | | | compute | | | allow
""")
    assert not check(fixed, "dave", "rpower", ["off"], "rack2").allowed
    assert not check(fixed, "dave", "rpower", ["off"], "n1,n4").allowed
    assert check(fixed, "dave", "rpower", ["off"], "rack1").allowed


def test_a_deny_row_after_a_partial_allow_sees_only_the_remaining_nodes() -> None:
    rows = table("""
5   | erin | | | rack1 | | | allow
5.1 | erin | | | n2,n3 | | | deny
5.2 | erin | | | rack2 | | | allow
""")
    # n2 was allowed by 5; n3 is still open, so 5.1 refuses
    assert not check(rows, "erin", "rpower", ["on"], "rack1,n3").allowed
    # rack1 alone: row 5 covers it all
    assert check(rows, "erin", "rpower", ["on"], "rack1").allowed
    # n1 by 5, then n4 by 5.2; 5.1 covers neither n4 nor anything left
    assert check(rows, "erin", "rpower", ["on"], "n1,n4").allowed


def test_after_a_partial_allow_a_row_without_noderange_decides() -> None:
    allow = table("""
5   | fay | | | rack1 | | | allow
5.1 | fay | | |       | | | allow
""")
    deny = table("""
5   | fay | | | rack1 | | | allow
5.1 | fay | | |       | | | deny
""")
    assert check(allow, "fay", "rpower", ["on"], "compute").allowed
    d = check(deny, "fay", "rpower", ["on"], "compute")
    assert not d.allowed and d.row == deny[1]


def test_noderange_rows_need_nodes() -> None:
    rows = table("5 | * | | | rack1 | | | allow")
    assert not check(rows, "gus", "nodels").allowed
    assert not check(rows, "gus", "nodels", nodes=[]).allowed
    assert not check(rows, "gus", "nodels", noderange="").allowed
    assert check(rows, "gus", "nodels", nodes=["n2"]).allowed
    star = table("5 | * | | | * | | | allow")
    assert check(star, "gus", "nodels").allowed
    assert check(star, "gus", "nodels", noderange="anything").allowed


def test_given_nodes_win_over_the_noderange_text() -> None:
    rows = table("5 | * | | | rack1 | | | allow")
    assert check(rows, "gus", "rpower", noderange="rack2", nodes=["n1"]).allowed
    assert not check(rows, "gus", "rpower", noderange="rack1", nodes=["n3"]).allowed


# --------------------------------------------------------------------------- #
# object commands


@pytest.mark.parametrize(("command", "args", "stdin", "expected"), [
    ("lsdef", ["n1"], None, "n1"),
    ("lsdef", ["-t", "node", "-o", "n1,n2", "-l"], None, "n1,n2"),
    ("lsdef", ["-l", "rack1"], None, "rack1"),
    ("lsdef", ["-i", "groups", "n1"], None, "n1"),
    ("lsdef", ["rack1", "-w", "mgt==ipmi"], None, "rack1"),
    ("lsdef", ["-o", "n1", "n2"], None, "n1"),
    ("lsdef", [], None, None),
    ("lsdef", ["-l"], None, None),
    ("lsdef", ["-w", "groups==rack1"], None, None),
    ("lsdef", ["-t", "osimage", "rhels8"], None, None),
    ("lsdef", ["-t", "node,group", "-o", "n1"], None, None),
    ("lsdef", ["-a", "-l"], None, None),
    ("lsdef", ["--template", "x86_64"], None, None),
    ("lsdef", ["--bogus", "n1"], None, None),
    ("lsdef", ["-?"], None, None),
    ("mkdef", ["-t", "node", "-o", "n5", "groups=all"], None, "n5"),
    ("mkdef", ["n5", "groups=all", "mgt=ipmi"], None, "n5"),
    ("mkdef", ["groups=all", "n5"], None, "n5"),
    ("mkdef", ["groups=all"], None, None),
    ("mkdef", ["-z"], "n9:\n  objtype=node\n", None),
    ("mkdef", ["n1", "groups=all"], "n9:\n  objtype=node\n", None),
    ("mkdef", ["-t", "policy", "-o", "6", "rule=allow"], None, None),
    ("chdef", ["n1", "groups=rack2"], None, "n1"),
    ("chdef", ["n1", "groups=rack2"], "", "n1"),
    ("chdef", ["-t", "node", "-o", "n1", "-n", "n9"], None, "n1,n9"),
    ("chdef", ["-t", "group", "-o", "rack1", "members=n1"], None, None),
    ("chdef", ["-t", "node", "-w", "groups==rack1", "mgt=ipmi"], None, None),
    ("rmdef", ["-t", "node", "-o", "n1,n2"], None, "n1,n2"),
    ("rmdef", ["rack1"], None, "rack1"),
    ("rmdef", ["-a", "-f"], None, None),
    ("rmdef", ["--", "n1"], None, "n1"),
    ("lsdef", ["n1"], "n9:\n  objtype=node\n", "n1"),
    ("rmdef", ["n1"], "n9:\n  objtype=node\n", "n1"),
    ("nodels", ["n1"], None, None),
    ("rpower", ["n1", "stat"], None, None),
])
def test_object_command_noderange(command: str, args: list[str], stdin: str | None,
                                  expected: str | None) -> None:
    assert object_command_noderange(command, args, stdin=stdin) == expected


@pytest.mark.parametrize(("command", "args", "expected"), [
    ("lsdef", ["n1"], "n1"),
    ("rmdef", ["-t", "node", "-o", "n1"], "n1"),
    ("mkdef", ["n1", "groups=all"], None),
    ("chdef", ["n1", "groups=all"], None),
])
def test_mkdef_and_chdef_name_no_nodes_unless_stdin_is_known(command: str, args: list[str],
                                                             expected: str | None) -> None:
    assert object_command_noderange(command, args) == expected
    assert object_command_noderange(command, args, stdin="n9:\n objtype=node\n") == expected


def test_object_command_options_match_the_commands() -> None:
    from xcatpy import policy
    from xcatpy.commands.objects import options as objects

    assert policy._OBJECT_SHORT == objects._SHORT
    assert policy._OBJECT_LONG == objects._LONG


OBJECT_ROWS = table("""
6   | alice | | lsdef,chdef,rmdef,mkdef | rack1 | | | allow
6.1 | alice | | lsdef                   | rack2 | | | deny
""")


@pytest.mark.parametrize(("command", "args", "allowed"), [
    ("lsdef", ["n1"], True),
    ("lsdef", ["-t", "node", "-o", "rack1", "-l"], True),
    ("chdef", ["n2", "groups=rack1,all"], True),
    ("chdef", ["n3", "groups=rack1,all"], False),
    ("chdef", ["-t", "node", "-o", "n1", "-n", "n9"], False),
    ("rmdef", ["rack1"], True),
    ("rmdef", ["n1,n3"], False),
    ("lsdef", ["n1,n3"], False),
    ("lsdef", [], False),
    ("lsdef", ["-w", "groups==rack1"], False),
    ("chdef", ["-t", "osimage", "-o", "n1", "osvers=x"], False),
    ("mkdef", ["-t", "node", "-o", "n1", "groups=all"], True),
])
def test_noderange_rows_govern_object_commands(command: str, args: list[str],
                                               allowed: bool) -> None:
    noderange = object_command_noderange(command, args, stdin=None)
    assert check(OBJECT_ROWS, "alice", command, args, noderange).allowed is allowed


# --------------------------------------------------------------------------- #
# time windows


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in the week of Monday 13 May 2024; day 0 is Monday."""
    return datetime(2024, 5, 13 + day, hour, minute, second)


MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.mark.parametrize(("spec", "when", "inside"), [
    ("Mon-Fri 08:00-18:00", at(MON, 8), True),
    ("Mon-Fri 08:00-18:00", at(MON, 7, 59, 59), False),
    ("Mon-Fri 08:00-18:00", at(FRI, 17, 59, 59), True),
    ("Mon-Fri 08:00-18:00", at(FRI, 18), False),
    ("Mon-Fri 08:00-18:00", at(SAT, 12), False),
    ("Sat,Sun 00:00-24:00", at(SAT, 0), True),
    ("Sat,Sun 00:00-24:00", at(SUN, 23, 59, 59), True),
    ("Sat,Sun 00:00-24:00", at(MON, 0), False),
    ("Sat,Sun 00:00-24:00", at(FRI, 23, 59, 59), False),
    ("08:00-18:00", at(SUN, 9), True),
    ("08:00-18:00", at(WED, 19), False),
    ("Fri 22:00-06:00", at(FRI, 22), True),
    ("Fri 22:00-06:00", at(FRI, 21, 59), False),
    ("Fri 22:00-06:00", at(SAT, 3), True),
    ("Fri 22:00-06:00", at(SAT, 5, 59, 59), True),
    ("Fri 22:00-06:00", at(SAT, 6), False),
    ("Fri 22:00-06:00", at(SAT, 23), False),
    ("Fri 22:00-06:00", at(THU, 23), False),
    ("Fri 22:00-06:00", at(FRI, 3), False),
    ("Sun 23:00-01:00", at(SUN, 23, 30), True),
    ("Sun 23:00-01:00", at(MON, 0, 30), True),
    ("Sun 23:00-01:00", at(MON, 23, 30), False),
    ("22:00-06:00", at(WED, 2), True),
    ("22:00-06:00", at(WED, 12), False),
    ("Fri-Mon 00:00-24:00", at(SUN, 12), True),
    ("Fri-Mon 00:00-24:00", at(MON, 12), True),
    ("Fri-Mon 00:00-24:00", at(TUE, 12), False),
    ("Fri-Mon 00:00-24:00", at(THU, 12), False),
    ("mon-FRI 08:00-18:00", at(TUE, 9), True),
    ("Sat, Sun 00:00-24:00", at(SUN, 9), True),
    ("Mon - Wed 9:00 - 10:30", at(WED, 10, 29), True),
    ("Mon - Wed 9:00 - 10:30", at(WED, 10, 30), False),
    ("Mon-Fri 08:00-18:00; Sat 10:00-12:00", at(SAT, 11), True),
    ("Mon-Fri 08:00-18:00; Sat 10:00-12:00", at(SAT, 13), False),
    ("Mon-Fri 08:00-18:00;", at(TUE, 9), True),
    ("Mon,Wed,Fri 12:00-13:00", at(WED, 12, 30), True),
    ("Mon,Wed,Fri 12:00-13:00", at(TUE, 12, 30), False),
    ("Sun-Fri 20:00-06:00; Sat,Sun 00:00-24:00", at(MON, 5), True),
    ("Sun-Fri 20:00-06:00; Sat,Sun 00:00-24:00", at(MON, 12), False),
    ("Sun-Fri 20:00-06:00; Sat,Sun 00:00-24:00", at(FRI, 21), True),
    ("Sun-Fri 20:00-06:00; Sat,Sun 00:00-24:00", at(SAT, 15), True),
    ("Sun-Fri 20:00-06:00; Sat,Sun 00:00-24:00", at(WED, 19, 59), False),
])
def test_time_windows(spec: str, when: datetime, inside: bool) -> None:
    assert parse_time(spec).contains(when) is inside


@pytest.mark.parametrize(("spec", "message"), [
    ("Mon-Fri", "is not a window"),
    ("whenever", "is not a window"),
    ("Mon-Fri08:00-18:00", "is not a window"),
    ("Mon-Fri 8-18", "is not a window"),
    ("25:00-26:00", "25:00 is not a time of day"),
    ("08:60-09:00", "08:60 is not a time of day"),
    ("24:00-02:00", "24:00 is not a time of day"),
    ("08:00-24:01", "24:01 is not a time of day"),
    ("Mon 08:00-08:00", "is empty"),
    ("00:00-00:00", "is empty"),
    ("Monday 08:00-09:00", "'Monday' is not a day"),
    ("Foo-Fri 08:00-09:00", "'Foo' is not a day"),
    ("Mon,,Tue 08:00-09:00", "empty item"),
    (";", "no time window"),
    ("", "no time window"),
])
def test_bad_time_values(spec: str, message: str) -> None:
    with pytest.raises(StoreError, match="policy.time") as info:
        parse_time(spec)
    assert message in str(info.value)


def test_time_rows_in_evaluation() -> None:
    rows = table("""
5   | * | | rpower | | | Fri 22:00-06:00 | allow
5.1 | * | | rinv   | | | *               | allow
""")
    assert check(rows, "gus", "rpower", now=at(SAT, 1)).allowed
    d = check(rows, "gus", "rpower", now=at(SAT, 7))
    assert not d.allowed and d.reason == "outside the time window of policy row 5"
    assert check(rows, "gus", "rinv", now=at(SAT, 7)).allowed


def test_time_uses_the_wall_clock_of_now() -> None:
    from datetime import timedelta, timezone

    rows = table("5 | * | | | | | Mon 08:00-09:00 | allow")
    aware = datetime(2024, 5, 13, 8, 30, tzinfo=timezone(timedelta(hours=-7)))
    assert check(rows, "gus", "x", now=aware).allowed


# --------------------------------------------------------------------------- #
# names, hosts, commands, parameters


def test_names() -> None:
    rows = table("""
1 | @ops |  | a | | | | allow
2 | *    |  | b | | | | allow
3 |      |  | c | | | | allow
4 | gus  |  | d | | | | allow
5 | @    |  | e | | | | allow
""")
    assert check(rows, "alice", "a").allowed
    assert not check(rows, "foobar", "a").allowed
    assert not check(rows, None, "a").allowed
    assert not check(rows, "ops", "a").allowed
    assert check(rows, "foobar", "b").allowed and not check(rows, None, "b").allowed
    assert not check(rows, "", "b").allowed  # an empty CN is no certificate user
    assert check(rows, None, "c").allowed and check(rows, "root", "c").allowed
    assert check(rows, "gus", "d").allowed and not check(rows, "gus2", "d").allowed
    assert not check(rows, "Gus", "d").allowed
    assert not check(rows, "alice", "e").allowed


def test_group_lookup_happens_once_and_only_when_needed() -> None:
    calls: list[str] = []

    def groups(user: str) -> frozenset[str]:
        calls.append(user)
        return frozenset({"ops"})

    rows = table("""
1 | @x   | | | | | | allow
2 | @y   | | | | | | allow
3 | @ops | | | | | | allow
""")
    d = evaluate(rows, user="alice", host=None, command="c", args=[], noderange=None,
                 nodes=None, expand=expand, now=WED_10, unix_groups=groups)
    assert d.allowed and calls == ["alice"]
    calls.clear()
    evaluate(table("1 | root | | | | | | allow"), user="alice", host=None, command="c",
             args=[], noderange=None, nodes=None, expand=expand, now=WED_10, unix_groups=groups)
    assert calls == []


def test_default_unix_groups() -> None:
    import grp
    import os
    import pwd

    me = pwd.getpwuid(os.getuid())
    assert grp.getgrgid(me.pw_gid).gr_name in default_unix_groups(me.pw_name)
    assert default_unix_groups("no-such-user-xcatpy") == frozenset()
    assert "root" in default_unix_groups("root")


def test_hosts() -> None:
    rows = table("""
1 | * | login1, login2 | a | | | | allow
2 | * | *              | b | | | | allow
""")
    assert check(rows, "gus", "a", host="login1").allowed
    assert check(rows, "gus", "a", host="login2").allowed
    assert not check(rows, "gus", "a", host="login3").allowed
    assert not check(rows, "gus", "a", host=None).allowed
    assert not check(rows, "gus", "a", host="LOGIN1").allowed
    assert check(rows, "gus", "b", host=None).allowed


def test_remote_clients_count_only_for_trusted_peers() -> None:
    rows = table("""
1   | mn | | | | | | trusted
2   | *  | login1 | rpower | | | | allow
""")
    # an untrusted user cannot claim to speak for login1
    assert not check(rows, "gus", "rpower", host="evil", remote_clients=["login1"]).allowed
    assert check(rows, "gus", "rpower", host="login1", remote_clients=["evil"]).allowed
    # the trusted management node passes on a request first sent from login1
    d = check(rows, "mn", "rpower", host="mn", remote_clients=["login1"])
    assert d.trusted and d.allowed


def test_remote_clients_replace_the_host_of_a_trusted_peer() -> None:
    rows = table("""
1 | sn1 | sn1    | rinv   | | | | trusted
2 | sn1 | login1 | rpower | | | | allow
""")
    assert check(rows, "sn1", "rinv", host="sn1").allowed
    assert not check(rows, "sn1", "rinv", host="sn1", remote_clients=["login9"]).allowed
    assert check(rows, "sn1", "rpower", host="sn1", remote_clients=["login9", "login1"]).allowed
    assert check(rows, "sn1", "rinv", host="sn1", remote_clients=["", " "]).allowed


def test_commands() -> None:
    rows = table("""
1 | * | | rpower, rinv ,nodels | | | | allow
2 | * | | *                    | | | | deny
""")
    for command in ("rpower", "rinv", "nodels"):
        assert check(rows, "gus", command).allowed
    for command in ("rpow", "rpower,rinv", "RPOWER", "tabdump"):
        assert not check(rows, "gus", command).allowed


@pytest.mark.parametrize(("pattern", "args", "allowed"), [
    ("^(stat|state)$", ["stat"], True),
    ("^(stat|state)$", ["state"], True),
    ("^(stat|state)$", ["off"], False),
    ("^(stat|state)$", ["stat", "-V"], False),
    ("stat", ["-V", "status"], True),
    ("-V stat", ["-V", "stat"], True),
    ("^$", [], True),
    ("^$", ["x"], False),
    ("*", ["anything"], True),
    ("", ["anything"], True),
    ("^(-[a-z]++ )*stat$", ["-a -b stat"], True),
])
def test_parameters(pattern: str, args: list[str], allowed: bool) -> None:
    rows = rows_from_table([{"priority": "1", "name": "*", "parameters": pattern,
                             "rule": "allow"}])
    assert check(rows, "gus", "rpower", args).allowed is allowed


# --------------------------------------------------------------------------- #
# rules, trust, disabled rows, order


@pytest.mark.parametrize(("rule", "allowed"), [
    ("allow", True), ("accept", True), ("trusted", True), ("ALLOW", True), (" Accept ", True),
    ("deny", False), ("DENY", False),
    # only possible in old data: never an allow, whatever it contains
    ("disallow", False), ("allowed", False), ("maybe", False), ("", False), (None, False),
])
def test_rules(rule: str | None, allowed: bool) -> None:
    rows = rows_from_table([{"priority": "1", "name": "gus", "rule": rule},
                            {"priority": "2", "name": "gus", "rule": "allow"}])
    d = check(rows, "gus", "nodels")
    assert d.allowed is allowed
    assert d.row is not None and d.row.priority == "1"


def test_trusted_pre_pass() -> None:
    rows = table("""
1   | root | | | | | | allow
1.2 | mn   | | | | | | trusted
1.3 | *    | | | | | | trusted
1.4 | @ops | | | | | | trusted
1.5 | sn2  | | | | | | TRUSTED
1.6 | sn3  | | | | | | trusted | 1
1.7 | sn4  | | x | | | Mon 01:00-02:00 | trusted
""")
    assert check(rows, "mn", "rpower").trusted
    assert check(rows, "sn2", "rpower").trusted
    assert not check(rows, "root", "rpower").trusted
    d = check(rows, "gus", "rpower")
    assert d.allowed and not d.trusted  # allowed by '*', but not trusted by it
    assert not check(rows, "alice", "rpower").trusted
    assert not check(rows, None, "rpower").trusted
    assert not check(rows, "sn3", "rpower").trusted  # disabled
    # only name and rule count for trust, not the other columns of the row
    assert check(rows, "sn4", "rpower", now=WED_10).trusted


def test_a_refused_decision_still_says_whether_the_peer_is_trusted() -> None:
    rows = table("""
1 | mn | | | | | | deny
2 | mn | | | | | | trusted
""")
    d = check(rows, "mn", "rpower")
    assert not d.allowed and d.trusted


@pytest.mark.parametrize(("disable", "active"), [
    (None, True), ("", True), ("0", True), ("no", True), ("NO", True), ("No", True),
    ("nO", True), ("1", False), ("yes", False), ("true", False), ("x", False),
])
def test_disabled_rows(disable: str | None, active: bool) -> None:
    records = [{"priority": "1", "name": "gus", "rule": "allow", "disable": disable}]
    assert bool(rows_from_table(records)) is active
    rows = [PolicyRow("1", "gus", None, None, None, None, None, "allow", disable)]
    assert check(rows, "gus", "nodels").allowed is active


def test_rows_sort_by_priority_as_numbers() -> None:
    records = [{"priority": p, "rule": "allow"}
               for p in ["10", "9", "4.6", "4.5", "1.0", "1", "abc", "-2", "1.10", "1.1", ""]]
    order = [r.priority for r in rows_from_table(records)]
    assert order == ["-2", "1", "1.0", "1.1", "1.10", "4.5", "4.6", "9", "10", "", "abc"]


def test_evaluate_orders_and_filters_rows_itself() -> None:
    rows = [PolicyRow("9", "gus", None, None, None, None, None, "allow"),
            PolicyRow("10", "gus", None, None, None, None, None, "deny"),
            PolicyRow("2", "gus", None, None, None, None, None, "deny", "1")]
    d = check(rows, "gus", "x")
    assert d.allowed and d.row == rows[0]


def test_no_rows_refuse_everything() -> None:
    d = check([], "root", "nodels")
    assert d == Decision(False, None, "Request matched no policy rule", False)


# --------------------------------------------------------------------------- #
# values that cannot be used (old data) never let a request through


def test_unusable_values_never_allow() -> None:
    bad_time_allow = [PolicyRow("1", "*", None, None, None, None, "whenever", "allow")]
    bad_time_deny = [PolicyRow("1", "*", None, None, None, None, "whenever", "deny"),
                     PolicyRow("2", "*", None, None, None, None, None, "allow")]
    bad_regex_allow = [PolicyRow("1", "*", None, None, None, "(", None, "allow")]
    bad_regex_deny = [PolicyRow("1", "*", None, None, None, "(", None, "deny"),
                      PolicyRow("2", "*", None, None, None, None, None, "allow")]
    slow_regex_allow = [PolicyRow("1", "*", None, None, None, "(a+)+$", None, "allow")]
    bad_nr_allow = [PolicyRow("1", "*", None, None, "!x", None, None, "allow")]
    bad_nr_deny = [PolicyRow("1", "*", None, None, "!x", None, None, "deny"),
                   PolicyRow("2", "*", None, None, None, None, None, "allow")]
    assert not check(bad_time_allow, "gus", "x").allowed
    assert not check(bad_time_deny, "gus", "x").allowed
    assert not check(bad_regex_allow, "gus", "x", ["("]).allowed
    assert not check(bad_regex_deny, "gus", "x").allowed
    assert not check(slow_regex_allow, "gus", "x", ["aaaa"]).allowed
    assert not check(bad_nr_allow, "gus", "x", noderange="n1").allowed
    assert not check(bad_nr_deny, "gus", "x").allowed
    # a request noderange that does not expand names no nodes
    rows = [PolicyRow("1", "*", None, None, "rack1", None, None, "allow")]
    assert not check(rows, "gus", "x", noderange="!bad").allowed


# --------------------------------------------------------------------------- #
# validate_row


@pytest.mark.parametrize(("row", "column", "value"), [
    ({"priority": "5", "rule": "disallow"}, "rule", "disallow"),
    ({"priority": "5", "rule": "allowed"}, "rule", "allowed"),
    ({"rule": "maybe"}, "rule", "maybe"),
    ({"priority": "abc", "rule": "allow"}, "priority", "abc"),
    ({"priority": "1e3"}, "priority", "1e3"),
    ({"priority": "nan"}, "priority", "nan"),
    ({"priority": ""}, "priority", ""),
    ({"priority": None}, "priority", "None"),
    ({"priority": "5", "time": "Mon-Fri 25:00-18:00"}, "time", "Mon-Fri 25:00-18:00"),
    ({"time": "always"}, "time", "always"),
    ({"time": "Sat,Sun"}, "time", "Sat,Sun"),
    ({"parameters": "("}, "parameters", "("),
    ({"parameters": "[a-"}, "parameters", "[a-"),
    ({"parameters": "a" * 501}, "parameters", "a" * 501),
    ({"parameters": "(a+)+$"}, "parameters", "(a+)+$"),
    ({"parameters": r"^(-\w+ )*stat$"}, "parameters", r"^(-\w+ )*stat$"),
    ({"parameters": "(x*){2,10}"}, "parameters", "(x*){2,10}"),
])
def test_validate_row_refuses(row: dict[str, str | None], column: str, value: str) -> None:
    with pytest.raises(StoreError) as info:
        validate_row(row)
    message = str(info.value)
    assert f"policy.{column}=" in message
    assert (repr(value) if value != "None" else "None") in message


def test_validate_row_names_the_priority() -> None:
    with pytest.raises(StoreError, match=r"^policy.rule='maybe' \(priority 6\): must be allow, "
                                         "accept, trusted or deny$"):
        validate_row({"priority": "6", "rule": "maybe"})


@pytest.mark.parametrize("row", [
    {"priority": "1", "name": "root", "rule": "allow"},
    {"priority": "4.5", "rule": "ACCEPT"},
    {"priority": "-1", "rule": "Trusted"},
    {"priority": "7", "rule": "deny", "time": "Mon-Fri 08:00-18:00; Sat 10:00-12:00"},
    {"priority": "7", "rule": None},
    {"priority": "7", "rule": ""},
    {"priority": "7", "time": "*", "parameters": "*"},
    {"priority": "7", "time": "", "parameters": ""},
    {"parameters": "^(stat|state)$"},
    {"parameters": "a" * 500},
    {"parameters": r"^(-\w++ )*stat$"},
    {"parameters": r"(?>-\w+ )*"},
    {"parameters": r"(a+)?"},
    {"name": "anything at all", "host": "x", "commands": "y", "noderange": "z",
     "comments": "c", "disable": "1"},
    {},
])
def test_validate_row_accepts(row: dict[str, str | None]) -> None:
    validate_row(row)


# --------------------------------------------------------------------------- #
# evaluate never raises


_text = st.text(alphabet=string.ascii_letters + string.digits + " ,*@^$.-:;()[]+?|!\\",
                max_size=12)
_opt = st.none() | _text | st.sampled_from(["", "*", "rack1", "n1,n3", "@ops", "root"])
_time = st.none() | st.sampled_from(["", "*", "Mon-Fri 08:00-18:00", "22:00-06:00",
                                     "Sat,Sun 00:00-24:00; Wed 10:00-10:01"]) | _text
_rule = st.none() | st.sampled_from(["allow", "accept", "trusted", "deny", "DENY", ""])


@st.composite
def policy_rows(draw: st.DrawFn) -> list[PolicyRow]:
    rows = []
    for i in range(draw(st.integers(0, 6))):
        record = {
            "priority": draw(st.sampled_from([str(i), f"{i}.5", "1", "-3", "10"])),
            "name": draw(_opt), "host": draw(_opt), "commands": draw(_opt),
            "noderange": draw(_opt), "parameters": draw(_opt), "time": draw(_time),
            "rule": draw(_rule), "disable": draw(st.none() | st.sampled_from(["0", "1", "no"])),
        }
        try:
            validate_row(record)
        except StoreError:
            assume(False)
        rows.append(PolicyRow(**record))
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    rows=policy_rows(),
    user=st.none() | st.sampled_from(["root", "alice", "foobar", "mn", ""]) | _text,
    host=st.none() | _text,
    command=st.sampled_from(["rpower", "nodels", "lsdef"]) | _text,
    args=st.lists(_text, max_size=4),
    noderange=st.none() | _opt,
    pre_expand=st.booleans(),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    remote=st.lists(_text, max_size=2),
)
def test_evaluate_never_raises(rows: list[PolicyRow], user: str | None, host: str | None,
                               command: str, args: list[str], noderange: str | None,
                               pre_expand: bool, when: datetime, remote: list[str]) -> None:
    nodes = None
    if pre_expand and noderange:
        try:
            nodes = expand(noderange)
        except NoderangeError:
            nodes = []
    d = evaluate(rows, user=user, host=host, command=command, args=args, noderange=noderange,
                 nodes=nodes, expand=expand, now=when, unix_groups=unix_groups,
                 remote_clients=remote)
    assert isinstance(d, Decision)
    assert isinstance(d.reason, str) and d.reason
    if d.allowed:
        assert d.row is not None and d.row in rows
        assert (d.row.rule or "").strip().lower() in ("allow", "accept", "trusted")
        assert d.row.active
    if d.row is None:
        assert not d.allowed
