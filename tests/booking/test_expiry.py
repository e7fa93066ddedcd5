"""The expiry worker: frees overdue holds, never a re-held seat, and workers never collide."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from cairn.booking.catalog import seat_map
from cairn.booking.db import Database
from cairn.booking.expiry import ExpiryWorker
from cairn.booking.holds import PessimisticHolds, get_hold, oversold_seats

from .conftest import Stage, make_stage


def test_worker_expires_overdue_holds_only(db: Database, stage: Stage) -> None:
    strategy = PessimisticHolds(db)
    a = stage.seat_ids["A"]
    short = strategy.hold(stage.users[0].id, stage.event.id, a[0:2], ttl_ms=1)
    long = strategy.hold(stage.users[1].id, stage.event.id, a[2:4], ttl_ms=60_000)
    time.sleep(0.01)
    assert ExpiryWorker(db).drain() >= 1
    assert get_hold(db, stage.users[0].id, short.id).status == "expired"
    assert get_hold(db, stage.users[1].id, long.id).status == "active"
    states = {s.seat_id: s.status for s in seat_map(db, stage.event.id)}
    assert [states[s] for s in a[0:4]] == ["free", "free", "held", "held"]


def test_late_worker_does_not_free_a_reheld_seat(db: Database, stage: Stage) -> None:
    strategy = PessimisticHolds(db)
    seat = stage.seat_ids["B"][0]
    old = strategy.hold(stage.users[0].id, stage.event.id, [seat], ttl_ms=1)
    time.sleep(0.01)
    new = strategy.hold(stage.users[1].id, stage.event.id, [seat])  # lazy reclaim
    ExpiryWorker(db).drain()
    assert get_hold(db, stage.users[0].id, old.id).status == "expired"
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT status, hold_id FROM event_seats WHERE event_id = %s AND seat_id = %s",
            (stage.event.id, seat),
        ).fetchone()
    assert row == ("held", new.id)
    assert oversold_seats(db, stage.event.id) == 0


def test_concurrent_workers_share_the_queue(db: Database) -> None:
    st = make_stage(db, users=2, rows=5, per_row=10)
    strategy = PessimisticHolds(db)
    holds = [
        strategy.hold(st.users[i % 2].id, st.event.id, [s], ttl_ms=1)
        for i, s in enumerate(st.seat_ids["A"])
    ]
    time.sleep(0.01)
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM holds WHERE status = 'active' AND expires_at <= CURRENT_TIMESTAMP"
        ).fetchone()
    overdue = int(row[0]) if row else 0
    assert overdue >= len(holds)
    workers = [ExpiryWorker(db, batch_size=5) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda w: w.drain(), workers))
    assert sum(counts) == overdue  # every overdue hold expired exactly once, by one worker
    assert all(get_hold(db, h.user_id, h.id).status == "expired" for h in holds)


def test_background_thread_starts_and_stops(db: Database, stage: Stage) -> None:
    strategy = PessimisticHolds(db)
    h = strategy.hold(stage.users[2].id, stage.event.id, [stage.seat_ids["B"][5]], ttl_ms=1)
    worker = ExpiryWorker(db, interval_s=0.02)
    worker.start()
    deadline = time.monotonic() + 5
    while get_hold(db, h.user_id, h.id).status != "expired" and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()
    assert get_hold(db, h.user_id, h.id).status == "expired"
    assert worker.expired_total >= 1


def test_background_loop_expires_and_runs_housekeeping(db: Database, stage: Stage) -> None:
    calls: list[float] = []
    strategy = PessimisticHolds(db)
    hold = strategy.hold(stage.users[2].id, stage.event.id, [stage.seat_ids["A"][9]], ttl_ms=1)
    worker = ExpiryWorker(
        db,
        interval_s=0.02,
        housekeeping=lambda: calls.append(time.time()),
        housekeeping_every_s=0.0,
    )
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if get_hold(db, stage.users[2].id, hold.id).status == "expired" and len(calls) >= 2:
                break
            time.sleep(0.02)
    finally:
        worker.stop()
    assert get_hold(db, stage.users[2].id, hold.id).status == "expired"
    assert len(calls) >= 2
