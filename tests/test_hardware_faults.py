"""Hardware commands against the simulated BMC farm: faults, scale and flags.

``tests/bmcsim`` is checked against ipmitool and ipmipower in
test_bmcsim.py; here it stands in for BMCs that misbehave (dead, slow,
answering garbage, changing state on their own, losing packets) and for
hundreds of BMCs at once.  Results are cross-checked with ipmitool and
ipmipower.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bmcsim.farm import Farm, start_farm

pytestmark = pytest.mark.skipif(
    not (shutil.which("ipmitool") and shutil.which("ipmipower")),
    reason="ipmitool and ipmipower (freeipmi-tools) are needed to cross-check the farm",
)


def define(mn, farm: Farm, prefix: str = "n", timeout: float = 0.5,  # type: ignore[no-untyped-def]
           retries: int = 1) -> list[str]:
    """Nodes n0..n{N-1} on the farm's BMCs, credentials from the passwd table."""
    names = [f"{prefix}{b.index}" for b in farm.bmcs]
    csv = "#node,bmc\n" + "".join(f'"{n}","{b.host}"\n' for n, b in zip(names, farm.bmcs,
                                                                          strict=True))
    mn.ok("nodeadd", ",".join(names), "groups=all,farm", "nodehm.mgt=ipmi")
    r = mn.run("tabrestore", "-a", "/dev/stdin", stdin=csv)
    if r.code != 0:  # tabrestore names the table after the file; fall back to chtab
        for n, b in zip(names, farm.bmcs, strict=True):
            mn.ok("chtab", f"node={n}", f"ipmi.bmc={b.host}")
    mn.ok("chtab", "key=ipmi", f"passwd.username={farm.user}", f"passwd.password={farm.password}")
    mn.ok("chtab", "key=ipmitimeout", f"site.value={timeout:g}")
    mn.ok("chtab", "key=ipmiretries", f"site.value={retries}")
    return names


