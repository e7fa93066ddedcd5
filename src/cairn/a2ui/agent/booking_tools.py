"""The agent's tools over the booking service: the one place that calls ``cairn.booking``.

Plain synchronous functions over :class:`cairn.booking.service.BookingService` (psycopg is
synchronous; the agent runs them in a worker thread). They return plain records the
templates turn into data models, and map each A2UI session to a booking user of its own, so
ownership checks in the service layer keep sessions apart.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from cairn.booking import catalog as bcatalog
from cairn.booking.model import Event, Hold, Order, SeatState, User
from cairn.booking.service import BookingService

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def check_checkout_form(name: Any, email: Any, card: Any) -> list[str]:
    """Server-side checks of the checkout form (the client checks too; it is not trusted)."""
    problems: list[str] = []
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        problems.append("Please enter your name (up to 100 characters).")
    if not isinstance(email, str) or not EMAIL.match(email.strip()) or len(email) > 254:
        problems.append("Please enter a valid email address.")
    digits = re.sub(r"[ -]", "", card) if isinstance(card, str) else ""
    if not (digits.isdigit() and 13 <= len(digits) <= 19 and luhn_ok(digits)):
        problems.append("The card number must be 13 to 19 digits and pass the Luhn check.")
    return problems


@dataclass
class BookingTools:
    service: BookingService

    @property
    def dsn(self) -> str:
        return self.service.config.dsn

    @property
    def schema(self) -> str:
        return self.service.config.schema

    def user_for(self, session_id: str) -> User:
        user, _token = bcatalog.create_user(self.service.db, f"web-{session_id[:8]}")
        return user

    def list_events(self) -> list[Event]:
        return self.service.list_events()

    def get_event(self, event_id: int) -> Event:
        return self.service.get_event(event_id)

    def seat_map(self, event_id: int) -> list[SeatState]:
        return self.service.seat_map(event_id)

    def hold(self, user: User, event_id: int, seat_ids: list[int]) -> Hold:
        return self.service.hold(user, event_id, seat_ids=seat_ids)

    def hold_any(self, user: User, event_id: int, section: str, count: int) -> Hold:
        return self.service.hold(user, event_id, section=section, count=count)

    def get_hold(self, user: User, hold_id: str) -> Hold:
        return self.service.get_hold(user, hold_id)

    def release(self, user: User, hold_id: str) -> Hold:
        return self.service.release(user, hold_id)

    def checkout(self, user: User, hold_id: str) -> Order:
        return self.service.checkout(user, hold_id)

    def orders(self, user: User) -> list[Order]:
        return self.service.list_orders(user)

    def cancel_order(self, user: User, order_id: str) -> Order:
        return self.service.cancel_order(user, order_id)


def pick_together(seats: list[SeatState], section: str | None, count: int) -> list[int] | None:
    """``count`` adjacent free seats in one row (middle rows and middle seats first)."""
    rows: dict[tuple[str, str], list[SeatState]] = {}
    for s in seats:
        if s.status == "free" and (section is None or s.section == section):
            rows.setdefault((s.section, s.row), []).append(s)
    best: tuple[float, list[int]] | None = None
    row_keys = sorted(rows)
    for ri, key in enumerate(row_keys):
        run = sorted(rows[key], key=lambda s: s.number)
        nums = [s.number for s in run]
        for i in range(len(run) - count + 1):
            if nums[i + count - 1] - nums[i] == count - 1:
                mid = (nums[0] + nums[-1]) / 2
                score = abs(ri - len(row_keys) / 2) + abs(nums[i] + (count - 1) / 2 - mid) / 10
                if best is None or score < best[0]:
                    best = (score, [s.seat_id for s in run[i:i + count]])
    return best[1] if best else None


def when(ts: dt.datetime) -> str:
    return ts.strftime("%a %d %b %Y, %H:%M")


def seat_label(s: SeatState) -> str:
    return f"{s.section} row {s.row}, seat {s.number}"
