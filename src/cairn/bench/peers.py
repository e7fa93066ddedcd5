"""One small adapter interface in front of every system the storage benchmark measures.

The cairn engines (DDIA ch. 3: log, hash index, LSM-tree, B+tree) and the peers they are
compared with (sqlite3's B-tree, LMDB's copy-on-write B+tree, RocksDB and LevelDB's LSM-trees,
diskcache on SQLite, semidbm's Bitcask-like log + in-memory index) all sit behind
:class:`Store`, so that every workload runs the same code against each of them.

Fairness rules (docs/benchmarks.md): non-durable loads use each system's normal default without
an fsync per write (sqlite3 and LMDB: one transaction); ``sync_put`` makes each write durable
before it returns, with the system's own honest mechanism (fsync of its log/WAL or a synced
commit). Where a system has no honest way to do something, the adapter says so with a reason
(:class:`NotApplicable`) instead of faking it.

Memory: every system gets the same cache, :attr:`Setup.cache_bytes` (``--cache-mib``): the
btree's buffer pool, the lsm's block cache, sqlite3's and diskcache's page cache (memory maps off
for both), RocksDB's and LevelDB's block cache. LMDB, semidbm and the hash engine have no cache
of their own (they read through the OS page cache, or keep an index in memory): they run as they
are, and :attr:`Store.memory_note` says so. Write semantics: a non-durable put is handed to the
OS with write(2) before it returns on every system (RocksDB's default); the cairn engines'
user-space WAL buffer (``manual_wal_flush=True``) is measured only when asked for.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any, ClassVar

CAIRN_ENGINES: tuple[str, ...] = ("log", "hash", "lsm", "btree")
PEERS: tuple[str, ...] = ("sqlite3", "lmdb", "rocksdict", "plyvel", "diskcache", "semidbm")


class NotApplicable(Exception):
    """The workload has no honest equivalent on this system; the message says why."""


class Unavailable(Exception):
    """The system cannot be imported or opened here; the benchmark skips it with this note."""


def disk_usage(path: str) -> int:
    """Bytes allocated on disk under ``path`` (like ``du``): sparse files (LMDB's map) count
    only the blocks they really use."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # a file removed by a background compaction meanwhile
                continue
            total += min(st.st_size, st.st_blocks * 512)
    return total


@dataclass(frozen=True, slots=True)
class Caps:
    """Per-system limits on workload sizes, for systems whose operations are O(n) each
    (the log engine reads its whole file per get): ``None`` means no cap."""

    reads: int | None = None
    range_scans: int | None = None
    full_scan: int | None = None  # keys read by the "full" scan


@dataclass(frozen=True, slots=True)
class Setup:
    """How every system is configured in one run: the cache each one gets (bytes; ``None``
    leaves each system at its own default) and whether the cairn engines may buffer their WAL
    in user space (``manual_wal_flush``, RocksDB's option of that name)."""

    cache_bytes: int | None = None
    manual_wal_flush: bool = False


class Store(ABC):
    """A key-value system under test. One instance per open directory.

    ``put`` is a non-durable write (inside the load transaction for transactional peers);
    ``load`` wraps a sequence of puts in whatever makes them one unit (a transaction);
    ``sync_put`` is durable on return and, where ``concurrent_writers`` is true, safe to call
    from several threads at once.
    """

    name: ClassVar[str]
    family: ClassVar[str] = "peer"  # "cairn" or "peer"
    ordered: ClassVar[bool] = True
    concurrent_writers: ClassVar[str | None] = None  # None = supported, else the reason not
    caps: ClassVar[Caps] = Caps()
    # How the system's cache relates to --cache-mib (shown in the report).
    memory_note: ClassVar[str] = "cache = --cache-mib"

    def __init__(self, path: str, setup: Setup | None = None):
        self.path = path
        self.setup = setup or Setup()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def put(self, key: bytes, value: bytes) -> None: ...

    @abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Write every item without fsync per write; transactional peers use one transaction."""
        put = self.put
        for k, v in items:
            put(k, v)

    @abstractmethod
    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        """Read every pair with ``start <= key < end`` in key order, stopping after ``limit``
        pairs when given; return how many were read."""

    @abstractmethod
    def sync_put(self, key: bytes, value: bytes) -> None: ...

    def flush(self) -> None:  # noqa: B027 - optional: most peers need nothing here
        """Push buffers to files (before measuring disk size)."""

    def settle(self) -> None:  # noqa: B027 - optional: only LSM-trees have background work
        """Wait until background work the load caused (compactions) is done; the load's
        time includes it."""

    @abstractmethod
    def close(self) -> None: ...

    def disk_bytes(self) -> int:
        return disk_usage(self.path)

    def stats(self) -> dict[str, Any]:
        """The system's own figures, JSON-ready (cairn engines: EngineStats)."""
        return {}


# -- cairn engines ----------------------------------------------------------------------------
class CairnStore(Store):
    """A cairn engine through :func:`cairn.storage.open_engine`."""

    family = "cairn"
    kind: ClassVar[str]

    def options(self) -> dict[str, Any]:
        """Engine keyword options that carry out :class:`Setup`."""
        return {}

    def open(self) -> None:
        try:
            from cairn.storage import engine_class
            cls = engine_class(self.kind)
        except Exception as exc:  # an engine not written yet: skip it, say why
            raise Unavailable(f"cannot import cairn engine {self.kind!r}: {exc}") from exc
        try:
            self.engine = cls(self.path, **self.options())
        except Exception as exc:
            raise Unavailable(f"cannot open cairn engine {self.kind!r}: {exc}") from exc

    def put(self, key: bytes, value: bytes) -> None:
        self.engine.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        return self.engine.get(key)

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        n = 0
        for _ in islice(self.engine.scan(start, end), limit):
            n += 1
        return n

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.engine.put(key, value, sync=True)

    def flush(self) -> None:
        self.engine.flush()

    def close(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()

    def stats(self) -> dict[str, Any]:
        return self.engine.stats().to_dict()


class LogStore(CairnStore):
    name = kind = "log"
    ordered = False
    memory_note = "no cache: reads the whole log through the OS page cache"
    # Every get and scan reads the whole log (that is the engine's point): cap them so that the
    # run finishes; the report says how many operations were measured.
    caps = Caps(reads=10, range_scans=2)


class HashStore(CairnStore):
    name = kind = "hash"
    ordered = False
    memory_note = "no cache: every key in memory, values read through mmap (OS page cache)"


class LsmStore(CairnStore):
    name = kind = "lsm"

    def settle(self) -> None:
        self.engine.wait_for_compactions()

    memory_note = ("block cache = --cache-mib; + 64 MiB memtable, index and bloom blocks "
                   "pinned outside it (as rocksdict)")

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"manual_wal_flush": self.setup.manual_wal_flush}
        if self.setup.cache_bytes is not None:
            opts["block_cache_bytes"] = self.setup.cache_bytes
        return opts


class BTreeStore(CairnStore):
    name = kind = "btree"
    memory_note = "buffer pool = --cache-mib"

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"manual_wal_flush": self.setup.manual_wal_flush}
        if self.setup.cache_bytes is not None:
            opts["pool_bytes"] = self.setup.cache_bytes
        return opts


