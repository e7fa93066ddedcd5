"""``cairn serve``: every service that exists, in one process, on embedded defaults (see
docs/architecture.md, "How a request flows through cairn serve").

Each service is an ASGI app under its own uvicorn server on its own port, all on one asyncio
loop. Sockets are bound before anything starts, so the printed URLs are the real ones (port 0
asks the kernel for a free port, which is how the tests run it). One SIGINT/SIGTERM handler
stops every server, then each service closes its stores: a clean stop flushes and fsyncs, and
an unclean one (SIGKILL) is what the engines' recovery is for.

Today: the S3 object store, the schema registry, and, when PostgreSQL answers, the booking
API and its A2UI console (the agent and the web client) on one booking service. Until cairn's
own SQL layer exists the booking service needs PostgreSQL; without it ``cairn serve`` says how
to start one and serves the rest (``--no-booking`` skips it on purpose).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import click
import uvicorn


@dataclass
class Service:
    """One running service: its name, its app, the socket it serves and how to close it."""

    name: str
    app: Any
    sock: socket.socket
    note: str = ""
    closers: list[Callable[[], None]] = field(default_factory=list)
    uvicorn_options: dict[str, Any] = field(default_factory=dict)  # e.g. the S3 front end's

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}/"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`run_services` (one handler for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket names its protocol; without it small responses wait ~40 ms (Nagle
    # against the client's delayed ACK)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def close_services(services: list[Service]) -> None:
    """Close every service's stores and its socket, the last started first."""
    for svc in reversed(services):
        for close in reversed(svc.closers):
            close()
        svc.sock.close()


def run_services(services: list[Service]) -> None:
    """Serve until SIGINT/SIGTERM, then stop every server and close every service."""

    async def main() -> None:
        servers = []
        for svc in services:
            options: dict[str, Any] = {"lifespan": "on", **svc.uvicorn_options}
            config = uvicorn.Config(svc.app, log_level="warning", timeout_graceful_shutdown=5,
                                    **options)
            servers.append(_Server(config))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for s in servers:
                s.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await asyncio.gather(*(s.serve(sockets=[svc.sock])
                               for s, svc in zip(servers, services, strict=True)))

    try:
        asyncio.run(main())
    finally:
        close_services(services)


def _s3(data_dir: str, sock: socket.socket) -> Service:
    from cairn.objects.service import open_service

    svc = open_service(os.path.join(data_dir, "s3"))
    # A local, loopback-only server: print the key so a newcomer can point a client at it.
    secret = svc.keys.get(svc.access_key)
    return Service("s3", svc.app, sock,
                   note=f"{svc.summary}; access key {svc.access_key} secret {secret}",
                   closers=[svc.close],
                   # its own HTTP protocol (header timeouts for slow clients), no lifespan
                   uvicorn_options={"http": svc.http_protocol, "lifespan": "off",
                                    "interface": "asgi3"})


def _registry(data_dir: str, sock: socket.socket) -> Service:
    from cairn.encoding.cli import open_registry
    from cairn.encoding.registry_http import create_app
    from cairn.storage import open_engine

    registry, store = open_registry(os.path.join(data_dir, "registry"), "lsm", open_engine)
    return Service("schema registry", create_app(registry), sock,
                   note="Confluent REST API (Avro)", closers=[store.close])


def _booking(api_sock: socket.socket, console_sock: socket.socket, dsn: str | None,
             schema: str, skipped: list[str]) -> list[Service]:
    """The booking API and the A2UI console on one booking service, or [] with a message when
    PostgreSQL does not answer (the rest of cairn still runs)."""
    import secrets

    from cairn.a2ui.app import build
    from cairn.booking.api import create_app
    from cairn.booking.errors import DatabaseUnavailable

    admin_token = os.environ.get("CAIRN_BOOKING_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    try:
        running = build(dsn, schema, admin_token=admin_token, dsn_option="--booking-dsn")
    except DatabaseUnavailable as exc:
        api_sock.close()
        console_sock.close()
        skipped.append(f"booking and console skipped: {exc}")
        return []
    service = running.booking.service
    console = Service("console", running.app, console_sock,
                      note="A2UI agent + web client (booking)", closers=[running.close])
    api = Service("booking", create_app(service=service), api_sock,
                  note=f"schema {schema!r}, strategy {service.config.strategy}, "
                       f"admin token {admin_token}")
    # Started after the console so that it is closed first, while the service still runs.
    return [console, api]


PORT = click.IntRange(0, 65535)


@click.command("serve", short_help="Every service in one process: S3, registry, booking, console")
@click.option("--data", "data_dir", default="./data", show_default=True,
              help="data directory (CAIRN_SERVE_DATA)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--s3-port", default=9000, show_default=True, type=PORT,
              help="0 picks a free port")
@click.option("--registry-port", default=8081, show_default=True, type=PORT,
              help="0 picks a free port")
@click.option("--booking/--no-booking", default=True, show_default=True,
              help="the booking API and its A2UI console (need PostgreSQL)")
@click.option("--booking-port", default=8800, show_default=True, type=PORT,
              help="0 picks a free port")
@click.option("--console-port", default=8700, show_default=True, type=PORT,
              help="0 picks a free port")
@click.option("--booking-dsn", envvar="CAIRN_BOOKING_DSN", default=None,
              help="PostgreSQL URL [env CAIRN_BOOKING_DSN; postgresql://postgres@127.0.0.1/test]")
@click.option("--booking-schema", default="booking", show_default=True)
def serve(data_dir: str, host: str, s3_port: int, registry_port: int, booking: bool,
          booking_port: int, console_port: int, booking_dsn: str | None,
          booking_schema: str) -> None:
    """Start every cairn service that exists, print their URLs, stop cleanly on Ctrl-C."""
    os.makedirs(data_dir, exist_ok=True)
    services: list[Service] = []
    skipped: list[str] = []
    try:
        services.append(_s3(data_dir, bind(host, s3_port)))
        services.append(_registry(data_dir, bind(host, registry_port)))
        if booking:
            services += _booking(bind(host, booking_port), bind(host, console_port),
                                 booking_dsn, booking_schema, skipped)
    except BaseException:
        close_services(services)
        raise
    click.echo(f"cairn serve: data in {os.path.abspath(data_dir)}")
    for svc in services:
        click.echo(f"  {svc.name:<16} {svc.url}  {svc.note}")
    for note in skipped:
        click.echo(f"  {note}")
    click.echo("Ctrl-C stops everything.", nl=True)
    run_services(services)
    click.echo("cairn serve: stopped cleanly")
