"""The heap's storage form of each type: JSON-compatible values that sort like the SQL values.

cairn.db stores rows as JSON-compatible dicts and its indexes order column values with the key
codec (ints become floats). So the storage form of a type is chosen such that, within one
type, the index order of stored forms is PostgreSQL's order of the values wherever possible:

============================  =====================================================
type                          storage form
============================  =====================================================
smallint, integer, bigint     int (exact; the index sees a float: exact below 2^53)
real, double precision        float (NaN sorts last, as PostgreSQL's)
numeric                       str, an order-preserving encoding (below), scale kept
boolean                       bool
text, varchar, char, name     str (code point order = UTF-8 byte order)
bytea, uuid                   str, lowercase hex (byte order preserved)
date                          int, days since 2000-01-01; +-infinity = +-2^31 (int32 ends)
time                          int, microseconds since midnight
timestamp, timestamptz        int, microseconds since 2000-01-01 UTC; +-infinity = int64 ends
interval                      [months, days, micros] (equality only)
json                          str, the text as written
jsonb                         str, its canonical text (equality only)
arrays                        list of the elements' forms (equality only)
============================  =====================================================

Numeric encoding: one class character, then for finite non-zero values a biased exponent and
the digits. ``0`` -Infinity, ``1`` negatives, ``2`` zero, ``3`` positives, ``4`` +Infinity,
``5`` NaN (above all, as PostgreSQL sorts it). A positive value is ``3`` + (exponent+500000)
as 6 digits + its significant digits; a negative one stores 999999 - that exponent and the
nines' complement of its digits followed by ``~``, so larger magnitudes sort first. The
display scale follows after a ``!`` (below every digit), so 1.0 and 1.00 keep their scale and
sort together (they are distinct keys: a unique index on numeric treats them as different,
where PostgreSQL would not).
"""

from __future__ import annotations

import math
import uuid as _uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T

_EXP_BIAS = 500000
_NINES = str.maketrans("0123456789", "9876543210")


def numeric_to_storage(d: Decimal) -> str:
    if d.is_nan():
        return "5"
    if d.is_infinite():
        return "4" if d > 0 else "0"
    scale = N.numeric_scale(d)
    if d.is_zero():
        return f"2!{scale}"
    sign, digits, _ = d.as_tuple()
    ds = "".join(map(str, digits)).rstrip("0")
    exp = d.adjusted() + _EXP_BIAS
    if not sign:
        return f"3{exp:06d}{ds}!{scale}"
    return f"1{999999 - exp:06d}{ds.translate(_NINES)}~!{scale}"


def numeric_from_storage(s: str) -> Decimal:
    c = s[0]
    if c == "5":
        return N.NUMERIC_NAN
    if c == "4":
        return N.NUMERIC_INF
    if c == "0":
        return N.NUMERIC_NINF
    body, _, sc = s.partition("!")
    scale = int(sc)
    if c == "2":
        return Decimal((0, (0,), -scale))
    if c == "3":
        exp = int(body[1:7]) - _EXP_BIAS
        ds = body[7:]
        sign = 0
    else:
        exp = 999999 - int(body[1:7]) - _EXP_BIAS
        ds = body[7:-1].translate(_NINES)
        sign = 1
    # value = 0.ds * 10^(exp+1); rebuild with exactly `scale` fractional digits
    digits = ds + "0" * max(0, exp + 1 - len(ds) + scale)
    digits = digits[: exp + 1 + scale] if exp + 1 + scale > 0 else "0"
    return Decimal((sign, tuple(int(x) for x in digits), -scale))


def _bytes_to(v: bytes) -> str:
    return v.hex()


def _bytes_from(s: str) -> bytes:
    return bytes.fromhex(s)


def _uuid_to(v: _uuid.UUID) -> str:
    return v.hex


def _uuid_from(s: str) -> _uuid.UUID:
    return _uuid.UUID(hex=s)


def _float_to(v: float) -> float:
    return v if v == v else math.nan  # one NaN, positive: the key codec sorts it last


_TO: dict[int, Callable[[Any], Any]] = {
    T.FLOAT4.oid: _float_to,
    T.FLOAT8.oid: _float_to,
    T.NUMERIC.oid: numeric_to_storage,
    T.BYTEA.oid: _bytes_to,
    T.UUID.oid: _uuid_to,
}
_FROM: dict[int, Callable[[Any], Any]] = {
    T.NUMERIC.oid: numeric_from_storage,
    T.BYTEA.oid: _bytes_from,
    T.UUID.oid: _uuid_from,
}


def register(oid: int, to: Callable[[Any], Any], frm: Callable[[Any], Any]) -> None:
    """Used by the type modules to add their forms (at import time only)."""
    _TO[oid] = to
    _FROM[oid] = frm


def _identity(v: Any) -> Any:
    return v


def _register_builtin() -> None:
    from cairn.sql.types import datetimes as D
    from cairn.sql.types import jsontypes as J
    from cairn.sql.types.interval import Interval

    def ts_to(v: Any) -> int:
        if isinstance(v, float):
            return D.INT64_MAX if v > 0 else D.INT64_MIN
        return D.timestamp_to_micros(v)

    def ts_from(aware: bool):
        def f(us: int) -> Any:
            if us == D.INT64_MAX:
                return D.INF
            if us == D.INT64_MIN:
                return D.NINF
            return D.micros_to_timestamp(us, aware)

        return f

    def date_to(v: Any) -> int:
        if isinstance(v, float):
            return D.INT32_MAX if v > 0 else D.INT32_MIN
        return D.date_to_days(v)

    def date_from(n: int) -> Any:
        if n == D.INT32_MAX:
            return D.INF
        if n == D.INT32_MIN:
            return D.NINF
        return D.days_to_date(n)

    register(T.TIMESTAMP.oid, ts_to, ts_from(False))
    register(T.TIMESTAMPTZ.oid, ts_to, ts_from(True))
    register(T.DATE.oid, date_to, date_from)
    register(T.TIME.oid, D.time_to_micros, D.micros_to_time)
    register(T.INTERVAL.oid, lambda v: [v.months, v.days, v.micros], lambda s: Interval(*s))
    register(T.JSONB.oid, J.jsonb_out, J.jsonb_in)


_register_builtin()


def storage_functions(t: T.SqlType) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``(to_storage, from_storage)`` for non-NULL values of ``t``, built once per call site."""
    if t.element is not None:
        eto, efrom = storage_functions(t.element)

        def arr_to(v: list) -> list:
            return [None if x is None else arr_to(x) if isinstance(x, list) else eto(x) for x in v]

        def arr_from(v: list) -> list:
            return [
                None if x is None else arr_from(x) if isinstance(x, list) else efrom(x) for x in v
            ]

        return arr_to, arr_from
    return _TO.get(t.oid, _identity), _FROM.get(t.oid, _identity)


def to_storage(t: T.SqlType, value: Any) -> Any:
    """The heap form of a value of ``t`` (None for NULL)."""
    if value is None:
        return None
    return storage_functions(t)[0](value)


def from_storage(t: T.SqlType, stored: Any) -> Any:
    if stored is None:
        return None
    return storage_functions(t)[1](stored)
