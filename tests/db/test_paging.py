"""cairn.db with data larger than its chain cache: answers, reopen, fuzzy checkpoints, vacuum,
drop_table (docs/transactions.md, "Larger than memory")."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.db import Database, IndexInfo
from cairn.db.errors import ObjectInUse, UndefinedTable

ROWS = 1500
CACHE = 40_000  # bytes: the rows below take ~20x that as decoded chains


def _fill(db: Database, rows: int = ROWS) -> dict[int, dict[str, Any]]:
    db.create_table("t")
    db.create_index("t", ["grp"])
    model: dict[int, dict[str, Any]] = {}
    for start in range(0, rows, 100):
        with db.transaction() as tx:
            for i in range(start, min(rows, start + 100)):
                row = {"id": i, "grp": i % 7, "pad": "x" * 40}
                tx.insert("t", row)
                model[i] = row
    return model


def _churn(db: Database, model: dict[int, dict[str, Any]], rng: random.Random, n: int) -> None:
    for _ in range(n):
        k = rng.randrange(ROWS + 200)
        with db.transaction("repeatable read") as tx:
            if k in model and rng.random() < 0.3:
                assert tx.delete("t", k)
                del model[k]
            elif k in model:
                assert tx.update("t", k, {"grp": rng.randrange(7), "n": k})
                model[k] = {**model[k], **tx.get("t", k)}
            else:
                row = {"id": k, "grp": k % 7, "pad": "y"}
                tx.insert("t", row)
                model[k] = row


def _check(db: Database, model: dict[int, dict[str, Any]]) -> None:
    with db.transaction("repeatable read") as tx:
        assert tx.select("t") == [model[k] for k in sorted(model)]
        for k in random.Random(7).sample(sorted(model), 200):
            assert tx.get("t", k) == model[k]
        assert tx.get("t", ROWS + 500) is None
        for g in range(7):
            got = sorted(r["id"] for r in tx.select("t", where={"grp": g}))
            assert got == sorted(k for k, r in model.items() if r["grp"] == g)


def test_data_twenty_times_the_cache_answers_like_a_model(tmp_path: Path) -> None:
    db = Database.open(tmp_path, cache_bytes=CACHE, autovacuum=False)
    model = _fill(db)
    _churn(db, model, random.Random(1), 400)
    db.checkpoint()
    _check(db, model)
    cache = db.stats().cache
    assert cache["misses"] > ROWS  # the data did not fit: reads went to the engine
    assert cache["resident_chains"] < ROWS / 5
    db.close()
    db = Database.open(tmp_path, cache_bytes=CACHE, autovacuum=False)
    _check(db, model)
    db.close()


def test_clean_reopen_reads_no_chain_and_no_wal(tmp_path: Path) -> None:
    db = Database.open(tmp_path, cache_bytes=CACHE)
    model = _fill(db)
    db.close()
    db = Database.open(tmp_path, cache_bytes=CACHE)
    assert db.recovery["wal_records"] == 0
    assert db.stats().cache["resident_chains"] == 0  # nothing was read at open
    with db.transaction() as tx:
        assert tx.get("t", 3) == model[3]
    assert db.stats().cache["misses"] == 1
    db.close()


def test_recovery_replays_only_the_wal_since_the_checkpoint(tmp_path: Path) -> None:
    db = Database.open(tmp_path, cache_bytes=CACHE, autovacuum=False,
                       checkpoint_interval=3600)
    model = _fill(db)
    db.checkpoint()
    for k in range(10):
        with db.transaction() as tx:
            tx.update("t", k, {"n": 1})
            model[k] = {**model[k], "n": 1}
    db._abandon()  # as if killed: no checkpoint at close
    db = Database.open(tmp_path, cache_bytes=CACHE)
    assert db.recovery["wal_records"] == 10
    assert db.recovery["chains"] == 10
    _check(db, model)
    db.close()


def test_a_checkpoint_lets_transactions_run_between_its_steps(tmp_path: Path) -> None:
    """Fuzzy: while a checkpoint writes its chains, another transaction commits (were the
    mutex held across the checkpoint, the commit below would wait for it to end)."""
    db = Database.open(tmp_path, cache_bytes=CACHE, autovacuum=False,
                       checkpoint_interval=3600)
    model = _fill(db)
    write_chains = db._write_chains
    during: list[bool] = []

    def commit_elsewhere() -> None:
        with db.transaction() as tx:
            tx.update("t", 1, {"n": "during"})

    def step(heap: Any, keys: list[bytes]) -> None:
        if not during:
            t = threading.Thread(target=commit_elsewhere)
            t.start()
            t.join(10)
            during.append(not t.is_alive())
        write_chains(heap, keys)

    db._write_chains = step  # type: ignore[method-assign]
    db.checkpoint()
    assert during == [True]
    model[1] = {**model[1], "n": "during"}
    db._abandon()
    db = Database.open(tmp_path, cache_bytes=CACHE)
    _check(db, model)
    assert db.stats().longest_checkpoint_hold >= 0
    db.close()


def test_vacuum_visits_only_chains_with_dead_versions(tmp_path: Path) -> None:
    db = Database.open(tmp_path, cache_bytes=CACHE, autovacuum=False)
    model = _fill(db)
    for k in range(0, 40, 2):
        with db.transaction() as tx:
            tx.update("t", k, {"n": k})
            model[k] = {**model[k], "n": k}
    db.checkpoint()
    db.checkpoint()  # every chain clean, so the cache can drop them
    before = db.stats().cache["misses"]
    (res,) = db.vacuum("t")
    assert res.removed == 20
    assert db.stats().cache["misses"] - before <= 20  # not all 1,500 chains
    db.checkpoint()
    (res,) = db.vacuum("t")
    assert res.removed == 0
    _check(db, model)
    db.close()


def test_drop_table_removes_everything_and_is_logged(tmp_path: Path) -> None:
    db = Database.open(tmp_path, cache_bytes=CACHE, checkpoint_interval=3600)
    _fill(db, 300)
    assert db.indexes("t") == [IndexInfo("t_grp_idx", ("grp",), False)]
    assert db.primary_key("t") == ("id",)
    tx = db.begin()
    tx.get("t", 1)
    with pytest.raises(ObjectInUse) as err:
        db.drop_table("t")
    assert err.value.sqlstate == "55006"
    tx.commit()
    db.checkpoint()
    db.drop_table("t")
    assert "t" not in db.tables()
    with pytest.raises(UndefinedTable):
        db.drop_table("t")
    db.drop_table("t", if_exists=True)
    assert [c.kind for c in db.changes(db.last_checkpoint_lsn)][-1:] == ["drop_table"]
    db.create_table("t")  # the same name again: nothing of the old table comes back
    with db.transaction() as tx:
        tx.insert("t", {"id": 5, "new": True})
    db._abandon()  # recovery replays the drop and the new table from the WAL
    db = Database.open(tmp_path, cache_bytes=CACHE)
    assert db.indexes("t") == []
    with db.transaction() as tx:
        assert tx.select("t") == [{"id": 5, "new": True}]
    db.close()
    db = Database.open(tmp_path)
    with db.transaction() as tx:
        assert tx.select("t") == [{"id": 5, "new": True}]
    db.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["put", "del", "vac", "ckpt"]),
                          st.integers(0, 30), st.integers(0, 3)), max_size=60))
def test_a_tiny_cache_behaves_like_a_dict(ops: list[tuple[str, int, int]]) -> None:
    """A memory database paging to its in-memory store with a 1-byte cache: every clean
    chain is evicted, so reads, index lookups and vacuum go through the store."""
    db = Database.memory(cache_bytes=1)
    db.create_table("t")
    db.create_index("t", ["v"])
    model: dict[int, int] = {}
    for op, k, v in ops:
        if op == "put":
            with db.transaction() as tx:
                if k in model:
                    tx.update("t", k, {"v": v})
                else:
                    tx.insert("t", {"id": k, "v": v})
            model[k] = v
        elif op == "del":
            with db.transaction() as tx:
                assert tx.delete("t", k) == (k in model)
            model.pop(k, None)
        elif op == "vac":
            db.vacuum()
        else:
            db.checkpoint()
    with db.transaction("repeatable read") as tx:
        assert {r["id"]: r["v"] for r in tx.select("t")} == model
        for v in range(4):
            assert sorted(r["id"] for r in tx.select("t", where={"v": v})) == sorted(
                k for k, x in model.items() if x == v)
    assert db.table_stats("t").rows == len(model)
    db.close()
