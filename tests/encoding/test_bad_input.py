"""The bad-input list of the encoding issue, one table for every format: truncated bytes,
varints over 10 bytes, lengths past the end, unknown union branches, invalid UTF-8 and wrong
types on encode each give a typed error that says where (byte offset and field path), and
``explain`` stops with an error part instead of raising. (Invalid schemas: test_avsc.py;
random and mutated bytes: test_fuzz.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from cairn.encoding.avsc import parse_schema
from cairn.encoding.errors import DecodeError, EncodeError
from cairn.encoding.explain import explain
from cairn.encoding.formats import FORMATS, codec_for

SCHEMA = parse_schema({"type": "record", "name": "R", "fields": [
    {"name": "name", "type": "string"},
    {"name": "n", "type": "long"},
    {"name": "u", "type": ["string", "long"]}]})
VALUE = {"name": "Martin", "n": 1337, "u": "hi"}

# (format, what is wrong, hex bytes, byte offset reported (None: JSON after parsing), path,
#  message) -- each derived from the valid encoding of VALUE by one edit
BAD = [
    ("json", "truncated",
     "7b226e616d65223a224d617274696e222c226e223a313333372c2275223a22686922",
     34, [], "invalid JSON: Expecting ',' delimiter"),
    ("json", "utf8",
     "7b226e616d65223a22ff617274696e222c226e223a313333372c2275223a226869227d",
     9, [], "invalid UTF-8: invalid start byte"),
    ("json", "union",
     "7b226e616d65223a224d617274696e222c226e223a313333372c2275223a747275657d",
     None, ["u"], "True matches no branch of the union"),
    ("json", "type",
     "7b226e616d65223a224d617274696e222c226e223a227822202c2275223a226869227d",
     None, ["n"], "expected an integer for long, got string 'x'"),
    ("msgpack", "truncated",
     "83a46e616d65a64d617274696ea16ecd0539a175a268",
     20, ["u"], "string length 2 runs past the end of the input"),
    ("msgpack", "length",
     "83a46e616d65bf4d617274696ea16ecd0539a175a26869",
     6, ["name"], "string length 31 runs past the end of the input"),
    ("msgpack", "utf8",
     "83a46e616d65a6ff617274696ea16ecd0539a175a26869",
     7, ["name"], "invalid UTF-8 in string: invalid start byte"),
    ("msgpack", "union",
     "83a46e616d65a64d617274696ea16ecd0539a175c3",
     20, ["u"], "value (type byte 0xc3) matches no branch of the union"),
    ("thrift-binary", "truncated",
     "0b0001000000064d617274696e0a000200000000000005390c00030b000100000002686900",
     37, ["<field header after u>"], "truncated: expected 1 more bytes"),
    ("thrift-binary", "length",
     "0b0001000000404d617274696e0a000200000000000005390c00030b00010000000268690000",
     3, ["name"], "length 64 runs past the end of the input"),
    ("thrift-binary", "utf8",
     "0b000100000006ff617274696e0a000200000000000005390c00030b00010000000268690000",
     7, ["name"], "invalid UTF-8 in string: invalid start byte"),
    ("thrift-binary", "union",
     "0b0001000000064d617274696e0a000200000000000005390c00030b00050000000268690000",
     27, ["u"], "union value has no field set"),
    ("thrift-compact", "truncated",
     "18064d617274696e16f2141c1802686900",
     17, ["<field header after u>"], "truncated: expected 1 more bytes"),
    ("thrift-compact", "varint",
     "18064d617274696e16ffffffffffffffffffffff1c180268690000",
     9, ["n"], "varint longer than 10 bytes"),
    ("thrift-compact", "length",
     "18404d617274696e16f2141c180268690000",
     1, ["name"], "length 64 runs past the end of the input"),
    ("thrift-compact", "utf8",
     "1806ff617274696e16f2141c180268690000",
     2, ["name"], "invalid UTF-8 in string: invalid start byte"),
    ("thrift-compact", "union",
     "18064d617274696e16f2141c580268690000",
     12, ["u"], "union value has no field set"),
    ("protobuf", "truncated",
     "0a064d617274696e10b90a1a040a0268",
     12, ["u"], "length 4 runs past the end of the message"),
    ("protobuf", "varint",
     "0a064d617274696e10ffffffffffffffffffffff1a040a026869",
     9, ["n"], "varint longer than 10 bytes"),
    ("protobuf", "length",
     "0a404d617274696e10b90a1a040a026869",
     1, ["name"], "length 64 runs past the end of the message"),
    ("protobuf", "utf8",
     "0a06ff617274696e10b90a1a040a026869",
     2, ["name"], "invalid UTF-8 in string: invalid start byte"),
    ("protobuf", "union",
     "0a064d617274696e10b90a1a042a026869",
     13, ["u"], "union value has no branch set"),
    ("avro", "truncated",
     "0c4d617274696ef214000468",
     10, ["u"], "string length 2 runs past the end of the input"),
    ("avro", "varint",
     "0c4d617274696effffffffffffffffffffff00046869",
     7, ["n"], "varint longer than 10 bytes"),
    ("avro", "length",
     "404d617274696ef21400046869",
     0, ["name"], "string length 32 runs past the end of the input"),
    ("avro", "utf8",
     "0cff617274696ef21400046869",
     1, ["name"], "invalid UTF-8 in string: invalid start byte"),
    ("avro", "union",
     "0c4d617274696ef21408046869",
     9, ["u"], "union index 4 out of range (union has 2 branches)"),
]


def test_the_table_starts_from_valid_encodings() -> None:
    for fmt in FORMATS:
        codec = codec_for(fmt, SCHEMA)
        assert codec.decode(codec.encode(VALUE)) == VALUE


@pytest.mark.parametrize(("fmt", "kind", "hexdata", "offset", "path", "message"), BAD,
                         ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_bytes_say_where(fmt: str, kind: str, hexdata: str, offset: int | None,
                             path: list[str], message: str) -> None:
    data = bytes.fromhex(hexdata)
    with pytest.raises(DecodeError) as err:
        codec_for(fmt, SCHEMA).decode(data)
    assert err.value.message.startswith(message)
    assert (err.value.offset, err.value.path) == (offset, path)
    parts = explain(fmt, SCHEMA, data)
    assert parts[-1].meaning.startswith("error:")
    if offset is not None and fmt != "json":
        assert parts[-1].offset <= len(data)


def test_every_kind_is_covered_for_every_binary_format() -> None:
    kinds: dict[str, set[str]] = {}
    for fmt, kind, *_ in BAD:
        kinds.setdefault(fmt, set()).add(kind)
    for fmt in ("thrift-compact", "protobuf", "avro"):  # the varint formats
        assert {"truncated", "varint", "length", "utf8", "union"} <= kinds[fmt], fmt
    for fmt in ("msgpack", "thrift-binary"):  # no varints in these
        assert {"truncated", "length", "utf8", "union"} <= kinds[fmt], fmt


WRONG: list[tuple[dict[str, Any], list[str], str]] = [
    ({"name": 5, "n": 1, "u": "x"}, ["name"], "expected string, got int"),
    ({"name": "a", "n": 1 << 63, "u": "x"}, ["n"], "out of range"),
    ({"name": "a", "n": True, "u": "x"}, ["n"], "expected"),
    ({"name": "a", "n": 1, "u": 2.5}, ["u"], "2.5 matches no branch of the union"),
    ({"name": "a", "u": "x"}, ["n"], "missing field without default"),
    ({"name": "\ud800", "n": 1, "u": "x"}, ["name"], "string is not encodable as UTF-8"),
    (["not", "a", "record"], [], "expected record"),  # type: ignore[list-item]
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("value", "path", "message"), WRONG)
def test_wrong_types_on_encode_name_the_field(fmt: str, value: Any, path: list[str],
                                              message: str) -> None:
    with pytest.raises(EncodeError) as err:
        codec_for(fmt, SCHEMA).encode(value)
    assert err.value.path == path and message in err.value.message, str(err.value)
