"""Arithmetic on smallint/integer/bigint, real/double precision and numeric (pg_operator).

Integers overflow with 22003 ("integer out of range"), divide truncating toward zero, and
``%`` takes the dividend's sign; floats raise on overflow/underflow and on division by zero as
PostgreSQL's float8 does; numeric is exact, with PostgreSQL's result scales (division keeps
at least 16 significant digits: ``select_div_scale``).
"""

from __future__ import annotations

import math
from decimal import Decimal

from cairn.sql.errors import DivisionByZero, NumericValueOutOfRange
from cairn.sql.functions.registry import OPERATORS, PREFIX
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T

DEC = N.DEC
_INTS = {T.INT2.oid: "smallint", T.INT4.oid: "integer", T.INT8.oid: "bigint"}
_WIDTH = {T.INT2.oid: 0, T.INT4.oid: 1, T.INT8.oid: 2}


def _range_error(name: str) -> NumericValueOutOfRange:
    return NumericValueOutOfRange(f"{name} out of range")


def int_ops(name: str):
    lo, hi = N.INT_RANGES[name]

    def pl(a: int, b: int, ctx) -> int:
        r = a + b
        if lo <= r <= hi:
            return r
        raise _range_error(name)

    def mi(a: int, b: int, ctx) -> int:
        r = a - b
        if lo <= r <= hi:
            return r
        raise _range_error(name)

    def mul(a: int, b: int, ctx) -> int:
        r = a * b
        if lo <= r <= hi:
            return r
        raise _range_error(name)

    def div(a: int, b: int, ctx) -> int:
        if b == 0:
            raise DivisionByZero("division by zero")
        q = abs(a) // abs(b)
        r = q if (a < 0) == (b < 0) else -q
        if lo <= r <= hi:
            return r
        raise _range_error(name)

    def mod(a: int, b: int, ctx) -> int:
        if b == 0:
            raise DivisionByZero("division by zero")
        r = abs(a) % abs(b)
        return -r if a < 0 else r

    def um(a: int, ctx) -> int:
        if a == lo:
            raise _range_error(name)
        return -a

    def ab(a: int, ctx) -> int:
        if a == lo:
            raise _range_error(name)
        return abs(a)

    def shl(a: int, b: int, ctx) -> int:
        r = (a << (b % 64 if name == "bigint" else b % 32)) if b >= 0 else a >> -b
        bits = {"smallint": 16, "integer": 32, "bigint": 64}[name]
        r &= (1 << bits) - 1
        return r - (1 << bits) if r > hi else r

    def shr(a: int, b: int, ctx) -> int:
        return a >> (b % 64 if name == "bigint" else b % 32)

    return pl, mi, mul, div, mod, um, ab, shl, shr


# integers: PostgreSQL declares + - * / for every pair of int2/int4/int8 (result: the wider)
_int_impls = {oid: int_ops(nm) for oid, nm in _INTS.items()}
_int_types = {T.INT2.oid: T.INT2, T.INT4.oid: T.INT4, T.INT8.oid: T.INT8}
for la, lt in _int_types.items():
    for ra, rt in _int_types.items():
        wide = lt if _WIDTH[la] >= _WIDTH[ra] else rt
        pl, mi, mul, div, mod, *_ = _int_impls[wide.oid]
        for op, fn in (("+", pl), ("-", mi), ("*", mul), ("/", div)):
            OPERATORS.add(op, (lt, rt), wide, fn)
for oid, t in _int_types.items():
    pl, mi, mul, div, mod, um, ab, shl, shr = _int_impls[oid]
    OPERATORS.add("%", (t, t), t, mod)
    PREFIX.add("-", (t,), t, um)
    PREFIX.add("+", (t,), t, lambda a, ctx: a)
    PREFIX.add("@", (t,), t, ab)
    OPERATORS.add("&", (t, t), t, lambda a, b, ctx: a & b)
    OPERATORS.add("|", (t, t), t, lambda a, b, ctx: a | b)
    OPERATORS.add("#", (t, t), t, lambda a, b, ctx: a ^ b)
    PREFIX.add("~", (t,), t, lambda a, ctx: ~a)
    OPERATORS.add("<<", (t, T.INT4), t, shl)
    OPERATORS.add(">>", (t, T.INT4), t, shr)


