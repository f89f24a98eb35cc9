"""Cross-check the BMC simulator farm (tests/bmcsim) against ipmitool and ipmipower.

The simulator exists to exercise the project's IPMI client at scale, so it must
itself be an honest BMC: every test here drives it with the stock tools and
asserts the exact values they print.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bmcsim.bmc import BMC, BMCConfig
from tests.bmcsim.farm import Farm, FarmError, start_farm
from tests.bmcsim.server import parse_selection

IPMITOOL = shutil.which("ipmitool")
IPMIPOWER = shutil.which("ipmipower")
IPMI_CHASSIS = shutil.which("ipmi-chassis")

needs_ipmitool = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed (bin/setup-env)")
needs_ipmipower = pytest.mark.skipif(IPMIPOWER is None,
                                     reason="ipmipower (freeipmi-tools) not installed (bin/setup-env)")

#: Delays of the simulated soft off and power cycle in the shared farm.
DELAY = 1.0
FLIP = 7
SLOW, SLOW_DELAY = 8, 0.1


def ipmitool(farm: Farm, index: int, *args: str, cipher: int | None = None,
             extra: tuple[str, ...] = (), timeout: float = 30.0,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ipmitool (lanplus) against one simulated BMC."""
    assert IPMITOOL is not None
    cmd = [IPMITOOL, "-N", "1", "-R", "3", *farm.ipmitool(index, cipher), *extra, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def ipmipower(farm: Farm, hosts: list[str], *args: str,
              timeout: float = 60.0) -> dict[str, str]:
    """Run ipmipower on ``hosts``; return {address: status}."""
    assert IPMIPOWER is not None
    cmd = [IPMIPOWER, "-D", "LAN_2_0", "-h", ",".join(hosts), "-u", farm.user,
           "-p", farm.password, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    result: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        host, _, status = line.partition(": ")
        assert host not in result, f"{host} reported twice"
        result[host] = status
    return result


def wait_for_power(farm: Farm, index: int, state: str, limit: float = 10.0) -> None:
    """Poll ``chassis power status`` until it reports ``state``."""
    deadline = time.monotonic() + limit
    out = ""
    while time.monotonic() < deadline:
        out = ipmitool(farm, index, "chassis", "power", "status").stdout.strip()
        if out == f"Chassis Power is {state}":
            return
        time.sleep(0.1)
    pytest.fail(f"BMC {index} never reached power {state}: {out}")


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    with start_farm(9, workdir=tmp_path_factory.mktemp("farm"), flip=[FLIP],
                    slow={SLOW: SLOW_DELAY}, soft_off_delay=DELAY, cycle_delay=DELAY) as f:
        yield f


# ---------------------------------------------------------------------- farm API


def test_parse_selection_lists_ranges_and_fractions() -> None:
    assert parse_selection("1,5,7-9", 10) == {1, 5, 7, 8, 9}
    assert parse_selection("0.3", 10) == {3, 6, 9}
    assert parse_selection("0.1", 100) == {9, 19, 29, 39, 49, 59, 69, 79, 89, 99}
    assert parse_selection("", 10) == set()
    with pytest.raises(ValueError):
        parse_selection("10", 10)


def test_farm_exposes_hosts_and_stops(tmp_path: Path) -> None:
    with start_farm(3, address="127.0.0.1", workdir=tmp_path) as f:
        assert [b.index for b in f.bmcs] == [0, 1, 2]
        ports = [f.bmc(i).port for i in range(3)]
        assert ports == [ports[0], ports[0] + 1, ports[0] + 2]
        assert f.hosts == [f"127.0.0.1:{p}" for p in ports]
        assert f.ready["count"] == 3
        if IPMITOOL:
            guid = uuid.uuid5(uuid.NAMESPACE_DNS, "bmc2.bmcsim.invalid")
            assert f"System GUID   : {guid}" in ipmitool(f, 2, "mc", "guid").stdout
        proc = f.process
        assert proc.poll() is None
    assert proc.poll() == 0


def test_bad_option_fails_with_log(tmp_path: Path) -> None:
    with pytest.raises(FarmError, match="leaves 127.0.0.0/8"):
        with start_farm(3, first_address="127.255.255.254", port=40000, workdir=tmp_path):
            pass


def test_random_and_mutated_packets_are_survived() -> None:
    rng = random.Random(1)
    bmc = BMC(0, BMCConfig())
    auth_caps = bytes([0x20, 0x18, 0xC8, 0x81, 0x04, 0x38, 0x8E, 0x04, 0xB1])
    open_req = (b"\x00\x04\x00\x00\xa4\xa3\xa2\xa0" + bytes([0, 0, 0, 8, 1, 0, 0, 0])
                + bytes([1, 0, 0, 8, 1, 0, 0, 0]) + bytes([2, 0, 0, 8, 1, 0, 0, 0]))
    seeds = [
        b"\x06\x00\xff\x07\x00" + bytes(8) + bytes([len(auth_caps)]) + auth_caps,
        b"\x06\x00\xff\x07\x06\x10" + bytes(8) + bytes([len(open_req), 0]) + open_req,
        b"\x06\x00\xff\x06\x00\x00\x11\xbe\x80\x01\x00\x00",
    ]
    assert all(bmc.handle(seed, 0.0) is not None for seed in seeds)
    bmc.sessions.clear()
    answered = 0
    for n in range(3000):
        pkt = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 4)):
            pkt[rng.randrange(len(pkt))] = rng.randrange(256)
        if n % 3 == 0:
            pkt = pkt[:rng.randrange(len(pkt) + 1)]
        if n % 7 == 0:
            pkt = bytearray(b"\x06\x00\xff\x07" + rng.randbytes(rng.randint(0, 80)))
        answered += bmc.handle(bytes(pkt), float(n)) is not None
    assert answered > 100
    assert len(bmc.sessions) <= BMCConfig().max_sessions


