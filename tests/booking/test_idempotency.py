"""Idempotency keys: replays, mismatches, concurrent use of one key, takeover, expiry."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cairn.booking.db import Database
from cairn.booking.errors import IdempotencyConflict, IdempotencyMismatch, ValidationFailed
from cairn.booking.idempotency import IdempotencyStore, KeyRecord, check_key, fingerprint
from cairn.booking.service import BookingService

from .conftest import Stage, make_stage

BODY = {"event_id": 1, "seat_ids": [3, 1]}


def test_first_use_runs_and_retry_replays(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db)
    uid = stage.users[0].id
    rec = store.begin(uid, "key-replay-0001", "POST", "/holds", BODY)
    assert rec.replay is None and rec.recovery_point == "started"
    store.finish(rec, 201, '{"hold": "h1"}')
    again = store.begin(
        uid, "key-replay-0001", "post", "/holds", {"seat_ids": [3, 1], "event_id": 1}
    )
    assert again.replay is not None
    assert (again.replay.status, again.replay.body) == (201, '{"hold": "h1"}')


def test_same_key_different_request_is_refused(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db)
    uid = stage.users[0].id
    store.finish(store.begin(uid, "key-mismatch-01", "POST", "/holds", BODY), 201, "{}")
    with pytest.raises(IdempotencyMismatch) as err:
        store.begin(uid, "key-mismatch-01", "POST", "/holds", {"event_id": 1, "seat_ids": [2]})
    assert err.value.status == 422


def test_keys_are_scoped_per_user(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db)
    store.finish(store.begin(stage.users[0].id, "key-shared-0001", "POST", "/h", BODY), 201, "a")
    other = store.begin(stage.users[1].id, "key-shared-0001", "POST", "/h", BODY)
    assert other.replay is None  # user 1 never sees user 0's stored response


def test_concurrent_requests_with_one_key_exactly_one_runs(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db)
    uid = stage.users[2].id
    barrier = threading.Barrier(8)

    def go(_: int) -> KeyRecord | Exception:
        barrier.wait()
        try:
            return store.begin(uid, "key-concurrent-1", "POST", "/holds", BODY)
        except IdempotencyConflict as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    runners = [r for r in results if isinstance(r, KeyRecord)]
    assert len(runners) == 1
    assert sum(isinstance(r, IdempotencyConflict) for r in results) == 7


def test_abandoned_key_is_taken_over_and_resumes(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db, lock_timeout_s=0.05)
    uid = stage.users[3].id
    rec = store.begin(uid, "key-crashed-0001", "POST", "/checkout", BODY)
    store.checkpoint(rec, "payment_authorized")
    with pytest.raises(IdempotencyConflict):
        IdempotencyStore(db).begin(uid, "key-crashed-0001", "POST", "/checkout", BODY)
    with db.pool.connection() as conn:
        conn.execute("SELECT pg_sleep(0.1)")
    resumed = store.begin(uid, "key-crashed-0001", "POST", "/checkout", BODY)
    assert resumed.replay is None and resumed.recovery_point == "payment_authorized"


def test_unlock_after_transient_error_lets_retry_run(db: Database, stage: Stage) -> None:
    store = IdempotencyStore(db)
    uid = stage.users[0].id
    rec = store.begin(uid, "key-transient-01", "POST", "/holds", BODY)
    store.unlock(rec)
    retry = store.begin(uid, "key-transient-01", "POST", "/holds", BODY)
    assert retry.id == rec.id and retry.replay is None


def test_reaper_deletes_expired_keys_only(db: Database, stage: Stage) -> None:
    uid = stage.users[1].id
    IdempotencyStore(db).begin(uid, "key-reap-old-001", "POST", "/h", BODY)
    with db.pool.connection() as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = CURRENT_TIMESTAMP - INTERVAL '2 days' "
            "WHERE idempotency_key = 'key-reap-old-001'"
        )
    IdempotencyStore(db).begin(uid, "key-reap-new-001", "POST", "/h", BODY)
    assert IdempotencyStore(db).reap() == 1
    with db.pool.connection() as conn:
        keys = {
            r[0]
            for r in conn.execute(
                "SELECT idempotency_key FROM idempotency_keys WHERE user_id = %s", (uid,)
            ).fetchall()
        }
    assert "key-reap-new-001" in keys and "key-reap-old-001" not in keys


def _age(db: Database, key: str, interval: str) -> None:
    with db.pool.connection() as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = CURRENT_TIMESTAMP - %s::interval "
            "WHERE idempotency_key = %s",
            (interval, key),
        )


def test_key_past_its_ttl_is_a_new_request_even_before_the_reaper(
    db: Database, stage: Stage
) -> None:
    store = IdempotencyStore(db)  # ttl_s: 24 hours
    uid = stage.users[2].id
    first = store.begin(uid, "key-expiry-00001", "POST", "/holds", BODY)
    store.finish(first, 201, '{"hold": "h1"}')
    _age(db, "key-expiry-00001", "23 hours 59 minutes")
    replay = store.begin(uid, "key-expiry-00001", "POST", "/holds", BODY)
    assert replay.replay is not None and replay.replay.body == '{"hold": "h1"}'
    with pytest.raises(IdempotencyMismatch):
        store.begin(uid, "key-expiry-00001", "POST", "/holds", {"other": 1})
    _age(db, "key-expiry-00001", "24 hours 1 minute")
    fresh = store.begin(uid, "key-expiry-00001", "POST", "/holds", {"other": 1})
    assert fresh.replay is None and fresh.recovery_point == "started" and fresh.id != first.id
    assert store.reap() == 0  # the expired row was replaced, not left for the reaper


def test_service_reaps_keys_in_its_housekeeping(svc: BookingService) -> None:
    """The service's expiry worker runs the reaper (once a minute) as its housekeeping."""
    uid = make_stage(svc.db).users[3].id
    svc.idempotency.begin(uid, "key-house-old-01", "POST", "/h", BODY)
    svc.idempotency.begin(uid, "key-house-new-01", "POST", "/h", BODY)
    _age(svc.db, "key-house-old-01", "25 hours")
    assert svc.expiry.housekeeping is not None
    assert svc.expiry.housekeeping() == 1
    with svc.db.pool.connection() as conn:
        keys = {
            str(r[0])
            for r in conn.execute(
                "SELECT idempotency_key FROM idempotency_keys WHERE user_id = %s", (uid,)
            ).fetchall()
        }
    assert keys == {"key-house-new-01"}


@pytest.mark.parametrize("key", [None, "", "short", "x" * 101, "has space in it", "naïve-key-01"])
def test_malformed_keys_are_rejected(key: str | None) -> None:
    with pytest.raises(ValidationFailed):
        check_key(key)


def test_fingerprint_ignores_key_order_not_values() -> None:
    assert fingerprint("POST", "/h", {"a": 1, "b": 2}) == fingerprint(
        "post", "/h", {"b": 2, "a": 1}
    )
    assert fingerprint("POST", "/h", {"a": 1}) != fingerprint("POST", "/h", {"a": 2})
    assert fingerprint("POST", "/h", {"a": 1}) != fingerprint("POST", "/g", {"a": 1})
