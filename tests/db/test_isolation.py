"""Isolation levels, step by step: two transactions interleaved, one statement at a time.

Each test is a small scenario in the style of PostgreSQL's isolation specs: the steps are the
lines of the test, in order; blocking steps run in a background thread.
"""

from __future__ import annotations

import pytest

from cairn.db import Database
from cairn.db.errors import (
    DeadlockDetected,
    SerializationFailure,
)
from tests.db.conftest import bank

SER = "serializable"


def balance(db: Database, key: int = 1) -> int:
    with db.transaction() as tx:
        return tx.get("accounts", key)["balance"]


# -- read uncommitted -------------------------------------------------------------------------
def test_read_uncommitted_sees_dirty_data_read_committed_does_not(db: Database) -> None:
    w = db.begin()
    w.update("accounts", 1, {"balance": 50})
    ru = db.begin("read uncommitted")
    rc = db.begin("read committed")
    assert ru.get("accounts", 1)["balance"] == 50  # dirty read
    assert ru.select("accounts", {"balance": 50}) == [{"id": 1, "owner": "ada", "balance": 50}]
    assert rc.get("accounts", 1)["balance"] == 100
    w.rollback()
    assert ru.get("accounts", 1)["balance"] == 100  # what it read never existed
    ru.commit()
    rc.commit()


def test_read_uncommitted_never_dirty_writes(db: Database, bg) -> None:
    w = db.begin()
    w.update("accounts", 1, {"balance": 50})
    ru = db.begin("read uncommitted")
    step = bg(lambda: ru.update("accounts", 1, {"balance": 70}))
    assert step.blocked()  # waits for w's row lock: no dirty write
    w.commit()
    assert step.result() is True
    ru.commit()
    assert balance(db) == 70


def test_dirty_delete_hides_row_at_read_uncommitted(db: Database) -> None:
    w = db.begin()
    w.delete("accounts", 2)
    ru = db.begin("read uncommitted")
    assert ru.get("accounts", 2) is None
    assert db.begin("read committed").get("accounts", 2) is not None
    w.rollback()
    assert ru.get("accounts", 2) is not None


# -- read committed ---------------------------------------------------------------------------
def test_read_committed_sees_each_statements_snapshot(db: Database) -> None:
    t1 = db.begin("read committed")
    assert t1.get("accounts", 1)["balance"] == 100
    t2 = db.begin("read committed")
    t2.update("accounts", 1, {"balance": 40})
    assert t1.get("accounts", 1)["balance"] == 100  # uncommitted: not seen
    t2.commit()
    assert t1.get("accounts", 1)["balance"] == 40  # non-repeatable read
    t1.commit()


def test_read_committed_read_modify_write_loses_an_update(db: Database) -> None:
    t1, t2 = db.begin(), db.begin()
    b1 = t1.get("accounts", 1)["balance"]
    b2 = t2.get("accounts", 1)["balance"]
    t1.update("accounts", 1, {"balance": b1 + 10})
    t1.commit()
    t2.update("accounts", 1, {"balance": b2 + 10})
    t2.commit()
    assert balance(db) == 110  # one increment lost: the anomaly


def test_read_committed_atomic_increment_waits_and_rechecks(db: Database, bg) -> None:
    t1, t2 = db.begin(), db.begin()
    t1.update("accounts", 1, {"balance": lambda r: r["balance"] + 10})
    step = bg(lambda: t2.update("accounts", 1, {"balance": lambda r: r["balance"] + 10}))
    assert step.blocked()
    t1.commit()
    assert step.result() is True  # re-evaluated on the newest committed version
    t2.commit()
    assert balance(db) == 120


def test_compare_and_set_detects_the_lost_update(db: Database) -> None:
    t1, t2 = db.begin(), db.begin()
    seen = t2.get("accounts", 1)["balance"]
    t1.update("accounts", 1, {"balance": 130})
    t1.commit()
    assert t2.update("accounts", 1, {"balance": seen + 10}, expect={"balance": seen}) is False
    assert t2.update("accounts", 1, {"balance": 140}, expect={"balance": 130}) is True
    t2.commit()
    assert balance(db) == 140


