"""The store engine: cfgloc, SQLite WAL, initialisation, transactions, bulk writes."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tests.conftest import both_stores
from xcatpy.errors import NotInitialisedError, StoreError, UnknownColumnError
from xcatpy.paths import Paths
from xcatpy.store import rows
from xcatpy.store.db import open_store, url_from_cfgloc
from xcatpy.store.schema import DEFAULT_POLICY


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("postgresql://xcatadm@db1/xcatdb", "postgresql+psycopg://xcatadm@db1/xcatdb"),
        ("postgres://u:p@h:5433/x\n", "postgresql+psycopg://u:p@h:5433/x"),
        ("Pg:dbname=xcatdb;host=10.1.0.1|xcatadm|s3cret", "postgresql+psycopg://xcatadm:s3cret@10.1.0.1/xcatdb"),
        ("mysql:dbname=xcatdb;host=mn;port=3307|xcatadmin|pw", "mysql+pymysql://xcatadmin:pw@mn:3307/xcatdb"),
        ("sqlite:////var/lib/x.sqlite", "sqlite:////var/lib/x.sqlite"),
    ],
)
def test_cfgloc_forms(text: str, url: str) -> None:
    assert url_from_cfgloc(text) == url


@pytest.mark.parametrize("text", ["", "  \n", "DB2:foo", "Pg:host=x|u|p"])
def test_cfgloc_rejects_what_it_cannot_use(text: str) -> None:
    with pytest.raises(StoreError):
        url_from_cfgloc(text)


def test_commands_before_init_say_what_to_do(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XCATPY_ROOT", str(tmp_path))
    with pytest.raises(NotInitialisedError, match="xcatconfig -i"):
        open_store(Paths.from_env())


def test_sqlite_is_wal(mn) -> None:  # type: ignore[no-untyped-def]
    db = mn.root / "var/lib/xcatpy/xcatdb.sqlite"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@both_stores
def test_init_is_idempotent_and_keeps_admin_changes(mn) -> None:  # type: ignore[no-untyped-def]
    before = mn.dump("site")
    assert '"xcatdport","3001"' in before
    assert '"xcatiport","3002"' in before
    mn.ok("chtab", "key=xcatdport", "site.value=4001")
    mn.ok("xcatconfig", "-i")
    after = mn.dump("site")
    assert '"xcatdport","4001"' in after
    assert after.count("\n") == before.count("\n")
    policy = mn.dump("policy")
    assert policy.count("\n") == len(DEFAULT_POLICY) + 1
    assert '"1","root",,,,,,"allow",,' in policy


@both_stores
def test_failed_write_leaves_database_as_it_was(mn) -> None:  # type: ignore[no-untyped-def]
    store = open_store(Paths(mn.root))
    try:
        with store.begin() as conn:
            rows.upsert(conn, store, "nodelist", [({"node": "n1"}, {"groups": "all"})])
        before = mn.dump_all()
        with pytest.raises(UnknownColumnError), store.begin() as conn:
            rows.upsert(conn, store, "nodelist", [({"node": "n2"}, {"groups": "all"})])
            rows.upsert(conn, store, "nodehm", [({"node": "n2"}, {"nosuch": "x"})])
        with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
            rows.insert_rows(conn, store, "nodelist", [{"node": "n3"}, {"node": "n1"}])
        assert mn.dump_all() == before
    finally:
        store.dispose()


@both_stores
def test_bulk_upsert_counts_and_merges(mn) -> None:  # type: ignore[no-untyped-def]
    store = open_store(Paths(mn.root))
    try:
        with store.begin() as conn:
            ins, upd = rows.upsert(
                conn, store, "nodehm",
                [({"node": f"n{i}"}, {"mgt": "ipmi"}) for i in range(1500)],
            )
            assert (ins, upd) == (1500, 0)
            ins, upd = rows.upsert(
                conn, store, "nodehm",
                [({"node": "n1"}, {"power": "ipmi"}), ({"node": "n1"}, {"mgt": "kvm"}),
                 ({"node": "new"}, {"mgt": "esx"})],
            )
            assert (ins, upd) == (1, 1)
        with store.connect() as conn:
            got = {r["node"]: r for r in rows.read_rows(conn, store, "nodehm", ["node", "mgt", "power"])}
        assert got["n1"] == {"node": "n1", "mgt": "kvm", "power": "ipmi"}
        assert got["new"]["mgt"] == "esx"
        assert len(got) == 1501
    finally:
        store.dispose()


def test_default_policy_keeps_blank_names_blank(mn) -> None:  # type: ignore[no-untyped-def]
    import socket

    lines = mn.dump("policy").splitlines()
    assert '"3",,,"nextdestiny",,,,"allow",,' in lines
    mn_row = next(line for line in lines if line.startswith('"1.2",'))
    assert mn_row.startswith(f'"1.2","{socket.gethostname().split(".")[0]}",')
    assert mn_row.endswith('"trusted",,')