def _rmcpp(payload_type: int, payload: bytes) -> bytes:
    return (b"\x06\x00\xff\x07\x06" + bytes([payload_type]) + bytes(8)
            + struct.pack("<H", len(payload)) + payload)


def test_rakp_status_codes() -> None:
    """Unknown user -> 0x0D, wrong RAKP3 code -> 0x0F, too many sessions -> 0x01."""
    bmc = BMC(0, BMCConfig(max_sessions=2))
    open_req = (b"\x07\x04\x00\x00\x11\x22\x33\x44" + bytes([0, 0, 0, 8, 3, 0, 0, 0])
                + bytes([1, 0, 0, 8, 4, 0, 0, 0]) + bytes([2, 0, 0, 8, 1, 0, 0, 0]))

    def open_session() -> bytes:
        rsp = bmc.handle(_rmcpp(0x10, open_req), 0.0)
        assert rsp is not None and rsp[5] == 0x11
        return rsp[16:]

    def rakp1(sid: bytes, name: bytes) -> bytes:
        rsp = bmc.handle(_rmcpp(0x12, b"\x08\x00\x00\x00" + sid + bytes(range(16))
                                + bytes([0x14, 0, 0, len(name)]) + name), 0.0)
        assert rsp is not None and rsp[5] == 0x13
        return rsp[16:]

    first = open_session()
    assert first[:4] == bytes([7, 0, 4, 0])
    assert first[4:8] == b"\x11\x22\x33\x44"
    assert (first[16], first[24], first[32]) == (3, 4, 1)  # cipher suite 17
    assert rakp1(first[8:12], b"nobody")[:2] == bytes([8, 0x0D])
    second = open_session()
    third = open_session()
    assert second[1] == third[1] == 0
    assert open_session()[1] == 0x01
    rakp2 = rakp1(second[8:12], b"admin")
    assert rakp2[:2] == bytes([8, 0x00])
    bad = bmc.handle(_rmcpp(0x14, b"\x09\x00\x00\x00" + second[8:12] + bytes(32)), 0.0)
    assert bad is not None and bad[5] == 0x15
    assert bad[16:18] == bytes([9, 0x0F])
    assert len(bmc.sessions) == 1
    assert open_session()[1] == 0


def test_presence_ping_gets_pong(farm: Farm) -> None:
    bmc = farm.bmc(0)
    ping = b"\x06\x00\xff\x06" + b"\x00\x00\x11\xbe" + b"\x80\x2a\x00\x00"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(ping, (bmc.address, bmc.port))
        pong, _ = s.recvfrom(512)
    assert pong[:4] == b"\x06\x00\xff\x06"
    assert pong[4:12] == b"\x00\x00\x11\xbe\x40\x2a\x00\x10"
    assert pong[20] == 0x81  # IPMI supported


