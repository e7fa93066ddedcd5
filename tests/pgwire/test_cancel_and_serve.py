"""CancelRequest ends a running statement with 57014 (and only on the connection it names);
`cairn sql serve` prints a DSN that works, keeps its data and its certificate across restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

# A nested loop: cairn.sql's scans check for a cancel every 1024 rows, so the outer side is
# big (a check every ~80k pairs) and the whole join takes about 20 s here uncancelled.
LONG_QUERY = "SELECT count(*) FROM big a, small b WHERE a.id + b.id > 0"


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    """Polls a condition of the server's own state (not a sleep standing in for one)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.timeout(120)
def test_cancel_request_cancels_the_running_statement(pg):
    with psycopg.connect(pg.dsn(), autocommit=True) as busy, \
            psycopg.connect(pg.dsn(), autocommit=True) as other:
        other.execute("CREATE TABLE big (id int PRIMARY KEY)")
        other.execute("INSERT INTO big SELECT g FROM generate_series(1, 12000) AS g")
        other.execute("CREATE TABLE small (id int PRIMARY KEY)")
        other.execute("INSERT INTO small SELECT g FROM generate_series(1, 80) AS g")
        errors: list[BaseException] = []

        def run() -> None:
            try:
                busy.execute(LONG_QUERY)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        pid = busy.info.backend_pid

        def started() -> bool:
            return other.execute("SELECT state FROM pg_stat_activity WHERE pid = %s",
                                 [pid]).fetchone() == ("active",)

        wait_for(started, "the statement to start")
        # cancel_safe: libpq 17's non-blocking cancel (plain cancel() holds the GIL while it
        # waits for the server, and this server runs in the test's own process)
        busy.cancel_safe()
        t.join(60)
        assert not t.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.QueryCanceled)
        assert errors[0].sqlstate == "57014"
        assert str(errors[0]).startswith("canceling statement due to user request")
        assert busy.execute("SELECT 1").fetchone() == (1,)  # the session goes on
        assert other.execute("SELECT 2").fetchone() == (2,)  # the other one never noticed


def serve(data: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cairn.cli", "sql", "serve", "--port", "0",
                             "--data", str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    dsn = proc.stdout.readline().strip()
    assert dsn.startswith("postgresql://cairn@127.0.0.1:"), proc.stderr.read()
    assert dsn.endswith("/cairn")
    return proc, dsn


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_serve_command_restarts_with_its_data_and_certificate(tmp_path):
    data = tmp_path / "db"
    proc, dsn = serve(data)
    try:
        with psycopg.connect(dsn, sslmode="require") as conn:
            conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO kept VALUES (1, 'survives a restart')")
    finally:
        stop(proc)
    cert = (data / "server.crt").read_bytes()
    proc, dsn = serve(data)
    try:
        with psycopg.connect(dsn, sslmode="require") as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("survives a restart",)]
    finally:
        stop(proc)
    assert (data / "server.crt").read_bytes() == cert  # made once, on first start


@pytest.mark.timeout(120)
def test_a_lock_wait_blocks_only_its_own_connection(pg):
    with psycopg.connect(pg.dsn(), autocommit=True) as a, \
            psycopg.connect(pg.dsn(), autocommit=True) as b, \
            psycopg.connect(pg.dsn(), autocommit=True) as c:
        a.execute("CREATE TABLE acct (id int PRIMARY KEY, balance int)")
        a.execute("INSERT INTO acct VALUES (1, 100)")
        a.execute("BEGIN")
        a.execute("UPDATE acct SET balance = balance - 10 WHERE id = 1")
        done: list[int] = []

        def writer() -> None:
            b.execute("UPDATE acct SET balance = balance + 1 WHERE id = 1")
            done.append(1)

        t = threading.Thread(target=writer)
        t.start()
        bpid = b.info.backend_pid

        def waiting() -> bool:
            return c.execute("SELECT state FROM pg_stat_activity WHERE pid = %s",
                             [bpid]).fetchone() == ("active",)

        wait_for(waiting, "b to wait for a's row lock")
        assert c.execute("SELECT 41 + 1").fetchone() == (42,)  # c is not held up
        assert not done  # b still waits for a
        a.execute("COMMIT")
        t.join(60)
        assert done == [1]
        assert c.execute("SELECT balance FROM acct").fetchone() == (91,)
