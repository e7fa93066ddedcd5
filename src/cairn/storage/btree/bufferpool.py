"""The buffer pool: a bounded set of pages with clock eviction and dirty tracking.

Like PostgreSQL's shared buffers, every tree page is used through the pool: a hit costs one
dict lookup, a miss reads and verifies the page. Eviction is the *clock* (second-chance)
algorithm: each access sets the frame's ``ref`` bit; the sweep walks the frames in ring order,
clearing set bits and evicting the first clean, unpinned frame whose bit is already clear. The
ring is the dict's insertion order (a survivor is moved to the back), and the sweep evicts a
batch at a time so its cost is amortised.

A frame is either a decoded node (:class:`~cairn.storage.btree.node.Leaf` or ``Internal``:
Python lists, what writes and scans use) or a :class:`~cairn.storage.btree.node.RawLeaf`, the
verified page bytes of a leaf that only point reads have touched (searched in place, never
decoded). The bound is **memory, not pages**: each frame is charged what it occupies
(:func:`~cairn.storage.btree.node.charge`), about the page size for a raw leaf and about twice
that for a decoded leaf of small entries, so ``pool_bytes`` is what the pool really holds.

Dirty pages never reach the data file outside a checkpoint: the engine's write-ahead log is
redo-only and logical, so ``tree.dat`` must keep the exact image of the last checkpoint
(no-steal towards the data file, like a redo-only ARIES variant). A dirty frame the clock
chooses is instead *spilled* (``spill``: its image goes to a scratch file, see
:mod:`cairn.storage.btree.pager`) and read back from there when needed; the next checkpoint
writes it. Without a ``spill`` callback dirty frames are never evicted, and when they alone
pass the eviction target (15/16 of the pool) the engine must checkpoint (``too_dirty``). The
pool can exceed its bound by at most the pages one write batch touches.
"""

from __future__ import annotations

from collections.abc import Callable

from cairn.storage.btree.node import Frame, charge


class BufferPool:
    def __init__(self, capacity: int, page_size: int,
                 spill: Callable[[Frame], None] | None = None):
        """``capacity`` in bytes; at least 8 pages. ``spill`` writes a dirty frame's image
        somewhere it can be read back from (so dirty frames can be evicted)."""
        if capacity < 8 * page_size:
            raise ValueError(f"buffer pool of {capacity} bytes is too small (minimum 8 pages "
                             f"of {page_size} bytes)")
        self.capacity = capacity
        self.page_size = page_size
        self.target = capacity - capacity // 16  # eviction sweeps go down to this
        self.frames: dict[int, Frame] = {}
        self.dirty: dict[int, Frame] = {}
        self.used = 0  # bytes charged for the frames held
        self.dirty_used = 0  # of which dirty frames
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.spill = spill
        self.spills = 0

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def full(self) -> bool:
        return self.used > self.capacity

    def add(self, node: Frame) -> None:
        old = self.frames.get(node.pid)
        if old is not None:  # a raw leaf replaced by its decoded form
            self.used -= old.charge
            if old.dirty:
                self.dirty_used -= old.charge
        node.charge = c = charge(node, self.page_size)
        self.frames[node.pid] = node
        self.used += c
        if node.dirty:
            self.dirty_used += c

    def mark_dirty(self, node: Frame) -> None:
        if not node.dirty:
            node.dirty = True
            self.dirty[node.pid] = node
            self.dirty_used += node.charge

    def discard(self, pid: int) -> None:
        """Forget a page (freed): it is neither cached nor written any more."""
        node = self.frames.pop(pid, None)
        self.dirty.pop(pid, None)
        if node is not None:
            self.used -= node.charge
            if node.dirty:
                self.dirty_used -= node.charge
            node.dirty = False

    def pin(self, node: Frame) -> None:
        node.pins += 1

    def unpin(self, node: Frame) -> None:
        if node.pins <= 0:
            raise RuntimeError(f"page {node.pid} unpinned more often than pinned")
        node.pins -= 1

    def cleaned(self) -> None:
        """A checkpoint wrote every dirty page: recharge them (they may have grown or shrunk
        since they were loaded) and mark them clean."""
        ps = self.page_size
        frames = self.frames
        for node in self.dirty.values():
            node.dirty = False
            if frames.get(node.pid) is node:
                c = charge(node, ps)
                self.used += c - node.charge
                node.charge = c
        self.dirty.clear()
        self.dirty_used = 0

    @property
    def dirty_limit(self) -> int:
        """More dirty bytes than this and a checkpoint is due (they cannot be evicted)."""
        return self.target

    @property
    def too_dirty(self) -> bool:
        return self.dirty_used > self.target

    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def evict(self) -> int:
        """Bring the pool under its capacity (with 1/16 slack, so sweeps are rare)."""
        frames = self.frames
        spill = self.spill
        # Without spilling only clean frames can go; when too few are clean the engine's next
        # write checkpoints (see too_dirty), so do not sweep for frames that are not there.
        need = self.used - self.target
        if spill is None:
            need = min(need, self.used - self.dirty_used)
        if need <= 0:
            return 0
        evicted = 0
        for _sweep in range(2):  # the second pass sees the bits the first one cleared
            for pid, node in list(frames.items()):
                if need <= 0:
                    break
                if node.pins or (node.dirty and spill is None):
                    continue
                del frames[pid]
                if node.ref:
                    node.ref = False
                    frames[pid] = node  # second chance: to the back of the ring
                    continue
                if node.dirty:
                    try:
                        spill(node)  # type: ignore[misc]
                    except BaseException:
                        frames[pid] = node
                        raise
                    node.dirty = False
                    del self.dirty[pid]
                    self.dirty_used -= node.charge
                    self.spills += 1
                need -= node.charge
                self.used -= node.charge
                evicted += 1
            if need <= 0:
                break
        self.evictions += evicted
        return evicted
