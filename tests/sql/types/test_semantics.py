"""Semantics the executor relies on that the corpus cannot show: hash keys agree with
equality, strictness and set-returning shapes, typmod coercion contexts, the evaluation
context (time zone, clocks, random), JSON null versus SQL NULL, and registry errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cairn.sql import errors as E
from cairn.sql import types as T
from cairn.sql.functions import resolve_function, resolve_operator

CTX = T.EvalContext()


@pytest.mark.parametrize(
    ("t", "a", "b"),
    [
        (T.NUMERIC, Decimal("1.0"), Decimal("1.00")),
        (T.NUMERIC, Decimal("NaN"), Decimal("NaN")),
        (T.FLOAT8, -0.0, 0.0),
        (T.FLOAT8, math.nan, float("nan")),
        (T.BPCHAR, "ab  ", "ab"),
        (T.INTERVAL, T.Interval(1, 0, 0), T.Interval(0, 30, 0)),
        (T.JSONB, {"a": [1, Decimal("2.0")]}, {"a": [1, Decimal("2")]}),
        (T.parse_type("numeric[]"), [Decimal("1.0"), None], [Decimal("1"), None]),
    ],
)
def test_equal_values_hash_alike(t, a, b):
    assert T.equal(t, a, b)
    assert T.hash_key(t, a) == T.hash_key(t, b)
    assert T.compare(t, a, b) == 0


def test_unequal_values_hash_apart():
    assert T.hash_key(T.NUMERIC, Decimal("1.5")) != T.hash_key(T.NUMERIC, Decimal("1.50001"))
    assert T.hash_key(T.TEXT, "a") != T.hash_key(T.TEXT, "a ")
    assert not T.equal(T.INTERVAL, T.Interval(1, 0, 0), T.Interval(0, 31, 0))


def test_nan_sorts_above_every_number():
    vals = [math.nan, math.inf, -1.0, 0.0, -math.inf]
    assert [T.format_output(T.FLOAT8, v) for v in sorted(vals, key=T.sort_key(T.FLOAT8))] == [
        "-Infinity",
        "-1",
        "0",
        "Infinity",
        "NaN",
    ]
    nums = [Decimal("NaN"), Decimal("Infinity"), Decimal("-5")]
    assert sorted(nums, key=T.sort_key(T.NUMERIC))[-1].is_nan()


def test_json_null_is_not_sql_null():
    v = T.parse_input(T.JSONB, "null")
    assert v is T.JSON_NULL and v is not None
    field = resolve_operator("->", T.JSONB, T.TEXT)
    assert field.fn({"a": None}, "a", CTX) is T.JSON_NULL  # json null, a value
    assert field.fn({"a": None}, "b", CTX) is None  # missing: SQL NULL
    assert resolve_operator("->>", T.JSONB, T.TEXT).fn({"a": None}, "a", CTX) is None
    assert T.format_output(T.JSONB, T.from_storage(T.JSONB, T.to_storage(T.JSONB, v))) == "null"


def test_strictness_and_set_returning_shapes():
    concat = resolve_function("concat", [T.UNKNOWN, T.INT4])
    assert not concat.strict and concat.call(["a", None], CTX) == "a"
    length = resolve_function("length", [T.TEXT])
    assert length.strict and length.call([None], CTX) is None
    each = resolve_function("jsonb_each", [T.JSONB])
    assert each.retset and [n for n, _ in each.columns] == ["key", "value"]
    assert each.call([{"a": 1}], CTX) == [("a", 1)]
    series = resolve_function("generate_series", [T.INT4, T.INT4])
    assert series.retset and series.call([1, 3], CTX) == [1, 2, 3]
    assert resolve_function("random", []).volatility == "v"
    assert resolve_function("now", []).volatility == "s"
    assert resolve_function("lower", [T.TEXT]).volatility == "i"


def test_context_clocks_zone_and_random():
    t0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    ctx = T.EvalContext(timezone="America/New_York", transaction_timestamp=t0)
    now = resolve_function("now", []).call([], ctx)
    assert now == t0
    assert T.format_output(T.TIMESTAMPTZ, now, ctx) == "2024-01-01 22:04:05-05"
    assert resolve_function("current_date", []).call([], ctx).isoformat() == "2024-01-01"
    with pytest.raises(E.InvalidParameterValue):
        ctx.set_timezone("Mars/Olympus")
    setseed = resolve_function("setseed", [T.FLOAT8])
    rnd = resolve_function("random", [])
    setseed.call([0.5], ctx)
    first = [rnd.call([], ctx) for _ in range(3)]
    setseed.call([0.5], ctx)
    assert [rnd.call([], ctx) for _ in range(3)] == first
    assert all(0.0 <= x < 1.0 for x in first)
    with pytest.raises(E.SqlError) as e:
        setseed.call([2.0], ctx)
    assert str(e.value) == "setseed parameter 2 is out of allowed range [-1,1]"


def test_typmod_coercion_contexts():
    v3 = T.parse_type("varchar", [3])
    assert T.coerce_typmod("abcdef", v3, True) == "abc"
    with pytest.raises(E.StringDataRightTruncation):
        T.coerce_typmod("abcdef", v3, False)
    ts0 = T.parse_type("timestamp", [0])
    v = T.parse_input(T.TIMESTAMP, "2024-01-02 03:04:05.5")
    assert T.format_output(T.TIMESTAMP, T.coerce_typmod(v, ts0, False)) == "2024-01-02 03:04:06"
    arr = T.parse_type("numeric", [4, 1], 1)
    assert T.coerce_typmod([Decimal("1.25"), None], arr, False) == [Decimal("1.3"), None]


def test_registry_errors():
    with pytest.raises(E.UndefinedFunction) as e:
        resolve_operator("-", None, T.TEXT)
    assert str(e.value) == "operator does not exist: - text"
    with pytest.raises(E.AmbiguousFunction) as e:
        resolve_operator("+", T.UNKNOWN, T.UNKNOWN)
    assert e.value.hint == (
        "Could not choose a best candidate operator. You might need to add explicit type casts."
    )
    assert resolve_operator("!=", T.INT4, T.INT4).fn(1, 2, CTX) is True


def test_polymorphic_binding():
    app = resolve_function("array_append", [T.UNKNOWN, T.INT4])
    assert app.result == T.INT4_ARRAY
    assert app.call(["{1}", 2], CTX) == [1, 2]
    typeof = resolve_function("pg_typeof", [T.parse_type("varchar", [3])])
    assert T.format_output(typeof.result, typeof.call(["x"], CTX)) == "character varying"


def test_extra_float_digits_zero_is_postgres_g_format():
    old = T.EvalContext(extra_float_digits=0)
    assert T.format_output(T.FLOAT8, 0.1 + 0.2, old) == "0.3"
    assert T.format_output(T.FLOAT8, 0.1 + 0.2, CTX) == "0.30000000000000004"
    assert T.format_output(T.FLOAT4, 1.0 / 3.0, T.EvalContext(extra_float_digits=-2)) == "0.3333"
