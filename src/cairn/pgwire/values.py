"""Values on the wire: each column's encoder and each parameter's decoder, text or binary.

A client picks a format per parameter and per result column in Bind (0 text, 1 binary; no codes
means all text, one code means all columns). Text is PostgreSQL's output/input function of the
type in the session's settings (TimeZone, DateStyle...), binary its send/recv function; both
come from ``cairn.sql.types``. Encoders are built once per portal and called per value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cairn.sql import SqlError
from cairn.sql import types as T

Encoder = Callable[[Any], bytes]


def formats_for(codes: Sequence[int], n: int, what: str) -> list[int]:
    """Expand Bind's format codes to ``n`` entries (protocol rule: 0, 1 or n codes)."""
    if not codes:
        return [0] * n
    if len(codes) == 1:
        return [codes[0]] * n
    if len(codes) != n:
        raise SqlError(f"bind message has {len(codes)} {what} formats but {n} "
                       f"{'parameters' if what == 'parameter' else 'columns'}", sqlstate="08P01")
    return list(codes)


def encoder(t: T.SqlType, fmt: int, ctx: Any) -> Encoder:
    if fmt == 1:
        send = T.send_function(t)
        return lambda v: bytes(send(v))
    out = T.output_function(t)
    return lambda v: out(v, ctx).encode()


def encoders(types: Sequence[T.SqlType], formats: Sequence[int], ctx: Any) -> list[Encoder]:
    return [encoder(t, f, ctx) for t, f in zip(types, formats, strict=True)]


def encode_row(row: Sequence[Any], encs: Sequence[Encoder]) -> list[bytes | None]:
    return [None if v is None else e(v) for v, e in zip(row, encs, strict=True)]


def resolve_type(oid: int) -> T.SqlType | None:
    """The type a client declared for a parameter (0: unspecified, inferred by the server)."""
    if oid == 0:
        return None
    try:
        return T.by_oid(oid)
    except SqlError:
        raise SqlError(f"type with OID {oid} does not exist", sqlstate="42704") from None


def decode_param(raw: bytes | None, fmt: int, t: T.SqlType | None, ctx: Any, index: int
                 ) -> Any:
    """A Bind parameter as a Python value. A text parameter of unknown type stays a ``str``,
    which cairn.sql treats as PostgreSQL's untyped literal (resolved by its context)."""
    if raw is None:
        return None
    if fmt == 1:
        if t is None or t.oid == T.UNKNOWN.oid:
            raise SqlError(f"could not determine data type of parameter ${index}",
                           sqlstate="42P18")
        try:
            return T.recv_binary(t, raw)
        except SqlError:
            raise
        except Exception:
            raise SqlError(f"incorrect binary data format in bind parameter {index}",
                           sqlstate="22P03") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SqlError('invalid byte sequence for encoding "UTF8"', sqlstate="22021") from None
    if "\0" in text:
        raise SqlError("invalid byte sequence for encoding \"UTF8\": 0x00", sqlstate="22021")
    if t is None or t.oid in (T.UNKNOWN.oid, T.TEXT.oid, T.VARCHAR.oid, T.NAME.oid):
        return text
    return T.parse_input(t, text, ctx)
