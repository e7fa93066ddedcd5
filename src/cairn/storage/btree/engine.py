"""``BTreeEngine``: an on-disk B+tree behind a buffer pool, made crash-safe by a redo WAL.

The read/write path (DDIA ch. 3 "B-Trees", "Making B-trees reliable"; PostgreSQL's WAL and
checkpoints):

* a write batch is validated, appended to the WAL as one checksummed frame (logical redo:
  the puts and deletes), and then applied to decoded nodes in the buffer pool, which are marked
  dirty; a ``sync=True`` write returns once its frame is fsynced (group commit);
* a **checkpoint** (when the WAL passes ``wal_checkpoint_bytes``, when dirty pages fill the
  pool, and on ``flush``/``compact``/``close``) writes every dirty page through the
  checkpoint journal (torn-checkpoint protection, :mod:`cairn.storage.btree.wal`) into
  ``tree.dat`` and starts a new, empty WAL generation;
* **recovery** re-applies a complete journal, reads the meta page, and replays the WAL written
  since that checkpoint, stopping at a torn tail; then it checkpoints, so every open starts
  from an empty log.

Why a redo WAL and not copy-on-write pages with an atomically swapped root (LMDB)? The WAL
turns a durable write into one sequential append of ~130 bytes; copy-on-write would rewrite
a leaf-to-root path of 4 KiB pages (and the free-page bookkeeping) on every durable commit.
The WAL also lets ``put`` touch only decoded Python lists (``bisect`` + ``list.insert``),
serialising a page once per checkpoint rather than once per write.

Range scans see a snapshot taken when ``scan()`` is called, without MVCC: the scan copies
entries out of the leaves in chunks under the engine lock, and while a scan is open every
writer records, for keys the scan has not reached yet, the value the key had when the scan
began (a per-scan undo map). Each chunk is patched with that map, so the caller sees exactly
the state of the moment it called ``scan`` even if writes, splits and merges happen between
chunks. Writers pay for this only while scans are open.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cairn.storage.btree.bufferpool import BufferPool
from cairn.storage.btree.bulkload import bulk_load
from cairn.storage.btree.node import Leaf, Node, Value
from cairn.storage.btree.page import (
    MAX_PAGE_SIZE,
    META,
    MIN_PAGE_SIZE,
    Meta,
    OverflowRef,
    decode_meta,
    encode_leaf,
    encode_meta,
    leaf_capacity,
    overflow_capacity,
    peek_page_size,
)
from cairn.storage.btree.pager import Pager
from cairn.storage.btree.tree import BTree
from cairn.storage.btree.wal import (
    JOURNAL,
    WAL,
    journal_frames,
    list_wals,
    read_journal,
)
from cairn.storage.checksum import crc32c, mask
from cairn.storage.directory import claim_directory
from cairn.storage.engine import Engine, EngineStats, Op, Put, normalize_ops
from cairn.storage.errors import (
    CorruptionError,
    DurabilityError,
    EngineClosedError,
    InvalidKeyError,
    StorageError,
)
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.groupcommit import GroupCommit
from cairn.storage.limits import MAX_VALUE_SIZE, check_key, check_value
from cairn.storage.record import OP_PUT, decode_payload, encode_frame

FORMAT = 1
DEFAULT_PAGE_SIZE = 4096
DEFAULT_POOL_BYTES = 64 * 1024 * 1024
DEFAULT_WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024
DEFAULT_COMMIT_DELAY_US = 500  # the same 0.5 ms as the other engines (groupcommit.py)
TREE_FILE = "tree.dat"
FIRST_CHUNK = 1024  # entries per scan chunk: a 1000-key range scan is one descent
NEXT_CHUNK = 4096
_ENTRY = struct.Struct("<BII")
_U32 = struct.Struct("<I")

Item = tuple[bytes, Value | None]  # (key, value) with None for a delete


def max_key_for(page_size: int) -> int:
    """The largest key a page size allows: any entry must fit in a quarter of a page, so a
    split always leaves both halves non-empty and an internal page has at least 4 children."""
    return page_size // 4 - 64


@dataclass(eq=False)
class _ScanCursor:
    """An open scan: its range, how far it got, and the pre-scan values of keys changed
    since it began (``None`` = the key did not exist)."""

    start: bytes | None
    end: bytes | None
    reverse: bool
    after: bytes | None = None  # the last key handed out
    undo: dict[bytes, bytes | None] = field(default_factory=dict)

    def covers(self, key: bytes) -> bool:
        """Is ``key`` in the range and not yet reached?"""
        if (self.start is not None and key < self.start) or (
                self.end is not None and key >= self.end):
            return False
        if self.after is None:
            return True
        return key < self.after if self.reverse else key > self.after


class BTreeEngine(Engine):
    """B+tree engine. Options:

    * ``page_size`` (4096): bytes per page, a power of two in [1024, 65536]; fixed when the
      directory is created (an existing tree keeps its own page size);
    * ``pool_bytes`` (64 MiB): buffer pool size; it holds ``pool_bytes // page_size`` pages;
    * ``wal_checkpoint_bytes`` (64 MiB): checkpoint when the WAL grows past this;
    * ``max_key_size``: at most (and by default) ``page_size // 4 - 64`` (960 for 4 KiB);
    * ``max_value_size`` (16 MiB): values past a quarter page go to overflow chains;
    * ``commit_delay_us`` (500): at most how long a group-commit leader waits for the other
      active durable writers to append before it fsyncs (:mod:`cairn.storage.groupcommit`);
    * ``manual_wal_flush`` (False, RocksDB's option of that name): False hands each write's WAL
      frame to the OS (one write(2)) before the write returns, so a process crash loses no
      acknowledged write; True keeps frames in a 64 KiB user-space buffer (faster, and a
      process crash can lose up to 64 KiB of unsynced writes).
    """

    kind = "btree"
    ordered = True

    def __init__(self, path: str, fs: FileSystem = REAL_FS, *,
                 page_size: int = DEFAULT_PAGE_SIZE, pool_bytes: int = DEFAULT_POOL_BYTES,
                 wal_checkpoint_bytes: int = DEFAULT_WAL_CHECKPOINT_BYTES,
                 max_key_size: int | None = None, max_value_size: int = MAX_VALUE_SIZE,
                 commit_delay_us: int = DEFAULT_COMMIT_DELAY_US, manual_wal_flush: bool = False):
        super().__init__(path, fs)
        if (type(page_size) is not int or page_size < MIN_PAGE_SIZE
                or page_size > MAX_PAGE_SIZE or page_size & (page_size - 1)):
            raise StorageError(f"page_size must be a power of two in [{MIN_PAGE_SIZE}, "
                               f"{MAX_PAGE_SIZE}], not {page_size!r}")
        claim_directory(fs, path, self.kind, FORMAT)
        self._lock = threading.Lock()
        self._sync_mutex = threading.Lock()  # a WAL file is not closed while it is fsynced
        self._failure: BaseException | None = None
        self._scans: weakref.WeakSet[_ScanCursor] = weakref.WeakSet()
        self._tree_path = os.path.join(path, TREE_FILE)
        self._wal_limit = wal_checkpoint_bytes
        # Checkpoint when this much is spilled (it is read back into memory by the checkpoint).
        self._spill_limit = max(wal_checkpoint_bytes, pool_bytes)
        self._commit_delay = max(0, commit_delay_us) / 1e6  # seconds, for GroupCommit
        self.manual_wal_flush = bool(manual_wal_flush)
        # counters
        self._gets = self._puts = self._deletes = 0
        self._read_units = 0
        self._user_bytes = 0
        self._wal_bytes = 0
        self._journal_bytes = 0
        self._checkpoints = 0
        self._checkpoint_fsyncs = 0
        self._compactions = 0
        self._bytes_compacted = 0
        self._overflow_reads = 0
        self._get_pages_read = 0  # pages read from tree.dat by get() (pool misses, chains)

        fs.remove(self._tree_path + ".tmp")  # an interrupted creation
        fs.remove(self._tree_path + ".compact")  # an interrupted compaction
        if not fs.exists(self._tree_path):
            self._create(page_size)
        page_size = self._stored_page_size(page_size)
        self.page_size = page_size
        limit = max_key_for(page_size)
        if max_key_size is None:
            max_key_size = limit
        if max_key_size > limit:
            raise StorageError(f"max_key_size {max_key_size} does not fit {page_size}-byte "
                               f"pages (at most {limit})")
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        self._inline_max = leaf_capacity(page_size) // 4  # larger entries go out of line

        try:
            self._pager = Pager(fs, self._tree_path, page_size)
            journal_path = os.path.join(path, JOURNAL)
            new_journal = not fs.exists(journal_path)
            self._journal = fs.open(journal_path)
            if new_journal:
                fs.sync_dir(path)
            self._recover_journal()
            meta = decode_meta(self._pager.file.read_at(0, page_size), self._tree_path)
            if meta.page_size != page_size:
                raise CorruptionError("meta page size changed while opening",
                                      path=self._tree_path, offset=0)
            self._pager.page_count = meta.page_count
            self._pager.load_freelist(meta.freelist_head, meta.free_count)
            self._pool = BufferPool(max(pool_bytes, 8 * page_size), page_size, self._spill)
            self._tree = BTree(self._pager, self._pool, meta.root, meta.height,
                               meta.leaf_pages, meta.internal_pages)
            self._keys = meta.keys
            self._live_bytes = meta.live_bytes
            self._overflow_pages = meta.overflow_pages
            self._seq = meta.checkpoint_seq
            for gen in list_wals(fs, path):
                if gen != meta.wal_gen:  # covered by the checkpoint (or never used)
                    fs.remove(os.path.join(path, f"wal-{gen:016d}.log"))
            self._wal = WAL(fs, path, meta.wal_gen, 0)
            if self._wal.size == 0:
                fs.sync_dir(path)
            self._replay()
            if self._wal.size:
                self._checkpoint()
        except BaseException:
            self._release_files()
            raise
        self._commit = GroupCommit(self._sync_wal, self._wal_position, self._commit_delay)

    # -- opening -----------------------------------------------------------------------------
    def _create(self, page_size: int) -> None:
        meta = Meta(page_size=page_size, root=1, height=1, page_count=2, wal_gen=1,
                    freelist_head=0, free_count=0, leaf_pages=1, internal_pages=0,
                    overflow_pages=0, keys=0, live_bytes=0, checkpoint_seq=0)
        image = encode_meta(meta) + encode_leaf(1, 0, 0, [], [], page_size)
        self.fs.write_atomic(self._tree_path, image)

    def _stored_page_size(self, default: int) -> int:
        with self.fs.open(self._tree_path, create=False) as f:
            head = f.read_at(0, META.size)
        try:
            return peek_page_size(head, self._tree_path)
        except CorruptionError:
            # The meta page may be torn by a crash mid-checkpoint; the journal then has it.
            journal = os.path.join(self.path, JOURNAL)
            if self.fs.exists(journal) and self.fs.file_size(journal):
                return default
            raise

    def _recover_journal(self) -> None:
        data = self._journal.read_at(0, self._journal.size)
        if not data:
            return
        pages = read_journal(data, self._journal.path, self._pager.page_size)
        if pages is not None:  # complete: finish the interrupted checkpoint (idempotent)
            for pid, image in pages:
                self._pager.write(pid, image)
            self._pager.file.sync()
        self._journal.truncate(0)
        self._journal.fsync()

    def _replay(self) -> None:
        for payload in self._wal.replay():
            items: list[Item] = [(e.key, e.value if e.op == OP_PUT else None)
                                 for e in decode_payload(payload, self._wal.path)]
            self._apply(self._prepare(items))

    def _release_files(self) -> None:
        for f in (getattr(self, "_wal", None), getattr(self, "_pager", None),
                  getattr(self, "_journal", None)):
            if f is not None:
                with contextlib.suppress(BaseException):  # closing after a failure
                    f.close()

    # -- the write path ----------------------------------------------------------------------
    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        # The common case without building Put objects: same frame as encode_frame([Put]).
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        if type(value) is not bytes or len(value) > self.max_value_size:
            check_value(value, self.max_value_size)
        payload = _ENTRY.pack(OP_PUT, len(key), len(value)) + key + value
        head = _U32.pack(len(payload))
        frame = _U32.pack(mask(crc32c(head + payload))) + head + payload
        size = len(key) + len(value)
        if size + 6 > self._inline_max:
            self._write([(key, value)], frame, sync, size, 1, 0)
            return
        # The common inline put: _write + _apply, unrolled.
        with self._lock:
            if self._closed:
                raise EngineClosedError(f"btree engine at {self.path} is closed")
            if self._failure is not None:
                self._raise_failed()
            pool = self._pool
            if self._wal.size >= self._wal_limit or self._pager.spill_bytes > self._spill_limit:
                self._checkpoint()
            try:
                wal_file = self._wal.file
                wal_file.append(frame)
                if not self.manual_wal_flush:
                    wal_file.flush()  # in the OS before the put returns (see the class doc)
                old = self._tree.put(key, value)
            except BaseException as exc:
                self._failure = exc
                raise
            if old is None:
                self._keys += 1
                self._live_bytes += size
            else:
                self._live_bytes += len(value) - _vlen(old)
            if self._scans:
                self._note(key, old)  # before a replaced chain is freed: it reads it
            if old is not None and type(old) is not bytes:
                self._free_chain(old)  # type: ignore[arg-type]
            self._wal_bytes += len(frame)
            self._user_bytes += size
            self._puts += 1
            if pool.used > pool.capacity:
                pool.evict()
            if not sync:
                return
            end = self._wal.position
        try:
            self._commit.sync_to(end)
        except DurabilityError as exc:
            self._failure = exc
            raise

    def write_batch(self, ops: Iterable[Op | tuple], *, sync: bool = False) -> None:
        self._check_open()
        batch = normalize_ops(ops, self.max_key_size, self.max_value_size)
        if not batch:
            return
        items: list[Item] = []
        user = puts = 0
        for op in batch:
            if type(op) is Put:
                items.append((op.key, op.value))
                user += len(op.key) + len(op.value)
                puts += 1
            else:
                items.append((op.key, None))
                user += len(op.key)
        frame, _ = encode_frame(batch)
        self._write(items, frame, sync, user, puts, len(batch) - puts)

    def _write(self, items: list[Item], frame: bytes, sync: bool, user: int, puts: int,
               deletes: int) -> None:
        with self._lock:
            if self._closed:
                raise EngineClosedError(f"btree engine at {self.path} is closed")
            if self._failure is not None:
                self._raise_failed()
            pool = self._pool
            if self._wal.size >= self._wal_limit or self._pager.spill_bytes > self._spill_limit:
                # Before this batch is logged, so that a checkpoint that fails cannot leave
                # behind a batch whose write call raised.
                self._checkpoint()
            prepared = self._prepare(items)
            try:
                self._wal.append(frame)
                if not self.manual_wal_flush:
                    self._wal.file.flush()
                self._apply(prepared)
            except BaseException as exc:
                # The log or the tree may now be half-changed: stop accepting writes, as
                # RocksDB does after a background error; reopening recovers from the WAL.
                self._failure = exc
                raise
            self._wal_bytes += len(frame)
            self._user_bytes += user
            self._puts += puts
            self._deletes += deletes
            end = self._wal.position
            if pool.used > pool.capacity:
                pool.evict()
        if sync:
            try:
                self._commit.sync_to(end)
            except DurabilityError as exc:
                self._failure = exc
                raise

    def _raise_failed(self) -> None:
        exc = self._failure
        if isinstance(exc, DurabilityError):
            raise exc
        raise StorageError(f"btree engine at {self.path} refuses writes after an earlier "
                           f"failure ({exc!r}); reopen it to recover") from exc

    def _prepare(self, items: list[Item]) -> list[Item]:
        """Write the values too large for a leaf to overflow chains (before the WAL append,
        so that an I/O error here leaves nothing half-done)."""
        limit = self._inline_max
        if all(v is None or 6 + len(k) + len(v) <= limit for k, v in items):
            return items
        out: list[Item] = []
        written: list[OverflowRef] = []
        try:
            for k, v in items:
                if v is not None and 6 + len(k) + len(v) > limit:
                    ref = self._pager.write_overflow(v)  # type: ignore[arg-type]
                    written.append(ref)
                    out.append((k, ref))
                else:
                    out.append((k, v))
        except BaseException:
            for ref in written:
                for pid in self._pager.chain_pages(ref):
                    self._pager.release(pid)
            raise
        return out

    def _apply(self, items: list[Item]) -> None:
        tree = self._tree
        for k, v in items:
            if v is None:
                old = tree.delete(k)
                if old is None:
                    continue
                self._keys -= 1
                self._live_bytes -= len(k) + _vlen(old)
            else:
                old = tree.put(k, v)
                if type(v) is not bytes:
                    self._overflow_pages += self._chain_len(v.length)
                if old is None:
                    self._keys += 1
                    self._live_bytes += len(k) + _vlen(v)
                else:
                    self._live_bytes += _vlen(v) - _vlen(old)
            if self._scans:
                self._note(k, old)
            if old is not None and type(old) is not bytes:
                self._free_chain(old)  # type: ignore[arg-type]

    def _free_chain(self, ref: OverflowRef) -> None:
        pids = self._pager.chain_pages(ref)
        for pid in pids:
            self._pager.release(pid)
        self._overflow_pages -= len(pids)

    def _spill(self, node: Node) -> None:
        """The pool evicts a dirty page: keep its image in the spill file (pager.py)."""
        self._pager.spill(node.pid, self._tree.image(node))

    def _chain_len(self, length: int) -> int:
        return max(1, -(-length // overflow_capacity(self.page_size)))

    def _note(self, key: bytes, old: Value | None) -> None:
        """Remember the pre-scan value of ``key`` for every open scan that has not passed it."""
        for cur in list(self._scans):
            if key not in cur.undo and cur.covers(key):
                cur.undo[key] = self._materialize(old) if old is not None else None

    def _materialize(self, value: Value) -> bytes:
        if type(value) is bytes:
            return value
        data, pages = self._pager.read_overflow(value)  # type: ignore[arg-type]
        self._overflow_reads += pages
        return data

    # -- durability --------------------------------------------------------------------------
    def _wal_position(self) -> int:
        """The flush target of a group-commit leader, asked right before it syncs."""
        with self._lock:
            return self._wal.position

    def _sync_wal(self) -> None:
        with self._lock:
            wal = self._wal
            wal.file.flush()
            self._sync_mutex.acquire()
        try:
            wal.file.fsync()
        finally:
            self._sync_mutex.release()

    def _checkpoint(self) -> None:
        """Write every dirty page and start a new WAL generation. Caller holds the lock."""
        if self._failure is not None:
            self._raise_failed()
        if self._wal.size == 0:
            return  # nothing changed since the last checkpoint
        try:
            self._do_checkpoint()
        except BaseException as exc:
            self._failure = exc
            raise

    def _do_checkpoint(self) -> None:
        pager = self._pager
        tree = self._tree
        images = pager.spilled_images()  # pages the pool evicted dirty since the last one
        images.update(tree.dirty_images())
        head, free_count, trunks = pager.freelist_images()
        meta = Meta(page_size=self.page_size, root=tree.root, height=tree.height,
                    page_count=pager.page_count, wal_gen=self._wal.gen + 1,
                    freelist_head=head, free_count=free_count, leaf_pages=tree.leaf_pages,
                    internal_pages=tree.internal_pages, overflow_pages=self._overflow_pages,
                    keys=self._keys, live_bytes=self._live_bytes,
                    checkpoint_seq=self._seq + 1)
        pages = sorted([*images.items(), *trunks, (0, encode_meta(meta))])
        # 0. overflow chains written since the last checkpoint went straight to tree.dat and
        # the new pages point at them: they must be durable before the journal can be.
        pager.file.sync()
        # 1. the journal: after this fsync the checkpoint can always be completed
        journal = self._journal
        for fr in journal_frames(meta.checkpoint_seq, pages, self.page_size):
            journal.append(fr)
            self._journal_bytes += len(fr)
        journal.sync()
        # 2. the pages in place, consecutive ones in one write
        run: list[bytes] = []
        run_start = prev = -2
        for pid, image in pages:
            if pid != prev + 1 and run:
                pager.write_run(run_start, run)
                run = []
            if not run:
                run_start = pid
            run.append(image)
            prev = pid
        if run:
            pager.write_run(run_start, run)
        pager.file.sync()
        # 3. the journal is no longer needed
        journal.truncate(0)
        journal.fsync()
        # 4. a new WAL generation; the old one is covered by the checkpoint
        with self._sync_mutex:
            old = self._wal
            self._wal = WAL(self.fs, self.path, old.gen + 1, old.position)
            old.close()
            self.fs.remove(old.path)
            self.fs.sync_dir(self.path)
        self._checkpoint_fsyncs += 5
        self._pool.cleaned()
        pager.spill_reset()
        self._seq = meta.checkpoint_seq
        self._checkpoints += 1
        if self._pool.used > self._pool.capacity:
            self._pool.evict()

    # -- reads -------------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if type(key) is not bytes or not key or len(key) > self.max_key_size:
            check_key(key, self.max_key_size)
        with self._lock:
            if self._closed:
                raise EngineClosedError(f"btree engine at {self.path} is closed")
            pager = self._pager
            before = pager.pages_read
            value = self._tree.get(key)
            self._gets += 1
            self._read_units += self._tree.height
            if self._pool.used > self._pool.capacity:
                self._pool.evict()
            if value is None or type(value) is bytes:
                self._get_pages_read += pager.pages_read - before
                return value
            data, pages = pager.read_overflow(value)  # type: ignore[arg-type]
            self._get_pages_read += pager.pages_read - before
            self._read_units += pages
            self._overflow_reads += pages
            return data

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        for bound in (start, end):
            if bound is not None and type(bound) is not bytes:
                raise InvalidKeyError(f"scan bounds must be bytes or None, not "
                                      f"{type(bound).__name__}")
        if start is not None and end is not None and start >= end:
            return iter(())
        cursor = _ScanCursor(start, end, reverse)
        with self._lock:
            self._check_open()
            self._scans.add(cursor)  # the snapshot starts now, not at the first next()
        return self._scan_chunks(cursor)

    def _scan_chunks(self, cur: _ScanCursor) -> Iterator[tuple[bytes, bytes]]:
        limit = FIRST_CHUNK
        while True:
            with self._lock:
                if self._closed:
                    raise EngineClosedError(f"btree engine at {self.path} is closed")
                tree = self._tree  # compact() may have replaced it since the last chunk
                if cur.reverse:
                    chunk = tree.chunk_backward(cur.after, cur.start, cur.end, limit)
                else:
                    chunk = tree.chunk_forward(cur.after, cur.start, cur.end, limit)
                keys, vals = chunk.keys, chunk.vals
                boundary = None if chunk.exhausted else keys[-1]
                if cur.undo:
                    keys, vals = self._patch(cur, keys, vals, boundary)
                if self._overflow_pages:
                    vals = [v if type(v) is bytes else self._materialize(v) for v in vals]
                if chunk.exhausted:
                    self._scans.discard(cur)
                else:
                    cur.after = boundary
                if self._pool.used > self._pool.capacity:
                    self._pool.evict()
            yield from zip(keys, vals, strict=True)  # type: ignore[misc]
            if chunk.exhausted:
                return
            limit = NEXT_CHUNK

    @staticmethod
    def _patch(cur: _ScanCursor, keys: list[bytes], vals: list[Value],
               boundary: bytes | None) -> tuple[list[bytes], list[Value]]:
        """Undo, in one chunk, the writes made since the scan began."""
        if boundary is None:
            mine = list(cur.undo)
        elif cur.reverse:
            mine = [k for k in cur.undo if k >= boundary]
        else:
            mine = [k for k in cur.undo if k <= boundary]
        if not mine:
            return keys, vals
        state: dict[bytes, Value] = dict(zip(keys, vals, strict=True))
        for k in mine:
            old = cur.undo.pop(k)
            if old is None:
                state.pop(k, None)
            else:
                state[k] = old
        ordered = sorted(state, reverse=cur.reverse)
        return ordered, [state[k] for k in ordered]

    # -- maintenance -------------------------------------------------------------------------
    def flush(self) -> None:
        """Checkpoint: write the dirty pages to ``tree.dat`` and empty the WAL."""
        with self._lock:
            self._check_open()
            self._checkpoint()

    def compact(self) -> None:
        """Checkpoint, then rebuild the tree into a new file with full pages and no free
        pages (:mod:`cairn.storage.btree.bulkload`), swapped in by an atomic rename."""
        with self._lock:
            self._check_open()
            self._checkpoint()
            try:
                self._rebuild()
            except BaseException as exc:
                self._failure = exc
                raise

    def _rebuild(self) -> None:
        fs, tree, pool, old_pager = self.fs, self._tree, self._pool, self._pager
        new_path = self._tree_path + ".compact"
        fs.remove(new_path)
        new_pager = Pager(fs, new_path, self.page_size)
        new_pager.page_count = 1  # page 0 is the meta page

        def entries() -> Iterator[tuple[bytes, Value]]:
            leaf = tree._edge_leaf(False)
            while True:
                yield from zip(leaf.keys, leaf.vals, strict=True)
                if not leaf.next:
                    return
                leaf = tree._node(leaf.next)
                if pool.used > pool.capacity:
                    pool.evict()  # everything is clean after the checkpoint

        try:
            built = bulk_load(new_pager, entries(),
                              lambda ref: old_pager.read_overflow(ref)[0])
            meta = Meta(page_size=self.page_size, root=built.root, height=built.height,
                        page_count=new_pager.page_count, wal_gen=self._wal.gen + 1,
                        freelist_head=0, free_count=0, leaf_pages=built.leaf_pages,
                        internal_pages=built.internal_pages,
                        overflow_pages=built.overflow_pages, keys=built.keys,
                        live_bytes=built.live_bytes, checkpoint_seq=self._seq + 1)
            new_pager.write(0, encode_meta(meta))
            new_pager.file.sync()
        finally:
            new_pager.close()
        if built.keys != self._keys or built.live_bytes != self._live_bytes:
            fs.remove(new_path)
            raise CorruptionError(f"rebuild found {built.keys} keys / {built.live_bytes} "
                                  f"bytes, expected {self._keys} / {self._live_bytes}",
                                  path=self._tree_path)
        # The switch: before the rename the old file and its (empty) WAL are the database,
        # after it the new file, whose meta page names the next WAL generation.
        fs.rename(new_path, self._tree_path)
        fs.sync_dir(self.path)
        old_pager.close()
        self._pager = Pager(fs, self._tree_path, self.page_size)
        self._pager.page_count = meta.page_count
        self._pager.bytes_written = old_pager.bytes_written + new_pager.bytes_written
        self._bytes_compacted += new_pager.bytes_written
        self._compactions += 1
        counters = (tree.splits, tree.merges, tree.redistributions, tree.accesses)
        misses, evictions = pool.misses, pool.evictions
        self._pool = BufferPool(pool.capacity, self.page_size, self._spill)
        self._pool.misses, self._pool.evictions = misses, evictions
        self._tree = BTree(self._pager, self._pool, meta.root, meta.height, meta.leaf_pages,
                           meta.internal_pages)
        t = self._tree
        t.splits, t.merges, t.redistributions, t.accesses = counters
        self._overflow_pages = meta.overflow_pages
        self._seq = meta.checkpoint_seq
        with self._sync_mutex:
            old = self._wal
            self._wal = WAL(fs, self.path, old.gen + 1, old.position)
            old.close()
            fs.remove(old.path)
            fs.sync_dir(self.path)

    def check(self) -> None:
        """Verify the tree's structure and counters (tests and diagnostics)."""
        with self._lock:
            keys = self._tree.check()
            if keys != self._keys:
                raise CorruptionError(f"tree holds {keys} keys, the engine counted "
                                      f"{self._keys}", path=self._tree_path)

    def stats(self) -> EngineStats:
        with self._lock:
            tree, pool, pager = self._tree, self._pool, self._pager
            disk = 0
            for p in (self._tree_path, self._wal.path, self._journal.path):
                if not self._closed and self.fs.exists(p):
                    disk += self.fs.file_size(p)
            accesses = max(tree.accesses, pool.misses)
            pool.hits = accesses - pool.misses
            commit = self._commit
            return EngineStats(
                engine=self.kind, keys=self._keys, live_bytes=self._live_bytes,
                disk_bytes=disk, user_bytes_written=self._user_bytes,
                disk_bytes_written=self._wal_bytes + self._journal_bytes + pager.bytes_written,
                gets=self._gets, puts=self._puts, deletes=self._deletes,
                read_units=self._read_units, fsyncs=commit.fsyncs, commits=commit.commits,
                compactions=self._compactions, bytes_compacted=self._bytes_compacted,
                extra={
                    "page_size": self.page_size,
                    "height": tree.height,
                    "pages": pager.page_count,
                    "leaf_pages": tree.leaf_pages,
                    "internal_pages": tree.internal_pages,
                    "overflow_pages": self._overflow_pages,
                    "free_pages": pager.free_count,
                    "page_splits": tree.splits,
                    "page_merges": tree.merges,
                    "page_redistributions": tree.redistributions,
                    "pool_capacity_pages": pool.capacity // self.page_size,
                    "pool_capacity_bytes": pool.capacity,
                    "pool_bytes_used": pool.used,
                    "pool_pages": len(pool.frames),
                    "pool_raw_leaves": sum(1 for f in pool.frames.values() if f.raw),
                    "pool_dirty_pages": len(pool.dirty),
                    "pool_hits": pool.hits,
                    "pool_misses": pool.misses,
                    "pool_evictions": pool.evictions,
                    "pool_hit_rate": round(pool.hit_rate(), 4),
                    "cache_hit_rate": round(pool.hit_rate(), 4),
                    "cache_hits": pool.hits,
                    "cache_misses": pool.misses,
                    "get_disk_bytes_read": self._get_pages_read * self.page_size,
                    "disk_bytes_read": pager.pages_read * self.page_size,
                    "disk_bytes_read_per_get": round(
                        self._get_pages_read * self.page_size / self._gets, 1)
                    if self._gets else 0.0,
                    "pages_per_get": round(self._read_units / self._gets, 3)
                    if self._gets else 0.0,
                    "overflow_pages_read": self._overflow_reads,
                    "checkpoints": self._checkpoints,
                    "pool_spills": pool.spills,
                    "spilled_pages": len(pager.spilled),
                    "spill_bytes_written": pager.spill_bytes_written,
                    "checkpoint_fsyncs": self._checkpoint_fsyncs,
                    "wal_bytes": self._wal.size,
                    "max_commits_per_fsync": commit.max_batch,
                    "max_key_size": self.max_key_size,
                    "inline_value_limit": self._inline_max - 6 - 1,
                },
            )

    def _close(self) -> None:
        with self._lock:
            try:
                if self._failure is None:
                    self._checkpoint()
            finally:
                self._release_files()


def _vlen(value: Value) -> int:
    return len(value) if type(value) is bytes else value.length  # type: ignore[union-attr]


__all__ = ["BTreeEngine", "Leaf", "max_key_for"]
