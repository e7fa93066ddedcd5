"""Demo data for the A2UI face of cairn: one 2,000-seat hall and three events.

Only used when the booking database has no events yet (``cairn a2ui serve`` without
``--no-seed``), so a newcomer sees a seat map at once. The hall is sized like the issue's
benchmark target (2,000 seats) so the demo is also the benchmark's workload.
"""

from __future__ import annotations

import datetime as dt

from cairn.booking import catalog
from cairn.booking.db import Database
from cairn.booking.model import Event, SectionSpec

HALL = (
    SectionSpec("Stalls", "stalls", tuple(f"{chr(65 + i)}" for i in range(20)), 50),
    SectionSpec("Circle", "circle", tuple(f"C{i + 1}" for i in range(10)), 50),
    SectionSpec("Balcony", "balcony", tuple(f"B{i + 1}" for i in range(10)), 50),
)
PRICES = {"stalls": 9000, "circle": 6500, "balcony": 4500}
SHOWS = (("Friday Night Concert", 4, 20), ("Saturday Jazz Matinee", 5, 15),
         ("Sunday Symphony", 6, 18))


def next_weekday(today: dt.date, weekday: int) -> dt.date:
    days = (weekday - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=days)


def seed(db: Database, today: dt.date | None = None) -> list[Event]:
    """Create the hall and the shows unless events already exist; return the new events."""
    with db.pool.connection() as conn:
        row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    if row is not None and int(row[0]) > 0:
        return []
    today = today or dt.datetime.now(dt.UTC).date()
    venue = catalog.create_venue(db, "Cairn Hall", HALL)
    out = []
    for name, weekday, hour in SHOWS:
        day = next_weekday(today, weekday)
        starts = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)
        out.append(catalog.create_event(db, venue.id, name, starts, dict(PRICES)))
    return out
