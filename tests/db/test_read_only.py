"""Read-only transactions: 25006 for writes, SSI's safe snapshots (no SIREAD locks once safe),
SERIALIZABLE READ ONLY DEFERRABLE, and read-only snapshots that leave out commits not yet
durable, so they never wait for an fsync."""

from __future__ import annotations

import contextlib
import random
import threading
from pathlib import Path

import pytest

from cairn.db import Database, Transaction
from cairn.db.errors import InFailedTransaction, ReadOnlyTransaction, SerializationFailure
from tests.db.conftest import bank

SER = "serializable"


def sireads(db: Database, tx=None) -> list:
    locks = [li for li in db.locks() if li.mode == "SIReadLock"]
    return [li for li in locks if li.owner == f"transaction {tx.xid}"] if tx else locks


def commit_unseen_by(db: Database) -> None:
    """A write commit after the running read-write transactions' snapshots: a read-only
    snapshot taken now sees something they do not, so they could still become pivots."""
    with db.transaction() as tx:
        tx.insert("accounts", {"id": 1000 + db.stats().commits, "owner": "z", "balance": 0})


def pivot_after_t3() -> tuple[Database, Transaction]:
    """Fekete's example up to T3's commit: T2 has read both accounts and is still running,
    T3 deposited into savings and committed (so T2 -> T3 is an rw-edge to a commit)."""
    db = bank()
    t2 = db.begin(SER)
    t2.get("acct", "checking")
    t2.get("acct", "savings")
    with db.transaction(SER) as t3:
        t3.update("acct", "savings", {"bal": 20})
    return db, t2


@pytest.mark.parametrize("write", [
    lambda tx: tx.insert("accounts", {"id": 9, "owner": "x", "balance": 1}),
    lambda tx: tx.update("accounts", 1, {"balance": 0}),
    lambda tx: tx.delete("accounts", 1),
    lambda tx: tx.get("accounts", 1, for_update=True),
    lambda tx: tx.select("accounts", for_share=True),
])
@pytest.mark.parametrize("level", ["read committed", "repeatable read", SER])
def test_writes_in_a_read_only_transaction_raise_25006(db: Database, write, level: str) -> None:
    tx = db.begin(level, read_only=True)
    assert tx.get("accounts", 1)["balance"] == 100
    with pytest.raises(ReadOnlyTransaction) as info:
        write(tx)
    assert info.value.sqlstate == "25006"
    with pytest.raises(InFailedTransaction):  # as in PostgreSQL, the error aborts it
        tx.get("accounts", 1)
    tx.rollback()
    with db.transaction() as t:
        assert t.get("accounts", 1)["balance"] == 100


def test_safe_from_the_start_takes_no_siread_locks(db: Database) -> None:
    before = db.stats().ssi_safe_snapshots
    ro = db.begin(SER, read_only=True)
    assert ro.select("accounts") and ro.get("accounts", 1)
    assert sireads(db) == []
    assert ro.xid == 0  # never tracked: it kept its virtual transaction id
    assert db.stats().ssi_safe_snapshots == before + 1
    rw = db.begin(SER)  # the same reads, not declared read-only: SIREAD locks
    rw.select("accounts")
    assert sireads(db, rw)
    ro.commit()
    rw.commit()


def test_snapshot_is_safe_when_no_commit_came_after_the_running_writer(db: Database) -> None:
    """A read-write transaction runs, but nothing committed since its snapshot: the read-only
    snapshot sees nothing the writer does not, so the writer can never be a pivot against it
    (it has no T3 to point to): safe at once, untracked, no xid."""
    rw = db.begin(SER)
    rw.get("accounts", 2)
    ro = db.begin(SER, read_only=True)
    assert ro.get("accounts", 1)["balance"] == 100
    assert sireads(db) != [] and ro.xid == 0
    rw.update("accounts", 2, {"balance": 50})
    rw.commit()
    assert ro.get("accounts", 2)["balance"] == 100
    ro.commit()
    assert db.stats().ssi_safe_snapshots == 1


def tracked_read_only(db: Database) -> tuple[Transaction, Transaction]:
    """A running read-write transaction, a commit it does not see, then a read-only one that
    read a row: tracked (one SIREAD lock), since the writer could still become a pivot."""
    rw = db.begin(SER)
    rw.get("accounts", 2)
    commit_unseen_by(db)
    ro = db.begin(SER, read_only=True)
    ro.get("accounts", 1)
    assert len(sireads(db, ro)) == 1
    return rw, ro


