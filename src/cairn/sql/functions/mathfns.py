"""Mathematical functions (abs, round, trunc, sqrt, exp, ln, log, power, trig, random, gcd,
width_bucket, ...) for integers, floats and numeric, with PostgreSQL's result scales.

Numeric results carry PostgreSQL's display scale: at least 16 significant digits for
transcendental functions (sqrt, exp, ln, log, power), chosen by the same estimates as
PostgreSQL's numeric.c, then rounded half away from zero.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Context, Decimal

from cairn.sql.errors import DivisionByZero, NumericValueOutOfRange, SqlError
from cairn.sql.functions.arith import DEC, div_scale, float_cbrt, float_pow, float_sqrt
from cairn.sql.functions.registry import FUNCTIONS
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T

INT2, INT4, INT8, F4, F8, NU = T.INT2, T.INT4, T.INT8, T.FLOAT4, T.FLOAT8, T.NUMERIC
F = FUNCTIONS.add
MIN_SIG = N.NUMERIC_MIN_SIG_DIGITS


def _clamp(rscale: int, *inputs: Decimal) -> int:
    for d in inputs:
        rscale = max(rscale, N.numeric_scale(d))
    return min(max(rscale, 0), N.NUMERIC_MAX_DISPLAY_SCALE)


def _ctx_for(rscale: int, magnitude: int) -> Context:
    return Context(prec=max(rscale + magnitude + 20, 40), Emax=10**6, Emin=-(10**6))


def _weight(d: Decimal) -> int:
    """Base-10000 weight of a non-zero numeric (PostgreSQL's NumericVar.weight)."""
    return d.copy_abs().adjusted() // 4


def estimate_ln_dweight(d: Decimal) -> int:
    if d <= 0:
        return 0
    if Decimal("0.9") <= d <= Decimal("1.1"):
        x = d - 1
        return 0 if x.is_zero() else x.adjusted()
    ln_var = math.log(d) if d.adjusted() < 300 else d.adjusted() * 2.302585092994046
    return int(math.log10(abs(ln_var))) if ln_var else 0


def _nan_inf(*args: Decimal) -> Decimal | None:
    for a in args:
        if a.is_nan():
            return N.NUMERIC_NAN
    return None


def numeric_sqrt(x: Decimal, ctx=None) -> Decimal:
    if x.is_nan():
        return x
    if x < 0:
        raise SqlError("cannot take square root of a negative number", sqlstate="2201F")
    if x.is_infinite():
        return x
    if x.is_zero():  # weight 0: (0 + 1) * 4 / 2 - 1 = 1 -> 15 digits
        return N.numeric_round(Decimal(0), _clamp(MIN_SIG - 1, x))
    sweight = int((_weight(x) + 1) * 4 / 2) - 1
    rscale = _clamp(MIN_SIG - sweight, x)
    r = x.sqrt(context=_ctx_for(rscale, x.adjusted()))
    return N.numeric_round(r, rscale)


def numeric_exp(x: Decimal, ctx=None) -> Decimal:
    if x.is_nan():
        return x
    if x.is_infinite():
        return x if x > 0 else Decimal(0)
    val = float(x) * 0.434294481903252
    val = max(min(val, 2000), -2000)
    rscale = _clamp(MIN_SIG - int(val), x)
    if val > 131072:
        raise NumericValueOutOfRange("value overflows numeric format")
    r = x.exp(context=_ctx_for(rscale, max(int(val), 0)))
    return N.numeric_round(r, rscale)


def _ln_checks(x: Decimal) -> None:
    if x.is_zero():
        raise SqlError("cannot take logarithm of zero", sqlstate="2201E")
    if x < 0:
        raise SqlError("cannot take logarithm of a negative number", sqlstate="2201E")


def numeric_ln(x: Decimal, ctx=None) -> Decimal:
    if x.is_nan():
        return x
    _ln_checks(x)
    if x.is_infinite():
        return x
    rscale = _clamp(MIN_SIG - estimate_ln_dweight(x), x)
    return N.numeric_round(x.ln(context=_ctx_for(rscale, 10)), rscale)


def numeric_log(base: Decimal, x: Decimal, ctx=None) -> Decimal:
    nan = _nan_inf(base, x)
    if nan is not None:
        return nan
    _ln_checks(base)
    _ln_checks(x)
    if base == 1:
        raise DivisionByZero("division by zero")
    rdw = estimate_ln_dweight(x) - estimate_ln_dweight(base)
    rscale = _clamp(MIN_SIG - rdw, base, x)
    c = _ctx_for(rscale, 10)
    return N.numeric_round(c.divide(x.ln(context=c), base.ln(context=c)), rscale)


def numeric_power(a: Decimal, b: Decimal, ctx=None) -> Decimal:
    if a.is_nan():
        return Decimal(1) if b == 0 and not b.is_nan() else N.NUMERIC_NAN
    if b.is_nan():
        return Decimal(1) if a == 1 else N.NUMERIC_NAN
    if a.is_zero() and b < 0:
        raise SqlError("zero raised to a negative power is undefined", sqlstate="2201F")
    integral = b.is_finite() and b == b.to_integral_value()
    if a < 0 and not integral:
        raise SqlError(
            "a negative number raised to a non-integer power yields a complex result",
            sqlstate="2201F",
        )
    if not a.is_finite() or not b.is_finite():
        try:
            return N.normalize_numeric(DEC.power(a, b))
        except Exception:  # pragma: no cover - decimal's special cases
            return N.NUMERIC_NAN
    if integral and abs(b) <= 2**31 - 1:
        rscale = _clamp(MIN_SIG, a, b)
        if a.is_zero():
            return N.numeric_round(Decimal(1) if b == 0 else Decimal(0), rscale)
        est = float(b) * math.log10(abs(float(a))) if float(a) != 0 else 0
        if est > 131072:
            raise NumericValueOutOfRange("value overflows numeric format")
        c = _ctx_for(rscale, max(int(est), 0) + 5)
        return N.numeric_round(c.power(a, int(b)), rscale)
    if a.is_zero():
        return N.numeric_round(Decimal(0), _clamp(MIN_SIG, a, b))
    est = float(b) * math.log10(float(a))
    if est > 131072:
        raise NumericValueOutOfRange("value overflows numeric format")
    rscale = _clamp(MIN_SIG - math.floor(est), a, b)
    c = _ctx_for(rscale, max(int(est), 0) + 5)
    return N.numeric_round(c.power(a, b), rscale)


def _int_abs(name: str):
    lo = N.INT_RANGES[name][0]

    def f(a: int, ctx=None) -> int:
        if a == lo:
            raise NumericValueOutOfRange(f"{name} out of range")
        return abs(a)

    return f


F("abs", (INT2,), INT2, _int_abs("smallint"))
F("abs", (INT4,), INT4, _int_abs("integer"))
F("abs", (INT8,), INT8, _int_abs("bigint"))
F("abs", (F4,), F4, lambda a, ctx: abs(a))
F("abs", (F8,), F8, lambda a, ctx: abs(a))
F("abs", (NU,), NU, lambda a, ctx: a.copy_abs())


def _num_integral(rounding: str):
    def f(a: Decimal, ctx=None) -> Decimal:
        if not a.is_finite():
            return a
        return N.normalize_numeric(a.quantize(Decimal(1), rounding=rounding, context=DEC))

    return f


def _signed(fn):
    """C's rint/ceil/trunc keep the sign of a zero result (round(-0.4) is -0)."""

    def f(a: float, ctx=None) -> float:
        if not math.isfinite(a):
            return a
        return math.copysign(float(fn(a)), a)

    return f


for _name in ("ceil", "ceiling"):
    F(_name, (F8,), F8, _signed(math.ceil))
    F(_name, (NU,), NU, _num_integral(ROUND_CEILING))
F("floor", (F8,), F8, lambda a, ctx: float(math.floor(a)) if math.isfinite(a) else a)
F("floor", (NU,), NU, _num_integral(ROUND_FLOOR))
F("round", (F8,), F8, _signed(round))
F("round", (NU,), NU, lambda a, ctx: N.numeric_round(a, 0))
F("trunc", (F8,), F8, _signed(math.trunc))
F("trunc", (NU,), NU, _num_integral(ROUND_DOWN))


def round_numeric(a: Decimal, s: int, ctx=None) -> Decimal:
    if not a.is_finite():
        return a
    if s >= 0:
        return N.numeric_round(a, min(s, N.NUMERIC_MAX_DISPLAY_SCALE))
    q = Decimal(1).scaleb(-s)
    r = DEC.multiply(
        DEC.divide(a, q).quantize(Decimal(1), rounding="ROUND_HALF_UP", context=DEC), q
    )
    return N.normalize_numeric(r.quantize(Decimal(1), context=DEC))


def trunc_numeric(a: Decimal, s: int, ctx=None) -> Decimal:
    if not a.is_finite():
        return a
    if s >= 0:
        return N.normalize_numeric(
            a.quantize(Decimal(1).scaleb(-s), rounding=ROUND_DOWN, context=DEC)
        )
    q = Decimal(1).scaleb(-s)
    r = DEC.multiply(DEC.divide(a, q).quantize(Decimal(1), rounding=ROUND_DOWN, context=DEC), q)
    return N.normalize_numeric(r.quantize(Decimal(1), context=DEC))


F("round", (NU, INT4), NU, round_numeric)
F("trunc", (NU, INT4), NU, trunc_numeric)
F("sqrt", (F8,), F8, float_sqrt)
F("sqrt", (NU,), NU, numeric_sqrt)
F("cbrt", (F8,), F8, float_cbrt)
for _name in ("power", "pow"):
    F(_name, (F8, F8), F8, float_pow)
    F(_name, (NU, NU), NU, numeric_power)


def float_exp(a: float, ctx=None) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise NumericValueOutOfRange("value out of range: overflow") from None


def _float_log(fn):
    def f(a: float, ctx=None) -> float:
        if a == 0.0:
            raise SqlError("cannot take logarithm of zero", sqlstate="2201E")
        if a < 0.0:
            raise SqlError("cannot take logarithm of a negative number", sqlstate="2201E")
        if math.isinf(a) or a != a:
            return a
        return fn(a)

    return f


F("exp", (F8,), F8, float_exp)
F("exp", (NU,), NU, numeric_exp)
F("ln", (F8,), F8, _float_log(math.log))
F("ln", (NU,), NU, numeric_ln)
F("log", (F8,), F8, _float_log(math.log10))
F("log10", (F8,), F8, _float_log(math.log10))
F("log", (NU,), NU, lambda a, ctx: numeric_log(Decimal(10), a))
F("log10", (NU,), NU, lambda a, ctx: numeric_log(Decimal(10), a))
F("log", (NU, NU), NU, numeric_log)


def _int_mod(name: str):
    def f(a: int, b: int, ctx=None) -> int:
        if b == 0:
            raise DivisionByZero("division by zero")
        r = abs(a) % abs(b)
        return -r if a < 0 else r

    return f


F("mod", (INT2, INT2), INT2, _int_mod("smallint"))
F("mod", (INT4, INT4), INT4, _int_mod("integer"))
F("mod", (INT8, INT8), INT8, _int_mod("bigint"))


def numeric_mod(a: Decimal, b: Decimal, ctx=None) -> Decimal:
    from cairn.sql.functions.arith import numeric_mod as m

    return m(a, b, ctx)


def numeric_div_trunc(a: Decimal, b: Decimal, ctx=None) -> Decimal:
    if b.is_zero():
        raise DivisionByZero("division by zero")
    if not a.is_finite() or not b.is_finite():
        return N.NUMERIC_NAN
    return N.normalize_numeric(DEC.divide_int(a, b))


F("mod", (NU, NU), NU, numeric_mod)
F("div", (NU, NU), NU, numeric_div_trunc)


def _sign_float(a: float, ctx=None) -> float:
    if a != a:
        return a
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0


def _sign_numeric(a: Decimal, ctx=None) -> Decimal:
    if a.is_nan():
        return a
    return Decimal(1) if a > 0 else Decimal(-1) if a < 0 else Decimal(0)


F("sign", (F8,), F8, _sign_float)
F("sign", (NU,), NU, _sign_numeric)
F("pi", (), F8, lambda ctx: math.pi)
F("degrees", (F8,), F8, lambda a, ctx: math.degrees(a))
F("radians", (F8,), F8, lambda a, ctx: math.radians(a))


def _trig(fn, domain: tuple[float, float] | None = None):
    def f(a: float, ctx=None) -> float:
        if a != a:
            return a
        if domain is not None and not domain[0] <= a <= domain[1]:
            raise NumericValueOutOfRange("input is out of range")
        if domain is None and math.isinf(a):
            raise NumericValueOutOfRange("input is out of range")
        return fn(a)

    return f


for _name, _fn, _dom in (
    ("sin", math.sin, None),
    ("cos", math.cos, None),
    ("tan", math.tan, None),
    ("asin", math.asin, (-1.0, 1.0)),
    ("acos", math.acos, (-1.0, 1.0)),
):
    F(_name, (F8,), F8, _trig(_fn, _dom))
F("atan", (F8,), F8, lambda a, ctx: math.atan(a))
F("atan2", (F8, F8), F8, lambda a, b, ctx: math.atan2(a, b))
F("cot", (F8,), F8, lambda a, ctx: math.inf if a == 0 else 1.0 / math.tan(a))
F("sinh", (F8,), F8, lambda a, ctx: math.sinh(a))
F("cosh", (F8,), F8, lambda a, ctx: math.cosh(a))
F("tanh", (F8,), F8, lambda a, ctx: math.tanh(a))


def _random(ctx) -> float:
    return ctx.rng.random()


def _setseed(seed: float, ctx) -> None:
    if not -1.0 <= seed <= 1.0:
        raise SqlError(
            f"setseed parameter {N.float8_out(seed)} is out of allowed range [-1,1]",
            sqlstate="22023",
        )
    ctx.rng.seed(seed)


F("random", (), F8, _random, volatility="v")
F("setseed", (F8,), T.VOID, _setseed, volatility="v")


def width_bucket(x, lo, hi, count: int, ctx=None) -> int:
    if count <= 0:
        raise SqlError("count must be greater than zero", sqlstate="2201G")
    if lo == hi:
        raise SqlError("lower bound cannot equal upper bound", sqlstate="2201G")
    if any(isinstance(v, float) and (v != v or math.isinf(v)) for v in (lo, hi)):
        raise SqlError("lower and upper bounds must be finite", sqlstate="2201G")
    if lo < hi:
        if x < lo:
            return 0
        if x >= hi:
            return count + 1
        return int((x - lo) * count / (hi - lo)) + 1
    if x > lo:
        return 0
    if x <= hi:
        return count + 1
    return int((lo - x) * count / (lo - hi)) + 1


F("width_bucket", (F8, F8, F8, INT4), INT4, width_bucket)
F("width_bucket", (NU, NU, NU, INT4), INT4, width_bucket)


def _gcd(name: str):
    lo = N.INT_RANGES[name][0]

    def f(a: int, b: int, ctx=None) -> int:
        r = math.gcd(a, b)
        if r == -lo:
            raise NumericValueOutOfRange(f"{name} out of range")
        return r

    return f


def _lcm(name: str):
    hi = N.INT_RANGES[name][1]

    def f(a: int, b: int, ctx=None) -> int:
        r = abs(a * b) // math.gcd(a, b) if a and b else 0
        if r > hi:
            raise NumericValueOutOfRange(f"{name} out of range")
        return r

    return f


def _num_gcd(a: Decimal, b: Decimal, ctx=None) -> Decimal:
    if not a.is_finite() or not b.is_finite():
        return N.NUMERIC_NAN
    s = max(N.numeric_scale(a), N.numeric_scale(b))
    x, y = a.copy_abs(), b.copy_abs()
    while y:
        x, y = y, DEC.remainder(x, y)
    return N.numeric_round(x, s)


def _num_lcm(a: Decimal, b: Decimal, ctx=None) -> Decimal:
    if not a.is_finite() or not b.is_finite():
        return N.NUMERIC_NAN
    s = max(N.numeric_scale(a), N.numeric_scale(b))
    if a.is_zero() or b.is_zero():
        return N.numeric_round(Decimal(0), s)
    g = _num_gcd(a, b)
    return N.numeric_round(DEC.divide_int(DEC.multiply(a, b), g).copy_abs(), s)


F("gcd", (INT4, INT4), INT4, _gcd("integer"))
F("gcd", (INT8, INT8), INT8, _gcd("bigint"))
F("gcd", (NU, NU), NU, _num_gcd)
F("lcm", (INT4, INT4), INT4, _lcm("integer"))
F("lcm", (INT8, INT8), INT8, _lcm("bigint"))
F("lcm", (NU, NU), NU, _num_lcm)


def factorial(n: int, ctx=None) -> Decimal:
    if n < 0:
        raise SqlError("factorial of a negative number is undefined", sqlstate="22003")
    if n > 32177:
        raise NumericValueOutOfRange("value overflows numeric format")
    return Decimal(math.factorial(n))


F("factorial", (INT8,), NU, factorial)
F("scale", (NU,), INT4, lambda a, ctx: N.numeric_scale(a) if a.is_finite() else None)
F(
    "min_scale",
    (NU,),
    INT4,
    lambda a, ctx: (
        max(-a.normalize(context=DEC).as_tuple().exponent, 0)
        if a.is_finite() and not a.is_zero()
        else 0
        if a.is_finite()
        else None
    ),
)
F(
    "trim_scale",
    (NU,),
    NU,
    lambda a, ctx: N.normalize_numeric(a.normalize(context=DEC)) if a.is_finite() else a,
)
__all__ = ["div_scale", "numeric_power"]
