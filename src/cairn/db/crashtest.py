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

import click

from cairn.db.database import Database
from cairn.storage.crashtest import kill_rounds
from cairn.storage.faults import FaultyFileSystem
from cairn.storage.powercut import Scenario

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


# -- the power-cut scenario (cairn.storage.powercut) --------------------------------------------
POWERCUT_ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    "lsm": {"memtable_bytes": 4096, "block_size": 256, "target_file_size": 4096,
            "l0_compaction_trigger": 2, "background": False},
    "btree": {"page_size": 1024, "pool_bytes": 16 * 1024, "wal_checkpoint_bytes": 8 * 1024},
}


def powercut_scenario(engine: str = "lsm", seed: int = 0, transfers: int = 40,
                      accounts: int = 8) -> Scenario:
    """The bank of :func:`run_sweep`, single-threaded and deterministic, for the power-cut
    sweep: create the database, then transfers with checkpoints, a small WAL segment size
    (rotation and recycling) and one clean reopen. After the cut every acknowledged commit
    (the set-up included) must be there, and the money must add up."""

    def run(fs: FaultyFileSystem, path: str, st: dict[str, Any]) -> None:
        rng = random.Random(seed)
        st["acked"] = acked = set()
        st["setup"] = False

        def open_db() -> Database:
            return _Tracked(st, path, engine=engine, fs=fs, autovacuum=False,
                            checkpoint_interval=1e9, checkpoint_wal_bytes=1 << 40,
                            wal_segment_bytes=2048, wal_keep_bytes=0, commit_delay=0,
                            engine_options=POWERCUT_ENGINE_OPTIONS.get(engine))

        db = open_db()
        db.create_table("accounts")
        db.create_table("transfers")
        db.create_index("transfers", ["ref"], unique=True)
        with db.transaction() as tx:
            for i in range(accounts):
                tx.insert("accounts", {"id": i, "balance": INITIAL})
        st["setup"] = True
        for n in range(transfers):
            a, b = rng.sample(range(accounts), 2)
            amount = rng.randint(1, 50)
            ref = f"t{n}"
            with db.transaction("serializable") as tx:
                ra, rb = tx.get("accounts", a), tx.get("accounts", b)
                tx.update("accounts", a, {"balance": ra["balance"] - amount})
                tx.update("accounts", b, {"balance": rb["balance"] + amount})
                tx.insert("transfers", {"id": ref, "ref": ref, "src": a, "dst": b,
                                        "amount": amount})
            acked.add(ref)
            if n % 10 == 9:
                db.checkpoint()
            if n == transfers // 2:
                db.close()
                db = open_db()
        db.close()

    def release(st: dict[str, Any]) -> None:
        db: Database | None = st.get("db")
        if db is None:
            return
        # The power went, maybe inside the constructor or close(): stop the background
        # thread and let go of the directory lock, as the death of the process would.
        stop = getattr(db, "_stop", None)
        worker = getattr(db, "_worker", None)
        if stop is not None:
            stop.set()
            if worker is not None and worker.is_alive():
                worker.join()
        db._closed = True
        if getattr(db, "_lock_fd", None) is not None:
            db._unlock_directory()

    def check(path: str, st: dict[str, Any]) -> list[str]:
        try:
            if not st.get("setup"):
                Database.open(path, engine=engine, autovacuum=False).close()
                return []
            problems, _found = verify(path, engine, accounts, st["acked"])
        except Exception as exc:
            return [f"recovery failed: {exc!r}"]
        return problems

    return Scenario(f"db-{engine}-seed{seed}", run, check, release)


class _Tracked(Database):
    """A Database that notes itself in the scenario's state before it opens, so that a power
    cut inside the constructor can still be cleaned up after (its directory lock released)."""

    def __init__(self, st: dict[str, Any], path: str, **options: Any):
        st["db"] = self
        self._closed = True  # until the constructor finishes
        super().__init__(path, **options)


def powercut_scenarios(seeds: int = 1) -> list[Scenario]:
    """Every engine's scenario and the database's on both its engines, ``seeds`` each."""
    from cairn.storage import ENGINES
    from cairn.storage.powercut import engine_scenario

    out = [engine_scenario(kind, seed) for seed in range(1, seeds + 1) for kind in ENGINES]
    out += [powercut_scenario(engine, seed) for seed in range(1, seeds + 1)
            for engine in ("lsm", "btree")]
    return out


