"""``cairn sim multileader``: seeded fault runs of multi-leader replication, properties checked."""

from __future__ import annotations

import json
import sys
import time

import click


def register(cli_root: click.Group) -> None:
    sim = cli_root.commands.get("sim")
    if sim is None:
        @cli_root.group("sim")
        def sim() -> None:
            """Deterministic simulation: seeded faults, checked properties, replayable seeds."""

    @sim.command("multileader")
    @click.option("--seeds", default=10, show_default=True, type=click.IntRange(1))
    @click.option("--seed", "first", default=0, show_default=True, help="first seed")
    @click.option("--writes", default=400, show_default=True, type=click.IntRange(1))
    @click.option("--leaders", default=3, show_default=True, type=click.IntRange(2, 26))
    @click.option("--topology", default="all", show_default=True,
                  type=click.Choice(["circular", "star", "all"]))
    @click.option("--mode", default="vv", show_default=True, type=click.Choice(["vv", "naive"]),
                  help="vv: causal delivery and row version vectors; naive: timestamps only")
    @click.option("--rule", default="lww", show_default=True,
                  type=click.Choice(["lww", "replica", "merge", "siblings"]))
    @click.option("--json", "json_file", default=None, type=click.Path(dir_okay=False))
    def multileader(seeds: int, first: int, writes: int, leaders: int, topology: str, mode: str,
                    rule: str, json_file: str | None) -> None:
        """Run SEEDS seeded fault scenarios of multi-leader replication on cairn.db leaders."""
        from cairn.replication import (
            MultiLeaderConfig,
            MultiLeaderScenario,
            run_multileader_seed,
        )

        sc = MultiLeaderScenario(leaders=leaders, writes=writes,
                                 config=MultiLeaderConfig(topology=topology, mode=mode, rule=rule))
        start = time.perf_counter()
        reports = []
        for seed in range(first, first + seeds):
            rep = run_multileader_seed(seed, sc)
            reports.append(rep.to_dict())
            verdict = "ok" if not rep.failures else f"FAIL ({len(rep.failures)})"
            click.echo(f"seed {seed}: {verdict} writes={rep.writes} conflicts={rep.conflicts} "
                       f"faults={len(rep.faults)} wall={rep.wall_s:.2f}s", err=True)
        failed = [r for r in reports if r["failures"]]
        wall = time.perf_counter() - start
        click.echo(f"{len(reports)} seeds run, {len(failed)} with property failures "
                   f"({topology}, {mode}, {rule}; {60 * len(reports) / wall:.0f} seeds/min)")
        for r in failed:
            click.echo(f"seed {r['seed']}: " + "; ".join(r["failures"][:3]))
            click.echo(f"  replay: cairn sim multileader --seeds 1 --seed {r['seed']} "
                       f"--writes {writes} --leaders {leaders} --topology {topology} "
                       f"--mode {mode} --rule {rule}")
        if json_file:
            with open(json_file, "w") as fh:
                json.dump({"seeds": len(reports), "failed_seeds": len(failed),
                           "reports": reports}, fh, indent=1)
        if failed:
            sys.exit(1)
