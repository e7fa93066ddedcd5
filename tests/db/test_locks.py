"""Locks: row locks (FOR UPDATE/SHARE, NOWAIT, SKIP LOCKED), lock timeouts, deadlocks, table
locks with their FIFO queue (the migration gotcha), advisory locks, and the lock manager."""

from __future__ import annotations

import threading
import time

import pytest

from cairn.db import Database
from cairn.db.errors import (
    DeadlockDetected,
    LockNotAvailable,
    LockTimeout,
    SerializationFailure,
)
from cairn.txn.locks import LockManager, LockOwner


def test_for_update_nowait(db: Database) -> None:
    t1, t2 = db.begin(), db.begin()
    assert t1.get("accounts", 1, for_update=True)["balance"] == 100
    with pytest.raises(LockNotAvailable) as err:
        t2.get("accounts", 1, for_update=True, nowait=True)
    assert err.value.sqlstate == "55P03"
    with pytest.raises(LockNotAvailable):
        db.begin().select("accounts", {"owner": "ada"}, for_update=True, nowait=True)
    t1.commit()
    assert db.stats().lock_not_available == 2


def test_for_share_shares_but_blocks_writers(db: Database, bg) -> None:
    t1, t2, w = db.begin(), db.begin(), db.begin()
    t1.select("accounts", for_share=True)
    assert len(t2.select("accounts", for_share=True)) == 2  # shared: no wait
    step = bg(lambda: w.update("accounts", 2, {"balance": 0}))
    assert step.blocked()
    t1.commit()
    assert step.blocked()  # t2 still shares it
    t2.commit()
    assert step.result() is True
    w.commit()


def test_skip_locked_hands_out_different_jobs() -> None:
    db = Database.memory()
    db.create_table("jobs")
    with db.transaction() as tx:
        for i in range(5):
            tx.insert("jobs", {"id": i, "state": "queued"})
    workers = [db.begin() for _ in range(3)]
    taken = [w.select("jobs", {"state": "queued"}, for_update=True, skip_locked=True,
                      limit=1)[0]["id"] for w in workers]
    assert taken == [0, 1, 2]
    rest = db.begin().select("jobs", for_update=True, skip_locked=True)
    assert [r["id"] for r in rest] == [3, 4]
    for w, job in zip(workers, taken, strict=True):
        w.update("jobs", job, {"state": "done"})
        w.commit()


def test_lock_timeout(db: Database) -> None:
    t1 = db.begin()
    t1.update("accounts", 1, {"balance": 0})
    t2 = db.begin(lock_timeout=0.1)
    start = time.monotonic()
    with pytest.raises(LockTimeout) as err:
        t2.update("accounts", 1, {"balance": 5})
    assert 0.09 < time.monotonic() - start < 2
    assert err.value.sqlstate == "55P03"
    assert t2.state == "failed"
    t1.commit()
    assert db.stats().lock_timeouts == 1
    assert db.stats().aborts["lock_timeout"] == 1


@pytest.mark.parametrize("level", ["read uncommitted", "read committed", "repeatable read",
                                   "serializable"])
def test_deadlock_detected_and_one_victim(db: Database, bg, level: str) -> None:
    t1, t2 = db.begin(level), db.begin(level)
    t1.update("accounts", 1, {"balance": lambda r: r["balance"] - 1})
    t2.update("accounts", 2, {"balance": lambda r: r["balance"] - 1})
    step = bg(lambda: t1.update("accounts", 2, {"balance": lambda r: r["balance"] + 1}))
    assert step.blocked()
    with pytest.raises(DeadlockDetected) as err:
        t2.update("accounts", 1, {"balance": lambda r: r["balance"] + 1})
    assert err.value.sqlstate == "40P01"
    assert step.result() is True
    t1.commit()
    assert db.stats().deadlocks == 1
    with db.transaction() as tx:
        assert [r["balance"] for r in tx.select("accounts")] == [99, 101]


