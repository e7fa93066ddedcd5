"""The deterministic agent: intent routing, and the booking flow end to end over HTTP on
the real booking service (PostgreSQL schema of its own, payments simulator, seeded hall)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cairn.a2ui.agent.booking_tools import check_checkout_form, luhn_ok, pick_together
from cairn.a2ui.agent.router import route
from cairn.booking.model import SeatState
from tests.a2ui.conftest import (
    LiveServer,
    SseCollector,
    a2ui_of,
    action,
    jsonl_turn,
    texts_of,
)


@pytest.mark.parametrize("text,intent,extra", [
    ("show me seats for Friday's concert", "show_seats", {"weekday": 4}),
    ("two seats together in the balcony", "hold_seats", {"count": 2, "together": True}),
    ("what did I book?", "my_orders", {}),
    ("my orders", "my_orders", {}),
    ("list events", "list_events", {}),
    ("what's on?", "list_events", {}),
    ("I need 3 seats in the stalls", "hold_seats", {"count": 3, "together": False}),
    ("seats for event 12", "show_seats", {"event_id": 12}),
    ("release my seats", "release", {}),
    ("checkout", "checkout", {}),
    ("help", "help", {}),
    ("asdf qwerty", "unknown", {}),
])
def test_router(text: str, intent: str, extra: dict[str, Any]) -> None:
    got = route(text)
    assert got.name == intent
    for k, v in extra.items():
        assert getattr(got, k) == v


def test_form_checks_and_luhn() -> None:
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")
    assert check_checkout_form("Ada", "ada@example.org", "4242 4242 4242 4242") == []
    problems = check_checkout_form("", "not-an-email", "1234")
    assert len(problems) == 3
    assert check_checkout_form("<script>", "a@b.co", 42)  # wrong type: refused, no crash


def test_pick_together_prefers_adjacent_seats() -> None:
    def seat(i: int, row: str, n: int, status: str = "free") -> SeatState:
        return SeatState(i, "Balcony", row, n, "b", 100, status)

    seats = [seat(1, "B1", 1), seat(2, "B1", 2, "held"), seat(3, "B1", 3), seat(4, "B1", 4),
             seat(5, "B2", 1, "sold")]
    assert pick_together(seats, "Balcony", 2) == [3, 4]
    assert pick_together(seats, "Balcony", 3) is None
    assert pick_together(seats, "Stalls", 1) is None


def test_a_change_already_shown_is_not_sent_again(validator: Any) -> None:
    """The live fan-out skips seats whose status the session's map already shows (the holder's
    own ``mine`` arrives before its NOTIFY), and sends each real change once."""
    from cairn.a2ui import builder as b
    from cairn.a2ui.agent import surfaces as S
    from cairn.a2ui.agent.core import DeterministicAgent
    from cairn.a2ui.session import Session

    session = Session("a" * 43, validator)
    session.emit_all(S.seat_map())
    session.emit(b.data(S.SEATS, "/seats", [
        {"id": str(i), "section": "Stalls", "row": "A", "number": i, "tier": "a",
         "price": 10.0, "status": "free"} for i in (11, 12, 13)]))
    session.state["seatmap"] = {"event_id": 7, "index": {11: 0, 12: 1, 13: 2}}
    session.state["holds"] = {"h1": {11, 12}}
    agent = DeterministicAgent(sessions=lambda: [session])
    before = session.seq
    agent.apply_change(7, (11, 12), "held", "h1")
    agent.apply_change(7, (11, 12), "held", "h1")  # the same change again: nothing to send
    agent.apply_change(8, (13,), "held", None)  # another event: not this map
    agent.apply_change(7, (12, 13), "held", None)  # someone else's hold
    sent = [json.loads(ev.json)["updateDataModel"] for ev in list(session.log)
            if isinstance(ev.seq, int) and ev.seq > before]
    assert [(u["path"], u["value"]) for u in sent] == [
        ("/seats/0/status", "mine"), ("/seats/1/status", "mine"),
        ("/seats/1/status", "held"), ("/seats/2/status", "held")]


def surface_data(lines: list[dict[str, Any]], sid: str, path: str) -> Any:
    for m in a2ui_of(lines):
        u = m.get("updateDataModel")
        if u and u["surfaceId"] == sid and u.get("path") == path:
            return u["value"]
    raise AssertionError(f"no update of {sid}{path}")


@pytest.fixture(scope="module")
def srv(booking_server: tuple[LiveServer, Any]) -> LiveServer:
    return booking_server[0]


def test_list_events(srv: LiveServer) -> None:
    with srv.client() as c:
        lines = jsonl_turn(c, {"text": "list events"})
        events = surface_data(lines, "events", "/events")
        assert {e["name"] for e in events} == {"Friday Night Concert", "Saturday Jazz Matinee",
                                               "Sunday Symphony"}
        assert "There are 3 upcoming events." in texts_of(lines)


def test_seat_map_streams_layout_first(srv: LiveServer) -> None:
    with srv.client() as c:
        lines = jsonl_turn(c, {"text": "show me seats for Friday's concert"})
        msgs = a2ui_of(lines)
        assert "createSurface" in msgs[0] and "updateComponents" in msgs[1]
        assert msgs[1]["updateComponents"]["components"][0]["id"] == "root"
        assert surface_data(lines, "seats", "/event")["name"] == "Friday Night Concert"
        seats = surface_data(lines, "seats", "/seats")
        assert len(seats) == 2000
        assert set(seats[0]) == {"id", "section", "row", "number", "tier", "price", "status"}
        # the title data precedes the 2,000 seats: the page shows something at once
        order = [m["updateDataModel"]["path"] for m in msgs if "updateDataModel" in m]
        assert order.index("/event") < order.index("/seats")


def test_booking_flow_with_live_updates(srv: LiveServer) -> None:
    with srv.client() as a, srv.client() as b:
        jsonl_turn(b, {"text": "seats for friday"})
        watch = SseCollector(b, last_id="999999")  # B's open seat map, live
        try:
            jsonl_turn(a, {"text": "show me seats for Friday's concert"})
            t0 = time.monotonic()
            lines = jsonl_turn(a, {"text": "two seats together in the balcony"})
            seats_a = {m["updateDataModel"]["path"]: m["updateDataModel"]["value"]
                       for m in a2ui_of(lines) if "updateDataModel" in m
                       and m["updateDataModel"]["surfaceId"] == "seats"}
            mine = [p for p, v in seats_a.items() if v == "mine"]
            assert len(mine) == 2
            # B sees both seats held (not 'mine': they are A's), by data updates only
            for p in mine:
                watch.wait_for(lambda m, p=p: m.get("updateDataModel", {}).get("path") == p
                               and m["updateDataModel"]["value"] == "held", timeout=5)
            assert time.monotonic() - t0 < 5
            first_live = next(i for i, e in enumerate(watch.events) if e["id"].isdigit()) + 1
            live = watch.events[first_live:]
            assert live and not [e for e in live if "updateComponents" in e["json"]]
            # One small message per seat and nothing else (the SeatMap counts statuses
            # itself): a hold costs each watching browser one update of one seat.
            assert sorted(e["json"]["updateDataModel"]["path"] for e in live
                          if e["event"] == "a2ui") == sorted(mine)
            hold = surface_data(lines, "hold", "/")["hold"]
            assert hold["seats"].startswith("Seats: Balcony")
            rows = {s.split("-")[0] for s in hold["seats"][len("Seats: "):].split(", ")}
            assert len(rows) == 1  # together: one row

            # the countdown ticks
            ticks = SseCollector(a, last_id="999999", deadline_s=5)
            ticks.wait_for(lambda m: m.get("updateDataModel", {}).get("path")
                           == "/hold/remaining", timeout=3)
            ticks.stop()

            # B cannot act on A's hold surface
            r = b.post("/a2ui/send", json=action("hold", "pay_btn", "pay", {
                "holdId": hold["id"], "name": "Eve", "email": "e@x.org",
                "card": "4242424242424242"}))
            assert r.status_code == 404

            # bad form: clear problems, no order
            bad = jsonl_turn(a, action("hold", "pay_btn", "pay", {
                "holdId": hold["id"], "name": "", "email": "nope", "card": "1234"}))
            assert "valid email" in surface_data(bad, "hold", "/form/problems")

            good = jsonl_turn(a, action("hold", "pay_btn", "pay", {
                "holdId": hold["id"], "name": "Ada", "email": "ada@example.org",
                "card": "4242 4242 4242 4242"}))
            tickets = surface_data(good, "confirmation", "/")["tickets"]
            assert len(tickets) == 2
            assert any("deleteSurface" in m and m["deleteSurface"]["surfaceId"] == "hold"
                       for m in a2ui_of(good))
            for p in mine:
                watch.wait_for(lambda m, p=p: m.get("updateDataModel", {}).get("path") == p
                               and m["updateDataModel"]["value"] == "sold", timeout=5)

            orders = jsonl_turn(a, {"text": "what did I book?"})
            rows_ = surface_data(orders, "orders", "/orders")
            assert len(rows_) == 1 and rows_[0]["status"] == "paid"
            assert rows_[0]["event"] == "Friday Night Concert"
            assert rows_[0]["seats"] == "2 seats, 2 tickets"
            code = rows_[0]["code"]  # a short code a person can read out, not the UUID
            assert len(code) == 8 and code == rows_[0]["id"].replace("-", "")[:8].upper()
            assert any("1 order." in t for t in texts_of(orders))  # not "1 orders"
            summary = surface_data(good, "confirmation", "/")["summary"]
            assert f"(order {code})" in summary and rows_[0]["id"] not in summary
            # B has booked nothing
            assert surface_data(jsonl_turn(b, {"text": "my orders"}), "orders",
                                "/orders") == []
        finally:
            watch.stop()


def test_second_hold_updates_the_form_in_place(booking_server: tuple[LiveServer, Any]) -> None:
    """A hold made from the open seat map labels its seats from the map's data (no second
    read of the event's 2,000 seats), and a form already on screen only gets new data."""
    srv, running = booking_server
    reads: list[int] = []
    tools = running.booking
    original = tools.seat_map

    def counting(event_id: int) -> Any:
        reads.append(event_id)
        return original(event_id)

    with srv.client() as a:
        lines = jsonl_turn(a, {"text": "seats for the sunday symphony"})
        seats = surface_data(lines, "seats", "/seats")
        event_id = surface_data(lines, "seats", "/event")["id"]
        free = [s for s in seats if s["status"] == "free"]
        tools.seat_map = counting  # type: ignore[method-assign]
        try:
            first = jsonl_turn(a, action("seats", "hold_btn", "hold",
                                         {"eventId": event_id, "seats": [free[0]["id"]]}))
            second = jsonl_turn(a, action("seats", "hold_btn", "hold",
                                          {"eventId": event_id, "seats": [free[1]["id"]]}))
        finally:
            del tools.seat_map
        assert reads == []
        assert "hold" in [m["createSurface"]["surfaceId"] for m in a2ui_of(first)
                          if "createSurface" in m]
        kinds = [k for m in a2ui_of(second) for k in m if k != "version"
                 and m[k]["surfaceId"] == "hold"]
        assert kinds == ["updateDataModel"]  # no delete, create or components
        hold = surface_data(second, "hold", "/")["hold"]
        s = free[1]
        assert hold["seats"] == f"Seats: {s['section']} {s['row']}-{s['number']}"
        assert hold["total"] == f"€{s['price']:,.2f}"
        sid = a.cookies["cairn_session"]
        assert srv.app.state.store.sessions[sid].surfaces["hold"].data["hold"]["id"] == \
            hold["id"]


