"""The one schema model every codec shares (DDIA ch. 4, "Formats for encoding data").

A schema is a tree of :class:`Primitive`, :class:`Record`, :class:`Enum`, :class:`Array`,
:class:`Map`, :class:`Union` and :class:`Fixed` nodes, the Avro type system. Each record field
also carries a *tag* (field number), the identity Thrift and Protocol Buffers put on the wire
instead of the name; it defaults to the field's 1-based position and is written as ``"tag"`` in
``.avsc`` text. Defaults are kept as Python values (the form codecs produce on decode).

Python values of a schema: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, enum
symbols as ``str``, arrays as ``list``, maps as ``dict[str, ...]``, records as ``dict``.

Schemas are written as Avro JSON (:mod:`cairn.encoding.avsc`) or in Python::

    User = record("User", [
        field("userName", STRING),
        field("favoriteNumber", optional(LONG)),
        field("interests", Array(STRING)),
    ])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from cairn.encoding.errors import EncodeError, SchemaError

PRIMITIVE_NAMES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class _NoDefault:
    """Marker for "this field has no default" (``None`` is a valid default: JSON null)."""

    _instance: _NoDefault | None = None

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True, slots=True)
class Primitive:
    name: str

    def __post_init__(self) -> None:
        if self.name not in PRIMITIVE_NAMES:
            raise SchemaError(f"unknown primitive type {self.name!r}")


NULL = Primitive("null")
BOOLEAN = Primitive("boolean")
INT = Primitive("int")
LONG = Primitive("long")
FLOAT = Primitive("float")
DOUBLE = Primitive("double")
BYTES = Primitive("bytes")
STRING = Primitive("string")


@dataclass(eq=False, slots=True)
class Field:
    name: str
    type: Schema
    default: Any = NO_DEFAULT
    tag: int = 0  # 0 = "assign from position" (done by Record)
    aliases: tuple[str, ...] = ()
    doc: str | None = None
    # Protocol Buffers integer encoding of this field (``"sint64"``, ``"fixed32"``, ...; see
    # PROTO_INTS); None = plain int32/int64 varints. Only protobuf reads it: the other
    # formats have one integer encoding each.
    proto: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(eq=False, slots=True)
class Record:
    """A named record. ``eq=False``: records may be recursive, compare with :func:`same_schema`."""

    name: str  # full name, "namespace.Name"
    fields: list[Field] = dc_field(default_factory=list)
    aliases: tuple[str, ...] = ()
    doc: str | None = None
    kind: str = "record"  # "record" or "error" (Avro's error type is a record)
    # Tags and field names of removed fields that must never come back (protobuf's
    # ``reserved``): a field using one is a schema error, and the exports declare them.
    reserved_tags: tuple[int, ...] = ()
    reserved_names: tuple[str, ...] = ()

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    def field_named(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(eq=False, slots=True)
class Enum:
    name: str
    symbols: tuple[str, ...]
    default: str | None = None
    aliases: tuple[str, ...] = ()
    doc: str | None = None

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(eq=False, slots=True)
class Fixed:
    name: str
    size: int
    aliases: tuple[str, ...] = ()

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(eq=False, slots=True)
class Array:
    items: Schema


@dataclass(eq=False, slots=True)
class Map:
    values: Schema


@dataclass(eq=False, slots=True)
class Union:
    branches: tuple[Schema, ...]


Schema = Primitive | Record | Enum | Fixed | Array | Map | Union
Named = Record | Enum | Fixed

# The protobuf integer types beyond int32/int64, by the Avro type that holds their values and
# the range of values they take. sint* are zig-zag varints (small negatives stay short);
# (s)fixed* are 4 or 8 little-endian bytes (shorter than a varint for large values); uint* are
# unsigned varints. The unsigned 64-bit types hold what fits an Avro long (0..2**63-1).
PROTO_INTS: dict[str, tuple[str, int, int]] = {
    "sint32": ("int", INT32_MIN, INT32_MAX),
    "sfixed32": ("int", INT32_MIN, INT32_MAX),
    "sint64": ("long", INT64_MIN, INT64_MAX),
    "sfixed64": ("long", INT64_MIN, INT64_MAX),
    "uint32": ("long", 0, (1 << 32) - 1),
    "fixed32": ("long", 0, (1 << 32) - 1),
    "uint64": ("long", 0, INT64_MAX),
    "fixed64": ("long", 0, INT64_MAX),
}


def proto_int_target(t: Schema) -> Schema:
    """The type a field's ``proto`` integer encoding applies to: the field's type, the ``T``
    of ``["null", T]``, or the items/values of an array/map of those."""
    inner = is_optional(t)
    if inner is not None:
        t = inner
    if isinstance(t, Array):
        return t.items
    if isinstance(t, Map):
        return t.values
    return t


# -- builders --------------------------------------------------------------------------------

def field(name: str, type_: Schema, default: Any = NO_DEFAULT, *, tag: int = 0,
          aliases: tuple[str, ...] = (), doc: str | None = None,
          proto: str | None = None) -> Field:
    return Field(name, type_, default, tag, aliases, doc, proto)


def record(name: str, fields: list[Field], *, aliases: tuple[str, ...] = (),
           doc: str | None = None, reserved_tags: tuple[int, ...] = (),
           reserved_names: tuple[str, ...] = ()) -> Record:
    """Build and validate a record (tags assigned from positions where not given)."""
    rec = Record(name, list(fields), aliases, doc, "record", tuple(reserved_tags),
                 tuple(reserved_names))
    finish_record(rec, [rec.name])
    return rec


def optional(t: Schema) -> Union:
    """``["null", t]``: the Avro idiom for an optional value (default null)."""
    return Union((NULL, t))


def finish_record(rec: Record, path: list[str]) -> None:
    """Check names, assign tags and validate defaults of ``rec`` (not of nested records)."""
    check_fullname(rec.name, path)
    for t in rec.reserved_tags:
        if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= 32767:
            raise SchemaError(f"reserved tag must be an integer in 1..32767, got {t!r}", path)
    for n in rec.reserved_names:
        if not isinstance(n, str) or not NAME_RE.match(n):
            raise SchemaError(f"invalid reserved field name {n!r}", path)
    seen: set[str] = set()
    tags: set[int] = set()
    for i, f in enumerate(rec.fields):
        fpath = [*path, f.name]
        if not isinstance(f.name, str) or not NAME_RE.match(f.name):
            raise SchemaError(f"invalid field name {f.name!r}", fpath)
        if f.name in seen:
            raise SchemaError(f"duplicate field name {f.name!r}", fpath)
        seen.add(f.name)
        if f.tag == 0:
            f.tag = i + 1
        if not isinstance(f.tag, int) or isinstance(f.tag, bool) or not 1 <= f.tag <= 32767:
            # 32767: Thrift field ids are i16; protobuf allows more but one limit serves both.
            raise SchemaError(f"field tag must be an integer in 1..32767, got {f.tag!r}", fpath)
        if f.tag in tags:
            raise SchemaError(f"duplicate field tag {f.tag}", fpath)
        if f.tag in rec.reserved_tags:
            raise SchemaError(f"field tag {f.tag} is reserved (it belonged to a removed field "
                              "and must never be reused)", fpath)
        if f.name in rec.reserved_names:
            raise SchemaError(f"field name {f.name!r} is reserved (a removed field)", fpath)
        tags.add(f.tag)
        if f.has_default:
            f.default = check_default(f.type, f.default, fpath)
        if f.proto is not None:
            check_proto_int(f, fpath)


def check_proto_int(f: Field, path: list[str]) -> None:
    """A ``proto`` integer encoding must name a known type that fits the field's values."""
    if f.proto not in PROTO_INTS:
        raise SchemaError(f"unknown protobuf integer type {f.proto!r}; choose one of "
                          f"{', '.join(PROTO_INTS)}", path)
    avro, lo, hi = PROTO_INTS[f.proto]
    target = proto_int_target(f.type)
    if target != Primitive(avro):
        raise SchemaError(f"protobuf {f.proto} needs an Avro {avro} field (or an optional, "
                          f"array or map of {avro}), not {type_name(target)}", path)
    d = f.default
    if type(d) is int and not lo <= d <= hi:
        raise SchemaError(f"default {d} is out of range for protobuf {f.proto}", path)


