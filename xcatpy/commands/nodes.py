"""nodels, nodeadd, noderm, nodech, nodegrpch: the node commands of xCAT's tabutils.

Behaviour follows xCAT's ``tabutils.pm`` (the facts are listed in the docs of
each handler), with these deliberate differences:

* every command writes in one transaction: a bad argument anywhere (unknown
  table or column, malformed assignment, a table name with ``.`` or ``=`` in
  delete mode) is reported and nothing is changed, where xCAT reported it,
  skipped it and applied the rest;
* nodes are listed in natural order (``n2`` before ``n10``), as every
  noderange here is; xCAT sorts lexically;
* nodels also accepts a single ``=`` in a selector (``nodehm.mgt=ipmi``), which
  xCAT rejects as an unknown column;
* ``,=`` and ``^=`` compare list items literally (xCAT matched them as
  regular expressions);
* reads cost one query per table and writes a few batched statements per
  table, never a statement per node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xcatpy import __version__
from xcatpy.commands._util import has, new_nodes, parse_opts, reading, request_nodes, writing
from xcatpy.commands.context import Context
from xcatpy.errors import UsageError, XcatError
from xcatpy.protocol import Request, Response, data, error, warning

SHORTNAMES: Mapping[str, tuple[str, str]] = {
    "groups": ("nodelist", "groups"),
    "tags": ("nodelist", "groups"),
    "mgt": ("nodehm", "mgt"),
}
"""xCAT's aliases for common attributes (tabutils ``%shortnames``)."""

BLANK = "|^.*$||"
"""What ``table.column=`` stores: a regex row that evaluates to nothing, so the
node's own (empty) value beats anything its groups define."""

NODELS_USAGE = (
    "Usage:",
    "  nodels [noderange] [-b|--blame] [-H|--with-fieldname] [table.attribute | shortname] [-S][...]",
    "  nodels {-v|--version}",
    "  nodels [-?|-h|--help]",
)
NODERM_USAGE = ("Usage:", "  noderm noderange", "  noderm {-v|--version}", "  noderm [-?|-h|--help]")
NODEADD_USAGE = (
    "Usage: nodeadd <noderange> groups=<groupnames> [table.column=value] [...]",
    "       nodeadd {-v | --version}",
    "       nodeadd [-? | -h | --help]",
)
NODECH_USAGE = (
    "Usage: nodech <noderange> table.column=value [...]",
    "       nodech {-d | --delete} <noderange> <table> [...]",
    "       nodech {-v | --version}",
    "       nodech [-? | -h | --help]",
)
NODEGRPCH_USAGE = (
    "Usage: nodegrpch <group1,group2,...> [table.column=value] [...]",
    "       nodegrpch {-v | --version}",
    "       nodegrpch [-? | -h | --help]",
)

_DYNAMIC_MESSAGE = (
    "nodegroup {group} is a dynamic node group, should not add a node into a dynamic "
    "node group statically.\n"
)


# --------------------------------------------------------------------------- #
# shared pieces


def _help_or_version(opts: dict[str, list[str]], usage: Sequence[str]) -> list[Response]:
    """The whole reply to ``-h``/``-?``/``--help`` or ``-v``/``--version``; [] for neither."""
    if has(opts, "-h", "-?", "--help"):
        return [data(line) for line in usage]
    if has(opts, "-v", "--version"):
        return [data(f"Version {__version__}")]
    return []


def _leading_noderange(req: Request, rest: list[str], usage: Sequence[str]
                       ) -> tuple[str, list[str]]:
    """The noderange and the other arguments, for a client that may send the
    noderange apart or as the first argument."""
    if req.noderange:
        return req.noderange, rest
    if not rest:
        raise _usage_error(usage)
    return rest[0], rest[1:]


def _usage_error(lines: Sequence[str], reason: str = "") -> UsageError:
    text = "\n".join(lines)
    return UsageError(f"{reason}\n{text}" if reason else text)


def _spec(table: str) -> Any:
    from xcatpy.store.schema import TABLES

    return TABLES.get(table)


def _nodecol(spec: Any) -> str:
    """The column holding node (or group) names in a node-keyed table."""
    return str(spec.keys[0])


