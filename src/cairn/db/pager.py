"""The buffer manager of cairn.db: a bounded cache of version chains over the storage engine.

PostgreSQL keeps heap pages in ``shared_buffers`` and reads a missing page from the relation
file; cairn.db keeps *version chains* (every version of one row, :mod:`cairn.txn.mvcc`) in a
cache bounded by ``cache_bytes`` and reads a missing chain from the engine with one point
read: a chain is one engine value under ``("v", table, *pk)`` (a JSON list of its versions),
so a miss is one point read (the engines' Bloom filters answer a missing key cheaply) and a
checkpoint writes one value per changed chain.

* **Clean chains are evicted, dirty ones are pinned.** A chain changed since the last
  checkpoint (or holding a running transaction's version or xmax) exists only in memory and in
  the WAL, so it stays resident until a checkpoint has written it; then it is clean and may go
  (least recently used first). When the cache is full of dirty chains the database asks for a
  checkpoint, as PostgreSQL's checkpointer runs when ``max_wal_size`` fills.
* **Loads need no database mutex.** A reader reads the engine, then admits the chain under the
  pager's own lock unless a chain for that key became resident meanwhile (then that one wins)
  or a checkpoint wrote to the engine meanwhile (``gen`` moved: the image it read may be stale,
  so it reads again). Eviction happens under the database mutex, so no transaction is between
  finding a chain and changing it while its chain goes.
* Sizes are estimates of a chain's Python memory (from its encoded length); the benchmark
  measures the process's real RSS.

:class:`MemoryStore` is an ordered in-memory store with the engine's read and write calls, so
that ``Database.memory(cache_bytes=...)`` pages too (the tests run with a tiny cache that way).
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedDict

from cairn.storage import Delete, Put
from cairn.storage.keycodec import pack
from cairn.txn.mvcc import Version

if TYPE_CHECKING:
    from cairn.db.heap import Heap

#: default chain cache of ``Database.open`` (``Database.memory`` keeps everything by default)
DEFAULT_CACHE_BYTES = 128 << 20
# Rough Python cost of a decoded version beyond its JSON text: the Version object, the row
# dict and its entries (measured with tracemalloc on 60-byte rows: ~4x the JSON length).
VERSION_OVERHEAD = 200
CHAIN_OVERHEAD = 120
JSON_FACTOR = 3


def chain_key(table: str, pkb: bytes) -> bytes:
    return pack(("v", table)) + pkb


def encode_chain(versions: Iterable[tuple[int, int, dict[str, Any], int]]) -> bytes:
    """A chain as the engine stores it: one value, a JSON list of [xmin, xmax, lsn, row]."""
    return json.dumps([[xmin, xmax, lsn, row] for xmin, xmax, row, lsn in versions],
                      separators=(",", ":")).encode()


def decode_chain(value: bytes) -> tuple[list[Version], int]:
    """The versions of a stored chain (in commit order, as written) and the size estimate."""
    chain = [Version(xmin, xmax, row, lsn) for xmin, xmax, lsn, row in json.loads(value)]
    return chain, CHAIN_OVERHEAD + VERSION_OVERHEAD * len(chain) + JSON_FACTOR * len(value)


def estimate(chain: list[Version]) -> int:
    """The size estimate of a chain built in memory (no encoded form at hand)."""
    size = CHAIN_OVERHEAD
    for v in chain:
        size += VERSION_OVERHEAD + JSON_FACTOR * (16 * len(v.row) + sum(
            len(x) if type(x) is str else 8 for x in v.row.values()))
    return size


class MemoryStore:
    """An ordered key-value store in memory with the engine calls cairn.db uses."""

    def __init__(self) -> None:
        self._data: SortedDict = SortedDict()
        self._lock = threading.Lock()
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._lock:  # a consistent snapshot, as the engines promise
            keys = list(self._data.irange(start, end, inclusive=(True, False), reverse=reverse))
            items = [(k, self._data[k]) for k in keys]
        self.reads += 1
        return iter(items)

    def write_batch(self, ops: Iterable[Put | Delete], *, sync: bool = False) -> None:
        with self._lock:
            for op in ops:
                if isinstance(op, Put):
                    self._data[op.key] = op.value
                else:
                    self._data.pop(op.key, None)

    def close(self) -> None:
        pass


class Pager:
    """The chain cache of one database (all tables share ``cache_bytes``)."""

    def __init__(self, store: Any, cache_bytes: int | None):
        self.store = store  # an Engine, a MemoryStore, or None (everything resident)
        self.budget = cache_bytes
        self.lock = threading.Lock()
        self.lru: collections.OrderedDict[tuple[Heap, bytes], int] = collections.OrderedDict()
        self.resident = 0  # estimated bytes of resident chains
        self.gen = 0  # bumped after every checkpoint write to the store
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.admitted = 0
        self._stuck = (-1, -1)  # (gen, admitted) when eviction last found only pinned chains

    @property
    def over(self) -> bool:
        return self.budget is not None and self.resident > self.budget

    def read_chain(self, key: bytes) -> tuple[list[Version], int]:
        """The chain stored under ``key`` (:func:`chain_key`), or an empty one."""
        if self.store is None:
            return [], 0
        value = self.store.get(key)
        return decode_chain(value) if value is not None else ([], 0)

    def admit(self, heap: Heap, pkb: bytes, size: int) -> None:
        """Count a chain that just became resident (pager lock held)."""
        key = (heap, pkb)
        self.admitted += 1
        old = self.lru.pop(key, None)
        if old is not None:
            self.resident -= old
        self.lru[key] = size
        self.resident += size

    def resize(self, heap: Heap, pkb: bytes, size: int) -> None:
        with self.lock:
            key = (heap, pkb)
            old = self.lru.get(key)
            if old is not None:
                self.lru[key] = size
                self.resident += size - old

    def forget(self, heap: Heap, pkb: bytes) -> None:
        """A chain left the cache (pager lock held)."""
        size = self.lru.pop((heap, pkb), None)
        if size is not None:
            self.resident -= size

    def evict(self, running: Any) -> bool:
        """Evict clean chains, least recently used first, until under budget (database mutex
        held). False when what is left is pinned: a checkpoint must clean some first."""
        if self.budget is None or self.store is None:
            return True
        if self._stuck == (self.gen, self.admitted):
            return False  # nothing written or loaded since a walk found only pinned chains
        with self.lock:
            over = self.resident - self.budget
            if over <= 0:
                return True
            lru = self.lru
            # Pinned entries move to the young end, so successive walks go round the list
            # instead of re-reading the same pinned ones; a long run of pinned ones ends it.
            streak = 0
            for _ in range(len(lru)):
                if streak >= 2048:
                    break
                # popitem is one step: readers move entries to the end without this lock
                key, size = lru.popitem(last=False)
                heap, pkb = key
                chain = heap.chains.get(pkb)
                if chain is None:
                    self.resident -= size
                    continue
                if pkb in heap.dirty or pkb in heap.flushing or _holds_running(chain, running):
                    lru[key] = size
                    streak += 1
                    continue
                if pkb in heap.unflushed:
                    if chain:
                        lru[key] = size  # only memory has it: pinned until written
                        streak += 1
                        continue
                    heap.unflushed.discard(pkb)  # an insert's empty chain that stayed empty
                del heap.chains[pkb]
                self.resident -= size
                self.evictions += 1
                over -= size
                if over <= 0:
                    return True
            self._stuck = (self.gen, self.admitted)
            return False

    def stats(self) -> dict[str, Any]:
        total = self.hits + self.misses
        return {"cache_bytes": self.budget, "resident_bytes": self.resident,
                "resident_chains": len(self.lru), "hits": self.hits, "misses": self.misses,
                "hit_rate": round(self.hits / total, 4) if total else None,
                "evictions": self.evictions}


def _holds_running(chain: list[Version], running: Any) -> bool:
    return any(v.xmin in running or (v.xmax and v.xmax in running) for v in chain)
