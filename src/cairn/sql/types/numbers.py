"""Numbers: text input and output of smallint/integer/bigint, real/double precision, numeric.

The rules are PostgreSQL's: integers accept surrounding whitespace and a sign, nothing else
(no underscores in 15); floats print their shortest round-trip form, switching to exponent
notation below 1e-4 and from 1e15 (1e6 for real); numeric is exact decimal with a display
scale, kept in a ``decimal.Decimal`` whose exponent is the scale, with NaN and +-Infinity.
"""

from __future__ import annotations

import math
import re
import struct
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from cairn.sql.errors import InvalidTextRepresentation, NumericValueOutOfRange

INT_RANGES = {
    "smallint": (-(1 << 15), (1 << 15) - 1),
    "integer": (-(1 << 31), (1 << 31) - 1),
    "bigint": (-(1 << 63), (1 << 63) - 1),
    "oid": (0, (1 << 32) - 1),
}
INT2_MIN, INT2_MAX = INT_RANGES["smallint"]
INT4_MIN, INT4_MAX = INT_RANGES["integer"]
INT8_MIN, INT8_MAX = INT_RANGES["bigint"]

# Numeric arithmetic needs far more than decimal's default 28 digits (PostgreSQL keeps up to
# 131072 digits before the point and 16383 after).
DEC = Context(prec=150000, rounding=ROUND_HALF_UP, Emax=10**6, Emin=-(10**6), traps=[])
NUMERIC_MAX_DISPLAY_SCALE = 1000
NUMERIC_MIN_SIG_DIGITS = 16

_INT_RE = re.compile(r"\s*([+-]?\d+)\s*\Z", re.ASCII)  # ASCII digits only, as PG
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)", re.ASCII)


def make_int_input(typename: str):
    """The text input function of one integer type (a closure: no per-call dispatch)."""
    lo, hi = INT_RANGES[typename]
    match = _INT_RE.match

    def int_in(text: str) -> int:
        # fast path: Python's int() agrees with PostgreSQL on ASCII digits with a sign and
        # surrounding blanks, but also takes underscores and non-ASCII digits, so guard it
        if text.isascii() and "_" not in text:
            try:
                v = int(text)
            except ValueError:
                pass
            else:
                if lo <= v <= hi:
                    return v
        m = match(text)
        if m is None:
            p = _INT_PREFIX.match(text)  # PostgreSQL notices overflow before trailing junk
            if p is not None and not lo <= int(p.group(1)) <= hi:
                raise NumericValueOutOfRange(f'value "{text}" is out of range for type {typename}')
            raise InvalidTextRepresentation(f'invalid input syntax for type {typename}: "{text}"')
        v = int(m.group(1))
        if v < lo or v > hi:
            raise NumericValueOutOfRange(f'value "{text}" is out of range for type {typename}')
        return v

    return int_in


def int_out(v: int) -> str:
    return str(v)


_FLOAT_RE = re.compile(
    r"\s*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))\s*\Z", re.I | re.A
)
_F4 = struct.Struct("<f")
_FLOAT_PREFIX = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.A)


def to_float4(v: float) -> float:
    """Round a double to the nearest single (what real stores); OverflowError if out of range."""
    return _F4.unpack(_F4.pack(v))[0]


def make_float_input(typename: str):
    single = typename == "real"

    def float_in(text: str) -> float:
        if not single and text.isascii() and "_" not in text:
            try:  # fast path: a finite non-zero double parses the same in Python and PG
                v = float(text)
            except ValueError:
                pass
            else:
                if v != 0.0 and v - v == 0.0:
                    return v
        m = _FLOAT_RE.match(text)
        if m is None:
            p = _FLOAT_PREFIX.match(text)  # strtod's prefix: overflow wins over junk
            if p is not None:
                try:
                    float_in(p.group(0))
                except NumericValueOutOfRange:
                    raise NumericValueOutOfRange(
                        f'"{text}" is out of range for type {typename}'
                    ) from None
            raise InvalidTextRepresentation(f'invalid input syntax for type {typename}: "{text}"')
        s = m.group(1)
        v = float(s)
        if math.isinf(v) or v == 0.0:
            low = s.lower().lstrip("+-")
            if not low.startswith(("inf", "nan")) and (
                math.isinf(v) or any(c in "123456789" for c in low.split("e")[0])
            ):
                raise NumericValueOutOfRange(f'"{text}" is out of range for type {typename}')
        if single and not math.isinf(v) and not math.isnan(v):
            try:
                r = to_float4(v)
            except OverflowError:
                raise NumericValueOutOfRange(
                    f'"{text}" is out of range for type {typename}'
                ) from None
            if r == 0.0 and v != 0.0:
                raise NumericValueOutOfRange(f'"{text}" is out of range for type {typename}')
            v = r
        return v

    return float_in


