"""``cairn booking ...`` commands: apply migrations, run the contention lab.

Configuration: flags, then ``CAIRN_BOOKING_*`` environment variables (click's
auto_envvar_prefix), then defaults pointing at the local PostgreSQL and Redis.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import psycopg

from cairn.booking.db import DEFAULT_DSN, check_reachable
from cairn.booking.errors import BookingError
from cairn.booking.schema import migrate

if TYPE_CHECKING:
    from cairn.booking.lab import RaceResult

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
STRATEGY_NAMES = ("none", "pessimistic", "optimistic", "redis")
# CAIRN_BOOKING_REDIS is the older spelling; serve and the docs use CAIRN_BOOKING_REDIS_URL.
REDIS_ENV = ("CAIRN_BOOKING_REDIS_URL", "CAIRN_BOOKING_REDIS")


def _lab_options(strategies_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--dsn``, ``--redis-url`` and the repeatable ``--strategy`` of the lab commands."""

    def apply(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(
            (
                click.option(
                    "--dsn", default=DEFAULT_DSN, show_default=True, envvar="CAIRN_BOOKING_DSN"
                ),
                click.option(
                    "--redis-url", default=DEFAULT_REDIS, show_default=True, envvar=REDIS_ENV
                ),
                click.option(
                    "--strategy",
                    "strategies",
                    multiple=True,
                    type=click.Choice(STRATEGY_NAMES),
                    help=strategies_help,
                ),
            )
        ):
            command = option(command)
        return command

    return apply


def _require_postgres(dsn: str) -> None:
    """Stop with the message that says how to start PostgreSQL when it does not answer."""
    try:
        check_reachable(dsn)
    except BookingError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(short_help="Ticket booking (PostgreSQL + Redis): serve, race, loadtest")
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
    _require_postgres(dsn)
    try:
        with psycopg.connect(dsn) as conn:
            applied = migrate(conn, schema)
    except BookingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"schema {schema}: applied {applied or 'nothing (up to date)'}")


