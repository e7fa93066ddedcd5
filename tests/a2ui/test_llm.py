"""The LLM backend end to end: a scripted OpenAI-compatible server streams good, broken,
slow and failing answers; the agent parses as it streams, validates, repairs, falls back."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from cairn.a2ui.agent.llm import (
    MAX_TOOL_ROUNDS,
    LlmAgent,
    LlmConfig,
    new_parser,
    system_prompt,
)
from cairn.a2ui.catalog import cairn_catalog
from cairn.a2ui.server import create_app
from cairn.a2ui.validate import SurfaceState, Validator
from tests.a2ui.conftest import CAIRN, LiveServer, a2ui_of, start_server, texts_of
from tests.a2ui.scripted_llm import Answer, Script, split


def surface(sid: str = "card", text_value: Any = "Hello", extra: list[Any] | None = None
            ) -> list[dict[str, Any]]:
    comps = [{"id": "root", "component": "Column", "children": ["t", "b"]},
             {"id": "t", "component": "Text", "text": text_value},
             {"id": "b", "component": "Button", "child": "bl",
              "action": {"event": {"name": "ok"}}},
             {"id": "bl", "component": "Text", "text": "OK"}, *(extra or [])]
    return [{"version": "v0.9", "createSurface": {"surfaceId": sid, "catalogId": CAIRN}},
            {"version": "v0.9", "updateComponents": {"surfaceId": sid, "components": comps}},
            {"version": "v0.9", "updateDataModel": {"surfaceId": sid, "path": "/n",
                                                    "value": 1}}]


def answer(msgs: list[dict[str, Any]], prose: str = "Here it is.", **kw: Any) -> Answer:
    return Answer(chunks=split(f"{prose} <a2ui-json>{json.dumps(msgs)}</a2ui-json>"), **kw)


@pytest.fixture
def llm() -> Iterator[tuple[Script, LiveServer, LlmAgent]]:
    script = Script()
    model = start_server(script.app())
    agent = LlmAgent(LlmConfig(url=model.url + "/v1", model="scripted", api_key="sk-test",
                               max_repairs=2, first_byte_timeout_s=1.0, idle_timeout_s=1.0,
                               total_timeout_s=6.0))
    app = start_server(create_app(agent))
    try:
        yield script, app, agent
    finally:
        app.stop()
        model.stop()


def timed_jsonl(app: LiveServer, text: str) -> list[tuple[float, dict[str, Any]]]:
    out = []
    with app.client() as c:
        t0 = time.monotonic()
        with c.stream("POST", "/a2ui/jsonl", json={"text": text}) as r:
            for line in r.iter_lines():
                if line:
                    out.append((time.monotonic() - t0, json.loads(line)))
    return out


def test_good_answer_streams_progressively(llm: tuple[Script, LiveServer, LlmAgent]) -> None:
    script, app, _ = llm
    script.answers.append(answer(surface(), delay_s=0.005, last_delay_s=0.8))
    got = timed_jsonl(app, "show me a card")
    lines = [m for _, m in got]
    msgs = a2ui_of(lines)
    assert [next(k for k in m if k != "version") for m in msgs] == [
        "createSurface", "updateComponents", "updateDataModel"]
    # the first message was shown before the model finished writing
    first = next(t for t, m in got if "version" in m)
    assert first < got[-1][0] - 0.5
    assert "Here it is." in texts_of(lines)
    req = script.requests[0]
    assert req["stream"] is True and req["model"] == "scripted"
    assert "SeatMap" in req["messages"][0]["content"]  # the catalog is in the prompt
    assert script.auth[0] == "Bearer sk-test"


def test_children_sent_later_are_held_back_and_merged(
        llm: tuple[Script, LiveServer, LlmAgent]) -> None:
    script, app, _ = llm
    msgs = surface()
    comps = msgs[1]["updateComponents"]["components"]
    split_msgs = [msgs[0],
                  {"version": "v0.9", "updateComponents": {"surfaceId": "card",
                                                           "components": comps[:1]}},
                  {"version": "v0.9", "updateComponents": {"surfaceId": "card",
                                                           "components": comps[1:]}}]
    script.answers.append(answer(split_msgs))
    lines = [m for _, m in timed_jsonl(app, "x")]
    sent = a2ui_of(lines)
    assert len(sent) == 2  # create + one merged, complete updateComponents
    assert {c["id"] for c in sent[1]["updateComponents"]["components"]} == {
        "root", "t", "b", "bl"}


@pytest.mark.parametrize("bad,path_part", [
    (surface(text_value=42), "/updateComponents/components/1/text"),
    (surface(extra=[{"id": "evil", "component": "Image", "url": "javascript:alert(1)"}]),
     "/updateComponents/components/4"),
    (surface(extra=[{"id": "x", "component": "Marquee"}]), "/updateComponents/components/4"),
])
def test_broken_answer_is_repaired(llm: tuple[Script, LiveServer, LlmAgent],
                                   bad: list[dict[str, Any]], path_part: str) -> None:
    script, app, agent = llm
    good_rest = surface()[1:]  # the surface was created by the first (valid) message
    script.answers += [answer(bad), answer(good_rest, prose="Fixed.")]
    lines = [m for _, m in timed_jsonl(app, "x")]
    repair = script.requests[1]["messages"][-1]["content"]
    assert "VALIDATION_FAILED" in repair and path_part in repair
    assert script.requests[1]["messages"][-2]["role"] == "assistant"
    sent = a2ui_of(lines)
    # nothing invalid was ever sent: the whole stream replays cleanly through a validator
    v = Validator()
    surfaces: dict[str, SurfaceState] = {}
    for m in sent:
        v.apply(m, surfaces)
    assert "root" in surfaces["card"].components
    assert "javascript:" not in json.dumps(sent) and "Marquee" not in json.dumps(sent)
    assert agent.stats.repairs == 1


def test_always_broken_falls_back_to_text(llm: tuple[Script, LiveServer, LlmAgent]) -> None:
    script, app, agent = llm
    broken = surface(text_value={"call": "eval", "args": {}})
    script.answers += [answer(broken), answer(broken[1:]), answer(broken[1:])]
    lines = [m for _, m in timed_jsonl(app, "x")]
    assert len(script.requests) == 3  # one answer and two repairs, no more
    assert any("could not draw" in t for t in texts_of(lines))
    sent = a2ui_of(lines)
    # the empty surface it had created is removed again; no component was ever sent
    assert not [m for m in sent if "updateComponents" in m]
    assert sent[-1] == {"version": "v0.9", "deleteSurface": {"surfaceId": "card"}}
    assert agent.stats.fallbacks == 1


@pytest.mark.parametrize("ans,needle", [
    (Answer(stall_s=3.0, chunks=["late"]), "did not answer in time"),
    (Answer(status=500), "500"),
    (Answer(chunks=["Sure <a2ui-json>[{\"version\": \"v0.9\", oops}]</a2ui-json>"]), ""),
])
def test_slow_failing_and_garbage_models(llm: tuple[Script, LiveServer, LlmAgent],
                                         ans: Answer, needle: str) -> None:
    script, app, _ = llm
    script.answers += [ans, Answer(status=500), Answer(status=500)]
    t0 = time.monotonic()
    lines = [m for _, m in timed_jsonl(app, "x")]
    assert time.monotonic() - t0 < 8
    texts = texts_of(lines)
    assert any("could not draw" in t and needle in t for t in texts), texts
    assert not a2ui_of(lines)


def test_stream_parser_handles_any_chunking() -> None:
    msgs = surface()
    text = f"Intro <a2ui-json>\n```json\n{json.dumps(msgs)}\n```\n</a2ui-json> outro"
    for size in (1, 2, 5, 64, len(text)):
        p = new_parser()
        out = []
        for i in range(0, len(text), size):
            out += p.feed(text[i:i + size])
        out += p.finish()
        assert [v for k, v in out if k == "message"] == msgs
        assert "".join(v for k, v in out if k == "text").split() == ["Intro", "outro"]


@pytest.mark.parametrize("text,needle", [
    ("<a2ui-json>[{\"a\": 1,}]</a2ui-json>", "invalid JSON"),
    ("<a2ui-json>[{\"a\": 1}", "not closed"),
    ("<a2ui-json>[<script>alert(1)</script>]</a2ui-json>", "unexpected '<'"),
    ("<a2ui-json>[42]</a2ui-json>", "unexpected '4'"),
])
def test_stream_parser_errors(text: str, needle: str) -> None:
    p = new_parser()
    out = p.feed(text) + p.finish()
    errors = [v for k, v in out if k == "error"]
    assert errors and needle in errors[0]


def test_prompt_lists_the_catalog_and_surfaces() -> None:
    prompt = system_prompt(cairn_catalog(), ["seats"])
    assert "SeatMap: " in prompt and "seats*" in prompt and "selection*" in prompt
    assert "Button: action*" in prompt
    assert "Surfaces that exist now" in prompt and "seats" in prompt
    assert CAIRN in prompt


def test_model_cannot_impersonate_another_agent(
        llm: tuple[Script, LiveServer, LlmAgent]) -> None:
    script, app, _ = llm
    msgs = surface()
    msgs[0]["createSurface"]["theme"] = {"agentDisplayName": "Your Bank",
                                         "iconUrl": "https://bank.example/logo.png",
                                         "primaryColor": "#112233"}
    script.answers.append(answer(msgs))
    sent = a2ui_of([m for _, m in timed_jsonl(app, "x")])
    theme = sent[0]["createSurface"]["theme"]
    assert theme == {"agentDisplayName": "cairn (language model)", "primaryColor": "#112233"}


@contextlib.contextmanager
def _llm_on_booking(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Script, Any, Any]]:
    """The A2UI app on a seeded booking service in a throwaway schema, its agent an LlmAgent
    talking to a scripted model server: (script, running app, served app); cleaned up."""
    import uuid

    import psycopg

    from cairn.a2ui.app import build
    from cairn.booking.schema import drop_schema
    from tests.a2ui.conftest import DSN

    script = Script()
    model = start_server(script.app())
    monkeypatch.setenv("CAIRN_LLM_URL", model.url + "/v1")
    monkeypatch.setenv("CAIRN_LLM_MODEL", "scripted")
    schema = f"a2ui_llm_{uuid.uuid4().hex[:8]}"
    running = build(DSN, schema, seed=True)
    app = start_server(running.app)
    try:
        yield script, running, app
    finally:
        app.stop()
        running.close()
        model.stop()
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, schema)


def test_llm_agent_on_the_booking_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cairn a2ui serve`` with CAIRN_LLM_URL: the prompt carries the live events, the model
    draws, and booking actions still go to the booking templates."""
    from tests.a2ui.conftest import action, jsonl_turn

    with _llm_on_booking(monkeypatch) as (script, running, app):
        assert isinstance(running.app.state.agent, LlmAgent)
        events = [{"id": "1", "name": "Friday Night Concert"}]
        msgs = [{"version": "v0.9", "createSurface": {"surfaceId": "events", "catalogId": CAIRN}},
                {"version": "v0.9", "updateComponents": {"surfaceId": "events", "components": [
                    {"id": "root", "component": "List",
                     "children": {"componentId": "b", "path": "/events"}},
                    {"id": "b", "component": "Button", "child": "t", "action": {"event": {
                        "name": "show_seats", "context": {"eventId": {"path": "id"}}}}},
                    {"id": "t", "component": "Text", "text": {"path": "name"}}]}},
                {"version": "v0.9", "updateDataModel": {"surfaceId": "events",
                                                        "path": "/events", "value": events}}]
        script.answers.append(answer(msgs))
        with app.client() as c:
            lines = jsonl_turn(c, {"text": "what is on?"})
            assert len(a2ui_of(lines)) == 3
            prompt = script.requests[0]["messages"][0]["content"]
            assert "Friday Night Concert" in prompt and "Sunday Symphony" in prompt
            # the model's button carries a booking action: the templates answer it
            lines = jsonl_turn(c, action("events", "b", "show_seats", {"eventId": "1"}))
            seats = [m for m in a2ui_of(lines) if "updateDataModel" in m
                     and m["updateDataModel"]["path"] == "/seats"]
            assert len(seats[0]["updateDataModel"]["value"]) == 2000
            assert len(script.requests) == 1  # no model call for a booking action


