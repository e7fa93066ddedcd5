"""Binary wire formats: cairn's send_binary produces exactly PostgreSQL's bytes (checked
through psycopg in binary mode) and recv_binary reads them back to the same value."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.sql import types as T
from cairn.sql.errors import SqlError
from tests.sql.types.difftest import DSN

CASES = [
    ("integer", "42"),
    ("integer", "-2147483648"),
    ("bigint", "-5"),
    ("smallint", "7"),
    ("oid", "4294967295"),
    ("double precision", "0.1"),
    ("double precision", "-Infinity"),
    ("double precision", "NaN"),
    ("real", "1.5"),
    ("numeric", "0"),
    ("numeric", "0.00"),
    ("numeric", "-12345.678900"),
    ("numeric", "1e20"),
    ("numeric", "NaN"),
    ("numeric", "Infinity"),
    ("numeric", "-Infinity"),
    ("numeric", "0.0001"),
    ("numeric", "123456789.000000001"),
    ("numeric", "-0.5"),
    ("boolean", "t"),
    ("boolean", "f"),
    ("text", "héllo"),
    ("character varying", ""),
    ("character(3)", "ab"),
    ("name", "pg_class"),
    ("bytea", "\\x0001ff"),
    ("bytea", "\\x"),
    ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("date", "2024-02-29"),
    ("date", "1999-12-31"),
    ("date", "infinity"),
    ("date", "-infinity"),
    ("time", "12:34:56.789"),
    ("time", "00:00:00"),
    ("timestamp", "2024-01-02 03:04:05.123456"),
    ("timestamp", "1970-01-01"),
    ("timestamp", "infinity"),
    ("timestamp with time zone", "2024-01-02 03:04:05+02"),
    ("interval", "1 year 2 mons 3 days 04:05:06.5"),
    ("interval", "-1 days +02:03"),
    ("jsonb", '{"b": [1, 2.50], "a": null}'),
    ("jsonb", "null"),
    ("json", '{"a" : 1}'),
    ("integer[]", "{1,NULL,3}"),
    ("text[]", "{{a,b},{c,NULL}}"),
    ("numeric[]", "{}"),
    ("date[]", "{2024-01-02,infinity}"),
    ("interval[]", '{"1 day"}'),
]


@pytest.fixture(scope="module")
def cur():
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SET timezone = 'UTC'")
        yield conn.cursor(binary=True)


@pytest.mark.parametrize(("typename", "literal"), CASES)
def test_binary_matches_postgres(cur, typename, literal):
    t = T.parse_type(*_split(typename))
    cur.execute(f"SELECT %s::text::{typename}", (literal,), binary=True)
    raw = bytes(cur.pgresult.get_value(0, 0))
    value = T.parse_input(t, literal, T.EvalContext())
    assert T.send_binary(t, value) == raw
    back = T.recv_binary(t, raw)
    assert T.format_output(t, back, T.EvalContext()) == T.format_output(t, value, T.EvalContext())


def _split(typename: str) -> tuple:
    if "(" in typename:
        base, _, mod = typename.partition("(")
        return base, [int(mod.rstrip(")"))]
    return (typename,)


def test_binary_rejects_bad_data():
    with pytest.raises(SqlError):
        T.recv_binary(T.INT4, b"\x00\x01")
    with pytest.raises(SqlError) as e:
        T.recv_binary(T.NUMERIC, b"\x00\x01\x00\x00\x00\x00\x00\x00\x27\x10")  # digit 10000
    assert e.value.sqlstate == "22P03"
    with pytest.raises(SqlError):
        T.recv_binary(T.JSONB, b"\x02{}")


# --- generated values: send_binary equals PostgreSQL's bytes --------------------------------


_GEN = {
    "numeric": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.builds(
            lambda i, f: f"{i}.{f}", st.integers(-(10**25), 10**25), st.integers(0, 10**9).map(str)
        ),
    ),
    "double precision": st.floats(allow_nan=False).map(repr),
    "timestamp": st.datetimes().map(lambda v: v.isoformat(sep=" ")),
    "interval": st.builds(
        lambda m, d, s: f"{m} mons {d} days {s} microseconds",
        st.integers(-1000, 1000),
        st.integers(-1000, 1000),
        st.integers(-(10**12), 10**12),
    ),
    "text[]": st.lists(
        st.one_of(st.none(), st.text(alphabet='ab ,"\\{}', max_size=4)), max_size=4
    ).map(
        lambda xs: (
            "{"
            + ",".join(
                "NULL" if x is None else '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for x in xs
            )
            + "}"
        )
    ),
}


@pytest.mark.parametrize("typename", list(_GEN))
def test_generated_binary_matches_postgres(cur, typename):
    t = T.parse_type(typename)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_GEN[typename])
    def check(literal: str) -> None:
        cur.execute(f"SELECT %s::text::{typename}", (literal,), binary=True)
        raw = bytes(cur.pgresult.get_value(0, 0))
        value = T.parse_input(t, literal, T.EvalContext())
        assert T.send_binary(t, value) == raw, literal
        assert T.send_binary(t, T.recv_binary(t, raw)) == raw

    check()
