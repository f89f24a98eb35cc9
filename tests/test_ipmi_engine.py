"""The IPMI engine against real peers: OpenIPMI's ipmi_sim, cross-checked
with ipmitool (lanplus, cipher suite 3).

Every simulator is started by ``tests.ipmisim.start_ipmisim`` and stopped on
the way out; every wait is bounded.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ipmisim import ipmisim_missing_tools, start_ipmisim
from xcatpy.ipmi import ops, rmcp
from xcatpy.ipmi.engine import (
    Bmc,
    Engine,
    IpmiAuthError,
    IpmiError,
    IpmiTimeout,
)

TIMEOUT = 0.5  # per packet, for the tests
RETRIES = 2

needs_sim = pytest.mark.skipif(
    bool(ipmisim_missing_tools()) or shutil.which("ipmitool") is None,
    reason="ipmi_sim/sdrcomp/ipmitool not installed",
)


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine()
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory):
    if ipmisim_missing_tools() or shutil.which("ipmitool") is None:
        pytest.skip("ipmi_sim peer unavailable")
    with start_ipmisim(tmp_path_factory.mktemp("ipmisim"), count=3) as fleet:
        yield fleet


def bmc_of(sim, password: str | None = None) -> Bmc:
    return Bmc(sim.host, sim.port, sim.user, sim.password if password is None else password)


def ipmitool(sim, *args: str) -> str:
    r = subprocess.run([*sim.ipmitool_argv(), *args], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def wait_until(pred, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- codec
def test_ipmi_message_framing_round_trip() -> None:
    msg = rmcp.ipmi_request(0x06, 0x01, 5, b"\x01\x02")
    assert msg[0] == 0x20 and msg[1] == 0x18 and rmcp.checksum(msg[:2]) == msg[2]
    assert rmcp.checksum(msg[3:-1]) == msg[-1]
    # Build the matching response by hand and parse it.
    head = bytes([0x81, 0x07 << 2])
    body = bytes([0x20, 5 << 2, 0x01, 0x00, 0xAA])
    rsp = head + bytes([rmcp.checksum(head)]) + body + bytes([rmcp.checksum(body)])
    r = rmcp.parse_ipmi_response(rsp)
    assert (r.netfn, r.seq, r.cmd, r.code, r.data) == (7, 5, 1, 0, b"\xaa")
    with pytest.raises(rmcp.CodecError):
        rmcp.parse_ipmi_response(rsp[:-1] + b"\x00")


@pytest.mark.parametrize("n", range(0, 40))
def test_confidentiality_pad_and_aes_round_trip(n: int) -> None:
    assert (n + len(rmcp.aes_pad(n))) % 16 == 0
    key = bytes(range(20))
    data = os.urandom(n)
    assert rmcp.decrypt_payload(key, rmcp.encrypt_payload(key, data)) == data


@pytest.mark.parametrize("suite", [rmcp.SUITE_3, rmcp.SUITE_17])
def test_session_packet_integrity(suite: rmcp.CipherSuite) -> None:
    k1, k2 = os.urandom(suite.icv_len + 4), os.urandom(20)
    pkt = rmcp.rmcpp_session_packet(suite, k1, k2, 0x1234, 7, b"hello")
    assert (len(pkt) - 4 - suite.icv_len) % 4 == 0  # integrity pad
    sp = rmcp.parse_session_packet(suite, k1, k2, pkt)
    assert (sp.ptype, sp.session_id, sp.seq, sp.payload) == (0, 0x1234, 7, b"hello")
    bad = bytearray(pkt)
    bad[20] ^= 1
    with pytest.raises(rmcp.CodecError):
        rmcp.parse_session_packet(suite, k1, k2, bytes(bad))


def test_status_and_completion_texts() -> None:
    assert rmcp.status_text(0x0D) == "unauthorized name"
    assert rmcp.completion_text(0xC8) == "request data field length limit exceeded"
    assert "0x42" in rmcp.completion_text(0x42)


def test_password_not_in_repr() -> None:
    b = Bmc("127.0.0.1", 623, "admin", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(b) and "s3cr3t-pw" not in str(b)
    assert "s3cr3t-pw" not in repr(b.cache_key())


def test_import_is_cheap() -> None:
    code = ("import sys, xcatpy.ipmi; "
            "print(any(m.startswith(('pyghmi', 'asyncio')) for m in sys.modules))")
    out = subprocess.run([".venv/bin/python" if os.path.exists(".venv/bin/python")
                          else "python3", "-c", code], capture_output=True, text=True,
                         timeout=30, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------- login
@needs_sim
def test_login_falls_back_to_suite_3_and_remembers(sims, engine: Engine) -> None:
    sim = sims[0]
    s = engine.run(engine.session(bmc_of(sim), TIMEOUT, RETRIES))
    assert s.suite == 3 and s.logins == 1
    assert engine._suites[(sim.host, sim.port)] == 3
    # A second login (after dropping the session) proposes suite 3 directly:
    # Open Session, RAKP 1, RAKP 3 = 3 packets (the privilege is raised
    # only when a command first needs more than USER).
    engine.run(engine.drop(bmc_of(sim)))
    before = engine.stats["sent"]
    s2 = engine.run(engine.session(bmc_of(sim), TIMEOUT, RETRIES))
    assert s2.logins == 1 and engine.stats["sent"] - before == 3
    # A USER-level read goes out alone; the first ADMIN-level command is
    # preceded by Set Session Privilege Level, once.
    before = engine.stats["sent"]
    assert engine.run(ops.get_power(s2)) in ("on", "off")
    assert engine.stats["sent"] - before == 1
    before = engine.stats["sent"]
    engine.run(ops.identify(s2, False))
    engine.run(ops.identify(s2, False))
    assert engine.stats["sent"] - before == 3


@needs_sim
def test_wrong_password_is_an_auth_error_without_the_password(sims, engine: Engine) -> None:
    secret = "wr0ng-Pa55"
    with pytest.raises(IpmiAuthError) as ei:
        engine.run(engine.session(bmc_of(sims[0], secret), TIMEOUT, RETRIES))
    assert "invalid password" in str(ei.value)
    assert secret not in str(ei.value) and secret not in repr(ei.value)
    with pytest.raises(IpmiAuthError, match="unauthorized name"):
        engine.run(engine.session(Bmc(sims[0].host, sims[0].port, "nosuchuser", "x"),
                                  TIMEOUT, RETRIES))
    assert engine.cached_sessions() == 0


@needs_sim
def test_session_is_reused_and_logins_are_shared(sims, engine: Engine) -> None:
    b = bmc_of(sims[1])

    async def power() -> str:
        return await ops.get_power(await engine.session(b, TIMEOUT, RETRIES))

    async def many() -> list[str]:
        import asyncio

        return list(await asyncio.gather(*(power() for _ in range(20))))

    states = engine.run(many())
    assert len(set(states)) == 1
    assert engine.stats["logins"] == 1  # twenty concurrent callers, one login
    engine.run(power())
    assert engine.stats["logins"] == 1


# ---------------------------------------------------------------- chassis
@needs_sim
def test_power_matches_ipmitool_both_ways(sims, engine: Engine) -> None:
    sim = sims[0]

    async def act(action: str | None) -> str:
        s = await engine.session(bmc_of(sim), TIMEOUT, RETRIES)
        if action:
            await ops.set_power(s, action)
        return await ops.get_power(s)

    assert engine.run(act("on")) == "on"
    assert "Chassis Power is on" in ipmitool(sim, "chassis", "power", "status")
    ipmitool(sim, "chassis", "power", "off")
    assert engine.run(act(None)) == "off"
    engine.run(act("on"))
    n = len(sim.calls())
    engine.run(act("cycle"))
    # ipmi_sim turns power off, then on again about a second later.
    assert wait_until(lambda: sim.calls()[n:].count("set power 1") >= 1, 5)
    assert "set power 0" in sim.calls()[n:]
    assert wait_until(lambda: engine.run(act(None)) == "on", 5)
    engine.run(act("off"))
    assert "Chassis Power is off" in ipmitool(sim, "chassis", "power", "status")


@needs_sim
def test_bootdev_matches_ipmitool(sims, engine: Engine) -> None:
    sim = sims[0]
    selector = {"net": "Force PXE", "cd": "Force Boot from CD/DVD",
                "setup": "Force Boot into BIOS Setup"}

    async def set_get(dev: str) -> ops.BootDev:
        s = await engine.session(bmc_of(sim), TIMEOUT, RETRIES)
        await ops.set_bootdev(s, dev)
        return await ops.get_bootdev_detail(s)

    for dev, text in selector.items():
        got = engine.run(set_get(dev))
        assert got.selector == dev
        out = ipmitool(sim, "chassis", "bootparam", "get", "5")
        assert f"Boot Device Selector : {text}" in out
        # ipmi_sim keeps only the device: the valid bit reads back clear,
        # so the effective device is "def", as ipmitool's "Boot Flag Invalid" says.
        assert got.valid == ("Boot Flag Valid" in out)
        assert got.device == (dev if got.valid else "def")
    ipmitool(sim, "chassis", "bootdev", "pxe")
    assert engine.run(set_get("net")).selector == "net"


@needs_sim
def test_identify(sims, engine: Engine) -> None:
    sim = sims[2]

    async def ident(on: bool | None, interval: int = 15) -> None:
        await ops.identify(await engine.session(bmc_of(sim), TIMEOUT, RETRIES), on, interval)

    engine.run(ident(True))
    assert sim.state().get("identify") == "0 1"
    engine.run(ident(None, 10))
    assert sim.state().get("identify") == "10 0"
    engine.run(ident(False))
    assert sim.state().get("identify") == "0 0"
    state = engine.run(_with_session(engine, sim, ops.get_identify))
    assert state in ("on", "off", "timed", "unknown")


async def _with_session(engine: Engine, sim, fn):
    return await fn(await engine.session(bmc_of(sim), TIMEOUT, RETRIES))


@needs_sim
def test_nmi_refusal_is_a_readable_command_error(sims, engine: Engine) -> None:
    async def nmi() -> None:
        await ops.set_power(await engine.session(bmc_of(sims[2]), TIMEOUT, RETRIES), "nmi")

    with pytest.raises(IpmiError, match=r"power nmi failed: invalid data field in request"):
        engine.run(nmi())


# ---------------------------------------------------------------- pyghmi bridge
@needs_sim
def test_bridge_inventory_sensors_and_event_log(sims, engine: Engine) -> None:
    from xcatpy.ipmi.bridge import command_for

    sim = sims[1]
    cmd = command_for(engine, bmc_of(sim), TIMEOUT, RETRIES)
    name, info = next(iter(cmd.get_inventory()))
    fru = ipmitool(sim, "fru", "print")
    serial = re.search(r"Product Serial\s*:\s*(\S+)", fru).group(1)
    assert info["Serial Number"] == serial == sim.serial

    sensors = {s.name: s for s in cmd.get_sensor_data()}
    for line in ipmitool(sim, "sdr", "list").splitlines():
        label, value, _status = (p.strip() for p in line.split("|"))
        number = float(value.split()[0])
        assert sensors[label].value == pytest.approx(number, abs=0.01)

    events = list(cmd.get_event_log())
    sel = [ln for ln in ipmitool(sim, "sel", "list").splitlines() if ln.strip()]
    assert len(events) == len(sel) >= 1
    assert events[0]["component"] == "CPU Temp"

    # The Command (and its SDR cache) is kept with the cached session.
    assert command_for(engine, bmc_of(sim), TIMEOUT, RETRIES) is cmd
    assert cmd._sdr is not None
    assert engine.stats["logins"] == 1


@needs_sim
def test_bridge_blocks_only_its_caller(sims, engine: Engine) -> None:
    from xcatpy.ipmi.bridge import call

    sim = sims[1]
    got = engine.run(call(engine, bmc_of(sim), lambda c: c.get_power()["powerstate"],
                          TIMEOUT, RETRIES))
    assert got in ("on", "off")
    from xcatpy.ipmi.bridge import command_for

    async def on_loop() -> None:
        command_for(engine, bmc_of(sim), TIMEOUT, RETRIES)

    with pytest.raises(RuntimeError):
        engine.run(on_loop())


# ---------------------------------------------------------------- faults
@needs_sim
def test_dead_bmc_times_out_while_others_answer(sims, engine: Engine) -> None:
    dead = Bmc("127.0.0.1", free_udp_port(), "admin", "secret")
    bmcs = {f"n{i}": bmc_of(s) for i, s in enumerate(sims)} | {"dead": dead}

    def job(b: Bmc):
        async def go() -> str:
            return await ops.get_power(await engine.session(b, TIMEOUT, RETRIES))
        return go

    start = time.monotonic()
    seen: dict[str, tuple[float, object]] = {}
    for key, res in engine.map({k: job(b) for k, b in bmcs.items()}, concurrency=16):
        seen[key] = (time.monotonic() - start, res)
    assert set(seen) == set(bmcs)
    for key in bmcs:
        if key != "dead":
            assert seen[key][1] in ("on", "off")
            assert seen[key][0] < 1.0
    t, res = seen["dead"]
    assert isinstance(res, IpmiTimeout)
    assert str(res) == (f"timeout: no answer from 127.0.0.1:{dead.port} "
                        f"after {RETRIES + 1} attempts")
    assert TIMEOUT * (RETRIES + 1) - 0.1 <= t <= TIMEOUT * (RETRIES + 1) + 1.0


def test_garbage_answers_are_reported(engine: Engine) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        for _ in range(200):
            if stop.is_set():
                return
            try:
                _data, addr = srv.recvfrom(2048)
            except OSError:
                continue
            srv.sendto(b"\x06\x00\xff\x07" + os.urandom(30), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(IpmiError, match="BMC answered garbage"):
            engine.run(engine.session(Bmc("127.0.0.1", srv.getsockname()[1], "a", "b"), 0.2, 1))
    finally:
        stop.set()
        t.join(5)
        srv.close()


@needs_sim
def test_cached_session_recovers_after_bmc_restart(tmp_path: Path, engine: Engine) -> None:
    with start_ipmisim(tmp_path / "sim") as fleet:
        sim = fleet[0]
        b = bmc_of(sim)
        assert engine.run(_with_session(engine, sim, ops.get_power)) == "off"
        assert engine.stats["logins"] == 1
        # Restart ipmi_sim with the same configuration: every session is gone.
        os.killpg(sim.pid, signal.SIGTERM)
        assert wait_until(lambda: not _alive(sim.pid), 5)
        inst = sim.workdir
        proc = subprocess.Popen(
            ["ipmi_sim", "-n", "-c", str(inst / "lan.conf"), "-f", str(inst / "bmc.emu"),
             "-s", str(inst / "state")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=inst, start_new_session=True)
        try:
            assert wait_until(lambda: _answers_ipmitool(sim), 5)
            start = time.monotonic()
            assert engine.run(_with_session(engine, sim, ops.get_power)) == "off"
            assert time.monotonic() - start <= TIMEOUT * (RETRIES + 1) + 0.5
            assert engine.stats["logins"] == 2
            assert engine.run(engine.session(b, TIMEOUT, RETRIES)).logins == 2
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _answers_ipmitool(sim) -> bool:
    r = subprocess.run([*sim.ipmitool_argv(), "chassis", "power", "status"],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0


# ---------------------------------------------------------------- map
def test_map_hands_back_results_in_completion_order(engine: Engine) -> None:
    import asyncio

    def job(delay: float, fail: bool = False):
        async def go() -> float:
            await asyncio.sleep(delay)
            if fail:
                raise IpmiError("boom")
            return delay
        return go

    jobs = {"slow": job(0.3), "fast": job(0.01), "bad": job(0.05, True)}
    out = list(engine.map(jobs, concurrency=8))
    assert [k for k, _ in out] == ["fast", "bad", "slow"]
    assert isinstance(dict(out)["bad"], IpmiError)
    # Per-job and total bounds.
    out = dict(engine.map({"hang": job(10), "ok": job(0)}, job_timeout=0.2))
    assert isinstance(out["hang"], IpmiTimeout) and out["ok"] == 0
    start = time.monotonic()
    out = dict(engine.map({"hang": job(10)}, deadline=0.3))
    assert isinstance(out["hang"], IpmiTimeout) and time.monotonic() - start < 1.5


def test_map_dead_bmcs_do_not_serialise(engine: Engine) -> None:
    # 200 silent "BMCs" (ports nobody answers), 64 in flight at most would be
    # 4 waves; the default concurrency runs them as one.
    ports = [free_udp_port() for _ in range(200)]
    jobs = {}
    for i, p in enumerate(ports):
        b = Bmc("127.0.0.1", p, "admin", "secret")

        async def go(b: Bmc = b) -> None:
            await engine.session(b, 0.3, 1)

        jobs[f"n{i}"] = go
    start = time.monotonic()
    out = dict(engine.map(jobs))
    took = time.monotonic() - start
    assert len(out) == 200 and all(isinstance(r, IpmiTimeout) for r in out.values())
    assert took < 0.6 + 1.0


def test_closed_engine_refuses_work_at_once() -> None:
    eng = Engine()

    async def nothing() -> int:
        return 1

    assert eng.run(nothing()) == 1
    eng.close()
    with pytest.raises(IpmiError, match="closed"):
        eng.run(nothing())
    with pytest.raises(IpmiError, match="closed"):
        list(eng.map({"a": nothing}))


@needs_sim
def test_close_logs_out_cached_sessions(sims) -> None:
    eng = Engine()
    try:
        eng.run(_with_session(eng, sims[2], ops.get_power))
        sent = eng.stats["sent"]
    finally:
        start = time.monotonic()
        eng.close()
    assert time.monotonic() - start < 3.0
    assert eng.stats["sent"] == sent + 1  # one Close Session
    assert eng.stats["received"] == eng.stats["sent"]
