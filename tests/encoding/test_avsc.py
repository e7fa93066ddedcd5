"""Avro schema text: parsing errors say where, canonical form and fingerprint agree with
fastavro, export round-trips, Python definitions equal parsed ones."""

from __future__ import annotations

import json

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form
from hypothesis import given, settings

from cairn.encoding.avro import AvroCodec
from cairn.encoding.avsc import canonical_form, fingerprint64, parse_schema, to_avsc, to_json
from cairn.encoding.errors import SchemaError
from cairn.encoding.schema import LONG, STRING, Array, field, optional, record
from tests.encoding.strategies import schema_json


@settings(max_examples=150, deadline=None)
@given(schema_json())
def test_canonical_form_and_fingerprint_match_fastavro(sj: dict) -> None:
    schema = parse_schema(sj)
    theirs = to_parsing_canonical_form(fastavro.parse_schema(sj))
    assert canonical_form(schema) == theirs
    assert fingerprint64(schema).to_bytes(8, "little").hex() == fingerprint(theirs,
                                                                            "CRC-64-AVRO")
    again = parse_schema(to_avsc(schema))
    assert canonical_form(again) == theirs


def test_spec_fingerprint_of_int() -> None:
    assert fingerprint64(parse_schema('"int"')) == 0x7275D51A3F395C8F


def test_python_definition_equals_avsc() -> None:
    py = record("Person", [field("userName", STRING),
                           field("favoriteNumber", optional(LONG), None),
                           field("interests", Array(STRING))])
    text = {"type": "record", "name": "Person", "fields": [
        {"name": "userName", "type": "string"},
        {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
        {"name": "interests", "type": {"type": "array", "items": "string"}}]}
    assert canonical_form(py) == canonical_form(parse_schema(text))
    assert to_json(py) == text
    v = {"userName": "a", "favoriteNumber": 1, "interests": []}
    assert AvroCodec(py).encode(v) == AvroCodec(parse_schema(text)).encode(v)


def test_namespaces_aliases_and_tags_round_trip() -> None:
    sj = {"type": "record", "name": "a.b.R", "aliases": ["Old"], "fields": [
        {"name": "x", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"],
                               "default": "A"}, "tag": 9},
        {"name": "y", "type": "E"},
        {"name": "z", "type": {"type": "fixed", "name": "c.F", "size": 2},
         "default": "\u00ff\u0000"}]}
    s = parse_schema(sj)
    assert s.fields[1].type is s.fields[0].type and s.fields[0].type.name == "a.b.E"
    assert s.fields[0].tag == 9 and s.fields[1].tag == 2
    assert s.aliases == ("a.b.Old",)
    assert s.fields[2].default == b"\xff\x00"
    assert canonical_form(parse_schema(to_avsc(s))) == canonical_form(s)
    assert to_json(parse_schema(to_avsc(s)))["fields"][0]["tag"] == 9


@pytest.mark.parametrize(("schema", "words", "path"), [
    ("{not json", "not valid JSON", []),
    ({"type": "record", "name": "R"}, "needs a 'fields' list", ["R"]),
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]},
     "unknown type 'nope'", ["R", "a", "type"]),
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"},
                                                {"name": "a", "type": "int"}]},
     "duplicate field name", ["R", "a"]),
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int",
                                                 "default": "x"}]},
     "invalid default", ["R", "a", "default"]),
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "int"],
                                                 "default": 1}]},
     "invalid default", ["R", "a", "default"]),
    ({"type": "enum", "name": "E", "symbols": ["A", "A"]}, "duplicate enum symbol", ["E"]),
    (["int", "int"], "contains 'int' twice", ["$", "[1]"]),
    (["int", ["null"]], "may not immediately contain", ["$", "[1]"]),
    ({"type": "record", "name": "1R", "fields": []}, "invalid name", ["$"]),
    ({"type": "fixed", "name": "F", "size": -1}, "non-negative", ["$"]),
    ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "tag": 1},
                                                {"name": "b", "type": "int", "tag": 1}]},
     "duplicate field tag", ["R", "b"]),
    ({"type": "record", "name": "int", "fields": []}, "cannot redefine", ["$"]),
    ({"type": "array"}, "needs 'items'", ["$"]),
    (42, "must be a string, list or object", ["$"]),
])
def test_invalid_schemas_say_where(schema: object, words: str, path: list[str]) -> None:
    with pytest.raises(SchemaError) as err:
        parse_schema(schema if isinstance(schema, str) else json.dumps(schema))
    assert words in err.value.message
    assert err.value.path == path
