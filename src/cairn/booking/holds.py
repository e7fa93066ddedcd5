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

import dataclasses
import datetime as dt
import random
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
import psycopg.errors

from cairn.booking.background import CounterSet
from cairn.booking.catalog import available_sql
from cairn.booking.changes import publish
from cairn.booking.db import Database
from cairn.booking.errors import (
    HoldExpired,
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
class StrategyStats(CounterSet):
    """Counters a strategy reports (one instance is shared by request threads)."""

    attempts: int = 0
    successes: int = 0
    conflicts: int = 0
    retries: int = 0
    fallbacks: int = 0
    stale_tokens: int = 0


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


class HoldRequest(NamedTuple):
    """Who wants the seats, for how long (validated), and the hook for the hold's transaction."""

    user_id: int
    event_id: int
    ttl_ms: int
    in_txn: TxnHook | None


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
        req = HoldRequest(user_id, event_id, validate_ttl(ttl_ms), in_txn)
        return self._counted(lambda: self._hold(req, seats))

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
        req = HoldRequest(user_id, event_id, validate_ttl(ttl_ms), in_txn)
        return self._counted(lambda: self._hold_any(req, section, count))

    def _counted(self, run: Callable[[], Hold]) -> Hold:
        self.stats.bump("attempts")
        try:
            hold = run()
        except (SeatUnavailable, SerializationFailure):
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
    def _hold(self, req: HoldRequest, seats: tuple[int, ...]) -> Hold: ...

    @abstractmethod
    def _hold_any(self, req: HoldRequest, section: str, count: int) -> Hold: ...

    # -- shared pieces -------------------------------------------------------------------

    def _record_hold(
        self,
        conn: psycopg.Connection,
        req: HoldRequest,
        seats: Sequence[int],
        *,
        hold_id: str | None = None,
        expires_at: dt.datetime | None = None,
    ) -> Hold:
        """Insert the hold and its seats, announce it and run the request's hook.

        The caller points ``event_seats`` at the hold in the same transaction. Without
        ``expires_at`` the hold expires ``req.ttl_ms`` after the database's current time.
        """
        hold_id = hold_id or str(uuid.uuid4())
        expiry = "CURRENT_TIMESTAMP + %s * INTERVAL '1 millisecond'" if expires_at is None else "%s"
        row = conn.execute(
            "INSERT INTO holds (id, user_id, event_id, status, strategy, expires_at) "
            f"VALUES (%s, %s, %s, 'active', %s, {expiry}) RETURNING expires_at",
            (hold_id, req.user_id, req.event_id, self.name, expires_at or req.ttl_ms),
        ).fetchone()
        assert row is not None
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO hold_seats (hold_id, event_id, seat_id) VALUES (%s, %s, %s)",
                [(hold_id, req.event_id, s) for s in seats],
            )
        # Delivered at commit, dropped if the caller's conditional seat update rolls back.
        publish(conn, self.db.schema, req.event_id, seats, "held", hold_id=hold_id)
        hold = Hold(
            hold_id, req.user_id, req.event_id, tuple(sorted(seats)), "active", row[0], self.name
        )
        if req.in_txn is not None:
            req.in_txn(conn, hold)
        return hold

    def _claim(self, conn: psycopg.Connection, req: HoldRequest, seats: Sequence[int]) -> Hold:
        """Record the hold and point its seats at it, unconditionally: the caller has checked
        (and, unless it is the ``none`` strategy, locked) the seats."""
        hold = self._record_hold(conn, req, seats)
        conn.execute(
            "UPDATE event_seats SET status = 'held', hold_id = %s, hold_expires_at = %s, "
            "order_id = NULL, version = version + 1 "
            f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(hold.seat_ids))})",
            (hold.id, hold.expires_at, hold.event_id, *hold.seat_ids),
        )
        return hold

    @staticmethod
    def _read_seats(
        conn: psycopg.Connection, event_id: int, seats: Sequence[int], tail: str = ""
    ) -> list[tuple[int, int, bool]]:
        """``(seat_id, version, available)`` of every seat; NotFound unless all exist.

        ``tail`` ends the query (``ORDER BY seat_id FOR UPDATE``, say)."""
        rows = conn.execute(
            f"SELECT seat_id, version, {available_sql()} FROM event_seats "
            f"WHERE event_id = %s AND seat_id IN ({_placeholders(len(seats))})" + tail,
            (event_id, *seats),
        ).fetchall()
        if len(rows) != len(seats):
            HoldStrategy._missing(conn, event_id, seats)
        return [(int(s), int(v), bool(a)) for s, v, a in rows]

    @staticmethod
    def _require_free(rows: list[tuple[int, int, bool]]) -> None:
        if not all(available for _, _, available in rows):
            raise SeatUnavailable("seat already taken")

    @staticmethod
    def _section_seats(
        conn: psycopg.Connection,
        event_id: int,
        section: str,
        count: int,
        limit: int,
        tail: str = "",
    ) -> list[tuple[int, int]]:
        """Up to ``limit`` free ``(seat_id, version)`` of a section in seat order; SeatUnavailable
        when fewer than ``count`` are free. ``tail`` adds a locking clause."""
        rows = conn.execute(
            "SELECT es.seat_id, es.version FROM event_seats es JOIN seats s ON s.id = es.seat_id "
            f"WHERE es.event_id = %s AND s.section = %s AND {available_sql('es')} "
            "ORDER BY es.seat_id LIMIT %s" + tail,
            (event_id, section, limit),
        ).fetchall()
        if len(rows) < count:
            raise SeatUnavailable(f"fewer than {count} free seats in section {section}")
        return [(int(s), int(v)) for s, v in rows]

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

    def _write(self, req: HoldRequest, seats: Sequence[int]) -> Hold:
        if self.think_ms:
            time.sleep(self.think_ms / 1000)
        with self.db.pool.connection() as conn, conn.transaction():
            return self._claim(conn, req, seats)  # unconditional: this is the bug being shown

    def _hold(self, req: HoldRequest, seats: tuple[int, ...]) -> Hold:
        with self.db.pool.connection() as conn:
            rows = self._read_seats(conn, req.event_id, seats)
        self._require_free(rows)
        return self._write(req, seats)

    def _hold_any(self, req: HoldRequest, section: str, count: int) -> Hold:
        with self.db.pool.connection() as conn:
            rows = self._section_seats(conn, req.event_id, section, count, count)
        return self._write(req, [seat for seat, _ in rows])


