"""The vSphere backend (``nodehm.mgt=esx``): VMs on ESXi hosts, directly or through vCenter.

Where a VM node is managed
    Its hypervisor is ``vm.host``.  When that host's ``hypervisor.mgr`` names a
    vCenter (and its ``hypervisor.preferdirect`` is not set) the endpoint is
    the vCenter, logged in with ``passwd key=vcenter``; otherwise it is the
    host itself, ``https://<vm.host>/sdk``, logged in with ``passwd key=vmware``
    (user ``root`` when the row has none).  Both ``hypervisor.mgr`` and
    ``vm.host`` may be ``host``, ``host:port`` or ``[v6addr]:port`` (port 443 by
    default), so a simulator on a loopback port can stand in for either.  The
    VM is found on its endpoint by name: the node name.

TLS
    Certificates are verified against the system's trust store, or against
    the CA bundle named by ``site.esxcafile``.  ``site.esxinsecure=yes``
    turns verification off for every vSphere endpoint — only for labs and
    simulators (self-signed certificates).  Loopback endpoints are verified
    too (pyvmomi on its own would silently skip that).

Sessions
    One login per endpoint, kept process-wide (at most ``MAX_SESSIONS``, least
    recently used dropped) and reused by later requests; a session that fails
    is dropped, and one the server forgot (``NotAuthenticated``) is logged in
    afresh once.  Nodes are never logged in one by one.

Reads
    Inventory and power states of all the VMs of an endpoint come from ONE
    ``RetrievePropertiesEx`` call per request, over a container view made once
    per session (pages, if the server pages, are fetched with
    ``ContinueRetrievePropertiesEx``).  VM properties are never read VM by VM.

Limits
    Endpoints are served in parallel, at most ``site.vmmaxp`` at once
    (default 64).  Each node has a deadline of ``site.vmtimeout`` seconds
    (default 60) from the start of the request for login, reads and its tasks;
    it also bounds every single HTTP request.  Tasks are awaited by polling
    ``info.state`` of all outstanding tasks of an endpoint with one property
    read per round, never with pyVim's ``WaitForTask``.
"""

from __future__ import annotations

import hashlib
import http.client
import queue
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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
    _number,
    merged,
    parse_size,
    split_host_port,
    vm_macs,
)

METHOD = "esx"
DEFAULT_PORT = 443
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAXP = 64
MAX_SESSIONS = 256
# Task polling: first look after POLL_FIRST seconds, then back off to POLL_MAX.
POLL_FIRST = 0.02
POLL_MAX = 1.0
# Task starts on one endpoint run on this many threads (one session, pooled HTTP).
STARTERS = 8
# The API version used when the server does not say which it speaks.
FALLBACK_VERSION = "vim25/6.5"

NO_HOST = "no hypervisor: set vm.host"
TRUE = ("1", "yes", "y", "true", "on", "enable", "enabled")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


def parse_endpoint(text: str, column: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    text = text.strip()
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):].split("/", 1)[0]
    return split_host_port(text, column, DEFAULT_PORT)


@dataclass(frozen=True)
class Endpoint:
    """A vCenter or ESXi SOAP endpoint and how to log in to it."""

    kind: str  # "vcenter" or "host"
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    insecure: bool = False
    cafile: str | None = None

    @property
    def label(self) -> str:
        where = f"[{self.host}]" if ":" in self.host else self.host
        name = f"{where}:{self.port}" if self.port != DEFAULT_PORT else where
        return f"{'vCenter' if self.kind == 'vcenter' else 'ESXi host'} {name}"

    @property
    def key(self) -> tuple[Any, ...]:
        secret = hashlib.sha256(self.password.encode()).hexdigest()
        return (self.kind, self.host, self.port, self.user, secret, self.insecure, self.cafile)


@dataclass(frozen=True)
class Target:
    endpoint: Endpoint
    vm: str
    """The VM's name on its endpoint (the node name)."""
    host: str
    """``vm.host``: the hypervisor node (for lsvm of a hypervisor: the node itself)."""
    role: str = "vm"
    """``vm``, or ``hypervisor`` for a node without ``vm.host`` (lsvm lists its VMs)."""
    attrs: Mapping[tuple[str, str], str] = field(default_factory=dict, compare=False,
                                                 repr=False)
    """The node's values of the capability's columns (mkvm builds the VM from them)."""

    def get(self, table: str, column: str) -> str | None:
        value = self.attrs.get((table, column))
        return value.strip() if value and value.strip() else None


# -- sessions ---------------------------------------------------------------
class LoginError(Exception):
    pass


def _ssl_context(ep: Endpoint) -> ssl.SSLContext:
    if ep.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=ep.cafile)


def _api_version(ep: Endpoint, ctx: ssl.SSLContext, timeout: float) -> str:
    """The newest vim25 version both the server and pyvmomi know (bounded wait)."""
    from pyVmomi import VmomiSupport

    conn = http.client.HTTPSConnection(ep.host, ep.port, context=ctx, timeout=timeout)
    try:
        conn.request("GET", "/sdk/vimServiceVersions.xml")
        resp = conn.getresponse()
        body = resp.read()
        status = resp.status
    finally:
        conn.close()
    offered: list[str] = []
    if status == 200:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            root = None
        for ns in root.iter("namespace") if root is not None else ():
            if (ns.findtext("name") or "") == "urn:vim25":
                offered += [v.text.strip() for v in ns.iter("version") if v.text]
    for v in offered:
        name = VmomiSupport.versionMap.get(f"vim25/{v}")
        if name:
            return str(name)
    return str(VmomiSupport.versionMap[FALLBACK_VERSION])


