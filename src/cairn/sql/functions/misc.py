"""Miscellaneous built-ins: concat, concat_ws, format, version, pg_typeof, encode/decode,
gen_random_uuid, num_nulls/num_nonnulls, and generate_series over integers and numeric.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from decimal import Decimal

from cairn.sql.errors import InvalidParameterValue, SqlError
from cairn.sql.functions.registry import ANY, FUNCTIONS
from cairn.sql.functions.strings import quote_ident, quote_literal
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types.io import output_function
from cairn.sql.types.text import bytea_escape_out, bytea_in

TEXT, INT4, INT8, NU = T.TEXT, T.INT4, T.INT8, T.NUMERIC
F = FUNCTIONS.add

VERSION = (
    "PostgreSQL 15.0 (cairn 0.1.0, a working model in Python) on x86_64-pc-linux-gnu, "
    "compiled by CPython, 64-bit"
)


def _outs(bound) -> list:
    return [output_function(t) for t in bound]


def _concat_factory(bound):
    outs = _outs(bound)

    def concat(*args) -> str:
        ctx = args[-1]
        return "".join(o(v, ctx) for o, v in zip(outs, args[:-1], strict=True) if v is not None)

    return concat


def _concat_ws_factory(bound):
    outs = _outs(bound)

    def concat_ws(sep, *args) -> str | None:
        ctx = args[-1]
        if sep is None:
            return None
        return sep.join(
            o(v, ctx) for o, v in zip(outs[1:], args[:-1], strict=True) if v is not None
        )

    return concat_ws


F("concat", (ANY,), TEXT, factory=_concat_factory, variadic=ANY, strict=False, volatility="s")
F(
    "concat_ws",
    (TEXT, ANY),
    TEXT,
    factory=_concat_ws_factory,
    variadic=ANY,
    strict=False,
    volatility="s",
)

_FMT = re.compile(r"%(?:(\d+)\$)?(-)?(\*(?:\d+\$)?|\d+)?([sIL%])")


def _format_factory(bound):
    outs = _outs(bound)

    def fmt(f: str | None, *args) -> str | None:
        ctx = args[-1]
        vals = args[:-1]
        if f is None:
            return None
        out = []
        pos = 0
        nxt = 0
        for m in _FMT.finditer(f):
            out.append(f[pos : m.start()])
            pos = m.end()
            argn, minus, width, kind = m.groups()
            if kind == "%":
                out.append("%")
                continue
            w = None
            if width:
                if width.startswith("*"):
                    if nxt >= len(vals):
                        raise InvalidParameterValue("too few arguments for format()")
                    w = vals[nxt]
                    nxt += 1
                else:
                    w = int(width)
            if argn is not None:
                idx = int(argn) - 1
                if idx < 0:
                    raise InvalidParameterValue(
                        "format specifies argument 0, but arguments are numbered from 1"
                    )
            else:
                idx = nxt
            if idx >= len(vals):
                raise InvalidParameterValue("too few arguments for format()")
            nxt = idx + 1
            v = vals[idx]
            if kind == "I":
                if v is None:
                    raise SqlError(
                        "null values cannot be formatted as an SQL identifier", sqlstate="22004"
                    )
                s = quote_ident(outs[idx + 1](v, ctx))
            elif kind == "L":
                s = "NULL" if v is None else quote_literal(outs[idx + 1](v, ctx))
            else:
                s = "" if v is None else outs[idx + 1](v, ctx)
            if w is not None:
                if w < 0:
                    minus, w = "-", -w
                s = s.ljust(w) if minus else s.rjust(w)
            out.append(s)
        rest = f[pos:]
        if "%" in rest:
            raise InvalidParameterValue(
                "unterminated format() type specifier", hint='For a single "%" use "%%".'
            )
        out.append(rest)
        return "".join(out)

    return fmt


F("format", (TEXT, ANY), TEXT, factory=_format_factory, variadic=ANY, strict=False, volatility="s")
F("version", (), TEXT, lambda ctx: VERSION, volatility="s")
F(
    "pg_typeof",
    (ANY,),
    T.REGTYPE,
    factory=lambda bound: lambda v, ctx, o=bound[0].oid: o,
    strict=False,
    volatility="s",
)
F("gen_random_uuid", (), T.UUID, lambda ctx: uuid.uuid4(), volatility="v")
F(
    "num_nulls",
    (ANY,),
    INT4,
    lambda *a: sum(1 for v in a[:-1] if v is None),
    variadic=ANY,
    strict=False,
)
F(
    "num_nonnulls",
    (ANY,),
    INT4,
    lambda *a: sum(1 for v in a[:-1] if v is not None),
    variadic=ANY,
    strict=False,
)


def encode(b: bytes, fmt: str, ctx=None) -> str:
    f = fmt.lower()
    if f == "hex":
        return binascii.hexlify(b).decode()
    if f == "base64":
        s = base64.b64encode(b).decode()
        return "\n".join(s[i : i + 76] for i in range(0, len(s), 76))
    if f == "escape":
        return bytea_escape_out(b)
    raise InvalidParameterValue(f'unrecognized encoding: "{fmt}"')


def decode(s: str, fmt: str, ctx=None) -> bytes:
    f = fmt.lower()
    if f == "hex":
        s2 = re.sub(r"\s", "", s)
        if len(s2) % 2:
            raise InvalidParameterValue("invalid hexadecimal data: odd number of digits")
        try:
            return bytes.fromhex(s2)
        except ValueError:
            bad = next(c for c in s2 if c not in "0123456789abcdefABCDEF")
            raise InvalidParameterValue(f'invalid hexadecimal digit: "{bad}"') from None
    if f == "base64":
        try:
            return base64.b64decode(re.sub(r"\s", "", s), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValue(
                "invalid base64 end sequence",
                hint="Input data is missing padding, is truncated, or is otherwise corrupted.",
            ) from None
    if f == "escape":
        return bytea_in(s) if not s.startswith("\\x") else s.encode()
    raise InvalidParameterValue(f'unrecognized encoding: "{fmt}"')


F("encode", (T.BYTEA, TEXT), TEXT, encode)
F("decode", (TEXT, TEXT), T.BYTEA, decode)
F("convert_to", (TEXT, TEXT), T.BYTEA, lambda s, e, ctx: s.encode())
F("convert_from", (T.BYTEA, TEXT), TEXT, lambda b, e, ctx: b.decode())


# --- generate_series over numbers --------------------------------------------------------------


def int_series(start: int, stop: int, step: int = 1, ctx=None) -> range:
    if step == 0:
        raise InvalidParameterValue("step size cannot equal zero")
    return range(start, stop + (1 if step > 0 else -1), step)


def numeric_series(start: Decimal, stop: Decimal, step: Decimal = Decimal(1), ctx=None) -> list:
    for v, what in ((start, "start"), (stop, "stop"), (step, "step size")):
        if v.is_nan():
            raise InvalidParameterValue(f"{what} cannot be NaN")
        if v.is_infinite():
            raise InvalidParameterValue(f"{what} cannot be infinity")
    if step.is_zero():
        raise InvalidParameterValue("step size cannot equal zero")
    out = []
    v = start
    while (v <= stop) if step > 0 else (v >= stop):
        out.append(N.normalize_numeric(v))
        v = N.DEC.add(v, step)
    return out


def _int_series(a, b, *rest):
    step = rest[0] if len(rest) == 2 else 1
    return list(int_series(a, b, step))


F("generate_series", (INT4, INT4), INT4, _int_series, retset=True)
F("generate_series", (INT4, INT4, INT4), INT4, _int_series, retset=True)
F("generate_series", (INT8, INT8), INT8, _int_series, retset=True)
F("generate_series", (INT8, INT8, INT8), INT8, _int_series, retset=True)
F("generate_series", (NU, NU), NU, lambda a, b, ctx: numeric_series(a, b), retset=True)
F("generate_series", (NU, NU, NU), NU, numeric_series, retset=True)
F(
    "generate_subscripts",
    (T.ANYARRAY, INT4),
    INT4,
    lambda a, d, ctx: list(range(1, (_dim(a, d) or 0) + 1)),
    retset=True,
)


def _dim(a: list, d: int) -> int | None:
    from cairn.sql.types.arrays import dims

    ds = dims(a)
    return ds[d - 1] if 1 <= d <= len(ds) else None
