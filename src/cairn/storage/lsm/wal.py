"""The write-ahead log of the LSM-tree's memtable (DDIA ch. 3: "keep a separate log on disk to
which every write is immediately appended ... to restore the memtable after a crash").

One WAL file per memtable, named ``NNNNNN.log``. Each ``write_batch`` is one checksummed frame
of :mod:`cairn.storage.record`, so a batch is replayed whole or not at all. Appends go through
the :class:`~cairn.storage.fileio.File` user-space buffer; ``sync=True`` writers then share
fsyncs through group commit. Recovery replays every frame in order and stops cleanly at a torn
tail (the last, unacknowledged frame cut by a crash), truncating it so that new frames follow
valid ones; damage *before* valid frames is corruption and is reported, never skipped.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cairn.storage.checksum import crc32c, mask
from cairn.storage.fileio import File, FileSystem
from cairn.storage.lsm.memtable import MemTable
from cairn.storage.record import OP_PUT, ScanResult, decode_payload, scan_frames

_PUT_HEADER = struct.Struct("<IIBII")  # a frame header + one put entry header, in one pack
_U32 = struct.Struct("<I")


def wal_name(number: int) -> str:
    return f"{number:06d}.log"


def parse_wal_name(name: str) -> int | None:
    if name.endswith(".log") and name[:-4].isdigit():
        return int(name[:-4])
    return None


def encode_put(key: bytes, value: bytes) -> bytes:
    """The frame of a one-put batch, byte-identical to ``record.encode_frame([Put(k, v)])``
    but built with one ``struct.pack`` (the hot path of ``put``)."""
    payload_len = 9 + len(key) + len(value)
    head = _PUT_HEADER.pack(0, payload_len, OP_PUT, len(key), len(value))
    body = head[4:] + key + value
    return _U32.pack(mask(crc32c(body))) + body


@dataclass
class ReplayResult:
    frames: int
    ops: int
    torn_bytes: int  # bytes cut from a torn tail


def replay(fs: FileSystem, path: str, mem: MemTable) -> ReplayResult:
    """Apply every complete frame of the WAL at ``path`` to ``mem``; truncate a torn tail."""
    f = fs.open(path, create=False)
    try:
        data = f.read_at(0, f.size)
        result = ScanResult(0, False)
        frames = ops = 0
        for off, payload in scan_frames(data, path, 0, result):
            frames += 1
            for e in decode_payload(payload, path, off):
                mem.put(e.key, e.value if e.op == OP_PUT else None)
                ops += 1
        torn = len(data) - result.valid_end if result.torn else 0
        if result.torn:
            f.truncate(result.valid_end)
            f.sync()
        return ReplayResult(frames, ops, torn)
    finally:
        f.close()


def open_for_append(fs: FileSystem, directory: str, number: int) -> File:
    return fs.open(os.path.join(directory, wal_name(number)))