class Session:
    """One logged-in connection to an endpoint, with its container view of VMs and hosts."""

    def __init__(self, ep: Endpoint, si: Any, content: Any) -> None:
        self.endpoint = ep
        self.si = si
        self.content = content
        self.stub = si._stub
        self._views: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Bulk reads that succeeded on this session (0: freshly logged in)."""

    def view(self, kinds: Sequence[Any] | None = None) -> Any:
        """A container view (made once per session) of ``kinds``: VMs and hosts by default."""
        from pyVmomi import vim

        kinds = list(kinds or (vim.VirtualMachine, vim.HostSystem))
        key = tuple(k._wsdlName for k in kinds)
        with self._lock:
            if key not in self._views:
                self._views[key] = self.content.viewManager.CreateContainerView(
                    self.content.rootFolder, kinds, True)
            return self._views[key]

    def retrieve(self, specs: Sequence[Any]) -> list[Any]:
        """Every ObjectContent for ``specs``: one RetrievePropertiesEx (plus its pages)."""
        from pyVmomi import vmodl

        pc = self.content.propertyCollector
        result = pc.RetrievePropertiesEx(specSet=list(specs),
                                         options=vmodl.query.PropertyCollector.RetrieveOptions())
        objects: list[Any] = []
        while result is not None:
            objects.extend(result.objects or ())
            token = result.token
            result = pc.ContinueRetrievePropertiesEx(token=token) if token else None
        self.reads += 1
        return objects

    def close(self) -> None:
        try:
            self.stub.DropConnections()
        except Exception:
            pass


def login(ep: Endpoint, timeout: float) -> Session:
    from pyVmomi import SoapStubAdapter, vim

    ctx = _ssl_context(ep)
    try:
        version = _api_version(ep, ctx, timeout)
        stub = SoapStubAdapter(host=ep.host, port=ep.port, version=version, sslContext=ctx,
                               httpConnectionTimeout=timeout, connectionPoolTimeout=900)
        si = vim.ServiceInstance("ServiceInstance", stub)
        content = si.RetrieveContent()
    except ssl.SSLCertVerificationError as exc:
        raise LoginError(
            f"cannot verify the TLS certificate of {ep.label} ({exc.verify_message}); "
            "trust its CA (site.esxcafile) or, for a lab, set site.esxinsecure=yes") from None
    except (OSError, http.client.HTTPException) as exc:
        raise LoginError(f"cannot reach {ep.label}: {_text(exc)}") from None
    try:
        content.sessionManager.Login(ep.user, ep.password, None)
    except vim.fault.InvalidLogin:
        raise LoginError(f"cannot log in to {ep.label} as {ep.user!r}: "
                         "incorrect user name or password") from None
    except Exception as exc:
        raise LoginError(f"cannot log in to {ep.label}: {_text(exc)}") from None
    return Session(ep, si, content)


class Sessions:
    """Logged-in sessions by endpoint, shared by every request of the process."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], Session] = OrderedDict()
        self._logins: dict[tuple[Any, ...], threading.Lock] = {}
        self.logins = 0
        """Logins made so far (for tests and figures)."""

    def get(self, ep: Endpoint, timeout: float) -> Session:
        key = ep.key
        with self._lock:
            s = self._items.get(key)
            if s is not None:
                self._items.move_to_end(key)
                return s
            gate = self._logins.setdefault(key, threading.Lock())
        if not gate.acquire(timeout=max(timeout, 0.01)):
            raise LoginError(f"timed out waiting for the login to {ep.label}")
        try:
            with self._lock:
                s = self._items.get(key)
            if s is not None:
                return s
            s = login(ep, timeout)
            evicted: list[Session] = []
            with self._lock:
                self.logins += 1
                self._items[key] = s
                while len(self._items) > self.limit:
                    evicted.append(self._items.popitem(last=False)[1])
            for old in evicted:
                old.close()
            return s
        finally:
            gate.release()

    def drop(self, session: Session) -> None:
        with self._lock:
            key = session.endpoint.key
            if self._items.get(key) is session:
                del self._items[key]
        session.close()

    def clear(self) -> None:
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
            self.logins = 0
        for s in items:
            s.close()


SESSIONS = Sessions()


# -- helpers ----------------------------------------------------------------
def _text(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None)
    if isinstance(msg, str) and msg.strip():
        return msg.strip()
    fault_msgs = getattr(exc, "faultMessage", None) or []
    for m in fault_msgs:
        if getattr(m, "message", None):
            return str(m.message)
    text = str(exc).strip() if not hasattr(exc, "_wsdlName") else ""
    return text.splitlines()[0] if text else type(exc).__name__


def _not_authenticated(exc: BaseException) -> bool:
    from pyVmomi import vim

    return isinstance(exc, vim.fault.NotAuthenticated)


def _is_fault(exc: BaseException) -> bool:
    from pyVmomi import vmodl

    return isinstance(exc, vmodl.MethodFault)


POWER_STATES = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}


@dataclass
class Record:
    """One VM's properties, as read in bulk."""

    obj: Any
    props: dict[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        return self.props.get(name, default)

    @property
    def power(self) -> str:
        raw = str(self.props.get("runtime.powerState") or "")
        return POWER_STATES.get(raw, raw or "unknown")


def _read_vms(session: Session, props: Sequence[str]) -> tuple[dict[str, list[Record]], dict[str, str]]:
    """({VM name: [records]}, {host moref id: host name}) in one property read."""
    vms, hosts, _objs = _read_all(session, props)
    return vms, hosts


INFRA: dict[str, tuple[str, ...]] = {
    "Datacenter": ("name", "vmFolder", "datastore", "network"),
    "ComputeResource": ("name", "resourcePool", "host"),
    "Datastore": ("name", "summary.type", "info"),
    "Network": ("name",),
}
"""What mkvm needs to know about the inventory besides VMs and hosts."""


def _read_all(session: Session, props: Sequence[str], host_props: Sequence[str] = (),
              infra: bool = False
              ) -> tuple[dict[str, list[Record]], dict[str, str], dict[str, Record]]:
    """VMs by name, host names by moref id and, with ``host_props`` or ``infra``,
    {moref id: Record} of hosts, datacenters, compute resources, datastores and
    networks — all in ONE RetrievePropertiesEx (plus its pages)."""
    from pyVmomi import vim, vmodl

    pc = vmodl.query.PropertyCollector

    def over(view: Any, props: list[Any]) -> Any:
        return pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[
                pc.TraversalSpec(name="view", type=vim.view.ContainerView, path="view",
                                 skip=False)])],
            propSet=props)

    specs = [over(session.view(), [
        pc.PropertySpec(type=vim.VirtualMachine, pathSet=sorted({"name", *props})),
        pc.PropertySpec(type=vim.HostSystem, pathSet=sorted({"name", *host_props}))])]
    if infra:
        kinds = [getattr(vim, k) for k in INFRA]
        specs.append(over(session.view(kinds), [
            pc.PropertySpec(type=getattr(vim, k), pathSet=list(v)) for k, v in INFRA.items()]))
    vms: dict[str, list[Record]] = {}
    hosts: dict[str, str] = {}
    objs: dict[str, Record] = {}
    for oc in session.retrieve(specs):
        values = {p.name: p.val for p in oc.propSet or ()}
        if isinstance(oc.obj, vim.VirtualMachine):
            vms.setdefault(str(values.get("name", "")), []).append(Record(oc.obj, values))
            continue
        if isinstance(oc.obj, vim.HostSystem):
            hosts[oc.obj._moId] = str(values.get("name", ""))
        objs[oc.obj._moId] = Record(oc.obj, values)
    return vms, hosts, objs


def _host_name(record: Record, hosts: Mapping[str, str]) -> str | None:
    ref = record.get("runtime.host")
    if ref is None:
        return None
    return hosts.get(ref._moId, ref._moId)


def _short(name: str) -> str:
    return name.split(":")[0].split(".")[0].lower()


def _pick(records: Sequence[Record], target: Target, hosts: Mapping[str, str]) -> Record | str:
    """The VM named like the node on its endpoint, or an error message."""
    if not records:
        return f"no virtual machine named {target.vm!r} on {target.endpoint.label}"
    if len(records) == 1:
        return records[0]
    want = _short(target.host)
    here = [r for r in records if _short(_host_name(r, hosts) or "") == want]
    if len(here) == 1:
        return here[0]
    return (f"{len(records)} virtual machines are named {target.vm!r} on "
            f"{target.endpoint.label}; cannot tell which is this node")