def test_read_committed_update_of_row_deleted_meanwhile_affects_nothing(db: Database,
                                                                        bg) -> None:
    t1, t2 = db.begin(), db.begin()
    t1.delete("accounts", 1)
    step = bg(lambda: t2.update("accounts", 1, {"balance": 0}))
    assert step.blocked()
    t1.commit()
    assert step.result() is False
    t2.commit()


# -- repeatable read --------------------------------------------------------------------------
def test_repeatable_read_keeps_its_snapshot(db: Database) -> None:
    t1 = db.begin("repeatable read")
    assert t1.get("accounts", 1)["balance"] == 100
    with db.transaction() as t2:
        t2.update("accounts", 1, {"balance": 1})
        t2.insert("accounts", {"id": 3, "owner": "cy", "balance": 5})
    assert t1.get("accounts", 1)["balance"] == 100
    assert [r["id"] for r in t1.select("accounts")] == [1, 2]  # no phantom either
    t1.commit()


def test_repeatable_read_snapshot_is_taken_at_first_statement(db: Database) -> None:
    t1 = db.begin("repeatable read")
    with db.transaction() as t2:
        t2.update("accounts", 1, {"balance": 7})
    assert t1.get("accounts", 1)["balance"] == 7
    t1.commit()


def test_repeatable_read_first_updater_wins(db: Database) -> None:
    t1, t2 = db.begin("repeatable read"), db.begin("repeatable read")
    t1.get("accounts", 1)
    t2.get("accounts", 1)
    t1.update("accounts", 1, {"balance": 1})
    t1.commit()
    with pytest.raises(SerializationFailure) as err:
        t2.update("accounts", 1, {"balance": 2})
    assert err.value.sqlstate == "40001"
    assert err.value.cause == "concurrent update"
    assert balance(db) == 1


def test_repeatable_read_waits_then_fails_or_proceeds(db: Database, bg) -> None:
    for outcome in ("commit", "rollback"):
        t1, t2 = db.begin("repeatable read"), db.begin("repeatable read")
        t2.get("accounts", 2)
        t1.update("accounts", 2, {"balance": lambda r: r["balance"] + 1})
        step = bg(lambda t2=t2: t2.update("accounts", 2, {"balance": 0}))
        assert step.blocked()
        getattr(t1, outcome)()
        if outcome == "commit":
            assert isinstance(step.exception(), SerializationFailure)
        else:
            assert step.result() is True
            t2.commit()
    assert balance(db, 2) == 0


def test_repeatable_read_allows_write_skew() -> None:
    db = doctors()
    t1, t2 = db.begin("repeatable read"), db.begin("repeatable read")
    assert len(t1.select("doctors", {"on_call": True})) == 2
    assert len(t2.select("doctors", {"on_call": True})) == 2
    t1.update("doctors", "alice", {"on_call": False})
    t2.update("doctors", "bob", {"on_call": False})
    t1.commit()
    t2.commit()
    with db.transaction() as tx:
        assert tx.select("doctors", {"on_call": True}) == []  # nobody on call: write skew


# -- serializable: SSI ------------------------------------------------------------------------
def doctors(index: bool = True) -> Database:
    db = Database.memory(deadlock_timeout=0.05)
    db.create_table("doctors", primary_key="name")
    if index:
        db.create_index("doctors", ["on_call"])
    with db.transaction() as tx:
        tx.insert("doctors", {"name": "alice", "on_call": True})
        tx.insert("doctors", {"name": "bob", "on_call": True})
    return db


@pytest.mark.parametrize("index", [True, False])
def test_ssi_prevents_write_skew(index: bool) -> None:
    db = doctors(index)
    t1, t2 = db.begin(SER), db.begin(SER)
    assert len(t1.select("doctors", {"on_call": True})) == 2
    assert len(t2.select("doctors", {"on_call": True})) == 2
    t1.update("doctors", "alice", {"on_call": False})
    t2.update("doctors", "bob", {"on_call": False})
    t1.commit()
    with pytest.raises(SerializationFailure) as err:
        t2.commit()
    assert err.value.cause == "rw-dependencies"
    with db.transaction() as tx:
        assert [r["name"] for r in tx.select("doctors", {"on_call": True})] == ["bob"]
    assert db.stats().ssi_conflicts >= 2