class PessimisticHolds(HoldStrategy):
    """``SELECT ... FOR UPDATE`` in seat-id order; ``NOWAIT`` and ``SKIP LOCKED`` variants."""

    name = "pessimistic"

    def __init__(self, db: Database, *, nowait: bool = False, lock_timeout_ms: int = 5000) -> None:
        super().__init__(db)
        self.nowait = nowait
        self.lock_timeout_ms = lock_timeout_ms

    def hold_in(self, conn: psycopg.Connection, req: HoldRequest, seats: tuple[int, ...]) -> Hold:
        """The locked read-check-write inside the caller's transaction."""
        # Bound lock waits: a stuck transaction must not pile up every request behind it.
        conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout_ms)}ms'")
        try:
            rows = self._read_seats(
                conn,
                req.event_id,
                seats,
                " ORDER BY seat_id FOR UPDATE" + (" NOWAIT" if self.nowait else ""),
            )
        except psycopg.errors.LockNotAvailable as exc:
            raise LockNotAvailable("seat is being taken by another request") from exc
        self._require_free(rows)
        return self._claim(conn, req, seats)

    def _hold(self, req: HoldRequest, seats: tuple[int, ...]) -> Hold:
        with self.db.pool.connection() as conn, conn.transaction():
            return self.hold_in(conn, req, seats)

    def _hold_any(self, req: HoldRequest, section: str, count: int) -> Hold:
        with self.db.pool.connection() as conn, conn.transaction():
            # SKIP LOCKED: seats another buyer is taking right now are passed over, so N
            # concurrent "any 2 seats" requests take disjoint seats without waiting.
            rows = self._section_seats(
                conn, req.event_id, section, count, count, " FOR UPDATE OF es SKIP LOCKED"
            )
            return self._claim(conn, req, [seat for seat, _ in rows])


class _LostRace(Exception):
    """Internal: a conditional update matched no row; roll back and retry."""


