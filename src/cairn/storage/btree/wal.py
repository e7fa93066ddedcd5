"""The redo write-ahead log of the B+tree engine, and its checkpoint journal.

**WAL.** Every write batch is appended as one checksummed frame (:mod:`cairn.storage.record`:
the put/delete operations themselves, i.e. a *logical* redo log) to ``wal-<gen>.log`` before
the batch touches a page. A durable write is acknowledged once its frame is fsynced (shared
through group commit). A checkpoint writes every dirty page and then starts generation
``gen + 1``; the meta page names the generation that follows its image, so recovery replays
exactly the log written after the last checkpoint and ignores (deletes) older files. That is
PostgreSQL's WAL + checkpoint scheme with a logical record format (a logical record is
idempotent to replay only on a consistent tree, which the journal below guarantees).

**Checkpoint journal.** Pages are overwritten in place, and a crash in the middle of writing
them would leave a tree that is neither the old checkpoint nor the new one (a *torn
checkpoint*). So the page images are first written to ``checkpoint.journal`` and fsynced, then
written in place, fsynced, and only then is the journal emptied: InnoDB's doublewrite buffer /
PostgreSQL's full-page writes, applied at checkpoint granularity. A complete journal found at
startup is re-applied (idempotent); an incomplete one is ignored, because the in-place writes
had not started. Journal frames use the same frame layout as the WAL (crc, length, payload).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator

from cairn.storage.checksum import crc32c, mask
from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import File, FileSystem
from cairn.storage.record import ScanResult, scan_frames

WAL_NAME = re.compile(r"^wal-(\d{16})\.log$")
JOURNAL = "checkpoint.journal"
_PAGES_HEAD = struct.Struct("<4sI")  # b"PAGE", count; then count u32 ids, then the images
_COMMIT = struct.Struct("<4sQII")  # b"DONE", checkpoint_seq, pages, page_size
PAGES_PER_FRAME = 64


def wal_name(gen: int) -> str:
    return f"wal-{gen:016d}.log"


def frame(payload: bytes) -> bytes:
    """A frame in :mod:`cairn.storage.record`'s layout (masked CRC-32C of length + payload)."""
    length = struct.pack("<I", len(payload))
    return struct.pack("<I", mask(crc32c(length + payload))) + length + payload


class WAL:
    """One generation of the log: appends through the file's user-space buffer."""

    def __init__(self, fs: FileSystem, directory: str, gen: int, base: int):
        self.fs = fs
        self.gen = gen
        self.path = os.path.join(directory, wal_name(gen))
        self.file: File = fs.open(self.path)
        self.base = base  # bytes of all earlier generations: positions only grow

    @property
    def size(self) -> int:
        return self.file.size

    @property
    def position(self) -> int:
        return self.base + self.file.size

    def append(self, data: bytes) -> None:
        self.file.append(data)

    def replay(self) -> Iterator[bytes | memoryview]:
        """Payloads of the valid frames; a torn tail is cut off (it was never acknowledged)."""
        data = self.file.read_at(0, self.file.size)
        result = ScanResult(0, False)
        yield from (payload for _off, payload in scan_frames(data, self.path, 0, result))
        if result.torn:
            self.file.truncate(result.valid_end)

    def close(self) -> None:
        self.file.close()


def list_wals(fs: FileSystem, directory: str) -> list[int]:
    return sorted(int(m.group(1)) for name in fs.listdir(directory)
                  if (m := WAL_NAME.match(name)))


def journal_frames(seq: int, pages: list[tuple[int, bytes]], page_size: int) -> Iterator[bytes]:
    """The frames of a checkpoint journal holding ``pages`` (each ``(pid, image)``)."""
    for i in range(0, len(pages), PAGES_PER_FRAME):
        chunk = pages[i:i + PAGES_PER_FRAME]
        head = _PAGES_HEAD.pack(b"PAGE", len(chunk)) + struct.pack(
            f"<{len(chunk)}I", *(pid for pid, _ in chunk))
        yield frame(head + b"".join(image for _, image in chunk))
    yield frame(_COMMIT.pack(b"DONE", seq, len(pages), page_size))


def read_journal(data: bytes, path: str, page_size: int) -> list[tuple[int, bytes]] | None:
    """The pages of a complete journal, or ``None`` when it is empty or was cut short."""
    pages: list[tuple[int, bytes]] = []
    for off, payload in scan_frames(data, path):
        tag = bytes(payload[:4])
        if tag == b"DONE":
            _tag, _seq, count, psize = _COMMIT.unpack_from(payload, 0)
            if count != len(pages) or psize != page_size:
                raise CorruptionError(f"checkpoint journal lists {count} pages of {psize} "
                                      f"bytes, holds {len(pages)}", path=path, offset=off)
            return pages
        if tag != b"PAGE":
            raise CorruptionError("unknown checkpoint journal frame", path=path, offset=off)
        _tag, n = _PAGES_HEAD.unpack_from(payload, 0)
        ids = struct.unpack_from(f"<{n}I", payload, _PAGES_HEAD.size)
        pos = _PAGES_HEAD.size + 4 * n
        if len(payload) != pos + n * page_size:
            raise CorruptionError("checkpoint journal frame has the wrong size", path=path,
                                  offset=off)
        for j, pid in enumerate(ids):
            pages.append((pid, bytes(payload[pos + j * page_size:pos + (j + 1) * page_size])))
    return None
