"""``cairn a2ui ...``: the A2UI agent server and its tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def load_messages(path: Path) -> list[Any]:
    """A message, a JSON list, ``{"messages": [...]}`` or JSONL (one message per line)."""
    raw = path.read_bytes()
    if len(raw) > 64 << 20:
        raise click.ClickException(f"{path}: over 64 MiB")
    text = raw.decode("utf-8", errors="strict")
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise click.ClickException(f"{path}: not JSON or JSONL ({exc})") from exc
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        return list(doc["messages"])
    return doc if isinstance(doc, list) else [doc]


def validate_file(path: Path) -> tuple[int, str | None]:
    """(messages that passed, the first error or None), tracking surfaces across messages."""
    from cairn.a2ui.errors import A2uiError
    from cairn.a2ui.validate import SurfaceState, Validator

    validator = Validator()
    surfaces: dict[str, SurfaceState] = {}
    for i, msg in enumerate(load_messages(path)):
        try:
            validator.apply(msg, surfaces)
        except A2uiError as exc:
            return i, f"message {i}: {exc.code}: {exc}"
    return len(load_messages(path)), None


def register(cli: click.Group, bench: click.Group) -> None:
    """Attach ``cairn a2ui`` (and the A2UI benchmark) to the top-level command."""

    @cli.group(short_help="A2UI v0.9 agent and web console on the booking service")
    def a2ui() -> None:
        """A2UI v0.9: an agent that streams declarative, data-bound UI to the browser."""

    @a2ui.command("validate")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def validate_cmd(file: Path) -> None:
        """Validate A2UI v0.9 server messages (JSON, list, {messages} or JSONL) in FILE."""
        n, err = validate_file(file)
        if err is not None:
            click.echo(f"INVALID after {n} valid messages: {err}", err=True)
            sys.exit(1)
        click.echo(f"OK: {n} messages valid (official v0.9 schemas + structural rules)")

    @a2ui.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535),
                  help="0 picks a free port")
    @click.option("--dsn", envvar="CAIRN_BOOKING_DSN", default=None,
                  help="PostgreSQL DSN of the booking database")
    @click.option("--schema", default="booking", show_default=True)
    @click.option("--strategy", default="pessimistic", show_default=True)
    @click.option("--seed/--no-seed", default=True, show_default=True,
                  help="create a 2,000-seat hall and three events if there are none")
    def serve_cmd(host: str, port: int, dsn: str | None, schema: str, strategy: str,
                  seed: bool) -> None:
        """Serve the A2UI agent (web client at /) on the booking service."""
        from cairn.a2ui.app import serve

        serve(host, port, dsn=dsn, schema=schema, strategy=strategy, seed=seed)

    _ = bench  # `cairn bench a2ui` lives in cairn.bench.a2ui (the web helper's module)
