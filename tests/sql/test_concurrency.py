"""Concurrent sessions through SQL: read committed's re-check of changed rows, first-updater
wins at repeatable read, the migration lock queue and lock_timeout, SKIP LOCKED job queues,
deadlocks, LISTEN/NOTIFY. Waits are detected in the lock table, never by sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cairn.sql import SqlDatabase, SqlError


@pytest.fixture()
def sdb():
    d = SqlDatabase.open(None)
    s = d.connect()
    s.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    s.execute("INSERT INTO t VALUES (1, 0), (2, 0), (3, 0)")
    s.close()
    yield d
    d.close()


def waiting(d: SqlDatabase, n: int = 1, timeout: float = 20.0) -> None:
    """Until ``n`` lock requests wait in the lock table (a safety bound, not a sleep)."""
    deadline = time.monotonic() + timeout
    while sum(1 for li in d.db.locks() if not li.granted) < n:
        if time.monotonic() > deadline:
            raise AssertionError("the session never started waiting")
        time.sleep(0.005)


class Background:
    """A statement run on another thread; ``result()`` joins it."""

    def __init__(self, fn: Callable[[], Any]):
        self.value: Any = None
        self.error: BaseException | None = None
        self.t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.t.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.value = fn()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def result(self, timeout: float = 30.0) -> Any:
        self.t.join(timeout)
        assert not self.t.is_alive(), "the statement never finished"
        if self.error is not None:
            raise self.error
        return self.value


def test_read_committed_rechecks_a_row_changed_while_it_waited(sdb) -> None:
    a, b = sdb.connect(), sdb.connect()
    a.execute("BEGIN")
    a.execute("UPDATE t SET v = 1 WHERE id = 1")
    bg = Background(lambda: b.execute("UPDATE t SET v = v + 10 WHERE v = 0")[0].tag)
    waiting(sdb)
    a.execute("COMMIT")
    assert bg.result() == "UPDATE 2"  # row 1 no longer has v = 0: skipped, as PostgreSQL
    assert a.execute("SELECT id, v FROM t ORDER BY id")[0].rows == [(1, 1), (2, 10), (3, 10)]


def test_read_committed_update_builds_on_the_committed_value(sdb) -> None:
    a, b = sdb.connect(), sdb.connect()
    a.execute("BEGIN")
    a.execute("UPDATE t SET v = v + 1 WHERE id = 2")
    bg = Background(lambda: b.execute("UPDATE t SET v = v + 1 WHERE id = 2"))
    waiting(sdb)
    a.execute("COMMIT")
    bg.result()
    assert a.execute("SELECT v FROM t WHERE id = 2")[0].rows == [(2,)]  # no lost update


def test_repeatable_read_first_updater_wins(sdb) -> None:
    a, b = sdb.connect(), sdb.connect()
    b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    b.execute("SELECT v FROM t WHERE id = 1")
    a.execute("UPDATE t SET v = 7 WHERE id = 1")
    with pytest.raises(SqlError) as e:
        b.execute("UPDATE t SET v = v + 1 WHERE id = 1")
    assert e.value.sqlstate == "40001"
    with pytest.raises(SqlError) as e:
        b.execute("SELECT 1")
    assert e.value.sqlstate == "25P02"
    assert b.execute("ROLLBACK")[0].tag == "ROLLBACK"


def test_migration_gotcha_and_lock_timeout(sdb) -> None:
    """ALTER TABLE waits behind a long reader, and every later reader waits behind it; with
    lock_timeout the ALTER gives up and readers go on."""
    reader, migrator, later = sdb.connect(), sdb.connect(), sdb.connect()
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t")  # holds ACCESS SHARE until it ends
    alter = Background(lambda: migrator.execute("ALTER TABLE t ADD COLUMN w int"))
    waiting(sdb, 1)
    select = Background(lambda: later.execute("SELECT count(*) FROM t")[0].rows)
    waiting(sdb, 2)  # the later SELECT queues behind the waiting ACCESS EXCLUSIVE
    assert alter.t.is_alive() and select.t.is_alive()
    reader.execute("COMMIT")
    alter.result()
    assert select.result() == [(3,)]
    # the cure: a lock_timeout on the migration
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t")
    migrator.execute("SET lock_timeout = '50ms'")
    with pytest.raises(SqlError) as e:
        migrator.execute("ALTER TABLE t ADD COLUMN x int")
    assert e.value.sqlstate == "55P03"
    assert later.execute("SELECT count(*) FROM t")[0].rows == [(3,)]
    reader.execute("COMMIT")


def test_skip_locked_hands_each_job_to_one_worker(sdb) -> None:
    a, b = sdb.connect(), sdb.connect()
    a.execute("BEGIN")
    got_a = a.execute("SELECT id FROM t WHERE v = 0 ORDER BY id LIMIT 1 FOR UPDATE "
                      "SKIP LOCKED")[0].rows
    b.execute("BEGIN")
    got_b = b.execute("SELECT id FROM t WHERE v = 0 ORDER BY id LIMIT 1 FOR UPDATE "
                      "SKIP LOCKED")[0].rows
    assert got_a == [(1,)] and got_b == [(2,)]
    with pytest.raises(SqlError) as e:
        b.execute("SELECT id FROM t WHERE id = 1 FOR UPDATE NOWAIT")
    assert e.value.sqlstate == "55P03"
    a.execute("ROLLBACK")
    b.execute("ROLLBACK")


def test_deadlock_is_detected_and_one_side_survives(sdb) -> None:
    a, b = sdb.connect(), sdb.connect()
    a.execute("BEGIN")
    b.execute("BEGIN")
    a.execute("UPDATE t SET v = 1 WHERE id = 1")
    b.execute("UPDATE t SET v = 2 WHERE id = 2")
    bg = Background(lambda: a.execute("UPDATE t SET v = 1 WHERE id = 2"))
    waiting(sdb)
    with pytest.raises(SqlError) as e:
        b.execute("UPDATE t SET v = 2 WHERE id = 1")
    assert e.value.sqlstate == "40P01"
    b.execute("ROLLBACK")
    bg.result()
    a.execute("COMMIT")
    assert a.execute("SELECT v FROM t WHERE id IN (1, 2) ORDER BY id")[0].rows == [(1,), (1,)]


def test_notify_is_delivered_at_commit_only(sdb) -> None:
    listener, sender = sdb.connect(), sdb.connect()
    listener.execute("LISTEN jobs")
    sender.execute("BEGIN")
    sender.execute("NOTIFY jobs, 'one'")
    sender.execute("SELECT pg_notify('jobs', 'two')")
    assert listener.notifications == []
    sender.execute("COMMIT")
    assert [(n.channel, n.payload) for n in listener.notifications] == [("jobs", "one"),
                                                                          ("jobs", "two")]
    assert {n.pid for n in listener.notifications} == {sender.pid}
    sender.execute("BEGIN")
    sender.execute("NOTIFY jobs, 'lost'")
    sender.execute("ROLLBACK")
    assert len(listener.notifications) == 2