# -- the common part of every capability --------------------------------------
class _Esx(Capability):
    method = METHOD
    columns = {"vm": ("host",)}
    passwd_keys = ("vmware", "vcenter")
    related = {("vm", "host"): {"hypervisor": ("mgr", "preferdirect")}}
    props: Sequence[str] = ("runtime.powerState",)
    """VM properties the action needs, read in the one bulk read."""

    def limits(self, site: Mapping[str, str]) -> Limits:
        maxp = int(_number(site, "vmmaxp", DEFAULT_MAXP, integer=True))
        timeout = _number(site, "vmtimeout", DEFAULT_TIMEOUT, integer=False) or DEFAULT_TIMEOUT
        return Limits(maxp=maxp, timeout=timeout, retries=0)

    def prepare(self, nodes: Sequence[str], facts: Facts) -> tuple[dict[str, Any], dict[str, str]]:
        targets: dict[str, Any] = {}
        errors: dict[str, str] = {}
        # The hypervisors' own rows, read in bulk by dispatch (``related``).
        hv: Mapping[str, Mapping[tuple[str, str], str]] = getattr(facts, "related", {})
        for node in nodes:
            host = facts.get(node, "vm", "host")
            if host is None:
                errors[node] = NO_HOST
                continue
            host = host.strip()
            row = hv.get(host, {})
            try:
                ep = self.endpoint(host, row.get(("hypervisor", "mgr")),
                                   row.get(("hypervisor", "preferdirect")), facts)
            except ValueError as exc:
                errors[node] = str(exc)
                continue
            targets[node] = Target(ep, node, host, "vm", dict(facts.attrs.get(node, {})))
        return targets, errors

    @staticmethod
    def endpoint(host: str, mgr: str | None, preferdirect: str | None, facts: Facts) -> Endpoint:
        """Where hypervisor ``host`` is managed: its vCenter (``mgr``) or itself."""
        insecure = _truthy(facts.site.get("esxinsecure"))
        cafile = (facts.site.get("esxcafile") or "").strip() or None
        mgr = (mgr or "").strip()
        if mgr and not _truthy(preferdirect):
            address, port = parse_endpoint(mgr, f"hypervisor.mgr of {host}")
            vcenter = facts.passwd.get("vcenter") or {}
            user = vcenter.get("username") or ""
            password = vcenter.get("password") or ""
            if not user or not password:
                raise ValueError(
                    f"no vCenter credentials for {mgr}: set the passwd table row "
                    "with key=vcenter (username and password)")
            return Endpoint("vcenter", address, port, user, password, insecure, cafile)
        address, port = parse_endpoint(host, "vm.host")
        vmware = facts.passwd.get("vmware") or {}
        user = vmware.get("username") or "root"
        password = vmware.get("password") or ""
        if not password:
            raise ValueError(f"no ESXi credentials for {host}: set the passwd table row "
                             "with key=vmware")
        return Endpoint("host", address, port, user, password, insecure, cafile)

    # -- running ----------------------------------------------------------
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        start = time.monotonic()
        deadline = start + limits.timeout
        groups: dict[tuple[Any, ...], dict[str, Target]] = {}
        for node, t in targets.items():
            groups.setdefault(t.endpoint.key, {})[node] = t
        out: queue.Queue[Outcome | None] = queue.Queue()

        def serve(group: dict[str, Target]) -> None:
            done: set[str] = set()

            def emit(o: Outcome) -> None:
                if o.node not in done:
                    done.add(o.node)
                    out.put(o)
            try:
                self._serve(group, action, deadline, emit)
            except Exception as exc:  # a bug must not leave nodes unanswered
                for node in group:
                    emit(Outcome.failed(node, f"internal error: {_text(exc)}"))
            finally:
                for node in group:
                    if node not in done:
                        emit(Outcome.failed(node, "no answer (internal error)"))
                out.put(None)

        workers = max(1, min(limits.maxp, len(groups)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="esx") as pool:
            for group in groups.values():
                pool.submit(serve, group)
            yield from merged(out, len(groups))

    def _serve(self, group: dict[str, Target], action: Action, deadline: float,
               emit: Callable[[Outcome], None]) -> None:
        ep = next(iter(group.values())).endpoint
        for attempt in (1, 2):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for node in group:
                    emit(Outcome.failed(node, f"timed out reaching {ep.label}"))
                return
            try:
                session = SESSIONS.get(ep, remaining)
            except LoginError as exc:
                for node in group:
                    emit(Outcome.failed(node, str(exc)))
                return
            cached = session.reads > 0
            try:
                vms, hosts, objs = self.read(session, group, action)
                break
            except Exception as exc:
                SESSIONS.drop(session)
                if attempt == 1 and cached and (_is_fault(exc) or _not_authenticated(exc)):
                    # The server forgot a session we kept (expired, logged out, restarted:
                    # NotAuthenticated, or its view gone): log in once more.
                    continue
                for node in group:
                    emit(Outcome.failed(node, f"cannot read from {ep.label}: {_text(exc)}"))
                return
        self.handle(session, group, vms, hosts, objs, action, deadline, emit)

    def read(self, session: Session, group: Mapping[str, Target], action: Action
             ) -> tuple[dict[str, list[Record]], dict[str, str], dict[str, Record]]:
        """The one bulk read of a request on one endpoint."""
        vms, hosts = _read_vms(session, self.props)
        return vms, hosts, {}

    def handle(self, session: Session, group: Mapping[str, Target],
               vms: Mapping[str, list[Record]], hosts: Mapping[str, str],
               objs: Mapping[str, Record], action: Action, deadline: float,
               emit: Callable[[Outcome], None]) -> None:
        """Find each node's VM in what was read, then ``act`` on those found."""
        found: dict[str, Record] = {}
        for node, t in group.items():
            picked = _pick(vms.get(t.vm, []), t, hosts)
            if isinstance(picked, str):
                emit(Outcome.failed(node, picked))
            else:
                found[node] = picked
        if found:
            self.act(session, found, hosts, action, deadline, emit)

    def act(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
            action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        raise NotImplementedError


# -- power ------------------------------------------------------------------
Step = tuple[str, Callable[[Any], Any]]
"""(description, start): ``start(vm)`` returns a Task to await, or None when done at once."""


def _task(name: str) -> Step:
    return (name, lambda vm: getattr(vm, name)())


def _shutdown_guest(vm: Any) -> None:
    vm.ShutdownGuest()


class _Plan:
    def __init__(self, steps: list[Step], text: str, state: str) -> None:
        self.steps = steps
        self.text = text
        self.state = state


def power_plan(act: str, state: str) -> _Plan | str:
    """What to do for ``act`` on a VM in ``state`` (on/off/suspended), or an error."""
    on, off, reset = _task("PowerOnVM_Task"), _task("PowerOffVM_Task"), _task("ResetVM_Task")
    if act == "stat":
        return _Plan([], state, state)
    if act == "on":
        return _Plan([] if state == "on" else [on], "on", "on")
    if act == "off":
        return _Plan([] if state == "off" else [off], "off", "off")
    if act == "softoff":
        if state == "off":
            return _Plan([], "off", "off")
        if state == "suspended":
            return "is suspended: softoff needs a running guest (use rpower off or wake)"
        return _Plan([("ShutdownGuest", _shutdown_guest)], "softoff", "off")
    if act == "reset":
        if state != "on":
            return f"is {state}: reset needs a running VM (use rpower on or boot)"
        return _Plan([reset], "reset", "on")
    if act == "boot":
        if state == "on":
            return _Plan([reset], "reset", "on")
        return _Plan([on], "on", "on")
    if act == "cycle":
        if state == "off":
            return _Plan([on], "on", "on")
        return _Plan([off, on], "cycle", "on")
    if act == "suspend":
        if state == "suspended":
            return _Plan([], "suspended", "suspended")
        if state != "on":
            return f"is {state}: only a running VM can be suspended"
        return _Plan([_task("SuspendVM_Task")], "suspend", "suspended")
    if act == "wake":
        if state == "on":
            return _Plan([], "on", "on")
        if state != "suspended":
            return f"is {state}, not suspended: use rpower on"
        return _Plan([on], "wake", "on")
    return f"rpower {act} is not supported by management method '{METHOD}'"


def _fault_message(step: str, exc: BaseException) -> str:
    from pyVmomi import vim

    if step == "ShutdownGuest" and isinstance(exc, vim.fault.ToolsUnavailable):
        return ("VMware Tools are not running in the guest: softoff needs them "
                "(use rpower off)")
    return f"{step} failed: {_text(exc)}"


def run_steps(session: Session, work: dict[str, tuple[Any, list[Step]]], deadline: float,
              finished: Callable[[str, str | None], None]) -> None:
    """Carry out each node's steps in order; tasks of all nodes are polled together.

    ``work`` maps node -> (VM object, steps); ``finished(node, error)`` is
    called once per node.
    """
    from pyVmomi import vim, vmodl

    pending: dict[str, tuple[Any, list[Step]]] = {n: (vm, list(s)) for n, (vm, s) in work.items()}
    waiting: dict[str, tuple[str, Any]] = {}  # node -> (step name, task)
    pool = ThreadPoolExecutor(max_workers=STARTERS, thread_name_prefix="esx-start")

    def start(node: str) -> tuple[str, str | None, Any]:
        vm, steps = pending[node]
        name, begin = steps.pop(0)
        try:
            return node, name, begin(vm)
        except Exception as exc:
            return node, name, exc

    def advance(nodes: Sequence[str]) -> None:
        todo = list(nodes)
        while todo:
            ready = [n for n in todo if not pending[n][1]]
            for n in ready:
                finished(n, None)
            todo = [n for n in todo if pending[n][1]]
            if not todo:
                return
            again = []
            for node, name, result in pool.map(start, todo):
                if isinstance(result, BaseException):
                    finished(node, _fault_message(str(name), result))
                elif isinstance(result, vim.Task):
                    waiting[node] = (str(name), result)
                else:
                    again.append(node)  # done at once: go on with its next step
            todo = again

    try:
        advance(list(pending))
        delay = POLL_FIRST
        pc = vmodl.query.PropertyCollector
        while waiting:
            now = time.monotonic()
            if now >= deadline:
                for node, (name, _t) in waiting.items():
                    finished(node, f"timed out waiting for {name} (it may still finish)")
                return
            time.sleep(min(delay, max(deadline - now, 0)))
            delay = min(delay * 2, POLL_MAX)
            spec = pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=task) for _n, (_s, task) in waiting.items()],
                propSet=[pc.PropertySpec(type=vim.Task, pathSet=["info.state", "info.error"])])
            states: dict[str, tuple[str, Any]] = {}
            for oc in session.retrieve([spec]):
                vals = {p.name: p.val for p in oc.propSet or ()}
                states[oc.obj._moId] = (str(vals.get("info.state")), vals.get("info.error"))
            done: list[str] = []
            for node, (name, task) in list(waiting.items()):
                st, err = states.get(task._moId, ("running", None))
                if st == "success":
                    done.append(node)
                    del waiting[node]
                elif st == "error":
                    del waiting[node]
                    finished(node, _fault_message(name, err) if err is not None
                             else f"{name} failed")
            if done:
                advance(done)
    finally:
        pool.shutdown(wait=True)


