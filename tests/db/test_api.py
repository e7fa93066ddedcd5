"""The API surface: errors and their SQLSTATEs, finished and failed transactions, unique
indexes, structured predicates and the plans they get, composite keys, bad input."""

from __future__ import annotations

import pytest

from cairn.db import Database
from cairn.db.errors import (
    DataError,
    DuplicateTable,
    InFailedTransaction,
    InvalidParameter,
    NotNullViolation,
    ReadOnlyTransaction,
    TransactionFinished,
    UndefinedObject,
    UndefinedTable,
    UniqueViolation,
)


def test_finished_and_failed_transactions(db: Database) -> None:
    tx = db.begin()
    tx.commit()
    with pytest.raises(TransactionFinished) as err:
        tx.get("accounts", 1)
    assert err.value.sqlstate == "25000"
    with pytest.raises(TransactionFinished):
        tx.commit()
    tx = db.begin()
    tx.update("accounts", 1, {"balance": 0})
    with pytest.raises(UniqueViolation) as uerr:
        tx.insert("accounts", {"id": 2, "owner": "x"})
    assert uerr.value.sqlstate == "23505"
    with pytest.raises(InFailedTransaction) as ferr:
        tx.get("accounts", 1)
    assert ferr.value.sqlstate == "25P02"
    with pytest.raises(InFailedTransaction):
        tx.commit()
    tx.rollback()
    with db.transaction() as t:
        assert t.get("accounts", 1)["balance"] == 100  # the failed transaction left nothing


def test_context_manager_commits_or_rolls_back(db: Database) -> None:
    with db.transaction() as tx:
        tx.update("accounts", 1, {"balance": 1})
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.update("accounts", 1, {"balance": 2})
        raise RuntimeError("boom")
    with db.transaction() as tx:
        assert tx.get("accounts", 1)["balance"] == 1


def test_unique_index(db: Database, bg) -> None:
    db.create_index("accounts", ["owner"], unique=True, name="one_owner")
    with pytest.raises(UniqueViolation), db.transaction() as tx:
        tx.insert("accounts", {"id": 3, "owner": "ada"})
    with db.transaction() as tx:  # NULLs never clash
        tx.insert("accounts", {"id": 3, "owner": None})
        tx.insert("accounts", {"id": 4})
    with db.transaction() as tx:  # freeing a value and taking it in one transaction
        tx.update("accounts", 1, {"owner": "ada2"})
        tx.insert("accounts", {"id": 5, "owner": "ada"})
    # a concurrent writer of the same value waits, then fails or goes on
    t1 = db.begin()
    t1.insert("accounts", {"id": 6, "owner": "cy"})
    t2 = db.begin()
    step = bg(lambda: t2.insert("accounts", {"id": 7, "owner": "cy"}))
    assert step.blocked()
    t1.rollback()
    step.result()
    t2.commit()
    t3 = db.begin()
    with pytest.raises(UniqueViolation):
        t3.insert("accounts", {"id": 8, "owner": "cy"})
    with pytest.raises(UniqueViolation):
        db.create_index("accounts", ["balance"], unique=True)


def test_structured_predicates_and_plans() -> None:
    db = Database.memory()
    db.create_table("p")
    db.create_index("p", ["city", "age"])
    with db.transaction() as tx:
        for i, (city, age) in enumerate([("ldn", 30), ("ldn", 40), ("par", 35), ("ldn", 50),
                                         ("par", 20), ("ber", None)]):
            tx.insert("p", {"id": i, "city": city, "age": age, "flag": i % 2 == 0})
    tx = db.begin()

    def ids(where) -> list[int]:
        return sorted(r["id"] for r in tx.select("p", where))

    assert ids({"city": "ldn"}) == [0, 1, 3]
    assert ids({"city": "ldn", "age": (">", 30)}) == [1, 3]
    assert ids({"city": "ldn", "age": (">=", 30.0)}) == [0, 1, 3]
    assert ids({"city": "ldn", "age": ("<", 40)}) == [0]
    assert ids({"city": ("in", ["par", "ber"])}) == [2, 4, 5]
    assert ids({"city": "ldn", "age": ("between", 35, 45)}) == [1]
    assert ids({"age": ("<", 33)}) == [0, 4]  # no NULL, seq scan
    assert ids({"id": ("in", [1, 2, 99])}) == [1, 2]
    assert ids({"flag": True}) == [0, 2, 4]
    assert ids({"city": ("!=", "ldn")}) == [2, 4, 5]
    assert ids(lambda r: r["id"] > 3) == [4, 5]
    assert tx.explain("p", {"city": "ldn", "age": (">", 3)}).startswith("Index Scan using")
    assert tx.explain("p", {"id": 3}).startswith("Primary Key Lookup")
    assert tx.explain("p", {"age": 3}) == "Seq Scan"
    assert tx.select("p", limit=2) == tx.select("p")[:2]
    for bad in ({"age": (">", 1, 2)}, 42, {"age": ("between", 1)}):
        with pytest.raises(InvalidParameter):
            db.begin().select("p", bad)


