"""The deterministic agent's router against the corpus of how people ask
(``phrasings.txt``: events, dates, sections, counts, prices, "two together", "cheapest",
orders, cancel), and what the agent says to what it cannot place: suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.a2ui.agent.router import SUGGESTIONS, route

CORPUS = Path(__file__).with_name("phrasings.txt")
FIELDS = {"count": "count", "together": "together", "weekday": "weekday", "day": "day_offset",
          "cheapest": "cheapest", "max": "max_price", "event": "event_id"}


def _cases() -> list[tuple[str, str, dict[str, str]]]:
    cases = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, intent, entities = (part.strip() for part in line.split("|"))
        cases.append((text, intent, dict(e.split("=") for e in entities.split())))
    return cases


CASES = _cases()


def test_the_corpus_is_large_and_covers_every_intent() -> None:
    assert len(CASES) >= 150
    assert len({text.lower() for text, _, _ in CASES}) == len(CASES)  # no duplicates
    intents = {intent for _, intent, _ in CASES}
    assert intents >= {"list_events", "show_seats", "hold_seats", "my_orders", "cancel_order",
                       "release", "checkout", "help", "unknown"}


@pytest.mark.parametrize(("text", "intent", "entities"), CASES, ids=[c[0] for c in CASES])
def test_phrasing(text: str, intent: str, entities: dict[str, str]) -> None:
    got = route(text)
    assert got.name == intent, (text, got)
    for key, raw in entities.items():
        if key == "section":
            assert raw in got.sections and raw in got.words, (text, got)
            continue
        value = getattr(got, FIELDS[key])
        want: object = bool(int(raw)) if key in ("together", "cheapest") else int(raw)
        assert value == want, (text, key, got)
    # what is not stated is not invented
    if "count" not in entities:
        assert got.count is None, (text, got)
    if "together" not in entities:
        assert not got.together, (text, got)
    if "weekday" not in entities:
        assert got.weekday is None, (text, got)


def test_suggestions_are_understood_themselves() -> None:
    """Every suggestion offered after an unknown phrase routes to a real intent."""
    assert all(route(s).name not in ("unknown", "help") for s in SUGGESTIONS)