def check_fullname(name: str, path: list[str]) -> None:
    if not isinstance(name, str) or not name:
        raise SchemaError(f"invalid name {name!r}", path)
    for part in name.split("."):
        if not NAME_RE.match(part):
            raise SchemaError(f"invalid name {name!r}", path)


def check_default(t: Schema, value: Any, path: list[str]) -> Any:
    """Validate a default (already converted to its Python form) against ``t``.

    Per the Avro spec, a union's default belongs to the union's *first* branch.
    """
    target = t.branches[0] if isinstance(t, Union) else t
    try:
        validate(target, value, path)
    except EncodeError as exc:
        raise SchemaError(f"invalid default: {exc.message}", path) from None
    return value


# -- validation of values (used by encoders for precise errors and by defaults) ---------------

def validate(t: Schema, v: Any, path: list[str]) -> None:
    """Raise :class:`EncodeError` unless ``v`` is a value of schema ``t``."""
    if isinstance(t, Primitive):
        n = t.name
        if n == "null":
            ok = v is None
        elif n == "boolean":
            ok = isinstance(v, bool)
        elif n in ("int", "long"):
            if isinstance(v, int) and not isinstance(v, bool):
                lo, hi = (INT32_MIN, INT32_MAX) if n == "int" else (INT64_MIN, INT64_MAX)
                if not lo <= v <= hi:
                    raise EncodeError(f"{v} out of range for {n}", path)
                return
            ok = False
        elif n in ("float", "double"):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif n == "bytes":
            ok = isinstance(v, (bytes, bytearray))
        else:
            ok = isinstance(v, str)
        if not ok:
            raise EncodeError(f"expected {n}, got {type(v).__name__} {_short(v)}", path)
    elif isinstance(t, Record):
        if not isinstance(v, dict):
            raise EncodeError(f"expected record {t.name}, got {type(v).__name__}", path)
        for f in t.fields:
            if f.name in v:
                validate(f.type, v[f.name], [*path, f.name])
            elif not f.has_default:
                raise EncodeError("missing field without default", [*path, f.name])
    elif isinstance(t, Enum):
        if v not in t.symbols:
            raise EncodeError(f"{_short(v)} is not a symbol of enum {t.name}", path)
    elif isinstance(t, Fixed):
        if not isinstance(v, (bytes, bytearray)) or len(v) != t.size:
            raise EncodeError(f"expected {t.size} bytes for fixed {t.name}", path)
    elif isinstance(t, Array):
        if not isinstance(v, (list, tuple)):
            raise EncodeError(f"expected array, got {type(v).__name__}", path)
        for i, item in enumerate(v):
            validate(t.items, item, [*path, f"[{i}]"])
    elif isinstance(t, Map):
        if not isinstance(v, dict):
            raise EncodeError(f"expected map, got {type(v).__name__}", path)
        for k, item in v.items():
            if not isinstance(k, str):
                raise EncodeError(f"map key {_short(k)} is not a string", path)
            validate(t.values, item, [*path, f"[{k!r}]"])
    elif isinstance(t, Union) and union_branch(t, v) is None:
        raise EncodeError(f"{_short(v)} matches no branch of the union", path)


