"""WAL, recovery, checkpoints, the change stream, and the SIGKILL crash sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.db import Database
from cairn.db.errors import DataError, InvalidParameter
from cairn.db.wal import WAL_DIR, segment_name

CAIRN = str(Path(sys.executable).with_name("cairn"))
ENGINES = ["lsm", "btree"]


def fill(db: Database) -> None:
    db.create_table("acc")
    db.create_index("acc", ["owner"], unique=True)
    with db.transaction() as tx:
        for i in range(50):
            tx.insert("acc", {"id": i, "owner": f"o{i}", "bal": 100})


def snapshot(db: Database) -> list[dict]:
    with db.transaction("repeatable read") as tx:
        return tx.select("acc")


@pytest.mark.parametrize("engine", ENGINES)
def test_reopen_after_clean_close(tmp_path: Path, engine: str) -> None:
    db = Database.open(str(tmp_path), engine=engine)
    fill(db)
    with db.transaction() as tx:
        tx.update("acc", 3, {"bal": 7})
        tx.delete("acc", 4)
    before = snapshot(db)
    db.close()
    db = Database.open(str(tmp_path), engine=engine)
    assert snapshot(db) == before
    with db.transaction() as tx:
        assert tx.select("acc", {"owner": "o3"}) == [{"id": 3, "owner": "o3", "bal": 7}]
        tx.insert("acc", {"id": 100, "owner": "new", "bal": 1})  # xids keep growing
    db.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_recovery_replays_wal_after_checkpoint_without_close(tmp_path: Path,
                                                             engine: str) -> None:
    db = Database.open(str(tmp_path), engine=engine)
    fill(db)
    db.checkpoint()
    with db.transaction() as tx:
        tx.update("acc", 1, {"bal": 1})
        tx.update("acc", 1, {"bal": 2})  # updates its own version in place
        tx.delete("acc", 2)
        tx.insert("acc", {"id": 200, "owner": "x", "bal": 5})
    with db.transaction() as tx:
        tx.update("acc", 1, {"bal": 3})
    uncommitted = db.begin()
    uncommitted.update("acc", 5, {"bal": 0})
    expected = snapshot(db)
    db._abandon()  # the OS has the WAL; the process "dies" here without closing
    db2 = Database.open(str(tmp_path), engine=engine)
    assert snapshot(db2) == expected
    with db2.transaction() as tx:
        assert tx.get("acc", 5)["bal"] == 100  # the uncommitted update is gone
        assert tx.get("acc", 1)["bal"] == 3
    db2.close()


def test_torn_wal_tail_is_cut_and_corruption_reported(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path))
    fill(db)
    db.close()
    wal = tmp_path / WAL_DIR / segment_name(0)
    good = wal.read_bytes()
    wal.write_bytes(good + b"\x01\x02\x03 torn")
    db = Database.open(str(tmp_path))
    assert len(snapshot(db)) == 50
    db.close()
    assert wal.read_bytes() == good
    # damage inside the log, followed by valid records: refuse to open
    data = bytearray(good)
    data[60] ^= 0xFF
    wal.write_bytes(bytes(data))
    os.remove(tmp_path / "CHECKPOINT")
    from cairn.db.errors import CorruptionError
    with pytest.raises(CorruptionError):
        Database.open(str(tmp_path))


def test_changes_stream_in_commit_order() -> None:
    db = Database.memory()
    db.create_table("t")
    with db.transaction() as tx:
        tx.insert("t", {"id": 1, "v": "a"})
    with db.transaction() as tx:
        tx.update("t", 1, {"v": "b"})
        tx.insert("t", {"id": 2, "v": "c"})
    rolled = db.begin()
    rolled.insert("t", {"id": 3})
    rolled.rollback()
    with db.transaction() as tx:
        tx.delete("t", 2)
    changes = list(db.changes())
    assert [c.kind for c in changes] == ["create_table", "commit", "commit", "commit"]
    lsns = [c.lsn for c in changes]
    assert lsns == sorted(lsns)
    ops = [(rc.op, rc.key, rc.row) for c in changes[1:] for rc in c.changes]
    assert ops == [("insert", 1, {"id": 1, "v": "a"}), ("update", 1, {"id": 1, "v": "b"}),
                   ("insert", 2, {"id": 2, "v": "c"}), ("delete", 2, None)]
    tail = list(db.changes(changes[2].lsn))
    assert [c.lsn for c in tail] == lsns[2:]


def test_group_commit_shares_fsyncs(tmp_path: Path) -> None:
    import threading
    db = Database.open(str(tmp_path))
    db.create_table("t")

    def client(n: int) -> None:
        for i in range(30):
            with db.transaction() as tx:
                tx.insert("t", {"id": n * 1000 + i})

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = db.stats()
    assert s.commits == 240
    assert s.wal_fsyncs < 240  # several commits per fsync
    assert s.wal_commits_per_fsync > 1
    db.close()


def test_bad_paths_and_engines(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("not a database")
    from cairn.storage.errors import StorageError
    with pytest.raises(StorageError):
        Database.open(str(tmp_path / "other"))
    assert os.listdir(tmp_path / "other") == ["file.txt"]  # nothing written into it
    db = Database.open(str(tmp_path / "db"), engine="btree")
    from cairn.db.errors import DatabaseLocked
    with pytest.raises(DatabaseLocked):
        Database.open(str(tmp_path / "db"), engine="btree")  # one Database per directory
    db.close()
    with pytest.raises(InvalidParameter):
        Database.open(str(tmp_path / "db"), engine="lsm")
    with pytest.raises(InvalidParameter):
        Database.open(str(tmp_path / "x"), engine="hash")


def test_rows_that_cannot_be_stored_are_refused_and_lose_nothing(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path))
    fill(db)
    tx = db.begin()
    for bad in ({"id": 1000, "v": {1, 2}}, {"id": 1000, "v": float("nan")},
                {"id": 1000, "v": b"bytes"}, {"id": [1], "v": 1}, "not a row",
                {"id": 1000, 5: "int column"}):
        with pytest.raises(DataError):
            db.begin().insert("acc", bad)
    tx.insert("acc", {"id": "../../etc/passwd\x00", "owner": "\x00nul", "bal": 1})
    tx.commit()
    db.close()
    db = Database.open(str(tmp_path))
    assert len(snapshot(db)) == 51
    with db.transaction() as t:
        assert t.get("acc", "../../etc/passwd\x00")["owner"] == "\x00nul"
    db.close()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_sigkill_sweep_keeps_money_and_acknowledged_commits(tmp_path: Path,
                                                            engine: str) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [CAIRN, "txn", "crashtest", "--engine", engine, "--kills", "12", "--seed",
         str(int.from_bytes(os.urandom(3), "big")), "--dir", str(tmp_path / "work"),
         "--max-delay", "0.25", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())["results"][0]
    assert result["violations"] == [], proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["kills"] == 12
    assert result["acked"] > 12  # the children committed between kills
    assert result["recovered_transfers"] >= result["acked"]


def test_wal_segments_rotate_recycle_and_recover(tmp_path: Path) -> None:
    opts = {"wal_segment_bytes": 4096, "wal_keep_bytes": 0, "autovacuum": False}
    db = Database.open(str(tmp_path), **opts)
    db.create_table("t")
    for i in range(200):
        with db.transaction() as tx:
            tx.insert("t", {"id": i, "pad": "x" * 50})
    segments = sorted(os.listdir(tmp_path / "wal"))
    assert len(segments) > 3
    all_changes = list(db.changes())
    assert len(all_changes) == 201
    mid = all_changes[100].lsn
    assert [c.lsn for c in db.changes(mid)] == [c.lsn for c in all_changes[100:]]
    with pytest.raises(InvalidParameter):
        list(db.changes(mid + 3))  # not a record boundary
    db.checkpoint()
    assert len(os.listdir(tmp_path / "wal")) < len(segments)  # recycled up to the redo LSN
    with pytest.raises(InvalidParameter):
        list(db.changes(0))
    with db.transaction() as tx:
        tx.update("t", 5, {"pad": "after checkpoint"})
    db._abandon()
    db2 = Database.open(str(tmp_path), **opts)
    with db2.transaction() as tx:
        assert len(tx.select("t")) == 200
        assert tx.get("t", 5)["pad"] == "after checkpoint"
    db2.close()
