"""``cairn bench txn``: transactions under contention, cairn.db beside PostgreSQL (DDIA ch. 7).

Three workloads, each run with T concurrent clients (T = 1, 4, 16 by default) on every system
(cairn.db at each isolation level and serializable method, PostgreSQL at read committed,
repeatable read and serializable), all in one run:

``transfers``    move 1..20 between two accounts of 1,000 picked with a Zipf hot spot
                 (read both, check funds, write both: a read-modify-write cycle). The total
                 money must never change; at weak levels lost updates make it drift.
``write_skew``   the doctors on call (DDIA fig. 7-8): read the shift's on-call doctors, go off
                 call only if another one stays, else come back. A shift must never be left
                 empty; snapshot isolation lets concurrent transactions empty it.
``read_mostly``  90% read-only transactions (sum 10 hot accounts), 10% transfers: the case
                 SSI is built for (readers never block writers) and 2PL is not.

Each cell reports commits/s, aborts/s by SQLSTATE (40001 serialization failure, 40P01 deadlock;
the client retries both, as a real client does), p50/p99 latency of a committed transaction
including its retries, and the invariant checks. Commits are durable on both sides. Ratios are
printed with PASS/MISS against the targets of the issue: SSI >= 1.5x 2PL on read-mostly, and
cairn serializable transfers >= 1.0x PostgreSQL serializable at T=16.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from cairn.bench.common import BenchmarkError, Progress, fmt_rate, fmt_ratio, median, ratio
from cairn.bench.txn_systems import (
    ALL_SYSTEMS,
    Abort,
    Client,
    Ops,
    PostgresStore,
    Store,
    SystemSpec,
    TableDef,
    Unavailable,
)

WORKLOADS = ("transfers", "write_skew", "read_mostly")
ACCOUNTS = TableDef("accounts", "id", {"id": "int", "balance": "int"})
DOCTORS = TableDef("doctors", "id", {"id": "text", "shift": "int", "on_call": "bool"},
                   indexes=("shift",))
INITIAL_BALANCE = 1_000
MAX_ATTEMPTS = 1_000  # a transaction that cannot commit in this many tries is a livelock bug


@dataclass
class TxnBenchConfig:
    clients: tuple[int, ...] = (1, 4, 16)
    duration: float = 3.0  # seconds of measured load per cell
    repeat: int = 3
    accounts: int = 1_000
    zipf_s: float = 1.0
    shifts: int = 50
    doctors_per_shift: int = 2
    read_fraction: float = 0.9
    workloads: tuple[str, ...] = WORKLOADS
    systems: tuple[SystemSpec, ...] = ALL_SYSTEMS
    engine: str = "lsm"
    dsn: str | None = None
    seed: int = 7

    def to_dict(self) -> dict[str, Any]:
        return {"clients": list(self.clients), "duration_sec": self.duration,
                "repeat": self.repeat, "accounts": self.accounts, "zipf_s": self.zipf_s,
                "shifts": self.shifts, "doctors_per_shift": self.doctors_per_shift,
                "read_fraction": self.read_fraction, "workloads": list(self.workloads),
                "systems": [s.name for s in self.systems], "engine": self.engine,
                "seed": self.seed}


QUICK = {"clients": (1, 4), "duration": 0.25, "repeat": 1, "accounts": 200, "shifts": 10}


class Zipf:
    """Sample 0..n-1 with P(k) proportional to 1/(k+1)^s: a few hot accounts take most picks."""

    def __init__(self, n: int, s: float) -> None:
        weights = [1.0 / (k + 1) ** s for k in range(n)]
        total = sum(weights)
        acc = 0.0
        self.cdf: list[float] = []
        for w in weights:
            acc += w / total
            self.cdf.append(acc)

    def sample(self, rng: random.Random) -> int:
        return min(bisect.bisect_left(self.cdf, rng.random()), len(self.cdf) - 1)


# ------------------------------------------------------------------------------ workloads


@dataclass
class ClientStats:
    commits: int = 0
    aborts: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    read_only: int = 0
    violations: int = 0  # invariant breaks a transaction observed while it ran


def _transfer(ops: Ops, rng: random.Random, zipf: Zipf) -> None:
    a = zipf.sample(rng)
    b = zipf.sample(rng)
    while b == a:
        b = rng.randrange(len(zipf.cdf))
    amount = rng.randint(1, 20)
    src = ops.get("accounts", a)
    dst = ops.get("accounts", b)
    if src is None or dst is None:
        raise BenchmarkError(f"account {a if src is None else b} vanished")
    if src["balance"] < amount:
        return
    ops.update("accounts", a, {"balance": src["balance"] - amount})
    ops.update("accounts", b, {"balance": dst["balance"] + amount})


def _audit(ops: Ops, rng: random.Random, zipf: Zipf) -> None:
    total = 0
    for _ in range(10):
        row = ops.get("accounts", zipf.sample(rng))
        if row is None:
            raise BenchmarkError("an account vanished")
        total += row["balance"]


def _doctor_toggle(ops: Ops, rng: random.Random, cfg: TxnBenchConfig) -> bool:
    """Returns False when the transaction saw its shift with nobody on call."""
    shift = rng.randrange(cfg.shifts)
    me = f"s{shift}-d{rng.randrange(cfg.doctors_per_shift)}"
    on_call = ops.select_eq("doctors", shift=shift, on_call=True)
    names = {r["id"] for r in on_call}
    if me in names:
        if len(names) >= 2:  # someone else stays: I may leave
            ops.update("doctors", me, {"on_call": False})
    else:
        ops.update("doctors", me, {"on_call": True})
    return bool(names)


def _body(workload: str, cfg: TxnBenchConfig, rng: random.Random, zipf: Zipf,
          stats: ClientStats) -> tuple[Callable[[Ops], Any], bool]:
    """The next transaction's body, and whether it only reads (it is then declared READ
    ONLY, on both systems, as an application that knows would)."""
    if workload == "transfers":
        return (lambda ops: _transfer(ops, rng, zipf)), False
    if workload == "read_mostly":
        if rng.random() < cfg.read_fraction:
            stats.read_only += 1
            return (lambda ops: _audit(ops, rng, zipf)), True
        return (lambda ops: _transfer(ops, rng, zipf)), False
    if workload == "write_skew":
        def body(ops: Ops) -> None:
            if not _doctor_toggle(ops, rng, cfg):
                stats.violations += 1
        return body, False
    raise BenchmarkError(f"unknown workload {workload!r}")


def _load(store: Store, workload: str, cfg: TxnBenchConfig) -> None:
    if workload in ("transfers", "read_mostly"):
        store.load(ACCOUNTS, [{"id": i, "balance": INITIAL_BALANCE} for i in range(cfg.accounts)])
    else:
        store.load(DOCTORS, [{"id": f"s{s}-d{d}", "shift": s, "on_call": True}
                             for s in range(cfg.shifts) for d in range(cfg.doctors_per_shift)])


def _check(store: Store, workload: str, cfg: TxnBenchConfig) -> tuple[bool, str]:
    """The invariant after the run: (holds, what was checked)."""
    if workload in ("transfers", "read_mostly"):
        rows = store.scan(ACCOUNTS)
        total = sum(r["balance"] for r in rows)
        want = cfg.accounts * INITIAL_BALANCE
        return (total == want and len(rows) == cfg.accounts,
                f"total money {total:,} (want {want:,}) in {len(rows)} accounts")
    rows = store.scan(DOCTORS)
    per_shift = Counter(r["shift"] for r in rows if r["on_call"])
    empty = [s for s in range(cfg.shifts) if per_shift[s] == 0]
    return not empty, f"{len(empty)} of {cfg.shifts} shifts with nobody on call"


@dataclass
class CellRun:
    """One repeat of one (workload, system, T) cell."""

    seconds: float
    commits: int
    aborts: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    invariant_ok: bool
    invariant: str
    observed_violations: int
    read_only: int

    @property
    def commits_per_sec(self) -> float:
        return self.commits / self.seconds if self.seconds > 0 else 0.0

    def aborts_per_sec(self) -> dict[str, float]:
        return {k: v / self.seconds for k, v in self.aborts.items()} if self.seconds else {}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def run_cell(store: Store, spec: SystemSpec, workload: str, clients: int,
             cfg: TxnBenchConfig, seed: int) -> CellRun:
    """Load fresh data, run ``clients`` threads for ``cfg.duration`` seconds, check."""
    _load(store, workload, cfg)
    zipf = Zipf(cfg.accounts, cfg.zipf_s)
    conns: list[Client] = [store.client(spec) for _ in range(clients)]
    stats = [ClientStats() for _ in range(clients)]
    errors: list[BaseException] = []
    start_barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        rng = random.Random(seed * 1_000_003 + i)
        st = stats[i]
        client = conns[i]
        try:
            start_barrier.wait()
            while not stop.is_set():
                body, read_only = _body(workload, cfg, rng, zipf, st)
                t0 = time.perf_counter()
                for _attempt in range(MAX_ATTEMPTS):
                    try:
                        client.attempt(body, read_only)
                        break
                    except Abort as exc:
                        st.aborts[exc.sqlstate] += 1
                        if stop.is_set():
                            return
                else:
                    raise BenchmarkError(f"{spec.name}: a transaction failed "
                                         f"{MAX_ATTEMPTS} times in a row")
                st.latencies.append(time.perf_counter() - t0)
                st.commits += 1
        except BaseException as exc:  # reported after the join, never swallowed
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), name=f"bench-txn-{i}", daemon=True)
               for i in range(clients)]
    for t in threads:
        t.start()
    try:
        start_barrier.wait(timeout=60)
        t0 = time.perf_counter()
        stop.wait(cfg.duration)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        seconds = time.perf_counter() - t0
    finally:
        for c in conns:
            c.close()
    if errors:
        raise errors[0]
    ok, what = _check(store, workload, cfg)
    lat = [x for s in stats for x in s.latencies]
    aborts: Counter[str] = Counter()
    for s in stats:
        aborts.update(s.aborts)
    return CellRun(seconds=seconds, commits=sum(s.commits for s in stats), aborts=dict(aborts),
                   p50_ms=_pct(lat, 0.50), p99_ms=_pct(lat, 0.99), invariant_ok=ok,
                   invariant=what, observed_violations=sum(s.violations for s in stats),
                   read_only=sum(s.read_only for s in stats))


def open_store(spec: SystemSpec, cfg: TxnBenchConfig, root: str) -> Store:
    if spec.system == "postgres":
        return PostgresStore(cfg.dsn)
    from cairn.bench.txn_cairn import CairnStore

    return CairnStore(os.path.join(root, f"db-{random.getrandbits(48):012x}"), cfg.engine)


# ---------------------------------------------------------------------------------- results


@dataclass
class Cell:
    workload: str
    system: str
    clients: int
    runs: list[CellRun] = field(default_factory=list)
    error: str | None = None

    @property
    def commits_per_sec(self) -> float | None:
        return median([r.commits_per_sec for r in self.runs]) if self.runs else None

    def aborts_per_sec(self) -> dict[str, float]:
        keys = sorted({k for r in self.runs for k in r.aborts})
        return {k: median([r.aborts_per_sec().get(k, 0.0) for r in self.runs]) for k in keys}

    def _med(self, attr: str) -> float | None:
        vals = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return median(vals) if vals else None

    @property
    def invariant_ok(self) -> bool:
        return all(r.invariant_ok for r in self.runs) and not any(
            r.observed_violations for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload, "system": self.system, "clients": self.clients,
            "commits_per_sec": _sig(self.commits_per_sec),
            "aborts_per_sec": {k: _sig(v) for k, v in self.aborts_per_sec().items()},
            "p50_ms": _sig(self._med("p50_ms")), "p99_ms": _sig(self._med("p99_ms")),
            "invariant_ok": self.invariant_ok if self.runs else None,
            "error": self.error,
            "runs": [{"seconds": round(r.seconds, 4), "commits": r.commits, "aborts": r.aborts,
                      "p50_ms": _sig(r.p50_ms), "p99_ms": _sig(r.p99_ms),
                      "invariant_ok": r.invariant_ok, "invariant": r.invariant,
                      "observed_violations": r.observed_violations, "read_only": r.read_only}
                     for r in self.runs],
        }


@dataclass(frozen=True)
class Target:
    name: str
    workload: str
    system: str
    reference: str
    clients: int | None  # None: the largest T of the run
    min_ratio: float


TARGETS = (
    Target("SSI vs 2PL, read-mostly", "read_mostly", "cairn SER/ssi", "cairn SER/2pl", None, 1.5),
    Target("cairn serializable transfers vs PostgreSQL serializable at T=16", "transfers",
           "cairn SER/ssi", "postgres SER", 16, 1.0),
)


@dataclass
class TxnBenchResult:
    config: TxnBenchConfig
    cells: dict[tuple[str, str, int], Cell]
    skipped: dict[str, str]
    elapsed: float

    def rate(self, workload: str, system: str, clients: int) -> float | None:
        c = self.cells.get((workload, system, clients))
        return c.commits_per_sec if c else None

    def targets(self) -> list[dict[str, Any]]:
        out = []
        for t in TARGETS:
            n = t.clients if t.clients is not None else max(self.config.clients)
            r = ratio(self.rate(t.workload, t.system, n), self.rate(t.workload, t.reference, n))
            status = "SKIP" if r is None else ("PASS" if r >= t.min_ratio else "MISS")
            out.append({"name": t.name, "workload": t.workload, "system": t.system,
                        "reference": t.reference, "clients": n, "min_ratio": t.min_ratio,
                        "ratio": _sig(r), "status": status})
        # Zero invariant violations at serializable, on both systems.
        bad = [f"{c.system} {c.workload} T={c.clients}" for c in self.cells.values()
               if c.runs and " SER" in c.system and not c.invariant_ok]
        ran = any(c.runs and " SER" in c.system for c in self.cells.values())
        out.append({"name": "zero invariant violations at serializable (cairn and PostgreSQL)",
                    "workload": "all", "system": "serializable", "reference": None,
                    "clients": None, "min_ratio": None, "ratio": None,
                    "status": "SKIP" if not ran else ("PASS" if not bad else "MISS"),
                    "violations": bad})
        return out


def _sig(v: float | None, digits: int = 6) -> float | None:
    return None if v is None else float(f"{v:.{digits}g}")


def run_benchmark(cfg: TxnBenchConfig, progress: Progress) -> TxnBenchResult:
    started = time.perf_counter()
    cells: dict[tuple[str, str, int], Cell] = {}
    skipped: dict[str, str] = {}
    root = tempfile.mkdtemp(prefix="cairn-bench-txn-")
    try:
        for r in range(cfg.repeat):
            for workload in cfg.workloads:
                for n in cfg.clients:
                    # Systems interleaved inside each repeat: a slow minute on the shared
                    # machine hits every system alike.
                    for spec in cfg.systems:
                        if spec.name in skipped:
                            continue
                        cell = cells.setdefault((workload, spec.name, n),
                                                Cell(workload, spec.name, n))
                        try:
                            store = open_store(spec, cfg, root)
                        except Unavailable as exc:
                            skipped[spec.name] = str(exc)
                            progress.line(f"skipping {spec.name}: {exc}")
                            continue
                        try:
                            run = run_cell(store, spec, workload, n, cfg,
                                           seed=cfg.seed + r * 7919 + n)
                        except (BenchmarkError, Unavailable) as exc:
                            cell.error = str(exc)
                            progress.line(f"[{r + 1}/{cfg.repeat}] {workload} T={n} "
                                          f"{spec.name}: ERROR {exc}")
                            continue
                        finally:
                            store.close()
                        cell.runs.append(run)
                        ab = ", ".join(f"{k} {v}" for k, v in sorted(run.aborts.items()))
                        progress.line(
                            f"[{r + 1}/{cfg.repeat}] {workload:<11} T={n:<2} {spec.name:<19} "
                            f"{fmt_rate(run.commits_per_sec):>8} commits/s"
                            f"{'  aborts: ' + ab if ab else ''}"
                            f"{'' if run.invariant_ok else '  INVARIANT BROKEN: ' + run.invariant}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return TxnBenchResult(cfg, cells, skipped, time.perf_counter() - started)


# ---------------------------------------------------------------------------------- output


def table(result: TxnBenchResult) -> str:
    cfg = result.config
    lines = [f"cairn bench txn: {cfg.accounts:,} accounts (Zipf s={cfg.zipf_s}), "
             f"{cfg.shifts} shifts x {cfg.doctors_per_shift} doctors, "
             f"{cfg.duration:g}s per cell, median of {cfg.repeat}; durable commits on both "
             f"(cairn on disk, engine {cfg.engine}; PostgreSQL synchronous_commit=on)"]
    systems = [s.name for s in cfg.systems]
    for wl in cfg.workloads:
        lines.append("")
        lines.append(f"{wl}")
        lines.append(f"  {'system':<19} {'T':>3} {'commits/s':>10} {'40001/s':>9} "
                     f"{'40P01/s':>9} {'p50 ms':>8} {'p99 ms':>8}  invariant")
        for n in cfg.clients:
            for name in systems:
                c = result.cells.get((wl, name, n))
                if c is None:
                    continue
                if not c.runs:
                    lines.append(f"  {name:<19} {n:>3}  ERROR {c.error}")
                    continue
                ab = c.aborts_per_sec()
                d = c.to_dict()
                inv = "ok" if c.invariant_ok else "BROKEN: " + "; ".join(
                    sorted({r.invariant for r in c.runs if not r.invariant_ok}) or
                    [f"{sum(r.observed_violations for r in c.runs)} empty shifts seen"])
                lines.append(
                    f"  {name:<19} {n:>3} {fmt_rate(c.commits_per_sec):>10} "
                    f"{fmt_rate(ab.get('40001', 0.0)):>9} {fmt_rate(ab.get('40P01', 0.0)):>9} "
                    f"{_ms(d['p50_ms']):>8} {_ms(d['p99_ms']):>8}  {inv}")
    lines.append("")
    lines.append("ratios (commits/s):")
    for n in cfg.clients:
        for wl, a, b in (("read_mostly", "cairn SER/ssi", "cairn SER/2pl"),
                         ("transfers", "cairn SER/ssi", "postgres SER"),
                         ("transfers", "cairn SER/2pl", "postgres SER"),
                         ("transfers", "cairn SER/serial", "postgres SER"),
                         ("write_skew", "cairn SER/ssi", "postgres SER")):
            r = ratio(result.rate(wl, a, n), result.rate(wl, b, n))
            if r is not None:
                lines.append(f"  T={n:<2} {wl:<11} {a} / {b}: {fmt_ratio(r)}")
    lines.append("")
    for t in result.targets():
        if t["ratio"] is None and t["min_ratio"] is None:
            extra = "" if t["status"] != "MISS" else ": " + ", ".join(t["violations"])
            lines.append(f"{t['status']}  {t['name']}{extra}")
        elif t["status"] == "SKIP":
            lines.append(f"SKIP  {t['name']} (>= {t['min_ratio']}x): not measured")
        else:
            lines.append(f"{t['status']}  {t['name']} (T={t['clients']}): "
                         f"{fmt_ratio(t['ratio'])} (target >= {t['min_ratio']:g}x)")
    for name, why in result.skipped.items():
        lines.append(f"skipped {name}: {why}")
    lines.append(f"total time {result.elapsed:.1f}s")
    return "\n".join(lines)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def to_json(result: TxnBenchResult) -> dict[str, Any]:
    return {"benchmark": "txn", "config": result.config.to_dict(),
            "cells": [c.to_dict() for c in result.cells.values()],
            "targets": result.targets(), "skipped": result.skipped,
            "elapsed_sec": round(result.elapsed, 3)}


def write_json(result: TxnBenchResult, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(to_json(result), f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def plot(result: TxnBenchResult, path: str) -> None:
    """One panel per workload: commits/s against T, a line per system (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = result.config
    fig, axes = plt.subplots(1, len(cfg.workloads), figsize=(5.5 * len(cfg.workloads), 5),
                             dpi=100, squeeze=False)
    try:
        cmap = plt.get_cmap("tab10")
        for ax, wl in zip(axes[0], cfg.workloads, strict=True):
            for i, spec in enumerate(cfg.systems):
                xs, ys = [], []
                for n in cfg.clients:
                    r = result.rate(wl, spec.name, n)
                    if r:
                        xs.append(n)
                        ys.append(r)
                if xs:
                    ax.plot(xs, ys, marker="o", color=cmap(i % cmap.N), label=spec.name,
                            linestyle="-" if spec.system == "cairn" else "--")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(list(cfg.clients), [str(n) for n in cfg.clients])
            ax.set_xlabel("clients (T)")
            ax.set_ylabel("commits/s (log)")
            ax.set_title(wl)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.suptitle("cairn bench txn: cairn.db (solid) vs PostgreSQL (dashed), durable commits")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------- command


def _systems(value: str) -> tuple[SystemSpec, ...]:
    if value.strip().lower() in ("", "all"):
        return ALL_SYSTEMS
    names = {s.name.lower(): s for s in ALL_SYSTEMS}
    out = []
    for part in value.split(","):
        key = part.strip().lower()
        if key in ("cairn", "postgres"):
            out.extend(s for s in ALL_SYSTEMS if s.system == key)
        elif key in names:
            out.append(names[key])
        else:
            raise click.BadParameter(f"unknown system {part.strip()!r}; choose from "
                                     f"{', '.join(s.name for s in ALL_SYSTEMS)}, cairn, "
                                     f"postgres or all")
    return tuple(dict.fromkeys(out))


@click.command("txn")
@click.option("--clients", "-t", default="1,4,16", show_default=True,
              help="comma-separated numbers of concurrent clients")
@click.option("--duration", type=click.FloatRange(min=0.05), default=3.0, show_default=True,
              help="seconds of load per cell")
@click.option("--repeat", "-r", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--workloads", default=",".join(WORKLOADS), show_default=True)
@click.option("--systems", default="all", show_default=True,
              help="e.g. 'cairn SER/ssi,postgres SER', or cairn / postgres / all")
@click.option("--engine", type=click.Choice(["lsm", "btree"]), default="lsm", show_default=True,
              help="cairn.db storage engine")
@click.option("--dsn", envvar="CAIRN_PG_DSN", default=None,
              help="PostgreSQL DSN (default postgresql://postgres@127.0.0.1:5432/test)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--quick", is_flag=True, help="seconds, not minutes: a smoke run for tests")
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def bench_txn(clients: str, duration: float, repeat: int, workloads: str, systems: str,
              engine: str, dsn: str | None, json_path: str | None, plot_path: str | None,
              quick: bool, quiet: bool) -> None:
    """Transactions under contention: cairn.db at every level vs PostgreSQL (DDIA ch. 7)."""
    try:
        ns = tuple(int(x) for x in clients.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"--clients wants numbers, got {clients!r}") from None
    if not ns or min(ns) < 1:
        raise click.BadParameter("--clients wants positive numbers")
    wls = tuple(w.strip() for w in workloads.split(",") if w.strip())
    bad = [w for w in wls if w not in WORKLOADS]
    if bad or not wls:
        raise click.BadParameter(f"unknown workload {bad[0] if bad else ''!r}; choose from "
                                 f"{', '.join(WORKLOADS)}")
    cfg = TxnBenchConfig(clients=ns, duration=duration, repeat=repeat, workloads=wls,
                         systems=_systems(systems), engine=engine, dsn=dsn)
    if quick:
        for k, v in QUICK.items():
            setattr(cfg, k, v)
    result = run_benchmark(cfg, Progress(quiet=quiet))
    click.echo(table(result))
    if json_path:
        write_json(result, json_path)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot(result, plot_path)
        click.echo(f"wrote {plot_path}")
