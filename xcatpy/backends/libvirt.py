"""The libvirt backend (``nodehm.mgt=kvm``): KVM, QEMU, Xen and friends via libvirt-python.

A VM node's hypervisor is ``vm.host``.  The connection URI is that host's
``hypervisor.mgr`` when it holds a libvirt URI (anything with ``://``:
``test:///…``, ``qemu+ssh://…``, ``xen+ssh://…``, ``vbox:///session``,
``esx://…``), else ``qemu+ssh://root@<host>/system?no_tty=1``.  The host's
``hypervisor.mgr`` reaches ``prepare`` through the capability's ``related``
columns, read by the dispatcher in the same bulk pass as everything else.

Connections are opened once per URI and kept for the life of the process
(the daemon's), so a second request reuses the first one's connection —
libvirt's test driver keeps its state per connection, and remote drivers
save an ssh handshake.  Nodes are grouped per URI; one hypervisor's domains
are handled on one thread, hypervisors in parallel (``site.vmmaxp``,
default 64), and each node's outcome is handed back as soon as it is done.
``rpower stat`` reads every domain's state of a hypervisor with one
``getAllDomainStats`` call.

A VM without ``vm.host`` is an orphan: ``rpower stat`` reports it ``off``
(as xCAT's kvm.pm does); every other action fails with ``no hypervisor: set
vm.host``.
"""

from __future__ import annotations

import queue
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from defusedxml.ElementTree import fromstring as parse_xml

from xcatpy.backends.base import (
    Action,
    Capability,
    Facts,
    Inventory,
    Limits,
    Outcome,
    Power,
    Sensors,
    VirtualMachine,
    error_text,
    limits_from_site,
    merged,
    parse_size,
    vm_macs,
)

NO_HOST = "no hypervisor: set vm.host"
CONNECT_TIMEOUT = 30.0
"""Seconds allowed for opening a connection (ssh, TLS) unless ``site.vmtimeout`` says."""

VIR_ERR_NO_DOMAIN = 42

# virDomainState -> xCAT's words.
STATES = {0: "off", 1: "on", 2: "on", 3: "suspended", 4: "on", 5: "off", 6: "off", 7: "suspended"}


def _libvirt() -> Any:
    import libvirt

    if not getattr(libvirt, "_xcatpy_quiet", False):
        # libvirt prints every error to stderr as well as raising it.
        libvirt.registerErrorHandler(lambda *_a: None, None)
        libvirt._xcatpy_quiet = True
    return libvirt


def uri_for(host: str, mgr: str | None) -> str:
    """The libvirt URI of hypervisor ``host`` given its ``hypervisor.mgr``."""
    if mgr and "://" in mgr:
        return mgr.strip()
    return f"qemu+ssh://root@{host}/system?no_tty=1"


