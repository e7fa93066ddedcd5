"""``cairn booking ...`` commands: apply migrations, run the contention lab.

Configuration follows VISION.md: flags, then ``CAIRN_BOOKING_*`` environment variables (click's
auto_envvar_prefix), then defaults pointing at the local PostgreSQL and Redis.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import psycopg

from cairn.booking.db import DEFAULT_DSN, check_reachable
from cairn.booking.errors import BookingError
from cairn.booking.schema import migrate

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@click.group()
def booking() -> None:
    """Ticket booking service that never double-books (PostgreSQL + Redis)."""


@booking.command("migrate")
@click.option(
    "--dsn",
    default=DEFAULT_DSN,
    show_default=True,
    envvar="CAIRN_BOOKING_DSN",
    help="PostgreSQL URL",
)
@click.option("--schema", default="booking", show_default=True, help="schema to migrate")
def migrate_cmd(dsn: str, schema: str) -> None:
    """Create the schema if needed and apply missing migrations."""
    try:
        check_reachable(dsn)
        with psycopg.connect(dsn) as conn:
            applied = migrate(conn, schema)
    except BookingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"schema {schema}: applied {applied or 'nothing (up to date)'}")


@booking.command("race")
@click.option("--dsn", default=DEFAULT_DSN, show_default=True, envvar="CAIRN_BOOKING_DSN")
@click.option("--redis-url", default=DEFAULT_REDIS, show_default=True, envvar="CAIRN_BOOKING_REDIS")
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    type=click.Choice(["none", "pessimistic", "optimistic", "redis"]),
    help="repeatable; default: all four",
)
@click.option("--clients", default=10, show_default=True, help="concurrent requests per seat")
@click.option("--rounds", default=5, show_default=True, help="seats raced for (one per round)")
@click.option(
    "--think-ms",
    default=5.0,
    show_default=True,
    help="application work between check and write in the `none` strategy",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
def race_cmd(
    dsn: str,
    redis_url: str,
    strategies: tuple[str, ...],
    clients: int,
    rounds: int,
    think_ms: float,
    json_path: Path | None,
) -> None:
    """Many concurrent requests for one seat, per strategy, side by side (load test (a))."""
    from cairn.booking.lab import STRATEGIES, format_table, run_race

    try:
        check_reachable(dsn)
        results = run_race(
            dsn,
            redis_url,
            strategies=strategies or STRATEGIES,
            clients=clients,
            rounds=rounds,
            think_ms=think_ms,
        )
    except BookingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_table(results))
    if json_path is not None:
        json_path.write_text(json.dumps({r.strategy: r.__dict__ for r in results}, indent=2))


def register(cli_root: click.Group, bench_group: click.Group) -> None:
    """Attach ``cairn booking`` to the root command (the bench group gets the load test later)."""
    del bench_group  # `cairn bench booking` arrives with the HTTP load test
    cli_root.add_command(booking, "booking")
