"""Bulk attribute resolution: values for N nodes in one query per table.

xCAT's inheritance, applied in Python over rows read in bulk:

1. a node's own row wins, attribute by attribute;
2. otherwise its groups are tried in ``nodelist.groups`` order, the first
   group row that defines the attribute wins;
3. a value ending in ``+=NEXTRECORD`` also takes the next definition found,
   appended directly (write ``a,+=NEXTRECORD`` to get ``a,b``); ``nodels -b``
   then names every contributor, the node included (``n1,g1``);
4. columns named in ``site.hierarchicalattrs`` (``attr[:delim],...``) join the
   node's and all its groups' values, de-duplicated, with that delimiter;
5. regex values (``/p/r/``, ``|p|r|``) are then evaluated for the node.

``nodelist`` is never inherited.  Empty strings count as undefined.  Rows whose
``disable`` column says yes (anything but empty, ``0`` or ``no``) are ignored,
node rows, group rows and ``nodelist`` rows alike, as xCAT's reads ignore them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from xcatpy.errors import RegexValueError, StoreError
from xcatpy.store.db import Store
from xcatpy.store.regexval import evaluate, is_regex_value
from xcatpy.store.schema import TABLES, get_table

NEXTRECORD = "+=NEXTRECORD"
# Past this many keys a full table scan beats a long IN list.
_IN_LIMIT = 900
# Without the daemon's cache a scan first asks which columns hold data only
# when it wants this many: the question costs about a scan of its own.
_PROBE_FROM = 4

Attr = tuple[str, str]  # (table, column)
_T = TypeVar("_T")
_UNKNOWN = object()


class AttrResult:
    """Resolved values; only defined values are present.

    The resolver fills them by attribute: ``columns`` maps ``(table, column)``
    to ``{node: value}`` and ``column_sources`` to ``{node: group}`` for the
    inherited ones.  ``values`` and ``sources`` give the same per node
    (node -> attr -> value), built on first use.
    """

    def __init__(self) -> None:
        self.columns: dict[Attr, dict[str, str]] = {}
        self.column_sources: dict[Attr, dict[str, str]] = {}
        self.errors: dict[str, list[str]] = defaultdict(list)
        self._values: dict[str, dict[Attr, str]] | None = None
        self._sources: dict[str, dict[Attr, str]] | None = None

    @property
    def values(self) -> dict[str, dict[Attr, str]]:
        if self._values is None:
            self._values = _by_node(self.columns)
        return self._values

    @property
    def sources(self) -> dict[str, dict[Attr, str]]:
        """node -> attr -> group the value was inherited from (only when inherited)."""
        if self._sources is None:
            self._sources = _by_node(self.column_sources)
        return self._sources

    def get(self, node: str, table: str, column: str) -> str | None:
        col = self.columns.get((table, column))
        return None if col is None else col.get(node)


def _by_node(columns: Mapping[Attr, Mapping[str, str]]) -> dict[str, dict[Attr, str]]:
    out: dict[str, dict[Attr, str]] = defaultdict(dict)
    for attr, col in columns.items():
        for node, value in col.items():
            out[node][attr] = value
    return out


class NodeIndex:
    """What ``nodelist`` says about every enabled node: names, group lists,
    hidden flags, and what is derived from them (group members, lookup chains).

    Read-only once built: the daemon shares one between requests for as long
    as the store's generation stays the same (:meth:`Store.shared`).
    """

    def __init__(self, index: dict[str, str | None], hidden: set[str]) -> None:
        self.index = index
        self.hidden = hidden
        self._groups: dict[str, list[str]] | None = None
        self._static: dict[str, set[str]] | None = None
        self._chains: dict[str, tuple[str, ...]] | None = None
        self._group_names: set[str] | None = None
        self._names: frozenset[str] | None = None

    @classmethod
    def read(cls, store: Store, conn: Any) -> NodeIndex:
        """Node names, their group lists and hidden flags: the columns nearly
        every request needs, read without building a row per node."""
        t = store.table("nodelist")
        stmt = sa.select(t.c.node, t.c.groups, t.c.hidden, t.c.disable)
        index: dict[str, str | None] = {}
        hidden: set[str] = set()
        enabled_values = _ENABLED
        for node, groups, hid, disable in conn.execute(stmt).fetchall():
            if disable is not None and str(disable) not in enabled_values:
                continue
            index[node] = groups
            if hid == "1":
                hidden.add(node)
        return cls(index, hidden)

    @property
    def names(self) -> frozenset[str]:
        if self._names is None:
            self._names = frozenset(self.index)
        return self._names

    @property
    def groups(self) -> dict[str, list[str]]:
        """node -> its groups, in ``nodelist.groups`` order."""
        if self._groups is None:
            # Many nodes share one groups text: split each text once.
            split: dict[str | None, list[str]] = {}
            groups: dict[str, list[str]] = {}
            for node, text in self.index.items():
                items = split.get(text)
                if items is None:
                    items = split[text] = split_list(text)
                groups[node] = items
            self._groups = groups
        return self._groups

    def static_groups(self) -> dict[str, set[str]]:
        """group -> member nodes."""
        if self._static is None:
            index: dict[str, set[str]] = defaultdict(set)
            for node, groups in self.groups.items():
                for g in groups:
                    index[g].add(node)
            self._static = dict(index)
        return self._static

    def chains(self) -> dict[str, tuple[str, ...]]:
        """node -> (node, group1, group2, ...): where its values are looked for, in order."""
        if self._chains is None:
            self._chains = {n: (n, *g) for n, g in self.groups.items()}
        return self._chains

    def group_names(self) -> set[str]:
        if self._group_names is None:
            self._group_names = set(self.static_groups())
        return self._group_names


class NodeView:
    """A per-request, read-only view of nodes, groups, site and attribute rows.

    Everything is read lazily and at most once per table.  In the daemon the
    node index and ``site`` come from the store's shared cache, which holds
    them until any write changes the store's generation.
    """

    def __init__(self, store: Store, conn: Any) -> None:
        self.store = store
        self.conn = conn
        self._nodelist: dict[str, dict[str, str | None]] | None = None
        self._ni: NodeIndex | None = None
        self._site: dict[str, str] | None = None
        self._generation: object = _UNKNOWN
        self._filled: dict[str, frozenset[str]] = {}

    def shared(self, key: str, build: Callable[[], _T]) -> _T:
        """``build()``, or the daemon's copy of it for the current generation.

        Never once this view's transaction has written: its changes are not
        committed yet and must be neither shared nor hidden by the cache.
        """
        cache = self.store.cache
        if cache is None or not self.store.may_share(self.conn):
            return build()
        if self._generation is _UNKNOWN:
            self._generation = self.store.generation(self.conn)
        if self._generation is None:
            return build()
        return cache.get(self._generation, key, build)  # type: ignore[arg-type]

    # -- nodelist ---------------------------------------------------------
    @property
    def index(self) -> NodeIndex:
        if self._ni is None:
            self._ni = self.shared("nodeindex", lambda: NodeIndex.read(self.store, self.conn))
        return self._ni

    @property
    def node_index(self) -> dict[str, str | None]:
        """node -> its ``nodelist.groups`` text, for every enabled node."""
        return self.index.index

    def hidden_nodes(self) -> set[str]:
        """Nodes with ``nodelist.hidden`` = 1."""
        return self.index.hidden

    @property
    def nodelist(self) -> dict[str, dict[str, str | None]]:
        """Whole ``nodelist`` rows by node (read on first use; most requests
        need only :attr:`node_index`)."""
        if self._nodelist is None:
            t = self.store.table("nodelist")
            cols = list(get_table("nodelist").columns)
            rows = self.conn.execute(sa.select(*(t.c[c] for c in cols)))
            self._nodelist = {}
            for rec in rows:
                row = dict(zip(cols, rec, strict=True))
                if enabled(row):
                    self._nodelist[rec[0]] = row
        return self._nodelist

    def node_names(self) -> list[str]:
        return list(self.node_index)

    def groups_of(self, node: str) -> list[str]:
        return self.index.groups.get(node, [])

    def static_groups(self) -> dict[str, set[str]]:
        """group -> member nodes, from every node's ``nodelist.groups`` (built once)."""
        return self.index.static_groups()

    # -- site -------------------------------------------------------------
    @property
    def site(self) -> dict[str, str]:
        if self._site is None:
            self._site = self.shared("site", self._read_site)
        return self._site

    def _read_site(self) -> dict[str, str]:
        t = self.store.table("site")
        return {k: v for k, v in self.conn.execute(sa.select(t.c.key, t.c.value)) if k}

    # -- attributes -------------------------------------------------------
    def rows_for(
        self,
        table: str,
        columns: Sequence[str],
        keys: Iterable[str] | None,
        *,
        include_disabled: bool = False,
    ) -> dict[str, list[dict[str, str | None]]]:
        """Rows of a node-keyed table by node/group name (one query).

        Disabled rows are left out unless ``include_disabled`` (writers need them).
        """
        spec = get_table(table)
        t = self.store.table(table)
        keycol = spec.keys[0]
        cols = [keycol, *[c for c in columns if c != keycol]]
        check = not include_disabled and "disable" in spec.columns and "disable" not in cols
        stmt = sa.select(*(t.c[c] for c in cols), *([t.c.disable] if check else []))
        wanted = None if keys is None else set(keys)
        out: dict[str, list[dict[str, str | None]]] = defaultdict(list)
        if wanted is not None and len(wanted) <= _IN_LIMIT:
            stmt = stmt.where(t.c[keycol].in_(sorted(wanted)))
            wanted = None
        for rec in self.conn.execute(stmt):
            key = rec[0]
            if wanted is not None and key not in wanted:
                continue
            row = dict(zip(cols, rec[: len(cols)], strict=True))
            if check and not _enabled_value(rec[-1]):
                continue
            if not include_disabled and not enabled(row):
                continue
            out[key].append(row)
        return out

    def hierarchical(self) -> dict[str, str]:
        """column -> delimiter, from ``site.hierarchicalattrs``."""
        text = self.site.get("hierarchicalattrs") or ""
        out: dict[str, str] = {}
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, delim = item.partition(":")
            out[name.strip()] = delim or ","
        return out

    def attributes(
        self,
        nodes: Sequence[str],
        wanted: Mapping[str, Sequence[str]],
        *,
        resolve_regex: bool = True,
        ordered: bool = True,
    ) -> AttrResult:
        """Values of ``wanted`` (table -> columns) for ``nodes``, inherited and evaluated.

        Each column's ``{node: value}`` follows the order of ``nodes`` unless
        ``ordered`` is false (the caller looks values up by node only).
        """
        result = AttrResult()
        nodeset = None if ordered else frozenset(nodes)
        hier = self.hierarchical()
        needed: set[str] | None = None
        if wanted:
            needed = set(nodes)
            chains = self.chains()
            for node in nodes:
                needed.update(chains.get(node, ()))
                if len(needed) > _IN_LIMIT:
                    needed = None
                    break
        if needed is None and self._may_probe(sum(map(len, wanted.values()))):
            self.probe_filled([t for t in wanted if t in TABLES])
        for table, columns in wanted.items():
            spec = get_table(table)
            for c in columns:
                if c not in spec.columns:
                    from xcatpy.errors import UnknownColumnError

                    raise UnknownColumnError(table, c)
            if table == "nodelist":
                known = self.node_index
                percol = self.column_values("nodelist", list(columns), needed)
                for c in columns:
                    values = percol.get(c)
                    if not values:
                        continue
                    get = values.get
                    out = {}
                    for node in nodes:
                        v = get(node)
                        if v is not None and node in known:
                            out[node] = v
                    if out:
                        result.columns[(table, c)] = out
                continue
            if not spec.node_keyed:
                raise StoreError(f"table {table} is not keyed by node")
            self._resolve_table(
                result, nodes, table, list(columns), hier, resolve_regex, needed, nodeset
            )
        return result

    def chains(self) -> dict[str, tuple[str, ...]]:
        """node -> (node, group1, group2, ...): where its values are looked for, in order."""
        return self.index.chains()

    def group_names(self) -> set[str]:
        """Every group some node belongs to (through ``nodelist.groups``)."""
        return self.index.group_names()

    def column_values(
        self, table: str, columns: Sequence[str], keys: set[str] | None
    ) -> dict[str, dict[str, str]]:
        """column -> {node or group: first defined value} for enabled rows (one query).

        Works on raw records, a column at a time, without building a dict per
        row: this is the inner loop of every bulk read.
        """
        spec = get_table(table)
        t = self.store.table(table)
        keycol = spec.keys[0]
        cols = [c for c in dict.fromkeys(columns) if c != keycol]
        has_disable = "disable" in spec.columns
        scan = keys is None or len(keys) > _IN_LIMIT
        read = cols
        if scan and self._may_probe(len(cols)):
            # A scan reads only the columns some row fills: empty cells cost
            # as much to fetch as full ones, and most columns are empty.
            filled = self.filled_columns(table)
            read = [c for c in cols if c in filled]
            has_disable = has_disable and "disable" in filled
            if not read and keycol not in columns:
                return {c: {} for c in cols}
        stmt = sa.select(t.c[keycol], *(t.c[c] for c in read),
                         *([t.c.disable] if has_disable else []))
        wanted = keys
        if not scan:
            stmt = stmt.where(t.c[keycol].in_(sorted(wanted)))  # type: ignore[arg-type]
            wanted = None
        recs = self._fetch(stmt)
        if has_disable:
            enabled_values = _ENABLED
            if any(r[-1] is not None for r in recs):
                recs = [r for r in recs if r[-1] is None or str(r[-1]) in enabled_values]
        if wanted is not None:
            recs = [r for r in recs if r[0] in wanted]
        out: dict[str, dict[str, str]] = {c: {} for c in cols}
        if not recs:
            return out | ({keycol: {}} if keycol in columns else {})
        keys_seq = [r[0] for r in recs]
        unique = len(set(keys_seq)) == len(keys_seq)
        if not unique:
            # The first enabled row of a key wins: read the rows backwards.
            recs = recs[::-1]
            keys_seq = keys_seq[::-1]
        for i, c in enumerate(read, 1):
            vals = [r[i] for r in recs]
            if not any(vals):
                continue
            # Every column is text: values come back as str (or None).
            out[c] = {k: v for k, v in zip(keys_seq, vals, strict=True) if v}
        if keycol in columns:
            out[keycol] = {k: k for k in keys_seq}
        return out

    def _may_probe(self, columns: int) -> bool:
        """Whether a scan for ``columns`` columns should read only the filled ones.

        Never after this view's transaction has written (a column it filled
        would be missed); otherwise when the daemon keeps the answer, or when
        enough columns are wanted to pay for asking.
        """
        if self.store.has_written(self.conn):
            return False
        return self.store.cache is not None or columns >= _PROBE_FROM

    def _fetch(self, stmt: Any) -> list[Any]:
        """Every row of a SELECT, as tuples, in one call.

        A statement without bound values goes straight to the driver's cursor:
        on a scan of 20,000 rows SQLAlchemy's Row objects cost as much again
        as the fetch itself.  Reads only; the connection's transaction, if
        any, is the same.
        """
        compiled = stmt.compile(dialect=self.conn.dialect)
        if compiled.params:
            return self.conn.execute(stmt).fetchall()  # type: ignore[no-any-return]
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(str(compiled))
            return cursor.fetchall()  # type: ignore[no-any-return]
        finally:
            cursor.close()

    def filled_columns(self, table: str) -> frozenset[str]:
        """The columns of ``table`` that hold a value (not NULL, not '') in some row.

        Counted inside the database (see :meth:`probe_filled`); the daemon
        keeps the answer until the next write.
        """
        if table not in self._filled:
            self.probe_filled([table])
        return self._filled[table]

    def probe_filled(self, tables: Sequence[str]) -> None:
        """Learn :meth:`filled_columns` of several tables with one statement."""
        todo = sorted({t for t in tables if t not in self._filled})
        if todo:
            self._filled.update(self.shared("filled:" + ",".join(todo),
                                            lambda: self._count_filled(todo)))

    def _count_filled(self, tables: list[str]) -> dict[str, frozenset[str]]:
        width = max(len(get_table(t).columns) for t in tables)
        selects = []
        for i, table in enumerate(tables):
            t = self.store.table(table)
            counts = [
                sa.func.count(t.c[c]) if isinstance(t.c[c].type, sa.Integer)
                else sa.func.count(sa.func.nullif(t.c[c], ""))
                for c in get_table(table).columns
            ]
            pad = [sa.literal(0) for _ in range(width - len(counts))]
            selects.append(sa.select(sa.literal(i), *counts, *pad))
        stmt = selects[0] if len(selects) == 1 else sa.union_all(*selects)
        out: dict[str, frozenset[str]] = {}
        for rec in self.conn.execute(stmt).fetchall():
            table = tables[int(rec[0])]
            cols = get_table(table).columns
            out[table] = frozenset(c for c, n in zip(cols, rec[1:], strict=False) if n)
        return out

    def _resolve_table(
        self,
        result: AttrResult,
        nodes: Sequence[str],
        table: str,
        columns: list[str],
        hier: Mapping[str, str],
        resolve_regex: bool,
        needed: set[str] | None,
        nodeset: frozenset[str] | None = None,
    ) -> None:
        chains = self.chains()
        per_column = self.column_values(table, columns, needed)
        groups = self.group_names()
        for col in columns:
            colvals = per_column.get(col)
            if not colvals:
                continue
            attr = (table, col)
            delim = hier.get(col)
            distinct = set(colvals.values())
            # One substring search over all the values first: most columns
            # hold neither +=NEXTRECORD nor a regex, and then no value is tested.
            joined = "\n".join(distinct)
            slow = delim is not None or (
                NEXTRECORD in joined and any(v.endswith(NEXTRECORD) for v in distinct)
            )
            regexes: set[str] = set()
            if resolve_regex and ("\n/" in joined or "\n|" in joined
                                  or joined.startswith(("/", "|"))):
                regexes = {v for v in distinct if is_regex_value(v)}
            get = colvals.get
            values: dict[str, str]
            sources: dict[str, str] = {}
            if not slow and colvals.keys().isdisjoint(groups):
                # No group defines this column: each node has its own value or none.
                if nodeset is not None and not regexes and colvals.keys() <= nodeset:
                    values = colvals  # exactly the nodes' own values, in any order
                else:
                    values = {node: v for node in nodes if (v := get(node)) is not None}
            elif not slow:
                values = {}
                for node in nodes:
                    value = get(node)
                    if value is None:
                        for name in chains.get(node) or ():
                            value = get(name)
                            if value is not None:
                                sources[node] = name
                                break
                        else:
                            continue
                    values[node] = value
            else:
                values = {}
                for node in nodes:
                    value, source = _inherit(node, chains.get(node) or (node,), colvals, delim)
                    if not value:
                        continue
                    values[node] = value
                    if source is not None:
                        sources[node] = source
            if regexes or (slow and resolve_regex):
                for node, value in list(values.items()):
                    if value not in regexes and not (
                        slow and resolve_regex and is_regex_value(value)
                    ):
                        continue
                    try:
                        evaluated = evaluate(value, node)
                    except RegexValueError as exc:
                        result.errors[node].append(f"{table}.{col}: {exc.message}")
                        evaluated = ""
                    if evaluated:
                        values[node] = evaluated
                    else:
                        del values[node]
                        sources.pop(node, None)
            if values:
                result.columns[attr] = values
            if sources:
                result.column_sources[attr] = sources


