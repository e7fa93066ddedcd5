"""Avro JSON schemas (``.avsc``): parse into the shared model, export back, and fingerprint.

Implements the Avro 1.11 specification's schema rules: full names and namespace inheritance,
named-type references (so recursive records work), no duplicate names, union rules (no nested
unions, no two branches of the same unnamed type), defaults checked against the type (a union's
default against its first branch), and the *Parsing Canonical Form* with its CRC-64-AVRO
(Rabin) fingerprint that identifies a schema independently of whitespace and docs.

Errors name the JSON path of the bad node, e.g. ``User.fields[2].type``.
"""

from __future__ import annotations

import json
from typing import Any

from cairn.encoding.errors import SchemaError
from cairn.encoding.schema import NAME_RE as _NAME_RE
from cairn.encoding.schema import (
    NO_DEFAULT,
    PRIMITIVE_NAMES,
    Array,
    Enum,
    Field,
    Fixed,
    Map,
    Named,
    Primitive,
    Record,
    Schema,
    Union,
    check_default,
    check_fullname,
    finish_record,
    type_name,
)

_PRIMS = {n: Primitive(n) for n in PRIMITIVE_NAMES}


def parse_schema(source: str | bytes | dict | list) -> Schema:
    """Parse an Avro schema given as JSON text or as the already-decoded JSON value."""
    if isinstance(source, (str, bytes)):
        try:
            obj = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(f"schema is not valid JSON: {exc}") from None
    else:
        obj = source
    return _Parser().parse(obj, "", ["$"])


class _Parser:
    def __init__(self) -> None:
        self.names: dict[str, Named] = {}

    def _fullname(self, name: Any, namespace: Any, enclosing: str, path: list[str]) -> str:
        if not isinstance(name, str):
            raise SchemaError("a named type needs a string 'name'", path)
        if "." in name:
            full = name
        else:
            ns = enclosing if namespace is None else namespace
            if not isinstance(ns, str):
                raise SchemaError("'namespace' must be a string", path)
            full = f"{ns}.{name}" if ns else name
        check_fullname(full, path)
        if full.rsplit(".", 1)[-1] in PRIMITIVE_NAMES:
            raise SchemaError(f"cannot redefine primitive type {name!r}", path)
        if full in self.names:
            raise SchemaError(f"type {full!r} is defined twice", path)
        return full

    def _aliases(self, obj: dict, namespace: str, path: list[str]) -> tuple[str, ...]:
        aliases = obj.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise SchemaError("'aliases' must be a list of strings", path)
        out = []
        for a in aliases:
            full = a if "." in a or not namespace else f"{namespace}.{a}"
            check_fullname(full, path)
            out.append(full)
        return tuple(out)

    def parse(self, obj: Any, ns: str, path: list[str]) -> Schema:
        if isinstance(obj, str):
            if obj in _PRIMS:
                return _PRIMS[obj]
            for candidate in (obj, f"{ns}.{obj}" if ns else obj):
                if candidate in self.names:
                    return self.names[candidate]
            raise SchemaError(f"unknown type {obj!r}", path)
        if isinstance(obj, list):
            return self._union(obj, ns, path)
        if not isinstance(obj, dict):
            raise SchemaError(f"a schema must be a string, list or object, got {obj!r}", path)
        t = obj.get("type")
        if isinstance(t, str) and t in _PRIMS:
            return _PRIMS[t]  # {"type": "string", "logicalType": ...}: the underlying type
        if t in ("record", "error"):
            return self._record(obj, ns, path, t)
        if t == "enum":
            return self._enum(obj, ns, path)
        if t == "fixed":
            full = self._fullname(obj.get("name"), obj.get("namespace"), ns, path)
            size = obj.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise SchemaError("fixed 'size' must be a non-negative integer", path)
            fx = Fixed(full, size, self._aliases(obj, full.rpartition(".")[0], path))
            self.names[full] = fx
            return fx
        if t == "array":
            if "items" not in obj:
                raise SchemaError("array needs 'items'", path)
            return Array(self.parse(obj["items"], ns, [*path, "items"]))
        if t == "map":
            if "values" not in obj:
                raise SchemaError("map needs 'values'", path)
            return Map(self.parse(obj["values"], ns, [*path, "values"]))
        if isinstance(t, (dict, list)) or (isinstance(t, str) and t):
            return self.parse(t, ns, [*path, "type"])  # {"type": {...}} or a named reference
        raise SchemaError(f"missing or invalid 'type': {t!r}", path)

    def _union(self, branches: list, ns: str, path: list[str]) -> Union:
        parsed: list[Schema] = []
        seen: set[str] = set()
        for i, b in enumerate(branches):
            bpath = [*path, f"[{i}]"]
            s = self.parse(b, ns, bpath)
            if isinstance(s, Union):
                raise SchemaError("unions may not immediately contain other unions", bpath)
            key = type_name(s)
            if key in seen:
                raise SchemaError(f"union contains {key!r} twice", bpath)
            seen.add(key)
            parsed.append(s)
        return Union(tuple(parsed))

    def _record(self, obj: dict, ns: str, path: list[str], kind: str) -> Record:
        full = self._fullname(obj.get("name"), obj.get("namespace"), ns, path)
        rpath = [full]
        own_ns = full.rpartition(".")[0]
        rec = Record(full, [], self._aliases(obj, own_ns, rpath), _doc(obj), kind,
                     *_reserved(obj, rpath))
        self.names[full] = rec  # before the fields: a field may refer to the record itself
        fields = obj.get("fields")
        if not isinstance(fields, list):
            raise SchemaError("record needs a 'fields' list", rpath)
        for i, fobj in enumerate(fields):
            fpath = [*rpath, f"fields[{i}]"]
            if not isinstance(fobj, dict):
                raise SchemaError("a field must be an object", fpath)
            name = fobj.get("name")
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise SchemaError(f"invalid field name {name!r}", fpath)
            if "type" not in fobj:
                raise SchemaError("field needs a 'type'", [*rpath, name])
            ftype = self.parse(fobj["type"], own_ns, [*rpath, name, "type"])
            tag = fobj.get("tag", 0)
            aliases = fobj.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise SchemaError("'aliases' must be a list of strings", [*rpath, name])
            default = NO_DEFAULT
            if "default" in fobj:
                default = default_from_json(ftype, fobj["default"], [*rpath, name, "default"])
            proto = fobj.get("proto")
            if proto is not None and not isinstance(proto, str):
                raise SchemaError("'proto' must be a protobuf integer type name", [*rpath, name])
            rec.fields.append(Field(name, ftype, default, tag, tuple(aliases), _doc(fobj),
                                    proto))
        finish_record(rec, rpath)
        return rec

    def _enum(self, obj: dict, ns: str, path: list[str]) -> Enum:
        full = self._fullname(obj.get("name"), obj.get("namespace"), ns, path)
        symbols = obj.get("symbols")
        epath = [full]
        if not isinstance(symbols, list) or not symbols:
            raise SchemaError("enum needs a non-empty 'symbols' list", epath)
        for s in symbols:
            if not isinstance(s, str) or not _NAME_RE.match(s):
                raise SchemaError(f"invalid enum symbol {s!r}", epath)
        if len(set(symbols)) != len(symbols):
            raise SchemaError("duplicate enum symbol", epath)
        default = obj.get("default")
        if default is not None and default not in symbols:
            raise SchemaError(f"enum default {default!r} is not a symbol", epath)
        en = Enum(full, tuple(symbols), default, self._aliases(obj, full.rpartition(".")[0],
                                                               epath), _doc(obj))
        self.names[full] = en
        return en


