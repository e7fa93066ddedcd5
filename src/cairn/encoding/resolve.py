"""Avro schema resolution (DDIA fig. 4-6): read data written with the *writer's* schema as
values of the *reader's* schema, by the Avro 1.11 specification's rules.

- records match by (unqualified) name or a reader alias; fields match by name or a reader
  field's alias; writer fields the reader lacks are skipped; reader fields the writer lacks
  take the reader's default (no default: the schemas are incompatible);
- promotions: int to long/float/double, long to float/double, float to double, string to
  bytes and bytes to string;
- enums: a writer symbol unknown to the reader becomes the reader's enum default, or fails;
- a writer union resolves the branch actually written; a reader union takes the first branch
  the writer's type matches exactly, else the first it can be promoted to;
- fixed types need the same name and size.

Mismatches that every value would hit are found when the resolver is built
(:class:`IncompatibleSchemaError`); those that depend on the data (a union branch, an enum
symbol) are raised when such a value is read (:class:`DecodeError`).
"""

from __future__ import annotations

from typing import Any

from cairn.encoding.avro import AvroCodec, Decoder, _Compiler, min_width, read_long
from cairn.encoding.errors import DecodeError, IncompatibleSchemaError
from cairn.encoding.schema import (
    Array,
    Enum,
    Fixed,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
    type_name,
)

PROMOTIONS = {
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
    ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string"),
}


def names_match(writer: Schema, reader: Schema) -> bool:
    """Named types match by unqualified or full name, or by a reader alias."""
    w, r = writer, reader
    if not isinstance(w, (Record, Enum, Fixed)) or type(w) is not type(r):
        return False
    assert isinstance(r, (Record, Enum, Fixed))
    if w.name == r.name or w.short_name == r.short_name:
        return True
    return any(a == w.name or a.rsplit(".", 1)[-1] == w.short_name for a in r.aliases)


def matches_exactly(writer: Schema, reader: Schema) -> bool:
    if isinstance(writer, Primitive) and isinstance(reader, Primitive):
        return writer.name == reader.name
    if isinstance(writer, (Record, Enum, Fixed)):
        return names_match(writer, reader)
    if isinstance(writer, Array) and isinstance(reader, Array):
        return True
    return isinstance(writer, Map) and isinstance(reader, Map)


def promotable(writer: Schema, reader: Schema) -> bool:
    return (isinstance(writer, Primitive) and isinstance(reader, Primitive)
            and (writer.name, reader.name) in PROMOTIONS)


def reader_branch(writer: Schema, reader: Union) -> int | None:
    for i, b in enumerate(reader.branches):
        if matches_exactly(writer, b):
            return i
    for i, b in enumerate(reader.branches):
        if promotable(writer, b):
            return i
    return None


