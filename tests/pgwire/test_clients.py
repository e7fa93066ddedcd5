"""Real PostgreSQL clients, unchanged, against cairn's wire server: psql, psycopg 3 (text,
binary, server-side binding, prepared statements, pipeline), asyncpg (extended protocol, binary
codecs, prepared statements, transactions) and pg8000."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest

psycopg = pytest.importorskip("psycopg")


def test_psql_script(pg):
    if shutil.which("psql") is None:
        pytest.fail("psql (Debian's postgresql-client) is needed for this test")
    script = """
\\set ON_ERROR_STOP 0
CREATE TABLE t (id int PRIMARY KEY, name text, score numeric(5,2));
INSERT INTO t VALUES (1, 'ada', 9.5), (2, NULL, 7.25);
SELECT * FROM t ORDER BY id;
SELECT 1/0;
BEGIN;
UPDATE t SET score = score + 1 WHERE id = 2;
COMMIT;
SELECT name IS NULL AS anon, score FROM t WHERE id = 2;
"""
    out = subprocess.run(["psql", pg.dsn(), "-X", "-q", "-A", "-F", "|", "-f", "-"],
                         input=script, capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines() == [
        "id|name|score", "1|ada|9.50", "2||7.25", "(2 rows)",
        "anon|score", "t|8.25", "(1 row)"]
    assert "ERROR:  division by zero" in out.stderr


def test_psql_tls(pg):
    out = subprocess.run(["psql", pg.dsn(sslmode="require"), "-X", "-A", "-t", "-c",
                          "SHOW server_encoding", "-c", "\\conninfo"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "UTF8"
    assert "SSL connection (protocol: TLSv1.3" in out.stdout


def test_psycopg_text_and_binary(pg):
    with psycopg.connect(pg.dsn()) as conn:
        conn.execute("CREATE TABLE v (id int8 PRIMARY KEY, f float8, n numeric, b bool, "
                     "t text, ts timestamptz, d date, u uuid, by bytea, j jsonb)")
        u = uuid.UUID(int=12345)
        ts = dt.datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=dt.UTC)
        row = (1, 1.5, Decimal("12.345"), True, "héllo", ts, dt.date(2024, 2, 29), u,
               b"\x00\xff", {"a": [1, 2]})
        conn.execute("INSERT INTO v VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (*row[:9], psycopg.types.json.Jsonb(row[9])))
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            got = cur.execute("SELECT * FROM v WHERE id = %s", [1]).fetchone()
            assert got == row, binary
        assert conn.execute("SELECT NULL::int, %s::text", [None]).fetchone() == (None, None)


def test_psycopg_prepared_and_errors(pg):
    with psycopg.connect(pg.dsn(), prepare_threshold=0) as conn:
        conn.execute("CREATE TABLE k (id int PRIMARY KEY, v int)")
        for i in range(5):
            conn.execute("INSERT INTO k VALUES (%s, %s)", [i, i * i])  # named, prepared
        assert conn.execute("SELECT sum(v) FROM k WHERE id < %s", [5]).fetchone() == (30,)
        conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO k VALUES (%s, %s)", [1, 1])
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable) as e:
            conn.execute("SELECT * FROM missing")
        assert e.value.diag.statement_position == "15"
        conn.rollback()
        with conn.transaction():
            conn.execute("UPDATE k SET v = 0 WHERE id = %s", [4])
        assert conn.execute("SELECT v FROM k WHERE id = 4").fetchone() == (0,)


def test_psycopg_server_side_cursor_fetches_in_batches(pg):
    with psycopg.connect(pg.dsn()) as conn, conn.transaction():
        cur = conn.execute("SELECT g FROM generate_series(1, 10) AS g")
        assert [r[0] for r in cur] == list(range(1, 11))


def test_psycopg_pipeline(pg):
    with psycopg.connect(pg.dsn()) as conn:
        conn.execute("CREATE TABLE p (id int PRIMARY KEY)")
        with conn.pipeline():
            for i in range(10):
                conn.execute("INSERT INTO p VALUES (%s)", [i])
            cur = conn.execute("SELECT count(*) FROM p")
        assert cur.fetchone() == (10,)


def test_psycopg_listen_notify(pg):
    with psycopg.connect(pg.dsn(), autocommit=True) as listener, \
            psycopg.connect(pg.dsn(), autocommit=True) as sender:
        listener.execute("LISTEN jobs")
        sender.execute("NOTIFY jobs, 'ready'")
        got = next(listener.notifies(timeout=10))
        assert (got.channel, got.payload) == ("jobs", "ready")


def test_psycopg_tls_and_settings(pg):
    with psycopg.connect(pg.dsn(sslmode="require", application_name="app1",
                                options="-c%20TimeZone%3DAsia/Tokyo")) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.info.parameter_status("application_name") == "app1"
        assert conn.execute("SHOW TimeZone").fetchone() == ("Asia/Tokyo",)
        ts = conn.execute("SELECT '2024-01-01 00:00:00+00'::timestamptz").fetchone()[0]
        assert ts.utcoffset() == dt.timedelta(hours=9)


def test_asyncpg(pg):
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> None:
        conn = await asyncpg.connect(pg.dsn())
        try:
            await conn.execute("CREATE TABLE a (id int PRIMARY KEY, name text, amount numeric, "
                               "at timestamptz, ok bool)")
            at = dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC)
            await conn.executemany("INSERT INTO a VALUES ($1, $2, $3, $4, $5)",
                                   [(1, "x", Decimal("1.50"), at, True),
                                    (2, None, Decimal("-3"), at, False)])
            rows = await conn.fetch("SELECT * FROM a WHERE id >= $1 ORDER BY id", 1)
            assert [tuple(r) for r in rows] == [(1, "x", Decimal("1.50"), at, True),
                                                (2, None, Decimal("-3"), at, False)]
            stmt = await conn.prepare("SELECT name FROM a WHERE id = $1")
            assert await stmt.fetchval(1) == "x"
            assert [t.name for t in stmt.get_parameters()] == ["int4"]
            async with conn.transaction():
                await conn.execute("UPDATE a SET ok = NOT ok")
            assert await conn.fetchval("SELECT count(*) FROM a WHERE ok") == 1
            with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
                await conn.fetchval("SELECT 1 / $1::int", 0)
            assert await conn.fetchval("SELECT $1::int8 * 2", 2**40) == 2**41
        finally:
            await conn.close()

    asyncio.run(run())


def test_pg8000(pg):
    pg8000 = pytest.importorskip("pg8000.native")
    conn = pg8000.Connection("cairn", host=pg.host, port=pg.port, database="cairn")
    try:
        conn.run("CREATE TABLE e (id int PRIMARY KEY, v text)")
        conn.run("INSERT INTO e VALUES (:i, :v)", i=1, v="one")
        assert conn.run("SELECT id, v FROM e WHERE id = :i", i=1) == [[1, "one"]]
        assert conn.columns[1]["name"] == "v"
    finally:
        conn.close()


def test_copy_with_psql_and_psycopg(pg, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("1,ada,9.5\n2,,7.25\n3,\"quoted, comma\",1\n")
    dst = tmp_path / "out.txt"
    script = f"""
