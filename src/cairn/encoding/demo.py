"""The book's example record in every format (DDIA ch. 4, figures 4-1 to 4-5).

The sizes the book prints, and that ours must equal: JSON 81, MessagePack 66, Thrift binary 59,
Thrift compact 34, Protocol Buffers 33, Avro 32 bytes. One schema serves all six: the tagged
formats take their field numbers from the field order (1, 2, 3), the optional
``favoriteNumber`` is ``["null", "long"]`` (Avro), ``optional i64`` (Thrift) and ``optional
int64`` (proto3).
"""

from __future__ import annotations

from typing import Any

from cairn.encoding.avsc import parse_schema
from cairn.encoding.explain import explain
from cairn.encoding.formats import FORMATS, codec_for
from cairn.encoding.schema import Schema

PERSON_AVSC: dict[str, Any] = {
    "type": "record", "name": "Person", "fields": [
        {"name": "userName", "type": "string"},
        {"name": "favoriteNumber", "type": ["null", "long"], "default": None},
        {"name": "interests", "type": {"type": "array", "items": "string"}},
    ]}
MARTIN: dict[str, Any] = {"userName": "Martin", "favoriteNumber": 1337,
                          "interests": ["daydreaming", "hacking"]}
BOOK_SIZES = {"json": 81, "msgpack": 66, "thrift-binary": 59, "thrift-compact": 34,
              "protobuf": 33, "avro": 32}
TITLES = {"json": "JSON (compact)", "msgpack": "MessagePack (fig. 4-1)",
          "thrift-binary": "Thrift BinaryProtocol (fig. 4-2)",
          "thrift-compact": "Thrift CompactProtocol (fig. 4-3)",
          "protobuf": "Protocol Buffers (fig. 4-4)", "avro": "Avro (fig. 4-5)"}


def person_schema() -> Schema:
    return parse_schema(PERSON_AVSC)


def demo_data(schema: Schema | None = None, record: dict[str, Any] | None = None
              ) -> list[dict[str, Any]]:
    """Per format: name, size, the book's size, the bytes and the annotated parts."""
    schema = schema or person_schema()
    record = record if record is not None else MARTIN
    rows = []
    for fmt in FORMATS:
        data = codec_for(fmt, schema).encode(record)
        rows.append({
            "format": fmt, "title": TITLES[fmt], "size": len(data),
            "book_size": BOOK_SIZES[fmt], "hex": data.hex(),
            "parts": [p.to_dict() for p in explain(fmt, schema, data)],
        })
    return rows
