"""DHCP configuration for Kea (JSON) and ISC dhcpd, from the tables (xCAT's makedhcp).

Subnets come from ``networks`` (IPv4 rows: net/mask, dynamicrange, gateway,
nameservers, ntpservers, domain, tftpserver; ``<xcatmaster>`` means
``site.master``), one fixed reservation per node from ``hosts.ip`` and the
first MAC of ``mac.mac``, and the boot file from ``noderes.netboot``:

=========  =============================================================
pxe        ``pxelinux.0``
xnba       ``xcat/xnba.kpxe`` (ISC: ``xcat/xnba.efi`` for UEFI clients and
           ``http://<server>/tftpboot/xcat/xnba/nodes/<node>`` once xNBA asks)
grub2      ``boot/grub2/grub2-<node>``
=========  =============================================================

``next-server`` is ``noderes.tftpserver``, ``noderes.xcatmaster``,
``networks.tftpserver`` or ``site.master``, the first that is set; a node
whose ``chain.currstate`` is ``offline`` gets no boot file.  An ``iscsi.target``
adds ``root-path`` ``iscsi:<server>:6:3260:<lun>:<target>``; its IQNs are
checked by :mod:`xcatpy.provision.iscsi`.

The configuration file is the record of what is reserved: updating some
nodes re-reads it, keeps every other reservation as it was and renders the
whole file again, which is written (atomically) only when its text changed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from xcatpy.provision.iscsi import check_iqn

BACKENDS = ("kea", "isc")
DEFAULT_LEASE = 43200
_MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}\Z")
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
ISC_HOST = re.compile(r"host (\S+) \{.*\}\Z")
ISC_MARK = "# makedhcp host reservations: one line per node"


class ConfigError(Exception):
    """The tables or the existing file cannot give a valid configuration; nothing is written."""


@dataclass
class Network:
    name: str
    net: ipaddress.IPv4Network
    gateway: str | None = None
    nameservers: list[str] = field(default_factory=list)
    ntpservers: list[str] = field(default_factory=list)
    domain: str | None = None
    tftpserver: str | None = None
    ranges: list[tuple[str, str]] = field(default_factory=list)


def _master(value: str, site: Mapping[str, str]) -> str | None:
    if value.strip().lower() in ("<xcatmaster>", "xcatmaster"):
        return site.get("master") or None
    return value.strip()


def _ipv4(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an IPv4 address") from None


def _ip_list(value: str | None, site: Mapping[str, str], what: str) -> list[str]:
    out = []
    for item in (value or "").split(","):
        if not item.strip():
            continue
        ip = _master(item, site)
        if ip:
            out.append(_ipv4(ip, what))
    return out


def _range(text: str, net: ipaddress.IPv4Network) -> tuple[str, str]:
    text = text.strip()
    if "/" in text:
        sub = ipaddress.IPv4Network(text, strict=False)
        hosts = list(sub.hosts()) if sub.num_addresses > 2 else [sub.network_address]
        lo, hi = hosts[0], hosts[-1]
    else:
        parts = re.split(r"\s*[-,]\s*|\s+", text)
        if len(parts) != 2:
            raise ValueError(f"dynamicrange {text!r} is not start-end")
        lo = ipaddress.IPv4Address(_ipv4(parts[0], "dynamicrange start"))
        hi = ipaddress.IPv4Address(_ipv4(parts[1], "dynamicrange end"))
    if lo > hi:
        raise ValueError(f"dynamicrange {text!r} ends before it starts")
    if lo not in net or hi not in net:
        raise ValueError(f"dynamicrange {text!r} is not inside {net}")
    return str(lo), str(hi)


def parse_networks(
    rows: Iterable[Mapping[str, str | None]], site: Mapping[str, str]
) -> tuple[list[Network], list[str]]:
    """IPv4 networks from ``networks`` rows, and an error per unusable row (IPv6 rows are
    not DHCPv4's and are skipped)."""
    nets: list[Network] = []
    errors: list[str] = []
    for row in rows:
        net, mask = (row.get("net") or "").strip(), (row.get("mask") or "").strip()
        label = f"networks row {row.get('netname') or ''!s} ({net}/{mask})"
        if ":" in net:
            continue
        try:
            addr = ipaddress.IPv4Network(f"{net}/{mask.lstrip('/')}", strict=True)
        except ValueError as exc:
            errors.append(f"{label}: bad net/mask: {exc}")
            continue
        try:
            gw = _master(row.get("gateway") or "", site)
            n = Network(
                name=row.get("netname") or str(addr),
                net=addr,
                gateway=_ipv4(gw, "gateway") if gw else None,
                nameservers=_ip_list(row.get("nameservers"), site, "nameserver"),
                ntpservers=_ip_list(row.get("ntpservers"), site, "ntpserver"),
                domain=(row.get("domain") or "").strip() or None,
                tftpserver=_master(row.get("tftpserver") or "", site) or None,
            )
            for part in (row.get("dynamicrange") or "").split(";"):
                if part.strip():
                    n.ranges.append(_range(part, addr))
            if n.domain and not _NAME.match(n.domain):
                raise ValueError(f"domain {n.domain!r} is not a domain name")
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
            continue
        nets.append(n)
    nets.sort(key=lambda n: (-n.net.prefixlen, int(n.net.network_address)))
    return nets, errors


def network_finder(nets: Sequence[Network]) -> Any:
    """ip text -> the most specific Network holding it (or None); cached per address."""
    cache: dict[str, Network | None] = {}
    spans = [(int(n.net.network_address), int(n.net.broadcast_address), n) for n in nets]

    def find(ip: str) -> Network | None:
        if ip in cache:
            return cache[ip]
        try:
            value = int(ipaddress.IPv4Address(ip))
        except ValueError:
            cache[ip] = None
            return None
        hit = next((n for lo, hi, n in spans if lo <= value <= hi), None)
        cache[ip] = hit
        return hit

    return find


def normalise_mac(value: str | None) -> str:
    """The first MAC of xCAT's ``mac.mac`` (``m1|m2!name``), lower case with colons."""
    if not value or not value.strip():
        raise ValueError("no MAC address (mac.mac)")
    first = value.split("|")[0].split("!")[0].strip().lower()
    if not _MAC.match(first):
        raise ValueError(f"MAC {first!r} (mac.mac) is not a MAC address")
    return first.replace("-", ":")


@dataclass
class Host:
    """One node's reservation."""

    node: str
    ip: str
    mac: str
    next_server: str | None = None
    netboot: str | None = None
    root_path: str | None = None


@dataclass
class Reservation:
    """What the file holds for one node: address, MAC, and the rendered entry."""

    node: str
    ip: str
    mac: str
    entry: Any  # a dict (Kea) or one line (ISC)


def build_hosts(
    nodes: Sequence[str],
    get: Any,
    find_network: Any,
    site: Mapping[str, str],
    server_ips: Mapping[str, str],
    today: date | None = None,
) -> tuple[list[Host], dict[str, list[str]], dict[str, list[str]]]:
    """Hosts for ``nodes`` (``get(node, table, column)``), per-node errors and warnings."""
    hosts: list[Host] = []
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    today = today or date.today()
    for node in nodes:
        try:
            if not _NAME.match(node):
                raise ValueError(f"node name {node!r} cannot be a DHCP host name")
            ip_text = get(node, "hosts", "ip")
            if not ip_text:
                raise ValueError("no IP address (hosts.ip)")
            ip = _ipv4(ip_text.strip(), "hosts.ip")
            mac = normalise_mac(get(node, "mac", "mac"))
            net = find_network(ip)
            if net is None:
                raise ValueError(f"IP {ip} is in no network of the networks table")
            host = Host(node, ip, mac, netboot=(get(node, "noderes", "netboot") or "").strip())
            server = (get(node, "noderes", "tftpserver") or get(node, "noderes", "xcatmaster")
                      or net.tftpserver or site.get("master"))
            if server:
                server = server.strip()
                resolved = server_ips.get(server, server)
                host.next_server = _ipv4(resolved, f"boot server {server!r}")
            if (get(node, "chain", "currstate") or "").strip().startswith("offline"):
                host.netboot = None
            target = get(node, "iscsi", "target")
            for column in ("target", "iname"):
                value = get(node, "iscsi", column)
                if value:
                    err, warn = check_iqn(value, today)
                    if err:
                        raise ValueError(f"iscsi.{column}: {err}")
                    if warn:
                        warnings.setdefault(node, []).append(f"iscsi.{column}: {warn}")
            if target:
                iserver = get(node, "iscsi", "server") or host.next_server
                if not iserver:
                    raise ValueError("iscsi.target is set but no iscsi.server")
                lun = (get(node, "iscsi", "lun") or "0").strip()
                host.root_path = f"iscsi:{iserver.strip()}:6:3260:{lun}:{target.strip()}"
        except ValueError as exc:
            errors.setdefault(node, []).append(str(exc))
            continue
        hosts.append(host)
    return hosts, errors, warnings


# -- Kea -----------------------------------------------------------------


def _boot_kea(host: Host) -> dict[str, str]:
    nb = host.netboot
    if nb == "pxe":
        return {"boot-file-name": "pxelinux.0"}
    if nb == "xnba":
        return {"boot-file-name": "xcat/xnba.kpxe"}
    if nb == "grub2":
        return {"boot-file-name": f"boot/grub2/grub2-{host.node}"}
    return {}


def kea_entry(host: Host) -> dict[str, Any]:
    entry: dict[str, Any] = {"hostname": host.node, "hw-address": host.mac,
                             "ip-address": host.ip}
    boot = _boot_kea(host)
    if boot and host.next_server:
        entry["next-server"] = host.next_server
    entry.update(boot)
    if host.root_path:
        entry["option-data"] = [{"name": "root-path", "data": host.root_path}]
    return entry


def kea_load(text: str) -> list[Reservation]:
    try:
        cfg = json.loads(text)
        out = []
        for subnet in cfg["Dhcp4"].get("subnet4", []):
            for r in subnet.get("reservations", []):
                out.append(Reservation(r["hostname"], r["ip-address"], r["hw-address"], r))
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"cannot read the existing Kea configuration ({exc}); "
                          "makedhcp -n writes a new one") from None


