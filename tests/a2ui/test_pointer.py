"""JSON Pointer (RFC 6901) and A2UI binding paths: escaping, checks, get/set/delete."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.a2ui import pointer
from cairn.a2ui.errors import InvalidPointer


def test_escape_round_trip_and_rfc_examples() -> None:
    doc = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5,
           'k"l': 6, " ": 7, "m~n": 8}
    assert pointer.get(doc, "/foo") == ["bar", "baz"]
    assert pointer.get(doc, "/foo/0") == "bar"
    assert pointer.get(doc, "/a~1b") == 1
    assert pointer.get(doc, "/m~0n") == 8
    assert pointer.get(doc, "/c%d") == 2
    assert pointer.get(doc, "/ ") == 7
    assert pointer.escape("a/b~c") == "a~1b~0c"
    assert pointer.unescape("a~1b~0c") == "a/b~c"
    assert pointer.get(doc, "/") == doc  # A2UI: "/" is the whole model


@pytest.mark.parametrize("bad", ["/a~2", "/~", "/a~", "x\x00", "/" + "a" * 3000])
def test_invalid_pointers_rejected(bad: str) -> None:
    with pytest.raises(InvalidPointer):
        pointer.check(bad, relative_ok=True)


def test_relative_only_in_templates() -> None:
    pointer.check("name", relative_ok=True)
    with pytest.raises(InvalidPointer, match="relative"):
        pointer.check("name")
    assert pointer.resolve_path("name", "/people/2") == "/people/2/name"
    assert pointer.resolve_path("/abs", "/people/2") == "/abs"
    with pytest.raises(InvalidPointer):
        pointer.resolve_path("name", None)


def test_get_missing_and_bad_index() -> None:
    doc = {"a": [1, 2]}
    assert pointer.get(doc, "/a/5") is None
    assert pointer.get(doc, "/a/x", "d") == "d"
    assert pointer.get(doc, "/a/01") is None  # leading zeros are not indexes
    assert pointer.get(doc, "/b/c") is None


def test_set_creates_containers_like_the_spec() -> None:
    doc: Any = {}
    doc = pointer.set_value(doc, "/a/0/name", "x")  # numeric next segment -> array
    assert doc == {"a": [{"name": "x"}]}
    doc = pointer.set_value(doc, "/b/c", 1)
    assert doc["b"] == {"c": 1}
    doc = pointer.set_value(doc, "/a/2", "z")  # extends with holes
    assert doc["a"] == [{"name": "x"}, None, "z"]
    assert pointer.set_value(doc, "/", {"new": 1}) == {"new": 1}


def test_delete_key_and_array_hole() -> None:
    doc = {"a": [1, 2, 3], "b": 1}
    doc = pointer.delete(doc, "/b")
    assert "b" not in doc
    doc = pointer.delete(doc, "/a/1")
    assert doc["a"] == [1, None, 3]  # length kept
    assert pointer.delete(doc, "/") is None


def test_set_through_array_with_non_index_fails() -> None:
    with pytest.raises(InvalidPointer):
        pointer.set_value({"a": [1]}, "/a/x", 1)
    with pytest.raises(InvalidPointer):
        pointer.check_settable({"a": [1]}, "/a/x")
    with pytest.raises(InvalidPointer):
        pointer.check_settable({"a": [1]}, "/a/99999999")


keys = st.text(alphabet=st.characters(blacklist_characters="\x00"), min_size=1, max_size=8)


@given(st.lists(keys, min_size=1, max_size=5), st.integers() | st.text(max_size=5))
def test_set_then_get_round_trip(tokens: list[str], value: Any) -> None:
    path = pointer.join(tokens)
    assert pointer.split(path) == tokens
    doc = pointer.set_value({}, path, value) if not tokens[0].isdigit() else None
    if doc is not None:
        pointer.check_settable({}, path)
        assert pointer.get(doc, path) == value


def test_resolve_values_absolute_relative_and_in_templates() -> None:
    data = {"user": {"name": "Ada"}, "items": [{"id": "1", "label": "a"},
                                               {"id": "2", "label": "b"}]}
    assert pointer.resolve_value({"path": "/user/name"}, data) == "Ada"
    assert pointer.resolve_value("literal", data) == "literal"
    scopes = pointer.template_scopes(data, "/items")
    assert scopes == ["/items/0", "/items/1"]
    ctx = {"eventId": {"path": "id"}, "who": {"path": "/user/name"}, "n": 2}
    assert [pointer.resolve_value(ctx, data, s) for s in scopes] == [
        {"eventId": "1", "who": "Ada", "n": 2}, {"eventId": "2", "who": "Ada", "n": 2}]
    call = {"call": "formatString", "args": {"value": "${label}"}}
    assert pointer.resolve_value(call, data, scopes[0]) == call  # evaluated by the client
    assert pointer.template_scopes(data, "/user") == []
    # nested template: a relative path inside an item
    nested = {"rows": [{"seats": [{"n": 1}, {"n": 2}]}]}
    inner = pointer.template_scopes(nested, "seats", "/rows/0")
    assert inner == ["/rows/0/seats/0", "/rows/0/seats/1"]
    assert pointer.resolve_value({"path": "n"}, nested, inner[1]) == 2
    # two-way: an input bound to a path writes where a reader of that path looks
    model: Any = {}
    model = pointer.set_value(model, pointer.resolve_path("name", "/people/0"), "Bo")
    assert pointer.resolve_value({"path": "/people/0/name"}, model) == "Bo"