# ---------------------------------------------------------------------- ipmitool


@needs_ipmitool
@pytest.mark.parametrize(("index", "cipher"), [(0, 3), (1, 17), (2, None)])
def test_power_on_off(farm: Farm, index: int, cipher: int | None) -> None:
    def run(*args: str) -> str:
        return ipmitool(farm, index, "chassis", "power", *args, cipher=cipher).stdout.strip()

    assert run("status") == "Chassis Power is off"
    assert run("on") == "Chassis Power Control: Up/On"
    assert run("status") == "Chassis Power is on"
    assert run("off") == "Chassis Power Control: Down/Off"
    assert run("status") == "Chassis Power is off"


@needs_ipmitool
def test_power_cycle_soft_reset_diag(farm: Farm) -> None:
    i = 3
    cycle_off = ipmitool(farm, i, "chassis", "power", "cycle", check=False)
    assert cycle_off.returncode != 0
    assert "Command not supported in present state" in cycle_off.stderr
    ipmitool(farm, i, "chassis", "power", "on")
    assert ipmitool(farm, i, "chassis", "power", "cycle").stdout.strip() == \
        "Chassis Power Control: Cycle"
    assert ipmitool(farm, i, "chassis", "power", "status").stdout.strip() == "Chassis Power is off"
    wait_for_power(farm, i, "on")
    assert ipmitool(farm, i, "chassis", "power", "reset").stdout.strip() == \
        "Chassis Power Control: Reset"
    assert ipmitool(farm, i, "chassis", "power", "diag").stdout.strip() == \
        "Chassis Power Control: Diag"
    assert ipmitool(farm, i, "chassis", "power", "soft").stdout.strip() == \
        "Chassis Power Control: Soft"
    assert ipmitool(farm, i, "chassis", "power", "status").stdout.strip() == "Chassis Power is on"
    wait_for_power(farm, i, "off")


@needs_ipmitool
def test_chassis_status_and_identify(farm: Farm) -> None:
    i = 4
    status = ipmitool(farm, i, "chassis", "status").stdout
    assert "System Power         : off" in status
    assert "Power Restore Policy : previous" in status

    def misc_state() -> str:
        return ipmitool(farm, i, "raw", "0x00", "0x01").stdout.split()[2]

    assert misc_state() == "40"
    assert "interval: 30 seconds" in ipmitool(farm, i, "chassis", "identify", "30").stdout
    assert misc_state() == "50"
    assert "indefinite" in ipmitool(farm, i, "chassis", "identify", "force").stdout
    assert misc_state() == "60"
    if IPMI_CHASSIS:
        bmc = farm.bmc(i)
        out = subprocess.run([IPMI_CHASSIS, "-D", "LAN_2_0", "-h", bmc.host, "-u", farm.user,
                              "-p", farm.password, "--get-chassis-status"],
                             capture_output=True, text=True, timeout=30).stdout
        assert "Chassis Identify state              : Indefinite on" in out
    assert "off" in ipmitool(farm, i, "chassis", "identify", "0").stdout
    assert misc_state() == "40"


@needs_ipmitool
def test_boot_device(farm: Farm) -> None:
    i = 4

    def param5() -> str:
        return ipmitool(farm, i, "chassis", "bootparam", "get", "5").stdout

    assert "Boot Device Selector : No override" in param5()
    assert ipmitool(farm, i, "chassis", "bootdev", "pxe").stdout.strip() == "Set Boot Device to pxe"
    out = param5()
    assert "Boot parameter data: 8004000000" in out
    assert "- Boot Flag Valid" in out
    assert "- Options apply to only next boot" in out
    assert "- Boot Device Selector : Force PXE" in out
    ipmitool(farm, i, "chassis", "bootdev", "disk", "options=persistent,efiboot")
    out = param5()
    assert "Boot parameter data: e008000000" in out
    assert "- Options apply to all future boots" in out
    assert "- BIOS EFI boot" in out
    assert "- Boot Device Selector : Force Boot from default Hard-Drive" in out
    ipmitool(farm, i, "chassis", "bootdev", "cdrom")
    assert "Force Boot from CD/DVD" in param5()
    ipmitool(farm, i, "chassis", "bootdev", "bios")
    assert "Boot parameter data: 8018000000" in param5()
    ipmitool(farm, i, "chassis", "power", "on")  # the host boots: one-time flags are used up
    out = param5()
    assert "Boot parameter data: 0018000000" in out
    assert "- Boot Flag Invalid" in out
    ipmitool(farm, i, "chassis", "power", "off")
    ipmitool(farm, i, "chassis", "bootdev", "none")
    assert "Boot Device Selector : No override" in param5()


