"""Avro schema resolution against fastavro's (the spec's) for random schema changes, and the
compatibility checker's modes and explanations (Avro and the Protobuf/Thrift tag rules)."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import fastavro
import pytest
from fastavro.read import SchemaResolutionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.encoding.avro import AvroCodec
from cairn.encoding.avsc import parse_schema, to_avsc
from cairn.encoding.compat import avro_problems, check_mode, tag_problems
from cairn.encoding.errors import DecodeError, IncompatibleSchemaError, SchemaError
from cairn.encoding.proto import to_proto
from cairn.encoding.resolve import ResolvingDecoder
from cairn.encoding.thrift import to_thrift
from tests.encoding.strategies import schema_json, values

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NEW_FIELDS = [("int", 0), (["null", "string"], None), ("string", "x"), ("double", 1.5),
              ({"type": "array", "items": "long"}, [])]
PROMOTE = {"int": ["long", "float", "double"], "long": ["float", "double"],
           "float": ["double"], "string": ["bytes"], "bytes": ["string"]}


@st.composite
def evolved(draw: st.DrawFn, sj: dict[str, Any]) -> dict[str, Any]:
    """A changed copy of a record schema: added/removed/reordered/renamed/promoted fields."""
    r = copy.deepcopy(sj)
    fields = r["fields"]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["add", "add_required", "remove", "reorder", "rename",
                                   "promote", "demote"]))
        if op in ("add", "add_required"):
            t, d = draw(st.sampled_from(NEW_FIELDS))
            taken = {f["name"] for f in fields}
            f: dict[str, Any] = {"name": next(f"n{k}x" for k in range(99)
                                              if f"n{k}x" not in taken), "type": t}
            if op == "add":
                f["default"] = d
            fields.append(f)
        elif op == "remove" and fields:
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif op == "reorder":
            fields.reverse()
        elif op == "rename" and fields:
            f = fields[draw(st.integers(0, len(fields) - 1))]
            f["aliases"] = [f["name"]]
            f["name"] = f["name"] + "_renamed"
        elif op in ("promote", "demote") and fields:
            f = fields[draw(st.integers(0, len(fields) - 1))]
            # (fastavro hands back a bytes default as the JSON string; the spec says bytes)
            if isinstance(f["type"], str) and f["type"] in PROMOTE and "default" not in f:
                if op == "promote":
                    f["type"] = draw(st.sampled_from(PROMOTE[f["type"]]))
                else:
                    f["type"] = draw(st.sampled_from([k for k, v in PROMOTE.items()
                                                      if f["type"] not in v]))
    return r


def fa_resolve(w: dict, r: dict, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(w),
                                      fastavro.parse_schema(r))


@SETTINGS
@given(st.data())
def test_resolution_agrees_with_fastavro(data: st.DataObject) -> None:
    wj = data.draw(schema_json(max_depth=2))
    rj = data.draw(evolved(wj))
    writer, reader = parse_schema(wj), parse_schema(rj)
    value = data.draw(values(writer))
    blob = AvroCodec(writer).encode(value)
    try:
        theirs = fa_resolve(wj, rj, blob)
    except (SchemaResolutionError, UnicodeDecodeError):  # bytes -> string needs UTF-8
        theirs = None
    error = ""
    try:
        ours = ResolvingDecoder(writer, reader).decode(blob)
    except (IncompatibleSchemaError, DecodeError) as exc:
        ours, error = None, str(exc)
    assert ours == theirs
    if not avro_problems(writer, reader) and "not UTF-8" not in error:
        assert ours is not None, error  # "compatible" is a promise: this data resolves


PERSON_V1 = {"type": "record", "name": "Person", "fields": [
    {"name": "userName", "type": "string"},
    {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
    {"name": "interests", "type": {"type": "array", "items": "string"}},
]}


def v(fields: list[dict[str, Any]], **extra: Any) -> Any:
    return parse_schema({**PERSON_V1, "fields": fields, **extra})


def test_ddia_fig_4_6_reader_and_writer_differ() -> None:
    writer = parse_schema(PERSON_V1)
    reader = v([PERSON_V1["fields"][2], PERSON_V1["fields"][0],
                {"name": "photoURL", "type": ["null", "string"], "default": None}])
    blob = AvroCodec(writer).encode({"userName": "Martin", "favoriteNumber": 1337,
                                     "interests": ["hacking"]})
    assert ResolvingDecoder(writer, reader).decode(blob) == {
        "interests": ["hacking"], "userName": "Martin", "photoURL": None}


def test_enum_default_and_promotion() -> None:
    w = parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
        {"name": "n", "type": "int"}]})
    r = parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "Z"],
                               "default": "Z"}},
        {"name": "n", "type": "double"}]})
    blob = AvroCodec(w).encode({"e": "C", "n": 7})
    assert ResolvingDecoder(w, r).decode(blob) == {"e": "Z", "n": 7.0}
    assert avro_problems(w, r) == []


def test_explanations_name_field_and_rule() -> None:
    old = parse_schema(PERSON_V1)
    new = v([*PERSON_V1["fields"], {"name": "email", "type": "string"}])
    found = check_mode(new, [old], "BACKWARD")
    assert len(found) == 1
    assert found[0].path == "email"
    assert "added without a default" in found[0].rule
    assert "new schema reading data of latest" in str(found[0])
    assert check_mode(new, [old], "FORWARD") == []  # old code ignores the new field
    assert check_mode(new, [old], "NONE") == []
    changed = v([{"name": "userName", "type": "int"}, *PERSON_V1["fields"][1:]])
    (p,) = check_mode(changed, [old], "FORWARD")
    assert p.path == "userName" and "int to string" in p.rule


def test_transitive_modes_check_every_version() -> None:
    v1 = parse_schema(PERSON_V1)
    v2 = v([*PERSON_V1["fields"][:2], {"name": "interests", "type": {
        "type": "array", "items": "string"}, "default": []}])
    v3 = v(PERSON_V1["fields"][:2])  # drops interests: fine vs v2 (had a default), not v1
    assert check_mode(v3, [v1, v2], "FORWARD") == []
    transitive = check_mode(v3, [v1, v2], "FORWARD_TRANSITIVE")
    assert [p.path for p in transitive] == ["interests"]
    assert "1 before latest" in transitive[0].direction
    assert check_mode(v3, [v1, v2], "FULL_TRANSITIVE")
    assert check_mode(v2, [v1], "FULL") == []


def test_union_and_rename_rules() -> None:
    old = parse_schema(PERSON_V1)
    widened = v([{"name": "userName", "type": ["null", "string"], "default": None},
                 *PERSON_V1["fields"][1:]])
    assert check_mode(widened, [old], "BACKWARD") == []
    problems = check_mode(widened, [old], "FORWARD")
    assert problems and "writer's union branch 0" in problems[0].rule
    renamed = parse_schema({**PERSON_V1, "name": "User"})
    assert "renamed" in check_mode(renamed, [old], "BACKWARD")[0].rule
    aliased = parse_schema({**PERSON_V1, "name": "User", "aliases": ["Person"]})
    assert check_mode(aliased, [old], "BACKWARD") == []


@pytest.mark.parametrize("fmt", ["protobuf", "thrift"])
def test_tag_rules(fmt: str) -> None:
    old = parse_schema(PERSON_V1)
    renamed = v([{"name": "name", "type": "string"}, *PERSON_V1["fields"][1:]])
    assert tag_problems(old, renamed, fmt) == []  # names are not on the wire
    reused = v([*PERSON_V1["fields"][:2],
                {"name": "score", "type": "double", "tag": 3}])
    (p,) = tag_problems(old, reused, fmt)
    assert "tag 3 changed type" in p.rule and "never be reused" in p.rule
    added = v([*PERSON_V1["fields"], {"name": "email", "type": "string"}])
    found = check_mode(added, [old], "BACKWARD", fmt)
    if fmt == "thrift":
        assert found and "required by the reader" in found[0].rule
    else:
        assert found == []  # proto3: every field has a zero default
    assert check_mode(added, [old], "FORWARD", fmt) == []


def _rec(fields: list[dict[str, Any]], **extra: Any) -> Any:
    return parse_schema({"type": "record", "name": "P", "fields": fields, **extra})


NAME = {"name": "name", "type": "string"}
AGE = {"name": "age", "type": "int"}
SHOE = {"name": "shoeSize", "type": "int", "tag": 2}  # same wire type as age: reuse is silent


@pytest.mark.parametrize("fmt", ["protobuf", "thrift"])
def test_removed_tag_is_never_reused_whatever_the_mode(fmt: str) -> None:
    v1, v2, v3 = _rec([NAME, AGE]), _rec([NAME]), _rec([NAME, {**SHOE, "type": ["null", "int"],
                                                                "default": None}])
    # pairwise against the latest (v2) nothing is wrong: tag 2 is simply new
    assert tag_problems(v2, v3, fmt) == [] and tag_problems(v3, v2, fmt) == []
    for mode in ("BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"):
        found = check_mode(v3, [v1, v2], mode, fmt)
        (p,) = [p for p in found if p.direction == "history"]
        assert p.path == "shoeSize"
        assert "tag 2 belonged to field 'age'" in p.rule and "removed in version 2" in p.rule
    assert check_mode(v3, [v1, v2], "NONE", fmt) == []
    # putting the same field back undoes the removal: allowed
    back = _rec([NAME, {**AGE, "type": ["null", "int"], "default": None}])
    assert [p for p in check_mode(back, [v1, v2], "BACKWARD", fmt)
            if p.direction == "history"] == []
    # Avro has no tags: the same history is fine there (fields match by name)
    assert check_mode(v3, [v1, v2], "BACKWARD_TRANSITIVE", "avro") == []


def test_reserved_tags_and_names() -> None:
    v2 = _rec([NAME], reserved=[2, "age"])
    assert v2.reserved_tags == (2,) and v2.reserved_names == ("age",)
    with pytest.raises(SchemaError, match="tag 2 is reserved"):
        _rec([NAME, SHOE], reserved=[2])
    with pytest.raises(SchemaError, match="name 'age' is reserved"):
        _rec([NAME, {**AGE, "tag": 3}], reserved=["age"])
    with pytest.raises(SchemaError, match="'reserved' must hold only"):
        _rec([NAME], reserved=[2.5])
    # a later version that drops the reservation still may not use the tag
    v3 = _rec([NAME, {**SHOE, "type": ["null", "int"], "default": None}])
    msgs = [p.rule for p in check_mode(v3, [v2], "BACKWARD", "protobuf")]
    assert any("tag 2 was reserved in version 1" in m for m in msgs)
    v3b = _rec([NAME, {"name": "age", "type": ["null", "string"], "default": None, "tag": 4}])
    msgs = [p.rule for p in check_mode(v3b, [v2], "BACKWARD", "thrift")]
    assert any("field name 'age' was reserved" in m for m in msgs)
    # exports declare them; .avsc keeps them
    assert "  reserved 2;" in to_proto(v2) and '  reserved "age";' in to_proto(v2)
    assert "never reuse): 2, 'age'" in to_thrift(v2)
    assert json.loads(to_avsc(v2))["reserved"] == [2, "age"]
    assert parse_schema(to_avsc(v2)).reserved_tags == (2,)


def test_removal_inside_a_nested_record_is_tracked_by_tag_path() -> None:
    def outer(inner_fields: list[dict[str, Any]]) -> Any:
        return _rec([NAME, {"name": "addr", "type": {"type": "record", "name": "A",
                                                     "fields": inner_fields}}])
    v1 = outer([{"name": "street", "type": "string"}, {"name": "zip", "type": "string"}])
    v2 = outer([{"name": "street", "type": "string"}])
    v3 = outer([{"name": "street", "type": "string"},
                {"name": "city", "type": "string", "tag": 2}])
    (p,) = [p for p in check_mode(v3, [v1, v2], "BACKWARD", "protobuf")
            if p.direction == "history"]
    assert p.path == "addr.city" and "'addr.zip'" in p.rule


def test_protobuf_integer_encodings_are_wire_classes() -> None:
    plain = _rec([NAME, {"name": "n", "type": "long"}])
    zig = _rec([NAME, {"name": "n", "type": "long", "proto": "sint64"}])
    fixed = _rec([NAME, {"name": "n", "type": "long", "proto": "sfixed64"}])
    unsigned = _rec([NAME, {"name": "n", "type": "long", "proto": "uint64"}])
    (p,) = tag_problems(plain, zig, "protobuf")
    assert "varint -> n: zig-zag varint" in p.rule
    assert tag_problems(plain, fixed, "protobuf")
    assert tag_problems(plain, unsigned, "protobuf") == []  # both plain varints
    assert tag_problems(plain, zig, "thrift") == []  # Thrift has one i64 encoding
