"""Merging segments: Bitcask's compaction (DDIA ch. 3, "compaction and merging of segments").

A merge takes every immutable segment (always the *oldest* ones, a prefix of the replay order)
and copies only the records the key directory still points at into new, dense segments, each
with a hint file. Because the inputs are a prefix, no older file outside the merge can hold a
key, so tombstones and everything they shadow are simply dropped.

The merge runs beside writers and readers. It decides liveness by asking the key directory
without a lock (a dict lookup is atomic under the GIL); a record overwritten while the merge
copies it is harmless, because the newer record lives in a newer segment that sorts after the
merge outputs, and the swap of key-directory entries afterwards is a compare-and-swap.

Crash safety, in order: outputs are written and fsynced, then their hint files, then the
directory; only then is the merge committed by unlinking the newest input (segment ``C``), and
the other inputs are removed after that. Recovery (:mod:`cairn.storage.hash.keydir`) undoes a
merge that did not commit and finishes one that did, so a crash at any point loses nothing.

Policy (:class:`MergePolicy`): merge when the immutable segments hold at least
``min_dead_bytes`` of garbage making up ``dead_ratio`` of their bytes, or when there are
``max_segments`` immutable segments and merging would at least halve their number. The dead
ratio bounds the write amplification a merge adds: copying L live bytes frees at least
``L * dead_ratio / (1 - dead_ratio)`` dead ones.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from crc32c import crc32c

from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import FileSystem
from cairn.storage.hash.hint import HintBuilder
from cairn.storage.hash.keydir import Entry, KeyDir
from cairn.storage.hash.segment import (
    CRC,
    HEADER,
    HEADER_SIZE,
    MORE,
    OVERHEAD,
    TOMBSTONE,
    Segment,
    SegmentScan,
    SegmentTable,
    hint_name,
    scan_segment,
    segment_name,
    uses_plain_pread,
)


@dataclass(frozen=True)
class MergePolicy:
    dead_ratio: float = 0.5
    min_dead_bytes: int = 1 << 20
    max_segments: int = 16

    def should_merge(self, segments: list[Segment], segment_size: int) -> bool:
        """``segments`` are the immutable ones (the active segment is never merged)."""
        if not any(not s.merged for s in segments):
            return False  # nothing written since the last merge: nothing to gain
        total = sum(s.size for s in segments)
        dead = sum(s.dead for s in segments)
        if dead and dead >= self.min_dead_bytes and dead >= self.dead_ratio * total:
            return True
        if len(segments) >= self.max_segments:
            outputs = max(1, -(-(total - dead) // segment_size))
            return outputs * 2 <= len(segments)
        return False


@dataclass
class MergeOutput:
    """What a merge wrote, before it is committed and swapped in."""

    cutoff: int
    outputs: list[Segment] = field(default_factory=list)
    moves: list[tuple[bytes, Entry, Entry]] = field(default_factory=list)
    bytes_read: int = 0
    bytes_written: int = 0


class _OutputWriter:
    """Writes merge outputs ``seg-C-1, seg-C-2, ...``, rolling over at the segment size."""

    def __init__(self, fs: FileSystem, path: str, cutoff: int, segment_size: int,
                 out: MergeOutput, table: SegmentTable):
        self.fs = fs
        self.table = table
        self.path = path
        self.cutoff = cutoff
        self.segment_size = segment_size
        self.out = out
        self.seg: Segment | None = None
        self.hint = HintBuilder()
        self._open_next()

    def _open_next(self) -> None:
        sub = len(self.out.outputs) + 1
        seg_path = os.path.join(self.path, segment_name(self.cutoff, sub))
        f = self.fs.open(seg_path, truncate=True)
        self.seg = self.table.add(
            Segment(self.cutoff, sub, seg_path, f, uses_plain_pread(self.fs)))
        self.out.outputs.append(self.seg)
        self.hint = HintBuilder()

    def add(self, flags: int, key: bytes, record: bytes | memoryview) -> Entry:
        seg = self.seg
        assert seg is not None
        n = len(record)
        if seg.size and seg.size + n > self.segment_size:
            self.finish()
            self._open_next()
            seg = self.seg
            assert seg is not None
        off = seg.file.append(record)
        self.hint.add(flags, key, off, n)
        self.out.bytes_written += n
        return (seg.sid, off, n, HEADER_SIZE + len(key))

    def finish(self) -> None:
        """Make the current output durable, then its hint file."""
        seg = self.seg
        assert seg is not None
        seg.file.sync()
        seg.mark_flushed()
        hpath = os.path.join(self.path, hint_name(seg.id, seg.sub))
        data = self.hint.encode(seg.size)
        with self.fs.open(hpath, truncate=True) as hf:
            hf.append(data)
            hf.sync()
        seg.hint_path = hpath
        seg.hint_bytes = len(data)
        self.out.bytes_written += len(data)


def write_merge(fs: FileSystem, path: str, inputs: list[Segment], keydir: KeyDir,
                table: SegmentTable, segment_size: int, max_key: int) -> MergeOutput:
    """Copy the live records of ``inputs`` (a prefix of the replay order, oldest first) into
    durable output segments with hint files. Nothing is committed or swapped yet."""
    cutoff = max(s.id for s in inputs if not s.merged)
    out = MergeOutput(cutoff)
    writer = _OutputWriter(fs, path, cutoff, segment_size, out, table)
    get = keydir.get
    try:
        for seg in inputs:
            raw = seg.file.read_at(0, seg.size)
            out.bytes_read += len(raw)
            result = SegmentScan()
            for off, flags, key, n in scan_segment(raw, seg.path, max_key, result):
                if flags & TOMBSTONE:
                    continue  # nothing older than a merge's inputs exists
                entry = get(key)
                if entry is None or entry[0] != seg.sid or entry[1] != off:
                    continue  # superseded
                record: bytes | memoryview = raw[off:off + n]
                if flags & MORE:
                    # Standalone now: clear the batch flag (and so re-checksum) so recovery
                    # of the output never waits for a batch end that is not there.
                    body = HEADER.pack(flags & ~MORE, len(key), n - OVERHEAD - len(key))
                    body += raw[off + HEADER_SIZE:off + n - CRC.size]
                    record = body + CRC.pack(crc32c(body))
                out.moves.append((key, entry, writer.add(flags & ~MORE, key, record)))
            if result.torn:
                raise CorruptionError("immutable segment ends in a damaged record",
                                      path=seg.path, offset=result.valid_end)
        writer.finish()
        fs.sync_dir(path)
    except BaseException:
        discard_outputs(fs, path, out)
        raise
    return out


def discard_outputs(fs: FileSystem, path: str, out: MergeOutput) -> None:
    """Best-effort removal of the outputs of a merge that will not be committed."""
    for seg in out.outputs:
        with contextlib.suppress(OSError):
            seg.close()
        try:
            fs.remove(seg.path)
            fs.remove(os.path.join(path, hint_name(seg.id, seg.sub)))
        except OSError:
            pass


class MergeWorker:
    """The background thread: wakes on a segment rollover or every ``interval`` seconds,
    checks the policy, merges. An exception (including a simulated crash) ends the thread and
    is handed to ``on_error``, which puts the engine in read-only mode (RocksDB's background
    error), never printed from the thread."""

    def __init__(self, check_and_merge: Callable[[], None],
                 on_error: Callable[[BaseException], None], interval: float, name: str):
        self._work = check_and_merge
        self._on_error = on_error
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                self._work()
        except BaseException as exc:  # remembered; later writes raise it
            self._on_error(exc)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
