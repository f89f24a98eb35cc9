"""Simulated BMCs for tests: OpenIPMI's ``ipmi_sim`` on 127.0.0.1.

``start_ipmisim(workdir, count=N)`` is a context manager that starts N
separate ``ipmi_sim`` processes, each a complete BMC on its own UDP port
with its own state, and stops every one of them on the way out, whatever
happened inside::

    with start_ipmisim(tmp_path / "sim", count=2, power="on") as sim:
        for bmc in sim:
            subprocess.run([*bmc.ipmitool_argv(), "chassis", "power", "status"])
        sim.port          # with count=1 the instance's fields read directly

To make it a pytest fixture (conftest.py is not ours to edit)::

    @pytest.fixture
    def ipmisim(tmp_path):
        if missing := ipmisim_missing_tools():
            pytest.skip(f"ipmi_sim peer unavailable: {', '.join(missing)} not installed")
        with start_ipmisim(tmp_path / "ipmisim") as sim:
            yield sim

Each instance has (see ``tests/peers/ipmisim/``):

* ``lan.conf`` (from ``lan.conf.in``): 127.0.0.1 and a port found free by
  binding it, user 2 = ``user``/``password`` with admin rights, its own GUID,
  and ``chassis_control.sh`` as the chassis-control program;
* ``bmc.emu`` (from ``bmc.emu.in``): the MC, a SEL preloaded with three
  events, four threshold sensors (CPU Temp 45 degrees C, Fan1 6000 RPM,
  PSU 12V Rail 12.10 V, Pwr Consumption 210 W) and FRU device 0;
* ``fru.bin`` written by ``mkfru.py``: product serial ``SIM-SN-0001``,
  ``SIM-SN-0002``, ... (board serial ``SIM-BSN-000N``, asset tag
  ``ASSET-000N``, chassis serial ``SIM-CSN-000N``);
* the SDR repository: ``sensors.sdrs`` is compiled with ``sdrcomp`` each time
  the fixture starts (it takes milliseconds; no compiled file is shipped)
  and copied to ``state/ipmi_sim/<name>/sdr.20.main``;
* ``chassis.state``: ``key=value`` lines (``power`` 0/1, ``boot``,
  ``identify``, ``resets``, ``softoffs``) kept by ``chassis_control.sh``;
  each call ipmi_sim makes to it is appended to ``chassis.state.log``.

What ipmi_sim 2.0.33 does (measured here; tests/test_ipmisim_peer.py pins
each one down):

* RMCP+ only with cipher suite 3 (HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128).
  Suite 17 fails with "invalid authentication algorithm"; a client that
  offers SHA256 first has to fall back on its own.
* No Get Channel Cipher Suites: ipmitool without ``-C 3`` prints "Unable to
  Get Channel Cipher Suites" after 10 s (3 s with ``-N 1 -R 2``) and only
  then works. Always pass ``-C 3``.
* freeipmi (ipmi-sensors, ipmipower) needs ``-D LAN_2_0 -W opensesspriv``
  and ``-h 127.0.0.1:PORT``; ipmipower reports the host without the port.
  ipmi-sensors caches SDRs per host:port under ~/.freeipmi unless given
  ``--sdr-cache-directory``.
* Read FRU Data asking for more than 34 bytes is refused with completion
  code 0xC8 (request data length exceeded). ipmitool shrinks its reads and
  copes; pyghmi 1.6.19 only backs off on 0xC9/0xCA, so its
  ``get_inventory()`` fails unless that code is mapped.
* Chassis control runs the program (argv split as shown) as
  ``get power`` (answer ``power:0|1``), on = ``set power 1``, off =
  ``set power 0``, cycle = ``set power 0`` and about one second later
  ``set power 1``, reset = ``set reset 1`` (power untouched), soft off =
  ``set shutdown 1`` (power untouched: the program decides; ours turns it
  off), identify = ``set identify "<seconds> <force>"`` with both numbers in
  ONE argument (plain ``chassis identify``: ``"15 0"``, ``force``:
  ``"0 1"``, ``0``: ``"0 0"``). Chassis control 4 (diagnostic interrupt,
  i.e. NMI) is refused with 0xCC. Without a chassis-control program, power
  on/off is refused with 0xCC.
* Boot device: Get and Set System Boot Options parameter 5 become
  ``get boot`` and ``set boot <dev>``, ``<dev>`` one of ``none``, ``pxe``,
  ``default`` (hard disk), ``cdrom``, ``bios``; any other answer to
  ``get boot`` makes the Get fail with 0xFF. Only the device is kept: the
  valid, persistent and EFI bits of byte 1 always read back as 0, and
  parameter 4 (boot info acknowledge) cannot be set.
* SEL entries can be preloaded with ``sel_add`` in the .emu (``sel_enable``
  first), but ipmi_sim ignores the timestamp bytes given and stamps each
  entry with its own SEL clock, which counts from boot (CLOCK_MONOTONIC),
  so clients print "Pre-Init"/"PostInit". The SEL is saved to
  ``state/ipmi_sim/<name>/sel.20``: a reused state dir would accumulate
  entries (every start here uses a fresh one).
* User changes over IPMI (Set User Password ...) apply at once. ipmi_sim(1)
  says they are persisted in the state dir (``users.mc20``) and then win
  over lan.conf; 2.0.33 wrote no such file in our runs, but a fresh state
  dir per start rules the question out.
* Every SDR ``id_string`` needs a lowercase letter: sdrcomp packs an
  all-capitals/digits name as 6-bit ASCII, which clients print as garbage.
* ipmi_sim answers on 127.0.0.1 within about 0.1 s of being started and
  exits at once on SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

PEER_DIR = Path(__file__).resolve().parent / "peers" / "ipmisim"
HOST = "127.0.0.1"
TOOLS = ("ipmi_sim", "sdrcomp")
READY_TIMEOUT = 5.0
STOP_TIMEOUT = 2.0
START_ATTEMPTS = 3
BMC_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_GUID_NS = uuid.UUID("6f1d0c52-9a4e-4c55-8f55-1c2c7a1b0b11")

# Get Channel Authentication Capabilities (netfn App, cmd 0x38) for
# channel 0xE (this one) at admin level, IPMI 2.0 bit set, inside an RMCP
# packet with an unauthenticated IPMI 1.5 session header. Any BMC answers it
# before login, so it tells whether ipmi_sim is listening yet.
# RMCP 06 00 ff 07 | auth none, seq 0, session 0, length 9 | 20 18 c8 81 00 38
# 8e 04 b5 (rsAddr, netfn/lun, checksum, rqAddr, seq, cmd, data, checksum).
_AUTH_CAPS_PING = bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5")


class IpmiSimError(RuntimeError):
    """An ipmi_sim instance could not be set up or did not answer in time."""


def ipmisim_missing_tools() -> list[str]:
    """The programs the fixture needs that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@dataclass(frozen=True)
