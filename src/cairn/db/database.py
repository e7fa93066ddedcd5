"""The transactional database: catalog, MVCC heaps, commit, rollback, recovery, checkpoints.

Design (docs/transactions.md explains the why):

* **Chains cached, engine on disk.** Each table's version chains are cached in memory
  (:mod:`cairn.db.heap`, bounded by ``cache_bytes``, :mod:`cairn.db.pager`); the ordered
  storage engine (``lsm`` or ``btree``) holds their image as of the last checkpoint, one
  value per chain: ``("v", table, *pk)`` -> ``[[xmin, xmax, lsn, row], ...]``, plus index
  entries ``("i", table, index, *values, *pk)``, the dead-version map ``("d", table, *pk)``
  and ``("c", table)`` catalog entries. A miss reads the chain with one point read.
* **The WAL is the source of truth.** A commit appends one record with the transaction's net
  row changes and waits for it to be fsynced (group commit); only then does the transaction
  become visible. Checkpoints write the engine with ``sync=False`` in short steps (fuzzy, as
  PostgreSQL's), and end with a durable engine write and a ``CHECKPOINT`` file naming the redo
  LSN; opening reads the catalog and replays the WAL from there (chains page in on demand).
  Replay is idempotent (a version is identified by its creator's xid), so a checkpoint may
  include changes past its redo point.
* **Rollback undoes in place.** A rolled-back transaction removes its versions and clears the
  ``xmax`` it set, so any xid found in a chain is committed or running: visibility needs no
  commit-log lookup, and no aborted versions wait for vacuum.
* **One mutex.** Chains, the lock table, the SSI graph and the set of running transactions are
  guarded by one mutex (the GIL would serialize them anyway); lock waits release it through
  condition variables, and the WAL append and fsync happen outside it. Snapshot point reads,
  fast-path ACCESS SHARE locks and read-only transactions with virtual xids do without it
  (each documents the ordering that makes that safe), and writing commits pass SSI's last
  check, the WAL append and visibility in one order under ``_commit_order``.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cairn.db import vacuum as vacuum_mod
from cairn.db.errors import ObjectInUse
from cairn.db.heap import Heap
from cairn.db.pager import (
    CHAIN_OVERHEAD,
    DEFAULT_CACHE_BYTES,
    JSON_FACTOR,
    VERSION_OVERHEAD,
    MemoryStore,
    Pager,
    encode_chain,
)
from cairn.db.partitions import SerialPartitions
from cairn.db.stats import DatabaseStats, TableStats, Tally, VacuumResult
from cairn.db.transaction import METHODS, RR, SER, Transaction, normalize_level
from cairn.db.wal import Wal
from cairn.storage import Delete, Engine, Put, open_engine
from cairn.storage.errors import CorruptionError, DurabilityError, StorageError
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.groupcommit import DEFAULT_COMMIT_DELAY
from cairn.storage.keycodec import pack, prefix_end, unpack
from cairn.txn.errors import (
    DatabaseClosed,
    DatabaseLocked,
    DeadlockDetected,
    DuplicateTable,
    InvalidParameter,
    LockNotAvailable,
    LockTimeout,
    SerializationFailure,
    TxnError,
    UndefinedObject,
    UndefinedTable,
    UniqueViolation,
)
from cairn.txn.locks import LockInfo, LockManager, LockOwner
from cairn.txn.mvcc import Snapshot, Version
from cairn.txn.ssi import SsiTracker, SxAct

MARKER = "CAIRN-DB"
# The WAL's commit delay: four times the storage engines' (DEFAULT_COMMIT_DELAY). A database
# client commits durably only now and then (between reads and read-only transactions), so
# the group-commit leader's wait for the recently active committers often runs out; at 0.5 ms
# rounds shrink to ~3 commits, ~300 fsync rounds a second each wake their followers and pass
# the GIL around, and at 16 clients the read-mostly benchmark fell into a mode with 8x the
# context switches and half the throughput (docs/transactions.md, "Performance"). At 2 ms
# rounds stay at ~14 commits. A lone committer never waits either way.
COMMIT_DELAY = 4 * DEFAULT_COMMIT_DELAY
CHECKPOINT = "CHECKPOINT"
CHECKPOINT_BATCH = 64  # chains per checkpoint step (one short mutex hold each)
FORMAT = 2  # 2: a chain is one engine value (cairn.db.pager)
_NAME_MAX = 128


@dataclass(frozen=True)
class RowChange:
    op: str  # "insert" | "update" | "delete"
    table: str
    key: Any
    row: dict[str, Any] | None


@dataclass(frozen=True)
class IndexInfo:
    """A secondary index as :meth:`Database.indexes` lists it."""

    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class Change:
    """One committed transaction (or schema change) of the log, in LSN order."""

    lsn: int
    kind: str  # "commit" | "create_table" | "create_index" | "drop_table"
    xid: int
    changes: list[RowChange] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


_OPS = {"i": "insert", "u": "update", "d": "delete"}


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > _NAME_MAX or "\x00" in name:
        raise InvalidParameter(f"bad {kind} name {name!r}")
    return name


def _engine_memory(engine: str, cache_bytes: int,
                   options: dict[str, Any] | None) -> dict[str, Any]:
    """The engine's memory, sized from the database's ``cache_bytes`` unless given: a block
    cache (lsm) or page pool (btree) of a quarter of it, and lsm memtables of an eighth (one
    immutable at most), so the process stays near 1.5x ``cache_bytes`` plus its baseline."""
    opts = dict(options or {})
    quarter = max(1 << 20, cache_bytes // 4)
    if engine == "lsm":
        opts.setdefault("block_cache_bytes", quarter)
        opts.setdefault("memtable_bytes", max(1 << 20, cache_bytes // 8))
        opts.setdefault("max_immutable", 1)
    else:
        opts.setdefault("pool_bytes", quarter)
    return opts


def _abort_cause(exc: BaseException | None) -> str:
    if exc is None:
        return "rollback"
    if isinstance(exc, SerializationFailure):
        return "serialization"
    if isinstance(exc, DeadlockDetected):
        return "deadlock"
    if isinstance(exc, LockTimeout):
        return "lock_timeout"
    if isinstance(exc, LockNotAvailable):
        return "lock_not_available"
    if isinstance(exc, UniqueViolation):
        return "unique_violation"
    return "error"


class AdvisoryLock:
    """A session-level advisory lock (pg_advisory_lock); release it or use ``with``."""

    def __init__(self, db: Database, owner: LockOwner, req: Any):
        self._db = db
        self._owner = owner
        self._req = req
        self.held = True

    def release(self) -> None:
        if self.held:
            with self._db._mu:
                self._db._locks.release(self._req)
            self.held = False

    def __enter__(self) -> AdvisoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Database:
    """Open with :meth:`open` (durable, on an engine) or :meth:`memory` (tests, the lab)."""

    def __init__(self, path: str | None, *, engine: str = "lsm", fs: FileSystem = REAL_FS,
                 durable: bool = True, autovacuum: bool = True,
                 autovacuum_naptime: float = 1.0, autovacuum_threshold: int = 50,
                 autovacuum_scale_factor: float = 0.2, lock_timeout: float | None = None,
                 deadlock_timeout: float = 0.2, checkpoint_interval: float = 30.0,
                 checkpoint_wal_bytes: int = 16 << 20, wal_segment_bytes: int = 16 << 20,
                 wal_keep_bytes: int = 64 << 20, early_lock_release: bool = False,
                 synchronous_commit: str = "on", wal_writer_delay: float = 0.2,
                 commit_delay: float = COMMIT_DELAY, serial_partitions: int = 1,
                 cache_bytes: int | None = None,
                 engine_options: dict[str, Any] | None = None):
        if engine not in ("lsm", "btree"):
            raise InvalidParameter(f"engine must be 'lsm' or 'btree', not {engine!r}")
        if synchronous_commit not in ("on", "off"):
            raise InvalidParameter(f'invalid value for parameter "synchronous_commit": '
                                   f'"{synchronous_commit}" (on or off)')
        if not 0 < wal_writer_delay <= 10:
            raise InvalidParameter("wal_writer_delay must be in (0, 10] seconds")
        if cache_bytes is not None and (type(cache_bytes) is not int or cache_bytes < 0):
            raise InvalidParameter("cache_bytes must be a non-negative integer")
        self.path = path
        self.engine_kind = engine
        self.fs = fs
        self.lock_timeout = lock_timeout
        self.autovacuum_threshold = autovacuum_threshold
        self.autovacuum_scale_factor = autovacuum_scale_factor
        self.autovacuum_naptime = autovacuum_naptime
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_wal_bytes = checkpoint_wal_bytes
        self.wal_keep_bytes = wal_keep_bytes
        # synchronous_commit "on": a commit is visible and acknowledged once its record is
        # durable; "off" (PostgreSQL's asynchronous commit): both at once, the WAL writer
        # fsyncs within wal_writer_delay. early_lock_release (Aether): visible at append,
        # acknowledged once durable (docs/transactions.md, "Visible before durable").
        self.synchronous_commit = synchronous_commit
        self.early_lock_release = early_lock_release
        self._mu = threading.Lock()
        self._heaps: dict[str, Heap] = {}
        self._next_xid = 1
        self._active: dict[int, Transaction] = {}
        # Read-only transactions at repeatable read and serializable/ssi begin without the
        # mutex and without an xid (a *virtual* transaction id, as in PostgreSQL): they write
        # nothing, so no snapshot needs to know about them. vid -> transaction, until it ends.
        self._ro: dict[int, Transaction] = {}
        self._vids = itertools.count(1)
        self._horizon_epoch = 0  # bumped by every horizon computation (see _virtual_snapshot)
        # Write commits made visible so far; bumped before the committer leaves the running
        # set, so a snapshot that reads it after the running set counts every commit it sees.
        self._visible_commits = 0
        self._tally = Tally()  # commits/rollbacks/aborts of transactions that end lock-free
        self._committing: dict[int, int] = {}  # xid -> WAL position before its record
        # Without early lock release: commit LSNs appended, not yet visible, in log order.
        self._visible_queue: collections.deque[int] = collections.deque()
        self._visible_cv = threading.Condition(self._mu)
        # Held from SSI's last check of a writing transaction to its visibility (_commit).
        self._commit_order = threading.Lock()
        # Commits visible but not yet durable (early lock release), as (record end, xid, SSI
        # state or None): a read-only snapshot leaves them out, so it never waits for them.
        self._undurable: list[tuple[int, int, SxAct | None]] = []
        self._safe_cv = threading.Condition(self._mu)  # DEFERRABLE waits for a safe snapshot
        self._deferrable_waiting = 0
        self._n2pl = 0  # running 2PL transactions
        self._locks = LockManager(self._mu, deadlock_timeout)
        self._ssi = SsiTracker()
        # Actual serial execution: one executor per partition (cairn.db.partitions).
        self._partitions = SerialPartitions(serial_partitions)
        self._procedures: dict[str, Callable[..., Any]] = {}
        self._session_ids = 0
        self._closed = False
        self._failed: BaseException | None = None
        self.commits = 0
        self.rollbacks = 0
        self.aborts: dict[str, int] = {}
        self.checkpoints = 0
        self.last_checkpoint_lsn = 0
        self._ckpt_lock = threading.Lock()
        self._engine: Engine | None = None
        self._lock_fd: int | None = None
        self._ckpt_due = threading.Event()  # the cache is full of dirty chains
        self.longest_checkpoint_hold = 0.0  # longest mutex hold of a checkpoint step (s)
        if path is None:
            self._wal = Wal(None)
            # Everything resident, unless a cache size asks for paging (to an ordered store
            # in memory: the tests run that way with a tiny cache).
            self._pager = Pager(None if cache_bytes is None else MemoryStore(), cache_bytes)
        else:
            fs.makedirs(path)
            self._claim(path, engine, write=False)  # refuse a foreign directory untouched
            self._lock_fd = self._lock_directory(path)
            self._claim(path, engine, write=True)
            budget = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
            self._engine = open_engine(engine, os.path.join(path, "data"), fs=fs,
                                       **_engine_memory(engine, budget, engine_options))
            self._wal = Wal(path, fs, sync=durable and synchronous_commit == "on",
                            segment_bytes=wal_segment_bytes, commit_delay=commit_delay,
                            writer_delay=wal_writer_delay if durable else None,
                            blocked=lambda: self._locks.blocked)
            self._pager = Pager(self._engine, budget)
            self._recover()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        if autovacuum or path is not None:
            self._worker = threading.Thread(target=self._background, args=(autovacuum,),
                                            name="cairn-db-background", daemon=True)
            self._worker.start()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def memory(cls, **options: Any) -> Database:
        """A database in memory: nothing is written to disk (tests, the anomaly lab)."""
        options.setdefault("autovacuum", False)
        return cls(None, **options)

    @classmethod
    def open(cls, path: str, engine: str = "lsm", **options: Any) -> Database:
        """Open (creating if needed) the database in directory ``path``, recovering from the
        last checkpoint and the write-ahead log."""
        return cls(str(path), engine=engine, **options)

    @staticmethod
    def _lock_directory(path: str) -> int:
        """One process (one Database) per directory: two writers of one WAL would corrupt it.
        An flock on ``LOCK``; the kernel drops it when the process dies (even by SIGKILL)."""
        fd = os.open(os.path.join(path, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DatabaseLocked(f"{path} is in use by another open Database") from None
        return fd

    def _unlock_directory(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _abandon(self) -> None:
        """Tests: stop background work and let go of the directory without writing anything,
        as if the process had died here (its WAL buffer is handed to the OS first)."""
        self._stop.set()
        self._ckpt_due.set()
        if self._worker is not None:
            self._worker.join()
        self._closed = True
        with contextlib.suppress(Exception):
            if self._wal._file is not None:
                self._wal._file.flush()
        self._unlock_directory()

    def _claim(self, path: str, engine: str, write: bool) -> None:
        marker = os.path.join(path, MARKER)
        if self.fs.exists(marker):
            try:
                meta = json.loads(self.fs.read_file(marker))
            except ValueError as exc:
                raise StorageError(f"{marker} is not a cairn database marker") from exc
            if meta.get("format") != FORMAT or meta.get("engine") != engine:
                raise InvalidParameter(f"{path} holds a cairn database on engine "
                                       f"{meta.get('engine')!r} (format {meta.get('format')}),"
                                       f" not {engine!r}")
            return
        if [n for n in self.fs.listdir(path) if not n.startswith(".") and n != "LOCK"]:
            raise StorageError(f"{path} is not empty and is not a cairn database")
        if write:
            self.fs.write_atomic(marker,
                                 json.dumps({"format": FORMAT, "engine": engine}).encode())

    def _recover(self) -> None:
        """Read the catalog and replay the WAL from the last checkpoint's redo point. Chains
        are not read here: replay loads the ones it touches, the rest page in on demand, so
        a clean reopen costs the catalog plus the WAL since the checkpoint."""
        assert self._engine is not None and self.path is not None
        eng = self._engine
        for _k, v in eng.scan(pack(("c",)), prefix_end(pack(("c",)))):
            meta = json.loads(v)
            heap = Heap(meta["name"], tuple(meta["pk"]), self._pager)
            heap.rows = meta.get("rows", 0)
            for ix in meta["indexes"]:
                heap.indexes[ix["name"]] = heap.new_index(ix["name"], tuple(ix["columns"]),
                                                          ix["unique"])
            self._heaps[heap.name] = heap
        redo, next_xid = 0, 1
        ckpt = os.path.join(self.path, CHECKPOINT)
        if self.fs.exists(ckpt):
            meta = json.loads(self.fs.read_file(ckpt))
            redo, next_xid = meta["redo"], meta["next_xid"]
            self.last_checkpoint_lsn = redo
        touched: set[tuple[str, bytes]] = set()
        replayed = 0
        for lsn, rec in self._wal.read(redo):
            self._replay(lsn, rec, touched)
            next_xid = max(next_xid, rec.get("x", 0) + 1)
            replayed += 1
        self._next_xid = next_xid
        self.recovery = {"redo_lsn": redo, "wal_records": replayed,
                         "wal_bytes": self._wal.end_lsn - redo, "chains": len(touched)}
        for table, pkb in touched:
            heap = self._heaps.get(table)
            chain = heap.chains.get(pkb) if heap is not None else None
            if heap is None or chain is None:
                continue
            if len(chain) > 1:
                chain.sort(key=lambda v: v.lsn)
            for v in chain:
                heap.index_new_version(pkb, v.row)
            heap.dirty.add(pkb)  # only the WAL has it: pinned until the next checkpoint

    def _replay(self, lsn: int, rec: dict[str, Any], touched: set[tuple[str, bytes]]) -> None:
        kind = rec["k"]
        if kind == "t":
            if rec["n"] not in self._heaps:
                self._heaps[rec["n"]] = Heap(rec["n"], tuple(rec["pk"]), self._pager)
            return
        if kind == "ix":
            heap = self._heaps[rec["t"]]
            if rec["n"] not in heap.indexes:
                # Created after the checkpoint: its entries for older versions were never
                # written; build them (replayed versions add theirs at the end).
                idx = heap.indexes[rec["n"]] = heap.new_index(rec["n"], tuple(rec["c"]),
                                                              rec["u"])
                for pkb, chain in heap.scan_chains():
                    for v in chain:
                        idx.add(idx.key(v.row), pkb)
            return
        if kind == "dt":
            self._drop_storage(rec["n"], self._heaps.pop(rec["n"], None))
            touched.difference_update({tp for tp in touched if tp[0] == rec["n"]})
            return
        xid = rec["x"]
        for op, table, pk, old_xmin, row in rec["o"]:
            heap = self._heaps.get(table)
            if heap is None:
                continue  # dropped later (its drop record follows) and already removed
            pkb = pack(pk)
            touched.add((table, pkb))
            chain = heap.chain_for_insert(pkb)
            if op in ("u", "d") and old_xmin is not None:
                for v in chain:
                    if v.xmin == old_xmin:
                        v.xmax = xid
            if op in ("i", "u") and not any(v.xmin == xid for v in chain):
                chain.append(Version(xid, 0, row, lsn))

    # -- catalog ------------------------------------------------------------------------------
    def _heap(self, table: str) -> Heap:
        heap = self._heaps.get(table)
        if heap is None:
            raise UndefinedTable(f'relation "{table}" does not exist')
        return heap

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseClosed("the database is closed")
        if self._failed is not None:
            raise DatabaseClosed(f"the database failed ({self._failed}); reopen it to recover")

    def tables(self) -> list[str]:
        return sorted(self._heaps)

    def create_table(self, name: str, primary_key: str | list[str] | tuple[str, ...] = "id",
                     *, if_not_exists: bool = False) -> None:
        """Create a table of dict rows keyed by ``primary_key`` (a column or columns)."""
        self._check_open()
        _check_name("table", name)
        pk = (primary_key,) if isinstance(primary_key, str) else tuple(primary_key)
        if not pk:
            raise InvalidParameter("a primary key needs at least one column")
        for c in pk:
            _check_name("column", c)
        with self._mu:
            if name in self._heaps:
                if if_not_exists:
                    return
                raise DuplicateTable(f'relation "{name}" already exists')
            self._heaps[name] = Heap(name, pk, self._pager)
            # appended under the mutex: no commit that uses the table can precede it in the log
            _, end = self._wal.append({"k": "t", "n": name, "pk": list(pk)})
        self._wal.flush_to(end)

    def create_index(self, table: str, columns: list[str] | tuple[str, ...] | str, *,
                     unique: bool = False, name: str | None = None) -> str:
        """Create a secondary index (waits for running writers, as CREATE INDEX takes a SHARE
        lock on the table); a unique index over duplicate live values raises UniqueViolation."""
        self._check_open()
        heap = self._heap(table)
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        if not cols:
            raise InvalidParameter("an index needs at least one column")
        for c in cols:
            _check_name("column", c)
        suffix = "key" if unique else "idx"
        name = _check_name("index", name or f"{table}_{'_'.join(cols)}_{suffix}")
        owner = self._session_owner("create index")
        with self._mu:
            if name in heap.indexes:
                raise DuplicateTable(f'relation "{name}" already exists')
            try:
                self._locks.acquire(owner, ("table", table), "share", timeout=self.lock_timeout)
                idx = heap.new_index(name, cols, bool(unique))
                seen: dict[bytes, bytes] = {}
                for pkb, chain in heap.scan_chains():
                    for v in chain:
                        idx.add(idx.key(v.row), pkb)
                    live = chain[-1]
                    if unique and not live.xmax:
                        uk = idx.unique_key(live.row)
                        if uk is not None:
                            if uk in seen:
                                raise UniqueViolation(
                                    f'could not create unique index "{name}": duplicate key')
                            seen[uk] = pkb
                heap.indexes[name] = idx
                _, end = self._wal.append({"k": "ix", "t": table, "n": name, "c": list(cols),
                                           "u": bool(unique)})
            finally:
                self._locks.release_all(owner)
        self._wal.flush_to(end)
        return name

    def drop_table(self, name: str, *, if_exists: bool = False) -> None:
        """DROP TABLE: remove the table, its indexes and their engine keys, logged in the WAL.
        Refused with ObjectInUse (55006) while any transaction holds a lock on the table
        (every read or write of it takes one, held to the transaction's end)."""
        self._check_open()
        owner = self._session_owner("drop table")
        with self._ckpt_lock:  # no checkpoint is writing the table's chains meanwhile
            with self._mu:
                heap = self._heaps.get(name)
                if heap is None:
                    if if_exists:
                        return
                    raise UndefinedTable(f'table "{name}" does not exist')
                try:
                    self._locks.acquire(owner, ("table", name), "access exclusive",
                                        nowait=True)
                except LockNotAvailable:
                    raise ObjectInUse(f'cannot drop table "{name}" because it is being used '
                                      "by a running transaction") from None
                try:
                    del self._heaps[name]
                    # under the mutex: no commit that uses the table can follow it in the log
                    _, end = self._wal.append({"k": "dt", "n": name})
                finally:
                    self._locks.release_all(owner)
            self._wal.flush_to(end)
            self._drop_storage(name, heap)

    def indexes(self, table: str) -> list[IndexInfo]:
        """The secondary indexes of ``table`` (name, columns, uniqueness), in creation order.
        The primary key is not listed: it is ``primary_key(table)``."""
        heap = self._heap(table)
        return [IndexInfo(i.name, i.columns, i.unique) for i in list(heap.indexes.values())]

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The primary-key columns of ``table``."""
        return self._heap(table).pk

    # -- transactions -------------------------------------------------------------------------
    def begin(self, isolation: str = "read committed", method: str = "ssi", *,
              read_only: bool = False, deferrable: bool = False,
              lock_timeout: float | None = None, partition: Any = None) -> Transaction:
        """Start a transaction. ``method`` (ssi, 2pl, serial) applies to serializable only.
        ``read_only`` refuses writes (25006); at serializable/ssi it also lets SSI skip its
        bookkeeping once the snapshot is safe, and ``deferrable`` (SERIALIZABLE READ ONLY
        DEFERRABLE) waits at the first statement for a safe snapshot, so the transaction
        never takes a SIREAD lock and can never fail with 40001.

        ``partition`` (method serial only): a value of the first primary-key column; the
        transaction runs on that value's partition executor, beside those of other partitions,
        and may touch only that partition's rows. None (default): all partitions."""
        self._check_open()
        level = normalize_level(isolation)
        if method not in METHODS:
            raise InvalidParameter(f"unknown serializable method {method!r}; use one of "
                                   f"{', '.join(METHODS)}")
        timeout = self.lock_timeout if lock_timeout is None else lock_timeout
        serial = level == SER and method == "serial"
        if partition is not None and not serial:
            raise InvalidParameter("partition applies to serializable, method='serial' only")
        part = None if partition is None else self._partitions.of_value(partition)
        held = self._partitions.acquire(part, timeout) if serial else []
        if read_only and (level == RR or (level == SER and method == "ssi")):
            vid = next(self._vids)
            tx = Transaction(self, 0, level, method, True, timeout,
                             deferrable=bool(deferrable), vid=vid)
            self._ro[vid] = tx
            return tx
        with self._mu:
            xid = self._next_xid
            tx = Transaction(self, xid, level, method, read_only, timeout,
                             deferrable=bool(deferrable))
            if serial:
                tx._serial_held = held
                if part is not None and self._partitions.count > 1:
                    tx._partition = part
            # Running before the counter moves past it: a snapshot taken without the mutex
            # (_virtual_snapshot) reads the counter first, then the running set.
            self._active[xid] = tx
            self._next_xid = xid + 1
            if tx._2pl:
                self._n2pl += 1
        return tx

    def _assign_xid(self, tx: Transaction) -> None:
        """Give a virtual read-only transaction a real xid (mutex held): SSI must track it."""
        xid = self._next_xid
        tx.xid = xid
        tx.owner.id = xid
        tx.owner.label = f"transaction {xid}"
        self._active[xid] = tx
        self._next_xid = xid + 1

    def _virtual_snapshot(self, tx: Transaction) -> bool:
        """The snapshot of a virtual read-only transaction, taken without the mutex; False when
        it needs the mutex after all (serializable, and SSI must track it: a read-write
        serializable transaction is running, or one that committed but is not durable yet
        may be a pivot). Like :meth:`_read_only_snapshot`, it leaves out commits that are
        not durable yet.

        Reading without the mutex is consistent because of the order of writes: ``begin``
        makes an xid running before it moves the counter past it, and a commit is in
        ``_undurable`` before it leaves the running set; so this reads the counter, then the
        running set, then ``_undurable``. Vacuum's horizon may be computed meanwhile without
        this snapshot: then the epoch moved, and the snapshot is taken again."""
        ssi = tx.method == "ssi" and tx.isolation == SER
        while True:
            epoch = self._horizon_epoch
            snap, pend = self._durable_snapshot(0)
            seen = self._visible_commits
            if ssi and (self._ssi.possible_pivots(seen) or self._pivot_left_out(pend, snap)):
                tx._snap = None
                return False
            tx._snap = snap
            if self._horizon_epoch == epoch:
                break
            tx._snap = None
        tx._track_deps = False
        if ssi:
            self._tally.add("safe_at_start")
        return True

    def _durable_snapshot(self, me: int) -> tuple[Snapshot, list[tuple[int, int, SxAct | None]]]:
        """A snapshot that leaves out the commits visible but not yet durable, and those
        (record end, xid, SSI state). It reads the xid counter, then the running set, then the
        not-yet-durable list, so it is consistent without the mutex (see _virtual_snapshot)."""
        xmax = self._next_xid
        active = frozenset(self._active)
        durable = self._wal.durable_lsn
        pend = [e for e in tuple(self._undurable) if e[0] > durable]
        if pend:
            active = active.union(x for _e, x, _s in pend)
        return Snapshot(min(active) if active else xmax, xmax, active, me), pend

    def _pivot_left_out(self, pend: list[tuple[int, int, SxAct | None]], snap: Snapshot) -> bool:
        """Is a commit left out of ``snap`` a possible pivot toward something it sees?"""
        return any(s is not None and not s.read_only and self._ssi.threatens(s, snap)
                   for _e, _x, s in pend)

    def _end_virtual(self, tx: Transaction, exc: BaseException | None, committed: bool) -> None:
        """End a read-only transaction that never got an xid: nothing to undo, nothing to
        log; its fast-path table locks go without the mutex unless one was moved."""
        if self._ro.pop(tx.vid, None) is None:
            return
        if self._locks.release_fast(tx.owner, tx._fast) or tx.owner.held:
            with self._mu:
                self._locks.release_all(tx.owner)
        if committed:
            tx.state = "committed"
            self._tally.add("commits")
        else:
            tx.state = "rolled back"
            self._tally.add("rollbacks")
            if exc is not None:
                self._tally.add("abort:" + _abort_cause(exc))

    @contextlib.contextmanager
    def transaction(self, isolation: str = "read committed", method: str = "ssi",
                    **options: Any) -> Iterator[Transaction]:
        """``with db.transaction(...) as tx:`` commits at the end, rolls back on error."""
        tx = self.begin(isolation, method, **options)
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        if tx.state == "active":
            tx.commit()

    def run(self, fn: Callable[[Transaction], Any], isolation: str = "serializable",
            method: str = "ssi", *, retries: int = 50, **options: Any) -> Any:
        """Run ``fn(tx)`` in a transaction, retrying on serialization failures and deadlocks
        (with a small randomized backoff); returns what ``fn`` returns."""
        import random
        attempt = 0
        while True:
            tx = self.begin(isolation, method, **options)
            try:
                result = fn(tx)
                if tx.state == "active":
                    tx.commit()
                return result
            except (SerializationFailure, DeadlockDetected):
                tx.rollback()
                attempt += 1
                if attempt > retries:
                    raise
                time.sleep(random.uniform(0, 0.0005 * min(attempt, 20)))
            except BaseException:
                tx.rollback()
                raise

    def _take_snapshot(self, me: int) -> Snapshot:
        active = frozenset(self._active)
        xmax = self._next_xid
        return Snapshot(min(active) if active else xmax, xmax, active, me)

    def _prune_undurable(self) -> list[tuple[int, int, SxAct | None]]:
        pend = self._undurable
        if pend:
            durable = self._wal.durable_lsn
            if any(end <= durable for end, _x, _s in pend):
                pend = self._undurable = [e for e in pend if e[0] > durable]
        return pend

    def _read_only_snapshot(self, tx: Transaction) -> Snapshot:
        """The snapshot of a read-only transaction at repeatable read or serializable/ssi
        (mutex held; sets ``tx._snap`` and ``tx._sx``).

        It leaves out commits that are visible but not yet durable (early lock release): as
        in PostgreSQL, where a commit becomes visible only after its flush, the reader then
        sees a prefix of the log that is on disk and never waits for an fsync at commit. The
        durable commits are a consistent snapshot, since whatever a commit read or overwrote
        precedes it in the log. At serializable, a left-out transaction must not be a
        possible pivot toward something the snapshot sees (``SsiTracker.threatens``); if
        one is, the reader takes the usual snapshot (and waits at commit, as before)."""
        ssi = tx.method == "ssi"
        if tx.xid == 0:
            if self._virtual_snapshot(tx):
                return tx._snap  # type: ignore[return-value]
            self._assign_xid(tx)
        while True:
            snap, pend = self._durable_snapshot(tx.xid)
            if ssi and self._pivot_left_out(pend, snap):
                snap = self._take_snapshot(tx.xid)  # it must see them: wait at commit
            else:
                tx._track_deps = False  # everything it can see is durable
            tx._snap = snap
            if not ssi:
                return snap
            sx = self._ssi.register(tx.xid, snap, read_only=True,
                                    commits_seen=self._visible_commits)
            tx._sx = sx
            if sx is None or not tx.deferrable:
                return snap
            self._wait_safe_snapshot(sx)
            if sx.safe:
                tx._sx = None
                return snap
            # Unsafe: the snapshot could be part of an anomaly; give it up and take another.
            self._ssi.finish(sx, False)
            tx._sx = None
            tx._snap = None
            tx._track_deps = self._wal.tracks_durability

    def _wait_safe_snapshot(self, sx: SxAct) -> None:
        """SERIALIZABLE READ ONLY DEFERRABLE: wait (mutex released meanwhile) until the
        read-write transactions that were running at the snapshot have ended."""
        self._deferrable_waiting += 1
        try:
            while not (sx.safe or sx.unsafe):
                self._check_open()
                self._safe_cv.wait(0.5)
        finally:
            self._deferrable_waiting -= 1

    def _commit(self, tx: Transaction) -> None:
        """Commit ``tx``. A transaction that wrote passes SSI's last check, appends its record
        and (with early lock release) becomes visible while it holds ``_commit_order``, so
        commits become visible in the order of their records, which is the order SSI's checks
        assume (commit_seq): were a later commit visible before an earlier one, a snapshot
        could see the later without the earlier, and a dangerous structure whose T3
        "committed first" only by that order would go unseen (a cycle in almost every run of
        tests/db/test_serializable_histories.py before). The database mutex is not held
        across the append: a thread that blocks (on the WAL's lock) while holding it would
        stall every reader. A transaction that wrote nothing has nothing to make visible."""
        if tx.xid == 0:
            self._end_virtual(tx, None, True)
            return
        if not tx._writes:
            with self._mu:
                if tx._sx is not None:
                    self._ssi.precommit(tx._sx)
                self._finish(tx, True)
                dep = tx._dep
            if dep > self._wal.durable_lsn:
                self._wal.flush_to(dep)  # it saw a commit that is visible but not yet durable
            return
        frame = self._commit_frame(tx)  # encoded before any lock
        with self._commit_order:
            with self._mu:
                if tx._sx is not None:
                    self._ssi.precommit(tx._sx)
                self._committing[tx.xid] = self._wal.end_lsn
            lsn, end = self._wal.append_frame(frame)
            with self._mu:
                if self.early_lock_release:
                    # Visible and unlocked now, acknowledged only once durable (Aether's early
                    # lock release): the next writer of a hot row need not wait for our fsync,
                    # and any transaction that saw us commits after us in the log or waits for
                    # our record.
                    self._make_visible(tx, lsn, end)
                else:
                    self._visible_queue.append(lsn)
        try:
            self._wal.flush_to(end)
        except (DurabilityError, OSError) as exc:
            # The commit record may or may not be on disk: the outcome is unknown, exactly as
            # for a PostgreSQL client whose connection drops during COMMIT. The database stops.
            self._failed = exc
            with self._mu:
                self._committing.pop(tx.xid, None)
                if not self.early_lock_release:
                    self._visible_queue.remove(lsn)
                    self._visible_cv.notify_all()
            raise DurabilityError(getattr(exc, "errno", 5) or 5,
                                  f"commit of transaction {tx.xid} not acknowledged: {exc}"
                                  ) from exc
        if not self.early_lock_release:
            with self._mu:
                # Durable: visible in the order of the records (see above), so wait for the
                # commits before ours, whose fsync may have returned to them later.
                while self._visible_queue[0] != lsn:
                    self._visible_cv.wait(0.5)
                self._visible_queue.popleft()
                self._make_visible(tx, lsn, end)
                self._visible_cv.notify_all()

    def _commit_frame(self, tx: Transaction) -> bytes:
        """The commit record of ``tx``: its net row changes, encoded (raises if too large;
        nothing was written then, and the transaction rolls back)."""
        ops: list[list[Any]] = []
        for (table, pkb), (old_xmin, row, _v) in tx._writes.items():
            if row is not None:
                op = "i" if old_xmin is None else "u"
            elif old_xmin is not None:
                op = "d"
            else:
                continue  # inserted and deleted again: nothing to redo
            heap = self._heaps[table]
            pk = ([row[heap.single_pk]] if heap.single_pk is not None and row is not None
                  else list(unpack(pkb)))
            ops.append([op, table, pk, old_xmin, row])
        return self._wal.frame({"k": "c", "x": tx.xid, "o": ops})

    def _make_visible(self, tx: Transaction, lsn: int, end: int) -> None:
        """Stamp ``tx``'s versions with its commit record's end LSN and end it (mutex held)."""
        xid = tx.xid
        tx.commit_lsn = lsn
        if end > self._wal.durable_lsn:
            self._prune_undurable().append((end, xid, tx._sx))
        for (table, pkb), (old_xmin, _row, v) in tx._writes.items():
            if v is not None:
                v.lsn = end
            if old_xmin is not None:
                heap = self._heaps.get(table)
                chain = heap.chains.get(pkb) if heap is not None else None
                # From the newest back: only our own versions follow the one we replaced, so
                # this stops after a step or two instead of walking a long hot chain.
                for i in range(len(chain) - 1 if chain else -1, -1, -1):
                    old = chain[i]  # type: ignore[index]
                    if old.xmax == xid:
                        old.dlsn = end
                    if old.xmin != xid:
                        break
        self._visible_commits += 1
        self._finish(tx, True)

    def _end_ssi(self, tx: Transaction, committed: bool) -> None:
        """SSI forgets ``tx`` (mutex held); a DEFERRABLE reader waiting on it may go on."""
        if tx._sx is not None:
            self._ssi.finish(tx._sx, committed)
            if self._deferrable_waiting:
                self._safe_cv.notify_all()

    def _finish(self, tx: Transaction, committed: bool) -> None:
        """End ``tx`` (mutex held): it leaves the running set, its locks go."""
        xid = tx.xid
        self._active.pop(xid, None)
        self._committing.pop(xid, None)
        self._release_locks(tx)
        self._end_ssi(tx, committed)
        if committed:
            tx.state = "committed"
            self.commits += 1
            for (table, pkb), (old_xmin, row, _v) in tx._writes.items():
                heap = self._heaps.get(table)
                if heap is None:
                    continue
                heap.dirty.add(pkb)
                c = heap.counters
                if old_xmin is None:
                    if row is not None:
                        c.inserts += 1
                        heap.rows += 1
                    else:
                        c.dead_since_vacuum += 1
                elif row is None:
                    c.deletes += 1
                    heap.rows -= 1
                    c.dead_since_vacuum += 1
                else:
                    c.updates += 1
                    c.dead_since_vacuum += 1
        if tx._2pl:
            self._n2pl -= 1
        if tx.method == "serial":
            self._partitions.release(tx._serial_held)
        if self._pager.over:
            self._evict()

    def _evict(self) -> bool:
        """Shrink the chain cache (mutex held); when only dirty chains are left, ask for a
        checkpoint to clean some (False)."""
        if self._pager.evict(self._active):
            return True
        self._ckpt_due.set()
        return False

    def _abort(self, tx: Transaction, exc: BaseException | None) -> None:
        """Roll ``tx`` back: remove its versions, clear the xmax it set, release its locks."""
        xid = tx.xid
        if xid == 0:
            self._end_virtual(tx, exc, False)
            return
        with self._mu:
            if xid not in self._active:
                return
            for (table, pkb) in tx._writes:
                heap = self._heaps.get(table)
                chain = heap.chains.get(pkb) if heap is not None else None
                if chain is None or heap is None:
                    continue
                mine = [v for v in chain if v.xmin == xid]
                if mine:
                    chain[:] = [v for v in chain if v.xmin != xid]
                for v in chain:
                    if v.xmax == xid:
                        v.xmax = 0
                if mine:
                    kept = {idx.name: {idx.key(v.row) for v in chain}
                            for idx in heap.indexes.values()}
                    for idx in heap.indexes.values():
                        for v in mine:
                            vb = idx.key(v.row)
                            if vb not in kept[idx.name]:
                                idx.discard(vb, pkb)
                if not chain:
                    heap.drop_chain(pkb)
            self.rollbacks += 1
            cause = _abort_cause(exc)
            if exc is not None:
                self.aborts[cause] = self.aborts.get(cause, 0) + 1
            tx.state = "rolled back"
            self._finish_abort(tx)

    def _release_locks(self, tx: Transaction) -> None:
        if tx._fast:
            self._locks.release_fast(tx.owner, tx._fast)
        self._locks.release_all(tx.owner)
        if tx.vid:
            self._ro.pop(tx.vid, None)

    def _finish_abort(self, tx: Transaction) -> None:
        self._active.pop(tx.xid, None)
        self._committing.pop(tx.xid, None)
        self._release_locks(tx)
        self._end_ssi(tx, False)
        if tx._2pl:
            self._n2pl -= 1
        if tx.method == "serial":
            self._partitions.release(tx._serial_held)

    def horizon(self) -> int:
        """OldestXmin: no running transaction can see a deletion by an xid below this."""
        with self._mu:
            return self._horizon()

    def _horizon(self) -> int:
        self._horizon_epoch += 1  # a virtual snapshot taken meanwhile is taken again
        h = self._next_xid
        for tx in list(self._ro.values()):
            snap = tx._snap
            if snap is not None and snap.xmin < h:
                h = snap.xmin
        for _end, xid, _sx in self._prune_undurable():
            if xid < h:  # a read-only snapshot may still treat it as running
                h = xid
        for xid, tx in self._active.items():
            if xid < h:
                h = xid
            snap = tx._snap
            if snap is not None and snap.xmin < h:
                h = snap.xmin
        return h

    # -- stored procedures (actual serial execution) -------------------------------------------
    def register_procedure(self, name: str, fn: Callable[..., Any]) -> None:
        """Register ``fn(tx, *args)`` to run with :meth:`call`, whole, on the serial executor."""
        _check_name("procedure", name)
        if not callable(fn):
            raise InvalidParameter("a procedure must be callable")
        self._procedures[name] = fn

    def call(self, name: str, *args: Any, partition: Any = None, **kwargs: Any) -> Any:
        """Run a stored procedure as one serial transaction on an executor thread: the whole
        transaction runs without waiting on the client (VoltDB / H-Store style). With
        ``partition`` (a first-primary-key-column value) it runs on that partition's
        executor, beside procedures of other partitions (``Database(serial_partitions=N)``);
        without, it holds every partition."""
        self._check_open()
        fn = self._procedures.get(name)
        if fn is None:
            raise UndefinedObject(f'procedure "{name}" does not exist')
        part = None if partition is None else self._partitions.of_value(partition)
        return self._partitions.executor(part).submit(
            self.run, lambda tx: fn(tx, *args, **kwargs), "serializable", "serial",
            partition=partition).result()

    # -- advisory locks -----------------------------------------------------------------------
    def _session_owner(self, label: str) -> LockOwner:
        with self._mu:
            self._session_ids += 1
            return LockOwner(-self._session_ids, f"session {self._session_ids} ({label})")

    def advisory_lock(self, key: int | str, *, shared: bool = False, nowait: bool = False,
                      timeout: float | None = None) -> AdvisoryLock:
        """pg_advisory_lock: a session-scoped application lock, held until released::

            with db.advisory_lock("nightly-report"):
                ...
        """
        self._check_open()
        if type(key) not in (int, str):
            raise InvalidParameter("an advisory lock key is an int or a str")
        owner = self._session_owner(f"advisory {key!r}")
        with self._mu:
            req = self._locks.acquire(owner, ("advisory", key),
                                      "share" if shared else "exclusive", nowait=nowait,
                                      timeout=self.lock_timeout if timeout is None else timeout)
        return AdvisoryLock(self, owner, req)

    def locks(self) -> list[LockInfo]:
        """The lock table (granted and waiting), like ``pg_locks``."""
        with self._mu:
            return self._locks.snapshot() + [
                LockInfo(tag, "SIReadLock", f"transaction {xid}", True)
                for tag, xid in self._ssi.lock_rows()]

    # -- log ----------------------------------------------------------------------------------
    def changes(self, from_lsn: int = 0) -> Iterator[Change]:
        """The committed changes from ``from_lsn`` on, in LSN (commit) order: the stream that
        replication ships. ``from_lsn`` is 0 or the ``lsn`` of a Change; LSNs before the
        oldest kept WAL segment were recycled after a checkpoint."""
        if not isinstance(from_lsn, int) or from_lsn < 0:
            raise InvalidParameter("from_lsn must be a non-negative integer")
        oldest = self._wal.oldest_lsn
        if from_lsn < oldest:
            raise InvalidParameter(f"the log before LSN {oldest} was recycled; "
                                   f"read from {oldest} or later")
        records = self._wal.read(from_lsn)
        try:
            first = next(records)
        except StopIteration:
            return
        except CorruptionError as exc:
            raise InvalidParameter(f"LSN {from_lsn} is not the start of a record") from exc
        if first[0] != from_lsn and from_lsn != oldest:
            raise InvalidParameter(f"LSN {from_lsn} is not the start of a record")
        yield from self._changes([first])
        yield from self._changes(records)

    def _changes(self, records: Any) -> Iterator[Change]:
        for lsn, rec in records:
            kind = rec["k"]
            if kind == "c":
                yield Change(lsn, "commit", rec["x"], [
                    RowChange(_OPS[op], table, pk[0] if len(pk) == 1 else tuple(pk), row)
                    for op, table, pk, _old, row in rec["o"]])
            elif kind == "t":
                yield Change(lsn, "create_table", 0, detail={"table": rec["n"],
                                                             "primary_key": rec["pk"]})
            elif kind == "ix":
                yield Change(lsn, "create_index", 0, detail={
                    "table": rec["t"], "index": rec["n"], "columns": rec["c"],
                    "unique": rec["u"]})
            elif kind == "dt":
                yield Change(lsn, "drop_table", 0, detail={"table": rec["n"]})

    @property
    def wal_lsn(self) -> int:
        return self._wal.end_lsn

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint(self) -> int:
        """Write every chain and index entry changed since the last checkpoint to the engine,
        make it durable, and record the redo LSN: recovery will replay the WAL from there.
        Returns that LSN.

        Fuzzy, as PostgreSQL's: the mutex is held only to take the dirty sets (a swap) and
        then for one short step per batch of chains (copying their committed, durable
        versions); encoding and engine writes run while transactions go on. A chain changed
        after the start is written as it is when its batch comes (replay is idempotent), and
        stays pinned until written; a version whose commit record is not durable yet is left
        out, so the image never runs ahead of the log."""
        if self._pager.store is None:
            return self._wal.end_lsn
        with self._ckpt_lock:
            return self._checkpoint()

    def _checkpoint(self) -> int:
        self._ckpt_due.clear()
        t0 = time.monotonic()
        with self._mu:
            wal_end = self._wal.end_lsn
            redo = min(self._committing.values(), default=wal_end)
            next_xid = self._next_xid
            work: list[tuple[Heap, set[bytes], list[tuple[Any, Any]]]] = []
            catalog: list[Put | Delete] = []
            for heap in self._heaps.values():
                catalog.append(Put(pack(("c", heap.name)), json.dumps({
                    "name": heap.name, "pk": list(heap.pk), "rows": heap.rows,
                    "indexes": [{"name": i.name, "columns": list(i.columns),
                                 "unique": i.unique} for i in heap.indexes.values()]
                }).encode()))
                # swaps only (checkpoints run one at a time, so nothing is flushing now):
                # the sorting and copying happen after the mutex is released
                dirty, heap.dirty = heap.dirty, set()
                heap.flushing = dirty
                work.append((heap, dirty, [(idx, idx.take_delta())
                                           for idx in heap.indexes.values()]))
        self._note_hold(t0)
        # With early lock release a commit may be visible before its record is durable:
        # make the log durable up to here, and leave out anything later (see _write_chains).
        # With asynchronous commit too: the image must never be ahead of the log on disk.
        self._wal.flush_durable(wal_end)
        eng = self._pager.store
        for heap, dirty, deltas in work:
            keys = sorted(dirty)
            for i in range(0, len(keys), CHECKPOINT_BATCH):
                self._write_chains(heap, keys[i:i + CHECKPOINT_BATCH])
            for idx, (entries, _members, gone) in deltas:
                added, removed = list(entries), list(gone)
                ops: list[Put | Delete] = [Delete(idx.prefix + vb + pkb) for vb, pkb in removed]
                ops.extend(Put(idx.prefix + vb + pkb, pkb) for vb, pkb in added)
                for k in range(0, len(ops), 4096):
                    eng.write_batch(ops[k:k + 4096], sync=False)
                with self._mu:
                    idx.flushing = None
        eng.write_batch(catalog, sync=self.path is not None)
        self.checkpoints += 1
        with self._mu:
            self._evict()  # what it wrote is clean now: the cache can shrink
        if self.path is None:
            return redo
        self.fs.write_atomic(os.path.join(self.path, CHECKPOINT),
                             json.dumps({"redo": redo, "next_xid": next_xid}).encode())
        self.last_checkpoint_lsn = redo
        # Segments before the redo point are not needed for recovery; keep the newest
        # wal_keep_bytes for changes() readers (PostgreSQL's wal_keep_size).
        self._wal.recycle(min(redo, self._wal.end_lsn - self.wal_keep_bytes))
        self._ckpt_wal_at = self._wal.end_lsn
        return redo

    def _note_hold(self, t0: float) -> None:
        held = time.monotonic() - t0
        if held > self.longest_checkpoint_hold:
            self.longest_checkpoint_hold = held

    def _write_chains(self, heap: Heap, keys: list[bytes]) -> None:
        """Write one batch of a checkpoint's chains (see :meth:`checkpoint`)."""
        t0 = time.monotonic()
        with self._mu:
            running = set(self._active)
            durable = self._wal.durable_lsn
            copies: list[tuple[bytes, list[tuple[int, int, dict[str, Any], int]], bool]] = []
            for pkb in keys:
                chain = heap.chains.get(pkb) or []
                versions = [
                    (v.xmin, v.xmax if v.xmax and v.xmax not in running and v.dlsn <= durable
                     else 0, v.row, v.lsn)
                    for v in chain if v.xmin not in running and v.lsn <= durable]
                if len(versions) != len(chain) or any(
                        v.xmax and (v.xmax in running or v.dlsn > durable) for v in chain):
                    heap.dirty.add(pkb)  # written in part: stays pinned for the next one
                copies.append((pkb, versions, pkb in heap.unflushed))
        self._note_hold(t0)
        ops: list[Put | Delete] = []
        sizes: list[int] = []
        name = heap.name
        dprefix = pack(("d", name))
        for pkb, versions, fresh in copies:
            key = heap.vprefix + pkb  # chain_key(name, pkb)
            if versions:
                value = encode_chain(versions)
                ops.append(Put(key, value))
                sizes.append(CHAIN_OVERHEAD + VERSION_OVERHEAD * len(versions)
                             + JSON_FACTOR * len(value))
            else:
                if not fresh:
                    ops.append(Delete(key))
                sizes.append(CHAIN_OVERHEAD)
            # the dead-version map: vacuum visits only chains listed here (and resident ones)
            if any(xmax for _xmin, xmax, _row, _lsn in versions):
                ops.append(Put(dprefix + pkb, b""))
            elif not fresh:
                ops.append(Delete(dprefix + pkb))
        self._pager.store.write_batch(ops, sync=False)
        pager = self._pager
        with pager.lock:
            pager.gen += 1  # a load that read the store before this write must read again
        t0 = time.monotonic()
        with self._mu:
            for (pkb, versions, _fresh), size in zip(copies, sizes, strict=True):
                heap.flushing.discard(pkb)
                chain = heap.chains.get(pkb)
                if versions:
                    with pager.lock:
                        heap.unflushed.discard(pkb)
                    pager.resize(heap, pkb, size)
                elif not chain and pkb not in heap.dirty:
                    with pager.lock:
                        heap.chains.pop(pkb, None)
                        heap.unflushed.discard(pkb)
                        pager.forget(heap, pkb)
        self._note_hold(t0)

    def _drop_storage(self, table: str, heap: Heap | None) -> None:
        """Remove a dropped table's cached chains and engine keys (its catalog entry too)."""
        if heap is not None:
            with self._pager.lock:
                for pkb in list(heap.chains):
                    self._pager.forget(heap, pkb)
                heap.chains.clear()
        store = self._pager.store
        if store is None:
            return
        ops: list[Put | Delete] = [Delete(pack(("c", table)))]
        for kind in ("v", "i", "d"):
            prefix = pack((kind, table))
            for k, _ in store.scan(prefix, prefix_end(prefix)):
                ops.append(Delete(k))
                if len(ops) >= 4096:
                    store.write_batch(ops, sync=False)
                    ops = []
        store.write_batch(ops, sync=False)

    # -- vacuum -------------------------------------------------------------------------------
    def vacuum(self, table: str | None = None) -> list[VacuumResult]:
        """Reclaim dead versions no running transaction can see (VACUUM)."""
        self._check_open()
        names = [self._heap(table).name] if table is not None else list(self._heaps)
        return [vacuum_mod.vacuum_heap(self, self._heaps[n], auto=False) for n in names]

    def table_stats(self, table: str) -> TableStats:
        heap = self._heap(table)
        with self._mu:
            return vacuum_mod.table_stats(self, heap)

    def stats(self) -> DatabaseStats:
        with self._mu:
            tables = {n: vacuum_mod.table_stats(self, h) for n, h in self._heaps.items()}
            ls = self._locks.stats
            wal = self._wal
            tally = self._tally
            aborts = dict(self.aborts)
            for cause, n in tally.by_prefix("abort:").items():
                aborts[cause] = aborts.get(cause, 0) + n
            safe = (self._ssi.stats.safe_at_start + self._ssi.stats.became_safe
                    + tally.get("safe_at_start"))
            return DatabaseStats(
                next_xid=self._next_xid,
                active_transactions=len(self._active) + sum(
                    1 for t in list(self._ro.values()) if t.xid == 0),
                oldest_xmin=self._horizon(), commits=self.commits + tally.get("commits"),
                rollbacks=self.rollbacks + tally.get("rollbacks"), aborts=aborts,
                lock_waits=ls.waits,
                lock_wait_seconds=round(ls.wait_seconds, 6), deadlocks=ls.deadlocks,
                lock_timeouts=ls.timeouts, lock_not_available=ls.not_available,
                ssi_conflicts=self._ssi.stats.conflicts,
                ssi_dangerous=self._ssi.stats.dangerous,
                ssi_siread_locks=self._ssi.siread_count(),
                ssi_safe_snapshots=safe,
                ssi_unsafe_snapshots=self._ssi.stats.unsafe, wal_records=wal.records,
                wal_bytes=wal.bytes, wal_end_lsn=wal.end_lsn, wal_fsyncs=wal.fsyncs,
                wal_commits_per_fsync=round(wal.group_commits / wal.fsyncs, 3)
                if wal.fsyncs else 0.0, wal_max_group=wal.max_group,
                checkpoints=self.checkpoints, last_checkpoint_lsn=self.last_checkpoint_lsn,
                tables=tables, cache=self._pager.stats(),
                longest_checkpoint_hold=round(self.longest_checkpoint_hold, 6))

    # -- background: autovacuum and the checkpointer ------------------------------------------
    def _background(self, autovacuum: bool) -> None:
        self._ckpt_wal_at = self._wal.end_lsn
        last_ckpt = last_vacuum = time.monotonic()
        nap = self.autovacuum_naptime if autovacuum else 0.5
        while True:
            # woken early when the chain cache is full of dirty chains (or to stop)
            self._ckpt_due.wait(min(nap, 0.5))
            if self._stop.is_set() or self._closed or self._failed is not None:
                return
            try:
                now = time.monotonic()
                if autovacuum and now - last_vacuum >= nap:
                    last_vacuum = now
                    for heap in list(self._heaps.values()):
                        threshold = (self.autovacuum_threshold
                                     + self.autovacuum_scale_factor * max(heap.rows, 0))
                        if heap.counters.dead_since_vacuum > threshold:
                            vacuum_mod.vacuum_heap(self, heap, auto=True)
                if self._pager.store is not None and (self._ckpt_due.is_set() or (
                        self.path is not None
                        and (now - last_ckpt > self.checkpoint_interval
                             or self._wal.end_lsn - self._ckpt_wal_at
                             > self.checkpoint_wal_bytes))):
                    self.checkpoint()
                    last_ckpt = time.monotonic()
            except (TxnError, StorageError, OSError):
                if self._closed:
                    return
                raise

    def _flush_due(self) -> None:
        """The client whose commit found the cache full of dirty chains helps clean it (as a
        PostgreSQL backend writes dirty buffers itself when the background writer lags). A
        memory database has no checkpointer thread: the client writes the dirty chains to the
        store unless another is. On disk the checkpointer does it; a client waits for it only
        once the cache is at twice its size, so writers cannot outrun it without bound."""
        pager = self._pager
        if pager.store is None or self._stop.is_set() or not self._ckpt_due.is_set():
            return
        if self.path is None:
            if self._ckpt_lock.acquire(False):
                try:
                    self._checkpoint()
                finally:
                    self._ckpt_lock.release()
        elif pager.budget is not None and pager.resident > 2 * pager.budget:
            with self._mu:
                if self._evict():
                    return
            with self._ckpt_lock:
                if pager.resident > 2 * pager.budget and not self._stop.is_set():
                    self._checkpoint()

    # -- close --------------------------------------------------------------------------------
    def close(self) -> None:
        """Checkpoint and close (running transactions are rolled back). Idempotent."""
        if self._closed:
            return
        self._stop.set()
        self._ckpt_due.set()  # wakes the background thread
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join()
        for tx in list(self._active.values()) + list(self._ro.values()):
            if tx.state == "active":
                with contextlib.suppress(TxnError):
                    tx.rollback()
        self._partitions.shutdown()
        if self._engine is not None and self._failed is None:
            self.checkpoint()
        self._closed = True
        self._wal.close()
        if self._engine is not None:
            if self._failed is None:
                self._engine.flush()  # a clean reopen then replays no engine log either
            self._engine.close()
        self._unlock_directory()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
