"""``cairn sql serve``: cairn.sql behind the PostgreSQL wire protocol, until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from cairn.pgwire.server import PgServer, ServerConfig


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=5433, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: a free one)")
@click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False),
              help="database directory (default: in memory, gone at exit)")
@click.option("--hba", "hba_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="client authentication rules (docs/pgwire.md); default trust on loopback")
@click.option("--tls/--no-tls", default=True, show_default=True,
              help="accept SSLRequest with a self-signed certificate made on first start")
@click.option("--max-connections", default=100, show_default=True,
              type=click.IntRange(1, 100000))
def serve_command(host: str, port: int, data_dir: str | None, hba_file: str | None, tls: bool,
                  max_connections: int) -> None:
    """Serve cairn.sql over PostgreSQL's wire protocol: psql, psycopg, asyncpg connect as is."""
    from cairn.sql import SqlDatabase

    if data_dir is not None:
        os.makedirs(data_dir, exist_ok=True)
    sdb = SqlDatabase.open(data_dir)
    cfg = ServerConfig(host=host, port=port, data_dir=data_dir, hba_file=hba_file, tls=tls,
                       max_connections=max_connections)
    server = PgServer(sdb, cfg)
    try:
        server.start()
        user = "cairn"  # the superuser every new database has (and "postgres")
        click.echo(server.dsn(user))
        sys.stdout.flush()  # a pipe is block-buffered: the DSN is what a caller waits for
        click.echo(f"cairn sql serve: listening on {server.address[0]}:{server.address[1]}"
                   f" ({'TLS offered' if server.tls_context else 'no TLS'}; "
                   f"data {'in ' + data_dir if data_dir else 'in memory'}); Ctrl-C stops",
                   err=True)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        done.wait()
    finally:
        server.stop()
        sdb.close()


def register(cli: click.Group) -> None:
    """Add ``sql serve`` (creating the ``sql`` group if no one has yet)."""
    group = cli.commands.get("sql")
    if group is None:
        @click.group("sql")
        def sql() -> None:
            """SQL on cairn.db (PostgreSQL's dialect) and its wire-protocol server."""

        cli.add_command(sql)
        group = sql
    assert isinstance(group, click.Group)
    group.add_command(serve_command, "serve")
