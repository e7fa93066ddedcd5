"""Idempotency keys stored in PostgreSQL, per user (the Stripe/brandur design).

A mutating request carries an ``Idempotency-Key``. :meth:`IdempotencyStore.begin` atomically
either creates the key (state ``running``, locked by this request), or finds it and decides:

- same request, ``finished``: replay the stored response (same status, same body);
- different request (fingerprint = SHA-256 of method, path and canonical JSON body): refused
  with :class:`IdempotencyMismatch` (422);
- same request, ``running`` and locked recently: :class:`IdempotencyConflict` (409, retry
  later): of two concurrent requests with one key, exactly one runs;
- same request, ``running`` but its lock is older than ``lock_timeout_s`` (the process died):
  this request takes it over and resumes from the stored ``recovery_point``.

Transient failures (5xx, serialization failures) are not stored: :meth:`unlock` lets a retry
run again. Keys expire ``ttl_s`` after creation (24 h by default, documented in
docs/booking.md) and :meth:`reap` deletes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import psycopg
import psycopg.errors

from cairn.booking.db import Database
from cairn.booking.errors import IdempotencyConflict, IdempotencyMismatch, ValidationFailed

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
DEFAULT_TTL_S = 24 * 3600
DEFAULT_LOCK_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


@dataclass(frozen=True)
class KeyRecord:
    """A key this request now owns (locked); ``recovery_point`` says where to resume."""

    id: int
    user_id: int
    key: str
    recovery_point: str
    replay: StoredResponse | None = None  # set when the response is already known


def fingerprint(method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not _KEY.match(key):
        raise ValidationFailed(
            "Idempotency-Key header required: 8..100 characters of [A-Za-z0-9_.:-]"
        )
    return key


@dataclass
class IdempotencyStore:
    db: Database
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    ttl_s: int = DEFAULT_TTL_S

    def begin(self, user_id: int, key: str, method: str, path: str, body: object) -> KeyRecord:
        check_key(key)
        fp = fingerprint(method, path, body)
        with self.db.pool.connection() as conn, conn.transaction():
            # No fsync wait for the key row: if PostgreSQL crashes before it is flushed, the
            # request had not done anything yet (losing the key is harmless), and the request's
            # own synchronous commit that follows flushes the WAL up to and including it.
            # Saves one of the three fsyncs of every mutating request.
            conn.execute("SET LOCAL synchronous_commit = off")
            # Three tries: the key that made the insert fail may expire (and be deleted here)
            # or be reaped between the two statements; then the insert is tried again.
            for _ in range(3):
                try:
                    # Savepoint: a unique violation must not abort the outer transaction.
                    with conn.transaction():
                        row = conn.execute(
                            "INSERT INTO idempotency_keys (user_id, idempotency_key, "
                            "request_method, request_path, request_fingerprint, state, locked_at) "
                            "VALUES (%s, %s, %s, %s, %s, 'running', CURRENT_TIMESTAMP) "
                            "RETURNING id",
                            (user_id, key, method.upper(), path, fp),
                        ).fetchone()
                    assert row is not None
                    return KeyRecord(int(row[0]), user_id, key, "started")
                except psycopg.errors.UniqueViolation:
                    pass
                found = self._existing(conn, user_id, key, fp)
                if found is not None:
                    return found
        raise IdempotencyConflict("this Idempotency-Key keeps changing; retry later")

    def _existing(
        self, conn: psycopg.Connection, user_id: int, key: str, fp: str
    ) -> KeyRecord | None:
        """Decide on a key that exists; ``None`` if it is gone or has expired (deleted now)."""
        row = conn.execute(
            "SELECT id, request_fingerprint, state, recovery_point, response_code, "
            "response_body, locked_at IS NOT NULL AND locked_at > CURRENT_TIMESTAMP "
            "- %s * INTERVAL '1 second', created_at < CURRENT_TIMESTAMP "
            "- %s * INTERVAL '1 second' FROM idempotency_keys "
            "WHERE user_id = %s AND idempotency_key = %s FOR UPDATE",
            (self.lock_timeout_s, self.ttl_s, user_id, key),
        ).fetchone()
        if row is None:  # reaped since the insert failed
            return None
        key_id, stored_fp, state, point, code, body, locked, expired = row
        if expired:
            # Past its TTL the key means nothing, whether or not the reaper has run yet: the
            # request is new (expiry must not depend on the reaper's timing).
            conn.execute("DELETE FROM idempotency_keys WHERE id = %s", (key_id,))
            return None
        if stored_fp != fp:
            raise IdempotencyMismatch("this Idempotency-Key was used for a different request")
        if state == "finished":
            return KeyRecord(
                int(key_id), user_id, key, str(point), StoredResponse(int(code), str(body))
            )
        if locked:
            raise IdempotencyConflict("a request with this Idempotency-Key is in progress")
        # Abandoned (crashed or unlocked after a transient error): take it over and resume.
        conn.execute(
            "UPDATE idempotency_keys SET locked_at = CURRENT_TIMESTAMP, "
            "last_run_at = CURRENT_TIMESTAMP WHERE id = %s",
            (key_id,),
        )
        return KeyRecord(int(key_id), user_id, key, str(point))

    def checkpoint(
        self, record: KeyRecord, recovery_point: str, conn: psycopg.Connection | None = None
    ) -> KeyRecord:
        """Record progress; pass ``conn`` to commit it atomically with the step's own writes."""
        stmt = (
            "UPDATE idempotency_keys SET recovery_point = %s, last_run_at = CURRENT_TIMESTAMP "
            "WHERE id = %s"
        )
        if conn is not None:
            conn.execute(stmt, (recovery_point, record.id))
        else:
            with self.db.pool.connection() as c:
                c.execute(stmt, (recovery_point, record.id))
        return KeyRecord(record.id, record.user_id, record.key, recovery_point)

    def finish(
        self, record: KeyRecord, status: int, body: str, conn: psycopg.Connection | None = None
    ) -> StoredResponse:
        stmt = (
            "UPDATE idempotency_keys SET state = 'finished', recovery_point = 'finished', "
            "response_code = %s, response_body = %s, locked_at = NULL, "
            "last_run_at = CURRENT_TIMESTAMP WHERE id = %s"
        )
        if conn is not None:
            conn.execute(stmt, (status, body, record.id))
        else:
            with self.db.pool.connection() as c:
                c.execute(stmt, (status, body, record.id))
        return StoredResponse(status, body)

    def unlock(self, record: KeyRecord) -> None:
        """After a transient failure: nothing stored, a retry with the same key may run."""
        with self.db.pool.connection() as conn:
            conn.execute("UPDATE idempotency_keys SET locked_at = NULL WHERE id = %s", (record.id,))

    def reap(self) -> int:
        """Delete keys older than ``ttl_s``; returns how many were deleted."""
        with self.db.pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < CURRENT_TIMESTAMP "
                "- %s * INTERVAL '1 second'",
                (self.ttl_s,),
            )
            return cur.rowcount
