"""Schema compatibility: can data written with one schema be read with another, and the
Confluent Schema Registry's modes built on that question (DDIA ch. 4, "Schema evolution").

``BACKWARD``: the new schema reads data written with the previous one (upgrade readers
last); ``FORWARD``: the previous schema reads data written with the new one (upgrade readers
first); ``FULL``: both; the ``_TRANSITIVE`` variants check against every earlier version, not
only the latest; ``NONE`` checks nothing.

For Avro the test is schema resolution (:mod:`cairn.encoding.resolve`), applied statically:
every way a value could fail to resolve is reported. For Protocol Buffers and Thrift the test
is by tag: a tag must keep a wire-compatible type, and a field the reader requires must be
written by the writer; and, over the whole history (not only the versions the mode compares),
a tag that belonged to a removed field, or that a version reserved, is never reused. Each
problem names the field and the rule, in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.encoding.errors import UnsupportedSchemaError
from cairn.encoding.resolve import names_match, promotable, reader_branch
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

MODES = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
         "FULL_TRANSITIVE", "NONE")


@dataclass(frozen=True)
class Incompatibility:
    path: str  # field path in the reader's schema
    rule: str  # which rule is broken, in words
    direction: str = ""  # "new reads old" / "old reads new", filled in by check_mode

    def __str__(self) -> str:
        where = self.path or "<root>"
        return f"{self.direction + ': ' if self.direction else ''}{where}: {self.rule}"


# -- Avro -----------------------------------------------------------------------------------

def avro_problems(writer: Schema, reader: Schema) -> list[Incompatibility]:
    """Every reason data written with ``writer`` could fail to be read with ``reader``."""
    out: list[Incompatibility] = []
    _avro(writer, reader, [], out, set())
    return out


def _avro(w: Schema, r: Schema, path: list[str], out: list[Incompatibility],
          seen: set[tuple[int, int]]) -> None:
    key = (id(w), id(r))
    if key in seen:
        return
    seen.add(key)
    where = ".".join(path)
    if isinstance(w, Union):
        for i, b in enumerate(w.branches):
            before = len(out)
            _avro(b, r, path, out, seen)
            for j in range(before, len(out)):
                p = out[j]
                out[j] = Incompatibility(p.path, f"writer's union branch {i}: {p.rule}")
        return
    if isinstance(r, Union):
        i = reader_branch(w, r)
        if i is None:
            out.append(Incompatibility(where, f"the writer's {type_name(w)} matches no branch "
                                              "of the reader's union "
                                              f"[{', '.join(type_name(b) for b in r.branches)}]"))
            return
        _avro(w, r.branches[i], path, out, seen)
        return
    if isinstance(w, Primitive) and isinstance(r, Primitive):
        if w.name != r.name and not promotable(w, r):
            out.append(Incompatibility(where, f"type changed from {w.name} to {r.name}, which "
                                              "is not an Avro promotion"))
        return
    if isinstance(w, Record) and isinstance(r, Record):
        if not names_match(w, r):
            out.append(Incompatibility(where, f"record renamed from {w.name} to {r.name} "
                                              "without an alias"))
            return
        written = {f.name: f for f in w.fields}
        for rf in r.fields:
            wf = written.get(rf.name) or next(
                (written[a] for a in rf.aliases if a in written), None)
            fpath = [*path, rf.name]
            if wf is None:
                if not rf.has_default:
                    out.append(Incompatibility(".".join(fpath), "field added without a default "
                                               "(data written without it cannot be read)"))
                continue
            _avro(wf.type, rf.type, fpath, out, seen)
        return
    if isinstance(w, Enum) and isinstance(r, Enum):
        if not names_match(w, r):
            out.append(Incompatibility(where, f"enum renamed from {w.name} to {r.name}"))
            return
        missing = [s for s in w.symbols if s not in r.symbols]
        if missing and r.default is None:
            out.append(Incompatibility(where, f"enum symbols {missing} removed and the reader's "
                                              "enum has no default"))
        return
    if isinstance(w, Fixed) and isinstance(r, Fixed):
        if not names_match(w, r) or w.size != r.size:
            out.append(Incompatibility(where, f"fixed {w.name}({w.size}) changed to "
                                              f"{r.name}({r.size})"))
        return
    if isinstance(w, Array) and isinstance(r, Array):
        _avro(w.items, r.items, [*path, "items"], out, seen)
        return
    if isinstance(w, Map) and isinstance(r, Map):
        _avro(w.values, r.values, [*path, "values"], out, seen)
        return
    out.append(Incompatibility(where, f"type changed from {type_name(w)} to {type_name(r)}"))


# -- Protocol Buffers and Thrift: the tag rules ----------------------------------------------

_PROTO_INT_CLASS = {"sint32": "zig-zag varint", "sint64": "zig-zag varint", "uint32": "varint",
                    "uint64": "varint", "fixed32": "32-bit integer",
                    "sfixed32": "32-bit integer", "fixed64": "64-bit integer",
                    "sfixed64": "64-bit integer"}


def _wire_class(fmt: str, t: Schema, proto: str | None = None) -> str:
    """What a tag's type looks like on the wire; equal classes can be read for one another
    (protobuf: int32, int64, uint32, uint64, bool and enums are all plain varints; sint32 and
    sint64 are zig-zag varints, which a plain-varint reader would misread)."""
    inner = is_optional(t)
    t = inner if inner is not None else t
    if isinstance(t, Primitive):
        if fmt == "protobuf":
            if proto is not None and t.name in ("int", "long"):
                return _PROTO_INT_CLASS[proto]
            return {"boolean": "varint", "int": "varint", "long": "varint",
                    "float": "32-bit float", "double": "64-bit float", "string": "len",
                    "bytes": "len", "null": "none"}[t.name]
        return {"boolean": "bool", "int": "i32", "long": "i64", "float": "double",
                "double": "double", "string": "string", "bytes": "string",
                "null": "none"}[t.name]
    if isinstance(t, Enum):
        return "varint" if fmt == "protobuf" else "i32"
    if isinstance(t, Fixed):
        return "len" if fmt == "protobuf" else "string"
    if isinstance(t, Array):
        return f"repeated {_wire_class(fmt, t.items, proto)}" if fmt == "protobuf" else \
            f"list<{_wire_class(fmt, t.items)}>"
    if isinstance(t, Map):
        return f"map<{_wire_class(fmt, t.values, proto if fmt == 'protobuf' else None)}>"
    return "message" if fmt == "protobuf" else "struct"


def tag_problems(writer: Schema, reader: Schema, fmt: str) -> list[Incompatibility]:
    """Can ``reader`` code read what ``writer`` code wrote, by the tag rules of ``fmt``
    (``"protobuf"`` or ``"thrift"``)?"""
    if not isinstance(writer, Record) or not isinstance(reader, Record):
        raise UnsupportedSchemaError("tag rules apply to records")
    out: list[Incompatibility] = []
    _tags(writer, reader, fmt, [], out, set())
    return out


def _tags(w: Record, r: Record, fmt: str, path: list[str], out: list[Incompatibility],
          seen: set[tuple[int, int]]) -> None:
    if (id(w), id(r)) in seen:
        return
    seen.add((id(w), id(r)))
    by_tag = {f.tag: f for f in w.fields}
    for rf in r.fields:
        fpath = ".".join([*path, rf.name])
        wf = by_tag.get(rf.tag)
        if wf is None:
            required = is_optional(rf.type) is None and not rf.has_default
            if required and fmt == "thrift":
                out.append(Incompatibility(fpath, f"tag {rf.tag} is required by the reader but "
                                                  "the writer never writes it (new fields must "
                                                  "be optional or have a default)"))
            continue
        wc, rc = _wire_class(fmt, wf.type, wf.proto), _wire_class(fmt, rf.type, rf.proto)
        if wc != rc:
            out.append(Incompatibility(fpath, f"tag {rf.tag} changed type on the wire "
                                              f"({wf.name}: {wc} -> {rf.name}: {rc}); a tag "
                                              "must keep its type, a removed tag must never be "
                                              "reused"))
            continue
        if fmt == "thrift" and is_optional(rf.type) is None and is_optional(wf.type) is not None \
                and not rf.has_default:
            out.append(Incompatibility(fpath, f"tag {rf.tag} became required, but the writer "
                                              "may leave it out"))
        wi, ri = _nested_record(wf.type), _nested_record(rf.type)
        if wi is not None and ri is not None:
            _tags(wi, ri, fmt, [*path, rf.name], out, seen)
    # proto3: nothing is required; a tag the reader lost and the writer still writes is kept
    # as an unknown field, which is fine.


def _nested_record(t: Schema) -> Record | None:
    """The record a field holds directly, optionally, or as array items / map values."""
    t = is_optional(t) or t
    if isinstance(t, (Array, Map)):
        t = t.items if isinstance(t, Array) else t.values
    return t if isinstance(t, Record) else None


# -- tag history: a removed tag is never reused -----------------------------------------------

TagPath = tuple[int, ...]


@dataclass(frozen=True)
class _Layout:
    """One schema version seen by tags: every field by its path of tags from the root, and the
    reserved tags/names of every record by the record's path."""

    fields: dict[TagPath, tuple[str, str]]  # tag path -> (field path in names, wire class)
    reserved: dict[TagPath, tuple[frozenset[int], frozenset[str]]]


