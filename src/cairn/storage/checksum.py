"""Checksums for on-disk records: CRC-32C (Castagnoli), hardware-accelerated via ``crc32c``.

CRC-32C is what LevelDB, RocksDB, ext4 and iSCSI use: it detects every burst error up to 32
bits, and SSE4.2 computes it at several GB/s, so checking every record on read is affordable.
Like LevelDB we *mask* stored CRCs, so that a CRC of data that itself contains CRCs is not
accidentally a fixed point.
"""

from __future__ import annotations

from crc32c import crc32c as _crc32c

_MASK_DELTA = 0xA282EAD8


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    return _crc32c(data, value)


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def masked_crc(data: bytes | bytearray | memoryview) -> int:
    return mask(_crc32c(data))
