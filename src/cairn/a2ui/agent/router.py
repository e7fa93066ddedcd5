"""The intent router: free text → an intent with entities, by rules, no model.

Small and predictable on purpose: keyword sets per intent, plus entity extraction for what
the booking flow needs: a weekday or a date ("Friday's concert"), words of an event's name,
a section name ("in the balcony"), a seat count ("two", "a pair", "3") and "together"
(adjacent seats in one row). The agent resolves the entities against live data (event
names, section names) and asks back when something is ambiguous or missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBERS = {"one": 1, "a": 1, "single": 1, "two": 2, "pair": 2, "couple": 2, "three": 3,
           "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_STOP = (
    "a an the me my i for of to in on at show seat seats see some please want would like "
    "book get find with together next this that is are what did any all s its it's event "
    "events ticket tickets concert's friday's saturday's sunday's map")
STOPWORDS = frozenset(_STOP.split())

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Intent:
    name: str
    count: int | None = None
    together: bool = False
    weekday: int | None = None
    event_id: int | None = None
    words: tuple[str, ...] = ()
    sections: tuple[str, ...] = field(default_factory=tuple)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("'s", ""))


def route(text: str) -> Intent:
    """Classify ``text``. Entities are raw; the agent matches them against live data."""
    low = text.lower()
    ws = words(low)
    wset = set(ws)
    weekday = next((i for i, d in enumerate(WEEKDAYS) if d in wset), None)
    m = re.search(r"(?:event|#)\s*(\d{1,9})\b", low)
    event_id = int(m.group(1)) if m else None
    count = None
    m = re.search(r"\b(\d{1,2})\s+(?:seats?|tickets?|places?)\b", low)
    if m:
        count = int(m.group(1))
    else:
        for w in ws:
            if w in NUMBERS and w != "a":
                count = NUMBERS[w]
                break
        if count is None and re.search(r"\ba (?:seat|ticket)\b", low):
            count = 1
    together = bool(wset & {"together", "adjacent", "next", "side", "pair", "couple"})
    content = tuple(w for w in ws if w not in STOPWORDS and w not in NUMBERS
                    and w not in WEEKDAYS and not w.isdigit())
    base = {"count": count, "together": together, "weekday": weekday, "event_id": event_id,
            "words": content}

    if wset & {"help", "hello", "hi"} and len(ws) <= 3:
        return Intent("help", **base)
    if low.strip() in ("demo", "demo form") or "chart" in wset:
        return Intent("demo" if "chart" not in wset else "chart", **base)
    if re.search(r"\b(what did i book|my (orders?|bookings?|tickets?|purchases?)|"
                 r"orders?|bookings?)\b", low) and not count:
        return Intent("my_orders", **base)
    if re.search(r"\b(release|let go|give back|drop)\b", low):
        return Intent("release", **base)
    if re.search(r"\b(check ?out|pay|purchase|buy now)\b", low):
        return Intent("checkout", **base)
    if re.search(r"\b(list|which|upcoming|all)\b.*\b(events?|shows?|concerts?)\b", low) \
            or re.search(r"\bwhat'?s on\b", low) \
            or (wset and wset <= {"events", "shows", "concerts", "list", "s"}):
        return Intent("list_events", **base)
    if count is not None and (together or "hold" in wset or "book" in wset
                              or "want" in wset or "need" in wset or "get" in wset
                              or "in" in wset):
        return Intent("hold_seats", **base)
    if wset & {"seat", "seats", "seating", "map", "availability", "available", "tickets"} \
            or weekday is not None or event_id is not None:
        return Intent("show_seats", **base)
    return Intent("unknown", **base)
