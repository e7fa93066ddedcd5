"""Sessions: one per browser (cookie), each with its surfaces, its event log and its streams.

A session is the unit of isolation: its surfaces, data models and booking user are visible
to no other session. Everything the agent sends goes through :meth:`Session.emit`, which
validates the message against the session's current surface state (invalid UI is never
sent), applies it to the server-side mirror, appends it to a bounded log with a sequence
number and fans it out to every open stream of the session.

Resume (SSE ``Last-Event-ID``): if the id is still in the log, the stream replays exactly
the events after it (nothing is duplicated); if it is older than the log or unknown, the
stream re-creates each live surface cleanly with ``deleteSurface`` + ``createSurface`` + its
components + its whole data model. A new stream without an id gets ``createSurface`` + state.
This is DDIA's log-plus-snapshot idea (ch. 11: a consumer that fell off the retained log
restarts from a snapshot).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cairn.a2ui.errors import A2uiError, ValidationFailed
from cairn.a2ui.messages import ClientCapabilities
from cairn.a2ui.validate import SurfaceState, Validator

LOG_MAX = 5000
MAX_MESSAGE_BYTES = 4 << 20  # one outgoing message; a 2,000-seat map is ~200 KB
QUEUE_MAX = 20_000
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class StreamEvent:
    """One frame of the stream: ``kind`` is ``a2ui`` or ``cairn``; ``seq`` its SSE id.

    A sent A2UI message keeps only its encoding (``data`` is None): the log holds up to
    :data:`LOG_MAX` events per session, and a 2,000-seat map kept as 2,000 dicts would be a
    second copy of the model (the surface mirror is the first), about four times the size of
    its JSON."""

    seq: int | str
    kind: str
    data: dict[str, Any] | None
    encoded: str | None = None

    @cached_property
    def json(self) -> str:
        """Encoded once, however many streams carry it (the message is immutable once sent)."""
        if self.encoded is not None:
            return self.encoded
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)


class Overflow(Exception):
    """A subscriber fell too far behind; its stream is closed and will resume."""


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[StreamEvent | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    overflowed: bool = False

    def put(self, ev: StreamEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.overflowed = True
            # Make room for the sentinel so the stream ends and the client reconnects.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass(eq=False)
class Session:
    id: str
    validator: Validator
    surfaces: dict[str, SurfaceState] = field(default_factory=dict)
    log: deque[StreamEvent] = field(default_factory=lambda: deque(maxlen=LOG_MAX))
    seq: int = 0
    subscribers: set[Subscriber] = field(default_factory=set)
    capabilities: ClientCapabilities | None = None
    client_data: dict[str, Any] = field(default_factory=dict)
    turn_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_seen: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)  # the agent's per-session memory
    sent: int = 0
    rejected: int = 0

    # -- sending ---------------------------------------------------------------------------

    @property
    def supported_catalogs(self) -> frozenset[str] | None:
        return self.capabilities.supported_catalog_ids if self.capabilities else None

    def check(self, msg: dict[str, Any]) -> SurfaceState | None:
        """Validate ``msg`` against the current state without sending it."""
        return self.validator.validate(msg, self.surfaces, self.supported_catalogs)

    def emit(self, msg: dict[str, Any]) -> None:
        """Validate, apply and send one A2UI message; raises (and sends nothing) if invalid."""
        try:
            encoded = json.dumps(msg, separators=(",", ":"), ensure_ascii=False,
                                 allow_nan=False)  # NaN is not JSON: the browser would choke
        except (TypeError, ValueError) as exc:
            self.rejected += 1
            raise ValidationFailed(f"not JSON-serialisable: {exc}", "") from exc
        if len(encoded) > MAX_MESSAGE_BYTES:
            self.rejected += 1
            raise ValidationFailed(f"message of {len(encoded)} bytes is over the "
                                   f"{MAX_MESSAGE_BYTES}-byte limit", "")
        try:
            self.validator.apply(msg, self.surfaces, self.supported_catalogs)
        except A2uiError:
            self.rejected += 1
            raise
        if "deleteSurface" in msg:
            self.client_data.pop(msg["deleteSurface"]["surfaceId"], None)
        self.sent += 1
        self._publish("a2ui", msg, encoded)

    def emit_all(self, msgs: Iterable[dict[str, Any]]) -> None:
        for m in msgs:
            self.emit(m)

    def say(self, type_: str, text: str, **extra: Any) -> None:
        """A non-A2UI event: agent text, status, errors in plain words, end of a turn."""
        self._publish("cairn", {"type": type_, "text": text, **extra})

    def _publish(self, kind: str, data: dict[str, Any], encoded: str | None = None) -> None:
        self.seq += 1
        ev = StreamEvent(self.seq, kind, None, encoded) if encoded is not None else \
            StreamEvent(self.seq, kind, data)
        self.log.append(ev)
        for sub in list(self.subscribers):
            sub.put(ev)

    # -- streaming -------------------------------------------------------------------------

    def attach(self, last_event_id: str | None) -> tuple[Subscriber, list[StreamEvent]]:
        """Subscribe; return the events to send first (replay or snapshot), then live ones.

        Runs on the event loop with no await between computing the backlog and subscribing,
        so no event falls between the two.
        """
        sub = Subscriber()
        self.subscribers.add(sub)
        self.last_seen = time.monotonic()
        return sub, self.backlog(last_event_id)

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self.last_seen = time.monotonic()

    def backlog(self, last_event_id: str | None) -> list[StreamEvent]:
        if last_event_id is not None and last_event_id.isdigit():
            last = int(last_event_id)
            first_kept = self.log[0].seq if self.log else self.seq + 1
            if last == self.seq:
                return []
            if isinstance(first_kept, int) and first_kept - 1 <= last < self.seq:
                return [ev for ev in self.log if isinstance(ev.seq, int) and ev.seq > last]
        return self.snapshot(recreate=last_event_id is not None)

    def snapshot(self, recreate: bool) -> list[StreamEvent]:
        """Rebuild every live surface; ids other than the last are not resumable markers."""
        msgs: list[dict[str, Any]] = []
        for st in self.surfaces.values():
            if recreate:
                msgs.append({"version": "v0.9", "deleteSurface": {"surfaceId": st.surface_id}})
            msgs.extend(st.snapshot())
        out = [StreamEvent(f"s{self.seq}", "a2ui", m) for m in msgs]
        if out:
            out[-1] = StreamEvent(self.seq, "a2ui", msgs[-1])
        else:
            out.append(StreamEvent(self.seq, "cairn", {"type": "status", "text": "ready"}))
        return out


@dataclass
class SessionStore:
    """All sessions of one server, created on first contact and dropped when idle."""

    validator: Validator
    max_sessions: int = 10_000
    idle_s: float = 3600.0
    sessions: dict[str, Session] = field(default_factory=dict)

    def get(self, sid: str | None) -> Session | None:
        if sid is None or not SESSION_ID.match(sid):
            return None
        s = self.sessions.get(sid)
        if s is not None:
            s.last_seen = time.monotonic()
        return s

    def create(self) -> Session:
        self.reap()
        if len(self.sessions) >= self.max_sessions:
            # Drop the longest-idle session without streams (bounded memory).
            idle = [s for s in self.sessions.values() if not s.subscribers]
            if idle:
                oldest = min(idle, key=lambda s: s.last_seen)
                self.sessions.pop(oldest.id, None)
        s = Session(secrets.token_urlsafe(32), self.validator)
        self.sessions[s.id] = s
        return s

    def reap(self) -> int:
        now = time.monotonic()
        dead = [k for k, s in self.sessions.items()
                if not s.subscribers and now - s.last_seen > self.idle_s]
        for k in dead:
            del self.sessions[k]
        return len(dead)