def _inherit(
    node: str,
    chain: Sequence[str],
    colvals: Mapping[str, str],
    hier_delim: str | None,
) -> tuple[str | None, str | None]:
    """One attribute for one node the slow way: (value, where it came from or None).

    The source is None for the node's own value; otherwise the group, or for a
    ``+=NEXTRECORD`` chain every contributor joined by commas, the node first
    when it started the chain (what xCAT's ``nodels -b`` prints).
    """
    if hier_delim is not None:
        parts: list[str] = []
        for name in chain:
            v = colvals.get(name)
            if v is None:
                continue
            for item in v.split(hier_delim):
                if item and item not in parts:
                    parts.append(item)
        return (hier_delim.join(parts) if parts else None), None
    value = ""
    contributors: list[str] = []
    for name in chain:
        v = colvals.get(name)
        if v is None:
            continue
        contributors.append(name)
        if v.endswith(NEXTRECORD):
            value += v[: -len(NEXTRECORD)]
            continue
        value += v
        break
    if not contributors:
        return None, None
    value = value.replace(NEXTRECORD, "")
    if contributors == [node]:
        return value, None
    return value, ",".join(contributors)


_ENABLED = frozenset({"", "0", "no", "NO", "No", "nO"})


def _enabled_value(value: object) -> bool:
    return value is None or str(value) in _ENABLED


def enabled(row: Mapping[str, object]) -> bool:
    """False for a row xCAT ignores: its ``disable`` column is set to yes/1/..."""
    return _enabled_value(row.get("disable"))


def split_list(value: str | None) -> list[str]:
    """xCAT's comma lists: items trimmed, empties dropped, order kept."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]
