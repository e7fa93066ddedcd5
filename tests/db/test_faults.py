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

    db = Database.open(str(tmp_path), fs=SlowFsync(), **OPTS)
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
