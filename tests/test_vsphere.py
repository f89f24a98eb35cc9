"""rpower, rinv and rvitals for nodehm.mgt=esx against govmomi's vcsim.

Every command runs in-process through the real command layer and dispatch;
its effect is checked through a second, independent pyvmomi session to the
same simulator (govc cannot be built offline from Debian's govmomi 0.24.2:
its main package is not shipped).  SOAP calls are counted with a wrapper
around pyvmomi's real ``SoapStubAdapter.InvokeMethod``, not with a mock.
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.vcsim import Vcsim, build_vcsim, start_vcsim, vcsim_missing

pyvmomi = pytest.importorskip("pyVmomi", reason="pyvmomi is not installed")
pytestmark = pytest.mark.skipif(
    bool(vcsim_missing()), reason=f"vcsim cannot be built: {', '.join(vcsim_missing())} missing")

from pyVmomi import SoapStubAdapter, vim, vmodl  # noqa: E402

from xcatpy.backends import vsphere  # noqa: E402

USER, PASSWORD = "vcuser", "s3cret-pw"


@pytest.fixture(scope="module")
def binary() -> Path:
    return build_vcsim()


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    vsphere.SESSIONS.clear()
    yield
    vsphere.SESSIONS.clear()


@pytest.fixture
def sims(tmp_path: Path, binary: Path) -> Iterator[list[Vcsim]]:
    """Two simulators (two endpoints), each with 2 hosts x 2 VMs, all powered on."""
    with ExitStack() as stack:
        yield [stack.enter_context(start_vcsim(tmp_path / f"sim{i}", vms=2, hosts=2,
                                               username=USER, password=PASSWORD, binary=binary))
               for i in range(2)]


# -- an independent look at the simulator -------------------------------------
def wait_task(task: Any, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = task.info.state
        if state in ("success", "error"):
            assert state == "success", task.info.error
            return
        time.sleep(0.02)
    raise AssertionError("task did not finish")


class Look:
    """A second pyvmomi session, separate from the backend's."""

    def __init__(self, sim: Vcsim) -> None:
        self.si = sim.connect()
        content = self.si.RetrieveContent()
        self.view = content.viewManager.CreateContainerView(
            content.rootFolder, [vim.VirtualMachine], True)

    def vms(self) -> dict[str, Any]:
        return {vm.name: vm for vm in self.view.view}

    def power(self, name: str) -> str:
        return str(self.vms()[name].runtime.powerState)

    def close(self) -> None:
        from pyVim.connect import Disconnect

        Disconnect(self.si)


@pytest.fixture
def looks(sims: list[Vcsim]) -> Iterator[list[Look]]:
    out = [Look(s) for s in sims]
    yield out
    for lk in out:
        lk.close()


def tidy(look: Look, prefix: str, first_mac: int) -> list[str]:
    """Rename the VMs prefix01.. and give each its own MAC (vcsim's all share one)."""
    names = []
    for i, (_old, vm) in enumerate(sorted(look.vms().items()), start=1):
        name = f"{prefix}{i:02d}"
        wait_task(vm.Rename_Task(name))
        nic = next(d for d in vm.config.hardware.device
                   if isinstance(d, vim.vm.device.VirtualEthernetCard))
        nic.addressType = "manual"
        nic.macAddress = f"00:50:56:00:{first_mac:02x}:{i:02x}"
        spec = vim.vm.ConfigSpec(deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)])
        wait_task(vm.ReconfigVM_Task(spec))
        names.append(name)
    return names