class EsxPower(_Esx, Power):
    SUPPORTED = ("on", "off", "softoff", "reset", "boot", "cycle", "stat", "suspend", "wake")
    props = ("runtime.powerState",)

    def act(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
            action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        plans: dict[str, _Plan] = {}
        work: dict[str, tuple[Any, list[Step]]] = {}
        for node, rec in found.items():
            plan = power_plan(action.name, rec.power)
            if isinstance(plan, str):
                emit(Outcome.failed(node, plan))
                continue
            plans[node] = plan
            if plan.steps:
                work[node] = (rec.obj, plan.steps)
            else:
                emit(Outcome.value(node, plan.text, plan.state))
        done = {n: Outcome.value(n, plans[n].text, plans[n].state) for n in work}
        _drive(session, work, deadline, done, emit)


# -- inventory --------------------------------------------------------------
def _size_kb(kb: Any) -> str:
    kb = int(kb or 0)
    if kb >= 1024 * 1024 and kb % (1024 * 1024) == 0:
        return f"{kb // (1024 * 1024)} GB"
    if kb >= 1024:
        return f"{kb / 1024:g} MB" if kb % 1024 else f"{kb // 1024} MB"
    return f"{kb} KB"


def _devices(rec: Record) -> tuple[list[Any], list[Any]]:
    from pyVmomi import vim

    devices = rec.get("config.hardware.device") or []
    disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    return disks, nics


def inventory_lines(rec: Record, items: Sequence[str], hosts: Mapping[str, str]
                    ) -> list[tuple[str | None, str]]:
    want = set(items)
    every = "all" in want
    lines: list[tuple[str | None, str]] = []
    if every or want & {"uuid", "guid", "vpd"}:
        lines.append(("UUID/GUID", str(rec.get("config.uuid") or "unknown")))
    if every or "model" in want:
        lines.append(("Guest OS", str(rec.get("config.guestFullName") or "unknown")))
    if every or "vpd" in want:
        lines.append(("Hardware Version", str(rec.get("config.version") or "unknown")))
    if every:
        lines.append(("CPUs", str(rec.get("config.hardware.numCPU") or 0)))
        lines.append(("Memory", f"{rec.get('config.hardware.memoryMB') or 0} MB"))
    disks, nics = _devices(rec)
    if every:
        for d in disks:
            label = d.deviceInfo.label if d.deviceInfo else f"disk {d.key}"
            size = getattr(d, "capacityInBytes", None)
            text = _size_kb(size // 1024 if size else d.capacityInKB)
            backing = getattr(d.backing, "fileName", None)
            lines.append((label, f"{text} ({backing})" if backing else text))
    if every or "mac" in want:
        for n in nics:
            label = n.deviceInfo.label if n.deviceInfo else f"NIC {n.key}"
            net = getattr(n.backing, "deviceName", None) if n.backing else None
            mac = n.macAddress or "unassigned"
            lines.append((f"MAC Address ({label})", f"{mac} ({net})" if net else mac))
    if every:
        lines.append(("Host", _host_name(rec, hosts) or "unknown"))
        lines.append(("Power State", rec.power))
    for item in items:
        if item not in ("all", "uuid", "guid", "vpd", "model", "mac"):
            lines.append((item, "not applicable to a virtual machine"))
    return lines


class EsxInventory(_Esx, Inventory):
    props = ("runtime.powerState", "runtime.host", "config.uuid", "config.guestFullName",
             "config.version", "config.hardware.numCPU", "config.hardware.memoryMB",
             "config.hardware.device")

    def act(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
            action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        items = list(action.options.get("items") or [action.name])
        for node, rec in found.items():
            emit(Outcome(node, lines=inventory_lines(rec, items, hosts)))


# -- sensors ----------------------------------------------------------------
def _stat(value: Any, unit: str) -> str:
    return "not reported" if value is None else f"{value} {unit}"


def vitals_lines(rec: Record, items: Sequence[str]) -> list[tuple[str | None, str]]:
    want = set(items)
    every = "all" in want
    qs = rec.get("summary.quickStats")
    lines: list[tuple[str | None, str]] = []
    if every or "power" in want:
        lines.append(("Power State", rec.power))
    if every:
        cpus = rec.get("config.hardware.numCPU")
        lines.append(("CPU Usage", _stat(getattr(qs, "overallCpuUsage", None), "MHz")))
        if rec.get("runtime.maxCpuUsage") is not None:
            lines.append(("CPU Capacity", f"{rec.get('runtime.maxCpuUsage')} MHz"
                          + (f" ({cpus} vCPUs)" if cpus else "")))
        lines.append(("Guest Memory Usage", _stat(getattr(qs, "guestMemoryUsage", None), "MB")))
        lines.append(("Host Memory Usage", _stat(getattr(qs, "hostMemoryUsage", None), "MB")))
        lines.append(("Memory Size", f"{rec.get('config.hardware.memoryMB') or 0} MB"))
        lines.append(("Uptime", _stat(getattr(qs, "uptimeSeconds", None), "s")))
    for item in items:
        if item not in ("all", "power"):
            lines.append((item, "not applicable to a virtual machine"))
    return lines


class EsxSensors(_Esx, Sensors):
    props = ("runtime.powerState", "runtime.maxCpuUsage", "summary.quickStats",
             "config.hardware.numCPU", "config.hardware.memoryMB")

    def act(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
            action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        items = list(action.options.get("items") or [action.name])
        for node, rec in found.items():
            emit(Outcome(node, lines=vitals_lines(rec, items)))


# -- VM lifecycle: mkvm, rmvm, lsvm, chvm, rmigrate -----------------------------
NIC_MODELS = {"e1000": "VirtualE1000", "e1000e": "VirtualE1000e", "vmxnet3": "VirtualVmxnet3",
              "vmxnet2": "VirtualVmxnet2", "vmxnet": "VirtualVmxnet", "pcnet32": "VirtualPCNet32"}
"""``vm.nicmodel`` -> NIC device class; empty (or kvm's ``virtio``) means e1000."""
SCSI_KEY = -100
"""Temporary key of a SCSI controller added together with its disks."""


@dataclass(frozen=True)
class Hypervisor:
    """lsvm of a node without ``vm.host``: the node is taken as a hypervisor."""

    node: str
    endpoint: Endpoint | None
    problem: str | None = None


def esx_macs(node: str, count: int, have: str | None) -> tuple[list[str], bool]:
    """MACs for an ESX VM's NICs: ``mac.mac``, else made up in VMware's manual
    range 00:50:56:00:00:00-00:50:56:3f:ff:ff."""
    return vm_macs(node, count, have, "00:50:56", first_mask=0x3F)


def parse_storage(text: str | None) -> list[tuple[str, str, str]]:
    """``vm.storage`` as ("vmfs", datastore, "") or ("nfs", server, path) items."""
    out: list[tuple[str, str, str]] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        scheme, sep, rest = item.partition("://")
        scheme = scheme.lower()
        if sep and scheme == "vmfs" and rest.strip("/"):
            out.append(("vmfs", rest.strip("/"), ""))
        elif sep and scheme == "nfs" and "/" in rest and rest.split("/", 1)[0]:
            server, _, path = rest.partition("/")
            out.append(("nfs", server, "/" + path.strip("/")))
        else:
            raise ValueError(f"vm.storage {item!r} is not supported by esx: use "
                             "vmfs://datastore or nfs://server/path")
    return out


def nas_name(server: str, path: str) -> str:
    """The datastore name an NFS export is mounted as (xCAT's ``nfs_<server>_<path>``)."""
    return "nfs_" + "".join(c if c.isalnum() or c in "-." else "_"
                            for c in f"{server}{path}".rstrip("/"))


def _size_gib(nbytes: int) -> str:
    gib = nbytes / (1 << 30)
    return f"{gib:g} GiB" if gib >= 1 else f"{nbytes >> 20} MiB"


def _ref_ids(value: Any) -> list[str]:
    return [r._moId for r in value or ()]


class _Inventory:
    """What one bulk read says about hosts, datacenters, datastores and networks."""

    def __init__(self, hosts: Mapping[str, str], objs: Mapping[str, Record]) -> None:
        self.hosts = hosts
        self.objs = objs

    def host_for(self, t: Target) -> Record | str:
        """The HostSystem a new VM of ``t`` goes on."""
        want = _short(t.host)
        named = [m for m, name in self.hosts.items() if _short(name) == want]
        if len(named) == 1:
            return self.objs[named[0]]
        if t.endpoint.kind == "host" and len(self.hosts) == 1:
            return self.objs[next(iter(self.hosts))]
        if not named:
            return f"no host named {t.host!r} on {t.endpoint.label}"
        return f"{len(named)} hosts are named {t.host!r} on {t.endpoint.label}"

    def datacenter_of(self, host: Record) -> Record | None:
        mine = set(_ref_ids(host.get("datastore"))) | set(_ref_ids(host.get("network")))
        dcs = [r for r in self.objs.values() if isinstance(r.obj, _vim().Datacenter)]
        for dc in dcs:
            if mine & (set(_ref_ids(dc.get("datastore"))) | set(_ref_ids(dc.get("network")))):
                return dc
        return dcs[0] if len(dcs) == 1 else None

    def datastore(self, host: Record, item: tuple[str, str, str]) -> str | None:
        """The name of the host's datastore for a ``vm.storage`` item, if mounted."""
        kind, a, b = item
        for moid in _ref_ids(host.get("datastore")):
            ds = self.objs.get(moid)
            if ds is None:
                continue
            if kind == "vmfs" and ds.get("name") == a:
                return str(a)
            nas = getattr(ds.get("info"), "nas", None)
            if kind == "nfs" and nas is not None and _short(nas.remoteHost or "") == _short(a) \
                    and (nas.remotePath or "").rstrip("/") == b.rstrip("/"):
                return str(ds.get("name"))
        return None

    def network(self, host: Record, name: str) -> Any:
        for moid in _ref_ids(host.get("network")):
            net = self.objs.get(moid)
            if net is not None and net.get("name") == name:
                return net.obj
        return None


def _vim() -> Any:
    from pyVmomi import vim

    return vim


def _mkvm_spec(node: str, t: Target, opts: Mapping[str, Any], inv: _Inventory, host: Record,
               stores: Sequence[str]) -> tuple[Any, list[str], bool, int]:
    """(ConfigSpec, MACs, whether MACs were made up, disks) of a new VM; ValueError if bad."""

    vim = _vim()
    memory = opts.get("memory") or parse_size(t.get("vm", "memory") or "512", "M")
    cpus = str(opts.get("cpus") or t.get("vm", "cpus") or "1")
    if not cpus.isdigit() or int(cpus) < 1:
        raise ValueError(f"bad CPU count {cpus!r}: expected a whole number of at least 1")
    model = (t.get("vm", "nicmodel") or "e1000").lower()
    model = "e1000" if model == "virtio" else model
    if model not in NIC_MODELS:
        raise ValueError(f"vm.nicmodel {model!r} is not a vSphere NIC model "
                         f"({', '.join(sorted(NIC_MODELS))})")
    nets = [n.strip().removeprefix("network:").removeprefix("bridge:")
            for n in (t.get("vm", "nics") or "").split(",") if n.strip()]
    macs, made = esx_macs(node, len(nets), t.get("mac", "mac"))
    changes: list[Any] = []
    sizes = [int(s) for s in opts.get("sizes") or []]
    if sizes:
        changes.append(vim.vm.device.VirtualDeviceSpec(
            operation="add", device=vim.vm.device.ParaVirtualSCSIController(
                key=SCSI_KEY, busNumber=0, sharedBus="noSharing")))
    units = [u for u in range(16) if u != 7]
    for i, size in enumerate(sizes):
        if i >= len(units):
            raise ValueError(f"at most {len(units)} disks on one controller")
        store = stores[min(i, len(stores) - 1)]
        disk = vim.vm.device.VirtualDisk(
            key=SCSI_KEY - 1 - i, controllerKey=SCSI_KEY, unitNumber=units[i],
            capacityInKB=size // 1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName=f"[{store}]", diskMode="persistent", thinProvisioned=True))
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create",
                                                       device=disk))
    for i, (net, mac) in enumerate(zip(nets, macs, strict=False)):
        ref = inv.network(host, net)
        if ref is None:
            raise ValueError(f"vm.nics: no network named {net!r} on host {host.get('name')}")
        nic = getattr(vim.vm.device, NIC_MODELS[model])(
            key=-200 - i, addressType="manual", macAddress=mac,
            backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=net,
                                                                        network=ref),
            connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True,
                                                                allowGuestControl=True))
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=nic))
    arch = (t.get("nodetype", "arch") or "x86_64").lower()
    spec = vim.vm.ConfigSpec(
        name=node, numCPUs=int(cpus), memoryMB=max(int(memory) >> 20, 4),
        guestId="otherGuest64" if arch in ("x86_64", "amd64", "aarch64") else "otherGuest",
        files=vim.vm.FileInfo(vmPathName=f"[{stores[0]}]"),
        annotation=f"xCAT node {node}", deviceChange=changes)
    return spec, macs[:len(nets)], made, len(sizes)


