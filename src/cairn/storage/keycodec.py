"""Order-preserving encoding of tuples into byte keys.

An ordered engine sorts keys as bytes. To put structured keys in it (a table id, then an indexed
value, then a primary key) the encoding must preserve order: ``a < b`` as tuples exactly when
``pack(a) < pack(b)`` as bytes, and a tuple's encoding must be a prefix of every longer tuple
that starts with it, so that "all rows whose first column is X" is one range scan. This is the
idea behind FoundationDB's tuple layer and CockroachDB's key encoding; the byte layout here is
our own.

Supported elements, in their sort order: ``None`` < ``False`` < ``True`` < integers (any size)
< floats < ``str`` < ``bytes``. (Mixing ints and floats in one column sorts all ints first; a
typed column should not mix them.)

Layout, one tag byte per element:

* ``0x00`` None; ``0x01`` False; ``0x02`` True
* integers: ``0x14`` is zero; a positive integer of n big-endian bytes is ``0x14 + n`` then its
  bytes; a negative one is ``0x14 - n`` then the bytes of its one's complement, so bigger
  magnitudes sort first. n <= 8 use one tag; larger ones use ``0x1D``/``0x0B`` + a length byte.
* floats: ``0x21`` then the 8 IEEE-754 bytes, with the sign bit flipped for positives and all
  bits flipped for negatives (so the bytes sort like the numbers; NaN sorts last).
* strings: ``0x30`` then UTF-8 with ``0x00`` escaped as ``0x00 0xFF``, ended by
  ``0x00``; bytes: ``0x31`` and the same escaping. The terminator sorts below any escaped byte,
  so "ab" < "abc" as it should.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from cairn.storage.errors import StorageError

Element = None | bool | int | float | str | bytes

NONE, FALSE, TRUE = 0x00, 0x01, 0x02
INT_ZERO = 0x14
INT_POS_BIG, INT_NEG_BIG = 0x1D, 0x0B
FLOAT = 0x21
STR, BYTES = 0x30, 0x31


class KeyCodecError(StorageError, ValueError):
    """A value that cannot be encoded, or bytes that are not a packed tuple."""


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00"


def _encode_int(v: int, out: bytearray) -> None:
    if v == 0:
        out.append(INT_ZERO)
        return
    n = (abs(v).bit_length() + 7) // 8
    if v > 0:
        raw = v.to_bytes(n, "big")
        if n <= 8:
            out.append(INT_ZERO + n)
        else:
            if n > 255:
                raise KeyCodecError("integer too large for a key")
            out += bytes((INT_POS_BIG, n))
        out += raw
    else:
        raw = ((1 << (8 * n)) - 1 + v).to_bytes(n, "big")  # one's complement of |v|
        if n <= 8:
            out.append(INT_ZERO - n)
        else:
            if n > 255:
                raise KeyCodecError("integer too large for a key")
            out += bytes((INT_NEG_BIG, 255 - n))
        out += raw


def pack(values: Iterable[Element]) -> bytes:
    out = bytearray()
    for v in values:
        if v is None:
            out.append(NONE)
        elif v is True:
            out.append(TRUE)
        elif v is False:
            out.append(FALSE)
        elif type(v) is int:
            _encode_int(v, out)
        elif type(v) is float:
            bits = struct.unpack(">Q", struct.pack(">d", v))[0]
            bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
            out.append(FLOAT)
            out += struct.pack(">Q", bits)
        elif type(v) is str:
            out.append(STR)
            out += _escape(v.encode("utf-8"))
        elif type(v) is bytes:
            out.append(BYTES)
            out += _escape(v)
        else:
            raise KeyCodecError(f"cannot encode {type(v).__name__} in a key")
    return bytes(out)


def _unescape(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(data)
    while True:
        end = data.find(b"\x00", pos)
        if end < 0:
            raise KeyCodecError(f"unterminated string at offset {pos}")
        out += data[pos:end]
        if end + 1 < n and data[end + 1] == 0xFF:
            out.append(0)
            pos = end + 2
        else:
            return bytes(out), end + 1


def unpack(data: bytes) -> tuple[Element, ...]:
    out: list[Element] = []
    pos = 0
    n = len(data)
    while pos < n:
        tag = data[pos]
        pos += 1
        if tag == NONE:
            out.append(None)
        elif tag == FALSE:
            out.append(False)
        elif tag == TRUE:
            out.append(True)
        elif INT_NEG_BIG <= tag <= INT_POS_BIG:
            if tag == INT_ZERO:
                out.append(0)
                continue
            if tag == INT_POS_BIG:
                length, pos = data[pos], pos + 1
            elif tag == INT_NEG_BIG:
                length, pos = 255 - data[pos], pos + 1
            else:
                length = abs(tag - INT_ZERO)
            raw = data[pos:pos + length]
            if len(raw) != length:
                raise KeyCodecError(f"truncated integer at offset {pos}")
            pos += length
            v = int.from_bytes(raw, "big")
            out.append(v if tag > INT_ZERO else v - ((1 << (8 * length)) - 1))
        elif tag == FLOAT:
            if pos + 8 > n:
                raise KeyCodecError(f"truncated float at offset {pos}")
            bits = struct.unpack(">Q", data[pos:pos + 8])[0]
            bits = bits ^ (1 << 63) if bits >> 63 else bits ^ 0xFFFFFFFFFFFFFFFF
            out.append(struct.unpack(">d", struct.pack(">Q", bits))[0])
            pos += 8
        elif tag == STR:
            raw, pos = _unescape(data, pos)
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise KeyCodecError(f"invalid UTF-8 in key at offset {pos}") from exc
        elif tag == BYTES:
            raw, pos = _unescape(data, pos)
            out.append(raw)
        else:
            raise KeyCodecError(f"unknown tag 0x{tag:02x} at offset {pos - 1}")
    return tuple(out)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return None
    p[-1] += 1
    return bytes(p)
