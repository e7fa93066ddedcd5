"""The pager: page-granular I/O on ``tree.dat``, page allocation and overflow chains.

Pages are read with one positional read and verified (checksum, own page id) before anything
trusts them; a failure raises :class:`CorruptionError` naming the file and the page's offset.

Allocation follows one rule that makes crash recovery simple: **a page that the last
checkpoint's tree can reach is never overwritten outside a checkpoint.** So a page freed since
the last checkpoint waits in ``pending`` and becomes reusable only when the next checkpoint has
made a tree that no longer reaches it durable; a page allocated since the last checkpoint
(``fresh``) is unreachable from the durable tree and can be reused at once. Overflow chains are
written straight to their (free or new) pages, bypassing the buffer pool: a 16 MiB value would
otherwise flush everything else out of it, and the redo log holds the value anyway, so recovery
rewrites any chain whose pages a crash lost.

At a checkpoint the free pages are stored in freelist trunk pages, which are themselves free
pages (SQLite's freelist); the trunks are held back until the next checkpoint for the rule
above.

**Spilling.** The buffer pool may evict a dirty page: its image goes to ``tree.spill``, never to
``tree.dat`` (which must stay the last checkpoint's image for the logical redo log), and a later
read of that page comes from the spill file. The next checkpoint writes spilled images and
dirty frames alike and empties the spill file. Nothing in it is needed for recovery (the WAL
replays every change since the checkpoint), so it is never fsynced and is discarded at open.
This is SQLite's cache spill (dirty pages written to the WAL mid-transaction) without making
the spilled pages durable: it lets a tree larger than the pool take random writes without a
checkpoint every time the pool fills with dirty pages.
"""

from __future__ import annotations

import heapq
import os

from cairn.storage.btree.page import (
    FREELIST_PAGE,
    LEAF_PAGE,
    OVERFLOW_PAGE,
    OverflowRef,
    decode_freelist,
    decode_overflow,
    encode_freelist,
    encode_overflow,
    freelist_capacity,
    overflow_capacity,
    verify,
)
from cairn.storage.errors import CorruptionError
from cairn.storage.fileio import File, FileSystem


