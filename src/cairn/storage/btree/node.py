"""Decoded B+tree nodes as they live in the buffer pool.

A node keeps its entries as plain Python lists (``keys`` sorted, ``vals``/``children``
parallel), so a search is one C-level ``bisect`` per level and an insert is one
``list.insert``; the page bytes are produced only when a dirty node is written at a checkpoint
(:mod:`cairn.storage.btree.page`). ``nbytes`` tracks the serialized size of the entries
incrementally, which is what decides splits (a node splits when its entries no longer fit the
page) and merges (a node under a quarter full is merged or rebalanced, as in a textbook B+tree).
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
    is_leaf: ClassVar[bool] = True

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
    is_leaf: ClassVar[bool] = False

    def recount(self) -> None:
        self.nbytes = sum(INTERNAL_ENTRY_OVERHEAD + len(k) for k in self.keys)


Node = Leaf | Internal


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
