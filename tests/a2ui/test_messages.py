"""Typed message models and parsing of untrusted client messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cairn.a2ui.errors import MalformedRequest, ValidationFailed
from cairn.a2ui.messages import (
    ActionMessage,
    ClientCapabilities,
    CreateSurface,
    DeleteSurface,
    ErrorMessage,
    UpdateComponents,
    UpdateDataModel,
    from_wire,
    parse_client_message,
)
from cairn.a2ui.validate import SurfaceState, Validator
from tests.a2ui.conftest import BASIC


def test_server_messages_round_trip_and_validate(validator: Validator) -> None:
    msgs = [CreateSurface("s", BASIC, {"primaryColor": "#112233"}, True),
            UpdateComponents("s", ({"id": "root", "component": "Text", "text": "x"},)),
            UpdateDataModel("s", "/a", {"b": 1}),
            UpdateDataModel("s", "/a"),
            DeleteSurface("s")]
    surfaces: dict[str, SurfaceState] = {}
    for m in msgs:
        wire = m.to_wire()
        assert wire["version"] == "v0.9"
        assert from_wire(wire) == m
        validator.apply(wire, surfaces)
    assert msgs[3].deletes and not msgs[2].deletes
    assert "value" not in msgs[3].to_wire()["updateDataModel"]
    assert surfaces == {}


def action(**over: Any) -> dict[str, Any]:
    a = {"name": "go", "surfaceId": "s", "sourceComponentId": "b",
         "timestamp": "2026-11-28T12:00:00.123Z", "context": {"x": 1}}
    a.update(over)
    return {"version": "v0.9", "action": a}


def test_parse_action_and_error() -> None:
    a = parse_client_message(action())
    assert isinstance(a, ActionMessage)
    assert a.timestamp == dt.datetime(2026, 11, 28, 12, 0, 0, 123000, tzinfo=dt.UTC)
    assert a.context == {"x": 1}
    e = parse_client_message({"version": "v0.9", "error": {
        "code": "VALIDATION_FAILED", "surfaceId": "s", "path": "/components/0/text",
        "message": "bad"}})
    assert isinstance(e, ErrorMessage) and e.path == "/components/0/text"
    g = parse_client_message({"version": "v0.9", "error": {
        "code": "RENDER", "surfaceId": "s", "message": "boom", "detail": 1}})
    assert isinstance(g, ErrorMessage) and g.path is None


@pytest.mark.parametrize("bad,needle", [
    ("nope", "JSON object"),
    ({"version": "v0.9"}, ""),
    ({"version": "v0.8", "action": action()["action"]}, ""),
    ({"version": "v0.9", "action": {"name": "go"}}, "required"),
    (action(timestamp="yesterday"), "timestamp"),
    (action(context=[1, 2]), ""),
    ({**action(), "error": {"code": "X", "surfaceId": "s", "message": "m"}}, ""),
    ({"version": "v0.9", "error": {"code": "VALIDATION_FAILED", "surfaceId": "s",
                                   "message": "m"}}, ""),  # VALIDATION_FAILED needs a path
])
def test_bad_client_messages(bad: Any, needle: str) -> None:
    with pytest.raises((ValidationFailed, MalformedRequest)) as ei:
        parse_client_message(bad)
    assert needle in str(ei.value)


def test_capabilities() -> None:
    caps = ClientCapabilities.parse({"v0.9": {"supportedCatalogIds": [BASIC]}})
    assert caps.supported_catalog_ids == frozenset({BASIC})
    for bad in ({}, {"v0.9": {}}, {"v0.9": {"supportedCatalogIds": "x"}},
                {"v0.9": {"supportedCatalogIds": [1]}},
                {"v0.9": {"supportedCatalogIds": [BASIC], "inlineCatalogs": [{}]}}):
        with pytest.raises(ValidationFailed):
            ClientCapabilities.parse(bad)