def _subnet_id(net: Network, used: set[int]) -> int:
    sid = int(net.net.network_address) or 1
    while sid in used:
        sid += 1
    used.add(sid)
    return sid


def kea_render(nets: Sequence[Network], site: Mapping[str, str],
               reservations: Sequence[Reservation], find_network: Any) -> str:
    by_net: dict[int, list[dict[str, Any]]] = {}
    for r in reservations:
        by_net.setdefault(id(find_network(r.ip)), []).append(r.entry)
    used: set[int] = set()
    subnets = []
    for n in sorted(nets, key=lambda n: (int(n.net.network_address), n.net.prefixlen)):
        s: dict[str, Any] = {"id": _subnet_id(n, used), "subnet": str(n.net)}
        if n.ranges:
            s["pools"] = [{"pool": f"{lo} - {hi}"} for lo, hi in n.ranges]
        opts = []
        if n.gateway:
            opts.append({"name": "routers", "data": n.gateway})
        if n.nameservers:
            opts.append({"name": "domain-name-servers", "data": ", ".join(n.nameservers)})
        if n.ntpservers:
            opts.append({"name": "ntp-servers", "data": ", ".join(n.ntpservers)})
        domain = n.domain or site.get("domain")
        if domain:
            opts.append({"name": "domain-name", "data": domain})
        if opts:
            s["option-data"] = opts
        if n.tftpserver and _is_ipv4(n.tftpserver):
            s["next-server"] = n.tftpserver
        s["reservations"] = by_net.get(id(n), [])
        subnets.append(s)
    ifaces = [i for i in re.split(r"[,\s]+", site.get("dhcpinterfaces") or "") if i]
    cfg = {"Dhcp4": {
        "interfaces-config": {"interfaces": ifaces or ["*"]},
        "lease-database": {"type": "memfile", "lfc-interval": 3600},
        "valid-lifetime": _lease(site),
        "host-reservation-identifiers": ["hw-address"],
        "subnet4": subnets,
    }}
    return json.dumps(cfg, indent=2) + "\n"


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def _lease(site: Mapping[str, str]) -> int:
    try:
        value = int((site.get("dhcplease") or "").strip())
        return value if value > 0 else DEFAULT_LEASE
    except ValueError:
        return DEFAULT_LEASE


