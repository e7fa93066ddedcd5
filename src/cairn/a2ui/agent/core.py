"""The deterministic agent: an intent router with templates, no model needed.

Typed text goes through :mod:`cairn.a2ui.agent.router` to an intent; each intent has a
template that builds a surface (root and layout first, validated as a whole), then its tools
fetch data and the agent streams ``updateDataModel`` messages as results arrive. UI actions
come back as named events with a resolved context and go to the same handlers.
"""

from __future__ import annotations

from typing import Any

from cairn.a2ui.agent import demo
from cairn.a2ui.messages import ActionMessage, ErrorMessage
from cairn.a2ui.session import Session

HELP = ("Try: \"list events\", \"show me seats for Friday's concert\", \"two seats together "
        "in the balcony\", \"what did I book?\", or \"demo\".")


class DeterministicAgent:
    """Intent router + templates. ``booking`` is the booking toolset (None = demo only)."""

    def __init__(self, booking: Any | None = None) -> None:
        self.booking = booking

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def replace_surface(self, session: Session, msgs: list[dict[str, Any]]) -> None:
        """Send a surface, deleting a previous one of the same id first (no duplicates)."""
        sid = next(iter(msgs[0].values()))["surfaceId"] if "createSurface" not in msgs[0] \
            else msgs[0]["createSurface"]["surfaceId"]
        if sid in session.surfaces:
            session.emit({"version": "v0.9", "deleteSurface": {"surfaceId": sid}})
        session.emit_all(msgs)

    async def on_text(self, session: Session, text: str) -> None:
        low = text.lower()
        if low in ("demo", "hello", "hi") or low.startswith("demo"):
            self.replace_surface(session, demo.hello_surface())
            session.say("text", "Here is a small demo form.")
            return
        if "chart" in low:
            self.replace_surface(session, demo.chart_surface(
                "chart", "Demo chart", ["a", "b", "c"],
                [{"name": "demo", "values": [1, 3, 2]}]))
            session.say("text", "A demo chart.")
            return
        session.say("text", f"I did not understand that. {HELP}")

    async def on_action(self, session: Session, action: ActionMessage) -> None:
        if action.name == "greet":
            name = str(action.context.get("name") or "stranger")
            session.say("text", f"Hello, {name}!")
            return
        if action.name == "pick":
            session.say("text", f"You picked {action.context.get('item')!s}.")
            return
        session.say("text", f"Unknown action {action.name}.")

    async def on_client_error(self, session: Session, error: ErrorMessage) -> None:
        session.say("status", f"The client reported {error.code}: {error.message}")
