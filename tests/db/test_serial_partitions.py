"""Partitioned actual serial execution (H-Store / VoltDB): one serial executor per partition,
single-partition transactions side by side, multi-partition ones holding every partition."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cairn.db import Database
from cairn.db.errors import InFailedTransaction, InvalidParameter, PartitionViolation

SER = "serializable"


@pytest.fixture
def pdb():
    d = Database.memory(serial_partitions=4, deadlock_timeout=0.05)
    d.create_table("stock", primary_key=["warehouse", "item"])
    with d.transaction() as tx:
        for w in range(8):
            for item in range(3):
                tx.insert("stock", {"warehouse": w, "item": item, "qty": 10})
    yield d
    d.close()


def two_warehouses(db: Database, same: bool) -> tuple[int, int]:
    """Two warehouses in different partitions (or in the same one)."""
    part = db._partitions.of_value
    for a in range(8):
        for b in range(a + 1, 8):
            if (part(a) == part(b)) == same:
                return a, b
    raise AssertionError("no such pair among 8 warehouses")


def test_single_partition_transactions_of_different_partitions_overlap(pdb: Database,
                                                                         bg) -> None:
    a, b = two_warehouses(pdb, same=False)
    ta = pdb.begin(SER, "serial", partition=a)
    ta.update("stock", (a, 0), {"qty": 9})
    other = bg(lambda: pdb.begin(SER, "serial", partition=b))
    assert not other.blocked()  # its own executor: no wait
    tb = other.result()
    tb.update("stock", (b, 0), {"qty": 8})
    tb.commit()
    ta.commit()
    with pdb.transaction(SER) as tx:
        assert (tx.get("stock", (a, 0))["qty"], tx.get("stock", (b, 0))["qty"]) == (9, 8)


def test_same_partition_and_multi_partition_transactions_wait(pdb: Database, bg) -> None:
    a, a2 = two_warehouses(pdb, same=True)
    ta = pdb.begin(SER, "serial", partition=a)
    same = bg(lambda: pdb.begin(SER, "serial", partition=a2))
    everything = bg(lambda: pdb.begin(SER, "serial"))  # no partition: all of them
    assert same.blocked() and everything.blocked()
    ta.commit()
    t2 = same.result()
    assert everything.blocked()  # still waits for a2's partition
    t2.commit()
    everything.result().commit()


def test_a_row_of_another_partition_is_refused(pdb: Database) -> None:
    a, b = two_warehouses(pdb, same=False)
    for action in (lambda tx: tx.get("stock", (b, 0)),
                   lambda tx: tx.update("stock", (b, 0), {"qty": 0}),
                   lambda tx: tx.delete("stock", (b, 1)),
                   lambda tx: tx.insert("stock", {"warehouse": b, "item": 9, "qty": 1})):
        tx = pdb.begin(SER, "serial", partition=a)
        assert tx.get("stock", (a, 0))["qty"] == 10
        with pytest.raises(PartitionViolation) as err:
            action(tx)
        assert err.value.sqlstate == "0A000"
        with pytest.raises(InFailedTransaction):
            tx.get("stock", (a, 0))
        tx.rollback()
    with pdb.transaction(SER) as tx:  # nothing was written
        assert tx.get("stock", (b, 0))["qty"] == 10 and tx.get("stock", (b, 9)) is None


def test_a_single_partition_scan_sees_its_partition_only(pdb: Database) -> None:
    a, _ = two_warehouses(pdb, same=False)
    mine = {w for w in range(8) if pdb._partitions.of_value(w) == pdb._partitions.of_value(a)}
    with pdb.transaction(SER, "serial", partition=a) as tx:
        rows = tx.select("stock")
    assert {r["warehouse"] for r in rows} == mine and len(rows) == 3 * len(mine)
    with pdb.transaction(SER, "serial") as tx:  # multi-partition: everything
        assert len(tx.select("stock")) == 24


def test_procedures_of_different_partitions_run_side_by_side(pdb: Database) -> None:
    """Each waits for the other inside its transaction: with one executor this would hang;
    with one per partition both finish."""
    a, b = two_warehouses(pdb, same=False)
    arrived = {a: threading.Event(), b: threading.Event()}

    def restock(tx, warehouse: int, other: int) -> int:
        tx.update("stock", (warehouse, 0), {"qty": lambda r: r["qty"] + 5})
        arrived[warehouse].set()
        assert arrived[other].wait(5), "the other partition's procedure never ran"
        return tx.get("stock", (warehouse, 0))["qty"]

    pdb.register_procedure("restock", restock)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda w=w, o=o: results.__setitem__(
        w, pdb.call("restock", w, o, partition=w))) for w, o in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {a: 15, b: 15}
    # Without partition=: a multi-partition procedure, holding every executor, sees all rows.
    pdb.register_procedure("total", lambda tx: sum(r["qty"] for r in tx.select("stock")))
    assert pdb.call("total") == 24 * 10 + 10


def test_partition_is_for_serial_only_and_checked(pdb: Database) -> None:
    with pytest.raises(InvalidParameter):
        pdb.begin(SER, "ssi", partition=1)
    with pytest.raises(InvalidParameter):
        pdb.begin(SER, "serial", partition=[1, 2])
    with pytest.raises(InvalidParameter):
        Database.memory(serial_partitions=0)


def test_one_partition_is_the_whole_database(tmp_path: Path) -> None:
    """The default (serial_partitions=1): partition= is accepted and changes nothing."""
    db = Database.open(tmp_path / "db")
    try:
        db.create_table("kv")
        with db.transaction(SER, "serial", partition=1) as tx:
            tx.insert("kv", {"id": 1})
            tx.insert("kv", {"id": 2})
            assert len(tx.select("kv")) == 2
    finally:
        db.close()
