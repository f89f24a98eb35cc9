"""The database: engine, tables built from the schema data, initialisation.

The default store is one SQLite file in WAL mode under ``XCATPY_ROOT``
(``var/lib/xcatpy/xcatdb.sqlite``).  When ``etc/xcatpy/cfgloc`` exists it
names another database: a SQLAlchemy URL (``postgresql://user@host/db``,
``mysql://...``) or xCAT's own cfgloc form (``Pg:dbname=xcatdb;host=mn|user|pw``,
``mysql:dbname=xcatdb;host=mn|user|pw``), so a migrated site keeps its file.

Every column is text, as in xCAT.  Key columns form the primary key and are
stored as ``''`` rather than NULL (PostgreSQL forbids NULL in a key); the CSV
layer shows both as an empty field.  ``auditlog``/``eventlog`` number their
rows themselves.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xcatpy.errors import NotInitialisedError, StoreError, UnknownTableError
from xcatpy.paths import Paths
from xcatpy.store.schema import AUTOINCREMENT_TABLES, TABLES, TableSpec

_T = TypeVar("_T")


@lru_cache(maxsize=1)
def metadata() -> tuple[sa.MetaData, Mapping[str, sa.Table]]:
    """SQLAlchemy tables for every table of the schema (built once)."""
    md = sa.MetaData()
    tables = {name: _table(md, spec) for name, spec in TABLES.items()}
    return md, tables


def _table(md: sa.MetaData, spec: TableSpec) -> sa.Table:
    cols: list[sa.Column[Any]] = []
    for name in spec.columns:
        if name in spec.keys:
            if spec.name in AUTOINCREMENT_TABLES and len(spec.keys) == 1:
                cols.append(sa.Column(name, sa.Integer, primary_key=True, autoincrement=True))
            else:
                cols.append(
                    sa.Column(name, sa.Text, primary_key=True, nullable=False, server_default="")
                )
        else:
            cols.append(sa.Column(name, sa.Text, nullable=True))
    return sa.Table(spec.name, md, *cols)


def url_from_cfgloc(text: str) -> str:
    """The SQLAlchemy URL for the contents of a cfgloc file."""
    text = text.strip()
    if not text:
        raise StoreError("cfgloc is empty: write a database URL into it or remove it")
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme in ("postgresql", "postgres"):
            scheme = "postgresql+psycopg"
        elif scheme in ("mysql", "mariadb"):
            scheme = "mysql+pymysql"
        return f"{scheme}://{rest}"
    # xCAT form: Driver:dbname=X;host=H[;port=P]|user|password
    driver, _, rest = text.partition(":")
    dsn, _, creds = rest.partition("|")
    user, _, password = creds.partition("|")
    params = dict(
        part.split("=", 1) for part in dsn.split(";") if "=" in part
    )
    dialect = {"pg": "postgresql+psycopg", "mysql": "mysql+pymysql"}.get(driver.lower())
    if dialect is None or "dbname" not in params:
        raise StoreError(
            f"cfgloc: cannot understand {driver!r}: expected a URL or 'Pg:dbname=...;host=...|user|pw'"
        )
    url = sa.URL.create(
        dialect,
        username=user or None,
        password=password or None,
        host=params.get("host") or None,
        port=int(params["port"]) if params.get("port") else None,
        database=params["dbname"],
    )
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


# The data generation: one row whose counter every committed write
# transaction raises (except those that only add audit or event records), so
# a long-lived process knows with one tiny query whether what it derived from
# the tables is still true, whichever process wrote.  Not part of the xCAT
# schema: no command lists, dumps or restores it.
GENERATION_TABLE = "xcatpy_generation"
_GEN_MD = sa.MetaData()
_GENERATION = sa.Table(
    GENERATION_TABLE, _GEN_MD,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)
_BUMP = f"UPDATE {GENERATION_TABLE} SET n = n + 1 WHERE id = 1"
_READ = f"SELECT n FROM {GENERATION_TABLE} WHERE id = 1"
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|TRUNCATE)\b", re.I)
_LOG_ONLY = re.compile(r"""\s*INSERT\s+INTO\s+[`"]?(auditlog|eventlog)\b""", re.I)
_WROTE = "xcatpy_wrote"  # conn.info: this transaction changed data


def _note_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if _WRITE.match(statement) and not _LOG_ONLY.match(statement):
        conn.info[_WROTE] = True


class SharedCache:
    """Values derived from the tables, kept while the generation stays the same.

    Only the newest generation seen is kept; a request that read an older one
    builds its own copy and shares nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._items: dict[str, Any] = {}

    def get(self, generation: int, key: str, build: Callable[[], _T]) -> _T:
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._generation, self._items = generation, {}
            current = self._generation == generation
            if current and key in self._items:
                return self._items[key]  # type: ignore[no-any-return]
        value = build()
        if current:
            with self._lock:
                if self._generation == generation:
                    value = self._items.setdefault(key, value)
        return value


class Store:
    """An open database: its engine and its tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata, self.tables = metadata()
        self.cache: SharedCache | None = None
        self._generation_ready = False
        sa.event.listen(engine, "before_cursor_execute", _note_write)
        sa.event.listen(engine, "commit", self._on_commit)
        sa.event.listen(engine, "rollback", _on_rollback)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table(self, name: str) -> sa.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownTableError(name) from None

    @contextmanager
    def begin(self) -> Iterator[Any]:
        """A connection in a transaction that commits on success, rolls back on error."""
        self.ensure_generation()
        with self.engine.begin() as conn:
            yield conn

    def connect(self) -> Any:
        return self.engine.connect()

    def create_tables(self) -> None:
        self.metadata.create_all(self.engine, checkfirst=True)
        self.ensure_generation()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- the data generation and the daemon's shared cache -----------------
    def ensure_generation(self) -> None:
        """Create the generation row if the database has none (once per Store).

        Outside any transaction: writers call it before they begin, so the
        counter can be raised inside their own transaction.
        """
        if self._generation_ready:
            return
        try:
            with self.engine.begin() as conn:
                _GENERATION.create(conn, checkfirst=True)
                if conn.execute(sa.text(_READ)).first() is None:
                    conn.execute(_GENERATION.insert().values(id=1, n=1))
        except sa.exc.DBAPIError:
            # Raced with another process creating it; the row is there now.
            with self.engine.connect() as conn:
                if conn.execute(sa.text(_READ)).first() is None:
                    raise
        self._generation_ready = True

    def _on_commit(self, conn: Any) -> None:
        if conn.info.pop(_WROTE, False) and self._generation_ready:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(_BUMP)
            finally:
                cursor.close()

    def generation(self, conn: Any) -> int | None:
        """The data generation as ``conn`` sees it now."""
        row = conn.exec_driver_sql(_READ).first()
        return None if row is None else int(row[0])

    def enable_cache(self) -> None:
        """Share what requests derive from the tables between them (the daemon)."""
        self.ensure_generation()
        self.cache = SharedCache()

    @staticmethod
    def has_written(conn: Any) -> bool:
        """Whether ``conn``'s current transaction has changed data."""
        return bool(conn.info.get(_WROTE))

    def may_share(self, conn: Any) -> bool:
        """Whether what ``conn`` reads may come from (and go to) the cache.

        Not without a cache, nor once ``conn``'s transaction has written: its
        uncommitted changes are its own.  Before that it reads what is
        committed, as any reader does.
        """
        return self.cache is not None and not conn.info.get(_WROTE)


def _on_rollback(conn: Any) -> None:
    conn.info.pop(_WROTE, None)


def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Pooled: the daemon's workers reuse open connections instead of
        # opening the file (and setting its pragmas) twice per request.
        engine = sa.create_engine(url, pool_size=8, max_overflow=8)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def store_url(paths: Paths) -> str:
    if paths.cfgloc.exists():
        return url_from_cfgloc(paths.cfgloc.read_text())
    return f"sqlite:///{paths.sqlite_file}"


def open_store(paths: Paths, *, create: bool = False) -> Store:
    """Open the management node's database.

    Raises NotInitialisedError when the embedded database does not exist and
    ``create`` is false.
    """
    url = store_url(paths)
    if url.startswith("sqlite") and not create and not paths.sqlite_file.exists():
        raise NotInitialisedError(
            f"the xcatpy database {paths.sqlite_file} does not exist: run 'xcatconfig -i' first"
        )
    if create and url.startswith("sqlite"):
        paths.dbdir.mkdir(parents=True, exist_ok=True)
    return Store(engine_for(url))