def _format_shortest(digits: str, exp10: int, negative: bool, sci_from: int) -> str:
    """PostgreSQL's float formatting of a shortest digit string d.ddd x 10^exp10."""
    sign = "-" if negative else ""
    if exp10 < -4 or exp10 >= sci_from:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exp10 < 0:
        return f"{sign}0.{'0' * (-exp10 - 1)}{digits}"
    if len(digits) <= exp10 + 1:
        return sign + digits + "0" * (exp10 + 1 - len(digits))
    return f"{sign}{digits[: exp10 + 1]}.{digits[exp10 + 1 :]}"


def _split_repr(r: str) -> tuple[str, int]:
    """Digits and decimal exponent of a positive float's repr()/%e text."""
    mant, _, e = r.partition("e")
    exp = int(e) if e else 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    lead = len(ip.lstrip("0"))
    if lead:
        exp10 = exp + lead - 1
    else:  # 0.000123
        exp10 = exp - (len(fp) - len(fp.lstrip("0"))) - 1
    digits = digits.rstrip("0") or "0"
    return digits, exp10


def _inside(r: str, a: float) -> bool:
    """Whether the decimal text ``r`` lies strictly inside the rounding interval of the
    double ``a`` (a >= 2^52, so ``a`` and its neighbours are integers: exact int arithmetic)."""
    digits, exp10 = _split_repr(r)
    shift = exp10 - (len(digits) - 1)
    d2 = int(digits) * 10**shift * 2 if shift >= 0 else None
    exact = int(a)
    up = int(math.ulp(a))
    down = up // 2 if math.frexp(a)[0] == 0.5 else up
    if d2 is None:  # a fraction: only possible next to 2^52, never on an edge there
        return True
    diff2 = d2 - 2 * exact
    return diff2 < up if diff2 >= 0 else -diff2 < down


def float8_out(v: float) -> str:
    if v != v:
        return "NaN"
    if v == math.inf:
        return "Infinity"
    if v == -math.inf:
        return "-Infinity"
    if v == 0.0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    r = repr(v)
    if "e" not in r and 1e-4 <= abs(v) < 1e15:  # fast path: fixed notation as Python's
        return r[:-2] if r.endswith(".0") else r
    a = abs(v)
    r = repr(a)
    # only from 2^52 up can a short digit string sit exactly on a rounding-interval edge
    if a >= 4503599627370496.0 and not math.isinf(a) and not _inside(r, a):
        # Python's repr may pick a digit string on the edge of the rounding interval;
        # PostgreSQL's (Ryu-based) output never does: take the next length that is inside.
        for p in range(len(_split_repr(r)[0]) + 1, 18):
            cand = f"{a:.{p - 1}e}"
            if _inside(cand, a):
                r = cand
                break
    digits, exp10 = _split_repr(r)
    return _format_shortest(digits, exp10, v < 0, 15)


def float4_out(v: float) -> str:
    if v != v:
        return "NaN"
    if v == math.inf:
        return "Infinity"
    if v == -math.inf:
        return "-Infinity"
    if v == 0.0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    a = abs(v)
    bits = struct.unpack("<I", _F4.pack(a))[0]
    exact = Decimal(a)
    nxt = struct.unpack("<f", struct.pack("<I", bits + 1))[0]
    down = (
        exact - Decimal(struct.unpack("<f", struct.pack("<I", bits - 1))[0])
        if bits > 1
        else Decimal(nxt) - exact
    )
    up = Decimal(nxt) - exact if not math.isinf(nxt) else down
    for p in range(1, 10):
        r = f"{a:.{p - 1}e}"
        d = Decimal(r)
        # strictly inside the rounding interval (PostgreSQL's Ryu never picks its edge)
        if (d - exact) * 2 < up if d >= exact else (exact - d) * 2 < down:
            break
    digits, exp10 = _split_repr(r)
    return _format_shortest(digits, exp10, v < 0, 6)


