"""``cairn booking loadtest``: the service under real HTTP load, four hold strategies side by side.

For each strategy the load test starts the payment simulator and the booking service as child
processes (real uvicorn on free ports, against the local PostgreSQL and Redis, each strategy in
its own schema) and drives them with many concurrent asyncio HTTP clients (httpx):

- ``ref``: the original write-up's experiment: 10 concurrent requests on one seat, repeated;
  winners per round and mean latency (their figures: 3 winners without locking, ~500 ms with
  ``FOR UPDATE``, ~150 ms with a Redis lock).
- ``a``: 1,000 concurrent requests for one seat: exactly one may succeed.
- ``b``: 10,000 hold requests (1-3 seats each) over a 1,000-seat event whose first 100 seats
  are a hot section that 60% of requests aim at: zero seats held twice, and every granted hold
  is accounted for (exists, active, its seats point at it, no other seat is held).
- ``c``: a checkout storm with 20% payment declines and 5% provider timeouts: afterwards every
  seat is either sold with exactly one valid ticket of exactly one paid order, or not sold; and
  the money the provider captured (net of refunds) equals the price of the valid tickets.

Oversold seats are counted by the audit query :func:`cairn.booking.holds.oversold_seats` (two
live holds with overlapping validity on one seat). Latency is per request, from send to answer;
throughput is requests over wall time. ``--quick`` shrinks every scenario (for the tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from cairn.booking.catalog import create_event, create_users_bulk, create_venue
from cairn.booking.db import Database
from cairn.booking.holds import oversold_seats
from cairn.booking.model import SectionSpec
from cairn.booking.schema import drop_schema, migrate

STRATEGIES = ("none", "pessimistic", "optimistic", "redis")
ADMIN_TOKEN = "loadtest-admin-token-000000"


@dataclass(frozen=True)
class Scale:
    ref_rounds: int = 10
    a_requests: int = 1000
    b_requests: int = 10_000
    b_seats: int = 1000  # the first 10% are the hot section
    c_seats: int = 200
    c_buyers: int = 400
    concurrency: int = 200

    @staticmethod
    def quick() -> Scale:
        return Scale(
            ref_rounds=2,
            a_requests=60,
            b_requests=300,
            b_seats=100,
            c_seats=20,
            c_buyers=40,
            concurrency=40,
        )


@dataclass
class Figures:
    """One scenario's numbers for one strategy."""

    requests: int = 0
    successes: int = 0
    conflicts: int = 0  # 409/410 answers (seat taken, lock busy, retries exhausted)
    errors: int = 0  # anything else that is not a 2xx
    oversold: int = 0
    retries: int = 0  # optimistic CAS retries the service made during this scenario
    throughput_rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)  # HTTP status -> count (599: no answer)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _fill(fig: Figures, latencies: list[float], codes: list[int], wall: float) -> Figures:
    fig.requests = len(codes)
    fig.successes = sum(1 for c in codes if 200 <= c < 300)
    fig.conflicts = sum(1 for c in codes if c in (409, 410))
    fig.errors = fig.requests - fig.successes - fig.conflicts
    fig.throughput_rps = round(len(codes) / wall, 1) if wall else 0.0
    fig.p50_ms = round(_pct(latencies, 0.5), 2)
    fig.p99_ms = round(_pct(latencies, 0.99), 2)
    fig.mean_ms = round(statistics.fmean(latencies), 2) if latencies else 0.0
    hist: dict[str, int] = {}
    for c in codes:
        hist[str(c)] = hist.get(str(c), 0) + 1
    fig.codes = dict(sorted(hist.items()))
    return fig


# -- child processes ---------------------------------------------------------------------------


class Child:
    """A ``python -m cairn.booking.cli ...`` child that prints ``... listening on URL``."""

    def __init__(self, args: list[str], env: dict[str, str], marker: str) -> None:
        """Start the child; call :meth:`wait` before using ``url`` (so several start at once)."""
        full = dict(os.environ) | env | {"PYTHONUNBUFFERED": "1"}
        self.name = args[0]
        self.marker = marker
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.booking.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full,
            text=True,
        )
        self.url = ""

    def wait(self) -> Child:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if self.marker in line:
                self.url = line.split(" on ", 1)[1].split()[0]
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"{self.name} did not start")
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} never became healthy")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- the driver --------------------------------------------------------------------------------


