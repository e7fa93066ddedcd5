"""The PostgreSQL frontend/backend protocol 3.0 as bytes: a strict parser of what clients send
and encoders of what the server answers (PostgreSQL manual, "Frontend/Backend Protocol",
"Message Formats").

Every message after the startup packet is ``type byte | int32 length (itself included) | body``;
the startup packet, SSLRequest, GSSENCRequest and CancelRequest have no type byte. The parser
trusts nothing: a length out of bounds, a string without its NUL, bytes left over at the end of a
message, a count that runs past the body or text that is not UTF-8 raise
:class:`ProtocolViolation` (SQLSTATE 08P01, or 22021 for encoding), which the connection turns
into a FATAL ErrorResponse and a closed socket, as PostgreSQL does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_3_0 = 3 << 16
PROTOCOL_3_2 = (3 << 16) | 2
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_STARTUP_PACKET = 10000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH

_i16 = struct.Struct("!h")
_u16 = struct.Struct("!H")
_i32 = struct.Struct("!i")
_u32 = struct.Struct("!I")
_hdr = struct.Struct("!ci")


class ProtocolViolation(Exception):
    """The client broke the protocol: FATAL, then the connection closes (08P01 by default)."""

    def __init__(self, message: str, sqlstate: str = "08P01", fatal: bool = True):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.fatal = fatal  # False: the framing is intact, an ERROR lets the session go on


class Reader:
    """Reads one message body; every read is bounds-checked, ``end()`` demands it is all used."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolViolation("insufficient data left in message")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self) -> int:
        return self._take(1)[0]

    def int16(self) -> int:
        return _i16.unpack(self._take(2))[0]

    def uint16(self) -> int:
        return _u16.unpack(self._take(2))[0]

    def int32(self) -> int:
        return _i32.unpack(self._take(4))[0]

    def uint32(self) -> int:
        return _u32.unpack(self._take(4))[0]

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def rest(self) -> bytes:
        return self._take(len(self.data) - self.pos)

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolViolation("invalid string in message")
        b = self.data[self.pos:end]
        self.pos = end + 1
        return decode_text(b)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolViolation("invalid message format")


