"""The Redis strategy against the real Redis and PostgreSQL: races, fencing, Redis down."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cairn.booking.catalog import seat_map
from cairn.booking.db import Database
from cairn.booking.errors import LockNotAvailable, SeatUnavailable, StaleFencingToken
from cairn.booking.holds import oversold_seats, release_hold
from cairn.booking.model import Hold
from cairn.booking.redis_holds import RedisHolds
from cairn.booking.redislock import Lease, LeaseManager, Renewer

from .conftest import REDIS_URL, Stage, make_stage
from .test_holds import race


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(REDIS_URL, socket_timeout=1.0)
    yield c
    c.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    p = f"cairn-test:{uuid.uuid4().hex}"
    yield p
    keys = list(client.scan_iter(f"{p}:*"))
    if keys:
        client.delete(*keys)


def test_lease_acquire_release_extend_and_fencing(client: redis.Redis, prefix: str) -> None:
    m = LeaseManager(client, prefix)
    a = m.acquire("s1", "e", 1000)
    assert a is not None
    assert m.acquire("s1", "e", 1000) is None  # NX: held
    b = m.acquire("s2", "e", 1000)
    assert b is not None and b.fence > a.fence  # tokens grow within a scope
    fake = Lease(a.key, "not-the-owner", a.fence, a.ttl_ms, a.acquired_at)
    assert not m.release(fake)  # compare-and-delete protects the owner
    assert m.extend(a, 5000) and 4000 < client.pttl(a.key) <= 5000
    assert m.release(a)
    c = m.acquire("s1", "e", 1000)
    assert c is not None and c.fence > b.fence
    m.seed_fence("e", 1000)
    d = m.acquire("s3", "e", 1000)
    assert d is not None and d.fence == 1001


def test_renewer_keeps_a_short_lease_alive(client: redis.Redis, prefix: str) -> None:
    # 600 ms leases renewed every 200 ms: the renewal thread may be late by up to 400 ms on
    # a loaded machine before the lease lapses (150 ms leases flaked at a load average of 12).
    m = LeaseManager(client, prefix)
    lease = m.acquire("s", "e", 600)
    assert lease is not None
    with Renewer(m, [lease]) as renewer:
        time.sleep(2.0)  # > 3 TTLs
        assert m.acquire("s", "e", 600) is None
    assert not renewer.lost.is_set()
    time.sleep(0.8)
    assert m.acquire("s", "e", 600) is not None  # expired once renewal stopped


class PausedHolder:
    """A Redis hold (leases of ``lease_ms``) running in a thread that stops between taking its
    leases and writing to PostgreSQL (a GC pause, say) until :meth:`resume`."""

    def __init__(
        self, db: Database, client: redis.Redis, prefix: str, lease_ms: int, stage: Stage, seat: int
    ) -> None:
        self.paused = threading.Event()
        self._resume = threading.Event()
        self.strategy = RedisHolds(
            db, client, prefix=prefix, lease_ms=lease_ms, before_write=self._pause
        )
        self.key = self.strategy.leases.lock_key(f"{stage.event.id}:{seat}")
        self.result: list[object] = []
        self._thread = threading.Thread(
            target=self._run, args=(stage.users[0].id, stage.event.id, seat)
        )
        self._thread.start()
        assert self.paused.wait(10)

    def _pause(self, _: list[Lease]) -> None:
        self.paused.set()
        self._resume.wait(10)

    def _run(self, user_id: int, event_id: int, seat: int) -> None:
        try:
            self.result.append(self.strategy.hold(user_id, event_id, [seat]))
        except Exception as exc:
            self.result.append(exc)

    def resume(self) -> object:
        self._resume.set()
        self._thread.join(10)
        return self.result[0]


def test_hold_whose_write_outlasts_the_lease_keeps_it_by_renewal(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    """Long work under a lease: the PostgreSQL write starts 4 TTLs after the lease was taken.
    The renewal thread keeps the lease, so a competing request is turned away by Redis during
    the pause, and the slow holder's write goes through (its token is still the newest)."""
    seat = stage.seat_ids["B"][7]
    slow = PausedHolder(db, client, prefix, 400, stage, seat)
    key = slow.key
    try:
        time.sleep(1.6)  # 4 TTLs: without renewal the lease would be gone
        assert client.pttl(key) > 0
        rival = RedisHolds(db, client, prefix=prefix)
        with pytest.raises(LockNotAvailable):
            rival.hold(stage.users[1].id, stage.event.id, [seat])
    finally:
        held = slow.resume()
    assert isinstance(held, Hold) and held.seat_ids == (seat,)
    assert slow.strategy.stats.snapshot()["stale_tokens"] == 0
    assert client.exists(key) == 0  # released after the write
    assert oversold_seats(db, stage.event.id) == 0