def ipmitool(farm: Farm, index: int, *args: str) -> str:
    r = subprocess.run(["ipmitool", *farm.ipmitool(index, cipher=17), "-N", "1", "-R", "2",
                        *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def ipmipower_stat(farm: Farm, indexes: list[int]) -> dict[str, str]:
    """address -> state as ipmipower reports it (it prints hosts without their port)."""
    hosts = ",".join(farm.bmc(i).host for i in indexes)
    r = subprocess.run(["ipmipower", "-D", "LAN_2_0", "-u", farm.user, "-p", farm.password,
                        "-h", hosts, "--stat"], capture_output=True, text=True, timeout=60)
    out = {}
    for line in r.stdout.splitlines():
        host, _, state = line.rpartition(": ")
        out[host.rsplit(":", 1)[0] if host.count(":") == 1 else host] = state
    return out


def lines(text: str) -> list[str]:
    return sorted(line.rstrip() for line in text.strip().splitlines())


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[Farm]:
    # 0 fine, 1 dead, 2 garbage, 3 slow (0.3 s per answer), 4 flips its power, 5 fine
    with start_farm(count=6, workdir=tmp_path / "farm", dead=[1], garbage=[2],
                    slow={3: 0.3}, flip=[4]) as farm:
        yield farm


def test_each_fault_stays_with_its_node(mn, faulty) -> None:  # type: ignore[no-untyped-def]
    define(mn, faulty)
    start = time.monotonic()
    r = mn.run("rpower", "farm", "stat")
    elapsed = time.monotonic() - start
    assert r.code == 1
    out = dict(line.split(": ", 1) for line in r.out.splitlines())
    assert out["n0"] == "off" and out["n5"] == "off"
    assert out["n3"] == "off"  # slow but inside its timeout
    assert out["n4"] in ("on", "off")
    errors = dict(line.split(": Error: ", 1) for line in r.err.strip().splitlines())
    assert set(errors) == {"n1", "n2"}
    assert "timeout" in errors["n1"].lower()
    assert re.search(r"garbage|timeout", errors["n2"], re.I)
    # Dead and garbage BMCs cost their own deadline (0.5 s × 2), not more.
    assert elapsed < 0.5 * 2 + 3


def test_state_changing_between_calls_is_reported_as_it_is(mn, faulty) -> None:  # type: ignore[no-untyped-def]
    define(mn, faulty)
    seen = {mn.ok("rpower", "n4", "stat").strip() for _ in range(3)}
    assert seen == {"n4: on", "n4: off"}


def test_rpower_boot_on_a_flipping_bmc_acts_on_what_it_read(mn, faulty) -> None:  # type: ignore[no-untyped-def]
    define(mn, faulty)
    out = mn.ok("rpower", "n4", "boot")
    assert out in ("n4: on\n", "n4: reset\n")


def test_packet_loss_is_absorbed_by_retries(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_farm(count=40, workdir=tmp_path / "lossy", loss=0.1, seed=7) as farm:
        define(mn, farm, timeout=0.3, retries=4)
        r = mn.run("rpower", "farm", "on")
        assert r.code == 0, r.err
        assert len(r.out.splitlines()) == 40
        assert set(ipmipower_stat(farm, list(range(40))).values()) == {"on"}


def test_two_hundred_bmcs_agree_with_ipmipower(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_farm(count=200, workdir=tmp_path / "big", processes=2) as farm:
        names = define(mn, farm)
        evens = ",".join(names[::2])
        r = mn.run("rpower", evens, "on")
        assert r.code == 0, r.err
        assert len(r.out.splitlines()) == 100
        ours = dict(line.split(": ", 1) for line in mn.ok("rpower", "farm", "stat").splitlines())
        theirs = ipmipower_stat(farm, list(range(200)))
        assert {f"n{i}": theirs[farm.bmc(i).address] for i in range(200)} == ours
        assert sorted(ours.values()).count("on") == 100


def test_bmcsim_flags_rsetboot_rbeacon_nmi(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_farm(count=1, workdir=tmp_path / "one", power="on", cycle_delay=0.1) as farm:
        define(mn, farm)
        assert mn.ok("rsetboot", "n0", "net", "-p", "-u") == "n0: Network\n"
        param = ipmitool(farm, 0, "chassis", "bootparam", "get", "5")
        assert "Force PXE" in param
        assert "Options apply to all future boots" in param
        assert "BIOS EFI boot" in param
        assert mn.ok("rsetboot", "n0", "stat") == "n0: Network\n"
        assert mn.ok("rsetboot", "n0", "def") == "n0: boot override inactive\n"
        assert mn.ok("rsetboot", "n0", "stat") == "n0: boot override inactive\n"
        assert mn.ok("rbeacon", "n0", "on") == "n0: on\n"
        assert mn.ok("rbeacon", "n0", "stat") == "n0: on\n"
        assert mn.ok("rbeacon", "n0", "off") == "n0: off\n"
        assert mn.ok("rbeacon", "n0", "stat") == "n0: off\n"
        assert mn.ok("rpower", "n0", "nmi") == "n0: nmi\n"
        assert mn.ok("rpower", "n0", "cycle") == "n0: cycle\n"
        deadline = time.monotonic() + 5
        while "is on" not in ipmitool(farm, 0, "chassis", "power", "status"):
            assert time.monotonic() < deadline, "power did not come back after a cycle"
            time.sleep(0.1)


def test_farm_inventory_and_vitals_match_ipmitool(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_farm(count=3, workdir=tmp_path / "inv", fru_limit=34) as farm:
        define(mn, farm)
        out = mn.ok("rinv", "farm", "serial")
        for i in range(3):
            fru = ipmitool(farm, i, "fru", "print", "0")
            serial = re.search(r"Product Serial\s*:\s*(\S+)", fru).group(1)
            assert f"n{i}: System Serial Number: {serial}" in out
        vitals = mn.ok("rvitals", "n1", "temp")
        sdr = ipmitool(farm, 1, "sdr", "list")
        temp = re.search(r"CPU Temp\s*\|\s*([\d.]+) degrees C", sdr).group(1)
        assert vitals == f"n1: CPU Temp: {float(temp):g} C\n"


def test_bmc_address_from_a_group_regex_row(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One regex row on the group gives every node its own BMC port."""
    with start_farm(count=4, workdir=tmp_path / "regex", address="127.0.0.1") as farm:
        first = farm.bmc(0).port
        assert [b.port for b in farm.bmcs] == [first + i for i in range(4)]
        mn.ok("nodeadd", "r[1-4]", "groups=all,rack9", "nodehm.mgt=ipmi")
        mn.ok("chtab", "node=rack9", f"ipmi.bmc=|\\D+(\\d+)$|127.0.0.1:($1+{first - 1})|")
        mn.ok("chtab", "key=ipmi", f"passwd.username={farm.user}",
              f"passwd.password={farm.password}")
        mn.ok("rpower", "r3", "on")
        states = {i: "on" if "is on" in ipmitool(farm, i, "chassis", "power", "status") else "off"
                  for i in range(4)}
        assert states == {0: "off", 1: "off", 2: "on", 3: "off"}


def test_results_stream_through_the_daemon_as_bmcs_answer(mn, daemon, tmp_path,  # type: ignore[no-untyped-def]
                                                          monkeypatch) -> None:
    """A fast BMC's answer reaches the client while a slow one is still thinking."""
    from xcatpy.client import submit
    from xcatpy.protocol import Request

    with start_farm(count=2, workdir=tmp_path / "stream", slow={1: 0.6}) as farm:
        define(mn, farm, timeout=3, retries=0)
        monkeypatch.setenv("XCATBYPASS", "")
        monkeypatch.setenv("XCATHOST", daemon.address)
        start = time.monotonic()
        arrivals = {}
        for resp in submit(Request("rpower", noderange="farm", args=["stat"], cwd="/")):
            if resp.node:
                arrivals[resp.node] = (time.monotonic() - start, resp.text)
        assert arrivals["n0"][1] == "off" and arrivals["n1"][1] == "off"
        # The slow BMC answers each of its 4 packets 0.6 s late; the fast one
        # is not held up.
        assert arrivals["n1"][0] >= 1.5
        assert arrivals["n0"][0] < arrivals["n1"][0] - 1.0
