"""Merging iterators: one ordered view over the memtables and SSTables (DDIA ch. 3: reading an
LSM-tree merges its sorted runs "similar to the merge step of mergesort").

Each source is a sorted stream of ``(key, value)`` entries, ``value None`` being a tombstone.
Sources are given newest first; when several hold the same key the newest wins, and a winning
tombstone hides the key. A level of non-overlapping tables is *one* source (its tables are
concatenated lazily), so a scan merges (memtables + L0 files + one stream per level), not every
table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

Entry = tuple[bytes, bytes | None]


def concat(parts: Iterable[Iterable[Entry]]) -> Iterator[Entry]:
    for part in parts:
        yield from part


def _tag(src: Iterable[Entry], rank: int) -> Iterator[tuple[bytes, int, bytes | None]]:
    for k, v in src:
        yield k, rank, v


def merge_entries(sources: list[Iterable[Entry]], reverse: bool = False) -> Iterator[Entry]:
    """Merge ``sources`` (newest first); yield the newest entry per key, tombstones included
    (compaction needs them; :func:`live` removes them for readers)."""
    if not sources:
        return
    if len(sources) == 1:
        yield from sources[0]
        return
    # The rank breaks ties between equal keys: newest first in both directions.
    tagged = [_tag(src, -rank if reverse else rank) for rank, src in enumerate(sources)]
    last: bytes | None = None
    for k, _rank, v in heapq.merge(*tagged, reverse=reverse):
        if k == last:
            continue
        last = k
        yield k, v


def live(entries: Iterable[Entry]) -> Iterator[tuple[bytes, bytes]]:
    """Drop tombstones: what a reader sees."""
    for k, v in entries:
        if v is not None:
            yield k, v
