"""Thrift binary and compact protocols: byte-for-byte agreement with thriftpy2 (structs loaded
from our exported .thrift text), unknown fields kept, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import serialize

from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError, UnsupportedSchemaError
from cairn.encoding.peers import load_thrift as load
from cairn.encoding.peers import thrift_read as read
from cairn.encoding.peers import thrift_write as write
from cairn.encoding.peers import to_thrift_struct as to_struct
from cairn.encoding.thrift import ThriftCodec, to_thrift
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROTOCOLS = ["binary", "compact"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@SETTINGS
@given(data=st.data())
def test_random_records_match_thriftpy2_both_ways(protocol: str, data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="tagged"))
    schema = parse_schema(json.dumps(sj))
    codec = ThriftCodec(schema, protocol)
    _, cls = load(schema)
    value = data.draw(values(schema))
    ours = codec.encode(value)
    assert ours == write(cls, schema, value, protocol)
    # theirs decodes ours to the same struct ours was built from
    assert read(cls, ours, protocol) == to_struct(cls, schema, value)
    assert codec.encode(codec.decode(ours)) == ours


@pytest.mark.parametrize("protocol", PROTOCOLS)
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_unions_as_thrift_unions(protocol: str, data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="avro", max_depth=2))
    schema = parse_schema(sj)
    try:
        codec = ThriftCodec(schema, protocol)
        _, cls = load(schema)
    except UnsupportedSchemaError:
        return
    value = data.draw(values(schema))
    ours = codec.encode(value)
    assert ours == write(cls, schema, value, protocol)
    assert codec.encode(codec.decode(ours)) == ours


PERSON = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}
MARTIN = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["daydreaming", "hacking"]}


def test_ddia_sizes_and_headers() -> None:
    s = parse_schema(PERSON)
    binary = ThriftCodec(s, "binary").encode(MARTIN)
    compact = ThriftCodec(s, "compact").encode(MARTIN)
    assert len(binary) == 59 and len(compact) == 34
    assert binary[:7] == b"\x0b\x00\x01\x00\x00\x00\x06"  # fig. 4-2: type 11, field 1, len 6
    assert compact[:2] == b"\x18\x06"  # fig. 4-3: delta 1, type 8 (binary); length 6
    assert compact[8:11] == b"\x16\xf2\x14"  # delta 1, i64; zig-zag 1337


def test_idl_text() -> None:
    text = to_thrift(parse_schema(PERSON))
    assert "1: required string userName," in text
    assert "2: optional i64 favoriteNumber," in text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_fields_survive_a_rewrite(protocol: str) -> None:
    v1 = parse_schema(PERSON)
    v2 = parse_schema({**PERSON, "fields": [
        *PERSON["fields"], {"name": "photoURL", "type": "string", "tag": 20},
        {"name": "vip", "type": "boolean", "tag": 21},
        {"name": "tags", "type": {"type": "map", "values": "long"}, "tag": 22}]})
    new = ThriftCodec(v2, protocol).encode({**MARTIN, "photoURL": "u", "vip": True,
                                            "tags": {"a": 1}})
    old = ThriftCodec(v1, protocol).decode(new)
    assert set(old) == {"userName", "favoriteNumber", "interests"}
    old["userName"] = "Kleppmann"
    back = ThriftCodec(v2, protocol).decode(ThriftCodec(v1, protocol).encode(old))
    assert back == {**MARTIN, "userName": "Kleppmann", "photoURL": "u", "vip": True,
                    "tags": {"a": 1}}


def test_thriftpy2_drops_unknown_fields() -> None:
    """The fig. 4-7 loss, for real, in the official library's generated code: old code
    (thriftpy2 with v1) rewrites a v2 record and the new field is gone; ours keeps it."""
    v1 = parse_schema(PERSON)
    v2 = parse_schema({**PERSON, "fields": [
        *PERSON["fields"], {"name": "photoURL", "type": ["null", "string"], "default": None}]})
    _, cls1 = load(v1)
    new = ThriftCodec(v2, "binary").encode({**MARTIN, "photoURL": "u"})
    theirs = serialize(read(cls1, new, "binary"), TBinaryProtocolFactory())
    assert ThriftCodec(v2, "binary").decode(theirs)["photoURL"] is None  # lost
    ours = ThriftCodec(v1, "binary").encode(ThriftCodec(v1, "binary").decode(new))
    assert ThriftCodec(v2, "binary").decode(ours)["photoURL"] == "u"  # kept


@pytest.mark.parametrize(("protocol", "data", "words"), [
    ("binary", b"\x0b\x00\x01\x00\x00\x00\x07Martin", "runs past the end"),
    ("binary", b"\x0b\x00\x01", "truncated"),
    ("binary", b"\x0b\x00\x01\x00\x00\x00\x02\xff\xfe\x00", "invalid UTF-8"),
    ("binary", b"\x0f\x00\x03\x0b\x7f\xff\xff\xff\x00", "exceeds the bytes left"),
    ("compact", b"\x18" + b"\xff" * 11, "longer than 10 bytes"),
    ("compact", b"\x1d\x00", "unknown compact type"),
    ("binary", b"\x00", "required field 'userName' missing"),
    ("binary", b"\x0c\x00\x09" * 100 + b"\x00", "nested too deep"),
])
def test_bad_input(protocol: str, data: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        ThriftCodec(parse_schema(PERSON), protocol).decode(data)


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(EncodeError) as err:
        ThriftCodec(parse_schema(PERSON), "compact").encode({**MARTIN, "favoriteNumber": 1.5})
    assert err.value.path == ["favoriteNumber"]
