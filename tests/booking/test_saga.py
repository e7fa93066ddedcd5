"""The checkout saga against the real PostgreSQL and the payment simulator over HTTP.

One test per failure point, each checking the compensation: what the provider's ledger holds,
what the seats and the order say, and what the durable saga log recorded.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cairn.booking.errors import (
    CheckoutFailed,
    HoldLost,
    InvalidState,
    NotFound,
    PaymentDeclined,
    PaymentUnavailable,
)
from cairn.booking.model import User
from cairn.booking.service import BookingService

from .conftest import Sim, Stage, make_stage


@pytest.fixture
def world(svc: BookingService, sim: Sim) -> Iterator[Stage]:
    sim.reset()
    svc.sagas.hook = None
    yield make_stage(svc.db)
    svc.sagas.hook = None


def _user(stage: Stage, i: int) -> User:
    return stage.users[i]


def _seats(svc: BookingService, stage: Stage) -> dict[int, str]:
    return {s.seat_id: s.status for s in svc.seat_map(stage.event.id)}


def _steps(svc: BookingService, order_id: str) -> list[tuple[str, str, str]]:
    saga = svc.sagas.saga_for(order_id)
    assert saga is not None
    return [(step, action, outcome) for step, action, outcome, _ in svc.sagas.log(saga)]


def _order_for_hold(svc: BookingService, hold_id: str) -> str:
    with svc.db.pool.connection() as conn:
        row = conn.execute("SELECT id FROM orders WHERE hold_id = %s", (hold_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_happy_path_pays_once_and_issues_one_ticket_per_seat(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 0)
    seats = world.seat_ids["A"][:2]
    hold = svc.hold(u, world.event.id, seat_ids=seats)
    order = svc.checkout(u, hold.id)
    assert order.status == "paid" and len(order.tickets) == 2
    assert order.amount_cents == 2 * 9000
    assert sim.ledger()["captured_cents"] == 18000
    assert [_seats(svc, world)[s] for s in seats] == ["sold", "sold"]
    assert _steps(svc, order.id) == [
        ("begun", "do", "ok"),
        ("authorized", "do", "ok"),
        ("confirmed", "do", "ok"),
        ("captured", "do", "ok"),
        ("done", "do", "ok"),
    ]
    # the hold is spent: a second checkout of it is refused, nothing charged again
    with pytest.raises(InvalidState):
        svc.checkout(u, hold.id)
    assert sim.ledger()["captured_cents"] == 18000


def test_decline_releases_the_seats_and_charges_nothing(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 0)
    seat = world.seat_ids["A"][0]
    sim.faults(script=[{"op": "authorize", "fault": "decline"}])
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    with pytest.raises(PaymentDeclined):
        svc.checkout(u, hold.id)
    order_id = _order_for_hold(svc, hold.id)
    assert svc.get_order(u, order_id).status == "failed"
    assert svc.get_hold(u, hold.id).status == "released"
    assert _seats(svc, world)[seat] == "free"
    assert sim.ledger()["by_status"] == {}
    assert ("released", "undo", "ok") in _steps(svc, order_id)


def test_authorize_without_answer_is_resolved_and_voided(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """Two 5xx answers (the client gives up), then the compensation re-sends the same key:
    the provider now performs it, so the saga learns of the authorization and voids it."""
    u = _user(world, 1)
    seat = world.seat_ids["A"][1]
    sim.faults(script=[{"op": "authorize", "fault": "error"}] * 2)
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    with pytest.raises(CheckoutFailed, match="payment_unavailable"):
        svc.checkout(u, hold.id)
    assert sim.ledger()["by_status"] == {"voided": 1}
    assert _seats(svc, world)[seat] == "free"


def test_authorize_timeout_then_retry_replays_one_authorization(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """The provider performs the authorization but the answer is lost (timeout); the retry
    with the same idempotency key gets the stored answer: one authorization, one capture."""
    u = _user(world, 1)
    sim.faults(script=[{"op": "authorize", "fault": "timeout"}], hang_s=1.0)
    hold = svc.hold(u, world.event.id, seat_ids=[world.seat_ids["B"][0]])
    order = svc.checkout(u, hold.id)
    assert order.status == "paid"
    ledger = sim.ledger()
    assert ledger["by_status"] == {"captured": 1}
    assert ledger["counts"]["authorize_replays"] >= 1
    assert svc.payments.stats.snapshot()["timeouts"] >= 1


def test_slow_provider_answers_within_the_timeout_are_waited_for_not_retried(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """Slow answers (300 ms against a 500 ms client timeout) on authorize and capture: the
    checkout takes longer but sends each call once, and pays once."""
    u = _user(world, 3)
    sim.faults(
        script=[{"op": "authorize", "fault": "slow"}, {"op": "capture", "fault": "slow"}],
        slow_ms=300,
    )
    hold = svc.hold(u, world.event.id, seat_ids=[world.seat_ids["B"][5]])
    retries_before = svc.payments.stats.snapshot()["retries"]
    started = time.monotonic()
    order = svc.checkout(u, hold.id)
    assert time.monotonic() - started >= 0.6
    assert order.status == "paid"
    ledger = sim.ledger()
    assert ledger["by_status"] == {"captured": 1}
    assert ledger["counts"]["fault_slow"] == 2
    assert ledger["counts"]["authorize_requests"] == ledger["counts"]["capture_requests"] == 1
    assert svc.payments.stats.snapshot()["retries"] == retries_before


def test_hold_expiring_during_payment_voids_the_authorization(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """The hold runs out while the payment is being authorized (time is moved forward by
    back-dating the expiry at that exact point): the pivot refuses, the authorization is
    voided and nobody gets the seat through this order."""
    u = _user(world, 2)
    seat = world.seat_ids["B"][1]
    hold = svc.hold(u, world.event.id, seat_ids=[seat])

    def expire(point: str, saga_id: str) -> None:
        if point == "running:authorized":
            with svc.db.pool.connection() as conn:
                past = "CURRENT_TIMESTAMP - INTERVAL '1 second'"
                conn.execute(f"UPDATE holds SET expires_at = {past} WHERE id = %s", (hold.id,))
                conn.execute(
                    f"UPDATE event_seats SET hold_expires_at = {past} WHERE hold_id = %s",
                    (hold.id,),
                )

    svc.sagas.hook = expire
    with pytest.raises(HoldLost):
        svc.checkout(u, hold.id)
    assert sim.ledger()["by_status"] == {"voided": 1}
    assert _seats(svc, world)[seat] == "free"


def test_hold_released_and_resold_during_payment_never_double_sells(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """Between authorize and confirm the user releases the hold and another user takes the
    seat: the confirm step (pivot) finds the seat is no longer ours and compensates."""
    u, other = _user(world, 0), _user(world, 3)
    seat = world.seat_ids["B"][2]
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    stolen: list[str] = []

    def steal(point: str, saga_id: str) -> None:
        if point == "running:authorized":
            svc.release(u, hold.id)
            stolen.append(svc.hold(other, world.event.id, seat_ids=[seat]).id)

    svc.sagas.hook = steal
    with pytest.raises(HoldLost):
        svc.checkout(u, hold.id)
    assert svc.get_hold(other, stolen[0]).status == "active"
    assert _seats(svc, world)[seat] == "held"
    assert sim.ledger()["by_status"] == {"voided": 1}


def test_capture_without_answer_waits_then_recovery_completes(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 0)
    seat = world.seat_ids["A"][3]
    sim.faults(script=[{"op": "capture", "fault": "error"}] * 2)
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    with pytest.raises(PaymentUnavailable):
        svc.checkout(u, hold.id)
    order_id = _order_for_hold(svc, hold.id)
    assert svc.get_order(u, order_id).status == "pending"
    assert _seats(svc, world)[seat] == "sold"  # past the point of no return: kept
    time.sleep(svc.config.saga_retry_after_s + 0.1)
    assert svc.sagas.recover_once() >= 1
    order = svc.get_order(u, order_id)
    assert order.status == "paid" and len(order.tickets) == 1
    assert sim.ledger()["captured_cents"] == 9000
    assert ("captured", "do", "retry") in _steps(svc, order_id)


def test_capture_refused_unsells_voids_and_releases(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 1)
    seats = world.seat_ids["A"][4:6]
    sim.faults(script=[{"op": "capture", "fault": "decline"}])
    hold = svc.hold(u, world.event.id, seat_ids=seats)
    with pytest.raises(CheckoutFailed, match="capture_refused"):
        svc.checkout(u, hold.id)
    assert [_seats(svc, world)[s] for s in seats] == ["free", "free"]
    assert sim.ledger()["by_status"] == {"voided": 1}
    steps = _steps(svc, _order_for_hold(svc, hold.id))
    assert [s for s in steps if s[1] == "undo"] == [
        ("authorized", "undo", "ok"),
        ("no_auth", "undo", "ok"),
        ("released", "undo", "ok"),
    ]


def test_void_without_answer_waits_then_recovery_finishes_the_compensation(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """A compensation step can fail too: the capture is refused, the seats are un-sold, and
    the void gets no answer. The saga waits (order pending, seats free, hold not released
    yet); the recovery worker re-sends the void with the same key and finishes backwards."""
    u = _user(world, 3)
    seat = world.seat_ids["B"][6]
    sim.faults(
        script=[{"op": "capture", "fault": "decline"}] + [{"op": "void", "fault": "error"}] * 2
    )
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    with pytest.raises(PaymentUnavailable):
        svc.checkout(u, hold.id)
    order_id = _order_for_hold(svc, hold.id)
    assert svc.get_order(u, order_id).status == "pending"
    assert _seats(svc, world)[seat] == "free"  # un-sold before the void was tried
    assert sim.ledger()["by_status"] == {"authorized": 1}
    time.sleep(svc.config.saga_retry_after_s + 0.1)
    assert svc.sagas.recover_once() >= 1
    order = svc.get_order(u, order_id)
    assert order.status == "failed" and order.failure is not None
    assert order.failure.startswith("capture_refused")
    assert sim.ledger()["by_status"] == {"voided": 1}
    assert svc.get_hold(u, hold.id).status == "released"
    assert [s for s in _steps(svc, order_id) if s[1] == "undo"] == [
        ("authorized", "undo", "ok"),
        ("authorized", "undo", "retry"),
        ("no_auth", "undo", "ok"),
        ("released", "undo", "ok"),
    ]


@contextlib.contextmanager
def _ticket_taken_after_capture(
    svc: BookingService, world: Stage, seat: int, then: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Right after the capture, an intruder's valid ticket appears for the seat, so the
    unique index refuses the saga's ticket; ``then`` runs at that point too. The intruder
    ticket is deleted on the way out."""
    ticket_id = f"intruder-{seat}"

    def intrude(point: str, saga_id: str) -> None:
        if point == "running:captured":
            then()
            order_id = svc.sagas.load(saga_id).order_id
            with svc.db.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO tickets (id, order_id, event_id, seat_id, price_cents, status) "
                    "VALUES (%s, %s, %s, %s, 1, 'valid')",
                    (ticket_id, order_id, world.event.id, seat),
                )

    svc.sagas.hook = intrude
    try:
        yield
    finally:
        svc.sagas.hook = None
        with svc.db.pool.connection() as conn:
            conn.execute("DELETE FROM tickets WHERE id = %s", (ticket_id,))


