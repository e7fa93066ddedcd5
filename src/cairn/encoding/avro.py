"""Avro binary encoding (DDIA fig. 4-5), written from the Avro 1.11 specification.

No tags and no field names on the wire: a record is just its fields' values, in schema order,
so the reader needs the exact *writer's* schema to find the boundaries (resolution against a
different reader's schema is :mod:`cairn.encoding.resolve`). ``int``/``long`` are zig-zag
varints, ``float``/``double`` little-endian IEEE 754, ``bytes``/``string`` a length then the
data, arrays and maps a sequence of blocks (a count, then that many items; a negative count is
followed by the block's byte size; a zero count ends), unions the branch index then the value,
enums the symbol index.

A schema is *compiled* once into a tree of closures, so encoding a record costs one Python call
per value and no dispatch on the schema at run time; this is what makes the codec fast enough
to hold its own against fastavro's pure-Python path (see ``cairn bench encoding``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from cairn.encoding.errors import DecodeError, EncodeError
from cairn.encoding.schema import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    NULL,
    Array,
    Enum,
    Fixed,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    is_optional,
    union_branch,
    union_value,
)
from cairn.encoding.wire import read_bytes

Encoder = Callable[[bytearray, Any], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]

_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")
_MISSING = object()
# An array of zero-width items (null, empty records) could claim 2**62 items in 10 bytes;
# more than this many is treated as hostile input rather than looped over.
MAX_ZERO_WIDTH_ITEMS = 1 << 20


# -- primitives --------------------------------------------------------------------------

def write_long(out: bytearray, n: int) -> None:
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Zig-zag varint; at most 10 bytes and a value that fits in 64 bits."""
    try:
        b = buf[pos]
    except IndexError:
        raise DecodeError("truncated: expected a varint", pos) from None
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    start = pos
    n = b & 0x7F
    shift = 7
    pos += 1
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint", start)
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes", start)
    if n >> 64:
        raise DecodeError("varint does not fit in 64 bits", start)
    return (n >> 1) ^ -(n & 1), pos


def _enc_null(out: bytearray, v: Any) -> None:
    if v is not None:
        raise EncodeError(f"expected null, got {type(v).__name__}")


def _enc_boolean(out: bytearray, v: Any) -> None:
    if v is True:
        out.append(1)
    elif v is False:
        out.append(0)
    else:
        raise EncodeError(f"expected boolean, got {type(v).__name__}")


def _enc_int(out: bytearray, v: Any) -> None:
    if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
        raise EncodeError(f"expected int, got {type(v).__name__}")
    if not INT32_MIN <= v <= INT32_MAX:
        raise EncodeError(f"{v} out of range for int")
    write_long(out, v)


