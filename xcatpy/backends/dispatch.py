"""Route a hardware action to the backend that manages each node.

Nodes are grouped by management method: ``nodehm.power`` then ``nodehm.mgt``
for power actions, ``nodehm.mgt`` for everything else (xCAT's
``nodehm:power,mgt`` and ``nodehm:mgt`` rules).  Everything a backend needs
from the tables — routing columns, its own columns, ``passwd`` rows and
``site`` limits — is read in bulk, one query per table, before any network
I/O; the database connection is closed before the hardware is touched.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from xcatpy.backends.base import (
    POWER,
    Action,
    Capability,
    Facts,
    Limits,
    Outcome,
    merged,
    unsupported,
)
from xcatpy.commands._util import reading
from xcatpy.commands.context import Context

# nodehm.mgt value -> module with a CAPABILITIES map {kind: Capability class}.
METHODS: dict[str, str] = {
    "ipmi": "xcatpy.backends.ipmi",
    "esx": "xcatpy.backends.vsphere",
    "kvm": "xcatpy.backends.libvirt",
}

NO_METHOD = "no management method: set nodehm.mgt (e.g. ipmi)"


def capability_for(method: str, kind: str) -> type[Capability] | None:
    """The class serving ``kind`` for ``method``, or None if the method lacks it."""
    module = METHODS.get(method)
    if module is None:
        return None
    caps: Mapping[str, type[Capability]] = importlib.import_module(module).CAPABILITIES
    return caps.get(kind)


def route(
    view: Any, nodes: Sequence[str], kind: str,
    route_by: Sequence[tuple[str, str]] | None = None,
) -> tuple[dict[str, list[str]], list[Outcome]]:
    """({method: nodes}, per-node errors) for ``kind``.

    ``route_by`` lists the (table, column) pairs consulted in order, the first
    value found naming the method; by default ``nodehm.power`` then
    ``nodehm.mgt`` for power and ``nodehm.mgt`` otherwise.
    """
    order = list(route_by) if route_by else (
        [("nodehm", "power"), ("nodehm", "mgt")] if kind == POWER else [("nodehm", "mgt")]
    )
    wanted: dict[str, list[str]] = {"nodehm": ["power", "mgt"]}
    for table, column in order:
        have = wanted.setdefault(table, [])
        if column not in have:
            have.append(column)
    res = view.attributes(nodes, wanted)
    groups: dict[str, list[str]] = {}
    errors: list[Outcome] = []
    for node in nodes:
        if node in res.errors:
            errors.append(Outcome.failed(node, "; ".join(res.errors[node])))
            continue
        method = next((m for t, c in order if (m := res.get(node, t, c))), None)
        if not method:
            errors.append(Outcome.failed(node, NO_METHOD))
            continue
        groups.setdefault(method.strip(), []).append(node)
    return groups, errors


class _Plan:
    def __init__(self) -> None:
        self.errors: list[Outcome] = []
        self.work: list[tuple[Capability, dict[str, Any], Limits]] = []
        self.site: dict[str, str] = {}


def _plan(ctx: Context, nodes: Sequence[str], action: Action, command: str,
          route_by: Sequence[tuple[str, str]] | None = None) -> _Plan:
    plan = _Plan()
    with reading(ctx) as (conn, view):
        groups, plan.errors = route(view, nodes, action.kind, route_by)
        plan.site = dict(view.site)
        chosen: list[tuple[Capability, list[str]]] = []
        for method, members in groups.items():
            if method not in METHODS:
                plan.errors.extend(
                    Outcome.failed(n, f"management method '{method}' (nodehm.mgt) is not supported")
                    for n in members
                )
                continue
            cls = capability_for(method, action.kind)
            if cls is None:
                plan.errors.extend(unsupported(n, method, command) for n in members)
                continue
            supported = getattr(cls, "SUPPORTED", None)
            if supported is not None and action.name not in supported:
                label = command if action.name == command else f"{command} {action.name}"
                plan.errors.extend(unsupported(n, method, label) for n in members)
                continue
            chosen.append((cls(), members))
        wanted: dict[str, list[str]] = {}
        keys: set[str] = set()
        for cap, _members in chosen:
            for table, cols in cap.columns.items():
                have = wanted.setdefault(table, [])
                have.extend(c for c in cols if c not in have)
            keys.update(cap.passwd_keys)
        everyone = [n for _cap, members in chosen for n in members]
        res = view.attributes(everyone, wanted) if wanted else None
        passwd = _passwd_rows(conn, ctx, keys) if keys else {}
        related = _related(view, chosen, res)
        facts = Facts(res.values if res else {}, passwd, plan.site, related)
        for cap, members in chosen:
            ok = [n for n in members if not (res and n in res.errors)]
            if res:
                plan.errors.extend(
                    Outcome.failed(n, "; ".join(res.errors[n])) for n in members if n in res.errors
                )
            targets, errs = cap.prepare(ok, facts)
            plan.errors.extend(Outcome.failed(n, msg) for n, msg in errs.items())
            if targets:
                plan.work.append((cap, targets, cap.limits(plan.site)))
    return plan


def _related(
    view: Any, chosen: Sequence[tuple[Capability, list[str]]], res: Any
) -> dict[str, dict[tuple[str, str], str]]:
    """The ``related`` columns of the nodes the chosen nodes name, one query per table."""
    if res is None:
        return {}
    names: set[str] = set()
    wanted: dict[str, list[str]] = {}
    for cap, members in chosen:
        for (table, column), extra in cap.related.items():
            names.update(v.strip() for n in members if (v := res.get(n, table, column)))
            for t, cols in extra.items():
                have = wanted.setdefault(t, [])
                have.extend(c for c in cols if c not in have)
    if not names or not wanted:
        return {}
    got = view.attributes(sorted(names), wanted, ordered=False)
    return {n: dict(v) for n, v in got.values.items()}


def _passwd_rows(conn: Any, ctx: Context, keys: set[str]) -> dict[str, dict[str, str | None]]:
    from xcatpy.store import rows
    from xcatpy.store.attrs import enabled

    out: dict[str, dict[str, str | None]] = {}
    for row in rows.read_rows(conn, ctx.store, "passwd"):
        key = row.get("key")
        if key in keys and key not in out and enabled(row):
            out[key] = row
    return out


def run(
    ctx: Context, nodes: Sequence[str], action: Action, command: str,
    *, route_by: Sequence[tuple[str, str]] | None = None,
) -> tuple[Iterator[Outcome], dict[str, str]]:
    """(outcomes in completion order, the site table) for ``action`` on ``nodes``.

    Table problems (no method, unsupported action, missing BMC address or
    credentials) come first, before any hardware is contacted.  ``route_by``
    overrides the columns naming each node's method (see :func:`route`).
    """
    plan = _plan(ctx, nodes, action, command, route_by)
    return _outcomes(plan, action), plan.site


def _outcomes(plan: _Plan, action: Action) -> Iterator[Outcome]:
    yield from plan.errors
    if len(plan.work) == 1:
        cap, targets, limits = plan.work[0]
        yield from cap.run(targets, action, limits)
        return
    if not plan.work:
        return
    # Several methods in one noderange: run them side by side, merge as they finish.
    out: queue.Queue[Outcome | None] = queue.Queue()

    def drive(cap: Capability, targets: dict[str, Any], limits: Limits) -> None:
        try:
            for outcome in cap.run(targets, action, limits):
                out.put(outcome)
        except Exception as exc:  # a backend bug must not hang the other methods
            for node in targets:
                out.put(Outcome.failed(node, f"internal error: {exc}"))
        finally:
            out.put(None)

    threads = [
        threading.Thread(target=drive, args=work, daemon=True, name=f"hw-{work[0].method}")
        for work in plan.work
    ]
    for t in threads:
        t.start()
    yield from merged(out, len(threads))
    for t in threads:
        t.join(timeout=1)
