"""Tables with secondary indexes on top of an ordered engine (DDIA ch. 3, "Other indexing
structures").

A :class:`Table` stores rows (dicts) under their primary key and keeps any number of secondary
indexes in the *same* ordered engine, each index entry written in the *same* ``write_batch`` as
the row, so that a crash can never leave a row without its index entries or an entry pointing
at nothing. Key layout (every key is an order-preserving tuple, :mod:`cairn.storage.keycodec`):

=================================  ===========================================  =============
key                                value                                        what
=================================  ===========================================  =============
("c", table)                       JSON: primary key columns, index specs       catalog
("r", table, *pk)                  the row (packed name/value pairs)            primary record
("i", table, index, *vals, *pk)    covered columns (packed) or empty            non-unique
("u", table, index, *vals)         pk + covered columns (packed)                unique
=================================  ===========================================  =============

* A **non-unique** index maps (indexed values, primary key) to nothing: the pk in the key makes
  every entry distinct, and a lookup is a prefix scan over the values.
* A **unique** index maps the values alone to the pk, so a second row with the same values
  finds the key taken: :class:`UniqueViolation` (SQLSTATE 23505). As in SQL, rows whose indexed
  values contain NULL (None) never conflict; they are stored in the non-unique layout.
* **Multi-column** (concatenated) indexes list several columns: lookups may give a prefix of
  them, and range queries compare tuples.
* **Covering** indexes carry extra columns (``include``), so a query that needs only those
  columns is answered from the index without touching the primary record (an "index-only
  scan"); :attr:`Table.stats` counts both kinds of lookups.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from cairn.storage.engine import Delete, Engine, Op, Put
from cairn.storage.errors import StorageError
from cairn.storage.keycodec import Element, pack, prefix_end, unpack

Row = dict[str, Any]


class UniqueViolation(StorageError):
    """Another row already has these values in a unique index (PostgreSQL SQLSTATE 23505)."""

    sqlstate = "23505"


class SchemaError(StorageError, ValueError):
    """A row or a query that does not fit the table's definition."""


@dataclass(frozen=True)
class IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    include: tuple[str, ...] = ()  # covering columns stored in the entry

    def __post_init__(self) -> None:
        if not self.name or not self.columns:
            raise SchemaError("an index needs a name and at least one column")


@dataclass
class TableStats:
    rows_written: int = 0
    index_entries_written: int = 0
    index_lookups: int = 0
    index_only_lookups: int = 0  # answered from a covering index alone
    primary_fetches: int = 0  # rows fetched by primary key after an index hit
    index_bytes_written: int = 0
    row_bytes_written: int = 0
    per_index: dict[str, int] = field(default_factory=dict)


def encode_row(row: Row) -> bytes:
    items: list[Element] = []
    for name in sorted(row):
        items.append(name)
        items.append(row[name])
    return pack(items)


def decode_row(data: bytes) -> Row:
    items = unpack(data)
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}  # type: ignore[misc]


