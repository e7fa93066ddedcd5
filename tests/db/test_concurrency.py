"""Concurrent clients at serializable, every method: invariants hold under real interleavings.

Transfers keep the total; the on-call rule (at least one doctor per shift) is never broken,
though each transaction only checks it and then changes one row: the write-skew shape that
snapshot isolation lets through.
"""

from __future__ import annotations

import random
import threading

import pytest

from cairn.db import Database

METHODS = ["ssi", "2pl", "serial"]


@pytest.fixture(autouse=True)
def interleave_often():
    """Switch threads every 10 µs (not 5 ms), so transactions really interleave."""
    import sys
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def run_clients(n: int, fn) -> None:
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


@pytest.mark.parametrize("method", METHODS)
def test_concurrent_transfers_keep_the_total(method: str) -> None:
    db = Database.memory(deadlock_timeout=0.02)
    db.create_table("acc")
    with db.transaction() as tx:
        for i in range(20):
            tx.insert("acc", {"id": i, "bal": 100})

    def client(n: int) -> None:
        rng = random.Random(n)
        for _ in range(60):
            a, b = rng.sample(range(5 if rng.random() < 0.5 else 20), 2)

            def transfer(tx, a: int = a, b: int = b) -> None:
                ra, rb = tx.get("acc", a), tx.get("acc", b)
                amount = rng.randint(1, 10)
                tx.update("acc", a, {"bal": ra["bal"] - amount})
                tx.update("acc", b, {"bal": rb["bal"] + amount})

            db.run(transfer, "serializable", method, retries=1000)

    run_clients(6, client)
    with db.transaction("repeatable read") as tx:
        assert sum(r["bal"] for r in tx.select("acc")) == 2000
    assert db.stats().commits >= 1 + 6 * 60


@pytest.mark.parametrize("method", METHODS)
def test_concurrent_on_call_changes_never_leave_a_shift_empty(method: str) -> None:
    db = Database.memory(deadlock_timeout=0.02)
    db.create_table("doctors")
    db.create_index("doctors", ["shift"])
    with db.transaction() as tx:
        for shift in range(3):
            for d in range(3):
                tx.insert("doctors", {"id": f"{shift}-{d}", "shift": shift, "on_call": True})

    def client(n: int) -> None:
        rng = random.Random(n)
        for _ in range(40):
            shift, me = rng.randrange(3), rng.randrange(3)

            def toggle(tx, shift: int = shift, me: int = me) -> None:
                on = [r["id"] for r in tx.select("doctors", {"shift": shift})
                      if r["on_call"]]
                mine = f"{shift}-{me}"
                if mine in on and len(on) >= 2:
                    tx.update("doctors", mine, {"on_call": False})
                elif mine not in on:
                    tx.update("doctors", mine, {"on_call": True})

            db.run(toggle, "serializable", method, retries=1000)
            with db.transaction("repeatable read") as tx:
                for s in range(3):
                    assert any(r["on_call"] for r in tx.select("doctors", {"shift": s}))

    run_clients(6, client)
