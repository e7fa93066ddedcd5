"""The core of the type system: names, OIDs, typmods, text I/O of numbers/text/bool, casts,
operator resolution and arithmetic errors, each checked against PostgreSQL 15's behaviour."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cairn.sql import errors as E
from cairn.sql.types import (
    BOOL,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    NUMERIC,
    TEXT,
    UNKNOWN,
    VARCHAR,
    by_oid,
    find_cast,
    format_output,
    parse_input,
    parse_type,
    resolve_function,
    resolve_operator,
)


@pytest.mark.parametrize(
    ("written", "mods", "dims", "name", "oid", "typmod"),
    [
        ("int", None, 0, "integer", 23, -1),
        ("INT4", None, 0, "integer", 23, -1),
        ("bigint", None, 1, "bigint[]", 1016, -1),
        ("int[]", None, 0, "integer[]", 1007, -1),
        ("character varying", [20], 0, "character varying(20)", 1043, 24),
        ("numeric", [10, 2], 0, "numeric(10,2)", 1700, 655366),
        ("decimal", [10], 0, "numeric(10,0)", 1700, 655364),
        ("double precision", None, 0, "double precision", 701, -1),
        ("float", [10], 0, "real", 700, -1),
        ("char", None, 0, "character(1)", 1042, 5),
        ("timestamptz", None, 0, "timestamp with time zone", 1184, -1),
        ("timestamp", [3], 0, "timestamp(3) without time zone", 1114, 3),
        ("pg_catalog.bool", None, 0, "boolean", 16, -1),
    ],
)
def test_parse_type_names_oids_typmods(written, mods, dims, name, oid, typmod):
    t = parse_type(written, mods, dims)
    assert (t.name, t.oid, t.typmod) == (name, oid, typmod)
    assert by_oid(oid).base == t.base


@pytest.mark.parametrize(
    ("written", "mods", "cls", "message"),
    [
        ("foo", None, E.UndefinedObject, 'type "foo" does not exist'),
        ("varchar", [0], E.InvalidParameterValue, "length for type varchar must be at least 1"),
        ("numeric", [0], E.InvalidParameterValue, "NUMERIC precision 0 must be between 1 and 1000"),
        (
            "numeric",
            [5, 1001],
            E.InvalidParameterValue,
            "NUMERIC scale 1001 must be between -1000 and 1000",
        ),
    ],
)
def test_parse_type_errors(written, mods, cls, message):
    with pytest.raises(cls) as e:
        parse_type(written, mods)
    assert str(e.value) == message
    assert e.value.sqlstate == cls.sqlstate_default


@pytest.mark.parametrize(
    ("t", "text", "out"),
    [
        (INT4, " 42 ", "42"),
        (INT8, "-9223372036854775808", "-9223372036854775808"),
        (FLOAT8, "1e15", "1e+15"),
        (FLOAT8, "1e14", "100000000000000"),
        (FLOAT8, "0.1", "0.1"),
        (FLOAT8, "-0", "-0"),
        (FLOAT8, "1.5e-7", "1.5e-07"),
        (FLOAT8, "inf", "Infinity"),
        (FLOAT8, "nan", "NaN"),
        (FLOAT4, "1e6", "1e+06"),
        (FLOAT4, "3.14159", "3.14159"),
        (NUMERIC, "1e3", "1000"),
        (NUMERIC, "-0.00", "0.00"),
        (NUMERIC, "-inf", "-Infinity"),
        (BOOL, " YES ", "t"),
        (BOOL, "of", "f"),
        (TEXT, "héllo", "héllo"),
    ],
)
def test_text_round_trip(t, text, out):
    assert format_output(t, parse_input(t, text)) == out


@pytest.mark.parametrize(
    ("t", "text", "cls", "message"),
    [
        (INT4, "abc", E.InvalidTextRepresentation, 'invalid input syntax for type integer: "abc"'),
        (
            INT4,
            "99999999999",
            E.NumericValueOutOfRange,
            'value "99999999999" is out of range for type integer',
        ),
        (
            INT2,
            "70000",
            E.NumericValueOutOfRange,
            'value "70000" is out of range for type smallint',
        ),
        (
            FLOAT8,
            "1e-400",
            E.NumericValueOutOfRange,
            '"1e-400" is out of range for type double precision',
        ),
        (FLOAT4, "1e400", E.NumericValueOutOfRange, '"1e400" is out of range for type real'),
        (BOOL, "o", E.InvalidTextRepresentation, 'invalid input syntax for type boolean: "o"'),
        (
            parse_type("varchar", [3]),
            "abcd",
            E.StringDataRightTruncation,
            "value too long for type character varying(3)",
        ),
    ],
)
def test_input_errors(t, text, cls, message):
    with pytest.raises(cls) as e:
        parse_input(t, text)
    assert str(e.value) == message


def test_typmods_on_casts():
    v3 = parse_type("varchar", [3])
    assert find_cast(TEXT, v3, "explicit").apply("abcdef") == "abc"
    with pytest.raises(E.StringDataRightTruncation):
        find_cast(TEXT, v3, "assignment").apply("abcdef")
    assert find_cast(TEXT, v3, "assignment").apply("ab   ") == "ab "
    c = parse_type("char", [4])
    assert find_cast(TEXT, c, "assignment").apply("ab") == "ab  "
    n = parse_type("numeric", [5, 2])
    assert find_cast(NUMERIC, n, "assignment").apply(Decimal("2.345")) == Decimal("2.35")
    assert find_cast(NUMERIC, n, "assignment").apply(Decimal("-2.345")) == Decimal("-2.35")
    with pytest.raises(E.NumericValueOutOfRange) as e:
        find_cast(NUMERIC, parse_type("numeric", [3, 1]), "assignment").apply(Decimal("12345.6"))
    assert e.value.detail == (
        "A field with precision 3, scale 1 must round to an absolute value less than 10^2."
    )
    assert find_cast(FLOAT8, INT4, "assignment").apply(2.5) == 2  # rint: half to even
    assert find_cast(FLOAT8, INT4, "assignment").apply(3.5) == 4
    assert find_cast(NUMERIC, INT4, "assignment").apply(Decimal("2.5")) == 3  # half away
    assert find_cast(FLOAT8, INT4, "implicit") is None
    assert find_cast(INT4, TEXT, "implicit") is None
    assert find_cast(INT4, TEXT, "assignment").apply(5) == "5"
    assert find_cast(TEXT, INT4, "assignment") is None


@pytest.mark.parametrize(
    ("left", "op", "right", "result"),
    [
        (INT4, "+", INT4, INT4),
        (INT4, "+", INT8, INT8),
        (INT2, "*", INT2, INT2),
        (INT4, "+", NUMERIC, NUMERIC),
        (INT4, "+", FLOAT8, FLOAT8),
        (FLOAT4, "*", INT4, FLOAT8),
        (INT4, "+", UNKNOWN, INT4),
        (UNKNOWN, "=", TEXT, BOOL),
        (VARCHAR, "||", VARCHAR, TEXT),
        (UNKNOWN, "||", UNKNOWN, TEXT),
        (INT4, "||", TEXT, TEXT),
    ],
)
def test_operator_resolution(left, op, right, result):
    assert resolve_operator(op, left, right).result == result


def test_operator_errors_and_values():
    with pytest.raises(E.UndefinedFunction) as e:
        resolve_operator("+", INT4, TEXT)
    assert str(e.value) == "operator does not exist: integer + text"
    assert e.value.hint.startswith("No operator matches")
    add = resolve_operator("+", INT4, INT4)
    with pytest.raises(E.NumericValueOutOfRange, match=r"^integer out of range$"):
        add.fn(2**31 - 1, 1, None)
    div = resolve_operator("/", INT4, INT4)
    assert div.fn(-7, 2, None) == -3
    with pytest.raises(E.DivisionByZero, match=r"^division by zero$"):
        div.fn(1, 0, None)
    mod = resolve_operator("%", INT4, INT4)
    assert (mod.fn(5, -3, None), mod.fn(-5, 3, None)) == (2, -2)
    nd = resolve_operator("/", NUMERIC, NUMERIC)
    assert str(nd.fn(Decimal(1), Decimal(3), None)) == "0.33333333333333333333"
    assert str(nd.fn(Decimal(10), Decimal(4), None)) == "2.5000000000000000"
    assert resolve_operator("+", INT4, UNKNOWN).call(1, "2", None) == 3
    assert resolve_operator("||", INT4, TEXT).call(1, "a", None) == "1a"


def test_function_resolution():
    f = resolve_function("length", [VARCHAR])
    assert f.result == INT4 and f.call(["héllo"], None) == 5
    with pytest.raises(E.UndefinedFunction) as e:
        resolve_function("foo", [INT4])
    assert str(e.value) == "function foo(integer) does not exist"
    assert e.value.hint == (
        "No function matches the given name and argument types. "
        "You might need to add explicit type casts."
    )
