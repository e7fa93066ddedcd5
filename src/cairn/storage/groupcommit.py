"""Group commit: concurrent durable writers share one fsync.

Each writer appends its record (under the engine's write lock, so records are ordered) and gets
back the file position its record ends at. It then calls :meth:`GroupCommit.sync_to`. If an
fsync that started after its record was written has already finished, the writer is done
without a syscall; otherwise one waiting writer becomes the leader, fsyncs once for everybody
who has appended so far, and wakes the others. This is PostgreSQL's ``commit_delay`` idea and
LevelDB's writer queue: with N writers waiting, one fsync makes N commits durable.

A failed fsync is sticky: every writer waiting on it, and every later one, gets
:class:`DurabilityError`, because after a failed fsync the page cache can no longer be trusted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cairn.storage.errors import DurabilityError


class GroupCommit:
    def __init__(self, do_sync: Callable[[], None], current_position: Callable[[], int]):
        """``do_sync`` flushes the log's buffer under the engine's write lock, then fsyncs
        outside it. ``current_position`` is the log's logical end: a number that only grows
        (cumulative bytes across log files), so a rotation does not reset it; an engine that
        rotates its log fsyncs the old file before switching."""
        self._do_sync = do_sync
        self._position = current_position
        self._cond = threading.Condition()
        self._durable = 0  # everything before this position is on disk
        self._leader = False
        self._failed: DurabilityError | None = None
        self.fsyncs = 0
        self.commits = 0
        self.max_batch = 0
        self._batch = 0

    @property
    def durable_position(self) -> int:
        return self._durable

    def sync_to(self, position: int) -> None:
        """Return once every byte before ``position`` is durable."""
        with self._cond:
            self._batch += 1
            while True:
                if self._failed is not None:
                    raise self._failed
                if self._durable >= position:
                    self.commits += 1
                    return
                if not self._leader:
                    break
                self._cond.wait()
            self._leader = True
            batch_start = self._batch
        # The leader syncs outside the lock so followers can queue behind it.
        error: DurabilityError | None = None
        target = self._position()
        try:
            self._do_sync()
        except DurabilityError as exc:
            error = exc
        except OSError as exc:
            error = DurabilityError(exc.errno or 5, f"fsync failed: {exc}")
        with self._cond:
            self._leader = False
            self.fsyncs += 1
            if error is not None:
                self._failed = error
                self._cond.notify_all()
                raise error
            self._durable = max(self._durable, target)
            self.max_batch = max(self.max_batch, self._batch - batch_start + 1)
            self._batch = 0
            self.commits += 1
            self._cond.notify_all()

    def fail(self, error: DurabilityError) -> None:
        with self._cond:
            self._failed = error
            self._cond.notify_all()
