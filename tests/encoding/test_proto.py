"""Protocol Buffers: byte-for-byte agreement with the official protobuf library (message
classes built at test time from our lowering), unknown-field round trips, bad input."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError, SchemaError, UnsupportedSchemaError
from cairn.encoding.explain import explain
from cairn.encoding.peers import message_class, to_message
from cairn.encoding.proto import ProtobufCodec, to_proto
from cairn.encoding.schema import PROTO_INTS
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(st.data())
def test_random_records_match_protobuf_both_ways(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="tagged"))
    schema = parse_schema(json.dumps(sj))
    codec = ProtobufCodec(schema)
    cls, pf = message_class(schema)
    value = data.draw(values(schema))
    ours = codec.encode(value)
    theirs = to_message(cls, pf, value).SerializeToString(deterministic=True)
    assert_same_wire(cls, pf, ours, theirs)
    # decode what they wrote and re-encode it: the same bytes again
    assert_same_wire(cls, pf, codec.encode(codec.decode(theirs)), theirs)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_avro_shaped_schemas_with_unions_round_trip(data: st.DataObject) -> None:
    sj = data.draw(schema_json(profile="avro"))
    schema = parse_schema(sj)
    try:
        codec = ProtobufCodec(schema)
        cls, pf = message_class(schema)
    except UnsupportedSchemaError:
        return
    value = data.draw(values(schema))
    ours = codec.encode(value)
    assert_same_wire(cls, pf, ours, to_message(cls, pf, value).SerializeToString(
        deterministic=True))
    assert codec.encode(codec.decode(ours)) == ours


def assert_same_wire(cls: type, pf: Any, ours: bytes, theirs: bytes) -> None:
    """Byte equality; with map fields, message equality and equal size instead, because
    map entry order is unspecified (we sort keys by code point; upb's "deterministic" mode
    uses an order of its own)."""
    if any(f.ptype == "map" or (f.value is not None) for m in pf.messages for f in m.fields):
        assert len(ours) == len(theirs)
        assert cls.FromString(ours) == cls.FromString(theirs)
    else:
        assert ours == theirs


PERSON = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}
MARTIN = {"userName": "Martin", "favoriteNumber": 1337, "interests": ["daydreaming", "hacking"]}


def test_ddia_example_is_33_bytes() -> None:
    codec = ProtobufCodec(parse_schema(PERSON))
    data = codec.encode(MARTIN)
    assert len(data) == 33
    assert data[:8] == b"\x0a\x06Martin"
    assert data[8:11] == b"\x10\xb9\x0a"  # field 2, varint 1337
    assert codec.decode(data) == MARTIN


def test_proto_text() -> None:
    text = to_proto(parse_schema(PERSON))
    assert "optional int64 favoriteNumber = 2;" in text
    assert "repeated string interests = 3;" in text
    assert "string userName = 1;" in text


def test_unknown_fields_survive_old_code_rewriting_a_record() -> None:
    """DDIA fig. 4-7: v2 adds a field; v1 code decodes, edits, re-encodes; v2 still sees it."""
    v1 = parse_schema(PERSON)
    v2 = parse_schema({**PERSON, "fields": [*PERSON["fields"],
                                            {"name": "photoURL", "type": "string", "tag": 7}]})
    new = ProtobufCodec(v2).encode({**MARTIN, "photoURL": "https://x/m.jpg"})
    old = ProtobufCodec(v1).decode(new)
    assert "photoURL" not in old
    old["favoriteNumber"] = 42
    rewritten = ProtobufCodec(v1).encode(old)
    back = ProtobufCodec(v2).decode(rewritten)
    assert back["photoURL"] == "https://x/m.jpg"
    assert back["favoriteNumber"] == 42


def test_unpacked_repeated_and_merged_messages_are_read() -> None:
    sj = {"type": "record", "name": "R", "fields": [
        {"name": "xs", "type": {"type": "array", "items": "int"}},
        {"name": "sub", "type": {"type": "record", "name": "S", "fields": [
            {"name": "a", "type": "int"}, {"name": "b", "type": "int"}]}}]}
    codec = ProtobufCodec(parse_schema(sj))
    # xs=1 unpacked, xs=[2,3] packed; sub {a:1} then sub {b:2} -> merged
    data = b"\x08\x01\x0a\x02\x02\x03\x12\x02\x08\x01\x12\x02\x10\x02"
    assert codec.decode(data) == {"xs": [1, 2, 3], "sub": {"a": 1, "b": 2}}


def test_proto3_zero_values_are_not_written() -> None:
    codec = ProtobufCodec(parse_schema(PERSON))
    assert codec.encode({"userName": "", "favoriteNumber": None, "interests": []}) == b""
    assert codec.encode({"userName": "", "favoriteNumber": 0, "interests": []}) == b"\x10\x00"


@pytest.mark.parametrize(("data", "words"), [
    (b"\x0a\x07Martin", "runs past the end"),
    (b"\x0a\x02\xff\xfe", "invalid UTF-8"),
    (b"\x10" + b"\xff" * 11, "longer than 10 bytes"),
    (b"\x10\xff", "truncated"),
    (b"\x0b", "unsupported wire type"),
    (b"\x00\x00", "field number 0"),
])
def test_bad_input(data: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        ProtobufCodec(parse_schema(PERSON)).decode(data)


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(EncodeError) as err:
        ProtobufCodec(parse_schema(PERSON)).encode({**MARTIN, "interests": ["a", 1]})
    assert err.value.path == ["interests", "[1]"]


def test_null_field_is_unsupported() -> None:
    with pytest.raises(UnsupportedSchemaError):
        ProtobufCodec(parse_schema({"type": "record", "name": "N", "fields": [
            {"name": "n", "type": "null"}]}))


def _value(v: Any) -> Any:
    return v


PROTO_INT_CASES = ["sint32", "sint64", "sfixed32", "sfixed64", "uint32", "uint64", "fixed32",
                   "fixed64"]


def _int_schema(kind: str) -> Any:
    avro = PROTO_INTS[kind][0]
    return parse_schema({"type": "record", "name": "N", "fields": [
        {"name": "one", "type": avro, "proto": kind},
        {"name": "opt", "type": ["null", avro], "default": None, "proto": kind},
        {"name": "many", "type": {"type": "array", "items": avro}, "proto": kind},
        {"name": "byKey", "type": {"type": "map", "values": avro}, "proto": kind}]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PROTO_INT_CASES), st.data())
def test_zigzag_fixed_and_unsigned_integers_match_protobuf(kind: str, data: st.DataObject
                                                           ) -> None:
    schema = _int_schema(kind)
    _, lo, hi = PROTO_INTS[kind]
    ints = st.integers(lo, hi)
    value = {"one": data.draw(ints), "opt": data.draw(st.none() | ints),
             "many": data.draw(st.lists(ints, max_size=4)),
             "byKey": data.draw(st.dictionaries(st.text(max_size=3), ints, max_size=2))}
    codec = ProtobufCodec(schema)
    cls, pf = message_class(schema)
    ours = codec.encode(value)
    theirs = to_message(cls, pf, value).SerializeToString(deterministic=True)
    assert_same_wire(cls, pf, ours, theirs)
    assert codec.decode(theirs) == value


def test_zigzag_keeps_small_negatives_short() -> None:
    plain = ProtobufCodec(parse_schema({"type": "record", "name": "N", "fields": [
        {"name": "n", "type": "long"}]}))
    zig = ProtobufCodec(_int_schema("sint64"))
    assert plain.encode({"n": -1}) == b"\x08" + b"\xff" * 9 + b"\x01"  # 11 bytes
    assert zig.encode({"one": -1, "opt": None, "many": [], "byKey": {}}) == b"\x08\x01"
    assert zig.encode({"one": 0, "opt": -2, "many": [1, -1], "byKey": {}}) == \
        b"\x10\x03\x1a\x02\x02\x01"
    fixed = ProtobufCodec(_int_schema("fixed32"))
    assert fixed.encode({"one": 1, "opt": None, "many": [], "byKey": {}}) == \
        b"\x0d\x01\x00\x00\x00"  # wire type 5, four little-endian bytes
    text = to_proto(_int_schema("sfixed64"))
    assert "sfixed64 one = 1;" in text and "optional sfixed64 opt = 2;" in text
    assert "repeated sfixed64 many = 3;" in text and "map<string, sfixed64> byKey = 4;" in text
    parts = explain("protobuf", _int_schema("sint32"), b"\x08\x03")
    assert parts[1].meaning == "sint32 -2 (zig-zag varint 3)"


def test_integer_encoding_errors() -> None:
    with pytest.raises(EncodeError, match="out of range for uint32") as err:
        ProtobufCodec(_int_schema("uint32")).encode(
            {"one": 0, "opt": None, "many": [1, -1], "byKey": {}})
    assert err.value.path == ["many", "[1]"]
    # an unsigned 64-bit value beyond an Avro long is an error, not a negative number
    with pytest.raises(DecodeError, match="does not fit an Avro long") as derr:
        ProtobufCodec(_int_schema("fixed64")).decode(b"\x09" + b"\xff" * 8)
    assert derr.value.offset == 1 and derr.value.path == ["one"]
    with pytest.raises(DecodeError, match="does not fit an Avro long"):
        ProtobufCodec(_int_schema("uint64")).decode(b"\x08" + b"\xff" * 9 + b"\x01")
    with pytest.raises(DecodeError, match="truncated"):
        ProtobufCodec(_int_schema("sfixed32")).decode(b"\x0d\x01\x00")
    for bad, words in [({"type": "int", "proto": "sint64"}, "needs an Avro long"),
                       ({"type": "string", "proto": "fixed32"}, "needs an Avro long"),
                       ({"type": "long", "proto": "varint"}, "unknown protobuf integer"),
                       ({"type": "long", "proto": "uint32", "default": -1}, "out of range")]:
        with pytest.raises(SchemaError, match=words):
            parse_schema({"type": "record", "name": "B", "fields": [{"name": "x", **bad}]})


def _compile_with_protoc(text: str, tmp: Path) -> Any:
    """Compile .proto text with the real protoc (grpc_tools) into a descriptor pool."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from grpc_tools import protoc

    (tmp / "exported.proto").write_text(text)
    out = tmp / "exported.pb"
    rc = protoc.main(["protoc", f"--proto_path={tmp}", f"--descriptor_set_out={out}",
                      "exported.proto"])
    assert rc == 0, text
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    return pool


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_exported_proto_compiles_with_protoc_and_reads_our_bytes(tmp_path: Path,
                                                                 data: st.DataObject) -> None:
    from google.protobuf import message_factory

    sj = data.draw(schema_json(profile="tagged", max_depth=2))
    if data.draw(st.booleans()):  # and a zig-zag / fixed integer where the schema has one
        for f in sj["fields"]:
            if f["type"] in ("long", ["null", "long"]):
                f["proto"] = data.draw(st.sampled_from(["sint64", "sfixed64"]))
    schema = parse_schema(json.dumps(sj))
    sub = Path(tempfile.mkdtemp(dir=tmp_path))
    pool = _compile_with_protoc(to_proto(schema, package="exported"), sub)
    root = ProtobufCodec(schema).file.root.name
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"exported.{root}"))
    ours_cls, pf = message_class(schema)
    value = data.draw(values(schema))
    ours = ProtobufCodec(schema).encode(value)
    # protoc's class reads our bytes and writes the same message back
    theirs = cls.FromString(ours).SerializeToString(deterministic=True)
    assert_same_wire(ours_cls, pf, theirs, ours)


def test_exported_proto_with_reserved_and_integer_types_compiles(tmp_path: Path) -> None:
    schema = parse_schema({"type": "record", "name": "P", "reserved": [2, 5, "age"],
                           "fields": [{"name": "name", "type": "string"},
                                      {"name": "n", "type": "long", "proto": "sint64",
                                       "tag": 3},
                                      {"name": "f", "type": "long", "proto": "fixed32",
                                       "tag": 4}]})
    pool = _compile_with_protoc(to_proto(schema), tmp_path)
    desc = pool.FindMessageTypeByName("P")
    assert [f.type for f in desc.fields] == [9, 18, 7]  # string, sint64, fixed32
    fdp = __import__("google.protobuf.descriptor_pb2", fromlist=["x"]).DescriptorProto()
    desc.CopyToProto(fdp)
    assert [(r.start, r.end) for r in fdp.reserved_range] == [(2, 3), (5, 6)]
    assert list(fdp.reserved_name) == ["age"]
