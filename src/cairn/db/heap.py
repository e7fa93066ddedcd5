"""The version store of one table: version chains by primary key plus secondary indexes.

The *heap* of a table maps each primary key (packed with :mod:`cairn.storage.keycodec`, so
keys sort like their tuples) to its chain of versions (:mod:`cairn.txn.mvcc`). Secondary
indexes hold ``(packed values, packed pk)`` entries, one entry for every distinct indexed
value any version of the row has had, as in PostgreSQL, where every tuple version has its own
index entries. A lookup therefore returns candidates that are checked against the version the
reader actually sees; vacuum removes the entries of dead versions.

Chains are cached (:mod:`cairn.db.pager`): resident ones in ``chains``, the rest in the
storage engine as of the last checkpoint, loaded by a prefix scan on a miss. Index entries
likewise live in the engine, with the changes since the last checkpoint in memory. See
docs/transactions.md for why the commit path stays one WAL append.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sortedcontainers import SortedList

from cairn.db.pager import CHAIN_OVERHEAD, Pager, decode_chain
from cairn.storage.keycodec import KeyCodecError, pack, prefix_end
from cairn.txn.errors import DataError, NotNullViolation
from cairn.txn.mvcc import Version

_SCALARS = (str, int, float, bool, type(None))


def check_value(column: str, value: Any, depth: int = 0) -> None:
    """Rows are JSON documents: scalars, lists and dicts with string keys."""
    t = type(value)
    if t in _SCALARS:
        if t is float and not math.isfinite(value):
            raise DataError(f"column {column!r}: {value!r} is not a finite number")
        return
    if depth > 32:
        raise DataError(f"column {column!r}: value nested too deeply")
    if t is list or t is tuple:
        for v in value:
            check_value(column, v, depth + 1)
        return
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise DataError(f"column {column!r}: nested keys must be strings")
            check_value(column, v, depth + 1)
        return
    raise DataError(f"column {column!r}: cannot store a value of type {t.__name__}")


def check_row(row: Any) -> None:
    if type(row) is not dict:
        raise DataError(f"a row must be a dict, not {type(row).__name__}")
    for k, v in row.items():
        if type(k) is not str or not k or "\x00" in k:
            raise DataError(f"bad column name {k!r}")
        check_value(k, v)


def index_value(v: Any) -> Any:
    """What an index stores for a column value: numbers as floats, so that ints and floats
    sort together (the key codec sorts all ints before all floats); other containers as their
    JSON text (usable for equality only)."""
    t = type(v)
    if t is int:
        try:
            return float(v)
        except OverflowError:
            return math.inf if v > 0 else -math.inf
    if t in (str, float, bool, type(None), bytes):
        return v
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


class Index:
    """A secondary index: entries ``(packed values, packed pk)`` for every version's values.

    Entries checkpointed live in the store under ``("i", table, index) + values + pk``;
    changes since then are an in-memory *delta* (entries added, entries removed), and while a
    checkpoint writes one delta a fresh one collects the changes (the newer wins). A lookup
    merges the store's range with the deltas; without a store the delta is the whole index."""

    def __init__(self, name: str, columns: tuple[str, ...], unique: bool, table: str = "",
                 pager: Pager | None = None):
        self.name = name
        self.columns = columns
        self.unique = unique
        self.table = table
        self.store = pager.store if pager is not None else None
        self.prefix = pack(("i", table, name))
        self.entries: SortedList = SortedList()  # delta: added (values, pk) pairs
        self.members: set[tuple[bytes, bytes]] = set()
        self.removed: set[tuple[bytes, bytes]] = set()  # delta: removed (store-backed only)
        # the delta a running checkpoint is writing: (entries, members, removed)
        self.flushing: tuple[SortedList, set, set] | None = None

    def key(self, row: dict[str, Any]) -> bytes:
        return pack([index_value(row.get(c)) for c in self.columns])

    def unique_key(self, row: dict[str, Any]) -> bytes | None:
        """The value that must be unique, or None when a column is NULL (NULLs never clash)."""
        vals = [row.get(c) for c in self.columns]
        if any(v is None for v in vals):
            return None
        return pack([index_value(v) for v in vals])

    def add(self, vb: bytes, pkb: bytes) -> None:
        e = (vb, pkb)
        if e not in self.members:
            self.members.add(e)
            self.entries.add(e)
        if self.removed:
            self.removed.discard(e)

    def discard(self, vb: bytes, pkb: bytes) -> None:
        e = (vb, pkb)
        if e in self.members:
            self.members.discard(e)
            self.entries.discard(e)
        if self.store is not None:
            self.removed.add(e)

    def take_delta(self) -> tuple[SortedList, set, set]:
        """Start a checkpoint of this index (database mutex held): the current delta becomes
        the one being written, unchanged from now on; returns it (added entries, their set,
        removed entries)."""
        delta = (self.entries, self.members, self.removed)
        self.flushing = delta
        self.entries, self.members, self.removed = SortedList(), set(), set()
        return delta

    def _present(self, e: tuple[bytes, bytes]) -> bool | None:
        """Is ``e`` in the index by the deltas (None: as the store says)."""
        if e in self.members:
            return True
        if e in self.removed:
            return False
        f = self.flushing
        if f is not None:
            if e in f[1]:
                return True
            if e in f[2]:
                return False
        return None

    def _entries(self, lo: tuple[bytes, bytes], hi: tuple[bytes, bytes] | None
                 ) -> Iterator[tuple[bytes, bytes]]:
        """Entries in [lo, hi) in order: the store's merged with the deltas."""
        sources: list[Iterator[tuple[bytes, bytes]]] = [
            self.entries.irange(lo, hi, inclusive=(True, False))]
        if self.flushing is not None:
            sources.append(self.flushing[0].irange(lo, hi, inclusive=(True, False)))
        if self.store is not None:
            p = self.prefix
            n = len(p)
            start = p + lo[0] + lo[1]
            end = p + hi[0] + hi[1] if hi is not None else prefix_end(p)
            sources.append((k[n:len(k) - len(v)], v) for k, v in self.store.scan(start, end))
        if len(sources) == 1:
            yield from sources[0]
            return
        last = None
        for e in heapq.merge(*sources):
            if e == last:
                continue
            last = e
            if self._present(e) is not False:
                yield e

    def pks_with(self, vb: bytes) -> list[bytes]:
        return [pkb for _, pkb in self._entries((vb, b""), (_after(vb), b""))]

    def scan(self, lo: bytes, hi: bytes | None) -> list[bytes]:
        """Primary keys of entries whose values lie in [lo, hi), in index order, deduplicated."""
        seen: set[bytes] = set()
        out: list[bytes] = []
        for _, pkb in self._entries((lo, b""), None if hi is None else (hi, b"")):
            if pkb not in seen:
                seen.add(pkb)
                out.append(pkb)
        return out

    def count(self) -> int:
        return sum(1 for _ in self._entries((b"", b""), None))