def meeting_rooms() -> Database:
    db = Database.memory()
    db.create_table("bookings")
    db.create_index("bookings", ["room", "start"])
    with db.transaction() as tx:
        tx.insert("bookings", {"id": 1, "room": 1, "start": 9, "end": 10})
        tx.insert("bookings", {"id": 2, "room": 2, "start": 12, "end": 13})
    return db


def book(tx, booking_id: int, room: int, start: int) -> bool:
    clash = tx.select("bookings", {"room": room, "start": ("between", start - 1, start + 1)})
    if clash:
        return False
    tx.insert("bookings", {"id": booking_id, "room": room, "start": start, "end": start + 1})
    return True


def test_ssi_prevents_phantom_double_booking() -> None:
    db = meeting_rooms()
    t1, t2 = db.begin(SER), db.begin(SER)
    assert book(t1, 10, 1, 14) and book(t2, 11, 1, 14)  # both see a free slot
    t1.commit()
    with pytest.raises(SerializationFailure):
        t2.commit()


def test_ssi_index_range_locks_do_not_abort_disjoint_bookings() -> None:
    db = meeting_rooms()
    t1, t2 = db.begin(SER), db.begin(SER)
    assert book(t1, 10, 1, 14) and book(t2, 11, 2, 16)  # different rooms: disjoint ranges
    t1.commit()
    t2.commit()


def test_repeatable_read_allows_phantom_double_booking() -> None:
    db = meeting_rooms()
    t1, t2 = db.begin("repeatable read"), db.begin("repeatable read")
    assert book(t1, 10, 1, 14) and book(t2, 11, 1, 14)
    t1.commit()
    t2.commit()
    with db.transaction() as tx:
        assert len(tx.select("bookings", {"room": 1, "start": 14})) == 2


def test_ssi_no_false_positive_on_disjoint_transfers(db: Database) -> None:
    with db.transaction() as tx:
        tx.insert("accounts", {"id": 3, "owner": "cy", "balance": 100})
        tx.insert("accounts", {"id": 4, "owner": "di", "balance": 100})
    t1, t2 = db.begin(SER), db.begin(SER)
    for tx, (a, b) in ((t1, (1, 2)), (t2, (3, 4))):
        ra, rb = tx.get("accounts", a), tx.get("accounts", b)
        tx.update("accounts", a, {"balance": ra["balance"] - 5})
        tx.update("accounts", b, {"balance": rb["balance"] + 5})
    t1.commit()
    t2.commit()


def test_ssi_read_only_anomaly_is_prevented() -> None:
    """Fekete et al.'s read-only anomaly: T1 (read-only) sees T3's effect but not T2's."""
    db = bank()
    t2 = db.begin(SER)  # withdraws from checking, with a fee if the total goes negative
    t2.get("acct", "checking")
    t2.get("acct", "savings")
    t3 = db.begin(SER)  # deposits 20 into savings
    s = t3.get("acct", "savings")["bal"]
    t3.update("acct", "savings", {"bal": s + 20})
    t3.commit()
    t1 = db.begin(SER)  # reads both after T3 committed
    t1.get("acct", "checking")
    t1.get("acct", "savings")
    t1.commit()
    with pytest.raises(SerializationFailure):
        t2.update("acct", "checking", {"bal": -11})  # saw total 0: charges a fee
        t2.commit()


def test_ssi_sequential_transactions_never_conflict(db: Database) -> None:
    for _ in range(50):
        with db.transaction(SER) as tx:
            r = tx.get("accounts", 1)
            tx.update("accounts", 1, {"balance": r["balance"] + 1})
    assert balance(db) == 150
    assert db.stats().ssi_siread_locks == 0  # released when no transaction overlaps


# -- serializable: 2PL ------------------------------------------------------------------------
def test_2pl_reader_blocks_writer(db: Database, bg) -> None:
    t1 = db.begin(SER, "2pl")
    assert t1.get("accounts", 1)["balance"] == 100
    w = db.begin()
    step = bg(lambda: w.update("accounts", 1, {"balance": 0}))
    assert step.blocked()
    t1.commit()
    assert step.result() is True
    w.commit()


