"""Object definitions over the tables: list, read, write, delete and rename in bulk.

An object is a name of a type from :mod:`xcatpy.store.defspec` plus attributes;
each attribute is stored in one ``table.column``, chosen by ``only_if``
conditions where the defspec lists several.  Reads cost one query per table,
whatever the number of objects (xCAT issues #5554, #5652 were per-object
queries):

* nodes get xCAT's inherited, regex-evaluated values (:class:`NodeView`), for
  every table whose node column is its first key; other tables are read raw;
* groups read only their own rows (node column = group name), no inheritance,
  plus their ``nodegroup`` row;
* other types read the rows whose lookup column holds the object name;
* ``site`` is every row of the ``site`` table.

``only_if`` is applied as xCAT's ``getobjdefs`` applies it: attributes are
taken in defspec order, a later matching mapping overwrites an earlier one, and
a condition ``attr=value`` is a word match (``\\bvalue\\b``) against the value
the object has so far for ``attr``.

Writes are collected in a :class:`RowWrites` (one entry per row, later settings
of a column win) and flushed table by table: one query for the rows that exist,
then grouped updates and one insert.  Nothing here commits: the caller owns the
transaction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa

from xcatpy.noderange import natural_key
from xcatpy.store import rows as rowops
from xcatpy.store.attrs import NodeView, enabled, split_list
from xcatpy.store.defspec import SITE_OBJECT, AttrSpec, ObjectType, get_type, row_key
from xcatpy.store.schema import AUTOINCREMENT_TABLES, TABLES, get_table

_IN_LIMIT = 900  # past this many names a full table scan beats an IN list
_CHUNK = 500
_MARK = "\x00object\x00"

# Types whose attribute names are free (every key is an attribute).
FREE_FORM_TYPES = frozenset({"site", "monitoring"})
# nic attributes may be written per interface: nicips.eth0=...
NIC_ATTR = re.compile(r"^(nic\w+)\.(.+)$")


# --------------------------------------------------------------------------- #
# plans: where each attribute lives, computed once per type


@dataclass(frozen=True)
class Lookup:
    """Finds the row holding an attribute: the column that carries the object
    name, plus columns with fixed values (ppcdirect rows are per user)."""

    table: str
    name_col: str
    fixed: tuple[tuple[str, str], ...] = ()

    def key(self, name: str) -> dict[str, str]:
        return {self.name_col: name, **dict(self.fixed)}


@dataclass(frozen=True)
class Step:
    """One mapping of an attribute, at its position in the defspec."""

    index: int
    spec: AttrSpec
    lookup: Lookup
    cond: tuple[str, str, re.Pattern[str]] | None
    inherited: bool
    """Read through NodeView (group inheritance and regex values apply)."""

    def holds(self, value: str | None) -> bool:
        """Whether this mapping's condition is met by ``value`` of the condition attribute."""
        if self.cond is None:
            return True
        return bool(value) and self.cond[2].search(value) is not None  # type: ignore[arg-type]


@dataclass(frozen=True)
class TypePlan:
    otype: ObjectType
    steps: tuple[Step, ...]
    """Every mapping except the key attribute's, in defspec order."""
    key_lookup: Lookup | None
    """Where the object names of the type are listed."""
    by_attr: Mapping[str, tuple[Step, ...]]

    def closure(self, attrs: Iterable[str]) -> set[str]:
        """``attrs`` plus the attributes their conditions depend on."""
        want = set(attrs)
        todo = list(want)
        while todo:
            for st in self.by_attr.get(todo.pop(), ()):
                if st.cond is not None and st.cond[0] not in want:
                    want.add(st.cond[0])
                    todo.append(st.cond[0])
        return want

    def lookups(self) -> list[Lookup]:
        """Every row location the type writes to, the key's first."""
        out: dict[Lookup, None] = {}
        if self.key_lookup is not None:
            out[self.key_lookup] = None
        for st in self.steps:
            out[st.lookup] = None
        return list(out)


