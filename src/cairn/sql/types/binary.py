"""PostgreSQL's binary wire formats (``typsend``/``typreceive``) for every built-in type.

Integers and floats are big-endian; numeric is its base-10000 digit form (ndigits, weight,
sign, dscale, digits); date is int32 days and timestamps int64 microseconds since 2000-01-01
(infinities at the integer limits); interval is (micros int64, days int32, months int32);
jsonb is a version byte 1 and the text; arrays carry ndim, a has-NULL flag, the element OID,
(size, lower bound) per dimension and each element as int32 length + bytes (-1 = NULL).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cairn.sql.errors import FeatureNotSupported, SqlError
from cairn.sql.types import datetimes as D
from cairn.sql.types import jsontypes as J
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types.arrays import dims
from cairn.sql.types.interval import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, Interval

_H, _h, _i, _I, _q = (struct.Struct(f) for f in ("!H", "!h", "!i", "!I", "!q"))
_f, _d = struct.Struct("!f"), struct.Struct("!d")
_NUMERIC_HEAD = struct.Struct("!hhHH")
_INTERVAL = struct.Struct("!qii")
NUMERIC_POS, NUMERIC_NEG, NUMERIC_NAN = 0x0000, 0x4000, 0xC000
NUMERIC_PINF, NUMERIC_NINF = 0xD000, 0xF000


def _bad(msg: str = "insufficient data left in message") -> SqlError:
    return SqlError(msg, sqlstate="08P01")


def numeric_send(v: Decimal) -> bytes:
    if v.is_nan():
        return _NUMERIC_HEAD.pack(0, 0, NUMERIC_NAN, 0)
    if v.is_infinite():
        # PostgreSQL 15 sends infinities with dscale 32 (the header bits of its packed form)
        return _NUMERIC_HEAD.pack(0, 0, NUMERIC_PINF if v > 0 else NUMERIC_NINF, 32)
    sign, digits, exp = v.as_tuple()
    dscale = max(0, -exp)
    ds = "".join(map(str, digits))
    if exp >= 0:
        ip, fp = ds + "0" * exp, ""
    else:
        ds = ds.rjust(-exp + 1, "0")
        ip, fp = ds[:exp], ds[exp:]
    ip = ip.lstrip("0")
    ip = ip.rjust((len(ip) + 3) // 4 * 4, "0")
    fp = fp.ljust((len(fp) + 3) // 4 * 4, "0")
    groups = [int(ip[i : i + 4]) for i in range(0, len(ip), 4)] + [
        int(fp[i : i + 4]) for i in range(0, len(fp), 4)
    ]
    weight = len(ip) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    head = _NUMERIC_HEAD.pack(len(groups), weight, NUMERIC_NEG if sign and groups else 0, dscale)
    return head + struct.pack(f"!{len(groups)}h", *groups)


def numeric_recv(b: bytes) -> Decimal:
    if len(b) < 8:
        raise _bad()
    n, weight, sign, dscale = _NUMERIC_HEAD.unpack_from(b)
    if sign == NUMERIC_NAN:
        return N.NUMERIC_NAN
    if sign == NUMERIC_PINF:
        return N.NUMERIC_INF
    if sign == NUMERIC_NINF:
        return N.NUMERIC_NINF
    if sign not in (NUMERIC_POS, NUMERIC_NEG) or len(b) != 8 + 2 * n:
        raise SqlError(
            'invalid sign in external "numeric" value'
            if sign not in (NUMERIC_POS, NUMERIC_NEG)
            else "insufficient data left in message",
            sqlstate="22P03",
        )
    groups = struct.unpack_from(f"!{n}h", b, 8)
    value = 0
    for g in groups:
        if not 0 <= g < 10000:
            raise SqlError('invalid digit in external "numeric" value', sqlstate="22P03")
        value = value * 10000 + g
    exp10 = (weight - n + 1) * 4
    d = Decimal(value).scaleb(exp10, context=N.DEC)
    if sign == NUMERIC_NEG:
        d = d.copy_negate()  # exact (unary minus would round to 28 digits)
    return N.numeric_round(d, dscale)


def _ts_send(v: Any) -> bytes:
    if isinstance(v, float):
        return _q.pack(INT64_MAX if v > 0 else INT64_MIN)
    return _q.pack(D.timestamp_to_micros(v))


def _ts_recv(aware: bool) -> Callable[[bytes], Any]:
    def f(b: bytes) -> Any:
        (us,) = _q.unpack(b)
        if us == INT64_MAX:
            return D.INF
        if us == INT64_MIN:
            return D.NINF
        return D.micros_to_timestamp(us, aware)

    return f


def _date_send(v: Any) -> bytes:
    if isinstance(v, float):
        return _i.pack(INT32_MAX if v > 0 else INT32_MIN)
    return _i.pack(D.date_to_days(v))


def _date_recv(b: bytes) -> Any:
    (n,) = _i.unpack(b)
    if n == INT32_MAX:
        return D.INF
    if n == INT32_MIN:
        return D.NINF
    return D.days_to_date(n)


def _jsonb_recv(b: bytes) -> Any:
    if not b or b[0] != 1:
        raise SqlError(f"unsupported jsonb version number {b[0] if b else 0}", sqlstate="22P03")
    return J.jsonb_in(b[1:].decode())


def _text_recv(b: bytes) -> str:
    try:
        s = b.decode()
    except UnicodeDecodeError:
        raise SqlError('invalid byte sequence for encoding "UTF8"', sqlstate="22021") from None
    if "\x00" in s:
        raise SqlError('invalid byte sequence for encoding "UTF8": 0x00', sqlstate="22021")
    return s


def _unpack(s: struct.Struct) -> Callable[[bytes], Any]:
    def f(b: bytes) -> Any:
        if len(b) != s.size:
            raise _bad("incorrect binary data format")
        return s.unpack(b)[0]

    return f


_SEND: dict[int, Callable[[Any], bytes]] = {
    T.BOOL.oid: lambda v: b"\x01" if v else b"\x00",
    T.INT2.oid: _h.pack,
    T.INT4.oid: _i.pack,
    T.INT8.oid: _q.pack,
    T.OID.oid: _I.pack,
    T.REGCLASS.oid: _I.pack,
    T.FLOAT4.oid: _f.pack,
    T.FLOAT8.oid: _d.pack,
    T.NUMERIC.oid: numeric_send,
    T.TEXT.oid: str.encode,
    T.VARCHAR.oid: str.encode,
    T.BPCHAR.oid: str.encode,
    T.NAME.oid: str.encode,
    T.UNKNOWN.oid: str.encode,
    T.JSON.oid: str.encode,
    T.JSONB.oid: lambda v: b"\x01" + J.jsonb_out(v).encode(),
    T.BYTEA.oid: bytes,
    T.UUID.oid: lambda v: v.bytes,
    T.DATE.oid: _date_send,
    T.TIME.oid: lambda v: _q.pack(D.time_to_micros(v)),
    T.TIMESTAMP.oid: _ts_send,
    T.TIMESTAMPTZ.oid: _ts_send,
    T.INTERVAL.oid: lambda v: _INTERVAL.pack(v.micros, v.days, v.months),
    T.VOID.oid: lambda v: b"",
}
_RECV: dict[int, Callable[[bytes], Any]] = {
    T.BOOL.oid: lambda b: b != b"\x00",
    T.INT2.oid: _unpack(_h),
    T.INT4.oid: _unpack(_i),
    T.INT8.oid: _unpack(_q),
    T.OID.oid: _unpack(_I),
    T.REGCLASS.oid: _unpack(_I),
    T.FLOAT4.oid: _unpack(_f),
    T.FLOAT8.oid: _unpack(_d),
    T.NUMERIC.oid: numeric_recv,
    T.TEXT.oid: _text_recv,
    T.VARCHAR.oid: _text_recv,
    T.BPCHAR.oid: _text_recv,
    T.NAME.oid: _text_recv,
    T.UNKNOWN.oid: _text_recv,
    T.JSON.oid: lambda b: J.json_in(_text_recv(b)),
    T.JSONB.oid: _jsonb_recv,
    T.BYTEA.oid: bytes,
    T.UUID.oid: lambda b: uuid.UUID(bytes=b),
    T.DATE.oid: _date_recv,
    T.TIME.oid: lambda b: D.micros_to_time(_q.unpack(b)[0]),
    T.TIMESTAMP.oid: _ts_recv(False),
    T.TIMESTAMPTZ.oid: _ts_recv(True),
    T.INTERVAL.oid: lambda b: (lambda us, d, m: Interval(m, d, us))(*_INTERVAL.unpack(b)),
    T.VOID.oid: lambda b: None,
}


def _array_send(t: T.SqlType, v: list) -> bytes:
    elem = t.element
    assert elem is not None
    es = send_function(elem)
    ds = dims(v)
    flat: list = []

    def walk(x: Any) -> None:
        if isinstance(x, list):
            for y in x:
                walk(y)
        else:
            flat.append(x)

    walk(v)
    has_null = any(x is None for x in flat)
    out = [_i.pack(len(ds)), _i.pack(1 if has_null else 0), _I.pack(elem.oid)]
    for n in ds:
        out.append(_i.pack(n) + _i.pack(1))
    for x in flat:
        if x is None:
            out.append(_i.pack(-1))
        else:
            data = es(x)
            out.append(_i.pack(len(data)) + data)
    return b"".join(out)


def _array_recv(t: T.SqlType, b: bytes) -> list:
    elem = t.element
    assert elem is not None
    er = recv_function(elem)
    try:
        ndim, _flags, _eoid = struct.unpack_from("!iiI", b)
        pos = 12
        shape = []
        for _ in range(ndim):
            n, lb = struct.unpack_from("!ii", b, pos)
            if lb != 1:
                raise FeatureNotSupported("array lower bounds other than 1 are not supported")
            shape.append(n)
            pos += 8
        total = 1
        for n in shape:
            total *= n
        flat = []
        for _ in range(total if ndim else 0):
            (ln,) = _i.unpack_from(b, pos)
            pos += 4
            if ln == -1:
                flat.append(None)
            else:
                flat.append(er(b[pos : pos + ln]))
                pos += ln
    except struct.error:
        raise _bad() from None

    def build(level: int, items: list) -> list:
        if level == len(shape) - 1:
            return items
        step = len(items) // shape[level]
        return [build(level + 1, items[i : i + step]) for i in range(0, len(items), step)]

    return build(0, flat) if ndim else []


def send_function(t: T.SqlType) -> Callable[[Any], bytes]:
    """The binary output function of ``t`` (value not None)."""
    if t.element is not None:
        return lambda v: _array_send(t, v)
    try:
        return _SEND[t.oid]
    except KeyError:
        raise FeatureNotSupported(
            f"no binary output function available for type {t.name}"
        ) from None


def recv_function(t: T.SqlType) -> Callable[[bytes], Any]:
    """The binary input function of ``t`` (typmod applied as on text input)."""
    if t.element is not None:
        return lambda b: _array_recv(t, b)
    try:
        f = _RECV[t.oid]
    except KeyError:
        raise FeatureNotSupported(f"no binary input function available for type {t.name}") from None
    if t.typmod == -1:
        return f
    from cairn.sql.types.typmod import coerce_typmod

    return lambda b: coerce_typmod(f(b), t, False)


def send_binary(t: T.SqlType, value: Any) -> bytes:
    return send_function(t)(value)


def recv_binary(t: T.SqlType, data: bytes) -> Any:
    return recv_function(t)(data)
