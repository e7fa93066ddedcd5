"""The byte layout of one shard blob, with a checksum on every frame (bit-rot detection).

An object's data (or one multipart part) is cut into stripes of ``stripe_size`` bytes; stripe
``j`` is encoded into k+m shards, and shard ``i`` of every stripe goes, in stripe order, into
blob ``i`` of the object, on its own drive. So an object has k+m blobs however large it is, and
a range read touches only the frames of the stripes it needs.

::

    blob := header frame*
    header (16 bytes, big-endian):
        magic "CRS1" | k u8 | m u8 | index u8 | 0 u8 | stripe_size u32 | crc32c(previous 12)
    frame j := crc32c(payload) u32 | payload (block bytes; the last stripe's may be shorter)

``block = ceil(stripe_size / k)``, so frame ``j`` starts at ``16 + j * (4 + block)``. The
object's length lives in the metadata, which gives the number of frames and the last one's
size. A CRC32C per frame (not per blob) means a flipped bit costs one stripe's reconstruction,
not the whole object's, and is caught before the bytes reach a client (the approach of MinIO's
"bitrot" streams and of HDFS's per-chunk checksums).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from cairn.objects.errors import ShardCorruptError

MAGIC = b"CRS1"
_HEADER = struct.Struct(">4sBBBBI")
HEADER_SIZE = _HEADER.size + 4
_CRC = struct.Struct(">I")
FRAME_OVERHEAD = _CRC.size


@dataclass(frozen=True)
class Layout:
    """How an object of ``length`` bytes is striped; everything derives from metadata."""

    k: int
    m: int
    stripe_size: int
    length: int

    @property
    def block(self) -> int:
        return -(-self.stripe_size // self.k)

    @property
    def stripes(self) -> int:
        return max(1, -(-self.length // self.stripe_size))

    def stripe_length(self, j: int) -> int:
        """Data bytes in stripe ``j``."""
        if j == self.stripes - 1:
            return self.length - j * self.stripe_size
        return self.stripe_size

    def shard_length(self, j: int) -> int:
        """Bytes of each shard of stripe ``j`` (as :meth:`ReedSolomon.shard_size`)."""
        return max(1, -(-self.stripe_length(j) // self.k))

    def frame_offset(self, j: int) -> int:
        return HEADER_SIZE + j * (FRAME_OVERHEAD + self.block)

    def blob_size(self) -> int:
        last = self.stripes - 1
        return self.frame_offset(last) + FRAME_OVERHEAD + self.shard_length(last)


def pack_header(k: int, m: int, index: int, stripe_size: int) -> bytes:
    head = _HEADER.pack(MAGIC, k, m, index, 0, stripe_size)
    return head + _CRC.pack(crc32c.crc32c(head))


def check_header(raw: bytes, layout: Layout, index: int) -> None:
    if len(raw) < HEADER_SIZE:
        raise ShardCorruptError("shard header truncated")
    head = raw[: _HEADER.size]
    (crc,) = _CRC.unpack_from(raw, _HEADER.size)
    if crc32c.crc32c(head) != crc:
        raise ShardCorruptError("shard header checksum mismatch")
    magic, k, m, idx, _, stripe = _HEADER.unpack(head)
    if (magic, k, m, idx, stripe) != (MAGIC, layout.k, layout.m, index, layout.stripe_size):
        raise ShardCorruptError(
            f"shard header {(magic, k, m, idx, stripe)} does not match its metadata")


def frame_crc(payload: bytes | memoryview) -> bytes:
    """The 4-byte frame header of ``payload`` (its CRC32C)."""
    return _CRC.pack(crc32c.crc32c(payload))


def pack_frame(payload: bytes | memoryview) -> bytes:
    return frame_crc(payload) + payload


def unpack_frames(raw: bytes | memoryview, layout: Layout, first: int,
                  count: int) -> list[memoryview]:
    """Split and verify ``count`` frames read starting at frame ``first``."""
    out: list[memoryview] = []
    view = memoryview(raw)  # slices without copying; the caller joins them once
    pos = 0
    for j in range(first, first + count):
        size = layout.shard_length(j)
        end = pos + FRAME_OVERHEAD + size
        if end > len(raw):
            raise ShardCorruptError(f"frame {j} truncated")
        (crc,) = _CRC.unpack_from(raw, pos)
        payload = view[pos + FRAME_OVERHEAD: end]
        if crc32c.crc32c(payload) != crc:
            raise ShardCorruptError(f"frame {j} checksum mismatch")
        out.append(payload)
        pos = end
    return out


def frames_span(layout: Layout, first: int, count: int) -> tuple[int, int]:
    """(offset, length) of the bytes holding frames ``first .. first+count-1``."""
    start = layout.frame_offset(first)
    last = first + count - 1
    end = layout.frame_offset(last) + FRAME_OVERHEAD + layout.shard_length(last)
    return start, end - start
