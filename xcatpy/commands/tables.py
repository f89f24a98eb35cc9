"""The table commands: tabdump, tabrestore, chtab/tabch, gettab, tabgrep, tabprune.

Every handler here works on any table generically, reads each table it needs
once, and makes all of a command's writes in one transaction, so a failure
leaves the database as it was.  Values are raw: no group inheritance and no
regular-expression evaluation (``nodels``/``lsdef`` do that).

Request formats (``Request.args``; ``Request.stdin`` where noted)
-----------------------------------------------------------------

``tabdump``   ``[-d] [-n N] [-w EXPR]... [table]`` as on the command line.  The
    client keeps ``-f``: it writes the data lines it gets back to the file.
    Private options used by ``dumpxCATdb``: ``--dump-all [--with-logs] [-V]``
    answers with one data response per table, ``desc`` = table name and
    ``text`` = that table's whole CSV without the final newline; auditlog and
    eventlog are left out unless ``--with-logs``, as are the tables named in
    ``XCAT_SKIPTABLES`` (request environment) or else ``site.skiptables``.
    All tables are read in one snapshot.

``tabrestore``  one table: ``[-a] TABLE``, stdin = the CSV text.
    Several tables at once (``restorexCATdb``), restored in one transaction::

        [-a] [-u] [-s] [-V] --boundary B -t TABLE1 -t TABLE2 ...

    stdin holds one section per ``-t``, in the same order; each section
    starts with a line that is exactly ``--B`` and runs to the next such line
    or the end.  The client picks ``B`` (16+ letters or digits) so that it
    occurs in none of the files, as MIME multipart does.  ``-u`` skips, with
    a warning, tables this schema lacks and drops columns it lacks (for dumps
    taken on a real xCAT node); ``-s`` skips the tables named in
    ``XCAT_SKIPTABLES`` or ``site.skiptables``; ``-V`` names each table
    loaded.  Errors name the section as ``TABLE.csv``.

``chtab``/``tabch``  ``[-d] key=val[,key=val] table.col[+]=val ...`` or
    ``-d key=val[,key=val] table ...``.
``gettab``    ``[-H] key=val[,key=val] table.col ...``.
``tabgrep``   the node is the request's noderange.
``tabprune``  ``TABLE [-V] -a|-n N|-i RECID|-p PERCENT|-d DAYS``.

Behaviour kept from xCAT on purpose: ``tabdump -w``, ``tabdump -n``,
``gettab`` and the partial ``tabprune`` modes skip rows whose ``disable`` is
set (anything but empty, ``0`` or ``no``), because xCAT's where-clause reads
do; a plain ``tabdump`` shows every row.  ``=~``/``!~`` are SQL LIKE patterns
matched without regard to ASCII case on every engine (SQLite's default, which
most xCAT sites run), and ``<``/``>`` compare text byte-wise on every engine.

Changed from xCAT on purpose: a restore keeps the record numbers (``recid``)
of auditlog/eventlog rows, where xCAT renumbers them, so that a dump restores
to the same records; a row without a number gets the next free one.  Rows
print in key order (node names naturally: n2 before n10) instead of the
database's order, so dumps compare and diff cleanly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from xcatpy.commands._util import parse_opts, reading, request_nodes
from xcatpy.commands.context import Context
from xcatpy.errors import (
    CSVFormatError,
    DuplicateKeyError,
    StoreError,
    UnknownColumnError,
    UnknownTableError,
    UsageError,
    XcatError,
)
from xcatpy.noderange import natural_key
from xcatpy.protocol import Request, Response, data, info, warning
from xcatpy.store import csvio, rows
from xcatpy.store.schema import AUTOINCREMENT_TABLES, TABLES, TableSpec, get_table

LOG_TABLES = ("auditlog", "eventlog")

USAGE = {
    "tabdump": (
        "Usage: tabdump [-d] [table]\n"
        "       tabdump [-f <filename>] [-w attr==val [-w attr=~val] ...] [table]\n"
        "       tabdump [-n <# of records>] [auditlog | eventlog]\n"
        "       tabdump [-?|-h|--help]\n"
        "       tabdump {-v|--version}"
    ),
    "tabrestore": (
        "Usage: tabrestore [-a|--addrows] <tablename>.csv\n"
        "       tabrestore [-?|-h|--help]\n"
        "       tabrestore [-v|--version]"
    ),
    "chtab": (
        "Usage:\n"
        " To add or update rows for tables:\n"
        "   {cmd} keycolname=keyvalue[,keycolname=keyvalue...] "
        "tablename.colname=newvalue [tablename.colname=newvalue...]\n"
        " To delete rows from tables:\n"
        "   {cmd} -d|--delete keycolname=keyvalue[,keycolname=keyvalue...] "
        "tablename [tablename...]"
    ),
    "gettab": (
        "Usage: gettab [-H|--with-fieldname] key=value,...  table.attribute ...\n"
        "       gettab [-?|-h|--help]"
    ),
    "tabgrep": "Usage: tabgrep nodename\n       tabgrep [-?|-h|--help]",
    "tabprune": (
        "Usage: tabprune <tablename> [-V] -a\n"
        "       tabprune <tablename> [-V] -n <# of records>\n"
        "       tabprune <tablename> [-V] -i <recid>\n"
        "       tabprune <tablename> [-V] -p <percent>\n"
        "       tabprune <tablename> [-V] -d <# of days>\n"
        "       tabprune [-h|--help]\n"
        "       tabprune [-v|--version]\n"
        "       tables supported:eventlog,auditlog\n"
        "       -d option only supported for eventlog,auditlog"
    ),
}


# -- shared helpers --------------------------------------------------------


def _sort_key(spec: TableSpec, row: Mapping[str, str | None]) -> tuple[Any, ...]:
    if spec.name in AUTOINCREMENT_TABLES:
        v = row.get(spec.keys[0])
        return (int(v) if v else -1,)
    return tuple(natural_key(row.get(k) or "") for k in spec.keys)


def _sorted(spec: TableSpec, found: Iterable[Mapping[str, str | None]]) -> list[Any]:
    return sorted(found, key=lambda r: _sort_key(spec, r))


def _enabled(t: sa.Table) -> Any:
    """xCAT's filter for rows that are not disabled."""
    col = t.c["disable"]
    return sa.or_(col.is_(None), col.in_(("", "0", "no", "NO", "No", "nO")))