class Pager:
    def __init__(self, fs: FileSystem, path: str, page_size: int):
        self.fs = fs
        self.path = path
        self.page_size = page_size
        self.file: File = fs.open(path)
        self.page_count = 0  # pages in use or free, meta included (the file may be longer)
        self.free: list[int] = []  # heap: reusable now (lowest first keeps the file compact)
        self.pending: set[int] = set()  # freed since the last checkpoint
        self.fresh: set[int] = set()  # allocated since the last checkpoint
        self.pages_read = 0
        self.bytes_written = 0
        # On the real file system a page read is one os.pread (tree.dat takes no buffered
        # appends, so there is nothing to flush first); a fault-injecting file system sees every
        # read through File.read_at.
        self._direct = type(fs) is FileSystem
        self.spill_path = path.removesuffix(".dat") + ".spill"
        self.spill_file: File | None = None
        self.spilled: dict[int, int] = {}  # page id -> offset of its image in tree.spill
        self.spill_end = 0
        self.spill_bytes_written = 0

    # -- raw pages ---------------------------------------------------------------------------
    def read(self, pid: int, expect: int | None = None) -> tuple[int, bytes]:
        """Read and verify page ``pid`` (its spilled image if it has one); return
        ``(type, bytes)``."""
        if pid <= 0 or pid >= self.page_count:
            raise CorruptionError(f"reference to page {pid} outside the file "
                                  f"({self.page_count} pages)", path=self.path)
        spilled = self.spilled.get(pid)
        if spilled is not None:
            data = self.spill_file.read_at(spilled, self.page_size)  # type: ignore[union-attr]
            self.pages_read += 1
            ptype = verify(data, pid, self.page_size, self.spill_path, spilled)
            if expect is not None and ptype != expect:
                raise CorruptionError(f"page {pid} has type {ptype}, expected {expect}",
                                      path=self.spill_path, offset=spilled)
            return ptype, data
        offset = pid * self.page_size
        if self._direct:
            data = os.pread(self.file.fd, self.page_size, offset)
            if len(data) != self.page_size:  # a short read: let the general path retry it
                data = self.file.read_at(offset, self.page_size)
        else:
            data = self.file.read_at(offset, self.page_size)
        self.pages_read += 1
        ptype = verify(data, pid, self.page_size, self.path, offset)
        if expect is not None and ptype != expect:
            raise CorruptionError(f"page {pid} has type {ptype}, expected {expect}",
                                  path=self.path, offset=offset)
        return ptype, data

    def read_ahead(self, pid: int, n: int) -> dict[int, bytes]:
        """Pages ``pid .. pid + n - 1`` that verify as leaves, read with one ``pread``
        (sequential read-ahead for scans). A page that fails verification is left out, not
        reported: it may be free, or not yet written; the ordinary read of a page the tree
        really reaches reports any corruption."""
        n = min(n, self.page_count - pid)
        if pid <= 0 or n <= 0:
            return {}
        ps = self.page_size
        blob = self.file.read_at(pid * ps, n * ps)
        out: dict[int, bytes] = {}
        spilled = self.spilled
        for j in range(len(blob) // ps):
            if pid + j in spilled:  # tree.dat holds an older image of this page
                continue
            page = blob[j * ps:(j + 1) * ps]
            try:
                if verify(page, pid + j, ps, self.path, (pid + j) * ps) == LEAF_PAGE:
                    out[pid + j] = page
            except CorruptionError:
                continue
        self.pages_read += len(blob) // ps
        return out

    # -- spilling (see the module docstring) ---------------------------------------------------
    def spill(self, pid: int, image: bytes) -> None:
        """Store the image of a dirty page the pool evicts (one slot per page, reused)."""
        if self.spill_file is None:
            self.spill_file = self.fs.open(self.spill_path, truncate=True)
        offset = self.spilled.get(pid)
        if offset is None:
            offset = self.spill_end
            self.spill_end += self.page_size
            self.spilled[pid] = offset
        self.spill_file.write_at(offset, image)
        self.spill_bytes_written += len(image)
        self.bytes_written += len(image)

    @property
    def spill_bytes(self) -> int:
        return self.spill_end

    def spilled_images(self) -> dict[int, bytes]:
        """Every spilled page's image (for the checkpoint)."""
        f = self.spill_file
        if f is None or not self.spilled:
            return {}
        return {pid: f.read_at(off, self.page_size) for pid, off in self.spilled.items()}

    def spill_reset(self) -> None:
        """A checkpoint wrote every spilled image to tree.dat: empty the spill file."""
        self.spilled.clear()
        self.spill_end = 0
        if self.spill_file is not None:
            self.spill_file.truncate(0)

    def write(self, pid: int, data: bytes) -> None:
        self.file.write_at(pid * self.page_size, data)
        self.bytes_written += len(data)

    def write_run(self, first: int, pages: list[bytes]) -> None:
        """Write consecutive pages with one call."""
        data = b"".join(pages)
        self.file.write_at(first * self.page_size, data)
        self.bytes_written += len(data)

    # -- allocation --------------------------------------------------------------------------
    def allocate(self) -> int:
        if self.free:
            pid = heapq.heappop(self.free)
        else:
            pid = self.page_count
            self.page_count += 1
        self.fresh.add(pid)
        return pid

    def release(self, pid: int) -> None:
        """Free a page (see the module docstring for when it becomes reusable)."""
        self.spilled.pop(pid, None)  # its image must not be written at the next checkpoint
        if pid in self.fresh:
            self.fresh.discard(pid)
            heapq.heappush(self.free, pid)
        else:
            self.pending.add(pid)

    @property
    def free_count(self) -> int:
        return len(self.free) + len(self.pending)

    # -- overflow chains ---------------------------------------------------------------------
    def write_overflow(self, value: bytes) -> OverflowRef:
        """Store ``value`` in a chain of overflow pages; return the reference for the leaf."""
        cap = overflow_capacity(self.page_size)
        n = max(1, -(-len(value) // cap))
        pids = [self.allocate() for _ in range(n)]
        try:
            run_start = 0
            images: list[bytes] = []
            for i, pid in enumerate(pids):
                nxt = pids[i + 1] if i + 1 < n else 0
                images.append(encode_overflow(pid, nxt, value[i * cap:(i + 1) * cap],
                                              self.page_size))
                if nxt != pid + 1:  # end of a run of consecutive pages: one write for it
                    self.write_run(pids[run_start], images)
                    images = []
                    run_start = i + 1
        except BaseException:
            for pid in pids:
                self.release(pid)
            raise
        return OverflowRef(pids[0], len(value))

    def read_overflow(self, ref: OverflowRef) -> tuple[bytes, int]:
        """The value of a chain and the number of pages read."""
        cap = overflow_capacity(self.page_size)
        n = max(1, -(-ref.length // cap))
        parts: list[bytes] = []
        pid = ref.first
        ps = self.page_size
        got = 0
        while pid and len(parts) < n:
            # Chains are usually consecutive pages: read the rest of it in one call and fall
            # back to page-at-a-time where the chain jumps.
            want = min(n - len(parts), max(0, self.page_count - pid))
            if want <= 0:
                raise CorruptionError(f"overflow chain points at page {pid} outside the file",
                                      path=self.path, offset=pid * ps)
            blob = self.file.read_at(pid * ps, want * ps)
            self.pages_read += want
            for j in range(want):
                page = blob[j * ps:(j + 1) * ps]
                offset = (pid) * ps
                if verify(page, pid, ps, self.path, offset) != OVERFLOW_PAGE:
                    raise CorruptionError(f"page {pid} in an overflow chain is not an "
                                          "overflow page", path=self.path, offset=offset)
                nxt, data = decode_overflow(page, self.path, offset)
                parts.append(data)
                got += len(data)
                if nxt != pid + 1:
                    pid = nxt
                    break
                pid = nxt
            if len(parts) >= n:
                break
        value = b"".join(parts)
        if len(value) != ref.length or len(parts) != n:
            raise CorruptionError(f"overflow chain at page {ref.first} holds {len(value)} "
                                  f"bytes, the leaf says {ref.length}", path=self.path,
                                  offset=ref.first * ps)
        return value, len(parts)

    def chain_pages(self, ref: OverflowRef) -> list[int]:
        """The page ids of a chain (to free it)."""
        cap = overflow_capacity(self.page_size)
        n = max(1, -(-ref.length // cap))
        pids: list[int] = []
        pid = ref.first
        while pid and len(pids) < n:
            _t, page = self.read(pid, OVERFLOW_PAGE)
            pids.append(pid)
            pid = decode_overflow(page, self.path, pid * self.page_size)[0]
        if len(pids) != n:
            raise CorruptionError(f"overflow chain at page {ref.first} is cut short",
                                  path=self.path, offset=ref.first * self.page_size)
        return pids

    # -- the freelist at checkpoints ---------------------------------------------------------
    def freelist_images(self) -> tuple[int, int, list[tuple[int, bytes]]]:
        """Trunk pages listing every free page: ``(head, free_count, [(pid, image)])``.

        Called by a checkpoint; afterwards the trunks wait in ``pending`` (the durable tree's
        freelist reaches them) and every other free page is reusable."""
        all_free = sorted(set(self.free) | self.pending)
        per = freelist_capacity(self.page_size)
        trunks: list[int] = []
        rest = all_free
        while rest:
            # Each trunk is a free page too; take them from the end so low pages stay listed.
            trunks.append(rest[-1])
            rest = rest[:-1]
            if len(trunks) * per >= len(rest):
                break
        images: list[tuple[int, bytes]] = []
        head = 0
        for i, trunk in enumerate(trunks):
            ids = rest[i * per:(i + 1) * per]
            nxt = trunks[i + 1] if i + 1 < len(trunks) else 0
            images.append((trunk, encode_freelist(trunk, nxt, ids, self.page_size)))
        if trunks:
            head = trunks[0]
        self.free = list(rest)
        heapq.heapify(self.free)
        self.pending = set(trunks)
        self.fresh = set()
        return head, len(all_free), images

    def load_freelist(self, head: int, expected: int) -> None:
        free: list[int] = []
        trunks: list[int] = []
        pid = head
        while pid:
            if len(trunks) > self.page_count:
                raise CorruptionError("freelist loops", path=self.path, offset=pid)
            _t, page = self.read(pid, FREELIST_PAGE)
            trunks.append(pid)
            pid, ids = decode_freelist(page)
            free.extend(ids)
        if len(free) + len(trunks) != expected:
            raise CorruptionError(f"freelist holds {len(free) + len(trunks)} pages, the meta "
                                  f"page says {expected}", path=self.path, offset=0)
        heapq.heapify(free)
        self.free = free
        self.pending = set(trunks)
        self.fresh = set()

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            if self.spill_file is not None:
                self.spill_file.close()
                self.spill_file = None
