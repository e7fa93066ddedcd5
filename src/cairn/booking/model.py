"""Records of the booking domain (venues, seat maps, events, users, holds, orders).

Plain frozen dataclasses: the database rows are the truth, these are read snapshots of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SectionSpec:
    """A rectangular block of seats: ``rows`` row labels with ``seats_per_row`` seats each."""

    name: str
    tier: str
    rows: tuple[str, ...]
    seats_per_row: int


@dataclass(frozen=True)
class Venue:
    id: int
    name: str
    sections: tuple[SectionSpec, ...]


@dataclass(frozen=True)
class Event:
    id: int
    venue_id: int
    name: str
    starts_at: dt.datetime
    prices: dict[str, int] = field(default_factory=dict)  # tier -> price in cents


@dataclass(frozen=True)
class User:
    id: int
    name: str
    is_admin: bool


@dataclass(frozen=True)
class SeatState:
    """One seat of an event's seat map, with live availability."""

    seat_id: int
    section: str
    row: str
    number: int
    tier: str
    price_cents: int
    status: str  # free | held | sold (an expired hold reads as free)


@dataclass(frozen=True)
class Hold:
    id: str
    user_id: int
    event_id: int
    seat_ids: tuple[int, ...]
    status: str  # active | released | expired | checked_out
    expires_at: dt.datetime
    strategy: str


@dataclass(frozen=True)
class Order:
    id: str
    user_id: int
    event_id: int
    hold_id: str
    status: str  # pending | paid | failed | cancelling | refunded
    amount_cents: int
    seat_ids: tuple[int, ...]
    tickets: tuple[str, ...] = ()  # ticket ids of valid tickets
    failure: str | None = None
