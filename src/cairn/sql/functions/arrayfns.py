"""Array operators (|| @> <@ &&) and functions (array_length, array_append, array_remove,
array_position, array_to_string, string_to_array, unnest's element order, cardinality, ...).

Arrays are Python lists with lower bound 1; element comparisons use the element type's
equality (so numeric 1.0 matches 1.00, NULL never matches except in array_remove/array_position
where PostgreSQL uses IS NOT DISTINCT FROM).
"""

from __future__ import annotations

from typing import Any

from cairn.sql.errors import InvalidParameterValue, SqlError
from cairn.sql.functions.registry import ANYARRAY, ANYELEMENT, FUNCTIONS, OPERATORS
from cairn.sql.types import sqltype as T
from cairn.sql.types.arrays import dims, flatten, ndims
from cairn.sql.types.compare import hash_function
from cairn.sql.types.io import output_function

INT4, TEXT, BOOL = T.INT4, T.TEXT, T.BOOL
F = FUNCTIONS.add
OP = OPERATORS.add


def _elem_hash(bound):
    arr = next(b for b in bound if b.element is not None)
    return hash_function(arr.element)


def _contains_factory(bound):
    h = _elem_hash(bound)

    def contains(a: list, b: list, ctx) -> bool:
        have = {h(x) for x in flatten(a) if x is not None}
        return all(x is not None and h(x) in have for x in flatten(b))

    return contains


def _overlap_factory(bound):
    h = _elem_hash(bound)

    def overlap(a: list, b: list, ctx) -> bool:
        have = {h(x) for x in flatten(a) if x is not None}
        return any(x is not None and h(x) in have for x in flatten(b))

    return overlap


OP("@>", (ANYARRAY, ANYARRAY), BOOL, factory=_contains_factory)
OP(
    "<@",
    (ANYARRAY, ANYARRAY),
    BOOL,
    factory=lambda bound: (lambda f: lambda a, b, ctx: f(b, a, ctx))(_contains_factory(bound)),
)
OP("&&", (ANYARRAY, ANYARRAY), BOOL, factory=_overlap_factory)


def array_cat(a: list | None, b: list | None, ctx=None) -> list | None:
    if a is None:
        return b
    if b is None:
        return a
    if not a:
        return b
    if not b:
        return a
    da, db = ndims(a), ndims(b)
    if da == db:
        if da > 1 and dims(a)[1:] != dims(b)[1:]:
            raise SqlError(
                "cannot concatenate incompatible arrays",
                sqlstate="2202E",
                detail="Arrays with differing element dimensions are not "
                "compatible for concatenation.",
            )
        return a + b
    if da == db + 1:
        if dims(a)[1:] != dims(b):
            raise SqlError("cannot concatenate incompatible arrays", sqlstate="2202E")
        return [*a, b]
    if db == da + 1:
        if dims(b)[1:] != dims(a):
            raise SqlError("cannot concatenate incompatible arrays", sqlstate="2202E")
        return [a, *b]
    raise SqlError("cannot concatenate incompatible arrays", sqlstate="2202E")


def array_append(a: list | None, x: Any, ctx=None) -> list:
    if a is None:
        return [x]
    if ndims(a) > 1:
        raise SqlError("argument must be empty or one-dimensional array", sqlstate="22000")
    return [*a, x]


def array_prepend(x: Any, a: list | None, ctx=None) -> list:
    if a is None:
        return [x]
    if ndims(a) > 1:
        raise SqlError("argument must be empty or one-dimensional array", sqlstate="22000")
    return [x, *a]


OP("||", (ANYARRAY, ANYARRAY), ANYARRAY, array_cat, strict=False, compatible=True)
OP("||", (ANYARRAY, ANYELEMENT), ANYARRAY, array_append, strict=False, compatible=True)
OP("||", (ANYELEMENT, ANYARRAY), ANYARRAY, array_prepend, strict=False, compatible=True)
F("array_cat", (ANYARRAY, ANYARRAY), ANYARRAY, array_cat, strict=False, compatible=True)
F("array_append", (ANYARRAY, ANYELEMENT), ANYARRAY, array_append, strict=False, compatible=True)
F("array_prepend", (ANYELEMENT, ANYARRAY), ANYARRAY, array_prepend, strict=False, compatible=True)


def array_length(a: list, d: int, ctx=None) -> int | None:
    ds = dims(a)
    return ds[d - 1] if 1 <= d <= len(ds) else None


F("array_length", (ANYARRAY, INT4), INT4, array_length)
F("array_lower", (ANYARRAY, INT4), INT4, lambda a, d, ctx: 1 if 1 <= d <= len(dims(a)) else None)
F("array_upper", (ANYARRAY, INT4), INT4, array_length)
F("array_ndims", (ANYARRAY,), INT4, lambda a, ctx: ndims(a) or None)
F("array_dims", (ANYARRAY,), TEXT, lambda a, ctx: "".join(f"[1:{n}]" for n in dims(a)) or None)
F("cardinality", (ANYARRAY,), INT4, lambda a, ctx: len(flatten(a)))


