"""Protocol Buffers (proto3 wire format), DDIA fig. 4-4, written from the protobuf encoding
specification.

A record becomes a message whose fields are identified on the wire by *field number* (our
field tag) and *wire type* only: ``tag = number << 3 | wire_type`` as a varint, then the value:
varint (0) for bool/int32/int64/enum, 64-bit (1) for double, length-delimited (2) for
string/bytes/messages/packed repeated numbers, 32-bit (5) for float. int32/int64 are plain
two's-complement varints (a negative number takes 10 bytes); a field's ``proto`` attribute picks
another integer encoding: ``sint32``/``sint64`` zig-zag varints, ``fixed32``/``fixed64``/
``sfixed32``/``sfixed64`` little-endian 4/8 bytes (wire types 5/1), ``uint32``/``uint64``.

proto3 semantics followed: implicit-presence fields equal to their zero value are not written;
``["null", T]`` fields are ``optional T`` (explicit presence); repeated numbers are packed on
write and accepted packed or not on read; a singular message seen twice is merged; map fields
are repeated key/value entry messages (written in sorted key order, like protobuf's
deterministic mode); fields with an unknown number (or an unexpected wire type) are kept as raw
bytes and written back on re-encode, which is what lets old code round-trip new data.

Schema shapes protobuf lacks are *lowered* to messages: a union other than ``["null", T]``
becomes a message with a ``oneof`` (branch *i* is field *i+1*), and an array or map nested
directly in an array or map becomes a one-field wrapper message. The same lowering produces
the ``.proto`` text (:func:`to_proto`), so what we write is what ``protoc`` would read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.encoding.errors import DecodeError, EncodeError, UnsupportedSchemaError
from cairn.encoding.schema import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    NULL,
    PROTO_INTS,
    Array,
    Enum,
    Fixed,
    KeptRecord,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    float_is_zero,
    is_optional,
    union_branch,
    union_value,
    unknown_of,
)
from cairn.encoding.wire import read_uvarint, unzigzag, uvarint_bytes, write_uvarint, zigzag

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")
_U64 = 1 << 64
_PRIM_PTYPE = {"boolean": "bool", "int": "int32", "long": "int64", "float": "float",
               "double": "double", "string": "string", "bytes": "bytes"}
_WIRE = {"bool": VARINT, "int32": VARINT, "int64": VARINT, "enum": VARINT, "float": I32,
         "double": I64, "string": LEN, "bytes": LEN, "message": LEN,
         "sint32": VARINT, "sint64": VARINT, "uint32": VARINT, "uint64": VARINT,
         "fixed32": I32, "sfixed32": I32, "fixed64": I64, "sfixed64": I64}
INTEGERS = {"int32", "int64", "sint32", "sint64", "uint32", "uint64", "fixed32", "sfixed32",
            "fixed64", "sfixed64"}
PACKABLE = {"bool", "enum", "float", "double"} | INTEGERS
_FIXED_INT = {"fixed32": struct.Struct("<I"), "sfixed32": struct.Struct("<i"),
              "fixed64": struct.Struct("<Q"), "sfixed64": struct.Struct("<q")}
FMT = "protobuf"


# -- lowering: schema -> protobuf messages -----------------------------------------------

@dataclass(eq=False)
class PField:
    name: str
    number: int
    ptype: str  # bool int32 int64 float double string bytes enum message map
    label: str  # "implicit", "optional", "repeated"
    schema: Schema  # the element schema (for repeated: the item; for map: the value)
    message: PMessage | None = None
    enum: Enum | None = None
    value: PField | None = None  # for maps: the entry's value field (number 2)
    oneof: str | None = None
    default: Any = None


@dataclass(eq=False)
class PMessage:
    name: str
    kind: str  # "record", "union" (oneof wrapper) or "wrap" (container wrapper)
    schema: Schema
    fields: list[PField] = field(default_factory=list)
    null_branch: int | None = None  # union wrappers: index of the null branch, if any


@dataclass
class ProtoFile:
    root: PMessage
    messages: list[PMessage]
    enums: list[Enum]


def lower(schema: Schema) -> ProtoFile:
    """Lower a record schema to protobuf messages (raises UnsupportedSchemaError)."""
    if not isinstance(schema, Record):
        raise UnsupportedSchemaError("a protobuf message must be a record")
    low = _Lowering()
    root = low.record(schema)
    return ProtoFile(root, low.messages, low.enums)


def proto_name(full: str) -> str:
    return full.replace(".", "_")


class _Lowering:
    def __init__(self) -> None:
        self.messages: list[PMessage] = []
        self.by_id: dict[int, PMessage] = {}
        self.enums: list[Enum] = []
        self.names: set[str] = set()

    def _unique(self, name: str) -> str:
        base, n = name, 2
        while name in self.names:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        return name

    def record(self, rec: Record) -> PMessage:
        if id(rec) in self.by_id:
            return self.by_id[id(rec)]
        msg = PMessage(self._unique(proto_name(rec.name)), "record", rec)
        self.by_id[id(rec)] = msg
        self.messages.append(msg)
        for f in rec.fields:
            if 19000 <= f.tag <= 19999:
                raise UnsupportedSchemaError(
                    f"field number {f.tag} is reserved by protobuf (19000-19999)",
                    [rec.name, f.name])
            msg.fields.append(self.field(f.name, f.tag, f.type, msg.name, [rec.name, f.name],
                                         f.proto))
        return msg

    def field(self, name: str, number: int, t: Schema, owner: str, path: list[str],
              hint: str | None = None) -> PField:
        if isinstance(t, Array):
            item = t.items
            if isinstance(item, (Array, Map, Union)):
                wrap = self.wrapper(item, f"{owner}_{name}_item", path)
                return PField(name, number, "message", "repeated", item, message=wrap)
            if item == NULL:
                raise UnsupportedSchemaError("protobuf has no array of null", path)
            return self.single(name, number, item, "repeated", owner, path, hint)
        if isinstance(t, Map):
            value = t.values
            if isinstance(value, (Array, Map, Union)):
                wrap = self.wrapper(value, f"{owner}_{name}_value", path)
                vf = PField("value", 2, "message", "implicit", value, message=wrap)
            elif value == NULL:
                raise UnsupportedSchemaError("protobuf has no map of null", path)
            else:
                vf = self.single("value", 2, value, "implicit", owner, path, hint)
            return PField(name, number, "map", "repeated", value, value=vf)
        if isinstance(t, Union):
            inner = is_optional(t)
            if inner is not None and not isinstance(inner, (Array, Map)):
                return self.single(name, number, inner, "optional", owner, path, hint)
            wrap = self.wrapper(t, f"{owner}_{name}_union", path)
            return PField(name, number, "message", "implicit", t, message=wrap)
        if t == NULL:
            raise UnsupportedSchemaError("protobuf has no null field type", path)
        return self.single(name, number, t, "implicit", owner, path, hint)

    def single(self, name: str, number: int, t: Schema, label: str, owner: str,
               path: list[str], hint: str | None = None) -> PField:
        if isinstance(t, Primitive):
            ptype = hint if hint is not None and t.name in ("int", "long") else \
                _PRIM_PTYPE[t.name]
            return PField(name, number, ptype, label, t)
        if isinstance(t, Fixed):
            return PField(name, number, "bytes", label, t)
        if isinstance(t, Enum):
            if t not in self.enums:
                self.enums.append(t)
            return PField(name, number, "enum", label, t, enum=t)
        if isinstance(t, Record):
            return PField(name, number, "message", label, t, message=self.record(t))
        return self.field(name, number, t, owner, path)

    def wrapper(self, t: Schema, name: str, path: list[str]) -> PMessage:
        if isinstance(t, Union):
            msg = PMessage(self._unique(name), "union", t)
            self.messages.append(msg)
            for i, b in enumerate(t.branches):
                if b == NULL:
                    msg.null_branch = i
                    continue
                bname = f"b{i}_" + _branch_word(b)
                if isinstance(b, (Array, Map)):
                    w = self.wrapper(b, f"{msg.name}_{bname}", path)
                    pf = PField(bname, i + 1, "message", "optional", b, message=w)
                else:
                    pf = self.single(bname, i + 1, b, "optional", msg.name, path)
                pf.oneof = "branch"
                msg.fields.append(pf)
            return msg
        msg = PMessage(self._unique(name), "wrap", t)
        self.messages.append(msg)
        msg.fields.append(self.field("value", 1, t, msg.name, path))
        return msg


def _branch_word(b: Schema) -> str:
    if isinstance(b, Primitive):
        return b.name
    if isinstance(b, Array):
        return "array"
    if isinstance(b, Map):
        return "map"
    return proto_name(b.name)  # type: ignore[union-attr]


# -- .proto text ------------------------------------------------------------------------------

def to_proto(schema: Schema, package: str = "") -> str:
    """The ``.proto`` (proto3) text of a record schema, as lowered for the wire."""
    pf = lower(schema)
    lines = ['syntax = "proto3";', ""]
    if package:
        lines += [f"package {package};", ""]
    for e in pf.enums:
        lines.append(f"enum {proto_name(e.name)} {{")
        lines += [f"  {proto_name(e.name)}_{s} = {i};" for i, s in enumerate(e.symbols)]
        lines += ["}", ""]
    for m in pf.messages:
        lines.append(f"message {m.name} {{")
        plain = [f for f in m.fields if f.oneof is None]
        lines += [f"  {_decl(f)};" for f in plain]
        rec = m.schema if m.kind == "record" else None
        if isinstance(rec, Record) and rec.reserved_tags:
            lines.append(f"  reserved {', '.join(map(str, rec.reserved_tags))};")
        if isinstance(rec, Record) and rec.reserved_names:
            lines.append(f"  reserved {', '.join(map(repr_proto, rec.reserved_names))};")
        oneof = [f for f in m.fields if f.oneof is not None]
        if oneof:
            lines.append("  oneof branch {")
            lines += [f"    {_decl(f, in_oneof=True)};" for f in oneof]
            lines.append("  }")
        lines += ["}", ""]
    return "\n".join(lines)


def repr_proto(name: str) -> str:
    return f'"{name}"'  # field names are identifiers: no escaping needed


def _type_text(f: PField) -> str:
    if f.ptype == "message":
        return f.message.name  # type: ignore[union-attr]
    if f.ptype == "enum":
        return proto_name(f.enum.name)  # type: ignore[union-attr]
    if f.ptype == "map":
        return f"map<string, {_type_text(f.value)}>"  # type: ignore[arg-type]
    return f.ptype


def _decl(f: PField, in_oneof: bool = False) -> str:
    label = ""
    if not in_oneof and f.ptype != "map" and f.label in ("optional", "repeated"):
        label = f.label + " "
    return f"{label}{_type_text(f)} {f.name} = {f.number}"


# -- encoding ---------------------------------------------------------------------------------

Enc = Callable[[bytearray, Any], None]


def _w_varint_signed(out: bytearray, v: int) -> None:
    write_uvarint(out, v + _U64 if v < 0 else v)


class ProtobufCodec:
    """Encode/decode one record schema in the proto3 wire format."""

    name = FMT

    def __init__(self, schema: Schema):
        self.schema = schema
        self.file = lower(schema)
        self._enc: dict[int, Callable[[bytearray, Any], None]] = {}
        self._dec: dict[int, Callable[[bytes, int, int], Any]] = {}
        self._root_enc = self._message_encoder(self.file.root)
        self._root_dec = self._message_decoder(self.file.root)

    def encode(self, value: Any) -> bytes:
        out = bytearray()
        self._root_enc(out, value)
        return bytes(out)

    def decode(self, data: bytes) -> Any:
        try:
            return self._root_dec(data, 0, len(data))
        except RecursionError:
            raise DecodeError("nesting too deep") from None

    # -- encoders --
    def _scalar_writer(self, f: PField) -> Enc:
        pt = f.ptype
        if pt == "bool":
            def w_bool(out: bytearray, v: Any) -> None:
                if v is not True and v is not False:
                    raise EncodeError(f"expected boolean, got {type(v).__name__}")
                out.append(1 if v else 0)
            return w_bool
        if pt in ("int32", "int64"):
            lo, hi = (INT32_MIN, INT32_MAX) if pt == "int32" else (INT64_MIN, INT64_MAX)

            def w_int(out: bytearray, v: Any) -> None:
                if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
                    raise EncodeError(f"expected {pt}, got {type(v).__name__}")
                if not lo <= v <= hi:
                    raise EncodeError(f"{v} out of range for {pt}")
                write_uvarint(out, v + _U64 if v < 0 else v)
            return w_int
        if pt in INTEGERS:
            return _int_writer(pt)
        if pt in ("float", "double"):
            st = _FLOAT if pt == "float" else _DOUBLE

            def w_real(out: bytearray, v: Any) -> None:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise EncodeError(f"expected {pt}, got {type(v).__name__}")
                try:
                    out += st.pack(v)
                except OverflowError:
                    raise EncodeError(f"{v} out of range for {pt}") from None
            return w_real
        if pt == "enum":
            index = {s: i for i, s in enumerate(f.enum.symbols)}  # type: ignore[union-attr]

            def w_enum(out: bytearray, v: Any) -> None:
                try:
                    write_uvarint(out, index[v])
                except (KeyError, TypeError):
                    raise EncodeError(f"{v!r} is not a symbol of enum "
                                      f"{f.enum.name}") from None  # type: ignore[union-attr]
            return w_enum
        if pt == "string":
            def w_str(out: bytearray, v: Any) -> None:
                if type(v) is not str:
                    raise EncodeError(f"expected string, got {type(v).__name__}")
                try:
                    data = v.encode()
                except UnicodeEncodeError:
                    raise EncodeError("string is not encodable as UTF-8") from None
                write_uvarint(out, len(data))
                out += data
            return w_str
        if pt == "bytes":
            size = f.schema.size if isinstance(f.schema, Fixed) else None

            def w_bytes(out: bytearray, v: Any) -> None:
                if not isinstance(v, (bytes, bytearray)):
                    raise EncodeError(f"expected bytes, got {type(v).__name__}")
                if size is not None and len(v) != size:
                    raise EncodeError(f"expected {size} bytes for fixed")
                write_uvarint(out, len(v))
                out += v
            return w_bytes
        # message: length-prefixed sub-encoding
        msg_enc = self._message_encoder(f.message)  # type: ignore[arg-type]

        def w_msg(out: bytearray, v: Any) -> None:
            sub = bytearray()
            msg_enc(sub, v)
            write_uvarint(out, len(sub))
            out += sub
        return w_msg

    def _field_encoder(self, f: PField) -> Enc:
        """``enc(out, value)`` writing the whole field (tag included), or nothing."""
        pt = f.ptype
        if pt == "map":
            entry_tag_key = uvarint_bytes(1 << 3 | LEN)
            vf = f.value
            assert vf is not None
            v_write = self._scalar_writer(vf)
            v_tag = uvarint_bytes(2 << 3 | _WIRE[vf.ptype])
            tag = uvarint_bytes(f.number << 3 | LEN)

            def e_map(out: bytearray, v: Any) -> None:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected map, got {type(v).__name__}")
                for k in sorted(v):  # deterministic: sorted keys
                    if type(k) is not str:
                        raise EncodeError(f"map key {k!r} is not a string")
                    entry = bytearray(entry_tag_key)
                    kb = k.encode()
                    write_uvarint(entry, len(kb))
                    entry += kb
                    entry += v_tag
                    try:
                        v_write(entry, v[k])
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
                    out += tag
                    write_uvarint(out, len(entry))
                    out += entry
            return e_map
        write = self._scalar_writer(f)
        if f.label == "repeated":
            if pt in PACKABLE:
                tag = uvarint_bytes(f.number << 3 | LEN)

                def e_packed(out: bytearray, v: Any) -> None:
                    if not isinstance(v, (list, tuple)):
                        raise EncodeError(f"expected array, got {type(v).__name__}")
                    if not v:
                        return
                    body = bytearray()
                    for i, x in enumerate(v):
                        try:
                            write(body, x)
                        except EncodeError as exc:
                            exc.path.insert(0, f"[{i}]")
                            raise
                    out += tag
                    write_uvarint(out, len(body))
                    out += body
                return e_packed
            tag = uvarint_bytes(f.number << 3 | _WIRE[pt])

            def e_repeated(out: bytearray, v: Any) -> None:
                if not isinstance(v, (list, tuple)):
                    raise EncodeError(f"expected array, got {type(v).__name__}")
                for i, x in enumerate(v):
                    out += tag
                    try:
                        write(out, x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
            return e_repeated
        tag = uvarint_bytes(f.number << 3 | _WIRE[pt])
        if f.label == "optional" or pt == "message":
            def e_present(out: bytearray, v: Any) -> None:
                if v is None:
                    return
                out += tag
                write(out, union_value(v) if f.label == "optional" else v)
            return e_present
        zero = _zero_test(f)

        def e_implicit(out: bytearray, v: Any) -> None:
            if zero(v):
                return  # proto3: a zero value is not written
            out += tag
            write(out, v)
        return e_implicit

    def _message_encoder(self, m: PMessage) -> Enc:
        if id(m) in self._enc:
            return self._enc[id(m)]
        fields: list[tuple[str, Enc, Any]] = []
        missing = object()

        if m.kind == "record":
            rec = m.schema
            assert isinstance(rec, Record)
            defaults = {f.name: (f.default if f.has_default else missing) for f in rec.fields}

            def enc_record(out: bytearray, v: Any) -> None:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected record {rec.name}, got {type(v).__name__}")
                name = ""
                try:
                    for name, enc, default in fields:
                        x = v.get(name, missing)
                        if x is missing:
                            if default is missing:
                                raise EncodeError("missing field without default")
                            x = default
                        enc(out, x)
                except EncodeError as exc:
                    exc.path.insert(0, name)
                    raise
                extra = unknown_of(v, FMT)
                if extra:
                    out += extra  # fields a newer schema added: written back untouched
            self._enc[id(m)] = enc_record
            for pf in sorted(m.fields, key=lambda p: p.number):
                fields.append((pf.name, self._field_encoder(pf), defaults[pf.name]))
            return enc_record

        if m.kind == "wrap":
            inner = self._field_encoder(m.fields[0])

            def enc_wrap(out: bytearray, v: Any) -> None:
                inner(out, v)
            self._enc[id(m)] = enc_wrap
            return enc_wrap

        union = m.schema
        assert isinstance(union, Union)
        by_branch: dict[int, Enc] = {}

        def enc_union(out: bytearray, v: Any) -> None:
            i = union_branch(union, v)
            if i is None:
                raise EncodeError(f"{v!r:.40} matches no branch of the union")
            if i == m.null_branch:
                return  # null: no branch set
            by_branch[i](out, union_value(v))
        self._enc[id(m)] = enc_union
        for pf in m.fields:
            by_branch[pf.number - 1] = self._field_encoder(pf)
        return enc_union

    # -- decoders --
    def _scalar_reader(self, f: PField) -> Callable[[bytes, int, int], tuple[Any, int]]:
        """``read(buf, pos, end) -> (value, pos)`` for one value of ``f`` (no tag)."""
        pt = f.ptype
        if pt == "bool":
            def r_bool(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                n, pos = read_uvarint(buf, pos)
                return n != 0, pos
            return r_bool
        if pt in ("int32", "int64"):
            bits = 32 if pt == "int32" else 64
            mask, sign = (1 << bits) - 1, 1 << (bits - 1)

            def r_int(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                n, pos = read_uvarint(buf, pos)
                n &= mask  # the spec: as if cast to the field's C type
                return (n - (mask + 1) if n & sign else n), pos
            return r_int
        if pt in INTEGERS:
            return _int_reader(pt)
        if pt in ("float", "double"):
            st = _FLOAT if pt == "float" else _DOUBLE
            size = st.size

            def r_real(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                if pos + size > end:
                    raise DecodeError(f"truncated: expected {size} bytes of {pt}", pos)
                return st.unpack_from(buf, pos)[0], pos + size
            return r_real
        if pt == "enum":
            symbols = f.enum.symbols  # type: ignore[union-attr]

            def r_enum(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                start = pos
                n, pos = read_uvarint(buf, pos)
                n &= 0xFFFFFFFF
                if n >= len(symbols):
                    raise DecodeError(f"enum number {n} is not a symbol of "
                                      f"{f.enum.name}", start)  # type: ignore[union-attr]
                return symbols[n], pos
            return r_enum

        def r_len(buf: bytes, pos: int, end: int) -> tuple[int, int]:
            start = pos
            n, pos = read_uvarint(buf, pos)
            if pos + n > end:
                raise DecodeError(f"length {n} runs past the end of the message", start)
            return n, pos
        if pt == "string":
            def r_str(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                n, pos = r_len(buf, pos, end)
                try:
                    return str(buf[pos:pos + n], "utf-8"), pos + n
                except UnicodeDecodeError as exc:
                    raise DecodeError(f"invalid UTF-8 in string: {exc.reason}",
                                      pos + exc.start) from None
            return r_str
        if pt == "bytes":
            size = f.schema.size if isinstance(f.schema, Fixed) else None

            def r_bytes(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                start = pos
                n, pos = r_len(buf, pos, end)
                if size is not None and n != size:
                    raise DecodeError(f"fixed of {size} bytes has length {n}", start)
                return bytes(buf[pos:pos + n]), pos + n
            return r_bytes
        msg_dec = self._message_decoder(f.message)  # type: ignore[arg-type]

        def r_msg(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
            n, pos = r_len(buf, pos, end)
            return msg_dec(buf, pos, pos + n), pos + n
        return r_msg

    def _message_decoder(self, m: PMessage) -> Callable[[bytes, int, int], Any]:
        if id(m) in self._dec:
            return self._dec[id(m)]
        # number -> (field, wire type, reader, packed reader or None)
        table: dict[int, tuple[PField, int, Any, Any]] = {}

        def parse(buf: bytes, pos: int, end: int) -> tuple[dict[int, Any], bytearray]:
            """Collect raw field values by number; keep unknown fields as raw bytes."""
            found: dict[int, Any] = {}
            unknown = bytearray()
            num = 0
            try:
                while pos < end:
                    start = pos
                    key, pos = read_uvarint(buf, pos)
                    num, wt = key >> 3, key & 7
                    if num == 0:
                        raise DecodeError("field number 0 is invalid", start)
                    entry = table.get(num)
                    if entry is not None and wt == entry[1]:
                        pf, _, reader, _packed = entry
                        if pf.ptype == "message" and pf.label != "repeated":
                            # a singular message seen twice is merged: keep the raw bodies
                            # and decode their concatenation (the protobuf merge rule)
                            n, p = read_uvarint(buf, pos)
                            if p + n > end:
                                raise DecodeError(f"length {n} runs past the end of the "
                                                  "message", pos)
                            found.setdefault(num, []).append((p, p + n))
                            pos = p + n
                            continue
                        v, pos = reader(buf, pos, end)
                        if pf.label == "repeated":
                            found.setdefault(num, []).append(v)
                        else:
                            found[num] = v  # last one wins
                    elif entry is not None and wt == LEN and entry[3] is not None:
                        n, pos = read_uvarint(buf, pos)
                        stop = pos + n
                        if stop > end:
                            raise DecodeError(f"packed length {n} runs past the end", start)
                        items = found.setdefault(num, [])
                        reader = entry[2]
                        while pos < stop:
                            v, pos = reader(buf, pos, stop)
                            items.append(v)
                        if pos != stop:
                            raise DecodeError("packed field overruns its length", start)
                    else:
                        pos = skip_field(buf, pos, end, wt, start)
                        unknown += buf[start:pos]
                        num = 0
                if pos != end:
                    raise DecodeError("value overruns the message length", pos)
            except DecodeError as exc:
                pf = table[num][0] if num in table else None
                exc.path.insert(0, pf.name if pf else f"#{num}")
                raise
            return found, unknown

        if m.kind == "record":
            rec = m.schema
            assert isinstance(rec, Record)
            order = [(pf, _absent_value(pf)) for pf in m.fields]
            merge_dec: dict[int, Any] = {}

            def dec_record(buf: bytes, pos: int, end: int) -> Any:
                found, unknown = parse(buf, pos, end)
                out = KeptRecord()
                for pf, absent in order:
                    n = pf.number
                    if n not in found:
                        if pf.ptype == "message" and pf.label == "implicit":
                            out[pf.name] = merge_dec[n](b"", 0, 0)
                        else:
                            out[pf.name] = absent() if callable(absent) else absent
                        continue
                    v = found[n]
                    if pf.ptype == "map":
                        out[pf.name] = dict(v)
                    elif pf.ptype == "message" and pf.label != "repeated":
                        out[pf.name] = _merged(merge_dec[n], buf, v, pf.name)
                    else:
                        out[pf.name] = v
                if unknown:
                    out.unknown[FMT] = bytes(unknown)
                return out
            self._dec[id(m)] = dec_record
            for pf in m.fields:
                table[pf.number] = self._table_entry(pf)
                if pf.ptype == "message":
                    merge_dec[pf.number] = self._message_decoder(pf.message)  # type: ignore
            return dec_record

        if m.kind == "wrap":
            pf = m.fields[0]
            absent = _absent_value(pf)

            def dec_wrap(buf: bytes, pos: int, end: int) -> Any:
                found, _ = parse(buf, pos, end)
                if 1 not in found:
                    return absent()
                return dict(found[1]) if pf.ptype == "map" else found[1]
            self._dec[id(m)] = dec_wrap
            table[1] = self._table_entry(pf)
            return dec_wrap

        def dec_union(buf: bytes, pos: int, end: int) -> Any:
            found, _ = parse(buf, pos, end)
            if not found:
                if m.null_branch is None:
                    raise DecodeError("union value has no branch set", pos)
                return None
            num = max(found)  # oneof: the last one written wins; one is normal
            v = found[num]
            pf = table[num][0]
            if pf.ptype == "message":
                return _merged(sub_dec[num], buf, v, pf.name)
            return v
        self._dec[id(m)] = dec_union
        sub_dec: dict[int, Any] = {}
        for pf in m.fields:
            table[pf.number] = self._table_entry(pf)
            if pf.ptype == "message":
                sub_dec[pf.number] = self._message_decoder(pf.message)  # type: ignore
        return dec_union

    def _table_entry(self, pf: PField) -> tuple[PField, int, Any, Any]:
        if pf.ptype == "map":
            vf = pf.value
            assert vf is not None
            v_read = self._scalar_reader(vf)
            v_wire = _WIRE[vf.ptype]
            v_absent = _absent_value(vf)
            v_msg = self._message_decoder(vf.message) if vf.ptype == "message" else None

            def r_entry(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
                start = pos
                n, pos = read_uvarint(buf, pos)
                stop = pos + n
                if stop > end:
                    raise DecodeError(f"map entry length {n} runs past the end", start)
                key, value = "", None
                have_value = False
                while pos < stop:
                    fstart = pos
                    k, pos = read_uvarint(buf, pos)
                    num, wt = k >> 3, k & 7
                    if num == 1 and wt == LEN:
                        ln, pos = read_uvarint(buf, pos)
                        if pos + ln > stop:
                            raise DecodeError("map key runs past the entry", fstart)
                        try:
                            key = str(buf[pos:pos + ln], "utf-8")
                        except UnicodeDecodeError as exc:
                            raise DecodeError(f"invalid UTF-8 in map key: {exc.reason}",
                                              pos + exc.start) from None
                        pos += ln
                    elif num == 2 and wt == v_wire:
                        value, pos = v_read(buf, pos, stop)
                        have_value = True
                    else:
                        pos = skip_field(buf, pos, stop, wt, fstart)
                if pos != stop:
                    raise DecodeError("map entry overruns its length", start)
                if not have_value:
                    value = v_msg(b"", 0, 0) if v_msg else v_absent
                return (key, value), stop
            return pf, LEN, r_entry, None
        reader = self._scalar_reader(pf)
        packed = reader if pf.label == "repeated" and pf.ptype in PACKABLE else None
        return pf, _WIRE[pf.ptype], reader, packed


def _merged(dec: Callable[[bytes, int, int], Any], buf: bytes, spans: list[tuple[int, int]],
            name: str) -> Any:
    """Decode a singular message field from its occurrences (usually one, decoded in place so
    error offsets are offsets in the input; several are concatenated: the protobuf merge
    rule, with error offsets moved back into the input where they fall in the first one)."""
    try:
        if len(spans) == 1:
            return dec(buf, spans[0][0], spans[0][1])
        body = b"".join(buf[a:b] for a, b in spans)
        try:
            return dec(body, 0, len(body))
        except DecodeError as exc:
            if exc.offset is not None:
                exc.offset += spans[0][0]
                exc.offset = min(exc.offset, len(buf))
            raise
    except DecodeError as exc:
        exc.path.insert(0, name)
        raise


def _zero_test(f: PField) -> Callable[[Any], bool]:
    pt = f.ptype
    if pt in ("float", "double"):
        return lambda v: isinstance(v, float | int) and not isinstance(v, bool) and \
            float_is_zero(float(v))
    if pt == "enum":
        first = f.enum.symbols[0]  # type: ignore[union-attr]
        return lambda v: v == first
    if pt == "bool":
        return lambda v: v is False
    if pt in INTEGERS:
        return lambda v: v == 0 and type(v) is int
    if pt == "string":
        return lambda v: v == ""
    return lambda v: isinstance(v, (bytes, bytearray)) and len(v) == 0


def _absent_value(f: PField) -> Any:
    """What an absent field decodes to: proto3 zero values; None for optional fields."""
    if f.ptype == "map":
        return dict
    if f.label == "repeated":
        return list
    if f.label == "optional":
        return None
    pt = f.ptype
    if pt == "enum":
        return f.enum.symbols[0]  # type: ignore[union-attr]
    if isinstance(f.schema, Fixed):
        return bytes(f.schema.size)
    if pt in INTEGERS:
        return 0
    return {"bool": False, "float": 0.0, "double": 0.0, "string": "", "bytes": b""}.get(pt)


def _int_writer(pt: str) -> Enc:
    """Writer of the integer types other than int32/int64 (zig-zag, unsigned, fixed)."""
    _, lo, hi = PROTO_INTS[pt]
    fixed = _FIXED_INT.get(pt)

    def check(v: Any) -> None:
        if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
            raise EncodeError(f"expected {pt}, got {type(v).__name__}")
        if not lo <= v <= hi:
            raise EncodeError(f"{v} out of range for {pt}")
    if fixed is not None:
        def w_fixed(out: bytearray, v: Any) -> None:
            check(v)
            out += fixed.pack(v)
        return w_fixed
    if pt.startswith("sint"):
        def w_zigzag(out: bytearray, v: Any) -> None:
            check(v)
            write_uvarint(out, zigzag(v))  # 64-bit zig-zag equals the 32-bit one in range
        return w_zigzag

    def w_unsigned(out: bytearray, v: Any) -> None:
        check(v)
        write_uvarint(out, v)
    return w_unsigned


def _int_reader(pt: str) -> Callable[[bytes, int, int], tuple[Any, int]]:
    """Reader of the integer types other than int32/int64. 32-bit types keep the low 32 bits
    (the spec's cast); an unsigned 64-bit value beyond an Avro long is an error, not a
    silently negative number."""
    _, _lo, hi = PROTO_INTS[pt]
    fixed = _FIXED_INT.get(pt)
    if fixed is not None:
        size = fixed.size

        def r_fixed(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
            if pos + size > end:
                raise DecodeError(f"truncated: expected {size} bytes of {pt}", pos)
            v = fixed.unpack_from(buf, pos)[0]
            if v > hi:
                raise DecodeError(f"{pt} value {v} does not fit an Avro long", pos)
            return v, pos + size
        return r_fixed
    mask = 0xFFFFFFFF if pt.endswith("32") else (1 << 64) - 1
    if pt.startswith("sint"):
        def r_zigzag(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
            n, pos = read_uvarint(buf, pos)
            return unzigzag(n & mask), pos
        return r_zigzag

    def r_unsigned(buf: bytes, pos: int, end: int) -> tuple[Any, int]:
        start = pos
        n, pos = read_uvarint(buf, pos)
        n &= mask
        if n > hi:
            raise DecodeError(f"{pt} value {n} does not fit an Avro long", start)
        return n, pos
    return r_unsigned


def skip_field(buf: bytes, pos: int, end: int, wt: int, start: int) -> int:
    """Skip one field's value of wire type ``wt``; return the offset after it."""
    if wt == VARINT:
        _, pos = read_uvarint(buf, pos)
        return pos
    if wt == I64:
        pos += 8
    elif wt == I32:
        pos += 4
    elif wt == LEN:
        n, pos = read_uvarint(buf, pos)
        pos += n
    else:
        raise DecodeError(f"unsupported wire type {wt} (groups are not supported)", start)
    if pos > end:
        raise DecodeError("field runs past the end of the message", start)
    return pos
