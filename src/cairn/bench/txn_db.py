"""``cairn bench db``: cairn.db with data larger than its chain cache (issue 11, section 3).

One run measures, for a table of ``--rows`` accounts and a small one of 1,000 (the in-memory
figure the large one is compared with), each in a fresh database on disk with the same
``--cache-mib`` chain cache:

* **load**: rows/s of batched inserts, and the process's RSS after it (and its peak);
* **throughput**: commits/s of ``transfers`` (read two uniform random accounts, write both;
  serializable/SSI, durable commits) and ``read_mostly`` (90% read-only transactions reading
  4 random accounts, 10% transfers), T clients, median of ``--repeat`` runs; the ratio
  large/small is printed against the target (within 3x);
* **checkpoint stall**: transfers run while a checkpoint writes every chain they and a
  preceding burst dirtied; the longest transaction latency inside the checkpoint's window
  beside the longest outside it, and the longest single mutex hold of the checkpoint;
* **clean reopen**: close, then the time to open again and read one row;
* **recovery after SIGKILL**: a child process commits N transactions after a checkpoint and
  kills itself; the time to open (replaying the WAL since the checkpoint) for two values of N,
  with the WAL bytes replayed, so its proportionality shows.

The machine's load matters (2 shared cores): every figure comes from one run, ratios from the
same run.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from cairn.bench.common import Progress, median
from cairn.db import Database

TABLE = "accounts"
BALANCE = 1_000
TARGETS = {"rss_mib": 500.0, "reopen_s": 2.0, "stall_ms": 50.0, "ratio": 3.0}


@dataclass
class DbBenchConfig:
    rows: int = 1_000_000
    small_rows: int = 1_000
    cache_mib: int = 64
    clients: int = 8
    duration: float = 5.0
    repeat: int = 1
    engine: str = "lsm"
    recovery_commits: tuple[int, ...] = (1_000, 5_000)
    batch: int = 5_000
    root: str | None = None


@dataclass
class SizeResult:
    rows: int
    load_seconds: float = 0.0
    rss_mib: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)  # workload -> commits/s
    p99_ms: dict[str, float] = field(default_factory=dict)
    checkpoint: dict[str, float] = field(default_factory=dict)
    reopen_s: float = 0.0
    vacuum: dict[str, Any] = field(default_factory=dict)
    recovery: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class DbBenchResult:
    config: DbBenchConfig
    sizes: list[SizeResult]
    peak_rss_mib: float = 0.0

    def ratio(self, workload: str) -> float | None:
        small, large = self.sizes[0].rates.get(workload), self.sizes[-1].rates.get(workload)
        return small / large if small and large else None


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _open(path: str, cfg: DbBenchConfig, **options: Any) -> Database:
    return Database.open(path, engine=cfg.engine, cache_bytes=cfg.cache_mib << 20,
                         autovacuum=False, **options)


def _load(db: Database, rows: int, batch: int, progress: Progress) -> float:
    db.create_table(TABLE)
    start = time.monotonic()
    step = max(rows // 10, batch)
    for lo in range(0, rows, batch):
        with db.transaction() as tx:
            for i in range(lo, min(rows, lo + batch)):
                tx.insert(TABLE, {"id": i, "balance": BALANCE})
        if (lo + batch) % step < batch:
            progress.line(f"  loaded {min(rows, lo + batch):,}/{rows:,} rows "
                          f"({time.monotonic() - start:.0f} s, RSS {rss_mib():.0f} MiB)")
    db.checkpoint()
    return time.monotonic() - start


def _transfer(tx: Any, rng: random.Random, rows: int) -> None:
    a, b = rng.randrange(rows), rng.randrange(rows)
    if a == b:
        return
    amount = rng.randint(1, 20)
    ra, rb = tx.get(TABLE, a), tx.get(TABLE, b)
    if ra["balance"] >= amount:
        tx.update(TABLE, a, {"balance": ra["balance"] - amount})
        tx.update(TABLE, b, {"balance": rb["balance"] + amount})


def _read(tx: Any, rng: random.Random, rows: int) -> None:
    for _ in range(4):
        tx.get(TABLE, rng.randrange(rows))


def _run_clients(db: Database, workload: str, rows: int, clients: int, duration: float,
                 seed: int) -> tuple[int, list[tuple[float, float]]]:
    """Run ``workload`` on ``clients`` threads for ``duration``; (commits, [(end, latency)])."""
    stop = time.monotonic() + duration
    lat: list[list[tuple[float, float]]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        mine = lat[i]
        try:
            while True:
                t0 = time.monotonic()
                if t0 >= stop:
                    return
                if workload == "read_mostly" and rng.random() < 0.9:
                    with db.transaction("serializable", read_only=True) as tx:
                        _read(tx, rng, rows)
                else:
                    db.run(lambda tx: _transfer(tx, rng, rows))
                t1 = time.monotonic()
                mine.append((t1, t1 - t0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    flat = [x for m in lat for x in m]
    return len(flat), flat


def _p99(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    s = sorted(latencies)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def _checkpoint_stall(db: Database, rows: int, cfg: DbBenchConfig) -> dict[str, float]:
    """Transfers while a checkpoint writes what a burst of updates dirtied."""
    rng = random.Random(5)
    burst = min(rows, 100_000)
    for _lo in range(0, burst, 2_000):
        with db.transaction() as tx:
            for _ in range(2_000):
                k = rng.randrange(rows)
                tx.update(TABLE, k, {"balance": BALANCE})
    db.longest_checkpoint_hold = 0.0
    window: list[float] = []

    def checkpointer() -> None:
        time.sleep(min(1.0, cfg.duration / 4))
        window.append(time.monotonic())
        db.checkpoint()
        window.append(time.monotonic())

    t = threading.Thread(target=checkpointer)
    t.start()
    _n, flat = _run_clients(db, "transfers", rows, cfg.clients, max(cfg.duration, 3.0), 9)
    t.join()
    start, end = window[0], window[-1]
    # a transaction overlaps the window if it ended inside it or began before its end
    inside = [lat for e, lat in flat if e >= start and e - lat <= end]
    outside = [lat for e, lat in flat if not (e >= start and e - lat <= end)]
    return {"dirty_rows": burst, "checkpoint_s": round(end - start, 3),
            "max_txn_ms_during": round(max(inside, default=0) * 1000, 2),
            "max_txn_ms_outside": round(max(outside, default=0) * 1000, 2),
            "p99_txn_ms_outside": round(_p99(outside) * 1000, 2),
            "longest_mutex_hold_ms": round(db.longest_checkpoint_hold * 1000, 2)}


_CHILD = """
import os, signal, sys
from cairn.db import Database
path, engine, cache, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = Database.open(path, engine=engine, cache_bytes=cache, autovacuum=False,
                   checkpoint_interval=3600, checkpoint_wal_bytes=1 << 40)