CREATE TABLE c (id int PRIMARY KEY, name text, score numeric);
\\copy c FROM '{src}' WITH (FORMAT csv)
\\copy c TO '{dst}'
"""
    out = subprocess.run(["psql", pg.dsn(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                         input=script, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = sorted(dst.read_text().splitlines())
    assert lines == ["1\tada\t9.5", "2\t\\N\t7.25", "3\tquoted, comma\t1"]
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        with conn.cursor().copy("COPY c (id, name) FROM STDIN") as cp:
            cp.write_row((4, "tab\there"))
            cp.write_row((5, None))
        assert conn.execute("SELECT name FROM c WHERE id = 4").fetchone() == ("tab\there",)
        with conn.cursor().copy("COPY (SELECT id FROM c WHERE id > 3 ORDER BY id) TO STDOUT"
                                ) as cp:
            assert [r for r in cp.rows()] == [("4",), ("5",)]
        with pytest.raises(psycopg.errors.QueryCanceled), \
                conn.cursor().copy("COPY c FROM STDIN") as cp:
            cp.write_row((6, "x"))
            raise psycopg.errors.QueryCanceled("client gave up")  # psycopg sends CopyFail
        assert conn.execute("SELECT count(*) FROM c").fetchone() == (5,)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e, \
                conn.cursor().copy("COPY c (id) FROM STDIN") as cp:
            cp.write(b"7\nnot a number\n")
        assert "line 2" in str(e.value.diag.context or e.value.diag.message_detail or "")
        assert conn.execute("SELECT count(*) FROM c").fetchone() == (5,)


def test_pipeline_is_one_implicit_transaction(pg):
    """Up to Sync, the extended protocol runs in one transaction (outside BEGIN): a failing
    statement in a pipeline undoes the ones before it, as on PostgreSQL."""
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE pl (id int PRIMARY KEY)")
        with pytest.raises(psycopg.errors.UniqueViolation), conn.pipeline() as pipe:
            conn.execute("INSERT INTO pl VALUES (1)")
            conn.execute("INSERT INTO pl VALUES (2)")
            conn.execute("INSERT INTO pl VALUES (1)")
            pipe.sync()
        assert conn.execute("SELECT count(*) FROM pl").fetchone() == (0,)
        with conn.pipeline():
            conn.execute("INSERT INTO pl VALUES (%s)", [3])
            conn.execute("INSERT INTO pl VALUES (%s)", [4])
        assert conn.execute("SELECT count(*) FROM pl").fetchone() == (2,)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_asyncpg_executemany_is_atomic(pg):
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> int:
        conn = await asyncpg.connect(pg.dsn())
        try:
            await conn.execute("CREATE TABLE em (id int PRIMARY KEY)")
            with pytest.raises(asyncpg.exceptions.UniqueViolationError):
                await conn.executemany("INSERT INTO em VALUES ($1)", [(1,), (2,), (1,)])
            return await conn.fetchval("SELECT count(*) FROM em")
        finally:
            await conn.close()

    assert asyncio.run(run()) == 0