def _layout(schema: Record, fmt: str) -> _Layout:
    fields: dict[TagPath, tuple[str, str]] = {}
    reserved: dict[TagPath, tuple[frozenset[int], frozenset[str]]] = {}

    def walk(rec: Record, at: TagPath, names: list[str], stack: frozenset[int]) -> None:
        reserved[at] = (frozenset(rec.reserved_tags), frozenset(rec.reserved_names))
        for f in rec.fields:
            p = (*at, f.tag)
            fields[p] = (".".join([*names, f.name]), _wire_class(fmt, f.type, f.proto))
            sub = _nested_record(f.type)
            if sub is not None and id(sub) not in stack:  # recursive records: stop once
                walk(sub, p, [*names, f.name], stack | {id(sub)})

    walk(schema, (), [], frozenset({id(schema)}))
    return _Layout(fields, reserved)


def tag_history_problems(new: Schema, history: list[tuple[str, Schema]],
                         fmt: str) -> list[Incompatibility]:
    """The rule that holds whatever the mode: a tag (or name) that belonged to a removed field
    must never be given to another field, because data written while it existed is still
    around and would be read as the new field. ``history`` is every earlier version, oldest
    first, labelled (``"version 2"``), deleted ones included: they wrote data too.

    A tag is *removed* in version j if it existed earlier and version j lacks it (while its
    enclosing record is there); the new schema *reuses* it if it has a field with that tag
    under another name or with another wire type. Putting the same field back is allowed: that
    undoes the removal. Tags and names reserved by any earlier version are refused too."""
    if not isinstance(new, Record):
        raise UnsupportedSchemaError("tag rules apply to records")
    layouts = [(label, _layout(s, fmt)) for label, s in history if isinstance(s, Record)]
    now = _layout(new, fmt)
    out: list[Incompatibility] = []
    for p, (name, cls) in now.fields.items():
        parent, tag = p[:-1], p[-1]
        short = name.rsplit(".", 1)[-1]
        for label, lay in layouts:
            tags, names = lay.reserved.get(parent, (frozenset(), frozenset()))
            if tag in tags:
                out.append(Incompatibility(name, f"tag {tag} was reserved in {label} (a removed "
                                                 "field's tag must never be reused)"))
                break
            if short in names:
                out.append(Incompatibility(name, f"field name {short!r} was reserved in "
                                                 f"{label}"))
                break
        removed = _removal(p, layouts)
        if removed is not None:
            (old_name, old_cls), gone_in = removed
            if old_name != name or old_cls != cls:
                out.append(Incompatibility(
                    name, f"tag {tag} belonged to field {old_name!r} ({old_cls}), which was "
                          f"removed in {gone_in}; a removed tag must never be reused (old data "
                          f"would be read as {short!r})"))
    return out


