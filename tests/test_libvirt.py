"""The libvirt backend (nodehm.mgt=kvm) against libvirt's real test driver.

Each test writes a test-driver node file (several domains, some running via
``<test:runstate>``, a storage pool) and points a hypervisor node's
``hypervisor.mgr`` at ``test:///<file>``.  Two opens of one file are
independent copies, so effects are checked through the backend's own cached
connection (the one the commands used) or through a follow-up command;
static facts are cross-checked with ``virsh -c <same uri>`` in a subprocess,
and ``test:///default`` (shared by every connection of a process) is checked
through a second connection of our own.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from xcatpy.backends import libvirt as backend  # noqa: E402

libvirt.registerErrorHandler(lambda *_a: None, None)

RUNSTATE = {"on": 1, "suspended": 3, "off": 5}
STATES = {f"vm{i:02d}": ("on", "on", "suspended", "off")[(i - 1) % 4] for i in range(1, 13)}


def mac_of(i: int) -> str:
    return f"52:54:00:10:00:{i:02x}"


def node_xml(path: Path, states: dict[str, str]) -> str:
    parts = ["<node>", "<cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes>"
             "<sockets>1</sockets><cores>4</cores><threads>1</threads><active>4</active></cpu>",
             "<memory>16777216</memory>"]
    for i, (name, state) in enumerate(sorted(states.items()), 1):
        parts.append(f"""<domain type='test'>
  <name>{name}</name><uuid>{uuid.uuid5(uuid.NAMESPACE_DNS, name)}</uuid>
  <memory unit='MiB'>{256 * (1 + i % 3)}</memory><vcpu>{1 + i % 4}</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='network'/><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'><source file='/pool/{name}.vda.qcow2'/>
      <target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><mac address='{mac_of(i)}'/><source bridge='br0'/>
      <model type='virtio'/></interface>
  </devices>
  <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>{RUNSTATE[state]}</test:runstate>