def decode_text(b: bytes) -> str:
    """UTF-8 strictly (cairn speaks UTF8 only): PostgreSQL's 22021 on a bad byte sequence."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = b[exc.start:exc.start + 2]
        shown = " ".join(f"0x{c:02x}" for c in bad)
        raise ProtocolViolation(f'invalid byte sequence for encoding "UTF8": {shown}',
                                "22021", fatal=False) from None


# -- frontend messages ---------------------------------------------------------------------

@dataclass
class Startup:
    version: int
    params: dict[str, str]
    unknown_options: list[str] = field(default_factory=list)  # "_pq_.*" in 3.2+


@dataclass
class CancelRequest:
    pid: int
    secret: bytes


@dataclass
class SslRequest:
    pass


@dataclass
class GssEncRequest:
    pass


@dataclass
class Query:
    sql: str


@dataclass
class Parse:
    name: str
    sql: str
    param_oids: list[int]


@dataclass
class Bind:
    portal: str
    statement: str
    param_formats: list[int]
    params: list[bytes | None]
    result_formats: list[int]


@dataclass
class Describe:
    kind: str  # "S" statement, "P" portal
    name: str


@dataclass
class Execute:
    portal: str
    max_rows: int


@dataclass
class Close:
    kind: str
    name: str


@dataclass
class Sync:
    pass


@dataclass
class Flush:
    pass


@dataclass
class Terminate:
    pass


@dataclass
class AuthData:
    """'p': a password, SASLInitialResponse or SASLResponse; which one depends on the state."""

    data: bytes


@dataclass
class CopyData:
    data: bytes


@dataclass
class CopyDone:
    pass


@dataclass
class CopyFail:
    message: str


@dataclass
class FunctionCall:
    pass


def parse_startup(body: bytes) -> Startup | CancelRequest | SslRequest | GssEncRequest:
    """The packet after the length word of a new connection (or after an SSL/GSS refusal)."""
    r = Reader(body)
    code = r.int32()
    if code == SSL_REQUEST:
        r.end()
        return SslRequest()
    if code == GSSENC_REQUEST:
        r.end()
        return GssEncRequest()
    if code == CANCEL_REQUEST:
        pid = r.int32()
        secret = r.rest()
        if not 4 <= len(secret) <= 256:
            raise ProtocolViolation("invalid length of cancel request packet")
        return CancelRequest(pid, secret)
    major = code >> 16
    if major != 3:
        raise ProtocolViolation(
            f"unsupported frontend protocol {major}.{code & 0xFFFF}: server supports 3.0 to "
            "3.0", "0A000")
    params: dict[str, str] = {}
    unknown: list[str] = []
    while True:
        key = r.cstring()
        if key == "":
            break
        value = r.cstring()
        if key.startswith("_pq_."):
            unknown.append(key)
            continue
        if key in params:
            raise ProtocolViolation(f'duplicate startup parameter "{key}"')
        params[key] = value
    r.end()
    return Startup(code, params, unknown)


def _parse_query(r: Reader) -> Query:
    return Query(r.cstring())


def _parse_parse(r: Reader) -> Parse:
    name, sql = r.cstring(), r.cstring()
    n = r.int16()
    if n < 0:
        raise ProtocolViolation("invalid number of parameters")
    return Parse(name, sql, [r.uint32() for _ in range(n)])


def _parse_bind(r: Reader) -> Bind:
    portal, stmt = r.cstring(), r.cstring()
    nf = r.int16()
    if nf < 0:
        raise ProtocolViolation("invalid number of parameter format codes")
    formats = [r.int16() for _ in range(nf)]
    np_ = r.int16()
    if np_ < 0:
        raise ProtocolViolation("invalid number of parameters")
    params: list[bytes | None] = []
    for _ in range(np_):
        n = r.int32()
        if n < -1:
            raise ProtocolViolation("invalid parameter length")
        params.append(None if n == -1 else r.raw(n))
    nr = r.int16()
    if nr < 0:
        raise ProtocolViolation("invalid number of result format codes")
    results = [r.int16() for _ in range(nr)]
    for f in formats + results:
        if f not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {f}")
    return Bind(portal, stmt, formats, params, results)


def _parse_describe(r: Reader) -> Describe:
    kind = chr(r.byte())
    if kind not in "SP":
        raise ProtocolViolation(f"invalid DESCRIBE message subtype {ord(kind)}")
    return Describe(kind, r.cstring())


def _parse_close(r: Reader) -> Close:
    kind = chr(r.byte())
    if kind not in "SP":
        raise ProtocolViolation(f"invalid CLOSE message subtype {ord(kind)}")
    return Close(kind, r.cstring())


def _parse_execute(r: Reader) -> Execute:
    return Execute(r.cstring(), r.int32())


_FRONTEND: dict[bytes, Callable[[Reader], Any]] = {
    b"Q": _parse_query,
    b"P": _parse_parse,
    b"B": _parse_bind,
    b"D": _parse_describe,
    b"E": _parse_execute,
    b"C": _parse_close,
    b"S": lambda r: Sync(),
    b"H": lambda r: Flush(),
    b"X": lambda r: Terminate(),
    b"p": lambda r: AuthData(r.rest()),
    b"d": lambda r: CopyData(r.rest()),
    b"c": lambda r: CopyDone(),
    b"f": lambda r: CopyFail(r.cstring()),
    b"F": lambda r: (r.rest(), FunctionCall())[1],
}


def parse_message(kind: bytes, body: bytes) -> Any:
    """One typed frontend message; unknown types and malformed bodies: ProtocolViolation."""
    f = _FRONTEND.get(kind)
    if f is None:
        raise ProtocolViolation(f"invalid frontend message type {kind[0]}")
    r = Reader(body)
    msg = f(r)
    r.end()
    return msg


def check_length(length: int, limit: int) -> None:
    """A message's length word: at least itself (4), at most the server's bound."""
    if length < 4 or length - 4 > limit:
        raise ProtocolViolation("invalid message length")


# -- backend messages ----------------------------------------------------------------------

def message(kind: bytes, body: bytes = b"") -> bytes:
    return _hdr.pack(kind, len(body) + 4) + body


def cstr(s: str) -> bytes:
    return s.encode() + b"\0"


def authentication(code: int, data: bytes = b"") -> bytes:
    return message(b"R", _i32.pack(code) + data)


AUTH_OK = authentication(0)
AUTH_CLEARTEXT = authentication(3)


def auth_md5(salt: bytes) -> bytes:
    return authentication(5, salt)


def auth_sasl(mechanisms: Sequence[str]) -> bytes:
    return authentication(10, b"".join(cstr(m) for m in mechanisms) + b"\0")


def auth_sasl_continue(data: bytes) -> bytes:
    return authentication(11, data)


def auth_sasl_final(data: bytes) -> bytes:
    return authentication(12, data)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: bytes) -> bytes:
    return message(b"K", _i32.pack(pid) + secret)


def negotiate_protocol_version(newest_minor: int, unknown: Sequence[str]) -> bytes:
    return message(b"v", _i32.pack(newest_minor) + _i32.pack(len(unknown))
                   + b"".join(cstr(u) for u in unknown))


def ready_for_query(status: bytes) -> bytes:
    return message(b"Z", status)


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


EMPTY_QUERY = message(b"I")
PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")
COPY_DONE = message(b"c")


@dataclass
class FieldDesc:
    """One RowDescription entry (table OID and column number 0: cairn does not report them)."""

    name: str
    type_oid: int
    typlen: int
    typmod: int
    fmt: int = 0
    table_oid: int = 0
    column: int = 0


def row_description(fields: Sequence[FieldDesc]) -> bytes:
    parts = [_i16.pack(len(fields))]
    for f in fields:
        parts.append(cstr(f.name))
        parts.append(struct.pack("!ihihih", f.table_oid, f.column, f.type_oid,
                                 max(-32768, min(32767, f.typlen)), f.typmod, f.fmt))
    return message(b"T", b"".join(parts))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", _i16.pack(len(oids)) + b"".join(_u32.pack(o) for o in oids))


_NULL = _i32.pack(-1)


def data_row(values: Sequence[bytes | None]) -> bytes:
    parts = [_i16.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(_NULL)
        else:
            parts.append(_i32.pack(len(v)))
            parts.append(v)
    body = b"".join(parts)
    return _hdr.pack(b"D", len(body) + 4) + body


# ErrorResponse/NoticeResponse field codes (protocol "Error and Notice Message Fields").
ERROR_FIELDS = {"severity": b"S", "severity_v": b"V", "code": b"C", "message": b"M",
                "detail": b"D", "hint": b"H", "position": b"P", "schema": b"s",
                "table": b"t", "column": b"c", "constraint": b"n"}


def error_response(severity: str, code: str, msg: str, *, notice: bool = False,
                   **extra: str | int | None) -> bytes:
    parts = [b"S" + cstr(severity), b"V" + cstr(severity), b"C" + cstr(code), b"M" + cstr(msg)]
    for key, value in extra.items():
        if value is not None and value != "":
            parts.append(ERROR_FIELDS[key] + cstr(str(value)))
    return message(b"N" if notice else b"E", b"".join(parts) + b"\0")


def copy_in_response(ncols: int = 0) -> bytes:
    """'G': overall format 0 (text/csv), then one format code per column."""
    return message(b"G", b"\0" + _i16.pack(ncols) + _i16.pack(0) * ncols)


def copy_out_response(ncols: int = 0) -> bytes:
    return message(b"H", b"\0" + _i16.pack(ncols) + _i16.pack(0) * ncols)


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def notification(pid: int, channel: str, payload: str) -> bytes:
    return message(b"A", _i32.pack(pid) + cstr(channel) + cstr(payload))


def parse_error_fields(body: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse body (used by tests and docs to read what we sent)."""
    r = Reader(body)
    out: dict[str, str] = {}
    while True:
        code = r.byte()
        if code == 0:
            break
        out[chr(code)] = r.cstring()
    r.end()
    return out