def test_booking_tools_through_function_calling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model calls list_events, show_seat_map and hold_seats (OpenAI ``tools`` /
    streamed ``tool_calls``): the booking templates draw the real surfaces, the results go
    back as ``tool`` messages, bad arguments get an error result, and the model answers."""
    from tests.a2ui.conftest import jsonl_turn

    with _llm_on_booking(monkeypatch) as (script, running, app):
        event = next(e for e in running.booking.list_events()
                     if e.name == "Friday Night Concert")
        script.answers += [
            Answer(chunks=["Let me look."], tool_calls=[
                ("list_events", {}), ("show_seat_map", {"event_id": event.id})]),
            Answer(tool_calls=[("hold_seats", {"event_id": event.id, "section": "Balcony",
                                               "count": 2}),
                               ("hold_seats", {"event_id": "x"}), ("nope", {})]),
            Answer(chunks=["Two balcony seats are held for you."]),
        ]
        with app.client() as c:
            lines = jsonl_turn(c, {"text": "two balcony seats for friday please"})
        created = [m["createSurface"]["surfaceId"] for m in a2ui_of(lines)
                   if "createSurface" in m]
        assert created == ["events", "seats", "hold"]
        seats = [m for m in a2ui_of(lines) if "updateDataModel" in m
                 and m["updateDataModel"]["path"] == "/seats"]
        assert len(seats[0]["updateDataModel"]["value"]) == 2000
        assert "Two balcony seats are held for you." in texts_of(lines)

        first, second, third = script.requests
        assert {t["function"]["name"] for t in first["tools"]} == {
            "list_events", "show_seat_map", "hold_seats"}
        calls = second["messages"][-3]
        assert calls["role"] == "assistant" and calls["content"] == "Let me look."
        assert [c["function"]["name"] for c in calls["tool_calls"]] == [
            "list_events", "show_seat_map"]
        results = {m["tool_call_id"]: json.loads(m["content"])
                   for m in second["messages"] if m["role"] == "tool"}
        assert any(e["name"] == "Friday Night Concert" for e in results["call_0"]["events"])
        assert results["call_1"]["total"] == 2000 and results["call_1"]["shown"] is True
        held = [json.loads(m["content"]) for m in third["messages"]
                if m["role"] == "tool"][-3:]  # this round's results follow the first round's
        assert held[0]["held"] is True and len(held[0]["seats"]) == 2
        assert "event_id" in held[1]["error"] and "unknown tool" in held[2]["error"]
        assert running.app.state.agent.stats.tool_calls == 5


class StubDesk:
    """A stand-in for the deterministic agent with a booking service that has no events."""

    booking = SimpleNamespace(list_events=lambda: [])

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def tool(self, fn: Any, *args: Any) -> Any:
        return fn(*args)

    async def list_events(self, session: Any, intent: Any = None) -> None:
        session.say("text", "There are no events yet.")


def test_tools_need_a_booking_service_and_rounds_are_bounded(
        llm: tuple[Script, LiveServer, LlmAgent]) -> None:
    script, app, agent = llm
    script.answers.append(answer(surface()))
    timed_jsonl(app, "x")
    assert "tools" not in script.requests[0]  # no booking service: no tools offered
    assert agent.stats.tool_calls == 0

    desk = LlmAgent(agent.config, fallback=StubDesk())
    server = start_server(create_app(desk))
    try:
        script.requests.clear()
        script.answers += [Answer(tool_calls=[("list_events", {})]) for _ in range(5)]
        got = [m for _, m in timed_jsonl(server, "what is on?")]
        assert len(script.requests) == MAX_TOOL_ROUNDS + 1
        assert all("tools" in r for r in script.requests[:-1])
        assert "tools" not in script.requests[-1]  # the last call may only answer
        assert desk.stats.tool_calls == MAX_TOOL_ROUNDS
        assert texts_of(got).count("There are no events yet.") == MAX_TOOL_ROUNDS
    finally:
        server.stop()
