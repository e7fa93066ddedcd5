"""Records that carry their writer's schema id: "data outlives code" (DDIA ch. 4).

The header is the Confluent wire format, so that data written by any Confluent client can be
read here and the reverse::

    byte 0      magic 0x00
    bytes 1-4   schema id, unsigned 32-bit big-endian (the registry's global id)
    bytes 5-    the Avro binary encoding of the value with that schema

A reader looks the id up in the registry to get the writer's schema and resolves it against
its own (reader's) schema, so code written today decodes records written years ago by
other versions, and old code decodes new records, as far as the schemas are compatible.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

from cairn.encoding.avro import AvroCodec
from cairn.encoding.errors import DecodeError
from cairn.encoding.resolve import ResolvingDecoder
from cairn.encoding.schema import Schema

MAGIC = 0
_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


class SchemaSource(Protocol):
    def schema_by_id(self, schema_id: int) -> Schema: ...


def frame(schema_id: int, payload: bytes) -> bytes:
    return _HEADER.pack(MAGIC, schema_id) + payload


def unframe(data: bytes) -> tuple[int, bytes]:
    if len(data) < HEADER_SIZE:
        raise DecodeError(f"record shorter than the {HEADER_SIZE}-byte schema-id header",
                          len(data))
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise DecodeError(f"unknown magic byte {magic} (expected 0)", 0)
    return schema_id, data[HEADER_SIZE:]


class Writer:
    """Encode values with one registered schema, header included."""

    def __init__(self, schema: Schema, schema_id: int):
        self.schema_id = schema_id
        self._codec = AvroCodec(schema)

    def encode(self, value: Any) -> bytes:
        return frame(self.schema_id, self._codec.encode(value))


class Reader:
    """Decode framed records of any writer schema into values of the reader's schema."""

    def __init__(self, source: SchemaSource, reader_schema: Schema):
        self.source = source
        self.schema = reader_schema
        self._by_id: dict[int, Any] = {}

    def decode(self, data: bytes) -> Any:
        schema_id, payload = unframe(data)
        dec = self._by_id.get(schema_id)
        if dec is None:
            dec = ResolvingDecoder(self.source.schema_by_id(schema_id), self.schema)
            self._by_id[schema_id] = dec
        return dec.decode(payload)