def _enc_long(out: bytearray, v: Any) -> None:
    if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
        raise EncodeError(f"expected long, got {type(v).__name__}")
    if not INT64_MIN <= v <= INT64_MAX:
        raise EncodeError(f"{v} out of range for long")
    n = (v << 1) ^ (v >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _enc_float(out: bytearray, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (float, int)):
        raise EncodeError(f"expected float, got {type(v).__name__}")
    try:
        out += _FLOAT.pack(v)
    except OverflowError:
        raise EncodeError(f"{v} out of range for float") from None


def _enc_double(out: bytearray, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (float, int)):
        raise EncodeError(f"expected double, got {type(v).__name__}")
    try:
        out += _DOUBLE.pack(v)
    except OverflowError:
        raise EncodeError(f"{v} out of range for double") from None


def _enc_bytes(out: bytearray, v: Any) -> None:
    if not isinstance(v, (bytes, bytearray)):
        raise EncodeError(f"expected bytes, got {type(v).__name__}")
    write_long(out, len(v))
    out += v


def _enc_string(out: bytearray, v: Any) -> None:
    if type(v) is not str:
        raise EncodeError(f"expected string, got {type(v).__name__}")
    try:
        data = v.encode()
    except UnicodeEncodeError:
        raise EncodeError("string is not encodable as UTF-8 (lone surrogate)") from None
    write_long(out, len(data))
    out += data


def _dec_null(buf: bytes, pos: int) -> tuple[Any, int]:
    return None, pos


def _dec_boolean(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(buf):
        raise DecodeError("truncated: expected a boolean", pos)
    b = buf[pos]
    if b > 1:
        raise DecodeError(f"boolean byte must be 0 or 1, got {b}", pos)
    return b == 1, pos + 1


def _dec_int(buf: bytes, pos: int) -> tuple[Any, int]:
    v, end = read_long(buf, pos)
    if not INT32_MIN <= v <= INT32_MAX:
        raise DecodeError(f"{v} out of range for int", pos)
    return v, end


def _dec_float(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos + 4 > len(buf):
        raise DecodeError("truncated: expected 4 bytes of float", pos)
    return _FLOAT.unpack_from(buf, pos)[0], pos + 4


def _dec_double(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos + 8 > len(buf):
        raise DecodeError("truncated: expected 8 bytes of double", pos)
    return _DOUBLE.unpack_from(buf, pos)[0], pos + 8


def _dec_bytes(buf: bytes, pos: int) -> tuple[Any, int]:
    n, pos = read_long(buf, pos)
    return read_bytes(buf, pos, n)


def _dec_string(buf: bytes, pos: int) -> tuple[Any, int]:
    n, p = read_long(buf, pos)
    end = p + n
    if n < 0 or end > len(buf):
        raise DecodeError(f"string length {n} runs past the end of the input", pos)
    try:
        return str(buf[p:end], "utf-8"), end
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8 in string: {exc.reason}", p + exc.start) from None


_PRIM_ENC: dict[str, Encoder] = {
    "null": _enc_null, "boolean": _enc_boolean, "int": _enc_int, "long": _enc_long,
    "float": _enc_float, "double": _enc_double, "bytes": _enc_bytes, "string": _enc_string,
}
_PRIM_DEC: dict[str, Decoder] = {
    "null": _dec_null, "boolean": _dec_boolean, "int": _dec_int, "long": read_long,
    "float": _dec_float, "double": _dec_double, "bytes": _dec_bytes, "string": _dec_string,
}


def min_width(t: Schema, seen: frozenset[int] = frozenset()) -> int:
    """The fewest bytes a value of ``t`` can take (0 for null, empty records, fixed(0))."""
    if isinstance(t, Primitive):
        return 0 if t.name == "null" else 1
    if isinstance(t, Fixed):
        return t.size
    if isinstance(t, Record):
        if id(t) in seen:
            return 1
        return sum(min_width(f.type, seen | {id(t)}) for f in t.fields)
    return 1


# -- compilation ---------------------------------------------------------------------------

class _Compiler:
    """Builds closures; named types are memoised so recursive schemas compile to a cycle."""

    def __init__(self) -> None:
        self.enc: dict[int, Encoder] = {}
        self.dec: dict[int, Decoder] = {}

    def encoder(self, t: Schema) -> Encoder:
        if isinstance(t, Primitive):
            return _PRIM_ENC[t.name]
        if id(t) in self.enc:
            return self.enc[id(t)]
        if isinstance(t, Record):
            return self._enc_record(t)
        if isinstance(t, Enum):
            index = {s: i for i, s in enumerate(t.symbols)}

            def enc_enum(out: bytearray, v: Any) -> None:
                try:
                    write_long(out, index[v])
                except (KeyError, TypeError):
                    raise EncodeError(f"{v!r} is not a symbol of enum {t.name}") from None
            self.enc[id(t)] = enc_enum
            return enc_enum
        if isinstance(t, Fixed):
            size = t.size

            def enc_fixed(out: bytearray, v: Any) -> None:
                if not isinstance(v, (bytes, bytearray)) or len(v) != size:
                    raise EncodeError(f"expected {size} bytes for fixed {t.name}")
                out += v
            return enc_fixed
        if isinstance(t, Array):
            item = self.encoder(t.items)

            def enc_array(out: bytearray, v: Any) -> None:
                if not isinstance(v, (list, tuple)):
                    raise EncodeError(f"expected array, got {type(v).__name__}")
                if v:
                    write_long(out, len(v))
                    i = 0
                    try:
                        for i, x in enumerate(v):  # noqa: B007 - i is read in the handler
                            item(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
                out.append(0)
            return enc_array
        if isinstance(t, Map):
            value = self.encoder(t.values)

            def enc_map(out: bytearray, v: Any) -> None:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected map, got {type(v).__name__}")
                if v:
                    write_long(out, len(v))
                    for k, x in v.items():
                        try:
                            _enc_string(out, k)
                            value(out, x)
                        except EncodeError as exc:
                            exc.path.insert(0, f"[{k!r}]")
                            raise
                out.append(0)
            return enc_map
        return self._enc_union(t)

    def _enc_record(self, t: Record) -> Encoder:
        fields: list[tuple[str, Encoder, Any]] = []

        def enc_record(out: bytearray, v: Any) -> None:
            if not isinstance(v, dict):
                raise EncodeError(f"expected record {t.name}, got {type(v).__name__}")
            name = ""
            try:
                for name, enc, default in fields:
                    x = v.get(name, _MISSING)
                    if x is _MISSING:
                        if default is _MISSING:
                            raise EncodeError("missing field without default")
                        x = default
                    enc(out, x)
            except EncodeError as exc:
                exc.path.insert(0, name)
                raise
        self.enc[id(t)] = enc_record  # before the fields, for recursive records
        for f in t.fields:
            fields.append((f.name, self.encoder(f.type),
                           f.default if f.has_default else _MISSING))
        return enc_record

    def _enc_union(self, t: Union) -> Encoder:
        branches = [self.encoder(b) for b in t.branches]
        inner = is_optional(t)
        if inner is not None:
            null_index = 0 if t.branches[0] == NULL else 1
            other = branches[1 - null_index]
            null_byte = null_index << 1  # zig-zag of 0 or 1, one byte
            other_byte = (1 - null_index) << 1

            def enc_optional(out: bytearray, v: Any) -> None:
                if v is None:
                    out.append(null_byte)
                else:
                    out.append(other_byte)
                    other(out, union_value(v))
            return enc_optional

        def enc_union(out: bytearray, v: Any) -> None:
            i = union_branch(t, v)
            if i is None:
                raise EncodeError(f"{v!r:.40} matches no branch of the union")
            write_long(out, i)
            branches[i](out, union_value(v))
        return enc_union

    def decoder(self, t: Schema) -> Decoder:
        if isinstance(t, Primitive):
            return _PRIM_DEC[t.name]
        if id(t) in self.dec:
            return self.dec[id(t)]
        if isinstance(t, Record):
            return self._dec_record(t)
        if isinstance(t, Enum):
            symbols = t.symbols

            def dec_enum(buf: bytes, pos: int) -> tuple[Any, int]:
                i, end = read_long(buf, pos)
                if not 0 <= i < len(symbols):
                    raise DecodeError(f"enum index {i} out of range for {t.name}", pos)
                return symbols[i], end
            self.dec[id(t)] = dec_enum
            return dec_enum
        if isinstance(t, Fixed):
            size = t.size

            def dec_fixed(buf: bytes, pos: int) -> tuple[Any, int]:
                return read_bytes(buf, pos, size, f"fixed {t.name}")
            return dec_fixed
        if isinstance(t, Array):
            return self._dec_blocks(self.decoder(t.items), None, min_width(t.items) == 0)
        if isinstance(t, Map):
            return self._dec_blocks(self.decoder(t.values), _dec_string,
                                    False)
        return self._dec_union(t)

    def _dec_record(self, t: Record) -> Decoder:
        fields: list[tuple[str, Decoder]] = []

        def dec_record(buf: bytes, pos: int) -> tuple[Any, int]:
            out: dict[str, Any] = {}
            name = ""
            try:
                for name, dec in fields:
                    out[name], pos = dec(buf, pos)
            except DecodeError as exc:
                exc.path.insert(0, name)
                raise
            return out, pos
        self.dec[id(t)] = dec_record
        fields.extend((f.name, self.decoder(f.type)) for f in t.fields)
        return dec_record

    def _dec_blocks(self, item: Decoder, key: Decoder | None, zero_width: bool) -> Decoder:
        def dec_blocks(buf: bytes, pos: int) -> tuple[Any, int]:
            out: Any = {} if key is not None else []
            total = 0
            i = 0
            try:
                while True:
                    start = pos
                    n, pos = read_long(buf, pos)
                    if n == 0:
                        return out, pos
                    if n < 0:  # negative count: the block's byte size follows
                        n = -n
                        _size, pos = read_long(buf, pos)
                    total += n
                    if zero_width:
                        if total > MAX_ZERO_WIDTH_ITEMS:
                            raise DecodeError(f"block count {n} of zero-width items is "
                                              "implausibly large", start)
                    elif n > len(buf) - pos:
                        raise DecodeError(f"block count {n} exceeds the bytes left "
                                          f"({len(buf) - pos})", start)
                    if key is None:
                        append = out.append
                        for _ in range(n):
                            x, pos = item(buf, pos)
                            append(x)
                            i += 1
                    else:
                        for _ in range(n):
                            k, pos = key(buf, pos)
                            out[k], pos = item(buf, pos)
                            i += 1
            except DecodeError as exc:
                exc.path.insert(0, f"[{i}]")
                raise
        return dec_blocks

    def _dec_union(self, t: Union) -> Decoder:
        branches = [self.decoder(b) for b in t.branches]
        count = len(branches)

        def dec_union(buf: bytes, pos: int) -> tuple[Any, int]:
            i, p = read_long(buf, pos)
            if not 0 <= i < count:
                raise DecodeError(f"union index {i} out of range (union has {count} branches)",
                                  pos)
            return branches[i](buf, p)
        return dec_union


class AvroCodec:
    """Encode/decode values of one schema in Avro binary."""

    name = "avro"

    def __init__(self, schema: Schema):
        self.schema = schema
        c = _Compiler()
        self._enc = c.encoder(schema)
        self._dec = c.decoder(schema)

    def encode(self, value: Any) -> bytes:
        out = bytearray()
        self._enc(out, value)
        return bytes(out)

    def decode(self, data: bytes) -> Any:
        """Decode one value that must span exactly ``data``."""
        try:
            value, pos = self._dec(data, 0)
        except RecursionError:
            raise DecodeError("nesting too deep") from None
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after the value", pos)
        return value

    def decode_prefix(self, data: bytes, pos: int = 0) -> tuple[Any, int]:
        """Decode one value at ``pos`` and return it with the offset after it (for streams)."""
        return self._dec(data, pos)
