"""Templates of the booking surfaces: components first (root and layout), data separately.

Each function returns the ``createSurface`` + ``updateComponents`` of one surface; the data
model is sent afterwards, as the tools return it, so the layout renders at once and fills in
(progressive rendering). All bindings are JSON Pointers into that surface's data model;
template children use relative paths (``name`` = this item's name).
"""

from __future__ import annotations

from typing import Any

from cairn.a2ui import builder as b
from cairn.a2ui.catalog import CAIRN_CATALOG_ID

EVENTS = "events"
SEATS = "seats"
HOLD = "hold"
CONFIRMATION = "confirmation"
ORDERS = "orders"
WELCOME = "welcome"


def welcome(suggestions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The first screen's suggestion chips: each sends its text as if it had been typed."""
    chips = [f"chip{i}" for i in range(len(suggestions))]
    comps: list[dict[str, Any]] = [
        b.column("root", ["title", "chips"]),
        b.text("title", "Book seats by asking, or pick one of these:", "caption"),
        b.row("chips", chips),
    ]
    for chip, text in zip(chips, suggestions, strict=True):
        comps.append(b.button(chip, f"{chip}_label", "suggest", {"text": text}))
        comps.append(b.text(f"{chip}_label", text))
    return [b.create(WELCOME, CAIRN_CATALOG_ID), b.components(WELCOME, comps)]


def events_list() -> list[dict[str, Any]]:
    comps = [
        b.column("root", ["title", "status", "list"]),
        b.text("title", "Upcoming events", "h2"),
        b.text("status", b.bind("/status"), "caption"),
        {"id": "list", "component": "List",
         "children": {"componentId": "event_card", "path": "/events"}},
        b.card("event_card", "event_row"),
        b.row("event_row", ["event_info", "event_btn"], justify="spaceBetween", align="center"),
        b.column("event_info", ["event_name", "event_when", "event_prices"], weight=1),
        b.text("event_name", b.bind("name"), "h4"),
        b.text("event_when", b.bind("when"), "caption"),
        b.text("event_prices", b.bind("prices")),
        b.button("event_btn", "event_btn_label", "show_seats", {"eventId": b.bind("id")},
                 "primary"),
        b.text("event_btn_label", "Show seats"),
    ]
    return [b.create(EVENTS, CAIRN_CATALOG_ID), b.components(EVENTS, comps)]


def seat_map() -> list[dict[str, Any]]:
    comps = [
        # No "N of M seats free" text: the SeatMap's legend counts each status itself, so a
        # live change is one data message per seat and nothing else.
        b.column("root", ["title", "when", "map", "actions", "status"]),
        b.text("title", b.bind("/event/name"), "h2"),
        b.text("when", b.bind("/event/when"), "caption"),
        {"id": "map", "component": "SeatMap", "seats": b.bind("/seats"),
         "selection": b.bind("/selection"), "maxSelection": 10, "currency": "EUR",
         "label": b.bind("/event/legend")},
        b.row("actions", ["hold_btn", "together_btn"]),
        {**b.button("hold_btn", "hold_label", "hold",
                    {"eventId": b.bind("/event/id"), "seats": b.bind("/selection")},
                    "primary"),
         "checks": [{"condition": b.call("length", "boolean", value=b.bind("/selection"),
                                         min=1),
                     "message": "Select at least one free seat"}]},
        b.text("hold_label", "Hold selected seats"),
        b.button("together_btn", "together_label", "hold_together",
                 {"eventId": b.bind("/event/id"), "count": 2}),
        b.text("together_label", "Best 2 seats together"),
        b.text("status", b.bind("/status"), "caption"),
    ]
    return [b.create(SEATS, CAIRN_CATALOG_ID), b.components(SEATS, comps)]


def hold_and_checkout() -> list[dict[str, Any]]:
    """The hold with its countdown and the checkout form (sendDataModel: the form state)."""
    req = b.call("required", "boolean", value=b.bind("/form/name"))
    email = b.call("email", "boolean", value=b.bind("/form/email"))
    card = b.call("regex", "boolean", value=b.bind("/form/card"),
                  pattern="^[0-9][0-9 -]{11,22}[0-9]$")
    comps = [
        b.column("root", ["title", "seats_text", "countdown", "total", "form", "problems",
                          "actions"]),
        b.text("title", "Your seats are held", "h2"),
        b.text("seats_text", b.bind("/hold/seats")),
        b.text("countdown", b.call("formatString", "string",
                                   value="Held for ${/hold/remaining} more")),
        b.text("total", b.call("formatString", "string", value="Total: ${/hold/total}")),
        b.card("form", "form_col"),
        b.column("form_col", ["name", "email", "card"]),
        {"id": "name", "component": "TextField", "label": "Name on the tickets",
         "value": b.bind("/form/name"),
         "checks": [{"condition": req, "message": "Please enter your name"}]},
        {"id": "email", "component": "TextField", "label": "Email",
         "value": b.bind("/form/email"),
         "checks": [{"condition": email, "message": "Please enter a valid email"}]},
        {"id": "card", "component": "TextField", "label": "Card number",
         "value": b.bind("/form/card"),
         "checks": [{"condition": card, "message": "13 to 19 digits"}]},
        b.text("problems", b.bind("/form/problems"), "caption"),
        b.row("actions", ["pay_btn", "release_btn"]),
        {**b.button("pay_btn", "pay_label", "pay",
                    {"holdId": b.bind("/hold/id"), "name": b.bind("/form/name"),
                     "email": b.bind("/form/email"), "card": b.bind("/form/card")},
                    "primary"),
         "checks": [{"condition": b.call("and", "boolean", values=[req, email, card]),
                     "message": "Fill in the form to pay"}]},
        b.text("pay_label", "Pay and get tickets"),
        b.button("release_btn", "release_label", "release", {"holdId": b.bind("/hold/id")}),
        b.text("release_label", "Release seats"),
    ]
    return [b.create(HOLD, CAIRN_CATALOG_ID, send_data_model=True), b.components(HOLD, comps)]


def confirmation() -> list[dict[str, Any]]:
    comps = [
        b.column("root", ["title", "summary", "tickets", "orders_btn"]),
        b.text("title", "Booked!", "h2"),
        b.text("summary", b.bind("/summary")),
        {"id": "tickets", "component": "List",
         "children": {"componentId": "ticket_card", "path": "/tickets"}},
        b.card("ticket_card", "ticket_col"),
        b.column("ticket_col", ["ticket_seat", "ticket_id"]),
        b.text("ticket_seat", b.bind("seat"), "h4"),
        b.text("ticket_id", b.call("formatString", "string", value="Ticket ${id}"), "caption"),
        b.button("orders_btn", "orders_label", "my_orders"),
        b.text("orders_label", "My orders"),
    ]
    return [b.create(CONFIRMATION, CAIRN_CATALOG_ID), b.components(CONFIRMATION, comps)]


def orders() -> list[dict[str, Any]]:
    comps = [
        b.column("root", ["title", "status", "list"]),
        b.text("title", "My orders", "h2"),
        b.text("status", b.bind("/status"), "caption"),
        {"id": "list", "component": "List",
         "children": {"componentId": "order_card", "path": "/orders"}},
        b.card("order_card", "order_col"),
        b.column("order_col", ["order_event", "order_seats", "order_row"]),
        b.text("order_event", b.bind("event"), "h4"),
        b.text("order_seats", b.bind("seats")),
        b.row("order_row", ["order_status", "order_cancel"], justify="spaceBetween",
              align="center"),
        b.text("order_status", b.call("formatString", "string",
                                      value="Order ${code} · ${status} · ${amount}"),
               "caption"),
        # a real button (was "borderless": it read as text)
        b.button("order_cancel", "order_cancel_label", "cancel_order",
                 {"orderId": b.bind("id")}),
        b.text("order_cancel_label", "Cancel and refund"),
    ]
    return [b.create(ORDERS, CAIRN_CATALOG_ID), b.components(ORDERS, comps)]
