"""The memtable: the in-memory write buffer of an LSM-tree (DDIA ch. 3, "Constructing and
maintaining SSTables").

Writes land in a plain ``dict`` and the keys are sorted once, when the memtable is frozen and
flushed to an SSTable (or when a scan needs order). A balanced tree or skip list keeps keys
sorted on *every* insert, which in Python costs a pure-Python O(log n) walk per write; a dict
insert is one C call. ``cairn bench memtable`` measures the difference (about an order of
magnitude). A deleted key maps to ``None`` (a tombstone), because the delete must shadow older
values in the SSTables below.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

# Bytes charged per entry on top of key and value: keeps a memtable of tiny values from
# growing without bound in entry count (RocksDB's arena charges a similar per-entry overhead).
ENTRY_OVERHEAD = 16


@dataclass(eq=False)
class MemTable:
    """A mutable write buffer; frozen (never written again) once it becomes immutable.

    ``wal_numbers`` are the write-ahead-log files whose records this memtable holds: they may be
    deleted once the memtable is safely in an SSTable.
    """

    wal_numbers: list[int] = field(default_factory=list)
    data: dict[bytes, bytes | None] = field(default_factory=dict)
    approx_bytes: int = 0  # bytes written into it (like an arena: overwrites still count)
    frozen: bool = False
    _sorted_keys: list[bytes] | None = field(default=None, repr=False)
    _sorted_len: int = field(default=-1, repr=False)
    _sorted_bytes: int = field(default=-1, repr=False)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.data[key] = value
        self.approx_bytes += len(key) + (len(value) if value is not None else 0) + ENTRY_OVERHEAD

    def __len__(self) -> int:
        return len(self.data)

    def sorted_keys(self) -> list[bytes]:
        """All keys in order. Cached until the next write (``approx_bytes`` changes on every
        write, so it doubles as a version number); callers must hold the engine lock while the
        memtable is mutable, and must not modify the list."""
        if (self._sorted_keys is None or self._sorted_bytes != self.approx_bytes
                or self._sorted_len != len(self.data)):
            self._sorted_keys = sorted(self.data)
            self._sorted_bytes = self.approx_bytes
            self._sorted_len = len(self.data)
        return self._sorted_keys

    def range_items(self, start: bytes | None, end: bytes | None
                    ) -> list[tuple[bytes, bytes | None]]:
        """A copy of the ``[start, end)`` entries in key order (tombstones included): a
        snapshot that later writes cannot change."""
        keys = self.sorted_keys()
        lo = 0 if start is None else bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end)
        data = self.data
        return [(k, data[k]) for k in keys[lo:hi]]

    def sorted_items(self) -> list[tuple[bytes, bytes | None]]:
        return self.range_items(None, None)
