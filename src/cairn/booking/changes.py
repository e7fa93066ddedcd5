"""Live seat changes: PostgreSQL ``NOTIFY`` inside the writing transaction, and a subscriber.

Every change of a seat's state (held, released, expired, sold, refunded) is published with
``pg_notify('booking_seats', <json>)`` in the *same* transaction as the write. PostgreSQL
delivers notifications only when that transaction commits, and drops them when it rolls back,
so a subscriber never hears about a hold that did not happen, and never misses one that did
(it is the transactional-outbox idea, with the database as the broker; DDIA ch. 11, "change
data capture"). Notifications are not stored: a subscriber that was disconnected re-reads the
seat map and then listens again.

Channel: ``booking_seats`` (one per database). Several booking schemas can share a database
(tests do), so the payload names its schema and subscribers filter on it. Payload (JSON)::

    {"schema": "booking", "event_id": 7, "seat_ids": [12, 13], "kind": "held",
     "state": "held", "hold_id": "...", "order_id": null}

``kind`` is what happened (``held``, ``released``, ``expired``, ``sold``, ``refunded``);
``state`` is the seat's new state as the seat map shows it (``held``, ``free`` or ``sold``).
A payload holds at most :data:`MAX_SEATS_PER_NOTIFY` seat ids (PostgreSQL caps a payload at
8000 bytes); larger changes are split into several notifications.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import psycopg

CHANNEL = "booking_seats"
MAX_SEATS_PER_NOTIFY = 400
KIND_STATE = {
    "held": "held",
    "released": "free",
    "expired": "free",
    "sold": "sold",
    "refunded": "free",
    "unsold": "free",  # a confirmed seat given back by a compensation (capture refused)
}


@dataclass(frozen=True)
class SeatChange:
    schema: str
    event_id: int
    seat_ids: tuple[int, ...]
    kind: str
    state: str
    hold_id: str | None = None
    order_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": self.schema,
                "event_id": self.event_id,
                "seat_ids": list(self.seat_ids),
                "kind": self.kind,
                "state": self.state,
                "hold_id": self.hold_id,
                "order_id": self.order_id,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(payload: str) -> SeatChange:
        d = json.loads(payload)
        return SeatChange(
            str(d["schema"]),
            int(d["event_id"]),
            tuple(int(s) for s in d["seat_ids"]),
            str(d["kind"]),
            str(d["state"]),
            d.get("hold_id"),
            d.get("order_id"),
        )


def publish(
    conn: psycopg.Connection,
    schema: str,
    event_id: int,
    seat_ids: Sequence[int],
    kind: str,
    *,
    hold_id: str | None = None,
    order_id: str | None = None,
) -> None:
    """Queue a notification in ``conn``'s transaction (delivered at commit, dropped on rollback)."""
    if kind not in KIND_STATE:
        raise ValueError(f"unknown seat change kind {kind!r}")
    seats = sorted(seat_ids)
    for i in range(0, len(seats), MAX_SEATS_PER_NOTIFY):
        change = SeatChange(
            schema,
            event_id,
            tuple(seats[i : i + MAX_SEATS_PER_NOTIFY]),
            kind,
            KIND_STATE[kind],
            hold_id,
            order_id,
        )
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, change.to_json()))


def _wanted(change: SeatChange, schema: str, event_id: int | None) -> bool:
    return change.schema == schema and (event_id is None or change.event_id == event_id)


class SeatChangeListener:
    """Blocking subscriber: ``LISTEN booking_seats`` on its own connection.

    Use as a context manager; :meth:`changes` yields the changes of one schema (and optionally
    one event) until ``timeout`` seconds pass without one, or forever with ``timeout=None``.
    ``LISTEN`` is in effect once the constructor returns, so a caller can subscribe first and
    then read the seat map without missing a change in between.
    """

    def __init__(self, dsn: str, schema: str, event_id: int | None = None) -> None:
        self.schema = schema
        self.event_id = event_id
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def changes(self, timeout: float | None = None) -> Iterator[SeatChange]:
        while True:
            got = False
            for note in self.conn.notifies(timeout=timeout, stop_after=1):
                got = True
                change = SeatChange.from_json(note.payload)
                if _wanted(change, self.schema, self.event_id):
                    yield change
            if not got:
                return

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SeatChangeListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def listen_async(
    dsn: str, schema: str, event_id: int | None = None
) -> AsyncIterator[SeatChange]:
    """Async subscriber for asyncio services (the A2UI agent): yields changes forever.

    Cancel the consuming task (or ``aclose()`` the generator) to stop; the connection closes.
    """
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        await conn.execute(f"LISTEN {CHANNEL}")
        async for note in conn.notifies():
            change = SeatChange.from_json(note.payload)
            if _wanted(change, schema, event_id):
                yield change
    finally:
        await conn.close()
