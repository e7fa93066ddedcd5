"""Bottom-up bulk loading of a B+tree from sorted entries: how ``compact()`` rebuilds the tree.

Random inserts leave leaves about 69 % full (the classic result for B-trees under random
insertion), deletes leave them emptier, and freed pages stay in the file. ``compact()`` is
SQLite's ``VACUUM`` / PostgreSQL's ``REINDEX``: it streams the live entries in key order into
a new file, filling each leaf to ``fill`` of its page (the *fillfactor*, 90 % by default as in
PostgreSQL's B-tree, leaving room for a few updates before the first split), builds each
internal level from the one below, and copies overflow chains. The new file has no free
pages, and its leaves are in key order on disk, so a full scan reads the file sequentially.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from cairn.storage.btree.node import Value, leaf_entry_size, shortest_separator
from cairn.storage.btree.page import (
    INTERNAL_ENTRY_OVERHEAD,
    OverflowRef,
    encode_internal,
    encode_leaf,
    internal_capacity,
    leaf_capacity,
    overflow_capacity,
)
from cairn.storage.btree.pager import Pager

RUN_PAGES = 256  # pages buffered before a write


@dataclass
class Built:
    root: int
    height: int
    leaf_pages: int
    internal_pages: int
    overflow_pages: int
    keys: int
    live_bytes: int


@dataclass(frozen=True, slots=True)
class _Subtree:
    first: bytes
    last: bytes
    pid: int


class _RunWriter:
    """Buffers page images and writes runs of consecutive pages with one call each."""

    def __init__(self, pager: Pager):
        self.pager = pager
        self.pages: dict[int, bytes] = {}

    def put(self, pid: int, image: bytes) -> None:
        self.pages[pid] = image
        if len(self.pages) >= RUN_PAGES:
            self.flush()

    def flush(self) -> None:
        run: list[bytes] = []
        start = prev = -2
        for pid in sorted(self.pages):
            if pid != prev + 1 and run:
                self.pager.write_run(start, run)
                run = []
            if not run:
                start = pid
            run.append(self.pages[pid])
            prev = pid
        if run:
            self.pager.write_run(start, run)
        self.pages.clear()


def bulk_load(pager: Pager, entries: Iterable[tuple[bytes, Value]],
              read_overflow: Callable[[OverflowRef], bytes], fill: float = 0.9) -> Built:
    """Write a tree holding ``entries`` (sorted, unique keys) into the empty ``pager``."""
    ps = pager.page_size
    leaf_limit = max(leaf_capacity(ps) // 2, int(leaf_capacity(ps) * fill))
    internal_limit = max(internal_capacity(ps) // 2, int(internal_capacity(ps) * fill))
    writer = _RunWriter(pager)
    leaves: list[_Subtree] = []
    overflow_pages = keys_total = live = 0

    pid = pager.allocate()
    prev = 0
    keys: list[bytes] = []
    vals: list[Value] = []
    used = 0
    for key, value in entries:
        if type(value) is not bytes:
            data = read_overflow(value)  # type: ignore[arg-type]
            value = pager.write_overflow(data)
            overflow_pages += max(1, -(-len(data) // overflow_capacity(ps)))
            live += len(key) + len(data)
        else:
            live += len(key) + len(value)  # type: ignore[arg-type]
        keys_total += 1
        size = leaf_entry_size(key, value)
        if keys and used + size > leaf_limit:
            nxt = pager.allocate()
            writer.put(pid, encode_leaf(pid, prev, nxt, keys, vals, ps))
            leaves.append(_Subtree(keys[0], keys[-1], pid))
            prev, pid = pid, nxt
            keys, vals, used = [], [], 0
        keys.append(key)
        vals.append(value)
        used += size
    writer.put(pid, encode_leaf(pid, prev, 0, keys, vals, ps))
    leaves.append(_Subtree(keys[0] if keys else b"", keys[-1] if keys else b"", pid))

    level = leaves
    height = 1
    internal_pages = 0
    while len(level) > 1:
        seps = [b""] + [shortest_separator(x.last, y.first) for x, y in pairwise(level)]
        groups: list[tuple[int, int]] = []
        a = 0
        while a < len(level):
            b = a + 1
            used = 0
            while b < len(level) and used + INTERNAL_ENTRY_OVERHEAD + len(seps[b]) <= \
                    internal_limit:
                used += INTERNAL_ENTRY_OVERHEAD + len(seps[b])
                b += 1
            groups.append((a, b))
            a = b
        if len(groups) > 1 and groups[-1][1] - groups[-1][0] == 1:
            # A node needs two children: take one from its (full) left neighbour.
            (pa, pb), (_la, lb) = groups[-2], groups[-1]
            groups[-2:] = [(pa, pb - 1), (pb - 1, lb)]
        upper: list[_Subtree] = []
        for a, b in groups:
            node_pid = pager.allocate()
            writer.put(node_pid, encode_internal(node_pid, seps[a + 1:b],
                                                 [s.pid for s in level[a:b]], ps))
            upper.append(_Subtree(level[a].first, level[b - 1].last, node_pid))
            internal_pages += 1
        level = upper
        height += 1
    writer.flush()
    return Built(level[0].pid, height, len(leaves), internal_pages, overflow_pages,
                 keys_total, live)