# -- peers ------------------------------------------------------------------------------------
def _import(module: str, pip_name: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # missing wheel or a broken native library: skip the peer
        raise Unavailable(f"{pip_name} is not installed ({exc}); "
                          f"pip install 'cairn[bench]' to compare with it") from exc


class SqliteStore(Store):
    """sqlite3: a WITHOUT ROWID table (the B-tree is keyed by ``k`` itself, like cairn's btree).

    WAL journal mode, synchronous=FULL: each autocommit write fsyncs the WAL before returning,
    and a load in one transaction fsyncs once at COMMIT. Each writer thread gets its own
    connection (a sqlite3 connection is not shared across threads); writers serialize on
    SQLite's write lock, with a busy timeout instead of failing.
    """

    name = "sqlite3"
    memory_note = "page cache = --cache-mib (PRAGMA cache_size), mmap off"

    def open(self) -> None:
        import sqlite3
        os.makedirs(self.path, exist_ok=True)
        self._file = os.path.join(self.path, "bench.sqlite")
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._sqlite = sqlite3
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) "
                     "WITHOUT ROWID")

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: autocommit unless we say BEGIN (sync_put = one commit each)
            conn = self._sqlite.connect(self._file, isolation_level=None,
                                        check_same_thread=False, timeout=60.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA mmap_size=0")  # reads go through its cache, as cairn's do
            if self.setup.cache_bytes is not None:  # negative: KiB, not pages
                conn.execute(f"PRAGMA cache_size=-{max(1, self.setup.cache_bytes // 1024)}")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def put(self, key: bytes, value: bytes) -> None:
        self._conn().execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        conn = self._conn()
        execute = conn.execute
        sql = "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
        execute("BEGIN")
        try:
            for k, v in items:  # one statement per key, as every other system gets one call
                execute(sql, (k, v))
        except BaseException:
            execute("ROLLBACK")
            raise
        execute("COMMIT")

    def get(self, key: bytes) -> bytes | None:
        row = self._conn().execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        conn = self._conn()
        if start is None and end is None:
            cur = conn.execute("SELECT k, v FROM kv ORDER BY k")
        elif end is None:
            cur = conn.execute("SELECT k, v FROM kv WHERE k >= ? ORDER BY k", (start,))
        elif start is None:
            cur = conn.execute("SELECT k, v FROM kv WHERE k < ? ORDER BY k", (end,))
        else:
            cur = conn.execute("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k",
                               (start, end))
        n = 0
        for _ in islice(cur, limit):
            n += 1
        return n

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.put(key, value)  # autocommit + synchronous=FULL: fsync of the WAL per write

    def flush(self) -> None:
        # Move the WAL's pages into the database file, so that disk size counts the table
        # once and not also its WAL copy (the other engines' flush does the same job).
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        for conn in getattr(self, "_conns", []):
            conn.close()
        self._conns = []

    def stats(self) -> dict[str, Any]:
        conn = self._conn()
        return {"page_size": conn.execute("PRAGMA page_size").fetchone()[0],
                "page_count": conn.execute("PRAGMA page_count").fetchone()[0],
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0]}


