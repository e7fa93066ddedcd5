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
from collections.abc import Callable, Iterator
from typing import Any

from cairn.storage.checksum import crc32c, mask
from cairn.storage.errors import CorruptionError, DurabilityError
from cairn.storage.fileio import REAL_FS, File, FileSystem
from cairn.storage.groupcommit import DEFAULT_COMMIT_DELAY, GroupCommit
from cairn.storage.record import ScanResult, scan_frames
from cairn.txn.errors import DataError

_LEN = struct.Struct("<I")
WAL_DIR = "wal"
SEGMENT_BYTES = 16 << 20
MAX_RECORD = 256 << 20  # well below the frame format's 1 GiB sanity bound


def segment_name(start_lsn: int) -> str:
    return f"{start_lsn:016x}.log"


def encode_record(record: dict[str, Any]) -> bytes:
    payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    length = _LEN.pack(len(payload))
    return _LEN.pack(mask(crc32c(payload, crc32c(length)))) + length + payload


class Wal:
    """The log, as segment files ``wal/<start LSN in hex>.log``: a record never spans two
    segments, so a segment wholly before the last checkpoint's redo LSN can be deleted."""

    def __init__(self, directory: str | None, fs: FileSystem = REAL_FS, *, sync: bool = True,
                 segment_bytes: int = SEGMENT_BYTES,
                 commit_delay: float = DEFAULT_COMMIT_DELAY,
                 writer_delay: float | None = None,
                 blocked: Callable[[], int] | None = None):
        """``sync``: a commit waits for its fsync (PostgreSQL's ``synchronous_commit=on``).
        Without it, ``writer_delay`` seconds starts a WAL writer thread that fsyncs the log
        that often (asynchronous commit, ``wal_writer_delay``: a power cut loses at most the
        commits of the last delay and the fsync after it); ``None`` never fsyncs the
        commits (``durable=False``: only a checkpoint or a clean close does). ``blocked``
        counts committers waiting for a lock (see :class:`GroupCommit`)."""
        self.fs = fs
        self.sync_commits = sync
        self.writer_delay = None if sync else writer_delay
        self._writer: threading.Thread | None = None
        self._writer_stop = threading.Event()
        self._writer_error: BaseException | None = None
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._memory: list[tuple[int, bytes]] | None = None
        self.records = 0
        self.bytes = 0
        self.recycled = 0
        self._retired: list[File] = []
        if directory is None:
            self._memory = []
            self._end = 0
            self.dir = None
            self._file: File | None = None
            self._gc = None
            return
        self.dir = os.path.join(directory, WAL_DIR)
        fs.makedirs_durable(self.dir)  # wal/ itself must survive a power cut
        self._segments: list[int] = sorted(
            int(n[:-4], 16) for n in fs.listdir(self.dir)
            if n.endswith(".log") and len(n) == 20 and _is_hex(n[:-4]))
        if not self._segments:
            self._segments = [0]
        self._seg_start = self._segments[-1]
        first = not fs.exists(self._path(self._seg_start))
        self._file = fs.open(self._path(self._seg_start))
        if first:
            # A new log: the first segment's name, and the database directory's own name in
            # its parent, must be durable before any commit is acknowledged from it.
            fs.sync_dir(self.dir)
            fs.sync_dir(os.path.dirname(os.path.abspath(directory)))
        self._end = self._seg_start + self._recover_tail()
        self._recovered_end = self._end  # what survived on disk is durable
        self._gc = GroupCommit(self._flush_and_fsync, lambda: self._end, commit_delay,
                               blocked)
        if self.writer_delay is not None:
            if not 0 < self.writer_delay <= 10:
                raise ValueError(f"wal_writer_delay must be in (0, 10] seconds, not "
                                 f"{self.writer_delay!r}")
            self._writer = threading.Thread(target=self._write_behind, name="cairn-wal-writer",
                                            daemon=True)
            self._writer.start()

    def _write_behind(self) -> None:
        """The WAL writer of asynchronous commit: every ``writer_delay`` it makes the log
        durable up to its end. A failed fsync is remembered and fails every later commit."""
        assert self._gc is not None
        while not self._writer_stop.wait(self.writer_delay):
            try:
                self._gc.sync_to(self._end)
            except BaseException as exc:  # a simulated crash ends it too
                self._writer_error = exc
                return

    def _path(self, start: int) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, segment_name(start))

    @property
    def path(self) -> str | None:
        return None if self.dir is None else self._path(self._seg_start)

    def _recover_tail(self) -> int:
        """Cut a torn record off the last segment; return the segment's valid length."""
        assert self._file is not None
        size = self._file.size
        data = self._file.read_at(0, size) if size else b""
        result = ScanResult(0, False)
        for _ in scan_frames(data, self._file.path, self._seg_start, result):
            pass
        valid = result.valid_end - self._seg_start if data else 0
        if result.torn:
            self._file.truncate(valid)
            self._file.sync()
        return valid

    def _flush_and_fsync(self) -> None:
        with self._lock:
            f = self._file
            assert f is not None
            f.flush()
        f.fsync()

    @property
    def end_lsn(self) -> int:
        return self._end

    @property
    def tracks_durability(self) -> bool:
        """False when every appended record counts as durable (memory, or no fsync)."""
        return self._gc is not None and self.sync_commits

    @property
    def durable_lsn(self) -> int:
        """Every record before this LSN is on disk (in memory: everything)."""
        if self._gc is None or not self.sync_commits:
            return self._end
        d = self._gc.durable_position
        return d if d > self._recovered_end else self._recovered_end

    @property
    def oldest_lsn(self) -> int:
        if self._memory is not None:
            return 0
        return self._segments[0]

    def append(self, record: dict[str, Any]) -> tuple[int, int]:
        """Append ``record``; return (its LSN, the LSN just past it). Not durable yet."""
        return self.append_frame(self.frame(record))

    @staticmethod
    def frame(record: dict[str, Any]) -> bytes:
        """``record`` encoded for :meth:`append_frame` (refused if over the size limit)."""
        frame = encode_record(record)
        if len(frame) > MAX_RECORD:
            raise DataError(f"a commit record of {len(frame)} bytes is over the "
                            f"{MAX_RECORD}-byte limit; split the transaction")
        return frame

    def append_frame(self, frame: bytes) -> tuple[int, int]:
        """Append an encoded record (:meth:`frame`); (its LSN, the LSN just past it)."""
        with self._lock:
            lsn = self._end
            if self._memory is not None:
                self._memory.append((lsn, frame[8:]))
            else:
                assert self._file is not None
                if lsn - self._seg_start >= self.segment_bytes:
                    self._rotate(lsn)
                self._file.append(frame)
            self._end = lsn + len(frame)
            self.records += 1
            self.bytes += len(frame)
            return lsn, self._end

    def _rotate(self, lsn: int) -> None:
        """Start a new segment at ``lsn`` (lock held). The old one is made durable first, so
        that group commit's 'durable up to N' stays true across the switch; it stays open a
        little longer because a group-commit leader may be fsyncing it right now."""
        assert self._file is not None
        self._file.sync()
        for old in self._retired:
            old.close()
        self._retired = [self._file]
        self._file = self.fs.open(self._path(lsn))
        self.fs.sync_dir(self.dir or ".")
        self._segments.append(lsn)
        self._seg_start = lsn

    def recycle(self, upto_lsn: int) -> int:
        """Delete segments that end at or before ``upto_lsn``; returns how many."""
        if self._memory is not None:
            return 0
        removed = 0
        with self._lock:
            while len(self._segments) > 1 and self._segments[1] <= upto_lsn:
                self.fs.remove(self._path(self._segments.pop(0)))
                removed += 1
        self.recycled += removed
        return removed

    def flush_to(self, end: int) -> None:
        """A commit's wait: make every record before ``end`` durable (shares fsyncs with
        concurrent callers); without ``sync``, hand it to the OS and return (the WAL writer,
        if any, fsyncs it soon)."""
        if self._gc is None:
            return
        if self.sync_commits:
            self._gc.sync_to(end)
            return
        if self._writer_error is not None:
            raise DurabilityError(5, f"the WAL writer failed: {self._writer_error}")
        with self._lock:
            assert self._file is not None
            self._file.flush()  # in the OS: survives a process kill, not a power loss

    def flush_durable(self, end: int) -> None:
        """Make every record before ``end`` durable whatever the commit mode (a checkpoint:
        the engine image must never be ahead of the log on disk); only ``durable=False``
        skips the fsync."""
        if self._gc is None:
            return
        if self.sync_commits or self.writer_delay is not None:
            self._gc.sync_to(end)
        else:
            self.flush_to(end)

    def sync_all(self) -> None:
        if self._gc is not None:
            self._gc.sync_to(self._end)

    def read(self, from_lsn: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(lsn, record)`` for every record at or after ``from_lsn``, which must be 0,
        the LSN of a record (a checkpoint's redo point, a Change's lsn) or the end."""
        if self._memory is not None:
            with self._lock:
                items = list(self._memory)
            for lsn, payload in items:
                if lsn >= from_lsn:
                    yield lsn, json.loads(payload)
            return
        with self._lock:
            assert self._file is not None
            self._file.flush()
            end = self._end
            segments = list(self._segments)
        if self._gc is not None and self.sync_commits:
            # Only what is durable: a record whose fsync is still running may yet be lost,
            # and a replica must never be ahead of its primary's disk.
            end = min(end, max(self._recovered_end, self._gc.durable_position))
        start = max(from_lsn, segments[0])
        for i, seg in enumerate(segments):
            seg_end = segments[i + 1] if i + 1 < len(segments) else end
            if seg_end <= start or seg >= end:
                continue
            first = max(start, seg) - seg
            path = self._path(seg)
            with self.fs.open(path, create=False) as f:
                data = f.read_at(first, min(f.size, seg_end - seg) - first)
            result = ScanResult(0, False)
            for lsn, payload in scan_frames(data, path, seg + first, result):
                yield lsn, json.loads(bytes(payload))
            if result.torn and i + 1 < len(segments):
                # an older segment was fsynced whole before the next one began
                raise CorruptionError("WAL segment ends in a damaged record", path=path,
                                      offset=result.valid_end - seg)

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
        if self._writer is not None:
            self._writer_stop.set()
            self._writer.join()
            self._writer = None
        if self._file is not None and not self._file.closed:
            with self._lock:
                self._file.flush()
            if self.sync_commits or self.writer_delay is not None:
                self._file.fsync()
            self._file.close()
        for old in self._retired:
            old.close()
        self._retired = []


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
