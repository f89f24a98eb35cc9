"""The daemon's shared cache: what it derives from the tables is never stale.

xcatd keeps the node index, ``site`` and the policy rows between requests
while the store's data generation stays the same.  Every committed write
raises the generation, whichever process made it, so the next request sees
the change.
"""

from __future__ import annotations

import pytest

from tests.conftest import both_stores
from xcatpy.paths import Paths
from xcatpy.store.db import SharedCache, open_store


def _store():  # type: ignore[no-untyped-def]
    import os
    from pathlib import Path

    return open_store(Paths(Path(os.environ["XCATPY_ROOT"])))


@both_stores
def test_every_write_raises_the_generation_and_nothing_else_does(mn) -> None:  # type: ignore[no-untyped-def]
    from xcatpy.store import rows

    store = _store()
    try:
        with store.connect() as conn:
            start = store.generation(conn)
        assert start is not None

        def now() -> int:
            with store.connect() as conn:
                value = store.generation(conn)
            assert value is not None
            return value

        with store.connect() as conn:  # reads never change it
            rows.read_rows(conn, store, "site")
        assert now() == start
        with store.begin() as conn:  # an audit record alone does not either
            rows.insert_rows(conn, store, "auditlog", [{"command": "nodels", "status": "Allowed"}])
        assert now() == start
        with pytest.raises(RuntimeError), store.begin() as conn:  # nor a rolled back write
            rows.upsert(conn, store, "site", [({"key": "domain"}, {"value": "x.test"})])
            raise RuntimeError
        assert now() == start
        with store.begin() as conn:
            rows.upsert(conn, store, "site", [({"key": "domain"}, {"value": "y.test"})])
        assert now() == start + 1
        mn.ok("nodeadd", "n1", "groups=all")  # a command, through its own store
        assert now() > start + 1
    finally:
        store.dispose()


def test_the_cache_keeps_only_the_newest_generation() -> None:
    cache = SharedCache()
    built: list[str] = []

    def build(value: str):  # type: ignore[no-untyped-def]
        def make() -> str:
            built.append(value)
            return value
        return make

    assert cache.get(5, "k", build("a")) == "a"
    assert cache.get(5, "k", build("b")) == "a"  # shared
    assert cache.get(6, "k", build("c")) == "c"  # newer generation: rebuilt
    assert cache.get(5, "k", build("d")) == "d"  # a late reader of an old one: its own copy
    assert cache.get(6, "k", build("e")) == "c"  # ...which replaced nothing
    assert built == ["a", "c", "d"]


def test_a_transaction_that_wrote_never_reads_from_the_cache(mn) -> None:  # type: ignore[no-untyped-def]
    from xcatpy.store.attrs import NodeView

    mn.ok("nodeadd", "n1", "groups=all")
    store = _store()
    store.enable_cache()
    try:
        with store.connect() as conn:
            assert list(NodeView(store, conn).node_index) == ["n1"]
        with store.begin() as conn:
            view = NodeView(store, conn)
            assert list(view.node_index) == ["n1"]  # nothing written yet: from the cache
            conn.execute(store.table("nodelist").insert().values(node="n2", groups="all"))
            conn.execute(store.table("site").insert().values(key="domain2", value="d.test"))
            # its own uncommitted rows are visible to it, and only to it
            assert view.site.get("domain2") == "d.test"
            assert sorted(NodeView(store, conn).node_index) == ["n1", "n2"]
            with store.connect() as other:
                assert list(NodeView(store, other).node_index) == ["n1"]
        with store.connect() as conn:
            assert sorted(NodeView(store, conn).node_index) == ["n1", "n2"]
    finally:
        store.dispose()


@both_stores
def test_xcatd_sees_writes_made_by_another_process(mn, daemon) -> None:  # type: ignore[no-untyped-def]
    mn.ok("nodeadd", "n[1-3]", "groups=compute,all")
    assert daemon.run("nodels").out == "n1\nn2\nn3\n"
    assert daemon.run("nodels", "compute").out == "n1\nn2\nn3\n"

    # root writes in-process (XCATBYPASS=YES), not through the daemon
    mn.ok("nodeadd", "n4", "groups=compute,all")
    assert daemon.run("nodels").out == "n1\nn2\nn3\nn4\n"
    mn.ok("nodech", "n2", "nodelist.groups=other")
    assert daemon.run("nodels", "compute").out == "n1\nn3\nn4\n"
    assert daemon.run("nodels", "n2", "groups").out == "n2: other\n"
    mn.ok("noderm", "n3")
    assert daemon.run("nodels").out == "n1\nn2\nn4\n"

    # site, read from the cache too: excludenodes hides nodes from noderanges
    mn.ok("chtab", "key=excludenodes", "site.value=n1")
    assert daemon.run("nodels", "compute").out == "n4\n"
    mn.ok("chtab", "-d", "key=excludenodes", "site")
    assert daemon.run("nodels", "compute").out == "n1\nn4\n"

    # writes through the daemon itself
    assert daemon.run("chdef", "-t", "node", "-o", "n4", "groups=other").code == 0
    assert daemon.run("nodels", "other").out == "n2\nn4\n"

    # the policy rows: root's row disabled in-process, refused at the next request
    mn.ok("chtab", "priority=1", "policy.disable=1")
    r = daemon.run("nodels")
    assert r.code != 0
    assert "Permission denied" in r.err


def test_a_column_filled_by_another_process_is_read_by_the_next_scan(mn, daemon) -> None:  # type: ignore[no-untyped-def]
    # past 900 names a read scans the table, and the daemon remembers which
    # columns hold data: a column filled since must not be skipped
    mn.ok("nodeadd", "n[1-950]", "groups=compute,all")
    before = daemon.run("lsdef", "-t", "node", "-i", "cons,serialport", "-c")
    assert before.code == 0
    assert "n950: cons=\n" in before.out
    mn.ok("chdef", "-t", "group", "compute", "cons=ipmi")  # the group row, in-process
    mn.ok("nodech", "n950", "nodehm.serialport=0")
    after = daemon.run("lsdef", "-t", "node", "-i", "cons,serialport", "-c")
    assert "n1: cons=ipmi\n" in after.out
    assert "n950: cons=ipmi\nn950: serialport=0\n" in after.out
    assert daemon.run("nodels", "n950", "nodehm.serialport").out == "n950: 0\n"
