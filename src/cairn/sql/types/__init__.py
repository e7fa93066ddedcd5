"""The type system of cairn.sql: PostgreSQL's built-in types, their text and binary forms,
casts, comparison and the heap's storage form.

Values are plain Python objects (see docs/sql_types.md for the table): int, float, Decimal,
bool, str, bytes, uuid.UUID, date/time/datetime, ``Interval``, lists for arrays. Everything a
caller needs is exported here; the per-type modules stay private to the package.
The built-in functions and operators live in ``cairn.sql.functions`` (``resolve_function`` and
``resolve_operator`` are re-exported here lazily, as that package imports this one).
"""

from __future__ import annotations

from typing import Any

from cairn.sql.types.binary import recv_binary, recv_function, send_binary, send_function
from cairn.sql.types.casts import Cast, can_coerce, find_cast
from cairn.sql.types.compare import compare, equal, hash_function, hash_key, sort_key
from cairn.sql.types.context import EvalContext
from cairn.sql.types.datetimes import INF, NINF
from cairn.sql.types.interval import Interval
from cairn.sql.types.io import format_output, input_function, output_function, parse_input
from cairn.sql.types.jsontypes import JSON_NULL
from cairn.sql.types.sqltype import (
    ANYARRAY,
    ANYELEMENT,
    BOOL,
    BPCHAR,
    BYTEA,
    DATE,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT4_ARRAY,
    INT8,
    INTERVAL,
    JSON,
    JSONB,
    NAME,
    NUMERIC,
    OID,
    RECORD,
    REGCLASS,
    REGTYPE,
    TEXT,
    TEXT_ARRAY,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    UNKNOWN,
    UUID,
    VARCHAR,
    VOID,
    SqlType,
    array_of,
    by_oid,
    numeric_precision_scale,
    parse_type,
    with_typmod,
)
from cairn.sql.types.storage import from_storage, storage_functions, to_storage
from cairn.sql.types.typmod import coerce_typmod

_LAZY = {"resolve_function", "resolve_operator", "Function", "Operator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import cairn.sql.functions as f

        return getattr(f, name)
    raise AttributeError(name)


__all__ = [
    "ANYARRAY",
    "ANYELEMENT",
    "BOOL",
    "BPCHAR",
    "BYTEA",
    "DATE",
    "FLOAT4",
    "FLOAT8",
    "INF",
    "INT2",
    "INT4",
    "INT4_ARRAY",
    "INT8",
    "INTERVAL",
    "JSON",
    "JSONB",
    "JSON_NULL",
    "NAME",
    "NINF",
    "NUMERIC",
    "OID",
    "RECORD",
    "REGCLASS",
    "REGTYPE",
    "TEXT",
    "TEXT_ARRAY",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "UNKNOWN",
    "UUID",
    "VARCHAR",
    "VOID",
    "Cast",
    "EvalContext",
    "Interval",
    "SqlType",
    "array_of",
    "by_oid",
    "can_coerce",
    "coerce_typmod",
    "compare",
    "equal",
    "find_cast",
    "format_output",
    "from_storage",
    "hash_function",
    "hash_key",
    "input_function",
    "numeric_precision_scale",
    "output_function",
    "parse_input",
    "parse_type",
    "recv_binary",
    "recv_function",
    "send_binary",
    "send_function",
    "sort_key",
    "storage_functions",
    "to_storage",
    "with_typmod",
]