def test_one_seat_many_buyers_one_winner(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    strategy = RedisHolds(db, client, prefix=prefix)
    seat = stage.seat_ids["A"][0]
    wins, errors = race(16, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, [seat]))
    assert len(wins) == 1
    assert all(isinstance(e, SeatUnavailable) for e in errors)
    assert oversold_seats(db, stage.event.id) == 0
    assert strategy.stats.snapshot()["fallbacks"] == 0


def test_hold_any_takes_disjoint_seats(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    strategy = RedisHolds(db, client, prefix=prefix)
    wins, _ = race(8, lambda i: strategy.hold_any(stage.users[i % 4].id, stage.event.id, "B", 2))
    taken = [s for h in wins for s in h.seat_ids]
    assert wins and len(taken) == len(set(taken))
    assert set(taken) <= set(stage.seat_ids["B"])
    assert oversold_seats(db, stage.event.id) == 0


def test_paused_holder_with_expired_lease_is_fenced_off(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    """Kleppmann's scenario: A's lease expires during a pause, B takes and frees the seat,
    A wakes up and writes: PostgreSQL rejects A's older token even though the seat is free."""
    seat = stage.seat_ids["A"][1]
    slow = PausedHolder(db, client, prefix, 100, stage, seat)
    # The pause outlives the lease: drop A's lease as if the renewals were lost.
    client.delete(slow.key)
    fast = RedisHolds(db, client, prefix=prefix)
    b = fast.hold(stage.users[1].id, stage.event.id, [seat])
    release_hold(db, stage.users[1].id, b.id)  # seat free again, fence = B's token
    assert isinstance(slow.resume(), StaleFencingToken)
    assert slow.strategy.stats.snapshot()["stale_tokens"] == 1
    states = {s.seat_id: s.status for s in seat_map(db, stage.event.id)}
    assert states[seat] == "free"  # A's late write changed nothing
    assert oversold_seats(db, stage.event.id) == 0


def test_redis_down_degrades_to_pessimistic_and_never_double_books(
    db: Database, stage: Stage
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    strategy = RedisHolds(db, dead, prefix="unused", retry_redis_after_s=60)
    seat = stage.seat_ids["B"][3]
    wins, errors = race(8, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, [seat]))
    assert len(wins) == 1
    assert all(isinstance(e, SeatUnavailable) for e in errors)
    health = strategy.health()
    assert health["degraded"] is True and health["mode"] == "pessimistic-fallback"
    assert strategy.stats.snapshot()["fallbacks"] >= 1
    assert oversold_seats(db, stage.event.id) == 0


def test_redis_answering_again_ends_the_fallback(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    strategy = RedisHolds(db, dead, prefix=prefix, retry_redis_after_s=0.3)
    b = stage.seat_ids["B"]
    strategy.hold(stage.users[0].id, stage.event.id, [b[8]])
    assert strategy.stats.snapshot()["fallbacks"] == 1
    assert strategy.health()["mode"] == "pessimistic-fallback"
    strategy.leases = LeaseManager(client, prefix)  # Redis answers again (restarted, say)
    time.sleep(0.4)  # past retry_redis_after_s
    health = strategy.health()
    assert health["degraded"] is False and health["mode"] == "redis"
    strategy.hold(stage.users[1].id, stage.event.id, [b[9]])
    assert strategy.stats.snapshot()["fallbacks"] == 1  # this hold took the Redis path
    fence = client.get(strategy.leases.fence_key(str(stage.event.id)))
    assert fence is not None and int(fence) >= 1  # it drew a fencing token
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT fence FROM event_seats WHERE event_id = %s AND seat_id = %s",
            (stage.event.id, b[9]),
        ).fetchone()
    assert row is not None and row[0] == int(fence)
    assert oversold_seats(db, stage.event.id) == 0


def test_fence_counter_lost_in_redis_is_reseeded(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    """After Redis loses its counters (restart), tokens restart low; the strategy reseeds."""
    strategy = RedisHolds(db, client, prefix=prefix)
    seat = stage.seat_ids["A"][2]
    h = strategy.hold(stage.users[0].id, stage.event.id, [seat])
    release_hold(db, stage.users[0].id, h.id)
    client.delete(strategy.leases.fence_key(str(stage.event.id)))
    fresh = RedisHolds(db, client, prefix=prefix)  # a restarted service
    assert fresh.hold(stage.users[1].id, stage.event.id, [seat]).seat_ids == (seat,)


class BlackHole:
    """A TCP server that accepts connections and never answers (a hung Redis): counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()
        self._thread.join(5)


def test_black_holed_redis_is_probed_by_one_request_at_a_time(db: Database) -> None:
    """Redis accepts connections and never answers. After the retry window, one hold probes it
    (and waits for its timeout); the other 19 concurrent holds take the fallback at once: the
    black hole sees one new connection, not twenty."""
    stage = make_stage(db, rows=2, per_row=10)
    hole = BlackHole()
    try:
        hung = redis.Redis(host="127.0.0.1", port=hole.port, socket_connect_timeout=0.5,
                           socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        strategy = RedisHolds(db, hung, prefix="unused", retry_redis_after_s=0.05)
        seats = stage.seat_ids["A"] + stage.seat_ids["B"]
        strategy.hold(stage.users[0].id, stage.event.id, [seats[0]])  # times out: marked down
        assert strategy.health()["degraded"] is True
        time.sleep(0.1)  # past the retry window: the next hold may probe
        strategy.retry_redis_after_s = 60  # the probe's failure opens a long window
        before = len(hole.accepted)
        wins, errors = race(
            19, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, [seats[i + 1]])
        )
        assert not errors and len(wins) == 19
        assert len(hole.accepted) - before == 1  # single flight
        assert strategy.stats.snapshot()["fallbacks"] == 20
        assert oversold_seats(db, stage.event.id) == 0
        hung.close()
    finally:
        hole.close()


def test_fence_counter_lost_under_a_running_service_is_retried_not_refused(
    db: Database, stage: Stage, client: redis.Redis, prefix: str
) -> None:
    """The same service, its Redis loses the fencing counter: the next hold of a free seat
    draws a token PostgreSQL has already seen. Its leases are still its own, so the strategy
    re-seeds the counter and retries: the client gets the hold, not 409 stale_fencing_token."""
    strategy = RedisHolds(db, client, prefix=prefix)
    seat = stage.seat_ids["A"][3]
    first = strategy.hold(stage.users[0].id, stage.event.id, [seat])
    release_hold(db, stage.users[0].id, first.id)
    client.delete(strategy.leases.fence_key(str(stage.event.id)))  # Redis lost it
    again = strategy.hold(stage.users[1].id, stage.event.id, [seat])
    assert again.seat_ids == (seat,)
    snap = strategy.stats.snapshot()
    assert snap["stale_tokens"] == 1 and snap["retries"] == 1
    assert int(client.get(strategy.leases.fence_key(str(stage.event.id))) or 0) > 1
    assert oversold_seats(db, stage.event.id) == 0
