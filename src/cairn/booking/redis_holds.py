"""The ``redis`` hold strategy: a Redis lease per seat as a fast filter, PostgreSQL as judge.

Flow for one hold: acquire the leases of the requested seats in seat-id order (all or none),
then write the hold in PostgreSQL with a conditional update that requires the seat to be free
*and* its stored ``fence`` to be lower than the lease's fencing token; the update stores the
new token. A holder whose lease expired during a pause carries a lower token than whoever took
the seat after it, so its late write matches no row (DDIA ch. 8, fencing tokens). Finally the
leases are released: the durable hold lives in PostgreSQL, the lease only guarded the race.

If Redis is unreachable the strategy degrades to the pessimistic ``FOR UPDATE`` path, counts
it in ``fallbacks`` and reports ``degraded`` in its health, and retries Redis after a pause:
one request at a time probes it (single flight), the others take the fallback at once, so a
black-holed Redis (connections accepted, nothing answered) costs one timeout per retry window,
not one per request. It never sells a seat twice in either mode, because PostgreSQL checks
availability either way.

A Redis that lost its fencing counter (restarted without persistence, key evicted) hands out
tokens lower than those PostgreSQL has stored. The write is then refused as stale although this
request holds the lease; the strategy sees that its leases are still its own, re-seeds the
counter from PostgreSQL and retries once, so the client never sees that 409.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence

import psycopg
import redis

from cairn.booking.catalog import available_sql
from cairn.booking.db import Database
from cairn.booking.errors import LockNotAvailable, SeatUnavailable, StaleFencingToken
from cairn.booking.holds import HoldRequest, HoldStrategy, PessimisticHolds
from cairn.booking.model import Hold
from cairn.booking.redislock import Lease, LeaseManager, Renewer


class RedisHolds(HoldStrategy):
    name = "redis"

    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        *,
        prefix: str = "cairn:booking",
        lease_ms: int = 5000,
        retry_redis_after_s: float = 2.0,
        before_write: Callable[[list[Lease]], None] | None = None,
    ) -> None:
        super().__init__(db)
        self.leases = LeaseManager(client, prefix)
        self.lease_ms = lease_ms
        self.retry_redis_after_s = retry_redis_after_s
        # Test hook: runs between taking the leases and the PostgreSQL write (a "GC pause").
        self.before_write = before_write
        self.fallback = PessimisticHolds(db)
        self._state_lock = threading.Lock()
        self._redis_down_until = 0.0  # 0: up; else when the next probe may run
        self._prober: int | None = None  # thread probing a down Redis (single flight)
        self._last_error = ""
        self._seeded: set[int] = set()

    # -- degradation ---------------------------------------------------------------------

    def _redis_usable(self) -> bool:
        """May this request use Redis? Yes when it is up; when it is down, only for the one
        request that probes it after the retry window (single flight): the rest fall back at
        once instead of each waiting for a timeout. The prober calls :meth:`_end_probe`."""
        with self._state_lock:
            if self._redis_down_until == 0.0:
                return True
            if self._prober is not None or time.monotonic() < self._redis_down_until:
                return False
            self._prober = threading.get_ident()
            return True

    def _end_probe(self) -> None:
        with self._state_lock:
            if self._prober == threading.get_ident():
                self._prober = None

    def _mark_up(self) -> None:
        with self._state_lock:
            self._redis_down_until = 0.0

    def _mark_down(self, exc: Exception) -> None:
        with self._state_lock:
            self._redis_down_until = time.monotonic() + self.retry_redis_after_s
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._seeded.clear()  # a restarted Redis may have lost the fencing counters

    def health(self) -> dict[str, object]:
        degraded = not self._redis_usable()
        if not degraded:
            try:
                self.leases.client.ping()
                self._mark_up()
            except redis.RedisError as exc:
                self._mark_down(exc)
                degraded = True
            finally:
                self._end_probe()
        return {
            "strategy": self.name,
            "degraded": degraded,
            "mode": "pessimistic-fallback" if degraded else "redis",
            "redis_error": self._last_error if degraded else "",
        }

    def _degraded(self, run: Callable[[], Hold]) -> Hold:
        self.stats.bump("fallbacks")
        return run()

    # -- the Redis path ------------------------------------------------------------------

    def _seed(self, event_id: int) -> None:
        with self._state_lock:
            if event_id in self._seeded:
                return
        with self.db.pool.connection() as conn:
            row = conn.execute(
                "SELECT COALESCE(MAX(fence), 0) FROM event_seats WHERE event_id = %s",
                (event_id,),
            ).fetchone()
        self.leases.seed_fence(str(event_id), int(row[0]) if row else 0)
        with self._state_lock:
            self._seeded.add(event_id)

    def _take(
        self, event_id: int, seats: Sequence[int], *, skip_taken: bool, want: int
    ) -> dict[int, Lease]:
        """Leases on ``want`` of ``seats`` (sorted by the caller), all or none unless
        ``skip_taken`` passes over seats whose lease another request has."""
        got: dict[int, Lease] = {}
        try:
            for seat in seats:
                lease = self.leases.acquire(f"{event_id}:{seat}", str(event_id), self.lease_ms)
                if lease is None:
                    if skip_taken:
                        continue
                    raise LockNotAvailable(f"seat {seat} is being taken by another request")
                got[seat] = lease
                if len(got) == want:
                    break
        except BaseException:
            self._release(got)
            raise
        return got

    def _release(self, leases: dict[int, Lease]) -> None:
        for lease in leases.values():
            # On error the lease expires by itself; PostgreSQL has already decided.
            with contextlib.suppress(redis.RedisError):
                self.leases.release(lease)

    def _leased(
        self, req: HoldRequest, take: Callable[[], dict[int, Lease]], want: int, where: str
    ) -> Hold | None:
        """Take leases with ``take``, write the hold under them (renewed meanwhile), then let
        them go. ``None`` when Redis failed: the caller falls back to the pessimistic path.
        A stale token under leases that are still ours means Redis lost the fencing counter:
        re-seeded (by :meth:`_explain_miss`) and retried once."""
        for attempt in (1, 2):
            try:
                self._seed(req.event_id)
                leases = take()
            except redis.RedisError as exc:
                self._mark_down(exc)
                return None
            self._mark_up()
            try:
                if len(leases) < want:
                    raise SeatUnavailable(f"could not lock {want} seats in {where}")
                with Renewer(self.leases, list(leases.values())):
                    return self._write(req, leases)
            except StaleFencingToken:
                if attempt == 2 or not self._still_ours(leases):
                    raise  # a holder whose lease ran out while it paused: fenced off
                self.stats.bump("retries")
            finally:
                self._release(leases)
        raise AssertionError("unreachable")

    def _still_ours(self, leases: dict[int, Lease]) -> bool:
        """Does this request still hold every lease (so a stale token is Redis's fault)?"""
        try:
            return all(self.leases.extend(lease, lease.ttl_ms) for lease in leases.values())
        except redis.RedisError:
            return False

    def _write(self, req: HoldRequest, seat_leases: dict[int, Lease]) -> Hold:
        seats = sorted(seat_leases)
        if self.before_write is not None:
            self.before_write(list(seat_leases.values()))
        with self.db.pool.connection() as conn, conn.transaction():
            hold = self._record_hold(conn, req, seats)
            for seat in seats:
                fence = seat_leases[seat].fence
                cur = conn.execute(
                    "UPDATE event_seats SET status = 'held', hold_id = %s, hold_expires_at = %s, "
                    "order_id = NULL, version = version + 1, fence = %s "
                    f"WHERE event_id = %s AND seat_id = %s AND fence < %s AND {available_sql()}",
                    (hold.id, hold.expires_at, fence, req.event_id, seat, fence),
                )
                if cur.rowcount != 1:
                    self._explain_miss(conn, req.event_id, seat, fence)
            return hold

    def _explain_miss(self, conn: psycopg.Connection, event_id: int, seat: int, fence: int) -> None:
        row = conn.execute(
            f"SELECT fence, {available_sql()} FROM event_seats "
            "WHERE event_id = %s AND seat_id = %s",
            (event_id, seat),
        ).fetchone()
        if row is None:
            self._missing(conn, event_id, [seat])
        assert row is not None
        if int(row[0]) >= fence:
            self.stats.bump("stale_tokens")
            with self._state_lock:
                self._seeded.discard(event_id)  # re-seed in case Redis lost the counter
            raise StaleFencingToken(
                f"seat {seat}: token {fence} is older than {row[0]} already written"
            )
        raise SeatUnavailable("seat already taken")

    def _hold(self, req: HoldRequest, seats: tuple[int, ...]) -> Hold:
        if self._redis_usable():
            try:
                hold = self._leased(
                    req,
                    lambda: self._take(req.event_id, seats, skip_taken=False, want=len(seats)),
                    len(seats),
                    f"event {req.event_id}",
                )
            finally:
                self._end_probe()
            if hold is not None:
                return hold
        return self._degraded(lambda: self.fallback._hold(req, seats))

    def _hold_any(self, req: HoldRequest, section: str, count: int) -> Hold:
        if self._redis_usable():
            try:
                with self.db.pool.connection() as conn:
                    rows = self._section_seats(conn, req.event_id, section, count, count * 4)
                candidates = [seat for seat, _ in rows]
                hold = self._leased(
                    req,
                    lambda: self._take(req.event_id, candidates, skip_taken=True, want=count),
                    count,
                    section,
                )
            finally:
                self._end_probe()
            if hold is not None:
                return hold
        return self._degraded(lambda: self.fallback._hold_any(req, section, count))

    def close(self) -> None:
        super().close()
        self.leases.client.close()