def _csv_lines(spec: TableSpec, found: Iterable[Mapping[str, str | None]]) -> list[str]:
    return list(csvio.dump_lines(spec.columns, _sorted(spec, found)))


def _table_lines(conn: Any, ctx: Context, spec: TableSpec, where: Any = None) -> list[str]:
    """:func:`_csv_lines` of the rows of ``spec``'s table that match ``where``,
    read as tuples (a dict per row cost more than the query)."""
    found = rows.read_tuples(conn, ctx.store, spec.name, where=where)
    cols = list(spec.columns)
    if spec.name in AUTOINCREMENT_TABLES:
        k = cols.index(spec.keys[0])
        found.sort(key=lambda r: (int(r[k]) if r[k] else -1,))
    elif len(spec.keys) == 1:
        k = cols.index(spec.keys[0])
        found.sort(key=lambda r: natural_key(r[k] or ""))
    else:
        ks = [cols.index(c) for c in spec.keys]
        found.sort(key=lambda r: tuple(natural_key(r[i] or "") for i in ks))
    return list(csvio.dump_lines(spec.columns, found))


def _skiptables(conn: Any, ctx: Context, req: Request) -> set[str]:
    """Tables named by XCAT_SKIPTABLES, or else by site.skiptables."""
    text = req.environment.get("XCAT_SKIPTABLES")
    if text is None:
        t = ctx.store.table("site")
        text = conn.execute(sa.select(t.c.value).where(t.c.key == "skiptables")).scalar()
    return {name.strip() for name in (text or "").split(",") if name.strip()}