class Driver:
    """Concurrent HTTP clients on one event loop (aiohttp: its connection pool stays cheap at
    1,000 connections, where httpx's spends more CPU than the service under test)."""

    def __init__(self, url: str, concurrency: int) -> None:
        import aiohttp

        self.url = url
        self.concurrency = concurrency
        self.reconnects = 0
        self.session = aiohttp.ClientSession(
            base_url=url,
            # Drop idle connections well before the server does (uvicorn: 30 s in `serve`), or
            # a POST on a connection the server just closed fails with "disconnected".
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def post(
        self, path: str, token: str, body: dict | None = None
    ) -> tuple[int, dict, float]:
        import aiohttp

        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"lt-{uuid.uuid4().hex}"}
        t0 = time.perf_counter()
        for attempt in range(3):
            try:
                async with self.session.post(path, json=body, headers=headers) as r:
                    raw = await r.read()
                    status = r.status
                break
            except aiohttp.ClientConnectionError:
                # The request may or may not have run: retrying with the same Idempotency-Key
                # is safe, which is what the key is for.
                self.reconnects += 1
                if attempt == 2:
                    return 599, {}, (time.perf_counter() - t0) * 1000
            except (TimeoutError, aiohttp.ClientError):
                return 599, {}, (time.perf_counter() - t0) * 1000
        ms = (time.perf_counter() - t0) * 1000
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        return status, data if isinstance(data, dict) else {}, ms

    async def many(self, calls: list[tuple[str, str, dict | None]]) -> tuple[list, float]:
        """Run the calls with at most ``concurrency`` in flight; returns results and wall time."""
        sem = asyncio.Semaphore(self.concurrency)

        async def one(call: tuple[str, str, dict | None]) -> tuple[int, dict, float]:
            async with sem:
                return await self.post(*call)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(c) for c in calls))
        return list(results), time.perf_counter() - t0

    async def close(self) -> None:
        await self.session.close()