class OptimisticHolds(HoldStrategy):
    """Version column + conditional update (compare-and-set), bounded retries with jitter."""

    name = "optimistic"

    def __init__(self, db: Database, *, max_retries: int = 5, backoff_ms: float = 2.0) -> None:
        super().__init__(db)
        self.max_retries = max_retries
        self.backoff_ms = backoff_ms

    def _cas(self, conn: psycopg.Connection, hold: Hold, seat: int, version: int) -> bool:
        cur = conn.execute(
            "UPDATE event_seats SET status = 'held', hold_id = %s, hold_expires_at = %s, "
            "order_id = NULL, version = version + 1 "
            "WHERE event_id = %s AND seat_id = %s AND version = %s",
            (hold.id, hold.expires_at, hold.event_id, seat, version),
        )
        return cur.rowcount == 1

    def _with_retries(self, attempt: Callable[[psycopg.Connection], Hold]) -> Hold:
        """Run ``attempt`` until it does not lose a race, at most ``max_retries`` more times,
        with jittered exponential backoff (outside the connection) between tries."""
        for n in range(self.max_retries + 1):
            with self.db.pool.connection() as conn:
                try:
                    return attempt(conn)
                except _LostRace:
                    pass
            self.stats.bump("retries")
            time.sleep(random.uniform(0, self.backoff_ms * (2**n)) / 1000)
        raise SerializationFailure(f"lost the race {self.max_retries + 1} times; retry")

    def _hold(self, req: HoldRequest, seats: tuple[int, ...]) -> Hold:
        def attempt(conn: psycopg.Connection) -> Hold:
            with conn.transaction():
                rows = self._read_seats(conn, req.event_id, seats)
            self._require_free(rows)
            versions = {seat: version for seat, version, _ in rows}
            with conn.transaction():
                # the hook's writes roll back with a lost race, like the hold's
                hold = self._record_hold(conn, req, seats)
                for seat in seats:  # sorted: concurrent CAS batches cannot deadlock
                    if not self._cas(conn, hold, seat, versions[seat]):
                        raise _LostRace
            return hold

        return self._with_retries(attempt)

    def _hold_any(self, req: HoldRequest, section: str, count: int) -> Hold:
        def attempt(conn: psycopg.Connection) -> Hold:
            with conn.transaction():
                candidates = self._section_seats(conn, req.event_id, section, count, count * 3)
            with conn.transaction():
                row = conn.execute(
                    "SELECT CURRENT_TIMESTAMP + %s * INTERVAL '1 millisecond'", (req.ttl_ms,)
                ).fetchone()
                assert row is not None
                # The seats are known only after the CAS loop, so claim them under a fresh
                # hold id first and insert the hold row afterwards (same txn).
                claim = Hold(
                    str(uuid.uuid4()), req.user_id, req.event_id, (), "active", row[0], self.name
                )
                won: list[int] = []
                for seat, version in candidates:
                    if self._cas(conn, claim, seat, version):
                        won.append(seat)
                        if len(won) == count:
                            break
                if len(won) < count:
                    raise _LostRace
                return self._record_hold(
                    conn, req, won, hold_id=claim.id, expires_at=claim.expires_at
                )

        return self._with_retries(attempt)


def _load_hold(
    conn: psycopg.Connection, user_id: int, hold_id: str, *, for_update: bool = False
) -> Hold:
    """The user's hold (NotFound for anyone else's); ``for_update`` locks its row."""
    row = conn.execute(
        "SELECT event_id, status, expires_at, strategy FROM holds WHERE id = %s AND user_id = %s"
        + (" FOR UPDATE" if for_update else ""),
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


def free_held_seats(conn: psycopg.Connection, schema: str, hold_id: str) -> int:
    """Free the seats that still point at the hold, in the caller's transaction; announce them.

    Only those: an expired hold's seat may already belong to someone else.
    """
    freed = conn.execute(
        "UPDATE event_seats SET status = 'free', hold_id = NULL, hold_expires_at = NULL, "
        "version = version + 1 WHERE hold_id = %s AND status = 'held' "
        "RETURNING event_id, seat_id",
        (hold_id,),
    ).fetchall()
    if freed:
        seats = [int(r[1]) for r in freed]
        publish(conn, schema, int(freed[0][0]), seats, "released", hold_id=hold_id)
    return len(freed)


def release_hold(db: Database, user_id: int, hold_id: str, in_txn: TxnHook | None = None) -> Hold:
    """Release an active hold: its seats (those still pointing at it) become free again.

    A hold whose time ran out is :class:`HoldExpired` (410) here as at checkout, whether or
    not the expiry worker has marked it yet: both requests see the same clock (PostgreSQL's).
    """
    with db.pool.connection() as conn, conn.transaction():
        hold = _load_hold(conn, user_id, hold_id, for_update=True)
        row = conn.execute("SELECT %s <= CURRENT_TIMESTAMP", (hold.expires_at,)).fetchone()
        if hold.status == "expired" or (hold.status == "active" and row and row[0]):
            raise HoldExpired(f"hold {hold_id} has expired")
        if hold.status != "active":
            raise InvalidState(f"hold {hold_id} is {hold.status}")
        free_held_seats(conn, db.schema, hold_id)
        conn.execute("UPDATE holds SET status = 'released' WHERE id = %s", (hold_id,))
        hold = dataclasses.replace(hold, status="released")
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