def _removal(p: TagPath, layouts: list[tuple[str, _Layout]]
             ) -> tuple[tuple[str, str], str] | None:
    """The last field that had tag path ``p`` and the version that removed it, if any."""
    last: tuple[str, str] | None = None
    found: tuple[tuple[str, str], str] | None = None
    for label, lay in layouts:
        if p in lay.fields:
            last = lay.fields[p]
            found = None  # present again: a later removal is what counts
        elif last is not None and p[:-1] in lay.reserved and found is None:
            found = (last, label)
    return found


# -- modes ------------------------------------------------------------------------------------

def problems(writer: Schema, reader: Schema, fmt: str = "avro") -> list[Incompatibility]:
    if fmt == "avro":
        return avro_problems(writer, reader)
    return tag_problems(writer, reader, fmt)


def check_mode(new: Schema, previous: list[Schema], mode: str, fmt: str = "avro",
               history: list[tuple[str, Schema]] | None = None) -> list[Incompatibility]:
    """Problems with registering ``new`` after ``previous`` (oldest first) under ``mode``.

    For the tag rules (``fmt`` "protobuf"/"thrift") every mode but NONE also applies
    :func:`tag_history_problems` against ``history`` (default: ``previous``, labelled
    "version 1", ...), because tag reuse breaks old data whichever way versions are compared.
    """
    mode = mode.upper()
    if mode not in MODES:
        raise ValueError(f"unknown compatibility mode {mode!r}")
    if mode == "NONE":
        return []
    found: list[Incompatibility] = []
    if fmt != "avro":
        if history is None:
            history = [(f"version {i + 1}", s) for i, s in enumerate(previous)]
        found += [Incompatibility(p.path, p.rule, "history")
                  for p in tag_history_problems(new, history, fmt)]
    if not previous:
        return found
    against = previous if mode.endswith("_TRANSITIVE") else previous[-1:]
    base = mode.removesuffix("_TRANSITIVE")
    for i, old in enumerate(reversed(against)):
        label = "latest" if i == 0 else f"{i} before latest"
        if base in ("BACKWARD", "FULL"):
            found += [Incompatibility(p.path, p.rule, f"new schema reading data of {label}")
                      for p in problems(old, new, fmt)]
        if base in ("FORWARD", "FULL"):
            found += [Incompatibility(p.path, p.rule, f"{label} schema reading new data")
                      for p in problems(new, old, fmt)]
    return found


def is_compatible(new: Schema, previous: list[Schema], mode: str, fmt: str = "avro") -> bool:
    return not check_mode(new, previous, mode, fmt)
