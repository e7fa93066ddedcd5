"""The deterministic agent: an intent router with templates, no model needed.

Typed text goes through :mod:`cairn.a2ui.agent.router` to an intent; each intent has a
template (:mod:`cairn.a2ui.agent.surfaces`) that is sent first (root and layout, validated
as a whole), then its tools (:mod:`cairn.a2ui.agent.booking_tools`, run in a worker thread)
fetch data and the agent streams ``updateDataModel`` messages as results arrive. UI actions
come back as named events with a resolved context and go to the same handlers.

Live seat maps: one ``LISTEN booking_seats`` subscription per server
(:func:`cairn.booking.changes.listen_async`); each change becomes one ``updateDataModel`` per
seat on every open seat map of that event (``/seats/<index>/status``), never a re-send of
components and nothing else: the SeatMap counts free/held/sold seats itself, so a hold costs
each watching browser one small message and one repaint. A seat held by the viewer's own
session reads ``mine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from cairn.a2ui import builder as b
from cairn.a2ui.agent import demo
from cairn.a2ui.agent import surfaces as S
from cairn.a2ui.agent.router import SUGGESTIONS, WEEKDAYS, Intent, route
from cairn.a2ui.messages import ActionMessage, ErrorMessage
from cairn.a2ui.session import Session

log = logging.getLogger(__name__)
T = TypeVar("T")

LISTENER_NAME = "cairn-a2ui-seats"


def listener_name(schema: str) -> str:
    """The listener's ``application_name`` (visible in ``pg_stat_activity``)."""
    return f"{LISTENER_NAME}:{schema}"[:63]

HELP = ("Try: \"list events\", \"show me seats for Friday's concert\", \"two seats together "
        "in the balcony\", \"what did I book?\", or \"demo\".")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 order``, ``2 orders``: a count with its noun in the right number."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def order_code(order_id: str) -> str:
    """The short code a person reads and quotes (the first 8 hex digits of the order's id)."""
    return order_id.replace("-", "")[:8].upper()


def money(cents: int) -> str:
    return f"€{cents / 100:,.2f}"


