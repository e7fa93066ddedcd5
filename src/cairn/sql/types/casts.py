"""Casts between types (pg_cast): which exist in which context, and how each converts.

PostgreSQL's three contexts: an *implicit* cast may be inserted anywhere (int -> bigint), an
*assignment* cast only when storing into a column (numeric -> integer), an *explicit* one only
when written (``::``, CAST). Any type converts to a string type through its output function in
assignment context and from one through its input function when explicit (I/O conversion).
``Cast.apply(value, ctx)`` converts one non-NULL value; the target's typmod is applied too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cairn.sql.errors import NumericValueOutOfRange
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types.io import input_function, output_function
from cairn.sql.types.typmod import coerce_typmod

CONTEXTS = {"implicit": 0, "assignment": 1, "explicit": 2}
_CODE = {"i": 0, "a": 1, "e": 2}


@dataclass(frozen=True)
class Cast:
    """A conversion from ``source`` to ``target``; ``context`` is the weakest that allows it."""

    source: T.SqlType
    target: T.SqlType
    context: str  # "implicit" | "assignment" | "explicit"
    fn: Callable[[Any, Any], Any]  # (value, ctx) -> value, value not None

    def apply(self, value: Any, ctx: Any = None) -> Any:
        if value is None:
            return None
        return self.fn(value, ctx)


def _int_narrow(name: str) -> Callable[[int, Any], int]:
    lo, hi = N.INT_RANGES[name]

    def f(v: int, ctx: Any) -> int:
        if v < lo or v > hi:
            raise NumericValueOutOfRange(f"{name} out of range")
        return v

    return f


def float_to_int(name: str) -> Callable[[float, Any], int]:
    lo, hi = N.INT_RANGES[name]

    def f(v: float, ctx: Any) -> int:
        if v != v or math.isinf(v):
            raise NumericValueOutOfRange(f"{name} out of range")
        r = round(v)  # round half to even, as rint()
        if r < lo or r > hi:
            raise NumericValueOutOfRange(f"{name} out of range")
        return r

    return f


def numeric_to_int(name: str) -> Callable[[Decimal, Any], int]:
    lo, hi = N.INT_RANGES[name]

    def f(v: Decimal, ctx: Any) -> int:
        if v.is_nan():
            raise NumericValueOutOfRange(f"cannot convert NaN to {name}")
        if v.is_infinite():
            raise NumericValueOutOfRange(f"cannot convert infinity to {name}")
        r = int(N.numeric_round(v, 0))
        if r < lo or r > hi:
            raise NumericValueOutOfRange(f"{name} out of range")
        return r

    return f


def _to_float4(v: float, ctx: Any) -> float:
    if v != v or math.isinf(v):
        return v
    try:
        r = N.to_float4(v)
    except OverflowError:
        raise NumericValueOutOfRange("value out of range: overflow") from None
    if r == 0.0 and v != 0.0:
        raise NumericValueOutOfRange("value out of range: underflow")
    return r


def _same(v: Any, ctx: Any) -> Any:
    return v


def _int_to_float4(v: int, ctx: Any) -> float:
    return N.to_float4(float(v))


def _int_to_numeric(v: int, ctx: Any) -> Decimal:
    return Decimal(v)


def _int_to_float(v: int, ctx: Any) -> float:
    return float(v)


# (source oid, target oid) -> (context code, function(value, ctx))
_TABLE: dict[tuple[int, int], tuple[str, Callable[[Any, Any], Any]]] = {}


def register(src: int, dst: int, code: str, fn: Callable[[Any, Any], Any]) -> None:
    """Add a pg_cast entry (the type modules call this at import time)."""
    _TABLE[(src, dst)] = (code, fn)


_I2, _I4, _I8 = T.INT2.oid, T.INT4.oid, T.INT8.oid
_F4, _F8, _NU = T.FLOAT4.oid, T.FLOAT8.oid, T.NUMERIC.oid
for _s, _d, _c, _f in [
    (_I2, _I4, "i", _same),
    (_I2, _I8, "i", _same),
    (_I4, _I8, "i", _same),
    (_I4, _I2, "a", _int_narrow("smallint")),
    (_I8, _I2, "a", _int_narrow("smallint")),
    (_I8, _I4, "a", _int_narrow("integer")),
    (_I2, _F4, "i", _int_to_float4),
    (_I4, _F4, "i", _int_to_float4),
    (_I8, _F4, "i", _int_to_float4),
    (_I2, _F8, "i", _int_to_float),
    (_I4, _F8, "i", _int_to_float),
    (_I8, _F8, "i", _int_to_float),
    (_I2, _NU, "i", _int_to_numeric),
    (_I4, _NU, "i", _int_to_numeric),
    (_I8, _NU, "i", _int_to_numeric),
    (_F4, _F8, "i", _same),
    (_F8, _F4, "a", _to_float4),
    (_F4, _I2, "a", float_to_int("smallint")),
    (_F4, _I4, "a", float_to_int("integer")),
    (_F4, _I8, "a", float_to_int("bigint")),
    (_F8, _I2, "a", float_to_int("smallint")),
    (_F8, _I4, "a", float_to_int("integer")),
    (_F8, _I8, "a", float_to_int("bigint")),
    (_F4, _NU, "a", lambda v, c: N.float4_to_numeric(v)),
    (_F8, _NU, "a", lambda v, c: N.float_to_numeric(v)),
    (_NU, _F4, "i", lambda v, c: N.numeric_to_float(v, "real")),
    (_NU, _F8, "i", lambda v, c: N.numeric_to_float(v)),
    (_NU, _I2, "a", numeric_to_int("smallint")),
    (_NU, _I4, "a", numeric_to_int("integer")),
    (_NU, _I8, "a", numeric_to_int("bigint")),
    (_I4, T.BOOL.oid, "e", lambda v, c: v != 0),
    (T.BOOL.oid, _I4, "e", lambda v, c: int(v)),
    (_I2, T.OID.oid, "i", _same),
    (_I4, T.OID.oid, "i", _same),
    (_I8, T.OID.oid, "i", _same),
    (T.OID.oid, _I4, "a", _same),
    (T.OID.oid, _I8, "a", _same),
    (T.OID.oid, T.REGCLASS.oid, "i", _same),
    (T.REGCLASS.oid, T.OID.oid, "i", _same),
    (_I4, T.REGCLASS.oid, "i", _same),
    (_I8, T.REGCLASS.oid, "i", _same),
    (T.OID.oid, T.REGTYPE.oid, "i", _same),
    (T.REGTYPE.oid, T.OID.oid, "i", _same),
    (_I4, T.REGTYPE.oid, "i", _same),
    (_I8, T.REGTYPE.oid, "i", _same),
]:
    register(_s, _d, _c, _f)

_STRINGS = (T.TEXT.oid, T.VARCHAR.oid, T.BPCHAR.oid, T.NAME.oid)
for _s in _STRINGS:
    for _d in _STRINGS:
        if _s != _d:
            register(
                _s,
                _d,
                "a" if _s == T.NAME.oid and _d != T.TEXT.oid else "i",
                (lambda v, c: v.rstrip(" ")) if _s == T.BPCHAR.oid else _same,
            )


# boolean -> text is a function cast in PostgreSQL (booltext): 'true'/'false', not 't'/'f'
for _d in (T.TEXT.oid, T.VARCHAR.oid, T.BPCHAR.oid):
    register(T.BOOL.oid, _d, "a", lambda v, c: "true" if v else "false")


def _io_cast(src: T.SqlType, dst: T.SqlType) -> Callable[[Any, Any], Any]:
    out = output_function(src)
    inp = input_function(dst.base)
    if src.oid == T.BPCHAR.oid:
        return lambda v, ctx: inp(v.rstrip(" "), ctx)
    return lambda v, ctx: inp(out(v, ctx), ctx)


def find_cast(src: T.SqlType, dst: T.SqlType, context: str = "explicit") -> Cast | None:
    """The cast from ``src`` to ``dst`` allowed in ``context``, or None.

    ``src`` UNKNOWN (an untyped literal) converts to anything through ``dst``'s input
    function. The returned cast applies ``dst``'s typmod (explicit casts truncate strings).
    """
    level = CONTEXTS[context]
    explicit = context == "explicit"
    found = _base_cast(src.base, dst.base, level)
    if found is None:
        return None
    code, fn = found
    if dst.typmod != -1 or (dst.element is not None and dst.element.typmod != -1):
        inner = fn

        def fn(v: Any, ctx: Any, inner=inner, dst=dst) -> Any:
            return coerce_typmod(inner(v, ctx), dst, explicit, ctx)

    return Cast(src, dst, {0: "implicit", 1: "assignment", 2: "explicit"}[code], fn)


def _base_cast(src: T.SqlType, dst: T.SqlType, level: int):
    if src == dst:
        return 0, _same
    if src.oid == T.UNKNOWN.oid:
        inp = input_function(dst)
        return 0, lambda v, ctx: inp(v, ctx)
    entry = _TABLE.get((src.oid, dst.oid))
    if entry is not None:
        code = _CODE[entry[0]]
        return (code, entry[1]) if code <= level else None
    if src.element is not None and dst.element is not None:
        inner = _base_cast(src.element, dst.element, level)
        if inner is None:
            return None
        code, efn = inner

        def arr(v: list, ctx: Any) -> list:
            return [
                None if x is None else arr(x, ctx) if isinstance(x, list) else efn(x, ctx)
                for x in v
            ]

        return code, arr
    if dst.oid in _STRINGS and dst.element is None:
        # I/O conversion to a string type: assignment context
        return (1, _io_cast(src, dst)) if level >= 1 else None
    if src.oid in _STRINGS and src.element is None:
        return (2, _io_cast(src, dst)) if level >= 2 else None
    return None


def can_coerce(src: T.SqlType, dst: T.SqlType, context: str = "implicit") -> bool:
    """Whether ``src`` converts to ``dst`` in ``context`` (without building the function)."""
    level = CONTEXTS[context]
    s, d = src.base, dst.base
    if s == d or s.oid == T.UNKNOWN.oid:
        return True
    entry = _TABLE.get((s.oid, d.oid))
    if entry is not None:
        return _CODE[entry[0]] <= level
    if s.element is not None and d.element is not None:
        return can_coerce(s.element, d.element, context)
    if d.oid in _STRINGS and d.element is None:
        return level >= 1
    if s.oid in _STRINGS and s.element is None:
        return level >= 2
    return False


def _register_builtin() -> None:
    from decimal import Decimal as _D

    from cairn.sql.errors import SqlError
    from cairn.sql.types import datetimes as DT
    from cairn.sql.types.interval import USECS_PER_DAY, Interval
    from cairn.sql.types.jsontypes import jsonb_in, jsonb_out, jsonb_typeof

    def ts_date(v: Any, ctx: Any) -> Any:
        return v if isinstance(v, float) else v.date()

    def tstz_date(v: Any, ctx: Any) -> Any:
        return v if isinstance(v, float) else DT.to_local(v, ctx).date()

    def ts_time(v: Any, ctx: Any) -> Any:
        if isinstance(v, float):
            raise SqlError("cannot convert infinite timestamp to time", sqlstate="0A000")
        return v.time()

    def tstz_time(v: Any, ctx: Any) -> Any:
        return ts_time(v if isinstance(v, float) else DT.to_local(v, ctx), ctx)

    def interval_time(v: Interval, ctx: Any) -> Any:
        return DT.micros_to_time(v.micros % USECS_PER_DAY)

    def jsonb_scalar(target: str, conv):
        def f(v: Any, ctx: Any) -> Any:
            kind = jsonb_typeof(v)
            want = "boolean" if target == "boolean" else "number"
            if kind != want:
                raise SqlError(
                    f"cannot cast jsonb {kind if kind != 'array' else 'array'} to type {target}",
                    sqlstate="22023",
                )
            return conv(v, ctx)

        return f

    def num_of(v: Any) -> _D:
        return v if isinstance(v, _D) else _D(v)

    for s, d, c, f in [
        (T.DATE.oid, T.TIMESTAMP.oid, "i", lambda v, ctx: DT.date_to_timestamp(v)),
        (T.DATE.oid, T.TIMESTAMPTZ.oid, "i", DT.date_to_timestamptz),
        (T.TIMESTAMP.oid, T.TIMESTAMPTZ.oid, "i", DT.timestamp_to_timestamptz),
        (T.TIMESTAMPTZ.oid, T.TIMESTAMP.oid, "a", DT.timestamptz_to_timestamp),
        (T.TIMESTAMP.oid, T.DATE.oid, "a", ts_date),
        (T.TIMESTAMPTZ.oid, T.DATE.oid, "a", tstz_date),
        (T.TIMESTAMP.oid, T.TIME.oid, "a", ts_time),
        (T.TIMESTAMPTZ.oid, T.TIME.oid, "a", tstz_time),
        (T.TIME.oid, T.INTERVAL.oid, "i", lambda v, ctx: Interval(0, 0, DT.time_to_micros(v))),
        (T.INTERVAL.oid, T.TIME.oid, "a", interval_time),
        (T.JSON.oid, T.JSONB.oid, "a", lambda v, ctx: jsonb_in(v)),
        (T.JSONB.oid, T.JSON.oid, "a", lambda v, ctx: jsonb_out(v)),
        (T.JSONB.oid, T.BOOL.oid, "e", jsonb_scalar("boolean", lambda v, ctx: v)),
        (T.JSONB.oid, T.NUMERIC.oid, "e", jsonb_scalar("numeric", lambda v, ctx: num_of(v))),
        (T.JSONB.oid, T.FLOAT8.oid, "e", jsonb_scalar("double precision", lambda v, ctx: float(v))),
        (
            T.JSONB.oid,
            T.FLOAT4.oid,
            "e",
            jsonb_scalar("real", lambda v, ctx: N.to_float4(float(v))),
        ),
        (
            T.JSONB.oid,
            T.INT2.oid,
            "e",
            jsonb_scalar("smallint", lambda v, ctx: numeric_to_int("smallint")(num_of(v), ctx)),
        ),
        (
            T.JSONB.oid,
            T.INT4.oid,
            "e",
            jsonb_scalar("integer", lambda v, ctx: numeric_to_int("integer")(num_of(v), ctx)),
        ),
        (
            T.JSONB.oid,
            T.INT8.oid,
            "e",
            jsonb_scalar("bigint", lambda v, ctx: numeric_to_int("bigint")(num_of(v), ctx)),
        ),
    ]:
        register(s, d, c, f)


_register_builtin()
