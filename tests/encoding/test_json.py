"""JSON codec: same bytes as ``json.dumps``/``orjson`` for JSON-native values, the chosen
forms for bytes and non-finite floats, unknown members kept, bad input located."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError
from cairn.encoding.jsoncodec import JsonCodec
from cairn.encoding.schema import Fixed, named_types
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _has_binary(sj: object) -> bool:
    return '"bytes"' in json.dumps(sj) or '"fixed"' in json.dumps(sj)


@SETTINGS
@given(st.data())
def test_matches_json_and_orjson_for_json_native_values(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="avro"))
    schema = parse_schema(sj)
    value = data.draw(values(schema))
    codec = JsonCodec(schema)
    ours = codec.encode(value)
    if not _has_binary(sj):
        assert ours == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        assert json.loads(ours) == value
    if not _has_binary(sj) and '"float"' not in json.dumps(sj):
        # orjson prints floats with the shortest repr too; only non-ASCII escapes differ
        assert orjson.loads(ours) == value
    assert codec.encode(codec.decode(ours)) == ours


@SETTINGS
@given(st.data())
def test_round_trip_is_exact_for_non_union_schemas(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="tagged"))
    schema = parse_schema(sj)
    value = data.draw(values(schema))
    assert JsonCodec(schema).decode(JsonCodec(schema).encode(value)) == value
    assert not any(isinstance(t, Fixed) for t in named_types(schema))


PERSON = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}
MARTIN = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["daydreaming", "hacking"]}


def test_ddia_example_is_81_bytes() -> None:
    data = JsonCodec(parse_schema(PERSON)).encode(MARTIN)
    assert data == (b'{"userName":"Martin","favoriteNumber":1337,'
                    b'"interests":["daydreaming","hacking"]}')
    assert len(data) == 81


def test_bytes_and_non_finite_floats() -> None:
    codec = JsonCodec(parse_schema({"type": "record", "name": "B", "fields": [
        {"name": "b", "type": "bytes"}, {"name": "d", "type": {"type": "array",
                                                               "items": "double"}}]}))
    data = codec.encode({"b": b"\x00\xff", "d": [math.inf, -math.inf, 1.5]})
    assert data == b'{"b":"AP8=","d":["Infinity","-Infinity",1.5]}'
    back = codec.decode(data)
    assert back["b"] == b"\x00\xff" and back["d"][0] == math.inf
    assert math.isnan(codec.decode(codec.encode({"b": b"", "d": [math.nan]}))["d"][0])


def test_unknown_members_survive_a_rewrite() -> None:
    old = JsonCodec(parse_schema(PERSON)).decode(
        b'{"userName":"M","interests":[],"photo":"x.png"}')
    assert "photo" not in old
    assert json.loads(JsonCodec(parse_schema(PERSON)).encode(old))["photo"] == "x.png"


@pytest.mark.parametrize(("data", "words", "path"), [
    (b'{"userName":"M","interests":[1]}', "expected string", ["interests", "[0]"]),
    (b'{"userName":"M","favoriteNumber":1.5,"interests":[]}', "matches no branch",
     ["favoriteNumber"]),
    (b'{"userName":1,"interests":[]}', "expected string", ["userName"]),
    (b'{"userName":"M"}', "lacks field 'interests'", []),
])
def test_wrong_values_name_the_field(data: bytes, words: str, path: list[str]) -> None:
    with pytest.raises(DecodeError, match=words) as err:
        JsonCodec(parse_schema(PERSON)).decode(data)
    assert err.value.path == path


def test_invalid_json_and_utf8_give_offsets() -> None:
    with pytest.raises(DecodeError) as err:
        JsonCodec(parse_schema(PERSON)).decode(b'{"userName":"M",}')
    assert err.value.offset == 16
    with pytest.raises(DecodeError, match="invalid UTF-8") as err:
        JsonCodec(parse_schema(PERSON)).decode(b'{"userName":"\xff"}')
    assert err.value.offset == 13
    with pytest.raises(DecodeError, match="nested too deep"):
        JsonCodec(parse_schema(PERSON)).decode(b"[" * 100_000)


def test_encode_errors() -> None:
    with pytest.raises(EncodeError) as err:
        JsonCodec(parse_schema(PERSON)).encode({**MARTIN, "favoriteNumber": "1"})
    assert err.value.path == ["favoriteNumber"]


def test_integer_in_a_float_and_int_union_stays_an_integer() -> None:
    # found by hypothesis: 0 was written as an int but read back into the float branch
    schema = parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "f0", "type": ["null", "boolean", "float", "int"]}]})
    codec = JsonCodec(schema)
    back = codec.decode(b'{"f0":0}')
    assert back == {"f0": 0} and type(back["f0"]) is int
    assert codec.encode(back) == b'{"f0":0}'
    assert type(codec.decode(b'{"f0":0.5}')["f0"]) is float
