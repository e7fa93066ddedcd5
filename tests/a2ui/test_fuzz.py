"""Fuzzing the message parser/validator and the action endpoint with hostile input:
arbitrary JSON, mutated valid messages, cycles, unknown components, 10 MB messages, script
in text, ``javascript:`` URLs. Always a typed error, never a crash or a 500."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.a2ui.errors import A2uiError
from cairn.a2ui.session import Session
from cairn.a2ui.validate import SurfaceState, Validator
from tests.a2ui.conftest import CAIRN, LiveServer, action, jsonl_turn, start_server

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=25)

KEYS = ["version", "createSurface", "updateComponents", "updateDataModel", "deleteSurface",
        "surfaceId", "catalogId", "components", "id", "component", "children", "child",
        "path", "value", "text", "action", "event", "name", "url", "call", "args"]
hostile = st.recursive(
    st.sampled_from(["root", "v0.9", "s", "Text", "Column", "/a", "javascript:alert(1)",
                     "<script>alert(1)</script>", "~2", CAIRN, "", "\x00"]) | st.integers(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                max_size=5),
    max_leaves=30)

VALID = [
    {"version": "v0.9", "createSurface": {"surfaceId": "s", "catalogId": CAIRN}},
    {"version": "v0.9", "updateComponents": {"surfaceId": "s", "components": [
        {"id": "root", "component": "Column", "children": ["t", "b"]},
        {"id": "t", "component": "Text", "text": {"path": "/t"}},
        {"id": "b", "component": "Button", "child": "bl",
         "action": {"event": {"name": "go", "context": {"v": {"path": "/t"}}}}},
        {"id": "bl", "component": "Text", "text": "go"}]}},
    {"version": "v0.9", "updateDataModel": {"surfaceId": "s", "path": "/t", "value": "x"}},
]


def apply_all(v: Validator, msgs: list[Any]) -> None:
    surfaces: dict[str, SurfaceState] = {}
    for m in msgs:
        try:
            v.apply(m, surfaces)
        except A2uiError as exc:
            assert exc.message and isinstance(exc.path, str)


settings_ = settings(max_examples=120, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@settings_
@given(st.lists(json_values | hostile, max_size=4))
def test_arbitrary_json_never_crashes_the_validator(validator: Validator,
                                                    msgs: list[Any]) -> None:
    apply_all(validator, [VALID[0], *msgs])


@settings_
@given(st.data())
def test_mutated_valid_messages_never_crash(validator: Validator, data: st.DataObject) -> None:
    msgs = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        m = data.draw(st.sampled_from(msgs))
        body = next(v for k, v in m.items() if k != "version")
        target: Any = body
        if isinstance(body, dict) and isinstance(body.get("components"), list) and \
                body["components"]:
            target = data.draw(st.sampled_from(body["components"]))
        if not isinstance(target, dict):
            continue
        key = data.draw(st.sampled_from(sorted(str(k) for k in target) + KEYS))
        if data.draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = data.draw(hostile)
    apply_all(validator, msgs)


def test_ten_megabyte_message_is_refused_cleanly(validator: Validator) -> None:
    s = Session("x" * 43, validator)
    s.emit(VALID[0])
    s.emit(VALID[1])
    with pytest.raises(A2uiError, match="over the"):
        s.emit({"version": "v0.9", "updateDataModel": {"surfaceId": "s", "path": "/t",
                                                       "value": "a" * (10 << 20)}})
    assert s.surfaces["s"].data == {}  # nothing applied, nothing sent
    assert s.sent == 2 and s.rejected == 1


def test_cycle_and_unknown_component_are_refused(validator: Validator) -> None:
    s = Session("y" * 43, validator)
    s.emit(VALID[0])
    for comps in ([{"id": "root", "component": "Column", "children": ["a"]},
                   {"id": "a", "component": "Column", "children": ["root"]}],
                  [{"id": "root", "component": "IFrame", "src": "https://evil.example"}],
                  [{"id": "root", "component": "Image", "url": "javascript:alert(1)"}]):
        with pytest.raises(A2uiError):
            s.emit({"version": "v0.9", "updateComponents": {"surfaceId": "s",
                                                            "components": comps}})
    assert s.surfaces["s"].components == {} and s.sent == 1


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    from cairn.a2ui.server import create_app

    srv = start_server(create_app())
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def demo_client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        yield c


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(
    json_values.map(lambda v: {"a2ui": v}),
    hostile.map(lambda v: {"a2ui": {"version": "v0.9", "action": v}}),
    st.fixed_dictionaries({"name": hostile, "surfaceId": st.sampled_from(["demo", "x", 1]),
                           "sourceComponentId": hostile,
                           "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "x"]),
                           "context": json_values}).map(
        lambda a: {"a2ui": {"version": "v0.9", "action": a}}),
    json_values.map(lambda v: {"text": "demo", "a2uiClientCapabilities": v}),
    json_values.map(lambda v: {"text": "hi", "a2uiClientDataModel": v}),
    st.binary(max_size=64),
))
def test_action_endpoint_fuzz(demo_client: httpx.Client, body: Any) -> None:
    c = demo_client
    content = body if isinstance(body, bytes) else json.dumps(body)
    r = c.post("/a2ui/send", content=content)
    assert r.status_code in (202, 400, 404, 413), (r.status_code, r.text)
    if r.status_code != 202:
        err = r.json()["error"]
        assert err["code"] and err["message"]
    assert c.get("/health").status_code == 200


def test_script_in_text_stays_text(server: LiveServer) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(1)>"
    with server.client() as c:
        jsonl_turn(c, {"text": "demo"})
        lines = jsonl_turn(c, action("demo", "send", "greet", {"name": evil}))
        assert lines[0]["cairn"] == {"type": "text", "text": f"Hello, {evil}!"}
        r = c.post("/a2ui/send", json={"text": evil})
        assert r.status_code == 202
        assert "html" not in r.headers["content-type"]
        assert c.get("/health").status_code == 200


def test_nan_and_unserialisable_values_are_refused(validator: Validator) -> None:
    s = Session("n" * 43, validator)
    s.emit(VALID[0])
    s.emit(VALID[1])
    for bad in (float("nan"), float("inf"), {1, 2}, object()):
        with pytest.raises(A2uiError, match="JSON"):
            s.emit({"version": "v0.9", "updateDataModel": {"surfaceId": "s", "path": "/t",
                                                           "value": bad}})
    assert s.sent == 2
