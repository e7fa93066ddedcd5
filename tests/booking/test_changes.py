"""Live seat changes: NOTIFY in the writing transaction, delivered at commit, never on rollback."""

from __future__ import annotations

import asyncio
import time

import pytest

from cairn.booking.changes import CHANNEL, SeatChange, SeatChangeListener, listen_async
from cairn.booking.errors import SeatUnavailable
from cairn.booking.expiry import ExpiryWorker
from cairn.booking.service import BookingService

from .conftest import DSN, Sim, make_stage


def _drain(listener: SeatChangeListener, want: int, timeout: float = 3.0) -> list[SeatChange]:
    got: list[SeatChange] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got.extend(listener.changes(timeout=0.2))
    return got


def test_every_seat_state_change_is_published(svc: BookingService, sim: Sim) -> None:
    sim.reset()
    stage = make_stage(svc.db)
    u, other = stage.users[0], stage.users[1]
    a = stage.seat_ids["A"]
    with SeatChangeListener(DSN, svc.db.schema, stage.event.id) as listener:
        h1 = svc.hold(u, stage.event.id, seat_ids=a[0:2])
        with pytest.raises(SeatUnavailable):  # rolled back: must not be announced
            svc.hold(other, stage.event.id, seat_ids=[a[1], a[2]])
        svc.release(u, h1.id)
        h2 = svc.hold(u, stage.event.id, seat_ids=[a[3]], ttl_ms=1)
        time.sleep(0.01)
        ExpiryWorker(svc.db).drain()
        order = svc.checkout(u, svc.hold(u, stage.event.id, seat_ids=[a[4]]).id)
        svc.cancel_order(u, order.id)
        got = _drain(listener, 6)
    assert [(c.kind, c.state, c.seat_ids) for c in got] == [
        ("held", "held", (a[0], a[1])),
        ("released", "free", (a[0], a[1])),
        ("held", "held", (a[3],)),
        ("expired", "free", (a[3],)),
        ("held", "held", (a[4],)),
        ("sold", "sold", (a[4],)),
        ("refunded", "free", (a[4],)),
    ][: len(got)]
    assert len(got) == 7
    assert got[0].hold_id == h1.id and got[3].hold_id == h2.id
    assert got[5].order_id == order.id and all(c.schema == svc.db.schema for c in got)


def test_listener_filters_other_events(svc: BookingService) -> None:
    one, two = make_stage(svc.db), make_stage(svc.db)
    with SeatChangeListener(DSN, svc.db.schema, two.event.id) as listener:
        svc.hold(one.users[0], one.event.id, seat_ids=[one.seat_ids["A"][0]])
        svc.hold(two.users[0], two.event.id, seat_ids=[two.seat_ids["B"][0]])
        got = _drain(listener, 1)
        assert list(listener.changes(timeout=0.2)) == []
    assert [c.event_id for c in got] == [two.event.id]
    assert CHANNEL == "booking_seats"


def test_async_subscriber_yields_changes(svc: BookingService) -> None:
    stage = make_stage(svc.db)

    async def main() -> SeatChange:
        gen = listen_async(DSN, svc.db.schema, stage.event.id)
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.3)  # let LISTEN take effect
        await asyncio.to_thread(
            svc.hold, stage.users[0], stage.event.id, seat_ids=[stage.seat_ids["A"][0]]
        )
        change = await asyncio.wait_for(first, 5)
        await gen.aclose()
        return change

    change = asyncio.run(main())
    assert change.kind == "held" and change.seat_ids == (stage.seat_ids["A"][0],)