# -- ISC dhcpd -------------------------------------------------------------


def isc_entry(host: Host) -> str:
    parts = [f"host {host.node} {{", f"hardware ethernet {host.mac};",
             f"fixed-address {host.ip};", f'option host-name "{host.node}";']
    nb = host.netboot
    boot = None
    if nb == "pxe":
        boot = 'filename "pxelinux.0";'
    elif nb == "xnba":
        url = f"http://{host.next_server}/tftpboot/xcat/xnba/nodes/{host.node}"
        boot = (f'if exists user-class and option user-class = "xNBA" {{ filename "{url}"; }} '
                'elsif option client-architecture = 00:07 { filename "xcat/xnba.efi"; } '
                'else { filename "xcat/xnba.kpxe"; }')
    elif nb == "grub2":
        boot = f'filename "boot/grub2/grub2-{host.node}";'
    if boot and host.next_server:
        parts.append(f"next-server {host.next_server};")
    if boot:
        parts.append(boot)
    if host.root_path:
        parts.append(f'option root-path "{host.root_path}";')
    parts.append("}")
    return " ".join(parts)


_ISC_HW = re.compile(r"hardware ethernet ([0-9a-f:]+);")
_ISC_IP = re.compile(r"fixed-address ([0-9.]+);")


def isc_load(text: str) -> list[Reservation]:
    out = []
    for line in text.splitlines():
        m = ISC_HOST.match(line)
        if not m:
            continue
        hw, ip = _ISC_HW.search(line), _ISC_IP.search(line)
        if not hw or not ip:
            raise ConfigError(f"cannot read the host line for {m.group(1)} in the existing "
                              "dhcpd configuration; makedhcp -n writes a new one")
        out.append(Reservation(m.group(1), ip.group(1), hw.group(1), line))
    return out


