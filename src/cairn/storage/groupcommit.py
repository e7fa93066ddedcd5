"""Group commit: concurrent durable writers share one fsync, with PostgreSQL's commit delay.

Each writer appends its record (under the engine's write lock, so records are ordered) and gets
back the file position its record ends at. It then calls :meth:`GroupCommit.sync_to`. If an
fsync that started after its record was written has already finished, the writer is done
without a syscall; otherwise one waiting writer becomes the *leader*, fsyncs once for everybody
who has appended so far, and wakes the others. This is LevelDB's writer queue: with N writers
waiting, one fsync makes N commits durable.

**Commit delay** (PostgreSQL's ``commit_delay`` with ``commit_siblings``, made adaptive). With
Python threads the writers just woken by an fsync need the GIL to come back with their next
record, and a leader that fsyncs at once covers only itself: rounds of 1-2 commits. So the
leader first waits, up to ``commit_delay`` seconds, until as many uncovered writers are queued
as there are *active* durable writers: threads that committed durably within the last
``20 * commit_delay``. One writer alone never waits (nobody else is active); writers that
miss a delay drop out of the count (and threads idle for the window are forgotten), so a
shrinking group costs one delay. Every engine uses this one policy (docs/storage.md,
"Group commit").

A failed fsync is sticky: every writer waiting on it, and every later one, gets
:class:`DurabilityError`, because after a failed fsync the page cache can no longer be trusted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cairn.storage.errors import DurabilityError

DEFAULT_COMMIT_DELAY = 0.0005  # seconds (PostgreSQL's commit_delay: microseconds, default 0)


class GroupCommit:
    def __init__(self, do_sync: Callable[[], None], current_position: Callable[[], int],
                 commit_delay: float = DEFAULT_COMMIT_DELAY):
        """``do_sync`` flushes the log's buffer under the engine's write lock, then fsyncs
        outside it. ``current_position`` is the log's logical end: a number that only grows
        (cumulative bytes across log files), so a rotation does not reset it; an engine that
        rotates its log fsyncs the old file before switching. ``commit_delay`` 0 turns the
        delay off (a leader fsyncs at once)."""
        if not 0 <= commit_delay <= 1:
            raise ValueError(f"commit_delay must be in [0, 1] seconds, not {commit_delay!r}")
        self._do_sync = do_sync
        self._position = current_position
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        self._leader_cond = threading.Condition(lock)  # same lock: "a writer arrived"
        self._durable = 0  # everything before this position is on disk
        self._leader = False
        self._delaying = False
        self._pending: dict[int, int] = {}  # thread id -> position, writers awaiting an fsync
        self._recent: dict[int, float] = {}  # thread id -> last durable commit (monotonic)
        self._failed: DurabilityError | None = None
        self.commit_delay = commit_delay
        self._window = 20 * commit_delay
        self.fsyncs = 0
        self.commits = 0
        self.max_batch = 0
        self.delays = 0  # leader waits that ran to the full commit_delay

    @property
    def durable_position(self) -> int:
        return self._durable

    def _active_writers(self, now: float) -> int:
        horizon = now - self._window
        recent = self._recent
        if len(recent) > 256:  # forget threads long gone
            for tid in [t for t, seen in recent.items() if seen < horizon]:
                del recent[tid]
        return sum(1 for seen in recent.values() if seen >= horizon)

    def sync_to(self, position: int) -> None:
        """Return once every byte before ``position`` is durable."""
        with self._cond:
            now = time.monotonic()
            self._recent[threading.get_ident()] = now
            if self._failed is not None:
                raise self._failed
            if self._durable >= position:
                self.commits += 1
                return
            me = threading.get_ident()
            self._pending[me] = position
            if self._delaying:
                self._leader_cond.notify()
            while self._leader:
                self._cond.wait()
                if self._failed is not None:
                    raise self._failed
                if self._durable >= position:
                    self.commits += 1
                    return
            self._leader = True
            if self.commit_delay:
                self._delay(now)
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
                self._pending.clear()
                self._cond.notify_all()
                raise error
            self._durable = max(self._durable, target)
            waiting = self._pending
            self._pending = {t: p for t, p in waiting.items() if p > target}
            covered = len(waiting) - len(self._pending)
            self.max_batch = max(self.max_batch, covered)
            self.commits += 1
            self._cond.notify_all()

    def _delay(self, now: float) -> None:
        """Leader, holding the lock: wait for the other active writers' records (see above)."""
        want = self._active_writers(now)
        if want <= 1 or len(self._pending) >= want:
            return
        deadline = now + self.commit_delay
        self._delaying = True
        try:
            while len(self._pending) < want:
                left = deadline - time.monotonic()
                if left <= 0:
                    # Whoever did not come back within the delay is no longer counted as
                    # active, so a group that shrank pays this wait once, not every round.
                    self.delays += 1
                    for tid in [t for t in self._recent if t not in self._pending]:
                        del self._recent[tid]
                    return
                self._leader_cond.wait(left)
        finally:
            self._delaying = False

    def fail(self, error: DurabilityError) -> None:
        with self._cond:
            self._failed = error
            self._cond.notify_all()
