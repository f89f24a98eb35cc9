"""The hosts file: lines for nodes from ``hosts``, ``networks`` and ``site`` (xCAT's makehosts).

A node's lines::

    <hosts.ip>  <node> <node>.<domain> <hosts.hostnames...>     (-l: <node>.<domain> first)
    <ip>        <node><suffix> <node><suffix>.<domain>           one per hosts.otherinterfaces entry

The domain is ``networks.domain`` of the network holding the address, else
``site.domain``; without either only the short name is written.
``hosts.otherinterfaces`` is xCAT's ``name:ip,name:ip`` list, where a name
starting with ``-`` is a suffix to the node name (``-bmc:10.1.0.5`` →
``n01-bmc``).

Updating nodes keeps every other line as it is: a line belongs to a node when
its address or one of its names is one of the node's.  Files are replaced
atomically (a temporary file in the same directory, then rename) and only when
their text changes.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOCALHOST = (
    "127.0.0.1 localhost localhost.localdomain localhost4 localhost4.localdomain4\n"
    "::1 localhost localhost.localdomain localhost6 localhost6.localdomain6\n"
)


@dataclass
class NodeHosts:
    """The lines one node owns, and every address and name that marks its old lines."""

    node: str
    lines: list[str] = field(default_factory=list)
    addresses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)


def split_names(value: str | None) -> list[str]:
    """hosts.hostnames: names separated by commas, '|' or white space."""
    if not value:
        return []
    return [n for n in value.replace(",", " ").replace("|", " ").split() if n]


def parse_otherinterfaces(node: str, value: str | None) -> list[tuple[str, str]]:
    """xCAT's ``name:ip,name:ip`` (``-suffix`` appends to the node name) → [(name, ip)]."""
    out = []
    for item in (value or "").replace("|", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, ip = item.rpartition(":")
        if not sep or not name or not ip:
            raise ValueError(f"hosts.otherinterfaces entry {item!r} is not name:ip")
        if name.startswith("-"):
            name = node + name
        out.append((name, ip.strip()))
    return out


def check_ip(text: str) -> str:
    """The address normalised; ValueError naming it when it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def node_hosts(
    node: str,
    ip: str | None,
    hostnames: str | None,
    otherinterfaces: str | None,
    find_domain: Callable[[str], str | None],
    long_first: bool,
) -> NodeHosts:
    """The lines of one node; ValueError (with the reason) when its data is unusable."""
    if not ip:
        raise ValueError("no IP address (hosts.ip)")
    entry = NodeHosts(node)
    main_ip = check_ip(ip)
    pairs = [(node, main_ip, split_names(hostnames))]
    for name, oip in parse_otherinterfaces(node, otherinterfaces):
        pairs.append((name, check_ip(oip), []))
    for name, addr, extra in pairs:
        domain = find_domain(addr)
        if domain and not name.endswith("." + domain):
            fqdn = f"{name}.{domain}"
            names = [fqdn, name] if long_first else [name, fqdn]
        else:
            names = [name]
        for e in extra:
            if e not in names:
                names.append(e)
        entry.lines.append(f"{addr} {' '.join(names)}\n")
        entry.addresses.add(addr)
        entry.names.update(names)
    return entry


def _line_key(line: str) -> tuple[str, list[str]] | None:
    body = line.split("#", 1)[0].split()
    if len(body) < 2:
        return None
    return body[0], body[1:]


def update_text(
    old: str,
    entries: Sequence[NodeHosts],
    remove: Iterable[NodeHosts] = (),
) -> str:
    """``old`` with each entry's old lines replaced by its new ones (in place), the lines of
    ``remove`` dropped, and entries that had no line appended at the end."""
    owner_by_addr: dict[str, int] = {}
    owner_by_name: dict[str, int] = {}
    groups: list[NodeHosts] = [*entries, *remove]
    for i, e in enumerate(groups):
        for a in e.addresses:
            owner_by_addr.setdefault(a, i)
        for n in e.names:
            owner_by_name.setdefault(n, i)
    placed: set[int] = set()
    out: list[str] = []
    for line in old.splitlines(keepends=True):
        key = _line_key(line)
        owner = None
        if key is not None:
            addr, names = key
            try:
                addr = str(ipaddress.ip_address(addr))
            except ValueError:
                pass
            owner = owner_by_addr.get(addr)
            if owner is None:
                for n in names:
                    owner = owner_by_name.get(n)
                    if owner is not None:
                        break
        if owner is None:
            out.append(line if line.endswith("\n") else line + "\n")
            continue
        if owner < len(entries) and owner not in placed:
            placed.add(owner)
            out.extend(entries[owner].lines)
    for i, e in enumerate(entries):
        if i not in placed:
            out.extend(e.lines)
    return "".join(out)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> bool:
    """Replace ``path`` with ``text`` through a temporary file and rename; False (and no
    write at all) when the file already holds exactly ``text``."""
    try:
        if path.read_text() == text:
            return False
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True