def shown(uri: str) -> str:
    """``uri`` with any password taken out, fit for a message."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# -- connections --------------------------------------------------------------
_CONNS: dict[str, Any] = {}
_LOCKS: dict[str, threading.Lock] = {}
_LOCK = threading.Lock()


def connection(uri: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """The process's connection to ``uri``, opened on first use and kept.

    Opening is bounded by ``timeout`` seconds (an ssh that never answers
    must not hold a worker); a connection that has died is opened again.
    """
    libvirt = _libvirt()
    with _LOCK:
        lock = _LOCKS.setdefault(uri, threading.Lock())
    with lock:
        conn = _CONNS.get(uri)
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            _CONNS.pop(uri, None)
        box: dict[str, Any] = {}

        def opener() -> None:
            try:
                box["conn"] = libvirt.open(uri)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc

        t = threading.Thread(target=opener, daemon=True, name="libvirt-open")
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"no answer within {timeout:g} s")
        if "error" in box:
            raise box["error"]
        _CONNS[uri] = box["conn"]
        return box["conn"]


def forget(uri: str) -> None:
    """Drop (and close) the cached connection to ``uri``, if any."""
    with _LOCK:
        conn = _CONNS.pop(uri, None)
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


# -- targets ---------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    node: str
    host: str | None
    """The hypervisor node (``vm.host``), or the node itself when it is one."""
    uri: str | None
    role: str = "vm"
    """``vm``, ``orphan`` (no vm.host) or ``hypervisor`` (lsvm of a host)."""
    attrs: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def get(self, table: str, column: str) -> str | None:
        value = self.attrs.get((table, column))
        return value if value not in (None, "") else None


class _Kvm(Capability):
    method = "kvm"
    columns: Mapping[str, Sequence[str]] = {"vm": ("host",), "hypervisor": ("mgr",)}
    related = {("vm", "host"): {"hypervisor": ("mgr",)}}

    def limits(self, site: Mapping[str, str]) -> Limits:
        base = limits_from_site(site, "vm")
        timeout = base.timeout if (site.get("vmtimeout") or "").strip() else CONNECT_TIMEOUT
        return Limits(maxp=base.maxp, timeout=timeout, retries=0)

    def prepare(self, nodes: Sequence[str], facts: Facts) -> tuple[dict[str, Any], dict[str, str]]:
        targets: dict[str, Any] = {}
        for node in nodes:
            attrs = dict(facts.attrs.get(node, {}))
            host = facts.get(node, "vm", "host")
            if host:
                host = host.strip()
                uri = uri_for(host, facts.get_related(host, "hypervisor", "mgr"))
                targets[node] = Target(node, host, uri, "vm", attrs)
            else:
                targets[node] = Target(node, None, None, "orphan", attrs)
        return targets, {}

    # -- running ----------------------------------------------------------------
    def fan_out(
        self,
        targets: Mapping[str, Target],
        limits: Limits,
        per_host: Callable[[Any, list[Target]], Iterator[Outcome]],
    ) -> Iterator[Outcome]:
        """Run ``per_host(conn, targets)`` once per URI, hypervisors in parallel.

        Outcomes stream back as they are produced; a hypervisor that cannot be
        reached fails its own nodes only.
        """
        groups: dict[str, list[Target]] = {}
        for t in targets.values():
            assert t.uri is not None
            groups.setdefault(t.uri, []).append(t)
        if not groups:
            return
        out: queue.Queue[Outcome | None] = queue.Queue()

        def drive(uri: str, items: list[Target]) -> None:
            done: set[str] = set()
            try:
                try:
                    conn = connection(uri, limits.timeout)
                except Exception as exc:
                    host = items[0].host
                    for t in items:
                        done.add(t.node)
                        out.put(Outcome.failed(
                            t.node, f"cannot connect to hypervisor {host} at {shown(uri)}: "
                                    f"{error_text(exc)}"))
                    return
                for outcome in per_host(conn, items):
                    done.add(outcome.node)
                    out.put(outcome)
            except Exception as exc:  # a lost connection or a bug: the rest fail
                _drop_if_dead(uri)
                for t in items:
                    if t.node not in done:
                        out.put(Outcome.failed(t.node, error_text(exc)))
            finally:
                out.put(None)

        workers = max(1, min(limits.maxp, len(groups)))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="libvirt")
        try:
            for uri, items in groups.items():
                pool.submit(drive, uri, items)
            yield from merged(out, len(groups))
        finally:
            pool.shutdown(wait=False)

    def per_node(
        self, targets: Mapping[str, Target], limits: Limits,
        work: Callable[[Any, Target], Outcome],
    ) -> Iterator[Outcome]:
        """``work(conn, target)`` for each VM, one hypervisor's VMs after each other."""
        def per_host(conn: Any, items: list[Target]) -> Iterator[Outcome]:
            for t in items:
                try:
                    yield work(conn, t)
                except Exception as exc:
                    yield Outcome.failed(t.node, _libvirt_message(exc, t))

        yield from self.fan_out(targets, limits, per_host)


def _drop_if_dead(uri: str) -> None:
    conn = _CONNS.get(uri)
    try:
        alive = conn is not None and conn.isAlive()
    except Exception:
        alive = False
    if conn is not None and not alive:
        forget(uri)


def _libvirt_message(exc: BaseException, t: Target) -> str:
    libvirt = _libvirt()
    if isinstance(exc, libvirt.libvirtError) and exc.get_error_code() == VIR_ERR_NO_DOMAIN:
        return f"VM {t.node} is not defined on hypervisor {t.host}"
    return error_text(exc)


