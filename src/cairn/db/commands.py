"""The core database's commands under ``cairn txn``: crash sweeps, the bloat demo, stats."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import click


def register_core(txn: click.Group) -> None:
    @txn.command()
    @click.option("--engine", type=click.Choice(["lsm", "btree"]), default="lsm")
    @click.option("--kills", type=int, default=20, show_default=True)
    @click.option("--seed", type=int, default=0)
    @click.option("--threads", type=int, default=8, show_default=True)
    @click.option("--accounts", type=int, default=50, show_default=True)
    @click.option("--method", type=click.Choice(["ssi", "2pl", "serial"]), default="ssi")
    @click.option("--max-delay", type=float, default=0.3, show_default=True)
    @click.option("--dir", "directory", type=click.Path(file_okay=False), default=None)
    @click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
    def crashtest(engine: str, kills: int, seed: int, threads: int, accounts: int, method: str,
                  max_delay: float, directory: str | None, json_out: str | None) -> None:
        """SIGKILL a concurrent transfer workload KILLS times; check money and commits."""
        from cairn.db.crashtest import run_sweep

        work = directory or tempfile.mkdtemp(prefix="cairn-txn-crash-")
        if os.path.exists(work):
            shutil.rmtree(work)
        result = run_sweep(work, engine, kills, seed, accounts, threads, method,
                           max_delay=max_delay,
                           progress=lambda r: click.echo(
                               f"\rkills {r.kills}/{kills}  acknowledged {r.acked}  "
                               f"recovered {r.recovered_transfers}", nl=False))
        click.echo()
        if json_out:
            with open(json_out, "w") as f:
                json.dump({"results": [result.to_dict()]}, f, indent=2)
        if result.violations:
            for v in result.violations:
                click.echo(f"VIOLATION {v}")
            sys.exit(1)
        click.echo(f"{engine}: {result.kills} kills, {result.acked} acknowledged transfers all "
                   f"present, money unchanged ({result.seconds}s)")
        if directory is None:
            shutil.rmtree(work, ignore_errors=True)

    @txn.command()
    @click.option("--rows", type=int, default=100, show_default=True)
    @click.option("--updates", type=int, default=2000, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    def bloat(rows: int, updates: int, as_json: bool) -> None:
        """Show a long-running transaction holding vacuum back, and vacuum catching up."""
        from cairn.db.bloat import render, run

        report = run(rows, updates)
        click.echo(json.dumps(report.to_dict(), indent=2) if as_json else render(report))

    @txn.command()
    @click.argument("path", type=click.Path(exists=True, file_okay=False))
    @click.option("--engine", type=click.Choice(["lsm", "btree"]), default="lsm")
    def stats(path: str, engine: str) -> None:
        """Open the database at PATH (recovering it) and print its statistics as JSON."""
        from cairn.db import Database

        db = Database.open(path, engine=engine, autovacuum=False)
        try:
            click.echo(json.dumps(db.stats().to_dict(), indent=2, default=str))
        finally:
            db.close()
