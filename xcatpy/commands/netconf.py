"""makehosts and makedhcp: the hosts file and the DHCP server configuration from the tables.

Both read every table they need once for all nodes of the request, close the
database, then build the new file in memory and replace the old one
atomically, and only when its text changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xcatpy.commands._util import has, parse_opts, reading, request_nodes, value
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError, XcatError
from xcatpy.protocol import Request, Response, error, info, warning

HOSTS_USAGE = "Usage: makehosts [-n] [-d] [-l] [-f|--hostsfile FILE] [noderange]"
DHCP_USAGE = "Usage: makedhcp -n [-a] | -a [-d] | -d noderange | -q noderange | noderange"


def _networks(conn: Any, ctx: Context) -> list[dict[str, str | None]]:
    from xcatpy.store.attrs import enabled
    from xcatpy.store.rows import read_rows

    return [r for r in read_rows(conn, ctx.store, "networks") if enabled(r)]


def _errors(errs: dict[str, list[str]]) -> Iterator[Response]:
    for node, messages in errs.items():
        for m in messages:
            yield error(m, node=node)


# -- makehosts -------------------------------------------------------------


def hosts_path(ctx: Context, site: dict[str, str], given: str | None) -> Path:
    """-f FILE, else ``site.hostsfile``, else ``<XCATPY_ROOT>/etc/hosts``; relative paths
    are under XCATPY_ROOT."""
    text = given or (site.get("hostsfile") or "").strip()
    if not text:
        return ctx.paths.root / "etc" / "hosts"
    p = Path(text)
    return p if p.is_absolute() else ctx.paths.root / p


def makehosts(req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.provision import dhcp, hosts

    opts, rest = parse_opts(req.args, "ndlmf:", ["hostsfile="], HOSTS_USAGE)
    if rest:
        raise UsageError(f"makehosts: unexpected argument {rest[0]!r}\n{HOSTS_USAGE}")
    if has(opts, "-m"):
        raise UsageError("makehosts: -m is not supported")
    new_file, delete, long_first = has(opts, "-n"), has(opts, "-d"), has(opts, "-l")
    if new_file and delete:
        raise UsageError(f"makehosts: -n and -d cannot be used together\n{HOSTS_USAGE}")
    with reading(ctx) as (conn, view):
        site = dict(view.site)
        nodes = request_nodes(req, view) if req.noderange else view.node_names()
        if delete and not req.noderange:
            raise UsageError(f"makehosts -d needs a noderange\n{HOSTS_USAGE}")
        res = view.attributes(nodes, {"hosts": ["ip", "hostnames", "otherinterfaces"]},
                              ordered=False)
        nets, _bad = dhcp.parse_networks(_networks(conn, ctx), site)
    path = hosts_path(ctx, site, value(opts, "-f", "--hostsfile"))
    find = dhcp.network_finder(nets)
    site_domain = (site.get("domain") or "").strip() or None

    def domain_of(ip: str) -> str | None:
        net = find(ip) if ":" not in ip else None
        return (net.domain if net is not None else None) or site_domain

    entries: list[hosts.NodeHosts] = []
    removals: list[hosts.NodeHosts] = []
    errs: dict[str, list[str]] = dict(res.errors)
    for node in nodes:
        ip = res.get(node, "hosts", "ip")
        try:
            entry = hosts.node_hosts(node, ip, res.get(node, "hosts", "hostnames"),
                                     res.get(node, "hosts", "otherinterfaces"), domain_of,
                                     long_first)
        except ValueError as exc:
            if delete:  # remove what can be recognised: the node's own name
                e = hosts.NodeHosts(node, names={node})
                if site_domain:
                    e.names.add(f"{node}.{site_domain}")
                removals.append(e)
            else:
                errs.setdefault(node, []).append(str(exc))
            continue
        (removals if delete else entries).append(entry)
    if new_file:
        text = hosts.LOCALHOST + "".join(line for e in entries for line in e.lines)
        if path.exists():
            hosts.write_atomic(path.with_name(path.name + ".xcatbak"), path.read_text())
    else:
        try:
            old = path.read_text()
        except FileNotFoundError:
            old = hosts.LOCALHOST
        text = hosts.update_text(old, entries, removals)
    try:
        hosts.write_atomic(path, text)
    except OSError as exc:
        raise XcatError(f"makehosts: cannot write {path}: {exc.strerror or exc}") from None
    yield from _errors(errs)


# -- makedhcp --------------------------------------------------------------

_DHCP_TABLES = {
    "hosts": ["ip"],
    "mac": ["mac"],
    "noderes": ["netboot", "tftpserver", "xcatmaster"],
    "chain": ["currstate"],
    "iscsi": ["server", "target", "lun", "iname"],
}


def _server_ips(view: Any, res: Any, nets: list[Any], site: dict[str, str]) -> dict[str, str]:
    """Boot servers named by host name → their hosts.ip (one query for all of them)."""
    names: set[str] = set()
    for col in ("tftpserver", "xcatmaster"):
        names.update((res.columns.get(("noderes", col)) or {}).values())
    names.update(n.tftpserver for n in nets if n.tftpserver)
    if site.get("master"):
        names.add(site["master"])
    wanted = []
    for n in {x.strip() for x in names}:
        try:
            ipaddress.IPv4Address(n)
        except ValueError:
            wanted.append(n)
    known = [n for n in wanted if n in view.node_index]
    if not known:
        return {}
    r = view.attributes(known, {"hosts": ["ip"]}, ordered=False)
    return {n: ip.strip() for n, ip in (r.columns.get(("hosts", "ip")) or {}).items()}


def makedhcp(req: Request, ctx: Context) -> Iterator[Response]:
    from xcatpy.provision import dhcp
    from xcatpy.provision.hosts import write_atomic

    opts, rest = parse_opts(req.args, "nadqls:", [], DHCP_USAGE)
    if rest:
        raise UsageError(f"makedhcp: unexpected argument {rest[0]!r}\n{DHCP_USAGE}")
    if has(opts, "-s"):
        raise UsageError("makedhcp: -s is not supported")
    new, every, delete, query = (has(opts, f"-{c}") for c in "nadq")
    if query and (new or delete):
        raise UsageError(f"makedhcp: -q cannot be combined with -n or -d\n{DHCP_USAGE}")
    if new and delete:
        raise UsageError(f"makedhcp: -n and -d cannot be used together\n{DHCP_USAGE}")
    if not (new or every or req.noderange):
        raise UsageError(f"makedhcp: give -n, -a or a noderange\n{DHCP_USAGE}")
    if every and req.noderange:
        raise UsageError(f"makedhcp: -a and a noderange cannot be used together\n{DHCP_USAGE}")
    if query and not (every or req.noderange):
        raise UsageError(f"makedhcp -q needs a noderange or -a\n{DHCP_USAGE}")

    with reading(ctx) as (conn, view):
        site = dict(view.site)
        try:
            backend = dhcp.backend_for(site)
        except dhcp.ConfigError as exc:
            raise XcatError(f"makedhcp: {exc}") from None
        nodes = request_nodes(req, view) if req.noderange else []
        if query:
            path = dhcp.config_path(ctx.paths.root, site, backend)
            yield from _query(path, backend, None if every else nodes)
            return
        if every and not delete:
            nodes = view.node_names()
        res = None
        if nodes and not delete:
            res = view.attributes(nodes, _DHCP_TABLES, ordered=False)
        nets, bad = dhcp.parse_networks(_networks(conn, ctx), site)
        servers = _server_ips(view, res, nets, site) if res is not None else {}
    path = dhcp.config_path(ctx.paths.root, site, backend)
    if bad:
        for m in bad:
            yield error(f"makedhcp: {m}")
        yield error(f"makedhcp: {path} left unchanged")
        return
    find = dhcp.network_finder(nets)
    hosts: list[dhcp.Host] = []
    errs: dict[str, list[str]] = {}
    warns: dict[str, list[str]] = {}
    if res is not None:
        errs = {n: list(m) for n, m in res.errors.items()}
        macs = res.columns.get(("mac", "mac")) or {}
        wanted = [n for n in nodes if n in macs] if every else nodes
        hosts, e2, warns = dhcp.build_hosts(wanted, res.get, find, site, servers)
        for n, m in e2.items():
            errs.setdefault(n, []).extend(m)
    existing: list[dhcp.Reservation] = []
    if not new:
        try:
            existing = backend.load(path.read_text())
        except FileNotFoundError:
            existing = []
        except dhcp.ConfigError as exc:
            raise XcatError(f"makedhcp: {path}: {exc}") from None
    if delete:
        remove = {r.node for r in existing} if every else set(nodes)
    else:
        remove = set()
    merged, e3, kept_warn = dhcp.merge(existing, hosts, remove, backend, find)
    for n, m in e3.items():
        errs.setdefault(n, []).extend(m)
    text = backend.render(nets, site, merged, find)
    try:
        changed = write_atomic(path, text)
    except OSError as exc:
        raise XcatError(f"makedhcp: cannot write {path}: {exc.strerror or exc}") from None
    for w in kept_warn:
        yield warning(w)
    for node, messages in warns.items():
        for m in messages:
            yield warning(m, node=node)
    yield from _errors(errs)
    if changed:
        yield info(f"makedhcp: wrote {path}; reload the {backend.name} DHCP service to apply it")


def _query(path: Path, backend: Any, nodes: list[str] | None) -> Iterator[Response]:
    from xcatpy.protocol import data
    from xcatpy.provision import dhcp

    try:
        existing = backend.load(path.read_text())
    except FileNotFoundError:
        existing = []
    except dhcp.ConfigError as exc:
        raise XcatError(f"makedhcp: {path}: {exc}") from None
    by_node = {r.node: r for r in existing}
    for node in (nodes if nodes is not None else [r.node for r in existing]):
        r = by_node.get(node)
        if r is not None:
            yield data(f"ip-address = {r.ip}, hardware-address = {r.mac}", node=node)