def _split_orphans(
    targets: Mapping[str, Target], orphan: Callable[[str], Outcome]
) -> tuple[dict[str, Target], list[Outcome]]:
    live = {n: t for n, t in targets.items() if t.role == "vm"}
    return live, [orphan(n) for n, t in targets.items() if t.role != "vm"]


def _lookup(conn: Any, t: Target) -> Any:
    return conn.lookupByName(t.node)


def _state(dom: Any) -> str:
    return STATES.get(dom.state()[0], "off")


# -- power -------------------------------------------------------------------------
class KvmPower(_Kvm, Power):
    SUPPORTED = ("on", "off", "softoff", "reset", "boot", "cycle", "stat", "nmi",
                 "suspend", "wake")

    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        # Actions outside SUPPORTED never get here: the dispatcher refuses them.
        act = action.name
        if act == "stat":
            live, orphans = _split_orphans(targets, lambda n: Outcome.value(n, "off", "off"))
            yield from orphans
            yield from self.fan_out(live, limits, _stat_host)
            return
        live, orphans = _split_orphans(targets, lambda n: Outcome.failed(n, NO_HOST))
        yield from orphans
        yield from self.per_node(live, limits, lambda conn, t: _power(conn, t, act))


def _stat_host(conn: Any, items: list[Target]) -> Iterator[Outcome]:
    """Every domain's state with one call, then one outcome per node."""
    libvirt = _libvirt()
    states: dict[str, str] = {}
    try:
        for dom, stats in conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE):
            states[dom.name()] = STATES.get(stats.get("state.state", 5), "off")
    except libvirt.libvirtError:
        for dom in conn.listAllDomains(0):
            states[dom.name()] = _state(dom)
    for t in items:
        state = states.get(t.node)
        if state is None:
            yield Outcome.failed(t.node, f"VM {t.node} is not defined on hypervisor {t.host}")
        else:
            yield Outcome.value(t.node, state, state)


def _power(conn: Any, t: Target, act: str) -> Outcome:
    node = t.node
    dom = _lookup(conn, t)
    state = _state(dom)
    if act == "on":
        if state == "suspended":
            dom.resume()
        elif state == "off":
            dom.create()
        return Outcome.value(node, "on", "on")
    if act == "off":
        if state != "off":
            dom.destroy()
        return Outcome.value(node, "off", "off")
    if act == "softoff":
        if state == "off":
            return Outcome.value(node, "off", "off")
        dom.shutdown()
        return Outcome.value(node, "softoff", "off")
    if act in ("reset", "boot", "cycle"):
        if state == "off":
            dom.create()
            return Outcome.value(node, "reset" if act == "reset" else "on", "on")
        if act == "cycle":
            dom.destroy()
            dom.create()
            return Outcome.value(node, "cycle", "on")
        _reset(dom)
        return Outcome.value(node, "reset", "on")
    if act == "suspend":
        if state == "off":
            return Outcome.failed(node, f"{node} is off; only a running VM can be suspended")
        if state == "on":
            dom.suspend()
        return Outcome.value(node, "suspended", "suspended")
    if act == "wake":
        if state == "off":
            return Outcome.failed(node, f"{node} is off; use rpower on to start it")
        if state == "suspended":
            dom.resume()
        return Outcome.value(node, "on", "on")
    if act == "nmi":
        if state == "off":
            return Outcome.failed(node, f"{node} is off; an NMI needs a running VM")
        dom.injectNMI(0)
        return Outcome.value(node, "nmi", state)
    raise ValueError(f"unknown power action {act!r}")


def _reset(dom: Any) -> None:
    """A hard reset; drivers without one get destroy and create (xCAT's way)."""
    libvirt = _libvirt()
    try:
        dom.reset(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT,
                                        libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED):
            raise
        dom.destroy()
        dom.create()


# -- domain XML facts ------------------------------------------------------------------
@dataclass
class DomainFacts:
    uuid: str = ""
    vcpus: str = ""
    memory_kib: int = 0
    boot: list[str] = field(default_factory=list)
    disks: list[tuple[str, str]] = field(default_factory=list)
    """(target dev, source path or '')"""
    nics: list[tuple[str, str, str]] = field(default_factory=list)
    """(mac, source, model)"""
    vnc: str = ""