def test_hold_selected_and_release(srv: LiveServer) -> None:
    with srv.client() as a:
        lines = jsonl_turn(a, {"text": "seats for the sunday symphony"})
        seats = surface_data(lines, "seats", "/seats")
        event_id = surface_data(lines, "seats", "/event")["id"]
        free = [s["id"] for s in seats if s["status"] == "free"][:3]
        held = jsonl_turn(a, action("seats", "hold_btn", "hold",
                                    {"eventId": event_id, "seats": free}))
        hold = surface_data(held, "hold", "/")["hold"]
        assert hold["seats"].count(",") == 2
        rel = jsonl_turn(a, action("hold", "release_btn", "release", {"holdId": hold["id"]}))
        assert "Released" in " ".join(texts_of(rel))
        again = jsonl_turn(a, {"text": "seats for the sunday symphony"})
        status = {s["id"]: s["status"] for s in surface_data(again, "seats", "/seats")}
        assert all(status[i] == "free" for i in free)


def test_conflicting_hold_is_reported(srv: LiveServer) -> None:
    with srv.client() as a, srv.client() as b:
        la = jsonl_turn(a, {"text": "seats for saturday"})
        jsonl_turn(b, {"text": "seats for saturday"})
        event_id = surface_data(la, "seats", "/event")["id"]
        seat = next(s["id"] for s in surface_data(la, "seats", "/seats")
                    if s["status"] == "free")
        jsonl_turn(a, action("seats", "hold_btn", "hold", {"eventId": event_id,
                                                           "seats": [seat]}))
        lb = jsonl_turn(b, action("seats", "hold_btn", "hold", {"eventId": event_id,
                                                                "seats": [seat]}))
        assert any("could not be held" in t for t in texts_of(lb))
        assert "hold" not in [m["createSurface"]["surfaceId"] for m in a2ui_of(lb)
                              if "createSurface" in m]