def _reserved(obj: dict, path: list[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Our ``"reserved": [3, 7, "oldName"]`` record attribute (protobuf's ``reserved``):
    tags and names of removed fields. Checked further by :func:`finish_record`."""
    raw = obj.get("reserved", [])
    if not isinstance(raw, list):
        raise SchemaError("'reserved' must be a list of field tags and names", path)
    tags = tuple(x for x in raw if isinstance(x, int) and not isinstance(x, bool))
    names = tuple(x for x in raw if isinstance(x, str))
    if len(tags) + len(names) != len(raw):
        raise SchemaError("'reserved' must hold only integers (tags) and strings (names)",
                          path)
    return tags, names


def _doc(obj: dict) -> str | None:
    doc = obj.get("doc")
    return doc if isinstance(doc, str) else None


# -- defaults: JSON form <-> Python form ---------------------------------------------------

def default_from_json(t: Schema, value: Any, path: list[str]) -> Any:
    """Convert a default from its JSON form (bytes as ISO-8859-1 strings) and check it."""
    py = _from_json(t.branches[0] if isinstance(t, Union) else t, value, path)
    return check_default(t, py, path)


def _from_json(t: Schema, v: Any, path: list[str]) -> Any:
    if isinstance(t, Primitive):
        if t.name in ("bytes",) and isinstance(v, str):
            return _latin1(v, path)
        if t.name in ("float", "double") and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        return v
    if isinstance(t, Fixed) and isinstance(v, str):
        return _latin1(v, path)
    if isinstance(t, Array) and isinstance(v, list):
        return [_from_json(t.items, x, path) for x in v]
    if isinstance(t, Map) and isinstance(v, dict):
        return {k: _from_json(t.values, x, path) for k, x in v.items()}
    if isinstance(t, Record) and isinstance(v, dict):
        out = {}
        for f in t.fields:
            if f.name in v:
                out[f.name] = _from_json(f.type, v[f.name], [*path, f.name])
            elif f.has_default:
                out[f.name] = f.default
            else:
                raise SchemaError(f"default record lacks field {f.name!r}", path)
        return out
    if isinstance(t, Union):
        return _from_json(t.branches[0], v, path)
    return v


def _latin1(s: str, path: list[str]) -> bytes:
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        raise SchemaError("a bytes default must use code points 0-255 only", path) from None


def default_to_json(t: Schema, v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("latin-1")
    if isinstance(t, Union):
        return default_to_json(t.branches[0], v)
    if isinstance(t, Array):
        return [default_to_json(t.items, x) for x in v]
    if isinstance(t, Map):
        return {k: default_to_json(t.values, x) for k, x in v.items()}
    if isinstance(t, Record):
        return {f.name: default_to_json(f.type, v[f.name]) for f in t.fields if f.name in v}
    return v


# -- export ----------------------------------------------------------------------------------

def to_json(t: Schema, *, tags: bool = True) -> Any:
    """The schema as an Avro JSON value (``tags=False`` drops our ``tag`` attribute)."""
    return _to_json(t, set(), "", tags)


def to_avsc(t: Schema, *, indent: int | None = 2) -> str:
    return json.dumps(to_json(t), indent=indent)


def _to_json(t: Schema, done: set[str], ns: str, tags: bool) -> Any:
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, Array):
        return {"type": "array", "items": _to_json(t.items, done, ns, tags)}
    if isinstance(t, Map):
        return {"type": "map", "values": _to_json(t.values, done, ns, tags)}
    if isinstance(t, Union):
        return [_to_json(b, done, ns, tags) for b in t.branches]
    if t.name in done:
        return t.name
    done.add(t.name)
    out: dict[str, Any] = {}
    if isinstance(t, Record):
        out["type"] = t.kind
    elif isinstance(t, Enum):
        out["type"] = "enum"
    else:
        out["type"] = "fixed"
    out["name"] = t.name
    if getattr(t, "doc", None):
        out["doc"] = t.doc  # type: ignore[union-attr]
    if t.aliases:
        out["aliases"] = list(t.aliases)
    own_ns = t.name.rpartition(".")[0]
    if isinstance(t, Record):
        fields = []
        for i, f in enumerate(t.fields):
            fj: dict[str, Any] = {"name": f.name, "type": _to_json(f.type, done, own_ns, tags)}
            if f.doc:
                fj["doc"] = f.doc
            if f.has_default:
                fj["default"] = default_to_json(f.type, f.default)
            if f.aliases:
                fj["aliases"] = list(f.aliases)
            if tags and f.tag != i + 1:
                fj["tag"] = f.tag
            if tags and f.proto is not None:
                fj["proto"] = f.proto
            fields.append(fj)
        out["fields"] = fields
        if tags and (t.reserved_tags or t.reserved_names):
            out["reserved"] = [*t.reserved_tags, *t.reserved_names]
    elif isinstance(t, Enum):
        out["symbols"] = list(t.symbols)
        if t.default is not None:
            out["default"] = t.default
    else:
        out["size"] = t.size
    return out


def canonical_form(t: Schema) -> str:
    """Avro *Parsing Canonical Form*: full names, only the attributes that affect parsing, in
    the spec's order (name, type, fields, symbols, items, values, size), no whitespace."""
    return _canon(t, set())


def _canon(t: Schema, done: set[str]) -> str:
    if isinstance(t, Primitive):
        return json.dumps(t.name)
    if isinstance(t, Array):
        return '{"type":"array","items":' + _canon(t.items, done) + "}"
    if isinstance(t, Map):
        return '{"type":"map","values":' + _canon(t.values, done) + "}"
    if isinstance(t, Union):
        return "[" + ",".join(_canon(b, done) for b in t.branches) + "]"
    if t.name in done:
        return json.dumps(t.name)
    done.add(t.name)
    name = json.dumps(t.name, ensure_ascii=False)
    if isinstance(t, Record):
        fields = ",".join('{"name":' + json.dumps(f.name) + ',"type":' + _canon(f.type, done)
                          + "}" for f in t.fields)
        return '{"name":' + name + ',"type":"record","fields":[' + fields + "]}"
    if isinstance(t, Enum):
        symbols = ",".join(json.dumps(s) for s in t.symbols)
        return '{"name":' + name + ',"type":"enum","symbols":[' + symbols + "]}"
    return '{"name":' + name + ',"type":"fixed","size":' + str(t.size) + "}"


_EMPTY = 0xC15D213AA4D7A795


def _rabin_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _rabin_table()


def fingerprint64(t: Schema | str) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of the canonical form, as the spec defines it."""
    data = (canonical_form(t) if not isinstance(t, str) else t).encode()
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp
