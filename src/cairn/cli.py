"""The ``cairn`` command line: one entry point for every layer's commands.

Configuration: flags first, then ``CAIRN_*`` environment variables (click's
``auto_envvar_prefix``), then defaults. Every command's failure is one line on stderr (what went
wrong, where, what to do) and exit code 1; ``--debug`` or ``CAIRN_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import re
from typing import Any

import click

from cairn import __version__
from cairn.cli_errors import describe

# Short help lines in `cairn --help` listings: click cuts at the first ". " ("DDIA ch." ...)
# and at about 45 characters ("..."); ours end at a clause boundary.
SHORT_HELP = 60


class _Root(click.Group):
    """The root group: turns any exception of a command into one line (see cli_errors)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.params.get("debug") or os.environ.get("CAIRN_DEBUG", "") not in ("", "0"):
                raise
            raise OneLineError(describe(exc)) from exc


class OneLineError(click.ClickException):
    """A failure already phrased as one line; printed as ``cairn: <line>``."""

    def show(self, file: Any = None) -> None:
        click.echo(f"cairn: {self.message}", err=True)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
@click.option("--debug", is_flag=True,
              help="show the Python traceback of a failure (also CAIRN_DEBUG=1)")
def cli(debug: bool) -> None:
    """cairn: a working model of a data-intensive system (DDIA, Postgres, S3)."""


@cli.group(short_help="Benchmarks: peers side by side, medians, ratios, plots")
def bench() -> None:
    """Benchmarks: peers side by side in one run, medians of repeats, ratios printed."""


@cli.group()
def storage() -> None:
    """Storage engines (DDIA ch. 3): demo, crash sweeps, inspection."""


def short_help(text: str | None, limit: int = SHORT_HELP) -> str:
    """The first sentence of ``text`` ("ch. 3" and "e.g." do not end one); when it is longer
    than ``limit``, cut at its last clause boundary that fits, else kept whole (the listing
    wraps it: never cut mid-clause)."""
    first = (text or "").strip().split("\n\n")[0].replace("\n", " ")
    first = " ".join(first.split())
    masked = re.sub(r"\b(ch|e\.g|i\.e|vs|etc)\. ", lambda m: m[0].replace(". ", "\0 "), first)
    end = masked.find(". ")
    if end >= 0:
        first = first[:end]
    first = first.rstrip(".")
    if len(first) <= limit:
        return first
    cut, depth = 0, 0
    for i, ch in enumerate(first[:limit]):
        depth += (ch == "(") - (ch == ")")
        if (depth == 0 and first.startswith((": ", "; ", ", "), i)) or first.startswith(" (", i):
            cut = i if depth == 0 else cut
    return first[:cut].rstrip(" ,;:") if cut > 20 else first


def _fit_short_helps(group: click.Group) -> None:
    """Give every command without an explicit short help one that fits (see SHORT_HELP)."""
    for cmd in group.commands.values():
        if cmd.short_help is None:
            cmd.short_help = short_help(cmd.help)
        if isinstance(cmd, click.Group):
            _fit_short_helps(cmd)


def registry_stores() -> Any:
    """The storage engines the schema registry runs on (encoding imports no other layer, so
    the command line hands them in)."""
    from cairn.encoding.cli import Stores
    from cairn.storage import ENGINES, open_engine

    def bind(host: str, port: int) -> Any:
        from cairn.serve import bind  # uvicorn is imported only by a command that serves

        return bind(host, port)

    default = "lsm" if "lsm" in ENGINES else "log"
    return Stores(open_engine, tuple(ENGINES), default, bind)


def _register() -> None:
    # Commands live next to the code they exercise; imported here so that `cairn --help`
    # lists them all.
    from cairn.bench.memtable import bench_memtable
    from cairn.bench.storage_cmd import bench_storage
    from cairn.storage.cli import register as register_storage

    register_storage(storage, cli)

    from cairn.db.crashtest import fsync_check_command, powercut_command

    storage.add_command(fsync_check_command())  # engines and the database: above storage
    storage.add_command(powercut_command())

    from cairn.serve import serve

    cli.add_command(serve, "serve")

    from cairn.encoding.cli import register as register_encoding

    register_encoding(cli, bench, registry_stores())
    bench.add_command(bench_storage, "storage")
    bench.add_command(bench_memtable, "memtable")

    from cairn.objects.cli import register as register_objects

    register_objects(cli, bench)

    from cairn.booking.cli import register as register_booking

    register_booking(cli, bench)

    from cairn.db.cli import register as register_db

    register_db(cli, bench)

    from cairn.bench.txn import bench_txn

    bench.add_command(bench_txn, "txn")

    from cairn.bench.txn_db import bench_db

    bench.add_command(bench_db, "db")

    from cairn.bench.serial import bench_serial

    bench.add_command(bench_serial, "serial")

    from cairn.bench.commit import bench_commit

    bench.add_command(bench_commit, "commit")

    from cairn.bench.a2ui import bench_a2ui

    bench.add_command(bench_a2ui, "a2ui")

    from cairn.a2ui.cli import register as register_a2ui

    register_a2ui(cli, bench)

    from cairn.bench.kv import bench_kv
    from cairn.kv.cli import register as register_kv

    register_kv(cli)
    bench.add_command(bench_kv, "kv")

    from cairn.replication.cli import register as register_replication

    register_replication(cli)

    from cairn.sql.cli import register as register_sql

    register_sql(cli)

    from cairn.bench.sql import bench_sql

    bench.add_command(bench_sql, "sql")

    from cairn.pgwire.cli import register as register_pgwire

    register_pgwire(cli)


def main() -> None:
    _register()
    _fit_short_helps(cli)
    cli(auto_envvar_prefix="CAIRN")


if __name__ == "__main__":
    main()