def test_any_seats_in_a_section(srv: LiveServer) -> None:
    with srv.client() as c:
        jsonl_turn(c, {"text": "seats for the saturday matinee"})
        lines = jsonl_turn(c, {"text": "I need 3 seats in the circle"})
        hold = surface_data(lines, "hold", "/")["hold"]
        seats = hold["seats"][len("Seats: "):].split(", ")
        assert len(seats) == 3 and all(s.startswith("Circle ") for s in seats)


def test_cheapest_and_price_limits_choose_the_section(srv: LiveServer) -> None:
    """The seeded hall: Balcony €45, Circle €65, Stalls €90."""
    with srv.client() as c:
        jsonl_turn(c, {"text": "seats for friday"})
        lines = jsonl_turn(c, {"text": "two of the cheapest seats"})
        seats = surface_data(lines, "hold", "/")["hold"]["seats"][len("Seats: "):].split(", ")
        assert len(seats) == 2 and all(s.startswith("Balcony ") for s in seats)
        lines = jsonl_turn(c, {"text": "release"})
        lines = jsonl_turn(c, {"text": "2 seats under 30"})
        assert any("Nothing at €30.00 or less" in t and "Balcony at €45.00" in t
                   for t in texts_of(lines))


def test_what_events_are_on_and_cancel_lead_somewhere(srv: LiveServer) -> None:
    with srv.client() as c:
        lines = jsonl_turn(c, {"text": "what events are on?"})
        assert any("upcoming events" in t for t in texts_of(lines))
        lines = jsonl_turn(c, {"text": "I want a refund"})
        assert any("Cancel and refund" in t for t in texts_of(lines))
        assert any("createSurface" in m and m["createSurface"]["surfaceId"] == "orders"
                   for m in a2ui_of(lines))