def lookup_of(type_name: str, spec: AttrSpec) -> Lookup:
    key = row_key(type_name, spec, _MARK)
    name_cols = [c for c, v in key.items() if v == _MARK]
    fixed = tuple(sorted((c, v) for c, v in key.items() if v != _MARK))
    return Lookup(spec.table, name_cols[0] if name_cols else "", fixed)


@cache
def _word(value: str) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(value) + r"\b")


@cache
def plan_for(type_name: str) -> TypePlan:
    otype = get_type(type_name)
    steps: list[Step] = []
    key_lookup: Lookup | None = None
    for spec in otype.attrs:
        lookup = lookup_of(type_name, spec)
        if spec.attr == otype.key_attr:
            key_lookup = key_lookup or lookup
            continue
        cond = None
        if spec.only_if is not None:
            cond = (spec.only_if[0], spec.only_if[1], _word(spec.only_if[1]))
        tspec = TABLES[spec.table]
        inherited = type_name == "node" and (
            spec.table == "nodelist"
            or (tspec.node_keyed and lookup.name_col == "node" and not lookup.fixed)
        )
        steps.append(Step(len(steps), spec, lookup, cond, inherited))
    if key_lookup is None and type_name not in FREE_FORM_TYPES:
        tspec = TABLES[otype.key_table]
        col = otype.key_attr if otype.key_attr in tspec.columns else tspec.keys[0]
        key_lookup = Lookup(otype.key_table, col)
    by_attr: dict[str, list[Step]] = defaultdict(list)
    for st in steps:
        by_attr[st.spec.attr].append(st)
    return TypePlan(otype, tuple(steps), key_lookup, {a: tuple(s) for a, s in by_attr.items()})


def base_attr(attr: str) -> str:
    """``nicips.eth0`` -> ``nicips``; other names unchanged."""
    m = NIC_ATTR.match(attr)
    return m.group(1) if m else attr


def invalid_attrs(type_name: str, attrs: Iterable[str]) -> list[str]:
    """The names in ``attrs`` that are no attribute of the type (in the order given)."""
    if type_name in FREE_FORM_TYPES:
        return []
    otype = get_type(type_name)
    valid = set(otype.attr_names)
    out: list[str] = []
    for attr in attrs:
        if attr == "objtype":
            continue
        name = attr if attr in valid else base_attr(attr)
        if name not in valid and name not in out:
            out.append(name)
    return out


# --------------------------------------------------------------------------- #
# selection strings (-w, dynamic groups' wherevals)


@dataclass(frozen=True)
class Where:
    attr: str
    op: str  # ==, !=, =~, !~
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, values: Mapping[str, str]) -> bool:
        """xCAT's rule: an object without the attribute never matches."""
        have = values.get(self.attr)
        if have is None:
            return False
        if self.op == "==":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = self.regex.search(have) is not None  # type: ignore[union-attr]
        return found if self.op == "=~" else not found


def parse_where(text: str) -> Where | None:
    """One selection ``attr==val``, ``attr!=val``, ``attr=~re``, ``attr!~re`` or
    ``attr=val`` (xCAT's order of tests); None when it is none of these.
    Regexes may be written /re/.  Raises re.error for a bad regular expression."""
    eq = text.find("=")
    if eq >= 0 and text.startswith("==", eq):
        return _where(text[:eq], "==", text[eq + 2 :])
    if eq >= 0 and text.startswith("=~", eq):
        return _where(text[:eq], "=~", text[eq + 2 :])
    if eq >= 1 and text[eq - 1] == "!":
        return _where(text[: eq - 1], "!=", text[eq + 1 :])
    idx = text.find("!~")
    if idx >= 0:
        return _where(text[:idx], "!~", text[idx + 2 :])
    if eq >= 0 and text[eq + 1 :] and "=" not in text[eq + 1 :]:
        return _where(text[:eq], "==", text[eq + 1 :])
    return None