def fsync_check_command() -> click.Command:
    """``cairn storage fsync-check``: switch off each fsync and directory fsync call site in
    turn and show which power-cut sweep notices (the proof that the sweeps can fail)."""

    @click.command("fsync-check")
    @click.option("--cuts", default=40, show_default=True, help="power cuts per sweep")
    @click.option("--seed", default=1, show_default=True, help="random seed")
    @click.option("--only", default="", help="only scenarios whose name contains this")
    @click.option("--json", "json_out", default=None, help="write the table as JSON to FILE")
    def fsync_check_cmd(cuts: int, seed: int, only: str, json_out: str | None) -> None:
        """Remove each fsync and directory fsync in turn; show which power-cut sweep fails.

        Every storage engine and the database run a seeded workload through the power-cut
        model (cairn.storage.faults); with one call site's fsync made a no-op, the sweep cuts
        the power after it and checks recovery. A site no sweep catches is listed as such
        (covered by a later fsync, or guarding only speed) shows why; one that is neither
        caught nor known fails the command (exit 1)."""
        import json
        import tempfile
        import time

        from cairn.storage.powercut import fsync_check

        if cuts < 1:
            raise click.BadParameter("must be at least 1", param_hint="--cuts")
        scenarios = [s for s in powercut_scenarios() if only in s.name]
        if not scenarios:
            raise click.BadParameter(f"no scenario name contains {only!r}", param_hint="--only")
        start = time.monotonic()
        click.echo(f"{'call site':78} {'calls':>5}  caught by")

        def show(r: Any) -> None:
            click.echo(f"{r.site:78} {r.calls:5}  {r.verdict}")

        with tempfile.TemporaryDirectory(prefix="cairn-fsync-check-") as work:
            results = fsync_check(scenarios, work, cuts=cuts, seed=seed, progress=show)
        missed = [r for r in results if not r.ok]
        caught = sum(1 for r in results if r.caught_by)
        click.echo(f"{caught}/{len(results)} call sites caught, "
                   f"{len(results) - caught - len(missed)} explained (reason shown), "
                   f"{len(missed)} missed ({time.monotonic() - start:.0f}s, seed {seed})")
        if json_out:
            with open(json_out, "w") as f:
                json.dump([{**asdict(r), "verdict": r.verdict} for r in results], f, indent=2)
        if missed:
            raise SystemExit(1)

    return fsync_check_cmd


def powercut_command() -> click.Command:
    """``cairn storage powercut``: the power-cut sweeps, any number of seeds and cuts."""

    @click.command("powercut")
    @click.option("--only", default="", help="only scenarios whose name contains this "
                  "(log, hash, lsm, btree, db-lsm, db-btree)")
    @click.option("--seeds", type=click.IntRange(1, 1000), default=1, show_default=True,
                  help="workload seeds per scenario")
    @click.option("--cuts", type=click.IntRange(1, 100_000), default=40, show_default=True,
                  help="power cuts per sweep")
    @click.option("--seed", default=None, type=int, help="random seed (default: random)")
    @click.option("--subset/--lose-all", default=True, show_default=True,
                  help="a cut keeps a seeded legal subset of the unsynced state, or none")
    def powercut_cmd(only: str, seeds: int, cuts: int, seed: int | None,
                     subset: bool) -> None:
        """Cut the power under every engine and the database; check recovery each time.

        Each scenario runs a deterministic workload through the power-cut model
        (cairn.storage.faults), cuts the power after its fsyncs and at random calls, and
        reopens: every acknowledged write must be there, nothing corrupt or invented."""
        import random
        import tempfile
        import time

        from cairn.storage.powercut import sweep

        seed = random.randrange(1 << 30) if seed is None else seed
        scenarios = [s for s in powercut_scenarios(seeds) if only in s.name]
        if not scenarios:
            raise click.BadParameter(f"no scenario name contains {only!r}", param_hint="--only")
        failed = False
        for sc in scenarios:
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="cairn-powercut-") as work:
                r = sweep(sc, work, cuts=cuts, seed=seed, subset=subset)
            failed |= bool(r.violations)
            click.echo(f"{sc.name:16} cuts={r.cuts:<5} calls={r.primitive_calls:<6} "
                       f"fsyncs={r.sync_points:<5} violations={len(r.violations)} "
                       f"({time.monotonic() - t0:.1f}s, seed {seed})")
            for v in r.violations[:5]:
                click.echo(f"   ! {v}")
        if failed:
            raise SystemExit(1)

    return powercut_cmd
