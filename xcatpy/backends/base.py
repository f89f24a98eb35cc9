"""What a hardware backend offers: small capability classes and their results.

A management method (``nodehm.mgt``: ipmi, kvm, esx, ...) is a set of
capabilities — power, boot device, inventory, sensors, beacon, event log.
Each capability declares the table columns it needs, turns the values read
for its nodes into *targets* without any network I/O (``prepare``), and then
runs one action on many targets at once (``run``), yielding an
:class:`Outcome` per node as soon as that node is done.

The command layer never talks to hardware itself: it asks
:mod:`xcatpy.backends.dispatch` which capability serves each node, and
formats the outcomes.  A method that lacks a capability gives each of its
nodes an "unsupported" error; nothing else fails.
"""

from __future__ import annotations

import hashlib
import ipaddress
import queue
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from xcatpy.errors import XcatError

# The capability kinds, in the order the commands know them.
POWER = "power"
BOOTDEV = "bootdev"
INVENTORY = "inventory"
SENSORS = "sensors"
BEACON = "beacon"
EVENTLOG = "eventlog"
VM = "vm"
"""Virtual machine lifecycle: mkvm, rmvm, lsvm, chvm, rmigrate."""
KINDS = (POWER, BOOTDEV, INVENTORY, SENSORS, BEACON, EVENTLOG, VM)


@dataclass(frozen=True)
class Limits:
    """How hard to push the hardware: from the ``site`` table, with xCAT's defaults."""

    maxp: int = 64
    """Parallel workers (xCAT's processes); each keeps many endpoints busy at once."""
    timeout: float = 2.0
    """Seconds to wait for each answer."""
    retries: int = 3
    """Resends of an unanswered packet before the node fails."""

    @property
    def deadline(self) -> float:
        """The longest one node may take before it is given up on."""
        return self.timeout * (self.retries + 1) + 1.0


@dataclass(frozen=True)
class Action:
    """One action of a capability, e.g. power ``on`` or inventory ``serial,model``."""

    kind: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one node answered.

    ``lines`` are ``(label, value)`` pairs printed as ``node: label: value``
    (or ``node: value`` when the label is None).  ``error`` is set when the
    node failed.  ``state`` carries a machine-readable result for the command
    layer (for power: the state after the action, used for
    ``nodelist.status``).
    """

    node: str
    lines: list[tuple[str | None, str]] = field(default_factory=list)
    error: str | None = None
    state: str | None = None
    updates: dict[str, dict[str, str | None] | None] = field(default_factory=dict)
    """Table rows of this node the command layer writes after success:
    ``table -> {column: value}``, or ``table -> None`` to delete the node's row."""

    @classmethod
    def failed(cls, node: str, message: str) -> Outcome:
        return cls(node, error=message)

    @classmethod
    def value(cls, node: str, text: str, state: str | None = None) -> Outcome:
        return cls(node, lines=[(None, text)], state=state)


@dataclass(frozen=True)
class Facts:
    """Everything ``prepare`` may look at: read in bulk before any network I/O.

    ``attrs`` holds the node's resolved values of the capability's
    ``columns`` (``(table, column) -> value``, only defined ones);
    ``passwd`` maps a ``passwd.key`` to its first row.
    """

    attrs: Mapping[str, Mapping[tuple[str, str], str]]
    passwd: Mapping[str, Mapping[str, str | None]]
    site: Mapping[str, str]
    related: Mapping[str, Mapping[tuple[str, str], str]] = field(default_factory=dict)
    """Values of a capability's ``related`` columns, keyed by the *named* node
    (e.g. the hypervisor named by a VM's ``vm.host``)."""

    def get(self, node: str, table: str, column: str) -> str | None:
        value = self.attrs.get(node, {}).get((table, column))
        return value if value not in (None, "") else None

    def get_related(self, name: str, table: str, column: str) -> str | None:
        value = self.related.get(name, {}).get((table, column))
        return value if value not in (None, "") else None


class Capability(ABC):
    """One kind of operation a management method offers for its nodes."""

    kind: ClassVar[str]
    method: ClassVar[str]
    """The ``nodehm.mgt`` value this capability belongs to."""
    columns: ClassVar[Mapping[str, Sequence[str]]] = {}
    """table -> columns read per node (group and regex rows resolved)."""
    passwd_keys: ClassVar[Sequence[str]] = ()
    """``passwd.key`` rows consulted for default credentials."""
    related: ClassVar[Mapping[tuple[str, str], Mapping[str, Sequence[str]]]] = {}
    """(table, column) naming another node -> table -> columns read for that node
    (group and regex rows resolved), e.g. ``{("vm", "host"): {"hypervisor": ["mgr"]}}``;
    given to ``prepare`` as ``Facts.related``."""

    def prepare(self, nodes: Sequence[str], facts: Facts) -> tuple[dict[str, Any], dict[str, str]]:
        """(targets, errors) per node, from table values only; never touches the network."""
        return {n: n for n in nodes}, {}

    def limits(self, site: Mapping[str, str]) -> Limits:
        """How hard this method may push its endpoints, from ``site``."""
        return Limits()

    @abstractmethod
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        """Carry out ``action`` on every target, yielding outcomes as nodes finish."""


