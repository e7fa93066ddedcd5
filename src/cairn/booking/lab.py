"""The contention lab: many concurrent requests for one seat, each strategy side by side.

Scenario (a) of the load test, run in-process with threads against the real PostgreSQL and
Redis (the HTTP load test drives the same strategies through the API): every round creates a
fresh seat, releases ``clients`` threads at once through a barrier, and counts winners, oversold
seats, conflicts and per-request latency. The original write-up this reproduces reported, for
10 concurrent requests, 3 winners without locking, ~500 ms with FOR UPDATE, ~150 ms with Redis.
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import psycopg
import redis

from cairn.booking.catalog import create_event, create_user, create_venue
from cairn.booking.db import Database
from cairn.booking.errors import BookingError
from cairn.booking.holds import (
    HoldStrategy,
    NoLockHolds,
    OptimisticHolds,
    PessimisticHolds,
    oversold_seats,
)
from cairn.booking.model import SectionSpec
from cairn.booking.redis_holds import RedisHolds
from cairn.booking.schema import drop_schema, migrate

STRATEGIES = ("none", "pessimistic", "optimistic", "redis")


@dataclass(frozen=True)
class RaceResult:
    strategy: str
    clients: int
    rounds: int
    winners_per_round: float  # mean; 1.0 is correct
    oversold: int  # seats held by more than one live hold, over all rounds
    conflicts: int
    retries: int
    fallbacks: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    throughput_rps: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _race_round(
    strategy: HoldStrategy, user_ids: list[int], event_id: int, seat: int, latencies: list[float]
) -> int:
    """Release one thread per user at once on ``seat``; return the number of winners."""
    barrier = threading.Barrier(len(user_ids))
    lock = threading.Lock()

    def one(user_id: int) -> bool:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            strategy.hold(user_id, event_id, [seat])
            ok = True
        except BookingError:
            ok = False
        with lock:
            latencies.append((time.perf_counter() - t0) * 1000)
        return ok

    with ThreadPoolExecutor(len(user_ids)) as pool:
        return sum(pool.map(one, user_ids))


def run_race(
    dsn: str,
    redis_url: str,
    *,
    strategies: tuple[str, ...] = STRATEGIES,
    clients: int = 10,
    rounds: int = 5,
    think_ms: float = 5.0,
    pool_size: int = 20,
) -> list[RaceResult]:
    """Run the one-seat race for each strategy in a scratch schema, dropped afterwards."""
    schema = f"booking_lab_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn) as conn:
        migrate(conn, schema)
    db = Database(dsn, schema, min_size=min(pool_size, clients), max_size=pool_size)
    client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    prefix = f"cairn-lab:{uuid.uuid4().hex}"
    try:
        venue = create_venue(
            db, "Lab", (SectionSpec("A", "std", ("R",), rounds * len(strategies)),)
        )
        event = create_event(
            db, venue.id, "Race", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), {"std": 1000}
        )
        users = [create_user(db, f"lab{i}")[0] for i in range(clients)]
        with db.pool.connection() as conn:
            seats = [
                int(r[0])
                for r in conn.execute(
                    "SELECT seat_id FROM event_seats WHERE event_id = %s ORDER BY seat_id",
                    (event.id,),
                ).fetchall()
            ]
        makers: dict[str, Callable[[], HoldStrategy]] = {
            "none": lambda: NoLockHolds(db, think_ms=think_ms),
            "pessimistic": lambda: PessimisticHolds(db),
            "optimistic": lambda: OptimisticHolds(db),
            "redis": lambda: RedisHolds(db, client, prefix=prefix),
        }
        results = []
        for si, name in enumerate(strategies):
            strategy = makers[name]()
            latencies: list[float] = []
            winners = 0
            elapsed = 0.0
            for r in range(rounds):
                t0 = time.perf_counter()
                winners += _race_round(
                    strategy, [u.id for u in users], event.id, seats[si * rounds + r], latencies
                )
                elapsed += time.perf_counter() - t0
            stats = strategy.stats.snapshot()
            results.append(
                RaceResult(
                    strategy=name,
                    clients=clients,
                    rounds=rounds,
                    winners_per_round=winners / rounds,
                    oversold=0,  # filled below, after all strategies ran on their own seats
                    conflicts=stats["conflicts"],
                    retries=stats["retries"],
                    fallbacks=stats["fallbacks"],
                    p50_ms=_percentile(latencies, 0.5),
                    p99_ms=_percentile(latencies, 0.99),
                    mean_ms=statistics.fmean(latencies),
                    throughput_rps=len(latencies) / elapsed if elapsed else 0.0,
                )
            )
        return [_with_oversold(db, event.id, seats, strategies, rounds, r) for r in results]
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        db.close()
        with psycopg.connect(dsn) as conn:
            drop_schema(conn, schema)


def _with_oversold(
    db: Database,
    event_id: int,
    seats: list[int],
    strategies: tuple[str, ...],
    rounds: int,
    result: RaceResult,
) -> RaceResult:
    si = strategies.index(result.strategy)
    mine = seats[si * rounds : (si + 1) * rounds]
    marks = ", ".join(["%s"] * len(mine))
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM (SELECT seat_id FROM hold_seats hs JOIN holds h "
            "ON h.id = hs.hold_id WHERE hs.event_id = %s AND h.status = 'active' "
            f"AND hs.seat_id IN ({marks}) GROUP BY seat_id HAVING COUNT(*) > 1) x",
            (event_id, *mine),
        ).fetchone()
    assert oversold_seats(db, event_id) >= (int(row[0]) if row else 0)
    data = asdict(result) | {"oversold": int(row[0]) if row else 0}
    return RaceResult(**data)


def format_table(results: list[RaceResult]) -> str:
    head = (
        f"{'strategy':<12} {'winners/round':>13} {'oversold':>8} {'conflicts':>9} "
        f"{'retries':>7} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'req/s':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.strategy:<12} {r.winners_per_round:>13.2f} {r.oversold:>8d} {r.conflicts:>9d} "
            f"{r.retries:>7d} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.mean_ms:>8.2f} "
            f"{r.throughput_rps:>8.0f}"
        )
    return "\n".join(lines)