# --- floats ----------------------------------------------------------------------------------


def check_float(r: float, a_inf: bool, zero_ok: bool) -> float:
    """PostgreSQL's float_overflow/underflow checks on a double result."""
    if math.isinf(r) and not a_inf:
        raise NumericValueOutOfRange("value out of range: overflow")
    if r == 0.0 and not zero_ok:
        raise NumericValueOutOfRange("value out of range: underflow")
    return r


def _f8pl(a: float, b: float, ctx) -> float:
    r = a + b
    if math.isinf(r) and not (math.isinf(a) or math.isinf(b)):
        raise NumericValueOutOfRange("value out of range: overflow")
    return r


def _f8mi(a: float, b: float, ctx) -> float:
    r = a - b
    if math.isinf(r) and not (math.isinf(a) or math.isinf(b)):
        raise NumericValueOutOfRange("value out of range: overflow")
    return r


def _f8mul(a: float, b: float, ctx) -> float:
    r = a * b
    if math.isinf(r) and not (math.isinf(a) or math.isinf(b)):
        raise NumericValueOutOfRange("value out of range: overflow")
    if r == 0.0 and a != 0.0 and b != 0.0:
        raise NumericValueOutOfRange("value out of range: underflow")
    return r


def _f8div(a: float, b: float, ctx) -> float:
    if b == 0.0:
        raise DivisionByZero("division by zero")
    r = a / b
    if math.isinf(r) and not math.isinf(a):
        raise NumericValueOutOfRange("value out of range: overflow")
    if r == 0.0 and a != 0.0 and not math.isinf(b):
        raise NumericValueOutOfRange("value out of range: underflow")
    return r


def _f4(fn):
    def f(a: float, b: float, ctx) -> float:
        r = fn(a, b, ctx)
        if math.isinf(r) or r != r:
            return r
        try:
            s = N.to_float4(r)
        except OverflowError:
            raise NumericValueOutOfRange("value out of range: overflow") from None
        if s == 0.0 and r != 0.0:
            raise NumericValueOutOfRange("value out of range: underflow")
        return s

    return f


def float_pow(a: float, b: float, ctx) -> float:
    """PostgreSQL's dpow, including its special cases and errors."""
    if a == 0.0 and b < 0.0:
        raise NumericValueOutOfRange(
            "zero raised to a negative power is undefined", sqlstate="2201F"
        )
    if a < 0.0 and not math.isinf(a) and not math.isinf(b) and b != math.floor(b):
        raise NumericValueOutOfRange(
            "a negative number raised to a non-integer power yields a complex result",
            sqlstate="2201F",
        )
    if a != a:
        return 1.0 if b == 0.0 else a
    if b != b:
        return 1.0 if a == 1.0 else b
    try:
        r = math.pow(a, b)
    except OverflowError:
        raise NumericValueOutOfRange("value out of range: overflow") from None
    if r == 0.0 and a != 0.0 and not math.isinf(b) and not math.isinf(a):
        raise NumericValueOutOfRange("value out of range: underflow")
    return r


for lt in (T.FLOAT4, T.FLOAT8):
    for rt in (T.FLOAT4, T.FLOAT8):
        res = T.FLOAT4 if lt == rt == T.FLOAT4 else T.FLOAT8
        wrap = _f4 if res == T.FLOAT4 else (lambda f: f)
        for op, fn in (("+", _f8pl), ("-", _f8mi), ("*", _f8mul), ("/", _f8div)):
            OPERATORS.add(op, (lt, rt), res, wrap(fn))
    PREFIX.add("-", (lt,), lt, lambda a, ctx: -a)
    PREFIX.add("+", (lt,), lt, lambda a, ctx: a)
    PREFIX.add("@", (lt,), lt, lambda a, ctx: abs(a))
OPERATORS.add("^", (T.FLOAT8, T.FLOAT8), T.FLOAT8, float_pow)


def float_sqrt(a: float, ctx) -> float:
    if a < 0:
        raise NumericValueOutOfRange(
            "cannot take square root of a negative number", sqlstate="2201F"
        )
    return math.sqrt(a)


def float_cbrt(a: float, ctx) -> float:
    return math.cbrt(a)  # libm's cbrt, as PostgreSQL (cbrt(27) = 3.0000000000000004)