def _disk_names(disk: Any, buses: Mapping[int, int]) -> set[str]:
    names = set()
    if disk.deviceInfo and disk.deviceInfo.label:
        names.add(disk.deviceInfo.label.lower())
    if disk.controllerKey in buses and disk.unitNumber is not None:
        names.add(f"scsi{buses[disk.controllerKey]}:{disk.unitNumber}")
    path = getattr(disk.backing, "fileName", None)
    if path:
        names.update({path.lower(), path.rpartition("/")[2].lower(),
                      path.rpartition(" ")[2].lower()})
    return names


def _chvm_spec(node: str, rec: Record, opts: Mapping[str, Any]
               ) -> tuple[Any, list[tuple[str | None, str]]]:
    """(ConfigSpec, lines) for chvm on a VM as read; ValueError if a disk is unknown."""
    vim = _vim()
    devices = list(rec.get("config.hardware.device") or [])
    ctrls = [d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)]
    buses = {c.key: c.busNumber for c in ctrls}
    disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    spec = vim.vm.ConfigSpec(deviceChange=[])
    lines: list[tuple[str | None, str]] = []
    if opts.get("cpus"):
        spec.numCPUs = int(opts["cpus"])
        lines.append(("CPUs", str(opts["cpus"])))
    if opts.get("memory"):
        spec.memoryMB = int(opts["memory"]) >> 20
        lines.append(("Memory", f"{spec.memoryMB} MiB"))

    def find(name: str) -> Any:
        hits = [d for d in disks if name.lower() in _disk_names(d, buses)]
        if len(hits) != 1:
            raise ValueError(f"{node} has no disk {name}" if not hits
                             else f"{name} names {len(hits)} disks of {node}")
        return hits[0]

    taken: set[int] = set()
    for name, purge in [(n, False) for n in opts.get("detach") or []] + \
                       [(n, True) for n in opts.get("purge") or []]:
        disk = find(name)
        if disk.key in taken:
            raise ValueError(f"disk {name} of {node} is named twice")
        taken.add(disk.key)
        change = vim.vm.device.VirtualDeviceSpec(operation="remove", device=disk)
        if purge:
            change.fileOperation = "destroy"
        spec.deviceChange.append(change)
        lines.append((f"Disk {name}", "removed and purged" if purge else "removed"))
    for name, size in (opts.get("resize") or {}).items():
        disk = find(name)
        if disk.key in taken:
            raise ValueError(f"disk {name} of {node} is removed and resized at once")
        have = int(getattr(disk, "capacityInBytes", None) or disk.capacityInKB * 1024)
        if size < have:
            raise ValueError(f"disk {name} of {node} is {_size_gib(have)}: "
                             "a disk can only grow")
        disk.capacityInKB = size // 1024
        disk.capacityInBytes = size
        spec.deviceChange.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk))
        lines.append((f"Disk {name}", f"resized to {_size_gib(size)}"))
    if opts.get("add"):
        home = str(rec.get("config.files.vmPathName") or "")
        store = home[1:home.index("]")] if home.startswith("[") and "]" in home else ""
        if not store:
            raise ValueError(f"cannot tell the datastore of {node} (config.files.vmPathName)")
        if ctrls:
            ckey, bus = ctrls[0].key, ctrls[0].busNumber
        else:
            ckey, bus = SCSI_KEY, 0
            spec.deviceChange.append(vim.vm.device.VirtualDeviceSpec(
                operation="add", device=vim.vm.device.ParaVirtualSCSIController(
                    key=SCSI_KEY, busNumber=0, sharedBus="noSharing")))
        used = {d.unitNumber for d in devices if d.controllerKey == ckey}
        free = [u for u in range(16) if u != 7 and u not in used]
        for i, size in enumerate(opts["add"]):
            if i >= len(free):
                raise ValueError(f"no free unit left on scsi{bus} of {node}")
            disk = vim.vm.device.VirtualDisk(
                key=SCSI_KEY - 1 - i, controllerKey=ckey, unitNumber=free[i],
                capacityInKB=int(size) // 1024,
                backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                    fileName=f"[{store}]", diskMode="persistent", thinProvisioned=True))
            spec.deviceChange.append(vim.vm.device.VirtualDeviceSpec(
                operation="add", fileOperation="create", device=disk))
            lines.append((f"Disk scsi{bus}:{free[i]}", f"added on [{store}] "
                                                       f"({_size_gib(int(size))})"))
    return spec, lines


