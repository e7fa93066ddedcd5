"""The agent interface the transport calls, and the bits every agent shares."""

from __future__ import annotations

from typing import Protocol

from cairn.a2ui.messages import ActionMessage, ErrorMessage
from cairn.a2ui.session import Session


class Agent(Protocol):
    """One turn = one call; the agent sends through ``session.emit``/``session.say``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def on_text(self, session: Session, text: str) -> None: ...

    async def on_action(self, session: Session, action: ActionMessage) -> None: ...

    async def on_client_error(self, session: Session, error: ErrorMessage) -> None: ...