def matches(t: Schema, v: Any) -> bool:
    try:
        validate(t, v, [])
    except EncodeError:
        return False
    return True


def union_branch(t: Union, v: Any) -> int | None:
    """The branch index a value is written with, by the rule fastavro follows (so that both
    write the same bytes): ``(name, value)`` tuples pick the branch by name; otherwise the first
    valid branch wins, except that among valid records the one sharing most field names wins
    and a valid ``float`` yields to a later ``double`` (a Python float is a double)."""
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        for i, b in enumerate(t.branches):
            if type_name(b) == v[0] or (isinstance(b, (Record, Enum, Fixed))
                                        and b.short_name == v[0]):
                return i if matches(b, v[1]) else None
        return None
    best = None
    most = -1
    could_be_float = False
    for i, b in enumerate(t.branches):
        if could_be_float:
            if b == DOUBLE:
                return i
            continue
        if not matches(b, v):
            continue
        if isinstance(b, Record):
            shared = len({f.name for f in b.fields}.intersection(v))
            if shared > most:
                best, most = i, shared
        elif b == FLOAT:
            best = i
            could_be_float = True
        else:
            return i
    return best


def native_branch(t: Union, v: Any) -> int | None:
    """For self-describing formats (JSON, MessagePack), which write no branch index: an
    integer goes to an integer branch if there is one, so that it stays an integer on the wire
    (as ``json``/``msgpack`` write it); otherwise the rule of :func:`union_branch`."""
    if type(v) is int:
        for i, b in enumerate(t.branches):
            if b in (INT, LONG) and matches(b, v):
                return i
    return union_branch(t, v)


