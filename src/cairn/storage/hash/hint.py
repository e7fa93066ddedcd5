"""Hint files: a merged segment's key directory on disk, for fast restart (Bitcask's ``.hint``).

Rebuilding the key directory from a data file means reading and checksumming every value; a
hint file lists only where each record is, so restart reads a few bytes per key instead.
Merge writes one hint file next to each output segment, after the segment itself is durable.

Byte layout (little-endian)::

    hint    := magic "CHNT"  version:u32  data_size:u64  count:u64  entry*  crc:u32
    entry   := flags:u8  klen:u32  record_length:u32  offset:u64  key[klen]

``data_size`` is the size of the segment the hint describes and ``crc`` the CRC-32C of every
byte before it. A hint whose checksum, structure or ``data_size`` does not match is not trusted:
recovery falls back to scanning the segment itself, so a damaged hint costs time, never data.
"""

from __future__ import annotations

import struct

from crc32c import crc32c

MAGIC = b"CHNT"
VERSION = 1
HEAD = struct.Struct("<4sIQQ")
ENTRY = struct.Struct("<BIIQ")
TAIL = struct.Struct("<I")


class HintBuilder:
    """Accumulates the entries of one output segment while merge writes it."""

    __slots__ = ("_count", "_parts")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._count = 0

    def add(self, flags: int, key: bytes, offset: int, length: int) -> None:
        self._parts.append(ENTRY.pack(flags, len(key), length, offset))
        self._parts.append(key)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def encode(self, data_size: int) -> bytes:
        body = HEAD.pack(MAGIC, VERSION, data_size, self._count) + b"".join(self._parts)
        return body + TAIL.pack(crc32c(body))


def decode_hint(data: bytes, data_size: int) -> list[tuple[int, bytes, int, int]] | None:
    """The ``(flags, key, offset, length)`` entries of a hint file, or ``None`` if the hint
    cannot be trusted for a segment of ``data_size`` bytes."""
    if len(data) < HEAD.size + TAIL.size:
        return None
    (crc,) = TAIL.unpack_from(data, len(data) - TAIL.size)
    if crc32c(memoryview(data)[: len(data) - TAIL.size]) != crc:
        return None
    magic, version, size, count = HEAD.unpack_from(data, 0)
    if magic != MAGIC or version != VERSION or size != data_size:
        return None
    out: list[tuple[int, bytes, int, int]] = []
    pos = HEAD.size
    end = len(data) - TAIL.size
    unpack = ENTRY.unpack_from
    esize = ENTRY.size
    for _ in range(count):
        if pos + esize > end:
            return None
        flags, klen, length, offset = unpack(data, pos)
        kstart = pos + esize
        pos = kstart + klen
        if pos > end or offset + length > data_size:
            return None
        out.append((flags, data[kstart:pos], offset, length))
    if pos != end:
        return None
    return out