def _snapshot(conn: Any) -> None:
    """Make the reads that follow on ``conn`` see one consistent state."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    elif conn.dialect.name == "sqlite":
        # pysqlite only opens a transaction for writes; readers need their own
        conn.exec_driver_sql("BEGIN")


def _key_text(spec: TableSpec, key: Sequence[str]) -> str:
    return ",".join(f"{k}={v}" for k, v in zip(spec.keys, key, strict=True))


def _pairs(text: str, cmd: str) -> dict[str, str]:
    """``col=val[,col=val]`` → {col: val}; commas cannot be part of a value."""
    out: dict[str, str] = {}
    for item in text.split(","):
        col, eq, val = item.partition("=")
        if not eq or not col:
            raise UsageError(f'Incorrect argument "{item}": expected column=value ({cmd})')
        out[col] = val
    return out


def _match(col: Any, value: str) -> Any:
    """Row filter for a ``col=value`` selector; an empty value matches unset."""
    if value == "":
        return sa.or_(col.is_(None), col == "")
    return col == value


def _integrity(table: str) -> DuplicateKeyError:
    return DuplicateKeyError(f"{table}: the change would give two rows the same key")


# -- tabdump ---------------------------------------------------------------

_W_OPS = (
    # (pattern the argument must match, operator) in xCAT's order of tests
    (re.compile(r"^[^=]*=="), "=="),
    (re.compile(r"^[^=]*=~"), "=~"),
    (re.compile(r"^[^=]*!="), "!="),
    (re.compile(r"[^=]*!~"), "!~"),
    (re.compile(r"^[^=]*<="), "<="),
    (re.compile(r"^[^=]*<"), "<"),
    (re.compile(r"^[^=]*>="), ">="),
    (re.compile(r"^[^=]*>"), ">"),
)


def parse_where(expr: str) -> tuple[str, str, str]:
    """``attr<op>value`` → (attr, op, value), operators tried in xCAT's order.

    For ``=~`` and ``!~`` a value written between slashes loses them, as in
    xCAT.  Raises UsageError for anything else.
    """
    for pattern, op in _W_OPS:
        if pattern.search(expr):
            attr, _, value = expr.partition(op)
            if op in ("=~", "!~"):
                value = value.removeprefix("/").removesuffix("/")
            if not attr:
                break
            return attr, op, value
    raise UsageError(f"Unsupported operator in -w {expr}: use ==, !=, <, <=, >, >=, =~ or !~")


def _where_clause(t: sa.Table, spec: TableSpec, expr: str, dialect: str) -> Any:
    attr, op, value = parse_where(expr)
    if attr not in spec.columns:
        raise UnknownColumnError(spec.name, attr)
    col: Any = t.c[attr]
    numeric = spec.name in AUTOINCREMENT_TABLES and attr == spec.keys[0]
    if op in ("=~", "!~"):
        if numeric:
            col = sa.cast(col, sa.Text)
        like = col.ilike(value, escape="\\")
        return like if op == "=~" else sa.not_(like)
    bound: Any = value
    if numeric:
        try:
            bound = int(value)
        except ValueError:
            raise UsageError(f"-w {expr}: {attr} is a whole number") from None
    elif dialect == "postgresql":
        col = col.collate("C")
    return {
        "==": col == bound, "!=": col != bound, "<": col < bound,
        "<=": col <= bound, ">": col > bound, ">=": col >= bound,
    }[op]


def _described(name: str, text: str) -> str:
    """xCAT's layout: two tabs after a short name, one after a long one."""
    return name + ":" + ("\t\t" if len(name) < 7 else "\t") + text


def _descriptions(table: str | None) -> Iterator[Response]:
    if table is None:
        items = sorted(_described(n, s.description) for n, s in TABLES.items())
    else:
        spec = get_table(table)
        items = [_described(c, spec.column_docs.get(c, "")) for c in spec.columns]
    # xCAT leaves a blank line between entries
    for i, item in enumerate(items):
        yield data(item if i == len(items) - 1 else item + "\n")