def test_refund_without_answer_after_ticket_failure_is_retried_by_recovery(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """The tickets cannot be issued and the refund that compensates the capture gets no
    answer: the saga keeps the seat sold and retries the refund later, then un-sells."""
    u = _user(world, 1)
    seat = world.seat_ids["B"][8]
    hold = svc.hold(u, world.event.id, seat_ids=[seat])

    def refund_unanswered() -> None:
        sim.faults(script=[{"op": "refund", "fault": "error"}] * 2)

    with _ticket_taken_after_capture(svc, world, seat, refund_unanswered):
        with pytest.raises(PaymentUnavailable):
            svc.checkout(u, hold.id)
        order_id = _order_for_hold(svc, hold.id)
        assert _seats(svc, world)[seat] == "sold"  # nothing given back before the refund
        assert sim.ledger()["refunded_cents"] == 0
        svc.sagas.hook = None
        time.sleep(svc.config.saga_retry_after_s + 0.1)
        assert svc.sagas.recover_once() >= 1
    ledger = sim.ledger()
    assert ledger["captured_cents"] == ledger["refunded_cents"] == 5000  # one silver seat
    assert svc.get_order(u, order_id).status == "failed"
    assert _seats(svc, world)[seat] == "free"
    assert ("captured", "undo", "retry") in _steps(svc, order_id)


def test_ticket_issue_failure_refunds_the_capture(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    """The unique index on valid tickets is the last line of defence; when it refuses, the
    saga refunds the captured money and frees the seats."""
    u = _user(world, 2)
    seat = world.seat_ids["A"][6]
    hold = svc.hold(u, world.event.id, seat_ids=[seat])
    with (
        _ticket_taken_after_capture(svc, world, seat),
        pytest.raises(CheckoutFailed, match="tickets_failed"),
    ):
        svc.checkout(u, hold.id)
    ledger = sim.ledger()
    assert ledger["captured_cents"] == ledger["refunded_cents"] == 9000
    assert _seats(svc, world)[seat] == "free"


def test_cancel_refunds_voids_tickets_and_frees_seats(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u, other = _user(world, 3), _user(world, 0)
    seat = world.seat_ids["A"][7]
    order = svc.checkout(u, svc.hold(u, world.event.id, seat_ids=[seat]).id)
    with pytest.raises(NotFound):
        svc.cancel_order(other, order.id)
    sim.faults(script=[{"op": "refund", "fault": "error"}] * 2)
    with pytest.raises(PaymentUnavailable):
        svc.cancel_order(u, order.id)
    assert svc.get_order(u, order.id).status == "cancelling"
    assert _seats(svc, world)[seat] == "sold"
    time.sleep(svc.config.saga_retry_after_s + 0.1)
    svc.sagas.recover_once()
    done = svc.get_order(u, order.id)
    assert done.status == "refunded" and done.tickets == ()
    assert _seats(svc, world)[seat] == "free"
    assert sim.ledger()["net_captured_cents"] == 0
    with pytest.raises(InvalidState):
        svc.cancel_order(u, order.id)


def test_cancel_with_refund_refused_keeps_the_order_paid(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 2)
    seat = world.seat_ids["B"][9]
    order = svc.checkout(u, svc.hold(u, world.event.id, seat_ids=[seat]).id)
    sim.faults(script=[{"op": "refund", "fault": "decline"}])
    with pytest.raises(CheckoutFailed, match="refund refused"):
        svc.cancel_order(u, order.id)
    kept = svc.get_order(u, order.id)
    assert kept.status == "paid" and kept.tickets == order.tickets
    assert _seats(svc, world)[seat] == "sold"
    assert sim.ledger()["by_status"] == {"captured": 1}
    cancel = svc.sagas.saga_for(order.id, "cancel")
    assert cancel is not None
    assert [(a, b, c) for a, b, c, _ in svc.sagas.log(cancel)] == [
        ("begun", "do", "ok"),
        ("aborted", "do", "failed"),
    ]


def test_other_users_cannot_check_out_or_read(svc: BookingService, world: Stage) -> None:
    u, other = _user(world, 0), _user(world, 1)
    hold = svc.hold(u, world.event.id, seat_ids=[world.seat_ids["B"][3]])
    with pytest.raises(NotFound):
        svc.checkout(other, hold.id)
    order = svc.checkout(u, hold.id)
    with pytest.raises(NotFound):
        svc.get_order(other, order.id)
    assert [o.id for o in svc.list_orders(other)] == []
    assert order.id in [o.id for o in svc.list_orders(u)]


def test_concurrent_checkouts_of_one_hold_charge_once(
    svc: BookingService, sim: Sim, world: Stage
) -> None:
    u = _user(world, 2)
    hold = svc.hold(u, world.event.id, seat_ids=[world.seat_ids["B"][4]])
    barrier = threading.Barrier(6)
    results: list[str] = []
    lock = threading.Lock()

    def go() -> None:
        barrier.wait()
        try:
            svc.checkout(u, hold.id)
            out = "paid"
        except InvalidState:
            out = "refused"
        with lock:
            results.append(out)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["paid"] + ["refused"] * 5
    assert sim.ledger()["by_status"] == {"captured": 1}
