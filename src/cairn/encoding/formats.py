"""The formats by name: one place that maps ``"avro"``, ``"protobuf"``, ... to a codec.

Every codec has ``encode(value) -> bytes`` and ``decode(bytes) -> value`` for one schema.
"""

from __future__ import annotations

from typing import Any, Protocol

from cairn.encoding.avro import AvroCodec
from cairn.encoding.jsoncodec import JsonCodec
from cairn.encoding.messagepack import MessagePackCodec
from cairn.encoding.proto import ProtobufCodec
from cairn.encoding.schema import Schema
from cairn.encoding.thrift import ThriftCodec


class Codec(Protocol):
    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


# In the order of the book's figures 4-1 to 4-5.
FORMATS = ("json", "msgpack", "thrift-binary", "thrift-compact", "protobuf", "avro")


def codec_for(fmt: str, schema: Schema) -> Codec:
    if fmt == "json":
        return JsonCodec(schema)
    if fmt == "msgpack":
        return MessagePackCodec(schema)
    if fmt == "thrift-binary":
        return ThriftCodec(schema, "binary")
    if fmt == "thrift-compact":
        return ThriftCodec(schema, "compact")
    if fmt == "protobuf":
        return ProtobufCodec(schema)
    if fmt == "avro":
        return AvroCodec(schema)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
