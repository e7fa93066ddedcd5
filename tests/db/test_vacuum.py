"""Vacuum: dead versions reclaimed when no snapshot needs them; a long transaction holds the
horizon back; autovacuum's threshold; index entries of dead versions go too."""

from __future__ import annotations

import time

from cairn.db import Database
from cairn.db.bloat import run as bloat_run


def counters(rows: int = 10, **options) -> Database:
    db = Database.memory(**options)
    db.create_table("c")
    db.create_index("c", ["n"])
    with db.transaction() as tx:
        for i in range(rows):
            tx.insert("c", {"id": i, "n": 0})
    return db


def bump(db: Database, times: int, rows: int = 10) -> None:
    for k in range(times):
        with db.transaction() as tx:
            tx.update("c", k % rows, {"n": lambda r: r["n"] + 1})


def test_vacuum_reclaims_dead_versions_and_index_entries() -> None:
    db = counters()
    bump(db, 100)
    s = db.table_stats("c")
    assert (s.live_versions, s.dead_versions, s.rows) == (10, 100, 10)
    assert s.indexes["c_n_idx"] == 110
    [result] = db.vacuum("c")
    assert result.removed == 100 and result.kept_dead == 0
    s = db.table_stats("c")
    assert (s.live_versions, s.dead_versions, s.vacuum_count) == (10, 0, 1)
    assert s.indexes["c_n_idx"] == 10
    with db.transaction() as tx:
        assert sorted(r["id"] for r in tx.select("c", {"n": 10})) == list(range(10))
        assert tx.select("c", {"n": 3}) == []


def test_long_transaction_holds_vacuum_back_until_it_ends() -> None:
    db = counters()
    long_tx = db.begin("repeatable read")
    assert long_tx.get("c", 0)["n"] == 0
    bump(db, 50)
    [result] = db.vacuum("c")
    assert result.removed == 0 and result.kept_dead == 50
    assert result.horizon <= long_tx.xid
    assert long_tx.get("c", 0)["n"] == 0  # what vacuum kept is what it still reads
    assert db.table_stats("c").dead_versions == 50
    long_tx.commit()
    [result] = db.vacuum("c")
    assert result.removed == 50
    assert db.table_stats("c").dead_versions == 0


def test_vacuum_keeps_versions_a_running_snapshot_needs_but_not_newer_ones() -> None:
    db = counters(1)
    bump(db, 5, 1)  # versions n=0..4 dead, n=5 live
    reader = db.begin("repeatable read")
    reader.get("c", 0)
    bump(db, 5, 1)  # n=5..9 dead now, but n=5 is what the reader sees
    [result] = db.vacuum("c")
    assert result.removed == 5  # the five from before the reader started
    assert reader.get("c", 0)["n"] == 5
    reader.commit()


def test_deleted_rows_disappear_entirely() -> None:
    db = counters()
    with db.transaction() as tx:
        for i in range(5):
            tx.delete("c", i)
    db.vacuum()
    s = db.table_stats("c")
    assert (s.rows, s.versions) == (5, 5)


def test_autovacuum_runs_past_the_threshold() -> None:
    db = counters(10, autovacuum=True, autovacuum_naptime=0.05, autovacuum_threshold=20,
                  autovacuum_scale_factor=0.0)
    bump(db, 10)
    time.sleep(0.3)
    assert db.table_stats("c").autovacuum_count == 0  # below the threshold
    bump(db, 30)
    deadline = time.monotonic() + 5
    while db.table_stats("c").autovacuum_count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    s = db.table_stats("c")
    assert s.autovacuum_count >= 1 and s.last_autovacuum is not None
    assert s.dead_versions < 40
    db.close()


def test_rollback_leaves_nothing_to_vacuum() -> None:
    db = counters()
    tx = db.begin()
    for i in range(10):
        tx.update("c", i, {"n": 99})
    tx.insert("c", {"id": 50, "n": 1})
    tx.rollback()
    s = db.table_stats("c")
    assert (s.versions, s.dead_versions, s.indexes["c_n_idx"]) == (10, 0, 10)


def test_bloat_demo_numbers() -> None:
    report = bloat_run(rows=20, updates=200)
    removed = [p.removed_by_vacuum for p in report.phases]
    dead = [p.dead_versions for p in report.phases]
    assert removed == [200, 0, 0, 400]
    assert dead == [0, 200, 400, 0]
    assert report.phases[2].bytes > report.phases[0].bytes * 5


def test_rewriting_own_version_leaves_no_stale_index_entries() -> None:
    db = counters(1)
    with db.transaction() as tx:
        for n in range(1, 20):
            tx.update("c", 0, {"n": n})
    db.vacuum()
    assert db.table_stats("c").indexes["c_n_idx"] == 1
    with db.transaction() as tx:
        assert tx.select("c", {"n": 19}) == [{"id": 0, "n": 19}]
