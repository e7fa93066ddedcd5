"""The data path: stream bytes into erasure-coded shard blobs, and read ranges back.

Writing (:class:`DataWriter`) buffers one stripe, encodes it k+m, and appends frame i to blob i
on the i-th placed drive; a drive that fails is dropped and the write continues as long as a
*write quorum* of shards survives (k when k > m, k+1 when k == m, MinIO's rule: enough that
two disjoint quorums cannot both succeed). :meth:`DataWriter.finish` fsyncs every blob in
parallel and renames it into place; only then may metadata refer to it.

Reading (:class:`DataReader`) fetches the frames of the needed stripes from the k data shards
(no arithmetic on a healthy read: the code is systematic). A missing, unreachable or corrupt
shard is reported and replaced by a parity shard, and the stripes are decoded; corrupt bytes
are never returned.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field

from cairn.objects import shardfile
from cairn.objects.drives import BlobWriter, Drive
from cairn.objects.erasure import ReedSolomon
from cairn.objects.errors import (
    DriveError,
    DriveFullError,
    ErasureError,
    InsufficientStorage,
    ServiceUnavailable,
    ShardCorruptError,
)
from cairn.objects.metadata import DataRef
from cairn.objects.shardfile import Layout

# (data_id, shard index, drive id, what happened) -> the store's health counters/heal queue.
Reporter = Callable[[str, int, str | None, str], None]

READ_BATCH_BYTES = 16 * 1024 * 1024  # data bytes fetched per round of parallel shard reads
WRITEBACK_STRIPES = 2  # start write-back of every blob after this many stripes


def new_data_id(now_ns: int | None = None) -> str:
    """Random prefix (spreads blobs over directories) + creation time (GC's safety window)."""
    return secrets.token_hex(4) + f"{now_ns if now_ns is not None else time.time_ns():016x}"


def data_id_time_ns(data_id: str) -> int:
    return int(data_id[8:24], 16)


def write_quorum(k: int, m: int) -> int:
    return k + 1 if (k == m and m > 0) else k


class BufferPool:
    """Reusable stripe buffers. A fresh multi-MiB buffer costs a page fault per 4 KiB on first
    touch (the allocator maps new memory for every large allocation), which measured more
    than the hashing and erasure coding of the same bytes; a pool pays it once per buffer."""

    def __init__(self, size: int, keep: int = 8) -> None:
        self.size, self.keep = size, keep
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    def get(self) -> bytearray:
        with self._lock:
            if self._free:
                return self._free.pop()
        return bytearray(self.size)

    def put(self, buf: bytearray) -> None:
        if len(buf) != self.size:
            return
        with self._lock:
            if len(self._free) < self.keep:
                self._free.append(buf)


def _write_frame(w: BlobWriter, payload: bytes | memoryview) -> None:
    """Frame = CRC32C + payload, written as two pieces so the payload is never copied."""
    w.write(shardfile.frame_crc(payload))
    w.write(payload)


@dataclass
class DataWriter:
    """One piece of data being written; call :meth:`write` then :meth:`finish` or
    :meth:`abort`. Not thread-safe (one writer per upload).

    The caller's thread only copies bytes into a stripe buffer; each full stripe is handed to
    the pool: MD5 (for the ETag) and Reed-Solomon encoding run in parallel (both release the
    GIL), then one frame write per shard. The next stripe fills meanwhile; before it is
    handed over, the previous one must be done (two stripes in flight: bounded memory and
    natural back-pressure on the request body)."""

    rs: ReedSolomon
    stripe_size: int
    drives: Sequence[Drive]  # ranked: the first n are the targets, the rest are fallbacks
    pool: Executor
    report: Reporter
    data_id: str = field(default_factory=new_data_id)
    buffers: BufferPool | None = None
    md5: hashlib._Hash = field(default_factory=hashlib.md5)  # type: ignore[name-defined]
    length: int = 0
    _cur: bytearray | None = None  # the stripe being filled
    _fill: int = 0
    _writers: list[BlobWriter | None] = field(default_factory=list)
    _placed: list[str | None] = field(default_factory=list)
    _full: bool = False
    _closed: bool = False
    _stripes: int = 0
    _background: list[Future[None]] = field(default_factory=list)
    # The stripe handed to the pool and not yet drained: its buffer, MD5 and encode futures.
    _inflight: bytearray | None = None
    _md5_done: Future[None] | None = None
    _encoded: Future[list[tuple[int, Future[None]]]] | None = None

    def __post_init__(self) -> None:
        if self.buffers is None or self.buffers.size != self.stripe_size:
            self.buffers = BufferPool(self.stripe_size, keep=2)
        n = self.rs.n
        spare = list(self.drives[n:])
        for i in range(n):
            writer, drive_id = self._open(i, self.drives[i], spare)
            self._writers.append(writer)
            self._placed.append(drive_id)
        self._check_quorum()

    def _open(self, index: int, drive: Drive,
              spare: list[Drive]) -> tuple[BlobWriter | None, str | None]:
        header = shardfile.pack_header(self.rs.k, self.rs.m, index, self.stripe_size)
        for candidate in [drive, *spare]:
            try:
                w = candidate.create(f"{self.data_id}.{index}")
                w.write(header)
            except DriveError as exc:
                self._full |= isinstance(exc, DriveFullError)
                self.report(self.data_id, index, candidate.drive_id, "write-failed")
                continue
            if candidate is not drive:
                spare.remove(candidate)
            return w, candidate.drive_id
        return None, None

    def _check_quorum(self) -> None:
        alive = sum(w is not None for w in self._writers)
        if alive < write_quorum(self.rs.k, self.rs.m):
            self.abort()
            if self._full:
                raise InsufficientStorage("drives are full")
            raise ServiceUnavailable(
                f"only {alive} of {self.rs.n} drives accepted the write "
                f"(quorum {write_quorum(self.rs.k, self.rs.m)})")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ErasureError("write after finish/abort")
        view = memoryview(data)
        self.length += len(view)
        size = self.stripe_size
        while view:
            if self._cur is None:
                self._cur = self.buffers.get()  # type: ignore[union-attr]
                self._fill = 0
            n = min(len(view), size - self._fill)
            self._cur[self._fill: self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == size:
                self._emit()

    def _emit(self) -> None:
        """Hand the current stripe (possibly partial or empty) to the pool."""
        buf, length = self._cur, self._fill
        self._cur, self._fill = None, 0
        self._stripes += 1
        if self._stripes % WRITEBACK_STRIPES == 0:
            # Start disk write-back of what is written so far (asynchronous, no journal
            # commit), so the fsync at commit finds little left to write.
            self._background = [f for f in self._background if not f.done()]
            for w in self._writers:
                if w is not None:
                    self._background.append(self.pool.submit(w.writeback))
        self._drain()
        stripe = memoryview(buf)[:length] if buf is not None else memoryview(b"")
        self._inflight = buf
        self._md5_done = self.pool.submit(self.md5.update, stripe)
        self._encoded = self.pool.submit(self._encode_and_write, stripe)

    def _encode_and_write(self, stripe: memoryview) -> list[tuple[int, Future[None]]]:
        shards = self.rs.encode(stripe)  # data shards are views of the stripe buffer
        return [(i, self.pool.submit(_write_frame, w, shards[i]))
                for i, w in enumerate(self._writers) if w is not None]

    def _drain(self) -> None:
        """Wait for the stripe in flight; drop drives whose write failed."""
        md5_done, encoded = self._md5_done, self._encoded
        self._md5_done = self._encoded = None
        if md5_done is None or encoded is None:
            return
        try:
            md5_done.result()
            pending = encoded.result()
        except BaseException:
            self._settle(md5_done, encoded)
            raise
        wait([f for _, f in pending])  # all of them, even when one failed
        self._release_inflight()
        failed = False
        for i, fut in pending:
            exc = fut.exception()
            if exc is None:
                continue
            if not isinstance(exc, DriveError):
                raise exc
            w = self._writers[i]
            self._full |= isinstance(exc, DriveFullError)
            self.report(self.data_id, i, self._placed[i], "write-failed")
            if w is not None:
                w.abort()
            self._writers[i] = None
            self._placed[i] = None
            failed = True
        if failed:
            self._check_quorum()

    def _settle(self, md5_done: Future[None] | None,
                encoded: Future[list[tuple[int, Future[None]]]] | None) -> None:
        """Wait (ignoring errors) until no task of the in-flight stripe runs, then free its
        buffer: no frame may land after its writer aborted, no buffer be reused while read."""
        if md5_done is not None:
            md5_done.exception()
        if encoded is not None and encoded.exception() is None:
            wait([f for _, f in encoded.result()])
        self._release_inflight()

    def _release_inflight(self) -> None:
        if self._inflight is not None:
            self.buffers.put(self._inflight)  # type: ignore[union-attr]
            self._inflight = None

    def finish(self) -> DataRef:
        """Flush the last stripe, make every surviving blob durable, and describe the data."""
        if self._closed:
            raise ErasureError("finish after finish/abort")
        if self._fill or self.length == 0:
            self._emit()
        self._drain()
        if self._cur is not None:
            self.buffers.put(self._cur)  # type: ignore[union-attr]
            self._cur = None

        for f in self._background:  # no write-back hint may race the commit's close
            f.result()
        self._background.clear()

        def commit(i: int) -> bool:
            w = self._writers[i]
            if w is None:
                return False
            try:
                w.commit()
                return True
            except DriveError as exc:
                self._full |= isinstance(exc, DriveFullError)
                self.report(self.data_id, i, self._placed[i], "write-failed")
                return False

        # fsync releases the GIL: the blobs become durable in parallel, one fsync each.
        results = list(self.pool.map(commit, range(self.rs.n)))
        for i, ok in enumerate(results):
            if not ok:
                self._writers[i] = None
                self._placed[i] = None
        self._check_quorum()
        self._closed = True
        return DataRef(self.data_id, self.rs.k, self.rs.m, self.stripe_size, self.length,
                       tuple(self._placed))

    def abort(self) -> None:
        self._closed = True
        md5_done, encoded = self._md5_done, self._encoded
        self._md5_done = self._encoded = None
        self._settle(md5_done, encoded)
        if self._cur is not None:
            self.buffers.put(self._cur)  # type: ignore[union-attr]
            self._cur = None
        for f in self._background:
            f.exception()
        self._background.clear()
        for w in self._writers:
            if w is not None:
                w.abort()
        self._writers = [None] * len(self._writers)


@dataclass
class DataReader:
    """Reads byte ranges of a :class:`DataRef`, repairing around bad shards on the fly."""

    drives: dict[str, Drive]
    pool: Executor
    report: Reporter
    codecs: Callable[[int, int], ReedSolomon]
    # Batches are read ahead on their own executor: a batch read waits on shard reads in
    # ``pool``, and waiting on a pool from inside it can deadlock once all workers wait.
    prefetch: Executor

    def read(self, ref: DataRef, start: int = 0,
             end: int | None = None) -> Iterator[bytes | memoryview]:
        """Yield the bytes ``[start, end)`` of the data, in order, as chunks of at most one
        shard frame (views of the shard reads: no stripe is joined into a new buffer)."""
        end = ref.length if end is None else min(end, ref.length)
        if start >= end:
            return
        layout = Layout(ref.k, ref.m, ref.stripe_size, ref.length)
        first, last = start // ref.stripe_size, (end - 1) // ref.stripe_size
        per_batch = max(1, READ_BATCH_BYTES // ref.stripe_size)
        # The first batch is one stripe, so the first bytes leave while the rest is read.
        batches = [(first, 1)] + [(j, min(per_batch, last - j + 1))
                                  for j in range(first + 1, last + 1, per_batch)]
        # Read batch i+1 from the drives while batch i is being sent to the client.
        pending = self.prefetch.submit(self._read_stripes, ref, layout, *batches[0])
        for i, (j, _) in enumerate(batches):
            stripes = pending.result()
            if i + 1 < len(batches):
                pending = self.prefetch.submit(self._read_stripes, ref, layout,
                                               *batches[i + 1])
            base = j * ref.stripe_size
            for s, pieces in enumerate(stripes):
                size = layout.stripe_length(j + s)
                lo, hi = max(start - base, 0), min(end - base, size)
                if lo < hi:
                    yield from _slices(pieces, lo, hi)
                base += size

    def _fetch(self, ref: DataRef, layout: Layout, index: int, first: int,
               count: int) -> list[memoryview] | None:
        drive_id = ref.drives[index]
        drive = self.drives.get(drive_id) if drive_id is not None else None
        if drive is None:
            self.report(ref.data_id, index, drive_id, "missing")
            return None
        offset, length = shardfile.frames_span(layout, first, count)
        try:
            if first == 0:
                whole = drive.read(ref.blob_id(index), 0, offset + length)
                shardfile.check_header(whole, layout, index)
                raw: bytes | memoryview = memoryview(whole)[offset:]  # no copy
            else:
                raw = drive.read(ref.blob_id(index), offset, length)
            return shardfile.unpack_frames(raw, layout, first, count)
        except ShardCorruptError:
            self.report(ref.data_id, index, drive_id, "corrupt")
        except DriveError:
            self.report(ref.data_id, index, drive_id, "unreadable")
        return None

    def _read_stripes(self, ref: DataRef, layout: Layout, first: int,
                      count: int) -> list[list[bytes | memoryview]]:
        k, n = ref.k, ref.k + ref.m
        got: dict[int, list[memoryview]] = {}
        tried: set[int] = set()
        wanted = list(range(k))
        while True:
            tried.update(wanted)
            results = self.pool.map(lambda i: (i, self._fetch(ref, layout, i, first, count)),
                                    wanted)
            for i, frames in results:
                if frames is not None:
                    got[i] = frames
            if len(got) >= k:
                break
            more = [i for i in range(n) if i not in tried][: k - len(got)]
            if not more:
                raise ServiceUnavailable(
                    f"data {ref.data_id}: only {len(got)} of {k} needed shards readable")
            wanted = more
        out: list[list[bytes | memoryview]] = []
        rs = self.codecs(ref.k, ref.m)
        for s in range(count):
            j = first + s
            if all(i in got for i in range(k)):
                # Healthy: the data shards' frames as they are (views of the reads, no join;
                # the caller slices off the padding of the last stripe).
                out.append([got[i][s] for i in range(k)])
            else:
                out.append([rs.decode({i: bytes(got[i][s]) for i in got},
                                      layout.stripe_length(j))])
        return out


def _slices(pieces: list[bytes | memoryview], lo: int,
            hi: int) -> Iterator[bytes | memoryview]:
    """Bytes ``[lo, hi)`` of the concatenation of ``pieces``, as slices of them."""
    pos = 0
    for p in pieces:
        a, b = max(lo - pos, 0), min(hi - pos, len(p))
        if a < b:
            yield p[a:b] if (a or b < len(p)) else p
        pos += len(p)
        if pos >= hi:
            return
