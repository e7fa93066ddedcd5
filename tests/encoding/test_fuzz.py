"""Fuzzing the decoders: random and mutated bytes give a value or a DecodeError, never another
exception or a hang; ``explain`` never raises. The corpus is the hypothesis database (small)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avsc import parse_schema
from cairn.encoding.demo import MARTIN, person_schema
from cairn.encoding.errors import DecodeError
from cairn.encoding.explain import explain
from cairn.encoding.formats import FORMATS, codec_for
from cairn.encoding.resolve import ResolvingDecoder
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NODE = parse_schema({"type": "record", "name": "Node", "fields": [
    {"name": "v", "type": "long"}, {"name": "kids", "type": {"type": "array", "items": "Node"}},
    {"name": "next", "type": ["null", "Node"]}]})


def _decode_or_error(fmt: str, schema: Any, data: bytes) -> None:
    try:
        codec_for(fmt, schema).decode(data)
    except DecodeError as exc:
        assert exc.offset is None or 0 <= exc.offset <= len(data)
    parts = explain(fmt, schema, data)
    assert all(0 <= p.offset <= len(data) for p in parts)


@SETTINGS
@given(st.sampled_from(FORMATS), st.binary(max_size=64))
def test_random_bytes(fmt: str, data: bytes) -> None:
    _decode_or_error(fmt, person_schema(), data)


@SETTINGS
@given(st.sampled_from(FORMATS), st.data())
def test_mutated_valid_encodings(fmt: str, data: st.DataObject) -> None:
    blob = bytearray(codec_for(fmt, person_schema()).encode(MARTIN))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if op == "flip" and blob:
            blob[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del blob[i:]
        else:
            blob[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    _decode_or_error(fmt, person_schema(), bytes(blob))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(["avro", "msgpack", "json"]), st.binary(max_size=200))
def test_recursive_schema_random_bytes(fmt: str, data: bytes) -> None:
    _decode_or_error(fmt, NODE, data)


def test_deep_recursion_is_a_decode_error() -> None:
    # 100k nested "next" branches: a RecursionError inside is reported as a DecodeError
    blob = b"\x00\x00\x02" * 100_000 + b"\x00\x00\x00"
    with pytest.raises(DecodeError, match="too deep"):
        codec_for("avro", NODE).decode(blob)
    assert codec_for("avro", NODE).decode(b"\x00\x00\x02" * 50 + b"\x00\x00\x00")["v"] == 0


@SETTINGS
@given(st.data())
def test_random_schemas_random_bytes_and_resolution(data: st.DataObject) -> None:
    sj = data.draw(schema_json(max_depth=2))
    schema = parse_schema(json.dumps(sj))
    blob = data.draw(st.binary(max_size=40))
    for fmt in ("avro", "msgpack", "json"):
        _decode_or_error(fmt, schema, blob)
    other = parse_schema(json.dumps(data.draw(schema_json(max_depth=2))))
    try:
        ResolvingDecoder(schema, other).decode(
            codec_for("avro", schema).encode(data.draw(values(schema))))
    except Exception as exc:  # only the two typed outcomes are allowed
        from cairn.encoding.errors import IncompatibleSchemaError
        assert isinstance(exc, (DecodeError, IncompatibleSchemaError)), repr(exc)


def test_explain_of_a_huge_zero_width_block_stops() -> None:
    # an array of nulls claiming 2**62 items in 10 bytes: an error part, not 2**62 loop turns
    schema = parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "nothing", "type": {"type": "array", "items": "null"}}]})
    blob = b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f\x00"
    parts = explain("avro", schema, blob)
    assert parts[-1].meaning.startswith("error: block count") and parts[-1].offset == 0
    ok = explain("avro", schema, b"\x06\x00")  # three nulls: one part, no bytes
    assert [p.meaning for p in ok] == ["array block of 3 item(s)",
                                      "3 null item(s) of zero width, no bytes",
                                      "end of array (block count 0)"]


def test_explain_of_a_truncated_fixed_stops_inside_the_input() -> None:
    # found by hypothesis: a fixed(1) over no bytes was listed as a part past the end
    schema = parse_schema({"type": "record", "name": "R1", "fields": [
        {"name": "f0", "type": {"type": "fixed", "name": "F0", "size": 1}}]})
    (part,) = explain("avro", schema, b"")
    assert part.offset == 0 and part.meaning.startswith("error: truncated fixed(1)")


def test_explain_of_a_msgpack_map_with_an_integer_key_stops() -> None:
    # found by hypothesis: a negative fixint read as a key length walked backwards forever
    blob = b"\x83\xe0" + codec_for("msgpack", person_schema()).encode(MARTIN)[1:]
    parts = explain("msgpack", person_schema(), blob)
    assert parts[-1].meaning == "error: map key is a int, not a string at byte 1 (field <root>)"
    assert parts[-1].offset == 1
