"""Seat holds: one interface, three PostgreSQL strategies (the Redis one is in redis_holds.py).

DDIA ch. 7 "Preventing lost updates" in practice:
- ``none``: read-check-write without locks. The check and the write are separate steps, so
  concurrent requests all see "free" and all write: it oversells, on purpose, for the lab.
- ``pessimistic``: ``SELECT ... FOR UPDATE`` on the seat rows sorted by seat id (every
  transaction locks in the same order, so no deadlock cycle can form), optionally ``NOWAIT``
  (fail fast with 55P03); "any N seats in section X" uses ``FOR UPDATE SKIP LOCKED`` so
  concurrent buyers take different seats instead of queueing on the same rows.
- ``optimistic``: read the row versions, then a conditional ``UPDATE ... WHERE version = v``
  (compare-and-set); a lost race rolls back and retries a bounded number of times.

Every strategy writes the same rows (``holds``, ``hold_seats``, ``event_seats``), and every
write to ``event_seats`` bumps ``version``, which is what makes the optimistic CAS sound.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg
import psycopg.errors

from cairn.booking.catalog import available_sql
from cairn.booking.changes import publish
from cairn.booking.db import Database
from cairn.booking.errors import (
    InvalidState,
    LockNotAvailable,
    NotFound,
    SeatUnavailable,
    SerializationFailure,
    ValidationFailed,
)
from cairn.booking.model import Hold

# Runs inside the transaction that creates a hold, after the hold's rows are written: the
# service stores the idempotent response there, so the response and the effect commit together.
TxnHook = Callable[[psycopg.Connection, Hold], None]

MAX_SEATS_PER_HOLD = 20
DEFAULT_TTL_MS = 10 * 60 * 1000
MAX_TTL_MS = 24 * 3600 * 1000


@dataclass
class StrategyStats:
    """Counters a strategy reports (thread-safe: one instance is shared by request threads)."""

    attempts: int = 0
    successes: int = 0
    conflicts: int = 0
    retries: int = 0
    fallbacks: int = 0
    stale_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "attempts": self.attempts,
                "successes": self.successes,
                "conflicts": self.conflicts,
                "retries": self.retries,
                "fallbacks": self.fallbacks,
                "stale_tokens": self.stale_tokens,
            }


def _placeholders(n: int) -> str:
    # IN (...) rather than = ANY(array): standard SQL that the cairn SQL layer will also parse.
    return ", ".join(["%s"] * n)


def validate_seat_ids(seat_ids: Sequence[int]) -> tuple[int, ...]:
    if not seat_ids:
        raise ValidationFailed("hold at least one seat")
    if len(seat_ids) > MAX_SEATS_PER_HOLD:
        raise ValidationFailed(f"hold at most {MAX_SEATS_PER_HOLD} seats at once")
    if any(type(s) is not int or s <= 0 for s in seat_ids):
        raise ValidationFailed("seat ids are positive integers")
    if len(set(seat_ids)) != len(seat_ids):
        raise ValidationFailed("seat ids must be distinct")
    return tuple(sorted(seat_ids))


def validate_ttl(ttl_ms: int) -> int:
    if type(ttl_ms) is not int or not 1 <= ttl_ms <= MAX_TTL_MS:
        raise ValidationFailed(f"ttl_ms must be an integer in 1..{MAX_TTL_MS}")
    return ttl_ms


def _validate_count(count: int) -> int:
    if type(count) is not int or not 1 <= count <= MAX_SEATS_PER_HOLD:
        raise ValidationFailed(f"count must be 1..{MAX_SEATS_PER_HOLD}")
    return count


class HoldStrategy(ABC):
    """Takes seat holds for users, all seats or none. Subclasses implement ``_hold*``."""

    name: str = "abstract"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stats = StrategyStats()

    def hold(
        self,
        user_id: int,
        event_id: int,
        seat_ids: Sequence[int],
        ttl_ms: int = DEFAULT_TTL_MS,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        seats = validate_seat_ids(seat_ids)
        validate_ttl(ttl_ms)
        return self._counted(lambda: self._hold(user_id, event_id, seats, ttl_ms, in_txn))

    def hold_any(
        self,
        user_id: int,
        event_id: int,
        section: str,
        count: int,
        ttl_ms: int = DEFAULT_TTL_MS,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        """Hold any ``count`` free seats of ``section`` (general admission / best available)."""
        _validate_count(count)
        validate_ttl(ttl_ms)
        return self._counted(
            lambda: self._hold_any(user_id, event_id, section, count, ttl_ms, in_txn)
        )

    def _counted(self, run: Callable[[], Hold]) -> Hold:
        self.stats.bump("attempts")
        try:
            hold = run()
        except SeatUnavailable:
            self.stats.bump("conflicts")
            raise
        except SerializationFailure:
            self.stats.bump("conflicts")
            raise
        self.stats.bump("successes")
        return hold

    def health(self) -> dict[str, object]:
        return {"strategy": self.name, "degraded": False}

    def close(self) -> None:
        """Release resources owned by the strategy (the database pool is not owned)."""
        self.closed = True

    @abstractmethod
    def _hold(
        self,
        user_id: int,
        event_id: int,
        seats: tuple[int, ...],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold: ...

    @abstractmethod
    def _hold_any(
        self,
        user_id: int,
        event_id: int,
        section: str,
        count: int,
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold: ...

    # -- shared pieces -------------------------------------------------------------------

    def _record_hold(
        self,
        conn: psycopg.Connection,
        user_id: int,
        event_id: int,
        seats: Sequence[int],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        """Insert the hold and its seats; the caller updates ``event_seats`` in the same txn."""
        hold_id = str(uuid.uuid4())
        row = conn.execute(
            "INSERT INTO holds (id, user_id, event_id, status, strategy, expires_at) "
            "VALUES (%s, %s, %s, 'active', %s, CURRENT_TIMESTAMP + %s * INTERVAL '1 millisecond') "
            "RETURNING expires_at",
            (hold_id, user_id, event_id, self.name, ttl_ms),
        ).fetchone()
        assert row is not None
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO hold_seats (hold_id, event_id, seat_id) VALUES (%s, %s, %s)",
                [(hold_id, event_id, s) for s in seats],
            )
        # Delivered at commit, dropped if the caller's conditional seat update rolls back.
        publish(conn, self.db.schema, event_id, seats, "held", hold_id=hold_id)
        hold = Hold(hold_id, user_id, event_id, tuple(sorted(seats)), "active", row[0], self.name)
        if in_txn is not None:
            in_txn(conn, hold)
        return hold

    @staticmethod
    def _mark_held(
        conn: psycopg.Connection, hold: Hold, extra_where: str = "", extra_params: tuple = ()
    ) -> int:
        """Point the seats at the hold; returns how many rows the (conditional) update hit."""
        cur = conn.execute(
            "UPDATE event_seats SET status = 'held', hold_id = %s, hold_expires_at = %s, "
            "order_id = NULL, version = version + 1 "
            f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(hold.seat_ids))})"
            + extra_where,
            (hold.id, hold.expires_at, hold.event_id, *hold.seat_ids, *extra_params),
        )
        return cur.rowcount

    @staticmethod
    def _missing(conn: psycopg.Connection, event_id: int, seats: Sequence[int]) -> None:
        """Raise NotFound naming the event or the seats that do not exist."""
        if conn.execute("SELECT 1 FROM events WHERE id = %s", (event_id,)).fetchone() is None:
            raise NotFound(f"event {event_id} does not exist")
        found = {
            int(r[0])
            for r in conn.execute(
                f"SELECT seat_id FROM event_seats WHERE event_id = %s "
                f"AND seat_id IN ({_placeholders(len(seats))})",
                (event_id, *seats),
            ).fetchall()
        }
        missing = sorted(set(seats) - found)
        if missing:
            raise NotFound(f"event {event_id} has no seats {missing}")


class NoLockHolds(HoldStrategy):
    """Read, check in the application, then write: the lost-update race, kept for the lab."""

    name = "none"

    def __init__(self, db: Database, *, think_ms: float = 0.0) -> None:
        super().__init__(db)
        # Time between the check and the write (application work, network hops): the window
        # in which concurrent requests interleave.
        self.think_ms = think_ms

    def _read_free(self, event_id: int, seats: tuple[int, ...]) -> None:
        with self.db.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT seat_id, {available_sql()} FROM event_seats "
                f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(seats))})",
                (event_id, *seats),
            ).fetchall()
            if len(rows) != len(seats):
                self._missing(conn, event_id, seats)
        if not all(bool(r[1]) for r in rows):
            raise SeatUnavailable("seat already taken")

    def _write(
        self,
        user_id: int,
        event_id: int,
        seats: Sequence[int],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        if self.think_ms:
            time.sleep(self.think_ms / 1000)
        with self.db.pool.connection() as conn, conn.transaction():
            hold = self._record_hold(conn, user_id, event_id, seats, ttl_ms, in_txn)
            self._mark_held(conn, hold)  # unconditional: this is the bug being demonstrated
        return hold

    def _hold(
        self,
        user_id: int,
        event_id: int,
        seats: tuple[int, ...],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        self._read_free(event_id, seats)
        return self._write(user_id, event_id, seats, ttl_ms, in_txn)

    def _hold_any(
        self,
        user_id: int,
        event_id: int,
        section: str,
        count: int,
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        with self.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT es.seat_id FROM event_seats es JOIN seats s ON s.id = es.seat_id "
                f"WHERE es.event_id = %s AND s.section = %s AND {available_sql('es')} "
                "ORDER BY es.seat_id LIMIT %s",
                (event_id, section, count),
            ).fetchall()
        if len(rows) < count:
            raise SeatUnavailable(f"fewer than {count} free seats in section {section}")
        return self._write(user_id, event_id, [int(r[0]) for r in rows], ttl_ms, in_txn)


class PessimisticHolds(HoldStrategy):
    """``SELECT ... FOR UPDATE`` in seat-id order; ``NOWAIT`` and ``SKIP LOCKED`` variants."""

    name = "pessimistic"

    def __init__(self, db: Database, *, nowait: bool = False, lock_timeout_ms: int = 5000) -> None:
        super().__init__(db)
        self.nowait = nowait
        self.lock_timeout_ms = lock_timeout_ms

    def hold_in(
        self,
        conn: psycopg.Connection,
        user_id: int,
        event_id: int,
        seats: tuple[int, ...],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        """The locked read-check-write inside the caller's transaction (reused by the Redis
        strategy's fallback path)."""
        # Bound lock waits: a stuck transaction must not pile up every request behind it.
        conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout_ms)}ms'")
        try:
            rows = conn.execute(
                f"SELECT seat_id, {available_sql()} FROM event_seats "
                f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(seats))}) "
                "ORDER BY seat_id FOR UPDATE" + (" NOWAIT" if self.nowait else ""),
                (event_id, *seats),
            ).fetchall()
        except psycopg.errors.LockNotAvailable as exc:
            raise LockNotAvailable("seat is being taken by another request") from exc
        if len(rows) != len(seats):
            self._missing(conn, event_id, seats)
        if not all(bool(r[1]) for r in rows):
            raise SeatUnavailable("seat already taken")
        hold = self._record_hold(conn, user_id, event_id, seats, ttl_ms, in_txn)
        self._mark_held(conn, hold)
        return hold

    def _hold(
        self,
        user_id: int,
        event_id: int,
        seats: tuple[int, ...],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        with self.db.pool.connection() as conn, conn.transaction():
            return self.hold_in(conn, user_id, event_id, seats, ttl_ms, in_txn)

    def _hold_any(
        self,
        user_id: int,
        event_id: int,
        section: str,
        count: int,
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        with self.db.pool.connection() as conn, conn.transaction():
            # SKIP LOCKED: seats another buyer is taking right now are passed over, so N
            # concurrent "any 2 seats" requests take disjoint seats without waiting.
            rows = conn.execute(
                "SELECT es.seat_id FROM event_seats es JOIN seats s ON s.id = es.seat_id "
                f"WHERE es.event_id = %s AND s.section = %s AND {available_sql('es')} "
                "ORDER BY es.seat_id LIMIT %s FOR UPDATE OF es SKIP LOCKED",
                (event_id, section, count),
            ).fetchall()
            if len(rows) < count:
                raise SeatUnavailable(f"fewer than {count} free seats in section {section}")
            hold = self._record_hold(
                conn, user_id, event_id, [int(r[0]) for r in rows], ttl_ms, in_txn
            )
            self._mark_held(conn, hold)
            return hold


class _LostRace(Exception):
    """Internal: a conditional update matched no row; roll back and retry."""


class OptimisticHolds(HoldStrategy):
    """Version column + conditional update (compare-and-set), bounded retries with jitter."""

    name = "optimistic"

    def __init__(self, db: Database, *, max_retries: int = 5, backoff_ms: float = 2.0) -> None:
        super().__init__(db)
        self.max_retries = max_retries
        self.backoff_ms = backoff_ms

    def _read_versions(
        self, conn: psycopg.Connection, event_id: int, seats: tuple[int, ...]
    ) -> dict[int, tuple[int, bool]]:
        rows = conn.execute(
            f"SELECT seat_id, version, {available_sql()} FROM event_seats "
            f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(seats))})",
            (event_id, *seats),
        ).fetchall()
        return {int(r[0]): (int(r[1]), bool(r[2])) for r in rows}

    def _cas(self, conn: psycopg.Connection, hold: Hold, seat: int, version: int) -> bool:
        cur = conn.execute(
            "UPDATE event_seats SET status = 'held', hold_id = %s, hold_expires_at = %s, "
            "order_id = NULL, version = version + 1 "
            "WHERE event_id = %s AND seat_id = %s AND version = %s",
            (hold.id, hold.expires_at, hold.event_id, seat, version),
        )
        return cur.rowcount == 1

    def _backoff(self, attempt: int) -> None:
        self.stats.bump("retries")
        time.sleep(random.uniform(0, self.backoff_ms * (2**attempt)) / 1000)

    def _hold(
        self,
        user_id: int,
        event_id: int,
        seats: tuple[int, ...],
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        for attempt in range(self.max_retries + 1):
            with self.db.pool.connection() as conn:
                with conn.transaction():
                    versions = self._read_versions(conn, event_id, seats)
                if len(versions) != len(seats):
                    self._missing(conn, event_id, seats)
                if not all(free for _, free in versions.values()):
                    raise SeatUnavailable("seat already taken")
                try:
                    with conn.transaction():
                        # the hook's writes roll back with a lost race, like the hold's
                        hold = self._record_hold(conn, user_id, event_id, seats, ttl_ms, in_txn)
                        for seat in seats:  # sorted: concurrent CAS batches cannot deadlock
                            if not self._cas(conn, hold, seat, versions[seat][0]):
                                raise _LostRace
                    return hold
                except _LostRace:
                    pass
            self._backoff(attempt)
        raise SerializationFailure(f"lost the race {self.max_retries + 1} times; retry")

    def _hold_any(
        self,
        user_id: int,
        event_id: int,
        section: str,
        count: int,
        ttl_ms: int,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        for attempt in range(self.max_retries + 1):
            with self.db.pool.connection() as conn:
                with conn.transaction():
                    candidates = conn.execute(
                        "SELECT es.seat_id, es.version FROM event_seats es "
                        "JOIN seats s ON s.id = es.seat_id "
                        f"WHERE es.event_id = %s AND s.section = %s AND {available_sql('es')} "
                        "ORDER BY es.seat_id LIMIT %s",
                        (event_id, section, count * 3),
                    ).fetchall()
                if len(candidates) < count:
                    raise SeatUnavailable(f"fewer than {count} free seats in section {section}")
                try:
                    with conn.transaction():
                        row = conn.execute(
                            "SELECT CURRENT_TIMESTAMP + %s * INTERVAL '1 millisecond'", (ttl_ms,)
                        ).fetchone()
                        assert row is not None
                        # The seats are known only after the CAS loop, so claim them under a
                        # fresh hold id first and insert the hold row afterwards (same txn).
                        claim = Hold(
                            str(uuid.uuid4()), user_id, event_id, (), "active", row[0], self.name
                        )
                        won: list[int] = []
                        for seat, version in candidates:
                            if self._cas(conn, claim, int(seat), int(version)):
                                won.append(int(seat))
                                if len(won) == count:
                                    break
                        if len(won) < count:
                            raise _LostRace
                        hold = self._record_hold_with_id(conn, claim, won, in_txn)
                    return hold
                except _LostRace:
                    pass
            self._backoff(attempt)
        raise SerializationFailure(f"lost the race {self.max_retries + 1} times; retry")

    def _record_hold_with_id(
        self,
        conn: psycopg.Connection,
        hold: Hold,
        seats: list[int],
        in_txn: TxnHook | None = None,
    ) -> Hold:
        conn.execute(
            "INSERT INTO holds (id, user_id, event_id, status, strategy, expires_at) "
            "VALUES (%s, %s, %s, 'active', %s, %s)",
            (hold.id, hold.user_id, hold.event_id, self.name, hold.expires_at),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO hold_seats (hold_id, event_id, seat_id) VALUES (%s, %s, %s)",
                [(hold.id, hold.event_id, s) for s in seats],
            )
        publish(conn, self.db.schema, hold.event_id, seats, "held", hold_id=hold.id)
        made = Hold(
            hold.id,
            hold.user_id,
            hold.event_id,
            tuple(sorted(seats)),
            "active",
            hold.expires_at,
            self.name,
        )
        if in_txn is not None:
            in_txn(conn, made)
        return made


def _load_hold(conn: psycopg.Connection, user_id: int, hold_id: str) -> Hold:
    row = conn.execute(
        "SELECT event_id, status, expires_at, strategy FROM holds WHERE id = %s AND user_id = %s",
        (hold_id, user_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"hold {hold_id} not found")
    seats = conn.execute(
        "SELECT seat_id FROM hold_seats WHERE hold_id = %s ORDER BY seat_id", (hold_id,)
    ).fetchall()
    return Hold(
        hold_id,
        user_id,
        int(row[0]),
        tuple(int(s[0]) for s in seats),
        str(row[1]),
        row[2],
        str(row[3]),
    )


def get_hold(db: Database, user_id: int, hold_id: str) -> Hold:
    """A user's own hold; another user's hold is reported as not found."""
    with db.pool.connection() as conn:
        return _load_hold(conn, user_id, hold_id)


def release_hold(db: Database, user_id: int, hold_id: str, in_txn: TxnHook | None = None) -> Hold:
    """Release an active hold: its seats (those still pointing at it) become free again."""
    with db.pool.connection() as conn, conn.transaction():
        row = conn.execute(
            "SELECT status FROM holds WHERE id = %s AND user_id = %s FOR UPDATE",
            (hold_id, user_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"hold {hold_id} not found")
        if row[0] != "active":
            raise InvalidState(f"hold {hold_id} is {row[0]}")
        # Only seats still pointing at this hold: an expired hold's seat may already be resold.
        freed = conn.execute(
            "UPDATE event_seats SET status = 'free', hold_id = NULL, hold_expires_at = NULL, "
            "version = version + 1 WHERE hold_id = %s AND status = 'held' "
            "RETURNING event_id, seat_id",
            (hold_id,),
        ).fetchall()
        conn.execute("UPDATE holds SET status = 'released' WHERE id = %s", (hold_id,))
        if freed:
            publish(
                conn,
                db.schema,
                int(freed[0][0]),
                [int(r[1]) for r in freed],
                "released",
                hold_id=hold_id,
            )
        hold = _load_hold(conn, user_id, hold_id)
        if in_txn is not None:
            in_txn(conn, hold)
    return hold


def oversold_seats(db: Database, event_id: int) -> int:
    """Seats claimed by two live holds whose validity overlaps: a double booking.

    Released holds do not count; an expired hold and a later one do not overlap in time.
    """
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT COUNT(DISTINCT a.seat_id) FROM hold_seats a "
            "JOIN holds ha ON ha.id = a.hold_id "
            "JOIN hold_seats b ON b.event_id = a.event_id AND b.seat_id = a.seat_id "
            "AND b.hold_id > a.hold_id "
            "JOIN holds hb ON hb.id = b.hold_id "
            "WHERE a.event_id = %s AND ha.status IN ('active', 'checked_out') "
            "AND hb.status IN ('active', 'checked_out') "
            "AND ha.created_at < hb.expires_at AND hb.created_at < ha.expires_at",
            (event_id,),
        ).fetchone()
    return int(row[0]) if row else 0