def _attr_of(text: str) -> tuple[str, str]:
    """``table.column`` or a shortname → (table, column); the column may be ''."""
    if text in SHORTNAMES:
        return SHORTNAMES[text]
    table, _, column = text.partition(".")
    return table, column


def _check_attr(text: str, *, node_keyed: bool = True) -> tuple[str, str]:
    """Resolve and validate an attribute name; XcatError naming it otherwise."""
    table, column = _attr_of(text)
    spec = _spec(table)
    if spec is None or column not in spec.columns:
        raise XcatError(f"{table}.{column} not a valid table.column description")
    if node_keyed and not spec.node_keyed:
        raise XcatError(f"{table}.{column}: table {table} is not keyed by node")
    return table, column


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise XcatError(f"Invalid regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True)
class Criterion:
    """A ``table.column<op>value`` filter; ``kind`` is match/natch/regex/negex."""

    kind: str
    value: str

    def accepts(self, current: str | None) -> bool:
        v = current or ""
        if self.kind == "match":
            return v == self.value
        if self.kind == "natch":
            return v != self.value
        found = _regex(self.value).search(v) is not None
        return found if self.kind == "regex" else not found


def _strip_slashes(value: str) -> str:
    """xCAT drops one leading and one trailing ``/`` from regex criteria."""
    if value.startswith("/"):
        value = value[1:]
    if value.endswith("/"):
        value = value[:-1]
    return value


def _criterion(kind: str, value: str) -> Criterion:
    if kind in ("regex", "negex"):
        value = _strip_slashes(value)
        _regex(value)
    return Criterion(kind, value)


# --------------------------------------------------------------------------- #
# nodels


@dataclass
class _Wanted:
    """What nodels was asked for in one table column."""

    label: str
    criterion: Criterion | None = None
    force: bool = False
    """Also print the column although it carries a criterion."""


_NODELS_SELECTORS = (
    # (pattern deciding that the argument is a selector, separator, kind)
    (re.compile(r"^[^=]*!="), "!=", "natch"),
    (re.compile(r"^[^=]*=~"), "=~", "regex"),
    (re.compile(r"=="), "==", "match"),
    (re.compile(r"!~"), "!~", "negex"),
)


def _nodels_split(arg: str) -> tuple[str, Criterion | None]:
    for pattern, sep, kind in _NODELS_SELECTORS:
        if pattern.search(arg):
            name, _, value = arg.partition(sep)
            return name, _criterion(kind, value)
    name, eq, value = arg.partition("=")
    if eq and (name in SHORTNAMES or "." in name):
        return name, _criterion("match", value)
    return arg, None


def _nodels_plan(
    args: Sequence[str], terse: int
) -> tuple[dict[str, dict[str, _Wanted]], int, list[Response]]:
    """Parse attribute arguments: table → column → what to do; the label counter; errors."""
    plan: dict[str, dict[str, _Wanted]] = {}
    errors: list[Response] = []
    conflict: Response | None = None
    for arg in args:
        name, crit = _nodels_split(arg)
        if name in SHORTNAMES or "." in name:
            terse -= 1
            table, column = _attr_of(name)
        elif _spec(name) is not None:
            terse = 0
            spec = _spec(name)
            if not spec.node_keyed:
                errors.append(error(f"table {name} is not keyed by node"))
                continue
            cols = plan.setdefault(name, {})
            for column in spec.columns:
                _want(cols, column, f"{name}.{column}", None)
            continue
        else:
            errors.append(error(f"{name} not a valid table.column description"))
            continue
        spec = _spec(table)
        if spec is None or column not in spec.columns:
            errors.append(error(f"{table}.{column} not a valid table.column description"))
            continue
        if not spec.node_keyed:
            errors.append(error(f"{table}.{column}: table {table} is not keyed by node"))
            continue
        try:
            _want(plan.setdefault(table, {}), column, name, crit)
        except XcatError as exc:
            conflict = conflict or error(exc.message)
    if conflict is not None:
        # xCAT finds this only when it reads the tables, and then prints nothing else
        return {}, terse, [*errors, conflict]
    return plan, terse, errors


def _want(cols: dict[str, _Wanted], column: str, label: str, crit: Criterion | None) -> None:
    """Record one request for ``column``; the last label given wins, as in xCAT.

    A criterion applies once; a plain request *after* a criterion also prints
    the value (xCAT's ``switch.switch=~sw switch.switch``).  Two criteria on
    one column are an error.
    """
    have = cols.get(column)
    if have is None:
        cols[column] = _Wanted(label, crit)
        return
    have.label = label
    if have.criterion is None:
        have.criterion = crit
    elif crit is None:
        have.force = True
    else:
        raise XcatError(f"Multiple selection critera for {label}")


def nodels(req: Request, ctx: Context) -> Iterator[Response]:
    """List nodes, optionally with attributes.

    Without a noderange: every node name.  Hidden nodes (``nodelist.hidden``
    = 1) are left out unless ``-S``.  With attributes: one ``node: value``
    line per attribute (``node: label: value`` when two or more attributes, a
    whole table, or ``-H`` were asked for); undefined values print empty.
    Selectors filter nodes and print nothing for themselves, so a node that
    passes only selectors is listed by name.
    """
    opts, rest = parse_opts(
        req.args, "h?HbvS", ["help", "with-fieldname", "blame", "version"],
        usage="\n".join(NODELS_USAGE),
    )
    if reply := _help_or_version(opts, NODELS_USAGE):
        yield from reply
        return
    blame = has(opts, "-b", "--blame")
    show_hidden = has(opts, "-S")
    terse = 0 if has(opts, "-H", "--with-fieldname") else 2

    with reading(ctx) as (_conn, view):
        if not req.noderange:
            from xcatpy.noderange import natural_key

            names = sorted(view.node_names(), key=natural_key)
            for node in _visible(view, names, show_hidden):
                yield data(node)
            return
        nodes = _visible(view, request_nodes(req, view), show_hidden)
        if not rest:
            for node in nodes:
                yield data(node)
            return
        plan, terse, errors = _nodels_plan(rest, terse)
        yield from errors
        if not plan:
            return
        yield from _nodels_values(view, nodes, plan, terse, blame)


def _visible(view: Any, nodes: Iterable[str], show_hidden: bool) -> list[str]:
    if show_hidden:
        return list(nodes)
    hidden = view.hidden_nodes()
    return [n for n in nodes if n not in hidden]


def _nodels_values(
    view: Any,
    nodes: list[str],
    plan: dict[str, dict[str, _Wanted]],
    terse: int,
    blame: bool,
) -> Iterator[Response]:
    result = view.attributes(nodes, {t: list(cols) for t, cols in plan.items()})
    # (is the node column, what was asked, node -> value, node -> group, label)
    specs = []
    for table, cols in plan.items():
        nodecol = _nodecol(_spec(table))
        for column, want in cols.items():
            attr = (table, column)
            specs.append((
                column == nodecol, want, result.columns.get(attr, {}),
                result.column_sources.get(attr, {}) if blame else {},
                want.label if terse <= 0 else None,
            ))
    filtered = any(want.criterion is not None for _n, want, _c, _s, _d in specs)
    lines: dict[str, list[Response]] = {}
    passed: set[str] = set()
    dropped: set[str] = set()
    for node in nodes:
        mine: list[Response] = []
        for is_nodecol, want, values, sources, desc in specs:
            value = values.get(node)
            if is_nodecol and value is not None:
                value = node  # a group row stands in for the node
            if want.criterion is not None:
                if not want.criterion.accepts(value):
                    dropped.add(node)
                    continue
                passed.add(node)
                if not want.force:
                    continue
            text = value or ""
            if sources and value is not None and not is_nodecol:
                source = sources.get(node)
                if source:
                    text = f"{text} (inherited from group {source})"
            mine.append(Response("data", text, node, desc))
        if not filtered:
            yield from mine  # nothing can drop the node: no need to wait
        elif mine:
            lines[node] = mine
    if filtered:
        for node in nodes:
            if node in dropped:
                continue
            if node in lines:
                yield from lines[node]
            elif node in passed:
                yield data(node)
    for node, msgs in result.errors.items():
        for msg in msgs:
            yield error(msg, node=node)


# --------------------------------------------------------------------------- #
# argument parsing for the writers


@dataclass
class Changes:
    """Parsed ``nodech``-style arguments."""

    assign: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    """table → column → [(value, op)] in the order given; op is ``=``, ``,=`` or ``^=``."""
    criteria: dict[str, dict[str, Criterion]] = field(default_factory=dict)
    """table → column → filter on the nodes to change."""

    def sets(self, table: str, column: str) -> bool:
        return column in self.assign.get(table, {})


_NODECH_SELECTORS = (
    (re.compile(r"^[^=]*=="), "==", "match"),
    (re.compile(r"^[^=]*!="), "!=", "natch"),
    (re.compile(r"^[^=]*=~"), "=~", "regex"),
    (re.compile(r"^[^=]*!~"), "!~", "negex"),
)


def parse_changes(args: Sequence[str]) -> Changes:
    """``table.column=value`` (``,=``, ``^=``, ``=@``) and selector arguments.

    Raises XcatError naming the first argument that is not one of those, or
    that names an unknown table or column.
    """
    out = Changes()
    for arg in args:
        if "=" not in arg and "!~" not in arg:
            raise XcatError(f"Malformed argument {arg}: expected table.column=value")
        for pattern, sep, kind in _NODECH_SELECTORS:
            if pattern.search(arg):
                name, _, value = arg.partition(sep)
                table, column = _check_attr(name)
                out.criteria.setdefault(table, {})[column] = _criterion(kind, value)
                break
        else:
            name, _, value = arg.partition("=")
            if value.startswith("@"):
                value = value[1:]
            if value == "":
                value = BLANK
            op = "="
            if name.endswith(","):
                op, name = ",=", name[:-1]
            elif name.endswith("^"):
                op, name = "^=", name[:-1]
            table, column = _check_attr(name)
            out.assign.setdefault(table, {}).setdefault(column, []).append((value, op))
    return out


def _split_items(value: str) -> list[str]:
    """Perl's ``split /,/``: empty fields kept except trailing ones."""
    items = value.split(",")
    while items and items[-1] == "":
        items.pop()
    return items


def _new_values(
    ops: Mapping[str, list[tuple[str, str]]], current: Mapping[str, str | None]
) -> dict[str, str]:
    """Columns to write for one node, applying the operations in order.

    ``,=`` puts the item first unless present; ``^=`` removes it; both start
    from the node's resolved value (inherited, regex evaluated) and write
    nothing when the list already says what was asked.
    """
    out: dict[str, str] = {}
    for column, pairs in ops.items():
        for value, op in pairs:
            if op == "=":
                out[column] = value
                continue
            cur = out[column] if column in out else current.get(column)
            if op == ",=":
                if cur:
                    items = _split_items(cur)
                    if value not in items:
                        out[column] = ",".join([value, *items])
                else:
                    out[column] = value
            elif cur:
                items = _split_items(cur)
                if value in items:
                    out[column] = ",".join(i for i in items if i != value)
    return out


# --------------------------------------------------------------------------- #
# writing helpers


def _keyed_changes(
    view: Any, table: str, per_name: Mapping[str, Mapping[str, str]]
) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Row changes for node/group names; every existing row of a name is updated.

    Tables with several key columns (``switch``: node, switch, port) may hold
    more rows for one node; xCAT updates them all, and adds one row with
    empty other keys when there is none.
    """
    spec = _spec(table)
    col = _nodecol(spec)
    if len(spec.keys) == 1:
        return [({col: name}, dict(values)) for name, values in per_name.items() if values]
    existing = view.rows_for(table, list(spec.keys), list(per_name), include_disabled=True)
    out: list[tuple[dict[str, str], dict[str, str]]] = []
    for name, values in per_name.items():
        if not values:
            continue
        found = existing.get(name) or [{col: name}]
        for row in found:
            out.append(({k: row.get(k) or "" for k in spec.keys}, dict(values)))
    return out


def _filter(view: Any, nodes: list[str], criteria: Mapping[str, Mapping[str, Criterion]]) -> list[str]:
    if not criteria:
        return nodes
    wanted = {t: list(cols) for t, cols in criteria.items()}
    result = view.attributes(nodes, wanted)
    keep = []
    for node in nodes:
        values = result.values.get(node, {})
        if all(
            crit.accepts(values.get((table, column)))
            for table, cols in criteria.items()
            for column, crit in cols.items()
        ):
            keep.append(node)
    return keep


def _dynamic_notes(view: Any, nodes: Sequence[str], changes: Changes) -> list[Response]:
    """xCAT's notice, per node, for every dynamic group named in ``groups=``."""
    pairs = changes.assign.get("nodelist", {}).get("groups", [])
    named = [g for value, op in pairs if op == "=" for g in value.split(",")]
    if not named:
        return []
    from xcatpy.store.resolver import StoreResolver

    groups = StoreResolver(view).nodegroups
    dynamic = [g for g in named if (groups.get(g) or {}).get("grouptype") == "dynamic"]
    return [data(_DYNAMIC_MESSAGE.format(group=g)) for _node in nodes for g in dynamic]


def _apply(conn: Any, ctx: Context, view: Any, nodes: list[str], changes: Changes) -> None:
    """Write ``changes.assign`` for ``nodes`` (no criteria here), bulk per table."""
    from xcatpy.store import rows

    relative = {
        t: [c for c, pairs in cols.items() if any(op != "=" for _v, op in pairs)]
        for t, cols in changes.assign.items()
    }
    relative = {t: cols for t, cols in relative.items() if cols}
    current = view.attributes(nodes, relative) if relative else None
    for table, ops in changes.assign.items():
        per_node: dict[str, dict[str, str]] = {}
        for node in nodes:
            cur: dict[str, str | None] = {}
            if current is not None:
                vals = current.values.get(node, {})
                cur = {c: vals.get((table, c)) for c in ops}
            per_node[node] = _new_values(ops, cur)
        rows.upsert(conn, ctx.store, table, _keyed_changes(view, table, per_node))


# --------------------------------------------------------------------------- #
# nodech, nodeadd, nodegrpch, noderm


def nodech(req: Request, ctx: Context) -> Iterator[Response]:
    """Change (or with ``-d`` delete) the nodes' rows in the named tables.

    Selector arguments (``==``, ``!=``, ``=~``, ``!~``) narrow the nodes;
    ``table.column=`` stores :data:`BLANK` so that groups no longer apply.
    """
    opts, rest = parse_opts(
        req.args, "h?vd", ["help", "version", "delete"], usage="\n".join(NODECH_USAGE)
    )
    if reply := _help_or_version(opts, NODECH_USAGE):
        yield from reply
        return
    if not req.noderange or not rest:
        raise _usage_error(NODECH_USAGE)
    if has(opts, "-d", "--delete"):
        tables = _delete_tables(rest)
        with writing(ctx) as (conn, view):
            nodes = request_nodes(req, view)
            _delete_rows(conn, ctx, tables, nodes)
        return
    changes = parse_changes(rest)
    with writing(ctx) as (conn, view):
        nodes = _filter(view, request_nodes(req, view), changes.criteria)
        notes = _dynamic_notes(view, nodes, changes)
        _apply(conn, ctx, view, nodes, changes)
    yield from notes


def _delete_tables(args: Sequence[str]) -> list[str]:
    tables = []
    for arg in args:
        if "." in arg or "=" in arg:
            raise XcatError(f". and = not valid in delete mode: {arg}")
        spec = _spec(arg)
        if spec is None:
            raise XcatError(f"{arg} is not a valid table name")
        if "node" not in spec.columns and spec.node_column is None:
            raise XcatError(f"table {arg} has no node column")
        tables.append(arg)
    return tables


def _delete_rows(conn: Any, ctx: Context, tables: Iterable[str], nodes: list[str]) -> None:
    from xcatpy.store import rows

    if not nodes:
        return
    for table in tables:
        spec = _spec(table)
        column = "node" if "node" in spec.columns else spec.node_column
        rows.delete_keys(conn, ctx.store, table, column, nodes)


def nodeadd(req: Request, ctx: Context) -> Iterator[Response]:
    """Add nodes: ``nodeadd <noderange> groups=<g1,g2> [table.column=value ...]``.

    The noderange is expanded without checking that its names exist (groups
    still expand to their members).  Nodes that exist already are updated, as
    in xCAT.  ``groups=`` is required (xCAT's manual says so; its code would
    write the other tables for nodes that ``nodelist`` does not know).
    """
    opts, rest = parse_opts(req.args, "h?v", ["help", "version"], usage="\n".join(NODEADD_USAGE))
    if reply := _help_or_version(opts, NODEADD_USAGE):
        yield from reply
        return
    text, rest = _leading_noderange(req, rest, NODEADD_USAGE)
    if not rest:
        raise _usage_error(NODEADD_USAGE)
    changes = parse_changes(rest)
    groups = [v for v, op in changes.assign.get("nodelist", {}).get("groups", []) if op != "^="]
    if not any(v and v != BLANK for v in groups):
        raise _usage_error(NODEADD_USAGE, "At least one group name must be given with groups=")
    with writing(ctx) as (conn, view):
        nodes = new_nodes(text, req, view)
        if not nodes:
            raise XcatError("No noderange to add.")
        upper = [n for n in nodes if n != n.lower()]
        if upper:
            yield warning(
                f"The node name '{','.join(upper)}' contains capital letters which may not "
                "be resolved correctly by the dns server."
            )
        nodes = _filter(view, nodes, changes.criteria)
        notes = _dynamic_notes(view, nodes, changes)
        _apply(conn, ctx, view, nodes, changes)
    yield from notes


def nodegrpch(req: Request, ctx: Context) -> Iterator[Response]:
    """Set attributes on group rows: ``nodegrpch g1,g2 table.column=value ...``.

    Member nodes' own values of those columns are cleared (set to empty, rows
    created where missing, as xCAT does) so the group value applies to them.
    Only ``=`` assignments; group membership cannot be changed here.
    """
    opts, rest = parse_opts(
        req.args, "h?v", ["help", "version"], usage="\n".join(NODEGRPCH_USAGE)
    )
    if reply := _help_or_version(opts, NODEGRPCH_USAGE):
        yield from reply
        return
    text, rest = _leading_noderange(req, rest, NODEGRPCH_USAGE)
    groups = [g for g in text.split(",") if g]
    if not groups or not rest:
        raise _usage_error(NODEGRPCH_USAGE)
    changes = parse_changes(rest)
    for cols in changes.assign.values():
        for column, pairs in cols.items():
            if any(op != "=" for _v, op in pairs):
                raise XcatError(",= and ^= are not supported by nodegrpch")
            if column == "groups":
                raise XcatError("Group membership is not changeable via nodegrpch")
    if changes.criteria:
        raise XcatError("nodegrpch takes no selection criteria")
    with writing(ctx) as (conn, view):
        _group_apply(conn, ctx, view, groups, changes)


def _group_apply(conn: Any, ctx: Context, view: Any, groups: list[str], changes: Changes) -> None:
    from xcatpy import noderange
    from xcatpy.store import rows
    from xcatpy.store.resolver import StoreResolver

    resolver = StoreResolver(view)
    members: dict[str, None] = {}
    for group in groups:
        for node in noderange.expand(group, resolver, verify=True).nodes:
            members[node] = None
    for table, ops in changes.assign.items():
        values = {column: pairs[-1][0] for column, pairs in ops.items()}
        col = _nodecol(_spec(table))
        clear = {c: "" for c in values if c != col}
        rows.upsert(conn, ctx.store, table, _keyed_changes(view, table, {g: values for g in groups}))
        if clear and members:
            per_node = {n: clear for n in members if n not in groups}
            rows.upsert(conn, ctx.store, table, _keyed_changes(view, table, per_node))


def noderm(req: Request, ctx: Context) -> Iterator[Response]:
    """Remove nodes: their rows in every table that has a ``node`` column."""
    opts, _rest = parse_opts(req.args, "h?v", ["help", "version"], usage="\n".join(NODERM_USAGE))
    if reply := _help_or_version(opts, NODERM_USAGE):
        yield from reply
        return
    if not req.noderange:
        raise _usage_error(NODERM_USAGE)
    from xcatpy.store.schema import TABLES

    tables = [name for name, spec in TABLES.items() if "node" in spec.columns]
    with writing(ctx) as (conn, view):
        nodes = request_nodes(req, view)
        _delete_rows(conn, ctx, tables, nodes)
