"""``cairn bench storage``: the cairn storage engines (DDIA ch. 3) and their peers side by side.

Loads N keys into every engine and peer in the same run, runs the workloads of
:mod:`cairn.bench.workloads` on each, repeats the whole round ``--repeat`` times (systems
interleaved, so a slow minute on the shared machine hits every system alike) and prints medians,
ratios to sqlite3 and a PASS/MISS line per target; ``--json`` and ``--plot`` write the same
numbers for machines and people. ``--cache-mib`` gives every system the same cache;
``--growth-from N`` runs the whole benchmark at N keys first and reports how much each rate falls
from N keys to ``--keys`` (the cost of data outgrowing the cache). See docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time

import click
from click.core import ParameterSource

from cairn.bench.common import BenchmarkError, Measurement, Progress, fmt_rate
from cairn.bench.peers import CAIRN_ENGINES, PEERS, STORES, Unavailable
from cairn.bench.report import BenchResult, plot, summarize, table, write_json
from cairn.bench.workloads import UNITS, WORKLOADS, BenchConfig, DataSet, SystemRun, run_system

# --quick: a smoke configuration that exercises every workload in seconds.
QUICK = {"keys": 5_000, "repeat": 1, "reads": 2_000, "range_scans": 50, "sync_writes": 200,
         "budget": 1.0}


def _names(value: str, known: tuple[str, ...], what: str) -> list[str]:
    if value.strip().lower() in ("", "none"):
        return []
    if value.strip().lower() == "all":
        return list(known)
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        raise click.BadParameter(f"unknown {what} {', '.join(bad)}; choose from "
                                 f"{', '.join(known)} (or 'all'/'none')")
    return list(dict.fromkeys(names))


def run_benchmark(cfg: BenchConfig, systems: list[str], root: str,
                  progress: Progress) -> tuple[dict[str, list[SystemRun]], dict[str, str]]:
    """Every repeat of every system; systems that cannot be opened are skipped with a note."""
    runs: dict[str, list[SystemRun]] = {s: [] for s in systems}
    skipped: dict[str, str] = {}
    for r in range(cfg.repeat):
        data = DataSet.make(cfg, r)
        for name in systems:
            if name in skipped:
                continue

            def report(wl: str, m: Measurement | None, note: str | None,
                       name: str = name, r: int = r) -> None:
                head = f"[{r + 1}/{cfg.repeat}] {name:<9} {wl:<13}"
                if m is None:
                    progress.line(f"{head} {note}")
                    return
                cap = ", capped" if m.capped else ""
                progress.line(f"{head} {fmt_rate(m.ops_per_sec):>12} {UNITS[wl]}/s  "
                              f"({m.ops:,} in {m.seconds:.2f}s{cap})")

            try:
                run = run_system(name, os.path.join(root, f"r{r}"), data, cfg, report)
            except Unavailable as exc:
                skipped[name] = str(exc)
                progress.line(f"skipping {name}: {exc}")
                continue
            runs[name].append(run)
    return {k: v for k, v in runs.items() if v}, skipped


@click.command("storage")
@click.option("--keys", "-n", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="keys loaded into each system (16-byte keys, 100-byte values)")
@click.option("--repeat", "-r", type=click.IntRange(min=1), default=3, show_default=True,
              help="repeats; the report shows medians")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True),
              help="write the results as JSON to this file")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True),
              help="write a PNG chart (grouped bars, log scale) to this file")
@click.option("--engines", default=",".join(CAIRN_ENGINES), show_default=True,
              help="cairn engines to run, comma-separated ('none' for none)")
@click.option("--peers", default=",".join(PEERS), show_default=True,
              help="peers to run, comma-separated ('none' for none)")
@click.option("--workloads", default=",".join(WORKLOADS), show_default=True,
              help="workloads to run, comma-separated")
@click.option("--dir", "base_dir", type=click.Path(file_okay=False),
              help="where to make the temporary data directories (default: system temp dir)")
@click.option("--reads", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="point reads and absent-key reads per system and repeat")
@click.option("--range-scans", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="1000-key range scans per system and repeat")
@click.option("--sync-writes", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="durable writes per system and repeat (split among the writers for the "
                   "concurrent workload)")
@click.option("--writers", type=click.IntRange(min=1), default=8, show_default=True,
              help="threads of the concurrent durable-write workload")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=3.0,
              show_default=True, help="seconds after which a read/scan/durable workload stops "
                                      "and reports the rate of what it did")
@click.option("--cache-mib", type=click.FloatRange(min=1), default=64.0, show_default=True,
              help="memory every system gets for its cache: btree buffer pool, lsm block "
                   "cache, sqlite3 cache_size, RocksDB/LevelDB block cache (LMDB and the "
                   "in-memory-index systems use the OS page cache)")
@click.option("--manual-wal-flush", is_flag=True,
              help="let the lsm and btree buffer WAL frames in user space (64 KiB) instead of "
                   "writing each put to the OS as the peers do")
@click.option("--growth-from", type=click.IntRange(min=1),
              help="also run with this many keys first and report each rate's fall from it "
                   "to --keys (cost growth)")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--quick", is_flag=True,
              help="small smoke configuration (5,000 keys, 1 repeat); explicit options win")
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
@click.pass_context
def bench_storage(ctx: click.Context, keys: int, repeat: int, json_path: str | None,
                  plot_path: str | None, engines: str, peers: str, workloads: str,
                  base_dir: str | None, reads: int, range_scans: int, sync_writes: int,
                  writers: int, budget: float, cache_mib: float, manual_wal_flush: bool,
                  growth_from: int | None, seed: int, quick: bool, quiet: bool) -> None:
    """Benchmark the cairn storage engines against sqlite3, LMDB, RocksDB, LevelDB, diskcache
    and semidbm in one run: ops/s per workload, ratios to sqlite3, disk size, engine stats,
    PASS/MISS per target."""
    params = {"keys": keys, "repeat": repeat, "reads": reads, "range_scans": range_scans,
              "sync_writes": sync_writes, "budget": budget}
    if quick:
        for name, value in QUICK.items():
            if ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE:
                params[name] = value
    systems = (_names(engines, CAIRN_ENGINES, "engine") + _names(peers, PEERS, "peer"))
    if not systems:
        raise click.BadParameter("nothing to benchmark: no engine and no peer selected")
    assert all(s in STORES for s in systems)
    try:
        cfg = BenchConfig(writers=writers, seed=seed,
                          workloads=tuple(_names(workloads, WORKLOADS, "workload")),
                          cache_bytes=int(cache_mib * (1 << 20)),
                          manual_wal_flush=manual_wal_flush, **params)
    except BenchmarkError as exc:
        raise click.UsageError(str(exc)) from exc
    if growth_from is not None and growth_from >= cfg.keys:
        raise click.BadParameter(f"--growth-from {growth_from} must be below --keys "
                                 f"{cfg.keys}", param_hint="--growth-from")

    progress = Progress(emit=click.echo, quiet=quiet)
    if base_dir:
        os.makedirs(base_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="cairn-bench-storage-", dir=base_dir)
    progress.line(f"cairn bench storage: {', '.join(systems)}; {cfg.keys:,} keys, "
                  f"{cfg.repeat} repeat(s), cache {cache_mib:g} MiB each; data under {root}")
    base: BenchResult | None = None
    try:
        if growth_from is not None:
            small = dataclasses.replace(cfg, keys=growth_from)
            progress.line(f"-- first at {growth_from:,} keys (cost growth baseline)")
            t0 = time.perf_counter()
            runs, skipped = run_benchmark(small, systems, root, progress)
            base = summarize(small, runs, skipped, time.perf_counter() - t0)
            progress.line(f"-- now at {cfg.keys:,} keys")
        t0 = time.perf_counter()
        runs, skipped = run_benchmark(cfg, systems, root, progress)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = summarize(cfg, runs, skipped, time.perf_counter() - t0, base)

    click.echo("")
    click.echo(table(result))
    if json_path:
        write_json(result, json_path)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot(result, plot_path)
        click.echo(f"wrote {plot_path}")
    failed = [(name, wl, s.error) for name, sm in result.systems.items()
              for wl, s in sm.series.items() if s.error]
    if failed:
        for name, wl, err in failed:
            click.echo(f"FAILED {name} {wl}: {err}", err=True)
        ctx.exit(1)
