"""COPY in text and CSV: what cairn writes equals what PostgreSQL writes for the same rows,
and what either writes reads back exactly."""

from __future__ import annotations

import uuid

import pytest

from cairn.sql import SqlDatabase, SqlError, connect

ROWS = ("INSERT INTO c VALUES (1, 'ada', NULL, 1.5), (2, 'tab\there', 'back\\slash', -2), "
        "(3, '', 'a,b', 0), (4, 'q\"uote', E'line\\nbreak', 12.25)")
TABLE = "CREATE TABLE c (id int PRIMARY KEY, name text, note text, n numeric(6,2))"


def pg_copy_out(sql: str) -> str:
    import psycopg

    schema = f"copy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"SET search_path = {schema}")
            conn.execute(TABLE)
            conn.execute(ROWS)
            with conn.cursor() as cur, cur.copy(sql) as cp:
                return b"".join(bytes(b) for b in cp).decode()
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture()
def session():
    sdb = SqlDatabase.open(None)
    s = sdb.connect()
    s.execute(TABLE)
    s.execute(ROWS)
    yield s
    s.close()
    sdb.close()


@pytest.mark.parametrize("sql", [
    "COPY c TO STDOUT",
    "COPY c TO STDOUT WITH (FORMAT csv, HEADER true)",
    "COPY (SELECT id, note FROM c ORDER BY id DESC) TO STDOUT WITH (FORMAT csv)",
    "COPY c (name, id) TO STDOUT WITH (DELIMITER '|', NULL 'none')",
])
def test_copy_out_equals_postgresql(session, sql: str, pg_available: bool) -> None:
    if not pg_available:
        pytest.fail("PostgreSQL is the oracle of this test and must answer")
    res, out = session.copy(sql)
    assert out == pg_copy_out(sql)
    assert res.tag == "COPY 4"


@pytest.mark.parametrize("fmt", ["", " WITH (FORMAT csv, HEADER true)"])
def test_copy_round_trip(session, fmt: str) -> None:
    _, out = session.copy(f"COPY c TO STDOUT{fmt}")
    session.execute("CREATE TABLE d (id int PRIMARY KEY, name text, note text, n numeric(6,2))")
    res, _ = session.copy(f"COPY d FROM STDIN{fmt}", out)
    assert res.tag == "COPY 4"
    a = session.execute("SELECT * FROM c ORDER BY id")[0].rows
    b = session.execute("SELECT * FROM d ORDER BY id")[0].rows
    assert a == b


def test_bad_copy_data_names_the_line_and_keeps_nothing(session) -> None:
    with pytest.raises(SqlError) as e:
        session.copy("COPY c FROM STDIN", "10\tx\ty\t1\n11\tz\n")
    assert e.value.sqlstate == "22P04" and 'missing data for column "note"' in str(e.value)
    with pytest.raises(SqlError) as e:
        session.copy("COPY c FROM STDIN", "12\tx\ty\tnot-a-number\n")
    assert e.value.sqlstate == "22P02" and e.value.detail == "COPY c, line 1"
    assert session.execute("SELECT count(*) FROM c")[0].rows == [(4,)]


def test_dbapi_cursor_copy() -> None:
    conn = connect()
    cur = conn.cursor()
    cur.execute(TABLE)
    cur.copy("COPY c (id, name) FROM STDIN WITH (FORMAT csv)", "1,a\n2,b\n")
    assert cur.rowcount == 2
    conn.commit()
    assert cur.copy("COPY c (id, name) TO STDOUT") == "1\ta\n2\tb\n"
    conn.close()