def isc_render(nets: Sequence[Network], site: Mapping[str, str],
               reservations: Sequence[Reservation], find_network: Any) -> str:
    lease = _lease(site)
    lines = [
        "# Written by makedhcp from the networks, hosts, mac, noderes, chain and iscsi tables.",
        "# Changes made here are lost at the next makedhcp.",
        "option client-architecture code 93 = unsigned integer 16;",
        "authoritative;",
        "ddns-update-style none;",
        f"default-lease-time {lease};",
        f"max-lease-time {lease};",
    ]
    for n in sorted(nets, key=lambda n: (int(n.net.network_address), n.net.prefixlen)):
        lines.append(f"subnet {n.net.network_address} netmask {n.net.netmask} {{")
        if n.gateway:
            lines.append(f"  option routers {n.gateway};")
        if n.nameservers:
            lines.append(f"  option domain-name-servers {', '.join(n.nameservers)};")
        if n.ntpservers:
            lines.append(f"  option ntp-servers {', '.join(n.ntpservers)};")
        domain = n.domain or site.get("domain")
        if domain:
            lines.append(f'  option domain-name "{domain}";')
        if n.tftpserver and _is_ipv4(n.tftpserver):
            lines.append(f"  next-server {n.tftpserver};")
        for lo, hi in n.ranges:
            lines.append(f"  range {lo} {hi};")
        lines.append("}")
    lines.append(ISC_MARK)
    lines.extend(r.entry for r in reservations)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Backend:
    name: str
    default_path: tuple[str, ...]
    entry: Any
    load: Any
    render: Any


KEA = Backend("kea", ("etc", "kea", "kea-dhcp4.conf"), kea_entry, kea_load, kea_render)
ISC = Backend("isc", ("etc", "dhcp", "dhcpd.conf"), isc_entry, isc_load, isc_render)


def backend_for(site: Mapping[str, str]) -> Backend:
    name = (site.get("dhcpbackend") or "kea").strip().lower()
    if name in ("kea", ""):
        return KEA
    if name in ("isc", "dhcpd", "isc-dhcpd"):
        return ISC
    raise ConfigError(f"site.dhcpbackend {name!r} is not kea or isc")


def config_path(root: Path, site: Mapping[str, str], backend: Backend) -> Path:
    """``site.dhcpconffile`` when set (relative paths are under the root), else the default."""
    given = (site.get("dhcpconffile") or "").strip()
    if given:
        p = Path(given)
        return p if p.is_absolute() else root / p
    return root.joinpath(*backend.default_path)


def merge(
    existing: Sequence[Reservation],
    new: Sequence[Host],
    remove: Iterable[str],
    backend: Backend,
    find_network: Any,
) -> tuple[list[Reservation], dict[str, list[str]], list[str]]:
    """Existing reservations with ``remove`` dropped and ``new`` replacing/appending.

    Returns (reservations, per-node errors for new hosts whose MAC or IP another node
    holds, warnings for kept reservations that fit no network any more).
    """
    replaced = {h.node for h in new} | set(remove)
    kept: list[Reservation] = []
    warnings: list[str] = []
    for r in existing:
        if r.node in replaced:
            continue
        if find_network(r.ip) is None:
            warnings.append(f"{r.node}: dropped its reservation: {r.ip} is in no network")
            continue
        kept.append(r)
    by_ip = {r.ip: r.node for r in kept}
    by_mac = {r.mac: r.node for r in kept}
    errors: dict[str, list[str]] = {}
    position = {r.node: i for i, r in enumerate(existing)}
    added: list[tuple[int, Reservation]] = []
    for h in new:
        other = by_ip.get(h.ip) or by_mac.get(h.mac)
        if other is not None:
            what = f"IP {h.ip}" if h.ip in by_ip else f"MAC {h.mac}"
            errors.setdefault(h.node, []).append(f"{what} is already reserved for {other}")
            continue
        by_ip[h.ip] = by_mac[h.mac] = h.node
        added.append((position.get(h.node, len(existing)),
                      Reservation(h.node, h.ip, h.mac, backend.entry(h))))
    # a replaced node keeps its place in the file; new nodes go at the end, in request order
    out: list[tuple[int, int, Reservation]] = [
        (position[r.node], 0, r) for r in kept
    ]
    out.extend((pos, i + 1, r) for i, (pos, r) in enumerate(added))
    out.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in out], errors, warnings
