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
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
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


@dataclass
class DataWriter:
    """One piece of data being written; call :meth:`write` then :meth:`finish` or
    :meth:`abort`. Not thread-safe (one writer per upload)."""

    rs: ReedSolomon
    stripe_size: int
    drives: Sequence[Drive]  # ranked: the first n are the targets, the rest are fallbacks
    pool: Executor
    report: Reporter
    data_id: str = field(default_factory=new_data_id)
    md5: hashlib._Hash = field(default_factory=hashlib.md5)  # type: ignore[name-defined]
    length: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _writers: list[BlobWriter | None] = field(default_factory=list)
    _placed: list[str | None] = field(default_factory=list)
    _full: bool = False
    _closed: bool = False
    _stripes: int = 0
    _background: list[Future[None]] = field(default_factory=list)
    # The previous stripe's MD5 update and frame writes, running on the pool while this
    # thread encodes the next stripe (a two-stage pipeline: hash || encode, then writes).
    _pending: list[tuple[int, Future[None]]] = field(default_factory=list)
    _md5_done: Future[None] | None = None

    def __post_init__(self) -> None:
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

    def write(self, data: bytes | memoryview) -> None:
        if self._closed:
            raise ErasureError("write after finish/abort")
        self.length += len(data)
        self._buf += data
        while len(self._buf) >= self.stripe_size:
            stripe = bytes(self._buf[: self.stripe_size])
            del self._buf[: self.stripe_size]
            self._emit(stripe)

    def _emit(self, stripe: bytes) -> None:
        self._stripes += 1
        if self._stripes % WRITEBACK_STRIPES == 0:
            # Overlap disk write-back with encoding the next stripes, instead of paying for
            # all of it in the fsync at commit (the same reason databases sync WAL segments
            # early).
            self._background = [f for f in self._background if not f.done()]
            for w in self._writers:
                if w is not None:
                    self._background.append(self.pool.submit(w.writeback))
        self._drain()
        # MD5 (for the ETag) of this stripe on the pool while this thread encodes it: both
        # release the GIL, so on two cores they overlap instead of adding up.
        self._md5_done = self.pool.submit(self.md5.update, stripe)
        shards = self.rs.encode(stripe)
        for i, w in enumerate(self._writers):
            if w is not None:
                self._pending.append(
                    (i, self.pool.submit(w.write, shardfile.pack_frame(shards[i]))))

    def _drain(self) -> None:
        """Wait for the previous stripe's hash and writes; drop drives whose write failed."""
        if self._md5_done is not None:
            self._md5_done.result()
            self._md5_done = None
        pending, self._pending = self._pending, []
        failed = False
        for i, fut in pending:
            try:
                fut.result()
            except DriveError as exc:
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

    def finish(self) -> DataRef:
        """Flush the last stripe, make every surviving blob durable, and describe the data."""
        if self._buf or self.length == 0:
            self._emit(bytes(self._buf))
            self._buf.clear()
        self._drain()

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
        for _, fut in self._pending:  # no frame write may land after its writer aborted
            fut.exception()
        self._pending.clear()
        for f in self._background:
            f.result()
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

    def read(self, ref: DataRef, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` of the data, in order."""
        end = ref.length if end is None else min(end, ref.length)
        if start >= end:
            return
        layout = Layout(ref.k, ref.m, ref.stripe_size, ref.length)
        first, last = start // ref.stripe_size, (end - 1) // ref.stripe_size
        per_batch = max(1, READ_BATCH_BYTES // ref.stripe_size)
        batches = [(j, min(per_batch, last - j + 1)) for j in range(first, last + 1, per_batch)]
        # Read batch i+1 from the drives while batch i is being sent to the client.
        pending = self.prefetch.submit(self._read_stripes, ref, layout, *batches[0])
        for i, (j, _) in enumerate(batches):
            stripes = pending.result()
            if i + 1 < len(batches):
                pending = self.prefetch.submit(self._read_stripes, ref, layout,
                                               *batches[i + 1])
            base = j * ref.stripe_size
            lo = max(start - base, 0)
            for s in stripes:  # one stripe per chunk: no copy of the whole batch
                hi = min(end - base, len(s))
                if lo < hi:
                    yield s[lo:hi] if (lo or hi < len(s)) else s
                base += len(s)
                lo = max(start - base, 0)

    def _fetch(self, ref: DataRef, layout: Layout, index: int, first: int,
               count: int) -> list[bytes] | None:
        drive_id = ref.drives[index]
        drive = self.drives.get(drive_id) if drive_id is not None else None
        if drive is None:
            self.report(ref.data_id, index, drive_id, "missing")
            return None
        offset, length = shardfile.frames_span(layout, first, count)
        try:
            if first == 0:
                raw = drive.read(ref.blob_id(index), 0, offset + length)
                shardfile.check_header(raw, layout, index)
                raw = raw[offset:]
            else:
                raw = drive.read(ref.blob_id(index), offset, length)
            return shardfile.unpack_frames(raw, layout, first, count)
        except ShardCorruptError:
            self.report(ref.data_id, index, drive_id, "corrupt")
        except DriveError:
            self.report(ref.data_id, index, drive_id, "unreadable")
        return None

    def _read_stripes(self, ref: DataRef, layout: Layout, first: int,
                      count: int) -> list[bytes]:
        k, n = ref.k, ref.k + ref.m
        got: dict[int, list[bytes]] = {}
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
        out: list[bytes] = []
        rs = self.codecs(ref.k, ref.m)
        for s in range(count):
            j = first + s
            if all(i in got for i in range(k)):
                stripe = b"".join(got[i][s] for i in range(k))[: layout.stripe_length(j)]
            else:
                stripe = rs.decode({i: bytes(got[i][s]) for i in got}, layout.stripe_length(j))
            out.append(stripe)
        return out