def _where(attr: str, op: str, value: str) -> Where | None:
    if not attr:
        return None
    if op in ("=~", "!~"):
        if value.startswith("/"):
            value = value[1:]
        if value.endswith("/"):
            value = value[:-1]
        return Where(attr, op, value, re.compile(value))
    return Where(attr, op, value)


# --------------------------------------------------------------------------- #
# reading


@dataclass
class ObjectData:
    """Attributes of objects of one type; only defined values are present."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, Step]] = field(default_factory=dict)
    """object -> attribute -> the mapping its value came from (when asked for)."""
    errors: list[str] = field(default_factory=list)


class Catalog:
    """The objects of every type, read through one connection, each table once.

    ``view`` is the request's :class:`NodeView` (its nodelist and site are
    shared); lists of object names and raw table reads are cached here.
    """

    def __init__(self, view: NodeView) -> None:
        self.view = view
        self.store = view.store
        self.conn = view.conn
        self._names: dict[str, list[str]] = {}
        self._exists: dict[str, set[str]] = {}
        self._all: dict[str, dict[str, dict[str, str]]] = {}
        self._static: dict[str, set[str]] | None = None
        self._node_reads: dict[frozenset[str], ObjectData] = {}

    # -- object names -------------------------------------------------------
    def names(self, type_name: str) -> list[str]:
        """Every object of the type, sorted naturally (n2 before n10)."""
        if type_name not in self._names:
            self._names[type_name] = sorted(self._list(type_name), key=natural_key)
        return self._names[type_name]

    def exists(self, type_name: str) -> set[str]:
        if type_name not in self._exists:
            if type_name in self._names:
                self._exists[type_name] = set(self._names[type_name])
            else:  # no need to sort them for this
                self._exists[type_name] = set(self._list(type_name))
        return self._exists[type_name]

    def read_all(self, type_name: str) -> dict[str, dict[str, str]]:
        """Every attribute of every object of the type, read once per catalog."""
        if type_name not in self._all:
            self._all[type_name] = self.read(type_name, self.names(type_name)).values
        return self._all[type_name]

    def _list(self, type_name: str) -> list[str]:
        if type_name == "site":
            return [SITE_OBJECT]
        if type_name == "node":
            return list(self.view.node_index)
        plan = plan_for(type_name)
        found: dict[str, None] = {}
        if plan.key_lookup is not None:
            lk = plan.key_lookup
            for row in self.select(lk.table, [lk.name_col], lk.name_col, None):
                name = row.get(lk.name_col)
                if name:
                    found[name] = None
        if type_name == "group":
            for node in self.view.node_index:
                for g in self.view.groups_of(node):
                    found.setdefault(g, None)
        return list(found)

    # -- raw rows --------------------------------------------------------------
    def select(
        self,
        table: str,
        columns: Sequence[str],
        name_col: str,
        names: Collection[str] | None,
    ) -> Iterator[dict[str, str | None]]:
        """Enabled rows of ``table`` whose ``name_col`` is in ``names`` (all when None)."""
        spec = get_table(table)
        t = self.store.table(table)
        cols = list(dict.fromkeys([name_col, *columns]))
        extra = ["disable"] if "disable" in spec.columns and "disable" not in cols else []
        stmt = sa.select(*(t.c[c] for c in cols + extra))
        wanted: set[str] | None = None
        if names is not None:
            wanted = set(names)
            if len(wanted) <= _IN_LIMIT:
                keys: list[Any] = sorted(wanted)
                if table in AUTOINCREMENT_TABLES and name_col == spec.keys[0]:
                    keys = [int(k) for k in keys if k.isdigit()]
                stmt = stmt.where(t.c[name_col].in_(keys))
        for rec in self.conn.execute(stmt):
            row = {c: (None if v is None else str(v)) for c, v in zip(cols + extra, rec, strict=True)}
            if extra and not enabled(row):
                continue
            if wanted is not None and row.get(name_col) not in wanted:
                continue
            yield row

    # -- attributes --------------------------------------------------------------
    def read(
        self,
        type_name: str,
        names: Sequence[str],
        attrs: Iterable[str] | None = None,
        *,
        with_sources: bool = False,
    ) -> ObjectData:
        """Attributes of ``names`` (all the type's attributes, or ``attrs`` and
        what their conditions need)."""
        out = ObjectData()
        if not names:
            return out
        if type_name == "site":
            site = {k: v for k, v in self._site_rows().items() if v is not None}
            for name in names:
                out.values[name] = dict(site) if name == SITE_OBJECT else {}
            return out
        plan = plan_for(type_name)
        steps = plan.steps
        if attrs is not None:
            want = plan.closure(attrs)
            steps = tuple(st for st in steps if st.spec.attr in want)
        # step index -> {object: value}: the candidates of every mapping
        found: dict[int, dict[str, str]] = {}
        self._read_inherited(names, [st for st in steps if st.inherited], found, out)
        self._read_raw(names, [st for st in steps if not st.inherited], found)
        # The mappings in defspec order, each for every object at once: a
        # later mapping whose condition holds overwrites an earlier one.
        values: dict[str, dict[str, str]] = {name: {} for name in names}
        sources: dict[str, dict[str, Step]] = {}
        if with_sources:
            sources = {name: {} for name in names}
        for st in steps:
            cand = found.get(st.index)
            if not cand:
                continue
            attr = st.spec.attr
            if st.cond is None and not with_sources:
                for name, value in cand.items():
                    values[name][attr] = value
                continue
            cattr = st.cond[0] if st.cond is not None else ""
            search = st.cond[2].search if st.cond is not None else None
            for name, value in cand.items():
                vals = values[name]
                if search is not None:
                    have = vals.get(cattr)
                    if not have or search(have) is None:
                        continue
                vals[attr] = value
                if with_sources:
                    sources[name][attr] = st
        out.values = values
        if with_sources:
            out.sources = sources
        if type_name == "monitoring" and (attrs is None or attrs):
            self._read_monsettings(names, out)
        return out

    def _read_inherited(
        self,
        names: Sequence[str],
        steps: list[Step],
        found: dict[int, dict[str, str]],
        out: ObjectData,
    ) -> None:
        if not steps:
            return
        wanted: dict[str, list[str]] = defaultdict(list)
        for st in steps:
            if st.spec.column not in wanted[st.spec.table]:
                wanted[st.spec.table].append(st.spec.column)
        res = self.view.attributes(list(names), wanted, ordered=False)
        for node, msgs in res.errors.items():
            out.errors.extend(f"{node}: {m}" for m in msgs)
        for st in steps:
            col = res.columns.get((st.spec.table, st.spec.column))
            if col:
                found[st.index] = col

    def _read_raw(
        self,
        names: Sequence[str],
        steps: list[Step],
        found: dict[int, dict[str, str]],
    ) -> None:
        groups: dict[tuple[str, str], list[Step]] = defaultdict(list)
        for st in steps:
            groups[(st.lookup.table, st.lookup.name_col)].append(st)
        for (table, name_col), tsteps in groups.items():
            cols: list[str] = []
            for st in tsteps:
                cols.extend(c for c, _ in st.lookup.fixed)
                cols.append(st.spec.column)
            for row in self.select(table, cols, name_col, names):
                name = row[name_col]
                for st in tsteps:
                    if any(row.get(c) != v for c, v in st.lookup.fixed):
                        continue
                    value = row.get(st.spec.column)
                    if value:
                        found.setdefault(st.index, {})[name] = value  # type: ignore[index]

    def _site_rows(self) -> dict[str, str | None]:
        return {row["key"]: row.get("value") for row in self.select("site", ["value"], "key", None)
                if row.get("key")}

    def _read_monsettings(self, names: Sequence[str], out: ObjectData) -> None:
        for row in self.select("monsetting", ["key", "value"], "name", names):
            name, key, value = row["name"], row.get("key"), row.get("value")
            if name and key and value is not None:
                out.values.setdefault(name, {})[key] = value

    # -- groups ----------------------------------------------------------------
    def static_members(self, group: str) -> list[str]:
        if self._static is None:
            self._static = self.view.static_groups()
        return sorted(self._static.get(group, ()), key=natural_key)

    def dynamic_members(self, wherevals: str) -> list[str]:
        """Nodes matching a dynamic group's ``wherevals`` (``::``-separated selections)."""
        conds = []
        for text in wherevals.split("::"):
            if not text.strip():
                continue
            try:
                where = parse_where(text.strip())
            except re.error:
                where = None
            if where is None:
                return []
            conds.append(where)
        if not conds:
            return []
        nodes = self.names("node")
        attrs = frozenset({c.attr for c in conds} - {"node"})
        if attrs not in self._node_reads:
            self._node_reads[attrs] = self.read("node", nodes, attrs)
        data = self._node_reads[attrs]
        out = []
        for node in nodes:
            vals = data.values.get(node, {})
            if "node" in {c.attr for c in conds}:
                vals = {**vals, "node": node}
            if all(c.matches(vals) for c in conds):
                out.append(node)
        return out

    def members(self, group: str, values: Mapping[str, str]) -> list[str]:
        """Members of a group object whose attributes are ``values``."""
        if (values.get("grouptype") or "static") == "dynamic":
            return self.dynamic_members(values.get("wherevals") or "")
        return self.static_members(group)

    def xcatdefaults(self) -> tuple[str | None, str | None]:
        """The postscripts and postbootscripts every node runs (``postscripts`` row
        ``xcatdefaults``)."""
        for row in self.select("postscripts", ["postscripts", "postbootscripts"], "node",
                               ["xcatdefaults"]):
            return row.get("postscripts"), row.get("postbootscripts")
        return None, None


