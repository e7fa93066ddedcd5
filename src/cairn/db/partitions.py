"""Partitioned actual serial execution (H-Store / VoltDB; DDIA ch. 7, "Partitioning").

Serial execution scales past one thread by partitioning the data so that most transactions
touch one partition only: each partition then has its own serial executor, and transactions
of different partitions run side by side, while a transaction that spans partitions must
hold every partition it touches (here: all of them, taken in order, so two never deadlock).

A row's partition is a hash of its primary key's *first* column (as VoltDB partitions a table
by one column: give composite keys the partitioning column first, e.g. ``(warehouse, id)``),
so the partition of a single-partition transaction is named by that value. A transaction
bound to a partition sees only that partition's rows (a scan leaves the others out, as a
VoltDB single-partition procedure's queries do) and gets :class:`PartitionViolation` for a
key of another partition.
"""

from __future__ import annotations

import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cairn.storage.keycodec import KeyCodecError, pack, unpack
from cairn.txn.errors import InvalidParameter, LockTimeout


class SerialPartitions:
    """The serial executors' locks (and, for stored procedures, their threads)."""

    def __init__(self, count: int):
        if type(count) is not int or not 1 <= count <= 1024:
            raise InvalidParameter("serial_partitions must be an int from 1 to 1024")
        self.count = count
        self.locks = [threading.Lock() for _ in range(count)]
        self._executors: dict[int | None, ThreadPoolExecutor] = {}
        self._mu = threading.Lock()

    def of_value(self, value: Any) -> int:
        """The partition of a first-primary-key-column value."""
        if self.count == 1:
            return 0
        if value is None or type(value) not in (int, str, float, bool, bytes):
            raise InvalidParameter(f"a partition key is a scalar value, not {value!r}")
        try:
            return zlib.crc32(pack((value,))) % self.count
        except KeyCodecError as exc:
            raise InvalidParameter(str(exc)) from exc

    def of_pk(self, pkb: bytes) -> int:
        """The partition of a row, from its packed primary key."""
        if self.count == 1:
            return 0
        return zlib.crc32(pack(unpack(pkb)[:1])) % self.count

    def acquire(self, partition: int | None, timeout: float | None) -> list[int]:
        """Hold ``partition`` (None: every one, in order); returns what to release."""
        wanted = list(range(self.count)) if partition is None else [partition]
        deadline = None if timeout is None else time.monotonic() + timeout
        held: list[int] = []
        for p in wanted:
            if deadline is None:
                self.locks[p].acquire()
            elif not self.locks[p].acquire(timeout=max(0.0, deadline - time.monotonic())):
                self.release(held)
                raise LockTimeout("canceling statement due to lock timeout (serial executor "
                                  f"of partition {p})")
            held.append(p)
        return held

    def release(self, held: list[int]) -> None:
        for p in reversed(held):
            self.locks[p].release()

    def executor(self, partition: int | None) -> ThreadPoolExecutor:
        """The thread that runs stored procedures of ``partition`` (None: the coordinator
        of multi-partition procedures)."""
        ex = self._executors.get(partition)
        if ex is None:
            with self._mu:
                ex = self._executors.get(partition)
                if ex is None:
                    name = "all" if partition is None else str(partition)
                    ex = ThreadPoolExecutor(1, thread_name_prefix=f"cairn-serial-{name}")
                    self._executors[partition] = ex
        return ex

    def shutdown(self) -> None:
        with self._mu:
            executors, self._executors = list(self._executors.values()), {}
        for ex in executors:
            ex.shutdown(wait=True)
