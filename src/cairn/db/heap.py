"""In-memory version store of one table: version chains by primary key plus secondary indexes.

The *heap* of a table maps each primary key (packed with :mod:`cairn.storage.keycodec`, so
keys sort like their tuples) to its chain of versions (:mod:`cairn.txn.mvcc`). Secondary
indexes are sorted lists of ``(packed values, packed pk)`` entries, one entry for every
distinct indexed value any version of the row has had, as in PostgreSQL, where every tuple
version has its own index entries. A lookup therefore returns candidates that are checked
against the version the reader actually sees; vacuum removes the entries of dead versions.

The whole heap is kept in memory (it is the buffer pool, with everything resident) and is
written to the ordered storage engine at checkpoints; see :mod:`cairn.db.database` and
docs/transactions.md for why that split keeps the commit path to one WAL append.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from cairn.storage.keycodec import KeyCodecError, pack
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


@dataclass
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool
    entries: SortedList = field(default_factory=SortedList)  # (values, pk) byte pairs
    members: set[tuple[bytes, bytes]] = field(default_factory=set)

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

    def discard(self, vb: bytes, pkb: bytes) -> None:
        e = (vb, pkb)
        if e in self.members:
            self.members.discard(e)
            self.entries.discard(e)

    def pks_with(self, vb: bytes) -> list[bytes]:
        entries = self.entries
        i = entries.bisect_left((vb, b""))
        out: list[bytes] = []
        n = len(entries)
        while i < n:
            e = entries[i]
            if e[0] != vb:
                break
            out.append(e[1])
            i += 1
        return out

    def scan(self, lo: bytes, hi: bytes | None) -> list[bytes]:
        """Primary keys of entries whose values lie in [lo, hi), in index order, deduplicated."""
        it = self.entries.irange((lo, b""), None if hi is None else (hi, b""),
                                 inclusive=(True, False))
        seen: set[bytes] = set()
        out: list[bytes] = []
        for _, pkb in it:
            if pkb not in seen:
                seen.add(pkb)
                out.append(pkb)
        return out


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
    def __init__(self, name: str, primary_key: tuple[str, ...]):
        self.name = name
        self.pk = primary_key
        self.single_pk = primary_key[0] if len(primary_key) == 1 else None
        self.chains: dict[bytes, list[Version]] = {}
        self.keys: SortedList = SortedList()
        self.indexes: dict[str, Index] = {}
        self.counters = TableCounters()
        self.dirty: set[bytes] = set()  # chains changed since the last checkpoint
        self._pk_cache: dict[tuple[type, Any], bytes] = {}

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
            if len(self._pk_cache) > 200_000:
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

    def chain_for_insert(self, pkb: bytes) -> list[Version]:
        chain = self.chains.get(pkb)
        if chain is None:
            chain = self.chains[pkb] = []
            self.keys.add(pkb)
        return chain

    def index_new_version(self, pkb: bytes, row: dict[str, Any]) -> None:
        for idx in self.indexes.values():
            idx.add(idx.key(row), pkb)

    def drop_chain(self, pkb: bytes) -> None:
        if self.chains.pop(pkb, None) is not None:
            self.keys.discard(pkb)

    def first_key_at_or_after(self, lo: bytes) -> int:
        return bisect_left(self.keys, lo)