db.checkpoint()
for i in range(n):
    with db.transaction() as tx:
        tx.update("accounts", (i * 7919) % int(sys.argv[5]), {"balance": i})
os.kill(os.getpid(), signal.SIGKILL)
"""


def _recovery(path: str, rows: int, commits: int, cfg: DbBenchConfig) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, path, cfg.engine,
                           str(cfg.cache_mib << 20), str(commits), str(rows)],
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != -signal.SIGKILL:
        raise click.ClickException(f"the crash child ended with {proc.returncode}: "
                                   f"{proc.stderr[-2000:]}")
    t0 = time.monotonic()
    db = _open(path, cfg)
    seconds = time.monotonic() - t0
    rec = dict(db.recovery)
    with db.transaction() as tx:
        got = tx.get(TABLE, ((commits - 1) * 7919) % rows)
    db.close()
    if got is None or got["balance"] != commits - 1:
        raise click.ClickException(f"recovery lost the last commit: {got!r}")
    return {"commits": commits, "seconds": round(seconds, 3), **rec}


def run_size(rows: int, cfg: DbBenchConfig, root: str, progress: Progress) -> SizeResult:
    res = SizeResult(rows)
    path = os.path.join(root, f"db-{rows}")
    shutil.rmtree(path, ignore_errors=True)
    progress.line(f"cairn bench db: {rows:,} rows, cache {cfg.cache_mib} MiB, "
                  f"engine {cfg.engine}")
    db = _open(path, cfg)
    try:
        res.load_seconds = round(_load(db, rows, cfg.batch, progress), 3)
        res.rss_mib = round(rss_mib(), 1)
        for wl in ("transfers", "read_mostly"):
            runs = []
            p99s = []
            for r in range(cfg.repeat):
                n, flat = _run_clients(db, wl, rows, cfg.clients, cfg.duration, r + 1)
                runs.append(n / cfg.duration)
                p99s.append(_p99([lat for _e, lat in flat]))
            res.rates[wl] = round(median(runs), 1)
            res.p99_ms[wl] = round(median(p99s) * 1000, 2)
            progress.line(f"  {wl}: {res.rates[wl]:,.0f} commits/s "
                          f"(p99 {res.p99_ms[wl]} ms), RSS {rss_mib():.0f} MiB")
        res.checkpoint = _checkpoint_stall(db, rows, cfg)
        progress.line(f"  checkpoint: {res.checkpoint}")
        t0 = time.monotonic()
        (vac,) = db.vacuum(TABLE)
        res.vacuum = {"seconds": round(time.monotonic() - t0, 3), "removed": vac.removed}
        progress.line(f"  vacuum: {res.vacuum}")
        res.cache = db.stats().cache if rows <= 100_000 else dict(db._pager.stats())
        res.rss_mib = round(max(res.rss_mib, rss_mib()), 1)
    finally:
        db.close()
    t0 = time.monotonic()
    db = _open(path, cfg)
    with db.transaction() as tx:
        tx.get(TABLE, rows // 2)
    res.reopen_s = round(time.monotonic() - t0, 3)
    db.close()
    progress.line(f"  clean reopen: {res.reopen_s} s")
    for n in cfg.recovery_commits:
        rec = _recovery(path, rows, n, cfg)
        res.recovery.append(rec)
        progress.line(f"  recovery after SIGKILL, {n:,} commits since the checkpoint: "
                      f"{rec['seconds']} s ({rec['wal_bytes']:,} WAL bytes)")
    shutil.rmtree(path, ignore_errors=True)
    return res


def run_benchmark(cfg: DbBenchConfig, progress: Progress) -> DbBenchResult:
    root = cfg.root or tempfile.mkdtemp(prefix="cairn-bench-db-")
    try:
        sizes = [run_size(n, cfg, root, progress) for n in (cfg.small_rows, cfg.rows)]
    finally:
        if cfg.root is None:
            shutil.rmtree(root, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return DbBenchResult(cfg, sizes, round(peak, 1))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(result: DbBenchResult) -> str:
    cfg = result.config
    lines = [f"cairn bench db: cache {cfg.cache_mib} MiB, {cfg.clients} clients, "
             f"{cfg.duration:g} s per cell, median of {cfg.repeat}, engine {cfg.engine} "
             "(one run on a shared machine)", ""]
    head = f"{'':34}" + "".join(f"{s.rows:>16,}" for s in result.sizes)
    lines.append(head + " rows")

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:34}" + "".join(f"{v:>16}" for v in values))

    row("load (rows/s)", [f"{s.rows / s.load_seconds:,.0f}" if s.load_seconds else "-"
                          for s in result.sizes])
    row("RSS after run (MiB)", [f"{s.rss_mib:,.0f}" for s in result.sizes])
    for wl in ("transfers", "read_mostly"):
        row(f"{wl} (commits/s)", [f"{s.rates.get(wl, 0):,.0f}" for s in result.sizes])
        row(f"{wl} p99 (ms)", [f"{s.p99_ms.get(wl, 0):.1f}" for s in result.sizes])
    row("checkpoint (s)", [f"{s.checkpoint.get('checkpoint_s', 0):.2f}" for s in result.sizes])
    row("max txn during checkpoint (ms)",
        [f"{s.checkpoint.get('max_txn_ms_during', 0):.1f}" for s in result.sizes])
    row("max txn outside checkpoint (ms)",
        [f"{s.checkpoint.get('max_txn_ms_outside', 0):.1f}" for s in result.sizes])
    row("longest checkpoint mutex hold (ms)",
        [f"{s.checkpoint.get('longest_mutex_hold_ms', 0):.1f}" for s in result.sizes])
    row("vacuum after the runs (s)", [f"{s.vacuum.get('seconds', 0):.2f}"
                                      for s in result.sizes])
    row("  dead versions removed", [f"{s.vacuum.get('removed', 0):,}" for s in result.sizes])
    row("clean reopen (s)", [f"{s.reopen_s:.3f}" for s in result.sizes])
    for i, n in enumerate(cfg.recovery_commits):
        row(f"recovery, {n:,} commits (s)",
            [f"{s.recovery[i]['seconds']:.3f}" if len(s.recovery) > i else "-"
             for s in result.sizes])
        row("  WAL replayed (KiB)",
            [f"{s.recovery[i]['wal_bytes'] / 1024:,.0f}" if len(s.recovery) > i else "-"
             for s in result.sizes])
    large = result.sizes[-1]
    lines.append("")
    lines.append(f"targets at {large.rows:,} rows:")
    lines.append(f"  RSS {large.rss_mib:,.0f} MiB < {TARGETS['rss_mib']:.0f} MiB: "
                 f"{_verdict(large.rss_mib < TARGETS['rss_mib'])} "
                 f"(peak RSS of the whole run {result.peak_rss_mib:,.0f} MiB)")
    lines.append(f"  clean reopen {large.reopen_s:.3f} s < {TARGETS['reopen_s']:.0f} s: "
                 f"{_verdict(large.reopen_s < TARGETS['reopen_s'])}")
    hold = large.checkpoint.get("longest_mutex_hold_ms", 0)
    during = large.checkpoint.get("max_txn_ms_during", 0)
    lines.append(f"  checkpoint stall: longest mutex hold {hold:.1f} ms, longest transaction "
                 f"during it {during:.1f} ms < {TARGETS['stall_ms']:.0f} ms: "
                 f"{_verdict(max(hold, during) < TARGETS['stall_ms'])}")
    for wl in ("transfers", "read_mostly"):
        r = result.ratio(wl)
        lines.append(f"  {wl}: {result.sizes[0].rows:,} rows / {large.rows:,} rows = "
                     + (f"{r:.2f}x <= {TARGETS['ratio']:.0f}x: "
                        f"{_verdict(r <= TARGETS['ratio'])}" if r else "-"))
    if len(large.recovery) >= 2:
        a, b = large.recovery[0], large.recovery[-1]
        lines.append(f"  recovery: {a['seconds']:.3f} s for {a['wal_bytes']:,} WAL bytes, "
                     f"{b['seconds']:.3f} s for {b['wal_bytes']:,} (proportional to the WAL "
                     "since the checkpoint)")
    return "\n".join(lines)


def to_json(result: DbBenchResult) -> dict[str, Any]:
    return {"config": asdict(result.config), "peak_rss_mib": result.peak_rss_mib,
            "sizes": [asdict(s) for s in result.sizes]}


def plot(result: DbBenchResult, path: str) -> None:
    """Throughput per size, and recovery time against the WAL replayed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=100)
    try:
        wls = ("transfers", "read_mostly")
        width = 0.8 / len(result.sizes)
        for i, s in enumerate(result.sizes):
            ax1.bar([j + i * width for j in range(len(wls))],
                    [s.rates.get(w, 0) for w in wls], width, label=f"{s.rows:,} rows")
        ax1.set_xticks([j + width * (len(result.sizes) - 1) / 2 for j in range(len(wls))],
                       list(wls))
        ax1.set_ylabel("commits/s")
        ax1.set_title(f"throughput, cache {result.config.cache_mib} MiB")
        ax1.legend()
        for s in result.sizes:
            xs = [r["wal_bytes"] / 1024 for r in s.recovery]
            ys = [r["seconds"] for r in s.recovery]
            ax2.plot(xs, ys, marker="o", label=f"{s.rows:,} rows")
        ax2.set_xlabel("WAL since the checkpoint (KiB)")
        ax2.set_ylabel("open after SIGKILL (s)")
        ax2.set_title("recovery")
        ax2.legend()
        fig.suptitle("cairn bench db: data larger than the chain cache")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


