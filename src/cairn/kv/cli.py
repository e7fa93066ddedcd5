"""``cairn kv up|put|get`` (a local cluster of real processes) and ``cairn sim leaderless|pbs``
(seeded fault runs of the same node in the simulator, PBS against the WARS model)."""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from typing import Any

import click


def _run_one(args: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    from cairn.kv.node import KVConfig
    from cairn.kv.simulation import Scenario, run_seed

    seed, opts = args
    cfg = KVConfig(mode=opts["mode"], sloppy=opts["sloppy"], ae_ms=500.0)
    sc = Scenario(nodes=opts["nodes"], ops=opts["ops"], config=cfg,
                  linearizability=opts["mode"] == "lww")
    start = time.process_time()
    rep = run_seed(seed, sc).to_dict()
    rep["cpu_s"] = time.process_time() - start
    return rep


def run_seeds(seeds: int, first: int, opts: dict[str, Any], jobs: int, echo: Any = None
              ) -> dict[str, Any]:
    """Run ``seeds`` seeds from ``first`` on ``jobs`` processes; a summary with every failure."""
    work = [(s, opts) for s in range(first, first + seeds)]
    start = time.perf_counter()
    reports = []
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for rep in pool.imap(_run_one, work):
                reports.append(rep)
                if echo:
                    echo(rep)
    else:
        for w in work:
            reports.append(_run_one(w))
            if echo:
                echo(reports[-1])
    wall = time.perf_counter() - start
    failures = [{"seed": r["seed"], "failures": r["failures"]} for r in reports if r["failures"]]
    sim_s = sum(r["sim_ms"] for r in reports) / 1000.0
    return {
        "seeds": len(reports), "failed_seeds": len(failures), "failures": failures,
        "ops_per_seed": opts["ops"], "nodes": opts["nodes"], "mode": opts["mode"],
        "jobs": jobs, "wall_s": wall, "seeds_per_min": 60.0 * len(reports) / wall,
        "sim_s_per_wall_s": sim_s / wall,
        "cpu_s_per_seed": sum(r["cpu_s"] for r in reports) / max(len(reports), 1),
        # The least CPU a seed took: the machine's contention inflates the mean.
        "cpu_s_per_seed_min": min((r["cpu_s"] for r in reports), default=0.0),
        "lww_lost_writes": sum(len(r["lost"]) for r in reports) if opts["mode"] == "lww" else 0,
        "not_linearizable": sum(r["linearizable"] is False for r in reports),
        "reports": reports,
    }


def register(cli_root: click.Group) -> None:
    @cli_root.group("kv")
    def kv() -> None:
        """Leaderless key-value store (Dynamo style, DDIA ch. 5): a local cluster of processes."""

    @kv.command("up")
    @click.option("--nodes", default=5, show_default=True, type=click.IntRange(1, 64))
    @click.option("--data", default=None, help="data directory (default: a temporary one)")
    @click.option("--engine", default="lsm", show_default=True,
                  type=click.Choice(["log", "hash", "lsm", "btree"]))
    @click.option("--n", "n", default=3, show_default=True, type=click.IntRange(1))
    @click.option("--r", "r", default=2, show_default=True, type=click.IntRange(1))
    @click.option("--w", "w", default=2, show_default=True, type=click.IntRange(1))
    @click.option("--mode", default="mv", show_default=True, type=click.Choice(["mv", "lww"]))
    def up(nodes: int, data: str | None, engine: str, n: int, r: int, w: int, mode: str) -> None:
        """Start NODES node processes on free loopback ports; Ctrl-C stops them."""
        from cairn.kv.cluster import LocalCluster

        if not (r <= n and w <= n <= nodes):
            raise click.BadParameter(f"need r <= n, w <= n and n <= nodes (n={n}, r={r}, "
                                     f"w={w}, nodes={nodes})")
        data = data or tempfile.mkdtemp(prefix="cairn-kv-")
        cluster = LocalCluster(nodes, data, engine, {"n": n, "r": r, "w": w, "mode": mode})
        cluster.start()
        try:
            for name, url in cluster.urls.items():
                click.echo(f"{name}  {url}")
            click.echo(f"data in {data}; try: cairn kv put --url {cluster.urls['n1']} k v")
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop()

    @kv.command("put")
    @click.option("--url", required=True)
    @click.argument("key")
    @click.argument("value")
    def put(url: str, key: str, value: str) -> None:
        """Write KEY (replacing the siblings a fresh read returns)."""
        from cairn.kv.client import KVClient, KVClientError

        client = KVClient(url)
        try:
            click.echo(json.dumps({"version": client.put(key, value, client.get(key).context)}))
        except KVClientError as e:
            raise click.ClickException(f"{e.code}: {e}") from None

    @kv.command("get")
    @click.option("--url", required=True)
    @click.argument("key")
    def get(url: str, key: str) -> None:
        """Read KEY: its values (siblings) and causal context."""
        from cairn.kv.client import KVClient, KVClientError

        try:
            res = KVClient(url).get(key)
        except KVClientError as e:
            raise click.ClickException(f"{e.code}: {e}") from None
        click.echo(json.dumps({"values": res.values, "context": res.context}))

    sim = cli_root.commands.get("sim")
    if sim is None:
        @cli_root.group("sim")
        def sim() -> None:
            """Deterministic simulation: seeded faults, checked properties, replayable seeds."""

    @sim.command("leaderless")
    @click.option("--seeds", default=10, show_default=True, type=click.IntRange(1))
    @click.option("--seed", "first", default=0, show_default=True, help="first seed")
    @click.option("--ops", default=10_000, show_default=True, type=click.IntRange(1))
    @click.option("--nodes", default=5, show_default=True, type=click.IntRange(3, 32))
    @click.option("--mode", default="mv", show_default=True, type=click.Choice(["mv", "lww"]),
                  help="mv: version vectors and siblings; lww: last write wins (loses writes)")
    @click.option("--strict", is_flag=True, help="strict quorums (no sloppy quorum)")
    @click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 64))
    @click.option("--json", "json_file", default=None, type=click.Path(dir_okay=False))
    def leaderless(seeds: int, first: int, ops: int, nodes: int, mode: str, strict: bool,
                   jobs: int, json_file: str | None) -> None:
        """Run SEEDS seeded fault scenarios of a leaderless cluster and check the properties."""
        opts = {"ops": ops, "nodes": nodes, "mode": mode, "sloppy": not strict}

        def echo(r: dict[str, Any]) -> None:
            verdict = "ok" if not r["failures"] else f"FAIL ({len(r['failures'])})"
            extra = f" lww-lost={len(r['lost'])} linearizable={r['linearizable']}" \
                if mode == "lww" else ""
            click.echo(f"seed {r['seed']}: {verdict} ops={r['ops']} acked={r['ok']} "
                       f"unknown={r['unknown']} faults={len(r['faults'])} "
                       f"handoffs={r['handoffs']} repairs={r['repairs']} "
                       f"sim={r['sim_ms'] / 1000:.1f}s wall={r['wall_s']:.2f}s{extra}",
                       err=True)

        summary = run_seeds(seeds, first, opts, jobs, echo)
        click.echo(f"{summary['seeds']} seeds run, {summary['failed_seeds']} with property "
                   f"failures; {summary['seeds_per_min']:.0f} seeds/min with {jobs} jobs, "
                   f"{summary['sim_s_per_wall_s']:.1f} simulated s per wall s, "
                   f"{summary['cpu_s_per_seed']:.2f} CPU s per seed "
                   f"(least {summary['cpu_s_per_seed_min']:.2f})")
        if mode == "lww":
            click.echo(f"last write wins dropped {summary['lww_lost_writes']} acknowledged "
                       f"writes that started after the surviving write had finished; "
                       f"{summary['not_linearizable']} seeds not linearizable")
        for f in summary["failures"]:
            click.echo(f"seed {f['seed']}: " + "; ".join(f["failures"][:5]))
            click.echo(f"  replay: cairn sim leaderless --seeds 1 --seed {f['seed']} "
                       f"--ops {ops} --nodes {nodes} --mode {mode}"
                       + (" --strict" if strict else ""))
        if json_file:
            with open(json_file, "w") as fh:
                json.dump(summary, fh, indent=1, default=str)
        if summary["failed_seeds"]:
            sys.exit(1)

    @sim.command("pbs")
    @click.option("--trials", default=2000, show_default=True, type=click.IntRange(10),
                  help="simulated reads per (configuration, t)")
    @click.option("--model-trials", default=100_000, show_default=True, type=click.IntRange(10))
    @click.option("--seed", default=0, show_default=True)
    @click.option("--json", "json_file", default=None, type=click.Path(dir_okay=False))
    @click.option("--plot", "plot_file", default=None, type=click.Path(dir_okay=False))
    def pbs(trials: int, model_trials: int, seed: int, json_file: str | None,
            plot_file: str | None) -> None:
        """Staleness of partial quorums: the simulator beside the PBS WARS model."""
        from cairn.kv.pbs import compare, plot

        res = compare(trials, model_trials, seed)
        click.echo("P(read returns the write) t ms after it committed "
                   "(model = WARS Monte Carlo, sim = cairn kv in the simulator)")
        click.echo(f"{'config':<14}" + "".join(f"{f't={t:g}':>15}" for t in res.times))
        for label in res.model:
            cells = "".join(f"{m:>8.3f}/{s:<6.3f}" for m, s in
                            zip(res.model[label], res.simulated[label], strict=True))
            click.echo(f"{label:<14}{cells}")
        click.echo(f"largest gap: {100 * res.max_gap():.1f} percentage points")
        if json_file:
            with open(json_file, "w") as fh:
                json.dump({"times": res.times, "model": res.model, "simulated": res.simulated,
                           "max_gap": res.max_gap()}, fh, indent=1)
        if plot_file:
            plot(res, plot_file)
            click.echo(f"plot: {plot_file}")


__all__ = ["register", "run_seeds"]
