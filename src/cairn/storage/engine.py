"""The one interface every storage engine implements (DDIA ch. 3).

An engine maps byte keys to byte values. Ordered engines (``lsm``, ``btree``) also answer range
scans in key order; unordered ones (``log``, ``hash``) answer them by sorting, which is correct
but costs O(n log n), exactly the trade-off the chapter describes for hash indexes.

Writes go through :meth:`Engine.write_batch`, which is atomic: after a crash either every
operation of a batch is there or none is. ``sync=True`` makes the batch durable before the call
returns; concurrent durable writers share fsyncs (group commit, :mod:`cairn.storage.groupcommit`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from cairn.storage.errors import EngineClosedError, StorageError
from cairn.storage.fileio import REAL_FS, FileSystem
from cairn.storage.limits import check_key, check_value


@dataclass(frozen=True, slots=True)
class Put:
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    key: bytes


Op = Put | Delete


def normalize_ops(ops: Iterable[Op | tuple], max_key: int, max_value: int) -> list[Op]:
    """Validate a batch up front, so that a bad op rejects the batch before anything is written.

    Accepts :class:`Put`/:class:`Delete` or tuples ``("put", k, v)`` / ``("delete", k)``.
    """
    out: list[Op] = []
    for op in ops:
        if isinstance(op, tuple):
            if len(op) == 3 and op[0] == "put":
                op = Put(op[1], op[2])
            elif len(op) == 2 and op[0] == "delete":
                op = Delete(op[1])
            else:
                raise StorageError(f"not a batch operation: {op!r}")
        if isinstance(op, Put):
            check_key(op.key, max_key)
            check_value(op.value, max_value)
        elif isinstance(op, Delete):
            check_key(op.key, max_key)
        else:
            raise StorageError(f"not a batch operation: {op!r}")
        out.append(op)
    return out


@dataclass
class EngineStats:
    """Numbers that explain an engine. Engine-specific figures go in ``extra``.

    Amplification factors follow the RocksDB definitions: write amplification = bytes written to
    disk / bytes written by the user; read amplification = files (lsm, log, hash) or pages
    (btree) touched per point read; space amplification = bytes on disk / live bytes.
    """

    engine: str
    keys: int = 0
    live_bytes: int = 0  # key + value bytes of the current contents
    disk_bytes: int = 0  # size of every file of the engine
    user_bytes_written: int = 0
    disk_bytes_written: int = 0
    gets: int = 0
    puts: int = 0
    deletes: int = 0
    read_units: int = 0  # files or pages touched by gets
    fsyncs: int = 0
    commits: int = 0  # durable (sync=True) write calls
    compactions: int = 0
    bytes_compacted: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def write_amplification(self) -> float:
        return self.disk_bytes_written / self.user_bytes_written if self.user_bytes_written else 0.0

    @property
    def read_amplification(self) -> float:
        return self.read_units / self.gets if self.gets else 0.0

    @property
    def space_amplification(self) -> float:
        return self.disk_bytes / self.live_bytes if self.live_bytes else 0.0

    @property
    def commits_per_fsync(self) -> float:
        return self.commits / self.fsyncs if self.fsyncs else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["write_amplification"] = round(self.write_amplification, 3)
        d["read_amplification"] = round(self.read_amplification, 3)
        d["space_amplification"] = round(self.space_amplification, 3)
        d["commits_per_fsync"] = round(self.commits_per_fsync, 3)
        return d


class Engine(ABC):
    """Abstract key-value engine. Implementations are thread-safe."""

    kind: ClassVar[str]
    ordered: ClassVar[bool]
    max_key_size: int
    max_value_size: int

    def __init__(self, path: str, fs: FileSystem = REAL_FS):
        self.path = path
        self.fs = fs
        self._closed = False
        self._close_lock = threading.Lock()

    # -- the interface ----------------------------------------------------------------------
    @abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or ``None`` when absent or deleted."""

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self.write_batch([Put(key, value)], sync=sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        """Delete ``key``; deleting an absent key is not an error."""
        self.write_batch([Delete(key)], sync=sync)

    @abstractmethod
    def write_batch(self, ops: Iterable[Op | tuple], *, sync: bool = False) -> None:
        """Apply ``ops`` atomically, in order (the last write to a key wins)."""

    @abstractmethod
    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` for ``start <= key < end`` in key order (descending if
        ``reverse``). ``None`` bounds are open. The scan sees a consistent snapshot."""

    @abstractmethod
    def flush(self) -> None:
        """Push buffered writes to disk files (memtable to SSTable, dirty pages, buffers)."""

    def compact(self) -> None:  # noqa: B027 - optional hook, a no-op where nothing to do
        """Run compaction/merge now and wait for it (tests and benchmarks use this)."""

    @abstractmethod
    def stats(self) -> EngineStats:
        """Current figures; see :class:`EngineStats`."""

    def close(self) -> None:
        """Flush, stop background work, make every write durable, release files.
        Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    @abstractmethod
    def _close(self) -> None: ...

    # -- helpers ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"{self.kind} engine at {self.path} is closed")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}{' closed' if self._closed else ''}>"