@click.command()
@click.option("--rows", type=click.IntRange(1_000), default=1_000_000, show_default=True,
              help="rows of the large table (compared with 1,000)")
@click.option("--cache-mib", type=click.IntRange(1), default=64, show_default=True)
@click.option("--clients", type=click.IntRange(1), default=8, show_default=True)
@click.option("--duration", type=click.FloatRange(0.5), default=5.0, show_default=True,
              help="seconds per throughput cell")
@click.option("--repeat", type=click.IntRange(1), default=1, show_default=True)
@click.option("--engine", type=click.Choice(["lsm", "btree"]), default="lsm",
              show_default=True)
@click.option("--dir", "root", type=click.Path(file_okay=False),
              help="where the databases go (default: a temporary directory)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--quick", is_flag=True, help="seconds, not minutes: a smoke run for tests")
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def bench_db(rows: int, cache_mib: int, clients: int, duration: float, repeat: int,
             engine: str, root: str | None, json_path: str | None, plot_path: str | None,
             quick: bool, quiet: bool) -> None:
    """cairn.db larger than its cache: RSS, reopen, recovery, checkpoint stall, throughput."""
    cfg = DbBenchConfig(rows=rows, cache_mib=cache_mib, clients=clients, duration=duration,
                        repeat=repeat, engine=engine, root=root)
    if quick:
        cfg.rows, cfg.cache_mib, cfg.duration, cfg.clients = 5_000, 1, 0.5, 2
        cfg.recovery_commits, cfg.batch = (50, 200), 1_000
    result = run_benchmark(cfg, Progress(quiet=quiet))
    click.echo(table(result))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(to_json(result), f, indent=2)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot(result, plot_path)
        click.echo(f"wrote {plot_path}")
