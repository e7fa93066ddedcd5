"""B+tree nodes as they live in the buffer pool: decoded nodes and raw leaves.

A decoded node keeps its entries as plain Python lists (``keys`` sorted, ``vals``/``children``
parallel), so a search is one C-level ``bisect`` per level and an insert is one
``list.insert``; the page bytes are produced only when a dirty node is written at a checkpoint
(:mod:`cairn.storage.btree.page`). ``nbytes`` tracks the serialized size of the entries
incrementally, which is what decides splits (a node splits when its entries no longer fit the
page) and merges (a node under a quarter full is merged or rebalanced, as in a textbook B+tree).

A :class:`RawLeaf` is a leaf page that only point reads have needed: its verified bytes, searched
in place (:func:`cairn.storage.btree.page.leaf_search`), so a pool miss on a read costs one
``pread``, one checksum and a scan of the page in C instead of building ~30 Python objects.
A writer or a scan that needs the leaf decodes it from those bytes (no second read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cairn.storage.btree.page import (
    INTERNAL_ENTRY_OVERHEAD,
    LEAF_ENTRY_OVERHEAD,
    OverflowRef,
)

Value = bytes | OverflowRef


def leaf_entry_size(key: bytes, value: Value) -> int:
    if type(value) is bytes:
        return LEAF_ENTRY_OVERHEAD + len(key) + len(value)
    return LEAF_ENTRY_OVERHEAD + len(key) + 8


@dataclass(slots=True, eq=False)
class Leaf:
    pid: int
    keys: list[bytes] = field(default_factory=list)
    vals: list[Value] = field(default_factory=list)
    prev: int = 0
    next: int = 0
    nbytes: int = 0  # serialized size of the entries (header excluded)
    novf: int = 0  # entries whose value lives in an overflow chain
    dirty: bool = False
    ref: bool = True  # clock "recently used" bit
    pins: int = 0
    charge: int = 0  # bytes the buffer pool counts for this frame
    is_leaf: ClassVar[bool] = True
    raw: ClassVar[bool] = False

    def recount(self) -> None:
        self.nbytes = sum(leaf_entry_size(k, v) for k, v in zip(self.keys, self.vals,
                                                                strict=True))
        self.novf = sum(1 for v in self.vals if type(v) is not bytes)


@dataclass(slots=True, eq=False)
class Internal:
    pid: int
    keys: list[bytes] = field(default_factory=list)
    children: list[int] = field(default_factory=list)  # len(keys) + 1 page ids
    nbytes: int = 0
    dirty: bool = False
    ref: bool = True
    pins: int = 0
    charge: int = 0
    is_leaf: ClassVar[bool] = False
    raw: ClassVar[bool] = False

    def recount(self) -> None:
        self.nbytes = sum(INTERNAL_ENTRY_OVERHEAD + len(k) for k in self.keys)


@dataclass(slots=True, eq=False)
class RawLeaf:
    """A clean leaf held as its verified page bytes (never dirty: a write decodes it)."""

    pid: int
    page: bytes
    ref: bool = True
    pins: int = 0
    charge: int = 0
    dirty: bool = False
    is_leaf: ClassVar[bool] = True
    raw: ClassVar[bool] = True


Node = Leaf | Internal
Frame = Leaf | Internal | RawLeaf

# What a frame costs in memory beyond its entries' bytes, measured with tracemalloc on CPython
# 3.12: a bytes object's header is 33 bytes (rounded up by the allocator), a list slot 8, an int
# child pointer 28 + 8; the node object and its lists about 250. A raw leaf is one bytes object.
ENTRY_OVERHEAD_LEAF = 2 * 40 + 2 * 8
ENTRY_OVERHEAD_INTERNAL = 40 + 8 + 36
NODE_OVERHEAD = 250
RAW_OVERHEAD = 100


def charge(frame: Frame, page_size: int) -> int:
    """Bytes of memory a frame occupies (what the pool's bound counts)."""
    if frame.raw:
        return page_size + RAW_OVERHEAD
    if frame.is_leaf:
        return frame.nbytes + ENTRY_OVERHEAD_LEAF * len(frame.keys) + NODE_OVERHEAD  # type: ignore[union-attr]
    return frame.nbytes + ENTRY_OVERHEAD_INTERNAL * len(frame.keys) + NODE_OVERHEAD  # type: ignore[union-attr]


def shortest_separator(left: bytes, right: bytes) -> bytes:
    """The shortest prefix of ``right`` that is still greater than ``left`` (``left < right``).

    Internal nodes only need *a* key between the two halves, so storing a short one packs more
    children per page: suffix truncation, as in PostgreSQL 12's nbtree and LevelDB's index
    blocks."""
    n = min(len(left), len(right))
    i = 0
    while i < n and left[i] == right[i]:
        i += 1
    return right[:i + 1]
