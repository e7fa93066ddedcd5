"""MessagePack: byte-for-byte agreement with the official ``msgpack`` (C and pure-Python
fallback), both directions; unknown map entries kept; bad input."""

from __future__ import annotations

import json
import math

import msgpack
import msgpack.fallback
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError
from cairn.encoding.messagepack import MessagePackCodec, pack_int, pack_str
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(st.data())
def test_random_records_match_msgpack_both_ways(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="avro"))
    schema = parse_schema(json.dumps(sj))
    codec = MessagePackCodec(schema)
    value = data.draw(values(schema))
    ours = codec.encode(value)
    assert ours == msgpack.packb(value)
    assert ours == msgpack.fallback.Packer().pack(value)
    assert msgpack.unpackb(ours, strict_map_key=False) == value


@SETTINGS
@given(st.data())
def test_decode_what_msgpack_wrote(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="tagged"))
    schema = parse_schema(sj)
    value = data.draw(values(schema))
    assert MessagePackCodec(schema).decode(msgpack.packb(value)) == value


@given(st.integers(-(2**63), 2**64 - 1))
def test_integer_widths_match(n: int) -> None:
    out = bytearray()
    pack_int(out, n)
    assert bytes(out) == msgpack.packb(n)


@given(st.text(max_size=300))
def test_string_widths_match(s: str) -> None:
    out = bytearray()
    pack_str(out, s)
    assert bytes(out) == msgpack.packb(s)


PERSON = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}
MARTIN = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["daydreaming", "hacking"]}


def test_ddia_example_is_66_bytes() -> None:
    data = MessagePackCodec(parse_schema(PERSON)).encode(MARTIN)
    assert len(data) == 66
    assert data[:10] == b"\x83\xa8userName"  # fig. 4-1: map of 3, 8-byte string


def test_unknown_entries_survive_a_rewrite() -> None:
    v2 = parse_schema({**PERSON, "fields": [*PERSON["fields"],
                                            {"name": "photo", "type": "bytes"}]})
    new = MessagePackCodec(v2).encode({**MARTIN, "photo": b"\x89PNG"})
    old = MessagePackCodec(parse_schema(PERSON)).decode(new)
    assert "photo" not in old
    back = MessagePackCodec(v2).decode(MessagePackCodec(parse_schema(PERSON)).encode(old))
    assert back["photo"] == b"\x89PNG"


def test_float32_and_ints_are_accepted_for_doubles() -> None:
    codec = MessagePackCodec(parse_schema('"double"'))
    assert codec.decode(b"\xca\x3f\xc0\x00\x00") == 1.5
    assert codec.decode(b"\x05") == 5.0
    assert math.isnan(codec.decode(msgpack.packb(float("nan"))))


@pytest.mark.parametrize(("data", "words"), [
    (b"\x83\xa8userNa", "runs past the end"),
    (b"\x83\xa8userName\xa2\xff\xfe", "invalid UTF-8"),
    (b"\x83\xa8userName\x05", "expected a string"),
    (b"\xc1", "invalid MessagePack type byte"),
    (b"\x81\xa8userName\xa1x", "lacks field 'interests'"),
    (b"\xdf\xff\xff\xff\xff", "exceeds the bytes left"),
    (b"\x91" * 200, "expected a map"),
])
def test_bad_input(data: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        MessagePackCodec(parse_schema(PERSON)).decode(data)


def test_deeply_nested_unknown_value_is_refused() -> None:
    data = b"\x82\xa8userName\xa1x\xa1z" + b"\x91" * 100 + b"\xc0"
    with pytest.raises(DecodeError, match="nested too deep"):
        MessagePackCodec(parse_schema(PERSON)).decode(data)


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(EncodeError) as err:
        MessagePackCodec(parse_schema(PERSON)).encode({**MARTIN, "userName": b"x"})
    assert err.value.path == ["userName"]