class SimBmc:
    """One running ipmi_sim instance."""

    index: int  #: 1-based number within the fleet
    name: str  #: the BMC name in lan.conf (also its state subdirectory)
    host: str
    port: int
    user: str
    password: str
    serial: str  #: FRU product serial, e.g. SIM-SN-0001
    board_serial: str
    chassis_serial: str
    asset_tag: str
    product_name: str
    manufacturer: str
    guid: str  #: 32 hex digits as written in lan.conf (ipmitool prints them reversed)
    workdir: Path  #: this instance's directory
    state_file: Path  #: chassis state (power, boot, identify, ...) kept by chassis_control.sh
    log_file: Path  #: every chassis_control.sh call, one per line
    pid: int

    def state(self) -> dict[str, str]:
        """The chassis state file as a dict (``power`` is ``"0"`` or ``"1"``)."""
        out: dict[str, str] = {}
        try:
            text = self.state_file.read_text()
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                out[key] = value
        return out

    @property
    def power(self) -> str:
        """``"on"`` or ``"off"``, read straight from the state file."""
        return "on" if self.state().get("power") == "1" else "off"

    def calls(self) -> list[str]:
        """The chassis-control calls so far (without the state file argument)."""
        try:
            return self.log_file.read_text().splitlines()
        except FileNotFoundError:
            return []

    def ipmitool_argv(self) -> list[str]:
        return [
            "ipmitool", "-I", "lanplus", "-C", "3", "-N", "1", "-R", "2",
            "-H", self.host, "-p", str(self.port), "-U", self.user, "-P", self.password,
        ]  # fmt: skip

    def freeipmi_argv(self, tool: str) -> list[str]:
        """Arguments for a freeipmi tool (``ipmi-sensors``, ``ipmipower``, ...)."""
        return [
            tool, "-D", "LAN_2_0", "-W", "opensesspriv", "-l", "ADMIN",
            "-h", f"{self.host}:{self.port}", "-u", self.user, "-p", self.password,
        ]  # fmt: skip


