"""The hash engine: Bitcask, the hash index of DDIA ch. 3.

Writes append self-checking records to the *active* segment through the file's user-space
buffer and point the in-memory key directory at them; a get is one dict lookup and one
``pread`` of exactly one record, whose CRC is verified before the value is returned (read
amplification 1.0). When the active segment reaches ``segment_size`` it is fsynced and becomes
immutable, and a new one starts. A background thread merges immutable segments (see
:mod:`cairn.storage.hash.merge`) and writes hint files for fast restart; recovery
(:mod:`cairn.storage.hash.keydir`) rebuilds the key directory and stops cleanly at a torn tail.

The engine is unordered: ``scan`` sorts a snapshot of the key directory's keys, O(n log n) per
scan, the price DDIA names for hash indexes ("range queries are not efficient").

Concurrency: one lock orders appends and key-directory updates. Reads take no lock: a get
notes the merge generation, reads, and retries if a merge swapped segments meanwhile (so it can
never read a closed or reused file descriptor and keep the result). Scans pin the segments of
their snapshot so a merge defers closing them. Durable writes share fsyncs through
:class:`~cairn.storage.groupcommit.GroupCommit`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from crc32c import crc32c

from cairn.storage.directory import claim_directory
from cairn.storage.engine import Engine, EngineStats, Op, Put, normalize_ops
from cairn.storage.errors import (
    CorruptionError,
    DurabilityError,
    EngineClosedError,
    StorageError,
)
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.groupcommit import GroupCommit
from cairn.storage.hash.keydir import recover
from cairn.storage.hash.merge import MergePolicy, MergeWorker, discard_outputs, write_merge
from cairn.storage.hash.segment import (
    CRC,
    HEADER,
    HEADER_SIZE,
    MORE,
    OVERHEAD,
    RESIDUE,
    Segment,
    encode_delete,
    encode_put,
    hint_name,
    segment_name,
    uses_plain_pread,
)
from cairn.storage.limits import MAX_KEY_SIZE, MAX_VALUE_SIZE, check_key, check_value

FORMAT = 1
SCAN_MAX_KEY = 0xFFFF  # structural bound when scanning files; the torn-tail probe relies on it
SWAP_CHUNK = 8192  # key-directory entries swapped per lock hold after a merge

_pack_header = HEADER.pack
_os_pread = os.pread
_pack_crc = CRC.pack


class HashEngine(Engine):
    """Bitcask. Options (keyword-only):

    * ``segment_size`` (64 MiB): roll the active segment over past this many bytes.
    * ``merge_dead_ratio`` (0.5) and ``merge_min_dead_bytes`` (1 MiB): merge when the immutable
      segments' garbage reaches both.
    * ``merge_max_segments`` (16): also merge when this many immutable segments exist and a
      merge would at least halve them.
    * ``merge_interval`` (1.0 s): how often the merge thread re-checks the policy (it is also
      woken by every rollover).
    * ``background_merge`` (True): run the merge thread; ``compact()`` merges either way.
    * ``commit_delay`` (0.0005 s): how long a group-commit leader waits for the other active
      durable writers to append before it fsyncs (0: never wait); see
      :mod:`cairn.storage.groupcommit`.
    * ``max_key_size``, ``max_value_size``: input limits (:mod:`cairn.storage.limits`).
    """

    kind = "hash"
    ordered = False
    # Slots keep attribute access on the hot paths a fixed-offset load: with ~30 attributes
    # in an instance dict, CPython 3.11 falls off its fast (shared-key) attribute path.
    __slots__ = (
        "_active",
        "_appended",
        "_by_sid",
        "_commit",
        "_deletes",
        "_failed",
        "_fsync_lock",
        "_gen",
        "_hits",
        "_keydir",
        "_keyset_version",
        "_live_rec",
        "_lock",
        "_maintenance_fsyncs",
        "_merge_lock",
        "_merge_read",
        "_merge_written",
        "_merges",
        "_misses",
        "_next_id",
        "_pins",
        "_policy",
        "_puts",
        "_recovery",
        "_recovery_seconds",
        "_retired",
        "_segment_size",
        "_segments",
        "_sorted_keys",
        "_table",
        "_user_written",
        "_worker",
        "max_key_size",
        "max_value_size",
    )

    def __init__(self, path: str, fs: FileSystem = REAL_FS, *,
                 segment_size: int = 64 << 20,
                 merge_dead_ratio: float = 0.5,
                 merge_min_dead_bytes: int = 1 << 20,
                 merge_max_segments: int = 16,
                 merge_interval: float = 1.0,
                 background_merge: bool = True,
                 commit_delay: float = 0.0005,
                 max_key_size: int = MAX_KEY_SIZE,
                 max_value_size: int = MAX_VALUE_SIZE):
        super().__init__(path, fs)
        if not 256 <= segment_size <= 1 << 40:
            raise StorageError(f"segment_size must be between 256 bytes and 1 TiB, "
                               f"not {segment_size}")
        if not 0.0 < merge_dead_ratio <= 1.0:
            raise StorageError(f"merge_dead_ratio must be in (0, 1], not {merge_dead_ratio}")
        if merge_min_dead_bytes < 0 or merge_max_segments < 2 or merge_interval <= 0:
            raise StorageError("merge_min_dead_bytes must be >= 0, merge_max_segments >= 2 "
                               "and merge_interval > 0")
        if not 0 <= commit_delay <= 1:
            raise StorageError(f"commit_delay must be between 0 and 1 second, not {commit_delay}")
        if not 1 <= max_key_size <= SCAN_MAX_KEY or max_value_size < 0:
            raise StorageError(f"max_key_size must be in [1, {SCAN_MAX_KEY}] and "
                               f"max_value_size >= 0")
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        self._segment_size = segment_size
        self._policy = MergePolicy(merge_dead_ratio, merge_min_dead_bytes, merge_max_segments)
        claim_directory(fs, path, self.kind, FORMAT)

        self._lock = threading.Lock()  # appends, key directory, segment list, counters
        self._fsync_lock = threading.Lock()  # an fsync never races the close of its file
        self._merge_lock = threading.Lock()  # one merge at a time
        self._failed: BaseException | None = None

        started = time.perf_counter()
        rec = recover(fs, path, SCAN_MAX_KEY)
        self._recovery_seconds = time.perf_counter() - started
        self._recovery = rec
        self._keydir = rec.keydir
        self._segments: list[Segment] = rec.segments
        self._table = rec.table
        self._by_sid = rec.table.by_sid
        self._live_rec = rec.live_record_bytes
        self._next_id = rec.next_id
        self._gen = 0  # bumped when a merge swaps segments: readers retry across it
        self._pins = 0  # running scans
        self._retired: list[Segment] = []  # merged-away segments a scan may still read
        self._keyset_version = 0  # bumped whenever a key is added or removed
        self._sorted_keys: tuple[int, list[bytes]] = (-1, [])  # (version, keys in order)

        self._appended = 0  # cumulative bytes appended: group commit's monotonic position
        self._puts = self._deletes = self._user_written = 0
        self._merges = self._merge_read = self._merge_written = 0
        self._maintenance_fsyncs = 0
        # Read counters are bumped without a lock (a get takes none): with the GIL an
        # increment is not interrupted in practice, and a stats counter may be off by a race.
        self._hits = 0  # gets that read a record (one pread each)
        self._misses = 0  # gets of absent keys (no I/O)

        last = self._segments[-1] if self._segments else None
        try:
            if last is not None and not last.merged and last.size < segment_size:
                self._active = last  # keep appending where the last run stopped
            else:
                self._active = self._create_segment()
        except BaseException:
            for seg in self._segments:
                seg.close()
            raise
        self._commit = GroupCommit(self._sync_active, self._position, commit_delay)
        self._worker = (MergeWorker(self._background_merge, self._fail, merge_interval,
                                    f"cairn-hash-merge:{os.path.basename(path)}")
                        if background_merge else None)

    # -- writes -------------------------------------------------------------------------------
    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        # The hot path: no Put object, no normalize_ops, one append, one dict store.
        if self._closed:
            self._check_open()
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        if type(value) is not bytes or len(value) > self.max_value_size:
            check_value(value, self.max_value_size)
        body = _pack_header(0, len(key), len(value)) + key + value
        rec = body + _pack_crc(crc32c(body))
        n = len(rec)
        with self._lock:
            if self._failed is not None or self._closed:
                self._refuse()
            seg = self._active
            if seg.file.size + n > self._segment_size and seg.file.size:
                seg = self._rollover()
            try:
                off = seg.file.append(rec)
            except BaseException as exc:
                self._fail(exc)
                raise
            kd = self._keydir
            old = kd.get(key)
            if old is not None:
                self._by_sid[old[0]].dead += old[2]
                self._live_rec += n - old[2]
            else:
                self._live_rec += n
                self._keyset_version += 1
            kd[key] = (seg.sid, off, n, HEADER_SIZE + len(key))
            self._appended += n
            self._puts += 1
            self._user_written += n - OVERHEAD
            end = self._appended
        if sync:
            self._commit_one(end)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        if self._closed:
            self._check_open()
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        with self._lock:
            if self._failed is not None or self._closed:
                self._refuse()
            self._deletes += 1
            self._user_written += len(key)
            old = self._keydir.get(key)
            if old is not None:
                # A tombstone is needed only if some file still holds the key; if the key
                # is absent, replaying the files already leaves it absent.
                self._append_locked([(key, None)], [encode_delete(key)])
            end = self._appended
        if sync:
            self._commit_one(end)

    def write_batch(self, ops: Iterable[Op | tuple], *, sync: bool = False) -> None:
        self._check_open()
        batch = normalize_ops(ops, self.max_key_size, self.max_value_size)
        if not batch:
            return
        last = len(batch) - 1
        items: list[tuple[bytes, bytes | None]] = []
        records: list[bytes] = []
        user = 0
        puts = 0
        for i, op in enumerate(batch):
            flags = MORE if i < last else 0  # the batch is committed by its last record
            if type(op) is Put:
                items.append((op.key, op.value))
                records.append(encode_put(op.key, op.value, flags))
                user += len(op.key) + len(op.value)
                puts += 1
            else:
                items.append((op.key, None))
                records.append(encode_delete(op.key, flags))
                user += len(op.key)
        with self._lock:
            if self._failed is not None or self._closed:
                self._refuse()
            self._append_locked(items, records)
            self._puts += puts
            self._deletes += len(batch) - puts
            self._user_written += user
            end = self._appended
        if sync:
            self._commit_one(end)

    def _append_locked(self, items: list[tuple[bytes, bytes | None]],
                       records: list[bytes]) -> None:
        """Append one batch as a unit and update the key directory (caller holds the lock)."""
        data = records[0] if len(records) == 1 else b"".join(records)
        seg = self._active
        if seg.file.size + len(data) > self._segment_size and seg.file.size:
            seg = self._rollover()  # a batch never spans two segments
        try:
            pos = seg.file.append(data)
        except BaseException as exc:
            self._fail(exc)
            raise
        kd = self._keydir
        by_sid = self._by_sid
        sid = seg.sid
        live = 0
        for (key, value), rec in zip(items, records, strict=True):
            n = len(rec)
            old = kd.get(key)
            if old is not None:
                by_sid[old[0]].dead += old[2]
                live -= old[2]
            if value is None:
                seg.dead += n
                if old is not None:
                    del kd[key]
                    self._keyset_version += 1
            else:
                if old is None:
                    self._keyset_version += 1
                kd[key] = (sid, pos, n, HEADER_SIZE + len(key))
                live += n
            pos += n
        self._live_rec += live
        self._appended += len(data)

    def _commit_one(self, end: int) -> None:
        try:
            self._commit.sync_to(end)
        except DurabilityError as exc:
            self._fail(exc)
            raise

    def _position(self) -> int:
        return self._appended

    def _sync_active(self) -> None:
        """Group commit's sync: flush under the lock, fsync outside it."""
        try:
            with self._lock:
                seg = self._active
                seg.file.flush()
                seg.mark_flushed()
            with self._fsync_lock:
                if not seg.file.closed:  # closed only after a merge, long after its fsync
                    seg.file.fsync()
        except OSError:
            raise
        except BaseException as exc:
            # Not an I/O error (a simulated crash, an interrupt): release the writers queued
            # behind this leader with an error instead of leaving them waiting forever.
            self._commit.fail(DurabilityError(errno.EIO, f"sync aborted: {exc!r}"))
            raise

    def _rollover(self) -> Segment:
        """Seal the active segment (fsync: nothing after it may be durable before it is) and
        start a new one. Caller holds the lock."""
        old = self._active
        try:
            old.file.sync()
            self._maintenance_fsyncs += 1
            old.mark_flushed()
            new = self._create_segment()
        except BaseException as exc:
            self._fail(exc)
            raise
        if self._worker is not None:
            self._worker.wake()
        return new

    def _create_segment(self) -> Segment:
        seg_id = self._next_id
        self._next_id += 1
        seg_path = os.path.join(self.path, segment_name(seg_id))
        f = self.fs.open(seg_path, truncate=True)
        seg = self._table.add(Segment(seg_id, 0, seg_path, f, uses_plain_pread(self.fs)))
        self._segments.append(seg)
        self._active = seg
        self.fs.sync_dir(self.path)  # the new name must survive a crash before its data
        self._maintenance_fsyncs += 1
        return seg

    def _fail(self, exc: BaseException) -> None:
        """Enter read-only mode: the files can no longer be trusted to match memory."""
        if self._failed is None:
            self._failed = exc

    def _refuse(self) -> None:
        self._check_open()
        failed = self._failed
        if isinstance(failed, StorageError | OSError) or not isinstance(failed, Exception):
            raise failed  # type: ignore[misc]
        raise StorageError(f"hash engine at {self.path} is read-only after an earlier "
                           f"error: {failed!r}") from failed

    # -- reads --------------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        # The hot path: one dict lookup, one pread, one checksum call. Everything rare is
        # decided off it: key validation happens on a miss (only valid keys are ever in the
        # directory), and a closed engine has an empty directory and a bumped generation,
        # so a get on it always ends in _get_miss or _get_checked, which raise.
        gen = self._gen  # before the lookup: a merge swap after it forces a retry below
        try:
            entry = self._keydir.get(key)
        except TypeError:  # unhashable, so certainly not a key
            entry = None
        if entry is None or type(key) is not bytes:
            return self._get_miss(key, entry)
        sid, off, n, vstart = entry
        seg = self._by_sid[sid]
        view, mapped = seg.view
        if off + n <= mapped:
            data = view[off:off + n]  # type: ignore[index]
        else:
            try:
                # Whole records are flushed at once: one that starts below the limit ends there.
                if off < seg.direct_limit:
                    data = _os_pread(seg.fd, n, off)
                    seg.remap()  # the next get of this part of the file is a slice
                else:
                    data = self._read_slow(seg, off, n)
            except OSError:
                data = b""  # e.g. a merged-away segment closed under us: the slow path decides
        self._hits += 1
        # A short read fails the residue check like any other damage.
        if self._gen != gen or crc32c(data) != RESIDUE:
            return self._get_checked(key)
        return data[vstart:-4]

    def _get_miss(self, key: object, entry: object) -> bytes | None:
        self._check_open()
        check_key(key, self.max_key_size)
        if entry is not None:  # a valid key after all (cannot happen: kept for safety)
            return self._get_checked(key)  # type: ignore[arg-type]
        self._misses += 1
        return None

    def _get_checked(self, key: bytes) -> bytes | None:
        """The careful get: retries across merges, loops over short reads, and reports a
        checksum failure that is really on disk as :class:`CorruptionError`."""
        while True:
            self._check_open()
            gen = self._gen
            entry = self._keydir.get(key)
            if entry is None:
                return None
            sid, off, n, vstart = entry
            seg = self._by_sid[sid]
            try:
                if off < seg.direct_limit:
                    data = seg.file.read_at(off, n)
                else:
                    data = self._read_slow(seg, off, n)
            except OSError:
                if self._gen != gen:
                    continue
                raise
            if self._gen != gen:
                continue  # the segment was merged away while we read it
            if len(data) != n or crc32c(data) != RESIDUE:
                raise CorruptionError(f"record of key {key[:64]!r} failed its checksum",
                                      path=seg.path, offset=off)
            return data[vstart:-4]

    def _read_slow(self, seg: Segment, off: int, n: int) -> bytes:
        """Read through the File: for a record that may still sit in the append buffer (which
        only lock holders may touch), and for every read on a file system that injects
        faults, so that the fault seam sees it."""
        with self._lock:
            f = seg.file
            if f.closed:
                raise OSError(errno.EBADF, f"{seg.path} was merged away")
            try:
                f.flush()
            except BaseException as exc:
                self._fail(exc)
                raise
            seg.mark_flushed()
            return f.read_at(off, n)

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Sorted scan of an unordered index: the keys are sorted, O(n log n), the price DDIA
        names for hash indexes. The sorted key list is kept until the *set* of keys changes
        (an overwrite does not change it), so repeated scans of an unchanged key set cost
        O(log n + k) instead."""
        self._check_open()
        with self._lock:
            self._check_open()
            active = self._active
            try:
                active.file.flush()
            except BaseException as exc:
                self._fail(exc)
                raise
            active.mark_flushed()
            version = self._keyset_version
            cached_version, keys = self._sorted_keys
            snapshot: dict[bytes, tuple[int, int, int, int]] | None = None
            entries: list[tuple[int, int, int, int]] = []
            if cached_version == version:
                lo = 0 if start is None else bisect_left(keys, start)
                hi = len(keys) if end is None else bisect_left(keys, end)
                keys = keys[lo:hi]
                if len(keys) * 8 > len(self._keydir):
                    snapshot = self._keydir.copy()  # one C-level copy beats k lookups
                else:
                    kd = self._keydir
                    entries = [kd[k] for k in keys]  # the snapshot of just this range
            else:
                snapshot = self._keydir.copy()  # one C-level copy: the consistent snapshot
                keys = []
            self._pins += 1
        try:
            if cached_version != version:
                assert snapshot is not None
                ordered = sorted(snapshot)
                with self._lock:
                    if version > self._sorted_keys[0]:
                        self._sorted_keys = (version, ordered)
                lo = 0 if start is None else bisect_left(ordered, start)
                hi = len(ordered) if end is None else bisect_left(ordered, end)
                keys = ordered[lo:hi]
            if snapshot is not None:
                entries = [snapshot[k] for k in keys]
            yield from self._read_entries(keys, entries, reverse)
        finally:
            self._unpin()

    def _read_entries(self, keys: list[bytes], entries: list[tuple[int, int, int, int]],
                      reverse: bool) -> Iterator[tuple[bytes, bytes]]:
        by_sid = self._by_sid
        order = range(len(keys) - 1, -1, -1) if reverse else range(len(keys))
        for i in order:
            key = keys[i]
            sid, off, n, vstart = entries[i]
            seg = by_sid[sid]
            # Pinned segments stay open and the scan began with a flush: a plain pread is
            # safe on the real file system; others go through the File (the fault seam).
            data = _os_pread(seg.fd, n, off) if seg.direct else seg.file.read_at(off, n)
            if len(data) != n or crc32c(data) != RESIDUE:
                raise CorruptionError(f"record of key {key[:64]!r} failed its checksum",
                                      path=seg.path, offset=off)
            yield key, data[vstart:-4]

    def _unpin(self) -> None:
        with self._lock:
            self._pins -= 1
            retired: list[Segment] = []
            if self._pins == 0 and self._retired:
                retired, self._retired = self._retired, []
        self._close_segments(retired)

    def _close_segments(self, segments: list[Segment]) -> None:
        with self._fsync_lock:
            for seg in segments:
                with contextlib.suppress(OSError):  # immutable and fsynced: nothing to lose
                    seg.close()

    # -- maintenance --------------------------------------------------------------------------
    def flush(self) -> None:
        self._check_open()
        with self._lock:
            if self._failed is not None:
                self._refuse()
            seg = self._active
            try:
                seg.file.flush()
            except BaseException as exc:
                self._fail(exc)
                raise
            seg.mark_flushed()

    def compact(self) -> None:
        """Seal the active segment and merge every segment now (synchronously)."""
        self._check_open()
        self._merge(force=True)

    def _background_merge(self) -> None:
        if not self._closed and self._failed is None:
            self._merge(force=False)

    def _merge(self, force: bool) -> bool:
        with self._merge_lock:
            with self._lock:
                if self._failed is not None or self._closed:
                    self._refuse()
                if force and self._active.file.size:
                    self._rollover()
                inputs = self._segments[:-1]
                if not any(not s.merged for s in inputs):
                    return False
                if not force and not self._policy.should_merge(inputs, self._segment_size):
                    return False
            try:
                self._merge_inputs(inputs)
            except CorruptionError:
                raise  # outputs discarded, inputs untouched: the engine stays writable
            except BaseException as exc:
                self._fail(exc)
                raise
            return True

    def _merge_inputs(self, inputs: list[Segment]) -> None:
        out = write_merge(self.fs, self.path, inputs, self._keydir, self._table,
                          self._segment_size, SCAN_MAX_KEY)
        self._maintenance_fsyncs += 2 * len(out.outputs) + 1
        newest = next(s for s in inputs if s.sort_key == (out.cutoff, 0))
        try:
            # The commit point: with the newest input gone, recovery keeps the outputs.
            self.fs.remove(newest.path)
        except BaseException:
            discard_outputs(self.fs, self.path, out)
            raise
        self.fs.sync_dir(self.path)
        self._maintenance_fsyncs += 1
        moves = out.moves
        kd = self._keydir
        by_sid = self._by_sid
        for i in range(0, len(moves), SWAP_CHUNK):
            with self._lock:  # in chunks, so writers and readers are never held up long
                for key, old, new in moves[i:i + SWAP_CHUNK]:
                    if kd.get(key) is old:
                        kd[key] = new
                    else:
                        by_sid[new[0]].dead += new[2]  # overwritten while we copied it
        with self._lock:
            self._segments = out.outputs + self._segments[len(inputs):]
            self._gen += 1
            self._merges += 1
            self._merge_read += out.bytes_read
            self._merge_written += out.bytes_written
        try:
            # Leftovers of a committed merge: recovery would remove them too.
            for seg in inputs:
                if seg is not newest:
                    self.fs.remove(seg.path)
                if seg.hint_path is not None:
                    self.fs.remove(seg.hint_path)
                else:
                    self.fs.remove(os.path.join(self.path, hint_name(seg.id, seg.sub)))
            self.fs.sync_dir(self.path)
            self._maintenance_fsyncs += 1
        finally:
            with self._lock:
                if self._pins:
                    self._retired.extend(inputs)  # closed when the last scan ends
                    inputs = []
            self._close_segments(inputs)

    # -- stats and close ----------------------------------------------------------------------
    def stats(self) -> EngineStats:
        with self._lock:
            segments = list(self._segments)
            keys = len(self._keydir)
            live_rec = self._live_rec
            st = EngineStats(
                engine=self.kind, keys=keys, live_bytes=live_rec - OVERHEAD * keys,
                user_bytes_written=self._user_written,
                disk_bytes_written=self._appended + self._merge_written,
                puts=self._puts, deletes=self._deletes,
                compactions=self._merges, bytes_compacted=self._merge_read)
            maintenance = self._maintenance_fsyncs
            failed = self._failed
        st.read_units = self._hits
        st.gets = self._hits + self._misses
        st.fsyncs = self._commit.fsyncs
        st.commits = self._commit.commits
        data_bytes = sum(s.size for s in segments)
        hint_bytes = sum(s.hint_bytes for s in segments)
        dead = sum(s.dead for s in segments)
        st.disk_bytes = data_bytes + hint_bytes
        rec = self._recovery
        st.extra = {
            "segments": len(segments),
            "merged_segments": sum(1 for s in segments if s.merged),
            "hint_files": sum(1 for s in segments if s.hint_path is not None),
            "active_segment": self._active.name,
            "segment_size": self._segment_size,
            "data_bytes": data_bytes,
            "hint_bytes": hint_bytes,
            "live_record_bytes": live_rec,
            "dead_bytes": dead,
            "dead_ratio": round(dead / data_bytes, 4) if data_bytes else 0.0,
            "merges": self._merges,
            "merge_bytes_read": self._merge_read,
            "merge_bytes_written": self._merge_written,
            "found_gets": self._hits,  # each one pread of one record
            "absent_gets": self._misses,  # answered by the key directory alone, no I/O
            "max_commits_per_fsync": self._commit.max_batch,
            "maintenance_fsyncs": maintenance,
            "recovery_seconds": round(self._recovery_seconds, 4),
            "recovery_hints_loaded": rec.hints_loaded,
            "recovery_hints_rejected": rec.hints_rejected,
            "recovery_segments_scanned": rec.segments_scanned,
            "recovery_torn_bytes_truncated": rec.torn_bytes_truncated,
            "recovery_files_removed": rec.files_removed,
            "read_only_error": repr(failed) if failed is not None else None,
        }
        return st

    def _close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        error: BaseException | None = None
        with self._merge_lock, self._lock:
            if self._failed is None:
                try:
                    self._active.file.sync()  # a clean shutdown leaves everything durable
                except BaseException as exc:  # reported after closing all
                    error = exc
            # Readers take no lock: an empty directory and a new generation send any get
            # to the paths that check for a closed engine (before its files are closed).
            self._keydir = {}
            self._gen += 1
            for seg in self._segments + self._retired:
                try:
                    seg.close()
                except BaseException as exc:
                    error = error or exc
            self._retired = []
        if error is not None:
            raise error

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"hash engine at {self.path} is closed")


__all__ = ["HashEngine"]
