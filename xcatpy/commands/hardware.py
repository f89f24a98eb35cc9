"""rpower, rinv, rvitals, rsetboot, rbeacon, reventlog: hardware control handlers.

Each parses its action, expands the noderange, hands the nodes to
:mod:`xcatpy.backends.dispatch` (which picks the backend per node from
``nodehm``) and streams one result per node as it arrives: ``node: value``
or ``node: Label: value`` lines, or with ``--json`` one JSON object per node
on a line of its own.  ``rpower`` records ``powering-on``/``powering-off`` in
``nodelist.status`` unless ``site.nodestatus`` says not to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence

from xcatpy.backends import base
from xcatpy.backends.base import Action, Outcome
from xcatpy.commands._util import has, parse_opts, reading, request_nodes, says_no, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, data, error

USAGE = {
    "rpower": "Usage: rpower <noderange> [on|off|softoff|reset|boot|cycle|stat|state|status|nmi|"
              "suspend|wake] [--json]\n       rpower [-h|--help|-v|--version]",
    "rinv": "Usage: rinv <noderange> [model|serial|asset|vpd|deviceid|guid|uuid|firm|mprom|"
            "dimm|mac|all ...] [--json]\n       rinv [-h|--help|-v|--version]",
    "rvitals": "Usage: rvitals <noderange> [temp|voltage|fanspeed|power|leds|energy|all ...]"
               " [--json]\n       rvitals [-h|--help|-v|--version]",
    "rsetboot": "Usage: rsetboot <noderange> [net|hd|cd|def|setup|stat] [-u] [-p] [--json]\n"
                "       rsetboot [-h|--help|-v|--version]",
    "rbeacon": "Usage: rbeacon <noderange> [on|off|blink|stat] [--json]\n"
               "       rbeacon [-h|--help|-v|--version]",
    "reventlog": "Usage: reventlog <noderange> [N|all|clear] [-s] [--json]\n"
                 "       reventlog [-h|--help|-v|--version]",
}

POWER_ALIASES = {"state": "stat", "status": "stat"}
BOOT_ALIASES = {"network": "net", "pxe": "net", "disk": "hd", "cdrom": "cd", "default": "def",
                "none": "def", "bios": "setup"}


def _usage(command: str, problem: str) -> UsageError:
    return UsageError(f"{problem}\n{USAGE[command]}")


def _one(command: str, rest: Sequence[str], choices: Sequence[str],
         aliases: dict[str, str] | None = None) -> str:
    if not rest:
        raise _usage(command, f"{command}: an action is required")
    if len(rest) > 1:
        raise _usage(command, f"{command}: only one action may be given, not {' '.join(rest)!r}")
    word = (aliases or {}).get(rest[0], rest[0])
    if word not in choices:
        raise _usage(command, f"{command}: unsupported action {rest[0]!r}")
    return word


def _many(command: str, rest: Sequence[str], choices: Sequence[str], default: str) -> list[str]:
    words = [w for arg in rest for w in arg.split(",") if w] or [default]
    for w in words:
        if w not in choices:
            raise _usage(command, f"{command}: unsupported item {w!r}")
    return words


def _power(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    act = _one("rpower", rest, base.Power.ACTIONS, POWER_ALIASES)
    return Action(base.POWER, act)


def _inventory(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    items = _many("rinv", rest, base.Inventory.ITEMS, "all")
    return Action(base.INVENTORY, items[0], {"items": items})


def _vitals(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    items = _many("rvitals", rest, base.Sensors.ITEMS, "all")
    return Action(base.SENSORS, items[0], {"items": items})


def _bootdev(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    dev = _one("rsetboot", rest, (*base.BootDevice.DEVICES, "stat"), BOOT_ALIASES)
    return Action(base.BOOTDEV, dev, {"uefi": has(opts, "-u"), "persistent": has(opts, "-p")})


def _beacon(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    return Action(base.BEACON, _one("rbeacon", rest, base.Beacon.ACTIONS))


def _eventlog(rest: Sequence[str], opts: dict[str, list[str]]) -> Action:
    if not rest:
        raise _usage("reventlog", "reventlog: give a number of entries, all or clear")
    if len(rest) > 1:
        raise _usage("reventlog", f"reventlog: only one of N, all or clear, not {' '.join(rest)!r}")
    what = rest[0]
    if what not in ("all", "clear") and not (what.isdigit() and int(what) > 0):
        raise _usage("reventlog", f"reventlog: {what!r} is not a positive number, all or clear")
    if what == "clear" and has(opts, "-s"):
        raise _usage("reventlog", "reventlog: -s sorts entries; it cannot be used with clear")
    return Action(base.EVENTLOG, what, {"newest_first": has(opts, "-s")})


# command -> (short options, parser of the action)
COMMANDS: dict[str, tuple[str, Callable[[Sequence[str], dict[str, list[str]]], Action]]] = {
    "rpower": ("", _power),
    "rinv": ("", _inventory),
    "rvitals": ("", _vitals),
    "rsetboot": ("up", _bootdev),
    "rbeacon": ("", _beacon),
    "reventlog": ("s", _eventlog),
}

POWERING = {"on": "powering-on", "boot": "powering-on", "reset": "powering-on",
            "cycle": "powering-on", "off": "powering-off", "softoff": "powering-off"}


def _json_line(command: str, action: Action, outcome: Outcome) -> str:
    obj: dict[str, object] = {"node": outcome.node}
    if outcome.error:
        obj["error"] = outcome.error
    elif all(label is None for label, _ in outcome.lines):
        values = [v for _, v in outcome.lines]
        obj[action.kind] = values[0] if len(values) == 1 else values
        if outcome.state is not None:
            obj["state"] = outcome.state
    else:
        obj[action.kind] = {label: value for label, value in outcome.lines if label is not None}
    return json.dumps(obj, sort_keys=False)


def run(req: Request, ctx: Context) -> Iterator[Response]:
    """The one handler behind all six commands (``req.command`` says which)."""
    from xcatpy.backends import dispatch

    command = req.command
    shortopts, parse = COMMANDS[command]
    opts, rest = parse_opts(req.args, shortopts, ["json"], USAGE[command])
    action = parse(rest, opts)
    as_json = has(opts, "--json")
    if not req.noderange and req.nodes is None:
        raise _usage(command, f"{command}: a noderange is required")
    with reading(ctx) as (_conn, view):
        nodes = request_nodes(req, view)
    outcomes, site = dispatch.run(ctx, nodes, action, command)
    statuses: dict[str, str] = {}
    failed = 0
    for outcome in outcomes:
        if outcome.error:
            failed += 1
        elif command == "rpower" and action.name in POWERING:
            statuses[outcome.node] = POWERING[action.name]
        if as_json:
            yield data(_json_line(command, action, outcome))
        elif outcome.error:
            yield error(outcome.error, node=outcome.node)
        else:
            for label, value in outcome.lines:
                yield data(value, node=outcome.node, desc=label)
    if statuses and not says_no(site.get("nodestatus")):
        _record_status(ctx, statuses)
    if as_json and failed:
        yield error(f"{command}: {failed} of {len(nodes)} nodes failed")


def _record_status(ctx: Context, statuses: dict[str, str]) -> None:
    from xcatpy.store import rows

    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    with writing(ctx) as (conn, _view):
        rows.upsert(
            conn, ctx.store, "nodelist",
            [({"node": n}, {"status": s, "statustime": stamp}) for n, s in statuses.items()],
        )


rpower = rinv = rvitals = rsetboot = rbeacon = reventlog = run
