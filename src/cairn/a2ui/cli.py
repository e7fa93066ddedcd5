"""``cairn a2ui ...``: the A2UI agent server and its tools."""

from __future__ import annotations

import click


def register(cli: click.Group, bench: click.Group) -> None:
    """Attach ``cairn a2ui`` (and the A2UI benchmark) to the top-level command."""

    @cli.group()
    def a2ui() -> None:
        """A2UI v0.9: an agent that streams declarative, data-bound UI to the browser."""
