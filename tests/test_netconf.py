"""makehosts, makedhcp and the iSCSI name checks.

The DHCP outputs are checked by the servers themselves (``kea-dhcp4 -t``,
``dhcpd -t -cf``: Debian packages kea-dhcp4-server and isc-dhcp-server);
neither command binds a socket in test mode, and those tests are skipped,
saying so, where the program is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from xcatpy.provision.iscsi import check_iqn

KEA = shutil.which("kea-dhcp4") or (
    "/usr/sbin/kea-dhcp4" if Path("/usr/sbin/kea-dhcp4").exists() else None)
DHCPD = shutil.which("dhcpd") or ("/usr/sbin/dhcpd" if Path("/usr/sbin/dhcpd").exists() else None)


def _setup(mn, backend: str = "kea") -> None:  # type: ignore[no-untyped-def]
    mn.ok("chtab", "key=domain", "site.value=cluster.net")
    mn.ok("chtab", "key=master", "site.value=10.0.0.1")
    mn.ok("chtab", "key=dhcpbackend", f"site.value={backend}")
    mn.ok("chtab", "net=10.0.0.0", "networks.mask=255.255.0.0", "networks.netname=mgmt",
          "networks.gateway=10.0.0.254", "networks.nameservers=<xcatmaster>",
          "networks.dynamicrange=10.0.200.1-10.0.200.254", "networks.domain=mgmt.cluster")
    mn.ok("nodeadd", "n01-n03", "groups=compute,all", r"hosts.ip=|n(\d+)|10.0.0.($1+10)|",
          r"mac.mac=|n(\d+)|aa:bb:cc:dd:ee:($1+10)|", "noderes.netboot=xnba")
    mn.ok("chtab", "node=n02", "hosts.otherinterfaces=-bmc:10.1.0.12", "hosts.hostnames=alias2",
          "noderes.netboot=pxe")
    mn.ok("chtab", "node=n03", "noderes.netboot=grub2")


def hosts_file(mn) -> Path:  # type: ignore[no-untyped-def]
    return mn.root / "etc" / "hosts"


LOCAL = ("127.0.0.1 localhost localhost.localdomain localhost4 localhost4.localdomain4\n"
         "::1 localhost localhost.localdomain localhost6 localhost6.localdomain6\n")
NODES = ("10.0.0.11 n01 n01.mgmt.cluster\n"
         "10.0.0.12 n02 n02.mgmt.cluster alias2\n"
         "10.1.0.12 n02-bmc n02-bmc.cluster.net\n"
         "10.0.0.13 n03 n03.mgmt.cluster\n")


# -- makehosts -------------------------------------------------------------


def test_makehosts_writes_exact_lines(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    assert mn.ok("makehosts") == ""
    assert hosts_file(mn).read_text() == LOCAL + NODES


def test_makehosts_long_names_first_and_in_place(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    hosts_file(mn).parent.mkdir(parents=True, exist_ok=True)
    hosts_file(mn).write_text("# mine\n192.168.1.1 router\n10.0.0.12 old-n02\n")
    mn.ok("makehosts", "-l", "n02")
    assert hosts_file(mn).read_text() == (
        "# mine\n192.168.1.1 router\n10.0.0.12 n02.mgmt.cluster n02 alias2\n"
        "10.1.0.12 n02-bmc.cluster.net n02-bmc\n")


def test_makehosts_new_and_delete(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    hosts_file(mn).parent.mkdir(parents=True, exist_ok=True)
    hosts_file(mn).write_text("192.168.1.1 router\n")
    mn.ok("makehosts", "-n")
    assert hosts_file(mn).read_text() == LOCAL + NODES
    assert (mn.root / "etc" / "hosts.xcatbak").read_text() == "192.168.1.1 router\n"
    mn.ok("makehosts", "-d", "n02")
    assert hosts_file(mn).read_text() == LOCAL + (
        "10.0.0.11 n01 n01.mgmt.cluster\n10.0.0.13 n03 n03.mgmt.cluster\n")


def test_makehosts_atomic_and_idempotent(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    mn.ok("makehosts")
    st = hosts_file(mn).stat()
    mn.ok("makehosts")
    assert hosts_file(mn).stat().st_ino == st.st_ino, "unchanged file was rewritten"
    mn.ok("chtab", "node=n01", "hosts.ip=10.0.0.99")
    mn.ok("makehosts", "n01")
    assert hosts_file(mn).stat().st_ino != st.st_ino, "not replaced by rename"
    assert hosts_file(mn).read_text() == LOCAL + NODES.replace(
        "10.0.0.11 n01", "10.0.0.99 n01")
    assert [p.name for p in hosts_file(mn).parent.iterdir() if p.name.endswith(".tmp")] == []


def test_makehosts_node_without_ip_is_an_error(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    mn.ok("nodeadd", "n04", "groups=compute")
    r = mn.run("makehosts")
    assert r.code == 1
    assert "n04: Error: no IP address (hosts.ip)" in r.err
    assert hosts_file(mn).read_text() == LOCAL + NODES


def test_makehosts_file_option(mn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    out = tmp_path / "other-hosts"
    mn.ok("makehosts", "-f", str(out), "n01")
    assert out.read_text() == LOCAL + "10.0.0.11 n01 n01.mgmt.cluster\n"


# -- makedhcp --------------------------------------------------------------


def kea_file(mn) -> Path:  # type: ignore[no-untyped-def]
    return mn.root / "etc" / "kea" / "kea-dhcp4.conf"


def isc_file(mn) -> Path:  # type: ignore[no-untyped-def]
    return mn.root / "etc" / "dhcp" / "dhcpd.conf"


def _validate(argv: list[str]) -> None:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_kea_config(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    mn.ok("makedhcp", "-n", "-a")
    cfg = json.loads(kea_file(mn).read_text())["Dhcp4"]
    (subnet,) = cfg["subnet4"]
    assert subnet["subnet"] == "10.0.0.0/16"
    assert subnet["pools"] == [{"pool": "10.0.200.1 - 10.0.200.254"}]
    assert {"name": "routers", "data": "10.0.0.254"} in subnet["option-data"]
    assert {"name": "domain-name-servers", "data": "10.0.0.1"} in subnet["option-data"]
    res = {r["hostname"]: r for r in subnet["reservations"]}
    assert res["n01"] == {"hostname": "n01", "hw-address": "aa:bb:cc:dd:ee:11",
                          "ip-address": "10.0.0.11", "next-server": "10.0.0.1",
                          "boot-file-name": "xcat/xnba.kpxe"}
    assert res["n02"]["boot-file-name"] == "pxelinux.0"
    assert res["n03"]["boot-file-name"] == "boot/grub2/grub2-n03"
    if KEA is None:
        pytest.skip("kea-dhcp4 not installed (apt-get install kea-dhcp4-server)")
    _validate([KEA, "-t", str(kea_file(mn))])


def test_isc_config(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn, "isc")
    mn.ok("chtab", "node=n01", "iscsi.server=10.0.0.5", "iscsi.target=iqn.2001-04.com.example:n01",
          "iscsi.lun=1")
    mn.ok("makedhcp", "-n", "-a")
    text = isc_file(mn).read_text()
    assert "subnet 10.0.0.0 netmask 255.255.0.0 {" in text
    assert "  range 10.0.200.1 10.0.200.254;" in text
    assert ("host n02 { hardware ethernet aa:bb:cc:dd:ee:12; fixed-address 10.0.0.12; "
            'option host-name "n02"; next-server 10.0.0.1; filename "pxelinux.0"; }') in text
    assert 'option root-path "iscsi:10.0.0.5:6:3260:1:iqn.2001-04.com.example:n01";' in text
    assert "http://10.0.0.1/tftpboot/xcat/xnba/nodes/n01" in text
    if DHCPD is None:
        pytest.skip("dhcpd not installed (apt-get install isc-dhcp-server)")
    _validate([DHCPD, "-t", "-cf", str(isc_file(mn))])


@pytest.mark.parametrize("backend", ["kea", "isc"])
def test_query_update_delete(mn, backend: str) -> None:  # type: ignore[no-untyped-def]
    _setup(mn, backend)
    path = kea_file(mn) if backend == "kea" else isc_file(mn)
    mn.ok("makedhcp", "-n")
    assert mn.ok("makedhcp", "-q", "all") == ""
    mn.ok("makedhcp", "n01,n02")
    assert mn.ok("makedhcp", "-q", "all") == (
        "n01: ip-address = 10.0.0.11, hardware-address = aa:bb:cc:dd:ee:11\n"
        "n02: ip-address = 10.0.0.12, hardware-address = aa:bb:cc:dd:ee:12\n")
    ino = path.stat().st_ino
    mn.ok("makedhcp", "n01")  # nothing changed: not rewritten
    assert path.stat().st_ino == ino
    before = path.read_text().splitlines()
    mn.ok("chtab", "node=n02", "mac.mac=AA-BB-CC-DD-EE-99")
    mn.ok("makedhcp", "n02")
    assert path.stat().st_ino != ino
    after = path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and "aa:bb:cc:dd:ee:99" in changed[0][1]
    mn.ok("makedhcp", "-d", "n01")
    assert mn.ok("makedhcp", "-q", "all") == (
        "n02: ip-address = 10.0.0.12, hardware-address = aa:bb:cc:dd:ee:99\n")
    mn.ok("makedhcp", "-a", "-d")
    assert mn.ok("makedhcp", "-q", "-a") == ""


@pytest.mark.parametrize("backend", ["kea", "isc"])
def test_nodes_without_ip_or_mac(mn, backend: str) -> None:  # type: ignore[no-untyped-def]
    _setup(mn, backend)
    mn.ok("nodeadd", "n04", "groups=compute", "mac.mac=aa:bb:cc:dd:ee:44")
    mn.ok("nodeadd", "n05", "groups=compute", "hosts.ip=10.0.0.15")
    mn.ok("nodeadd", "n06", "groups=compute", "hosts.ip=10.9.0.1", "mac.mac=aa:bb:cc:dd:ee:46")
    mn.ok("nodeadd", "n07", "groups=compute", "hosts.ip=10.0.0.17", "mac.mac=aa:bb:cc:dd:ee:11")
    r = mn.run("makedhcp", "-n", "compute")
    assert r.code == 1
    assert "n04: Error: no IP address (hosts.ip)" in r.err
    assert "n05: Error: no MAC address (mac.mac)" in r.err
    assert "n06: Error: IP 10.9.0.1 is in no network of the networks table" in r.err
    assert "n07: Error: MAC aa:bb:cc:dd:ee:11 is already reserved for n01" in r.err
    q = mn.ok("makedhcp", "-q", "compute")
    assert [line.split(":")[0] for line in q.splitlines()] == ["n01", "n02", "n03"]
    path = kea_file(mn) if backend == "kea" else isc_file(mn)
    tool = KEA if backend == "kea" else DHCPD
    if tool is None:
        pytest.skip(f"{backend} validator not installed")
    _validate([tool, "-t", str(path)] if backend == "kea" else [tool, "-t", "-cf", str(path)])


def test_bad_network_row_writes_nothing(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    mn.ok("makedhcp", "-n", "-a")
    before = kea_file(mn).read_text()
    mn.ok("chtab", "net=10.2.0.0", "networks.mask=255.255.0.0", "networks.netname=bad",
          "networks.dynamicrange=10.3.0.1-10.3.0.9")
    r = mn.run("makedhcp", "-n", "-a")
    assert r.code == 1
    assert "networks row bad (10.2.0.0/255.255.0.0): dynamicrange" in r.err
    assert "is not inside 10.2.0.0/16" in r.err
    assert kea_file(mn).read_text() == before
    mn.ok("chtab", "net=10.2.0.0", "networks.dynamicrange=", "networks.mask=255.0.255.0")
    r = mn.run("makedhcp", "n01")
    assert r.code == 1 and "bad net/mask" in r.err
    assert kea_file(mn).read_text() == before


def test_bad_iqn_is_a_node_error(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    mn.ok("chtab", "node=n01", "iscsi.server=10.0.0.5", "iscsi.target=iqn.2001-13.com.example")
    this_month = date.today().strftime("%Y-%m")
    mn.ok("chtab", "node=n02", "iscsi.server=10.0.0.5", f"iscsi.target=iqn.{this_month}.com.example")
    r = mn.run("makedhcp", "-n", "-a")
    assert r.code == 1
    assert "n01: Error: iscsi.target: IQN 'iqn.2001-13.com.example': month 13 is not 01-12" in r.err
    assert "n02: Warning: iscsi.target:" in r.err and "ESX" in r.err
    q = mn.ok("makedhcp", "-q", "-a")
    assert [line.split(":")[0] for line in q.splitlines()] == ["n02", "n03"]


def test_usage_errors(mn) -> None:  # type: ignore[no-untyped-def]
    _setup(mn)
    assert mn.run("makedhcp").code == 1
    assert mn.run("makedhcp", "-n", "-d").code == 1
    assert mn.run("makedhcp", "-q").code == 1
    mn.ok("chtab", "key=dhcpbackend", "site.value=dnsmasq")
    r = mn.run("makedhcp", "-n")
    assert r.code == 1 and "not kea or isc" in r.err


# -- iSCSI names -----------------------------------------------------------

TODAY = date(2024, 6, 15)


@pytest.mark.parametrize("name", [
    "iqn.2001-04.com.example",
    "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
    "iqn.1992-01.com.example:storage.tape1.sys1.xyz",
    "iqn.2024-05.org.example.sub:t1",
    "eui.02004567a425678d",
    "naa.52004567ba64678d",
    "naa.52004567ba64678d52004567ba64678d",
])
def test_valid_iscsi_names(name: str) -> None:
    assert check_iqn(name, TODAY) == (None, None)


@pytest.mark.parametrize(("name", "fragment"), [
    ("", "empty"),
    ("iqn.2001-04.example", "not a reversed domain"),
    ("iqn.2001-4.com.example", "is not iqn.yyyy-mm"),
    ("iqn.2001-00.com.example", "month 00"),
    ("iqn.2001-04.com.example:", "no identifier"),
    ("iqn.2024-07.com.example", "in the future"),
    ("iqn.2001-04.com..example", "is not iqn.yyyy-mm"),
    ("iqn.2001-04.com.exa mple", "characters outside"),
    ("iqn.2001-04.com_x.example", "characters outside"),
    ("eui.0200456", "16 hex digits"),
    ("naa.xyz", "16 or 32 hex digits"),
    ("ign.2001-04.com.example", "must start with"),
    ("iqn.2001-04.com." + "a" * 220, "longer than 223"),
    (" iqn.2001-04.com.example", "white space"),
])
def test_invalid_iscsi_names(name: str, fragment: str) -> None:
    err, _warn = check_iqn(name, TODAY)
    assert err is not None and fragment in err


def test_current_month_warns() -> None:
    err, warn = check_iqn("iqn.2024-06.com.example:t1", TODAY)
    assert err is None and warn is not None and "ESX" in warn
    err, warn = check_iqn("IQN.2001-04.com.Example", TODAY)
    assert err is None and warn is not None and "lower-case" in warn