def tabdump(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(
        req.args, "dn:w:V", ["lines=", "dump-all", "with-logs", "verbose"], USAGE["tabdump"]
    )
    if "--dump-all" in opts:
        yield from _dump_all(req, ctx, "--with-logs" in opts, bool({"-V", "--verbose"} & set(opts)))
        return
    desc = "-d" in opts
    wheres = opts.get("-w", [])
    count_text = (opts.get("-n") or opts.get("--lines") or [None])[-1]
    if count_text is not None:
        if desc:
            raise UsageError("You  cannot use the -n and -d flag together.")
        if wheres:
            raise UsageError("You  cannot use the -n and -w flag together.")
    if len(rest) > 1:
        raise UsageError(USAGE["tabdump"])
    if not rest:
        if desc:
            yield from _descriptions(None)
        else:
            for name in sorted(TABLES):
                yield data(name)
        return
    table = rest[0]
    spec = get_table(table)
    if desc:
        yield from _descriptions(table)
        return
    t = ctx.store.table(table)
    with ctx.store.connect() as conn:
        if count_text is not None:
            yield from _dump_recent(conn, ctx, spec, t, count_text)
            return
        where = None
        if wheres:
            dialect = conn.dialect.name
            where = sa.and_(_enabled(t), *(_where_clause(t, spec, w, dialect) for w in wheres))
        lines = _table_lines(conn, ctx, spec, where)
    for line in lines:
        yield data(line)


def _dump_recent(conn: Any, ctx: Context, spec: TableSpec, t: sa.Table, count_text: str
                 ) -> Iterator[Response]:
    if spec.name not in LOG_TABLES:
        raise UsageError(
            f"{spec.name} table is not supported in tabdump -n. "
            "You may only use this option on the auditlog or the eventlog."
        )
    try:
        count = int(count_text)
    except ValueError:
        raise UsageError(f"-n needs a number of records, not {count_text}") from None
    recid = t.c[spec.keys[0]]
    top = conn.execute(sa.select(sa.func.max(recid))).scalar()
    if top is None:
        yield data(f"Nothing to display from {spec.name}.")
        return
    for line in _table_lines(conn, ctx, spec, sa.and_(recid > int(top) - count, _enabled(t))):
        yield data(line)


def _dump_all(req: Request, ctx: Context, with_logs: bool, verbose: bool) -> Iterator[Response]:
    out: list[Response] = []
    with ctx.store.connect() as conn:
        _snapshot(conn)
        skip = _skiptables(conn, ctx, req)
        for name in sorted(TABLES):
            if (name in LOG_TABLES and not with_logs) or name in skip:
                if verbose:
                    out.append(info(f"Skipping {name}"))
                continue
            out.append(data("\n".join(_table_lines(conn, ctx, TABLES[name])), desc=name))
    yield from out


# -- tabrestore ------------------------------------------------------------

_BOUNDARY = re.compile(r"[A-Za-z0-9]{16,}")


def split_sections(text: str, boundary: str, tables: Sequence[str]) -> list[tuple[str, str]]:
    """Cut a multi-table stdin into (table, csv text) pairs; see the module doc."""
    if not _BOUNDARY.fullmatch(boundary):
        raise UsageError("--boundary must be at least 16 letters or digits")
    marker = "--" + boundary
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r") == marker]
    if not starts or starts[0] != 0 or len(starts) != len(tables):
        raise UsageError(
            f"tabrestore: stdin holds {len(starts)} sections for {len(tables)} tables"
        )
    ends = [*starts[1:], len(lines)]
    return [
        (table, "\n".join(lines[s + 1 : e]))
        for table, s, e in zip(tables, starts, ends, strict=True)
    ]


def _named(exc: XcatError, table: str | None) -> XcatError:
    """``exc`` with its message prefixed by the section's file name, when there is one."""
    if table is not None:
        exc.message = f"{table}.csv: {exc.message}"
        exc.args = (exc.message,)
    return exc


def _restore_rows(spec: TableSpec, parsed: csvio.CSVTable) -> list[dict[str, Any]]:
    """Rows to insert; CSVFormatError/DuplicateKeyError for bad record numbers or keys."""
    auto = spec.name in AUTOINCREMENT_TABLES
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    for line, rec in parsed.records():
        row: dict[str, Any] = dict(rec)
        if auto:
            recid = row.get(spec.keys[0])
            if recid is not None:
                try:
                    row[spec.keys[0]] = int(recid)
                except ValueError:
                    raise CSVFormatError(
                        f"{spec.keys[0]} must be a whole number, not {recid!r}", line
                    ) from None
                key: tuple[str, ...] = (str(int(recid)),)
            else:
                key = ()
        else:
            key = tuple(row.get(k) or "" for k in spec.keys)
        if key:
            if key in seen:
                raise DuplicateKeyError(
                    f"line {line}: duplicate key {_key_text(spec, key)} "
                    f"(first on line {seen[key]})"
                )
            seen[key] = line
        out.append(row)
    return out


def _parse_section(spec: TableSpec, text: str, ignore_unknown: bool, label: str | None
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        parsed = csvio.parse(text, spec.columns, table=spec.name, ignore_unknown=ignore_unknown)
        return _restore_rows(spec, parsed), parsed.dropped
    except (CSVFormatError, DuplicateKeyError, UnknownColumnError) as exc:
        raise _named(exc, label) from None


def _check_append(conn: Any, ctx: Context, spec: TableSpec, new: list[dict[str, Any]],
                  label: str | None) -> None:
    keys = [tuple(str(r.get(k) if r.get(k) is not None else "") for k in spec.keys)
            for r in new if spec.name not in AUTOINCREMENT_TABLES
            or r.get(spec.keys[0]) is not None]
    clash = rows.existing_keys(conn, ctx.store, spec.name, keys)
    if clash:
        first = min(clash, key=lambda k: [natural_key(v) for v in k])
        raise _named(DuplicateKeyError(
            f"key {_key_text(spec, first)} already exists in table {spec.name}"), label)


def _resync_sequence(conn: Any, table: str, column: str) -> None:
    """After explicit record numbers, let PostgreSQL's next number follow the largest."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
        f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
    )


Plan = list[tuple[TableSpec, list[dict[str, Any]], str | None]]


def _sections(req: Request, opts: dict[str, list[str]], rest: list[str]
              ) -> tuple[list[tuple[str, str]], bool]:
    """The request's (table, csv text) pairs, and whether it named several tables."""
    if req.stdin is None:
        raise UsageError("tabrestore: no CSV data in the request\n" + USAGE["tabrestore"])
    if "-t" not in opts:
        if len(rest) != 1:
            raise UsageError(USAGE["tabrestore"])
        return [(rest[0], req.stdin)], False
    if rest:
        raise UsageError(USAGE["tabrestore"])
    boundary = (opts.get("--boundary") or [""])[-1]
    sections = split_sections(req.stdin, boundary, opts["-t"])
    names = [t for t, _ in sections]
    dupes = sorted({t for t in names if names.count(t) > 1})
    if dupes:
        raise UsageError(f"tabrestore: table {dupes[0]} given more than once")
    return sections, True


def _plan(sections: list[tuple[str, str]], multi: bool, ignore_unknown: bool,
          notes: list[Response]) -> Plan:
    """Parse and check every section before anything is written."""
    plan: Plan = []
    for table, text in sections:
        label = table if multi else None
        if table not in TABLES:
            if ignore_unknown:
                notes.append(warning(f"Skipping {table}.csv: {table} is not a table of this schema"))
                continue
            raise _named(UnknownTableError(table), label)
        spec = TABLES[table]
        new, dropped = _parse_section(spec, text, ignore_unknown, label)
        if dropped:
            notes.append(warning(
                f"{table}.csv: dropping column{'s' if len(dropped) > 1 else ''} "
                f"{', '.join(dropped)}: not in table {table}"))
        plan.append((spec, new, label))
    return plan


def _load(conn: Any, ctx: Context, plan: Plan, append: bool) -> None:
    if append:
        for spec, new, label in plan:
            _check_append(conn, ctx, spec, new, label)
    for spec, new, _ in plan:
        try:
            if not append:
                rows.delete_where(conn, ctx.store, spec.name)
            rows.insert_rows(conn, ctx.store, spec.name, new)
        except sa.exc.IntegrityError:
            raise _integrity(spec.name) from None
        if spec.name in AUTOINCREMENT_TABLES:
            _resync_sequence(conn, spec.name, spec.keys[0])


def tabrestore(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(
        req.args, "at:usV", ["addrows", "boundary=", "ignore-unknown", "skiptables", "verbose"],
        USAGE["tabrestore"],
    )
    given = set(opts)
    sections, multi = _sections(req, opts, rest)
    notes: list[Response] = []
    plan = _plan(sections, multi, bool({"-u", "--ignore-unknown"} & given), notes)
    with ctx.store.begin() as conn:
        if {"-s", "--skiptables"} & given:
            skip = _skiptables(conn, ctx, req)
            notes.extend(info(f"Skipping {p[0].name}") for p in plan if p[0].name in skip)
            plan = [p for p in plan if p[0].name not in skip]
        _load(conn, ctx, plan, bool({"-a", "--addrows"} & given))
    yield from notes
    if {"-V", "--verbose"} & given:
        for spec, _, _ in plan:
            yield info(f"Restoring {spec.name}.")


# -- chtab / tabch ---------------------------------------------------------


def _is_assignment(arg: str) -> bool:
    left = arg.partition("=")[0]
    return "." in left


def _assignments(args: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
    """``table.col=val`` / ``table.col+=val`` → {table: [(column, op, value)]}."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for arg in args:
        left, eq, value = arg.partition("=")
        op = "="
        if left.endswith("+"):
            left, op = left[:-1], "+="
        table, dot, column = left.partition(".")
        if not eq or not dot or not table or not column:
            raise UsageError(f"Malformed argument {arg}: expected table.column=value")
        out.setdefault(table, []).append((column, op, value))
    return out


def _merge_list(current: str | None, value: str) -> str:
    """xCAT's ``+=``: existing items then new ones, each once."""
    existing = [v for v in (current or "").split(",") if v]
    if not existing:
        return value
    merged: list[str] = []
    for item in [*existing, *value.split(",")]:
        if item not in merged:
            merged.append(item)
    return ",".join(merged)


def _set_row(conn: Any, ctx: Context, spec: TableSpec, keyhash: Mapping[str, str],
             changes: Sequence[tuple[str, str, str]]) -> None:
    t = ctx.store.table(spec.name)
    where = sa.and_(*(_match(t.c[k], v) for k, v in keyhash.items()))
    appended = sorted({c for c, op, _ in changes if op == "+="})
    current: dict[str, str | None] = {}
    found = conn.execute(
        sa.select(*(t.c[k] for k in spec.keys), *(t.c[c] for c in appended)).where(where)
    ).fetchall()
    if found:
        first = min(found, key=lambda r: [natural_key(str(v or "")) for v in r[: len(spec.keys)]])
        current = dict(zip(appended, first[len(spec.keys):], strict=True))
    values: dict[str, str | None] = {}
    for column, op, value in changes:
        if op == "+=":
            value = _merge_list(values.get(column, current.get(column)), value)
            current[column] = value
        # an empty value unsets the column; key columns hold '' for that
        values[column] = value if value != "" or column in spec.keys else None
    if found:
        rows.update_where(conn, ctx.store, spec.name, where, values)
        return
    row: dict[str, Any] = {**keyhash, **values}
    auto = spec.name in AUTOINCREMENT_TABLES
    if not auto and not row.get(spec.keys[0]):
        raise StoreError(f"{spec.name}: a value for key column {spec.keys[0]} is required")
    rows.insert_rows(conn, ctx.store, spec.name, [row])


def _change(req: Request, ctx: Context, cmd: str) -> Iterator[Response]:
    usage = USAGE["chtab"].format(cmd=cmd)
    opts, rest = parse_opts(req.args, "d", ["delete"], usage)
    delete = bool({"-d", "--delete"} & set(opts))
    if not rest:
        raise UsageError(usage)
    keyhash: dict[str, str] = {}
    if not _is_assignment(rest[0]):
        keyhash = _pairs(rest[0], cmd)
        rest = rest[1:]
    if not keyhash:
        raise UsageError(f"{cmd}: give the row's key as key=value first\n{usage}")
    if delete:
        if not rest:
            raise UsageError(f"Missing table name.\n{usage}")
        specs = [get_table(name) for name in dict.fromkeys(rest)]
        for spec in specs:
            for k in keyhash:
                if k not in spec.columns:
                    raise UnknownColumnError(spec.name, k)
        with ctx.store.begin() as conn:
            for spec in specs:
                t = ctx.store.table(spec.name)
                conn.execute(t.delete().where(
                    sa.and_(*(_match(t.c[k], v) for k, v in keyhash.items()))))
        return
    if not rest:
        raise UsageError(usage)
    plan = _assignments(rest)
    for table, changes in plan.items():
        spec = get_table(table)
        for col in [*keyhash, *(c for c, _, _ in changes)]:
            if col not in spec.columns:
                raise UnknownColumnError(table, col)
    with ctx.store.begin() as conn:
        for table, changes in plan.items():
            spec = TABLES[table]
            try:
                _set_row(conn, ctx, spec, keyhash, changes)
            except sa.exc.IntegrityError:
                raise _integrity(table) from None
    yield from ()


def chtab(req: Request, ctx: Context) -> Iterator[Response]:
    return _change(req, ctx, "chtab")


def tabch(req: Request, ctx: Context) -> Iterator[Response]:
    return _change(req, ctx, "tabch")


# -- gettab ----------------------------------------------------------------


def gettab(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(req.args, "H", ["with-fieldname"], USAGE["gettab"])
    if len(rest) < 2:
        raise UsageError(USAGE["gettab"])
    keyhash = _pairs(rest[0], "gettab")
    wanted: list[tuple[str, str]] = []
    for arg in rest[1:]:
        table, dot, column = arg.partition(".")
        if not dot or not table or not column:
            raise UsageError(f"{arg}: expected table.column\n{USAGE['gettab']}")
        if (table, column) not in wanted:
            wanted.append((table, column))
    # xCAT's rule: labels unless exactly one attribute was asked for (or -H)
    labelled = bool({"-H", "--with-fieldname"} & set(opts)) or len(rest) - 1 > 1
    by_table: dict[str, list[str]] = {}
    for table, column in wanted:
        spec = get_table(table)
        for col in [*keyhash, column]:
            if col not in spec.columns:
                raise UnknownColumnError(table, col)
        by_table.setdefault(table, []).append(column)
    entries: dict[str, dict[str, str | None]] = {}
    with ctx.store.connect() as conn:
        for table, columns in by_table.items():
            spec = TABLES[table]
            t = ctx.store.table(table)
            where = sa.and_(_enabled(t), *(_match(t.c[k], v) for k, v in keyhash.items()))
            found = rows.read_rows(conn, ctx.store, table, where=where)
            for row in _sorted(spec, found):
                # as xCAT: the first row that has any of the asked columns set
                if any(row.get(c) not in (None, "") for c in columns):
                    entries[table] = row
                    break
    for table, column in wanted:
        if table not in entries:
            continue
        value = entries[table].get(column) or ""
        yield data(f"{table}.{column}: {value}" if labelled else value)


# -- tabgrep ---------------------------------------------------------------


def tabgrep(req: Request, ctx: Context) -> Iterator[Response]:
    parse_opts(req.args, "", [], USAGE["tabgrep"])
    if not req.noderange:
        raise UsageError(USAGE["tabgrep"])
    found: list[str] = []
    with reading(ctx) as (conn, view):
        nodes = request_nodes(req, view)
        if not nodes:
            return
        node = nodes[0]
        names = [node, *view.groups_of(node)]
        for table in sorted(TABLES):
            spec = TABLES[table]
            if "node" not in spec.columns:
                continue
            t = ctx.store.table(table)
            col = t.c["node"]
            where = col == node if table == "nodelist" else col.in_(names)
            if conn.execute(sa.select(col).where(where).limit(1)).first() is not None:
                found.append(table)
    for table in found:
        yield data(table)


# -- tabprune --------------------------------------------------------------

_ONE_OPTION = "Only one option -p or -i or -n or -a maybe used at a time."


def _int_opt(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{flag} needs a whole number, not {text}\n{USAGE['tabprune']}") from None


def _prune_mode(opts: dict[str, list[str]], rest: list[str]) -> tuple[str, str, int]:
    """(table, mode letter, number) after xCAT's checks, in xCAT's order."""

    def pick(*names: str) -> str | None:
        vals = [v for n in names for v in opts.get(n, [])]
        return vals[-1] if vals else None

    modes = {
        "a": "" if "-a" in opts else None,
        "n": pick("-n", "--number"),
        "p": pick("-p", "--percent"),
        "i": pick("-i", "--recid"),
        "d": pick("-d", "--days"),
    }
    if len(rest) > 1:
        raise UsageError(USAGE["tabprune"])
    if not rest:
        raise UsageError("Table name required.")
    table = rest[0]
    get_table(table)
    chosen = [m for m, v in modes.items() if v is not None]
    if table not in LOG_TABLES and chosen and chosen != ["a"]:
        raise UsageError(f"Table {table} not supported, see tabprune -h for supported tables.")
    if not chosen:
        raise UsageError("One option -p or -i or -n or -a or -d must be supplied.")
    if len(chosen) > 1:
        raise UsageError(_ONE_OPTION)
    mode = chosen[0]
    return table, mode, (_int_opt(f"-{mode}", modes[mode] or "") if mode != "a" else 0)


def _prune_where(conn: Any, spec: TableSpec, t: sa.Table, mode: str, number: int) -> Any:
    """The rows to prune; None for all of them, False when the table is empty."""
    recid = t.c[spec.keys[0]]
    if mode in ("n", "p"):
        low, high = conn.execute(sa.select(sa.func.min(recid), sa.func.max(recid))).one()
        if low is None:
            return False
        low, high = int(low), int(high)
        count = number if mode == "n" else int((high - low + 1) * number / 100)
        return sa.and_(recid < low + count, _enabled(t))
    if mode == "i":
        return sa.and_(recid < number, _enabled(t))
    if mode == "d":
        cutoff = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - number * 86400))
        timecol = t.c["audittime" if spec.name == "auditlog" else "eventtime"]
        return sa.and_(timecol < cutoff, _enabled(t))
    return None


def tabprune(req: Request, ctx: Context) -> Iterator[Response]:
    opts, rest = parse_opts(
        req.args, "Vp:d:i:an:", ["percent=", "days=", "recid=", "number="], USAGE["tabprune"]
    )
    table, mode, number = _prune_mode(opts, rest)
    verbose = "-V" in opts
    spec = TABLES[table]
    t = ctx.store.table(table)
    out: list[Response] = []
    with ctx.store.begin() as conn:
        where = _prune_where(conn, spec, t, mode, number)
        if where is False:
            out.append(data(f"Nothing to prune from {table}."))
        else:
            if verbose:
                found = rows.read_rows(conn, ctx.store, table, where=where)
                out.extend(data(line) for line in _csv_lines(spec, found))
            rows.delete_where(conn, ctx.store, table, where)
    yield from out
    if not verbose:
        yield data(f"tabprune of {table} complete.")
