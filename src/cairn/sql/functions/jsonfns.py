"""json/jsonb operators (-> ->> #> #>> @> <@ ? ?| ?& || - #-) and functions (to_jsonb,
jsonb_build_object, jsonb_set, jsonb_each, ...).

jsonb values are parsed Python values (see cairn.sql.types.jsontypes); json values are their
text, parsed on use. Where PostgreSQL returns a piece of a json value's original text (json ->),
cairn returns it re-serialised in jsonb's spacing (a documented difference).
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from cairn.sql.errors import InvalidParameterValue, InvalidTextRepresentation
from cairn.sql.functions.comparison import add_comparisons
from cairn.sql.functions.registry import ANY, ANYELEMENT, FUNCTIONS, OPERATORS
from cairn.sql.types import datetimes as DT
from cairn.sql.types import jsontypes as J
from cairn.sql.types import sqltype as T
from cairn.sql.types.compare import jsonb_key, jsonb_top_key
from cairn.sql.types.io import output_function

JSONB, JSON, TEXT, INT4, BOOL = T.JSONB, T.JSON, T.TEXT, T.INT4, T.BOOL
TEXTARR = T.TEXT_ARRAY
F = FUNCTIONS.add
OP = OPERATORS.add

add_comparisons(JSONB, JSONB, jsonb_top_key)


def _parse_json(text: str) -> Any:
    return J.jsonb_in(text)


# --- access operators ------------------------------------------------------------------------


def get_field(v: Any, key: str) -> Any:
    if isinstance(v, dict):
        return v.get(key, _MISSING)
    return _MISSING


def get_index(v: Any, i: int) -> Any:
    if isinstance(v, list):
        if i < 0:
            i += len(v)
        if 0 <= i < len(v):
            return v[i]
    return _MISSING


_MISSING = object()


def get_path(v: Any, path: list) -> Any:
    for p in path:
        if p is None:
            return _MISSING
        if isinstance(v, dict):
            v = v.get(p, _MISSING)
        elif isinstance(v, list):
            try:
                i = int(p)
            except ValueError:
                return _MISSING
            v = get_index(v, i)
        else:
            return _MISSING
        if v is _MISSING:
            return v
    return v


def as_text(v: Any) -> str | None:
    """->> semantics: a string's contents, SQL NULL for json null, else the json text."""
    if v is _MISSING or v is None or v is J.JSON_NULL:
        return None
    if isinstance(v, str):
        return v
    return J.jsonb_out(v)


def _jb(v: Any) -> Any:
    return None if v is _MISSING else J.top(v)


def _arrow(fn):
    """A jsonb result where a missing element is SQL NULL (but json null stays json null)."""

    def f(a, b, ctx):
        r = fn(a, b)
        return None if r is _MISSING else J.top(r)

    return f


OP("->", (JSONB, TEXT), JSONB, _arrow(get_field))


def top_index(v: Any, i: int) -> Any:
    """jsonb -> int: a top-level scalar is a one-element array to PostgreSQL."""
    if not isinstance(v, (list, dict)) and i in (0, -1):
        return v
    return get_index(v, i)


OP("->", (JSONB, INT4), JSONB, _arrow(top_index))
OP("->>", (JSONB, TEXT), TEXT, lambda a, k, ctx: as_text(get_field(a, k)))
OP("->>", (JSONB, INT4), TEXT, lambda a, i, ctx: as_text(top_index(a, i)))
OP("#>", (JSONB, TEXTARR), JSONB, _arrow(get_path))
OP("#>>", (JSONB, TEXTARR), TEXT, lambda a, p, ctx: as_text(get_path(a, p)))


def _json_arrow(fn, text: bool):
    def f(a: str, b, ctx):
        r = fn(_parse_json(a), b)
        if text:
            return as_text(r)
        return None if r is _MISSING else J.jsonb_out(r)

    return f