def _index(step: Step) -> int:
    return step.index


# --------------------------------------------------------------------------- #
# writing


@dataclass
class WriteResult:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: dict[str, str | None] = field(default_factory=dict)
    """attribute -> the value stored (after -p/-m)."""


def merge_value(
    mode: str, current: str | None, given: str, delim: str, attr: str, obj: str,
    warnings: list[str],
) -> str | None:
    """The value to store for ``mode`` replace / plus / minus, as xCAT's setobjdefs.

    ``plus`` appends the items not present yet; ``minus`` drops the given items
    (a warning for each one that was not there) and gives None when there is no
    current value (nothing to change).
    """
    if mode == "plus":
        if not current:
            return given
        items = current.split(delim)
        for item in given.split(delim):
            if item not in items:
                items.append(item)
        return delim.join(items)
    if mode == "minus":
        if not current:
            return None
        items = current.split(delim)
        drop = given.split(delim)
        for item in drop:
            if item not in items:
                warnings.append(
                    f"{item} is not in the attribute of '{attr}' for the '{obj}' definition."
                )
        return delim.join(i for i in items if i not in drop)
    return given


@cache
def _key_layout(lookup: Lookup) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """The key columns of a lookup's rows (sorted), their fixed values, and
    where the object name goes among them."""
    key = lookup.key(_MARK)
    cols = tuple(sorted(key))
    at = cols.index(lookup.name_col) if key[lookup.name_col] == _MARK else -1
    return cols, tuple(key[c] for c in cols), at