@pytest.mark.parametrize("text,needle", [
    ("seats for tuesday", "no event on a Tuesday"),
    ("two seats together in the box", "no such section"),
    ("blorp", "did not catch that"),
    ("blorp", "What events are on?"),
])
def test_unhappy_requests(srv: LiveServer, text: str, needle: str) -> None:
    with srv.client() as c:
        jsonl_turn(c, {"text": "seats for friday"})
        assert any(needle in t for t in texts_of(jsonl_turn(c, {"text": text})))


def test_action_context_garbage_is_handled(srv: LiveServer) -> None:
    with srv.client() as c:
        lines = jsonl_turn(c, {"text": "seats for friday"})
        event_id = surface_data(lines, "seats", "/event")["id"]
        for ctx in ({"eventId": event_id, "seats": ["x", None]},
                    {"eventId": "'; DROP TABLE events; --", "seats": ["1"]},
                    {"eventId": event_id, "seats": [str(i) for i in range(50)]},
                    {"eventId": 1e300, "seats": "all"}):
            out = jsonl_turn(c, action("seats", "hold_btn", "hold", ctx))
            assert texts_of(out), ctx
            assert not any("createSurface" in m and m["createSurface"]["surfaceId"] == "hold"
                           for m in a2ui_of(out))


def test_templates_resolve_to_the_intended_values(srv: LiveServer) -> None:
    """Each 'Show seats' button of the events list sends that event's id (item scope)."""
    from cairn.a2ui import pointer

    with srv.client() as c:
        lines = jsonl_turn(c, {"text": "list events"})
        comps = {x["id"]: x for m in a2ui_of(lines) if "updateComponents" in m
                 for x in m["updateComponents"]["components"]}
        events = surface_data(lines, "events", "/events")
        data = {"events": events}
        tpl = comps["list"]["children"]
        ctx = comps[comps[tpl["componentId"]]["child"]]  # card -> row
        btn = comps["event_btn"]["action"]["event"]["context"]
        sent = [pointer.resolve_value(btn, data, s)
                for s in pointer.template_scopes(data, tpl["path"])]
        assert [x["eventId"] for x in sent] == [e["id"] for e in events]
        assert ctx["component"] == "Row"


