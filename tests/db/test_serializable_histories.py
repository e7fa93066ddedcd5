"""Random concurrent histories checked for serializability by their dependency graph.

Threads run random transactions on a handful of keys: read-only ones (several ``get``s, the
virtual-xid path with no mutex at all), read-write ones (``get``s, then writes of unique
values), and some that read through ``select``. Every committed transaction's reads (which
version it saw) and writes are recorded; afterwards the version order of each key is its
writers' commit-LSN order, and the direct serialization graph (Adya) gets an edge for every
ww (next version), wr (read a version) and rw (read a version that a later one replaced)
dependency. A history is serializable iff that graph has no cycle. At repeatable read
(snapshot isolation) the same workload does produce cycles (write skew, the read-only
anomaly), which shows the checker can fail.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from cairn.db import Database
from cairn.db.errors import DeadlockDetected, SerializationFailure
from tests.db.conftest import run_clients

KEYS = 6


def _run(isolation: str, clients: int = 6, rounds: int = 120, seed: int = 0,
         path: Path | None = None, **options: object) -> list[dict]:
    db = (Database.memory(deadlock_timeout=0.02, **options) if path is None
          else Database.open(path, deadlock_timeout=0.02, **options))
    db.create_table("kv")
    with db.transaction() as tx:
        for k in range(KEYS):
            tx.insert("kv", {"id": k, "v": "init"})
    done: list[dict] = []

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        for i in range(rounds):
            kind = rng.random()
            while True:
                ro = kind < 0.4
                tx = db.begin(isolation, read_only=ro)
                rec: dict = {"reads": {}, "writes": {}, "ro": ro}
                try:
                    if kind < 0.15:
                        for row in tx.select("kv", {"id": {"<": 3}}):
                            rec["reads"][row["id"]] = row["v"]
                    else:
                        for k in rng.sample(range(KEYS), 3 if ro else 2):
                            rec["reads"][k] = tx.get("kv", k)["v"]
                    if not ro:
                        for k in rng.sample(range(KEYS), rng.choice((1, 1, 2))):
                            val = f"{n}.{i}.{k}"
                            tx.update("kv", k, {"v": val})
                            rec["writes"][k] = val
                    tx.commit()
                except (SerializationFailure, DeadlockDetected):
                    tx.rollback()
                    continue
                rec["lsn"] = tx.commit_lsn
                done.append(rec)
                break

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads really interleave inside transactions
    try:
        run_clients(clients, client)
    finally:
        sys.setswitchinterval(old)
        db.close()
    return done


def _cycle(history: list[dict]) -> list[int] | None:
    """A cycle of the direct serialization graph (indexes into ``history``), or None."""
    writer = {("init", k): -1 for k in range(KEYS)}
    order: dict[int, list[str]] = defaultdict(lambda: ["init"])
    for i, t in sorted(enumerate(history), key=lambda e: e[1]["lsn"] or 0):
        for k, val in t["writes"].items():
            writer[(val, k)] = i
            order[k].append(val)
    nxt = {}
    for k, vals in order.items():
        for a, b in itertools.pairwise(vals):
            nxt[(a, k)] = b
    edges: dict[int, set[int]] = defaultdict(set)
    for i, t in enumerate(history):
        for k, val in t["writes"].items():  # ww: the version this one replaced
            vals = order[k]
            prev = vals[vals.index(val) - 1]
            if writer[(prev, k)] >= 0:
                edges[writer[(prev, k)]].add(i)
        for k, val in t["reads"].items():
            if t["writes"].get(k) == val:
                continue  # its own write
            w = writer[(val, k)]
            if w >= 0 and w != i:
                edges[w].add(i)  # wr
            later = nxt.get((val, k))
            if later is not None and writer[(later, k)] != i:
                edges[i].add(writer[(later, k)])  # rw
    color: dict[int, int] = {}
    stack: list[int] = []

    def visit(u: int) -> list[int] | None:
        color[u] = 1
        stack.append(u)
        for v in edges[u]:
            if color.get(v) == 1:
                return stack[stack.index(v):]
            if v not in color:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        color[u] = 2
        return None

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(history) + 100))
    for u in range(len(history)):
        if u not in color:
            found = visit(u)
            if found:
                return found
    return None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_serializable_histories_have_acyclic_dependency_graphs(seed: int) -> None:
    """Before commits became visible in the order of their records (one mutex section for
    SSI's last check, the WAL append and visibility), most seeds here found a cycle: a
    read-only snapshot saw a later commit without an earlier one."""
    history = _run("serializable", seed=seed)
    assert len(history) == 6 * 120
    assert sum(t["ro"] for t in history) > 100
    cycle = _cycle(history)
    assert cycle is None, [history[i] for i in cycle]


@pytest.mark.parametrize("early_lock_release", [True, False])
def test_serializable_histories_on_disk(tmp_path: Path, early_lock_release: bool) -> None:
    """Durable commits: read-only snapshots leave out what is not durable yet (early lock
    release), or commits become visible only after their fsync, in log order."""
    history = _run("serializable", rounds=60, seed=7, path=tmp_path / "db",
                   early_lock_release=early_lock_release)
    assert len(history) == 6 * 60
    cycle = _cycle(history)
    assert cycle is None, [history[i] for i in cycle]


def test_the_checker_finds_snapshot_isolation_anomalies() -> None:
    """The same workload at repeatable read: write skew gets through, as a cycle."""
    for seed in range(10):
        if _cycle(_run("repeatable read", seed=seed)) is not None:
            return
    pytest.fail("no dependency cycle at repeatable read in 10 runs: the checker sees nothing")
