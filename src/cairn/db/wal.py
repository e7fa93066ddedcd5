"""The database's write-ahead log: one ordered stream of records, addressed by LSN.

Each record is a checksummed frame (the storage layer's format, :mod:`cairn.storage.record`)
whose payload is JSON: a committed transaction's row changes, or a schema change. The LSN of a
record is the byte offset where it starts, so LSNs only grow and ``changes(from_lsn)`` is a
seek. A transaction is committed exactly when its record is durable: the writer appends under
a short lock, then waits in :class:`~cairn.storage.groupcommit.GroupCommit`, where one fsync
makes every record appended meanwhile durable (group commit, PostgreSQL's ``commit_delay``).

On open, a torn record at the tail (a crash mid-append: it was never acknowledged) is cut off;
a bad record followed by good ones is corruption and raises
:class:`~cairn.storage.errors.CorruptionError`. ``Wal(None)`` keeps the records in memory for
``Database.memory()``, so that ``changes()`` works the same there.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Iterator
from typing import Any

from cairn.storage.checksum import crc32c, mask
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.groupcommit import GroupCommit
from cairn.storage.record import ScanResult, scan_frames

_LEN = struct.Struct("<I")
WAL_FILE = "wal.log"


def encode_record(record: dict[str, Any]) -> bytes:
    payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    length = _LEN.pack(len(payload))
    return _LEN.pack(mask(crc32c(payload, crc32c(length)))) + length + payload


class Wal:
    def __init__(self, directory: str | None, fs: FileSystem = REAL_FS, *, sync: bool = True):
        self.fs = fs
        self.sync_commits = sync
        self._lock = threading.Lock()
        self._memory: list[tuple[int, bytes]] | None = None
        self.records = 0
        self.bytes = 0
        if directory is None:
            self._memory = []
            self._end = 0
            self.path = None
            self._file = None
            self._gc = None
            return
        self.path = os.path.join(directory, WAL_FILE)
        self._file = fs.open(self.path)
        self._end = self._recover()
        self._gc = GroupCommit(self._flush_and_fsync, lambda: self._end)

    def _recover(self) -> int:
        assert self._file is not None and self.path is not None
        size = self._file.size
        data = self._file.read_at(0, size) if size else b""
        result = ScanResult(0, False)
        for _ in scan_frames(data, self.path, 0, result):
            pass
        if result.torn:
            self._file.truncate(result.valid_end)
            self._file.sync()
        return result.valid_end if data else 0

    def _flush_and_fsync(self) -> None:
        assert self._file is not None
        with self._lock:
            self._file.flush()
        self._file.fsync()

    @property
    def end_lsn(self) -> int:
        return self._end

    def append(self, record: dict[str, Any]) -> tuple[int, int]:
        """Append ``record``; return (its LSN, the LSN just past it). Not durable yet."""
        frame = encode_record(record)
        with self._lock:
            lsn = self._end
            if self._memory is not None:
                self._memory.append((lsn, frame[8:]))
            else:
                assert self._file is not None
                self._file.append(frame)
            self._end = lsn + len(frame)
            self.records += 1
            self.bytes += len(frame)
            return lsn, self._end

    def flush_to(self, end: int) -> None:
        """Make every record before ``end`` durable (shares fsyncs with concurrent callers)."""
        if self._gc is None:
            return
        if self.sync_commits:
            self._gc.sync_to(end)
        else:
            with self._lock:
                assert self._file is not None
                self._file.flush()  # in the OS: survives a process kill, not a power loss

    def sync_all(self) -> None:
        if self._gc is not None:
            self._gc.sync_to(self._end)

    def read(self, from_lsn: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(lsn, record)`` for every record at or after ``from_lsn``."""
        if self._memory is not None:
            with self._lock:
                items = list(self._memory)
            for lsn, payload in items:
                if lsn >= from_lsn:
                    yield lsn, json.loads(payload)
            return
        assert self._file is not None and self.path is not None
        with self._lock:
            self._file.flush()
            end = self._end
        start = max(0, from_lsn)
        if start >= end:
            return
        # ``from_lsn`` must be 0 or the LSN of a record (a checkpoint's redo point, a Change's
        # lsn): reading starts right there, so recovery time is bounded by the checkpoint.
        data = self._file.read_at(start, end - start)
        for lsn, payload in scan_frames(data, self.path, start):
            yield lsn, json.loads(bytes(payload))

    @property
    def fsyncs(self) -> int:
        return self._gc.fsyncs if self._gc else 0

    @property
    def group_commits(self) -> int:
        return self._gc.commits if self._gc else 0

    @property
    def max_group(self) -> int:
        return self._gc.max_batch if self._gc else 0

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            with self._lock:
                self._file.flush()
            if self.sync_commits:
                self._file.fsync()
            self._file.close()
