"""SIGKILL crash test of the database: a concurrent transfer workload, killed at random.

A forked child opens the database and runs ``threads`` clients doing serializable bank
transfers between ``accounts`` accounts (with a hot spot, so transactions conflict and retry).
Each transfer also inserts a row into ``transfers`` naming itself, in the same transaction.
After ``commit()`` returns, the client reports the transfer id to the parent through a pipe:
that commit was acknowledged. The parent kills the child with SIGKILL at a random moment
(checkpoints run every few milliseconds, so kills land during them too), reopens the database
(recovery: checkpoint image + WAL replay), and checks:

* the total money is unchanged (atomicity: no half transfer survived);
* every acknowledged transfer is present (durability);
* every balance equals the initial balance plus the transfers recorded (nothing extra, nothing
  lost, nothing applied twice);
* the unique index on transfer ids agrees with the rows.

Children are forked from a single-threaded sweep process (``cairn txn crashtest``) by the
storage layer's sweep driver (:func:`cairn.storage.crashtest.kill_rounds`); this module brings
the child and the checks.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cairn.db.database import Database
from cairn.storage.crashtest import kill_rounds

INITIAL = 1000


@dataclass
class CrashResult:
    engine: str
    kills: int = 0
    acked: int = 0
    recovered_transfers: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def setup(path: str, engine: str, accounts: int) -> None:
    db = Database.open(path, engine=engine, autovacuum=False)
    db.create_table("accounts")
    db.create_table("transfers")
    db.create_index("transfers", ["ref"], unique=True)
    with db.transaction() as tx:
        for i in range(accounts):
            tx.insert("accounts", {"id": i, "balance": INITIAL})
    db.close()


def _child(path: str, engine: str, fd: int, seed: int, accounts: int, threads: int,
           method: str) -> None:
    db = Database.open(path, engine=engine, checkpoint_interval=0.02, autovacuum=True,
                       autovacuum_naptime=0.05)
    os.write(fd, b"R\n")
    lock = threading.Lock()
    counter = [0]

    def client(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        while True:
            with lock:
                counter[0] += 1
                ref = f"{seed}-{counter[0]}"
            a = min(int(rng.paretovariate(1.2)) - 1, accounts - 1)
            b = rng.randrange(accounts)
            if a == b:
                continue
            amount = rng.randint(1, 50)

            def transfer(tx: Any, a: int = a, b: int = b, amount: int = amount,
                         ref: str = ref) -> None:
                ra = tx.get("accounts", a)
                rb = tx.get("accounts", b)
                tx.update("accounts", a, {"balance": ra["balance"] - amount})
                tx.update("accounts", b, {"balance": rb["balance"] + amount})
                tx.insert("transfers", {"id": ref, "ref": ref, "src": a, "dst": b,
                                        "amount": amount})

            db.run(transfer, "serializable", method)
            os.write(fd, f"A {ref}\n".encode())

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def verify(path: str, engine: str, accounts: int, acked: set[str]) -> tuple[list[str], int]:
    problems: list[str] = []
    db = Database.open(path, engine=engine, autovacuum=False)
    try:
        with db.transaction("repeatable read") as tx:
            rows = {r["id"]: r["balance"] for r in tx.select("accounts")}
            transfers = tx.select("transfers")
            if len(rows) != accounts:
                problems.append(f"{len(rows)} accounts instead of {accounts}")
            total = sum(rows.values())
            if total != accounts * INITIAL:
                problems.append(f"total money {total} != {accounts * INITIAL}")
            expect = dict.fromkeys(range(accounts), INITIAL)
            refs = set()
            for t in transfers:
                expect[t["src"]] -= t["amount"]
                expect[t["dst"]] += t["amount"]
                refs.add(t["ref"])
                if tx.select("transfers", {"ref": t["ref"]}) != [t]:
                    problems.append(f"unique index disagrees for {t['ref']}")
            missing = acked - refs
            if missing:
                problems.append(f"{len(missing)} acknowledged transfers lost, e.g. "
                                f"{sorted(missing)[:3]}")
            bad = [i for i in rows if rows[i] != expect.get(i)]
            if bad:
                problems.append(f"balances disagree with the transfer log for {bad[:5]}")
    finally:
        db.close()
    return problems, len(refs)


def run_sweep(path: str, engine: str = "lsm", kills: int = 20, seed: int = 0,
              accounts: int = 50, threads: int = 8, method: str = "ssi",
              min_delay: float = 0.02, max_delay: float = 0.3,
              progress: Callable[[CrashResult], None] | None = None) -> CrashResult:
    """Kill a transferring child ``kills`` times, verifying after each. Single-threaded
    caller (it forks)."""
    result = CrashResult(engine)
    start = time.monotonic()
    setup(path, engine, accounts)
    acked: set[str] = set()

    def check(round_no: int, output: bytes) -> bool:
        for line in output.split(b"\n"):
            if line.startswith(b"A "):
                acked.add(line[2:].decode())
        problems, found = verify(path, engine, accounts, acked)
        result.violations.extend(f"round {round_no}: {p}" for p in problems)
        result.kills += 1
        result.acked = len(acked)
        result.recovered_transfers = found
        if progress:
            progress(result)
        return not problems

    failed = kill_rounds(kills, random.Random(seed),
                         lambda fd, child_seed: _child(path, engine, fd, child_seed, accounts,
                                                       threads, method),
                         check, min_delay=min_delay, max_delay=max_delay, ready_timeout=120)
    if failed:
        result.violations.append(failed)
    result.seconds = round(time.monotonic() - start, 2)
    return result
