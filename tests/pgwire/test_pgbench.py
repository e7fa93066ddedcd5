"""pgbench (libpq, unchanged) drives TPC-B-like transactions through all three of its query
modes; the books must balance afterwards and every committed transaction be in the history."""

from __future__ import annotations

import shutil
import subprocess

import pytest

psycopg = pytest.importorskip("psycopg")

SCHEMA = [  # pgbench's tables, small (pgbench -i's 100,000 accounts take minutes here)
    "CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88))",
    "CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, "
    "filler char(84))",
    "CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, "
    "filler char(84))",
    "CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, "
    "filler char(22))",
    "INSERT INTO pgbench_branches VALUES (1, 0, '')",
    "INSERT INTO pgbench_tellers SELECT g, 1, 0, '' FROM generate_series(1, 10) AS g",
    "INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 200) AS g",
]
# The builtin tpcb-like script with the account id drawn from the rows that exist.
SCRIPT = """\\set aid random(1, 200)
\\set bid 1
\\set tid random(1, 10)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta,
 CURRENT_TIMESTAMP);
END;
"""


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_tpcb_like_balances(pg, tmp_path, mode):
    if shutil.which("pgbench") is None:
        pytest.fail("pgbench (Debian's postgresql-client) is needed for this test")
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        for sql in SCHEMA:
            conn.execute(sql)
    script = tmp_path / "tpcb.sql"
    script.write_text(SCRIPT.replace(",\n CURRENT", ", CURRENT"))
    out = subprocess.run(["pgbench", "-n", "-c", "3", "-t", "15", "-M", mode, "-f",
                          str(script), pg.dsn()], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "number of transactions actually processed: 45/45" in out.stdout
    with psycopg.connect(pg.dsn()) as conn:
        (history, delta), = conn.execute("SELECT count(*), sum(delta) FROM pgbench_history")
        assert history == 45
        for table, col in (("pgbench_accounts", "abalance"), ("pgbench_tellers", "tbalance"),
                           ("pgbench_branches", "bbalance")):
            assert conn.execute(f"SELECT sum({col}) FROM {table}").fetchone() == (delta,)