@booking.command("race")
@_lab_options("repeatable; default: all four")
@click.option(
    "--clients",
    default=10,
    show_default=True,
    type=click.IntRange(2, 2000),
    help="concurrent requests per seat",
)
@click.option(
    "--rounds",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="seats raced for (one per round)",
)
@click.option(
    "--think-ms",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
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

    _require_postgres(dsn)
    click.echo(
        f"{clients} clients ask for the same seat at the same instant, {rounds} rounds (a new "
        "seat each round), per hold strategy:\n"
    )
    try:
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
    click.echo("")
    click.echo(race_verdict(results))
    if json_path is not None:
        json_path.write_text(json.dumps({r.strategy: r.__dict__ for r in results}, indent=2))


def race_verdict(results: list[RaceResult]) -> str:
    """The sentence under the race table: which strategies sold one seat twice."""
    broken = [r.strategy for r in results if r.oversold or r.winners_per_round > 1.0]
    safe = [r.strategy for r in results if r.strategy not in broken]
    text = (
        "Correct is 1.00 winner per round and 0 oversold (seats held twice); conflicts are "
        "requests told 'taken', retries the optimistic re-reads."
    )
    if broken:
        text += (
            f"\n{', '.join(broken)} oversold: check-then-write without a lock lets several "
            "clients see the seat free (a lost update, DDIA ch. 7)."
        )
    if safe:
        text += f"\n{', '.join(safe)}: exactly one winner per seat."
    return text


@booking.command("payments-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port",
)
@click.option("--webhook-url", default=None, help="where to POST payment webhooks")
def payments_sim_cmd(host: str, port: int, webhook_url: str | None) -> None:
    """Run the payment provider simulator (fault injection via POST /admin/faults)."""
    import uvicorn

    from cairn.booking.paysim import SimState, bind, create_app

    state = SimState(webhook_url=webhook_url)
    sock = bind(host, port)
    click.echo(f"payments-sim listening on http://{host}:{sock.getsockname()[1]}", err=False)
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    server.run(sockets=[sock])


@booking.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=8800,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port",
)
@click.option("--dsn", default=None, help=f"PostgreSQL URL [env CAIRN_BOOKING_DSN; {DEFAULT_DSN}]")
@click.option("--schema", default=None, help="schema [env CAIRN_BOOKING_SCHEMA; booking]")
@click.option("--redis-url", default=None, help=f"[env CAIRN_BOOKING_REDIS_URL; {DEFAULT_REDIS}]")
@click.option(
    "--strategy",
    type=click.Choice(STRATEGY_NAMES),
    default=None,
    help="hold strategy [env CAIRN_BOOKING_STRATEGY; pessimistic]",
)
@click.option(
    "--payments-url",
    default=None,
    help="payment provider; default: start the simulator in-process on a free port",
)
@click.option("--admin-token", default=None, help="[env CAIRN_BOOKING_ADMIN_TOKEN]")
def serve_cmd(
    host: str,
    port: int,
    dsn: str | None,
    schema: str | None,
    redis_url: str | None,
    strategy: str | None,
    payments_url: str | None,
    admin_token: str | None,
) -> None:
    """Run the booking HTTP API (migrates the schema first; needs PostgreSQL)."""
    import secrets

    import uvicorn

    from cairn.booking.api import create_app
    from cairn.booking.paysim import SimState, ThreadedServer, bind
    from cairn.booking.paysim import create_app as sim_app
    from cairn.booking.service import BookingConfig

    config = BookingConfig.from_env(
        dsn=dsn,
        schema=schema,
        redis_url=redis_url,
        strategy=strategy,
        payments_url=payments_url,
        admin_token=admin_token,
    )
    _require_postgres(config.dsn)
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    sim = None
    if config.payments_url is None:
        sim = ThreadedServer(sim_app(SimState(webhook_url=f"{url}/webhooks/payments"))).start()
        config = dataclasses.replace(config, payments_url=sim.url)
        click.echo(f"payments simulator (in-process) on {sim.url}")
    if config.admin_token is None:
        config = dataclasses.replace(config, admin_token=secrets.token_urlsafe(24))
        click.echo(f"admin token (generated, this run): {config.admin_token}")
    click.echo(
        f"booking API listening on {url} (strategy {config.strategy}, schema {config.schema})"
    )
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                log_level="warning",
                timeout_graceful_shutdown=5,
                timeout_keep_alive=30,  # clients with connection pools keep sockets longer
                backlog=4096,
            )
        )
        server.run(sockets=[sock])
    finally:
        if sim is not None:
            sim.stop()


@booking.command("loadtest")
@_lab_options("repeatable; default: all four, side by side")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(["ref", "a", "b", "c"]),
    help="repeatable; default: all",
)
@click.option("--quick", is_flag=True, help="small scales (seconds, for tests)")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None)
def loadtest_cmd(
    dsn: str,
    redis_url: str,
    strategies: tuple[str, ...],
    scenarios: tuple[str, ...],
    quick: bool,
    json_path: Path | None,
    plot_path: Path | None,
) -> None:
    """Start the service (uvicorn) per strategy and drive it with concurrent HTTP clients."""
    from cairn.booking.loadtest import STRATEGIES, format_report, plot, run_loadtest, write_json

    _require_postgres(dsn)
    runs = run_loadtest(
        dsn,
        redis_url,
        strategies=strategies or STRATEGIES,
        scenarios=scenarios or ("ref", "a", "b", "c"),
        quick=quick,
    )
    click.echo(format_report(runs))
    click.echo("")
    click.echo(
        "oversold seats per strategy: " + ", ".join(f"{r.strategy}={r.oversold}" for r in runs)
    )
    if json_path is not None:
        write_json(runs, json_path, quick)
        click.echo(f"wrote {json_path}")
    if plot_path is not None:
        plot(runs, plot_path)
        click.echo(f"wrote {plot_path}")


def register(cli_root: click.Group, bench_group: click.Group) -> None:
    """Attach ``cairn booking`` to the root command and the load test as ``cairn bench booking``."""
    cli_root.add_command(booking, "booking")
    bench_group.add_command(loadtest_cmd, "booking")


if __name__ == "__main__":  # `python -m cairn.booking.cli ...` (tests start the service this way)
    booking()