class _Resolver:
    def __init__(self) -> None:
        self.writer_compiler = _Compiler()  # plain decoders, to skip unread writer fields
        self.memo: dict[tuple[int, int], Decoder] = {}

    def build(self, w: Schema, r: Schema, path: list[str]) -> Decoder:
        key = (id(w), id(r))
        if key in self.memo:
            return self.memo[key]
        if isinstance(w, Union):
            return self._writer_union(w, r, path)
        if isinstance(r, Union):
            i = reader_branch(w, r)
            if i is None:
                raise IncompatibleSchemaError(
                    f"writer type {type_name(w)} matches no branch of the reader's union", path)
            return self.build(w, r.branches[i], path)
        if isinstance(w, Primitive) and isinstance(r, Primitive):
            return self._primitive(w.name, r.name, path)
        if isinstance(w, Record) and isinstance(r, Record):
            if not names_match(w, r):
                raise IncompatibleSchemaError(
                    f"record name {w.name} does not match reader's {r.name} (nor its aliases)",
                    path)
            return self._record(w, r, path)
        if isinstance(w, Enum) and isinstance(r, Enum):
            if not names_match(w, r):
                raise IncompatibleSchemaError(
                    f"enum name {w.name} does not match reader's {r.name}", path)
            return self._enum(w, r, path)
        if isinstance(w, Fixed) and isinstance(r, Fixed):
            if not names_match(w, r) or w.size != r.size:
                raise IncompatibleSchemaError(
                    f"fixed {w.name}({w.size}) does not match reader's {r.name}({r.size})",
                    path)
            return self.writer_compiler.decoder(w)
        if isinstance(w, Array) and isinstance(r, Array):
            item = self.build(w.items, r.items, [*path, "items"])
            return self.writer_compiler._dec_blocks(item, None, min_width(w.items) == 0)
        if isinstance(w, Map) and isinstance(r, Map):
            value = self.build(w.values, r.values, [*path, "values"])
            return self.writer_compiler._dec_blocks(
                value, self.writer_compiler.decoder(Primitive("string")), False)
        raise IncompatibleSchemaError(
            f"writer type {type_name(w)} cannot be read as {type_name(r)}", path)

    def _primitive(self, w: str, r: str, path: list[str]) -> Decoder:
        plain = self.writer_compiler.decoder(Primitive(w))
        if w == r:
            return plain
        if (w, r) not in PROMOTIONS:
            raise IncompatibleSchemaError(f"writer type {w} cannot be read as {r}", path)
        if r in ("float", "double"):
            def to_float(buf: bytes, pos: int) -> tuple[Any, int]:
                v, pos = plain(buf, pos)
                return float(v), pos
            return to_float
        if r == "long":
            return plain
        if r == "bytes":
            def to_bytes(buf: bytes, pos: int) -> tuple[Any, int]:
                v, pos = plain(buf, pos)
                return v.encode(), pos
            return to_bytes

        def to_str(buf: bytes, pos: int) -> tuple[Any, int]:
            v, end = plain(buf, pos)
            try:
                return v.decode(), end
            except UnicodeDecodeError as exc:
                raise DecodeError(f"bytes are not UTF-8 for the reader's string: {exc.reason}",
                                  pos) from None
        return to_str

    def _record(self, w: Record, r: Record, path: list[str]) -> Decoder:
        steps: list[tuple[str | None, Decoder]] = []
        defaults: list[tuple[str, Any]] = []
        order = [f.name for f in r.fields]

        def dec_record(buf: bytes, pos: int) -> tuple[Any, int]:
            got: dict[str, Any] = {}
            name: str | None = None
            try:
                for name, dec in steps:
                    v, pos = dec(buf, pos)
                    if name is not None:
                        got[name] = v
            except DecodeError as exc:
                exc.path.insert(0, name or "?")
                raise
            for name, default in defaults:
                got[name] = _copy(default)
            return {n: got[n] for n in order}, pos
        self.memo[(id(w), id(r))] = dec_record
        used: set[str] = set()
        for wf in w.fields:
            rf = r.field_named(wf.name)
            if rf is None:
                rf = next((f for f in r.fields if wf.name in f.aliases), None)
            if rf is None:
                steps.append((None, self.writer_compiler.decoder(wf.type)))  # skipped
                continue
            used.add(rf.name)
            steps.append((rf.name, self.build(wf.type, rf.type, [*path, r.name, rf.name])))
        for rf in r.fields:
            if rf.name in used:
                continue
            if not rf.has_default:
                raise IncompatibleSchemaError(
                    "reader field has no default and the writer does not write it",
                    [*path, r.name, rf.name])
            defaults.append((rf.name, rf.default))
        return dec_record

    def _enum(self, w: Enum, r: Enum, path: list[str]) -> Decoder:
        wsyms = w.symbols
        rsyms = set(r.symbols)
        default = r.default

        def dec_enum(buf: bytes, pos: int) -> tuple[Any, int]:
            i, end = read_long(buf, pos)
            if not 0 <= i < len(wsyms):
                raise DecodeError(f"enum index {i} out of range for {w.name}", pos)
            s = wsyms[i]
            if s in rsyms:
                return s, end
            if default is not None:
                return default, end
            raise DecodeError(f"symbol {s!r} unknown to the reader's enum {r.name}, "
                              "which has no default", pos)
        return dec_enum

    def _writer_union(self, w: Union, r: Schema, path: list[str]) -> Decoder:
        branches: list[Decoder] = []
        for i, b in enumerate(w.branches):
            try:
                branches.append(self.build(b, r, path))
            except IncompatibleSchemaError as exc:
                branches.append(_fails(f"writer union branch {i} ({type_name(b)}): "
                                       f"{exc.message}", exc.path))
        count = len(branches)

        def dec_union(buf: bytes, pos: int) -> tuple[Any, int]:
            i, p = read_long(buf, pos)
            if not 0 <= i < count:
                raise DecodeError(f"union index {i} out of range", pos)
            return branches[i](buf, p)
        return dec_union


def _fails(message: str, path: list[str]) -> Decoder:
    def fail(buf: bytes, pos: int) -> tuple[Any, int]:
        raise DecodeError(message, pos, list(path))
    return fail


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


class ResolvingDecoder:
    """Decode Avro bytes written with ``writer`` into values of ``reader``."""

    def __init__(self, writer: Schema, reader: Schema):
        self.writer = writer
        self.reader = reader
        self._dec = _Resolver().build(writer, reader, [])

    def decode(self, data: bytes) -> Any:
        try:
            value, pos = self._dec(data, 0)
        except RecursionError:
            raise DecodeError("nesting too deep") from None
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after the value", pos)
        return value


def read_with(writer: Schema, reader: Schema, data: bytes) -> Any:
    if writer is reader:
        return AvroCodec(writer).decode(data)
    return ResolvingDecoder(writer, reader).decode(data)