def _kib(elem: Any) -> int:
    if elem is None or not (elem.text or "").strip():
        return 0
    return parse_size(elem.text.strip() + _UNIT_SUFFIX.get(elem.get("unit", "KiB"), "K"),
                      "K") // 1024


_UNIT_SUFFIX = {"b": "B", "bytes": "B", "KiB": "K", "k": "K", "K": "K", "MiB": "M", "M": "M",
                "GiB": "G", "G": "G", "TiB": "T", "T": "T"}


def domain_facts(xml: str) -> DomainFacts:
    root = parse_xml(xml)
    f = DomainFacts()
    f.uuid = (root.findtext("uuid") or "").strip()
    f.vcpus = (root.findtext("vcpu") or "").strip()
    f.memory_kib = _kib(root.find("memory"))
    f.boot = [b.get("dev", "") for b in root.findall("os/boot")]
    for disk in root.findall("devices/disk"):
        target = disk.find("target")
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        f.disks.append((target.get("dev", "") if target is not None else "", path))
    for nic in root.findall("devices/interface"):
        mac = nic.find("mac")
        src = nic.find("source")
        model = nic.find("model")
        where = ""
        if src is not None:
            where = src.get("bridge") or src.get("network") or src.get("dev") or ""
        f.nics.append((mac.get("address", "") if mac is not None else "", where,
                       model.get("type", "") if model is not None else ""))
    g = root.find("devices/graphics")
    if g is not None:
        f.vnc = g.get("port", "")
    return f


def _size_text(nbytes: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if nbytes >= scale and nbytes % scale == 0 or nbytes >= scale * 10:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes} bytes"


def _disk_size(conn: Any, path: str) -> str:
    if not path:
        return ""
    try:
        return _size_text(conn.storageVolLookupByPath(path).info()[1])
    except Exception:
        return ""


def _config_lines(conn: Any, dom: Any, f: DomainFacts, *, macs_only: bool = False
                  ) -> list[tuple[str | None, str]]:
    if macs_only:
        return [(f"MAC Address {i}", mac) for i, (mac, _s, _m) in enumerate(f.nics, 1)]
    lines: list[tuple[str | None, str]] = [
        ("UUID", f.uuid),
        ("CPUs", f.vcpus),
        ("Memory", f"{f.memory_kib // 1024} MiB"),
    ]
    for dev, path in f.disks:
        size = _disk_size(conn, path)
        lines.append((f"Disk {dev}", f"{path} ({size})" if size else path or "(no source)"))
    for i, (mac, where, model) in enumerate(f.nics, 1):
        desc = " ".join(x for x in (where, model) if x)
        lines.append((f"NIC {i}", f"{mac} {desc}".strip()))
        lines.append((f"MAC Address {i}", mac))
    return lines


# -- inventory ---------------------------------------------------------------------------
class KvmInventory(_Kvm, Inventory):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        items = list(action.options.get("items") or [action.name])
        live, orphans = _split_orphans(targets, lambda n: Outcome.failed(n, NO_HOST))
        yield from orphans

        def work(conn: Any, t: Target) -> Outcome:
            dom = _lookup(conn, t)
            f = domain_facts(dom.XMLDesc(0))
            lines: list[tuple[str | None, str]] = []
            for item in items:
                if item == "all":
                    lines.extend(_config_lines(conn, dom, f))
                elif item in ("uuid", "guid"):
                    lines.append(("UUID", f.uuid))
                elif item == "mac":
                    lines.extend(_config_lines(conn, dom, f, macs_only=True))
            if not lines:
                return Outcome.failed(t.node, f"rinv {','.join(items)}: not available for a "
                                              "virtual machine (try uuid, mac or all)")
            return Outcome(t.node, lines=_unique(lines))

        yield from self.per_node(live, limits, work)


def _unique(lines: list[tuple[str | None, str]]) -> list[tuple[str | None, str]]:
    seen: set[tuple[str | None, str]] = set()
    return [x for x in lines if not (x in seen or seen.add(x))]