class Power(Capability):
    kind = POWER
    ACTIONS = ("on", "off", "softoff", "reset", "boot", "cycle", "stat", "nmi",
               "suspend", "wake")
    SUPPORTED: tuple[str, ...] = ACTIONS
    """The actions this method can do; others are a per-node "not supported" error."""


class BootDevice(Capability):
    kind = BOOTDEV
    DEVICES = ("net", "hd", "cd", "def", "setup")


class Inventory(Capability):
    kind = INVENTORY
    ITEMS = ("model", "serial", "asset", "vpd", "deviceid", "guid", "uuid", "firm",
             "mprom", "dimm", "mac", "all")


class Sensors(Capability):
    kind = SENSORS
    ITEMS = ("temp", "voltage", "fanspeed", "power", "leds", "energy", "all")


class Beacon(Capability):
    kind = BEACON
    ACTIONS = ("on", "off", "blink", "stat")


class EventLog(Capability):
    kind = EVENTLOG


class VirtualMachine(Capability):
    """mkvm, rmvm, lsvm, chvm and rmigrate: ``Action.name`` is the command,
    ``Action.options`` its parsed options.  Table changes a node needs on
    success (``kvm_nodedata``, ``vm.host``, ``mac``) go in ``Outcome.updates``."""

    kind = VM
    ACTIONS = ("mkvm", "rmvm", "lsvm", "chvm", "rmigrate")
    SUPPORTED: tuple[str, ...] = ACTIONS


def error_text(exc: BaseException) -> str:
    """What a node's error line says about ``exc``: its text, else its type."""
    return str(exc).strip() or exc.__class__.__name__


def unsupported(node: str, method: str, command: str) -> Outcome:
    return Outcome.failed(node, f"{command} is not supported by management method '{method}'")


def _number(site: Mapping[str, str], key: str, default: float, *, integer: bool) -> float:
    raw = (site.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number of seconds"
        raise XcatError(f"site.{key} must be {kind}, not {raw!r}") from None
    if value < 0 or (integer and key.endswith("maxp") and value < 1):
        raise XcatError(f"site.{key} is out of range: {raw!r}")
    return value


def limits_from_site(site: Mapping[str, str], prefix: str = "ipmi") -> Limits:
    """``site.<prefix>maxp``, ``<prefix>timeout`` and ``<prefix>retries`` as Limits."""
    base = Limits()
    return Limits(
        maxp=int(_number(site, f"{prefix}maxp", base.maxp, integer=True)),
        timeout=_number(site, f"{prefix}timeout", base.timeout, integer=False) or base.timeout,
        retries=int(_number(site, f"{prefix}retries", base.retries, integer=True)),
    )


def split_host_port(text: str, column: str, default_port: int, noun: str = "") -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port).

    ``column`` (e.g. ``ipmi.bmc``) and ``noun`` (e.g. ``"BMC "``) only shape
    the error messages, which name the value and where it came from.
    """
    host, port = text, ""
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad {noun}address {text!r} in {column}: expected [v6addr]:port")
        host, port = inner, rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port:
            raise ValueError(f"bad {noun}port '' in {column} {text!r}")
    elif ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"bad {noun}address {text!r} in {column}") from None
    if not host or any(c.isspace() for c in host) or "," in host:
        raise ValueError(f"bad {noun}address {text!r} in {column}")
    if port == "":
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad {noun}port {port!r} in {column} {text!r}")
    return host, int(port)


def merged(out: queue.Queue[Outcome | None], producers: int) -> Iterator[Outcome]:
    """Outcomes from a queue fed by ``producers`` threads, each ending with None."""
    pending = producers
    while pending:
        item = out.get()
        if item is None:
            pending -= 1
        else:
            yield item


def vm_macs(node: str, count: int, have: str | None, oui: str,
            first_mask: int = 0xFF) -> tuple[list[str], bool]:
    """(MACs for ``count`` NICs, whether any were made up) from ``mac.mac``.

    ``mac.mac`` holds ``|``-separated addresses, each possibly followed by
    ``!name``; missing ones are derived from the node name under ``oui``
    (e.g. ``52:54:00``), the fourth octet masked with ``first_mask`` so a
    vendor's reserved range (VMware's manual 00:50:56:00-3f) is kept.
    """
    macs = [m.split("!")[0].strip().lower() for m in (have or "").split("|") if m.strip()]
    made = False
    i = 0
    while len(macs) < count:
        h = hashlib.sha256(f"{node}/{i}".encode()).digest()
        mac = f"{oui}:{h[0] & first_mask:02x}:{h[1]:02x}:{h[2]:02x}"
        i += 1
        if mac not in macs:
            macs.append(mac)
            made = True
    return macs, made


_SCALE = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B)?")


def parse_size(text: str, default_unit: str = "M") -> int:
    """``"512"`` (in ``default_unit``), ``"512M"``, ``"2G"``, ``"2GiB"``, ``"1.5g"`` → bytes."""
    m = _SIZE.fullmatch(text.strip().upper())
    if not m:
        raise ValueError(f"bad size {text!r}: expected a number with K, M, G or T")
    unit = m.group(2) or ("B" if m.group(3) else default_unit)
    value = int(float(m.group(1)) * _SCALE[unit])
    if value <= 0:
        raise ValueError(f"bad size {text!r}: must be more than 0")
    return value