def vm_config_lines(rec: Record, hosts: Mapping[str, str]) -> list[tuple[str | None, str]]:
    """lsvm of a VM node: where it runs, its state and its configuration."""
    lines: list[tuple[str | None, str]] = [("Host", _host_name(rec, hosts) or "unknown"),
                                           ("State", rec.power)]
    lines += [x for x in inventory_lines(rec, ["all"], hosts)
              if x[0] not in ("Host", "Power State")]
    if rec.get("config.files.vmPathName"):
        lines.append(("Config File", str(rec.get("config.files.vmPathName"))))
    return lines


class EsxVirtualMachine(_Esx, VirtualMachine):
    """The VM lifecycle on vSphere, every action on an endpoint from ONE bulk read.

    mkvm
        ``CreateVM_Task`` in the datacenter's VM folder and the resource pool
        of the VM's host (``vm.host``: the host of that name on a vCenter; the
        host itself when direct).  Datastores come from ``vm.storage``
        (``vmfs://name``, or ``nfs://server/path`` — an export the host has
        not mounted yet is mounted once as ``nfs_<server>_<path>``); one disk
        per ``-s`` size, the n-th on the n-th datastore (the last one for the
        rest), thin, on a paravirtual SCSI controller.  CPUs and memory from
        the options, else ``vm.cpus``/``vm.memory`` (1, 512 MiB).  One NIC per
        ``vm.nics`` network (model ``vm.nicmodel``, e1000 by default), with
        the MACs of ``mac.mac`` or made up (VMware's manual range) and then
        written to ``mac.mac``.  A VM that exists already is an error unless
        ``-f`` (it is then powered off and destroyed first).
    rmvm
        A VM that is on or suspended needs ``-f`` (powered off first).
        ``-p`` destroys it with its files (``Destroy_Task``); without ``-p``
        it is only unregistered and its files stay on the datastore.
    lsvm
        On a node without ``vm.host`` (a hypervisor, via its own
        ``hypervisor.mgr`` or directly): its VMs and their power states; on a
        VM node: its configuration.
    chvm
        ``--cpus``, ``--mem``, ``-a size`` (a new disk on the VM's datastore),
        ``-d disk`` (detach, files kept), ``-p disk`` (detach and delete),
        ``--resize disk=size`` (grow) in one ``ReconfigVM_Task``.  A disk is
        named ``scsiB:U``, by its label (``Hard disk 2``) or its file name.
    rmigrate
        ``RelocateVM_Task`` to another host of the same vCenter (a live move
        when the VM is on), then ``vm.host`` is updated.
    """

    SUPPORTED = VirtualMachine.ACTIONS
    columns = {"vm": ("host", "storage", "memory", "cpus", "nics", "nicmodel"),
               "mac": ("mac",), "nodetype": ("arch",),
               "hypervisor": ("mgr", "preferdirect", "type")}
    props = ("runtime.powerState", "runtime.host")
    PROPS = {
        "mkvm": ("runtime.powerState", "runtime.host"),
        "rmvm": ("runtime.powerState", "runtime.host"),
        "chvm": ("runtime.powerState", "runtime.host", "config.hardware.device",
                 "config.files.vmPathName"),
        "rmigrate": ("runtime.powerState", "runtime.host"),
        "lsvm": ("runtime.powerState", "runtime.host", "config.uuid", "config.guestFullName",
                 "config.version", "config.hardware.numCPU", "config.hardware.memoryMB",
                 "config.hardware.device", "config.files.vmPathName"),
    }
    HOST_PROPS = ("parent", "datastore", "network", "configManager.datastoreSystem")

    def prepare(self, nodes: Sequence[str], facts: Facts) -> tuple[dict[str, Any], dict[str, str]]:
        targets, errors = super().prepare(nodes, facts)
        for node, msg in list(errors.items()):
            if msg != NO_HOST:
                continue
            del errors[node]
            try:
                ep = self.endpoint(node, facts.get(node, "hypervisor", "mgr"),
                                   facts.get(node, "hypervisor", "preferdirect"), facts)
                targets[node] = Hypervisor(node, ep)
            except ValueError as exc:
                targets[node] = Hypervisor(node, None, str(exc))
        return targets, errors

    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        # Actions outside SUPPORTED never get here: the dispatcher refuses them.
        act = action.name
        rest: dict[str, Any] = {}
        for node, t in targets.items():
            if isinstance(t, Hypervisor):
                if act != "lsvm":
                    yield Outcome.failed(node, NO_HOST)
                elif t.endpoint is None:
                    yield Outcome.failed(node, t.problem or NO_HOST)
                else:
                    rest[node] = t
            elif act == "rmigrate" and t.endpoint.kind != "vcenter":
                yield Outcome.failed(node, f"rmigrate needs a vCenter: set hypervisor.mgr of "
                                           f"{t.host} (and no hypervisor.preferdirect)")
            else:
                rest[node] = t
        if rest:
            yield from super().run(rest, action, limits)

    def read(self, session: Session, group: Mapping[str, Any], action: Action
             ) -> tuple[dict[str, list[Record]], dict[str, str], dict[str, Record]]:
        mk = action.name == "mkvm"
        return _read_all(session, self.PROPS.get(action.name, self.props),
                         self.HOST_PROPS if mk else (), infra=mk)

    def handle(self, session: Session, group: Mapping[str, Any],
               vms: Mapping[str, list[Record]], hosts: Mapping[str, str],
               objs: Mapping[str, Record], action: Action, deadline: float,
               emit: Callable[[Outcome], None]) -> None:
        act = action.name
        if act == "mkvm":
            self._mkvm(session, group, vms, _Inventory(hosts, objs), action, deadline, emit)
            return
        if act == "lsvm":
            hyps = {n: t for n, t in group.items() if isinstance(t, Hypervisor)}
            for node, t in hyps.items():
                emit(_list_host(node, t.endpoint, vms, hosts))
            group = {n: t for n, t in group.items() if n not in hyps}
        super().handle(session, group, vms, hosts, objs, action, deadline, emit)

    def act(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
            action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        act = action.name
        if act == "lsvm":
            for node, rec in found.items():
                emit(Outcome(node, lines=vm_config_lines(rec, hosts)))
            return
        if act == "rmigrate":
            self._rmigrate(session, found, hosts, action, deadline, emit)
            return
        opts = action.options
        work: dict[str, tuple[Any, list[Step]]] = {}
        done: dict[str, Outcome] = {}
        for node, rec in found.items():
            if act == "rmvm":
                steps: list[Step] = []
                if rec.power != "off":
                    if not opts.get("force"):
                        emit(Outcome.failed(node, f"{node} is {rec.power}: stop it first or "
                                                  "use rmvm -f"))
                        continue
                    steps.append(_task("PowerOffVM_Task"))
                if opts.get("purge"):
                    steps.append(_task("Destroy_Task"))
                    text = "removed, files deleted"
                else:
                    steps.append(("UnregisterVM", lambda vm: vm.UnregisterVM()))
                    text = "removed (files kept on the datastore)"
                work[node] = (rec.obj, steps)
                done[node] = Outcome(node, lines=[(None, text)], state="off")
            else:  # chvm
                try:
                    spec, lines = _chvm_spec(node, rec, opts)
                except ValueError as exc:
                    emit(Outcome.failed(node, str(exc)))
                    continue

                def reconfig(vm: Any, spec: Any = spec) -> Any:
                    return vm.ReconfigVM_Task(spec=spec)

                work[node] = (rec.obj, [("ReconfigVM_Task", reconfig)])
                done[node] = Outcome(node, lines=lines)
        _drive(session, work, deadline, done, emit)

    def _mkvm(self, session: Session, group: Mapping[str, Target],
              vms: Mapping[str, list[Record]], inv: _Inventory, action: Action, deadline: float,
              emit: Callable[[Outcome], None]) -> None:
        vim = _vim()
        opts = action.options
        plans: dict[str, tuple[Target, Record, list[tuple[str, str, str]], Record | None]] = {}
        mounts: dict[tuple[str, str, str], str | None] = {}  # (host, server, path) -> error
        for node, t in group.items():
            existing: Record | None = None
            records = vms.get(t.vm, [])
            if records:
                if not opts.get("force"):
                    emit(Outcome.failed(node, f"VM {node} already exists on {t.endpoint.label} "
                                              "(use rmvm first, or mkvm -f to replace it)"))
                    continue
                picked = _pick(records, t, inv.hosts)
                if isinstance(picked, str):
                    emit(Outcome.failed(node, picked))
                    continue
                existing = picked
            host = inv.host_for(t)
            if isinstance(host, str):
                emit(Outcome.failed(node, host))
                continue
            try:
                storage = parse_storage(t.get("vm", "storage"))
            except ValueError as exc:
                emit(Outcome.failed(node, str(exc)))
                continue
            if not storage:
                emit(Outcome.failed(node, "mkvm needs vm.storage (vmfs://datastore or "
                                          "nfs://server/path)"))
                continue
            for item in storage:
                if item[0] == "nfs" and inv.datastore(host, item) is None:
                    mounts[(host.obj._moId, item[1], item[2])] = None
            plans[node] = (t, host, storage, existing)
        # NFS exports not mounted yet: each once per host, before any VM is made.
        for key in mounts:
            moid, server, path = key
            dss = inv.objs[moid].get("configManager.datastoreSystem")
            try:
                dss.CreateNasDatastore(spec=vim.host.NasVolume.Specification(
                    remoteHost=server, remotePath=path, localPath=nas_name(server, path),
                    accessMode="readWrite", type="NFS"))
            except Exception as exc:
                mounts[key] = (f"cannot mount nfs://{server}{path} on "
                               f"{inv.hosts.get(moid, moid)}: {_text(exc)}")
        work: dict[str, tuple[Any, list[Step]]] = {}
        done: dict[str, Outcome] = {}
        for node, (t, host, storage, existing) in plans.items():
            hid = host.obj._moId
            failed = [mounts[(hid, s, p)] for k, s, p in storage
                      if k == "nfs" and mounts.get((hid, s, p))]
            if failed:
                emit(Outcome.failed(node, str(failed[0])))
                continue
            stores = [inv.datastore(host, item) or nas_name(item[1], item[2])
                      if item[0] == "nfs" else inv.datastore(host, item) or ""
                      for item in storage]
            missing = [f"{k}://{a}{b}" for (k, a, b), s in zip(storage, stores, strict=True)
                       if not s]
            dc = inv.datacenter_of(host)
            pool_ref = inv.objs.get(host.get("parent")._moId) if host.get("parent") else None
            pool = pool_ref.get("resourcePool") if pool_ref else None
            if missing:
                emit(Outcome.failed(node, f"host {host.get('name')} has no datastore "
                                          f"{missing[0]}"))
                continue
            if dc is None or pool is None:
                emit(Outcome.failed(node, f"cannot tell the datacenter and resource pool of "
                                          f"host {host.get('name')}"))
                continue
            try:
                spec, macs, made, ndisks = _mkvm_spec(node, t, opts, inv, host, stores)
            except ValueError as exc:
                emit(Outcome.failed(node, str(exc)))
                continue
            folder, hostobj = dc.get("vmFolder"), host.obj

            def create(_vm: Any, spec: Any = spec, folder: Any = folder, pool: Any = pool,
                       hostobj: Any = hostobj) -> Any:
                return folder.CreateVM_Task(config=spec, pool=pool, host=hostobj)

            steps: list[Step] = []
            if existing is not None:
                if existing.power != "off":
                    steps.append(_task("PowerOffVM_Task"))
                steps.append(_task("Destroy_Task"))
            steps.append(("CreateVM_Task", create))
            work[node] = (existing.obj if existing else None, steps)
            text = f"created on {host.get('name')} in [{stores[0]}]"
            if ndisks:
                text += f", {ndisks} disk{'s' if ndisks > 1 else ''}"
            updates: dict[str, dict[str, str | None] | None] = {}
            if made:
                updates["mac"] = {"mac": "|".join(macs)}
            done[node] = Outcome(node, lines=[(None, text)], state="off", updates=updates)
        _drive(session, work, deadline, done, emit)

    def _rmigrate(self, session: Session, found: dict[str, Record], hosts: Mapping[str, str],
                  action: Action, deadline: float, emit: Callable[[Outcome], None]) -> None:
        vim = _vim()
        dest = str(action.options.get("target") or "").strip()
        by_name = {_short(name): moid for moid, name in hosts.items()}
        moid = by_name.get(_short(dest))
        work: dict[str, tuple[Any, list[Step]]] = {}
        done: dict[str, Outcome] = {}
        for node, rec in found.items():
            if moid is None:
                emit(Outcome.failed(node, f"no host named {dest!r} on {session.endpoint.label}"))
            elif rec.get("runtime.host") is not None and rec.get("runtime.host")._moId == moid:
                emit(Outcome.failed(node, f"{node} is already on {dest}"))
            else:
                host = vim.HostSystem(moid, session.stub)

                def relocate(vm: Any, host: Any = host) -> Any:
                    return vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=host))

                work[node] = (rec.obj, [("RelocateVM_Task", relocate)])
                done[node] = Outcome(node, lines=[(None, f"migrated to {dest}")],
                                     updates={"vm": {"host": dest}})
        _drive(session, work, deadline, done, emit, prefix=f"rmigrate to {dest}")