# -- sensors -------------------------------------------------------------------------------
class KvmSensors(_Kvm, Sensors):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        items = set(action.options.get("items") or [action.name])
        live, orphans = _split_orphans(targets, lambda n: Outcome.failed(n, NO_HOST))
        yield from orphans

        def work(conn: Any, t: Target) -> Outcome:
            dom = _lookup(conn, t)
            state, max_kib, cur_kib, ncpu, cpu_ns = dom.info()
            word = STATES.get(state, "off")
            lines: list[tuple[str | None, str]] = [("State", word)]
            if items & {"all"}:
                used = cur_kib if word != "off" else 0
                if word != "off":
                    try:
                        stats = dom.memoryStats()
                    except Exception:
                        stats = {}
                    if "available" in stats and "unused" in stats:
                        used = stats["available"] - stats["unused"]
                    elif "rss" in stats:
                        used = stats["rss"]
                lines += [
                    ("CPUs", str(ncpu)),
                    ("CPU Time", f"{cpu_ns / 1e9:.3f} s"),
                    ("Memory In Use", f"{used // 1024} MiB"),
                    ("Memory Assigned", f"{cur_kib // 1024} MiB"),
                    ("Memory Maximum", f"{max_kib // 1024} MiB"),
                ]
            elif not items & {"power"}:
                return Outcome.failed(t.node, f"rvitals {','.join(sorted(items))}: not available "
                                              "for a virtual machine (try power or all)")
            return Outcome(t.node, lines=lines, state=word)

        yield from self.per_node(live, limits, work)


# -- sizes ---------------------------------------------------------------------------------------


