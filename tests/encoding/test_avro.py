"""Avro binary: byte-for-byte agreement with fastavro (the spec-following implementation), in
both directions, for random schemas and records; plus the spec's corner cases."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import fastavro
import pytest
from fastavro import _read_py, _write_py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avro import AvroCodec
from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fa_write(schema: dict, value: Any, pure: bool = False) -> bytes:
    buf = io.BytesIO()
    parsed = fastavro.parse_schema(schema)
    (_write_py if pure else fastavro).schemaless_writer(buf, parsed, value)
    return buf.getvalue()


def fa_read(schema: dict, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(schema), None)


def same(a: Any, b: Any) -> bool:
    """Equality where floats compare bit-for-bit-ish (0.0 vs -0.0 differ, NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) and a == b) or (isinstance(a, float) and a == b)


@SETTINGS
@given(st.data())
def test_random_records_match_fastavro_both_ways(data: st.DataObject) -> None:
    sj = data.draw(schema_json())
    schema = parse_schema(json.dumps(sj))
    codec = AvroCodec(schema)
    value = data.draw(values(schema))
    ours = codec.encode(value)
    assert ours == fa_write(sj, value)
    assert same(fa_read(sj, ours), codec.decode(ours))
    assert same(codec.decode(fa_write(sj, value)), fa_read(sj, ours))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_matches_fastavro_pure_python_path(data: st.DataObject) -> None:
    sj = data.draw(schema_json(max_depth=2))
    schema = parse_schema(sj)
    value = data.draw(values(schema))
    ours = AvroCodec(schema).encode(value)
    assert ours == fa_write(sj, value, pure=True)
    parsed = fastavro.parse_schema(sj)
    assert same(_read_py.schemaless_reader(io.BytesIO(ours), parsed, None),
                AvroCodec(schema).decode(ours))


PERSON = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}
MARTIN = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["daydreaming", "hacking"]}


def test_ddia_example_is_32_bytes_and_matches_the_book() -> None:
    data = AvroCodec(parse_schema(PERSON)).encode(MARTIN)
    assert len(data) == 32
    # DDIA fig. 4-5: length 6, "Martin", union branch 1, 1337 as zig-zag f2 14, 2 items
    assert data[:7] == b"\x0cMartin"
    assert data[7:10] == b"\x02\xf2\x14"
    assert data == fa_write(PERSON, MARTIN)


@pytest.mark.parametrize("n", [0, -1, 1, 63, -64, 64, 2**31 - 1, -2**31, 2**63 - 1, -2**63])
def test_long_edges(n: int) -> None:
    codec = AvroCodec(parse_schema('"long"'))
    assert codec.encode(n) == fa_write("long", n)
    assert codec.decode(codec.encode(n)) == n


def test_negative_block_counts_are_read() -> None:
    # fastavro never writes them, but the spec allows a negative count followed by a size.
    codec = AvroCodec(parse_schema({"type": "array", "items": "int"}))
    assert codec.decode(b"\x05\x06\x02\x04\x06\x00") == [1, 2, 3]


def test_recursive_schema() -> None:
    sj = {"type": "record", "name": "Node", "fields": [
        {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}
    v = {"v": 1, "next": {"v": 2, "next": None}}
    codec = AvroCodec(parse_schema(sj))
    assert codec.encode(v) == fa_write(sj, v)
    assert codec.decode(codec.encode(v)) == v


def test_missing_field_uses_writer_default() -> None:
    codec = AvroCodec(parse_schema(PERSON))
    v = {"userName": "a", "interests": []}
    assert codec.decode(codec.encode(v)) == {**v, "favoriteNumber": None}


@pytest.mark.parametrize(("value", "path", "words"), [
    ({"userName": 5, "interests": []}, ["userName"], "expected string"),
    ({"userName": "a", "favoriteNumber": "x", "interests": []}, ["favoriteNumber"],
     "expected long"),
    ({"userName": "a", "interests": ["ok", 3]}, ["interests", "[1]"], "expected string"),
    ({"interests": []}, ["userName"], "missing field"),
    ({"userName": "a", "favoriteNumber": 2**63, "interests": []}, ["favoriteNumber"],
     "out of range"),
])
def test_wrong_types_on_encode_name_the_field(value: Any, path: list[str], words: str) -> None:
    with pytest.raises(EncodeError) as err:
        AvroCodec(parse_schema(PERSON)).encode(value)
    assert err.value.path == path
    assert words in str(err.value)


@pytest.mark.parametrize(("data", "offset", "words"), [
    (b"\x0cMart", 0, "runs past the end"),
    (b"\x0cMartin\x04", 7, "union index 2 out of range"),
    (b"\x0cMartin\x02" + b"\xff" * 11, 8, "longer than 10 bytes"),
    (b"\x0cMartin\x02\xff\xff", 8, "truncated varint"),
    (b"\x04\xff\xfe\x00\x00", 1, "invalid UTF-8"),
    (b"", 0, "truncated"),
    (b"\x0cMartin\x00\x00\x00", 9, "trailing"),
    (b"\x0cMartin\x00\x7e", 8, "exceeds the bytes left"),
])
def test_bad_input_is_a_typed_error_with_offset(data: bytes, offset: int, words: str) -> None:
    with pytest.raises(DecodeError) as err:
        AvroCodec(parse_schema(PERSON)).decode(data)
    assert err.value.offset == offset, str(err.value)
    assert words in str(err.value)


def test_zero_width_items_cannot_claim_huge_counts() -> None:
    codec = AvroCodec(parse_schema({"type": "array", "items": "null"}))
    assert codec.decode(b"\x06\x00") == [None, None, None]
    with pytest.raises(DecodeError, match="implausibly large"):
        codec.decode(b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f\x00")


def test_boolean_byte_must_be_0_or_1() -> None:
    with pytest.raises(DecodeError, match="0 or 1"):
        AvroCodec(parse_schema('"boolean"')).decode(b"\x02")


def test_int_out_of_range_on_decode_is_an_error() -> None:
    with pytest.raises(DecodeError, match="out of range for int"):
        AvroCodec(parse_schema('"int"')).decode(b"\x80\x80\x80\x80\x10")