@needs_ipmitool
def test_fru_print(farm: Farm) -> None:
    out = ipmitool(farm, 5, "fru", "print", "0", cipher=3).stdout
    fields = {k.strip(): v.strip() for k, _, v in
              (line.partition(":") for line in out.splitlines()) if v}
    assert fields["Chassis Type"] == "Rack Mount Chassis"
    assert fields["Chassis Serial"] == "CSN00005"
    assert fields["Board Mfg"] == "Acme"
    assert fields["Board Serial"] == "BSN00005"
    assert fields["Product Manufacturer"] == "Acme"
    assert fields["Product Name"] == "SimServer 1000"
    assert fields["Product Serial"] == "SN00005"
    assert fields["Product Asset Tag"] == "ASSET00005"


@needs_ipmitool
def test_sdr_and_sensor_values(farm: Farm) -> None:
    rows = [[c.strip() for c in line.split("|")]
            for line in ipmitool(farm, 5, "sdr", "list").stdout.splitlines()]
    assert rows == [["CPU Temp", "45 degrees C", "ok"],
                    ["PSU 12V Rail", "12.06 Volts", "ok"],
                    ["Fan1", "6300 RPM", "ok"],
                    ["Sys Power", "210 Watts", "ok"]]
    rows = [[c.strip() for c in line.split("|")]
            for line in ipmitool(farm, 6, "sdr", "elist").stdout.splitlines()]
    assert rows == [["CPU Temp", "01h", "ok", "3.1", "46 degrees C"],
                    ["PSU 12V Rail", "02h", "ok", "10.1", "12.12 Volts"],
                    ["Fan1", "03h", "ok", "29.1", "6360 RPM"],
                    ["Sys Power", "04h", "ok", "7.1", "212 Watts"]]
    rows = [[c.strip() for c in line.split("|")]
            for line in ipmitool(farm, 6, "sensor", "list").stdout.splitlines()]
    assert rows[0] == ["CPU Temp", "46.000", "degrees C", "ok", "1.000", "5.000", "10.000",
                       "80.000", "90.000", "100.000"]
    assert rows[1][:4] == ["PSU 12V Rail", "12.120", "Volts", "ok"]


