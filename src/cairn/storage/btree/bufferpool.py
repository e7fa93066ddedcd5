"""The buffer pool: a bounded set of decoded pages with clock eviction and dirty tracking.

Like PostgreSQL's shared buffers, every tree page is used through the pool: a hit costs one
dict lookup, a miss reads and verifies the page. Eviction is the *clock* (second-chance)
algorithm: each access sets the node's ``ref`` bit; the sweep walks the frames in ring order,
clearing set bits and evicting the first clean, unpinned frame whose bit is already clear. The
ring is the dict's insertion order (a survivor is moved to the back), and the sweep evicts a
batch at a time so its cost is amortised.

Dirty pages are never evicted: the engine's write-ahead log is redo-only and logical, so the
data file must keep the exact image of the last checkpoint (no-steal, like a redo-only
ARIES variant). When the dirty pages alone pass the eviction target (15/16 of the pool),
the engine runs a checkpoint, which cleans them all; the pool can therefore exceed its bound
by at most the pages one write batch dirties.
"""

from __future__ import annotations

from cairn.storage.btree.node import Node


class BufferPool:
    def __init__(self, capacity: int):
        if capacity < 8:
            raise ValueError(f"buffer pool of {capacity} pages is too small (minimum 8)")
        self.capacity = capacity
        self.target = capacity - capacity // 16  # eviction sweeps go down to this
        self.frames: dict[int, Node] = {}
        self.dirty: dict[int, Node] = {}
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, node: Node) -> None:
        self.frames[node.pid] = node

    def mark_dirty(self, node: Node) -> None:
        if not node.dirty:
            node.dirty = True
            self.dirty[node.pid] = node

    def discard(self, pid: int) -> None:
        """Forget a page (freed): it is neither cached nor written any more."""
        node = self.frames.pop(pid, None)
        self.dirty.pop(pid, None)
        if node is not None:
            node.dirty = False

    def pin(self, node: Node) -> None:
        node.pins += 1

    def unpin(self, node: Node) -> None:
        if node.pins <= 0:
            raise RuntimeError(f"page {node.pid} unpinned more often than pinned")
        node.pins -= 1

    def cleaned(self) -> None:
        """A checkpoint wrote every dirty page."""
        for node in self.dirty.values():
            node.dirty = False
        self.dirty.clear()

    @property
    def dirty_limit(self) -> int:
        """More dirty pages than this and a checkpoint is due (they cannot be evicted)."""
        return self.target

    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def evict(self) -> int:
        """Bring the pool under its capacity (with 1/16 slack, so sweeps are rare)."""
        frames = self.frames
        # Only clean pages can go; when too few are clean the engine's next write checkpoints
        # (see dirty_limit), so do not sweep for pages that are not there.
        need = min(len(frames) - self.target, len(frames) - len(self.dirty))
        if need <= 0:
            return 0
        evicted = 0
        for _sweep in range(2):  # the second pass sees the bits the first one cleared
            for pid, node in list(frames.items()):
                if need <= 0:
                    break
                if node.dirty or node.pins:
                    continue
                del frames[pid]
                if node.ref:
                    node.ref = False
                    frames[pid] = node  # second chance: to the back of the ring
                    continue
                need -= 1
                evicted += 1
            if need <= 0:
                break
        self.evictions += evicted
        return evicted