OP("->", (JSON, TEXT), JSON, _json_arrow(get_field, False))
OP("->", (JSON, INT4), JSON, _json_arrow(get_index, False))
OP("->>", (JSON, TEXT), TEXT, _json_arrow(get_field, True))
OP("->>", (JSON, INT4), TEXT, _json_arrow(get_index, True))
OP("#>", (JSON, TEXTARR), JSON, _json_arrow(get_path, False))
OP("#>>", (JSON, TEXTARR), TEXT, _json_arrow(get_path, True))


# --- containment and existence -----------------------------------------------------------------


def _eq(a: Any, b: Any) -> bool:
    return jsonb_key(a) == jsonb_key(b)


def contains(a: Any, b: Any, top: bool = True) -> bool:
    """PostgreSQL's jsonb @>: structure and values of b appear in a."""
    if isinstance(b, dict):
        if not isinstance(a, dict):
            return False
        return all(k in a and contains(a[k], v, False) for k, v in b.items())
    if isinstance(b, list):
        if not isinstance(a, list):
            return False
        for x in b:
            if isinstance(x, (dict, list)):
                if not any(contains(y, x, False) for y in a if isinstance(y, type(x))):
                    return False
            elif not any(not isinstance(y, (dict, list)) and _eq(y, x) for y in a):
                return False
        return True
    if isinstance(a, list) and top:
        return any(not isinstance(y, (dict, list)) and _eq(y, b) for y in a)
    if isinstance(a, (dict, list)):
        return False
    return _eq(a, b)


def exists(a: Any, key: str) -> bool:
    if isinstance(a, dict):
        return key in a
    if isinstance(a, list):
        return any(isinstance(x, str) and x == key for x in a)
    return isinstance(a, str) and a == key


OP("@>", (JSONB, JSONB), BOOL, lambda a, b, ctx: contains(a, b))
OP("<@", (JSONB, JSONB), BOOL, lambda a, b, ctx: contains(b, a))
OP("?", (JSONB, TEXT), BOOL, lambda a, k, ctx: exists(a, k))
OP("?|", (JSONB, TEXTARR), BOOL, lambda a, ks, ctx: any(k is not None and exists(a, k) for k in ks))
OP("?&", (JSONB, TEXTARR), BOOL, lambda a, ks, ctx: all(k is None or exists(a, k) for k in ks))


# --- modification ------------------------------------------------------------------------------