@needs_ipmitool
def test_sel_list_and_clear(farm: Farm) -> None:
    i = 6
    rows = [[c.strip() for c in line.split("|")]
            for line in ipmitool(farm, i, "sel", "list").stdout.splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert rows[0][3:] == ["Temperature #0x01", "Upper Non-critical going high", "Asserted"]
    assert rows[1][3:] == ["Temperature #0x01", "Upper Non-critical going high", "Deasserted"]
    assert rows[2][3:] == ["Power Unit #0x10", "Power off/down", "Asserted"]
    assert "Entries          : 3" in ipmitool(farm, i, "sel", "info").stdout
    assert "Clearing SEL" in ipmitool(farm, i, "sel", "clear").stdout
    rows = [[c.strip() for c in line.split("|")]
            for line in ipmitool(farm, i, "sel", "list").stdout.splitlines()]
    assert [r[3:] for r in rows] == [["Event Logging Disabled #0x11", "Log area reset/cleared",
                                      "Asserted"]]
    assert "Entries          : 1" in ipmitool(farm, i, "sel", "info").stdout
    stamp = ipmitool(farm, i, "sel", "time", "get").stdout.strip()
    assert time.strptime(stamp, "%m/%d/%y %H:%M:%S UTC").tm_year >= 2024


@needs_ipmitool
def test_mc_info_and_guid(farm: Farm) -> None:
    out = ipmitool(farm, 2, "mc", "info", cipher=17).stdout
    assert "IPMI Version              : 2.0" in out
    assert "Firmware Revision         : 1.23" in out
    assert "Product ID                : 4096 (0x1000)" in out
    assert "Chassis Device" in out
    for i in (2, 3):
        out = ipmitool(farm, i, "mc", "guid").stdout
        expect = uuid.uuid5(uuid.NAMESPACE_DNS, f"bmc{i}.bmcsim.invalid")
        assert f"System GUID   : {expect}" in out
        assert "GUID Encoding : IPMI" in out


@needs_ipmitool
def test_authentication_failures(farm: Farm) -> None:
    assert IPMITOOL is not None
    bmc = farm.bmc(0)
    base = [IPMITOOL, "-v", "-N", "1", "-R", "1", "-I", "lanplus", "-H", bmc.address,
            "-p", str(bmc.port)]

    def attempt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args, "chassis", "power", "status"],
                              capture_output=True, text=True, timeout=30)

    wrong_password = attempt("-U", farm.user, "-P", "not-it")
    assert wrong_password.returncode != 0
    assert "RAKP 2 HMAC is invalid" in wrong_password.stderr + wrong_password.stdout
    unknown_user = attempt("-U", "nobody", "-P", farm.password)
    assert unknown_user.returncode != 0
    assert "unauthorized name" in unknown_user.stderr
    for cipher, message in ((0, "invalid authentication algorithm"),
                            (1, "invalid integrity algorithm"),
                            (2, "invalid confidentiality algorithm")):
        proc = attempt("-U", farm.user, "-P", farm.password, "-C", str(cipher))
        assert proc.returncode != 0
        assert message in proc.stderr + proc.stdout


@needs_ipmitool
def test_privilege_levels(farm: Farm) -> None:
    user = ipmitool(farm, 5, "chassis", "power", "on", extra=("-L", "USER"), check=False)
    assert user.returncode != 0
    assert "Insufficient privilege level" in user.stderr
    assert ipmitool(farm, 5, "chassis", "power", "status", extra=("-L", "USER")).stdout.strip() \
        == "Chassis Power is off"
    assert ipmitool(farm, 5, "chassis", "power", "on", extra=("-L", "OPERATOR")).stdout.strip() \
        == "Chassis Power Control: Up/On"
    ipmitool(farm, 5, "chassis", "power", "off")


@needs_ipmitool
def test_flip_changes_power_between_calls(farm: Farm) -> None:
    seen = [ipmitool(farm, FLIP, "chassis", "power", "status").stdout.strip() for _ in range(3)]
    assert seen == ["Chassis Power is off", "Chassis Power is on", "Chassis Power is off"]


@needs_ipmitool
@pytest.mark.skipif(shutil.which("stdbuf") is None, reason="stdbuf not installed")
def test_session_limit_and_inactivity_timeout(tmp_path: Path) -> None:
    assert IPMITOOL is not None
    with start_farm(1, workdir=tmp_path, max_sessions=2, session_timeout=2.0) as f:
        shells: list[subprocess.Popen[str]] = []
        try:
            for n in range(2):
                out = tmp_path / f"shell{n}.out"
                with open(out, "w") as sink:
                    shells.append(subprocess.Popen(
                        ["stdbuf", "-o0", IPMITOOL, *f.ipmitool(0), "shell"],
                        stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT, text=True))
                deadline = time.monotonic() + 10
                while "ipmitool>" not in out.read_text() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert "ipmitool>" in out.read_text(), out.read_text()
            full = ipmitool(f, 0, "chassis", "power", "status", check=False)
            assert full.returncode != 0
            assert "insufficient resources for session" in full.stderr
            for shell in shells:
                shell.kill()  # the sessions are never closed
                shell.wait(5)
            assert ipmitool(f, 0, "chassis", "power", "status", check=False).returncode != 0
            time.sleep(2.2)
            assert ipmitool(f, 0, "chassis", "power", "status").stdout.strip() == \
                "Chassis Power is off"
        finally:
            for shell in shells:
                if shell.poll() is None:
                    shell.kill()
                    shell.wait(5)


