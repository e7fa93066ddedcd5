"""Fixtures: each test module gets its own PostgreSQL schema (migrated, dropped afterwards)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from cairn.booking.catalog import create_event, create_user, create_venue
from cairn.booking.db import DEFAULT_DSN, Database
from cairn.booking.model import Event, SectionSpec, User
from cairn.booking.schema import drop_schema, migrate

DSN = os.environ.get("CAIRN_BOOKING_DSN", DEFAULT_DSN)
REDIS_URL = os.environ.get("CAIRN_BOOKING_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    schema = f"booking_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN) as conn:
        migrate(conn, schema)
    database = Database(DSN, schema, min_size=2, max_size=24)
    try:
        yield database
    finally:
        database.close()
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, schema)


@dataclass(frozen=True)
class Stage:
    event: Event
    users: list[User]
    tokens: list[str]
    seat_ids: dict[str, list[int]]  # section -> seat ids in order


def make_stage(db: Database, *, users: int = 4, rows: int = 2, per_row: int = 5) -> Stage:
    venue = create_venue(
        db,
        "Hall",
        (
            SectionSpec("A", "gold", tuple(f"R{i}" for i in range(rows)), per_row),
            SectionSpec("B", "silver", tuple(f"R{i}" for i in range(rows)), per_row),
        ),
    )
    event = create_event(
        db,
        venue.id,
        "Show",
        dt.datetime(2030, 1, 1, 20, tzinfo=dt.UTC),
        {"gold": 9000, "silver": 5000},
    )
    made = [create_user(db, f"u{i}") for i in range(users)]
    with db.pool.connection() as conn:
        rows_ = conn.execute(
            "SELECT s.section, s.id FROM event_seats es JOIN seats s ON s.id = es.seat_id "
            "WHERE es.event_id = %s ORDER BY s.id",
            (event.id,),
        ).fetchall()
    seat_ids: dict[str, list[int]] = {}
    for section, seat_id in rows_:
        seat_ids.setdefault(str(section), []).append(int(seat_id))
    return Stage(event, [u for u, _ in made], [t for _, t in made], seat_ids)


@pytest.fixture
def stage(db: Database) -> Stage:
    return make_stage(db)
