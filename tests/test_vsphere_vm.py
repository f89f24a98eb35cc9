"""mkvm, lsvm, chvm and rmvm for nodehm.mgt=esx against govmomi's vcsim.

Commands run in-process through the real command layer and dispatch; every
effect is checked through a second, independent pyvmomi session to the same
simulator (see tests/test_vsphere.py for why not govc).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vcsim import Vcsim, start_vcsim, vcsim_missing

pytest.importorskip("pyVmomi", reason="pyvmomi is not installed")
pytestmark = pytest.mark.skipif(
    bool(vcsim_missing()), reason=f"vcsim cannot be built: {', '.join(vcsim_missing())} missing")

from pyVmomi import vim  # noqa: E402

from tests.test_vsphere import (  # noqa: E402,F401 - fixtures used by name
    PASSWORD,
    USER,
    Calls,
    Look,
    base_site,
    binary,
    fresh_sessions,
    lines,
    wait_task,
)
from xcatpy.backends import vsphere  # noqa: E402

GiB = 1 << 30


@pytest.fixture
def vc(tmp_path: Path, binary: Path) -> Iterator[Vcsim]:  # noqa: F811
    """A vCenter model: hosts DC0_H0 and DC0_H1, one VM each, datastore LocalDS_0."""
    with start_vcsim(tmp_path / "vc", vms=1, hosts=2, username=USER, password=PASSWORD,
                     binary=binary) as sim:
        yield sim


@pytest.fixture
def look(vc: Vcsim) -> Iterator[Look]:
    lk = Look(vc)
    yield lk
    lk.close()


def through_vcenter(mn, sim: Vcsim) -> None:  # type: ignore[no-untyped-def]
    base_site(mn)
    mn.ok("chtab", "key=vcenter", f"passwd.username={USER}", f"passwd.password={PASSWORD}")
    mn.ok("nodeadd", "DC0_H0,DC0_H1", "groups=all,hyps", "hypervisor.type=esx",
          f"hypervisor.mgr={sim.address}")


def vm_nodes(mn, names: str, host: str, *extra: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", names, "groups=all,vms", "nodehm.mgt=esx", f"vm.host={host}",
          "vm.storage=vmfs://LocalDS_0", "vm.nics=VM Network", "vm.cpus=2", "vm.memory=1024",
          *extra)


def devices(vm: Any, kind: type) -> list[Any]:
    return [d for d in vm.config.hardware.device if isinstance(d, kind)]


def datastore_dir(look: Look, name: str = "LocalDS_0") -> Path:
    content = look.si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Datastore], True)
    (ds,) = [d for d in view.view if d.name == name]
    return Path(ds.info.url)


def test_lifecycle_through_vcenter(mn, vc, look, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    through_vcenter(mn, vc)
    vm_nodes(mn, "new01", "DC0_H0", "mac.mac=00:50:56:00:aa:01")
    vm_nodes(mn, "new02", "DC0_H1")
    calls = Calls(monkeypatch)

    # mkvm: one bulk read, then one CreateVM_Task per node, polled together.
    out = calls.during(lambda: mn.ok("mkvm", "new01,new02", "-s", "4G"))
    assert lines(out) == ["new01: created on DC0_H0 in [LocalDS_0], 1 disk",
                          "new02: created on DC0_H1 in [LocalDS_0], 1 disk"]
    assert calls.of(vc, "RetrievePropertiesEx") >= 2  # the read, then the task polls
    assert calls.of(vc, "RetrieveProperties") == 0
    assert calls.of(vc, "CreateVM_Task") == 2
    vms = look.vms()
    for name, host in (("new01", "DC0_H0"), ("new02", "DC0_H1")):
        vm = vms[name]
        assert vm.runtime.host.name == host
        assert vm.runtime.powerState == "poweredOff"
        assert vm.config.hardware.numCPU == 2 and vm.config.hardware.memoryMB == 1024
        (disk,) = devices(vm, vim.vm.device.VirtualDisk)
        assert disk.capacityInKB == 4 * GiB // 1024
        assert disk.backing.fileName.startswith("[LocalDS_0] ")
        (nic,) = devices(vm, vim.vm.device.VirtualEthernetCard)
        assert isinstance(nic, vim.vm.device.VirtualE1000)
        assert nic.backing.deviceName == "VM Network"
    # A manual MAC from mac.mac is used as it is; a missing one is made up and written back.
    (nic1,) = devices(vms["new01"], vim.vm.device.VirtualEthernetCard)
    (nic2,) = devices(vms["new02"], vim.vm.device.VirtualEthernetCard)
    assert nic1.macAddress == "00:50:56:00:aa:01"
    made = vsphere.esx_macs("new02", 1, None)[0][0]
    assert nic2.macAddress == made and made.startswith("00:50:56:")
    mac = mn.ok("tabdump", "mac")
    assert '"new01",,"00:50:56:00:aa:01",,' in mac and f'"new02",,"{made}",,' in mac

    # mkvm of a VM that exists: a per-node error, the tables as they were.
    before = mn.dump_all()
    r = mn.run("mkvm", "new01")
    assert r.code == 1 and r.out == ""
    assert r.err == (f"new01: Error: VM new01 already exists on vCenter {vc.address} "
                     "(use rmvm first, or mkvm -f to replace it)\n")
    assert mn.dump_all() == before
    assert len([n for n in look.vms() if n == "new01"]) == 1

    # lsvm of a hypervisor: its VMs and power states, from one property read.
    out = calls.during(lambda: mn.ok("lsvm", "DC0_H0"))
    assert lines(out) == ["DC0_H0: DC0_H0_VM0: on", "DC0_H0: new01: off"]
    assert calls.of(vc, "RetrievePropertiesEx") == 1
    assert lines(mn.ok("lsvm", "hyps")) == ["DC0_H0: DC0_H0_VM0: on", "DC0_H0: new01: off",
                                            "DC0_H1: DC0_H1_VM0: on", "DC0_H1: new02: off"]
    # lsvm of a VM: its configuration.
    out = mn.ok("lsvm", "new01")
    uuid = look.vms()["new01"].config.uuid
    for want in ("new01: Host: DC0_H0", "new01: State: off", f"new01: UUID/GUID: {uuid}",
                 "new01: CPUs: 2", "new01: Memory: 1024 MB",
                 "new01: Config File: [LocalDS_0] new01/new01.vmx"):
        assert want in out.splitlines(), (want, out)
    assert "00:50:56:00:aa:01 (VM Network)" in out

    # chvm: CPUs, memory and a new disk in one ReconfigVM_Task.
    out = calls.during(lambda: mn.ok("chvm", "new01", "--cpus", "4", "--mem", "2G",
                                     "-a", "1G,2G"))
    assert lines(out) == ["new01: CPUs: 4", "new01: Disk scsi0:1: added on [LocalDS_0] (1 GiB)",
                          "new01: Disk scsi0:2: added on [LocalDS_0] (2 GiB)",
                          "new01: Memory: 2048 MiB"]
    assert calls.of(vc, "ReconfigVM_Task") == 1
    vm = look.vms()["new01"]
    assert vm.config.hardware.numCPU == 4 and vm.config.hardware.memoryMB == 2048
    disks = sorted(devices(vm, vim.vm.device.VirtualDisk), key=lambda d: d.unitNumber)
    assert [d.capacityInKB * 1024 for d in disks] == [4 * GiB, GiB, 2 * GiB]
    assert [d.unitNumber for d in disks] == [0, 1, 2]
    # -d detaches (files kept), -p detaches and deletes, --resize grows.
    third = disks[2].backing.fileName.split(" ", 1)[1]
    files = datastore_dir(look)
    assert (files / third).exists()
    out = mn.ok("chvm", "new01", "-d", "scsi0:1", "-p", "scsi0:2", "--resize", "scsi0:0=6G")
    assert lines(out) == ["new01: Disk scsi0:0: resized to 6 GiB",
                          "new01: Disk scsi0:1: removed", "new01: Disk scsi0:2: removed and purged"]
    (disk,) = devices(look.vms()["new01"], vim.vm.device.VirtualDisk)
    assert disk.unitNumber == 0 and disk.capacityInKB * 1024 == 6 * GiB
    assert not (files / third).exists()
    before = mn.dump_all()
    r = mn.run("chvm", "new01,new02", "-d", "scsi0:9")
    assert lines(r.err) == ["new01: Error: new01 has no disk scsi0:9",
                            "new02: Error: new02 has no disk scsi0:9"]
    r = mn.run("chvm", "new01", "--resize", "scsi0:0=1G")
    assert r.err == "new01: Error: disk scsi0:0 of new01 is 6 GiB: a disk can only grow\n"
    assert mn.dump_all() == before

    # rmvm: a running VM needs -f; without -p the files stay; -p deletes them.
    assert mn.ok("rpower", "new01", "on") == "new01: on\n"
    r = mn.run("rmvm", "new01")
    assert r.err == "new01: Error: new01 is on: stop it first or use rmvm -f\n"
    assert look.power("new01") == "poweredOn"
    assert mn.ok("rmvm", "new01", "-f") == "new01: removed (files kept on the datastore)\n"
    assert "new01" not in look.vms()
    assert (files / "new01" / "new01.vmx").exists()
    assert mn.ok("rmvm", "new02", "-p") == "new02: removed, files deleted\n"
    assert "new02" not in look.vms()
    assert not (files / "new02").exists()
    assert set(look.vms()) == {"DC0_H0_VM0", "DC0_H1_VM0"}
    r = mn.run("rmvm", "new02")
    assert r.err == f"new02: Error: no virtual machine named 'new02' on vCenter {vc.address}\n"
    # mkvm -f replaces a VM (powered off first).
    vm_nodes(mn, "DC0_H0_VM0", "DC0_H0")
    assert mn.ok("mkvm", "DC0_H0_VM0", "-f") == \
        "DC0_H0_VM0: created on DC0_H0 in [LocalDS_0]\n"
    vm = look.vms()["DC0_H0_VM0"]
    assert vm.config.hardware.numCPU == 2 and not devices(vm, vim.vm.device.VirtualDisk)


def test_direct_to_a_host_with_nfs(mn, tmp_path, binary) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with start_vcsim(tmp_path / "esx", vms=1, esx=True, username=USER, password=PASSWORD,
                     binary=binary) as esx:
        lk = Look(esx)
        try:
            # An NFS export the host has mounted (vcsim backs it with a local directory).
            export = tmp_path / "vols"
            export.mkdir()
            content = lk.si.RetrieveContent()
            (host,) = content.viewManager.CreateContainerView(
                content.rootFolder, [vim.HostSystem], True).view
            host.configManager.datastoreSystem.CreateNasDatastore(
                spec=vim.host.NasVolume.Specification(
                    remoteHost="filer", remotePath="/export/vms", localPath=str(export),
                    accessMode="readWrite", type="NFS"))
            base_site(mn)
            mn.ok("nodeadd", "d1,d2,d3", "groups=all,vms", "nodehm.mgt=esx",
                  f"vm.host={esx.address}", "vm.nics=VM Network", "vm.nicmodel=vmxnet3")
            mn.ok("chtab", "node=d1", "vm.storage=nfs://filer/export/vms/")
            mn.ok("chtab", "node=d2", "vm.storage=nfs://other/export")
            mn.ok("chtab", "node=d3", "vm.storage=lvm:vg0")
            mn.ok("nodeadd", "d4", "groups=all,vms", "nodehm.mgt=esx", f"vm.host={esx.address}")
            mn.ok("chtab", "node=d1", "mac.mac=00:50:56:01:02:03!d1-eth0")
            before = mn.dump_all()
            r = mn.run("mkvm", "vms", "--cpus", "3", "--mem", "768", "-s", "1G")
            assert r.out == "d1: created on localhost.localdomain in [vols], 1 disk\n"
            err = lines(r.err)
            assert err[0].startswith(
                "d2: Error: cannot mount nfs://other/export on localhost.localdomain: ")
            assert err[1].startswith("d3: Error: vm.storage 'lvm:vg0' is not supported by esx")
            assert err[2] == ("d4: Error: mkvm needs vm.storage (vmfs://datastore or "
                              "nfs://server/path)")
            assert mn.dump_all() == before  # d1's MAC came from mac.mac: nothing to write
            vm = lk.vms()["d1"]
            assert vm.config.hardware.numCPU == 3 and vm.config.hardware.memoryMB == 768
            assert vm.config.files.vmPathName == "[vols] d1/d1.vmx"
            (nic,) = devices(vm, vim.vm.device.VirtualEthernetCard)
            assert isinstance(nic, vim.vm.device.VirtualVmxnet3)
            assert nic.macAddress == "00:50:56:01:02:03"
            assert (export / "d1").is_dir()
            # lsvm of the host (a node name cannot hold a port: reach it as a "vCenter").
            mn.ok("chtab", "key=vcenter", f"passwd.username={USER}",
                  f"passwd.password={PASSWORD}")
            mn.ok("nodeadd", "localhost.localdomain", "groups=all", "hypervisor.type=esx",
                  f"hypervisor.mgr={esx.address}")
            assert lines(mn.ok("lsvm", "localhost.localdomain")) == [
                "localhost.localdomain: d1: off", "localhost.localdomain: ha-host_VM0: on"]
        finally:
            lk.close()


def test_unreachable_endpoint_fails_only_its_nodes(mn, vc, look) -> None:  # type: ignore[no-untyped-def]
    through_vcenter(mn, vc)
    mn.ok("chtab", "key=vmtimeout", "site.value=2")
    vm_nodes(mn, "ok1", "DC0_H0")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        vm_nodes(mn, "dead1,dead2", f"127.0.0.1:{port}")
        vm_nodes(mn, "lost1", "hvlost")
        mn.ok("nodeadd", "hvlost", "groups=all", f"hypervisor.mgr=127.0.0.1:{port}")
        before = mn.dump_all()
        t0 = time.monotonic()
        r = mn.run("mkvm", "vms")
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert r.code == 1
    assert r.out == "ok1: created on DC0_H0 in [LocalDS_0]\n"
    err = lines(r.err)
    assert [e.split(":")[0] for e in err] == ["dead1", "dead2", "lost1"]
    assert err[0].startswith(f"dead1: Error: cannot reach ESXi host 127.0.0.1:{port}: ")
    assert err[2].startswith(f"lost1: Error: cannot reach vCenter 127.0.0.1:{port}: ")
    assert took < 6, took
    assert "ok1" in look.vms()
    # Only ok1's made-up MAC was written; the failed nodes' rows are as they were.
    after = mn.dump_all()
    assert {t for t in after if after[t] != before[t]} == {"mac"}
    assert '"ok1"' in after["mac"] and '"dead1"' not in after["mac"]


def test_table_problems_cost_no_round_trip(mn, vc, look, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    through_vcenter(mn, vc)
    vm_nodes(mn, "badnet", "DC0_H0", "vm.nics=nowhere")
    vm_nodes(mn, "badcpu", "DC0_H1", "vm.cpus=lots")
    vm_nodes(mn, "nohostvm", "DC0_H9")
    mn.ok("nodeadd", "DC0_H9", "groups=all", f"hypervisor.mgr={vc.address}")
    mn.ok("nodeadd", "orphan", "groups=all,vms", "nodehm.mgt=esx")
    calls = Calls(monkeypatch)
    before = mn.dump_all()
    r = calls.during(lambda: mn.run("mkvm", "vms"))
    assert lines(r.err) == [
        "badcpu: Error: bad CPU count 'lots': expected a whole number of at least 1",
        "badnet: Error: vm.nics: no network named 'nowhere' on host DC0_H0",
        f"nohostvm: Error: no host named 'DC0_H9' on vCenter {vc.address}",
        "orphan: Error: no hypervisor: set vm.host"]
    assert calls.of(vc, "CreateVM_Task") == 0
    assert mn.dump_all() == before
    assert set(look.vms()) == {"DC0_H0_VM0", "DC0_H1_VM0"}
    # lsvm of a hypervisor without a vCenter row or credentials says what to set.
    mn.ok("nodeadd", "esx9", "groups=all", "hypervisor.type=esx")
    mn.ok("tabch", "-d", "key=vmware", "passwd")
    assert mn.run("lsvm", "esx9").err == ("esx9: Error: no ESXi credentials for esx9: set the "
                                          "passwd table row with key=vmware\n")
    assert os.environ.get("XCATPY_NO_SUCH") is None
