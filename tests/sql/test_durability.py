"""cairn.sql on disk: the catalog, the rows, the sequences and the roles survive a reopen and
a SIGKILL; every acknowledged commit is there after recovery and nothing half-done is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from cairn.sql import SqlDatabase

CHILD = textwrap.dedent("""
    import sys
    from cairn.sql import SqlDatabase
    sdb = SqlDatabase.open(sys.argv[1])
    s = sdb.connect()
    s.execute("CREATE TABLE IF NOT EXISTS acks (id serial PRIMARY KEY, n int NOT NULL, "
              "pad text)")
    i = 0
    while True:
        i += 1
        s.execute("BEGIN")
        got = s.execute("INSERT INTO acks (n, pad) VALUES ($1, $2) RETURNING id",
                        [i, "x" * 200])[0].rows[0][0]
        s.execute("INSERT INTO acks (n) VALUES ($1)", [-i])
        s.execute("COMMIT")
        print(got, i, flush=True)  # acknowledged: the commit returned
""")


def test_reopen_keeps_catalog_rows_sequences_and_roles(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    sdb = SqlDatabase.open(path)
    s = sdb.connect()
    s.execute("CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL UNIQUE, "
              "price numeric(8,2) CHECK (price > 0))")
    s.execute("CREATE INDEX t_price ON t (price)")
    s.execute("CREATE VIEW cheap AS SELECT name FROM t WHERE price < 5")
    s.execute("CREATE ROLE reader LOGIN PASSWORD 'secret'")
    s.execute("INSERT INTO t (name, price) VALUES ('a', 1.5), ('b', 9)")
    s.execute("ALTER TABLE t ADD COLUMN note text DEFAULT 'n/a'")
    last = s.execute("SELECT nextval('t_id_seq')")[0].rows[0][0]
    s.close()
    sdb.close()

    sdb = SqlDatabase.open(path)
    try:
        s = sdb.connect("reader")
        s.close()
        s = sdb.connect()
        assert s.execute("SELECT id, name, price, note FROM t ORDER BY id")[0].rows == [
            (1, "a", Decimal("1.50"), "n/a"), (2, "b", Decimal("9.00"), "n/a")]
        assert s.execute("SELECT * FROM cheap")[0].rows == [("a",)]
        nxt = s.execute("INSERT INTO t (name, price) VALUES ('c', 2) RETURNING id")[0].rows
        assert nxt[0][0] > last  # a sequence never hands out a number twice
        plan = s.execute("EXPLAIN (COSTS OFF) SELECT * FROM t WHERE price = 9")[0].rows
        assert plan[0][0] == "Index Scan using t_price on t"
        assert sdb.role_secret("reader").startswith("SCRAM-SHA-256$4096:")
    finally:
        sdb.close()


def test_sigkill_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE,
                            text=True, env=env)
    acked: list[tuple[int, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        rid, n = map(int, line.split())
        acked.append((rid, n))
        if len(acked) >= 40:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    sdb = SqlDatabase.open(path)
    try:
        s = sdb.connect()
        rows = dict(s.execute("SELECT id, n FROM acks WHERE n > 0")[0].rows)
        for rid, n in acked:
            assert rows.get(rid) == n
        # each transaction's two rows are there together or not at all
        pos = {n for n in rows.values()}
        neg = {-n for (n,) in s.execute("SELECT n FROM acks WHERE n < 0")[0].rows}
        assert pos == neg
        # the sequence goes on above every id it handed out
        top = max(rows)
        got = s.execute("INSERT INTO acks (n) VALUES (0) RETURNING id")[0].rows[0][0]
        assert got > top
    finally:
        sdb.close()