def test_three_way_deadlock() -> None:
    db = Database.memory(deadlock_timeout=0.05)
    db.create_table("t")
    with db.transaction() as tx:
        for i in range(3):
            tx.insert("t", {"id": i})
    txs = [db.begin() for _ in range(3)]
    for i, tx in enumerate(txs):
        tx.update("t", i, {"v": i})
    results: list[object] = [None] * 3

    def step(i: int) -> None:
        try:
            results[i] = txs[i].update("t", (i + 1) % 3, {"v": i})
        except DeadlockDetected as exc:
            results[i] = exc

    threads = [threading.Thread(target=step, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while sum(isinstance(r, DeadlockDetected) for r in results) < 1 and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    victims = [i for i, r in enumerate(results) if isinstance(r, DeadlockDetected)]
    assert len(victims) == 1
    # the others finish in turn as the transactions before them commit
    for _ in range(3):
        for i, tx in enumerate(txs):
            if results[i] is True and tx.state == "active":
                tx.commit()
        time.sleep(0.05)
    for t in threads:
        t.join(5)
    assert sum(r is True for r in results) == 2


def test_table_lock_queue_is_fifo_the_migration_gotcha(db: Database, bg) -> None:
    reader = db.begin()
    reader.select("accounts")  # a long-running read holds ACCESS SHARE
    migration = db.begin()
    alter = bg(lambda: migration.lock_table("accounts", "access exclusive"))
    assert alter.blocked()
    late_reader = db.begin()
    late = bg(lambda: late_reader.get("accounts", 1))
    assert late.blocked()  # queued behind the ALTER, though compatible with the first reader
    waiting = [li for li in db.locks() if not li.granted]
    assert {li.mode for li in waiting} == {"access exclusive", "access share"}
    reader.commit()
    alter.result()
    assert late.blocked()
    migration.commit()
    assert late.result()["balance"] == 100
    late_reader.commit()


def test_lock_table_nowait_and_bad_mode(db: Database) -> None:
    t1 = db.begin()
    t1.get("accounts", 1)
    with pytest.raises(LockNotAvailable):
        db.begin().lock_table("accounts", "access exclusive", nowait=True)
    from cairn.db.errors import InvalidParameter
    with pytest.raises(InvalidParameter):
        db.begin().lock_table("accounts", "exclusive-ish")
    db.begin().lock_table("accounts", "ROW EXCLUSIVE")  # compatible with ACCESS SHARE


def test_advisory_locks_session_and_transaction(db: Database, bg) -> None:
    lock = db.advisory_lock("report")
    with pytest.raises(LockNotAvailable):
        db.advisory_lock("report", nowait=True)
    tx = db.begin()
    assert tx.try_advisory_lock("report") is False
    step = bg(lambda: db.advisory_lock("report"))
    assert step.blocked()
    lock.release()
    second = step.result()
    second.release()
    assert tx.try_advisory_lock("report") is True
    with pytest.raises(LockNotAvailable):
        db.advisory_lock("report", nowait=True)
    tx.commit()  # transaction-scoped: released at commit
    s1 = db.advisory_lock("report", shared=True)
    s2 = db.advisory_lock("report", shared=True)
    with pytest.raises(LockNotAvailable):
        db.advisory_lock("report", nowait=True)
    s1.release()
    s2.release()
    with db.advisory_lock(42):
        pass
    assert db.locks() == []


def test_for_update_at_repeatable_read_fails_on_concurrent_change(db: Database) -> None:
    t1 = db.begin("repeatable read")
    t1.get("accounts", 1)
    with db.transaction() as t2:
        t2.update("accounts", 1, {"balance": 3})
    with pytest.raises(SerializationFailure):
        t1.get("accounts", 1, for_update=True)


def test_for_update_at_read_committed_rechecks_predicate(db: Database, bg) -> None:
    w = db.begin()
    w.update("accounts", 1, {"owner": "zed"})
    t1 = db.begin()
    step = bg(lambda: t1.select("accounts", {"owner": "ada"}, for_update=True))
    assert step.blocked()
    w.commit()
    assert step.result() == []  # EvalPlanQual: the row no longer matches


# -- the lock manager on its own ----------------------------------------------------------------
def test_lock_manager_grants_waiters_in_fifo_order() -> None:
    mu = threading.Lock()
    lm = LockManager(mu)
    owners = [LockOwner(i) for i in range(4)]
    order: list[int] = []
    with mu:
        lm.acquire(owners[0], ("row", "t", b"k"), "update")

    def wait(i: int) -> None:
        with mu:
            lm.acquire(owners[i], ("row", "t", b"k"), "update")
            order.append(i)
        time.sleep(0.02)
        with mu:
            lm.release_all(owners[i])

    threads = []
    for i in (1, 2, 3):
        threads.append(threading.Thread(target=wait, args=(i,)))
        threads[-1].start()
        time.sleep(0.05)
    with mu:
        lm.release_all(owners[0])
    for t in threads:
        t.join(5)
    assert order == [1, 2, 3]
    assert lm.locks == {}
    assert lm.stats.waits == 3


def test_lock_manager_holder_upgrade_skips_the_queue() -> None:
    mu = threading.Lock()
    lm = LockManager(mu)
    a, b, c = LockOwner(1), LockOwner(2), LockOwner(3)
    tag = ("table", "t")
    with mu:
        lm.acquire(a, tag, "access share")
        lm.acquire(b, tag, "access share")
    waiter = threading.Thread(target=lambda: (mu.acquire(), lm.acquire(c, tag, "access exclusive"),
                                              mu.release()))
    waiter.start()
    time.sleep(0.05)
    with mu:
        # a already holds a lock here, so its request does not queue behind c
        lm.acquire(a, tag, "row share")
        lm.release_all(a)
        lm.release_all(b)
    waiter.join(5)
    assert not waiter.is_alive()
    with mu:
        assert [li.mode for li in lm.snapshot()] == ["access exclusive"]


def test_fast_path_access_share_moves_into_the_queue_for_access_exclusive(db: Database,
                                                                          bg) -> None:
    """ACCESS SHARE is taken on the lock manager's fast path (no mutex, outside the lock
    table) until someone asks for ACCESS EXCLUSIVE: then the holders move into the lock table,
    the request queues behind them, and later readers queue behind it. A read-only
    transaction (virtual xid, no mutex at all) is held the same way."""
    reader = db.begin("repeatable read", read_only=True)
    assert reader.get("accounts", 1)["balance"] == 100
    assert reader.xid == 0  # never needed an xid
    [held] = [li for li in db.locks() if li.tag == ("table", "accounts")]
    assert (held.mode, held.granted, held.fastpath) == ("access share", True, True)
    assert held.owner.startswith("virtual transaction")
    migration = db.begin()
    alter = bg(lambda: migration.lock_table("accounts", "access exclusive"))
    assert alter.blocked()
    table = [li for li in db.locks() if li.tag == ("table", "accounts")]
    assert {(li.mode, li.granted, li.fastpath) for li in table} == {
        ("access share", True, False), ("access exclusive", False, False)}
    late_reader = db.begin("repeatable read", read_only=True)
    late = bg(lambda: late_reader.get("accounts", 1))
    assert late.blocked()  # behind the waiting ACCESS EXCLUSIVE, not on the fast path
    reader.commit()  # its moved lock goes through the lock table
    alter.result()
    assert late.blocked()
    migration.commit()
    assert late.result()["balance"] == 100
    late_reader.commit()
    after = db.begin()
    after.get("accounts", 2)  # no strong request left: the fast path again
    assert [li.fastpath for li in db.locks() if li.tag == ("table", "accounts")] == [True]
    after.commit()
    assert db._locks.strong == {} and db.locks() == []


def test_nowait_access_exclusive_leaves_the_fast_path_open(db: Database) -> None:
    reader = db.begin()
    reader.get("accounts", 1)
    with pytest.raises(LockNotAvailable):
        db.begin().lock_table("accounts", "access exclusive", nowait=True)
    assert db._locks.strong == {}  # the refused request does not keep readers off it
    other = db.begin()
    other.get("accounts", 2)
    assert [li.fastpath for li in db.locks() if li.owner == other.owner.label] == [True]
    reader.commit()
    other.commit()
    db.begin().lock_table("accounts", "access exclusive", nowait=True)


def test_fast_path_release_after_a_move_goes_through_the_lock_table() -> None:
    """The lock manager alone: an owner that leaves the fast path after its lock was moved
    learns it (the mover flags it before looking), and must release under the mutex."""
    mu = threading.Lock()
    lm = LockManager(mu)
    tag = ("table", "t")
    a, b = LockOwner(1, "a"), LockOwner(2, "b")
    assert lm.try_fast_share(a, tag)
    assert lm.release_fast(a, [tag]) is False  # nothing moved: done without the mutex
    assert lm.try_fast_share(a, tag)
    with mu, pytest.raises(LockNotAvailable):
        lm.acquire(b, tag, "access exclusive", nowait=True)
    assert lm.release_fast(a, [tag]) is True  # moved into the table meanwhile
    assert [li.mode for li in lm.snapshot()] == ["access share"]
    with mu:
        lm.release_all(a)
        lm.acquire(b, tag, "access exclusive", nowait=True)
    assert not lm.try_fast_share(a, tag)  # an ACCESS EXCLUSIVE is held: take the slow path
    assert lm.fast[tag] == set()