def test_composite_primary_key() -> None:
    db = Database.memory()
    db.create_table("seats", primary_key=["show", "seat"])
    with db.transaction() as tx:
        tx.insert("seats", {"show": 1, "seat": "A1", "sold": False})
        tx.insert("seats", {"show": 1, "seat": "A2", "sold": False})
    with db.transaction() as tx:
        assert tx.update("seats", (1, "A1"), {"sold": True})
        assert tx.get("seats", [1, "A1"])["sold"] is True
        assert tx.select("seats", {"show": 1, "seat": "A2"})[0]["sold"] is False
        with pytest.raises(DataError):
            tx.get("seats", 1)


def test_bad_input_errors(db: Database) -> None:
    with pytest.raises(UndefinedTable) as err:
        db.begin().get("nope", 1)
    assert err.value.sqlstate == "42P01"
    with pytest.raises(DuplicateTable):
        db.create_table("accounts")
    db.create_table("accounts", if_not_exists=True)
    with pytest.raises(InvalidParameter):
        db.begin("snapshot-ish")
    with pytest.raises(InvalidParameter):
        db.begin("serializable", method="optimistic")
    with pytest.raises(InvalidParameter):
        db.create_table("")
    with pytest.raises(InvalidParameter):
        db.create_table("a\x00b")
    with pytest.raises(NotNullViolation):
        db.begin().insert("accounts", {"owner": "no id"})
    with pytest.raises(DataError):
        db.begin().update("accounts", 1, {"id": 9})
    with pytest.raises(DataError):
        db.begin().update("accounts", 1, "not a dict")  # type: ignore[arg-type]
    with pytest.raises(ReadOnlyTransaction):
        db.begin(read_only=True).delete("accounts", 1)
    with pytest.raises(UndefinedObject):
        db.call("no_such_procedure")
    with pytest.raises(InvalidParameter):
        db.advisory_lock(1.5)  # type: ignore[arg-type]
    assert db.begin("READ_COMMITTED").isolation == "read committed"


def test_returned_rows_are_copies(db: Database) -> None:
    with db.transaction() as tx:
        row = tx.get("accounts", 1)
        row["balance"] = -1
        tx.select("accounts")[0]["balance"] = -1
        assert tx.get("accounts", 1)["balance"] == 100


def test_run_retries_serialization_failures(db: Database) -> None:
    import threading

    def add(tx) -> None:
        r = tx.get("accounts", 1)
        tx.update("accounts", 1, {"balance": r["balance"] + 1})

    threads = [threading.Thread(target=lambda: [db.run(add) for _ in range(20)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.transaction() as tx:
        assert tx.get("accounts", 1)["balance"] == 180


def test_oversize_transaction_is_refused_and_rolled_back(db: Database, monkeypatch) -> None:
    import cairn.db.wal as wal
    monkeypatch.setattr(wal, "MAX_RECORD", 2000)
    tx = db.begin()
    tx.insert("accounts", {"id": 9, "owner": "big", "blob": "x" * 5000})
    with pytest.raises(DataError):
        tx.commit()
    assert tx.state == "failed"
    with db.transaction() as t:
        assert t.get("accounts", 9) is None
        t.insert("accounts", {"id": 9, "owner": "small"})  # the row lock was released
    with pytest.raises(InvalidParameter):
        db.begin().select("accounts", {"id": ("in", 5)})
