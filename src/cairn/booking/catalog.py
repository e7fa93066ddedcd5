"""Catalog operations: users with API tokens, venues with seat maps, events, live seat maps.

API tokens are stored only as SHA-256 hashes: a leaked database does not leak credentials.
Creating an event materialises one ``event_seats`` row per seat of the venue, the row that
every hold strategy competes for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from cairn.booking.db import Database
from cairn.booking.errors import NotFound, Unauthorized, ValidationFailed
from cairn.booking.model import Event, SeatState, SectionSpec, User, Venue


def available_sql(alias: str = "") -> str:
    """SQL predicate "this event_seats row can be taken now".

    An expired hold reads as free everywhere: correctness never waits for the expiry worker
    (lazy reclaim), the worker only tidies up.
    """
    p = f"{alias}." if alias else ""
    return (
        f"({p}status = 'free' OR ({p}status = 'held' AND {p}hold_expires_at <= CURRENT_TIMESTAMP))"
    )


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,49}$")
MAX_SEATS_PER_VENUE = 100_000


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(db: Database, name: str, *, is_admin: bool = False) -> tuple[User, str]:
    """Create a user and return it with its fresh API token (shown once, stored hashed)."""
    if not name or len(name) > 200:
        raise ValidationFailed("user name must be 1..200 characters")
    token = secrets.token_urlsafe(24)
    with db.pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO users (name, token_hash, is_admin) VALUES (%s, %s, %s) RETURNING id",
            (name, hash_token(token), is_admin),
        ).fetchone()
    assert row is not None
    return User(int(row[0]), name, is_admin), token


def authenticate(db: Database, token: str) -> User:
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT id, name, is_admin FROM users WHERE token_hash = %s", (hash_token(token),)
        ).fetchone()
    if row is None:
        raise Unauthorized("unknown API token")
    return User(int(row[0]), str(row[1]), bool(row[2]))


def _check_sections(sections: tuple[SectionSpec, ...]) -> None:
    if not sections:
        raise ValidationFailed("a venue needs at least one section")
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise ValidationFailed("section names must be unique")
    total = 0
    for s in sections:
        if not _NAME.match(s.name) or not _NAME.match(s.tier):
            raise ValidationFailed(f"bad section or tier name {s.name!r}/{s.tier!r}")
        if not s.rows or len(set(s.rows)) != len(s.rows):
            raise ValidationFailed(f"section {s.name}: rows must be non-empty and unique")
        if any(not r or len(r) > 10 for r in s.rows):
            raise ValidationFailed(f"section {s.name}: row labels are 1..10 characters")
        if not 1 <= s.seats_per_row <= 1000:
            raise ValidationFailed(f"section {s.name}: seats_per_row must be 1..1000")
        total += len(s.rows) * s.seats_per_row
    if total > MAX_SEATS_PER_VENUE:
        raise ValidationFailed(f"a venue has at most {MAX_SEATS_PER_VENUE} seats")


def create_venue(db: Database, name: str, sections: tuple[SectionSpec, ...]) -> Venue:
    """Create a venue and all its seats in one transaction (all or nothing)."""
    if not name or len(name) > 200:
        raise ValidationFailed("venue name must be 1..200 characters")
    _check_sections(sections)
    with db.pool.connection() as conn, conn.transaction():
        row = conn.execute("INSERT INTO venues (name) VALUES (%s) RETURNING id", (name,)).fetchone()
        assert row is not None
        venue_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sections (venue_id, name, tier) VALUES (%s, %s, %s)",
                [(venue_id, s.name, s.tier) for s in sections],
            )
            with cur.copy("COPY seats (venue_id, section, row_label, number) FROM STDIN") as copy:
                for s in sections:
                    for r in s.rows:
                        for n in range(1, s.seats_per_row + 1):
                            copy.write_row((venue_id, s.name, r, n))
    return Venue(venue_id, name, sections)


def create_event(
    db: Database, venue_id: int, name: str, starts_at: dt.datetime, prices: dict[str, int]
) -> Event:
    """Create an event with a price per tier; every tier of the venue must be priced."""
    if not name or len(name) > 200:
        raise ValidationFailed("event name must be 1..200 characters")
    if starts_at.tzinfo is None:
        raise ValidationFailed("starts_at must carry a time zone")
    if any((not isinstance(p, int)) or p < 0 for p in prices.values()):
        raise ValidationFailed("prices are non-negative integers (cents)")
    with db.pool.connection() as conn, conn.transaction():
        tiers = {
            str(r[0])
            for r in conn.execute(
                "SELECT DISTINCT tier FROM sections WHERE venue_id = %s", (venue_id,)
            ).fetchall()
        }
        if not tiers:
            raise NotFound(f"venue {venue_id} does not exist")
        if set(prices) != tiers:
            raise ValidationFailed(f"prices must cover exactly the tiers {sorted(tiers)}")
        row = conn.execute(
            "INSERT INTO events (venue_id, name, starts_at) VALUES (%s, %s, %s) RETURNING id",
            (venue_id, name, starts_at),
        ).fetchone()
        assert row is not None
        event_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO event_prices (event_id, tier, price_cents) VALUES (%s, %s, %s)",
                [(event_id, t, p) for t, p in sorted(prices.items())],
            )
        conn.execute(
            "INSERT INTO event_seats (event_id, seat_id) "
            "SELECT %s, id FROM seats WHERE venue_id = %s",
            (event_id, venue_id),
        )
    return Event(event_id, venue_id, name, starts_at, dict(prices))


def seat_map(db: Database, event_id: int, section: str | None = None) -> list[SeatState]:
    """The seats of an event with live availability (an expired hold shows as free)."""
    query = (
        "SELECT s.id, s.section, s.row_label, s.number, sec.tier, p.price_cents, "
        f"CASE WHEN {available_sql('es')} THEN 'free' ELSE es.status END "
        "FROM event_seats es JOIN seats s ON s.id = es.seat_id "
        "JOIN sections sec ON sec.venue_id = s.venue_id AND sec.name = s.section "
        "JOIN event_prices p ON p.event_id = es.event_id AND p.tier = sec.tier "
        "WHERE es.event_id = %s"
    )
    params: list[object] = [event_id]
    if section is not None:
        query += " AND s.section = %s"
        params.append(section)
    query += " ORDER BY s.section, s.row_label, s.number"
    with db.pool.connection() as conn:
        exists = conn.execute("SELECT 1 FROM events WHERE id = %s", (event_id,)).fetchone()
        if exists is None:
            raise NotFound(f"event {event_id} does not exist")
        rows = conn.execute(query, params).fetchall()
    return [
        SeatState(int(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), int(r[5]), str(r[6]))
        for r in rows
    ]


def get_event(db: Database, event_id: int) -> Event:
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT venue_id, name, starts_at FROM events WHERE id = %s", (event_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"event {event_id} does not exist")
        prices = {
            str(t): int(p)
            for t, p in conn.execute(
                "SELECT tier, price_cents FROM event_prices WHERE event_id = %s", (event_id,)
            ).fetchall()
        }
    return Event(event_id, int(row[0]), str(row[1]), row[2], prices)


def create_users_bulk(db: Database, names: list[str]) -> list[tuple[User, str]]:
    """Create many users in one statement (load tests); returns them with their tokens."""
    tokens = [secrets.token_urlsafe(24) for _ in names]
    with db.pool.connection() as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO users (name, token_hash, is_admin) VALUES (%s, %s, FALSE)",
                [(n, hash_token(t)) for n, t in zip(names, tokens, strict=True)],
            )
        hashes = [hash_token(t) for t in tokens]
        marks = ", ".join(["%s"] * len(hashes))
        rows = conn.execute(
            f"SELECT id, token_hash FROM users WHERE token_hash IN ({marks})", hashes
        ).fetchall()
    by_hash = {str(h): int(i) for i, h in rows}
    return [(User(by_hash[hash_token(t)], n, False), t) for n, t in zip(names, tokens, strict=True)]
