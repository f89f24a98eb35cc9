"""mkvm, rmvm, lsvm, chvm, rmigrate: virtual machine lifecycle handlers.

Each parses its options into an :class:`~xcatpy.backends.base.Action` of
kind ``vm``, expands the noderange and hands the nodes to
:mod:`xcatpy.backends.dispatch`, which picks the backend from ``nodehm.mgt``
(``lsvm`` looks at ``hypervisor.type`` first, so a hypervisor node managed by
IPMI can still list its guests).  Results stream as ``node: value`` or
``node: Label: value`` lines.  The table changes a backend asks for on
success (``kvm_nodedata.xml``, ``mac.mac``, ``vm.host``) are written in one
transaction at the end; nodes that failed leave the tables as they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from xcatpy.backends import base
from xcatpy.backends.base import Action
from xcatpy.commands._util import has, parse_opts, reading, request_nodes, value, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError
from xcatpy.protocol import Request, Response, data, error

USAGE = {
    "mkvm": "Usage: mkvm <noderange> [-s size[,size...]] [--mem size] [--cpus n] [-f]\n"
            "       mkvm [-h|--help|-v|--version]",
    "rmvm": "Usage: rmvm <noderange> [-p] [-f]\n       rmvm [-h|--help|-v|--version]",
    "lsvm": "Usage: lsvm <noderange>\n       lsvm [-h|--help|-v|--version]",
    "chvm": "Usage: chvm <noderange> [--cpus n] [--mem size] [-a size[,size...]] [-d disk]"
            " [-p disk] [--resize disk=size]\n       chvm [-h|--help|-v|--version]",
    "rmigrate": "Usage: rmigrate <noderange> <target_host>\n"
                "       rmigrate [-h|--help|-v|--version]",
}

# command -> (short options, long options)
OPTIONS: dict[str, tuple[str, list[str]]] = {
    "mkvm": ("s:f", ["mem=", "cpus="]),
    "rmvm": ("pf", []),
    "lsvm": ("", []),
    "chvm": ("a:d:p:", ["cpus=", "mem=", "resize="]),
    "rmigrate": ("", []),
}


def _usage(command: str, problem: str) -> UsageError:
    return UsageError(f"{command}: {problem}\n{USAGE[command]}")


def _size(command: str, text: str, unit: str) -> int:
    from xcatpy.backends.base import parse_size

    try:
        return parse_size(text, unit)
    except ValueError as exc:
        raise _usage(command, str(exc)) from None


def _cpus(command: str, opts: dict[str, list[str]]) -> str | None:
    text = value(opts, "--cpus")
    if text is not None and (not text.isdigit() or int(text) < 1):
        raise _usage(command, f"--cpus {text!r} is not a whole number of at least 1")
    return text


def _items(opts: dict[str, list[str]], name: str) -> list[str]:
    return [w.strip() for v in opts.get(name, []) for w in v.split(",") if w.strip()]


def _options(command: str, opts: dict[str, list[str]], rest: list[str]) -> dict[str, Any]:
    if command == "rmigrate":
        if len(rest) != 1:
            raise _usage(command, "give exactly one target host after the noderange")
        return {"target": rest[0]}
    if rest:
        raise _usage(command, f"unexpected argument {' '.join(rest)!r}")
    if command == "mkvm":
        mem = value(opts, "--mem")
        return {
            "sizes": [_size(command, s, "G") for s in _items(opts, "-s")],
            "memory": _size(command, mem, "M") if mem else None,
            "cpus": _cpus(command, opts),
            "force": has(opts, "-f"),
        }
    if command == "rmvm":
        return {"purge": has(opts, "-p"), "force": has(opts, "-f")}
    if command == "chvm":
        mem = value(opts, "--mem")
        resize: dict[str, int] = {}
        for item in _items(opts, "--resize"):
            dev, sep, size = item.partition("=")
            if not sep or not dev:
                raise _usage(command, f"--resize {item!r}: expected disk=size, e.g. vdb=20G")
            resize[dev] = _size(command, size, "G")
        out = {
            "cpus": _cpus(command, opts),
            "memory": _size(command, mem, "M") if mem else None,
            "add": [_size(command, s, "G") for s in _items(opts, "-a")],
            "detach": _items(opts, "-d"),
            "purge": _items(opts, "-p"),
            "resize": resize,
        }
        if not any(out.values()):
            raise _usage(command, "nothing to change: give --cpus, --mem, -a, -d, -p or --resize")
        return out
    return {}


def run(req: Request, ctx: Context) -> Iterator[Response]:
    """The one handler behind the five commands (``req.command`` says which)."""
    from xcatpy.backends import dispatch

    command = req.command
    shortopts, longopts = OPTIONS[command]
    opts, rest = parse_opts(req.args, shortopts, longopts, USAGE[command])
    options = _options(command, opts, rest)
    if not req.noderange and req.nodes is None:
        raise _usage(command, "a noderange is required")
    with reading(ctx) as (_conn, view):
        nodes = request_nodes(req, view)
        if command == "rmigrate":
            got = view.attributes([options["target"]], {"hypervisor": ["mgr"]})
            options["target_mgr"] = got.get(options["target"], "hypervisor", "mgr")
    route_by = [("hypervisor", "type"), ("nodehm", "mgt")] if command == "lsvm" else None
    action = Action(base.VM, command, options)
    outcomes, _site = dispatch.run(ctx, nodes, action, command, route_by=route_by)
    updates: list[tuple[str, dict[str, dict[str, str | None] | None]]] = []
    for outcome in outcomes:
        if outcome.error:
            yield error(outcome.error, node=outcome.node)
            continue
        if outcome.updates:
            updates.append((outcome.node, outcome.updates))
        for label, text in outcome.lines:
            yield data(text, node=outcome.node, desc=label)
    if updates:
        _write(ctx, updates)


def _write(ctx: Context, updates: Sequence[tuple[str, dict[str, dict[str, str | None] | None]]]
           ) -> None:
    from xcatpy.store import rows

    upserts: dict[str, list[tuple[dict[str, str], dict[str, str | None]]]] = {}
    deletes: dict[str, list[str]] = {}
    for node, changes in updates:
        for table, cols in changes.items():
            if cols is None:
                deletes.setdefault(table, []).append(node)
            else:
                upserts.setdefault(table, []).append(({"node": node}, cols))
    with writing(ctx) as (conn, _view):
        for table, names in deletes.items():
            rows.delete_keys(conn, ctx.store, table, "node", names)
        for table, changes in upserts.items():
            rows.upsert(conn, ctx.store, table, changes)


mkvm = rmvm = lsvm = chvm = rmigrate = run