def concat(a: Any, b: Any, ctx=None) -> Any:
    a, b = J.normalize(a), J.normalize(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return J.normalize({**a, **b})
    la = a if isinstance(a, list) else [a]
    lb = b if isinstance(b, list) else [b]
    return la + lb


def delete_key(a: Any, key: str, ctx=None) -> Any:
    if isinstance(a, dict):
        return {k: v for k, v in a.items() if k != key}
    if isinstance(a, list):
        return [x for x in a if not (isinstance(x, str) and x == key)]
    raise InvalidParameterValue("cannot delete from scalar")


def delete_index(a: Any, i: int, ctx=None) -> Any:
    if isinstance(a, list):
        n = len(a)
        j = i + n if i < 0 else i
        return [x for k, x in enumerate(a) if k != j]
    if isinstance(a, dict):
        raise InvalidParameterValue("cannot delete from object using integer index")
    raise InvalidParameterValue("cannot delete from scalar")


def delete_path(a: Any, path: list, ctx=None) -> Any:
    if not isinstance(a, (dict, list)):
        raise InvalidParameterValue("cannot delete path in scalar")
    if not path:
        return a
    out = copy.deepcopy(a)
    parent = get_path(out, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list):
        try:
            i = int(last)
        except ValueError:
            raise InvalidTextRepresentation(
                f'path element at position {len(path)} is not an integer: "{last}"'
            ) from None
        if i < 0:
            i += len(parent)
        if 0 <= i < len(parent):
            del parent[i]
    return out


OP("||", (JSONB, JSONB), JSONB, concat)
OP("-", (JSONB, TEXT), JSONB, delete_key)
OP("-", (JSONB, INT4), JSONB, delete_index)
OP("-", (JSONB, TEXTARR), JSONB, lambda a, ks, ctx: _delete_keys(a, ks))
OP("#-", (JSONB, TEXTARR), JSONB, delete_path)


def _delete_keys(a: Any, keys: list) -> Any:
    for k in keys:
        if k is not None:
            a = delete_key(a, k)
    return a


def jsonb_set(
    target: Any,
    path: list,
    new: Any,
    create: bool = True,
    ctx=None,
    insert: bool = False,
    after: bool = False,
) -> Any:
    if not isinstance(target, (dict, list)):
        raise InvalidParameterValue("cannot set path in scalar")
    if not path:
        return target
    out = copy.deepcopy(target)
    new = J.normalize(new)
    cur = out
    for depth, p in enumerate(path):
        if p is None:
            raise InvalidParameterValue(f"path element at position {depth + 1} is null")
        last = depth == len(path) - 1
        if isinstance(cur, dict):
            if last:
                if insert and p in cur:
                    raise InvalidParameterValue(
                        "cannot replace existing key",
                        hint="Try using the function jsonb_set to replace key value.",
                    )
                if p in cur or create or insert:
                    cur[p] = new
                return J.normalize(out)
            if p not in cur:
                return out
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                i = int(p)
            except ValueError:
                raise InvalidTextRepresentation(
                    f'path element at position {depth + 1} is not an integer: "{p}"'
                ) from None
            n = len(cur)
            if last:
                j = i + n if i < 0 else i
                if insert:
                    pos = j + (1 if after else 0)
                    if j < 0:
                        pos = 0
                    elif j >= n:
                        pos = n
                    cur.insert(pos, new)
                elif 0 <= j < n:
                    cur[j] = new
                elif create:
                    if j < 0:
                        cur.insert(0, new)
                    else:
                        cur.append(new)
                return out
            j = i + n if i < 0 else i
            if not 0 <= j < n:
                return out
            cur = cur[j]
        else:
            return out
    return out


F("jsonb_set", (JSONB, TEXTARR, JSONB), JSONB, lambda t, p, n, ctx: jsonb_set(t, p, n))
F("jsonb_set", (JSONB, TEXTARR, JSONB, BOOL), JSONB, jsonb_set)
F(
    "jsonb_insert",
    (JSONB, TEXTARR, JSONB),
    JSONB,
    lambda t, p, n, ctx: jsonb_set(t, p, n, True, ctx, insert=True),
)
F(
    "jsonb_insert",
    (JSONB, TEXTARR, JSONB, BOOL),
    JSONB,
    lambda t, p, n, after, ctx: jsonb_set(t, p, n, True, ctx, insert=True, after=after),
)


def strip_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip_nulls(x) for x in v]
    return v


F("jsonb_strip_nulls", (JSONB,), JSONB, lambda v, ctx: strip_nulls(v))
F("json_strip_nulls", (JSON,), JSON, lambda v, ctx: J.jsonb_out(strip_nulls(_parse_json(v))))
F("jsonb_pretty", (JSONB,), TEXT, lambda v, ctx: J.jsonb_pretty(v))
F("jsonb_typeof", (JSONB,), TEXT, lambda v, ctx: J.jsonb_typeof(v))
F("json_typeof", (JSON,), TEXT, lambda v, ctx: J.jsonb_typeof(_parse_json(v)))


def array_length(v: Any, ctx=None) -> int:
    if isinstance(v, list):
        return len(v)
    if isinstance(v, dict):
        raise InvalidParameterValue("cannot get array length of a non-array")
    raise InvalidParameterValue("cannot get array length of a scalar")


F("jsonb_array_length", (JSONB,), INT4, array_length)
F("json_array_length", (JSON,), INT4, lambda v, ctx: array_length(_parse_json(v)))


def _need_object(v: Any, fn: str) -> dict:
    if isinstance(v, dict):
        return v
    kind = "array" if isinstance(v, list) else "a scalar"
    raise InvalidParameterValue(f"cannot call {fn} on {'an array' if kind == 'array' else kind}")


