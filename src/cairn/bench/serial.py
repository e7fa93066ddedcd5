"""``cairn bench serial``: partitioned actual serial execution (H-Store / VoltDB).

Clients run *interactive* serial transactions, each on its own warehouse: read a stock row,
wait a client round trip (the time an application spends between two statements), write the
row back, commit. With one serial executor every transaction holds the whole database across
its round trip, so throughput is one transaction per round trip however many clients there
are; with N partitions, transactions of different partitions run side by side. The same
workload at 1, 2, 4, 8 ... partitions in one run, with ratios to one partition, and a check
that the stock lost exactly one unit per commit.

Stored procedures (``db.call``) avoid the round trips altogether; this benchmark shows what
partitions buy when a transaction cannot avoid waiting.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from cairn.bench.common import BenchmarkError, Progress, median
from cairn.db import Database

ITEMS = 10
STOCK = 1_000_000


@dataclass
class SerialBenchConfig:
    partitions: tuple[int, ...] = (1, 2, 4, 8)
    clients: int = 8
    round_trip: float = 0.0005  # seconds between the read and the write
    duration: float = 2.0
    repeat: int = 3


@dataclass
class SerialCell:
    partitions: int
    distinct: int  # partitions the clients' warehouses actually fall in
    runs: list[float] = field(default_factory=list)  # commits/s per repeat

    @property
    def commits_per_sec(self) -> float:
        return median(self.runs)


def run_cell(cfg: SerialBenchConfig, partitions: int) -> tuple[float, int]:
    """One timed run; returns (commits/s, partitions used). Raises if stock went astray."""
    db = Database.memory(serial_partitions=partitions)
    try:
        db.create_table("stock", primary_key=["warehouse", "item"])
        with db.transaction() as tx:
            for w in range(cfg.clients):
                for i in range(ITEMS):
                    tx.insert("stock", {"warehouse": w, "item": i, "qty": STOCK})
        stop = threading.Event()
        counts = [0] * cfg.clients
        errors: list[BaseException] = []

        def client(n: int) -> None:
            w = n  # each client has its own warehouse
            try:
                while not stop.is_set():
                    item = counts[n] % ITEMS
                    with db.transaction("serializable", "serial", partition=w) as tx:
                        row = tx.get("stock", (w, item))
                        time.sleep(cfg.round_trip)
                        tx.update("stock", (w, item), {"qty": row["qty"] - 1})
                    counts[n] += 1
            except BaseException as exc:  # reported after the join
                errors.append(exc)
                stop.set()

        threads = [threading.Thread(target=client, args=(n,), daemon=True)
                   for n in range(cfg.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        stop.wait(cfg.duration)
        stop.set()
        for t in threads:
            t.join(60)
        seconds = time.perf_counter() - t0
        if errors:
            raise errors[0]
        with db.transaction("repeatable read") as tx:
            sold = sum(STOCK - r["qty"] for r in tx.select("stock"))
        if sold != sum(counts):
            raise BenchmarkError(f"{sold} units left the stock for {sum(counts)} commits")
        used = len({db._partitions.of_value(n) for n in range(cfg.clients)})
        return sum(counts) / seconds, used
    finally:
        db.close()


def run_benchmark(cfg: SerialBenchConfig, progress: Progress) -> list[SerialCell]:
    cells = {p: SerialCell(p, 0) for p in cfg.partitions}
    for r in range(cfg.repeat):
        for p in cfg.partitions:
            rate, used = run_cell(cfg, p)
            cells[p].runs.append(rate)
            cells[p].distinct = used
            progress.line(f"[{r + 1}/{cfg.repeat}] {p:>3} partitions  {rate:>9,.0f} commits/s")
    return list(cells.values())


def table(cfg: SerialBenchConfig, cells: list[SerialCell]) -> str:
    base = next((c.commits_per_sec for c in cells if c.partitions == 1), None)
    lines = [f"cairn bench serial: {cfg.clients} clients, one warehouse each, interactive "
             f"serial transactions with a {cfg.round_trip * 1000:g} ms client round trip, "
             f"{cfg.duration:g}s per cell, median of {cfg.repeat}",
             "  partitions  used  commits/s  vs 1 partition"]
    for c in cells:
        r = f"{c.commits_per_sec / base:.2f}x" if base else "-"
        lines.append(f"  {c.partitions:>10}  {c.distinct:>4}  {c.commits_per_sec:>9,.0f}  {r:>14}")
    return "\n".join(lines)


def plot(cells: list[SerialCell], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot([c.partitions for c in cells], [c.commits_per_sec for c in cells], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("serial partitions")
    ax.set_ylabel("commits/s")
    ax.set_title("cairn bench serial: partitioned serial executors")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@click.command("serial")
@click.option("--partitions", "-p", default="1,2,4,8", show_default=True,
              help="comma-separated numbers of serial partitions")
@click.option("--clients", "-t", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--round-trip-ms", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="client round trip inside each transaction")
@click.option("--duration", type=click.FloatRange(min=0.05), default=2.0, show_default=True)
@click.option("--repeat", "-r", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def bench_serial(partitions: str, clients: int, round_trip_ms: float, duration: float,
                 repeat: int, json_path: str | None, plot_path: str | None,
                 quiet: bool) -> None:
    """Partitioned actual serial execution: 1..N serial executors side by side."""
    try:
        ps = tuple(int(x) for x in partitions.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"--partitions wants numbers, got {partitions!r}") from None
    if not ps or min(ps) < 1 or max(ps) > 1024:
        raise click.BadParameter("--partitions wants numbers from 1 to 1024")
    cfg = SerialBenchConfig(partitions=ps, clients=clients, round_trip=round_trip_ms / 1000,
                            duration=duration, repeat=repeat)
    cells = run_benchmark(cfg, Progress(quiet=quiet))
    click.echo(table(cfg, cells))
    if json_path:
        doc: dict[str, Any] = {"benchmark": "serial", "config": asdict(cfg),
                               "cells": [{**asdict(c), "commits_per_sec": c.commits_per_sec}
                                         for c in cells]}
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot(cells, plot_path)
        click.echo(f"wrote {plot_path}")