def union_value(v: Any) -> Any:
    """Strip the ``(name, value)`` tuple notation."""
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        return v[1]
    return v


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


# -- structure helpers ---------------------------------------------------------------------

def type_name(t: Schema) -> str:
    """The name a union branch is known by (Avro: the full name for named types)."""
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, (Record, Enum, Fixed)):
        return t.name
    if isinstance(t, Array):
        return "array"
    if isinstance(t, Map):
        return "map"
    return "union"


def is_optional(t: Schema) -> Schema | None:
    """For ``["null", T]`` or ``[T, "null"]`` return ``T`` (the optional-field idiom)."""
    if isinstance(t, Union) and len(t.branches) == 2:
        a, b = t.branches
        if a == NULL and b != NULL and not isinstance(b, Union):
            return b
        if b == NULL and a != NULL and not isinstance(a, Union):
            return a
    return None


def float_is_zero(v: float) -> bool:
    """+0.0 only; -0.0 and NaN are not the proto3 default."""
    return v == 0.0 and math.copysign(1.0, v) > 0


def named_types(t: Schema) -> list[Named]:
    """Every named type reachable from ``t``, each once, in definition order."""
    out: list[Named] = []
    seen: set[int] = set()

    def walk(s: Schema) -> None:
        if isinstance(s, (Record, Enum, Fixed)):
            if id(s) in seen:
                return
            seen.add(id(s))
            out.append(s)
            if isinstance(s, Record):
                for f in s.fields:
                    walk(f.type)
        elif isinstance(s, Array):
            walk(s.items)
        elif isinstance(s, Map):
            walk(s.values)
        elif isinstance(s, Union):
            for b in s.branches:
                walk(b)

    walk(t)
    return out


class KeptRecord(dict):  # type: ignore[type-arg]
    """A decoded record that also carries fields its schema did not know, as raw bytes per
    wire format, so that old code re-encoding it writes them back (DDIA fig. 4-7: an old
    reader rewriting a record must not drop the field a newer writer added)."""

    __slots__ = ("unknown",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.unknown: dict[str, bytes] = {}


def unknown_of(v: Any, fmt: str) -> bytes:
    """Raw unknown fields a value carries for wire format ``fmt`` (empty if none)."""
    unknown = getattr(v, "unknown", None)
    return unknown.get(fmt, b"") if unknown else b""
