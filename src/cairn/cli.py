"""The ``cairn`` command line: one entry point for every layer's commands.

Configuration follows VISION.md: flags first, then ``CAIRN_*`` environment variables (click's
``auto_envvar_prefix``), then defaults.
"""

from __future__ import annotations

import click

from cairn import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """cairn: a working model of a data-intensive system (DDIA, Postgres, S3)."""


@cli.group()
def bench() -> None:
    """Benchmarks: peers side by side in one run, medians of repeats, ratios printed."""


@cli.group()
def storage() -> None:
    """Storage engines (DDIA ch. 3): demo, crash sweeps, inspection."""


def _register() -> None:
    # Commands live next to the code they exercise; imported here so that `cairn --help`
    # lists them all.
    from cairn.bench.memtable import bench_memtable
    from cairn.bench.storage_cmd import bench_storage
    from cairn.storage.cli import register as register_storage

    register_storage(storage, cli)

    from cairn.serve import serve

    cli.add_command(serve, "serve")

    from cairn.encoding.cli import register as register_encoding

    register_encoding(cli, bench)

    from cairn.cli_registry import register as register_registry

    register_registry(cli)
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

    from cairn.bench.serial import bench_serial

    bench.add_command(bench_serial, "serial")

    from cairn.bench.a2ui import bench_a2ui

    bench.add_command(bench_a2ui, "a2ui")

    from cairn.a2ui.cli import register as register_a2ui

    register_a2ui(cli, bench)


def main() -> None:
    _register()
    cli(auto_envvar_prefix="CAIRN")


if __name__ == "__main__":
    main()
