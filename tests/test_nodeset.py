"""nodeset and rinstall: every action, the files and rows they leave, per-node failures
that leave a node untouched, and a newcomer's node installed end to end (ipmi_sim BMC,
kickstart through ksvalidator, nextdestiny from the node's own address to a real xcatd).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ipmisim import ipmisim_missing_tools, start_ipmisim

IMAGE = "rhels9.4-x86_64-install-compute"
STATE = "install rhels9.4-x86_64-compute"
ROW_TABLES = ("chain", "bootparams", "nodetype")


def _distro(root: Path) -> None:
    """What copycds would leave: the installer kernel and initrd of rhels9.4."""
    d = root / "install/rhels9.4/x86_64/images/pxeboot"
    d.mkdir(parents=True)
    (d / "vmlinuz").write_bytes(b"kernel")
    (d / "initrd.img").write_bytes(b"initrd")


def _site(mn, dhcp: bool = False) -> None:  # type: ignore[no-untyped-def]
    _distro(mn.root)
    mn.ok("chtab", "key=master", "site.value=10.0.0.1")
    mn.ok("chtab", "key=domain", "site.value=cluster.example")
    mn.ok("chtab", "key=system,username=root", "passwd.password=cluster")
    if not dhcp:
        mn.ok("chtab", "key=dhcpsetup", "site.value=n")
    mn.ok("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels9.4", "osarch=x86_64",
          "profile=compute", "provmethod=install", "imagetype=linux")


def _node(mn, name: str, i: int, netboot: str, *extra: str) -> None:  # type: ignore[no-untyped-def]
    mn.ok("mkdef", "-t", "node", "-o", name, "groups=compute,all", "mgt=ipmi",
          f"bmc=10.0.1.{i}", f"ip=10.0.0.{i}", f"mac=52:54:00:00:00:{i:02x}", "os=rhels9.4",
          "arch=x86_64", "profile=compute", f"netboot={netboot}", *extra)


@pytest.fixture
def cluster(mn):  # type: ignore[no-untyped-def]
    _site(mn)
    for i, nb in ((5, "pxe"), (6, "xnba"), (7, "grub2")):
        _node(mn, f"n0{i - 4}", i, nb)
    return mn


def _rows(mn, node: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {t: [line for line in mn.dump(t).splitlines() if line.startswith(f'"{node}"')]
            for t in ROW_TABLES}


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for base in ("tftpboot", "install/autoinst"):
        for p in sorted((root / base).rglob("*")):
            if p.is_symlink():
                out[str(p.relative_to(root))] = "-> " + os.readlink(p)
            elif p.is_file():
                out[str(p.relative_to(root))] = p.read_text()
    return out


def _grub_check(path: Path) -> None:
    tool = shutil.which("grub-script-check") or shutil.which("grub2-script-check")
    if tool is None:
        pytest.skip("grub-script-check not installed (Debian: apt-get install grub-common)")
    p = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_osimage_writes_every_boot_entry_and_the_rows(cluster) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    out = mn.ok("nodeset", "compute", f"osimage={IMAGE}")
    assert out.splitlines() == [f"n01: {STATE}", f"n02: {STATE}", f"n03: {STATE}"]
    tftp = mn.root / "tftpboot"
    kdir = f"xcat/osimage/{IMAGE}"
    ks = "http://10.0.0.1/install/autoinst/n01"
    assert (tftp / "pxelinux.cfg/n01").read_text() == (
        f"#{STATE}\nDEFAULT xCAT\nLABEL xCAT\n KERNEL {kdir}/vmlinuz\n"
        f" APPEND initrd={kdir}/initrd.img quiet inst.repo=http://10.0.0.1/install/rhels9.4/"
        f"x86_64 inst.ks={ks} ip=dhcp\n")
    assert os.readlink(tftp / "pxelinux.cfg/0A000005") == "n01"
    assert (tftp / kdir / "vmlinuz").read_bytes() == b"kernel"
    assert (tftp / kdir / "initrd.img").read_bytes() == b"initrd"
    xnba = (tftp / "xcat/xnba/nodes/n02").read_text().splitlines()
    assert xnba[:2] == ["#!gpxe", f"#{STATE}"]
    assert f"imgfetch -n kernel http://${{next-server}}/tftpboot/{kdir}/vmlinuz" in xnba
    assert "initrd=initrd" in (tftp / "xcat/xnba/nodes/n02.uefi").read_text()
    grub = tftp / "boot/grub2/n03"
    text = grub.read_text()
    assert text.startswith(f"#{STATE}\nset timeout=5\n")
    assert "    set root=tftp,10.0.0.1\n" in text
    assert f"    linux /{kdir}/vmlinuz quiet " in text
    for name in ("grub.cfg-0A000007", "grub.cfg-01-52-54-00-00-00-07"):
        assert os.path.samefile(tftp / "boot/grub2" / name, grub)
    _grub_check(grub)
    for n in ("n01", "n02", "n03"):
        ks_text = (mn.root / "install/autoinst" / n).read_text()
        assert "url --url=http://10.0.0.1/install/rhels9.4/x86_64" in ks_text
    assert sorted(mn.ok("nodels", "n01", "chain.currstate", "chain.currchain",
                        "nodetype.provmethod", "bootparams.initrd").splitlines()) == [
        f"n01: bootparams.initrd: {kdir}/initrd.img", "n01: chain.currchain: boot",
        f"n01: chain.currstate: {STATE}", f"n01: nodetype.provmethod: {IMAGE}"]
    assert mn.ok("nodeset", "compute", "stat").splitlines() == [
        f"n01: {STATE}", f"n02: {STATE}", f"n03: {STATE}"]
    # osimage without a name uses nodetype.provmethod; the same text is not rewritten
    before = (tftp / "pxelinux.cfg/n01").stat().st_mtime_ns
    assert mn.ok("nodeset", "n01", "osimage") == f"n01: {STATE}\n"
    assert (tftp / "pxelinux.cfg/n01").stat().st_mtime_ns == before


def test_failed_nodes_are_left_alone_and_the_rest_done(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    mn.ok("mkdef", "-t", "node", "-o", "nomac", "groups=compute,all", "ip=10.0.0.20",
          "netboot=pxe")
    mn.ok("mkdef", "-t", "node", "-o", "noip", "groups=compute,all",
          "mac=52:54:00:00:01:01", "netboot=xnba")
    mn.ok("mkdef", "-t", "node", "-o", "nonet", "groups=all", "ip=10.0.0.21",
          "mac=52:54:00:00:01:02")
    tmpl = tmp_path / "bad.tmpl"
    tmpl.write_text("text\n#TABLE:nosuchtable:$NODE:col#\n")
    mn.ok("mkdef", "-t", "osimage", "-o", "badimg", "osvers=rhels9.4", "osarch=x86_64",
          "profile=compute", f"template={tmpl}", "imagetype=linux")
    _node(mn, "badtmpl", 30, "pxe", "provmethod=badimg")
    mn.ok("chtab", "node=n03", "chain.currstate=boot")
    failed = ("nomac", "noip", "nonet")
    before = {n: _rows(mn, n) for n in failed}
    r = mn.run("nodeset", "compute,nonet", f"osimage={IMAGE}")
    assert r.code == 1
    assert r.out.splitlines() == [f"badtmpl: {STATE}", f"n01: {STATE}", f"n02: {STATE}",
                                  f"n03: {STATE}"]
    errs = r.err.splitlines()
    assert "noip: Error: no IP address: set hosts.ip (mkdef/chdef ip=...)" in errs
    assert "nomac: Error: no MAC address: set mac.mac (mkdef/chdef mac=...)" in errs
    assert "nonet: Error: noderes.netboot is not set (pxe, xnba or grub2)" in errs
    # badtmpl rendered with osimage= given, so its own provmethod did not matter; now
    # ask for its own image: the template error names file and line
    mn.ok("chtab", "node=badtmpl", "nodetype.provmethod=badimg")
    r = mn.run("nodeset", "badtmpl", "osimage")
    assert r.code == 1 and r.out == ""
    assert re.match(rf"badtmpl: Error: {re.escape(str(tmpl))}:2: .*nosuchtable", r.err), r.err
    assert _rows(mn, "badtmpl")["nodetype"][0].split(",")[4] == '"badimg"'
    for n in ("nomac", "noip", "nonet"):
        assert _rows(mn, n) == before[n], n
        assert not (mn.root / "install/autoinst" / n).exists()
    assert not (mn.root / "tftpboot/pxelinux.cfg/nomac").exists()
    r = mn.run("nodeset", "n01", "osimage=nosuch")
    assert r.err.strip() == ("n01: Error: Cannot find the osimage 'nosuch' "
                             "(define it with mkdef -t osimage)")


def test_template_error_leaves_files_and_rows_unchanged(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    mn.ok("nodeset", "n01", "boot")
    tmpl = tmp_path / "bad.tmpl"
    tmpl.write_text("text\nspeed #TABLE:nodehm:$NODE:serialspeed#\n")
    mn.ok("mkdef", "-t", "osimage", "-o", "badimg", "osvers=rocky9.4", "osarch=x86_64",
          "profile=compute", f"template={tmpl}", "imagetype=linux")
    rows, files = _rows(mn, "n01"), _tree(mn.root)
    r = mn.run("nodeset", "n01,n02", "osimage=badimg")
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines()[0].startswith(f"n01: Error: {tmpl}:2: Unable to find requested "
                                            "field <serialspeed> from table <nodehm>")
    assert _rows(mn, "n01") == rows
    assert _tree(mn.root) == files


def test_boot_shell_runcmd_runimage_offline_next_enact(cluster) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    tftp = mn.root / "tftpboot"
    mn.ok("nodeset", "compute", f"osimage={IMAGE}")
    assert mn.ok("nodeset", "compute", "next").splitlines() == ["n01: boot", "n02: boot",
                                                               "n03: boot"]
    assert (tftp / "pxelinux.cfg/n01").read_text() == "#boot\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n"
    assert (tftp / "xcat/xnba/nodes/n02").read_text() == "#!gpxe\n#boot\nexit\n"
    assert (tftp / "boot/grub2/n03").read_text() == "#boot\nset timeout=5\n"
    _grub_check(tftp / "boot/grub2/n03")
    assert sorted(mn.ok("nodels", "n01", "chain.currstate", "chain.currchain").splitlines()) == [
        "n01: chain.currchain: boot", "n01: chain.currstate: boot"]
    assert mn.ok("nodeset", "n01", "shell") == "n01: shell\n"
    assert " KERNEL xcat/genesis.kernel.x86_64\n" in (tftp / "pxelinux.cfg/n01").read_text()
    assert mn.ok("nodeset", "n03", "runcmd=bmcsetup") == "n03: runcmd=bmcsetup\n"
    _grub_check(tftp / "boot/grub2/n03")
    assert "xcatd=10.0.0.1:3001 destiny=runcmd" in (tftp / "boot/grub2/n03").read_text()
    assert mn.ok("nodeset", "n02", "runimage=http://10.0.0.1/image.tgz") == \
        "n02: runimage=http://10.0.0.1/image.tgz\n"
    assert sorted(mn.ok("nodels", "n02", "chain.currstate", "bootparams.kernel").splitlines()) == [
        "n02: bootparams.kernel: xcat/genesis.kernel.x86_64",
        "n02: chain.currstate: runimage=http://10.0.0.1/image.tgz"]
    # enact rewrites the entry from the tables as they are
    (tftp / "xcat/xnba/nodes/n02").unlink()
    assert mn.ok("nodeset", "n02", "enact") == "n02: runimage=http://10.0.0.1/image.tgz\n"
    assert "#runimage=http://10.0.0.1/image.tgz" in (tftp / "xcat/xnba/nodes/n02").read_text()
    # a chain: next walks it, the last step sticks
    mn.ok("chtab", "node=n01", "chain.currchain=shell,boot")
    assert mn.ok("nodeset", "n01", "next") == "n01: shell\n"
    assert mn.ok("nodeset", "n01", "next") == "n01: boot\n"
    assert mn.ok("nodeset", "n01", "next") == "n01: boot\n"
    assert mn.ok("nodeset", "compute", "offline").splitlines() == [
        "n01: offline", "n02: offline", "n03: offline"]
    assert [p for p in tftp.rglob("*") if (p.is_file() or p.is_symlink())
            and "osimage" not in p.parts] == []
    assert mn.ok("nodeset", "compute", "stat").splitlines() == [
        "n01: offline", "n02: offline", "n03: offline"]


def test_iscsiboot(cluster) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    r = mn.run("nodeset", "n02", "iscsiboot")
    assert r.err.strip() == "n02: Error: no iSCSI target: set iscsi.server and iscsi.target"
    mn.ok("chtab", "node=n02", "iscsi.server=10.0.0.2", "iscsi.target=iqn.2001-04.com.example:d1",
          "iscsi.lun=1")
    assert mn.ok("nodeset", "n02", "iscsiboot") == "n02: iscsiboot\n"
    assert (mn.root / "tftpboot/xcat/xnba/nodes/n02").read_text() == (
        "#!gpxe\n#iscsiboot\nsanboot iscsi:10.0.0.2:::1:iqn.2001-04.com.example:d1\n")


def test_usage_errors(cluster) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    for args in (["n01"], ["n01", "dance"], ["n01", "boot", "shell"], ["n01", "runcmd="]):
        r = mn.run("nodeset", *args)
        assert r.code == 1 and "Usage: nodeset" in r.err, args


def test_prescripts_run_once_per_script_and_failures_stop_their_nodes(cluster) -> None:  # type: ignore[no-untyped-def]
    mn = cluster
    d = mn.root / "install/prescripts"
    d.mkdir(parents=True)
    log = mn.root / "pre.log"
    (d / "record").write_text(f'#!/bin/sh\necho "$ACTION $NODES" >> {log}\n')
    (d / "fail").write_text("#!/bin/sh\necho broken disk >&2\nexit 3\n")
    for s in ("record", "fail"):
        (d / s).chmod(0o755)
    mn.ok("chtab", "node=compute", "prescripts.begin=record")
    mn.ok("chtab", "node=n03", "prescripts.begin=install:fail|boot:record")
    rows = _rows(mn, "n03")
    r = mn.run("nodeset", "compute", f"osimage={IMAGE}")
    assert r.out.splitlines() == [f"n01: {STATE}", f"n02: {STATE}"]
    assert re.fullmatch(r"n03: Error: prescript fail exited 3 after [0-9.]+ s: broken disk\n",
                        r.err), r.err
    assert log.read_text() == "install n01,n02\n"
    assert _rows(mn, "n03") == rows
    assert mn.ok("nodeset", "compute", "boot").count("boot") == 3
    assert log.read_text() == "install n01,n02\nboot n01,n02,n03\n"


# -- the newcomer's node, end to end ---------------------------------------------------

needs_sim = pytest.mark.skipif(bool(ipmisim_missing_tools()) or shutil.which("openssl") is None,
                               reason="ipmi_sim, ipmitool or openssl not installed")


def _ksvalidator() -> str | None:
    local = Path(sys.executable).parent / "ksvalidator"
    return str(local) if local.exists() else shutil.which("ksvalidator")


@needs_sim
def test_newcomer_node_goes_through_rinstall_and_calls_back(daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_daemon import _ssl_client

    mn = daemon.mn
    _distro(mn.root)
    mn.ok("chtab", "key=master", "site.value=127.0.0.1")
    mn.ok("chtab", "key=domain", "site.value=cluster.example")
    mn.ok("chtab", "key=system,username=root", "passwd.password=cluster")
    mn.ok("mkdef", "-t", "network", "-o", "lo", "net=127.0.0.0", "mask=255.0.0.0",
          "gateway=127.0.0.1")
    mn.ok("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels9.4", "osarch=x86_64",
          "profile=compute", "provmethod=install", "imagetype=linux")
    with start_ipmisim(tmp_path / "sims", count=1) as sims:
        bmc = sims[0]
        mn.ok("mkdef", "-t", "node", "n01", "groups=all", "mgt=ipmi",
              f"bmc={bmc.host}:{bmc.port}", f"bmcusername={bmc.user}",
              f"bmcpassword={bmc.password}", "ip=127.0.0.5", "mac=52:54:00:12:34:01",
              "os=rhels9.4", "arch=x86_64", "profile=compute", "netboot=pxe",
              f"provmethod={IMAGE}")
        for i, nb in ((6, "xnba"), (7, "grub2")):
            mn.ok("mkdef", "-t", "node", f"n0{i - 4}", "groups=all", f"ip=127.0.0.{i}",
                  f"mac=52:54:00:12:34:5{i}", "os=rhels9.4", "arch=x86_64",
                  "profile=compute", f"netboot={nb}")
        r = mn.run("rinstall", "n01", f"osimage={IMAGE}")
        assert r.code == 0, r.err
        assert r.out == "Provision node(s): n01\n"
        ipmi = [*bmc.ipmitool_argv(), "chassis"]
        boot = subprocess.run([*ipmi, "bootparam", "get", "5"], capture_output=True, text=True,
                              timeout=30)
        assert "Force PXE" in boot.stdout, boot.stdout + boot.stderr
        power = subprocess.run([*ipmi, "power", "status"], capture_output=True, text=True,
                               timeout=30)
        assert "Chassis Power is on" in power.stdout
    assert mn.ok("nodels", "n01", "nodelist.status") == "n01: powering-on\n"
    ks = mn.root / "install/autoinst/n01"
    validator = _ksvalidator()
    if validator is not None:
        p = subprocess.run([validator, "-v", "RHEL9", str(ks)], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
    assert "<command>nextdestiny</command>" in ks.read_text()
    tftp = mn.root / "tftpboot"
    assert os.readlink(tftp / "pxelinux.cfg/7F000005") == "n01"
    assert (tftp / "pxelinux.cfg/n01").read_text().startswith(f"#{STATE}\n")
    # the other netboot methods, through the daemon this time
    r = daemon.run("nodeset", "n02,n03", f"osimage={IMAGE}")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [f"n02: {STATE}", f"n03: {STATE}"]
    assert (tftp / "xcat/xnba/nodes/n02").is_file() and (tftp / "xcat/xnba/nodes/n02.uefi").is_file()
    _grub_check(tftp / "boot/grub2/n03")
    assert (tftp / "boot/grub2/grub.cfg-01-52-54-00-12-34-57").is_file()
    xnba_before = (tftp / "xcat/xnba/nodes/n02").read_text()
    # the installer's callback from the node's own address
    req = b"<xcatrequest>\n<command>nextdestiny</command>\n</xcatrequest>\n"
    out = _ssl_client(daemon, req, bind="127.0.0.5")
    assert "<name>n01</name>" in out and "serverdone" in out, out
    assert mn.ok("nodels", "n01", "chain.currstate") == "n01: boot\n"
    assert mn.ok("nodels", "n02", "chain.currstate") == f"n02: {STATE}\n"
    # ...and its boot entry now boots the disk, so it does not install again.
    assert (tftp / "pxelinux.cfg/n01").read_text().startswith("#boot\n")
    assert mn.ok("nodeset", "n01", "stat") == "n01: boot\n"
    assert (tftp / "xcat/xnba/nodes/n02").read_text() == xnba_before
