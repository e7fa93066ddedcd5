"""Where the official Apache ``avro`` Python package (1.12) departs from the Avro
specification, each shown next to what the spec says and what our codec does (fastavro
follows the spec in these cases; we follow the spec). If a test here fails after an upgrade,
the package was fixed: update the note in docs/encoding.md."""

from __future__ import annotations

import io
from typing import Any

import avro.io
import avro.schema
import pytest

from cairn.encoding.avro import AvroCodec
from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import EncodeError, SchemaError
from cairn.encoding.resolve import ResolvingDecoder


def _their_write(schema_json: str, value: Any) -> bytes:
    buf = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(schema_json)).write(value, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def _their_read(writer: str, reader: str, data: bytes) -> Any:
    return avro.io.DatumReader(avro.schema.parse(writer), avro.schema.parse(reader)).read(
        avro.io.BinaryDecoder(io.BytesIO(data)))


def test_invalid_defaults_are_accepted_by_avro() -> None:
    # spec: "Permitted values depend on the field's schema type"
    bad = '{"type":"record","name":"R","fields":[{"name":"f","type":"int","default":"x"}]}'
    avro.schema.parse(bad)  # accepted
    with pytest.raises(SchemaError, match="invalid default"):
        parse_schema(bad)


def test_enum_default_is_not_used_in_resolution_by_avro() -> None:
    # spec (since 1.9): a writer symbol the reader lacks resolves to the reader's default
    w = '{"type":"enum","name":"E","symbols":["A","B","C"]}'
    r = '{"type":"enum","name":"E","symbols":["A","Z"],"default":"Z"}'
    data = _their_write(w, "C")
    with pytest.raises(avro.errors.SchemaResolutionException):
        _their_read(w, r, data)
    assert ResolvingDecoder(parse_schema(w), parse_schema(r)).decode(data) == "Z"


def test_string_to_bytes_promotion_is_missing_in_avro() -> None:
    # spec: "string is promotable to bytes; bytes is promotable to string"
    data = _their_write('"string"', "hi")
    with pytest.raises(avro.errors.SchemaResolutionException):
        _their_read('"string"', '"bytes"', data)
    assert ResolvingDecoder(parse_schema('"string"'), parse_schema('"bytes"')).decode(
        data) == b"hi"


def test_int_promoted_to_float_stays_an_int_in_avro() -> None:
    data = _their_write('"int"', 3)
    got = _their_read('"int"', '"float"', data)
    assert got == 3 and type(got) is int  # the reader's type is float
    ours = ResolvingDecoder(parse_schema('"int"'), parse_schema('"float"')).decode(data)
    assert ours == 3.0 and type(ours) is float


def test_a_boolean_is_written_as_an_int_by_avro() -> None:
    # Avro's int is not a boolean: True is a wrong type, not 1
    assert _their_write('"int"', True) == b"\x02"
    with pytest.raises(EncodeError, match="expected int"):
        AvroCodec(parse_schema('"int"')).encode(True)


def test_union_default_may_match_a_later_branch_in_avro() -> None:
    # spec 1.11: a union field's default matches the union's *first* branch (Java's parser
    # and the Confluent registry enforce it); AVRO-3649 relaxes this in 1.12 to "one element
    # of the union", which the avro package implements. We keep the stricter 1.11 rule, so
    # that schemas registered here are accepted by every other implementation.
    s = '{"type":"record","name":"R","fields":[{"name":"f","type":["string","null"],' \
        '"default":null}]}'
    avro.schema.parse(s)
    with pytest.raises(SchemaError, match="invalid default"):
        parse_schema(s)
