"""Apache Thrift's BinaryProtocol and CompactProtocol (DDIA fig. 4-2 and 4-3), written from
the Thrift protocol specifications.

A record is a Thrift struct: each field is written as a header (type + field id, our tag)
followed by its value, and a STOP byte ends the struct. *Binary* spends a type byte and a
big-endian i16 id per field and fixed-width big-endian integers. *Compact* packs the id as a
delta from the previous field id into the type byte when it fits (1..15), writes integers as
zig-zag varints, puts a bool field's value into its header, and doubles little-endian.

Mapping of our types: boolean=bool, int=i32, long=i64, float/double=double (Thrift has no
32-bit float), string=string, bytes/fixed=binary, enum=i32 (symbol index), array=list,
map=map<string,V>, record=struct, ``["null", T]`` field = ``optional`` field; other unions
become a Thrift ``union`` whose field *i+1* is branch *i* (null = no field set).

Unknown fields (ids this schema does not have, or a known id with another type) are skipped
structurally and kept, so old code re-encoding a record writes them back, which Apache
Thrift's generated code does *not* do (it drops them): a difference shown in the fig. 4-7 demo.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from cairn.encoding.errors import DecodeError, EncodeError, UnsupportedSchemaError
from cairn.encoding.schema import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    NULL,
    Array,
    Enum,
    Fixed,
    KeptRecord,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    is_optional,
    union_branch,
    union_value,
    unknown_of,
)
from cairn.encoding.wire import read_uvarint, write_uvarint

STOP, BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST = (
    0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15)
TYPE_NAMES = {BOOL: "bool", BYTE: "byte", DOUBLE: "double", I16: "i16", I32: "i32",
              I64: "i64", STRING: "string", STRUCT: "struct", MAP: "map", SET: "set",
              LIST: "list"}
# compact protocol type codes
C_TRUE, C_FALSE = 1, 2
TO_COMPACT = {BOOL: 1, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, STRING: 8, LIST: 9,
              SET: 10, MAP: 11, STRUCT: 12}
FROM_COMPACT = {1: BOOL, 2: BOOL, 3: BYTE, 4: I16, 5: I32, 6: I64, 7: DOUBLE, 8: STRING,
                9: LIST, 10: SET, 11: MAP, 12: STRUCT}
MAX_DEPTH = 64  # nesting limit when skipping unknown values (hostile input)

_BE_I16 = struct.Struct(">h")
_BE_I32 = struct.Struct(">i")
_BE_I64 = struct.Struct(">q")
_BE_D = struct.Struct(">d")
_LE_D = struct.Struct("<d")
_MISSING = object()

Enc = Callable[[bytearray, Any], None]
Dec = Callable[[bytes, int], tuple[Any, int]]


def ttype_of(t: Schema) -> int:
    if isinstance(t, Primitive):
        if t.name == "null":
            raise UnsupportedSchemaError("Thrift has no null type")
        return {"boolean": BOOL, "int": I32, "long": I64, "float": DOUBLE, "double": DOUBLE,
                "string": STRING, "bytes": STRING}[t.name]
    if isinstance(t, Fixed):
        return STRING
    if isinstance(t, Enum):
        return I32
    if isinstance(t, Array):
        return LIST
    if isinstance(t, Map):
        return MAP
    return STRUCT  # records and unions (as Thrift unions)


# -- protocol primitives ------------------------------------------------------------------

def _zz(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _unzz(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


class _Binary:
    name = "thrift-binary"

    @staticmethod
    def field_header(out: bytearray, ttype: int, fid: int, last: int) -> None:
        out.append(ttype)
        out += _BE_I16.pack(fid)

    @staticmethod
    def bool_field(out: bytearray, v: bool, fid: int, last: int) -> None:
        out.append(BOOL)
        out += _BE_I16.pack(fid)
        out.append(1 if v else 0)

    @staticmethod
    def w_bool(out: bytearray, v: bool) -> None:
        out.append(1 if v else 0)

    @staticmethod
    def w_i32(out: bytearray, v: int) -> None:
        out += _BE_I32.pack(v)

    @staticmethod
    def w_i64(out: bytearray, v: int) -> None:
        out += _BE_I64.pack(v)

    @staticmethod
    def w_double(out: bytearray, v: float) -> None:
        out += _BE_D.pack(v)

    @staticmethod
    def w_binary(out: bytearray, data: bytes) -> None:
        out += _BE_I32.pack(len(data))
        out += data

    @staticmethod
    def list_header(out: bytearray, etype: int, n: int) -> None:
        out.append(etype)
        out += _BE_I32.pack(n)

    @staticmethod
    def map_header(out: bytearray, ktype: int, vtype: int, n: int) -> None:
        out.append(ktype)
        out.append(vtype)
        out += _BE_I32.pack(n)

    # readers: (buf, pos) -> (value, pos)
    @staticmethod
    def r_field_header(buf: bytes, pos: int, last: int) -> tuple[int, int, int, Any]:
        """-> (ttype, fid, pos, embedded bool value or None)."""
        _need(buf, pos, 1)
        ttype = buf[pos]
        if ttype == STOP:
            return STOP, 0, pos + 1, None
        _need(buf, pos + 1, 2)
        return ttype, _BE_I16.unpack_from(buf, pos + 1)[0], pos + 3, None

    @staticmethod
    def r_bool(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1)
        b = buf[pos]
        if b > 1:
            raise DecodeError(f"bool byte must be 0 or 1, got {b}", pos)
        return b == 1, pos + 1

    @staticmethod
    def r_byte(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1)
        return buf[pos], pos + 1

    @staticmethod
    def r_i16(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 2)
        return _BE_I16.unpack_from(buf, pos)[0], pos + 2

    @staticmethod
    def r_i32(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 4)
        return _BE_I32.unpack_from(buf, pos)[0], pos + 4

    @staticmethod
    def r_i64(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 8)
        return _BE_I64.unpack_from(buf, pos)[0], pos + 8

    @staticmethod
    def r_double(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 8)
        return _BE_D.unpack_from(buf, pos)[0], pos + 8

    @staticmethod
    def r_binary(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 4)
        n = _BE_I32.unpack_from(buf, pos)[0]
        return _take(buf, pos + 4, n, pos)

    @staticmethod
    def r_list_header(buf: bytes, pos: int) -> tuple[int, int, int]:
        _need(buf, pos, 5)
        n = _BE_I32.unpack_from(buf, pos + 1)[0]
        if n < 0:
            raise DecodeError(f"negative list size {n}", pos)
        return buf[pos], n, pos + 5

    @staticmethod
    def r_map_header(buf: bytes, pos: int) -> tuple[int, int, int, int]:
        _need(buf, pos, 6)
        n = _BE_I32.unpack_from(buf, pos + 2)[0]
        if n < 0:
            raise DecodeError(f"negative map size {n}", pos)
        return buf[pos], buf[pos + 1], n, pos + 6


class _Compact:
    name = "thrift-compact"

    @staticmethod
    def field_header(out: bytearray, ttype: int, fid: int, last: int) -> None:
        ct = TO_COMPACT[ttype]
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | ct)
        else:
            out.append(ct)
            write_uvarint(out, _zz(fid))

    @staticmethod
    def bool_field(out: bytearray, v: bool, fid: int, last: int) -> None:
        ct = C_TRUE if v else C_FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | ct)
        else:
            out.append(ct)
            write_uvarint(out, _zz(fid))

    @staticmethod
    def w_bool(out: bytearray, v: bool) -> None:
        out.append(C_TRUE if v else C_FALSE)

    @staticmethod
    def w_i32(out: bytearray, v: int) -> None:
        write_uvarint(out, ((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)

    @staticmethod
    def w_i64(out: bytearray, v: int) -> None:
        n = (v << 1) ^ (v >> 63)
        while n > 0x7F:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)

    @staticmethod
    def w_double(out: bytearray, v: float) -> None:
        out += _LE_D.pack(v)

    @staticmethod
    def w_binary(out: bytearray, data: bytes) -> None:
        write_uvarint(out, len(data))
        out += data

    @staticmethod
    def list_header(out: bytearray, etype: int, n: int) -> None:
        if n <= 14:
            out.append(n << 4 | TO_COMPACT[etype])
        else:
            out.append(0xF0 | TO_COMPACT[etype])
            write_uvarint(out, n)

    @staticmethod
    def map_header(out: bytearray, ktype: int, vtype: int, n: int) -> None:
        if n == 0:
            out.append(0)
        else:
            write_uvarint(out, n)
            out.append(TO_COMPACT[ktype] << 4 | TO_COMPACT[vtype])

    @staticmethod
    def r_field_header(buf: bytes, pos: int, last: int) -> tuple[int, int, int, Any]:
        _need(buf, pos, 1)
        b = buf[pos]
        if b == 0:
            return STOP, 0, pos + 1, None
        ct = b & 0x0F
        ttype = FROM_COMPACT.get(ct)
        if ttype is None:
            raise DecodeError(f"unknown compact type {ct}", pos)
        delta = b >> 4
        if delta:
            fid = last + delta
            pos += 1
        else:
            z, pos = read_uvarint(buf, pos + 1)
            fid = _unzz(z)
        if not -32768 <= fid <= 32767:
            raise DecodeError(f"field id {fid} out of range for i16", pos)
        return ttype, fid, pos, (ct == C_TRUE if ttype == BOOL else None)

    @staticmethod
    def r_bool(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1)
        b = buf[pos]
        if b not in (0, 1, 2):  # 1 true, 2 false (0 false: older writers)
            raise DecodeError(f"bool byte must be 1 or 2, got {b}", pos)
        return b == 1, pos + 1

    @staticmethod
    def r_byte(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 1)
        return buf[pos], pos + 1

    @staticmethod
    def r_i16(buf: bytes, pos: int) -> tuple[Any, int]:
        z, end = read_uvarint(buf, pos)
        v = _unzz(z)
        if not -32768 <= v <= 32767:
            raise DecodeError(f"{v} out of range for i16", pos)
        return v, end

    @staticmethod
    def r_i32(buf: bytes, pos: int) -> tuple[Any, int]:
        z, end = read_uvarint(buf, pos)
        v = _unzz(z)
        if not INT32_MIN <= v <= INT32_MAX:
            raise DecodeError(f"{v} out of range for i32", pos)
        return v, end

    @staticmethod
    def r_i64(buf: bytes, pos: int) -> tuple[Any, int]:
        z, end = read_uvarint(buf, pos)
        return _unzz(z), end

    @staticmethod
    def r_double(buf: bytes, pos: int) -> tuple[Any, int]:
        _need(buf, pos, 8)
        return _LE_D.unpack_from(buf, pos)[0], pos + 8

    @staticmethod
    def r_binary(buf: bytes, pos: int) -> tuple[Any, int]:
        n, p = read_uvarint(buf, pos)
        return _take(buf, p, n, pos)

    @staticmethod
    def r_list_header(buf: bytes, pos: int) -> tuple[int, int, int]:
        _need(buf, pos, 1)
        b = buf[pos]
        etype = FROM_COMPACT.get(b & 0x0F)
        if etype is None:
            raise DecodeError(f"unknown compact element type {b & 0x0F}", pos)
        n = b >> 4
        p = pos + 1
        if n == 15:
            n, p = read_uvarint(buf, p)
        return etype, n, p

    @staticmethod
    def r_map_header(buf: bytes, pos: int) -> tuple[int, int, int, int]:
        n, p = read_uvarint(buf, pos)
        if n == 0:
            return STRING, STRING, 0, p
        _need(buf, p, 1)
        b = buf[p]
        kt, vt = FROM_COMPACT.get(b >> 4), FROM_COMPACT.get(b & 0x0F)
        if kt is None or vt is None:
            raise DecodeError("unknown compact map key/value type", p)
        return kt, vt, n, p + 1


def _need(buf: bytes, pos: int, n: int) -> None:
    if pos + n > len(buf):
        raise DecodeError(f"truncated: expected {n} more bytes", pos)


def _take(buf: bytes, pos: int, n: int, start: int) -> tuple[bytes, int]:
    if n < 0 or pos + n > len(buf):
        raise DecodeError(f"length {n} runs past the end of the input", start)
    return bytes(buf[pos:pos + n]), pos + n


# -- the codec ----------------------------------------------------------------------------

class ThriftCodec:
    """Encode/decode one record schema with a Thrift protocol ("binary" or "compact")."""

    def __init__(self, schema: Schema, protocol: str = "binary"):
        if not isinstance(schema, Record):
            raise UnsupportedSchemaError("a Thrift struct must be a record")
        if protocol not in ("binary", "compact"):
            raise ValueError(f"unknown Thrift protocol {protocol!r}")
        self.schema = schema
        self.protocol = protocol
        self.p: Any = _Binary if protocol == "binary" else _Compact
        self.name = self.p.name
        self._enc: dict[int, Enc] = {}
        self._dec: dict[int, Dec] = {}
        self._root_enc = self.encoder(schema)
        self._root_dec = self.decoder(schema)

    def encode(self, value: Any) -> bytes:
        out = bytearray()
        self._root_enc(out, value)
        return bytes(out)

    def decode(self, data: bytes) -> Any:
        try:
            value, pos = self._root_dec(data, 0)
        except RecursionError:
            raise DecodeError("nesting too deep") from None
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after the struct", pos)
        return value

    # -- encoders --
    def encoder(self, t: Schema) -> Enc:
        p = self.p
        if isinstance(t, Primitive):
            n = t.name
            if n == "boolean":
                def e_bool(out: bytearray, v: Any) -> None:
                    if v is not True and v is not False:
                        raise EncodeError(f"expected boolean, got {type(v).__name__}")
                    p.w_bool(out, v)
                return e_bool
            if n in ("int", "long"):
                lo, hi = (INT32_MIN, INT32_MAX) if n == "int" else (INT64_MIN, INT64_MAX)
                w = p.w_i32 if n == "int" else p.w_i64

                def e_int(out: bytearray, v: Any) -> None:
                    if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
                        raise EncodeError(f"expected {n}, got {type(v).__name__}")
                    if not lo <= v <= hi:
                        raise EncodeError(f"{v} out of range for {n}")
                    w(out, v)
                return e_int
            if n in ("float", "double"):
                def e_double(out: bytearray, v: Any) -> None:
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise EncodeError(f"expected {n}, got {type(v).__name__}")
                    p.w_double(out, float(v))
                return e_double
            if n == "string":
                def e_str(out: bytearray, v: Any) -> None:
                    if type(v) is not str:
                        raise EncodeError(f"expected string, got {type(v).__name__}")
                    try:
                        p.w_binary(out, v.encode())
                    except UnicodeEncodeError:
                        raise EncodeError("string is not encodable as UTF-8") from None
                return e_str
            if n == "bytes":
                def e_bytes(out: bytearray, v: Any) -> None:
                    if not isinstance(v, (bytes, bytearray)):
                        raise EncodeError(f"expected bytes, got {type(v).__name__}")
                    p.w_binary(out, v)
                return e_bytes
            raise UnsupportedSchemaError("Thrift has no null type")
        if isinstance(t, Fixed):
            def e_fixed(out: bytearray, v: Any) -> None:
                if not isinstance(v, (bytes, bytearray)) or len(v) != t.size:
                    raise EncodeError(f"expected {t.size} bytes for fixed {t.name}")
                p.w_binary(out, v)
            return e_fixed
        if isinstance(t, Enum):
            index = {s: i for i, s in enumerate(t.symbols)}

            def e_enum(out: bytearray, v: Any) -> None:
                try:
                    p.w_i32(out, index[v])
                except (KeyError, TypeError):
                    raise EncodeError(f"{v!r} is not a symbol of enum {t.name}") from None
            return e_enum
        if isinstance(t, Array):
            if isinstance(t.items, Union) or t.items == NULL:
                item_t: Schema = t.items
            else:
                item_t = t.items
            etype = ttype_of(item_t)
            item = self.encoder(item_t)

            def e_list(out: bytearray, v: Any) -> None:
                if not isinstance(v, (list, tuple)):
                    raise EncodeError(f"expected array, got {type(v).__name__}")
                p.list_header(out, etype, len(v))
                for i, x in enumerate(v):
                    try:
                        item(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
            return e_list
        if isinstance(t, Map):
            vtype = ttype_of(t.values)
            value = self.encoder(t.values)

            def e_map(out: bytearray, v: Any) -> None:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected map, got {type(v).__name__}")
                p.map_header(out, STRING, vtype, len(v))
                for k, x in v.items():
                    if type(k) is not str:
                        raise EncodeError(f"map key {k!r} is not a string")
                    p.w_binary(out, k.encode())
                    try:
                        value(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
            return e_map
        if id(t) in self._enc:
            return self._enc[id(t)]
        if isinstance(t, Record):
            return self._struct_encoder(t)
        return self._union_encoder(t)

    def _field_writer(self, fid: int, t: Schema) -> Callable[[bytearray, Any, int], None]:
        """``write(out, value, last_fid)``: header and value of one field."""
        p = self.p
        if t == Primitive("boolean"):
            def f_bool(out: bytearray, v: Any, last: int) -> None:
                if v is not True and v is not False:
                    raise EncodeError(f"expected boolean, got {type(v).__name__}")
                p.bool_field(out, v, fid, last)
            return f_bool
        ttype = ttype_of(t)
        enc = self.encoder(t)
        header = p.field_header

        def f_value(out: bytearray, v: Any, last: int) -> None:
            header(out, ttype, fid, last)
            enc(out, v)
        return f_value

    def _struct_encoder(self, rec: Record) -> Enc:
        fields: list[tuple[str, int, Any, bool, Any]] = []
        fmt = self.name

        def e_struct(out: bytearray, v: Any) -> None:
            if not isinstance(v, dict):
                raise EncodeError(f"expected record {rec.name}, got {type(v).__name__}")
            last = 0
            name = ""
            try:
                for name, fid, write, optional, default in fields:
                    x = v.get(name, _MISSING)
                    if x is _MISSING:
                        if default is _MISSING:
                            raise EncodeError("missing field without default")
                        x = default
                    if x is None and optional:
                        continue
                    write(out, union_value(x) if optional else x, last)
                    last = fid
            except EncodeError as exc:
                exc.path.insert(0, name)
                raise
            extra = unknown_of(v, fmt)
            if extra:
                out += extra  # fields a newer schema added (long-form headers: any order ok)
            out.append(STOP)
        self._enc[id(rec)] = e_struct
        for f in rec.fields:
            inner = is_optional(f.type)
            optional = inner is not None
            ftype = inner if inner is not None else f.type
            if ftype == NULL:
                raise UnsupportedSchemaError("Thrift has no null type", [rec.name, f.name])
            fields.append((f.name, f.tag, self._field_writer(f.tag, ftype), optional,
                           f.default if f.has_default else _MISSING))
        return e_struct

    def _union_encoder(self, u: Union) -> Enc:
        writers: dict[int, Callable[[bytearray, Any, int], None]] = {}

        def e_union(out: bytearray, v: Any) -> None:
            i = union_branch(u, v)
            if i is None:
                raise EncodeError(f"{v!r:.40} matches no branch of the union")
            if u.branches[i] != NULL:
                writers[i](out, union_value(v), 0)
            out.append(STOP)
        self._enc[id(u)] = e_union
        for i, b in enumerate(u.branches):
            if b != NULL:
                writers[i] = self._field_writer(i + 1, b)
        return e_union

    # -- decoders --
    def _reader(self, ttype: int) -> Dec:
        p = self.p
        return {BOOL: p.r_bool, BYTE: p.r_byte, I16: p.r_i16, I32: p.r_i32, I64: p.r_i64,
                DOUBLE: p.r_double, STRING: p.r_binary}[ttype]

    def decoder(self, t: Schema) -> Dec:
        p = self.p
        if isinstance(t, Primitive):
            n = t.name
            if n == "string":
                def d_str(buf: bytes, pos: int) -> tuple[Any, int]:
                    data, end = p.r_binary(buf, pos)
                    try:
                        return data.decode(), end
                    except UnicodeDecodeError as exc:
                        raise DecodeError(f"invalid UTF-8 in string: {exc.reason}",
                                          end - len(data) + exc.start) from None
                return d_str
            return self._reader(ttype_of(t))
        if isinstance(t, Fixed):
            def d_fixed(buf: bytes, pos: int) -> tuple[Any, int]:
                data, end = p.r_binary(buf, pos)
                if len(data) != t.size:
                    raise DecodeError(f"fixed {t.name} needs {t.size} bytes, got {len(data)}",
                                      pos)
                return data, end
            return d_fixed
        if isinstance(t, Enum):
            symbols = t.symbols

            def d_enum(buf: bytes, pos: int) -> tuple[Any, int]:
                i, end = p.r_i32(buf, pos)
                if not 0 <= i < len(symbols):
                    raise DecodeError(f"enum value {i} out of range for {t.name}", pos)
                return symbols[i], end
            return d_enum
        if isinstance(t, Array):
            etype = ttype_of(t.items)
            item = self.decoder(t.items)

            def d_list(buf: bytes, pos: int) -> tuple[Any, int]:
                start = pos
                et, n, pos = p.r_list_header(buf, pos)
                if et != etype:
                    raise DecodeError(f"list of {TYPE_NAMES.get(et, et)} where "
                                      f"{TYPE_NAMES[etype]} was expected", start)
                if n > len(buf) - pos:  # every element takes at least one byte
                    raise DecodeError(f"list size {n} exceeds the bytes left", start)
                out = []
                for i in range(n):
                    try:
                        x, pos = item(buf, pos)
                    except DecodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
                    out.append(x)
                return out, pos
            return d_list
        if isinstance(t, Map):
            vtype = ttype_of(t.values)
            value = self.decoder(t.values)
            key = self.decoder(Primitive("string"))

            def d_map(buf: bytes, pos: int) -> tuple[Any, int]:
                start = pos
                kt, vt, n, pos = p.r_map_header(buf, pos)
                if n and (kt != STRING or vt != vtype):
                    raise DecodeError("map key/value types do not match the schema", start)
                if n > len(buf) - pos:
                    raise DecodeError(f"map size {n} exceeds the bytes left", start)
                out = {}
                for _ in range(n):
                    k, pos = key(buf, pos)
                    try:
                        out[k], pos = value(buf, pos)
                    except DecodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
                return out, pos
            return d_map
        if id(t) in self._dec:
            return self._dec[id(t)]
        if isinstance(t, Record):
            return self._struct_decoder(t)
        return self._union_decoder(t)

    def _struct_fields(self, u_or_rec: Record | Union) -> dict[int, tuple[str, int, Dec]]:
        table: dict[int, tuple[str, int, Dec]] = {}
        if isinstance(u_or_rec, Record):
            for f in u_or_rec.fields:
                inner = is_optional(f.type)
                ft = inner if inner is not None else f.type
                table[f.tag] = (f.name, ttype_of(ft), self.decoder(ft))
        else:
            for i, b in enumerate(u_or_rec.branches):
                if b != NULL:
                    table[i + 1] = (str(i), ttype_of(b), self.decoder(b))
        return table

    def _read_fields(self, buf: bytes, pos: int, table: dict[int, tuple[str, int, Dec]],
                     out: dict[str, Any], unknown: bytearray) -> int:
        p = self.p
        last = 0
        name = ""
        where = "<first field header>"  # where a failing header read is, for the error path
        try:
            while True:
                start = pos
                ttype, fid, pos, embedded = p.r_field_header(buf, pos, last)
                if ttype == STOP:
                    return pos
                last = fid
                entry = table.get(fid)
                if entry is not None and entry[1] == ttype:
                    name = entry[0]
                    if embedded is not None:
                        out[name] = embedded
                    else:
                        out[name], pos = entry[2](buf, pos)
                    where = f"<field header after {name}>"
                    name = ""
                else:
                    name = f"#{fid}"  # unknown field: skipped and kept
                    vstart = pos
                    if embedded is None:
                        pos = self.skip(buf, pos, ttype, 0)
                    self._keep(unknown, buf, start, vstart, pos, ttype, fid, embedded)
                    where = f"<field header after #{fid}>"
                    name = ""
        except DecodeError as exc:
            exc.path.insert(0, name or where)
            raise

    def _keep(self, unknown: bytearray, buf: bytes, start: int, vstart: int, end: int,
              ttype: int, fid: int, embedded: Any) -> None:
        if self.protocol == "binary":
            unknown += buf[start:end]
        else:
            # Compact headers are deltas from the previous field: keep a long-form header
            # (type byte, zig-zag id), valid wherever the field is written back.
            ct = (C_TRUE if embedded else C_FALSE) if ttype == BOOL else TO_COMPACT[ttype]
            unknown.append(ct)
            write_uvarint(unknown, _zz(fid))
            unknown += buf[vstart:end]

    def _struct_decoder(self, rec: Record) -> Dec:
        table: dict[int, tuple[str, int, Dec]] = {}
        fill: list[tuple[str, bool, Any]] = []
        fmt = self.name

        def d_struct(buf: bytes, pos: int) -> tuple[Any, int]:
            out = KeptRecord()
            unknown = bytearray()
            pos = self._read_fields(buf, pos, table, out, unknown)
            if len(out) != len(fill):
                for name, optional, default in fill:
                    if name not in out:
                        if default is not _MISSING:
                            out[name] = default
                        elif optional:
                            out[name] = None
                        else:
                            raise DecodeError(f"required field {name!r} missing", pos)
            if unknown:
                out.unknown[fmt] = bytes(unknown)
            return (out if len(out) == len(fill) and list(out) == [f[0] for f in fill]
                    else _reorder(out, fill)), pos
        self._dec[id(rec)] = d_struct
        table.update(self._struct_fields(rec))
        fill.extend((f.name, is_optional(f.type) is not None,
                     f.default if f.has_default else _MISSING) for f in rec.fields)
        return d_struct

    def _union_decoder(self, u: Union) -> Dec:
        table: dict[int, tuple[str, int, Dec]] = {}
        has_null = NULL in u.branches

        def d_union(buf: bytes, pos: int) -> tuple[Any, int]:
            start = pos
            out: dict[str, Any] = {}
            pos = self._read_fields(buf, pos, table, out, bytearray())
            if not out:
                if not has_null:
                    raise DecodeError("union value has no field set", start)
                return None, pos
            if len(out) > 1:
                raise DecodeError("union value has more than one field set", start)
            return next(iter(out.values())), pos
        self._dec[id(u)] = d_union
        table.update(self._struct_fields(u))
        return d_union

    def skip(self, buf: bytes, pos: int, ttype: int, depth: int) -> int:
        """Skip one value of ``ttype`` (unknown fields), with a nesting limit."""
        if depth > MAX_DEPTH:
            raise DecodeError("unknown value nested too deep", pos)
        p = self.p
        if ttype in (BOOL, BYTE, I16, I32, I64, DOUBLE, STRING):
            return self._reader(ttype)(buf, pos)[1]
        if ttype == STRUCT:
            last = 0
            while True:
                t, fid, pos, embedded = p.r_field_header(buf, pos, last)
                if t == STOP:
                    return pos
                last = fid
                if embedded is None:
                    pos = self.skip(buf, pos, t, depth + 1)
        if ttype in (LIST, SET):
            start = pos
            et, n, pos = p.r_list_header(buf, pos)
            if n > len(buf) - pos:
                raise DecodeError(f"list size {n} exceeds the bytes left", start)
            for _ in range(n):
                pos = self.skip(buf, pos, et, depth + 1)
            return pos
        if ttype == MAP:
            start = pos
            kt, vt, n, pos = p.r_map_header(buf, pos)
            if n > len(buf) - pos:
                raise DecodeError(f"map size {n} exceeds the bytes left", start)
            for _ in range(n):
                pos = self.skip(buf, pos, kt, depth + 1)
                pos = self.skip(buf, pos, vt, depth + 1)
            return pos
        raise DecodeError(f"unknown Thrift type {ttype}", pos)


def _reorder(out: KeptRecord, fill: list[tuple[str, bool, Any]]) -> KeptRecord:
    """Fields in schema order (the wire may carry them in any order)."""
    ordered = KeptRecord((name, out[name]) for name, _, _ in fill)
    ordered.unknown = out.unknown
    return ordered


# -- .thrift text ---------------------------------------------------------------------------

def to_thrift(schema: Schema) -> str:
    """The Thrift IDL of a record schema, as mapped for the wire."""
    if not isinstance(schema, Record):
        raise UnsupportedSchemaError("a Thrift struct must be a record")
    blocks: list[str] = []
    done: dict[int, str] = {}
    names: set[str] = set()

    def tname(t: Schema, hint: str) -> str:
        if isinstance(t, Primitive):
            if t.name == "null":
                raise UnsupportedSchemaError("Thrift has no null type")
            return {"boolean": "bool", "int": "i32", "long": "i64", "float": "double",
                    "double": "double", "string": "string", "bytes": "binary"}[t.name]
        if isinstance(t, Fixed):
            return "binary"
        if isinstance(t, Array):
            return f"list<{tname(t.items, hint + '_item')}>"
        if isinstance(t, Map):
            return f"map<string, {tname(t.values, hint + '_value')}>"
        if id(t) in done:
            return done[id(t)]
        if isinstance(t, Enum):
            name = _unique(t.name.replace(".", "_"), names)
            done[id(t)] = name
            body = "\n".join(f"  {s} = {i}," for i, s in enumerate(t.symbols))
            blocks.append(f"enum {name} {{\n{body}\n}}")
            return name
        if isinstance(t, Record):
            name = _unique(t.name.replace(".", "_"), names)
            done[id(t)] = name
            lines = []
            for f in t.fields:
                inner = is_optional(f.type)
                req = "optional" if inner is not None else "required"
                lines.append(f"  {f.tag}: {req} {tname(inner or f.type, name + '_' + f.name)}"
                             f" {f.name},")
            if t.reserved_tags or t.reserved_names:
                # Thrift IDL has no `reserved`; the rule still holds, so say it in a comment
                held = ", ".join([*map(str, t.reserved_tags), *map(repr, t.reserved_names)])
                lines.append(f"  // reserved (removed fields, never reuse): {held}")
            blocks.append(f"struct {name} {{\n" + "\n".join(lines) + "\n}")
            return name
        assert isinstance(t, Union)
        name = _unique(hint + "_union", names)
        done[id(t)] = name
        lines = [f"  {i + 1}: optional {tname(b, f'{name}_b{i}')} b{i},"
                 for i, b in enumerate(t.branches) if b != NULL]
        blocks.append(f"union {name} {{\n" + "\n".join(lines) + "\n}")
        return name

    tname(schema, schema.name)
    return "\n\n".join(blocks) + "\n"


def _unique(name: str, names: set[str]) -> str:
    base, n = name, 2
    while name in names:
        name, n = f"{base}{n}", n + 1
    names.add(name)
    return name