def _after(vb: bytes) -> bytes:
    """The smallest packed value greater than ``vb`` and every ``vb + pk`` pair's values."""
    return vb + b"\xff"


@dataclass
class TableCounters:
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    dead_since_vacuum: int = 0  # what autovacuum's threshold compares (n_dead_tup)
    vacuum_count: int = 0
    autovacuum_count: int = 0
    last_vacuum: float | None = None
    last_autovacuum: float | None = None
    versions_removed: int = 0


class Heap:
    """One table: its resident version chains (a cache over the pager's store) and indexes."""

    def __init__(self, name: str, primary_key: tuple[str, ...], pager: Pager | None = None):
        self.name = name
        self.pk = primary_key
        self.single_pk = primary_key[0] if len(primary_key) == 1 else None
        self.pager = pager if pager is not None else Pager(None, None)
        self.store = self.pager.store
        self.chains: dict[bytes, list[Version]] = {}  # resident chains
        # Keys of resident chains the store does not hold yet (rows inserted since the
        # checkpoint that wrote them): a scan merges them with the store's keys. Without a
        # store, every key.
        self.unflushed: SortedList = SortedList()
        self.indexes: dict[str, Index] = {}
        self.counters = TableCounters()
        self.rows = 0  # estimated live rows (autovacuum's threshold), kept in the catalog
        self.dirty: set[bytes] = set()  # chains changed since the last checkpoint: pinned
        self.flushing: set[bytes] = set()  # chains a running checkpoint is writing: pinned
        self.vprefix = pack(("v", name))
        self._pk_cache: dict[tuple[type, Any], bytes] = {}

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def new_index(self, name: str, columns: tuple[str, ...], unique: bool) -> Index:
        return Index(name, columns, unique, self.name, self.pager)

    def pk_bytes(self, key: Any) -> bytes:
        """Pack a primary key given as a value (single-column) or a tuple/list (composite)."""
        t = type(key)
        if t is int or t is str:
            # Hot path: cache the packing of scalar keys (keyed by type too: 1 == True).
            ck = (t, key)
            b = self._pk_cache.get(ck)
            if b is not None:
                return b
            b = self._pack_key(key)
            if len(self._pk_cache) > 50_000:
                self._pk_cache.clear()
            self._pk_cache[ck] = b
            return b
        return self._pack_key(key)

    def _pack_key(self, key: Any) -> bytes:
        if self.single_pk is not None:
            vals = (key,)
        else:
            if not isinstance(key, (tuple, list)) or len(key) != len(self.pk):
                raise DataError(f"table {self.name!r} has a {len(self.pk)}-column primary key")
            vals = tuple(key)
        for v in vals:
            if v is None:
                raise NotNullViolation(f"null value in primary key of {self.name!r}")
            if type(v) not in (int, str, float, bool, bytes):
                raise DataError(f"a primary key value must be a scalar, not {type(v).__name__}")
        try:
            return pack(vals)
        except KeyCodecError as exc:
            raise DataError(str(exc)) from exc

    def row_pk(self, row: dict[str, Any]) -> Any:
        if self.single_pk is not None:
            if self.single_pk not in row:
                raise NotNullViolation(
                    f"null value in column {self.single_pk!r} of {self.name!r} (primary key)")
            return row[self.single_pk]
        missing = [c for c in self.pk if c not in row]
        if missing:
            raise NotNullViolation(f"null value in primary key column {missing[0]!r}")
        return tuple(row[c] for c in self.pk)

    # -- the chain cache ----------------------------------------------------------------------
    def chain(self, pkb: bytes) -> list[Version] | None:
        """The chain of ``pkb``, from the cache or loaded from the store (None: no versions;
        an empty list is a chain whose versions are all gone, until a checkpoint)."""
        c = self.chains.get(pkb)
        if self.store is None:
            return c  # everything is resident: no cache to keep
        if c is not None:
            pager = self.pager
            pager.hits += 1
            try:  # noqa: SIM105 - the hot path: cheaper than contextlib.suppress
                pager.lru.move_to_end((self, pkb))
            except KeyError:  # evicted meanwhile
                pass
            return c
        return self._load(pkb, False)

    def _load(self, pkb: bytes, create: bool) -> list[Version] | None:
        pager = self.pager
        pager.misses += 1
        while True:
            gen = pager.gen
            chain, size = pager.read_chain(self.vprefix + pkb)
            with pager.lock:
                c = self.chains.get(pkb)
                if c is not None:
                    return c
                if pager.gen != gen:
                    continue  # a checkpoint wrote meanwhile: what was read may be stale
                if not chain:
                    if not create:
                        return None
                    self.unflushed.add(pkb)
                    size = CHAIN_OVERHEAD
                self.chains[pkb] = chain
                pager.admit(self, pkb, size)
                return chain

    def chain_for_insert(self, pkb: bytes) -> list[Version]:
        chain = self.chains.get(pkb)
        if chain is None:
            if self.store is None:
                with self.pager.lock:
                    chain = self.chains[pkb] = []
                    self.unflushed.add(pkb)
            else:
                chain = self._load(pkb, True)
                assert chain is not None
        return chain

    def index_new_version(self, pkb: bytes, row: dict[str, Any]) -> None:
        for idx in self.indexes.values():
            idx.add(idx.key(row), pkb)

    def drop_chain(self, pkb: bytes) -> None:
        """A chain with no versions left: without a store it goes at once; with one it stays
        (empty, dirty) until a checkpoint has deleted its versions from the store."""
        if self.store is None:
            with self.pager.lock:
                if self.chains.pop(pkb, None) is not None:
                    self.unflushed.discard(pkb)
                    self.pager.forget(self, pkb)
        else:
            self.dirty.add(pkb)

    def scan_chains(self, lo: bytes = b"") -> Iterator[tuple[bytes, list[Version]]]:
        """Every chain with versions, in primary-key order: resident ones from the cache, the
        others decoded from the store without entering the cache (a scan does not flush it,
        like PostgreSQL's ring buffer). Database mutex held: the store's image of a chain
        that is not resident cannot change meanwhile (only a checkpoint writes it, and only
        chains that stay resident until it is done)."""
        chains = self.chains
        with self.pager.lock:  # inserters add to it under the pager lock only
            mem = iter(list(self.unflushed.irange(lo or None, None)))
        if self.store is None:
            for pkb in mem:
                c = chains.get(pkb)
                if c:
                    yield pkb, c
            return
        store = self._store_chains(lo)
        a = next(mem, None)
        b = next(store, None)
        while a is not None or b is not None:
            if b is None or (a is not None and a < b[0]):
                pkb, a = a, next(mem, None)
                c = chains.get(pkb)
            else:
                pkb, built = b
                if a == pkb:
                    a = next(mem, None)
                b = next(store, None)
                c = chains.get(pkb)
                if c is None:
                    c = built
            if c:
                yield pkb, c

    def _store_chains(self, lo: bytes) -> Iterator[tuple[bytes, list[Version]]]:
        n = len(self.vprefix)
        for k, v in self.store.scan(self.vprefix + lo, prefix_end(self.vprefix)):
            yield k[n:], decode_chain(v)[0]