# -- VM lifecycle ----------------------------------------------------------------------------------
DISK_DEVS = [f"vd{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
BOOT_WORDS = {"net": "network", "network": "network", "pxe": "network", "hd": "hd",
              "disk": "hd", "cd": "cdrom", "cdrom": "cdrom", "fd": "fd"}


def node_macs(node: str, count: int, have: str | None) -> tuple[list[str], bool]:
    """MACs for a KVM guest's NICs: ``mac.mac``, else made up under QEMU's 52:54:00."""
    return vm_macs(node, count, have, "52:54:00")


def storage_dirs(storage: str | None) -> list[str]:
    """Directories named by ``vm.storage`` (``dir:///path``, or a bare absolute path)."""
    out = []
    for item in (storage or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("dir://"):
            out.append(item[len("dir://"):].split("|")[0].rstrip("/") or "/")
        elif item.startswith("/"):
            out.append(item.rstrip("/") or "/")
        else:
            raise ValueError(f"vm.storage {item!r} is not supported by kvm here: use dir:///path")
    return out


def _pool_for(conn: Any, directory: str) -> Any:
    for pool in conn.listAllStoragePools(0):
        root = parse_xml(pool.XMLDesc(0))
        if (root.findtext("target/path") or "").rstrip("/") == directory:
            if not pool.isActive():
                pool.create(0)
            return pool
    raise ValueError(f"no storage pool on the hypervisor has target path {directory}")


def _new_volume(conn: Any, directory: str, name: str, nbytes: int) -> Any:
    pool = _pool_for(conn, directory)
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{nbytes}</capacity>"
           "<target><format type='qcow2'/></target></volume>")
    return pool.createXML(xml, 0)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def domain_type(conn: Any) -> str:
    kind = (conn.getType() or "").lower()
    return {"qemu": "kvm", "test": "test", "xen": "xen", "vbox": "vbox", "esx": "vmware"}.get(
        kind, kind or "kvm")


def build_domain_xml(
    node: str, t: Target, dtype: str, *, cpus: str | None, memory: int | None,
    disks: Sequence[str], macs: Sequence[str],
) -> str:
    """Domain XML from the ``vm``/``nodetype`` values of ``t`` and the given disks and MACs."""
    mem = memory if memory is not None else parse_size(t.get("vm", "memory") or "512", "M")
    ncpu = cpus or t.get("vm", "cpus") or "1"
    if not ncpu.isdigit() or int(ncpu) < 1:
        raise ValueError(f"bad CPU count {ncpu!r}: expected a whole number of at least 1")
    dom = ET.Element("domain", {"type": dtype})
    _sub(dom, "name", node)
    _sub(dom, "memory", str(mem // 1024), unit="KiB")
    _sub(dom, "currentMemory", str(mem // 1024), unit="KiB")
    _sub(dom, "vcpu", ncpu)
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch=t.get("nodetype", "arch") or "x86_64")
    order = t.get("vm", "bootorder") or "network,hd"
    for word in order.split(","):
        word = word.strip().lower()
        if not word:
            continue
        if word not in BOOT_WORDS:
            raise ValueError(f"vm.bootorder: unknown device {word!r} (network, hd, cdrom)")
        _sub(os_el, "boot", dev=BOOT_WORDS[word])
    osname = t.get("nodetype", "os")
    if osname:
        _sub(dom, "description", f"xCAT node {node} ({osname})")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    devs = _sub(dom, "devices")
    for dev, path in zip(DISK_DEVS, disks, strict=False):
        disk = _sub(devs, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type="qcow2")
        _sub(disk, "source", file=path)
        _sub(disk, "target", dev=dev, bus="virtio")
    model = t.get("vm", "nicmodel") or "virtio"
    nics = [n.strip() for n in (t.get("vm", "nics") or "").split(",") if n.strip()]
    for nic, mac in zip(nics, macs, strict=False):
        if nic.startswith("network:"):
            iface = _sub(devs, "interface", type="network")
            _sub(iface, "mac", address=mac)
            _sub(iface, "source", network=nic.partition(":")[2])
        else:
            iface = _sub(devs, "interface", type="bridge")
            _sub(iface, "mac", address=mac)
            _sub(iface, "source", bridge=nic.removeprefix("bridge:"))
        _sub(iface, "model", type=model)
    text = t.get("vm", "textconsole")
    if text and text.startswith("tcp:"):
        host, _, port = text[4:].rpartition(":")
        serial = _sub(devs, "serial", type="tcp")
        _sub(serial, "source", mode="bind", host=host or "0.0.0.0", service=port)
    else:
        serial = _sub(devs, "serial", type="pty")
    _sub(serial, "target", port="0")
    console = _sub(devs, "console", type=serial.get("type", "pty"))
    _sub(console, "target", type="serial", port="0")
    vnc = t.get("vm", "vncport")
    if vnc:
        if not vnc.isdigit():
            raise ValueError(f"vm.vncport {vnc!r} is not a port number")
        _sub(devs, "graphics", type="vnc", port=vnc, autoport="no")
    else:
        _sub(devs, "graphics", type="vnc", port="-1", autoport="yes")
    return ET.tostring(dom, encoding="unicode")


class KvmVirtualMachine(_Kvm, VirtualMachine):
    columns = {
        "vm": ("host", "storage", "memory", "cpus", "nics", "nicmodel", "bootorder",
               "vncport", "textconsole"),
        "hypervisor": ("mgr", "type"),
        "mac": ("mac",),
        "nodetype": ("os", "arch", "profile"),
    }

    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        act = action.name
        opts = action.options
        if act == "lsvm":
            # A node without vm.host is taken as a hypervisor: list its domains.
            hyps = {}
            for n, t in targets.items():
                if t.role == "vm":
                    hyps[n] = t
                else:
                    hyps[n] = Target(n, n, uri_for(n, t.get("hypervisor", "mgr")),
                                     "hypervisor", t.attrs)
            yield from self.per_node(hyps, limits, _lsvm)
            return
        live, orphans = _split_orphans(targets, lambda n: Outcome.failed(n, NO_HOST))
        yield from orphans
        if act == "rmigrate":
            dest = opts["target"]
            moving = {n: t for n, t in live.items() if t.host != dest}
            for n in live:
                if n not in moving:
                    yield Outcome.failed(n, f"{n} is already on {dest}")
            yield from self.per_node(
                moving, limits, lambda c, t: _rmigrate(c, t, dest, uri_for(dest, opts.get("target_mgr")), limits))
            return
        work = {"mkvm": _mkvm, "rmvm": _rmvm, "chvm": _chvm}[act]
        yield from self.per_node(live, limits, lambda c, t: work(c, t, opts))


def _exists(conn: Any, name: str) -> Any:
    libvirt = _libvirt()
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == VIR_ERR_NO_DOMAIN:
            return None
        raise


def _inactive_xml(dom: Any) -> str:
    return dom.XMLDesc(_libvirt().VIR_DOMAIN_XML_INACTIVE)


def _mkvm(conn: Any, t: Target, opts: Mapping[str, Any]) -> Outcome:
    node = t.node
    old = _exists(conn, node)
    if old is not None:
        if not opts.get("force"):
            return Outcome.failed(node, f"VM {node} already exists on {t.host} "
                                        "(use rmvm first, or mkvm -f to replace it)")
        if old.isActive():
            old.destroy()
        old.undefine()
    try:
        dirs = storage_dirs(t.get("vm", "storage"))
        sizes = [int(s) for s in opts.get("sizes") or []]
        if sizes and not dirs:
            raise ValueError("-s needs vm.storage (dir:///path) to create the disks in")
        nics = [n for n in (t.get("vm", "nics") or "").split(",") if n.strip()]
        macs, made = node_macs(node, len(nics), t.get("mac", "mac"))
    except ValueError as exc:
        return Outcome.failed(node, str(exc))
    if len(sizes) == 1 and len(dirs) > 1:
        sizes = sizes * len(dirs)
    disks = [f"{d}/{node}.{dev}.qcow2" for d, dev in zip(dirs, DISK_DEVS, strict=False)]
    created: list[Any] = []
    try:
        for d, path, size in zip(dirs, disks, sizes, strict=False):
            created.append(_new_volume(conn, d, path.rpartition("/")[2], size))
        xml = build_domain_xml(node, t, domain_type(conn), cpus=opts.get("cpus"),
                               memory=opts.get("memory"), disks=disks, macs=macs)
        dom = conn.defineXML(xml)
    except Exception as exc:
        for vol in created:  # leave the hypervisor as it was
            try:
                vol.delete(0)
            except Exception:
                pass
        return Outcome.failed(node, error_text(exc))
    updates: dict[str, dict[str, str | None] | None] = {"kvm_nodedata": {"xml": _inactive_xml(dom)}}
    if made:
        updates["mac"] = {"mac": "|".join(macs)}
    text = f"defined on {t.host}"
    if created:
        text += f", {len(created)} disk{'s' if len(created) > 1 else ''} created"
    return Outcome(node, lines=[(None, text)], state="off", updates=updates)


def _purge(conn: Any, paths: Sequence[str]) -> int:
    libvirt = _libvirt()
    count = 0
    for path in paths:
        if not path:
            continue
        try:
            vol = conn.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            continue  # not a volume the hypervisor manages: left alone
        vol.delete(0)
        count += 1
    return count


def _rmvm(conn: Any, t: Target, opts: Mapping[str, Any]) -> Outcome:
    node = t.node
    dom = _lookup(conn, t)
    if dom.isActive():
        if not opts.get("force"):
            return Outcome.failed(node, f"{node} is running on {t.host}: stop it first "
                                        "or use rmvm -f")
        dom.destroy()
    paths = [p for _d, p in domain_facts(_inactive_xml(dom)).disks]
    dom.undefine()
    text = "removed"
    if opts.get("purge"):
        n = _purge(conn, paths)
        text += f", {n} disk{'s' if n != 1 else ''} purged"
    return Outcome(node, lines=[(None, text)], updates={"kvm_nodedata": None})


def _lsvm(conn: Any, t: Target) -> Outcome:
    if t.role == "hypervisor":
        lines: list[tuple[str | None, str]] = []
        for dom in sorted(conn.listAllDomains(0), key=lambda d: d.name()):
            lines.append((dom.name(), _state(dom)))
        if not lines:
            lines = [(None, "no virtual machines")]
        return Outcome(t.node, lines=lines)
    dom = _lookup(conn, t)
    f = domain_facts(_inactive_xml(dom))
    lines = [("Host", t.host or ""), ("State", _state(dom))]
    lines += _config_lines(conn, dom, f)
    lines = [x for x in lines if not (x[0] or "").startswith("MAC Address")]
    if f.boot:
        lines.append(("Boot Order", ",".join(f.boot)))
    if f.vnc:
        lines.append(("VNC Port", "auto" if f.vnc == "-1" else f.vnc))
    return Outcome(t.node, lines=lines)


def _chvm(conn: Any, t: Target, opts: Mapping[str, Any]) -> Outcome:
    node = t.node
    dom = _lookup(conn, t)
    root = ET.fromstring(ET.tostring(parse_xml(_inactive_xml(dom))))
    lines: list[tuple[str | None, str]] = []
    devs = root.find("devices")
    if devs is None:
        devs = _sub(root, "devices")
    if opts.get("cpus"):
        for el in root.findall("vcpu"):
            el.text = str(opts["cpus"])
        lines.append(("CPUs", str(opts["cpus"])))
    if opts.get("memory"):
        kib = str(opts["memory"] // 1024)
        for tag in ("memory", "currentMemory"):
            el = root.find(tag)
            if el is None:
                el = _sub(root, tag)
            el.text, el.attrib = kib, {"unit": "KiB"}
        lines.append(("Memory", f"{opts['memory'] >> 20} MiB"))
    disks = {d.find("target").get("dev"): d for d in devs.findall("disk")
             if d.find("target") is not None}
    purge: list[str] = []
    for dev in list(opts.get("detach") or []) + list(opts.get("purge") or []):
        if dev not in disks:
            raise ValueError(f"{node} has no disk {dev}")
    for dev in opts.get("detach") or []:
        devs.remove(disks.pop(dev))
        lines.append((f"Disk {dev}", "removed"))
    for dev in opts.get("purge") or []:
        src = disks[dev].find("source")
        if src is not None and src.get("file"):
            purge.append(src.get("file", ""))
        devs.remove(disks.pop(dev))
        lines.append((f"Disk {dev}", "removed and purged"))
    resized: list[tuple[str, int]] = []
    for dev, size in (opts.get("resize") or {}).items():
        if dev not in disks:
            raise ValueError(f"{node} has no disk {dev}")
        src = disks[dev].find("source")
        if src is None or not src.get("file"):
            raise ValueError(f"disk {dev} of {node} has no file to resize")
        resized.append((src.get("file", ""), size))
        lines.append((f"Disk {dev}", f"resized to {_size_text(size)}"))
    for path, size in resized:  # first: a driver that cannot resize fails before any change
        conn.storageVolLookupByPath(path).resize(size, 0)
    created: list[Any] = []
    if opts.get("add"):
        dirs = storage_dirs(t.get("vm", "storage"))
        if not dirs:
            raise ValueError("-a needs vm.storage (dir:///path) to create the disk in")
        for size in opts["add"]:
            dev = next(d for d in DISK_DEVS if d not in disks)
            path = f"{dirs[0]}/{node}.{dev}.qcow2"
            try:
                created.append(_new_volume(conn, dirs[0], path.rpartition("/")[2], size))
            except Exception:
                for vol in created:
                    vol.delete(0)
                raise
            disk = _sub(devs, "disk", type="file", device="disk")
            _sub(disk, "driver", name="qemu", type="qcow2")
            _sub(disk, "source", file=path)
            _sub(disk, "target", dev=dev, bus="virtio")
            disks[dev] = disk
            lines.append((f"Disk {dev}", f"added {path} ({_size_text(size)})"))
    try:
        new = conn.defineXML(ET.tostring(root, encoding="unicode"))
    except Exception:
        for vol in created:
            vol.delete(0)
        raise
    _purge(conn, purge)
    if not lines:
        return Outcome.failed(node, "nothing to change")
    return Outcome(node, lines=lines, updates={"kvm_nodedata": {"xml": _inactive_xml(new)}})


def _rmigrate(conn: Any, t: Target, dest: str, dest_uri: str, limits: Limits) -> Outcome:
    libvirt = _libvirt()
    node = t.node
    dom = _lookup(conn, t)
    try:
        dconn = connection(dest_uri, limits.timeout)
    except Exception as exc:
        return Outcome.failed(node, f"cannot connect to hypervisor {dest} at {shown(dest_uri)}: "
                                    f"{error_text(exc)}")
    flags = libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    flags |= libvirt.VIR_MIGRATE_LIVE if dom.isActive() else libvirt.VIR_MIGRATE_OFFLINE
    try:
        dom.migrate(dconn, flags, None, None, 0)
    except libvirt.libvirtError as exc:
        return Outcome.failed(node, f"rmigrate to {dest} failed: {error_text(exc)}")
    return Outcome(node, lines=[(None, f"migrated to {dest}")], updates={"vm": {"host": dest}})


CAPABILITIES: dict[str, type[Capability]] = {
    KvmPower.kind: KvmPower,
    KvmInventory.kind: KvmInventory,
    KvmSensors.kind: KvmSensors,
    KvmVirtualMachine.kind: KvmVirtualMachine,
}
