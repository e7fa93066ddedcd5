"""Power loss and failed fsyncs, through the storage layer's fault-injecting file system: every
acknowledged commit survives, nothing half-done appears, a failed fsync is never acknowledged."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cairn.db import Database
from cairn.db.errors import DatabaseClosed, DurabilityError
from cairn.storage.faults import FaultyFileSystem

OPTS = {"autovacuum": False, "checkpoint_interval": 3600.0}


@pytest.mark.parametrize("engine", ["lsm", "btree"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_power_loss_keeps_every_acknowledged_commit(tmp_path: Path, engine: str,
                                                    seed: int) -> None:
    rng = random.Random(seed)
    fs = FaultyFileSystem()
    db = Database.open(str(tmp_path), engine=engine, fs=fs, **OPTS)
    db.create_table("kv")
    model: dict[int, int] = {}
    history = [dict(model)]
    for round_no in range(40):
        with db.transaction() as tx:
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(20)
                if k in model and rng.random() < 0.3:
                    tx.delete("kv", k)
                    del model[k]
                elif k in model:
                    tx.update("kv", k, {"v": round_no})
                    model[k] = round_no
                else:
                    tx.insert("kv", {"id": k, "v": round_no})
                    model[k] = round_no
        history.append(dict(model))
        if round_no in (10, 25):
            db.checkpoint()
    unacked = db.begin()
    unacked.insert("kv", {"id": 999, "v": -1})
    db._abandon()  # the process stops here (buffers handed to the OS) ...
    fs.crash(seed)  # ... and the power goes: unsynced writes vanish (a random prefix stays)
    db2 = Database.open(str(tmp_path), engine=engine, **OPTS)
    with db2.transaction() as tx:
        got = {r["id"]: r["v"] for r in tx.select("kv")}
    db2.close()
    assert got == model  # every commit was acknowledged after its fsync: all must be there


def test_failed_fsync_is_not_acknowledged_and_stops_the_database(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    db = Database.open(str(tmp_path), fs=fs, **OPTS)
    db.create_table("kv")
    with db.transaction() as tx:
        tx.insert("kv", {"id": 1, "v": "kept"})
    fs.add("fsync_error", path_contains="/wal/")
    tx = db.begin()
    tx.insert("kv", {"id": 2, "v": "unknown"})
    with pytest.raises(DurabilityError):
        tx.commit()
    with pytest.raises(DatabaseClosed):
        db.begin()
    db._abandon()
    db2 = Database.open(str(tmp_path), **OPTS)
    with db2.transaction() as t:
        assert t.get("kv", 1) == {"id": 1, "v": "kept"}
        assert t.get("kv", 2) in (None, {"id": 2, "v": "unknown"})  # outcome unknown
    db2.close()


class SlowFsync(FaultyFileSystem):
    """fsyncs of the WAL take 0.3 s, so a commit stays visible-but-not-durable for a while."""

    def _fsync(self, f) -> None:  # type: ignore[no-untyped-def]
        if "/wal/" in f.path:
            import time
            time.sleep(0.3)
        super()._fsync(f)


def test_early_lock_release_reader_waits_for_what_it_saw(tmp_path: Path) -> None:
    import threading
    import time

    db = Database.open(str(tmp_path), fs=SlowFsync(), early_lock_release=True, **OPTS)
    db.create_table("kv")
    with db.transaction() as tx:
        tx.insert("kv", {"id": 1, "v": 0})
    writer = db.begin()
    writer.update("kv", 1, {"v": 1})
    t = threading.Thread(target=writer.commit)
    t.start()
    deadline = time.monotonic() + 5
    while writer.state == "active" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert writer.state == "committed" and t.is_alive()  # visible, fsync still running
    reader = db.begin("repeatable read")
    assert reader.get("kv", 1)["v"] == 1  # it sees the commit before it is durable ...
    reader.commit()  # ... so its own commit waits for that record to be durable
    assert db._wal.durable_lsn >= writer.commit_lsn + 1
    t.join()
    # a reader that saw nothing new does not wait
    other = db.begin("repeatable read")
    other.get("kv", 1)
    start = time.monotonic()
    other.commit()
    assert time.monotonic() - start < 0.2
    db.close()


class GatedFsync(FaultyFileSystem):
    """A WAL fsync, once armed, waits until the test opens the gate: a commit is caught
    between its append and its durability for as long as the test needs."""

    def __init__(self) -> None:
        super().__init__()
        import threading
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _fsync(self, f) -> None:  # type: ignore[no-untyped-def]
        if self.armed and "/wal/" in f.path:
            self.entered.set()
            assert self.gate.wait(10)
        super()._fsync(f)


@pytest.mark.parametrize("early", [False, True])
def test_commit_is_visible_only_once_durable_unless_early_lock_release(tmp_path: Path,
                                                                       early: bool) -> None:
    """synchronous_commit=on (the default): nobody sees a commit before its fsync returns,
    as in PostgreSQL. early_lock_release=True makes it visible at append (acknowledged
    still only after the fsync)."""
    import threading

    fs = GatedFsync()
    db = Database.open(str(tmp_path), fs=fs, early_lock_release=early, **OPTS)
    db.create_table("kv")
    with db.transaction() as tx:
        tx.insert("kv", {"id": 1, "v": 0})
    writer = db.begin()
    writer.update("kv", 1, {"v": 1})
    fs.armed = True
    t = threading.Thread(target=writer.commit)
    t.start()
    assert fs.entered.wait(10)  # the commit record is appended; its fsync is held
    reader = db.begin("read committed")  # with early release it waits at commit: later
    seen = reader.get("kv", 1)["v"]
    snapshot_reader = db.begin("repeatable read", read_only=True)
    assert snapshot_reader.get("kv", 1)["v"] == 0  # a read-only snapshot: durable only
    assert seen == (1 if early else 0)
    assert t.is_alive()  # not acknowledged either way
    fs.gate.set()
    t.join(10)
    reader.commit()
    snapshot_reader.commit()
    with db.transaction("read committed") as reader:
        assert reader.get("kv", 1)["v"] == 1
    db.close()


def test_asynchronous_commit_acknowledges_before_the_flush(tmp_path: Path) -> None:
    """synchronous_commit=off: a commit is visible and acknowledged before its fsync; a power
    cut right then loses it (and only commits after the last flush: a suffix of the log);
    once the WAL writer has run (wal_writer_delay), it survives."""
    import time

    fs = FaultyFileSystem()
    path = str(tmp_path / "db")
    db = Database.open(path, fs=fs, synchronous_commit="off", wal_writer_delay=0.05, **OPTS)
    db.create_table("kv")
    db.checkpoint()  # the table is durable whatever happens to the log below
    with db.transaction() as tx:
        tx.insert("kv", {"id": 1, "v": "flushed"})
    deadline = time.monotonic() + 10
    while any("/wal/" in p for p in fs._pending) and time.monotonic() < deadline:
        time.sleep(0.01)  # the WAL writer fsyncs within wal_writer_delay
    assert not any("/wal/" in p for p in fs._pending)
    db._wal._writer_stop.set()  # hold the WAL writer so the next commit stays unflushed
    db._wal._writer.join()
    for i in range(2, 5):
        with db.transaction() as tx:
            tx.insert("kv", {"id": i, "v": "acknowledged, not flushed"})
    assert any("/wal/" in p for p in fs._pending)  # acknowledged, still only in the OS
    with db.transaction("read committed") as tx:
        assert len(tx.select("kv")) == 4  # and visible to everyone
    db._abandon()
    fs.crash()
    with Database.open(path, **OPTS) as db2, db2.transaction() as tx:
        assert [r["id"] for r in tx.select("kv")] == [1]  # the window was lost, nothing else


def test_bad_synchronous_commit_is_refused(tmp_path: Path) -> None:
    from cairn.txn.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="synchronous_commit"):
        Database.open(str(tmp_path), synchronous_commit="local", **OPTS)
    with pytest.raises(InvalidParameter, match="wal_writer_delay"):
        Database.open(str(tmp_path), synchronous_commit="off", wal_writer_delay=0, **OPTS)


# -- power-cut sweeps (cairn.storage.powercut) -----------------------------------------------
@pytest.mark.parametrize("subset", [False, True], ids=["lose-all", "seeded-subset"])
@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_power_cut_sweep_fast(tmp_path: Path, engine: str, subset: bool) -> None:
    """A seeded subset (CI): the bank, cut at 8 points; every acknowledged commit (the set-up
    included) survives and the money adds up after each."""
    from cairn.db.crashtest import powercut_scenario
    from cairn.storage.powercut import sweep

    result = sweep(powercut_scenario(engine, seed=3, transfers=20), str(tmp_path), cuts=8,
                   seed=3, subset=subset)
    assert result.violations == []
    assert result.cuts >= 8


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_power_cut_sweep_many_cuts(tmp_path: Path, engine: str) -> None:
    from cairn.db.crashtest import powercut_scenario
    from cairn.storage.powercut import sweep

    seed = random.randrange(1 << 30)
    for i, subset in enumerate([False, True]):
        result = sweep(powercut_scenario(engine, seed=seed + i), str(tmp_path), cuts=30,
                       seed=seed + i, subset=subset)
        assert result.violations == [], f"seed {seed + i}"


# The database's own fsyncs and directory fsyncs (the WAL: its commits, its rotation, the
# directories this section made durable) and the CHECKPOINT file's rename.
DB_MUST_CATCH = ["fsync db/wal.py:_flush_and_fsync", "dirsync db/wal.py:__init__",
                 "dirsync db/wal.py:_rotate"]


def test_removing_a_database_fsync_is_caught(tmp_path: Path) -> None:
    from cairn.db.crashtest import powercut_scenario
    from cairn.storage.powercut import fsync_check, record_sites

    scenario = powercut_scenario("lsm", seed=1)
    sites = [s for s in record_sites(scenario, str(tmp_path))
             if any(s.startswith(p + " ") for p in DB_MUST_CATCH)]
    assert len(sites) >= len(DB_MUST_CATCH) + 1, sites  # wal.py's __init__ has two
    results = fsync_check([scenario], str(tmp_path), cuts=20, seed=1, sites=sites)
    for r in results:
        print(f"{r.site:70} {r.caught_by}: {r.violation}")
    assert [r.site for r in results if r.caught_by is None] == []


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a shard sweeps hundreds of power cuts
@pytest.mark.parametrize("shard", range(10))
def test_every_fsync_call_site_is_caught_or_known_not_needed(tmp_path: Path,
                                                             shard: int) -> None:
    """The whole table of ``cairn storage fsync-check``, in ten shards of the call sites:
    every fsync and directory fsync that the engines' and the database's workloads reach,
    switched off in turn, is caught by a power-cut sweep, or is listed in NOT_NEEDED or
    UNREACHED with the reason."""
    from cairn.db.crashtest import powercut_scenarios
    from cairn.storage.powercut import fsync_check, record_sites

    scenarios = powercut_scenarios()
    sites = sorted({s for sc in scenarios for s in record_sites(sc, str(tmp_path))})
    assert len(sites) >= 40
    mine = sites[shard::10]
    results = fsync_check(scenarios, str(tmp_path), cuts=40, seed=1, sites=mine)
    for r in results:
        print(f"{r.site:78} {r.verdict}")
    assert sorted(r.site for r in results) == mine
    assert [r.site for r in results if not r.ok] == []
