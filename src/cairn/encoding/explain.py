"""Annotated bytes: each encoded record laid out part by part, like DDIA figures 4-1 to 4-5.

``explain(fmt, schema, data)`` walks the bytes with the schema and returns one :class:`Part`
per header, tag, length or value, with its offset, its bytes and what it means. It reads the
bytes itself (it does not re-encode), so it also explains data written by other programs and
shows where bad input stops making sense (a final ``error`` part, never an exception).
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from typing import Any

from cairn.encoding import messagepack as mp
from cairn.encoding import thrift as th
from cairn.encoding.avro import MAX_ZERO_WIDTH_ITEMS, min_width, read_long
from cairn.encoding.errors import DecodeError, EncodingError
from cairn.encoding.formats import codec_for
from cairn.encoding.jsoncodec import JsonCodec
from cairn.encoding.proto import LEN, PACKABLE, PField, PMessage, lower
from cairn.encoding.schema import (
    Array,
    Enum,
    Fixed,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    is_optional,
    type_name,
)
from cairn.encoding.wire import read_uvarint, unzigzag


@dataclass
class Part:
    offset: int
    hex: str
    meaning: str
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Out:
    def __init__(self, buf: bytes):
        self.buf = buf
        self.parts: list[Part] = []

    def add(self, start: int, end: int, meaning: str, path: list[str]) -> None:
        self.parts.append(Part(start, self.buf[start:end].hex(" "), meaning, ".".join(path)))


def explain(fmt: str, schema: Schema, data: bytes) -> list[Part]:
    out = _Out(data)
    try:
        if fmt == "avro":
            end = _avro(out, schema, 0, [])
        elif fmt == "protobuf":
            pf = lower(schema)
            end = _proto_message(out, pf.root, 0, len(data), [])
        elif fmt in ("thrift-binary", "thrift-compact"):
            codec = th.ThriftCodec(schema, fmt.split("-")[1])
            end = _thrift_struct(out, codec, schema, 0, [])
        elif fmt == "msgpack":
            end = _mp(out, schema, 0, [])
        elif fmt == "json":
            end = _json(out, schema, data)
        else:
            raise ValueError(f"unknown format {fmt!r}")
        if end > len(data):  # a walker that stepped past the end without noticing
            raise DecodeError("truncated", len(data))
        if end != len(data):
            out.add(end, len(data), f"error: {len(data) - end} trailing bytes", [])
            return out.parts
        # The walk above shows bytes leniently (text with replacement characters, unknown
        # branches as raw fields); the codec is strict. What it rejects ends the listing.
        codec_for(fmt, schema).decode(data)
    except RecursionError:
        out.parts.append(Part(len(data), "", "error: nesting too deep"))
    except (EncodingError, IndexError, struct.error) as exc:
        at = exc.offset if isinstance(exc, DecodeError) and exc.offset is not None else None
        where = ".".join(exc.path) if isinstance(exc, DecodeError) else ""
        out.parts.append(Part(at if at is not None else len(data), "", f"error: {exc}", where))
    return out.parts


def render(parts: list[Part]) -> str:
    """A text table: offset, bytes (wrapped at 12), meaning."""
    lines = [f"{'offset':>6}  {'bytes':<36}  meaning"]
    for p in parts:
        chunks = [p.hex[i:i + 36] for i in range(0, max(len(p.hex), 1), 36)] or [""]
        where = f"{p.path}: " if p.path else ""
        lines.append(f"{p.offset:>6}  {chunks[0]:<36}  {where}{p.meaning}")
        lines += [f"{'':>6}  {c:<36}" for c in chunks[1:]]
    return "\n".join(lines)


def _show(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return repr(bytes(v))
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)


# -- Avro -----------------------------------------------------------------------------------

def _avro(out: _Out, t: Schema, pos: int, path: list[str]) -> int:
    buf = out.buf
    if isinstance(t, Record):
        for f in t.fields:
            pos = _avro(out, f.type, pos, [*path, f.name])
        return pos
    if isinstance(t, Primitive):
        n = t.name
        if n == "null":
            return pos
        if n == "boolean":
            out.add(pos, pos + 1, f"boolean {bool(buf[pos])}", path)
            return pos + 1
        if n in ("int", "long"):
            v, end = read_long(buf, pos)
            out.add(pos, end, f"{n} {v} (zig-zag varint)", path)
            return end
        if n in ("float", "double"):
            size = 4 if n == "float" else 8
            if pos + size > len(buf):
                raise DecodeError(f"truncated {n}", pos)
            v = struct.unpack_from("<f" if size == 4 else "<d", buf, pos)[0]
            out.add(pos, pos + size, f"{n} {v} (little-endian IEEE 754)", path)
            return pos + size
        ln, p = read_long(buf, pos)
        out.add(pos, p, f"length {ln}", path)
        if ln < 0 or p + ln > len(buf):
            raise DecodeError(f"length {ln} runs past the end", pos)
        raw = buf[p:p + ln]
        out.add(p, p + ln, _show(raw.decode("utf-8", "replace") if n == "string" else raw), path)
        return p + ln
    if isinstance(t, Enum):
        i, end = read_long(buf, pos)
        sym = t.symbols[i] if 0 <= i < len(t.symbols) else "?"
        out.add(pos, end, f"enum index {i} = {sym}", path)
        return end
    if isinstance(t, Fixed):
        if pos + t.size > len(buf):
            raise DecodeError(f"truncated fixed({t.size})", pos, list(path))
        out.add(pos, pos + t.size, f"fixed({t.size}) {_show(buf[pos:pos + t.size])}", path)
        return pos + t.size
    if isinstance(t, Union):
        i, end = read_long(buf, pos)
        if not 0 <= i < len(t.branches):
            raise DecodeError(f"union index {i} out of range", pos)
        b = t.branches[i]
        out.add(pos, end, f"union branch {i} ({type_name(b)})", path)
        return _avro(out, b, end, path)
    kind = "array" if isinstance(t, Array) else "map"
    # Items that take no bytes (null, empty records) are shown as one part per block: a
    # hostile block count of 2**62 must not become 2**62 loop turns (the decoder's rule).
    zero_width = isinstance(t, Array) and min_width(t.items) == 0
    idx = 0
    while True:
        n, end = read_long(buf, pos)
        if n == 0:
            out.add(pos, end, f"end of {kind} (block count 0)", path)
            return end
        out.add(pos, end, f"{kind} block of {abs(n)} item(s)", path)
        start = pos
        pos = end
        if n < 0:
            size, pos2 = read_long(buf, pos)
            out.add(pos, pos2, f"block size {size} bytes", path)
            pos = pos2
        n = abs(n)
        if zero_width:
            if idx + n > MAX_ZERO_WIDTH_ITEMS:
                raise DecodeError(f"block count {n} of zero-width items is implausibly large",
                                  start)
        elif n > len(buf) - pos:
            raise DecodeError(f"block count {n} exceeds the bytes left ({len(buf) - pos})",
                              start)
        if zero_width:  # null, empty record, fixed(0): nothing on the wire to walk
            out.add(pos, pos, f"{n} {type_name(t.items)} item(s) of zero width, no bytes",
                    [*path, f"[{idx}..{idx + n - 1}]"])
            idx += n
            continue
        for _ in range(n):
            if isinstance(t, Map):
                pos = _avro(out, Primitive("string"), pos, [*path, f"[{idx}].key"])
                pos = _avro(out, t.values, pos, [*path, f"[{idx}]"])
            else:
                pos = _avro(out, t.items, pos, [*path, f"[{idx}]"])
            idx += 1


# -- Protocol Buffers -------------------------------------------------------------------------

_WT = {0: "varint", 1: "64-bit", 2: "length-delimited", 5: "32-bit"}


def _proto_message(out: _Out, m: PMessage, pos: int, end: int, path: list[str]) -> int:
    buf = out.buf
    by_num = {f.number: f for f in m.fields}
    while pos < end:
        key, p = read_uvarint(buf, pos)
        num, wt = key >> 3, key & 7
        f = by_num.get(num)
        name = f.name if f else f"#{num} (unknown)"
        out.add(pos, p, f"field tag {num}, wire type {wt} ({_WT.get(wt, '?')})",
                [*path, name])
        pos = _proto_value(out, f, wt, p, end, [*path, name])
    return pos


def _proto_value(out: _Out, f: PField | None, wt: int, pos: int, end: int,
                 path: list[str]) -> int:
    buf = out.buf
    pt = f.ptype if f is not None else ""
    if wt == 0:
        v, p = read_uvarint(buf, pos)
        meaning = f"varint {v}"
        if f is not None and pt == "enum" and f.enum is not None and v < len(f.enum.symbols):
            meaning += f" = {f.enum.symbols[v]}"
        elif pt in ("int32", "int64") and v >> 63:
            meaning = f"varint {v - (1 << 64)} (negative: 10 bytes)"
        elif pt in ("sint32", "sint64"):
            meaning = f"{pt} {unzigzag(v)} (zig-zag varint {v})"
        out.add(pos, p, meaning, path)
        return p
    if wt in (1, 5):
        size = 8 if wt == 1 else 4
        fmt = {"fixed32": "<I", "sfixed32": "<i", "fixed64": "<Q", "sfixed64": "<q"}.get(
            pt, "<d" if wt == 1 else "<f")
        if pos + size > end:
            raise DecodeError("truncated fixed-width value", pos)
        what = f"{pt} " if pt in ("fixed32", "sfixed32", "fixed64", "sfixed64") else ""
        out.add(pos, pos + size, f"{what}{struct.unpack_from(fmt, buf, pos)[0]} "
                                 "(little-endian)", path)
        return pos + size
    if wt != LEN:
        raise DecodeError(f"unsupported wire type {wt}", pos)
    n, p = read_uvarint(buf, pos)
    out.add(pos, p, f"length {n}", path)
    if p + n > end:
        raise DecodeError(f"length {n} runs past the end", pos)
    if f is None:
        out.add(p, p + n, f"raw bytes {_show(buf[p:p + n])} (kept as unknown field)", path)
    elif f.ptype == "message" and f.message is not None:
        _proto_message(out, f.message, p, p + n, path)
    elif f.ptype == "map":
        out.add(p, p + n, "map entry (key = 1, value = 2)", path)
    elif f.ptype in PACKABLE:
        out.add(p, p + n, "packed repeated values", path)
    elif f.ptype == "string":
        out.add(p, p + n, _show(buf[p:p + n].decode("utf-8", "replace")), path)
    else:
        out.add(p, p + n, _show(buf[p:p + n]), path)
    return p + n


# -- Thrift ---------------------------------------------------------------------------------

def _thrift_struct(out: _Out, codec: th.ThriftCodec, t: Schema, pos: int,
                   path: list[str]) -> int:
    buf = out.buf
    p = codec.p
    compact = codec.protocol == "compact"
    fields: dict[int, tuple[str, Schema]] = {}
    if isinstance(t, Record):
        for f in t.fields:
            fields[f.tag] = (f.name, is_optional(f.type) or f.type)
    elif isinstance(t, Union):
        fields = {i + 1: (f"b{i}", b) for i, b in enumerate(t.branches)}
    last = 0
    while True:
        ttype, fid, end, embedded = p.r_field_header(buf, pos, last)
        if ttype == th.STOP:
            out.add(pos, end, "end of struct (stop)", path)
            return end
        name, ft = fields.get(fid, (f"#{fid} (unknown)", None))
        tname = th.TYPE_NAMES.get(ttype, str(ttype))
        how = f"delta {fid - last}, " if compact and buf[pos] >> 4 else ""
        meaning = f"field {fid}, {how}type {tname}"
        if embedded is not None:
            meaning += f", value {embedded} (in the header)"
        out.add(pos, end, meaning, [*path, name])
        last = fid
        pos = end
        if embedded is None:
            pos = _thrift_value(out, codec, ttype, ft, pos, [*path, name])


def _thrift_value(out: _Out, codec: th.ThriftCodec, ttype: int, t: Schema | None, pos: int,
                  path: list[str]) -> int:
    buf = out.buf
    p = codec.p
    compact = codec.protocol == "compact"
    if ttype == th.STRUCT and t is not None:
        return _thrift_struct(out, codec, t, pos, path)
    if ttype == th.STRING:
        if compact:
            n, start = read_uvarint(buf, pos)
        else:
            n, start = struct.unpack_from(">i", buf, pos)[0], pos + 4
        out.add(pos, start, f"length {n}", path)
        if n < 0 or start + n > len(buf):
            raise DecodeError(f"length {n} runs past the end", pos)
        raw = buf[start:start + n]
        is_text = t == Primitive("string")
        out.add(start, start + n, _show(raw.decode("utf-8", "replace") if is_text else raw), path)
        return start + n
    if ttype == th.LIST:
        et, n, start = p.r_list_header(buf, pos)
        out.add(pos, start, f"list of {n} {th.TYPE_NAMES.get(et, et)}", path)
        item = t.items if isinstance(t, Array) else None
        for i in range(n):
            start = _thrift_value(out, codec, et, item, start, [*path, f"[{i}]"])
        return start
    if ttype == th.MAP:
        kt, vt, n, start = p.r_map_header(buf, pos)
        out.add(pos, start, f"map of {n} entries", path)
        vs = t.values if isinstance(t, Map) else None
        for i in range(n):
            start = _thrift_value(out, codec, kt, Primitive("string"), start,
                                  [*path, f"[{i}].key"])
            start = _thrift_value(out, codec, vt, vs, start, [*path, f"[{i}]"])
        return start
    if ttype in (th.BOOL, th.BYTE, th.I16, th.I32, th.I64, th.DOUBLE):
        v, end = codec._reader(ttype)(buf, pos)
        how = " (zig-zag varint)" if compact and ttype in (th.I16, th.I32, th.I64) else ""
        if isinstance(t, Enum) and isinstance(v, int) and 0 <= v < len(t.symbols):
            how += f" = {t.symbols[v]}"
        out.add(pos, end, f"{th.TYPE_NAMES[ttype]} {v}{how}", path)
        return end
    end = codec.skip(buf, pos, ttype, 0)
    out.add(pos, end, f"{th.TYPE_NAMES.get(ttype, ttype)} (skipped)", path)
    return end


# -- MessagePack ------------------------------------------------------------------------------

def _mp(out: _Out, t: Schema | None, pos: int, path: list[str]) -> int:
    buf = out.buf
    kind, n, p = mp.read_header(buf, pos)
    if kind == "map":
        out.add(pos, p, f"map, {n} entries", path)
        fields = {f.name: f.type for f in t.fields} if isinstance(t, Record) else {}
        for _ in range(n):
            kkind, kn, kp = mp.read_header(buf, p)
            if kkind != "str":
                raise DecodeError(f"map key is a {kkind}, not a string", p, list(path))
            if kp + kn > len(buf):
                raise DecodeError(f"key length {kn} runs past the end of the input", p)
            key = bytes(buf[kp:kp + kn]).decode("utf-8", "replace")
            out.add(p, kp, f"string, length {kn}", [*path, key])
            out.add(kp, kp + kn, _show(key), [*path, key])
            vt = fields.get(key) if isinstance(t, Record) else (t.values if isinstance(t, Map)
                                                               else None)
            p = _mp(out, vt, kp + kn, [*path, key])
        return p
    if kind == "array":
        out.add(pos, p, f"array, {n} items", path)
        for i in range(n):
            p = _mp(out, t.items if isinstance(t, Array) else None, p, [*path, f"[{i}]"])
        return p
    if kind in ("str", "bin"):
        out.add(pos, p, f"{'string' if kind == 'str' else 'binary'}, length {n}", path)
        if p + n > len(buf):
            raise DecodeError(f"length {n} runs past the end of the input", pos)
        raw = bytes(buf[p:p + n])
        out.add(p, p + n, _show(raw.decode("utf-8", "replace") if kind == "str" else raw), path)
        return p + n
    if kind in ("float32", "float64"):
        size = 4 if kind == "float32" else 8
        v = struct.unpack_from(">f" if size == 4 else ">d", buf, p)[0]
        out.add(pos, p + size, f"{kind} {v}", path)
        return p + size
    if kind == "int":
        out.add(pos, p, f"integer {n}", path)
        return p
    if kind == "bool":
        out.add(pos, p, f"boolean {bool(n)}", path)
        return p
    if kind == "nil":
        out.add(pos, p, "nil", path)
        return p
    end = mp.skip(buf, pos)
    out.add(pos, end, kind, path)
    return end


# -- JSON -----------------------------------------------------------------------------------

def _json(out: _Out, schema: Schema, data: bytes) -> int:
    value = JsonCodec(schema).decode(data)  # validates; errors carry offsets
    if not isinstance(schema, Record):
        out.add(0, len(data), "JSON value", [])
        return len(data)
    text = data.decode()
    pos = 0
    out.add(0, 1, "{ object", [])
    pos = 1
    for i, f in enumerate(schema.fields):
        member = json.dumps(f.name) + ":" + json.dumps(
            json.loads(json.dumps(JsonCodec(f.type).to_json(f.type)(value[f.name]))),
            separators=(",", ":"), ensure_ascii=False)
        start = text.find(json.dumps(f.name), pos)
        if start < 0:
            continue
        end_chars = start + len(member)
        b0 = len(text[:start].encode())
        b1 = len(text[:end_chars].encode())
        out.add(b0, b1, f"{len(member.encode())} bytes: name and value as text", [f.name])
        pos = end_chars
        if i < len(schema.fields) - 1 and text[pos:pos + 1] == ",":
            out.add(b1, b1 + 1, ", separator", [])
            pos += 1
    out.add(len(data) - 1, len(data), "} end of object", [])
    return len(data)
