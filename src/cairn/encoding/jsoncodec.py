"""JSON, compact and schema-checked (DDIA ch. 4, "JSON, XML, and binary variants").

The canonical JSON form of our types: records are objects with every field, in schema order
(null included); maps are objects; arrays are arrays; enums are their symbol; unions are the
bare value (JSON is self-describing, so the reader tries the branches in order); ``bytes`` and
``fixed`` are base64 strings and the non-finite floats are the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (the same choices as protobuf's JSON mapping, because JSON
has neither binary strings nor NaN). No whitespace: the book's example is 81 bytes.

Decoding checks every value against the schema; integers must be written as integers and be in
range (JSON numbers are not, which is one of the chapter's complaints about JSON). Object
members that the schema does not know are kept and written back on re-encode.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any

from cairn.encoding.errors import DecodeError, EncodeError
from cairn.encoding.schema import (
    INT,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    LONG,
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
)

FMT = "json"
_MISSING = object()
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
To = Callable[[Any], Any]
From = Callable[[Any], Any]


class _Path(Exception):
    """Internal: a value error with its path, converted to DecodeError at the top."""

    def __init__(self, message: str, path: list[str]):
        self.message = message
        self.path = path


class JsonCodec:
    """Encode/decode values of one schema as compact UTF-8 JSON."""

    name = FMT

    def __init__(self, schema: Schema):
        self.schema = schema
        self._to: dict[int, To] = {}
        self._from: dict[int, From] = {}
        self._to_root = self.to_json(schema)
        self._from_root = self.from_json(schema)
        self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
                                       allow_nan=False).encode

    def encode(self, value: Any) -> bytes:
        return self._dumps(self._to_root(value)).encode()

    def decode(self, data: bytes) -> Any:
        try:
            text = data.decode() if isinstance(data, (bytes, bytearray, memoryview)) else data
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8: {exc.reason}", exc.start) from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DecodeError(f"invalid JSON: {exc.msg}", len(text[:exc.pos].encode())) from None
        except RecursionError:
            raise DecodeError("JSON nested too deep") from None
        try:
            return self._from_root(obj)
        except _Path as exc:
            raise DecodeError(exc.message, None, exc.path) from None

    # -- Python value -> JSON value --
    def to_json(self, t: Schema) -> To:
        if isinstance(t, Primitive):
            return _TO_PRIM[t.name]
        if id(t) in self._to:
            return self._to[id(t)]
        if isinstance(t, Enum):
            symbols = set(t.symbols)

            def t_enum(v: Any) -> Any:
                if type(v) is not str or v not in symbols:
                    raise EncodeError(f"{v!r} is not a symbol of enum {t.name}")
                return v
            return t_enum
        if isinstance(t, Fixed):
            def t_fixed(v: Any) -> Any:
                if not isinstance(v, (bytes, bytearray)) or len(v) != t.size:
                    raise EncodeError(f"expected {t.size} bytes for fixed {t.name}")
                return base64.b64encode(v).decode()
            return t_fixed
        if isinstance(t, Array):
            item = self.to_json(t.items)

            def t_array(v: Any) -> Any:
                if not isinstance(v, (list, tuple)):
                    raise EncodeError(f"expected array, got {type(v).__name__}")
                out = []
                for i, x in enumerate(v):
                    try:
                        out.append(item(x))
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
                return out
            return t_array
        if isinstance(t, Map):
            value = self.to_json(t.values)

            def t_map(v: Any) -> Any:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected map, got {type(v).__name__}")
                out = {}
                for k, x in v.items():
                    if type(k) is not str:
                        raise EncodeError(f"map key {k!r} is not a string")
                    try:
                        out[k] = value(x)
                    except EncodeError as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
                return out
            return t_map
        if isinstance(t, Record):
            fields: list[tuple[str, To, Any]] = []

            def t_record(v: Any) -> Any:
                if not isinstance(v, dict):
                    raise EncodeError(f"expected record {t.name}, got {type(v).__name__}")
                out = {}
                name = ""
                try:
                    for name, conv, default in fields:
                        x = v.get(name, _MISSING)
                        if x is _MISSING:
                            if default is _MISSING:
                                raise EncodeError("missing field without default")
                            x = default
                        out[name] = conv(x)
                except EncodeError as exc:
                    exc.path.insert(0, name)
                    raise
                extra = getattr(v, "unknown", None)
                if extra and FMT in extra:
                    out.update(json.loads(extra[FMT]))
                return out
            self._to[id(t)] = t_record
            fields.extend((f.name, self.to_json(f.type),
                           f.default if f.has_default else _MISSING) for f in t.fields)
            return t_record
        assert isinstance(t, Union)
        branches = [self.to_json(b) for b in t.branches]

        def t_union(v: Any) -> Any:
            i = native_branch(t, v)
            if i is None:
                raise EncodeError(f"{v!r:.40} matches no branch of the union")
            return branches[i](union_value(v))
        self._to[id(t)] = t_union
        return t_union

    # -- JSON value -> Python value --
    def from_json(self, t: Schema) -> From:
        if isinstance(t, Primitive):
            return _FROM_PRIM[t.name]
        if id(t) in self._from:
            return self._from[id(t)]
        if isinstance(t, Enum):
            symbols = set(t.symbols)

            def f_enum(v: Any) -> Any:
                if type(v) is not str or v not in symbols:
                    raise _Path(f"{v!r:.40} is not a symbol of enum {t.name}", [])
                return v
            return f_enum
        if isinstance(t, Fixed):
            def f_fixed(v: Any) -> Any:
                data = _from_bytes(v)
                if len(data) != t.size:
                    raise _Path(f"fixed {t.name} needs {t.size} bytes, got {len(data)}", [])
                return data
            return f_fixed
        if isinstance(t, Array):
            item = self.from_json(t.items)

            def f_array(v: Any) -> Any:
                if type(v) is not list:
                    raise _Path(f"expected an array, got {_jtype(v)}", [])
                out = []
                for i, x in enumerate(v):
                    try:
                        out.append(item(x))
                    except _Path as exc:
                        exc.path.insert(0, f"[{i}]")
                        raise
                return out
            return f_array
        if isinstance(t, Map):
            value = self.from_json(t.values)

            def f_map(v: Any) -> Any:
                if type(v) is not dict:
                    raise _Path(f"expected an object, got {_jtype(v)}", [])
                out = {}
                for k, x in v.items():
                    try:
                        out[k] = value(x)
                    except _Path as exc:
                        exc.path.insert(0, f"[{k!r}]")
                        raise
                return out
            return f_map
        if isinstance(t, Record):
            fields: list[tuple[str, From, Any]] = []
            known: set[str] = set()

            def f_record(v: Any) -> Any:
                if type(v) is not dict:
                    raise _Path(f"expected an object for record {t.name}, got {_jtype(v)}", [])
                out = KeptRecord()
                for name, conv, default in fields:
                    if name in v:
                        try:
                            out[name] = conv(v[name])
                        except _Path as exc:
                            exc.path.insert(0, name)
                            raise
                    elif default is not _MISSING:
                        out[name] = default
                    else:
                        raise _Path(f"record {t.name} lacks field {name!r}", [])
                if len(v) > len(out) or any(k not in known for k in v):
                    extra = {k: x for k, x in v.items() if k not in known}
                    if extra:
                        out.unknown[FMT] = json.dumps(extra, separators=(",", ":")).encode()
                return out
            self._from[id(t)] = f_record
            for f in t.fields:
                fields.append((f.name, self.from_json(f.type),
                               f.default if f.has_default else _MISSING))
                known.add(f.name)
            return f_record
        assert isinstance(t, Union)
        branches = [self.from_json(b) for b in t.branches]
        # A JSON integer goes to an integer branch first, mirroring native_branch on write, so
        # that 0 in ["float", "int"] stays the int 0 and re-encodes to the same bytes.
        int_first = [c for b, c in zip(t.branches, branches, strict=True) if b in (INT, LONG)]
        int_first += [c for c in branches if c not in int_first]

        def f_union(v: Any) -> Any:
            for conv in (int_first if type(v) is int else branches):
                try:
                    return conv(v)
                except _Path:
                    continue
            raise _Path(f"{v!r:.40} matches no branch of the union", [])
        self._from[id(t)] = f_union
        return f_union


def _jtype(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null", int: "number", float: "number"}.get(type(v), type(v).__name__)


def _t_null(v: Any) -> Any:
    if v is not None:
        raise EncodeError(f"expected null, got {type(v).__name__}")
    return None


def _t_bool(v: Any) -> Any:
    if v is not True and v is not False:
        raise EncodeError(f"expected boolean, got {type(v).__name__}")
    return v


def _t_int(lo: int, hi: int, name: str) -> To:
    def t_int(v: Any) -> Any:
        if type(v) is not int and (not isinstance(v, int) or isinstance(v, bool)):
            raise EncodeError(f"expected {name}, got {type(v).__name__}")
        if not lo <= v <= hi:
            raise EncodeError(f"{v} out of range for {name}")
        return int(v)
    return t_int


def _t_real(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise EncodeError(f"expected a number, got {type(v).__name__}")
    v = float(v)
    if math.isfinite(v):
        return v
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def _t_str(v: Any) -> Any:
    if type(v) is not str:
        raise EncodeError(f"expected string, got {type(v).__name__}")
    try:
        v.encode()
    except UnicodeEncodeError:
        raise EncodeError("string is not encodable as UTF-8") from None
    return v


def _t_bytes(v: Any) -> Any:
    if not isinstance(v, (bytes, bytearray)):
        raise EncodeError(f"expected bytes, got {type(v).__name__}")
    return base64.b64encode(v).decode()


_TO_PRIM: dict[str, To] = {
    "null": _t_null, "boolean": _t_bool, "int": _t_int(INT32_MIN, INT32_MAX, "int"),
    "long": _t_int(INT64_MIN, INT64_MAX, "long"), "float": _t_real, "double": _t_real,
    "string": _t_str, "bytes": _t_bytes,
}


def _f_null(v: Any) -> Any:
    if v is not None:
        raise _Path(f"expected null, got {_jtype(v)}", [])
    return None


def _f_bool(v: Any) -> Any:
    if type(v) is not bool:
        raise _Path(f"expected boolean, got {_jtype(v)}", [])
    return v


def _f_int(lo: int, hi: int, name: str) -> From:
    def f_int(v: Any) -> Any:
        # 5.0 is not taken for an integer: it would make ["int", "float"] unions ambiguous
        if type(v) is not int:
            raise _Path(f"expected an integer for {name}, got {_jtype(v)} {v!r:.20}", [])
        if not lo <= v <= hi:
            raise _Path(f"{v} out of range for {name}", [])
        return v
    return f_int


def _f_real(v: Any) -> Any:
    if type(v) in (int, float):
        return float(v)
    if type(v) is str and v in _NONFINITE:
        return _NONFINITE[v]
    raise _Path(f"expected a number, got {_jtype(v)}", [])


def _f_str(v: Any) -> Any:
    if type(v) is not str:
        raise _Path(f"expected string, got {_jtype(v)}", [])
    return v


def _from_bytes(v: Any) -> bytes:
    if type(v) is not str:
        raise _Path(f"expected a base64 string, got {_jtype(v)}", [])
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise _Path("invalid base64", []) from None


_FROM_PRIM: dict[str, From] = {
    "null": _f_null, "boolean": _f_bool, "int": _f_int(INT32_MIN, INT32_MAX, "int"),
    "long": _f_int(INT64_MIN, INT64_MAX, "long"), "float": _f_real, "double": _f_real,
    "string": _f_str, "bytes": _from_bytes,
}