def float_out_digits(v: float, digits: int) -> str:
    """extra_float_digits <= 0: PostgreSQL's %.*g with DBL_DIG/FLT_DIG + extra digits."""
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return f"{v:.{max(digits, 1)}g}"


# --- numeric ---------------------------------------------------------------------------------

_NUMERIC_RE = re.compile(
    r"\s*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))\s*\Z", re.I | re.A
)
NUMERIC_NAN = Decimal("NaN")
NUMERIC_INF = Decimal("Infinity")
NUMERIC_NINF = Decimal("-Infinity")


def normalize_numeric(d: Decimal) -> Decimal:
    """PostgreSQL's form: a non-negative scale (1e3 is 1000), no negative zero, quiet NaN."""
    if not d.is_finite():
        return NUMERIC_NAN if d.is_nan() else d
    if d.as_tuple().exponent > 0:
        d = d.quantize(Decimal(1), context=DEC)
    if d.is_zero() and d.is_signed():
        d = d.copy_abs()
    return d


def numeric_in(text: str) -> Decimal:
    m = _NUMERIC_RE.match(text)
    if m is None:
        raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{text}"')
    s = m.group(1)
    low = s.lower().lstrip("+-")
    if low.startswith("nan"):
        if s[0] in "+-":
            raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{text}"')
        return NUMERIC_NAN
    if low.startswith("inf"):
        return NUMERIC_NINF if s[0] == "-" else NUMERIC_INF
    d = Decimal(s)
    check_numeric_range(d)
    return normalize_numeric(d)


def check_numeric_range(d: Decimal) -> None:
    if d.is_finite() and not d.is_zero() and d.adjusted() >= 131072:
        raise NumericValueOutOfRange("value overflows numeric format")


def numeric_out(d: Decimal) -> str:
    if d.is_finite():
        if d.is_zero() and d.is_signed():
            d = d.copy_abs()
        return format(d, "f")
    if d.is_nan():
        return "NaN"
    return "Infinity" if d > 0 else "-Infinity"


def numeric_scale(d: Decimal) -> int:
    """The display scale (digits after the point) of a finite numeric."""
    e = d.as_tuple().exponent
    return -e if isinstance(e, int) and e < 0 else 0


def numeric_round(d: Decimal, scale: int) -> Decimal:
    """Round half away from zero to ``scale`` digits (PostgreSQL's round_var)."""
    if not d.is_finite():
        return d
    try:
        r = d.quantize(Decimal((0, (1,), -scale)), rounding=ROUND_HALF_UP, context=DEC)
    except InvalidOperation:  # pragma: no cover - only for absurd scales
        raise NumericValueOutOfRange("value overflows numeric format") from None
    return normalize_numeric(r)


def float_to_numeric(v: float) -> Decimal:
    """float8 -> numeric as PostgreSQL: through the float's shortest text (0.1 is 0.1)."""
    if v != v:
        return NUMERIC_NAN
    if math.isinf(v):
        return NUMERIC_INF if v > 0 else NUMERIC_NINF
    return normalize_numeric(Decimal(f"{v:.15g}"))  # PostgreSQL's float8_numeric: DBL_DIG


def float4_to_numeric(v: float) -> Decimal:
    if v != v or math.isinf(v):
        return float_to_numeric(v)
    return normalize_numeric(Decimal(f"{v:.6g}"))  # float4_numeric: FLT_DIG digits


def numeric_to_float(d: Decimal, typename: str = "double precision") -> float:
    if d.is_nan():
        return math.nan
    v = float(d)
    if d.is_finite() and (math.isinf(v) or (v == 0.0 and not d.is_zero())):
        raise NumericValueOutOfRange(
            f"value out of range: {'overflow' if math.isinf(v) else 'underflow'}"
        )
    if typename == "real" and not math.isinf(v):
        try:
            v = to_float4(v)
        except OverflowError:
            raise NumericValueOutOfRange("value out of range: overflow") from None
    return v
