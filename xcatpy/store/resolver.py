"""The store side of noderange: groups, node names and attribute selectors.

:class:`StoreResolver` implements ``xcatpy.noderange.Resolver`` over a
:class:`~xcatpy.store.attrs.NodeView`, so a whole noderange — dynamic groups
and selectors included — costs one query per table it touches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping

from xcatpy import noderange
from xcatpy.errors import NoderangeError, UnknownNodesError
from xcatpy.store.attrs import NodeView, split_list
from xcatpy.store.schema import TABLES

SHORTNAMES: Mapping[str, tuple[str, str]] = {
    "groups": ("nodelist", "groups"),
    "tags": ("nodelist", "groups"),
    "mgt": ("nodehm", "mgt"),
}


def attr_column(attr: str) -> tuple[str, str]:
    """``table.column``, a shortname, or a node object attribute → (table, column)."""
    if attr in SHORTNAMES:
        return SHORTNAMES[attr]
    if "." in attr:
        table, _, column = attr.partition(".")
        spec = TABLES.get(table)
        if spec is None or column not in spec.columns:
            raise NoderangeError(f"Unknown attribute {attr} in selector", attr)
        return table, column
    from xcatpy.store.defspec import get_type

    specs = get_type("node").attr_specs(attr)
    if not specs:
        raise NoderangeError(f"Unknown attribute {attr} in selector", attr)
    return specs[0].table, specs[0].column


def matches(value: str | None, op: str, pattern: str) -> bool:
    v = value or ""
    if op in ("==", "="):
        return v == pattern
    if op == "!=":
        return v != pattern
    rx = pattern
    if len(rx) >= 2 and rx.startswith("/") and rx.endswith("/"):
        rx = rx[1:-1]
    try:
        found = re.search(rx, v) is not None
    except re.error as exc:
        raise NoderangeError(f"Invalid regular expression {pattern}: {exc}", pattern) from None
    return found if op == "=~" else not found


class StoreResolver:
    """noderange.Resolver backed by the tables."""

    def __init__(self, view: NodeView) -> None:
        self.view = view
        self._static: dict[str, set[str]] | None = None
        self._nodegroup: dict[str, dict[str, str | None]] | None = None
        self._dynamic_busy: set[str] = set()

    def all_nodes(self) -> Collection[str]:
        return self.view.index.names

    @property
    def nodegroups(self) -> dict[str, dict[str, str | None]]:
        if self._nodegroup is None:
            rows = self.view.rows_for(
                "nodegroup", ["grouptype", "members", "membergroups", "wherevals"], None
            )
            self._nodegroup = {name: rl[0] for name, rl in rows.items()}
        return self._nodegroup

    def group_members(self, name: str) -> Collection[str] | None:
        if self._static is None:
            self._static = self.view.static_groups()
        row = self.nodegroups.get(name)
        if row is not None and (row.get("grouptype") or "static") == "dynamic":
            return self._dynamic(name, row.get("wherevals") or "")
        members = self._static.get(name)
        if row is not None:
            extra = set(split_list(row.get("members")))
            return (members or set()) | (extra & set(self.all_nodes()))
        return members

    def _dynamic(self, name: str, wherevals: str) -> set[str]:
        if name in self._dynamic_busy:
            raise NoderangeError(f"dynamic group {name} refers to itself", name)
        self._dynamic_busy.add(name)
        try:
            result = set(self.all_nodes())
            for cond in wherevals.split("::"):
                cond = cond.strip()
                if not cond:
                    continue
                sel = noderange.parse_selector(cond)
                if sel is None:
                    raise NoderangeError(
                        f"dynamic group {name}: bad condition {cond!r} in wherevals", cond
                    )
                result &= set(self.select(*sel))
            return result
        finally:
            self._dynamic_busy.discard(name)

    def select(self, attr: str, op: str, value: str) -> Collection[str]:
        table, column = attr_column(attr)
        nodes = list(self.all_nodes())
        res = self.view.attributes(nodes, {table: [column]})
        return {n for n in nodes if matches(res.get(n, table, column), op, value)}

    def exclude_nodes(self) -> str:
        return self.view.site.get("excludenodes") or ""


def expand(
    text: str | None,
    view: NodeView,
    *,
    cwd: str | None = None,
    environment: Mapping[str, str] | None = None,
    allow_missing: bool = False,
    verify: bool = True,
) -> list[str]:
    """Expand a noderange against the tables; unknown names raise UnknownNodesError.

    With ``verify=False`` a name that is neither a node nor a group is kept as
    a node name (xCAT's ``noderange($nr, 0)``), for commands that create nodes.
    """
    if text is None or text == "":
        return []
    env = environment if environment is not None else os.environ
    exp = noderange.expand(
        text,
        StoreResolver(view),
        verify=verify,
        node_prefix=env.get("XCAT_NODE_PREFIX", "node"),
        node_suffix=env.get("XCAT_NODE_SUFFIX", ""),
        cwd=cwd,
    )
    if exp.missing and not allow_missing:
        raise UnknownNodesError(exp.missing)
    return exp.nodes