class DeterministicAgent:
    """Intent router + templates. ``booking`` is a :class:`BookingTools` (None = demo only)."""

    def __init__(self, booking: Any | None = None, *, sessions: Callable[[], list[Session]]
                 | None = None, tick_s: float = 1.0) -> None:
        self.booking = booking
        self.sessions = sessions or (lambda: [])
        self.tick_s = tick_s
        self._tasks: set[asyncio.Task[None]] = set()
        self.live_updates = 0
        self.reconnects = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def bind_sessions(self, sessions: Callable[[], list[Session]]) -> None:
        self.sessions = sessions

    async def start(self) -> None:
        if self.booking is not None:
            ready = asyncio.Event()
            self._spawn(self._watch_seats(ready))
            # LISTEN must be in effect before the first seat map is read (no missed change).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _watch_seats(self, ready: asyncio.Event) -> None:
        import psycopg

        from cairn.booking.changes import CHANNEL, SeatChange

        connected_before = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.booking.dsn, autocommit=True,
                    application_name=listener_name(self.booking.schema))
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    ready.set()
                    if connected_before:
                        # NOTIFY is not stored: whatever changed while we were away is
                        # re-read now (changes from here on queue up behind this).
                        await self.resync_all()
                    connected_before = True
                    async for note in conn.notifies():
                        change = SeatChange.from_json(note.payload)
                        if change.schema == self.booking.schema:
                            self.apply_change(change.event_id, change.seat_ids, change.state,
                                              change.hold_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect, then resync the open seat maps
                log.warning("seat change listener lost its connection; reconnecting")
                ready.set()
                self.reconnects += 1
                await asyncio.sleep(0.5)

    async def resync_all(self) -> int:
        """Re-read every open seat map and send only the seats whose status changed."""
        sent = 0
        for session in self.sessions():
            sm = session.state.get("seatmap")
            st = session.surfaces.get(S.SEATS)
            if not sm or st is None or not isinstance(st.data, dict):
                continue
            seats = await self.tool(self.booking.seat_map, sm["event_id"])
            mine = {x for ids in session.state.get("holds", {}).values() for x in ids}
            shown = st.data.get("seats") or []
            for s in seats:
                idx = sm["index"].get(s.seat_id)
                if idx is None or idx >= len(shown) or not isinstance(shown[idx], dict):
                    continue
                status = "mine" if s.status == "held" and s.seat_id in mine else s.status
                if shown[idx].get("status") != status:
                    session.emit(b.data(S.SEATS, f"/seats/{idx}/status", status))
                    sent += 1
        return sent

    def apply_change(self, event_id: int, seat_ids: tuple[int, ...], state: str,
                     hold_id: str | None) -> None:
        """Push one seat change to every open seat map of ``event_id`` (data only)."""
        for session in self.sessions():
            sm = session.state.get("seatmap")
            if not sm or sm["event_id"] != event_id or S.SEATS not in session.surfaces:
                continue
            mine = hold_id is not None and hold_id in session.state.get("holds", {})
            status = "mine" if (state == "held" and mine) else state
            shown = session.surfaces[S.SEATS].data
            shown = shown.get("seats") if isinstance(shown, dict) else None
            for sid in seat_ids:
                idx = sm["index"].get(sid)
                if idx is None:
                    continue
                if isinstance(shown, list) and idx < len(shown) and \
                        isinstance(shown[idx], dict) and shown[idx].get("status") == status:
                    continue  # already shown (e.g. the holder's own "mine"): no repaint
                session.emit(b.data(S.SEATS, f"/seats/{idx}/status", status))
                self.live_updates += 1

    # -- helpers -----------------------------------------------------------------------------

    async def tool(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await run_in_threadpool(fn, *args, **kw)

    def replace_surface(self, session: Session, msgs: list[dict[str, Any]]) -> None:
        """Send a surface, deleting a previous one of the same id first (no duplicates)."""
        sid = msgs[0]["createSurface"]["surfaceId"]
        if sid in session.surfaces:
            session.emit(b.delete(sid))
        session.emit_all(msgs)

    def drop_surface(self, session: Session, sid: str) -> None:
        if sid in session.surfaces:
            session.emit(b.delete(sid))

    async def user(self, session: Session) -> Any:
        user = session.state.get("user")
        if user is None:
            user = await self.tool(self.booking.user_for, session.id)
            session.state["user"] = user
        return user

    def need_booking(self, session: Session) -> bool:
        if self.booking is None:
            session.say("text", "The booking service is not connected to this agent "
                                "(start it with `cairn a2ui serve`).")
            return False
        return True

    # -- typed requests ----------------------------------------------------------------------

    async def on_text(self, session: Session, text: str) -> None:
        intent = route(text)
        if intent.name == "demo":
            self.replace_surface(session, demo.hello_surface())
            session.say("text", "Here is a small demo form.")
            return
        if intent.name == "chart":
            self.replace_surface(session, demo.chart_surface(
                "chart", "Demo chart", ["a", "b", "c"], [{"name": "demo", "values": [1, 3, 2]}]))
            session.say("text", "A demo chart.")
            return
        if intent.name == "help":
            session.say("text", HELP)
            return
        if intent.name == "unknown":  # never a dead end: say what does work
            session.say("text", "I did not catch that. You could ask: "
                        + ", ".join(f"\u201c{s}\u201d" for s in SUGGESTIONS) + ".")
            return
        if not self.need_booking(session):
            return
        handler = {
            "list_events": self.list_events,
            "show_seats": self.show_seats_for,
            "hold_seats": self.hold_from_text,
            "my_orders": self.my_orders,
            "cancel_order": self.cancel_hint,
            "release": self.release_current,
            "checkout": self.checkout_hint,
        }[intent.name]
        await handler(session, intent)

    async def list_events(self, session: Session, intent: Intent | None = None) -> None:
        self.replace_surface(session, S.events_list())
        session.emit(b.data(S.EVENTS, "/status", "Loading events…"))
        events = await self.tool(self.booking.list_events)
        rows = []
        for ev in events:
            prices = sorted(ev.prices.values())
            span = money(prices[0]) if len(set(prices)) == 1 else \
                f"{money(prices[0])} to {money(prices[-1])}" if prices else ""
            rows.append({"id": str(ev.id), "name": ev.name, "when": _when(ev.starts_at),
                         "prices": span})
        session.emit(b.data(S.EVENTS, "/events", rows))
        session.emit(b.data(S.EVENTS, "/status",
                            plural(len(rows), "event") if rows else "No events yet."))
        session.say("text", ("There is 1 upcoming event." if len(rows) == 1 else
                             f"There are {len(rows)} upcoming events.") if rows
                    else "There are no events yet.")

    async def resolve_event(self, session: Session, intent: Intent) -> Any | None:
        """The event the user means: by id, weekday (or today/tomorrow) and name words, or
        the current one."""
        if intent.day_offset is not None and intent.weekday is None:
            day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=intent.day_offset)
            intent = dataclasses.replace(intent, weekday=day.weekday())
        events = await self.tool(self.booking.list_events)
        if not events:
            session.say("text", "There are no events yet.")
            return None
        if intent.event_id is not None:
            hit = [e for e in events if e.id == intent.event_id]
            if hit:
                return hit[0]
        scored = []
        for e in events:
            score = 0.0
            name_words = set(e.name.lower().replace("'", " ").split())
            score += 2 * len(name_words & set(intent.words))
            if intent.weekday is not None:
                score += 3 if e.starts_at.weekday() == intent.weekday else -5
            scored.append((score, e))
        scored.sort(key=lambda p: (-p[0], p[1].starts_at))
        current = session.state.get("seatmap", {}).get("event_id")
        if scored[0][0] > 0:
            return scored[0][1]
        if intent.weekday is not None:
            session.say("text", f"I found no event on a {WEEKDAYS[intent.weekday].title()}.")
            await self.list_events(session)
            return None
        if current is not None:
            return next((e for e in events if e.id == current), None)
        if len(events) == 1:
            return events[0]
        session.say("text", "Which event? Here is the list.")
        await self.list_events(session)
        return None

    async def show_seats_for(self, session: Session, intent: Intent) -> None:
        ev = await self.resolve_event(session, intent)
        if ev is not None:
            await self.show_seats(session, ev.id, ev)

    async def show_seats(self, session: Session, event_id: int, ev: Any = None) -> list[Any]:
        if ev is None or ev.id != event_id:  # one database round trip less before the root
            ev = await self.tool(self.booking.get_event, event_id)
        self.replace_surface(session, S.seat_map())
        session.state["seatmap"] = {"event_id": ev.id, "index": {}}
        tiers = ", ".join(f"{t} {money(p)}" for t, p in sorted(ev.prices.items()))
        session.emit(b.data(S.SEATS, "/event", {"id": str(ev.id), "name": ev.name,
                                                "when": _when(ev.starts_at),
                                                "legend": f"Prices: {tiers}"}))
        session.emit(b.data(S.SEATS, "/selection", []))
        session.emit(b.data(S.SEATS, "/status", "Loading seats…"))
        seats = await self.tool(self.booking.seat_map, ev.id)
        mine = {s for ids in session.state.get("holds", {}).values() for s in ids}
        rows = []
        index: dict[int, int] = {}
        for i, s in enumerate(seats):
            index[s.seat_id] = i
            status = "mine" if s.status == "held" and s.seat_id in mine else s.status
            rows.append({"id": str(s.seat_id), "section": s.section, "row": s.row,
                         "number": s.number, "tier": s.tier, "price": s.price_cents / 100,
                         "status": status})
        session.state["seatmap"] = {"event_id": ev.id, "index": index}
        session.emit(b.data(S.SEATS, "/seats", rows))
        session.emit(b.data(S.SEATS, "/status", "Click free seats, then hold them."))
        # No count in the chat: "2000 of 2000 seats are free" stayed in the log, stale after
        # the first hold; the map's legend counts each status live.
        session.say("text", f"Here is the seat map of {ev.name}; its legend counts the free "
                            "seats as they change.")
        # A hold needs the session's booking user: create it now, after the map is out, so
        # the first hold does not wait for that database write.
        await self.user(session)
        return seats

    async def hold_from_text(self, session: Session, intent: Intent) -> None:
        ev = await self.resolve_event(session, intent)
        if ev is None:
            return
        seats = await self.tool(self.booking.seat_map, ev.id)
        sections = sorted({s.section for s in seats})
        wanted = [sec for sec in sections if sec.lower() in intent.words
                  or sec.lower().rstrip("s") in intent.words]
        section = wanted[0] if wanted else None
        if intent.words and section is None and any(
                w in ("balcony", "stalls", "circle", "box", "floor") for w in intent.words):
            session.say("text", f"{ev.name} has no such section; it has {', '.join(sections)}.")
            return
        if section is None and (intent.cheapest or intent.max_price is not None):
            price = {s.section: s.price_cents for s in seats}
            fits = [sec for sec in sections if intent.max_price is None
                    or price[sec] <= intent.max_price * 100]
            if not fits:
                cheapest = min(sections, key=price.__getitem__)
                session.say("text", f"Nothing at {money(intent.max_price * 100)} or less "
                                    f"for {ev.name}: the cheapest seats are in the "
                                    f"{cheapest} at {money(price[cheapest])}.")
                return
            section = min(fits, key=price.__getitem__)
        count = intent.count or 2
        if session.state.get("seatmap", {}).get("event_id") != ev.id:
            await self.show_seats(session, ev.id, ev)
        if intent.together or section is None:
            from cairn.a2ui.agent.booking_tools import pick_together

            ids = pick_together(seats, section, count) if intent.together else None
            if intent.together and ids is None:
                where = f" in the {section}" if section else ""
                session.say("text", f"There are no {count} free seats together{where}.")
                return
            if ids is None:
                ids = [s.seat_id for s in seats if s.status == "free"][:count]
            await self.hold(session, ev.id, ids)
        else:
            await self.hold(session, ev.id, None, section=section, count=count)

    # -- holds and checkout ------------------------------------------------------------------

    async def hold(self, session: Session, event_id: int, seat_ids: list[int] | None,
                   section: str | None = None, count: int | None = None) -> None:
        from cairn.booking.errors import BookingError

        user = await self.user(session)
        try:
            if seat_ids is not None:
                held = await self.tool(self.booking.hold, user, event_id, seat_ids)
            else:
                held = await self.tool(self.booking.hold_any, user, event_id, section, count)
        except BookingError as exc:
            if S.SEATS in session.surfaces:
                session.emit(b.data(S.SEATS, "/status", f"Could not hold: {exc}"))
            session.say("text", f"Sorry, those seats could not be held: {exc}")
            return
        session.state.setdefault("holds", {})[held.id] = set(held.seat_ids)
        session.state["hold"] = held.id
        sm = session.state.get("seatmap")
        if sm and sm["event_id"] == event_id and S.SEATS in session.surfaces:
            for sid in held.seat_ids:
                if sid in sm["index"]:
                    session.emit(b.data(S.SEATS, f"/seats/{sm['index'][sid]}/status", "mine"))
            session.emit(b.data(S.SEATS, "/selection", []))
            session.emit(b.data(S.SEATS, "/status", f"Holding {len(held.seat_ids)} seats."))
        await self.show_hold(session, held)

    async def show_hold(self, session: Session, held: Any) -> None:
        found = self._shown_seats(session, held.event_id, held.seat_ids)
        if found is None:  # no map of this event on screen: ask the database
            seats = await self.tool(self.booking.seat_map, held.event_id)
            by_id = {s.seat_id: s for s in seats}
            found = [(f"{by_id[i].section} {by_id[i].row}-{by_id[i].number}",
                      by_id[i].price_cents) for i in held.seat_ids if i in by_id]
        labels = [label for label, _ in found]
        total = sum(cents for _, cents in found)
        data = {"hold": {"id": held.id, "seats": "Seats: " + ", ".join(labels),
                         "total": money(total), "remaining": _remaining(held.expires_at)},
                "form": {"name": "", "email": "", "card": "", "problems": ""}}
        msgs = S.hold_and_checkout()
        st = session.surfaces.get(S.HOLD)
        if st is not None and st.components == {c["id"]: c for c in msgs[1]["updateComponents"]
                                                 ["components"]}:
            # The form is already on screen: new data only, no teardown and rebuild of the
            # surface in the browser (the components are the same).
            session.emit(b.data(S.HOLD, "/", data))
        else:
            self.replace_surface(session, msgs)
            session.emit(b.data(S.HOLD, "/", data))
        session.say("text", f"Held {len(labels)} seats for {_remaining(held.expires_at)}. "
                            "Fill in the form to pay.")
        old = session.state.get("countdown")
        if old is not None:
            old.cancel()
        session.state["countdown"] = self._spawn(self._countdown(session, held.id,
                                                                 held.expires_at))

    def _shown_seats(self, session: Session, event_id: int,
                     seat_ids: list[int]) -> list[tuple[str, int]] | None:
        """Label and price (cents) of each seat, from the seat map this session shows.

        The map's data model already holds every seat of the event, so a hold needs no second
        2,000-row read (which, in a worker thread, also competed with the live fan-out)."""
        sm = session.state.get("seatmap")
        st = session.surfaces.get(S.SEATS)
        if not sm or sm["event_id"] != event_id or st is None or not isinstance(st.data, dict):
            return None
        shown = st.data.get("seats")
        if not isinstance(shown, list):
            return None
        out = []
        for sid in seat_ids:
            idx = sm["index"].get(sid)
            seat = shown[idx] if idx is not None and idx < len(shown) else None
            if not isinstance(seat, dict) or seat.get("id") != str(sid) or \
                    not isinstance(seat.get("price"), int | float):
                return None
            out.append((f"{seat.get('section')} {seat.get('row')}-{seat.get('number')}",
                        round(seat["price"] * 100)))
        return out

    async def _countdown(self, session: Session, hold_id: str, expires: dt.datetime) -> None:
        """Tick ``/hold/remaining`` once per interval until the hold ends or the form goes."""
        while True:
            await asyncio.sleep(self.tick_s)
            st = session.surfaces.get(S.HOLD)
            if st is None or not isinstance(st.data, dict) or \
                    st.data.get("hold", {}).get("id") != hold_id:
                return
            left = _remaining(expires)
            session.emit(b.data(S.HOLD, "/hold/remaining", left))
            if left == "0:00":
                session.emit(b.data(S.HOLD, "/form/problems",
                                    "The hold expired; the seats are free again."))
                session.state.get("holds", {}).pop(hold_id, None)
                return

    async def release_current(self, session: Session, intent: Intent | None = None) -> None:
        hold_id = session.state.get("hold")
        if not hold_id:
            session.say("text", "You are not holding any seats.")
            return
        await self.release(session, hold_id)

    async def release(self, session: Session, hold_id: str) -> None:
        from cairn.booking.errors import BookingError

        user = await self.user(session)
        try:
            await self.tool(self.booking.release, user, hold_id)
        except BookingError as exc:
            session.say("text", f"Could not release: {exc}")
            return
        session.state.get("holds", {}).pop(hold_id, None)
        if session.state.get("hold") == hold_id:
            session.state.pop("hold", None)
        self.drop_surface(session, S.HOLD)
        session.say("text", "Released. The seats are free again.")

    async def cancel_hint(self, session: Session, intent: Intent | None = None) -> None:
        await self.my_orders(session, intent)
        session.say("text", "Pick the order to cancel: each paid order has a Cancel and refund "
                            "button.")

    async def checkout_hint(self, session: Session, intent: Intent | None = None) -> None:
        if S.HOLD in session.surfaces:
            session.say("text", "Fill in the form below the held seats and press Pay.")
        else:
            session.say("text", "Hold some seats first, e.g. \"two seats together in the "
                                "balcony\".")

    async def pay(self, session: Session, ctx: dict[str, Any]) -> None:
        from cairn.a2ui.agent.booking_tools import check_checkout_form
        from cairn.booking.errors import BookingError

        hold_id = ctx.get("holdId")
        if not isinstance(hold_id, str) or hold_id not in session.state.get("holds", {}):
            session.say("text", "That hold is not yours or has ended.")
            return
        problems = check_checkout_form(ctx.get("name"), ctx.get("email"), ctx.get("card"))
        if problems:
            session.emit(b.data(S.HOLD, "/form/problems", " ".join(problems)))
            session.say("text", "Please fix the form: " + " ".join(problems))
            return
        session.emit(b.data(S.HOLD, "/form/problems", "Paying…"))
        user = await self.user(session)
        try:
            order = await self.tool(self.booking.checkout, user, hold_id)
        except BookingError as exc:
            session.emit(b.data(S.HOLD, "/form/problems", f"Payment failed: {exc}"))
            session.say("text", f"The payment did not go through: {exc}")
            return
        session.state.get("holds", {}).pop(hold_id, None)
        session.state.pop("hold", None)
        self.drop_surface(session, S.HOLD)
        seats = await self.tool(self.booking.seat_map, order.event_id)
        ev = await self.tool(self.booking.get_event, order.event_id)
        by_id = {s.seat_id: s for s in seats}
        tickets = [{"id": t, "seat": f"{by_id[s].section} row {by_id[s].row}, seat "
                                     f"{by_id[s].number}" if s in by_id else str(s)}
                   for t, s in zip(order.tickets, order.seat_ids, strict=False)]
        self.replace_surface(session, S.confirmation())
        session.emit(b.data(S.CONFIRMATION, "/", {
            "summary": f"{ev.name}, {_when(ev.starts_at)}: {plural(len(tickets), 'ticket')}, "
                       f"{money(order.amount_cents)} paid (order {order_code(order.id)}). "
                       f"Confirmation sent to {str(ctx.get('email'))[:254]}.",
            "tickets": tickets}))
        session.say("text", f"Done: {plural(len(tickets), 'ticket')} for {ev.name}.")

    async def my_orders(self, session: Session, intent: Intent | None = None) -> None:
        self.replace_surface(session, S.orders())
        session.emit(b.data(S.ORDERS, "/status", "Loading your orders…"))
        user = await self.user(session)
        orders = await self.tool(self.booking.orders, user)
        events = {e.id: e for e in await self.tool(self.booking.list_events)}
        rows = []
        for o in orders:
            ev = events.get(o.event_id)
            rows.append({"id": o.id, "event": ev.name if ev else f"event {o.event_id}",
                         "code": order_code(o.id),
                         "seats": f"{plural(len(o.seat_ids), 'seat')}, "
                                  f"{plural(len(o.tickets), 'ticket')}",
                         "status": o.status, "amount": money(o.amount_cents)})
        session.emit(b.data(S.ORDERS, "/orders", rows))
        session.emit(b.data(S.ORDERS, "/status", plural(len(rows), "order") if rows
                            else "You have not booked anything yet."))
        session.say("text", f"You have {plural(len(rows), 'order')}." if rows
                    else "You have not booked anything yet.")

    async def cancel_order(self, session: Session, order_id: Any) -> None:
        from cairn.booking.errors import BookingError

        if not isinstance(order_id, str) or len(order_id) > 100:
            session.say("text", "That is not an order id.")
            return
        user = await self.user(session)
        try:
            await self.tool(self.booking.cancel_order, user, order_id)
        except BookingError as exc:
            session.say("text", f"Could not cancel: {exc}")
            return
        session.say("text", "Cancelled and refunded.")
        await self.my_orders(session)

    # -- actions -----------------------------------------------------------------------------

    async def on_connect(self, session: Session) -> None:
        """The first screen, before anything is typed: suggestion chips and the events as
        cards (the transport calls this once per session, when its first stream opens)."""
        if self.booking is None:
            return
        self.replace_surface(session, S.welcome(SUGGESTIONS))
        await self.list_events(session)

    async def on_action(self, session: Session, action: ActionMessage) -> None:
        ctx = action.context
        name = action.name
        if name == "suggest":
            text = ctx.get("text")
            if text in SUGGESTIONS:
                await self.on_text(session, str(text))
            else:
                session.say("text", "That is not one of the suggestions.")
            return
        if name == "greet":
            session.say("text", f"Hello, {str(ctx.get('name') or 'stranger')[:100]}!")
            return
        if name == "pick":
            session.say("text", f"You picked {str(ctx.get('item'))[:100]}.")
            return
        if not self.need_booking(session):
            return
        if name == "my_orders":
            await self.my_orders(session)
        elif name == "show_seats":
            event_id = _int(ctx.get("eventId"))
            if event_id is None:
                session.say("text", "That is not an event.")
                return
            await self.show_seats(session, event_id)
        elif name in ("hold", "hold_together"):
            event_id = _int(ctx.get("eventId"))
            sm = session.state.get("seatmap")
            if event_id is None or not sm or sm["event_id"] != event_id:
                session.say("text", "Open the seat map of that event first.")
                return
            if name == "hold":
                raw = ctx.get("seats")
                ids = [_int(s) for s in raw] if isinstance(raw, list) else []
                if not ids or None in ids or len(ids) > 10:
                    session.say("text", "Select between 1 and 10 free seats first.")
                    return
                await self.hold(session, event_id, [i for i in ids if i is not None])
            else:
                count = _int(ctx.get("count")) or 2
                await self.hold_from_text(session, Intent(
                    "hold_seats", count=min(count, 10), together=True, event_id=event_id))
        elif name == "release":
            hold_id = ctx.get("holdId")
            if isinstance(hold_id, str) and hold_id in session.state.get("holds", {}):
                await self.release(session, hold_id)
            else:
                session.say("text", "That hold is not yours or has ended.")
        elif name == "pay":
            await self.pay(session, ctx)
        elif name == "cancel_order":
            await self.cancel_order(session, ctx.get("orderId"))
        else:
            session.say("text", f"Unknown action {name}.")

    async def on_client_error(self, session: Session, error: ErrorMessage) -> None:
        session.say("status", f"The client reported {error.code}: {error.message[:300]}")


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit() and len(v) < 12:
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _when(ts: dt.datetime) -> str:
    return ts.strftime("%a %d %b %Y, %H:%M")


def _remaining(expires: dt.datetime) -> str:
    left = max(0, int((expires - dt.datetime.now(dt.UTC)).total_seconds()))
    return f"{left // 60}:{left % 60:02d}"