class RowWrites:
    """Row changes of one command, merged per row, flushed table by table."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], dict[str, str | None]]]
        self._rows = {}

    def set(self, lookup: Lookup, name: str, column: str, value: str | None) -> None:
        cols, fixed, at = _key_layout(lookup)
        key = list(fixed)
        if at >= 0:
            key[at] = name
        row = self._rows.setdefault((lookup.table, cols), {}).setdefault(tuple(key), {})
        if value == "":
            value = None
        if value is None and column in get_table(lookup.table).keys:
            value = ""
        row[column] = value

    def __bool__(self) -> bool:
        return bool(self._rows)

    def flush(self, conn: Any, store: Any) -> None:
        for (table, cols), rows in self._rows.items():
            if table == "site":
                _flush_site(conn, store, rows)
            else:
                _flush(conn, store, table, cols, rows)


def _flush(conn: Any, store: Any, table: str, cols: tuple[str, ...],
           rows: dict[tuple[str, ...], dict[str, str | None]]) -> None:
    """Write one table's merged changes, finding rows by the lookup's columns."""
    rowops.upsert_keyed(conn, store, table, cols, rows, skip_empty_inserts=True)


def _flush_site(conn: Any, store: Any, rows: dict[tuple[str, ...], dict[str, str | None]]) -> None:
    gone = [key[0] for key, values in rows.items() if not values.get("value")]
    keep = [({"key": key[0]}, {"value": values["value"]}) for key, values in rows.items()
            if values.get("value")]
    if gone:
        rowops.delete_keys(conn, store, "site", "key", gone)
    if keep:
        rowops.upsert(conn, store, "site", keep)


def plan_writes(
    type_name: str,
    name: str,
    given: Mapping[str, str],
    current: Mapping[str, str],
    mode: str,
    writes: RowWrites,
    *,
    delim: str = ",",
) -> WriteResult:
    """Queue the rows that store ``given`` for object ``name``.

    ``current`` holds the object's values now (conditions and -p/-m use them);
    ``mode`` is ``replace``, ``plus`` or ``minus``.  Every mapping of an
    attribute whose ``only_if`` holds is written, as in xCAT; a condition uses
    the value being set, else the current one.  Attributes no mapping accepts
    are reported in ``errors`` and nothing is queued for them.
    """
    res = WriteResult()
    if type_name == "site":
        for attr, value in given.items():
            if attr == "objtype":
                continue
            val = merge_value(mode, current.get(attr), value, delim, attr, name, res.warnings)
            if mode == "minus" and val is None:
                continue
            writes.set(Lookup("site", "key"), attr, "value", val)
            res.written[attr] = val
        return res
    plan = plan_for(type_name)
    wanted, steps = _write_steps(type_name, frozenset(given))
    missing: dict[str, str] = {}
    failed: dict[str, list[str]] = defaultdict(list)
    done: set[str] = set()
    replace = mode == "replace"
    for st in steps:
        attr = st.spec.attr
        if st.cond is not None:
            cattr = st.cond[0]
            cval = given.get(cattr) if cattr in given else current.get(cattr)
            if not cval:
                missing.setdefault(attr, cattr)
                continue
            if not st.holds(cval):
                failed[attr].append(f"{cattr}={st.cond[1]}")
                continue
        if replace:
            val: str | None = given[attr]
        else:
            val = merge_value(mode, current.get(attr), given[attr], delim, attr, name,
                              res.warnings)
        done.add(attr)
        if mode == "minus" and val is None:
            continue
        writes.set(st.lookup, name, st.spec.column, val)
        res.written[attr] = val
    for attr in (sorted(wanted - done) if len(done) < len(wanted) else ()):
        if attr in failed:
            conds = " or ".join(f"'{c}'" for c in dict.fromkeys(failed[attr]))
            res.errors.append(f"Cannot set the attr='{attr}' attribute unless {conds}.")
        elif attr in missing:
            res.errors.append(
                f"Cannot set the '{attr}' attribute unless a value is provided for "
                f"'{missing[attr]}'."
            )
    if type_name == "monitoring":
        for attr in sorted(wanted - set(plan.by_attr)):
            val = merge_value(mode, current.get(attr), given[attr], delim, attr, name,
                              res.warnings)
            if mode == "minus" and val is None:
                continue
            writes.set(Lookup("monsetting", "name", (("key", attr),)), name, "value", val)
            res.written[attr] = val
    return res


@lru_cache(maxsize=256)
def _write_steps(type_name: str, given: frozenset[str]) -> tuple[frozenset[str], tuple[Step, ...]]:
    """The attributes to write and every mapping of them, in defspec order
    (the same for every object given the same attribute names)."""
    plan = plan_for(type_name)
    wanted = frozenset(a for a in given if a not in ("objtype", plan.otype.key_attr))
    steps = sorted((st for a in wanted for st in plan.by_attr.get(a, ())), key=_index)
    return wanted, tuple(steps)


def _lookups_to_clear(type_name: str, everything: bool = True) -> list[Lookup]:
    """Where an object of the type keeps rows: its defspec tables and, with
    ``everything``, for nodes and groups every table whose first key is the
    node column (rows no attribute maps, such as kvm_nodedata)."""
    plan = plan_for(type_name)
    out = dict.fromkeys(plan.lookups())
    if type_name == "node":
        out[Lookup("nodelist", "node")] = None
    if everything and type_name in ("node", "group"):
        for name, spec in TABLES.items():
            if spec.node_keyed:
                out[Lookup(name, "node")] = None
    if type_name == "monitoring":
        out[Lookup("monsetting", "name")] = None
    return list(out)


def delete_objects(conn: Any, store: Any, type_name: str, names: Sequence[str], *,
                   everything: bool = True) -> None:
    """Remove the rows of the objects ``names`` (site: the whole site table).

    ``everything=False`` keeps the rows of a node or group that no attribute
    maps (what mkdef -f replaces is the definition, as xCAT's rmobjdefs does).
    """
    if not names:
        return
    if type_name == "site":
        rowops.delete_where(conn, store, "site")
        return
    for lk in _lookups_to_clear(type_name, everything):
        t = store.table(lk.table)
        extra = [t.c[c] == v for c, v in lk.fixed]
        for i in range(0, len(names), _CHUNK):
            cond = t.c[lk.name_col].in_(list(names[i : i + _CHUNK]))
            conn.execute(t.delete().where(sa.and_(cond, *extra)))


def rename_object(conn: Any, store: Any, type_name: str, old: str, new: str) -> None:
    """Give object ``old`` the name ``new`` in every row that names it."""
    for lk in _lookups_to_clear(type_name):
        t = store.table(lk.table)
        extra = [t.c[c] == v for c, v in lk.fixed]
        rowops.update_where(conn, store, lk.table, sa.and_(t.c[lk.name_col] == old, *extra),
                            {lk.name_col: new})


def collapse_nics(attrs: dict[str, str], current: Mapping[str, str] | None = None) -> None:
    """Fold ``nicips.eth0=...`` items into ``nicips=eth0!...,eth1!...`` in place.

    Interfaces already defined in ``current`` are kept unless given again; an
    empty value removes the interface (as chdef does).
    """
    per: dict[str, dict[str, str]] = {}
    for key in list(attrs):
        m = NIC_ATTR.match(key)
        if m:
            per.setdefault(m.group(1), {})[m.group(2)] = attrs.pop(key)
    for attr, nics in per.items():
        merged: dict[str, str] = {}
        if current and current.get(attr):
            for item in split_list(current[attr]):
                nic, _, val = item.partition("!")
                if nic:
                    merged[nic] = val
        merged.update(nics)
        attrs[attr] = ",".join(f"{n}!{v}" for n, v in merged.items() if v)


def expand_nics(attr: str, value: str, only: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``nicips=eth0!a|b,eth1!c`` -> [("nicips.eth0", "a|b"), ("nicips.eth1", "c")]."""
    m = re.fullmatch(r"\|(.*)\|", value)
    if m:
        inner = m.group(1)
        value = inner.split("|", 1)[1] if "|" in inner else inner
    out = []
    for item in value.split(","):
        nic, _, val = item.partition("!")
        if nic and val and (not only or nic in only):
            out.append((f"{attr}.{nic}", val))
    return out
