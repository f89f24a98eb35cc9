"""The ipmi_sim fixture (tests/ipmisim.py) against real IPMI clients.

Checks with ipmitool (always ``-I lanplus -C 3``) and freeipmi that every
simulated BMC does what the hardware-control tests will rely on: chassis
power, FRU with a serial of its own, SDRs with known readings, a preloaded
SEL, boot device, identify, and that the fixture stops what it started.

The ipmi_sim 2.0.33 behaviours these tests pin down (details in the
docstring of tests/ipmisim.py):

* only cipher suite 3; suite 17 fails to open a session;
* no Get Channel Cipher Suites, so ipmitool without ``-C 3`` first waits
  10 s for that command to time out (not tested here: too slow);
* Read FRU Data of more than 34 bytes is refused with 0xC8;
* chassis control: on/off = ``set power 1/0``, cycle = ``set power 0`` then
  ``set power 1`` about a second later, reset = ``set reset 1``, soft off =
  ``set shutdown 1``, identify = ``set identify "<seconds> <force>"`` (one
  argument), boot device = ``set boot none|pxe|default|cdrom|bios``;
  diagnostic interrupt (NMI) is refused with 0xCC;
* boot flags: only the device survives; the persistent and EFI bits read back 0;
* ``sel_add`` entries in the .emu are loaded, but ipmi_sim stamps them
  with its own clock (seconds since boot), so clients print "Pre-Init";
* user changes over IPMI apply at once (the old password stops working);
* freeipmi needs ``-D LAN_2_0 -W opensesspriv``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from tests.ipmisim import IpmiSimError, start_ipmisim

NEEDED = ("ipmi_sim", "sdrcomp", "ipmitool")
_missing = [tool for tool in NEEDED if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(_missing),
    reason=f"ipmi_sim peer needs {', '.join(_missing)} (apt-get install openipmi ipmitool)",
)

EXPECTED_SENSORS = {
    "CPU Temp": ("45", "degrees C"),
    "Fan1": ("6000", "RPM"),
    "PSU 12V Rail": ("12.10", "Volts"),
    "Pwr Consumption": ("210", "Watts"),
}


def ipmitool(bmc, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*bmc.ipmitool_argv(), *args], capture_output=True, text=True, timeout=20)
    if check:
        assert proc.returncode == 0, f"ipmitool {' '.join(args)}: {proc.stderr}"
    return proc


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child still answers kill(0); it is no longer running
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with start_ipmisim(tmp_path_factory.mktemp("ipmisim"), count=2) as fleet:
        yield fleet


# -- power -------------------------------------------------------------------


def test_power_status_on_off(sim) -> None:
    bmc = sim[0]
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is off"
    ipmitool(bmc, "chassis", "power", "on")
    assert bmc.power == "on"
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"
    ipmitool(bmc, "chassis", "power", "off")
    assert bmc.power == "off"
    assert "set power 1" in bmc.calls() and "set power 0" in bmc.calls()


def test_power_cycle_turns_off_then_on(sim) -> None:
    bmc = sim[0]
    ipmitool(bmc, "chassis", "power", "on")
    before = len(bmc.calls())
    ipmitool(bmc, "chassis", "power", "cycle")
    assert wait_for(lambda: "set power 1" in bmc.calls()[before:], 5.0), bmc.calls()
    sets = [c for c in bmc.calls()[before:] if c.startswith("set ")]
    assert sets[:2] == ["set power 0", "set power 1"]
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"


def test_power_reset_and_soft(sim) -> None:
    bmc = sim[0]
    ipmitool(bmc, "chassis", "power", "on")
    ipmitool(bmc, "chassis", "power", "reset")
    assert bmc.calls()[-1] == "set reset 1"
    assert bmc.power == "on"
    assert bmc.state()["resets"] == "1"
    ipmitool(bmc, "chassis", "power", "soft")
    assert bmc.calls()[-1] == "set shutdown 1"
    assert bmc.power == "off"


def test_nmi_is_refused(sim) -> None:
    proc = ipmitool(sim[0], "chassis", "power", "diag", check=False)
    assert proc.returncode != 0
    assert "Invalid data field" in proc.stderr


def test_initial_power_on(tmp_path) -> None:
    with start_ipmisim(tmp_path, power="on") as one:
        assert ipmitool(one, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"


# -- inventory, sensors, event log ---------------------------------------------


def test_fru_print_shows_each_instance_serial(sim) -> None:
    assert len({b.port for b in sim}) == 2
    for bmc, other in ((sim[0], sim[1]), (sim[1], sim[0])):
        out = ipmitool(bmc, "fru", "print").stdout
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in out.splitlines())
        )
        assert fields["Product Serial"] == bmc.serial == f"SIM-SN-{bmc.index:04d}"
        assert fields["Board Serial"] == bmc.board_serial
        assert fields["Chassis Serial"] == bmc.chassis_serial
        assert fields["Product Asset Tag"] == bmc.asset_tag
        assert fields["Product Name"] == bmc.product_name
        assert fields["Product Manufacturer"] == bmc.manufacturer
        assert other.serial not in out


def test_fru_reads_are_limited_to_34_bytes(sim) -> None:
    ok = ipmitool(sim[0], "raw", "0x0a", "0x11", "0", "0", "0", "34")
    assert ok.stdout.split()[0] == "22"  # 34 bytes returned
    refused = ipmitool(sim[0], "raw", "0x0a", "0x11", "0", "0", "0", "35", check=False)
    assert refused.returncode != 0 and "rsp=0xc8" in refused.stderr


def sdr_readings(text: str) -> dict[str, tuple[str, str, str]]:
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3:
            value, _, unit = parts[1].partition(" ")
            out[parts[0]] = (value, unit, parts[2])
    return out


def test_sdr_list_shows_the_sensors(sim) -> None:
    readings = sdr_readings(ipmitool(sim[1], "sdr", "list").stdout)
    for name, (value, unit) in EXPECTED_SENSORS.items():
        assert readings[name] == (value, unit, "ok"), readings
    assert all(re.search("[a-z]", name) for name in readings)


def test_sel_is_preloaded(sim) -> None:
    lines = ipmitool(sim[0], "sel", "elist").stdout.strip().splitlines()
    assert len(lines) == 3
    assert "CPU Temp | Upper Non-critical going high | Asserted" in lines[0]
    assert "Reading 85 > Threshold 80 degrees C" in lines[0]
    assert "Fan1 | Lower Critical going low  | Asserted" in lines[1]
    assert "Deasserted" in lines[2]
    assert "Pre-Init" in lines[0]  # ipmi_sim's own timestamp, not the one in the .emu
    assert "Entries          : 3" in ipmitool(sim[0], "sel", "info").stdout


# -- boot device and identify ---------------------------------------------------


def test_bootdev_pxe_then_bootparam(sim) -> None:
    bmc = sim[0]
    ipmitool(bmc, "chassis", "bootdev", "pxe")
    assert bmc.state()["boot"] == "pxe"
    out = ipmitool(bmc, "chassis", "bootparam", "get", "5").stdout
    assert "Boot Device Selector : Force PXE" in out


@pytest.mark.parametrize(
    "dev, stored, selector",
    [
        ("disk", "default", "Force Boot from default Hard-Drive"),
        ("cdrom", "cdrom", "Force Boot from CD/DVD"),
        ("bios", "bios", "Force Boot into BIOS Setup"),
        ("none", "none", "No override"),
    ],
)
def test_bootdev_values(sim, dev: str, stored: str, selector: str) -> None:
    bmc = sim[1]
    ipmitool(bmc, "chassis", "bootdev", dev)
    assert bmc.calls()[-1] == f"set boot {stored}"
    assert (
        f"Boot Device Selector : {selector}"
        in ipmitool(bmc, "chassis", "bootparam", "get", "5").stdout
    )


def test_boot_flags_keep_only_the_device(sim) -> None:
    bmc = sim[1]
    ipmitool(bmc, "chassis", "bootdev", "pxe", "options=persistent,efiboot", check=False)
    out = ipmitool(bmc, "chassis", "bootparam", "get", "5").stdout
    assert "Boot parameter data: 0004000000" in out  # persistent/EFI bits dropped


def test_identify(sim) -> None:
    bmc = sim[0]
    ipmitool(bmc, "chassis", "identify")
    assert bmc.calls()[-1] == "set identify 15 0"
    ipmitool(bmc, "chassis", "identify", "force")
    assert bmc.calls()[-1] == "set identify 0 1"
    assert bmc.state()["identify"] == "0 1"
    ipmitool(bmc, "chassis", "identify", "0")
    assert bmc.state()["identify"] == "0 0"


# -- the protocol quirks ----------------------------------------------------------


def test_only_cipher_suite_3(sim) -> None:
    argv = sim[0].ipmitool_argv()
    argv[argv.index("-C") + 1] = "17"
    proc = subprocess.run([*argv, "mc", "info"], capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert "invalid authentication algorithm" in proc.stderr


def test_guid_is_the_configured_one(sim) -> None:
    out = ipmitool(sim[1], "mc", "guid").stdout
    shown = re.search(r"System GUID\s*:\s*(\S+)", out).group(1).replace("-", "")
    assert sim[1].guid in (shown, bytes.fromhex(shown)[::-1].hex())


# -- freeipmi agrees ----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ipmi-sensors") is None, reason="freeipmi-tools not installed")
def test_ipmi_sensors_agrees(sim, tmp_path) -> None:
    cache = tmp_path / "sdr-cache"
    cache.mkdir()
    argv = sim[1].freeipmi_argv("ipmi-sensors") + [
        "--sdr-cache-directory", str(cache), "--quiet-cache",
        "--no-header-output", "--comma-separated-output",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    rows = {r[1]: r for r in (ln.split(",") for ln in proc.stdout.splitlines())}
    units = {"degrees C": "C", "RPM": "RPM", "Volts": "V", "Watts": "W"}
    for name, (value, unit) in EXPECTED_SENSORS.items():
        assert float(rows[name][3]) == float(value)
        assert rows[name][4] == units[unit]


@pytest.mark.skipif(shutil.which("ipmipower") is None, reason="freeipmi-tools not installed")
def test_ipmipower_agrees(sim) -> None:
    bmc = sim[1]

    def ipmipower(*args: str) -> str:
        proc = subprocess.run(
            bmc.freeipmi_argv("ipmipower") + list(args), capture_output=True, text=True, timeout=20
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    ipmitool(bmc, "chassis", "power", "off")
    assert ipmipower("--stat") == "127.0.0.1: off"
    assert ipmipower("--on") == "127.0.0.1: ok"
    assert ipmitool(bmc, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"
    assert ipmipower("--stat") == "127.0.0.1: on"
    ipmipower("--off")
    assert bmc.power == "off"


# -- the fixture itself --------------------------------------------------------------


def test_processes_are_stopped_even_on_error(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with start_ipmisim(tmp_path / "a", count=3) as fleet:
            pids = [b.pid for b in fleet]
            assert all(alive(pid) for pid in pids)
            raise RuntimeError("boom")
    assert not any(alive(pid) for pid in pids)


def test_user_changes_apply_at_once(tmp_path) -> None:
    with start_ipmisim(tmp_path, user="ops", password="first") as one:
        ipmitool(one, "user", "set", "password", "2", "second")
        assert ipmitool(one, "mc", "info", check=False).returncode != 0
        argv = [a if a != "first" else "second" for a in one.ipmitool_argv()]
        proc = subprocess.run([*argv, "mc", "info"], capture_output=True, text=True, timeout=20)
        assert proc.returncode == 0, proc.stderr


def test_bad_arguments_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError):
        with start_ipmisim(tmp_path, power="maybe"):
            pass
    with pytest.raises(IpmiSimError):
        with start_ipmisim(tmp_path, password='has"quote'):
            pass
    with start_ipmisim(tmp_path / "x"):
        pass
    with pytest.raises(IpmiSimError, match="fresh workdir"):
        with start_ipmisim(tmp_path / "x"):
            pass
