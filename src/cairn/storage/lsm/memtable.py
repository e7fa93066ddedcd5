"""The memtable: the in-memory write buffer of an LSM-tree (DDIA ch. 3, "Constructing and
maintaining SSTables").

Writes land in a plain ``dict``; keys are put in order only when something needs order (a
scan, or the flush to an SSTable). A balanced tree or skip list keeps keys sorted on *every*
insert, which in Python costs a pure-Python O(log n) walk per write; a dict insert is one C
call. ``cairn bench memtable`` measures the difference (about an order of magnitude). A
deleted key maps to ``None`` (a tombstone), because the delete must shadow older values in
the SSTables below.

Order is kept incrementally: a sorted ``base`` list plus a small sorted ``recent`` list of the
keys added since. A dict never forgets insertion order and a memtable never removes a key, so
the keys added since the last look are the last ``len(data) - seen`` of the dict, found with
``reversed(data)`` in O(new keys); they are merged into ``recent``, and ``recent`` is folded
into ``base`` when it grows past a fraction of it. Published lists are never modified (a fold
makes new ones), so a scan can hold them without a copy.

A range scan is lazy (:class:`RangeSnapshot`): creating one costs two binary searches, not a
copy of the range, yet it still sees the memtable as it was when created. While a scan of a
memtable that still takes writes is open, the dict's class is switched to one whose
``__setitem__`` first hands the value being overwritten to the open scans; with no scan open it
is a plain dict subclass and writes run at C speed.
"""

from __future__ import annotations

import heapq
import threading
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

# Bytes charged per entry on top of key and value: keeps a memtable of tiny values from
# growing without bound in entry count (RocksDB's arena charges a similar per-entry overhead).
ENTRY_OVERHEAD = 16
# ``recent`` is folded into ``base`` past max(RECENT_MIN, min(base/8, RECENT_MAX)) keys: a fold
# costs O(base) and a scan after new writes O(recent), so both stay small per write.
RECENT_MIN, RECENT_MAX = 1024, 16 * 1024

Entry = tuple[bytes, bytes | None]
_ABSENT = object()


class _Entries(dict[bytes, bytes | None]):
    """The memtable's dict; ``scans`` are weak references to the open
    :class:`RangeSnapshot` of a mutable one."""

    __slots__ = ("scans",)


class _WatchedEntries(_Entries):
    """The same dict while scans are open: an overwrite first saves the old value for them
    (saved before the store, so a scan that reads the dict after the store finds it)."""

    __slots__ = ()

    def __setitem__(self, key: bytes, value: bytes | None) -> None:
        old = dict.get(self, key, _ABSENT)
        if old is not _ABSENT:
            for ref in self.scans:
                scan = ref()
                if scan is not None:
                    scan._preserve(key, old)  # type: ignore[arg-type]
        dict.__setitem__(self, key, value)


def _new_entries() -> _Entries:
    d = _Entries()
    d.scans = ()
    return d


