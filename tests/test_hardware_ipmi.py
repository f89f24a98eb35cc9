"""rpower, rinv, rvitals, rsetboot, rbeacon and reventlog against OpenIPMI's ipmi_sim.

Every action runs through the real command (in-process, or through a real
xcatd) against real ``ipmi_sim`` BMCs, and what it did is checked with
``ipmitool`` or the simulator's own chassis state, never with our own code.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ipmisim import IpmiSimFleet, ipmisim_missing_tools, start_ipmisim

pytestmark = pytest.mark.skipif(
    bool(ipmisim_missing_tools()),
    reason=f"ipmi_sim peer unavailable: {', '.join(ipmisim_missing_tools())} not installed",
)


def ipmitool(bmc, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = subprocess.run([*bmc.ipmitool_argv(), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[IpmiSimFleet]:
    with start_ipmisim(tmp_path / "sims", count=3) as fleet:
        yield fleet


def define(mn, sims: IpmiSimFleet, creds: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """Nodes bmc1..bmcN whose ipmi.bmc points at the simulators."""
    nodes = []
    for bmc in sims:
        node = f"bmc{bmc.index}"
        extra = [f"ipmi.username={bmc.user}", f"ipmi.password={bmc.password}"] if creds else []
        mn.ok("nodeadd", node, "groups=all,ipmisim", "nodehm.mgt=ipmi",
              f"ipmi.bmc={bmc.host}:{bmc.port}", *extra)
        nodes.append(node)
    # Keep failure tests short: half a second per answer, one resend.
    mn.ok("chtab", "key=ipmitimeout", "site.value=0.5")
    mn.ok("chtab", "key=ipmiretries", "site.value=1")
    return nodes


def lines(text: str) -> list[str]:
    return sorted(line.rstrip() for line in text.strip().splitlines())


def test_power_state_matches_ipmitool(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    assert lines(mn.ok("rpower", "ipmisim", "stat")) == ["bmc1: off", "bmc2: off", "bmc3: off"]
    assert lines(mn.ok("rpower", "bmc1,bmc3", "on")) == ["bmc1: on", "bmc3: on"]
    assert "Chassis Power is on" in ipmitool(sims[0], "chassis", "power", "status")
    assert "Chassis Power is off" in ipmitool(sims[1], "chassis", "power", "status")
    assert "Chassis Power is on" in ipmitool(sims[2], "chassis", "power", "status")
    # A change made behind our back is what stat reports next.
    ipmitool(sims[0], "chassis", "power", "off")
    assert mn.ok("rpower", "bmc1", "state") == "bmc1: off\n"
    # Already on: reported, nothing sent.
    before = len(sims[2].calls())
    assert mn.ok("rpower", "bmc3", "on") == "bmc3: on\n"
    assert [c for c in sims[2].calls()[before:] if c.startswith("set")] == []
    assert mn.ok("rpower", "bmc3", "off") == "bmc3: off\n"
    assert sims[2].power == "off"


def test_boot_reset_softoff(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    assert mn.ok("rpower", "bmc1", "boot") == "bmc1: on\n"  # off → on
    assert sims[0].power == "on"
    assert mn.ok("rpower", "bmc1", "boot") == "bmc1: reset\n"  # on → reset
    assert "set reset 1" in sims[0].calls()
    assert mn.ok("rpower", "bmc1", "reset") == "bmc1: reset\n"
    assert mn.ok("rpower", "bmc1", "softoff") == "bmc1: softoff\n"
    assert "set shutdown 1" in sims[0].calls()
    assert "Chassis Power is off" in ipmitool(sims[0], "chassis", "power", "status")
    assert mn.ok("rpower", "bmc1", "softoff") == "bmc1: off\n"


def test_power_actions_record_status(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    mn.ok("rpower", "bmc1", "on")
    mn.ok("rpower", "bmc2", "off")
    out = mn.ok("nodels", "ipmisim", "nodelist.status")
    assert lines(out) == ["bmc1: powering-on", "bmc2: powering-off", "bmc3:"]
    # site.nodestatus=n: the power changes, the table does not.
    mn.ok("chtab", "key=nodestatus", "site.value=n")
    before = mn.dump("nodelist")
    mn.ok("rpower", "bmc3", "on")
    assert sims[2].power == "on"
    assert mn.dump("nodelist") == before
    # stat never writes.
    mn.ok("chtab", "-d", "key=nodestatus", "site")
    before = mn.dump("nodelist")
    mn.ok("rpower", "ipmisim", "stat")
    assert mn.dump("nodelist") == before


def test_nmi_refused_by_the_bmc_is_a_clear_error(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    mn.ok("rpower", "bmc1", "on")
    r = mn.run("rpower", "bmc1", "nmi")
    assert r.code == 1
    assert r.err.startswith("bmc1: Error: ")
    assert "0xcc" in r.err.lower() or "invalid data field" in r.err.lower()


def _fru_field(text: str, label: str) -> str:
    m = re.search(rf"^\s*{re.escape(label)}\s*:\s*(.+?)\s*$", text, re.M)
    assert m, f"{label} not in:\n{text}"
    return m.group(1)


def test_rinv_matches_ipmitool_fru(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    out = mn.ok("rinv", "ipmisim", "serial")
    expected = [f"bmc{b.index}: System Serial Number: "
                f"{_fru_field(ipmitool(b, 'fru', 'print', '0'), 'Product Serial')}" for b in sims]
    assert lines(out) == sorted(expected)
    assert sims[1].serial in out
    out = mn.ok("rinv", "bmc2", "model", "asset")
    assert f"bmc2: System Description: {sims[1].product_name}" in out
    assert f"bmc2: Asset Tag: {sims[1].asset_tag}" in out
    out = mn.ok("rinv", "bmc1", "all")
    fw = re.search(r"Firmware Revision\s*:\s*(\S+)", ipmitool(sims[0], "mc", "info")).group(1)
    assert re.search(rf"^bmc1: BMC Firmware: {re.escape(fw)}", out, re.M), out
    # ipmitool prints the GUID in wire order; we print it as SMBIOS (and so
    # dmidecode on the node) does: the first three fields byte-swapped.
    guid = re.search(r"System GUID\s*:\s*(\S+)", ipmitool(sims[0], "mc", "guid")).group(1)
    ours = re.search(r"^bmc1: GUID: (\S+)$", out, re.M).group(1)
    swap = [bytes.fromhex(f)[::-1].hex() for f in guid.split("-")[:3]] + guid.split("-")[3:]
    assert ours.lower() == "-".join(swap).lower()
    for label in ("System Description", "System Serial Number", "Manufacturer ID", "Asset Tag"):
        assert f"bmc1: {label}: " in out


def _sdr_values(bmc) -> dict[str, float]:  # type: ignore[no-untyped-def]
    values = {}
    for row in ipmitool(bmc, "sdr", "list").splitlines():
        name, reading, *_ = (p.strip() for p in row.split("|"))
        m = re.match(r"([-\d.]+)", reading)
        if m:
            values[name] = float(m.group(1))
    return values


def test_rvitals_match_ipmitool_sdr(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    expected = _sdr_values(sims[0])
    assert {"CPU Temp", "Fan1", "PSU 12V Rail"} <= set(expected)
    out = mn.ok("rvitals", "bmc1", "all")
    got = {}
    for line in out.splitlines():
        m = re.match(r"bmc1: ([^:]+): ([-\d.]+) ?(\S*)$", line)
        if m:
            got[m.group(1)] = float(m.group(2))
    for name, value in expected.items():
        assert got.get(name) == pytest.approx(value, abs=0.01), (name, out)
    temp = mn.ok("rvitals", "bmc1", "temp")
    assert temp == f"bmc1: CPU Temp: {expected['CPU Temp']:g} C\n"
    assert "RPM" in mn.ok("rvitals", "bmc1", "fanspeed")
    power = mn.ok("rvitals", "bmc1", "power")
    assert "bmc1: Power Status: off" in power


def test_rsetboot_matches_ipmitool_bootparam(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    assert mn.ok("rsetboot", "bmc1", "net") == "bmc1: Network\n"
    assert "Force PXE" in ipmitool(sims[0], "chassis", "bootparam", "get", "5")
    assert mn.ok("rsetboot", "bmc1", "cd") == "bmc1: CD/DVD\n"
    assert "CD/DVD" in ipmitool(sims[0], "chassis", "bootparam", "get", "5")
    assert mn.ok("rsetboot", "bmc1", "hd") == "bmc1: Hard Drive\n"
    assert "Hard-Drive" in ipmitool(sims[0], "chassis", "bootparam", "get", "5")
    # ipmi_sim keeps the device but never the valid bit, so its override
    # always reads back as inactive (stat is checked on bmcsim, which keeps it).
    assert mn.ok("rsetboot", "bmc1", "stat") == "bmc1: boot override inactive\n"


def test_rbeacon_drives_the_identify_light(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    assert mn.ok("rbeacon", "bmc1", "on") == "bmc1: on\n"
    assert "set identify 0 1" in sims[0].calls()
    assert mn.ok("rbeacon", "bmc1", "off") == "bmc1: off\n"
    assert sims[0].calls()[-1].startswith("set identify 0 0")
    assert mn.ok("rbeacon", "bmc1", "blink") == "bmc1: blink\n"
    assert re.match(r"set identify \d+ 0", sims[0].calls()[-1])


def test_reventlog_reads_and_clears_the_sel(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    sel = [row for row in ipmitool(sims[0], "sel", "list").splitlines() if row.strip()]
    assert len(sel) == 3
    out = mn.ok("reventlog", "bmc1", "all")
    entries = out.strip().splitlines()
    # ipmi_sim stamps preloaded entries with its own clock, so only the count
    # and the sensors named can be compared.
    assert len(entries) == 3 and all(e.startswith("bmc1: ") for e in entries)
    assert sum("CPU Temp" in e for e in entries) == 2 and sum("Fan1" in e for e in entries) == 1
    # pyghmi dates "pre-init" entries from the BMC's clock at read time, so two
    # reads a second apart may differ in the time; compare what follows it.
    def events(text: str) -> list[str]:
        return [re.sub(r"^bmc1: \S+ \S+ ", "", e) for e in text.strip().splitlines()]

    assert events(mn.ok("reventlog", "bmc1", "2")) == events(out)[1:]
    assert events(mn.ok("reventlog", "bmc1", "all", "-s")) == events(out)[::-1]
    assert mn.ok("reventlog", "bmc1", "clear") == "bmc1: SEL cleared\n"
    assert "SEL has no entries" in ipmitool(sims[0], "sel", "list") or not [
        r for r in ipmitool(sims[0], "sel", "list").splitlines() if r.strip()
    ]
    assert mn.ok("reventlog", "bmc1", "all") == "bmc1: no event log entries\n"


def test_wrong_password_fails_only_that_node(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    mn.ok("chtab", "node=bmc2", "ipmi.password=not-the-password")
    r = mn.run("rpower", "ipmisim", "stat")
    assert r.code == 1
    assert lines(r.out) == ["bmc1: off", "bmc3: off"]
    err = r.err.strip()
    assert err.startswith("bmc2: Error: ") and "not-the-password" not in err
    assert re.search(r"password|authenticat|login", err, re.I), err


def test_credentials_from_the_passwd_table(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims, creds=False)
    mn.ok("chtab", "key=ipmi", f"passwd.username={sims[0].user}", f"passwd.password={sims[0].password}")
    assert lines(mn.ok("rpower", "ipmisim", "stat")) == ["bmc1: off", "bmc2: off", "bmc3: off"]
    # A per-node value still wins over the default.
    mn.ok("chtab", "node=bmc3", "ipmi.password=wrong")
    r = mn.run("rpower", "ipmisim", "stat")
    assert lines(r.out) == ["bmc1: off", "bmc2: off"] and r.err.startswith("bmc3: Error: ")


def test_unreachable_bmc_fails_after_its_deadline_others_answer(mn, sims) -> None:  # type: ignore[no-untyped-def]
    import socket
    import time

    define(mn, sims)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # bound, never answers
        hole.bind(("127.0.0.1", 0))
        port = hole.getsockname()[1]
        mn.ok("nodeadd", "dead1", "groups=all,ipmisim", "nodehm.mgt=ipmi",
              f"ipmi.bmc=127.0.0.1:{port}", "ipmi.username=admin", "ipmi.password=secret")
        start = time.monotonic()
        r = mn.run("rpower", "ipmisim", "stat")
        elapsed = time.monotonic() - start
    assert r.code == 1
    assert lines(r.out) == ["bmc1: off", "bmc2: off", "bmc3: off"]
    assert r.err.startswith("dead1: Error: ") and "timeout" in r.err.lower()
    # 0.5 s per answer, one resend: one node's deadline plus slack, not more.
    assert elapsed < 0.5 * 2 + 3


def test_json_output(mn, sims) -> None:  # type: ignore[no-untyped-def]
    define(mn, sims)
    out = mn.ok("rpower", "ipmisim", "stat", "--json")
    objs = sorted((json.loads(line) for line in out.splitlines()), key=lambda o: o["node"])
    assert objs == [{"node": f"bmc{i}", "power": "off", "state": "off"} for i in (1, 2, 3)]
    out = mn.ok("rinv", "bmc1", "serial", "--json")
    assert json.loads(out) == {"node": "bmc1", "inventory": {"System Serial Number": sims[0].serial}}


def test_through_the_daemon_with_policy(mn, sims, daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """foobar may run rinv and rvitals but not rpower; root may do everything."""
    define(mn, sims)
    mn.ok("chtab", "priority=1.1", "policy.name=foobar", "policy.commands=rinv", "policy.rule=allow")
    mn.ok("chtab", "priority=1.11", "policy.name=foobar", "policy.commands=rvitals",
          "policy.rule=allow")
    foobar = tmp_path / "foobar"
    mn.ok("xcatconfig", "--client", "foobar", "--home", str(foobar))
    r = daemon.run("rpower", "ipmisim", "on")
    assert r.code == 0, r.err
    assert lines(r.out) == ["bmc1: on", "bmc2: on", "bmc3: on"]
    assert all(b.power == "on" for b in sims)
    r = daemon.run("rinv", "bmc2", "serial", home=foobar)
    assert r.code == 0, r.err
    assert r.out == f"bmc2: System Serial Number: {sims[1].serial}\n"
    r = daemon.run("rpower", "bmc2", "off", home=foobar)
    assert r.code != 0
    assert "Permission denied for request" in r.err
    assert sims[1].power == "on"
    audit = mn.dump("auditlog")
    assert '"foobar","localhost","cli","rpower","bmc2","off","Denied"' in audit
