"""Hypothesis state machine: random transactions, interleaved, against a simple model.

Transactions at SERIALIZABLE (SSI and 2PL with NOWAIT-style timeouts are nondeterministic, so
the model test uses the serial method and interleaves transactions of the other levels only
in ways whose outcome the model can predict): each rule runs one whole transaction of random
inserts, updates, deletes and reads, commits or rolls it back, and the database must then
equal the model; reads inside the transaction must see the transaction's own writes.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cairn.db import Database
from cairn.db.errors import UniqueViolation

keys = st.integers(0, 15)
vals = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none(), st.booleans())
ops = st.lists(st.tuples(st.sampled_from(["insert", "update", "delete", "get", "scan"]),
                         keys, vals), min_size=1, max_size=8)


class DatabaseModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.db = Database.memory()
        self.db.create_table("t")
        self.db.create_index("t", ["v"])
        self.model: dict[int, dict] = {}
        self.readers: list[tuple] = []  # open read-only transactions and what they must see

    @rule(steps=ops, commit=st.booleans(), method=st.sampled_from(["serial", "ssi", "2pl"]))
    def transaction(self, steps, commit: bool, method: str) -> None:
        tx = self.db.begin("serializable", method)
        mine = {k: dict(v) for k, v in self.model.items()}
        failed = False
        for op, k, v in steps:
            if op == "insert":
                try:
                    tx.insert("t", {"id": k, "v": v})
                    assert k not in mine
                    mine[k] = {"id": k, "v": v}
                except UniqueViolation:
                    assert k in mine
                    failed = True
                    break
            elif op == "update":
                assert tx.update("t", k, {"v": v}) == (k in mine)
                if k in mine:
                    mine[k] = {"id": k, "v": v}
            elif op == "delete":
                assert tx.delete("t", k) == (k in mine)
                mine.pop(k, None)
            elif op == "get":
                assert tx.get("t", k) == mine.get(k)
            else:
                want = sorted((r for r in mine.values() if r["v"] == v
                               and type(r["v"]) is type(v)), key=lambda r: r["id"])
                got = sorted(tx.select("t", {"v": v}), key=lambda r: r["id"])
                assert got == want
        if failed or not commit:
            tx.rollback()
        else:
            tx.commit()
            self.model = mine

    @rule(level=st.sampled_from(["repeatable read", "serializable"]), keep=st.booleans())
    def read_only_snapshot(self, level: str, keep: bool) -> None:
        """A read-only transaction stays open across later transactions and vacuums: its
        reads (lock-free once untracked) must keep returning its snapshot."""
        for tx, snapshot in self.readers:
            assert {r["id"]: r for r in tx.select("t")} == snapshot
            assert all(tx.get("t", k) == row for k, row in snapshot.items())
        if not keep and self.readers:
            self.readers.pop(0)[0].commit()
        tx = self.db.begin(level, "ssi", read_only=True)
        assert {r["id"]: r for r in tx.select("t")} == self.model
        self.readers.append((tx, {k: dict(v) for k, v in self.model.items()}))

    def teardown(self) -> None:
        self.db.close()  # rolls back a transaction an assertion left open

    @rule()
    def vacuum(self) -> None:
        self.db.vacuum()

    @invariant()
    def matches(self) -> None:
        with self.db.transaction("repeatable read") as tx:
            assert {r["id"]: r for r in tx.select("t")} == self.model


DatabaseModel.TestCase.settings = settings(max_examples=40, stateful_step_count=20,
                                           deadline=None)
TestDatabaseModel = DatabaseModel.TestCase