def test_snapshot_becomes_safe_when_the_read_write_transaction_commits(db: Database) -> None:
    rw, ro = tracked_read_only(db)
    rw.update("accounts", 2, {"balance": 50})
    rw.commit()  # no rw-conflict out to an earlier commit: ro's snapshot is safe now
    assert sireads(db, ro) == []
    assert ro.get("accounts", 2)["balance"] == 100  # still its snapshot
    assert sireads(db, ro) == []
    ro.commit()
    assert db._ssi.stats.became_safe >= 1
    assert db._ssi.active == set()


def test_snapshot_stays_safe_when_the_read_write_transaction_aborts(db: Database) -> None:
    rw, ro = tracked_read_only(db)
    rw.rollback()
    assert sireads(db, ro) == []
    ro.commit()


def test_read_only_anomaly_declared_read_only_pivot_fails() -> None:
    """Fekete's anomaly with T1 declared READ ONLY: its snapshot is not safe (T2 runs), so it
    is tracked, and the pivot T2 fails at its write."""
    db = bank()
    t2 = db.begin(SER)
    c, s = t2.get("acct", "checking")["bal"], t2.get("acct", "savings")["bal"]
    with db.transaction(SER) as t3:
        t3.update("acct", "savings", {"bal": t3.get("acct", "savings")["bal"] + 20})
    t1 = db.begin(SER, read_only=True)
    assert [r["bal"] for r in t1.select("acct")] == [0, 20]
    with pytest.raises(SerializationFailure):
        t2.update("acct", "checking", {"bal": c - 10 - (1 if c + s < 10 else 0)})
    t1.commit()


def test_unsafe_snapshot_read_only_transaction_is_the_victim() -> None:
    """T2 commits first with an rw-edge out to T3, which committed before the read-only T1's
    snapshot: T1's snapshot is unsafe; when T1 then reads past T2's write it closes the
    dangerous structure, and T1 (the only one left running) fails."""
    db, t2 = pivot_after_t3()
    t1 = db.begin(SER, read_only=True)
    assert t1.get("acct", "savings")["bal"] == 20
    t2.update("acct", "checking", {"bal": -11})
    t2.commit()
    assert db._ssi.stats.unsafe == 1
    assert sireads(db, t1)  # unsafe: it keeps its SIREAD locks
    with pytest.raises(SerializationFailure):
        t1.get("acct", "checking")


def test_deferrable_waits_for_a_safe_snapshot(db: Database, bg) -> None:
    rw = db.begin(SER)
    rw.get("accounts", 1)
    commit_unseen_by(db)
    ro = db.begin(SER, read_only=True, deferrable=True)
    step = bg(lambda: ro.get("accounts", 1))
    assert step.blocked()  # rw may still become a pivot: wait
    rw.update("accounts", 1, {"balance": 7})
    rw.commit()
    assert step.result()["balance"] == 100  # its snapshot, now known to be safe
    assert sireads(db, ro) == []
    ro.commit()


def test_deferrable_retakes_an_unsafe_snapshot(bg) -> None:
    db, t2 = pivot_after_t3()
    t1 = db.begin(SER, read_only=True, deferrable=True)
    step = bg(lambda: t1.select("acct"))
    assert step.blocked()
    t2.update("acct", "checking", {"bal": -11})
    t2.commit()  # the first snapshot is unsafe now; the second one sees T2 too
    assert [r["bal"] for r in step.result()] == [-11, 20]
    assert sireads(db) == []
    t1.commit()
    assert db._ssi.stats.unsafe == db.stats().ssi_unsafe_snapshots == 1


def test_deferrable_is_ignored_below_serializable(db: Database) -> None:
    rw = db.begin(SER)
    rw.get("accounts", 1)
    ro = db.begin("repeatable read", read_only=True, deferrable=True)
    assert ro.get("accounts", 1)["balance"] == 100  # no wait
    ro.commit()
    rw.commit()


