"""Typmod coercion: fitting a value into varchar(n), char(n), numeric(p,s), timestamp(p).

PostgreSQL applies a column's typmod on input, on assignment and on explicit casts; only the
string types behave differently between the two (an explicit cast truncates silently, an
assignment raises 22001 unless the excess is blanks).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cairn.sql.errors import NumericValueOutOfRange
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types.text import check_length


def coerce_typmod(value: Any, t: T.SqlType, explicit: bool, ctx: Any = None) -> Any:
    """``value`` (of ``t``'s base type) made to fit ``t``'s typmod; NULL stays NULL."""
    if value is None or t.typmod == -1:
        return value
    if t.element is not None:
        return _map_array(value, t.element, explicit, ctx)
    oid = t.oid
    if oid == T.VARCHAR.oid:
        return check_length(value, t.typmod - 4, "character varying", explicit, False)
    if oid == T.BPCHAR.oid:
        return check_length(value, t.typmod - 4, "character", explicit, True)
    if oid == T.NUMERIC.oid:
        return numeric_typmod(value, t.typmod)
    if oid in (T.TIMESTAMP.oid, T.TIMESTAMPTZ.oid, T.TIME.oid, T.INTERVAL.oid):
        from cairn.sql.types.datetimes import round_precision

        p = t.typmod & 0xFFFF if oid == T.INTERVAL.oid else t.typmod
        return round_precision(value, t, p)
    return value


def _map_array(value: Any, element: T.SqlType, explicit: bool, ctx: Any) -> Any:
    if isinstance(value, list):
        return [_map_array(v, element, explicit, ctx) for v in value]
    return coerce_typmod(value, element, explicit, ctx)


def numeric_typmod(value: Decimal, typmod: int) -> Decimal:
    precision, scale = T.numeric_precision_scale(typmod)
    maxdigits = precision - scale
    if value.is_nan():
        return value
    if value.is_infinite():
        raise NumericValueOutOfRange(
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} cannot hold an infinite "
            "value.",
        )
    r = N.numeric_round(value, scale) if scale >= 0 else _round_negative(value, scale)
    if not r.is_zero() and r.adjusted() >= maxdigits:
        raise NumericValueOutOfRange(
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} must round to an "
            f"absolute value less than {'10^' if maxdigits else ''}{maxdigits or 1}.",
        )
    return r


def _round_negative(value: Decimal, scale: int) -> Decimal:
    """numeric(p, s) with s < 0 rounds to a multiple of 10^-s (PostgreSQL 15), scale 0."""
    r = value.scaleb(scale, context=N.DEC).quantize(
        Decimal(1), rounding="ROUND_HALF_UP", context=N.DEC
    )
    return N.normalize_numeric(r.scaleb(-scale).quantize(Decimal(1), context=N.DEC))