class Table:
    """A table of dict rows with secondary indexes, in an ordered engine shared with others."""

    def __init__(self, engine: Engine, name: str, primary_key: str | Iterable[str] | None = None,
                 *, sync: bool = False):
        if not engine.ordered:
            raise StorageError(f"secondary indexes need an ordered engine, not {engine.kind!r}")
        self.engine = engine
        self.name = name
        self.sync = sync
        self.stats = TableStats()
        self._lock = threading.RLock()  # serialises read-modify-write of rows and entries
        catalog = engine.get(pack(("c", name)))
        if catalog is not None:
            meta = json.loads(catalog)
            self.primary_key: tuple[str, ...] = tuple(meta["primary_key"])
            self.indexes: dict[str, IndexSpec] = {
                s["name"]: IndexSpec(s["name"], tuple(s["columns"]), s["unique"],
                                     tuple(s["include"])) for s in meta["indexes"]}
            if primary_key is not None and self.primary_key != _cols(primary_key):
                raise SchemaError(f"table {name!r} exists with primary key {self.primary_key}")
        else:
            if primary_key is None:
                raise SchemaError(f"table {name!r} does not exist; give its primary key")
            self.primary_key = _cols(primary_key)
            self.indexes = {}
            self._save_catalog([])

    # -- catalog -------------------------------------------------------------------------------
    def _save_catalog(self, extra_ops: list[Op]) -> None:
        meta = {"primary_key": list(self.primary_key),
                "indexes": [asdict(s) for s in self.indexes.values()]}
        ops: list[Op] = [Put(pack(("c", self.name)), json.dumps(meta).encode()), *extra_ops]
        self.engine.write_batch(ops, sync=True)

    def create_index(self, name: str, columns: Iterable[str], *, unique: bool = False,
                     include: Iterable[str] = ()) -> IndexSpec:
        """Create and backfill an index. The backfill and the catalog entry are written in one
        batch, so a crash leaves either no index or a complete one."""
        spec = IndexSpec(name, tuple(columns), unique, tuple(include))
        with self._lock:
            if name in self.indexes:
                raise SchemaError(f"index {name!r} already exists on {self.name!r}")
            ops: list[Op] = []
            seen: dict[tuple, tuple] = {}
            for row in self.rows():
                pk = self._pk(row)
                key, value = self._entry(spec, row, pk)
                if spec.unique and self._unique_key(spec, row) is not None:
                    vals = tuple(row.get(c) for c in spec.columns)
                    if vals in seen:
                        raise UniqueViolation(
                            f"cannot create unique index {name!r}: rows {seen[vals]} and {pk} "
                            f"both have {dict(zip(spec.columns, vals, strict=True))}")
                    seen[vals] = pk
                ops.append(Put(key, value))
            self.indexes[name] = spec
            try:
                self._save_catalog(ops)
            except BaseException:
                del self.indexes[name]
                raise
        return spec

    def drop_index(self, name: str) -> None:
        with self._lock:
            spec = self.indexes.pop(name)
            ops: list[Op] = []
            for tag in ("i", "u"):
                prefix = pack((tag, self.name, spec.name))
                ops += [Delete(k) for k, _ in self.engine.scan(prefix, prefix_end(prefix))]
            self._save_catalog(ops)

    # -- rows -----------------------------------------------------------------------------------
    def _pk(self, row: Row) -> tuple[Element, ...]:
        try:
            pk = tuple(row[c] for c in self.primary_key)
        except KeyError as exc:
            raise SchemaError(f"row lacks primary key column {exc.args[0]!r}") from None
        if any(v is None for v in pk):
            raise SchemaError("primary key columns must not be None")
        return pk

    def _row_key(self, pk: tuple[Element, ...]) -> bytes:
        return pack(("r", self.name, *pk))

    def _unique_key(self, spec: IndexSpec, row: Row) -> bytes | None:
        vals = tuple(row.get(c) for c in spec.columns)
        if any(v is None for v in vals):
            return None  # NULLs never conflict: stored in the non-unique layout
        return pack(("u", self.name, spec.name, *vals))

    def _entry(self, spec: IndexSpec, row: Row, pk: tuple[Element, ...]) -> tuple[bytes, bytes]:
        covered = pack(tuple(row.get(c) for c in spec.include))
        if spec.unique:
            ukey = self._unique_key(spec, row)
            if ukey is not None:
                return ukey, pack((len(pk), *pk)) + covered
        vals = tuple(row.get(c) for c in spec.columns)
        return pack(("i", self.name, spec.name, *vals, *pk)), covered

    def get(self, *pk: Element) -> Row | None:
        data = self.engine.get(self._row_key(pk))
        return None if data is None else decode_row(data)

    def put(self, row: Row) -> None:
        """Insert or replace a row, updating every index in the same atomic batch."""
        for v in row.values():
            pack((v,))  # type check up front: a bad value rejects the row before any write
        pk = self._pk(row)
        with self._lock:
            old = self.get(*pk)
            ops: list[Op] = []
            for spec in self.indexes.values():
                new_key, new_val = self._entry(spec, row, pk)
                if old is not None:
                    old_key, old_val = self._entry(spec, old, pk)
                    if old_key == new_key and old_val == new_val:
                        continue
                    if old_key != new_key:
                        ops.append(Delete(old_key))
                if spec.unique and self._unique_key(spec, row) is not None:
                    holder = self.engine.get(new_key)
                    if holder is not None and _pk_of(holder) != pk:
                        vals = {c: row.get(c) for c in spec.columns}
                        raise UniqueViolation(
                            f"duplicate key value violates unique index {spec.name!r} on "
                            f"{self.name!r}: {vals} already belongs to row {_pk_of(holder)}")
                ops.append(Put(new_key, new_val))
                self.stats.index_entries_written += 1
                self.stats.index_bytes_written += len(new_key) + len(new_val)
                self.stats.per_index[spec.name] = self.stats.per_index.get(spec.name, 0) + 1
            data = encode_row(row)
            ops.append(Put(self._row_key(pk), data))
            self.engine.write_batch(ops, sync=self.sync)
            self.stats.rows_written += 1
            self.stats.row_bytes_written += len(data)

    def insert(self, row: Row) -> None:
        """Like :meth:`put`, but a row with the same primary key is a UniqueViolation."""
        with self._lock:
            if self.get(*self._pk(row)) is not None:
                raise UniqueViolation(f"duplicate primary key {self._pk(row)} in {self.name!r}")
            self.put(row)

    def delete(self, *pk: Element) -> bool:
        with self._lock:
            old = self.get(*pk)
            if old is None:
                return False
            ops: list[Op] = [Delete(self._entry(s, old, pk)[0]) for s in self.indexes.values()]
            ops.append(Delete(self._row_key(pk)))
            self.engine.write_batch(ops, sync=self.sync)
            return True

    def rows(self) -> Iterator[Row]:
        prefix = pack(("r", self.name))
        for _k, v in self.engine.scan(prefix, prefix_end(prefix)):
            yield decode_row(v)

    # -- queries -------------------------------------------------------------------------------
    def lookup(self, index: str, *values: Element, columns: Iterable[str] | None = None,
               reverse: bool = False) -> list[Row]:
        """Rows whose first ``len(values)`` indexed columns equal ``values``."""
        spec = self._spec(index, len(values))
        return list(self._query(spec, values, values, True, columns, reverse))

    def range(self, index: str, low: tuple[Element, ...] | None = None,
              high: tuple[Element, ...] | None = None, *, columns: Iterable[str] | None = None,
              reverse: bool = False) -> list[Row]:
        """Rows with ``low <= indexed values < high`` (tuples compared column by column; a
        shorter tuple is a prefix bound)."""
        spec = self._spec(index, max(len(low or ()), len(high or ())))
        return list(self._query(spec, low, high, False, columns, reverse))

    def _spec(self, index: str, nvalues: int) -> IndexSpec:
        try:
            spec = self.indexes[index]
        except KeyError:
            raise SchemaError(f"no index {index!r} on {self.name!r}") from None
        if nvalues > len(spec.columns):
            raise SchemaError(f"index {index!r} has {len(spec.columns)} columns, not {nvalues}")
        return spec

    def _query(self, spec: IndexSpec, low: tuple | None, high: tuple | None, equal: bool,
               columns: Iterable[str] | None, reverse: bool) -> Iterator[Row]:
        wanted = None if columns is None else tuple(columns)
        covered = set(spec.columns) | set(spec.include) | set(self.primary_key)
        index_only = wanted is not None and set(wanted) <= covered
        self.stats.index_lookups += 1
        tags = ("u", "i") if spec.unique else ("i",)
        # A unique index keeps rows with a NULL in the non-unique layout; merge both scans in
        # index order (packed keys sort like the tuples they encode).
        streams = [self._entries(spec, tag, low, high, equal, reverse) for tag in tags]
        merged = streams[0] if len(streams) == 1 else heapq.merge(
            *streams, key=lambda e: e[0], reverse=reverse)
        for _sort, vals, pk, extra in merged:
            if index_only:
                self.stats.index_only_lookups += 1
                row = dict(zip(self.primary_key, pk, strict=True))
                row.update(zip(spec.columns, vals, strict=True))
                row.update(zip(spec.include, extra, strict=True))
                yield {c: row.get(c) for c in wanted}  # type: ignore[union-attr]
            else:
                self.stats.primary_fetches += 1
                full = self.get(*pk)
                if full is None:
                    raise StorageError(f"index {spec.name!r} points at missing row {pk}")
                yield full if wanted is None else {c: full.get(c) for c in wanted}

    def _entries(self, spec: IndexSpec, tag: str, low: tuple | None, high: tuple | None,
                 equal: bool, reverse: bool) -> Iterator[tuple[bytes, tuple, tuple, tuple]]:
        """(sort key, indexed values, pk, covered values) of the entries in range."""
        base = pack((tag, self.name, spec.name))
        start = base + pack(low) if low else base
        if equal:
            end = prefix_end(start)
        else:
            end = base + pack(high) if high else prefix_end(base)
        ncols = len(spec.columns)
        for key, value in self.engine.scan(start, end, reverse=reverse):
            parts = unpack(key)[3:]
            vals = parts[:ncols]
            if tag == "u":
                pk = _pk_of(value)
                extra = unpack(value)[1 + len(pk):]
            else:
                pk = parts[ncols:]
                extra = unpack(value)
            yield pack((*vals, *pk)), vals, pk, extra

    def check(self) -> list[str]:
        """Verify that the indexes and the rows agree exactly; return the problems found."""
        problems: list[str] = []
        expected: set[bytes] = set()
        for row in self.rows():
            pk = self._pk(row)
            for spec in self.indexes.values():
                key, value = self._entry(spec, row, pk)
                expected.add(key)
                if self.engine.get(key) != value:
                    problems.append(f"row {pk}: entry of {spec.name!r} missing or stale")
        for spec in self.indexes.values():
            for tag in ("i", "u"):
                prefix = pack((tag, self.name, spec.name))
                for key, _ in self.engine.scan(prefix, prefix_end(prefix)):
                    if key not in expected:
                        problems.append(f"dangling entry in {spec.name!r}: {unpack(key)}")
        return problems


def _cols(pk: str | Iterable[str]) -> tuple[str, ...]:
    return (pk,) if isinstance(pk, str) else tuple(pk)


def _pk_of(unique_value: bytes) -> tuple[Element, ...]:
    items = unpack(unique_value)
    n = items[0]
    return tuple(items[1:1 + n])  # type: ignore[operator]
