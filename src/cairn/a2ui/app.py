"""Wiring: the A2UI app on a real booking service (PostgreSQL + payments simulator).

``build(...)`` is what ``cairn a2ui serve``, ``cairn serve`` and the tests use: it starts a
payments simulator in a thread (the booking saga talks to a provider over HTTP), the booking
service with its workers, seeds demo events if asked, and returns the Starlette app with the
deterministic agent (or the LLM agent when ``CAIRN_LLM_URL`` is set) and a ``close``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from starlette.applications import Starlette


@dataclass
class Running:
    app: Starlette
    booking: Any
    close: Callable[[], None]


def build(dsn: str | None = None, schema: str = "booking", strategy: str = "pessimistic",
          seed: bool = True, hold_ttl_ms: int | None = None, llm: bool | None = None,
          tick_s: float = 1.0, keepalive_s: float = 15.0,
          admin_token: str | None = None, dsn_option: str = "--dsn") -> Running:
    from cairn.a2ui.agent.booking_tools import BookingTools
    from cairn.a2ui.agent.core import DeterministicAgent
    from cairn.a2ui.server import create_app
    from cairn.booking import paysim
    from cairn.booking.db import DEFAULT_DSN, check_reachable
    from cairn.booking.service import BookingConfig, BookingService

    dsn = dsn or os.environ.get("CAIRN_BOOKING_DSN") or DEFAULT_DSN
    check_reachable(dsn, option=dsn_option)  # DatabaseUnavailable with instructions
    sim = paysim.ThreadedServer(paysim.create_app()).start()
    overrides: dict[str, Any] = {"dsn": dsn, "schema": schema, "strategy": strategy,
                                 "payments_url": sim.url}
    if hold_ttl_ms is not None:
        overrides["hold_ttl_ms"] = hold_ttl_ms
    if admin_token is not None:  # `cairn serve` mounts the booking API on this same service
        overrides["admin_token"] = admin_token
    try:
        service = BookingService(BookingConfig.from_env(**overrides))
    except BaseException:
        sim.stop()
        raise
    service.start()
    if seed:
        from cairn.a2ui.seed import seed as seed_events

        seed_events(service.db)
    tools = BookingTools(service)
    deterministic = DeterministicAgent(tools, tick_s=tick_s)
    agent: Any = deterministic
    use_llm = bool(os.environ.get("CAIRN_LLM_URL")) if llm is None else llm
    if use_llm:
        from cairn.a2ui.agent.llm import LlmAgent, LlmConfig

        agent = LlmAgent(LlmConfig.from_env(), fallback=deterministic)
    app = create_app(agent, keepalive_s=keepalive_s)

    def close() -> None:
        service.close()
        sim.stop()

    return Running(app, tools, close)


def serve(host: str, port: int, *, dsn: str | None, schema: str, strategy: str,
          seed: bool) -> None:
    """``cairn a2ui serve``: bind the port first (a busy port fails before anything is printed),
    then build the service, print the URL and serve until Ctrl-C."""
    import uvicorn

    from cairn.booking.errors import DatabaseUnavailable
    from cairn.booking.paysim import bind

    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port "
            "(0 picks a free one)") from None
    try:
        running = build(dsn, schema, strategy, seed)
    except DatabaseUnavailable as exc:
        sock.close()
        raise click.ClickException(str(exc)) from exc
    except BaseException:
        sock.close()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    click.echo(f"cairn A2UI agent on http://{bound_host}:{bound_port}/  "
               f"(booking schema {schema!r})")
    try:
        uvicorn.Server(uvicorn.Config(running.app, log_level="warning")).run(sockets=[sock])
    finally:
        running.close()
        sock.close()