def _need_array(v: Any, fn: str) -> list:
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        raise InvalidParameterValue("cannot extract elements from an object")
    raise InvalidParameterValue("cannot extract elements from a scalar")


F(
    "jsonb_object_keys",
    (JSONB,),
    TEXT,
    lambda v, ctx: list(_need_object(v, "jsonb_object_keys")),
    retset=True,
)
F(
    "jsonb_each",
    (JSONB,),
    T.RECORD,
    lambda v, ctx: [(k, J.top(x)) for k, x in _need_object(v, "jsonb_each").items()],
    retset=True,
    columns=(("key", TEXT), ("value", JSONB)),
)
F(
    "jsonb_each_text",
    (JSONB,),
    T.RECORD,
    lambda v, ctx: [(k, as_text(x)) for k, x in _need_object(v, "jsonb_each_text").items()],
    retset=True,
    columns=(("key", TEXT), ("value", TEXT)),
)
F(
    "jsonb_array_elements",
    (JSONB,),
    JSONB,
    lambda v, ctx: [J.top(x) for x in _need_array(v, "jsonb_array_elements")],
    retset=True,
    columns=(("value", JSONB),),
)
F(
    "jsonb_array_elements_text",
    (JSONB,),
    TEXT,
    lambda v, ctx: [as_text(x) for x in _need_array(v, "jsonb_array_elements_text")],
    retset=True,
    columns=(("value", TEXT),),
)
F(
    "json_array_elements",
    (JSON,),
    JSON,
    lambda v, ctx: [J.jsonb_out(x) for x in _need_array(_parse_json(v), "")],
    retset=True,
    columns=(("value", JSON),),
)
F(
    "json_each",
    (JSON,),
    T.RECORD,
    lambda v, ctx: [
        (k, J.jsonb_out(x)) for k, x in _need_object(_parse_json(v), "json_each").items()
    ],
    retset=True,
    columns=(("key", TEXT), ("value", JSON)),
)
F(
    "jsonb_extract_path",
    (JSONB, TEXTARR),
    JSONB,
    lambda v, *p: _jb(get_path(v, list(p[:-1]))),
    variadic=TEXT,
)
F(
    "jsonb_extract_path_text",
    (JSONB, TEXTARR),
    TEXT,
    lambda v, *p: as_text(get_path(v, list(p[:-1]))),
    variadic=TEXT,
)


# --- building json from SQL values -----------------------------------------------------------


def _iso_ts(v: datetime) -> str:
    s = DT.timestamp_out(v).replace(" ", "T")
    return s


def to_json_value(t: T.SqlType, v: Any, ctx: Any) -> Any:
    """The jsonb value PostgreSQL's to_jsonb makes of a SQL value of type ``t``."""
    if v is None:
        return None
    if t.element is not None:
        return [
            to_json_value(t.element, x, ctx)
            if not isinstance(x, list)
            else to_json_value(t, x, ctx)
            for x in v
        ]
    oid = t.oid
    if oid == T.BOOL.oid:
        return v
    if oid in (T.INT2.oid, T.INT4.oid, T.INT8.oid, T.OID.oid):
        return v
    if oid in (T.FLOAT4.oid, T.FLOAT8.oid):
        if v != v or math.isinf(v):
            return output_function(t)(v, ctx)
        return J.normalize(v) if oid == T.FLOAT8.oid else Decimal(output_function(t)(v, ctx))
    if oid == T.NUMERIC.oid:
        return v if v.is_finite() else output_function(t)(v, ctx)
    if oid == T.JSONB.oid:
        return J.normalize(v)
    if oid == T.JSON.oid:
        return _parse_json(v)
    if oid == T.TIMESTAMP.oid:
        return output_function(t)(v, ctx) if isinstance(v, float) else _iso_ts(v)
    if oid == T.TIMESTAMPTZ.oid:
        if isinstance(v, float):
            return output_function(t)(v, ctx)
        local = v.astimezone(ctx.tzinfo if ctx is not None else v.tzinfo)
        off = int(local.utcoffset().total_seconds())
        sign = "-" if off < 0 else "+"
        h, rem = divmod(abs(off), 3600)
        m, s = divmod(rem, 60)
        tail = f"{sign}{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")
        return _iso_ts(local.replace(tzinfo=None)) + tail
    return output_function(t)(v, ctx)