def define_direct(mn, sim: Vcsim, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """VM nodes whose vm.host is the simulator itself (an ESXi host at host:port)."""
    for n in names:
        mn.ok("nodeadd", n, "groups=all,vms", "nodehm.mgt=esx", f"vm.host={sim.address}")


def base_site(mn, timeout: str = "20") -> None:  # type: ignore[no-untyped-def]
    mn.ok("chtab", "key=vmware", f"passwd.username={USER}", f"passwd.password={PASSWORD}")
    mn.ok("chtab", "key=esxinsecure", "site.value=yes")
    mn.ok("chtab", "key=vmtimeout", f"site.value={timeout}")


def lines(text: str) -> list[str]:
    return sorted(line.rstrip() for line in text.strip().splitlines())


class Calls:
    """SOAP calls per endpoint (host:port) and method, through the real stub."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: collections.Counter[tuple[str, str]] = collections.Counter()
        self.on = False
        real = SoapStubAdapter.InvokeMethod
        calls = self

        def counting(stub: Any, mo: Any, info: Any, args: Any, *rest: Any) -> Any:
            if calls.on:
                calls.seen[(str(stub.host), info.wsdlName)] += 1
            return real(stub, mo, info, args, *rest)

        monkeypatch.setattr(SoapStubAdapter, "InvokeMethod", counting)

    def during(self, fn: Any) -> Any:
        self.seen.clear()
        self.on = True
        try:
            return fn()
        finally:
            self.on = False

    def of(self, sim: Vcsim, method: str | None = None) -> int:
        return sum(c for (h, m), c in self.seen.items()
                   if h == sim.address and (method is None or m == method))


# -- tests ------------------------------------------------------------------
def test_stat_reads_each_endpoint_once_and_reuses_sessions(  # type: ignore[no-untyped-def]
        mn, sims, looks, monkeypatch) -> None:
    a = tidy(looks[0], "a", 1)
    b = tidy(looks[1], "b", 2)
    define_direct(mn, sims[0], a)
    define_direct(mn, sims[1], b)
    base_site(mn)
    wait_task(looks[0].vms()["a02"].PowerOffVM_Task())
    wait_task(looks[1].vms()["b03"].SuspendVM_Task())
    calls = Calls(monkeypatch)
    out = calls.during(lambda: mn.ok("rpower", "vms", "stat"))
    assert lines(out) == ["a01: on", "a02: off", "a03: on", "a04: on",
                          "b01: on", "b02: on", "b03: suspended", "b04: on"]
    for sim in sims:
        assert calls.of(sim, "RetrievePropertiesEx") == 1
        assert calls.of(sim, "Login") == 1
        assert calls.of(sim, "RetrieveProperties") == 0  # no lazy per-VM reads
    # A second request in the same process: no login, one call per endpoint in all.
    logins = vsphere.SESSIONS.logins
    out = calls.during(lambda: mn.ok("rpower", "vms", "stat"))
    assert len(lines(out)) == 8
    assert vsphere.SESSIONS.logins == logins == 2
    for sim in sims:
        assert calls.of(sim) == 1
        assert calls.of(sim, "RetrievePropertiesEx") == 1


def test_power_actions_cross_checked(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names)
    base_site(mn)
    look = looks[0]
    assert lines(mn.ok("rpower", "vm01,vm02", "off")) == ["vm01: off", "vm02: off"]
    assert look.power("vm01") == look.power("vm02") == "poweredOff"
    assert look.power("vm03") == "poweredOn"
    assert mn.ok("rpower", "vm01", "off") == "vm01: off\n"  # already off: nothing to do
    assert mn.ok("rpower", "vm01", "on") == "vm01: on\n"
    assert look.power("vm01") == "poweredOn"
    assert mn.ok("rpower", "vm03", "suspend") == "vm03: suspend\n"
    assert look.power("vm03") == "suspended"
    assert mn.ok("rpower", "vm03", "stat") == "vm03: suspended\n"
    assert mn.ok("rpower", "vm03", "wake") == "vm03: wake\n"
    assert look.power("vm03") == "poweredOn"
    # reset: the VM stays on, and vcsim counts the boot
    assert mn.ok("rpower", "vm03", "reset") == "vm03: reset\n"
    assert look.power("vm03") == "poweredOn"
    assert lines(mn.ok("rpower", "vm02,vm03", "boot")) == ["vm02: on", "vm03: reset"]
    assert look.power("vm02") == "poweredOn"
    assert mn.ok("rpower", "vm04", "cycle") == "vm04: cycle\n"
    assert look.power("vm04") == "poweredOn"
    # softoff asks the guest to shut down; vcsim powers off even though it reports
    # the guest tools as not running (a real ESXi host refuses: ToolsUnavailable).
    assert mn.ok("rpower", "vm04", "softoff") == "vm04: softoff\n"
    assert look.power("vm04") == "poweredOff"
    # Errors a VM's state causes are per node; the others are done.
    r = mn.run("rpower", "vm04,vm01", "reset")
    assert r.code == 1
    assert r.out == "vm01: reset\n"
    assert "vm04: Error: is off: reset needs a running VM" in r.err
    r = mn.run("rpower", "vm04", "wake")
    assert "vm04: Error: is off, not suspended" in r.err
    r = mn.run("rpower", "vm01", "nmi")
    assert r.err == "vm01: Error: rpower nmi is not supported by management method 'esx'\n"
    tab = mn.dump("nodelist")
    assert '"vm01"' in tab and "powering-on" in tab


def test_rinv_matches_the_vm_config(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names)
    base_site(mn)
    out = mn.ok("rinv", "vm01,vm04", "all")
    for name in ("vm01", "vm04"):
        vm = looks[0].vms()[name]
        cfg = vm.config
        nic = next(d for d in cfg.hardware.device
                   if isinstance(d, vim.vm.device.VirtualEthernetCard))
        disk = next(d for d in cfg.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
        mine = [line for line in out.splitlines() if line.startswith(f"{name}: ")]
        assert f"{name}: UUID/GUID: {cfg.uuid}" in mine
        assert f"{name}: CPUs: {cfg.hardware.numCPU}" in mine
        assert f"{name}: Memory: {cfg.hardware.memoryMB} MB" in mine
        assert f"{name}: Host: {vm.runtime.host.name}" in mine
        macs = [line for line in mine if "MAC Address" in line]
        assert len(macs) == 1 and nic.macAddress in macs[0]
        assert any(line.startswith(f"{name}: {disk.deviceInfo.label}: ") and
                   disk.backing.fileName in line for line in mine)
    assert out.count("00:50:56:00:01:01") == 1 and out.count("00:50:56:00:01:04") == 1
    mac = mn.ok("rinv", "vm02", "mac").splitlines()
    assert len(mac) == 1 and mac[0].startswith("vm02: MAC Address (")
    assert "00:50:56:00:01:02" in mac[0]
    uuid = looks[0].vms()["vm02"].config.uuid
    assert mn.ok("rinv", "vm02", "uuid") == f"vm02: UUID/GUID: {uuid}\n"


def test_rvitals(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names)
    base_site(mn)
    wait_task(looks[0].vms()["vm02"].PowerOffVM_Task())
    out = mn.ok("rvitals", "vm01,vm02", "all")
    assert "vm01: Power State: on" in out and "vm02: Power State: off" in out
    mem = looks[0].vms()["vm01"].config.hardware.memoryMB
    assert f"vm01: Memory Size: {mem} MB" in out
    for label in ("CPU Usage", "Guest Memory Usage", "Host Memory Usage", "Uptime"):
        assert f"vm01: {label}: " in out
    assert mn.ok("rvitals", "vm02", "power") == "vm02: Power State: off\n"


def needs_related() -> None:
    from xcatpy.backends.base import Facts

    if "related" not in Facts.__dataclass_fields__:
        pytest.skip("dispatch does not read the hypervisors' rows (Capability.related) yet")


def test_wrong_password_is_a_clear_per_node_error(  # type: ignore[no-untyped-def]
        mn, sims, looks, tmp_path, binary) -> None:
    a = tidy(looks[0], "a", 1)
    define_direct(mn, sims[0], a[:2])
    base_site(mn)
    # A host that wants another password than passwd key=vmware holds.
    with start_vcsim(tmp_path / "other", username=USER, password="other-pw-456",
                     binary=binary) as other:
        mn.ok("nodeadd", "DC0_H0_VM0", "groups=all,vms", "nodehm.mgt=esx",
              f"vm.host={other.address}")
        r = mn.run("rpower", "vms", "stat")
    assert r.code == 1
    assert lines(r.out) == ["a01: on", "a02: on"]
    assert r.err == (f"DC0_H0_VM0: Error: cannot log in to ESXi host {other.address} as "
                     f"'{USER}': incorrect user name or password\n")
    assert PASSWORD not in r.err and "other-pw-456" not in r.err


def test_wrong_vcenter_password(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    needs_related()
    a = tidy(looks[0], "a", 1)
    b = tidy(looks[1], "b", 2)
    define_direct(mn, sims[0], a[:2])
    base_site(mn)
    mn.ok("chtab", "key=vcenter", f"passwd.username={USER}", "passwd.password=wrong-pw-123")
    mn.ok("nodeadd", "hv1", "groups=all", f"hypervisor.mgr={sims[1].address}")
    for n in b[:2]:
        mn.ok("nodeadd", n, "groups=all,vms", "nodehm.mgt=esx", "vm.host=hv1")
    r = mn.run("rpower", "vms", "stat")
    assert r.code == 1
    assert lines(r.out) == ["a01: on", "a02: on"]
    assert lines(r.err) == [
        f"{n}: Error: cannot log in to vCenter {sims[1].address} as '{USER}': "
        "incorrect user name or password" for n in ("b01", "b02")]
    assert "wrong-pw-123" not in r.err + r.out


def test_unreachable_endpoint_fails_within_the_deadline(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    a = tidy(looks[0], "a", 1)
    define_direct(mn, sims[0], a)
    base_site(mn, timeout="2")
    # A listener that never answers: TCP connects, TLS never starts.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    closed_port = refused.getsockname()[1]
    refused.close()
    try:
        mn.ok("nodeadd", "dead1,dead2", "groups=all,vms", "nodehm.mgt=esx",
              f"vm.host=127.0.0.1:{port}")
        mn.ok("nodeadd", "gone1", "groups=all,vms", "nodehm.mgt=esx",
              f"vm.host=127.0.0.1:{closed_port}")
        t0 = time.monotonic()
        r = mn.run("rpower", "vms", "stat")
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert r.code == 1
    assert lines(r.out) == ["a01: on", "a02: on", "a03: on", "a04: on"]
    err = lines(r.err)
    assert len(err) == 3
    assert err[0].startswith(f"dead1: Error: cannot reach ESXi host 127.0.0.1:{port}: ")
    assert err[2].startswith(f"gone1: Error: cannot reach ESXi host 127.0.0.1:{closed_port}: ")
    assert took < 6, took


def test_table_problems_cost_no_round_trip(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names[:1])
    mn.ok("nodeadd", "nohost", "groups=all,vms", "nodehm.mgt=esx")
    mn.ok("nodeadd", "ghost", "groups=all,vms", "nodehm.mgt=esx", f"vm.host={sims[0].address}")
    mn.ok("nodeadd", "badport", "groups=all,vms", "nodehm.mgt=esx", "vm.host=h:99999")
    r = mn.run("rpower", "vms", "stat")
    # No passwd row for vmware yet: every node says what to set.
    assert "vm01: Error: no ESXi credentials" in r.err
    base_site(mn)
    r = mn.run("rpower", "vms", "stat")
    assert r.out == "vm01: on\n"
    err = r.err.splitlines()
    assert "nohost: Error: no hypervisor: set vm.host" in err
    assert f"ghost: Error: no virtual machine named 'ghost' on ESXi host {sims[0].address}" in err
    assert "badport: Error: bad port '99999' in vm.host 'h:99999'" in err


def test_vcenter_without_credentials(mn) -> None:  # type: ignore[no-untyped-def]
    needs_related()
    mn.ok("nodeadd", "hv2", "groups=all", "hypervisor.mgr=vc.example")
    mn.ok("nodeadd", "novc", "groups=all,vms", "nodehm.mgt=esx", "vm.host=hv2")
    r = mn.run("rpower", "novc", "stat")
    assert r.err == ("novc: Error: no vCenter credentials for vc.example: set the passwd "
                     "table row with key=vcenter (username and password)\n")


def test_certificate_is_verified_unless_told_otherwise(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names[:1])
    base_site(mn)
    mn.ok("chtab", "key=esxinsecure", "site.value=no")
    r = mn.run("rpower", "vm01", "stat")
    assert r.code == 1
    assert "cannot verify the TLS certificate of ESXi host" in r.err
    assert "site.esxinsecure=yes" in r.err


def test_vcenter_or_direct_by_hypervisor_mgr_and_preferdirect(  # type: ignore[no-untyped-def]
        mn, sims, looks, monkeypatch) -> None:
    needs_related()
    vc, esx = sims
    tidy(looks[0], "vm", 1)
    tidy(looks[1], "vm", 2)
    # The same VM name on both: off on the "vCenter", on on the "host".
    wait_task(looks[0].vms()["vm01"].PowerOffVM_Task())
    mn.ok("nodeadd", "vm01", "groups=all", "nodehm.mgt=esx", f"vm.host={esx.address}")
    base_site(mn)
    mn.ok("chtab", "key=vcenter", f"passwd.username={USER}", f"passwd.password={PASSWORD}")
    calls = Calls(monkeypatch)
    # No hypervisor row for the host: straight to it.
    assert calls.during(lambda: mn.ok("rpower", "vm01", "stat")) == "vm01: on\n"
    assert calls.of(esx) > 0 and calls.of(vc) == 0
    # The host's hypervisor.mgr names a vCenter: through it.
    mn.ok("chtab", f"node={esx.address}", f"hypervisor.mgr={vc.address}")
    assert calls.during(lambda: mn.ok("rpower", "vm01", "stat")) == "vm01: off\n"
    assert calls.of(vc) > 0 and calls.of(esx) == 0
    # preferdirect: back to the host, vCenter or not.
    mn.ok("chtab", f"node={esx.address}", "hypervisor.preferdirect=1")
    assert calls.during(lambda: mn.ok("rpower", "vm01", "stat")) == "vm01: on\n"
    assert calls.of(esx) > 0 and calls.of(vc) == 0


def test_concurrent_requests_share_one_login(sims) -> None:  # type: ignore[no-untyped-def]
    """Requests running at once (as in xcatd) wait for one login instead of making four."""
    from xcatpy.backends.base import POWER, Action, Facts

    sim = sims[0]
    cap = vsphere.EsxPower()
    names = ["DC0_H0_VM0", "DC0_H0_VM1", "DC0_H1_VM0", "DC0_H1_VM1"]
    facts = Facts({n: {("vm", "host"): sim.address} for n in names},
                  {"vmware": {"username": USER, "password": PASSWORD}}, {"esxinsecure": "1"})
    targets, errors = cap.prepare(names, facts)
    assert errors == {}
    limits = cap.limits({"vmtimeout": "20"})
    results: list[list[str]] = []

    def go() -> None:
        results.append(sorted(f"{o.node}: {o.error or o.lines[0][1]}"
                              for o in cap.run(targets, Action(POWER, "stat"), limits)))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [[f"{n}: on" for n in names]] * 4
    assert vsphere.SESSIONS.logins == 1


def test_a_forgotten_session_is_logged_in_again(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    names = tidy(looks[0], "vm", 1)
    define_direct(mn, sims[0], names[:1])
    base_site(mn)
    assert mn.ok("rpower", "vm01", "stat") == "vm01: on\n"
    # Log our own session out behind the backend's back.
    (session,) = list(vsphere.SESSIONS._items.values())
    session.content.sessionManager.Logout()
    assert mn.ok("rpower", "vm01", "stat") == "vm01: on\n"
    assert vsphere.SESSIONS.logins == 2


def test_task_errors_and_deadlines_are_per_node() -> None:
    assert vsphere.power_plan("suspend", "off") == "is off: only a running VM can be suspended"
    plan = vsphere.power_plan("boot", "suspended")
    assert not isinstance(plan, str) and plan.text == "on"
    assert vmodl  # imported for the fault types used above


def test_rmigrate_relocates_through_vcenter(mn, sims, looks) -> None:  # type: ignore[no-untyped-def]
    vc = sims[0]
    vm = looks[0].vms()["DC0_H0_VM0"]
    assert vm.runtime.host.name == "DC0_H0"
    mn.ok("nodeadd", "DC0_H0,DC0_H1", "groups=all,hyps", f"hypervisor.mgr={vc.address}")
    mn.ok("nodeadd", "DC0_H0_VM0", "groups=all,vms", "nodehm.mgt=esx", "vm.host=DC0_H0")
    base_site(mn)
    mn.ok("chtab", "key=vcenter", f"passwd.username={USER}", f"passwd.password={PASSWORD}")
    assert mn.ok("rmigrate", "DC0_H0_VM0", "DC0_H1") == "DC0_H0_VM0: migrated to DC0_H1\n"
    # vcsim's host VM lists lag a move: read the VM's own runtime.host
    assert looks[0].vms()["DC0_H0_VM0"].runtime.host.name == "DC0_H1"
    assert mn.ok("gettab", "node=DC0_H0_VM0", "vm.host").strip().endswith("DC0_H1")
    r = mn.run("rmigrate", "DC0_H0_VM0", "DC0_H1")
    assert "is already on DC0_H1" in r.err
    r = mn.run("rmigrate", "DC0_H0_VM0", "nowhere")
    assert "no host named 'nowhere'" in r.err
    # Direct to a host, rmigrate has no vCenter to move the VM with.
    mn.ok("chtab", "node=DC0_H1", "hypervisor.preferdirect=1")
    r = mn.run("rmigrate", "DC0_H0_VM0", "DC0_H0")
    assert r.err == ("DC0_H0_VM0: Error: rmigrate needs a vCenter: set hypervisor.mgr of "
                     "DC0_H1 (and no hypervisor.preferdirect)\n")
