"""Hold strategies against the real PostgreSQL: concurrency that would catch a double booking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.booking.catalog import seat_map
from cairn.booking.db import Database
from cairn.booking.errors import (
    BookingError,
    HoldExpired,
    InvalidState,
    LockNotAvailable,
    NotFound,
    SeatUnavailable,
    ValidationFailed,
)
from cairn.booking.holds import (
    HoldStrategy,
    NoLockHolds,
    OptimisticHolds,
    PessimisticHolds,
    get_hold,
    oversold_seats,
    release_hold,
)
from cairn.booking.model import Hold

from .conftest import Stage, make_stage

SAFE: dict[str, Callable[[Database], HoldStrategy]] = {
    "pessimistic": lambda db: PessimisticHolds(db),
    "pessimistic-nowait": lambda db: PessimisticHolds(db, nowait=True),
    "optimistic": lambda db: OptimisticHolds(db, max_retries=8),
}


def race(n: int, fn: Callable[[int], Hold]) -> tuple[list[Hold], list[BaseException]]:
    """Run ``fn(i)`` for i in range(n) in n threads released together by a barrier."""
    barrier = threading.Barrier(n)
    wins: list[Hold] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            h = fn(i)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                wins.append(h)

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(run, range(n)))
    return wins, errors


@pytest.mark.parametrize("kind", sorted(SAFE))
def test_one_seat_many_buyers_exactly_one_wins(db: Database, stage: Stage, kind: str) -> None:
    strategy = SAFE[kind](db)
    seat = stage.seat_ids["A"][0]
    wins, errors = race(16, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, [seat]))
    assert len(wins) == 1
    assert all(isinstance(e, SeatUnavailable | BookingError) for e in errors), errors
    assert oversold_seats(db, stage.event.id) == 0
    states = {s.seat_id: s.status for s in seat_map(db, stage.event.id)}
    assert states[seat] == "held"
    stats = strategy.stats.snapshot()
    assert stats["successes"] == 1 and stats["attempts"] == 16


@pytest.mark.parametrize("kind", sorted(SAFE))
def test_overlapping_multi_seat_holds_all_or_nothing(db: Database, stage: Stage, kind: str) -> None:
    """Buyers ask for overlapping pairs in opposite orders: no deadlock, no seat twice."""
    strategy = SAFE[kind](db)
    a = stage.seat_ids["A"]
    requests = [[a[i], a[i + 1]] if i % 2 else [a[i + 1], a[i]] for i in range(8)]
    wins, errors = race(
        8, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, requests[i])
    )
    assert wins
    taken = [s for h in wins for s in h.seat_ids]
    assert len(taken) == len(set(taken))
    assert oversold_seats(db, stage.event.id) == 0
    held = {s.seat_id for s in seat_map(db, stage.event.id) if s.status == "held"}
    assert held == set(taken)  # losers wrote nothing
    assert all(not isinstance(e, AssertionError) for e in errors)


def test_no_lock_strategy_oversells(db: Database, stage: Stage) -> None:
    strategy = NoLockHolds(db, think_ms=30)
    seat = stage.seat_ids["B"][0]
    wins, _ = race(10, lambda i: strategy.hold(stage.users[i % 4].id, stage.event.id, [seat]))
    assert len(wins) > 1  # the lab's point: read-check-write without locks double-books
    assert oversold_seats(db, stage.event.id) == 1


@pytest.mark.parametrize("kind", ["none", "pessimistic", "optimistic"])
def test_hold_any_in_section_takes_disjoint_seats(db: Database, kind: str) -> None:
    st_ = make_stage(db, rows=2, per_row=5)  # 10 seats per section
    strategy: HoldStrategy = {
        "none": lambda: NoLockHolds(db),
        "pessimistic": lambda: PessimisticHolds(db),
        "optimistic": lambda: OptimisticHolds(db, max_retries=20),
    }[kind]()
    wins, errors = race(8, lambda i: strategy.hold_any(st_.users[i % 4].id, st_.event.id, "A", 2))
    taken = [s for h in wins for s in h.seat_ids]
    assert set(taken) <= set(st_.seat_ids["A"])
    if kind == "none":
        assert wins  # no guarantee of disjointness; the safe strategies below must keep it
        return
    taken = [s for h in wins for s in h.seat_ids]
    assert len(taken) == len(set(taken))
    assert set(taken) <= set(st_.seat_ids["A"])
    assert len(wins) == 5 if kind == "pessimistic" else len(wins) >= 1
    assert oversold_seats(db, st_.event.id) == 0
    assert all(isinstance(e, BookingError) for e in errors)


def test_any_two_in_hot_section_skip_seats_being_taken(db: Database, stage: Stage) -> None:
    """ "Any 2 seats in section B" while another buyer's transaction has B's first two seats
    locked: SKIP LOCKED passes over them at once and takes the next two. A plain FOR UPDATE
    would wait for that transaction (here: forever, so the 5 s bound fails the test)."""
    b = stage.seat_ids["B"]
    strategy = PessimisticHolds(db)
    with ThreadPoolExecutor(1) as pool, db.pool.connection() as conn, conn.transaction():
        conn.execute(
            "SELECT 1 FROM event_seats WHERE event_id = %s AND seat_id IN (%s, %s) FOR UPDATE",
            (stage.event.id, b[0], b[1]),
        )
        started = time.monotonic()
        got = pool.submit(strategy.hold_any, stage.users[0].id, stage.event.id, "B", 2)
        hold = got.result(timeout=5)
        assert time.monotonic() - started < 5
        assert hold.seat_ids == (b[2], b[3])
        # The seats being taken by the other transaction are left alone.
        second = strategy.hold_any(stage.users[1].id, stage.event.id, "B", 2)
        assert second.seat_ids == (b[4], b[5])
    assert oversold_seats(db, stage.event.id) == 0


def test_nowait_fails_fast_while_row_locked(db: Database, stage: Stage) -> None:
    seat = stage.seat_ids["A"][3]
    strategy = PessimisticHolds(db, nowait=True)
    with db.pool.connection() as conn, conn.transaction():
        conn.execute(
            "SELECT 1 FROM event_seats WHERE event_id = %s AND seat_id = %s FOR UPDATE",
            (stage.event.id, seat),
        )
        with pytest.raises(LockNotAvailable):
            strategy.hold(stage.users[0].id, stage.event.id, [seat])
    assert strategy.hold(stage.users[0].id, stage.event.id, [seat]).seat_ids == (seat,)


@pytest.mark.parametrize("kind", ["none", "pessimistic", "optimistic"])
def test_expired_hold_is_free_again_without_worker(db: Database, stage: Stage, kind: str) -> None:
    make = {"none": NoLockHolds, "pessimistic": PessimisticHolds, "optimistic": OptimisticHolds}
    strategy: HoldStrategy = make[kind](db)
    seat = stage.seat_ids["B"][4]
    first = strategy.hold(stage.users[0].id, stage.event.id, [seat], ttl_ms=1)
    with db.pool.connection() as conn:
        conn.execute("SELECT pg_sleep(0.01)")
    second = strategy.hold(stage.users[1].id, stage.event.id, [seat])
    assert second.id != first.id
    assert oversold_seats(db, stage.event.id) == 0
    # The old hold cannot release the seat now owned by the new hold: it has expired (410, as
    # its checkout would say), and the seat stays with the new hold.
    with pytest.raises(HoldExpired):
        release_hold(db, stage.users[0].id, first.id)
    states = {s.seat_id: s.status for s in seat_map(db, stage.event.id)}
    assert states[seat] == "held"


def test_release_and_authorization(db: Database, stage: Stage) -> None:
    strategy = PessimisticHolds(db)
    seats = stage.seat_ids["A"][5:7]
    hold = strategy.hold(stage.users[0].id, stage.event.id, seats)
    with pytest.raises(NotFound):
        get_hold(db, stage.users[1].id, hold.id)
    with pytest.raises(NotFound):
        release_hold(db, stage.users[1].id, hold.id)
    assert get_hold(db, stage.users[0].id, hold.id).status == "active"
    assert release_hold(db, stage.users[0].id, hold.id).status == "released"
    with pytest.raises(InvalidState):
        release_hold(db, stage.users[0].id, hold.id)
    again = strategy.hold(stage.users[1].id, stage.event.id, seats)
    assert again.seat_ids == tuple(sorted(seats))


@pytest.mark.parametrize(
    ("seats", "error"),
    [
        ([], ValidationFailed),
        ([1, 1], ValidationFailed),
        ([-3], ValidationFailed),
        (list(range(1, 30)), ValidationFailed),
        ([10**9], NotFound),
    ],
)
def test_bad_requests_write_nothing(
    db: Database, stage: Stage, seats: list[int], error: type[Exception]
) -> None:
    strategy = PessimisticHolds(db)
    with db.pool.connection() as conn:
        before = conn.execute("SELECT COUNT(*) FROM holds").fetchone()
    with pytest.raises(error):
        strategy.hold(stage.users[0].id, stage.event.id, seats)
    with pytest.raises(NotFound):
        strategy.hold(stage.users[0].id, 10**9, [stage.seat_ids["A"][0]])
    with db.pool.connection() as conn:
        assert conn.execute("SELECT COUNT(*) FROM holds").fetchone() == before


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["p", "o"]),
            st.integers(0, 3),
            st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_model_based_holds_match_a_simple_model(db: Database, ops: list) -> None:
    """Sequential model check: a seat is held by at most one live hold; releases free it."""
    st_ = make_stage(db, users=4, rows=1, per_row=10)
    strategies = {"p": PessimisticHolds(db), "o": OptimisticHolds(db)}
    seats = st_.seat_ids["A"]
    owner: dict[int, str] = {}
    holds: list[tuple[int, Hold]] = []
    for kind, user, idxs, release in ops:
        wanted = [seats[i] for i in idxs]
        free = all(s not in owner for s in wanted)
        try:
            h = strategies[kind].hold(st_.users[user].id, st_.event.id, wanted)
        except SeatUnavailable:
            assert not free
            continue
        assert free
        for s in h.seat_ids:
            owner[s] = h.id
        holds.append((user, h))
        if release:
            release_hold(db, st_.users[user].id, h.id)
            for s in h.seat_ids:
                del owner[s]
    live = {s.seat_id for s in seat_map(db, st_.event.id) if s.status == "held"}
    assert live == set(owner)
