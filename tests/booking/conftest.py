"""Fixtures: each test module gets its own PostgreSQL schema (migrated, dropped afterwards)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
import redis

from cairn.booking.catalog import create_event, create_user, create_venue
from cairn.booking.db import DEFAULT_DSN, Database
from cairn.booking.model import Event, SectionSpec, User
from cairn.booking.paysim import ThreadedServer
from cairn.booking.paysim import create_app as paysim_app
from cairn.booking.schema import drop_schema, migrate
from cairn.booking.service import BookingConfig, BookingService

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


# -- payment simulator and service fixtures ------------------------------------------------


@dataclass
class Sim:
    """A payment simulator on its own port (real HTTP), with helpers for its admin API."""

    url: str
    server: ThreadedServer
    http: httpx.Client

    def faults(self, **cfg: object) -> None:
        r = self.http.post(f"{self.url}/admin/faults", json=cfg, timeout=5)
        assert r.status_code == 200, r.text

    def reset(self) -> None:
        assert self.http.post(f"{self.url}/admin/reset", timeout=5).status_code == 200

    def ledger(self) -> dict:
        return self.http.get(f"{self.url}/v1/ledger", timeout=5).json()

    def auth(self, auth_id: str) -> dict:
        return self.http.get(f"{self.url}/v1/authorizations/{auth_id}", timeout=5).json()


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    server = ThreadedServer(paysim_app()).start()
    try:
        with httpx.Client() as http:
            yield Sim(server.url, server, http)
    finally:
        server.stop()


def service_config(schema: str, sim_url: str, **kw: object) -> BookingConfig:
    base: dict[str, object] = {
        "dsn": DSN,
        "schema": schema,
        "redis_url": REDIS_URL,
        "redis_prefix": f"cairn-test:{schema}",
        "payments_url": sim_url,
        "payment_timeout_s": 0.5,
        "payment_retries": 1,
        "workers": False,
        "saga_retry_after_s": 0.3,
        "pool_max": 24,
    }
    base.update(kw)
    return BookingConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def svc(sim: Sim) -> Iterator[BookingService]:
    schema = f"booking_s_{uuid.uuid4().hex[:12]}"
    service = BookingService(service_config(schema, sim.url))
    try:
        yield service
    finally:
        service.close()
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, schema)
        # the redis strategy's fencing counters of this module's services (service_config)
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(f"cairn-test:{schema}:*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