class _HeldFsync:
    """Holds every WAL fsync until released, so a commit stays visible but not durable."""

    def __init__(self, db: Database) -> None:
        self.gc = db._wal._gc
        self.real = self.gc._do_sync
        self.go = threading.Event()
        self.entered = threading.Event()

        def held() -> None:
            self.entered.set()
            self.go.wait(10)
            self.real()

        self.gc._do_sync = held

    def release(self) -> None:
        self.go.set()
        self.gc._do_sync = self.real


@pytest.mark.parametrize("level", ["repeatable read", SER])
def test_read_only_snapshot_leaves_out_commits_not_yet_durable(tmp_path: Path, bg,
                                                                level: str) -> None:
    db = Database.open(str(tmp_path), autovacuum=False, early_lock_release=True)
    try:
        db.create_table("t")
        with db.transaction() as tx:
            tx.insert("t", {"id": 1, "v": 0})
        held = _HeldFsync(db)
        writer = bg(lambda: db.run(lambda tx: tx.update("t", 1, {"v": 1}), SER))
        assert held.entered.wait(5)  # its record is appended and visible, not yet on disk
        assert writer.blocked()
        db.vacuum("t")  # the replaced version stays: a read-only snapshot still needs it
        reader = db.begin(level)  # sees the visible commit, so it must wait for it
        assert reader.get("t", 1)["v"] == 1
        waits = bg(reader.commit)
        ro = db.begin(level, read_only=True)
        assert ro.get("t", 1)["v"] == 0  # only durable commits
        ro.commit()  # returns at once: it saw nothing that is not on disk
        assert waits.blocked()
        held.release()
        writer.result()
        waits.result()
        with db.transaction(level, read_only=True) as tx:
            assert tx.get("t", 1)["v"] == 1
    finally:
        db.close()


def test_read_only_audits_under_concurrent_transfers_and_vacuum(tmp_path: Path) -> None:
    """Lock-free read-only reads against writers, rollbacks and vacuum: every audit sees the
    total unchanged, on disk with early lock release and group commit."""
    db = Database.open(str(tmp_path), autovacuum=True, autovacuum_naptime=0.01,
                       autovacuum_threshold=5, early_lock_release=True)
    try:
        db.create_table("acc")
        with db.transaction() as tx:
            for i in range(10):
                tx.insert("acc", {"id": i, "bal": 100})
        stop = threading.Event()
        errors: list[BaseException] = []

        def transfers(n: int) -> None:
            rng = random.Random(n)
            try:
                while not stop.is_set():
                    a, b = rng.sample(range(10), 2)

                    def move(tx, a: int = a, b: int = b) -> None:
                        ra, rb = tx.get("acc", a), tx.get("acc", b)
                        tx.update("acc", a, {"bal": ra["bal"] - 3})
                        tx.update("acc", b, {"bal": rb["bal"] + 3})
                        if rng.random() < 0.2:
                            raise KeyError("client gives up")  # a rollback

                    with contextlib.suppress(KeyError):
                        db.run(move, SER, retries=1000)
            except BaseException as exc:
                errors.append(exc)

        writers = [threading.Thread(target=transfers, args=(n,)) for n in range(3)]
        for w in writers:
            w.start()
        try:
            for i in range(400):
                level = SER if i % 2 else "repeatable read"
                with db.transaction(level, read_only=True) as tx:
                    assert sum(tx.get("acc", k)["bal"] for k in range(10)) == 1000
        finally:
            stop.set()
            for w in writers:
                w.join(30)
        assert not errors, errors[:2]
        assert db.stats().ssi_safe_snapshots > 0
    finally:
        db.close()


def test_read_only_t1_that_cannot_see_t3_dooms_no_pivot_at_t3_commit(db: Database) -> None:
    """The same structure with both edges in place before T3 commits: T3's commit check
    (T3 first, its reader a pivot with a running T1) spares r when T1 is read-only."""
    r = db.begin(SER)
    r.get("accounts", 2)
    x = db.begin(SER, read_only=True)
    x.get("accounts", 1)
    r.update("accounts", 1, {"balance": 2})  # x -rw-> r
    sx = db.begin(SER)
    sx.update("accounts", 2, {"balance": 1})  # r -rw-> sx
    sx.commit()
    r.commit()
    assert [x.get("accounts", k)["balance"] for k in (1, 2)] == [100, 100]
    x.commit()


