"""The IPMI backend: BMCs over RMCP+ (IPMI 2.0 LAN), one I/O thread per process.

Targets come from ``ipmi.bmc`` (``host``, ``host:port`` or ``[v6addr]:port``)
and credentials from ``ipmi.username``/``ipmi.password``, else the ``passwd``
row with ``key=ipmi``; a node with neither gets a clear error — there is no
built-in password.

Power, boot device and beacon run as coroutines on :mod:`xcatpy.ipmi`'s
engine: every BMC is talked to at once (up to ``site.ipmimaxp`` workers of
32 conversations each), each with its own deadline, and a result is handed
back as soon as its BMC answers.
Inventory, sensors and the event log use pyghmi's decoders (FRU, SDR, SEL)
through :mod:`xcatpy.ipmi.bridge`, on a bounded pool of worker threads whose
raw commands all go through that same engine; BMCs are logged in on the
engine first, so dead ones fail in parallel instead of holding a worker.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from xcatpy.backends.base import (
    Action,
    Beacon,
    BootDevice,
    Capability,
    EventLog,
    Facts,
    Inventory,
    Limits,
    Outcome,
    Power,
    Sensors,
    error_text,
    limits_from_site,
    split_host_port,
)

DEFAULT_PORT = 623
# site.ipmimaxp keeps xCAT's meaning: the number of parallel workers, each of
# which keeps a share of the BMCs in conversation at once.  On the engine a
# worker is PER_WORKER concurrent conversations (64 workers: 2,048, enough
# that dead BMCs, each holding a slot for its whole deadline, never queue
# behind each other); for pyghmi-driven work (inventory, sensors, event log)
# it is one thread, at most MAX_WORKERS of them.
PER_WORKER = 32
MAX_WORKERS = 64

NO_BMC = "no BMC address: set ipmi.bmc"
NO_CREDENTIALS = (
    "no IPMI credentials: set ipmi.username and ipmi.password, "
    "or the passwd table row with key=ipmi"
)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    username: str
    password: str = field(repr=False)


def parse_bmc(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    text = text.strip()
    if not text:
        raise ValueError(NO_BMC)
    return split_host_port(text, "ipmi.bmc", DEFAULT_PORT, noun="BMC ")


class _Ipmi(Capability):
    method = "ipmi"
    columns = {"ipmi": ("bmc", "username", "password")}
    passwd_keys = ("ipmi",)

    def limits(self, site: Mapping[str, str]) -> Limits:
        return limits_from_site(site, "ipmi")

    def prepare(self, nodes: Sequence[str], facts: Facts) -> tuple[dict[str, Any], dict[str, str]]:
        default = facts.passwd.get("ipmi") or {}
        targets: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for node in nodes:
            bmc = facts.get(node, "ipmi", "bmc")
            if bmc is None:
                errors[node] = NO_BMC
                continue
            try:
                host, port = parse_bmc(bmc)
            except ValueError as exc:
                errors[node] = str(exc)
                continue
            user = facts.get(node, "ipmi", "username")
            password = facts.get(node, "ipmi", "password")
            if user is None:
                user = default.get("username") or ""
            if password is None:
                password = default.get("password")
            if not password:
                errors[node] = NO_CREDENTIALS
                continue
            targets[node] = Target(host, port, user, password)
        return targets, errors

    # -- running ----------------------------------------------------------
    @staticmethod
    def _engine() -> Any:
        from xcatpy.ipmi.engine import Engine

        return Engine.instance()

    @staticmethod
    def _bmc(target: Target) -> Any:
        from xcatpy.ipmi.engine import Bmc

        return Bmc(target.host, target.port, target.username, target.password)

    def _on_engine(
        self,
        targets: Mapping[str, Target],
        limits: Limits,
        work: Callable[[str, Any], Awaitable[Outcome]],
    ) -> Iterator[Outcome]:
        """Run ``work(node, session)`` for every target on the engine, as they finish."""
        engine = self._engine()

        def job(node: str, target: Target) -> Callable[[], Awaitable[Outcome]]:
            async def go() -> Outcome:
                session = await engine.session(
                    self._bmc(target), timeout=limits.timeout, retries=limits.retries
                )
                return await work(node, session)

            return go

        jobs = {node: job(node, t) for node, t in targets.items()}
        # A node's work is a login plus one or two commands, each bounded by
        # the retry budget; the job bound only catches what slips past those.
        bound = limits.deadline * 3
        conversations = limits.maxp * PER_WORKER
        for node, result in engine.map(jobs, concurrency=conversations, job_timeout=bound):
            yield _outcome(node, result)

    def _on_workers(
        self,
        targets: Mapping[str, Target],
        limits: Limits,
        work: Callable[[str, Any], Outcome],
    ) -> Iterator[Outcome]:
        """Log every BMC in on the engine, then run ``work(node, command)`` on a pool.

        ``command`` is a pyghmi ``Command`` whose raw commands go through the engine.
        """
        from xcatpy.ipmi.bridge import command_for, command_lock

        engine = self._engine()

        async def noop(node: str, session: Any) -> Outcome:
            return Outcome(node)

        live: dict[str, Target] = {}
        for outcome in self._on_engine(targets, limits, noop):
            if outcome.error:
                yield outcome
            else:
                live[outcome.node] = targets[outcome.node]
        if not live:
            return

        def call(node: str, target: Target) -> Outcome:
            cmd = command_for(engine, self._bmc(target), timeout=limits.timeout,
                              retries=limits.retries)
            # Two nodes may share a BMC, and other requests may be using it.
            with command_lock(cmd):
                return work(node, cmd)

        workers = max(1, min(MAX_WORKERS, limits.maxp, len(live)))
        with ThreadPoolExecutor(workers, thread_name_prefix="ipmi") as pool:
            futures = {pool.submit(call, n, t): n for n, t in live.items()}
            for fut in as_completed(futures):
                node = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # pyghmi raises its own and ours
                    yield Outcome.failed(node, error_text(exc))


def _outcome(node: str, result: Any) -> Outcome:
    if isinstance(result, Outcome):
        return result
    if isinstance(result, BaseException):
        return Outcome.failed(node, error_text(result))
    return Outcome.failed(node, f"unexpected result {result!r}")


# -- power ------------------------------------------------------------------
class IpmiPower(_Ipmi, Power):
    SUPPORTED = ("on", "off", "softoff", "reset", "boot", "cycle", "stat", "nmi")

    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        from xcatpy.ipmi import ops

        # Actions outside SUPPORTED never get here: the dispatcher refuses them.
        act = action.name

        async def work(node: str, session: Any) -> Outcome:
            state = await ops.get_power(session)
            if act == "stat":
                return Outcome.value(node, state, state)
            if act in ("on", "off") and state == act:
                return Outcome.value(node, act, act)
            if act == "softoff" and state == "off":
                return Outcome.value(node, "off", "off")
            if act == "boot":
                step = "on" if state == "off" else "reset"
                await ops.set_power(session, step)
                return Outcome.value(node, step, "on")
            if act == "cycle" and state == "off":
                await ops.set_power(session, "on")
                return Outcome.value(node, "on", "on")
            await ops.set_power(session, act)
            after = "off" if act in ("off", "softoff") else "on"
            return Outcome.value(node, act, after)

        yield from self._on_engine(targets, limits, work)


# -- boot device ------------------------------------------------------------
BOOT_LABELS = {
    "net": "Network",
    "hd": "Hard Drive",
    "cd": "CD/DVD",
    "setup": "BIOS Setup",
    "floppy": "Floppy",
    "def": "boot override inactive",
}


class IpmiBootDevice(_Ipmi, BootDevice):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        from xcatpy.ipmi import ops

        device = action.name
        uefi = bool(action.options.get("uefi"))
        persistent = bool(action.options.get("persistent"))

        async def work(node: str, session: Any) -> Outcome:
            if device != "stat":
                # Report what was set, as xCAT does: some BMCs (ipmi_sim) keep
                # the device but not the flags, so a read-back would mislead.
                await ops.set_bootdev(session, device, uefi=uefi, persistent=persistent)
                return Outcome.value(node, BOOT_LABELS[device], device)
            current = await ops.get_bootdev(session)
            return Outcome.value(node, BOOT_LABELS.get(current, current), current)

        yield from self._on_engine(targets, limits, work)


# -- beacon -----------------------------------------------------------------
class IpmiBeacon(_Ipmi, Beacon):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        from xcatpy.ipmi import ops

        act = action.name

        async def work(node: str, session: Any) -> Outcome:
            if act == "stat":
                state = await ops.get_identify(session)
                state = {"timed": "blink"}.get(state, state)
                return Outcome.value(node, state, state)
            if act == "on":
                await ops.identify(session, True)
            elif act == "off":
                await ops.identify(session, False)
            else:
                await ops.identify(session, None, interval=255)
            return Outcome.value(node, act, act)

        yield from self._on_engine(targets, limits, work)


# -- inventory --------------------------------------------------------------
INVENTORY_EXPANSION = {
    "vpd": ("model", "serial", "deviceid", "mprom"),
    "all": ("model", "serial", "asset", "deviceid", "mprom", "guid", "dimm", "mac"),
    "uuid": ("guid",),
    "firm": ("mprom",),
}


def inventory_items(items: Sequence[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        for one in INVENTORY_EXPANSION.get(item, (item,)):
            if one not in out:
                out.append(one)
    return out


def _first(info: Mapping[str, Any], *keys: str) -> str | None:
    for k in keys:
        v = info.get(k)
        if v not in (None, ""):
            return str(v).strip()
    return None


def read_inventory(cmd: Any, items: Sequence[str]) -> list[tuple[str | None, str]]:
    """``(label, value)`` lines for the wanted inventory ``items`` from a pyghmi Command."""
    lines: list[tuple[str | None, str]] = []
    wanted = inventory_items(items)
    system: dict[str, Any] = {}
    others: list[tuple[str, Any]] = []
    if any(i in wanted for i in ("model", "serial", "asset", "guid", "deviceid", "dimm")):
        inv = cmd.get_inventory()
        name, system = next(inv)
        system = dict(system or {})
        if "dimm" in wanted:
            others = [(n, d) for n, d in inv if d]
    missing = "not reported by the BMC"
    for item in wanted:
        if item == "model":
            lines.append(("System Description", _first(system, "Product name") or missing))
            lines.append(("System Model/MTM",
                          _first(system, "Model", "Board model", "Board product name") or missing))
        elif item == "serial":
            lines.append(("System Serial Number",
                          _first(system, "Serial Number", "Chassis serial number",
                                 "Board serial number") or missing))
        elif item == "asset":
            lines.append(("Asset Tag", _first(system, "Asset Number") or missing))
        elif item == "deviceid":
            lines.append(("Manufacturer ID", _first(system, "Manufacturer ID") or missing))
            lines.append(("Product ID", _first(system, "Product ID") or missing))
            lines.append(("Device ID", _first(system, "Device ID") or missing))
        elif item == "guid":
            lines.append(("GUID", _first(system, "UUID") or missing))
        elif item == "mprom":
            fw = None
            for fname, finfo in cmd.get_firmware():
                if "BMC" in fname and isinstance(finfo, Mapping):
                    fw = _first(finfo, "version")
                    break
            lines.append(("BMC Firmware", fw or missing))
        elif item == "dimm":
            dimms = [(n, d) for n, d in others if "dimm" in n.lower() or "memory" in n.lower()]
            if not dimms:
                lines.append(("DIMM", missing))
            for dname, dinfo in dimms:
                desc = " ".join(
                    str(dinfo[k]) for k in ("manufacturer", "model", "capacity_mb")
                    if isinstance(dinfo, Mapping) and dinfo.get(k) not in (None, "")
                )
                lines.append((dname, desc or "present"))
        elif item == "mac":
            mac = None
            try:
                mac = (cmd.get_net_configuration() or {}).get("mac_address")
            except Exception:  # BMCs without LAN configuration parameters
                mac = None
            lines.append(("BMC MAC", mac or missing))
    return lines


class IpmiInventory(_Ipmi, Inventory):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        items = list(action.options.get("items") or [action.name])

        def work(node: str, cmd: Any) -> Outcome:
            return Outcome(node, lines=read_inventory(cmd, items))

        yield from self._on_workers(targets, limits, work)


# -- sensors ----------------------------------------------------------------
_UNITS = {"\u00b0C": "C", "\u00b0F": "F", "degrees C": "C", "degrees F": "F"}
_KIND_TYPES = {
    "temp": ("Temperature",),
    "voltage": ("Voltage",),
    "fanspeed": ("Fan",),
}
_POWER_UNITS = ("W", "A", "Watts", "Amps")
_ENERGY_UNITS = ("J", "kJ", "Wh", "kWh")


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def sensor_lines(readings: Sequence[Any], kinds: Sequence[str]) -> list[tuple[str | None, str]]:
    """Pick and format sensor readings for ``kinds`` (temp, voltage, ... all)."""
    everything = "all" in kinds
    lines: list[tuple[str | None, str]] = []
    for r in readings:
        units = _UNITS.get(r.units, r.units) if getattr(r, "units", None) else ""
        take = everything
        for kind in kinds:
            if kind in _KIND_TYPES and r.type in _KIND_TYPES[kind]:
                take = True
            elif kind == "power" and units in _POWER_UNITS:
                take = True
            elif kind == "energy" and units in _ENERGY_UNITS:
                take = True
        if not take or (r.value is None and not everything and not r.states):
            continue
        if r.value is None:
            text = ", ".join(r.states) if r.states else "N/A"
        else:
            text = f"{_format_value(r.value)} {units}".rstrip()
        lines.append((r.name, text))
    return lines


class IpmiSensors(_Ipmi, Sensors):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        kinds = list(action.options.get("items") or [action.name])

        def work(node: str, cmd: Any) -> Outcome:
            lines: list[tuple[str | None, str]] = []
            if "power" in kinds or "all" in kinds:
                lines.append(("Power Status", cmd.get_power()["powerstate"]))
            lines.extend(sensor_lines(list(cmd.get_sensor_data()), kinds))
            if "leds" in kinds or "all" in kinds:
                lines.extend(_leds(cmd))
            if not lines:
                lines.append((None, "no matching sensors reported by the BMC"))
            return Outcome(node, lines=lines)

        yield from self._on_workers(targets, limits, work)


def _leds(cmd: Any) -> list[tuple[str | None, str]]:
    from pyghmi import exceptions as pexc

    out: list[tuple[str | None, str]] = []
    try:
        for name, state in cmd.get_leds():
            out.append((f"LED {name}", str(state)))
    except (pexc.UnsupportedFunctionality, NotImplementedError, AttributeError):
        pass
    status = cmd.xraw_command(netfn=0, command=1)["data"]
    if len(status) > 2 and status[2] & 0x40:
        ident = ("off", "blink", "on", "on")[(status[2] >> 4) & 3]
        out.append(("LED Identify", ident))
    return out


# -- event log --------------------------------------------------------------
def event_line(event: Mapping[str, Any]) -> str:
    when = event.get("timestamp")
    if when:
        try:
            stamp = datetime.datetime.fromisoformat(str(when)).strftime("%m/%d/%Y %H:%M:%S")
        except ValueError:
            stamp = str(when)
    else:
        stamp = "(no time)"
    parts = [stamp]
    severity = event.get("severity")
    if severity is not None:
        parts.append(_severity(severity))
    component = event.get("component") or event.get("component_type")
    if component:
        parts.append(str(component))
    text = event.get("event") or ""
    if event.get("event_data"):
        text = f"{text} ({event['event_data']})" if text else str(event["event_data"])
    parts.append(text or "event")
    return " ".join(p for p in parts if p)


def _severity(value: Any) -> str:
    from pyghmi import constants

    names = {constants.Health.Ok: "Info", constants.Health.Warning: "Warning",
             constants.Health.Critical: "Critical", constants.Health.Failed: "Failed"}
    return names.get(value, str(value))


class IpmiEventLog(_Ipmi, EventLog):
    def run(self, targets: Mapping[str, Any], action: Action, limits: Limits) -> Iterator[Outcome]:
        what = action.name
        newest_first = bool(action.options.get("newest_first"))

        def work(node: str, cmd: Any) -> Outcome:
            if what == "clear":
                list(cmd.get_event_log(clear=True))
                return Outcome.value(node, "SEL cleared")
            events = list(cmd.get_event_log())
            if what != "all":
                events = events[-int(what):] if int(what) > 0 else []
            if newest_first:
                events.reverse()
            if not events:
                return Outcome.value(node, "no event log entries")
            return Outcome(node, lines=[(None, event_line(e)) for e in events])

        yield from self._on_workers(targets, limits, work)


CAPABILITIES: dict[str, type[Capability]] = {
    c.kind: c
    for c in (IpmiPower, IpmiBootDevice, IpmiInventory, IpmiSensors, IpmiBeacon, IpmiEventLog)
}
