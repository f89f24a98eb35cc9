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

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from xcatpy.errors import NotInitialisedError, StoreError, UnknownTableError
from xcatpy.paths import Paths
from xcatpy.store.schema import AUTOINCREMENT_TABLES, TABLES, TableSpec


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


class Store:
    """An open database: its engine and its tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata, self.tables = metadata()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table(self, name: str) -> sa.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownTableError(name) from None

    def begin(self) -> Any:
        """A connection in a transaction that commits on success, rolls back on error."""
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    def create_tables(self) -> None:
        self.metadata.create_all(self.engine, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()


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