@dataclass(eq=False)
class MemTable:
    """A mutable write buffer; frozen (never written again) once it becomes immutable.

    ``wal_numbers`` are the write-ahead-log files whose records this memtable holds: they may be
    deleted once the memtable is safely in an SSTable.
    """

    wal_numbers: list[int] = field(default_factory=list)
    data: dict[bytes, bytes | None] = field(default_factory=_new_entries)
    approx_bytes: int = 0  # bytes written into it (like an arena: overwrites still count)
    frozen: bool = False
    _base: list[bytes] = field(default_factory=list, repr=False)
    _recent: list[bytes] = field(default_factory=list, repr=False)
    _seen: int = field(default=0, repr=False)  # len(data) when base + recent were updated
    # Reentrant: a snapshot dropped while this thread holds the lock (its last reference
    # released by another thread, or the cyclic GC running during an allocation in here)
    # unregisters itself from ``__del__``, in this same thread.
    _scan_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if type(self.data) is not _Entries:  # a caller's dict: adopt its contents
            entries = _new_entries()
            entries.update(self.data)
            self.data = entries

    def put(self, key: bytes, value: bytes | None) -> None:
        self.data[key] = value
        self.approx_bytes += len(key) + (len(value) if value is not None else 0) + ENTRY_OVERHEAD

    def __len__(self) -> int:
        return len(self.data)

    def _ordered(self) -> tuple[list[bytes], list[bytes]]:
        """(base, recent): every key, in two sorted lists that are never modified once
        returned. Callers hold the engine lock while the memtable is mutable."""
        with self._scan_lock:  # a flush and a scan may both look at a frozen memtable
            data = self.data
            new = len(data) - self._seen
            if new:
                added = sorted(islice(reversed(data), new))
                if self._recent:
                    added += self._recent
                    added.sort()  # two sorted runs: Timsort merges them in linear time
                if len(added) > max(RECENT_MIN, min(len(self._base) // 8, RECENT_MAX)):
                    merged = self._base + added
                    merged.sort()
                    self._base, self._recent = merged, []
                else:
                    self._recent = added
                self._seen = len(data)
            return self._base, self._recent

    def sorted_keys(self) -> list[bytes]:
        """All keys in order (a list the caller must not modify); callers must hold the
        engine lock while the memtable is mutable."""
        self._ordered()
        with self._scan_lock:
            if self._recent:
                merged = self._base + self._recent
                merged.sort()
                self._base, self._recent = merged, []
            return self._base

    def range_items(self, start: bytes | None, end: bytes | None) -> RangeSnapshot:
        """The ``[start, end)`` entries in key order (tombstones included), as a lazy snapshot
        that later writes cannot change. Call with the engine lock held while mutable."""
        base, recent = self._ordered()
        snap = RangeSnapshot(self, start, end, base, recent)
        if not self.frozen:
            with self._scan_lock:
                data = self.data
                # Weak: an abandoned scan must be freed (and so unregistered), not kept
                # alive by the memtable it watches.
                data.scans = (*data.scans, weakref.ref(snap))  # type: ignore[attr-defined]
                data.__class__ = _WatchedEntries
            snap._registered = True
        return snap

    def _unregister(self, snap: RangeSnapshot) -> None:
        with self._scan_lock:
            data = self.data
            data.scans = tuple(r for r in data.scans  # type: ignore[attr-defined]
                               if r() is not None and r() is not snap)
            if not data.scans:  # type: ignore[attr-defined]
                data.__class__ = _Entries

    def sorted_items(self) -> RangeSnapshot:
        return self.range_items(None, None)


class RangeSnapshot:
    """The entries of one memtable range as of its creation, produced lazily.

    Iterating it (once: forwards, or with ``reversed``) reads keys from the memtable's sorted lists
    and values from its dict, except values overwritten since the snapshot was taken, which
    the dict handed over before it changed them. ``len`` is the number of entries; equality
    with a list compares the entries."""

    __slots__ = ("__weakref__", "_base", "_closed", "_end", "_mem", "_rbase", "_recent",
                 "_registered", "_rrecent", "_saved", "_start")

    def __init__(self, mem: MemTable, start: bytes | None, end: bytes | None,
                 base: list[bytes], recent: list[bytes]) -> None:
        self._mem, self._start, self._end = mem, start, end
        self._base, self._recent = base, recent
        self._rbase = _bounds(base, start, end)
        self._rrecent = _bounds(recent, start, end)
        self._saved: dict[bytes, bytes | None] = {}
        self._registered = False
        self._closed = False

    def _preserve(self, key: bytes, old: bytes | None) -> None:
        if ((self._start is None or key >= self._start)
                and (self._end is None or key < self._end)):
            self._saved.setdefault(key, old)

    def __len__(self) -> int:
        return (self._rbase[1] - self._rbase[0]) + (self._rrecent[1] - self._rrecent[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def _key_chunks(self, reverse: bool) -> Iterator[list[bytes]]:
        """The range's keys in order, in chunks that grow from 16 to 1024 keys: a seek that
        reads one key pays for 16, a long scan runs at list-slicing speed."""
        (blo, bhi), (rlo, rhi) = self._rbase, self._rrecent
        if rlo == rhi:  # only base: plain slices
            yield from _chunks(self._base, blo, bhi, reverse)
            return
        merged = heapq.merge(_walk(self._base, blo, bhi, reverse),
                             _walk(self._recent, rlo, rhi, reverse), reverse=reverse)
        size = 16
        while chunk := list(islice(merged, size)):
            yield chunk
            size = min(size * 4, 1024)

    def _produce(self, reverse: bool) -> Iterator[Entry]:
        get = self._mem.data.get
        saved = self._saved
        for keys in self._key_chunks(reverse):
            # All dict reads of the chunk, then the saved copies: a concurrent overwrite
            # saves the old value before it stores the new one, so per key, reading the dict
            # before the saved copy sees the old value in one of the two.
            values = list(map(get, keys))
            if saved:
                for i, k in enumerate(keys):
                    old = saved.get(k, _ABSENT)
                    if old is not _ABSENT:
                        values[i] = old  # type: ignore[assignment]
            yield from zip(keys, values, strict=True)

    def _entries(self, reverse: bool) -> Iterator[Entry]:
        try:
            yield from self._produce(reverse)
        finally:
            self.close()

    def __iter__(self) -> Iterator[Entry]:
        return self._entries(False)

    def __reversed__(self) -> Iterator[Entry]:
        return self._entries(True)

    def close(self) -> None:
        """Stop watching the memtable's writes (done automatically at the end of an
        iteration, and when the snapshot is dropped)."""
        if self._registered and not self._closed:
            self._closed = True
            self._mem._unregister(self)

    def __del__(self) -> None:
        self.close()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RangeSnapshot | list | tuple):
            return list(self._produce(False)) == list(other)  # not closed: ask again
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _chunks(keys: list[bytes], lo: int, hi: int, reverse: bool) -> Iterator[list[bytes]]:
    """``keys[lo:hi]`` (reversed if asked) as slices of 16, 64, 256, then 1024 keys."""
    size = 16
    if reverse:
        while hi > lo:
            chunk = keys[max(lo, hi - size): hi]
            chunk.reverse()
            yield chunk
            hi -= size
            size = min(size * 4, 1024)
    else:
        while lo < hi:
            yield keys[lo: min(hi, lo + size)]
            lo += size
            size = min(size * 4, 1024)


def _walk(keys: list[bytes], lo: int, hi: int, reverse: bool) -> Iterator[bytes]:
    for chunk in _chunks(keys, lo, hi, reverse):
        yield from chunk


def _bounds(keys: list[bytes], start: bytes | None, end: bytes | None) -> tuple[int, int]:
    lo = 0 if start is None else bisect_left(keys, start)
    hi = len(keys) if end is None else bisect_left(keys, end)
    return lo, max(lo, hi)
