"""``cairn bench kv``: the leaderless store measured three ways, peers side by side.

1. Quorum configurations on a real 5-node local cluster (separate processes, loopback HTTP,
   LSM engines synced per write): ops/s and p50/p99 latency per (n, r, w), medians of
   repeats, ratios against the Dynamo default (3, 2, 2).
2. Anti-entropy: bytes a Merkle-tree exchange sends to find the differing keys, against a
   naive exchange of every (key, digest) pair, for 1..1,000 differing keys out of 10,000.
3. The simulator: simulated seconds per wall second and seeds per minute of the 5-node,
   10,000-operation fault scenario (``cairn sim leaderless``), on ``--jobs`` processes.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from cairn.bench.common import Progress, median
from cairn.kv.cli import run_seeds
from cairn.kv.client import KVClient, KVClientError
from cairn.kv.cluster import LocalCluster
from cairn.kv.crdt import digest
from cairn.kv.merkle import MerkleTree, differing_buckets, naive_bytes

QUORUMS = ((3, 1, 1), (3, 2, 2), (3, 3, 3), (5, 3, 3))


@dataclass(slots=True)
class QuorumCell:
    n: int
    r: int
    w: int
    ops_per_sec: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    errors: int = 0


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def run_quorum(urls: list[str], n: int, r: int, w: int, clients: int, seconds: float,
               keys: int, seed: int) -> tuple[float, float, float, int]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        client = KVClient(urls[i % len(urls)])
        lat = latencies[i]
        while time.perf_counter() < stop:
            key = f"b{rng.randrange(keys)}"
            t0 = time.perf_counter()
            try:
                if rng.random() < 0.5:
                    client.get(key, n=n, r=r)
                else:
                    client.put(key, f"v{rng.random()}", n=n, w=w)
            except KVClientError:
                errors[i] += 1
                continue
            lat.append((time.perf_counter() - t0) * 1000.0)
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    all_lat = [x for lat in latencies for x in lat]
    return len(all_lat) / elapsed, _percentile(all_lat, 0.5), _percentile(all_lat, 0.99), \
        sum(errors)


def anti_entropy_rows(total: int = 10_000, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    base = {f"key{i}": digest(("v", i)) for i in range(total)}
    a = MerkleTree(base.items(), depth=10)
    rows = []
    for differing in (1, 10, 100, 1000):
        changed = dict(base)
        for k in rng.sample(sorted(base), differing):
            changed[k] = digest(("w", k))
        b = MerkleTree(changed.items(), depth=10)
        buckets, tree_bytes = differing_buckets(a, b)
        leaf_bytes = sum(len(k) + 8 for i in buckets for k in b.leaves[i])
        rows.append({"keys": total, "differing": differing, "merkle_bytes": tree_bytes + leaf_bytes,
                     "naive_bytes": naive_bytes(base.items())})
    return rows


@click.command("kv")
@click.option("--nodes", default=5, show_default=True, type=click.IntRange(3, 16))
@click.option("--clients", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--seconds", default=3.0, show_default=True, type=click.FloatRange(0.2))
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--keys", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--seeds", default=6, show_default=True, type=click.IntRange(0),
              help="simulator seeds to time (0: skip)")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def bench_kv(nodes: int, clients: int, seconds: float, repeat: int, keys: int, seeds: int,
             jobs: int, json_path: str | None, plot_path: str | None, quiet: bool) -> None:
    """Leaderless store: ops/s and latency per (n, r, w), anti-entropy bytes, simulator speed."""
    progress = Progress(quiet=quiet)
    quorums = [q for q in QUORUMS if q[0] <= nodes]
    cells = [QuorumCell(*q) for q in quorums]
    with tempfile.TemporaryDirectory(prefix="cairn-bench-kv-") as tmp:
        cluster = LocalCluster(nodes, tmp, "lsm", {"timeout_ms": 1000.0})
        cluster.start()
        try:
            urls = list(cluster.urls.values())
            for rep in range(repeat):
                for cell in cells:  # interleaved: a load burst hits every configuration
                    ops, p50, p99, errs = run_quorum(urls, cell.n, cell.r, cell.w, clients,
                                                     seconds, keys, rep)
                    cell.ops_per_sec.append(ops)
                    cell.p50_ms.append(p50)
                    cell.p99_ms.append(p99)
                    cell.errors += errs
                    progress.line(f"repeat {rep + 1}/{repeat} (n,r,w)=({cell.n},{cell.r},"
                                  f"{cell.w}): {ops:.0f} ops/s p50 {p50:.2f} ms "
                                  f"p99 {p99:.2f} ms")
        finally:
            cluster.stop()
    base = next((c for c in cells if (c.n, c.r, c.w) == (3, 2, 2)), cells[0])
    base_ops = median(base.ops_per_sec)
    click.echo(f"cairn kv, {nodes} processes, {clients} client threads, 50% gets / 50% puts, "
               f"{keys} keys, median of {repeat} x {seconds:g}s")
    click.echo(f"{'(n,r,w)':<10}{'ops/s':>10}{'vs (3,2,2)':>12}{'p50 ms':>9}{'p99 ms':>9}"
               f"{'errors':>8}")
    for c in cells:
        ops = median(c.ops_per_sec)
        click.echo(f"{f'({c.n},{c.r},{c.w})':<10}{ops:>10.0f}{ops / base_ops:>11.2f}x"
                   f"{median(c.p50_ms):>9.2f}{median(c.p99_ms):>9.2f}{c.errors:>8}")
    ae = anti_entropy_rows()
    click.echo("anti-entropy: bytes to find the differing keys among 10,000")
    for row in ae:
        click.echo(f"  {row['differing']:>5} differing: Merkle {row['merkle_bytes']:>8} B, "
                   f"naive {row['naive_bytes']:>8} B "
                   f"({row['naive_bytes'] / row['merkle_bytes']:.1f}x less)")
    sim: dict[str, Any] = {}
    if seeds:
        summary = run_seeds(seeds, 0, {"ops": 10_000, "nodes": 5, "mode": "mv",
                                       "sloppy": True}, jobs,
                            lambda r: progress.line(f"seed {r['seed']}: {r['wall_s']:.2f}s"))
        sim = {k: v for k, v in summary.items() if k != "reports"}
        click.echo(f"simulator: {sim['seeds_per_min']:.0f} seeds/min of the 5-node 10,000-op "
                   f"fault scenario on {jobs} processes ({sim['sim_s_per_wall_s']:.1f} simulated "
                   f"s per wall s, {sim['cpu_s_per_seed']:.2f} CPU s per seed, "
                   f"{sim['failed_seeds']} property failures)")
    if json_path:
        doc = {"benchmark": "kv", "nodes": nodes, "clients": clients, "seconds": seconds,
               "repeat": repeat, "quorums": [asdict(c) for c in cells], "anti_entropy": ae,
               "simulator": sim}
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        click.echo(f"wrote {json_path}")
    if plot_path:
        _plot(cells, ae, plot_path)
        click.echo(f"wrote {plot_path}")


def _plot(cells: list[QuorumCell], ae: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f"({c.n},{c.r},{c.w})" for c in cells]
    left.bar(labels, [median(c.ops_per_sec) for c in cells], color="C0")
    left.set_ylabel("ops/s (median)")
    twin = left.twinx()
    twin.plot(labels, [median(c.p99_ms) for c in cells], "o-", color="C3", label="p99 ms")
    twin.set_ylabel("p99 latency, ms")
    left.set_title("cairn kv per (n, r, w)")
    diffs = [r["differing"] for r in ae]
    right.loglog(diffs, [r["merkle_bytes"] for r in ae], "o-", label="Merkle tree")
    right.loglog(diffs, [r["naive_bytes"] for r in ae], "s--", label="naive (every key)")
    right.set_xlabel("differing keys (of 10,000)")
    right.set_ylabel("bytes to find them")
    right.set_title("anti-entropy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
