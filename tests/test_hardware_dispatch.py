"""Hardware commands before any BMC is contacted: usage, routing and table checks.

Everything here is decided from the tables alone, so these tests need no
peer; the behaviour against real BMCs is in test_hardware_ipmi.py.
"""

from __future__ import annotations

import json

import pytest

from xcatpy.backends.base import Limits, limits_from_site
from xcatpy.backends.ipmi import parse_bmc
from xcatpy.errors import XcatError

COMMANDS = ["rpower", "rinv", "rvitals", "rsetboot", "rbeacon", "reventlog"]


@pytest.mark.parametrize("command", COMMANDS)
def test_no_noderange_is_a_usage_error(mn, command: str) -> None:  # type: ignore[no-untyped-def]
    r = mn.run(command)
    assert r.code != 0
    assert "noderange is required" in r.err


@pytest.mark.parametrize(
    ("command", "args", "needle"),
    [
        ("rpower", [], "an action is required"),
        ("rpower", ["sideways"], "unsupported action 'sideways'"),
        ("rpower", ["on", "off"], "only one action"),
        ("rsetboot", ["floppy"], "unsupported action 'floppy'"),
        ("rbeacon", [], "an action is required"),
        ("rinv", ["colour"], "unsupported item 'colour'"),
        ("rvitals", ["temp,smell"], "unsupported item 'smell'"),
        ("reventlog", ["-3"], "No such option '-3'"),
        ("reventlog", ["0"], "'0' is not a positive number"),
        ("reventlog", ["clear", "-s"], "cannot be used with clear"),
        ("rpower", ["stat", "--frobnicate"], "No such option '--frobnicate'"),
    ],
)
def test_bad_actions_print_usage(mn, command: str, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all")
    before = mn.dump_all()
    r = mn.run(command, "n1", *args)
    assert r.code == 1, r
    assert needle in r.err
    assert f"Usage: {command} " in r.err
    assert mn.dump_all() == before


def test_node_without_management_method(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all")
    r = mn.run("rpower", "n1", "stat")
    assert r.code == 1
    assert r.err.strip() == "n1: Error: no management method: set nodehm.mgt (e.g. ipmi)"


def test_unknown_method_and_unknown_node(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all", "nodehm.mgt=teleport")
    r = mn.run("rinv", "n1", "serial")
    assert r.code == 1
    assert "n1: Error: management method 'teleport' (nodehm.mgt) is not supported" in r.err
    r = mn.run("rpower", "ghost", "stat")
    assert r.code != 0 and "ghost" in r.err


def test_power_method_overrides_mgt_for_power_only(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all", "nodehm.mgt=ipmi", "nodehm.power=teleport")
    r = mn.run("rpower", "n1", "stat")
    assert "n1: Error: management method 'teleport' (nodehm.mgt) is not supported" in r.err
    r = mn.run("rbeacon", "n1", "stat")
    assert "n1: Error: no BMC address: set ipmi.bmc" in r.err


def test_missing_bmc_and_credentials_are_per_node_errors(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n[1-3]", "groups=all,ipmi", "nodehm.mgt=ipmi")
    mn.ok("chtab", "node=n2", "ipmi.bmc=127.0.0.1:9")
    mn.ok("chtab", "node=n3", "ipmi.bmc=127.0.0.1:70000")
    before = mn.dump_all()
    r = mn.run("rpower", "n[1-3]", "on")
    assert r.code == 1
    lines = sorted(r.err.strip().splitlines())
    assert lines == [
        "n1: Error: no BMC address: set ipmi.bmc",
        "n2: Error: no IPMI credentials: set ipmi.username and ipmi.password, "
        "or the passwd table row with key=ipmi",
        "n3: Error: bad BMC port '70000' in ipmi.bmc '127.0.0.1:70000'",
    ]
    # Nothing was powered, so nothing was recorded.
    assert mn.dump_all() == before


def test_json_errors_are_objects_on_stdout(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all", "nodehm.mgt=ipmi")
    r = mn.run("rpower", "n1", "stat", "--json")
    assert r.code == 1
    assert json.loads(r.out) == {"node": "n1", "error": "no BMC address: set ipmi.bmc"}
    assert "1 of 1 nodes failed" in r.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bmc1", ("bmc1", 623)),
        ("10.0.0.1:1623", ("10.0.0.1", 1623)),
        ("[fd00::1]:624", ("fd00::1", 624)),
        ("[fd00::1]", ("fd00::1", 623)),
        ("fd00::1", ("fd00::1", 623)),
    ],
)
def test_parse_bmc(text: str, expected: tuple[str, int]) -> None:
    assert parse_bmc(text) == expected


@pytest.mark.parametrize("text", ["", "a b", "[fd00::1", "[fd00::1]x", "h:", "h:0", "h:port", "a:b:c"])
def test_parse_bmc_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bmc(text)


def test_site_limits() -> None:
    assert limits_from_site({}) == Limits()
    lim = limits_from_site({"ipmimaxp": "8", "ipmitimeout": "0.5", "ipmiretries": "1"})
    assert (lim.maxp, lim.timeout, lim.retries) == (8, 0.5, 1)
    assert lim.deadline == pytest.approx(2.0)
    with pytest.raises(XcatError, match="site.ipmitimeout must be a number of seconds"):
        limits_from_site({"ipmitimeout": "soon"})
    with pytest.raises(XcatError, match="site.ipmimaxp is out of range"):
        limits_from_site({"ipmimaxp": "0"})


def test_suspend_is_refused_per_node_by_ipmi(mn) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n1", "groups=all", "nodehm.mgt=ipmi", "ipmi.bmc=127.0.0.1:9",
          "ipmi.username=u", "ipmi.password=p")
    r = mn.run("rpower", "n1", "suspend")
    assert r.code == 1
    assert r.err == "n1: Error: rpower suspend is not supported by management method 'ipmi'\n"