def test_2pl_writer_blocks_reader_which_then_sees_new_value(db: Database, bg) -> None:
    w = db.begin()
    w.update("accounts", 1, {"balance": 0})
    t1 = db.begin(SER, "2pl")
    step = bg(lambda: t1.get("accounts", 1))
    assert step.blocked()
    w.commit()
    assert step.result()["balance"] == 0
    t1.commit()


def test_2pl_write_skew_ends_in_a_deadlock(bg) -> None:
    db = doctors()
    t1, t2 = db.begin(SER, "2pl"), db.begin(SER, "2pl")
    t1.select("doctors", {"on_call": True})
    t2.select("doctors", {"on_call": True})
    step = bg(lambda: t1.update("doctors", "alice", {"on_call": False}))
    assert step.blocked()  # t2's predicate lock covers alice's row
    with pytest.raises(DeadlockDetected) as err:
        t2.update("doctors", "bob", {"on_call": False})
    assert err.value.sqlstate == "40P01"
    assert step.result() is True
    t1.commit()
    with db.transaction() as tx:
        assert [r["name"] for r in tx.select("doctors", {"on_call": True})] == ["bob"]


def test_2pl_index_range_lock_blocks_phantom_insert_only_in_range(bg) -> None:
    db = meeting_rooms()
    t1 = db.begin(SER, "2pl")
    assert t1.select("bookings", {"room": 1, "start": ("between", 13, 15)}) == []
    other = db.begin()
    other.insert("bookings", {"id": 20, "room": 2, "start": 14, "end": 15})  # not in range
    other.commit()
    t2 = db.begin()
    step = bg(lambda: t2.insert("bookings", {"id": 21, "room": 1, "start": 14, "end": 15}))
    assert step.blocked()
    t1.insert("bookings", {"id": 22, "room": 1, "start": 13, "end": 14})
    t1.commit()
    step.result()
    t2.commit()


# -- serializable: serial ---------------------------------------------------------------------
def test_serial_runs_one_transaction_at_a_time(db: Database, bg) -> None:
    t1 = db.begin(SER, "serial")
    t1.get("accounts", 1)
    step = bg(lambda: db.begin(SER, "serial"))
    assert step.blocked()
    t1.commit()
    t2 = step.result()
    t2.rollback()


def test_stored_procedures_run_serially(db: Database) -> None:
    import threading

    def transfer(tx, a: int, b: int, amount: int) -> int:
        ra, rb = tx.get("accounts", a), tx.get("accounts", b)
        tx.update("accounts", a, {"balance": ra["balance"] - amount})
        tx.update("accounts", b, {"balance": rb["balance"] + amount})
        return ra["balance"] - amount

    db.register_procedure("transfer", transfer)
    threads = [threading.Thread(target=lambda: [db.call("transfer", 1, 2, 1)
                                                for _ in range(25)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert balance(db, 1) == 0 and balance(db, 2) == 200
    assert db.call("transfer", 2, 1, 50) == 150


def test_repeatable_read_snapshot_predates_a_lock_wait(db: Database, bg) -> None:
    """The first statement's snapshot is taken before it waits, as in PostgreSQL: a write
    that waited for a concurrent writer which then committed is a serialization failure."""
    t1 = db.begin()
    t1.update("accounts", 1, {"balance": 1})
    t2 = db.begin("repeatable read")
    step = bg(lambda: t2.update("accounts", 1, {"balance": 2}))
    assert step.blocked()
    t1.commit()
    assert isinstance(step.exception(), SerializationFailure)


def test_ssi_promotes_many_row_locks_to_a_table_lock_and_still_detects_skew() -> None:
    db = doctors(index=False)
    db._ssi.max_row_locks = 1
    t1, t2 = db.begin(SER), db.begin(SER)
    assert t1.get("doctors", "alice")["on_call"] and t1.get("doctors", "bob")["on_call"]
    assert t2.get("doctors", "alice")["on_call"] and t2.get("doctors", "bob")["on_call"]
    assert db._ssi.stats.promotions == 2
    assert db._ssi.rows == {}  # the row locks are gone, a table lock each instead
    t1.update("doctors", "alice", {"on_call": False})
    t2.update("doctors", "bob", {"on_call": False})
    t1.commit()
    with pytest.raises(SerializationFailure):
        t2.commit()