@pytest.mark.parametrize("read_only", [True, False])
def test_read_only_t1_that_cannot_see_t3_dooms_no_pivot(db: Database, read_only: bool) -> None:
    """x -> r -> sx with sx committing first is only dangerous for a read-only x if sx
    committed before x's snapshot; here it commits after, so the pivot r may commit (serial
    order x, r, sx). Undeclared, x might still write, so r is doomed as before."""
    r = db.begin(SER)
    r.get("accounts", 2)
    x = db.begin(SER, read_only=read_only)
    x.get("accounts", 1)
    with db.transaction(SER) as sx:
        sx.update("accounts", 2, {"balance": 1})  # r -rw-> sx
    if read_only:
        r.update("accounts", 1, {"balance": 2})  # x -rw-> r
        r.commit()
        assert x.get("accounts", 2)["balance"] == 100
        x.commit()
    else:
        with pytest.raises(SerializationFailure):
            r.update("accounts", 1, {"balance": 2})
            r.commit()
        x.commit()


def test_read_only_snapshot_keeps_a_possible_pivot_that_is_not_durable(tmp_path: Path,
                                                                       bg) -> None:
    """Fekete's anomaly through the durability gap: T2 (withdrawal, rw-edge out to the deposit
    T3, which committed first) is visible but not yet durable. A durable-prefix snapshot would
    see T3 without T2, the anomaly's report; so the reader takes the usual snapshot, sees both,
    and waits for T2's fsync at commit."""
    db = Database.open(str(tmp_path), autovacuum=False, early_lock_release=True)
    try:
        db.create_table("acct")
        with db.transaction() as tx:
            tx.insert("acct", {"id": "checking", "bal": 0})
            tx.insert("acct", {"id": "savings", "bal": 0})
        t2 = db.begin(SER)
        t2.get("acct", "checking")
        t2.get("acct", "savings")
        with db.transaction(SER) as t3:  # durable: the fsync is not held yet
            t3.update("acct", "savings", {"bal": 20})
        held = _HeldFsync(db)
        t2.update("acct", "checking", {"bal": -11})
        commit = bg(t2.commit)
        assert held.entered.wait(5) and commit.blocked()  # visible, not durable
        report = db.begin(SER, read_only=True)
        assert [r["bal"] for r in report.select("acct")] == [-11, 20]
        done = bg(report.commit)
        assert done.blocked()  # it saw T2, so it waits for T2's record
        held.release()
        commit.result()
        done.result()
    finally:
        db.close()


def test_virtual_read_only_transaction_holds_vacuum_back(db: Database) -> None:
    """A read-only transaction with no xid (its snapshot taken without the mutex) still
    counts for vacuum's horizon: the versions its snapshot sees stay until it ends."""
    ro = db.begin("repeatable read", read_only=True)
    assert ro.get("accounts", 1)["balance"] == 100 and ro.xid == 0
    for n in range(5):
        with db.transaction() as tx:
            tx.update("accounts", 1, {"balance": n})
    db.vacuum("accounts")
    assert ro.get("accounts", 1)["balance"] == 100
    assert db.table_stats("accounts").dead_versions == 5
    assert db.stats().active_transactions == 1
    ro.commit()
    [res] = db.vacuum("accounts")
    assert res.removed == 5
    assert db.stats().active_transactions == 0


def test_virtual_read_only_transaction_ends_cleanly_every_way(db: Database) -> None:
    before = db.stats()
    ok = db.begin(SER, read_only=True)
    ok.get("accounts", 1)
    ok.commit()
    rb = db.begin(SER, read_only=True)
    rb.get("accounts", 1)
    rb.rollback()
    bad = db.begin(SER, read_only=True)
    bad.get("accounts", 1)
    with pytest.raises(ReadOnlyTransaction):
        bad.update("accounts", 1, {"balance": 0})
    with pytest.raises(InFailedTransaction):
        bad.get("accounts", 1)
    bad.rollback()
    assert {ok.state, rb.state, bad.state} == {"committed", "rolled back"}
    after = db.stats()
    assert after.commits == before.commits + 1
    assert after.rollbacks == before.rollbacks + 2
    assert after.aborts.get("error", 0) == before.aborts.get("error", 0) + 1
    assert after.active_transactions == 0 and db.locks() == []
    left = db.begin(SER, read_only=True)
    left.get("accounts", 2)
    db.close()  # rolls back what is still running, virtual or not
    assert left.state == "rolled back"
