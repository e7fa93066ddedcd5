"""The LSM-tree engine (DDIA ch. 3, "SSTables and LSM-Trees"; LevelDB/RocksDB's design).

Write path: a batch is appended to the write-ahead log as one checksumed frame, then applied to
the in-memory *memtable* (a dict). ``sync=True`` writers share fsyncs through group commit. A
full memtable becomes *immutable* and a new one (with a new WAL) takes writes while a background
thread flushes the immutable one to a level-0 SSTable. A second background thread compacts
tables (leveled by default, size-tiered as an option). Too many level-0 tables first slow
writes down, then stop them until compaction catches up (*write stalls*, counted in stats).

Read path: memtable, immutable memtables, level-0 tables newest first, then one table per
deeper level (found by binary search on the level's key ranges). Each table's Bloom filter is
consulted before its sparse index and a (cached, decoded) data block.

Every change to the set of live tables is a manifest edit made durable before it is acted on.
A table that leaves the current version is deleted only when no reader pinned an older version
(scans pin one for their whole life, point reads for the duration of the lookup).

Directory layout: ``CAIRN-ENGINE`` (kind marker), ``CURRENT`` (names the manifest),
``MANIFEST-NNNNNN``, ``NNNNNN.log`` (WALs), ``NNNNNN.sst`` (tables). See docs/storage.md.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from cairn.storage.directory import claim_directory
from cairn.storage.engine import Engine, EngineStats, Op, Put, normalize_ops
from cairn.storage.errors import (
    CorruptionError,
    DurabilityError,
    EngineClosedError,
    StorageError,
)
from cairn.storage.fileio import REAL_FS, File, FileSystem
from cairn.storage.groupcommit import GroupCommit
from cairn.storage.limits import MAX_KEY_SIZE, MAX_VALUE_SIZE, check_key, check_value
from cairn.storage.lsm.bloom import expected_fp_rate, key_hash
from cairn.storage.lsm.compaction import (
    CompactionOptions,
    MergeResult,
    Plan,
    level_scores,
    merge_blocks,
    merge_into,
    pick_leveled,
    pick_tiered,
)
from cairn.storage.lsm.iterators import concat, live, merge_entries
from cairn.storage.lsm.manifest import (
    CURRENT,
    ManifestWriter,
    TableMeta,
    Version,
    VersionEdit,
    read_current,
    table_name,
)
from cairn.storage.lsm.memtable import MemTable
from cairn.storage.lsm.sstable import (
    BlockCache,
    Codec,
    TableReader,
    TableWriter,
    cumulative_sizes,
)
from cairn.storage.lsm.wal import encode_put, open_for_append, parse_wal_name, replay, wal_name
from cairn.storage.record import encode_frame

FORMAT = 1
_MISS = object()
_MEM_HIT = (1, 0, 0, 0, 0)  # the counters of a point read answered by a memtable


class _Abort(Exception):
    """Raised inside a compaction when the engine is closing."""


@dataclass(eq=False)
class _Handle:
    """A version plus its open table readers, pinned by readers while they use it."""

    version: Version
    l0: list[TableReader]  # newest first
    levels: list[tuple[list[bytes], list[TableReader]]]  # L1.. : (largest keys, readers)
    numbers: list[int]
    # One element per reader using this version. list.append/pop are atomic under the GIL, so
    # a point read pins and unpins without the engine lock (see LSMEngine.get).
    pins: list[int] = field(default_factory=list)
    retired: bool = False

    search: list[tuple[list[bytes], list[TableReader]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The sorted runs a point read consults, newest first: each L0 table is a run of its
        # own, each deeper level one run (found by binary search on its tables' largest keys).
        self.search = [([r.hi], [r]) for r in self.l0] + self.levels


@dataclass
class _Counters:
    gets: int = 0
    puts: int = 0
    deletes: int = 0
    read_units: int = 0
    user_bytes: int = 0
    wal_bytes: int = 0
    flush_bytes: int = 0
    compaction_bytes_out: int = 0
    compaction_bytes_in: int = 0
    manifest_bytes: int = 0
    flushes: int = 0
    compactions: int = 0
    trivial_moves: int = 0
    tombstones_dropped: int = 0
    bloom_checks: int = 0
    bloom_negatives: int = 0
    bloom_false_positives: int = 0
    stalls: int = 0
    stall_seconds: float = 0.0
    slowdowns: int = 0
    wal_syncs: int = 0
    retired_bytes_read: int = 0  # lookup/scan block bytes read from tables deleted since
    compaction_log: list[str] = field(default_factory=list)


class LSMEngine(Engine):
    """A log-structured merge-tree. Options (keyword-only):

    ``memtable_bytes`` (64 MiB, RocksDB's ``write_buffer_size``): memtable size before it is
    frozen and flushed. ``max_immutable`` (2): frozen memtables waiting for flush before writes
    stall. ``block_size`` (4 KiB), ``bits_per_key`` (10; 0 disables nothing but makes a
    useless 1-probe filter), ``compression`` ("lz4", "zstd" or "none"), ``block_cache_bytes``
    (64 MiB). ``compaction`` ("leveled" or "tiered"), ``num_levels`` (7),
    ``l0_compaction_trigger`` (4), ``l0_slowdown_trigger`` (8), ``l0_stop_trigger`` (12),
    ``level_base_bytes`` (10 MiB), ``level_multiplier`` (10), ``target_file_size`` (2 MiB),
    ``tiered_min_merge`` (4), ``tiered_max_runs`` (12). ``background`` (True): flush and
    compact in background threads; False does that work on the writer's thread (deterministic
    tests). ``max_manifest_bytes`` (4 MiB): manifest size that triggers a fresh one.
    ``exact_stats_limit`` (50,000): up to this many stored entries ``stats()`` counts keys
    exactly by a merge; past it ``keys``/``live_bytes`` are estimates (``extra.keys_exact``).
    ``commit_delay`` (0.5 ms): the longest a group-commit leader waits for other active durable
    writers to append before it fsyncs (0 disables; never delays a lone writer).
    ``max_merge_entries`` (2,000,000): compactions with up to this many input entries merge in
    memory (fast); bigger ones stream through a heap merge (bounded memory).
    ``manual_wal_flush`` (False, RocksDB's option of that name): False hands every write's WAL
    frame to the OS (one write(2)) before it returns, so a *process* crash loses no
    acknowledged write; True keeps frames in a 64 KiB user-space buffer until it fills or a
    durable write, scan or rotation flushes it (faster puts; a process crash can lose up to
    64 KiB of unsynced writes, a power cut can lose unsynced writes either way).
    """

    kind = "lsm"
    ordered = True

    def __init__(self, path: str, fs: FileSystem = REAL_FS, *,
                 memtable_bytes: int = 64 * 1024 * 1024, max_immutable: int = 2,
                 block_size: int = 4096, bits_per_key: float = 10.0, compression: str = "lz4",
                 block_cache_bytes: int = 64 * 1024 * 1024, compaction: str = "leveled",
                 num_levels: int = 7, l0_compaction_trigger: int = 4,
                 l0_slowdown_trigger: int = 8, l0_stop_trigger: int = 12,
                 level_base_bytes: int = 10 * 1024 * 1024, level_multiplier: int = 10,
                 target_file_size: int = 2 * 1024 * 1024, tiered_min_merge: int = 4,
                 tiered_max_runs: int = 12, background: bool = True,
                 max_manifest_bytes: int = 4 * 1024 * 1024, exact_stats_limit: int = 50_000,
                 commit_delay: float = 0.0005, max_merge_entries: int = 2_000_000,
                 manual_wal_flush: bool = False,
                 max_key_size: int = MAX_KEY_SIZE, max_value_size: int = MAX_VALUE_SIZE):
        super().__init__(path, fs)
        if compaction not in ("leveled", "tiered"):
            raise StorageError(f"compaction must be 'leveled' or 'tiered', not {compaction!r}")
        for name, value, low in (("memtable_bytes", memtable_bytes, 1),
                                 ("max_immutable", max_immutable, 1),
                                 ("block_size", block_size, 64), ("num_levels", num_levels, 2),
                                 ("l0_compaction_trigger", l0_compaction_trigger, 1),
                                 ("level_multiplier", level_multiplier, 2),
                                 ("tiered_min_merge", tiered_min_merge, 2),
                                 ("target_file_size", target_file_size, 1),
                                 ("block_cache_bytes", block_cache_bytes, 0)):
            if not isinstance(value, int) or value < low:
                raise StorageError(f"{name} must be an integer >= {low}, not {value!r}")
        if not l0_compaction_trigger <= l0_slowdown_trigger <= l0_stop_trigger:
            raise StorageError("need l0_compaction_trigger <= l0_slowdown_trigger <= "
                               "l0_stop_trigger")
        if not 0 < bits_per_key <= 64:
            raise StorageError(f"bits_per_key must be in (0, 64], not {bits_per_key!r}")
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        self.memtable_bytes = memtable_bytes
        self.max_immutable = max_immutable
        self.block_size = block_size
        self.bits_per_key = float(bits_per_key)
        self.compression = compression
        self._codec = Codec(compression)  # used by one flush or compaction at a time
        self._compaction_codec = Codec(compression)
        self.style = compaction
        self.num_levels = num_levels
        self.copts = CompactionOptions(
            style=compaction, l0_trigger=l0_compaction_trigger,
            level_base_bytes=level_base_bytes, level_multiplier=level_multiplier,
            target_file_size=target_file_size, min_merge=tiered_min_merge,
            max_runs=tiered_max_runs)
        # Tiered compaction keeps many runs in L0 on purpose: stall on runs past its budget.
        self.l0_slowdown = l0_slowdown_trigger if compaction == "leveled" else 2 * tiered_max_runs
        self.l0_stop = l0_stop_trigger if compaction == "leveled" else 3 * tiered_max_runs
        self.background = background
        self.max_manifest_bytes = max_manifest_bytes
        self.exact_stats_limit = exact_stats_limit
        if not 0 <= commit_delay <= 0.1:
            raise StorageError(f"commit_delay must be in [0, 0.1] seconds, not {commit_delay!r}")
        self.commit_delay = commit_delay
        self.max_merge_entries = max_merge_entries
        self.manual_wal_flush = bool(manual_wal_flush)

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._flush_lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._wal_sync_lock = threading.Lock()
        self._number_lock = threading.Lock()
        self._error: BaseException | None = None
        self._stopping = False
        self._c = _Counters()
        self._cache = BlockCache(block_cache_bytes)
        self._pointers: dict[int, bytes] = {}
        self._readers: dict[int, TableReader] = {}
        self._table_refs: dict[int, int] = {}
        self._wal_files: dict[int, File] = {}
        self._threads: list[threading.Thread] = []
        # (gets, bloom checks, bloom negatives, read units, hit) of finished point reads, added
        # to the counters by the next holder of the lock (see get); retired versions unpinned
        # by a finalizer, released likewise.
        self._deferred: list[tuple[int, int, int, int, int]] = []
        self._orphans: list[_Handle] = []

        claim_directory(fs, path, self.kind, FORMAT)
        try:
            self._open()
        except BaseException:
            self._release_files()  # a failed recovery must not leak file descriptors
            raise
        self._commit = GroupCommit(self._sync_wal, self._wal_position, commit_delay)
        if background:
            for target, name in ((self._flusher, "flush"), (self._compactor, "compact")):
                t = threading.Thread(target=target, name=f"lsm-{name}:{path}", daemon=True)
                self._threads.append(t)
                t.start()

    # -- opening and recovery ------------------------------------------------------------------
    def _open(self) -> None:
        fs, path = self.fs, self.path
        state = read_current(fs, path, self.num_levels)
        version = state.version if state else Version.empty(self.num_levels)
        names = fs.listdir(path)
        numbers = [0]
        for name in names:
            stem = name.split(".")[0].removeprefix("MANIFEST-")
            if stem.isdigit():
                numbers.append(int(stem))
        self._next_file = max(state.next_file if state else 1, max(numbers) + 1)
        live_tables = {t.number for t in version.tables()}
        for t in version.tables():
            tpath = os.path.join(path, table_name(t.number))
            if not fs.exists(tpath):
                raise CorruptionError(f"table {table_name(t.number)} listed in the manifest is "
                                      "missing", path=tpath)
            self._readers[t.number] = TableReader.open(fs, tpath, t.number, self._cache)
        # Replay the WALs the manifest still needs, oldest first, into one memtable.
        wals = sorted(n for n in (parse_wal_name(x) for x in names)
                      if n is not None and n >= version.log_number)
        mem = MemTable(list(wals))
        self._recovered_ops = 0
        self._torn_bytes = 0
        for n in wals:
            res = replay(fs, os.path.join(path, wal_name(n)), mem)
            self._recovered_ops += res.ops
            self._torn_bytes += res.torn_bytes
        if state is not None and version.log_number and version.log_number not in wals:
            # log_number always names the WAL of a live memtable, which exists until a later
            # edit moves past it: if it is gone, a durable manifest edit was lost.
            raise CorruptionError(f"WAL {wal_name(version.log_number)} needed by the manifest "
                                  "is missing (a manifest edit was lost)",
                                  path=os.path.join(path, CURRENT))
        if wals:
            number = wals[-1]
            self._wal = open_for_append(fs, path, number)
        else:
            number = self._new_number()
            mem.wal_numbers.append(number)
            self._wal = open_for_append(fs, path, number)
            fs.sync_dir(path)
        self._wal_files[number] = self._wal
        self._wal_base = 0
        self._mem = mem
        self._imms: tuple[MemTable, ...] = ()
        self._c.user_bytes = 0
        # A fresh manifest with one snapshot edit; then remove what no version refers to.
        mnum = self._new_number()
        version = replace(version, log_number=mem.wal_numbers[0])
        self._manifest = ManifestWriter(fs, path, mnum,
                                        version.snapshot_edit(self._next_file))
        self._version = version
        self._cur = self._make_handle(version)
        for n in self._cur.numbers:
            self._table_refs[n] = 1
        self._update_triggers()
        for name in names:
            stem = name.split(".")[0]
            full = os.path.join(path, name)
            stale_manifest = (name.startswith("MANIFEST-")
                              and name != os.path.basename(self._manifest.path))
            if name.endswith(".tmp") or stale_manifest:
                fs.remove(full)
            elif name.endswith(".sst") and stem.isdigit() and int(stem) not in live_tables:
                fs.remove(full)  # output of a compaction or flush that never made the manifest
            elif name.endswith(".log") and stem.isdigit() and int(stem) < version.log_number:
                fs.remove(full)  # already flushed; the deletion was interrupted

    def _new_number(self) -> int:
        with self._number_lock:
            n = self._next_file
            self._next_file += 1
            return n

    def _make_handle(self, version: Version) -> _Handle:
        readers = self._readers
        l0 = [readers[t.number] for t in version.levels[0]]
        levels = []
        for lvl in version.levels[1:]:
            rs = [readers[t.number] for t in lvl]
            if rs:
                levels.append(([r.hi for r in rs], rs))
        return _Handle(version, l0, levels, [t.number for t in version.tables()])

    # -- background work -----------------------------------------------------------------------
    def _set_error(self, exc: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = exc
            self._cond.notify_all()

    def _flusher(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._imms and not self._stopping and self._error is None:
                        self._cond.wait()
                    if self._stopping or self._error is not None:
                        return
                self._flush_one()
        except BaseException as exc:
            self._set_error(exc)

    def _compactor(self) -> None:
        try:
            while True:
                with self._cond:
                    while (not self._needs_compaction and not self._stopping
                           and self._error is None):
                        self._cond.wait()
                    if self._stopping or self._error is not None:
                        return
                if not self._compact_once():
                    with self._cond:
                        self._needs_compaction = False
        except _Abort:
            return
        except BaseException as exc:
            self._set_error(exc)

    def _update_triggers(self) -> None:
        """Recompute, from the current version, whether compaction is due (under the lock)."""
        v = self._version
        if self.style == "leveled":
            self._needs_compaction = max(level_scores(v, self.copts)) >= 1.0
        else:
            self._needs_compaction = pick_tiered(v, self.copts) is not None
        self._l0_count = len(v.levels[0])

    def _install(self, edit: VersionEdit, new_readers: dict[int, TableReader],
                 before_swap: Callable[[], None] | None = None) -> None:
        """Make ``edit`` durable in the manifest, then make it the current version."""
        with self._manifest_lock:
            version = self._version.apply(edit)
            edit.next_file = self._next_file
            if self._manifest.size > self.max_manifest_bytes:
                old = self._manifest
                self._manifest = ManifestWriter(self.fs, self.path, self._new_number(),
                                                version.snapshot_edit(self._next_file))
                old.close()
                self.fs.remove(old.path)
                self._c.manifest_bytes += self._manifest.bytes_written
            else:
                before = self._manifest.bytes_written
                self._manifest.append(edit)
                self._c.manifest_bytes += self._manifest.bytes_written - before
            doomed: list[TableReader] = []
            with self._cond:
                self._readers.update(new_readers)
                handle = self._make_handle(version)
                for n in handle.numbers:
                    self._table_refs[n] = self._table_refs.get(n, 0) + 1
                old_handle = self._cur
                self._version = version
                self._cur = handle
                if before_swap is not None:
                    before_swap()
                old_handle.retired = True  # before looking at its pins: see get()
                doomed = self._drain_locked()
                if not old_handle.pins and old_handle.numbers:
                    doomed += self._release(old_handle)
                self._update_triggers()
                self._cond.notify_all()
        self._delete_tables(doomed)

    def _release(self, handle: _Handle) -> list[TableReader]:
        """Drop a retired, unpinned handle's table references (under the lock); return the
        readers whose tables no version uses any more."""
        doomed = []
        for n in handle.numbers:
            left = self._table_refs[n] - 1
            if left:
                self._table_refs[n] = left
            else:
                del self._table_refs[n]
                gone = self._readers.pop(n)
                self._c.retired_bytes_read += gone.bytes_read
                doomed.append(gone)
        handle.numbers = []
        return doomed

    def _delete_tables(self, readers: list[TableReader]) -> None:
        for r in readers:
            r.close()
            self.fs.remove(r.path)

    def _unpin(self, handle: _Handle) -> None:
        handle.pins.pop()
        if handle.retired and not handle.pins:
            self._unpin_released(handle)

    def _unpin_released(self, handle: _Handle) -> None:
        """The last pin of a retired version is gone: release its tables (idempotent)."""
        with self._lock:
            doomed = self._release(handle) if not handle.pins and handle.numbers else []
        self._delete_tables(doomed)

    def _release_pin_soon(self, handle: _Handle) -> None:
        """Unpin from a finalizer (a scan iterator dropped unfinished). A finalizer may run on a
        thread that already holds the engine lock (the cyclic GC runs anywhere), so it never
        blocks on it: a retired version left unpinned is queued for whoever next holds it."""
        handle.pins.pop()
        if not (handle.retired and not handle.pins):
            return
        self._orphans.append(handle)
        if self._lock.acquire(blocking=False):
            try:
                doomed = self._drain_locked()
            finally:
                self._lock.release()
            self._delete_tables(doomed)

    def _drain_locked(self) -> list[TableReader]:
        """Add the queued read counters and release queued unpinned versions (under the lock);
        return the readers of tables no version uses any more."""
        c = self._c
        pop = self._deferred.pop
        while self._deferred:
            gets, checks, negatives, units, hit = pop()
            c.gets += gets
            c.bloom_checks += checks
            c.bloom_negatives += negatives
            c.read_units += units
            # A probe that passed the filter but found nothing there was a false positive
            # (the probe of a hit found its key).
            c.bloom_false_positives += units - hit
        doomed: list[TableReader] = []
        while self._orphans:
            handle = self._orphans.pop()
            if not handle.pins and handle.numbers:
                doomed += self._release(handle)
        return doomed

    def _write_table(self, keys: list[bytes], values: list[bytes | None], codec: Codec
                     ) -> tuple[int, TableReader, int, int, int, bytes, bytes, int]:
        number = self._new_number()
        tpath = os.path.join(self.path, table_name(number))
        w = TableWriter(self.fs, tpath, block_size=self.block_size,
                        bits_per_key=self.bits_per_key, codec=codec, keep_blocks=True)
        try:
            w.add_run(keys, values, cumulative_sizes(keys, values))
            info = w.finish()
        except BaseException:
            w.abandon()
            raise
        self.fs.sync_dir(self.path)
        reader = TableReader.open(self.fs, tpath, number, self._cache)
        # Freshly flushed data is the most likely to be read next, and its blocks are decoded
        # already: warm the cache with them (RocksDB's prepopulate_block_cache=kFlushOnly).
        reader.prepopulate(w.blocks)
        return (number, reader, info.size, info.entries, info.tombstones, info.smallest,
                info.largest, info.live_bytes)

    def _flush_one(self) -> bool:
        """Write the oldest immutable memtable to a level-0 table; ``False`` if none."""
        with self._flush_lock:
            with self._lock:
                if not self._imms:
                    return False
                mem = self._imms[0]
            keys = mem.sorted_keys()  # frozen: nobody writes it any more
            data = mem.data
            added: list[TableMeta] = []
            readers: dict[int, TableReader] = {}
            if keys:
                number, reader, size, entries, tombs, lo, hi, live_b = self._write_table(
                    keys, [data[k] for k in keys], self._codec)
                seq = self._version.next_seq
                added.append(TableMeta(number, 0, size, lo, hi, entries, tombs, live_b, seq))
                readers[number] = reader
                self._c.flush_bytes += size
            with self._lock:
                nxt = self._imms[1] if len(self._imms) > 1 else self._mem
                log_number = nxt.wal_numbers[0]
            edit = VersionEdit(added, [], log_number, None, self._version.next_seq + 1)

            def drop_imm() -> None:
                self._imms = self._imms[1:]

            self._install(edit, readers, drop_imm)
            self._c.flushes += 1
            for n in mem.wal_numbers:
                self._delete_wal(n)
            return True

    def _delete_wal(self, number: int) -> None:
        with self._wal_sync_lock:
            f = self._wal_files.pop(number, None)
            if f is not None:
                f.close()
            self.fs.remove(os.path.join(self.path, wal_name(number)))

    def _compact_once(self, plan: Plan | None = None) -> bool:
        """Run one compaction (the picker's choice unless ``plan`` is given)."""
        with self._compact_lock:
            if plan is None:
                if self.style == "leveled":
                    plan = pick_leveled(self._version, self.copts, self._pointers)
                else:
                    plan = pick_tiered(self._version, self.copts)
            if plan is None:
                return False
            if plan.trivial_move:
                t = plan.inputs[0]
                edit = VersionEdit([replace(t, level=plan.output_level)], [t.number])
                self._install(edit, {})
                self._c.trivial_moves += 1
                self._c.compaction_log.append(f"move #{t.number} L{t.level}->"
                                              f"L{plan.output_level} ({plan.reason})")
                return True
            self._run_merge(plan)
            return True

    def _run_merge(self, plan: Plan) -> None:
        readers = self._readers
        sources = [concat(readers[t.number].iter_range(None, None, fill_cache=False)
                          for t in group) for group in plan.sources]
        outputs: list[TableMeta] = []
        new_readers: dict[int, TableReader] = {}
        state: dict[str, TableWriter | None] = {"w": None}
        written: list[str] = []
        split = plan.split_size
        codec = self._compaction_codec

        def new_writer() -> TableWriter:
            if self._stopping:  # close() waits for us: give up between tables
                raise _Abort()
            number = self._new_number()
            tpath = os.path.join(self.path, table_name(number))
            written.append(tpath)
            w = state["w"] = TableWriter(self.fs, tpath, block_size=self.block_size,
                                         bits_per_key=self.bits_per_key, codec=codec,
                                         number=number)
            return w

        def add(k: bytes, v: bytes | None) -> bool:
            w = state["w"]
            if w is None:
                w = new_writer()
            if not w.add(k, v):
                return False
            if self._stopping:  # close() waits for us: give up at the next block boundary
                raise _Abort()
            return split is not None and w.file.size >= split

        def roll() -> None:
            w = state["w"]
            if w is None:
                return
            state["w"] = None
            info = w.finish()
            number = w.number
            outputs.append(TableMeta(number, plan.output_level, info.size, info.smallest,
                                     info.largest, info.entries, info.tombstones,
                                     info.live_bytes, plan.seq))

        try:
            total = sum(t.entries for t in plan.inputs)
            if total <= self.max_merge_entries:
                # In memory: dict updates oldest to newest, one sort, bulk table writes -- all
                # C-level loops, several times faster than a per-entry heap merge in Python.
                keys, values, dropped = merge_blocks(
                    [[b for t in group for b in readers[t.number].iter_blocks()]
                     for group in plan.sources], plan.drop_tombstones)
                cum = cumulative_sizes(keys, values) if keys else []
                i = 0
                while i < len(keys):
                    i = new_writer().add_run(keys, values, cum, i, split)
                    roll()
                res = MergeResult(total, len(keys), dropped)
            else:  # too big to hold: stream through a heap merge
                res = merge_into(sources, plan.drop_tombstones, add, roll)
                roll()
            self.fs.sync_dir(self.path)
            for t in outputs:
                new_readers[t.number] = TableReader.open(
                    self.fs, os.path.join(self.path, table_name(t.number)), t.number,
                    self._cache)
        except BaseException:
            w = state["w"]
            if w is not None:
                w.abandon()
            for r in new_readers.values():
                r.close()
            for p in written:  # half-written outputs (else removed as orphans at next open)
                try:
                    self.fs.remove(p)
                except BaseException:
                    break
            raise
        edit = VersionEdit(outputs, [t.number for t in plan.inputs])
        self._install(edit, new_readers)
        c = self._c
        c.compactions += 1
        c.compaction_bytes_in += sum(t.size for t in plan.inputs)
        c.compaction_bytes_out += sum(t.size for t in outputs)
        c.tombstones_dropped += res.tombstones_dropped
        levels = sorted({t.level for t in plan.inputs})
        c.compaction_log.append(
            f"merge {len(plan.inputs)} tables L{','.join(map(str, levels))}->"
            f"L{plan.output_level} into {len(outputs)} ({plan.reason})")
        del c.compaction_log[:-50]

    # -- the write path -----------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._closed:
            raise EngineClosedError(f"{self.kind} engine at {self.path} is closed")
        if self._error is not None:
            raise self._error

    def _wal_position(self) -> int:
        """Group commit asks this just before its leader fsyncs: everything before the returned
        position will be durable."""
        return self._wal_base + self._wal.size

    def _sync_wal(self) -> None:
        with self._wal_sync_lock:
            with self._lock:
                wal = self._wal
                wal.flush()
            wal.fsync()

    def _make_room(self) -> None:
        """Called under the lock before a write: rotate a full memtable, apply write stalls."""
        c = self._c
        if self.background and self._l0_count >= self.l0_slowdown:
            if self._l0_count >= self.l0_stop:
                self._stall(lambda: self._l0_count >= self.l0_stop)
            else:
                c.slowdowns += 1
                self._cond.wait(0.001)  # RocksDB's delayed write: give compaction the CPU
                self._check_writable()
        if self._mem.approx_bytes >= self.memtable_bytes:
            if self.background:
                self._stall(lambda: len(self._imms) >= self.max_immutable)
            self._rotate()

    def _stall(self, blocked: Callable[[], bool]) -> None:
        if not blocked():
            return
        self._c.stalls += 1
        t0 = time.monotonic()
        try:
            while blocked():
                self._check_writable()
                self._cond.notify_all()
                self._cond.wait(0.05)
        finally:
            self._c.stall_seconds += time.monotonic() - t0

    def _rotate(self) -> None:
        """Freeze the memtable and start a new one with a new WAL (under the lock)."""
        old = self._wal
        try:
            # Group commit's position runs across WAL files, so everything in the old file
            # must be durable before positions in the new one can be acknowledged.
            old.sync()
            self._c.wal_syncs += 1
            number = self._new_number()
            new = open_for_append(self.fs, self.path, number)
            self.fs.sync_dir(self.path)
        except OSError as exc:
            err = exc if isinstance(exc, DurabilityError) else DurabilityError(
                exc.errno or 5, f"WAL rotation failed: {exc}")
            self._error = err
            self._cond.notify_all()
            raise err from exc
        self._wal_files[number] = new
        self._wal_base += old.size
        self._wal = new
        self._mem.frozen = True
        self._imms = (*self._imms, self._mem)
        self._mem = MemTable([number])
        self._cond.notify_all()

    def _append(self, frame: bytes) -> int:
        """Append a frame to the WAL (under the lock); return the group-commit position."""
        try:
            self._wal.append(frame)
            if not self.manual_wal_flush:
                self._wal.flush()  # in the OS (write(2)) before the put returns: RocksDB's
        except OSError as exc:  # default; a process crash then loses nothing acknowledged
            # The file's buffer and size no longer agree with the disk: refuse further writes
            # until reopened (recovery cuts whatever partial frame reached the file).
            err = exc if isinstance(exc, DurabilityError) else DurabilityError(
                exc.errno or 5, f"WAL append failed: {exc}")
            self._error = err
            self._cond.notify_all()
            raise err from exc
        self._c.wal_bytes += len(frame)
        return self._wal_base + self._wal.size

    def _after_write(self, pos: int) -> None:
        """Wait until the write ending at ``pos`` is durable (group commit)."""
        try:
            self._commit.sync_to(pos)
        except DurabilityError as exc:
            self._set_error(exc)
            raise

    def _inline_maintenance(self) -> None:
        """Without background threads: rotate, flush and compact *before* the write that found
        the memtable full, so a failure there leaves that write unapplied (not half-done)."""
        try:
            with self._lock:
                self._check_writable()
                if self._mem.approx_bytes >= self.memtable_bytes:
                    self._rotate()
            while self._flush_one():
                pass
            while self._compact_once():
                pass
        except BaseException as exc:
            self._set_error(exc)
            raise

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        # The hot path: no Put object, no list, one struct.pack for the WAL frame.
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        if type(value) is not bytes or len(value) > self.max_value_size:
            check_value(value, self.max_value_size)
        frame = encode_put(key, value)
        if not self.background and self._mem.approx_bytes >= self.memtable_bytes:
            self._inline_maintenance()
        with self._lock:
            if self._closed or self._error is not None:
                self._check_writable()
            mem = self._mem
            if mem.approx_bytes >= self.memtable_bytes or self._l0_count >= self.l0_slowdown:
                self._make_room()
                mem = self._mem
            pos = self._append(frame)
            mem.data[key] = value
            n = len(key) + len(value)
            mem.approx_bytes += n + 16
            c = self._c
            c.puts += 1
            c.user_bytes += n
        if sync:
            self._after_write(pos)

    def write_batch(self, ops: Iterable[Op | tuple], *, sync: bool = False) -> None:
        self._check_open()
        batch = normalize_ops(ops, self.max_key_size, self.max_value_size)
        if not batch:
            return
        frame, _ = encode_frame(batch)
        if not self.background and self._mem.approx_bytes >= self.memtable_bytes:
            self._inline_maintenance()
        with self._lock:
            self._check_writable()
            self._make_room()
            pos = self._append(frame)
            mem = self._mem
            c = self._c
            for op in batch:
                if type(op) is Put:
                    mem.put(op.key, op.value)
                    c.puts += 1
                    c.user_bytes += len(op.key) + len(op.value)
                else:
                    mem.put(op.key, None)
                    c.deletes += 1
                    c.user_bytes += len(op.key)
        if sync:
            self._after_write(pos)

    # -- the read path ------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        if self._closed:
            self._check_open()
        deferred = self._deferred
        if len(deferred) > 256:  # fold the counters of earlier reads in, in batches
            with self._lock:
                doomed = self._drain_locked()
            self._delete_tables(doomed)
        # No lock: dict.get and attribute reads are atomic, and the read order (memtable, then
        # immutable memtables, then version) is the reverse of the order in which a rotation
        # and a flush publish their changes, so a key moving down is seen in one place or the
        # next, never missed.
        v = self._mem.data.get(key, _MISS)
        if v is _MISS and self._imms:
            for imm in reversed(self._imms):
                v = imm.data.get(key, _MISS)
                if v is not _MISS:
                    break
        if v is not _MISS:
            deferred.append(_MEM_HIT)
            return v  # type: ignore[return-value]
        # Tables are read without pinning the version: a cached block is plain memory, and a
        # retired version's readers, filters and cached blocks stay valid Python objects. Only
        # a block read from a file pins the version (see _lookup_pinned), because the tables of
        # a retired, unpinned version are deleted.
        h = key_hash(key)
        h1 = h & 0xFFFFFFFF
        h2 = (h >> 32) | 1
        cache = self._cache
        cmap = cache._map
        while True:
            checks = negatives = units = 0
            handle = self._cur
            # The hot path, inlined: key range, Bloom filter (one hash for every table; the
            # probe loop of BloomFilter.may_contain_hash), sparse index, cached block's dict.
            for largest, readers in handle.search:
                # One sorted run per entry (each L0 table alone, then each level): at most one
                # table of a run can hold the key.
                i = bisect_left(largest, key)
                if i == len(largest):
                    continue
                r = readers[i]
                if key < r.lo:
                    continue
                checks += 1
                bits = r.bloom_bits
                m = r.bloom_m
                x = h1
                for _ in r.bloom_probes:
                    pos = x % m
                    if not (bits[pos >> 3] >> (pos & 7)) & 1:
                        break
                    x += h2
                else:
                    units += 1
                    i = bisect_left(r.index_keys, key)
                    if i < r.nblocks:
                        entry = cmap.get(r.cache_base + i)  # BlockCache.get, inlined
                        if entry is None:
                            found = self._lookup_pinned(handle, r, i, key)
                            if found is None:
                                break  # the version retired under us: search the current one
                            if found[0]:
                                deferred.append((1, checks, negatives, units, 1))
                                return found[1]
                            continue
                        blk = entry[0]
                        entry[2] = True
                        cache.hits += 1
                        if type(blk) is bytes:  # cached raw: read a second time, decode it
                            blk = r.promote(i, blk)
                        v = blk[2].get(key, _MISS)
                        if v is not _MISS:
                            deferred.append((1, checks, negatives, units, 1))
                            return v  # type: ignore[no-any-return]
                    continue
                negatives += 1
            else:
                deferred.append((1, checks, negatives, units, 0))
                return None

    def _lookup_pinned(self, handle: _Handle, r: TableReader, i: int, key: bytes
                       ) -> tuple[bool, bytes | None] | None:
        """``r.lookup(i, key)`` (a cache miss) with ``handle`` pinned, or None when the handle
        has retired (its tables may be gone): the caller searches the current version."""
        handle.pins.append(1)
        try:
            if handle.retired:  # retired is set before an installer looks at the pins
                return None
            return r.lookup(i, key)
        finally:
            self._unpin(handle)

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Snapshot now (memtable copy of the range, pinned tables), iterate lazily."""
        self._check_open()
        if start is not None:
            check_key(start, self.max_key_size)
        if end is not None:
            check_key(end, self.max_key_size)
        with self._lock:
            mems = [self._mem.range_items(start, end)]
            mems += [imm.range_items(start, end) for imm in reversed(self._imms)]
            handle = self._cur
            handle.pins.append(1)
        return _Scan(self, handle, self._scan(handle, mems, start, end, reverse))

    def _scan(self, handle: _Handle, mems: list[list[tuple[bytes, bytes | None]]],
              start: bytes | None, end: bytes | None, reverse: bool
              ) -> Iterator[tuple[bytes, bytes]]:
        if start is not None and end is not None and start >= end:
            return
        sources: list[Iterable[tuple[bytes, bytes | None]]] = [
            (reversed(m) if reverse else m) for m in mems if m]
        for r in handle.l0:
            if _in_range(r, start, end):
                sources.append(r.iter_range(start, end, reverse))
        for _largest, readers in handle.levels:
            rs = [r for r in readers if _in_range(r, start, end)]
            if reverse:
                rs.reverse()
            if rs:
                sources.append(concat(r.iter_range(start, end, reverse) for r in rs))
        yield from live(merge_entries(sources, reverse))

    # -- maintenance ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Freeze the memtable and write it (and any waiting ones) to level-0 tables."""
        self._check_writable()
        with self._lock:
            if self._mem.approx_bytes:
                self._rotate()
            else:
                self._wal.flush()
        while self._flush_one():
            pass

    def wait_for_compactions(self) -> None:
        """Flush, then run every compaction that is due, in the calling thread, until none is
        (RocksDB's ``WaitForCompact``). A benchmark that times a load calls it so that the
        load pays for the background work it caused, and the reads measured afterwards do not
        share the interpreter with a compaction still catching up (in Python a background
        compaction takes the GIL from readers; RocksDB's compactions run beside them)."""
        self.flush()
        try:
            while self._compact_once():
                pass
        except BaseException as exc:
            self._set_error(exc)
            raise

    def compact(self) -> None:
        """Flush, then merge every table into one sorted run at the last level (leveled) or
        into a single run (tiered), dropping tombstones and overwritten values."""
        self.flush()
        with self._compact_lock:
            v = self._version
            inputs = v.tables()
            if not inputs:
                return
            sources = [[t] for t in v.levels[0]] + [list(lvl) for lvl in v.levels[1:] if lvl]
            out_level = 0 if self.style == "tiered" else self.num_levels - 1
            seq = max(t.seq for t in inputs)
            split = None if self.style == "tiered" else self.copts.target_file_size
            self._run_merge(Plan(list(inputs), out_level, True, False, seq, "manual compact",
                                 split, sources))

    def stats(self) -> EngineStats:
        with self._lock:
            doomed = self._drain_locked()
            c = self._c
            v = self._version
            mems = [self._mem, *self._imms]
            handle = self._cur
            handle.pins.append(1)
            wal_bytes = sum(f.size for f in self._wal_files.values())
            commit = self._commit
            fsyncs, commits, max_batch = commit.fsyncs, commit.commits, commit.max_batch
        self._delete_tables(doomed)
        try:
            stored = sum(t.entries for t in v.tables()) + sum(len(m) for m in mems)
            exact = stored <= self.exact_stats_limit and not self._closed  # files open
            if exact:
                sizes = [len(k) + len(val) for k, val in self._scan_unpinned(handle, mems)]
                keys = len(sizes)
                live_bytes = sum(sizes)
            else:
                # Estimate: puts in tables and memtables, ignoring overwrites and deletes
                # across them (exact counting would merge every table).
                keys = sum(t.entries - t.tombstones for t in v.tables())
                live_bytes = sum(t.live_bytes for t in v.tables())
                for m in mems:
                    for k, val in list(m.data.items()):
                        if val is not None:
                            keys += 1
                            live_bytes += len(k) + len(val)
        finally:
            self._unpin(handle)
        disk = 0
        for name in self.fs.listdir(self.path):
            with contextlib.suppress(OSError):  # removed meanwhile by a compaction
                disk += self.fs.file_size(os.path.join(self.path, name))
        levels = []
        for i, lvl in enumerate(v.levels):
            levels.append({"level": i, "tables": len(lvl), "bytes": sum(t.size for t in lvl),
                           "entries": sum(t.entries for t in lvl)})
        readers = list(self._readers.values())
        bytes_read = c.retired_bytes_read + sum(r.bytes_read for r in readers)
        pinned = sum(r.index_filter_bytes for r in readers)
        lookups = self._cache.hits + self._cache.misses
        hit_rate = self._cache.hits / lookups if lookups else 0.0
        measured = (c.bloom_false_positives / (c.bloom_false_positives + c.bloom_negatives)
                    if c.bloom_false_positives + c.bloom_negatives else 0.0)
        disk_written = c.wal_bytes + c.flush_bytes + c.compaction_bytes_out + c.manifest_bytes
        st = EngineStats(
            engine=self.kind, keys=keys, live_bytes=live_bytes, disk_bytes=disk,
            user_bytes_written=c.user_bytes, disk_bytes_written=disk_written, gets=c.gets,
            puts=c.puts, deletes=c.deletes, read_units=c.read_units, fsyncs=fsyncs,
            commits=commits, compactions=c.compactions,
            bytes_compacted=c.compaction_bytes_out)
        st.extra = {
            "keys_exact": exact,
            "compaction_style": self.style,
            "levels": levels,
            "l0_tables": len(v.levels[0]),
            "tables": len(v.tables()),
            "memtable_bytes": mems[0].approx_bytes,
            "memtable_entries": len(mems[0]),
            "immutable_memtables": len(mems) - 1,
            "wal_bytes": wal_bytes,
            "flushes": c.flushes,
            "bytes_flushed": c.flush_bytes,
            "compaction_bytes_read": c.compaction_bytes_in,
            "trivial_moves": c.trivial_moves,
            "tombstones_dropped": c.tombstones_dropped,
            "bloom_bits_per_key": self.bits_per_key,
            "bloom_checks": c.bloom_checks,
            "bloom_useful": c.bloom_negatives,
            "bloom_false_positives": c.bloom_false_positives,
            "bloom_fp_rate_measured": round(measured, 5),
            "bloom_fp_rate_configured": round(expected_fp_rate(self.bits_per_key), 5),
            "block_cache_hits": self._cache.hits,
            "block_cache_misses": self._cache.misses,
            "block_cache_bytes": self._cache.used,
            "block_cache_capacity": self._cache.capacity,
            "cache_hit_rate": round(hit_rate, 4),
            "cache_hits": self._cache.hits,
            "cache_misses": self._cache.misses,
            "disk_bytes_read": bytes_read,
            "get_disk_bytes_read": bytes_read,  # lookups and scans; compaction excluded
            "disk_bytes_read_per_get": round(bytes_read / c.gets, 1) if c.gets else 0.0,
            "index_filter_bytes": pinned,
            "stalls": c.stalls,
            "stall_seconds": round(c.stall_seconds, 4),
            "slowdowns": c.slowdowns,
            "max_commits_per_fsync": max_batch,
            "wal_rotation_syncs": c.wal_syncs,
            "recovered_ops": self._recovered_ops,
            "recovered_torn_bytes": self._torn_bytes,
            "background_error": repr(self._error) if self._error is not None else None,
            "recent_compactions": list(c.compaction_log[-10:]),
        }
        return st

    def _scan_unpinned(self, handle: _Handle, mems: list[MemTable]
                       ) -> Iterator[tuple[bytes, bytes]]:
        """Live entries of a pinned handle plus memtables (caller holds the pin)."""
        with self._lock:
            snap = [m.range_items(None, None) for m in mems]
        sources: list[Iterable[tuple[bytes, bytes | None]]] = [s for s in snap if s]
        sources += [r.iter_range(None, None, fill_cache=False) for r in handle.l0]
        sources += [concat(r.iter_range(None, None, fill_cache=False) for r in rs)
                    for _l, rs in handle.levels]
        return live(merge_entries(sources))

    def _close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()
        errors: list[BaseException] = []
        if self._error is None:
            try:
                with self._lock:
                    self._wal.sync()  # a clean shutdown leaves nothing unsynced
            except BaseException as exc:
                errors.append(exc)
        errors += self._release_files()
        if errors and self._error is None:
            raise errors[0]

    def _release_files(self) -> list[BaseException]:
        """Close every open file (WALs, tables, manifest); return what failed."""
        errors: list[BaseException] = []
        closers: list[Callable[[], None]] = [f.close for f in self._wal_files.values()]
        closers += [r.close for r in self._readers.values()]
        manifest = getattr(self, "_manifest", None)
        if manifest is not None:
            closers.append(manifest.close)
        for close in closers:
            try:
                close()
            except BaseException as exc:
                errors.append(exc)
        return errors


class _Scan(Iterator[tuple[bytes, bytes]]):
    """A scan's iterator: holds the version pin until exhausted, closed or dropped (even
    dropped before its first ``next``, when a generator's ``finally`` would never run)."""

    __slots__ = ("_done", "_engine", "_handle", "_it")

    def __init__(self, engine: LSMEngine, handle: _Handle,
                 it: Iterator[tuple[bytes, bytes]]):
        self._engine = engine
        self._handle = handle
        self._it = it
        self._done = False

    def __iter__(self) -> _Scan:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        try:
            return next(self._it)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._engine._release_pin_soon(self._handle)

    def __del__(self) -> None:
        self.close()


def _in_range(r: TableReader, start: bytes | None, end: bytes | None) -> bool:
    return (start is None or r.hi >= start) and (end is None or r.lo < end)

