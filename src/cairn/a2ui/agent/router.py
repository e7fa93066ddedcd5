"""The intent router: free text → an intent with entities, by rules, no model.

Small and predictable on purpose: patterns per intent, plus entity extraction for what the
booking flow needs: a weekday or a relative day ("Friday's concert", "tomorrow"), words of an
event's name, a section name and its everyday synonyms ("in the balcony", "upstairs", "near
the front"), a seat count ("two", "a pair", "3 tickets", "for four of us"), "together"
(adjacent seats in one row), "cheapest" and a price limit ("under €50"). The agent resolves the
entities against live data (event names, section names, prices) and asks back when something
is ambiguous or missing. ``tests/a2ui/phrasings.txt`` is the corpus of how people ask that the
router is held to; what it cannot place is ``unknown``, and the agent answers that with
suggestions, never a dead end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ALIASES = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
                    "fri": 4, "weekend": 5}
NUMBERS = {"one": 1, "a": 1, "single": 1, "two": 2, "pair": 2, "couple": 2, "three": 3,
           "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
           "both": 2}
# Everyday words for the sections of the seeded hall (the agent matches the canonical name
# against the venue's real sections).
SECTION_SYNONYMS = {
    "stalls": "stalls", "stall": "stalls", "orchestra": "stalls", "floor": "stalls",
    "front": "stalls", "downstairs": "stalls", "ground": "stalls", "parterre": "stalls",
    "balcony": "balcony", "balconies": "balcony", "upstairs": "balcony", "gallery": "balcony",
    "gods": "balcony", "upper": "balcony", "top": "balcony",
    "circle": "circle", "mezzanine": "circle", "dress": "circle", "middle": "circle",
}
_STOP = (
    "a an the me my i for of to in on at show seat seats see some please want would like "
    "book get find with together next this that is are what did any all s its it's event "
    "events ticket tickets concert's friday's saturday's sunday's map can you could we us "
    "our there how much many do does have got need give let know tell looking look i'd i'm "
    "im just be up near level row rows section sections place places people person persons "
    "pick choose reserve hold grab buy available availability free left still open it "
    "where which when who have has am side by each other")
STOPWORDS = frozenset(_STOP.split())

_WORD = re.compile(r"[a-z0-9]+")
_COUNT_NOUN = r"(?:seats?|tickets?|places?|people|persons?|spots?|adults?|guests?|of us)"
_SHOWS = r"(?:events?|shows?|concerts?|performances?|gigs?|things?|plays?)"


@dataclass(frozen=True)
class Intent:
    name: str
    count: int | None = None
    together: bool = False
    weekday: int | None = None
    event_id: int | None = None
    words: tuple[str, ...] = ()
    sections: tuple[str, ...] = field(default_factory=tuple)
    day_offset: int | None = None  # 0 today/tonight, 1 tomorrow (the agent knows the date)
    cheapest: bool = False
    max_price: int | None = None  # whole currency units ("under 50")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("'s", "").replace("\u2019s", ""))


def _count(low: str, ws: list[str]) -> int | None:
    m = re.search(rf"(?<!event )(?<!#)\b(\d{{1,2}})\s*(?:x\s*)?(?:[a-z]+\s+){{0,2}}?"
                  rf"{_COUNT_NOUN}", low) \
        or re.search(r"(?<!event )(?<!#)(?<!most )\b(\d{1,2})\s+(?:in|on|at|together|"
                     r"upstairs|downstairs|for)\b", low) \
        or re.search(r"\bfor (\d{1,2})\b(?!\s*(?:pm|am|:|\.|euros?|eur|dollars?|pounds?))", low) \
        or re.search(r"\b(?:party|group) of (\d{1,2})\b", low)
    if m:
        return int(m.group(1))
    if re.search(r"\bme and (?:my|a) \w+\b", low):
        return 2
    for w in ws:
        if w in NUMBERS and w != "a":
            return NUMBERS[w]
    if re.search(r"\b(?:a|one) (?:single )?(?:seat|ticket|place|spot)\b", low):
        return 1
    return None


def _max_price(low: str) -> tuple[int | None, str]:
    """The price limit, and ``low`` without it (so "under 60 for Sunday" is no count)."""
    m = re.search(r"\b(?:under|below|less than|cheaper than|max(?:imum)?|at most|up to|"
                  r"no more than|within)\s*(?:a budget of\s*)?[€$£]?\s*(\d{1,5})", low) \
        or re.search(r"\bbudget (?:of|is)\s*[€$£]?\s*(\d{1,5})", low)
    if m is None:
        return None, low
    return int(m.group(1)), low[:m.start()] + " " + low[m.end():]


def route(text: str) -> Intent:
    """Classify ``text``. Entities are raw; the agent matches them against live data."""
    low = " ".join(text.lower().replace("\u2019", "'").split())
    ws = words(low)
    wset = set(ws)
    weekday = next((i for i, d in enumerate(WEEKDAYS) if d in wset), None)
    if weekday is None:
        weekday = next((d for w, d in _WEEKDAY_ALIASES.items() if w in wset), None)
    day_offset = 0 if wset & {"today", "tonight", "tonite"} else \
        1 if wset & {"tomorrow", "tmrw", "tomorrows"} else None
    m = re.search(r"(?:event|#)\s*(\d{1,9})\b", low)
    event_id = int(m.group(1)) if m else None
    max_price, rest = _max_price(low)
    count = _count(rest, words(rest))
    together = bool(wset & {"together", "adjacent", "pair", "couple", "beside"}) \
        or "next to each other" in low or "side by side" in low or "sit with" in low
    cheapest = bool(wset & {"cheapest", "cheap", "cheaper", "budget", "inexpensive",
                            "affordable", "lowest"}) or "least expensive" in low
    canonical = tuple(SECTION_SYNONYMS[w] for w in ws if w in SECTION_SYNONYMS)
    content = tuple(w for w in ws if w not in STOPWORDS and w not in NUMBERS
                    and w not in WEEKDAYS and w not in _WEEKDAY_ALIASES
                    and not w.isdigit() and w not in SECTION_SYNONYMS) + canonical
    base = {"count": count, "together": together, "weekday": weekday, "event_id": event_id,
            "words": content, "sections": canonical, "day_offset": day_offset,
            "cheapest": cheapest, "max_price": max_price}
    seatish = bool(wset & {"seat", "seats", "seating", "map", "availability", "available",
                           "tickets", "ticket", "plan", "places", "spots", "sit"})
    wants = bool(wset & {"hold", "book", "want", "need", "get", "buy", "reserve", "grab",
                         "take", "like", "give", "save", "secure", "snag", "bag"})

    if (wset & {"help", "hello", "hi", "hey", "menu", "start", "options"} and len(ws) <= 4) \
            or re.search(r"\bwhat can (?:you|i) do\b|\bhow does (?:this|it) work\b", low):
        return Intent("help", **base)
    if low.strip() in ("demo", "demo form") or "chart" in wset:
        return Intent("demo" if "chart" not in wset else "chart", **base)
    if re.search(r"\b(cancel|refund|money back)\b", low):
        if re.search(r"\bholds?\b", low):
            return Intent("release", **base)
        return Intent("cancel_order", **base)
    if re.search(r"\b(what (?:did|have) i (?:book|bought|order|purchase)|"
                 r"my (?:orders?|bookings?|tickets|purchases?|reservations?)|orders?|"
                 r"bookings?|order status|(?:did|has) my (?:payment|order)|"
                 r"what have i got|(?:have|did) i (?:buy|bought|book|booked|get)\b)", low) \
            and not count and not re.search(r"\b(complete|finish|confirm)\b", low) \
            and not weekday and day_offset is None:
        return Intent("my_orders", **base)
    if re.search(r"\b(release|let (?:them |it )?go|give (?:them |it )?back|drop|unhold|"
                 r"free (?:them|it|up)|(?:don't|do not|dont) want (?:them|these|it|those))\b",
                 low):
        return Intent("release", **base)
    if max_price is None and (
            re.search(r"\b(check ?out|pay|payment|purchase|buy now|proceed|confirm|"
                      r"complete (?:my |the )?(?:booking|order|purchase)|finish)\b", low)
            and not (count and seatish)):
        return Intent("checkout", **base)
    dated = weekday is not None or day_offset is not None or event_id is not None
    if not dated and (
            re.search(rf"\b(list|which|upcoming|all|any|what|more)\b.*\b{_SHOWS}\b", low)
            or re.search(r"\bwhat'?s? ?(?:is )?(?:on|playing|happening|coming up)\b", low)
            or re.search(r"\bwhat (?:can i|could i|to) (?:see|book|go to|watch)\b", low)
            or re.search(r"\b(schedule|programme|program|calendar|line ?-?up|listings?)\b",
                         low)
            or re.search(rf"^(?:show|see|browse)?\s*(?:me )?(?:the |all )?{_SHOWS}\W*$", low)
            or re.search(r"\b(?:anything|something) (?:on|to see|good)\b", low)):
        return Intent("list_events", **base)
    if (count is not None and (together or wants or seatish or canonical or cheapest
                               or wset & {"in", "for", "group", "party"})) \
            or (together and (seatish or wants)) \
            or (wants and (seatish or canonical) and (cheapest or max_price is not None
                                                      or canonical or dated)):
        return Intent("hold_seats", **base)
    if seatish or dated or canonical or cheapest or max_price is not None \
            or re.search(r"\b(how much|prices?|cost|costs|pricing|where can i sit)\b", low):
        return Intent("show_seats", **base)
    return Intent("unknown", **base)


SUGGESTIONS = ("What events are on?", "Seats for Friday's concert",
               "Two seats together in the balcony", "The cheapest seats", "My orders")
