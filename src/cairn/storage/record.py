"""Checksummed frames: the unit of atomic, durable appends (log engine, Bitcask segments, WALs).

A *frame* holds one atomic batch of operations::

    frame   := crc:u32  length:u32  payload[length]        (little-endian; crc is the masked
                                                            CRC-32C of length + payload)
    payload := entry*
    entry   := op:u8  klen:u32  vlen:u32  key[klen]  value[vlen]      (op 1 = put, 2 = delete;
                                                                       a delete has vlen 0)

A batch is one frame, so it is all there after a crash or not at all: a frame cut by a crash
fails its checksum. :func:`scan_frames` tells the two ways a frame can fail apart:

* a **torn tail**: the bad frame is the last thing in the file (no valid frame follows). That is
  the expected result of a crash mid-append; recovery truncates it. Those bytes were never
  acknowledged, because acknowledgement comes after the fsync.
* **corruption**: a valid frame follows the bad one, so acknowledged data was damaged (bit rot,
  a misdirected write). That is reported as :class:`CorruptionError` with file and offset,
  never silently skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from cairn.storage.checksum import crc32c, mask, unmask
from cairn.storage.engine import Delete, Op, Put
from cairn.storage.errors import CorruptionError

FRAME_HEADER = struct.Struct("<II")
ENTRY_HEADER = struct.Struct("<BII")
OP_PUT = 1
OP_DELETE = 2
MAX_FRAME = 1 << 30  # a length past this is garbage, not a frame


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded entry; ``value_offset`` is relative to the start of the frame."""

    op: int
    key: bytes
    value: bytes
    value_offset: int


def encode_frame(ops: list[Op]) -> tuple[bytes, list[int]]:
    """Encode a batch; also return, per op, the value's offset from the frame's start."""
    parts: list[bytes] = []
    offsets: list[int] = []
    pos = FRAME_HEADER.size
    pack = ENTRY_HEADER.pack
    for op in ops:
        if type(op) is Put:
            parts.append(pack(OP_PUT, len(op.key), len(op.value)))
            parts.append(op.key)
            parts.append(op.value)
            pos += ENTRY_HEADER.size + len(op.key)
            offsets.append(pos)
            pos += len(op.value)
        else:
            parts.append(pack(OP_DELETE, len(op.key), 0))
            parts.append(op.key)
            pos += ENTRY_HEADER.size + len(op.key)
            offsets.append(pos)
    payload = b"".join(parts)
    length = struct.pack("<I", len(payload))
    crc = mask(crc32c(payload, crc32c(length)))
    return struct.pack("<I", crc) + length + payload, offsets


def decode_payload(payload: bytes | memoryview, path: str = "?", offset: int = 0) -> list[Entry]:
    entries: list[Entry] = []
    pos = 0
    n = len(payload)
    unpack = ENTRY_HEADER.unpack_from
    hsize = ENTRY_HEADER.size
    while pos < n:
        if pos + hsize > n:
            raise CorruptionError("entry header past the end of its frame", path=path,
                                  offset=offset + FRAME_HEADER.size + pos)
        op, klen, vlen = unpack(payload, pos)
        kstart = pos + hsize
        vstart = kstart + klen
        end = vstart + vlen
        if op not in (OP_PUT, OP_DELETE) or end > n:
            raise CorruptionError(f"malformed entry (op={op}, klen={klen}, vlen={vlen})",
                                  path=path, offset=offset + FRAME_HEADER.size + pos)
        entries.append(Entry(op, bytes(payload[kstart:vstart]), bytes(payload[vstart:end]),
                             FRAME_HEADER.size + vstart))
        pos = end
    return entries


def entries_to_ops(entries: list[Entry]) -> list[Op]:
    return [Put(e.key, e.value) if e.op == OP_PUT else Delete(e.key) for e in entries]


def _frame_ok(data: bytes | memoryview, pos: int) -> int:
    """Length of a valid frame at ``pos``, or -1."""
    if pos + FRAME_HEADER.size > len(data):
        return -1
    crc, length = FRAME_HEADER.unpack_from(data, pos)
    end = pos + FRAME_HEADER.size + length
    if length > MAX_FRAME or end > len(data):
        return -1
    if unmask(crc) != crc32c(data[pos + 4:end]):
        return -1
    return FRAME_HEADER.size + length


@dataclass
class ScanResult:
    valid_end: int  # offset just past the last valid frame
    torn: bool  # bytes after valid_end were a torn tail (to truncate)


def scan_frames(data: bytes | memoryview, path: str, base: int = 0,
                result: ScanResult | None = None) -> Iterator[tuple[int, bytes | memoryview]]:
    """Yield ``(offset, payload)`` for each valid frame of ``data`` (``base`` = file offset of
    ``data[0]``). A torn tail ends the scan and is reported in ``result``; corruption followed
    by valid frames raises :class:`CorruptionError`."""
    pos = 0
    n = len(data)
    view = memoryview(data)
    while pos < n:
        size = _frame_ok(view, pos)
        if size < 0:
            # Is anything valid after this point? Then it is damage, not a torn tail.
            for probe in range(pos + 1, n - FRAME_HEADER.size + 1):
                if _frame_ok(view, probe) > 0:
                    raise CorruptionError("checksum mismatch before valid data", path=path,
                                          offset=base + pos)
            if result is not None:
                result.valid_end = base + pos
                result.torn = True
            return
        yield base + pos, view[pos + FRAME_HEADER.size:pos + size]
        pos += size
    if result is not None:
        result.valid_end = base + pos
        result.torn = False