def _stage(
    db: Database, name: str, seats: int, hot: int, users: int
) -> tuple[int, list[int], list[str]]:
    """A venue with a hot section ``H`` (``hot`` seats) and a section ``R`` with the rest."""
    per_row = 50
    sections = [
        SectionSpec(
            "H", "hot", tuple(f"H{i}" for i in range(max(1, hot // per_row))), min(per_row, hot)
        )
    ]
    rest = seats - hot
    if rest > 0:
        sections.append(
            SectionSpec(
                "R", "std", tuple(f"R{i}" for i in range(rest // per_row or 1)), min(per_row, rest)
            )
        )
    venue = create_venue(db, name, tuple(sections))
    prices = {"hot": 12_000, "std": 5_000} if rest > 0 else {"hot": 12_000}
    event = create_event(db, venue.id, name, dt.datetime(2031, 6, 1, 20, tzinfo=dt.UTC), prices)
    with db.pool.connection() as conn:
        seat_ids = [
            int(r[0])
            for r in conn.execute(
                "SELECT seat_id FROM event_seats WHERE event_id = %s ORDER BY seat_id", (event.id,)
            ).fetchall()
        ]
    made = create_users_bulk(db, [f"{name}-u{i}" for i in range(users)])
    return event.id, seat_ids, [t for _, t in made]


async def _ref(targets: list[tuple[Driver, Database]], scale: Scale) -> list[Figures]:
    """The reference race for every strategy, rounds interleaved (strategy 1 round 1, strategy
    2 round 1, ...) so that a shared machine's load drifts hit all strategies alike."""
    staged = [_stage(db, "ref", scale.ref_rounds, scale.ref_rounds, 10) for _, db in targets]
    lat: list[list[float]] = [[] for _ in targets]
    codes: list[list[int]] = [[] for _ in targets]
    walls = [0.0 for _ in targets]
    winners: list[list[int]] = [[] for _ in targets]
    for r in range(scale.ref_rounds):
        for i, (driver, _db) in enumerate(targets):
            event_id, seats, tokens = staged[i]
            path = f"/events/{event_id}/holds"
            results, w = await driver.many([(path, t, {"seat_ids": [seats[r]]}) for t in tokens])
            walls[i] += w
            winners[i].append(sum(1 for c, _, _ in results if c == 201))
            codes[i] += [c for c, _, _ in results]
            lat[i] += [ms for _, _, ms in results]
    out = []
    for i, (_driver, db) in enumerate(targets):
        fig = _fill(Figures(), lat[i], codes[i], walls[i])
        fig.oversold = oversold_seats(db, staged[i][0])
        fig.checks = {"winners_per_round": round(statistics.fmean(winners[i]), 2), "clients": 10}
        out.append(fig)
    return out


async def _scenario_a(driver: Driver, db: Database, scale: Scale) -> Figures:
    event_id, seats, tokens = _stage(db, "a", 1, 1, scale.a_requests)
    path = f"/events/{event_id}/holds"
    results, wall = await driver.many([(path, t, {"seat_ids": [seats[0]]}) for t in tokens])
    fig = _fill(Figures(), [ms for *_, ms in results], [c for c, _, _ in results], wall)
    fig.oversold = oversold_seats(db, event_id)
    fig.checks = {"exactly_one_winner": fig.successes == 1}
    return fig


async def _scenario_b(driver: Driver, db: Database, scale: Scale) -> Figures:
    hot = max(1, scale.b_seats // 10)
    users = max(50, scale.b_requests // 10)
    event_id, seats, tokens = _stage(db, "b", scale.b_seats, hot, users)
    rng = random.Random(7)
    calls = []
    for i in range(scale.b_requests):
        pool = seats[:hot] if rng.random() < 0.6 else seats[hot:] or seats
        n = rng.randint(1, 3)
        calls.append(
            (
                f"/events/{event_id}/holds",
                tokens[i % len(tokens)],
                {"seat_ids": rng.sample(pool, min(n, len(pool)))},
            )
        )
    results, wall = await driver.many(calls)
    fig = _fill(Figures(), [ms for *_, ms in results], [c for c, _, _ in results], wall)
    fig.oversold = oversold_seats(db, event_id)
    granted = {d["id"]: tuple(d["seat_ids"]) for c, d, _ in results if c == 201}
    with db.pool.connection() as conn:
        active = {
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM holds WHERE event_id = %s AND status = 'active'", (event_id,)
            ).fetchall()
        }
        pointing = {
            int(s): str(h)
            for s, h in conn.execute(
                "SELECT seat_id, hold_id FROM event_seats WHERE event_id = %s AND status = 'held'",
                (event_id,),
            ).fetchall()
        }
    # every granted hold exists and is active, and holds all its seats (a hold whose seats
    # were overwritten by another hold is "lost": only the lock-free strategy produces them)
    lost = sum(
        1
        for hid, st in granted.items()
        if hid not in active or any(pointing.get(s) != hid for s in st)
    )
    unexplained = sum(1 for h in pointing.values() if h not in granted)
    fig.checks = {
        "granted_holds": len(granted),
        "held_seats": len(pointing),
        "holds_not_accounted": lost,
        "held_seats_without_granted_hold": unexplained,
        "hot_seats": hot,
    }
    return fig


async def _scenario_c(driver: Driver, db: Database, scale: Scale, sim_url: str) -> Figures:
    event_id, seats, tokens = _stage(db, "c", scale.c_seats, scale.c_seats // 4, scale.c_buyers)
    async with httpx.AsyncClient(timeout=10) as admin:
        r = await admin.post(
            f"{sim_url}/admin/faults",
            json={
                "rates": {"decline": 0.20, "timeout": 0.05},
                "ops": ["authorize"],
                "hang_s": 1.0,
                "seed": 11,
            },
        )
        r.raise_for_status()
    rng = random.Random(13)
    lat: list[float] = []
    codes: list[int] = []
    outcome: dict[str, int] = {}

    async def buyer(token: str) -> None:
        seat = rng.choice(seats)
        code, data, ms = await driver.post(f"/events/{event_id}/holds", token, {"seat_ids": [seat]})
        lat.append(ms)
        codes.append(code)
        if code != 201:
            outcome["no_hold"] = outcome.get("no_hold", 0) + 1
            return
        code, data, ms = await driver.post(f"/holds/{data['id']}/checkout", token)
        lat.append(ms)
        codes.append(code)
        key = {201: "paid", 402: "declined", 409: "conflict", 503: "pending"}.get(code, str(code))
        outcome[key] = outcome.get(key, 0) + 1

    sem = asyncio.Semaphore(driver.concurrency)

    async def limited(token: str) -> None:
        async with sem:
            await buyer(token)

    t0 = time.perf_counter()
    await asyncio.gather(*(limited(t) for t in tokens))
    wall = time.perf_counter() - t0
    fig = _fill(Figures(), lat, codes, wall)
    # let the recovery worker finish sagas left waiting on the provider
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.pool.connection() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM sagas WHERE state IN ('running', 'compensating')"
            ).fetchone()
        if row is not None and row[0] == 0:
            break
        await asyncio.sleep(0.2)
    async with httpx.AsyncClient(timeout=10) as admin:
        ledger = (await admin.get(f"{sim_url}/v1/ledger")).json()
    with db.pool.connection() as conn:
        unfinished = conn.execute(
            "SELECT COUNT(*) FROM sagas WHERE state IN ('running', 'compensating')"
        ).fetchone()
        bad_seats = conn.execute(
            "SELECT COUNT(*) FROM event_seats es WHERE es.event_id = %s AND ("
            " (es.status = 'sold' AND (SELECT COUNT(*) FROM tickets t JOIN orders o "
            "   ON o.id = t.order_id WHERE t.event_id = es.event_id AND t.seat_id = es.seat_id "
            "   AND t.status = 'valid' AND o.status = 'paid' AND o.id = es.order_id) <> 1)"
            " OR (es.status <> 'sold' AND EXISTS (SELECT 1 FROM tickets t WHERE "
            "   t.event_id = es.event_id AND t.seat_id = es.seat_id AND t.status = 'valid')))",
            (event_id,),
        ).fetchone()
        tickets = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(price_cents), 0) FROM tickets "
            "WHERE event_id = %s AND status = 'valid'",
            (event_id,),
        ).fetchone()
        sold = conn.execute(
            "SELECT COUNT(*) FROM event_seats WHERE event_id = %s AND status = 'sold'", (event_id,)
        ).fetchone()
        paid = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE event_id = %s AND status = 'paid'", (event_id,)
        ).fetchone()
    assert unfinished and bad_seats and tickets and sold and paid
    fig.oversold = oversold_seats(db, event_id)
    fig.checks = {
        "outcomes": dict(sorted(outcome.items())),
        "paid_orders": int(paid[0]),
        "sold_seats": int(sold[0]),
        "tickets": int(tickets[0]),
        "seats_inconsistent": int(bad_seats[0]),
        "unfinished_sagas": int(unfinished[0]),
        "captured_net_cents": int(ledger["net_captured_cents"]),
        "ticket_cents": int(tickets[1]),
        "money_matches": int(ledger["net_captured_cents"]) == int(tickets[1]),
        "authorized_outstanding_cents": int(ledger["authorized_outstanding_cents"]),
    }
    return fig


@dataclass
class StrategyRun:
    strategy: str
    oversold: int = 0  # over all scenarios
    scenarios: dict[str, Figures] = field(default_factory=dict)
    service: dict[str, Any] = field(default_factory=dict)  # /admin/stats after the run
    client_reconnects: int = 0  # requests re-sent (same key) after a dropped connection


def _service_env(strategy: str, dsn: str, redis_url: str, schema: str, sim_url: str) -> dict:
    return {
        "CAIRN_BOOKING_DSN": dsn,
        "CAIRN_BOOKING_SCHEMA": schema,
        "CAIRN_BOOKING_REDIS_URL": redis_url,
        # Event ids repeat across schemas: a prefix per run keeps leases and fencing counters
        # apart from any other service or load test on the same Redis.
        "CAIRN_BOOKING_REDIS_PREFIX": f"cairn:loadtest:{schema}",
        "CAIRN_BOOKING_STRATEGY": strategy,
        "CAIRN_BOOKING_PAYMENTS_URL": sim_url,
        "CAIRN_BOOKING_ADMIN_TOKEN": ADMIN_TOKEN,
        # four services run at once: keep their pools within PostgreSQL's 100 connections
        "CAIRN_BOOKING_POOL_MAX": "12",
        "CAIRN_BOOKING_PAYMENT_TIMEOUT_S": "0.5",
        "CAIRN_BOOKING_SAGA_RETRY_AFTER_S": "0.3",
        "CAIRN_BOOKING_NONE_THINK_MS": "5",
    }


async def _hold_retries(url: str) -> int:
    """The service's hold retries so far (from /admin/stats): read before and after a
    scenario, the difference is that scenario's."""
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(
            f"{url}/admin/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        r.raise_for_status()
        return int(r.json()["holds"]["retries"])


async def _with_retries(url: str, scenario: Awaitable[Figures]) -> Figures:
    before = await _hold_retries(url)
    fig = await scenario
    fig.retries = await _hold_retries(url) - before
    return fig


def run_loadtest(
    dsn: str,
    redis_url: str,
    *,
    strategies: tuple[str, ...] = STRATEGIES,
    scenarios: tuple[str, ...] = ("ref", "a", "b", "c"),
    quick: bool = False,
) -> list[StrategyRun]:
    """Start one service per strategy (all at once, each in its own schema) and the payment
    simulator; run the reference race interleaved, then scenarios a-c strategy by strategy."""
    scale = Scale.quick() if quick else Scale()
    schemas = {s: f"booking_lt_{s}_{uuid.uuid4().hex[:8]}" for s in strategies}
    for schema in schemas.values():
        with psycopg.connect(dsn) as conn:
            migrate(conn, schema)
    sim = Child(["payments-sim", "--port", "0"], {}, "payments-sim listening on").wait()
    children: dict[str, Child] = {}
    dbs: dict[str, Database] = {}
    runs = {s: StrategyRun(s) for s in strategies}
    try:
        for s in strategies:
            env = _service_env(s, dsn, redis_url, schemas[s], sim.url)
            children[s] = Child(["serve", "--port", "0"], env, "booking API listening on")
        for s in strategies:
            children[s].wait()
            dbs[s] = Database(dsn, schemas[s], min_size=1, max_size=2)

        async def main() -> None:
            drivers = {s: Driver(children[s].url, scale.concurrency) for s in strategies}
            try:
                if "ref" in scenarios:
                    before = {s: await _hold_retries(children[s].url) for s in strategies}
                    figs = await _ref([(drivers[s], dbs[s]) for s in strategies], scale)
                    for s, fig in zip(strategies, figs, strict=True):
                        fig.retries = await _hold_retries(children[s].url) - before[s]
                        runs[s].scenarios["ref"] = fig
                for s in strategies:
                    driver, db, url = drivers[s], dbs[s], children[s].url
                    if "a" in scenarios:
                        driver.concurrency = scale.a_requests  # all at once, as specified
                        fig = await _with_retries(url, _scenario_a(driver, db, scale))
                        runs[s].scenarios["a"] = fig
                        driver.concurrency = scale.concurrency
                    if "b" in scenarios:
                        fig = await _with_retries(url, _scenario_b(driver, db, scale))
                        runs[s].scenarios["b"] = fig
                    if "c" in scenarios:
                        async with httpx.AsyncClient(timeout=10) as admin:
                            (await admin.post(f"{sim.url}/admin/reset")).raise_for_status()
                        fig = await _with_retries(url, _scenario_c(driver, db, scale, sim.url))
                        runs[s].scenarios["c"] = fig
            finally:
                for s, driver in drivers.items():
                    runs[s].client_reconnects = driver.reconnects
                    await driver.close()

        asyncio.run(main())
        for s in strategies:
            runs[s].service = httpx.get(
                f"{children[s].url}/admin/stats",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=10,
            ).json()
            runs[s].oversold = sum(f.oversold for f in runs[s].scenarios.values())
    finally:
        for child in children.values():
            child.stop()
        sim.stop()
        for db in dbs.values():
            db.close()
        for schema in schemas.values():
            with psycopg.connect(dsn) as conn:
                drop_schema(conn, schema)
        _drop_redis_keys(redis_url, [f"cairn:loadtest:{schema}:" for schema in schemas.values()])
    return [runs[s] for s in strategies]


def _drop_redis_keys(redis_url: str, prefixes: list[str]) -> None:
    """Delete the run's fencing counters (leases are released or expire by themselves)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        for prefix in prefixes:
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
    except redis.RedisError:
        pass  # Redis down (the fallback run): nothing of ours can be there
    finally:
        client.close()


# -- reporting -----------------------------------------------------------------------------------

TITLES = {
    "ref": "ref: 10 concurrent requests on one seat (write-up: 3 winners unlocked, ~500 ms "
    "FOR UPDATE, ~150 ms Redis)",
    "a": "a: N concurrent requests for one seat (exactly one may win)",
    "b": "b: hold storm over an event with a hot section (0 oversold, every hold accounted for)",
    "c": "c: checkout storm, 20% declines + 5% provider timeouts (seats and money consistent)",
}


def format_report(runs: list[StrategyRun]) -> str:
    lines: list[str] = []
    for sc in ("ref", "a", "b", "c"):
        rows = [(r.strategy, r.scenarios[sc], r) for r in runs if sc in r.scenarios]
        if not rows:
            continue
        lines.append("")
        lines.append(TITLES[sc])
        head = (
            f"{'strategy':<12}{'requests':>9}{'ok':>7}{'409/410':>9}{'other':>7}"
            f"{'oversold':>9}{'retries':>8}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'mean ms':>9}  checks"
        )
        lines.append(head)
        lines.append("-" * len(head))
        for name, f, _ in rows:
            checks = ", ".join(f"{k}={v}" for k, v in f.checks.items() if k != "outcomes")
            codes = " ".join(f"{k}:{v}" for k, v in f.codes.items())
            checks = f"[{codes}] {checks}"
            lines.append(
                f"{name:<12}{f.requests:>9}{f.successes:>7}{f.conflicts:>9}{f.errors:>7}"
                f"{f.oversold:>9}{f.retries:>8}{f.throughput_rps:>8.0f}"
                f"{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}{f.mean_ms:>9.1f}  {checks}"
            )
    return "\n".join(lines).lstrip("\n")


def to_json(runs: list[StrategyRun], quick: bool) -> dict[str, Any]:
    """One entry per strategy, each with its ``oversold`` count and the scenario figures."""
    return {
        r.strategy: {
            "oversold": r.oversold,
            "scenarios": {k: asdict(v) for k, v in r.scenarios.items()},
            "service": r.service,
            "client_reconnects": r.client_reconnects,
            "quick": quick,
        }
        for r in runs
    }


def plot(runs: list[StrategyRun], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = [s for s in ("ref", "a", "b", "c") if any(s in r.scenarios for r in runs)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    width = 0.8 / max(1, len(runs))
    panels = [
        ("throughput_rps", "throughput (req/s)", axes[0][0]),
        ("p99_ms", "p99 latency (ms)", axes[0][1]),
        ("mean_ms", "mean latency (ms)", axes[1][0]),
        ("oversold", "oversold seats", axes[1][1]),
    ]
    for attr, title, ax in panels:
        for i, r in enumerate(runs):
            xs = [j + i * width for j in range(len(scen))]
            ys = [getattr(r.scenarios[s], attr) if s in r.scenarios else 0 for s in scen]
            ax.bar(xs, ys, width, label=r.strategy)
        ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(scen))], scen)
        ax.set_title(title)
    axes[1][0].axhline(500, color="grey", linestyle="--", linewidth=0.8)
    axes[1][0].axhline(150, color="grey", linestyle=":", linewidth=0.8)
    axes[1][0].text(0, 505, "write-up FOR UPDATE ~500 ms", fontsize=7)
    axes[1][0].text(0, 155, "write-up Redis ~150 ms", fontsize=7)
    axes[0][0].legend()
    fig.suptitle("cairn booking loadtest: strategies side by side over HTTP")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_json(runs: list[StrategyRun], path: Path, quick: bool) -> None:
    path.write_text(json.dumps(to_json(runs, quick), indent=2, default=str))