@dataclass
class IpmiSimFleet(Sequence[SimBmc]):
    """What ``start_ipmisim`` yields: the instances, in order.

    Indexable and iterable; with a single instance its fields (``host``,
    ``port``, ``serial``, ``state_file``, ...) can be read on the fleet too.
    """

    workdir: Path
    bmcs: list[SimBmc] = field(default_factory=list)
    sdr_file: Path | None = None

    def __getitem__(self, i):  # type: ignore[override]
        return self.bmcs[i]

    def __len__(self) -> int:
        return len(self.bmcs)

    def __getattr__(self, name: str) -> Any:
        bmcs = self.__dict__.get("bmcs")
        if bmcs is not None and len(bmcs) == 1 and not name.startswith("_"):
            return getattr(bmcs[0], name)
        raise AttributeError(name)


def _load_mkfru():
    spec = spec_from_file_location("_ipmisim_mkfru", PEER_DIR / "mkfru.py")
    assert spec and spec.loader
    module = sys.modules.get(spec.name)
    if module is None:
        module = module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def _free_udp_ports(count: int, avoid: set[int]) -> list[int]:
    """``count`` distinct UDP ports on 127.0.0.1 that bind right now."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((HOST, 0))
            port = s.getsockname()[1]
            if port not in avoid:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", template)
    if left:
        raise IpmiSimError(f"template fields not filled: {left}")
    return template


def _check_conf_value(label: str, value: str, limit: int) -> None:
    if not value or len(value.encode()) > limit or re.search(r'["\s\\]', value):
        raise IpmiSimError(f"{label} must be 1-{limit} bytes without quotes or spaces: {value!r}")


def _answers(port: int, timeout: float) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(_AUTH_CAPS_PING, (HOST, port))
            data = s.recv(512)
        except OSError:  # timeout or ICMP port unreachable
            return False
    return len(data) > 4 and data[:4] == b"\x06\x00\xff\x07"


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # own session, so its group id is its pid
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)


def _stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process (and its group), then SIGKILL what is left.

    Each of the two waits is bounded by STOP_TIMEOUT for the whole lot.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            return
        for proc in alive:
            _signal(proc, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in alive:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


@contextmanager
def start_ipmisim(
    workdir: Path,
    *,
    count: int = 1,
    user: str = "admin",
    password: str = "secret",
    power: str = "off",
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[IpmiSimFleet]:
    """Run ``count`` ipmi_sim BMCs on 127.0.0.1 for the duration of the block.

    ``workdir`` is created if needed and must hold no previous run (each
    instance gets ``workdir/bmcN``). ``power`` ("on"/"off") is the initial
    chassis power of every instance. Raises ``IpmiSimError`` when a tool is
    missing or an instance does not answer within ``ready_timeout`` seconds;
    every process started is stopped in all cases.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if power not in ("on", "off"):
        raise ValueError(f"power must be 'on' or 'off', not {power!r}")
    _check_conf_value("user", user, 16)
    _check_conf_value("password", password, 20)
    if missing := ipmisim_missing_tools():
        raise IpmiSimError(f"not installed: {', '.join(missing)}")
    workdir = Path(workdir).resolve()
    if re.search(r'[\s"]', str(workdir)):
        raise IpmiSimError(f"ipmi_sim config cannot name a path with spaces: {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)

    sdr_file = workdir / "sdrs.bin"
    comp = subprocess.run(
        ["sdrcomp", "-o", str(sdr_file), str(PEER_DIR / "sensors.sdrs")],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    if comp.returncode != 0 or not sdr_file.is_file():
        raise IpmiSimError(f"sdrcomp failed: {comp.stderr.strip()}")

    mkfru = _load_mkfru()
    lan_tpl = (PEER_DIR / "lan.conf.in").read_text()
    emu_tpl = (PEER_DIR / "bmc.emu.in").read_text()
    control = PEER_DIR / "chassis_control.sh"

    fleet = IpmiSimFleet(workdir=workdir, sdr_file=sdr_file)
    procs: list[subprocess.Popen] = []
    try:
        # Write every instance's files first.
        plans = []
        for index in range(1, count + 1):
            name = f"bmc{index}"
            inst = workdir / name
            if inst.exists():
                raise IpmiSimError(f"{inst} exists: give each run a fresh workdir")
            statedir = inst / "state"
            (statedir / "ipmi_sim" / name).mkdir(parents=True)
            shutil.copyfile(sdr_file, statedir / "ipmi_sim" / name / "sdr.20.main")
            info = mkfru.FruInfo(
                product_serial=f"SIM-SN-{index:04d}",
                board_serial=f"SIM-BSN-{index:04d}",
                chassis_serial=f"SIM-CSN-{index:04d}",
                asset_tag=f"ASSET-{index:04d}",
            )
            fru = inst / "fru.bin"
            fru.write_bytes(mkfru.build_fru(info, 256))
            state_file = inst / "chassis.state"
            state_file.write_text(f"power={1 if power == 'on' else 0}\nboot=none\n")
            emu = inst / "bmc.emu"
            emu.write_text(_fill(emu_tpl, {"FRU_FILE": str(fru), "FRU_SIZE": "256"}))
            guid = uuid.uuid5(_GUID_NS, name).hex
            plans.append((index, name, inst, statedir, info, state_file, emu, guid))

        used: set[int] = set()
        pending = list(plans)
        for _attempt in range(START_ATTEMPTS):
            if not pending:
                break
            ports = _free_udp_ports(len(pending), used)
            started = []
            for plan, port in zip(pending, ports, strict=True):
                index, name, inst, statedir, info, state_file, emu, guid = plan
                used.add(port)
                conf = inst / "lan.conf"
                conf.write_text(
                    _fill(
                        lan_tpl,
                        {
                            "NAME": name,
                            "PORT": str(port),
                            "GUID": guid,
                            "CHASSIS_CONTROL": f"/bin/sh {control}",
                            "STATE_FILE": str(state_file),
                            "USER": user,
                            "PASSWORD": password,
                        },
                    )
                )
                logfile = inst / "ipmi_sim.log"
                with open(logfile, "ab") as log:
                    proc = subprocess.Popen(
                        ["ipmi_sim", "-n", "-c", str(conf), "-f", str(emu), "-s", str(statedir)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        cwd=inst, start_new_session=True,
                    )  # fmt: skip
                procs.append(proc)
                started.append((plan, port, proc))

            # Wait (bounded) until each one answers; one that died is retried
            # on another port, in case something took its port meanwhile.
            deadline = time.monotonic() + ready_timeout
            waiting = list(started)
            pending = []
            while waiting:
                still = []
                for plan, port, proc in waiting:
                    if proc.poll() is not None:
                        pending.append(plan)
                    elif _answers(port, 0.05):
                        fleet.bmcs.append(_instance(plan, port, proc, user, password))
                    else:
                        still.append((plan, port, proc))
                waiting = still
                if waiting and time.monotonic() > deadline:
                    plan, port, proc = waiting[0]
                    raise IpmiSimError(
                        f"ipmi_sim {plan[1]} on {HOST}:{port} did not answer within "
                        f"{ready_timeout:g} s; log:\n{_tail(plan[2] / 'ipmi_sim.log')}"
                    )
                if waiting:
                    time.sleep(0.02)
        if pending:
            raise IpmiSimError(
                f"ipmi_sim {pending[0][1]} kept exiting at startup; log:\n"
                f"{_tail(pending[0][2] / 'ipmi_sim.log')}"
            )
        fleet.bmcs.sort(key=lambda b: b.index)
        yield fleet
    finally:
        _stop_all(procs)


def _instance(plan, port: int, proc: subprocess.Popen, user: str, password: str) -> SimBmc:
    index, name, inst, _statedir, info, state_file, _emu, guid = plan
    return SimBmc(
        index=index,
        name=name,
        host=HOST,
        port=port,
        user=user,
        password=password,
        serial=info.product_serial,
        board_serial=info.board_serial,
        chassis_serial=info.chassis_serial,
        asset_tag=info.asset_tag,
        product_name=info.product_name,
        manufacturer=info.manufacturer,
        guid=guid,
        workdir=inst,
        state_file=state_file,
        log_file=Path(f"{state_file}.log"),
        pid=proc.pid,
    )