def test_client_data_model_of_the_checkout_form_is_kept(
        booking_server: tuple[LiveServer, Any]) -> None:
    srv, _running = booking_server
    with srv.client() as c:
        jsonl_turn(c, {"text": "seats for friday"})
        jsonl_turn(c, {"text": "one seat in the balcony"})
        model = {"form": {"name": "Ada", "email": "a@b.co", "card": ""}}
        r = c.post("/a2ui/send", json={"text": "checkout", "a2uiClientDataModel": {
            "version": "v0.9", "surfaces": {"hold": model}}})
        assert r.status_code == 202
        sid = c.cookies["cairn_session"]
        session = srv.app.state.store.sessions[sid]
        assert session.client_data["hold"] == model
        assert session.surfaces["hold"].send_data_model


def test_listener_loss_is_healed_by_a_resync(booking_server: tuple[LiveServer, Any]) -> None:
    """Fault injection: kill the agent's LISTEN connection, change seats while it is gone
    (those NOTIFYs are lost), and the open seat map still converges after the reconnect."""
    import psycopg

    from cairn.a2ui.agent.core import listener_name
    from tests.a2ui.conftest import DSN

    srv, running = booking_server
    agent = srv.app.state.agent
    with srv.client() as b:
        lb = jsonl_turn(b, {"text": "seats for the sunday symphony"})
        event_id = int(surface_data(lb, "seats", "/event")["id"])
        watch = SseCollector(b, last_id="999999")
        try:
            with psycopg.connect(DSN, autocommit=True) as conn:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (listener_name(running.booking.schema),)).fetchall()
                assert killed
                # While the listener is down, another user holds seats directly.
                svc = running.booking.service
                seats = [s for s in svc.seat_map(event_id) if s.status == "free"][:2]
                user = running.booking.user_for("x" * 43)
                svc.hold(user, event_id, seat_ids=[s.seat_id for s in seats])
            index = {s["id"]: i for i, s in enumerate(surface_data(lb, "seats", "/seats"))}
            for s in seats:
                p = f"/seats/{index[str(s.seat_id)]}/status"
                watch.wait_for(lambda m, p=p: m.get("updateDataModel", {}).get("path") == p
                               and m["updateDataModel"]["value"] == "held", timeout=15)
            assert agent.reconnects >= 1
        finally:
            watch.stop()


def test_first_screen_shows_chips_and_event_cards_without_typing(srv: LiveServer) -> None:
    """Opening the console (its first stream) fills the screen: suggestion chips and the
    seeded events as cards; a chip sends its text as if typed. A resumed stream does not
    repeat it."""
    from cairn.a2ui.agent.router import SUGGESTIONS

    with srv.client() as c:
        c.get("/")  # the page: the session cookie
        first = SseCollector(c)
        try:
            first.wait_for(lambda m: m.get("createSurface", {}).get("surfaceId") == "welcome")
            cards = first.wait_for(lambda m: m.get("updateDataModel", {}).get("path")
                                   == "/events")
            assert len(cards["json"]["updateDataModel"]["value"]) == 3
        finally:
            first.stop()
        lines = jsonl_turn(c, action("welcome", "chip0", "suggest", {"text": SUGGESTIONS[0]}))
        assert any("upcoming events" in t for t in texts_of(lines))
        forged = jsonl_turn(c, action("welcome", "chip0", "suggest", {"text": "DROP TABLE"}))
        assert texts_of(forged)  # answered, nothing run
        again = SseCollector(c, last_id="999999", deadline_s=3)
        try:
            time.sleep(1.5)
        finally:
            again.stop()
        created = [e for e in again.events if e["event"] == "a2ui"
                   and "createSurface" in e["json"]]
        # the resume re-creates the live surfaces once; no second welcome turn adds more
        assert len([e for e in created
                    if e["json"]["createSurface"]["surfaceId"] == "welcome"]) <= 1