def _eq_factory(bound):
    h = _elem_hash(bound)
    return lambda x, y: (
        (x is None and y is None) or (x is not None and y is not None and h(x) == h(y))
    )


def _remove_factory(bound):
    eq = _eq_factory(bound)

    def remove(a: list, x: Any, ctx) -> list | None:
        if a is None:
            return None
        if ndims(a) > 1:
            raise SqlError(
                "removing elements from multidimensional arrays is not supported", sqlstate="0A000"
            )
        return [y for y in a if not eq(y, x)]

    return remove


def _replace_factory(bound):
    eq = _eq_factory(bound)

    def replace(a: list, x: Any, y: Any, ctx) -> list | None:
        if a is None:
            return None

        def walk(v: list) -> list:
            return [walk(e) if isinstance(e, list) else (y if eq(e, x) else e) for e in v]

        return walk(a)

    return replace


def _position_factory(bound):
    eq = _eq_factory(bound)

    def position(a: list, x: Any, *rest) -> int | None:
        start = rest[0] if len(rest) == 2 else 1
        if a is None:
            return None
        if ndims(a) > 1:
            raise SqlError(
                "searching for elements in multidimensional arrays is not supported",
                sqlstate="0A000",
            )
        if start is None:
            raise InvalidParameterValue("initial position must not be null")
        for i in range(max(start, 1) - 1, len(a)):
            if eq(a[i], x):
                return i + 1
        return None

    return position


def _positions_factory(bound):
    eq = _eq_factory(bound)

    def positions(a: list, x: Any, ctx) -> list | None:
        if a is None:
            return None
        if ndims(a) > 1:
            raise SqlError(
                "searching for elements in multidimensional arrays is not supported",
                sqlstate="0A000",
            )
        return [i + 1 for i, y in enumerate(a) if eq(y, x)]

    return positions


F(
    "array_remove",
    (ANYARRAY, ANYELEMENT),
    ANYARRAY,
    factory=_remove_factory,
    strict=False,
    compatible=True,
)
F(
    "array_replace",
    (ANYARRAY, ANYELEMENT, ANYELEMENT),
    ANYARRAY,
    factory=_replace_factory,
    strict=False,
)
F(
    "array_position",
    (ANYARRAY, ANYELEMENT),
    INT4,
    factory=_position_factory,
    strict=False,
    compatible=True,
)
F(
    "array_position",
    (ANYARRAY, ANYELEMENT, INT4),
    INT4,
    factory=_position_factory,
    strict=False,
    compatible=True,
)
F(
    "array_positions",
    (ANYARRAY, ANYELEMENT),
    T.INT4_ARRAY,
    factory=_positions_factory,
    strict=False,
    compatible=True,
)


def _to_string_factory(bound):
    out = output_function(bound[0].element)

    def to_string(a: list, sep: str, *rest) -> str | None:
        null = rest[0] if len(rest) == 2 else None
        if a is None or sep is None:
            return None
        parts = []
        for x in flatten(a):
            if x is None:
                if null is not None:
                    parts.append(null)
            else:
                parts.append(out(x, rest[-1]))
        return sep.join(parts)

    return to_string


F("array_to_string", (ANYARRAY, TEXT), TEXT, factory=_to_string_factory, volatility="s")
F(
    "array_to_string",
    (ANYARRAY, TEXT, TEXT),
    TEXT,
    factory=_to_string_factory,
    strict=False,
    volatility="s",
)


def string_to_array(s: str | None, sep: str | None, *rest) -> list | None:
    null = rest[0] if len(rest) == 2 else None
    if s is None:
        return None
    if s == "":
        return []
    if sep is None:
        parts = list(s)
    elif sep == "":
        parts = [s]
    else:
        parts = s.split(sep)
    return [None if null is not None and p == null else p for p in parts]


F("string_to_array", (TEXT, TEXT), T.TEXT_ARRAY, string_to_array, strict=False)
F("string_to_array", (TEXT, TEXT, TEXT), T.TEXT_ARRAY, string_to_array, strict=False)


def unnest(a: list, ctx=None) -> list:
    """unnest's rows: the elements in storage order (all dimensions flattened)."""
    return flatten(a)


F("unnest", (ANYARRAY,), ANYELEMENT, unnest, retset=True)
F(
    "array_fill",
    (ANYELEMENT, T.INT4_ARRAY),
    ANYARRAY,
    lambda x, d, ctx: _fill(x, list(d)),
    strict=False,
)


def _fill(x: Any, ds: list) -> list:
    if not ds:
        return []
    if any(n is None for n in ds):
        raise InvalidParameterValue("dimension values cannot be null")
    if len(ds) == 1:
        return [x] * max(ds[0], 0)
    return [_fill(x, ds[1:]) for _ in range(max(ds[0], 0))]
