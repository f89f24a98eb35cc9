"""Generic, bulk row operations on any table.

Every function takes an open connection and never commits: the caller owns
the transaction (``with store.begin() as conn:``), so a command's writes land
together or not at all.  Work is done in batches — one SELECT for the keys
that already exist, then executemany inserts and updates — never one
statement per node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from xcatpy.errors import StoreError, UnknownColumnError
from xcatpy.store.db import Store
from xcatpy.store.schema import AUTOINCREMENT_TABLES, get_table
from xcatpy.store.validate import VALIDATORS, check_rows

Row = dict[str, str | None]
Key = tuple[str, ...]
_BATCH = 500
_SCAN_AFTER = 2 * _BATCH  # keys past which existing_keys scans the key columns
_SAME_VALUES = 16  # rows given the same values past which one UPDATE ... IN serves them


def _chunks(seq: Sequence[Any], size: int = _BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def check_columns(table: str, columns: Iterable[str]) -> None:
    spec = get_table(table)
    for col in columns:
        if col not in spec.columns:
            raise UnknownColumnError(table, col)


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def read_rows(
    conn: Any,
    store: Store,
    table: str,
    columns: Sequence[str] | None = None,
    where: Any = None,
) -> list[Row]:
    """All rows of ``table`` (optionally some columns, a SQL filter) as dicts.

    Key columns stored as '' come back as None, so callers see xCAT's NULL.
    """
    spec = get_table(table)
    t = store.table(table)
    cols = list(columns) if columns is not None else list(spec.columns)
    check_columns(table, cols)
    stmt = sa.select(*(t.c[c] for c in cols))
    if where is not None:
        stmt = stmt.where(where)
    keyset = set(spec.keys)
    out: list[Row] = []
    for rec in conn.execute(stmt).fetchall():
        row: Row = {}
        for name, value in zip(cols, rec, strict=True):
            if value == "" and name in keyset:
                value = None
            row[name] = None if value is None else str(value)
        out.append(row)
    return out


def read_tuples(
    conn: Any,
    store: Store,
    table: str,
    where: Any = None,
) -> list[tuple[str | None, ...]]:
    """All rows of ``table`` as tuples in schema column order, with the values
    :func:`read_rows` gives (text; key columns stored as '' come back as None),
    without building a dict per row."""
    spec = get_table(table)
    t = store.table(table)
    cols = list(spec.columns)
    stmt = sa.select(*(t.c[c] for c in cols))
    if where is not None:
        stmt = stmt.where(where)
    recs = conn.execute(stmt).fetchall()
    keys = [i for i, c in enumerate(cols) if c in spec.keys]
    numbers = [i for i, c in enumerate(cols) if not isinstance(t.c[c].type, sa.Text)]
    out: list[tuple[str | None, ...]] = []
    for rec in recs:
        if numbers or any(rec[i] == "" for i in keys):
            row = [None if v is None else str(v) for v in rec]
            for i in keys:
                if row[i] == "":
                    row[i] = None
            out.append(tuple(row))
        else:
            out.append(tuple(rec))
    return out


def existing_keys(
    conn: Any, store: Store, table: str, keys: Iterable[Key],
    columns: Sequence[str] | None = None,
) -> set[Key]:
    """Which of ``keys`` already have a row (batched by the first key column).

    ``columns`` are the columns the keys are made of: the table's key columns
    unless given (object lookups find rows by other columns, e.g. netname).
    """
    cols = tuple(columns) if columns else get_table(table).keys
    t = store.table(table)
    wanted = set(keys)
    if not wanted:
        return set()
    found: set[Key] = set()
    firsts = sorted({k[0] for k in wanted})
    kcols = [t.c[k] for k in cols]
    # Past a few batches one scan of the key columns beats many IN lists.
    queries = ([sa.select(*kcols)] if len(firsts) > _SCAN_AFTER
               else [sa.select(*kcols).where(kcols[0].in_(chunk)) for chunk in _chunks(firsts)])
    for stmt in queries:
        for rec in conn.execute(stmt).fetchall():
            k = tuple("" if v is None else str(v) for v in rec)
            if k in wanted:
                found.add(k)
    return found


def upsert(
    conn: Any,
    store: Store,
    table: str,
    changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    key_columns: Sequence[str] | None = None,
    skip_empty_inserts: bool = False,
) -> tuple[int, int]:
    """Set columns on rows identified by key, creating rows that are missing.

    ``changes`` is a list of (key values, column values).  Rows are found by
    ``key_columns`` (the table's key columns unless given).  With
    ``skip_empty_inserts``, a missing row whose change sets nothing but its
    key is not created.  Returns (inserted, updated).  Unknown columns and
    values the table refuses raise before anything is written.
    """
    spec = get_table(table)
    kcols = tuple(key_columns) if key_columns else spec.keys
    if not changes:
        return (0, 0)
    check_rows(table, ({**keyvals, **values} for keyvals, values in changes))
    known = frozenset(spec.columns)
    need_key = table not in AUTOINCREMENT_TABLES
    for keyvals, values in changes:
        if not known.issuperset(keyvals):
            check_columns(table, keyvals)
        if not known.issuperset(values):
            check_columns(table, values)
        if need_key and not keyvals.get(kcols[0]):
            raise StoreError(f"{table}: a value for key column {kcols[0]} is required")
    # Merge repeated keys so the last write for a column wins, like sequential writes.
    merged: dict[Key, dict[str, Any]] = {}
    for keyvals, values in changes:
        k = tuple("" if keyvals.get(c) is None else str(keyvals[c]) for c in kcols)
        merged.setdefault(k, {}).update(
            {c: v if v is None or v.__class__ is str else str(v) for c, v in values.items()}
        )
    return _write_merged(conn, store, table, kcols, merged, skip_empty_inserts)


def upsert_keyed(
    conn: Any,
    store: Store,
    table: str,
    key_columns: Sequence[str],
    rows: Mapping[Key, Mapping[str, str | None]],
    *,
    skip_empty_inserts: bool = False,
) -> tuple[int, int]:
    """:func:`upsert` for changes already merged by key: ``rows`` maps a tuple
    of the ``key_columns``' values (text, '' for none) to the column values."""
    if not rows:
        return (0, 0)
    kcols = tuple(key_columns)
    spec = get_table(table)
    if table in VALIDATORS:
        check_rows(table, ({**dict(zip(kcols, k, strict=True)), **v} for k, v in rows.items()))
    check_columns(table, kcols)
    known = frozenset(spec.columns)
    for k, values in rows.items():
        if not known.issuperset(values):
            check_columns(table, values)
        if table not in AUTOINCREMENT_TABLES and not k[0]:
            raise StoreError(f"{table}: a value for key column {kcols[0]} is required")
    return _write_merged(conn, store, table, kcols, rows, skip_empty_inserts)


def _write_merged(conn: Any, store: Store, table: str, kcols: tuple[str, ...],
                  merged: Mapping[Key, Mapping[str, Any]],
                  skip_empty_inserts: bool) -> tuple[int, int]:
    have = existing_keys(conn, store, table, merged.keys(), kcols)
    t = store.table(table)
    inserts: list[dict[str, Any]] = []
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    kparams = tuple(f"k_{c}" for c in kcols)
    for k, values in merged.items():
        if k in have:
            if values:
                param = dict(zip(kparams, k, strict=True))
                param.update(values)
                updates[tuple(sorted(values))].append(param)
            continue
        keyrow = dict(zip(kcols, k, strict=True))
        if not skip_empty_inserts or any(
            v not in (None, "") for c, v in values.items() if c not in keyrow
        ):
            inserts.append({**keyrow, **values})
    insert_rows(conn, store, table, inserts)
    for cols, params in updates.items():
        if len(kcols) == 1:
            params = _update_alike(conn, t, kcols[0], cols, params)
        if not params:
            continue
        stmt = (
            t.update()
            .where(sa.and_(*(t.c[k] == sa.bindparam(f"k_{k}") for k in kcols)))
            .values({c: sa.bindparam(c) for c in cols})
        )
        conn.execute(stmt, params)
    return (len(inserts), sum(len(p) for p in updates.values()))


def _update_alike(conn: Any, t: sa.Table, kcol: str, cols: tuple[str, ...],
                  params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Update the rows that get the same values with ``UPDATE ... WHERE key IN``
    (chdef on a group sets one value on thousands of rows); return the others,
    for a per-row executemany."""
    if len(params) < _SAME_VALUES:
        return params
    alike: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for p in params:
        alike[tuple(p[c] for c in cols)].append(p)
    rest: list[dict[str, Any]] = []
    for values, group in alike.items():
        if len(group) < _SAME_VALUES:
            rest.extend(group)
            continue
        keys = [p[f"k_{kcol}"] for p in group]
        stmt = t.update().values(dict(zip(cols, values, strict=True)))
        for chunk in _chunks(keys):
            conn.execute(stmt.where(t.c[kcol].in_(chunk)))
    return rest


def update_where(conn: Any, store: Store, table: str, where: Any,
                 values: Mapping[str, Any]) -> int:
    """Set ``values`` on the rows matching ``where``; checked like every other write."""
    check_columns(table, values)
    check_rows(table, [values])
    t = store.table(table)
    return conn.execute(t.update().where(where).values(dict(values))).rowcount or 0


def insert_rows(conn: Any, store: Store, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert complete rows (columns not given are NULL); duplicates are an error."""
    if not rows:
        return 0
    check_rows(table, rows)
    spec = get_table(table)
    t = store.table(table)
    full: list[dict[str, Any]] = []
    for row in rows:
        check_columns(table, row)
        rec = {c: _norm(row.get(c)) for c in spec.columns}
        for k in spec.keys:
            if rec[k] is None:
                if table in AUTOINCREMENT_TABLES:
                    del rec[k]
                else:
                    rec[k] = ""
        full.append(rec)
    if table in AUTOINCREMENT_TABLES:
        # rows may or may not carry their record id; insert each shape separately
        with_id = [r for r in full if spec.keys[0] in r]
        without = [r for r in full if spec.keys[0] not in r]
        if with_id:
            conn.execute(t.insert(), with_id)
        if without:
            conn.execute(t.insert(), without)
    else:
        conn.execute(t.insert(), full)
    return len(full)


def delete_keys(conn: Any, store: Store, table: str, column: str, values: Iterable[str]) -> int:
    """Delete every row whose ``column`` is one of ``values``; returns the count."""
    check_columns(table, [column])
    t = store.table(table)
    vals = sorted(set(values))
    count = 0
    for chunk in _chunks(vals):
        count += conn.execute(t.delete().where(t.c[column].in_(chunk))).rowcount or 0
    return count


def delete_where(conn: Any, store: Store, table: str, where: Any = None) -> int:
    t = store.table(table)
    stmt = t.delete() if where is None else t.delete().where(where)
    return conn.execute(stmt).rowcount or 0