def _list_host(node: str, ep: Endpoint, vms: Mapping[str, list[Record]],
               hosts: Mapping[str, str]) -> Outcome:
    """lsvm of hypervisor ``node``: the VMs on it and their power states."""
    want = _short(node)
    mine = {m for m, name in hosts.items() if _short(name) == want}
    if not mine and ep.kind == "vcenter":
        return Outcome.failed(node, f"no host named {node!r} on {ep.label}")
    lines: list[tuple[str | None, str]] = []
    for name, records in sorted(vms.items()):
        for rec in records:
            ref = rec.get("runtime.host")
            if not mine or (ref is not None and ref._moId in mine):
                lines.append((name, rec.power))
    return Outcome(node, lines=lines or [(None, "no virtual machines")])


def _drive(session: Session, work: dict[str, tuple[Any, list[Step]]], deadline: float,
           done: Mapping[str, Outcome], emit: Callable[[Outcome], None],
           prefix: str | None = None) -> None:
    """Run each node's steps; emit ``done[node]`` on success, the error otherwise."""
    if not work:
        return

    def finished(node: str, error: str | None) -> None:
        if error:
            emit(Outcome.failed(node, f"{prefix} failed: {error}" if prefix else error))
        else:
            emit(done[node])

    try:
        run_steps(session, work, deadline, finished)
    except Exception as exc:
        if not _is_fault(exc):
            SESSIONS.drop(session)
        for node in work:
            emit(Outcome.failed(node, f"lost {session.endpoint.label}: {_text(exc)}"))


CAPABILITIES: dict[str, type[Capability]] = {
    c.kind: c for c in (EsxPower, EsxInventory, EsxSensors, EsxVirtualMachine)
}
