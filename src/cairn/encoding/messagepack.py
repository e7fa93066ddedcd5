"""MessagePack (DDIA fig. 4-1): a binary JSON, written from the MessagePack specification.

Self-describing: every value starts with a type byte, often with the length or small value
folded in (fixint, fixstr, fixarray, fixmap), and records are maps whose keys are the field
*names*, spelled out in every record; that is why it saves so little over JSON (66 vs 81 bytes
for the book's example). Integers take the smallest of the spec's widths; floats are written as
float64 (a Python float is a double; this is also what the official ``msgpack`` does); strings
are ``str`` types (UTF-8) and ``bytes`` are ``bin`` types.

Encoding is schema-driven (keys are pre-packed once per field), decoding checks each value
against the schema and says where it went wrong. Map entries a record's schema does not know
(fields a newer writer added) are kept raw and written back on re-encode.
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
    Array,
    Enum,
    Fixed,
    KeptRecord,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    native_branch,
    union_value,
    unknown_of,
)

FMT = "msgpack"
_B = struct.Struct(">B")
_H = struct.Struct(">H")
_I = struct.Struct(">I")
_Q = struct.Struct(">Q")
_b = struct.Struct(">b")
_h = struct.Struct(">h")
_i = struct.Struct(">i")
_q = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_MISSING = object()
MAX_DEPTH = 64


class WrongKind(DecodeError):
    """A value of another MessagePack kind than the schema asks for (a union decoder tries
    the next branch on this error, and reports any other one)."""

Enc = Callable[[bytearray, Any], None]
Dec = Callable[[bytes, int], tuple[Any, int]]


# -- generic packing (the spec's smallest-width rules) ------------------------------------

def pack_int(out: bytearray, n: int) -> None:
    if n >= 0:
        if n <= 0x7F:
            out.append(n)
        elif n <= 0xFF:
            out.append(0xCC)
            out.append(n)
        elif n <= 0xFFFF:
            out += b"\xcd" + _H.pack(n)
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + _I.pack(n)
        elif n <= 0xFFFFFFFFFFFFFFFF:
            out += b"\xcf" + _Q.pack(n)
        else:
            raise EncodeError(f"{n} is too large for MessagePack")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -0x80:
        out += b"\xd0" + _b.pack(n)
    elif n >= -0x8000:
        out += b"\xd1" + _h.pack(n)
    elif n >= -0x80000000:
        out += b"\xd2" + _i.pack(n)
    elif n >= -0x8000000000000000:
        out += b"\xd3" + _q.pack(n)
    else:
        raise EncodeError(f"{n} is too small for MessagePack")


def pack_str(out: bytearray, s: str) -> None:
    try:
        data = s.encode()
    except UnicodeEncodeError:
        raise EncodeError("string is not encodable as UTF-8") from None
    n = len(data)
    if n <= 31:
        out.append(0xA0 | n)
    elif n <= 0xFF:
        out.append(0xD9)
        out.append(n)
    elif n <= 0xFFFF:
        out += b"\xda" + _H.pack(n)
    else:
        out += b"\xdb" + _I.pack(n)
    out += data


def packed_str(s: str) -> bytes:
    out = bytearray()
    pack_str(out, s)
    return bytes(out)


def pack_bin(out: bytearray, data: bytes) -> None:
    n = len(data)
    if n <= 0xFF:
        out.append(0xC4)
        out.append(n)
    elif n <= 0xFFFF:
        out += b"\xc5" + _H.pack(n)
    else:
        out += b"\xc6" + _I.pack(n)
    out += data


def pack_array_header(out: bytearray, n: int) -> None:
    if n <= 15:
        out.append(0x90 | n)
    elif n <= 0xFFFF:
        out += b"\xdc" + _H.pack(n)
    else:
        out += b"\xdd" + _I.pack(n)


def pack_map_header(out: bytearray, n: int) -> None:
    if n <= 15:
        out.append(0x80 | n)
    elif n <= 0xFFFF:
        out += b"\xde" + _H.pack(n)
    else:
        out += b"\xdf" + _I.pack(n)


# -- generic reading ------------------------------------------------------------------------

def _need(buf: bytes, pos: int, n: int) -> None:
    if pos + n > len(buf):
        raise DecodeError(f"truncated: expected {n} more bytes", pos)


def read_header(buf: bytes, pos: int) -> tuple[str, int, int]:
    """Read a type byte and its inline/following length or value.

    Returns ``(kind, n, pos)``: for "int"/"nil"/"bool" ``n`` is the value, for "float32" and
    "float64" the payload follows, for "str"/"bin"/"array"/"map" ``n`` is the length, for "ext"
    ``n`` is the payload length (the type byte included in it).
    """
    _need(buf, pos, 1)
    b = buf[pos]
    pos += 1
    if b <= 0x7F:
        return "int", b, pos
    if b >= 0xE0:
        return "int", b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        return "str", b & 0x1F, pos
    if 0x90 <= b <= 0x9F:
        return "array", b & 0x0F, pos
    if 0x80 <= b <= 0x8F:
        return "map", b & 0x0F, pos
    if b == 0xC0:
        return "nil", 0, pos
    if b == 0xC2:
        return "bool", 0, pos
    if b == 0xC3:
        return "bool", 1, pos
    spec = _WIDE.get(b)
    if spec is None:
        raise DecodeError(f"invalid MessagePack type byte 0x{b:02x}", pos - 1)
    kind, st = spec
    if kind in ("float32", "float64"):
        return kind, 0, pos
    if kind.startswith("fixext"):
        return "ext", int(kind[6:]) + 1, pos
    _need(buf, pos, st.size)
    n = st.unpack_from(buf, pos)[0]
    pos += st.size
    if kind == "ext":
        n += 1
    return kind, n, pos


_WIDE: dict[int, tuple[str, Any]] = {
    0xCC: ("int", _B), 0xCD: ("int", _H), 0xCE: ("int", _I), 0xCF: ("int", _Q),
    0xD0: ("int", _b), 0xD1: ("int", _h), 0xD2: ("int", _i), 0xD3: ("int", _q),
    0xCA: ("float32", None), 0xCB: ("float64", None),
    0xD9: ("str", _B), 0xDA: ("str", _H), 0xDB: ("str", _I),
    0xC4: ("bin", _B), 0xC5: ("bin", _H), 0xC6: ("bin", _I),
    0xDC: ("array", _H), 0xDD: ("array", _I), 0xDE: ("map", _H), 0xDF: ("map", _I),
    0xC7: ("ext", _B), 0xC8: ("ext", _H), 0xC9: ("ext", _I),
    0xD4: ("fixext1", None), 0xD5: ("fixext2", None), 0xD6: ("fixext4", None),
    0xD7: ("fixext8", None), 0xD8: ("fixext16", None),
}


def skip(buf: bytes, pos: int, depth: int = 0) -> int:
    """Skip one whole value (unknown map entries), with a nesting limit."""
    if depth > MAX_DEPTH:
        raise DecodeError("value nested too deep", pos)
    start = pos
    kind, n, pos = read_header(buf, pos)
    if kind in ("str", "bin", "ext"):
        _need(buf, pos, n)
        return pos + n
    if kind == "float32":
        _need(buf, pos, 4)
        return pos + 4
    if kind == "float64":
        _need(buf, pos, 8)
        return pos + 8
    if kind in ("array", "map"):
        count = n * 2 if kind == "map" else n
        if count > len(buf) - pos:
            raise DecodeError(f"{kind} of {n} entries exceeds the bytes left", start)
        for _ in range(count):
            pos = skip(buf, pos, depth + 1)
    return pos


# -- the codec ------------------------------------------------------------------------------

class MessagePackCodec:
    """Encode/decode values of one schema as MessagePack (records as maps keyed by name)."""

    name = FMT

    def __init__(self, schema: Schema):
        self.schema = schema
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
            raise DecodeError(f"{len(data) - pos} trailing bytes after the value", pos)
        return value

    # -- encoders --
    def encoder(self, t: Schema) -> Enc:
        if isinstance(t, Primitive):
            return _PRIM_ENC[t.name]
        if id(t) in self._enc:
            return self._enc[id(t)]
        if isinstance(t, Enum):
            symbols = {s: packed_str(s) for s in t.symbols}

            def e_enum(out: bytearray, v: Any) -> None:
                try:
                    out += symbols[v]
                except (KeyError, TypeError):
                    raise EncodeError(f"{v!r} is not a symbol of enum {t.name}") from None
            return e_enum
        if isinstance(t, Fixed):
            def e_fixed(out: bytearray, v: Any) -> None:
                if not isinstance(v, (bytes, bytearray)) or len(v) != t.size:
                    raise EncodeError(f"expected {t.size} bytes for fixed {t.name}")
                pack_bin(out, v)
            return e_fixed
        if isinstance(t, Array):
            item = self.encoder(t.items)

            def e_array(out: bytearray, v: Any) -> None:
                if not isinstance(v, (list, tuple)):
                    raise EncodeError(f"expected array, got {type(v).__name__}")
                pack_array_header(out, len(v))
                for i, x in enumerate(v):
                    try:
                        item(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
            return e_array
        if isinstance(t, Map):
            value = self.encoder(t.values)

            def e_map(out: bytearray, v: Any) -> None:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected map, got {type(v).__name__}")
                pack_map_header(out, len(v))
                for k, x in v.items():
                    if type(k) is not str:
                        raise EncodeError(f"map key {k!r} is not a string")
                    pack_str(out, k)
                    try:
                        value(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
            return e_map
        if isinstance(t, Record):
            return self._record_encoder(t)
        return self._union_encoder(t)

    def _record_encoder(self, rec: Record) -> Enc:
        fields: list[tuple[str, bytes, Enc, Any]] = []
        header = bytearray()
        pack_map_header(header, len(rec.fields))
        fixed_header = bytes(header)

        def e_record(out: bytearray, v: Any) -> None:
            if not isinstance(v, dict):
                raise EncodeError(f"expected record {rec.name}, got {type(v).__name__}")
            extra = unknown_of(v, FMT)
            if extra:
                count = int.from_bytes(extra[:4], "big")
                pack_map_header(out, len(fields) + count)
            else:
                out += fixed_header
            name = ""
            try:
                for name, key, enc, default in fields:
                    x = v.get(name, _MISSING)
                    if x is _MISSING:
                        if default is _MISSING:
                            raise EncodeError("missing field without default")
                        x = default
                    out += key
                    enc(out, x)
            except EncodeError as exc:
                exc.path.insert(0, name)
                raise
            if extra:
                out += extra[4:]
        self._enc[id(rec)] = e_record
        for f in rec.fields:
            fields.append((f.name, packed_str(f.name), self.encoder(f.type),
                           f.default if f.has_default else _MISSING))
        return e_record

    def _union_encoder(self, u: Union) -> Enc:
        branches = [self.encoder(b) for b in u.branches]

        def e_union(out: bytearray, v: Any) -> None:
            i = native_branch(u, v)
            if i is None:
                raise EncodeError(f"{v!r:.40} matches no branch of the union")
            branches[i](out, union_value(v))
        self._enc[id(u)] = e_union
        return e_union

    # -- decoders --
    def decoder(self, t: Schema) -> Dec:
        if isinstance(t, Primitive):
            return _PRIM_DEC[t.name]
        if id(t) in self._dec:
            return self._dec[id(t)]
        if isinstance(t, Enum):
            symbols = set(t.symbols)

            def d_enum(buf: bytes, pos: int) -> tuple[Any, int]:
                s, end = _dec_string(buf, pos)
                if s not in symbols:
                    raise DecodeError(f"{s!r} is not a symbol of enum {t.name}", pos)
                return s, end
            return d_enum
        if isinstance(t, Fixed):
            def d_fixed(buf: bytes, pos: int) -> tuple[Any, int]:
                data, end = _dec_bytes(buf, pos)
                if len(data) != t.size:
                    raise DecodeError(f"fixed {t.name} needs {t.size} bytes", pos)
                return data, end
            return d_fixed
        if isinstance(t, Array):
            item = self.decoder(t.items)

            def d_array(buf: bytes, pos: int) -> tuple[Any, int]:
                start = pos
                kind, n, pos = read_header(buf, pos)
                if kind != "array":
                    raise WrongKind(f"expected array, found {kind}", start)
                if n > len(buf) - pos:
                    raise DecodeError(f"array of {n} items exceeds the bytes left", start)
                out = []
                for i in range(n):
                    try:
                        x, pos = item(buf, pos)
                    except DecodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
                    out.append(x)
                return out, pos
            return d_array
        if isinstance(t, Map):
            value = self.decoder(t.values)

            def d_map(buf: bytes, pos: int) -> tuple[Any, int]:
                start = pos
                kind, n, pos = read_header(buf, pos)
                if kind != "map":
                    raise WrongKind(f"expected map, found {kind}", start)
                if 2 * n > len(buf) - pos:
                    raise DecodeError(f"map of {n} entries exceeds the bytes left", start)
                out = {}
                for _ in range(n):
                    k, pos = _dec_string(buf, pos)
                    try:
                        out[k], pos = value(buf, pos)
                    except DecodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
                return out, pos
            return d_map
        if isinstance(t, Record):
            return self._record_decoder(t)
        return self._union_decoder(t)

    def _record_decoder(self, rec: Record) -> Dec:
        fields: dict[str, Dec] = {}
        order: list[tuple[str, Any]] = []

        def d_record(buf: bytes, pos: int) -> tuple[Any, int]:
            start = pos
            kind, n, pos = read_header(buf, pos)
            if kind != "map":
                raise WrongKind(f"expected a map for record {rec.name}, found {kind}", start)
            if 2 * n > len(buf) - pos:
                raise DecodeError(f"map of {n} entries exceeds the bytes left", start)
            got: dict[str, Any] = {}
            unknown = bytearray()
            extra = 0
            name = ""
            try:
                for _ in range(n):
                    kstart = pos
                    name, pos = _dec_string(buf, pos)
                    dec = fields.get(name)
                    if dec is None:
                        pos = skip(buf, pos)
                        unknown += buf[kstart:pos]
                        extra += 1
                    else:
                        got[name], pos = dec(buf, pos)
            except DecodeError as exc:
                exc.path.insert(0, name)
                raise
            out = KeptRecord()
            for fname, default in order:
                if fname in got:
                    out[fname] = got[fname]
                elif default is not _MISSING:
                    out[fname] = default
                else:
                    raise DecodeError(f"record {rec.name} lacks field {fname!r}", start)
            if extra:
                out.unknown[FMT] = extra.to_bytes(4, "big") + bytes(unknown)
            return out, pos
        self._dec[id(rec)] = d_record
        for f in rec.fields:
            fields[f.name] = self.decoder(f.type)
            order.append((f.name, f.default if f.has_default else _MISSING))
        return d_record

    def _union_decoder(self, u: Union) -> Dec:
        """MessagePack carries no branch index: the first branch whose decoder accepts the
        value (as the writer chose the first valid branch) decodes it."""
        branches = [self.decoder(b) for b in u.branches]

        def d_union(buf: bytes, pos: int) -> tuple[Any, int]:
            real: DecodeError | None = None
            for dec in branches:
                try:
                    return dec(buf, pos)
                except WrongKind:
                    continue  # not this branch's kind of value
                except DecodeError as exc:
                    # a branch of the right kind found the real problem (a string that runs
                    # past the end): report that, not "no branch matches"
                    real = real or exc
            if real is not None:
                raise real
            raise DecodeError(f"value (type byte 0x{buf[pos]:02x}) matches no branch of the "
                              "union" if pos < len(buf) else "truncated: expected a value",
                              pos)
        self._dec[id(u)] = d_union
        return d_union


# -- primitives -----------------------------------------------------------------------------

def _e_null(out: bytearray, v: Any) -> None:
    if v is not None:
        raise EncodeError(f"expected null, got {type(v).__name__}")
    out.append(0xC0)


def _e_bool(out: bytearray, v: Any) -> None:
    if v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    else:
        raise EncodeError(f"expected boolean, got {type(v).__name__}")


def _int_encoder(lo: int, hi: int, name: str) -> Enc:
    def e_int(out: bytearray, v: Any) -> None:
        if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
            raise EncodeError(f"expected {name}, got {type(v).__name__}")
        if 0 <= v <= 0x7F:
            out.append(v)
            return
        if not lo <= v <= hi:
            raise EncodeError(f"{v} out of range for {name}")
        pack_int(out, v)
    return e_int


def _e_real(out: bytearray, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise EncodeError(f"expected a number, got {type(v).__name__}")
    out.append(0xCB)
    out += _F64.pack(v)


def _e_string(out: bytearray, v: Any) -> None:
    if type(v) is not str:
        raise EncodeError(f"expected string, got {type(v).__name__}")
    pack_str(out, v)


def _e_bytes(out: bytearray, v: Any) -> None:
    if not isinstance(v, (bytes, bytearray)):
        raise EncodeError(f"expected bytes, got {type(v).__name__}")
    pack_bin(out, v)


_PRIM_ENC: dict[str, Enc] = {
    "null": _e_null, "boolean": _e_bool, "int": _int_encoder(INT32_MIN, INT32_MAX, "int"),
    "long": _int_encoder(INT64_MIN, INT64_MAX, "long"), "float": _e_real, "double": _e_real,
    "string": _e_string, "bytes": _e_bytes,
}


def _d_null(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(buf):
        raise DecodeError("truncated: expected nil", pos)
    if buf[pos] != 0xC0:
        raise WrongKind(f"expected nil, found type byte 0x{buf[pos]:02x}", pos)
    return None, pos + 1


def _d_bool(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(buf):
        raise DecodeError("truncated: expected a boolean", pos)
    b = buf[pos]
    if b == 0xC3:
        return True, pos + 1
    if b == 0xC2:
        return False, pos + 1
    raise WrongKind(f"expected a boolean, found type byte 0x{b:02x}", pos)


def _int_decoder(lo: int, hi: int, name: str) -> Dec:
    def d_int(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos < len(buf) and buf[pos] <= 0x7F:
            return buf[pos], pos + 1
        kind, n, end = read_header(buf, pos)
        if kind != "int":
            raise WrongKind(f"expected {name}, found {kind}", pos)
        if not lo <= n <= hi:
            raise DecodeError(f"{n} out of range for {name}", pos)
        return n, end
    return d_int


def _d_real(buf: bytes, pos: int) -> tuple[Any, int]:
    kind, n, p = read_header(buf, pos)
    if kind == "float64":
        _need(buf, p, 8)
        return _F64.unpack_from(buf, p)[0], p + 8
    if kind == "float32":
        _need(buf, p, 4)
        return _F32.unpack_from(buf, p)[0], p + 4
    if kind == "int":
        return float(n), p
    raise WrongKind(f"expected a number, found {kind}", pos)


def _dec_string(buf: bytes, pos: int) -> tuple[Any, int]:
    if pos < len(buf) and 0xA0 <= buf[pos] <= 0xBF:
        n, p = buf[pos] & 0x1F, pos + 1
    else:
        kind, n, p = read_header(buf, pos)
        if kind != "str":
            raise WrongKind(f"expected a string, found {kind}", pos)
    end = p + n
    if end > len(buf):
        raise DecodeError(f"string length {n} runs past the end of the input", pos)
    try:
        return str(buf[p:end], "utf-8"), end
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8 in string: {exc.reason}", p + exc.start) from None


def _dec_bytes(buf: bytes, pos: int) -> tuple[Any, int]:
    kind, n, p = read_header(buf, pos)
    if kind != "bin":
        raise WrongKind(f"expected bin, found {kind}", pos)
    if p + n > len(buf):
        raise DecodeError(f"bin length {n} runs past the end of the input", pos)
    return bytes(buf[p:p + n]), p + n


_PRIM_DEC: dict[str, Dec] = {
    "null": _d_null, "boolean": _d_bool, "int": _int_decoder(INT32_MIN, INT32_MAX, "int"),
    "long": _int_decoder(INT64_MIN, INT64_MAX, "long"), "float": _d_real, "double": _d_real,
    "string": _dec_string, "bytes": _dec_bytes,
}