@needs_ipmitool
def test_fru_read_limit(tmp_path: Path) -> None:
    with start_farm(1, workdir=tmp_path, fru_limit=16) as f:
        big = ipmitool(f, 0, "raw", "0x0a", "0x11", "0", "0", "0", "32", check=False)
        assert big.returncode != 0
        assert "rsp=0xc8" in big.stderr
        small = ipmitool(f, 0, "raw", "0x0a", "0x11", "0", "0", "0", "8").stdout.split()
        assert small == ["08", "01", "00", "01", "05", "0b", "00", "00", "ee"]
        assert "Product Serial        : SN00000" in ipmitool(f, 0, "fru", "print", "0").stdout


# ---------------------------------------------------------------------- ipmipower


@needs_ipmipower
def test_ipmipower_on_many(tmp_path: Path) -> None:
    with start_farm(150, workdir=tmp_path, processes=2) as f:
        addresses = [b.address for b in f.bmcs]
        assert len(set(addresses)) == 150
        assert ipmipower(f, f.hosts, "--stat") == dict.fromkeys(addresses, "off")
        assert ipmipower(f, f.hosts, "--on") == dict.fromkeys(addresses, "ok")
        assert ipmipower(f, f.hosts, "--stat") == dict.fromkeys(addresses, "on")
        assert ipmipower(f, f.hosts[:50], "--off") == dict.fromkeys(addresses[:50], "ok")
        expect = {a: ("off" if n < 50 else "on") for n, a in enumerate(addresses)}
        assert ipmipower(f, f.hosts, "--stat") == expect
        wrong = ipmipower(f, f.hosts[:3], "--stat", "-p", "nope")
        assert wrong == dict.fromkeys(addresses[:3], "password invalid")
        workers = f.ready["workers"]
        assert isinstance(workers, list) and len(workers) == 2
    assert f.process.returncode == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@needs_ipmipower
def test_ipmipower_thousand_bmcs(tmp_path: Path) -> None:
    with start_farm(1000, workdir=tmp_path, processes=2, power="on") as f:
        started = time.monotonic()
        result = ipmipower(f, f.hosts, "--stat")
        elapsed = time.monotonic() - started
        assert result == dict.fromkeys((b.address for b in f.bmcs), "on")
        assert elapsed < 20, f"ipmipower --stat on 1000 BMCs took {elapsed:.1f}s"


@needs_ipmitool
@needs_ipmipower
def test_faults(tmp_path: Path) -> None:
    assert IPMITOOL is not None
    with start_farm(40, workdir=tmp_path, dead="1", garbage="2", loss=0.1, seed=7) as f:
        started = time.monotonic()
        broken = {i: subprocess.Popen([IPMITOOL, "-N", "1", "-R", "1", *f.ipmitool(i), "chassis",
                                       "power", "status"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                  for i in (1, 2)}
        try:
            result = ipmipower(f, f.hosts, "--stat", "--session-timeout", "6000",
                               "--retransmission-timeout", "500")
            for proc in broken.values():
                out, err = proc.communicate(timeout=30)
                assert proc.returncode != 0
                assert "Unable to establish IPMI v2 / RMCP+ session" in err
        finally:
            for proc in broken.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)
        assert time.monotonic() - started < 30
        expect = dict.fromkeys((b.address for b in f.bmcs), "off")
        expect[f.bmc(1).address] = "connection timeout"
        expect[f.bmc(2).address] = "connection timeout"
        assert result == expect
    stats = [json.loads(line.split(":", 1)[1]) for line in f.log().splitlines()
             if line.startswith("bmcsim stats:")]
    assert len(stats) == 1
    assert stats[0]["ignored"] >= 2  # the dead BMC heard ipmitool and ipmipower
    assert stats[0]["lost"] >= 10  # about a tenth of some 300 packets
    assert stats[0]["errors"] == 0


@needs_ipmitool
def test_slow_bmc_answers_late(farm: Farm) -> None:
    started = time.monotonic()
    assert ipmitool(farm, SLOW, "chassis", "power", "status", extra=("-N", "2")).stdout.strip() \
        == "Chassis Power is off"
    assert time.monotonic() - started > 5 * SLOW_DELAY