class LmdbStore(Store):
    """LMDB: a copy-on-write B+tree in a memory map, one writer at a time.

    ``sync=True`` (LMDB's default) makes every write-transaction commit fsync; the load is one
    write transaction, the durable writes are one transaction each. Concurrent writers queue on
    LMDB's writer mutex (no group commit), which is what the 8-writer workload shows.
    """

    name = "lmdb"
    memory_note = "no cache of its own: a memory map read through the OS page cache"
    MAP_SIZE = 1 << 34  # sparse: only the pages used take disk space

    def open(self) -> None:
        lmdb = _import("lmdb", "lmdb")
        os.makedirs(self.path, exist_ok=True)
        self.env = lmdb.open(self.path, map_size=self.MAP_SIZE, sync=True, metasync=True,
                             max_dbs=0, readahead=False, max_readers=64)

    def put(self, key: bytes, value: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(key, value)

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        with self.env.begin(write=True) as txn:
            put = txn.put
            for k, v in items:
                put(k, v)

    def get(self, key: bytes) -> bytes | None:
        with self.env.begin() as txn:  # a read transaction per get: its own snapshot
            return txn.get(key)

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        n = 0
        with self.env.begin() as txn:
            cur = txn.cursor()
            found = cur.set_range(start) if start is not None else cur.first()
            if not found:
                return 0
            for k, _v in islice(cur, limit):
                if end is not None and k >= end:
                    break
                n += 1
        return n

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.put(key, value)  # env sync=True: the commit fsyncs

    def close(self) -> None:
        env = getattr(self, "env", None)
        if env is not None:
            env.close()
            self.env = None

    def stats(self) -> dict[str, Any]:
        st = self.env.stat()
        return {k: st[k] for k in ("depth", "branch_pages", "leaf_pages", "overflow_pages",
                                   "entries", "psize")}


class RocksDictStore(Store):
    """RocksDB through rocksdict, default options (WAL on, no fsync per write), raw bytes mode.

    Durable writes use ``WriteOptions(sync=True)``; RocksDB groups concurrent synced writers into
    one WAL fsync (its write-group leader), so the 8-writer workload applies.
    """

    name = "rocksdict"
    memory_note = ("block cache = --cache-mib; + 64 MiB write buffer, index and filter "
                   "blocks outside the cache (RocksDB's defaults)")

    def open(self) -> None:
        rd = _import("rocksdict", "rocksdict")
        os.makedirs(self.path, exist_ok=True)
        opts = rd.Options(raw_mode=True)
        opts.create_if_missing(True)
        if self.setup.cache_bytes is not None:
            table = rd.BlockBasedOptions()
            table.set_block_cache(rd.Cache(self.setup.cache_bytes))
            opts.set_block_based_table_factory(table)
        self.db = rd.Rdict(self.path, opts)
        self._sync_opts = rd.WriteOptions()
        self._sync_opts.sync = True

    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        n = 0
        items = self.db.items(from_key=start) if start is not None else self.db.items()
        for k, _v in islice(items, limit):
            if end is not None and k >= end:
                break
            n += 1
        return n

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, self._sync_opts)

    def settle(self) -> None:
        """Poll RocksDB until no compaction is pending or running (10 minutes at most)."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            busy = 0
            for prop in ("rocksdb.compaction-pending", "rocksdb.num-running-compactions",
                         "rocksdb.num-running-flushes"):
                with contextlib.suppress(Exception):
                    busy += self.db.property_int_value(prop) or 0
            if not busy:
                return
            time.sleep(0.02)

    def flush(self) -> None:
        self.db.flush()

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop in ("rocksdb.estimate-num-keys", "rocksdb.total-sst-files-size",
                     "rocksdb.num-files-at-level0", "rocksdb.num-files-at-level1",
                     "rocksdb.estimate-table-readers-mem"):
            with contextlib.suppress(Exception):
                out[prop.removeprefix("rocksdb.")] = self.db.property_int_value(prop)
        return out


class PlyvelStore(Store):
    """LevelDB through plyvel, default options; durable writes pass ``sync=True``. LevelDB
    batches concurrent writers behind one log write (its writer queue), so threads apply."""

    name = "plyvel"
    memory_note = "block cache = --cache-mib (lru_cache_size)"

    def open(self) -> None:
        plyvel = _import("plyvel", "plyvel")
        os.makedirs(self.path, exist_ok=True)
        extra: dict[str, Any] = {}
        if self.setup.cache_bytes is not None:
            extra["lru_cache_size"] = self.setup.cache_bytes
        self.db = plyvel.DB(self.path, create_if_missing=True, **extra)

    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        n = 0
        with self.db.iterator(start=start, stop=end) as it:
            for _ in islice(it, limit):
                n += 1
        return n

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value, sync=True)

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for level in range(4):
            raw = self.db.get_property(f"leveldb.num-files-at-level{level}".encode())
            if raw is not None:
                out[f"files_level{level}"] = int(raw)
        return out


class DiskcacheStore(Store):
    """diskcache: a SQLite table in WAL mode behind a dict-like API.

    Its default (``sqlite_synchronous=1``, NORMAL) does not fsync per write; durable writes use
    a second handle with ``sqlite_synchronous=2`` (FULL: the WAL is fsynced at every commit).
    The load runs inside ``cache.transact()``, its documented way to batch writes. It has no
    range-read API, so range scans are n/a; the full scan walks ``iterkeys()`` (key order) and
    reads each value.
    """

    name = "diskcache"
    memory_note = "SQLite page cache = --cache-mib, mmap off"
    ordered = False
    # Its full scan is a point read per key (~10k keys/s): measure the first 20,000 keys.
    caps = Caps(full_scan=20_000)

    def open(self) -> None:
        dc = _import("diskcache", "diskcache")
        self._dc = dc
        self._settings: dict[str, Any] = {}
        if self.setup.cache_bytes is not None:  # pages of SQLite's default 4 KiB
            self._settings = {"sqlite_cache_size": max(1, self.setup.cache_bytes // 4096),
                              "sqlite_mmap_size": 0}
        self.cache = dc.Cache(self.path, **self._settings)
        self._durable: Any = None
        self._durable_lock = threading.Lock()

    def put(self, key: bytes, value: bytes) -> None:
        self.cache.set(key, value)

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        with self.cache.transact():
            put = self.cache.set
            for k, v in items:
                put(k, v)

    def get(self, key: bytes) -> bytes | None:
        return self.cache.get(key)

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        if start is not None or end is not None:
            raise NotApplicable("diskcache has no range-read API")
        n = 0
        get = self.cache.get
        for k in islice(self.cache.iterkeys(), limit):
            get(k)
            n += 1
        return n

    def _durable_cache(self) -> Any:
        with self._durable_lock:
            if self._durable is None:
                self._durable = self._dc.Cache(self.path, sqlite_synchronous=2,
                                              **self._settings)
            return self._durable

    def sync_put(self, key: bytes, value: bytes) -> None:
        self._durable_cache().set(key, value)

    def flush(self) -> None:
        # diskcache has no checkpoint call of its own; checkpoint its SQLite WAL directly so
        # that disk size compares like with like with sqlite3.
        import sqlite3
        conn = sqlite3.connect(os.path.join(self.path, self._dc.core.DBNAME))
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def close(self) -> None:
        for cache in (getattr(self, "cache", None), getattr(self, "_durable", None)):
            if cache is not None:
                cache.close()

    def stats(self) -> dict[str, Any]:
        return {"volume": self.cache.volume(), "count": len(self.cache)}


class SemidbmStore(Store):
    """semidbm: a pure-Python append-only data file with an in-memory index (Bitcask-like, the
    hash engine's peer). ``sync()`` flushes and fsyncs the data file, the honest durable write.
    It is unordered (scans sort the index, like cairn's hash engine) and not thread-safe, so the
    8-writer workload is n/a."""

    name = "semidbm"
    memory_note = "no cache: every key in memory, values read through the OS page cache"
    ordered = False
    concurrent_writers = "semidbm is not thread-safe (shared file offset and index, no lock)"

    def open(self) -> None:
        semidbm = _import("semidbm", "semidbm")
        self.db = semidbm.open(self.path, "c")

    def put(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def get(self, key: bytes) -> bytes | None:
        try:
            return self.db[key]
        except KeyError:
            return None

    def scan(self, start: bytes | None, end: bytes | None, limit: int | None = None) -> int:
        keys = sorted(k for k in self.db
                      if (start is None or k >= start) and (end is None or k < end))
        if limit is not None:
            del keys[limit:]
        db = self.db
        for k in keys:
            db[k]
        return len(keys)

    def sync_put(self, key: bytes, value: bytes) -> None:
        self.db[key] = value
        self.db.sync()

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None

    def stats(self) -> dict[str, Any]:
        return {"keys": len(self.db.keys())}


STORES: dict[str, type[Store]] = {
    cls.name: cls for cls in (LogStore, HashStore, LsmStore, BTreeStore, SqliteStore,
                              LmdbStore, RocksDictStore, PlyvelStore, DiskcacheStore,
                              SemidbmStore)
}


def make_store(name: str, path: str, setup: Setup | None = None) -> Store:
    """An adapter for system ``name`` at ``path`` (not opened yet)."""
    try:
        cls = STORES[name]
    except KeyError:
        raise Unavailable(f"unknown system {name!r}; known: {', '.join(STORES)}") from None
    return cls(path, setup)


def open_store(name: str, path: str, setup: Setup | None = None) -> Store:
    """Create a fresh directory and open ``name`` in it; :class:`Unavailable` if it cannot."""
    shutil.rmtree(path, ignore_errors=True)
    store = make_store(name, path, setup)
    try:
        store.open()
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"{name} failed to open: {type(exc).__name__}: {exc}") from exc
    return store
