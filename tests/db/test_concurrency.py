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
from tests.db.conftest import run_clients

METHODS = ["ssi", "2pl", "serial"]


@pytest.fixture(autouse=True)
def interleave_often():
    """Switch threads every 10 µs (not 5 ms), so transactions really interleave."""
    import sys
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


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


def _skew_round(isolation: str, clients: int = 6, rounds: int = 80) -> tuple[int, int]:
    """Write skew through point reads only (the reads SSI tracks without the database mutex):
    pairs (a, b) with the rule a + b >= 0; each transaction reads both with ``get`` and takes
    up to their sum out of one of them. Read-only audits run alongside. Returns (pairs that
    broke the rule at the end, reads that saw a broken pair)."""
    db = Database.memory(deadlock_timeout=0.02)
    db.create_table("acc")
    pairs = 4
    with db.transaction() as tx:
        for p in range(pairs):
            tx.insert("acc", {"id": f"{p}a", "bal": 30})
            tx.insert("acc", {"id": f"{p}b", "bal": 30})
    bad_audits = []

    def client(n: int) -> None:
        rng = random.Random(n)
        for i in range(rounds):
            p = rng.randrange(pairs)
            if n == 0 and i % 2:
                def audit(tx) -> None:
                    rows = [tx.get("acc", f"{q}{s}") for q in range(pairs) for s in "ab"]
                    if any(rows[2 * q]["bal"] + rows[2 * q + 1]["bal"] < 0
                           for q in range(pairs)):
                        bad_audits.append(rows)

                db.run(audit, isolation, read_only=True, retries=1000)
                continue
            side = rng.choice("ab")

            def withdraw(tx, p: int = p, side: str = side) -> None:
                a, b = tx.get("acc", f"{p}a"), tx.get("acc", f"{p}b")
                total = a["bal"] + b["bal"]
                if total < 0:  # every snapshot is made of committed transactions
                    bad_audits.append([a, b])
                if total > 0:
                    take = rng.randint(1, total)
                    row = a if side == "a" else b
                    tx.update("acc", row["id"], {"bal": row["bal"] - take})
                else:  # top the pair up again, so the game goes on
                    tx.update("acc", f"{p}{side}", {"bal": (a if side == "a" else b)["bal"] + 40})

            db.run(withdraw, isolation, retries=1000)

    run_clients(clients, client)
    with db.transaction("repeatable read") as tx:
        broken = sum(1 for p in range(pairs)
                     if tx.get("acc", f"{p}a")["bal"] + tx.get("acc", f"{p}b")["bal"] < 0)
    return broken, len(bad_audits)


def test_write_skew_through_point_reads_never_gets_through_ssi() -> None:
    """SSI's SIREAD locks on point reads are taken without the database mutex (reader: lock
    then chain; writer: version then lock check). Under real interleavings no pair may break
    its rule and no transaction may see a broken pair; at repeatable read the same game does break
    it, which shows the workload really races."""
    for _ in range(3):
        broken, audits = _skew_round("repeatable read")
        if broken or audits:
            break
    else:
        pytest.fail("the workload never produced write skew at repeatable read")
    for _ in range(3):
        assert _skew_round("serializable") == (0, 0)


def test_a_point_read_racing_a_write_finds_it_or_is_found(monkeypatch) -> None:
    """The one interleaving the mutex-free point read must survive: writer W has checked for
    SIREAD locks on row b while reader R, holding no mutex, reads b. Because W checks only
    *after* its new version is in the chain, R finds the version (and adds R -rw-> W itself);
    then R's write of a closes the cycle W -rw-> R -rw-> W and R fails. (Check first, version
    after, and R would read b unseen and both would commit: write skew.)"""
    from cairn.db.errors import SerializationFailure

    db = Database.memory()
    db.create_table("acc")
    with db.transaction() as tx:
        tx.insert("acc", {"id": "a", "bal": 30})
        tx.insert("acc", {"id": "b", "bal": 30})
    r = db.begin("serializable")
    assert r.get("acc", "a")["bal"] == 30  # R's snapshot and table lock: b's read is mutex-free
    w = db.begin("serializable")
    w.get("acc", "a")
    w.get("acc", "b")
    real_write = db._ssi.write
    paused, go = threading.Event(), threading.Event()

    def slow_write(sx, *args):
        real_write(sx, *args)  # W has looked for SIREAD locks on b: none yet
        if sx.xid == w.xid:
            paused.set()
            go.wait(10)

    monkeypatch.setattr(db._ssi, "write", slow_write)
    wt = threading.Thread(target=lambda: w.update("acc", "b", {"bal": -30}))
    wt.start()
    assert paused.wait(10)
    got: dict = {}
    rt = threading.Thread(target=lambda: got.setdefault("b", r.get("acc", "b")))
    rt.start()
    rt.join(0.3)  # R has taken its SIREAD lock and looked at b's chain (it may wait for W)
    go.set()
    wt.join(10)
    rt.join(10)
    assert got["b"]["bal"] == 30  # R's snapshot predates W
    w.commit()
    with pytest.raises(SerializationFailure):
        r.update("acc", "a", {"bal": -30})
        r.commit()
    r.rollback()
    with db.transaction("repeatable read") as tx:
        assert tx.get("acc", "a")["bal"] + tx.get("acc", "b")["bal"] >= 0
