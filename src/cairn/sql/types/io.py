"""Text input and output of every type: ``parse_input`` and ``format_output``.

For speed the executor should fetch ``input_function(t)`` / ``output_function(t)`` once per
column and call the returned closure per row: the closures are built once per type (typmods
included) and cached, so a row pays one Python call, not a dispatch through layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cairn.sql.errors import FeatureNotSupported
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types import text as X
from cairn.sql.types.context import EvalContext

Input = Callable[[str, EvalContext | None], Any]
Output = Callable[[Any, EvalContext | None], str]

# Per base-type OID: a context-free text function, or one taking the context (datetimes).
_PLAIN_IN: dict[int, Callable[[str], Any]] = {
    T.INT2.oid: N.make_int_input("smallint"),
    T.INT4.oid: N.make_int_input("integer"),
    T.INT8.oid: N.make_int_input("bigint"),
    T.OID.oid: N.make_int_input("oid"),
    T.FLOAT4.oid: N.make_float_input("real"),
    T.FLOAT8.oid: N.make_float_input("double precision"),
    T.NUMERIC.oid: N.numeric_in,
    T.BOOL.oid: X.bool_in,
    T.TEXT.oid: X.text_in,
    T.VARCHAR.oid: X.text_in,
    T.BPCHAR.oid: X.text_in,
    T.NAME.oid: X.text_in,
    T.UNKNOWN.oid: X.text_in,
    T.BYTEA.oid: X.bytea_in,
    T.UUID.oid: X.uuid_in,
}
_PLAIN_OUT: dict[int, Callable[[Any], str]] = {
    T.INT2.oid: str,
    T.INT4.oid: str,
    T.INT8.oid: str,
    T.OID.oid: str,
    T.FLOAT4.oid: N.float4_out,
    T.FLOAT8.oid: N.float8_out,
    T.NUMERIC.oid: N.numeric_out,
    T.BOOL.oid: X.bool_out,
    T.TEXT.oid: str,
    T.VARCHAR.oid: str,
    T.BPCHAR.oid: str,
    T.NAME.oid: str,
    T.UNKNOWN.oid: str,
    T.BYTEA.oid: X.bytea_out,
    T.UUID.oid: X.uuid_out,
}
_CTX_IN: dict[int, Callable[[str, EvalContext | None], Any]] = {}
_CTX_OUT: dict[int, Callable[[Any, EvalContext | None], str]] = {}


def register(oid: int, *, text_in=None, text_out=None, ctx_in=None, ctx_out=None) -> None:
    """Used by the type modules below to add their functions (at import time only)."""
    if text_in:
        _PLAIN_IN[oid] = text_in
    if text_out:
        _PLAIN_OUT[oid] = text_out
    if ctx_in:
        _CTX_IN[oid] = ctx_in
    if ctx_out:
        _CTX_OUT[oid] = ctx_out


_IN_CACHE: dict[T.SqlType, Input] = {}
_OUT_CACHE: dict[T.SqlType, Output] = {}


def input_function(t: T.SqlType) -> Input:
    """The text input function of ``t`` (typmod applied), as ``f(text, ctx) -> value``."""
    f = _IN_CACHE.get(t)
    if f is None:
        f = _IN_CACHE[t] = _build_input(t)
    return f


def output_function(t: T.SqlType) -> Output:
    """The text output function of ``t``, as ``f(value, ctx) -> str`` (value not None)."""
    f = _OUT_CACHE.get(t)
    if f is None:
        f = _OUT_CACHE[t] = _build_output(t)
    return f


def parse_input(t: T.SqlType, text: str, ctx: EvalContext | None = None) -> Any:
    """PostgreSQL's text input of ``t`` (``'42'::integer``); typed errors on bad input."""
    return input_function(t)(text, ctx)


def format_output(t: T.SqlType, value: Any, ctx: EvalContext | None = None) -> str:
    """PostgreSQL's text output of a non-NULL value of ``t``."""
    return output_function(t)(value, ctx)


def _build_input(t: T.SqlType) -> Input:
    if t.element is not None:
        from cairn.sql.types.arrays import make_array_input

        return make_array_input(t, input_function(t.element))
    plain = _PLAIN_IN.get(t.oid)
    if plain is not None:
        base: Input = lambda s, ctx, f=plain: f(s)  # noqa: E731
    elif t.oid in _CTX_IN:
        base = _CTX_IN[t.oid]
    else:
        raise FeatureNotSupported(f"input of type {t.name} is not supported")
    if t.typmod == -1:
        return base
    from cairn.sql.types.typmod import coerce_typmod

    return lambda s, ctx: coerce_typmod(base(s, ctx), t, False, ctx)


def _build_output(t: T.SqlType) -> Output:
    if t.element is not None:
        from cairn.sql.types.arrays import make_array_output

        return make_array_output(t, output_function(t.element))
    plain = _PLAIN_OUT.get(t.oid)
    if plain is not None:
        return lambda v, ctx, f=plain: f(v)
    if t.oid in _CTX_OUT:
        return _CTX_OUT[t.oid]
    raise FeatureNotSupported(f"output of type {t.name} is not supported")


def _register_builtin() -> None:
    from cairn.sql.types import datetimes as D
    from cairn.sql.types import interval as IV
    from cairn.sql.types import jsontypes as J

    register(T.DATE.oid, ctx_in=D.date_in, text_out=D.date_out)
    register(T.TIME.oid, ctx_in=D.time_in, text_out=D.time_out)
    register(T.TIMESTAMP.oid, ctx_in=D.timestamp_in, text_out=D.timestamp_out)
    register(T.TIMESTAMPTZ.oid, ctx_in=D.timestamptz_in, ctx_out=D.timestamptz_out)
    register(T.INTERVAL.oid, text_in=IV.interval_in, text_out=IV.interval_out)
    register(T.JSON.oid, text_in=J.json_in, text_out=str)
    register(T.JSONB.oid, text_in=J.jsonb_in, text_out=J.jsonb_out)
    register(T.REGCLASS.oid, text_in=N.make_int_input("oid"), text_out=str)
    register(
        T.REGTYPE.oid,
        text_in=lambda s: T.parse_type(s.strip()).oid,
        text_out=T.regtype_name,
    )
    register(T.VOID.oid, text_in=lambda s: None, text_out=lambda v: "")

    def float_out(shortest, digits: int):
        def out(v: float, ctx: EvalContext | None) -> str:
            if ctx is None or ctx.extra_float_digits > 0:
                return shortest(v)
            return N.float_out_digits(v, digits + ctx.extra_float_digits)

        return out

    _PLAIN_OUT.pop(T.FLOAT8.oid)
    _PLAIN_OUT.pop(T.FLOAT4.oid)
    register(T.FLOAT8.oid, ctx_out=float_out(N.float8_out, 15))
    register(T.FLOAT4.oid, ctx_out=float_out(N.float4_out, 6))
    register(T.RECORD.oid, text_in=str, text_out=str)


_register_builtin()
