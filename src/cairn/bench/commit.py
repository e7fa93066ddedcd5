"""``cairn bench commit``: what "visible only once durable" costs durable writers.

cairn.db commits in one of three ways (docs/transactions.md, "Visible before durable"):

* ``on``: PostgreSQL's ``synchronous_commit=on``, the default: a commit becomes visible and
  is acknowledged once its WAL record is fsynced;
* ``elr``: early lock release (``early_lock_release=True``, the default before): visible
  when its record is appended, acknowledged after the fsync (readers that saw it wait);
* ``off``: PostgreSQL's asynchronous commit (``synchronous_commit="off"``): visible and
  acknowledged at once, the WAL writer fsyncs every ``wal_writer_delay``; a power cut loses
  at most that window.

Clients run small read-modify-write transactions on a database on disk, either each on its
own row (``spread``) or all on one hot row (``hot``, where holding the lock until the fsync
serializes the writers). Every mode runs the same workloads in one run, medians of repeats,
ratios to ``on``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from cairn.bench.common import Progress, median
from cairn.db import Database
from cairn.txn.errors import SerializationFailure

MODES: dict[str, dict[str, Any]] = {
    "on": {},
    "elr": {"early_lock_release": True},
    "off": {"synchronous_commit": "off"},
}


@dataclass
class CommitBenchConfig:
    threads: tuple[int, ...] = (1, 8)
    workloads: tuple[str, ...] = ("spread", "hot")
    modes: tuple[str, ...] = ("on", "elr", "off")
    engine: str = "lsm"
    duration: float = 1.5
    repeat: int = 3


@dataclass
class CommitCell:
    mode: str
    workload: str
    threads: int
    runs: list[float] = field(default_factory=list)  # commits/s per repeat

    @property
    def commits_per_sec(self) -> float:
        return median(self.runs)


def run_cell(cfg: CommitBenchConfig, mode: str, workload: str, threads: int) -> float:
    """One timed run on a fresh database; commits/s. Checks that every commit counted."""
    path = tempfile.mkdtemp(prefix="cairn-bench-commit-")
    db = Database.open(path, engine=cfg.engine, autovacuum=False, **MODES[mode])
    try:
        db.create_table("counters")
        with db.transaction() as tx:
            for i in range(threads + 1):
                tx.insert("counters", {"id": i, "n": 0})
        stop = threading.Event()
        done = [0] * threads

        def client(n: int) -> None:
            row = threads if workload == "hot" else n
            while not stop.is_set():
                try:
                    with db.transaction() as tx:
                        r = tx.get("counters", row, for_update=True)
                        tx.update("counters", row, {"n": r["n"] + 1})
                except SerializationFailure:
                    continue
                done[n] += 1

        workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        time.sleep(cfg.duration)
        stop.set()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        with db.transaction() as tx:
            total = sum(r["n"] for r in tx.select("counters"))
        if total != sum(done):
            raise click.ClickException(f"{mode}/{workload}: {sum(done)} commits acknowledged, "
                                       f"{total} counted")
        return sum(done) / elapsed
    finally:
        db.close()
        shutil.rmtree(path, ignore_errors=True)


def run_benchmark(cfg: CommitBenchConfig, progress: Progress) -> list[CommitCell]:
    cells = {(m, w, t): CommitCell(m, w, t) for w in cfg.workloads for t in cfg.threads
             for m in cfg.modes}
    for r in range(cfg.repeat):
        for (m, w, t), cell in cells.items():
            rate = run_cell(cfg, m, w, t)
            cell.runs.append(rate)
            progress.line(f"[{r + 1}/{cfg.repeat}] {w:6} {t:>2} threads  {m:4} "
                          f"{rate:>9,.0f} commits/s")
    return list(cells.values())


def table(cfg: CommitBenchConfig, cells: list[CommitCell]) -> str:
    lines = [f"cairn bench commit: durable writers on cairn.db ({cfg.engine}), "
             f"{cfg.duration:g}s per cell, median of {cfg.repeat}; ratios to on",
             f"  {'workload':8} {'threads':>7}  " + "  ".join(f"{m:>16}" for m in cfg.modes)]
    for w in cfg.workloads:
        for t in cfg.threads:
            row = {c.mode: c.commits_per_sec for c in cells if c.workload == w
                   and c.threads == t}
            base = row.get("on")
            parts = []
            for m in cfg.modes:
                v = row[m]
                rel = f" ({v / base:.2f}x)" if base and m != "on" else ""
                parts.append(f"{v:>9,.0f}{rel:>7}")
            lines.append(f"  {w:8} {t:>7}  " + "  ".join(parts))
    return "\n".join(lines)


def plot(cfg: CommitBenchConfig, cells: list[CommitCell], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(w, t) for w in cfg.workloads for t in cfg.threads]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    width = 0.8 / len(cfg.modes)
    for i, m in enumerate(cfg.modes):
        ys = [next(c.commits_per_sec for c in cells if (c.mode, c.workload, c.threads)
                   == (m, w, t)) for w, t in groups]
        ax.bar([g + i * width for g in range(len(groups))], ys, width, label=m)
    ax.set_xticks([g + width * (len(cfg.modes) - 1) / 2 for g in range(len(groups))])
    ax.set_xticklabels([f"{w}\n{t} threads" for w, t in groups])
    ax.set_ylabel("commits/s")
    ax.set_title("cairn bench commit: synchronous_commit on / early release / off")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@click.command("commit")
@click.option("--threads", "-t", default="1,8", show_default=True,
              help="comma-separated numbers of writer threads")
@click.option("--engine", type=click.Choice(["lsm", "btree"]), default="lsm",
              show_default=True)
@click.option("--duration", type=click.FloatRange(min=0.05), default=1.5, show_default=True)
@click.option("--repeat", "-r", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def bench_commit(threads: str, engine: str, duration: float, repeat: int,
                 json_path: str | None, plot_path: str | None, quiet: bool) -> None:
    """Durable writers under synchronous_commit on, early lock release and off."""
    try:
        ts = tuple(int(x) for x in threads.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"--threads wants numbers, got {threads!r}") from None
    if not ts or any(not 1 <= t <= 256 for t in ts):
        raise click.BadParameter("--threads wants numbers from 1 to 256")
    cfg = CommitBenchConfig(threads=ts, engine=engine, duration=duration, repeat=repeat)
    cells = run_benchmark(cfg, Progress(quiet=quiet))
    click.echo(table(cfg, cells))
    if json_path:
        doc = {"config": asdict(cfg),
               "cells": [{**asdict(c), "commits_per_sec": c.commits_per_sec} for c in cells]}
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot(cfg, cells, plot_path)
        click.echo(f"wrote {plot_path}")