</domain>""")
    vols = "".join(f"<volume type='file'><name>{n}.vda.qcow2</name>"
                   f"<capacity unit='G'>4</capacity></volume>" for n in states)
    parts.append(f"<pool type='dir'><name>images</name><target><path>/pool</path></target>"
                 f"{vols}</pool>")
    parts.append("<network><name>default</name><bridge name='virbr0'/><forward/>"
                 "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>")
    parts.append("</node>")
    path.write_text("\n".join(parts) + "\n")
    return f"test://{path}"


@pytest.fixture
def hyp(mn, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """hyp1 (test:///<file> with vm01..vm12) and VM nodes vm01..vm12 on it; returns the URI."""
    uri = node_xml(tmp_path / "hyp1.xml", STATES)
    mn.ok("nodeadd", "hyp1", "groups=hyp", f"hypervisor.mgr={uri}", "hypervisor.type=kvm")
    mn.ok("nodeadd", "vm[01-12]", "groups=vms", "nodehm.mgt=kvm", "vm.host=hyp1")
    return uri


def lines(text: str) -> list[str]:
    return sorted(line.rstrip() for line in text.strip().splitlines())


def virsh(uri: str, *args: str) -> str:
    if not shutil.which("virsh"):
        pytest.skip("virsh is not installed")
    r = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def state_in(uri: str, name: str) -> str:
    """The state as the backend's own (cached) connection sees it."""
    return backend.STATES[backend.connection(uri).lookupByName(name).state()[0]]


def test_stat_of_many_domains_in_one_request(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("rpower", "vms", "stat")
    assert lines(out) == sorted(f"{n}: {s}" for n, s in STATES.items())
    # The same states as virsh reads from the same file.
    listing = virsh(hyp, "list", "--all")
    for name, state in STATES.items():
        word = {"on": "running", "suspended": "paused", "off": "shut off"}[state]
        assert any(line.split()[1:2] == [name] and word in line for line in listing.splitlines())


def test_power_actions(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    # vm01 on, vm02 on, vm03 suspended, vm04 off
    assert mn.ok("rpower", "vm04", "on") == "vm04: on\n"
    assert state_in(hyp, "vm04") == "on"
    assert mn.ok("rpower", "vm04", "on") == "vm04: on\n"  # already on: nothing to do
    assert mn.ok("rpower", "vm01", "off") == "vm01: off\n"
    assert state_in(hyp, "vm01") == "off"
    assert mn.ok("rpower", "vm01", "off") == "vm01: off\n"
    assert mn.ok("rpower", "vm02", "softoff") == "vm02: softoff\n"
    assert state_in(hyp, "vm02") == "off"
    assert mn.ok("rpower", "vm02", "softoff") == "vm02: off\n"
    assert mn.ok("rpower", "vm01", "boot") == "vm01: on\n"  # off -> on
    assert mn.ok("rpower", "vm01", "boot") == "vm01: reset\n"  # on -> reset
    assert mn.ok("rpower", "vm01", "reset") == "vm01: reset\n"
    assert state_in(hyp, "vm01") == "on"
    assert mn.ok("rpower", "vm01", "suspend") == "vm01: suspended\n"
    assert state_in(hyp, "vm01") == "suspended"
    assert mn.ok("rpower", "vm01", "stat") == "vm01: suspended\n"
    assert mn.ok("rpower", "vm01,vm03", "wake") in ("vm01: on\nvm03: on\n", "vm03: on\nvm01: on\n")
    assert state_in(hyp, "vm03") == "on"
    r = mn.run("rpower", "vm08", "suspend")  # vm08 is off
    assert r.code == 1 and "vm08: Error: vm08 is off" in r.err
    # The commands recorded powering-on/off for the nodes that succeeded only.
    status = mn.dump("nodelist")
    assert '"vm04","vms","powering-on"' in status
    assert '"vm08","vms","powering' not in status


def test_rinv_matches_virsh(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("rinv", "vm05")
    info = virsh(hyp, "dominfo", "vm05")
    xml = virsh(hyp, "dumpxml", "vm05")
    uid = next(line.split()[1] for line in info.splitlines() if line.startswith("UUID"))
    cpus = next(line.split()[1] for line in info.splitlines() if line.startswith("CPU(s)"))
    mem = next(line.split()[2] for line in info.splitlines() if line.startswith("Max memory"))
    assert f"vm05: UUID: {uid}\n" in out
    assert f"vm05: CPUs: {cpus}\n" in out
    assert f"vm05: Memory: {int(mem) // 1024} MiB\n" in out
    assert f"vm05: MAC Address 1: {mac_of(5)}\n" in out
    assert mac_of(5) in xml
    assert "vm05: Disk vda: /pool/vm05.vda.qcow2 (4 GiB)\n" in out
    assert mn.ok("rinv", "vm05", "mac") == f"vm05: MAC Address 1: {mac_of(5)}\n"
    assert mn.ok("rinv", "vm05", "uuid") == f"vm05: UUID: {uid}\n"


def test_rvitals(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    out = mn.ok("rvitals", "vm01,vm04")
    assert "vm01: State: on\n" in out and "vm04: State: off\n" in out
    assert "vm01: CPU Time: " in out and "vm01: Memory In Use: " in out
    assert "vm04: Memory In Use: 0 MiB\n" in out


def test_mkvm_lsvm_rmvm(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "new1,new2", "groups=newvms", "nodehm.mgt=kvm", "vm.host=hyp1",
          "vm.storage=dir:///pool", "vm.memory=768", "vm.cpus=3", "vm.nics=br0,network:default",
          "vm.bootorder=hd,network", "vm.vncport=5907", "nodetype.arch=x86_64")
    mn.ok("chtab", "node=new1", "mac.mac=52:54:00:aa:00:01|52:54:00:aa:00:02")
    out = mn.ok("mkvm", "newvms", "-s", "8G")
    assert lines(out) == ["new1: defined on hyp1, 1 disk created",
                          "new2: defined on hyp1, 1 disk created"]
    conn = backend.connection(hyp)
    dom = conn.lookupByName("new1")
    facts = backend.domain_facts(dom.XMLDesc(0))
    assert facts.vcpus == "3" and facts.memory_kib == 768 * 1024
    assert [m for m, _s, _m in facts.nics] == ["52:54:00:aa:00:01", "52:54:00:aa:00:02"]
    assert facts.boot == ["hd", "network"] and facts.vnc == "5907"
    assert conn.storageVolLookupByPath("/pool/new1.vda.qcow2").info()[1] == 8 << 30
    # The XML is kept; MACs made up for new2 are recorded, new1's are left alone.
    assert "<name>new1</name>" in mn.ok("gettab", "node=new1", "kvm_nodedata.xml")
    macs = mn.ok("gettab", "node=new2", "mac.mac").strip()
    assert macs.count("|") == 1 and macs.startswith("52:54:00:")
    assert mn.ok("gettab", "node=new1", "mac.mac").strip() == "52:54:00:aa:00:01|52:54:00:aa:00:02"
    # lsvm on the hypervisor lists every domain with its state; on a VM, its config.
    listing = mn.ok("lsvm", "hyp1")
    assert "hyp1: new1: off\n" in listing and "hyp1: vm01: on\n" in listing
    assert len(listing.splitlines()) == 14
    cfg = mn.ok("lsvm", "new1")
    assert "new1: Host: hyp1\n" in cfg and "new1: CPUs: 3\n" in cfg
    assert "new1: Disk vda: /pool/new1.vda.qcow2 (8 GiB)\n" in cfg
    # rmvm refuses a running VM without -f; -f -p destroys, undefines and purges.
    mn.ok("rpower", "new1", "on")
    r = mn.run("rmvm", "new1")
    assert r.code == 1 and "new1 is running on hyp1" in r.err
    assert conn.lookupByName("new1").isActive()
    assert mn.ok("rmvm", "new1", "-f", "-p") == "new1: removed, 1 disk purged\n"
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName("new1")
    with pytest.raises(libvirt.libvirtError):
        conn.storageVolLookupByPath("/pool/new1.vda.qcow2")
    assert mn.ok("gettab", "node=new1", "kvm_nodedata.xml").strip() == ""
    # Without -p the disk stays.
    assert mn.ok("rmvm", "new2") == "new2: removed\n"
    assert conn.storageVolLookupByPath("/pool/new2.vda.qcow2")
    assert "new2" not in mn.ok("lsvm", "hyp1")


def test_mkvm_of_an_existing_vm_changes_nothing(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "fresh", "groups=all", "nodehm.mgt=kvm", "vm.host=hyp1", "vm.nics=br0")
    mn.ok("chtab", "node=vm02", "vm.nics=br0", "vm.cpus=8")
    before = mn.dump_all()
    xml_before = backend.connection(hyp).lookupByName("vm02").XMLDesc(0)
    r = mn.run("mkvm", "vm02,fresh")
    assert r.code == 1
    assert "vm02: Error: VM vm02 already exists on hyp1" in r.err
    assert r.out == "fresh: defined on hyp1\n"
    after = mn.dump_all()
    assert backend.connection(hyp).lookupByName("vm02").XMLDesc(0) == xml_before
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"kvm_nodedata", "mac"}
    for t in changed:
        assert "vm02" not in after[t]


def test_chvm_cpus_mem_and_disks(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("chtab", "node=vm06", "vm.storage=dir:///pool")
    conn = backend.connection(hyp)
    before = conn.lookupByName("vm06").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    # The test driver cannot resize volumes: a clear error, and nothing else changed.
    r = mn.run("chvm", "vm06", "--cpus", "6", "--resize", "vda=6G")
    assert r.code == 1 and "vm06: Error: " in r.err and "virStorageVolResize" in r.err
    assert conn.lookupByName("vm06").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
    out = mn.ok("chvm", "vm06", "--cpus", "6", "--mem", "2G", "-a", "1G")
    assert "vm06: CPUs: 6\n" in out and "vm06: Memory: 2048 MiB\n" in out
    assert "vm06: Disk vdb: added /pool/vm06.vdb.qcow2 (1 GiB)\n" in out
    xml = conn.lookupByName("vm06").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    facts = backend.domain_facts(xml)
    assert facts.vcpus == "6" and facts.memory_kib == 2 << 20
    assert [d for d, _p in facts.disks] == ["vda", "vdb"]
    assert conn.storageVolLookupByPath("/pool/vm06.vdb.qcow2").info()[1] == 1 << 30
    assert "<vcpu placement='static'>6</vcpu>" in mn.ok("gettab", "node=vm06", "kvm_nodedata.xml")
    assert mn.ok("chvm", "vm06", "-p", "vdb") == "vm06: Disk vdb: removed and purged\n"
    with pytest.raises(libvirt.libvirtError):
        conn.storageVolLookupByPath("/pool/vm06.vdb.qcow2")
    assert mn.ok("chvm", "vm06", "-d", "vda") == "vm06: Disk vda: removed\n"
    assert conn.storageVolLookupByPath("/pool/vm06.vda.qcow2")  # -d keeps the volume
    r = mn.run("chvm", "vm06", "-d", "vdz")
    assert r.code == 1 and "vm06 has no disk vdz" in r.err
    r = mn.run("chvm", "vm06")
    assert r.code == 1 and "nothing to change" in r.err


def test_rmigrate_refused_by_test_driver(mn, hyp: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri2 = node_xml(tmp_path / "hyp2.xml", {"other": "on"})
    mn.ok("nodeadd", "hyp2", "groups=hyp", f"hypervisor.mgr={uri2}")
    before = mn.dump_all()
    r = mn.run("rmigrate", "vm01", "hyp2")
    assert r.code == 1
    assert "vm01: Error: rmigrate to hyp2 failed: " in r.err
    assert "not supported" in r.err
    assert mn.dump_all() == before
    assert mn.ok("gettab", "node=vm01", "vm.host").strip() == "hyp1"
    r = mn.run("rmigrate", "vm01", "hyp1")
    assert "vm01: Error: vm01 is already on hyp1" in r.err


def test_missing_host_and_bad_hypervisors(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "orphan", "groups=all", "nodehm.mgt=kvm")
    mn.ok("nodeadd", "hypbad,hypdead", "groups=hyp")
    mn.ok("chtab", "node=hypbad", "hypervisor.mgr=test:///nonexistent/hv.xml")
    mn.ok("chtab", "node=hypdead", "hypervisor.mgr=qemu+ssh://root@127.0.0.1:1/system?no_tty=1")
    mn.ok("nodeadd", "lost1", "groups=all", "nodehm.mgt=kvm", "vm.host=hypbad")
    mn.ok("nodeadd", "lost2", "groups=all", "nodehm.mgt=kvm", "vm.host=hypdead")
    before = mn.dump_all()
    # xCAT reports an orphan (no vm.host) as off; every other action is an error.
    r = mn.run("rpower", "orphan,lost1,lost2,vm01", "stat")
    assert r.code == 1
    assert lines(r.out) == ["orphan: off", "vm01: on"]
    err = r.err
    assert "lost1: Error: cannot connect to hypervisor hypbad at test:///nonexistent/hv.xml" in err
    assert ("lost2: Error: cannot connect to hypervisor hypdead at "
            "qemu+ssh://root@127.0.0.1:1/system?no_tty=1") in err
    r = mn.run("rpower", "orphan,lost2,vm04", "on")
    assert r.code == 1
    assert "orphan: Error: no hypervisor: set vm.host" in r.err
    assert r.out == "vm04: on\n"
    for cmd in (("rinv", "orphan"), ("rvitals", "orphan"), ("mkvm", "orphan"),
                ("rmvm", "orphan"), ("chvm", "orphan", "--cpus", "2")):
        r = mn.run(*cmd)
        assert r.code == 1 and "orphan: Error: no hypervisor: set vm.host" in r.err, cmd
    r = mn.run("mkvm", "lost1,lost2")
    assert r.code == 1 and r.err.count("cannot connect to hypervisor") == 2
    # Only vm04's powering-on was written.
    after = mn.dump_all()
    assert {t for t in after if after[t] != before[t]} == {"nodelist"}


def test_vm_not_defined_and_usage_errors(mn, hyp: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "ghostvm", "groups=all", "nodehm.mgt=kvm", "vm.host=hyp1")
    r = mn.run("rpower", "ghostvm,vm01", "stat")
    assert "ghostvm: Error: VM ghostvm is not defined on hypervisor hyp1" in r.err
    assert r.out == "vm01: on\n"
    r = mn.run("rpower", "ghostvm", "off")
    assert "ghostvm: Error: VM ghostvm is not defined on hypervisor hyp1" in r.err
    for args, needle in [(("mkvm", "vm01", "-s", "huge"), "bad size 'huge'"),
                         (("chvm", "vm01", "--cpus", "0"), "--cpus '0'"),
                         (("chvm", "vm01", "--resize", "vda"), "expected disk=size"),
                         (("rmigrate", "vm01"), "a noderange and a target host")]:
        r = mn.run(*args)
        assert r.code == 1 and needle in r.err, (args, r.err)


def test_shared_default_driver_seen_by_a_second_connection(mn) -> None:  # type: ignore[no-untyped-def]
    """test:///default is shared by every connection of the process: check with our own."""
    mn.ok("nodeadd", "hypd", "groups=hyp", "hypervisor.mgr=test:///default")
    mn.ok("nodeadd", "test", "groups=all", "nodehm.mgt=kvm", "vm.host=hypd")
    other = libvirt.open("test:///default")
    dom = other.lookupByName("test")
    try:
        assert mn.ok("rpower", "test", "stat") == "test: on\n"
        assert mn.ok("rpower", "test", "suspend") == "test: suspended\n"
        assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
        assert mn.ok("rpower", "test", "off") == "test: off\n"
        assert not dom.isActive()
        assert mn.ok("rpower", "test", "on") == "test: on\n"
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert mn.ok("chvm", "test", "--cpus", "1") == "test: CPUs: 1\n"
        assert "<vcpu placement='static'>1</vcpu>" in dom.XMLDesc(
            libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        if not dom.isActive():
            dom.create()
        other.close()


def test_daemon_reuses_the_connection(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mn = daemon.mn
    uri = node_xml(tmp_path / "d.xml", {"dvm1": "on", "dvm2": "off"})
    mn.ok("nodeadd", "hypd", "groups=hyp", f"hypervisor.mgr={uri}")
    mn.ok("nodeadd", "dvm1,dvm2", "groups=vms", "nodehm.mgt=kvm", "vm.host=hypd")
    r = daemon.run("rpower", "dvm1", "off")
    assert (r.code, r.out) == (0, "dvm1: off\n"), r.err
    # A fresh open of the file would say dvm1 is running: only the daemon's
    # kept connection knows it was turned off.
    r = daemon.run("rpower", "vms", "stat")
    assert (r.code, lines(r.out)) == (0, ["dvm1: off", "dvm2: off"]), r.err
    assert "dvm1" in virsh(uri, "list")  # running again in a new process
