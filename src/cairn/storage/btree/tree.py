"""The B+tree itself: search, insert with splits, delete with merges and redistribution.

All entries live in leaves; internal nodes hold separator keys (shortened, see
:func:`~cairn.storage.btree.node.shortest_separator`) and child page ids; leaves are linked
both ways (``prev``/``next``) so range scans walk the leaf level in either direction
(DDIA ch. 3, "B-Trees"; Lehman-Yao style sibling links without the concurrency protocol, since
the engine serialises writers).

* **Split**: a node whose entries no longer fit its page splits at the byte midpoint, and the
  separator goes up, possibly splitting the parent, up to a new root. When a leaf fills at the
  right edge of the tree (an ascending load) it splits *unevenly*, keeping the left leaf full,
  which is the rightmost-split heuristic of SQLite and PostgreSQL: sequential loads then fill
  pages to ~100 % instead of ~50 %.
* **Merge / redistribute**: a node under a quarter full after a delete is merged with a
  sibling if both fit one page; otherwise the two share their entries evenly. An internal root
  left with a single child is removed (the tree gets shorter).

The tree mutates nodes only through the buffer pool and marks them dirty; it never writes
pages itself (the engine's checkpoint does).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

from cairn.storage.btree.bufferpool import BufferPool
from cairn.storage.btree.node import (
    Internal,
    Leaf,
    Node,
    RawLeaf,
    Value,
    leaf_entry_size,
    shortest_separator,
)
from cairn.storage.btree.page import (
    INTERNAL_ENTRY_OVERHEAD,
    INTERNAL_PAGE,
    LEAF_PAGE,
    decode_internal,
    decode_leaf_sized,
    encode_internal,
    encode_leaf,
    internal_capacity,
    leaf_capacity,
    leaf_search,
)
from cairn.storage.btree.pager import Pager
from cairn.storage.errors import CorruptionError

Path = list[tuple[Internal, int]]
READ_AHEAD = 16  # pages a forward scan reads at once on a pool miss (64 KiB of 4 KiB pages)


@dataclass
class Chunk:
    """A piece of a range scan copied out of the leaves under the engine lock."""

    keys: list[bytes]
    vals: list[Value]
    exhausted: bool  # no entries of the range beyond this chunk
    leaves: int  # leaf pages touched


class BTree:
    def __init__(self, pager: Pager, pool: BufferPool, root: int, height: int,
                 leaf_pages: int, internal_pages: int):
        self.pager = pager
        self.pool = pool
        ps = pager.page_size
        self.page_size = ps
        self.leaf_cap = leaf_capacity(ps)
        self.internal_cap = internal_capacity(ps)
        self.leaf_min = self.leaf_cap // 4
        self.internal_min = self.internal_cap // 4
        self.root = root
        self.height = height
        self.leaf_pages = leaf_pages
        self.internal_pages = internal_pages
        self.splits = 0
        self.merges = 0
        self.redistributions = 0
        self.accesses = 0
        self._set_root(self._node(root))

    # -- page access -------------------------------------------------------------------------
    def _load(self, pid: int) -> Node:
        """A decoded node for page ``pid``: from a raw frame's bytes if the pool holds one
        (no read), else read from disk (a miss)."""
        offset = pid * self.page_size
        frame = self.pool.frames.get(pid)
        if frame is not None and frame.raw:
            ptype, data = LEAF_PAGE, frame.page  # type: ignore[union-attr]
        else:
            ptype, data = self.pager.read(pid)
            self.pool.misses += 1
        node: Node
        if ptype == LEAF_PAGE:
            prev, nxt, keys, vals, nbytes, novf = decode_leaf_sized(data, self.pager.path,
                                                                    offset)
            node = Leaf(pid, keys, vals, prev, nxt, nbytes, novf)
        elif ptype == INTERNAL_PAGE:
            keys, children = decode_internal(data, self.pager.path, offset)
            node = Internal(pid, keys, children)
            node.recount()
        else:
            raise CorruptionError(f"page {pid} is referenced by the tree but is of type "
                                  f"{ptype}", path=self.pager.path, offset=offset)
        self.pool.add(node)
        return node

    def _node(self, pid: int) -> Node:
        node = self.pool.frames.get(pid)
        if node is None or node.raw:
            node = self._load(pid)
        node.ref = True
        self.accesses += 1
        return node  # type: ignore[return-value]

    def _read_leaf(self, pid: int, key: bytes) -> Value | None:
        """A point read's pool miss on a leaf: read and verify the page, keep its bytes as a
        raw frame and search them in place (no decode)."""
        ptype, data = self.pager.read(pid)
        if ptype != LEAF_PAGE:
            raise CorruptionError(f"page {pid} should be a leaf but is of type {ptype}",
                                  path=self.pager.path, offset=pid * self.page_size)
        self.pool.misses += 1
        self.pool.add(RawLeaf(pid, data))
        return leaf_search(data, key, self.pager.path, pid * self.page_size)

    def _set_root(self, node: Node) -> None:
        old = self.pool.frames.get(self.root)
        if old is not None and old.pins:
            self.pool.unpin(old)
        self.root = node.pid
        self.pool.pin(node)  # the root is used by every operation: never evict it

    def _free(self, node: Node) -> None:
        self.pool.discard(node.pid)
        self.pager.release(node.pid)

    # -- search ------------------------------------------------------------------------------
    def get(self, key: bytes) -> Value | None:
        frames = self.pool.frames
        node = frames[self.root]
        self.accesses += self.height
        if not node.is_leaf:
            load = self._load
            for _ in range(self.height - 2):  # the internal levels below the root
                pid = node.children[bisect_right(node.keys, key)]
                node = frames.get(pid) or load(pid)
                node.ref = True
            pid = node.children[bisect_right(node.keys, key)]  # a leaf
            node = frames.get(pid)
            if node is None:
                return self._read_leaf(pid, key)
            node.ref = True
            if node.raw:
                return leaf_search(node.page, key, self.pager.path, pid * self.page_size)
        keys = node.keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return node.vals[i]
        return None

    def _descend(self, key: bytes, path: Path) -> Leaf:
        frames = self.pool.frames
        node = frames[self.root]
        load = self._load
        while not node.is_leaf:
            i = bisect_right(node.keys, key)
            path.append((node, i))
            pid = node.children[i]
            node = frames.get(pid) or load(pid)
            node.ref = True
        self.accesses += self.height
        if node.raw:
            node = load(node.pid)
        return node

    # -- insert ------------------------------------------------------------------------------
    def put(self, key: bytes, value: Value) -> Value | None:
        """Insert or replace; return the previous value (``None`` if the key was new)."""
        frames = self.pool.frames
        node = frames[self.root]
        load = self._load
        while not node.is_leaf:  # no path kept: only a split needs it, and then re-walks
            pid = node.children[bisect_right(node.keys, key)]
            node = frames.get(pid) or load(pid)
            node.ref = True
        self.accesses += self.height
        if node.raw:  # read so far only by gets: decode it from its bytes to change it
            node = load(node.pid)
        keys = node.keys
        vals = node.vals
        i = bisect_left(keys, key)
        if type(value) is bytes:
            size = 6 + len(key) + len(value)
        else:
            size = 14 + len(key)
            node.novf += 1
        if i < len(keys) and keys[i] == key:
            old = vals[i]
            vals[i] = value
            size -= leaf_entry_size(key, old)
            if type(old) is not bytes:
                node.novf -= 1
        else:
            old = None
            keys.insert(i, key)
            vals.insert(i, value)
        node.nbytes += size
        if not node.dirty:
            self.pool.mark_dirty(node)
        if node.nbytes > self.leaf_cap:
            path: Path = []
            self._descend(key, path)
            self._split_leaf(node, path, i)
        return old

    def _split_leaf(self, node: Leaf, path: Path, at: int) -> None:
        keys, vals = node.keys, node.vals
        n = len(keys)
        if node.next == 0 and at == n - 1:
            m = n - 1  # ascending load at the right edge: keep the left page full
        else:
            half = node.nbytes // 2
            acc = 0
            m = n - 1
            for j in range(n):
                acc += leaf_entry_size(keys[j], vals[j])
                if acc >= half:
                    m = j + 1
                    break
            m = min(max(m, 1), n - 1)
        right = Leaf(self.pager.allocate(), keys[m:], vals[m:], node.pid, node.next)
        del keys[m:]
        del vals[m:]
        right.recount()
        node.nbytes -= right.nbytes
        node.novf -= right.novf
        if node.next:
            nxt = self._node(node.next)
            nxt.prev = right.pid
            self.pool.mark_dirty(nxt)
        node.next = right.pid
        self.pool.add(right)
        self.pool.mark_dirty(right)
        self.leaf_pages += 1
        self.splits += 1
        self._insert_up(path, shortest_separator(keys[-1], right.keys[0]), right.pid)

    def _insert_up(self, path: Path, sep: bytes, right_pid: int) -> None:
        if not path:
            new_root = Internal(self.pager.allocate(), [sep], [self.root, right_pid])
            new_root.recount()
            self.pool.add(new_root)
            self.pool.mark_dirty(new_root)
            self._set_root(new_root)
            self.height += 1
            self.internal_pages += 1
            return
        parent, i = path.pop()
        parent.keys.insert(i, sep)
        parent.children.insert(i + 1, right_pid)
        parent.nbytes += INTERNAL_ENTRY_OVERHEAD + len(sep)
        self.pool.mark_dirty(parent)
        if parent.nbytes > self.internal_cap:
            at_edge = i == len(parent.keys) - 1 and all(
                j == len(p.children) - 1 for p, j in path)
            self._split_internal(parent, path, at_edge)

    def _split_internal(self, node: Internal, path: Path, at_edge: bool = False) -> None:
        keys, children = node.keys, node.children
        n = len(keys)
        if at_edge and n >= 3:
            m = n - 2
        else:
            half = node.nbytes // 2
            acc = 0
            m = n - 2
            for j in range(n):
                acc += INTERNAL_ENTRY_OVERHEAD + len(keys[j])
                if acc >= half:
                    m = j
                    break
            m = min(max(m, 1), n - 2)
        up = keys[m]
        right = Internal(self.pager.allocate(), keys[m + 1:], children[m + 1:])
        del keys[m:]
        del children[m + 1:]
        right.recount()
        node.recount()
        self.pool.add(right)
        self.pool.mark_dirty(right)
        self.pool.mark_dirty(node)
        self.internal_pages += 1
        self.splits += 1
        self._insert_up(path, up, right.pid)

    # -- delete ------------------------------------------------------------------------------
    def delete(self, key: bytes) -> Value | None:
        """Remove ``key``; return its value, or ``None`` if it was absent."""
        path: Path = []
        node = self._descend(key, path)
        keys = node.keys
        i = bisect_left(keys, key)
        if i >= len(keys) or keys[i] != key:
            return None
        del keys[i]
        old = node.vals.pop(i)
        node.nbytes -= leaf_entry_size(key, old)
        if type(old) is not bytes:
            node.novf -= 1
        self.pool.mark_dirty(node)
        if path and node.nbytes < self.leaf_min:
            self._rebalance(node, path)
        return old

    def _rebalance(self, node: Node, path: Path) -> None:
        """``node`` is under-full: merge it with a sibling or share entries with it."""
        parent, i = path[-1]
        above = path[:-1]
        if i > 0:
            li = i - 1
            left, right = self._node(parent.children[li]), node
        else:
            li = 0
            left, right = node, self._node(parent.children[1])
        pool = self.pool
        if isinstance(left, Leaf) and isinstance(right, Leaf):
            if left.nbytes + right.nbytes <= self.leaf_cap:
                left.keys.extend(right.keys)
                left.vals.extend(right.vals)
                left.nbytes += right.nbytes
                left.novf += right.novf
                left.next = right.next
                if right.next:
                    nxt = self._node(right.next)
                    nxt.prev = left.pid
                    pool.mark_dirty(nxt)
                pool.mark_dirty(left)
                self._free(right)
                self.leaf_pages -= 1
                self._remove_child(parent, li, above)
                return
            ks = left.keys + right.keys
            vs = left.vals + right.vals
            total = left.nbytes + right.nbytes
            acc = 0
            m = len(ks) - 1
            for j in range(len(ks)):
                acc += leaf_entry_size(ks[j], vs[j])
                if acc >= total // 2:
                    m = j + 1
                    break
            m = min(max(m, 1), len(ks) - 1)
            left.keys, left.vals = ks[:m], vs[:m]
            right.keys, right.vals = ks[m:], vs[m:]
            left.recount()
            right.recount()
            sep = shortest_separator(left.keys[-1], right.keys[0])
        elif isinstance(left, Internal) and isinstance(right, Internal):
            old_sep = parent.keys[li]
            if (left.nbytes + right.nbytes + INTERNAL_ENTRY_OVERHEAD + len(old_sep)
                    <= self.internal_cap):
                left.keys.append(old_sep)
                left.keys.extend(right.keys)
                left.children.extend(right.children)
                left.recount()
                pool.mark_dirty(left)
                self._free(right)
                self.internal_pages -= 1
                self._remove_child(parent, li, above)
                return
            ks = [*left.keys, old_sep, *right.keys]
            cs = left.children + right.children
            total = sum(INTERNAL_ENTRY_OVERHEAD + len(k) for k in ks)
            acc = 0
            m = len(ks) - 2
            for j in range(len(ks)):
                acc += INTERNAL_ENTRY_OVERHEAD + len(ks[j])
                if acc >= total // 2:
                    m = j
                    break
            m = min(max(m, 1), len(ks) - 2)
            left.keys, left.children = ks[:m], cs[:m + 1]
            right.keys, right.children = ks[m + 1:], cs[m + 1:]
            left.recount()
            right.recount()
            sep = ks[m]
        else:
            raise CorruptionError(f"siblings {left.pid} and {right.pid} are at different "
                                  "levels", path=self.pager.path)
        # Redistributed: the separator between the two changed.
        parent.nbytes += len(sep) - len(parent.keys[li])
        parent.keys[li] = sep
        pool.mark_dirty(left)
        pool.mark_dirty(right)
        pool.mark_dirty(parent)
        self.redistributions += 1
        if parent.nbytes > self.internal_cap:
            self._split_internal(parent, above)

    def _remove_child(self, parent: Internal, li: int, above: Path) -> None:
        """Children ``li`` and ``li + 1`` of ``parent`` were merged into ``li``."""
        sep = parent.keys.pop(li)
        del parent.children[li + 1]
        parent.nbytes -= INTERNAL_ENTRY_OVERHEAD + len(sep)
        self.pool.mark_dirty(parent)
        self.merges += 1
        if not above:  # parent is the root
            if not parent.keys:
                child = self._node(parent.children[0])
                self._free(parent)
                self.internal_pages -= 1
                self.root = 0
                self._set_root(child)
                self.height -= 1
            return
        if parent.nbytes < self.internal_min:
            self._rebalance(parent, above)

    # -- range scans -------------------------------------------------------------------------
    def _edge_leaf(self, rightmost: bool) -> Leaf:
        node = self.pool.frames[self.root]
        while not node.is_leaf:
            node = self._node(node.children[-1 if rightmost else 0])
        return node

    def _leaf_for(self, key: bytes) -> Leaf:
        node = self.pool.frames[self.root]
        while not node.is_leaf:
            node = self._node(node.children[bisect_right(node.keys, key)])
        return node

    def _next_leaf(self, pid: int, ahead: dict[int, bytes]) -> Leaf:
        """The next leaf of a forward scan. On a pool miss, read ahead: the following
        ``READ_AHEAD`` pages come in one ``pread`` (a tree built in key order, by a load or by
        ``compact()``, keeps its leaves in consecutive pages, so the next misses are served
        from these bytes). A page absent from the pool is clean, so its disk image is current
        (no-steal); ``ahead`` lives for one chunk, under the engine lock."""
        frame = self.pool.frames.get(pid)
        if frame is not None and not frame.raw:
            frame.ref = True
            self.accesses += 1
            return frame  # type: ignore[return-value]
        if frame is None:
            data = ahead.pop(pid, None)
            if data is None:
                ahead.clear()
                ahead.update(self.pager.read_ahead(pid, READ_AHEAD))
                data = ahead.pop(pid, None)
            if data is not None:
                self.pool.misses += 1
                self.pool.add(RawLeaf(pid, data))  # _node decodes it without a read
        return self._node(pid)  # type: ignore[return-value]

    def chunk_forward(self, after: bytes | None, start: bytes | None, end: bytes | None,
                      limit: int) -> Chunk:
        """Entries with key > ``after`` (or >= ``start`` when ``after`` is None) and < ``end``,
        at least ``limit`` of them unless the range ends first (whole leaves are taken)."""
        if after is not None:
            leaf = self._leaf_for(after)
            i = bisect_right(leaf.keys, after)
        elif start is not None:
            leaf = self._leaf_for(start)
            i = bisect_left(leaf.keys, start)
        else:
            leaf = self._edge_leaf(False)
            i = 0
        ks: list[bytes] = []
        vs: list[Value] = []
        leaves = 1
        ahead: dict[int, bytes] = {}  # read-ahead pages, valid during this call only
        while True:
            lk = leaf.keys
            if end is not None and lk and lk[-1] >= end:
                j = bisect_left(lk, end, i)
                ks += lk[i:j]
                vs += leaf.vals[i:j]
                return Chunk(ks, vs, True, leaves)
            if i:
                ks += lk[i:]
                vs += leaf.vals[i:]
            else:
                ks += lk
                vs += leaf.vals
            if not leaf.next:
                return Chunk(ks, vs, True, leaves)
            if len(ks) >= limit:
                return Chunk(ks, vs, False, leaves)
            leaf = self._next_leaf(leaf.next, ahead)
            leaves += 1
            i = 0

    def chunk_backward(self, after: bytes | None, start: bytes | None, end: bytes | None,
                       limit: int) -> Chunk:
        """Like :meth:`chunk_forward` in descending order: keys < ``after`` (or < ``end``)
        and >= ``start``; the chunk's lists are in descending key order."""
        bound = after if after is not None else end
        if bound is not None:
            leaf = self._leaf_for(bound)
            i = bisect_left(leaf.keys, bound)
        else:
            leaf = self._edge_leaf(True)
            i = len(leaf.keys)
        ks: list[bytes] = []
        vs: list[Value] = []
        leaves = 1
        while True:
            lk = leaf.keys
            if start is not None and lk and lk[0] < start:
                j = bisect_left(lk, start, 0, i)
                ks += lk[j:i][::-1]
                vs += leaf.vals[j:i][::-1]
                return Chunk(ks, vs, True, leaves)
            ks += lk[:i][::-1]
            vs += leaf.vals[:i][::-1]
            if not leaf.prev:
                return Chunk(ks, vs, True, leaves)
            if len(ks) >= limit:
                return Chunk(ks, vs, False, leaves)
            leaf = self._node(leaf.prev)
            leaves += 1
            i = len(leaf.keys)

    # -- checkpoint support ------------------------------------------------------------------
    def image(self, node: Node) -> bytes:
        """The page bytes of a decoded node."""
        if isinstance(node, Leaf):
            return encode_leaf(node.pid, node.prev, node.next, node.keys, node.vals,
                               self.page_size)
        return encode_internal(node.pid, node.keys, node.children, self.page_size)

    def dirty_images(self) -> list[tuple[int, bytes]]:
        return [(pid, self.image(node))  # type: ignore[arg-type]
                for pid, node in sorted(self.pool.dirty.items())]

    def leaves(self) -> list[Leaf]:
        """Every leaf, left to right (verification and statistics; loads every leaf)."""
        out = []
        leaf = self._edge_leaf(False)
        while True:
            out.append(leaf)
            if not leaf.next:
                return out
            leaf = self._node(leaf.next)

    def check(self) -> int:
        """Verify the tree's invariants (tests, diagnostics); return the key count.

        Sorted keys, separators bounding their subtrees, equal leaf depth, nodes within their
        page, ``nbytes`` bookkeeping, and sibling links that match the in-order leaf list.
        Raises :class:`CorruptionError` naming the first broken page."""
        leaves: list[Leaf] = []
        path = self.pager.path

        def expect(ok: bool, pid: int, what: str) -> None:
            if not ok:
                raise CorruptionError(f"page {pid}: {what}", path=path,
                                      offset=pid * self.page_size)

        def walk(pid: int, lo: bytes | None, hi: bytes | None, depth: int) -> None:
            node = self._node(pid)
            keys = node.keys
            expect(all(a < b for a, b in pairwise(keys)), pid, "keys out of order")
            if keys:
                expect(lo is None or keys[0] >= lo, pid, "key below its separator")
                expect(hi is None or keys[-1] < hi, pid, "key above its separator")
            saved = node.nbytes
            node.recount()
            expect(saved == node.nbytes, pid, f"nbytes {saved} != {node.nbytes}")
            if isinstance(node, Leaf):
                expect(depth == self.height, pid, f"leaf at depth {depth} of {self.height}")
                expect(node.nbytes <= self.leaf_cap, pid, "leaf overfull")
                leaves.append(node)
                return
            expect(depth < self.height, pid, "internal page at leaf depth")
            expect(node.nbytes <= self.internal_cap, pid, "internal page overfull")
            expect(len(node.children) == len(keys) + 1, pid, "children != keys + 1")
            bounds = [lo, *keys, hi]
            for j, child in enumerate(node.children):
                walk(child, bounds[j], bounds[j + 1], depth + 1)

        walk(self.root, None, None, 1)
        for a, b in pairwise(leaves):
            expect(a.next == b.pid and b.prev == a.pid, a.pid, f"broken link to {b.pid}")
        expect(leaves[0].prev == 0, leaves[0].pid, "first leaf has a prev link")
        expect(leaves[-1].next == 0, leaves[-1].pid, "last leaf has a next link")
        expect(len(leaves) == self.leaf_pages, 0, f"{len(leaves)} leaves, counted "
               f"{self.leaf_pages}")
        return sum(len(leaf.keys) for leaf in leaves)
