"""Variable-length integers, the building block shared by Avro, Protocol Buffers and Thrift's
compact protocol (DDIA fig. 4-3 to 4-5).

A varint stores 7 bits per byte, least significant group first, with the high bit set on every
byte but the last. Signed values are first *zig-zag* mapped (0, -1, 1, -2, ... to 0, 1, 2, 3,
...) so that small negative numbers stay short. A 64-bit value needs at most 10 bytes; a longer
varint is rejected instead of being read forever.
"""

from __future__ import annotations

from cairn.encoding.errors import DecodeError

MAX_VARINT_BYTES = 10
_U64 = (1 << 64) - 1


def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def write_uvarint(out: bytearray, n: int) -> None:
    """Append unsigned ``n`` (0 <= n < 2**64) as a varint."""
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def uvarint_bytes(n: int) -> bytes:
    out = bytearray()
    write_uvarint(out, n)
    return bytes(out)


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at ``pos``; return ``(value, next_pos)``.

    Raises :class:`DecodeError` when the input ends inside the varint, when it runs over 10
    bytes, or when the value does not fit in 64 bits.
    """
    start = pos
    end = len(buf)
    if pos >= end:
        raise DecodeError("truncated: expected a varint", pos)
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    result = b & 0x7F
    shift = 7
    while True:
        if pos >= end:
            raise DecodeError("truncated varint", start)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 7 * MAX_VARINT_BYTES:
            raise DecodeError("varint longer than 10 bytes", start)
    if result > _U64:
        raise DecodeError("varint does not fit in 64 bits", start)
    return result, pos


def read_bytes(buf: bytes, pos: int, n: int, what: str = "bytes") -> tuple[bytes, int]:
    """Take ``n`` bytes at ``pos``, or fail if the length runs past the end of the input."""
    if n < 0:
        raise DecodeError(f"negative length {n} for {what}", pos)
    end = pos + n
    if end > len(buf):
        raise DecodeError(f"length {n} of {what} runs past the end of the input "
                          f"({len(buf) - pos} bytes left)", pos)
    return bytes(buf[pos:end]), end


def read_utf8(buf: bytes, pos: int, n: int) -> tuple[str, int]:
    if n < 0:
        raise DecodeError(f"negative string length {n}", pos)
    end = pos + n
    if end > len(buf):
        raise DecodeError(f"string length {n} runs past the end of the input "
                          f"({len(buf) - pos} bytes left)", pos)
    try:
        return str(buf[pos:end], "utf-8"), end
    except UnicodeDecodeError as exc:
        raise DecodeError(f"invalid UTF-8 in string: {exc.reason}", pos + exc.start) from None
