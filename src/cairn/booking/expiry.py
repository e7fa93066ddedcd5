"""The expiry worker: releases holds whose time ran out.

Queue choice: PostgreSQL ``FOR UPDATE SKIP LOCKED`` over the ``holds`` table itself, not a Redis
job queue. The "job" is a row that already exists in the source of truth, so taking it, freeing
its seats and marking it expired happen in one transaction: no dual write, nothing lost if
Redis restarts, and several workers share the load without taking the same hold (SKIP LOCKED
passes over rows another worker is on). Correctness never depends on the worker being on time:
every hold path treats an expired hold's seat as free (lazy reclaim) and a checkout re-checks
the expiry, so a late worker only delays the tidy-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.booking.background import PeriodicThread
from cairn.booking.changes import publish
from cairn.booking.db import Database


@dataclass
class ExpiryWorker:
    db: Database
    batch_size: int = 200
    interval_s: float = 1.0
    expired_total: int = 0
    # Other periodic tidy-ups that share this thread (the service reaps idempotency keys).
    housekeeping: Callable[[], object] | None = None
    housekeeping_every_s: float = 60.0
    _worker: PeriodicThread | None = field(default=None, repr=False)
    _last_housekeeping: float = field(default=0.0, repr=False)

    def run_once(self) -> int:
        """Expire one batch of overdue holds; return how many holds were expired."""
        with self.db.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT id FROM holds WHERE status = 'active' AND expires_at <= CURRENT_TIMESTAMP "
                "ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.batch_size,),
            ).fetchall()
            ids = [str(r[0]) for r in rows]
            if not ids:
                return 0
            marks = ", ".join(["%s"] * len(ids))
            # Only seats still pointing at the expired hold and still past their expiry: a seat
            # already re-held by someone else is left alone.
            # Lock and read the seats first: RETURNING would show the new (NULL) hold_id.
            freed = conn.execute(
                "SELECT event_id, seat_id, hold_id FROM event_seats WHERE status = 'held' "
                f"AND hold_id IN ({marks}) AND hold_expires_at <= CURRENT_TIMESTAMP "
                "ORDER BY event_id, seat_id FOR UPDATE",
                ids,
            ).fetchall()
            conn.execute(
                "UPDATE event_seats SET status = 'free', hold_id = NULL, hold_expires_at = NULL, "
                f"version = version + 1 WHERE status = 'held' AND hold_id IN ({marks}) "
                "AND hold_expires_at <= CURRENT_TIMESTAMP",
                ids,
            )
            conn.execute(f"UPDATE holds SET status = 'expired' WHERE id IN ({marks})", ids)
            by_hold: dict[tuple[int, str], list[int]] = {}
            for event_id, seat_id, hold_id in freed:
                by_hold.setdefault((int(event_id), str(hold_id)), []).append(int(seat_id))
            for (event_id, hold_id), seats in by_hold.items():
                publish(conn, self.db.schema, event_id, seats, "expired", hold_id=hold_id)
        self.expired_total += len(ids)
        return len(ids)

    def drain(self) -> int:
        total = 0
        while n := self.run_once():
            total += n
        return total

    def _round(self) -> None:
        self.drain()
        if self.housekeeping is not None and (
            time.monotonic() - self._last_housekeeping >= self.housekeeping_every_s
        ):
            self._last_housekeeping = time.monotonic()
            self.housekeeping()

    def start(self) -> None:
        self._worker = PeriodicThread("hold-expiry", self._round, self.interval_s)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
