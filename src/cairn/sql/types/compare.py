"""Comparison of values of one type: ORDER BY keys, equality, and hash keys for GROUP BY.

PostgreSQL's btree order per type: NaN above every number (float and numeric), -0 = 0, text
by code point ("C" collation), char(n) without its trailing blanks, interval by its length with
30-day months and 24-hour days, jsonb by PostgreSQL's jsonb ordering, arrays element by element
with NULL elements last. ``sort_key(t)`` returns a key function per type (built once), so a
sort calls one function per value.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cairn.sql.types import sqltype as T

Key = Callable[[Any], Any]
_NAN_KEY = (1, 0)


def _identity(v: Any) -> Any:
    return v


def _float_key(v: float) -> Any:
    return (1, 0) if v != v else (0, v)


def _numeric_key(v: Decimal) -> Any:
    return _NAN_KEY if v.is_nan() else (0, v)


def _bpchar_key(v: str) -> str:
    return v.rstrip(" ")


def _time_key(v: Any) -> Any:  # dates/timestamps: +-infinity are floats (see datetimes)
    from cairn.sql.types.datetimes import temporal_key

    return temporal_key(v)


def _interval_key(v: Any) -> int:
    return v.sort_value()


def jsonb_key(v: Any) -> Any:
    """PostgreSQL's jsonb btree order: null < string < number < boolean < array < object;
    arrays and objects compare by size first, objects then by their sorted pairs."""
    if v is None or type(v).__name__ == "JsonNull":
        return (0,)
    if isinstance(v, bool):
        return (3, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, (int, float, Decimal)):
        return (2, _numeric_key(Decimal(v)) if not isinstance(v, Decimal) else _numeric_key(v))
    if isinstance(v, list):
        return (4, len(v), [jsonb_key(x) for x in v])
    # pairs in jsonb's storage order (shorter keys first); keys then compare as strings
    items = sorted(v.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
    return (5, len(v), [(k, jsonb_key(x)) for k, x in items])


def jsonb_top_key(v: Any) -> Any:
    """Order of whole jsonb values: PostgreSQL stores a top-level scalar as a one-element
    "raw scalar" array, so it sorts among arrays (after [], before [x]) not by type alone."""
    if isinstance(v, dict):
        return jsonb_key(v)
    if isinstance(v, list):
        return (4, len(v), 1, [jsonb_key(x) for x in v])
    return (4, 1, 0, jsonb_key(None if type(v).__name__ == "JsonNull" else v))


_KEYS: dict[int, Key] = {
    T.FLOAT4.oid: _float_key,
    T.FLOAT8.oid: _float_key,
    T.NUMERIC.oid: _numeric_key,
    T.BPCHAR.oid: _bpchar_key,
    T.DATE.oid: _time_key,
    T.TIMESTAMP.oid: _time_key,
    T.TIMESTAMPTZ.oid: _time_key,
    T.INTERVAL.oid: _interval_key,
    T.JSONB.oid: jsonb_top_key,
}


def sort_key(t: T.SqlType) -> Key:
    """A key function for ``sorted()`` that orders non-NULL values of ``t`` as PostgreSQL."""
    if t.element is not None:
        ek = sort_key(t.element)

        def array_key(v: list) -> Any:
            # PostgreSQL's array_cmp: elements in storage order (NULL last), then the
            # number of elements (a prefix sorts first), then dimensionality and shape
            flat: list = []
            shape: list[int] = []

            def walk(x: list, depth: int) -> None:
                if len(shape) <= depth:
                    shape.append(len(x))
                for y in x:
                    if isinstance(y, list):
                        walk(y, depth + 1)
                    else:
                        flat.append((1,) if y is None else (0, ek(y)))

            walk(v, 0)
            return (flat, len(shape) if v else 0, shape)

        return array_key
    return _KEYS.get(t.oid, _identity)


def compare(t: T.SqlType, a: Any, b: Any) -> int:
    """-1, 0 or 1 as PostgreSQL's btree comparison of two non-NULL values."""
    k = sort_key(t)
    ka, kb = k(a), k(b)
    return (ka > kb) - (ka < kb)


def equal(t: T.SqlType, a: Any, b: Any) -> bool:
    """PostgreSQL's ``=`` for two non-NULL values of ``t`` (NaN = NaN, 1.0 = 1.00)."""
    k = sort_key(t)
    return k(a) == k(b)


def _float_hash(v: float) -> Any:
    return "NaN" if v != v else v + 0.0


def _numeric_hash(v: Decimal) -> Any:
    return "NaN" if v.is_nan() else v


def _freeze(k: Any) -> Any:
    """A sort key made hashable (lists -> tuples); Decimal hashes by value (2.0 = 2)."""
    if isinstance(k, (list, tuple)):
        return tuple(_freeze(x) for x in k)
    return k


_HASH: dict[int, Key] = {
    T.FLOAT4.oid: _float_hash,
    T.FLOAT8.oid: _float_hash,
    T.NUMERIC.oid: _numeric_hash,
    T.BPCHAR.oid: _bpchar_key,
    T.JSONB.oid: lambda v: _freeze(jsonb_top_key(v)),
    T.JSON.oid: _identity,
}


def hash_function(t: T.SqlType) -> Key:
    """A function mapping values of ``t`` to hashable keys equal exactly when PostgreSQL's
    ``=`` holds (used by hash joins, hash aggregation and DISTINCT)."""
    if t.element is not None:
        eh = hash_function(t.element)

        def array_hash(v: list) -> Any:
            return tuple(
                None if x is None else array_hash(x) if isinstance(x, list) else eh(x) for x in v
            )

        return array_hash
    if t.oid in (T.DATE.oid, T.TIMESTAMP.oid, T.TIMESTAMPTZ.oid):
        return _time_key
    if t.oid == T.INTERVAL.oid:
        return _interval_key
    return _HASH.get(t.oid, _identity)


def hash_key(t: T.SqlType, value: Any) -> Any:
    return hash_function(t)(value)