PREFIX.add("|/", (T.FLOAT8,), T.FLOAT8, float_sqrt)
PREFIX.add("||/", (T.FLOAT8,), T.FLOAT8, float_cbrt)


# --- numeric ---------------------------------------------------------------------------------


def _weight_first(d: Decimal) -> tuple[int, int]:
    """Base-10000 weight and first digit of a non-zero finite numeric (PostgreSQL's NBASE)."""
    a = d.copy_abs()
    w = a.adjusted() // 4
    first = int(a.scaleb(-4 * w, context=DEC))
    return w, first


def div_scale(a: Decimal, b: Decimal) -> int:
    """PostgreSQL's select_div_scale: at least 16 significant digits, at least the inputs'
    display scales."""
    w1, f1 = _weight_first(a) if not a.is_zero() else (0, 0)
    w2, f2 = _weight_first(b) if not b.is_zero() else (0, 0)
    qweight = w1 - w2
    if f1 <= f2:
        qweight -= 1
    rscale = N.NUMERIC_MIN_SIG_DIGITS - qweight * 4
    rscale = max(rscale, N.numeric_scale(a), N.numeric_scale(b), 0)
    return min(rscale, N.NUMERIC_MAX_DISPLAY_SCALE)


def _num_result(r: Decimal) -> Decimal:
    N.check_numeric_range(r)
    return N.normalize_numeric(r)


def numeric_add(a: Decimal, b: Decimal, ctx) -> Decimal:
    return _num_result(DEC.add(a, b))


def numeric_sub(a: Decimal, b: Decimal, ctx) -> Decimal:
    return _num_result(DEC.subtract(a, b))


def numeric_mul(a: Decimal, b: Decimal, ctx) -> Decimal:
    if (a.is_infinite() or b.is_infinite()) and (a.is_zero() or b.is_zero()):
        return N.NUMERIC_NAN
    r = DEC.multiply(a, b)
    if r.is_finite():
        scale = min(N.numeric_scale(a) + N.numeric_scale(b), N.NUMERIC_MAX_DISPLAY_SCALE)
        r = N.numeric_round(r, scale)
    return _num_result(r)


def numeric_div(a: Decimal, b: Decimal, ctx) -> Decimal:
    if b.is_zero() and not a.is_nan():
        raise DivisionByZero("division by zero")
    if a.is_nan() or b.is_nan():
        return N.NUMERIC_NAN
    if a.is_infinite():
        if b.is_infinite():
            return N.NUMERIC_NAN
        return a if b > 0 else a.copy_negate()
    if b.is_infinite():
        return Decimal(0)
    scale = div_scale(a, b)
    # only as many digits as the result keeps (+ guard digits), not the context's maximum
    digits = max(a.adjusted() - b.adjusted(), 0) + scale + 8
    ctx = DEC.copy()
    ctx.prec = digits
    return _num_result(N.numeric_round(ctx.divide(a, b), scale))


def numeric_mod(a: Decimal, b: Decimal, ctx) -> Decimal:
    if b.is_zero() and not a.is_nan():
        raise DivisionByZero("division by zero")
    if a.is_nan() or b.is_nan() or a.is_infinite():
        return N.NUMERIC_NAN
    if b.is_infinite():
        return a
    return _num_result(DEC.remainder(a, b))


def numeric_pow(a: Decimal, b: Decimal, ctx) -> Decimal:
    from cairn.sql.functions.mathfns import numeric_power

    return numeric_power(a, b)


def numeric_neg(a: Decimal, ctx) -> Decimal:
    return N.normalize_numeric(a.copy_negate())  # exact: -a would round to 28 digits


NU = T.NUMERIC
for op, fn in (
    ("+", numeric_add),
    ("-", numeric_sub),
    ("*", numeric_mul),
    ("/", numeric_div),
    ("%", numeric_mod),
    ("^", numeric_pow),
):
    OPERATORS.add(op, (NU, NU), NU, fn)
PREFIX.add("-", (NU,), NU, numeric_neg)
PREFIX.add("+", (NU,), NU, lambda a, ctx: a)
PREFIX.add("@", (NU,), NU, lambda a, ctx: a.copy_abs())