def _json_text(t: T.SqlType, v: Any, ctx: Any) -> str:
    """to_json's text (json type): arrays without spaces, json values verbatim."""
    if v is None:
        return "null"
    if t.oid == T.JSON.oid and t.element is None:
        return v
    if t.element is not None:
        return (
            "["
            + ",".join(
                _json_text(t.element, x, ctx) if not isinstance(x, list) else _json_text(t, x, ctx)
                for x in v
            )
            + "]"
        )
    return J.jsonb_out(to_json_value(t, v, ctx))


def _to_jsonb_factory(bound):
    t = bound[0]
    return lambda v, ctx: J.normalize(to_json_value(t, v, ctx))


def _to_json_factory(bound):
    t = bound[0]
    return lambda v, ctx: _json_text(t, v, ctx)


F("to_jsonb", (ANYELEMENT,), JSONB, factory=_to_jsonb_factory, volatility="s")
F("to_json", (ANYELEMENT,), JSON, factory=_to_json_factory, volatility="s")


def _key_text(t: T.SqlType, v: Any, ctx: Any, argno: int = 0) -> str:
    if v is None:
        raise InvalidParameterValue(f"argument {argno}: key must not be null")
    return output_function(t)(v, ctx)


def _build_object(jsonb: bool):
    def factory(bound):
        def f(*args):
            ctx = args[-1]
            vals = args[:-1]
            if len(vals) % 2:
                raise InvalidParameterValue(
                    "argument list must have even number of elements",
                    hint=f"The arguments of {'jsonb' if jsonb else 'json'}_build_object() "
                    "must consist of alternating keys and values.",
                )
            if jsonb:
                pairs = {}
                for i in range(0, len(vals), 2):
                    pairs[_key_text(bound[i], vals[i], ctx, i + 1)] = to_json_value(
                        bound[i + 1], vals[i + 1], ctx
                    )
                return J.normalize(pairs)
            parts = []
            for i in range(0, len(vals), 2):
                parts.append(
                    J.quote_string(_key_text(bound[i], vals[i], ctx, i + 1))
                    + " : "
                    + _json_text(bound[i + 1], vals[i + 1], ctx)
                )
            return "{" + ", ".join(parts) + "}"

        return f

    return factory


def _build_array(jsonb: bool):
    def factory(bound):
        def f(*args):
            ctx = args[-1]
            vals = args[:-1]
            if jsonb:
                return J.normalize(
                    [to_json_value(t, v, ctx) for t, v in zip(bound, vals, strict=True)]
                )
            return (
                "["
                + ", ".join(_json_text(t, v, ctx) for t, v in zip(bound, vals, strict=True))
                + "]"
            )

        return f

    return factory


F(
    "jsonb_build_object",
    (ANY,),
    JSONB,
    factory=_build_object(True),
    variadic=ANY,
    strict=False,
    volatility="s",
)
F(
    "json_build_object",
    (ANY,),
    JSON,
    factory=_build_object(False),
    variadic=ANY,
    strict=False,
    volatility="s",
)
F(
    "jsonb_build_array",
    (ANY,),
    JSONB,
    factory=_build_array(True),
    variadic=ANY,
    strict=False,
    volatility="s",
)
F(
    "json_build_array",
    (ANY,),
    JSON,
    factory=_build_array(False),
    variadic=ANY,
    strict=False,
    volatility="s",
)
F(
    "jsonb_object",
    (TEXTARR,),
    JSONB,
    lambda a, ctx: J.normalize({a[i]: a[i + 1] for i in range(0, len(a) - 1, 2)}),
)
