"""Group commit's commit-delay policy (storage/groupcommit.py), on a stand-in log whose
"fsync" sleeps: many writers share fsyncs, a lone writer never waits, a shrinking group pays
one delay, a failed fsync fails everyone."""

from __future__ import annotations

import threading
import time

import pytest

from cairn.storage.errors import DurabilityError
from cairn.storage.groupcommit import GroupCommit


class FakeLog:
    """Appends bump a position; ``sync`` sleeps like a disk and records what it covered."""

    def __init__(self, fsync_s: float = 0.002, fail: bool = False):
        self.lock = threading.Lock()
        self.position = 0
        self.fsync_s = fsync_s
        self.fail = fail

    def append(self) -> int:
        with self.lock:
            self.position += 1
            return self.position

    def sync(self) -> None:
        time.sleep(self.fsync_s)
        if self.fail:
            raise OSError(5, "injected EIO")


def _writers(gc: GroupCommit, log: FakeLog, threads: int, each: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(each):
                gc.sync_to(log.append())
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def test_eight_writers_share_fsyncs() -> None:
    log = FakeLog()
    gc = GroupCommit(log.sync, lambda: log.position, commit_delay=0.005)
    assert _writers(gc, log, 8, 40) == []
    assert gc.commits == 320
    assert gc.durable_position == log.position
    assert gc.commits / gc.fsyncs >= 4, (gc.commits, gc.fsyncs)
    assert 2 <= gc.max_batch <= 8


def test_without_delay_every_commit_is_still_durable() -> None:
    log = FakeLog(fsync_s=0.0005)
    gc = GroupCommit(log.sync, lambda: log.position, commit_delay=0)
    assert _writers(gc, log, 4, 25) == []
    assert gc.commits == 100 and gc.delays == 0
    assert gc.durable_position == log.position


def test_a_lone_writer_never_waits_for_siblings() -> None:
    log = FakeLog(fsync_s=0)
    gc = GroupCommit(log.sync, lambda: log.position, commit_delay=0.5)
    start = time.monotonic()
    for _ in range(20):
        gc.sync_to(log.append())
    assert gc.delays == 0 and gc.fsyncs == 20
    assert time.monotonic() - start < 0.5  # not even one delay


def test_a_shrinking_group_pays_one_delay_not_one_per_commit() -> None:
    log = FakeLog(fsync_s=0)
    gc = GroupCommit(log.sync, lambda: log.position, commit_delay=0.05)  # window 1 s
    assert _writers(gc, log, 2, 5) == []  # two threads were active together
    before = gc.delays
    for _ in range(10):  # now one alone, well inside the window
        gc.sync_to(log.append())
    assert gc.delays - before <= 1


def test_a_failed_fsync_fails_every_waiter_and_every_later_commit() -> None:
    log = FakeLog(fail=True)
    gc = GroupCommit(log.sync, lambda: log.position, commit_delay=0.001)
    errors = _writers(gc, log, 4, 3)
    assert errors and all(isinstance(e, DurabilityError) for e in errors)
    assert len(errors) == 4  # each thread stops at its first failed commit
    with pytest.raises(DurabilityError):
        gc.sync_to(log.append())
    assert gc.durable_position == 0


def test_commit_delay_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="commit_delay"):
        GroupCommit(lambda: None, lambda: 0, commit_delay=2)


@pytest.mark.parametrize("blocked", [0, 3])
def test_commit_delay_leaves_out_writers_blocked_on_a_lock(blocked: int) -> None:
    """Three other writers committed recently but now wait for a lock (held by the leader,
    say): they cannot join the group, so the leader does not wait for them (PostgreSQL's
    commit_siblings leaves out backends waiting for a lock). Counted, not timed: ``delays``
    is the number of leader waits that ran out."""
    end = [0]
    gc = GroupCommit(lambda: None, lambda: end[0], commit_delay=0.05,
                     blocked=lambda: blocked)
    now = time.monotonic()
    gc._recent.update({-1: now, -2: now, -3: now})  # three recently active writers
    end[0] = 10
    gc.sync_to(10)
    assert gc.durable_position == 10
    assert gc.delays == (0 if blocked else 1)
