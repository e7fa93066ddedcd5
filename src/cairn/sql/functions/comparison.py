"""Comparison operators (= <> < <= > >=) for every comparable type, from its sort key.

Types whose Python values already compare like PostgreSQL's (integers, text in the "C"
collation, booleans, bytea, uuid) use Python's comparison directly; the others (floats with
NaN, numeric, char(n), intervals, jsonb, arrays) compare their ``sort_key``.
"""

from __future__ import annotations

import operator

from cairn.sql.functions.registry import ANYARRAY, OPERATORS
from cairn.sql.types import sqltype as T
from cairn.sql.types.compare import sort_key

_PY = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def direct(op: str):
    f = _PY[op]
    return lambda a, b, ctx: f(a, b)


def keyed(op: str, ka, kb=None):
    f = _PY[op]
    kb = kb or ka
    return lambda a, b, ctx: f(ka(a), kb(b))


def add_comparisons(left: T.SqlType, right: T.SqlType, key=None, key_right=None) -> None:
    for op in _PY:
        fn = direct(op) if key is None else keyed(op, key, key_right)
        OPERATORS.add(op, (left, right), T.BOOL, fn)


_ints = (T.INT2, T.INT4, T.INT8)
for _a in _ints:
    for _b in _ints:
        add_comparisons(_a, _b)


def _float_op(op: str):
    f = _PY[op]
    k = sort_key(T.FLOAT8)

    def cmp(a: float, b: float, ctx) -> bool:
        if a == a and b == b:  # no NaN: Python's comparison (and -0 = 0) is PostgreSQL's
            return f(a, b)
        return f(k(a), k(b))

    return cmp


for _a in (T.FLOAT4, T.FLOAT8):
    for _b in (T.FLOAT4, T.FLOAT8):
        for _op in _PY:
            OPERATORS.add(_op, (_a, _b), T.BOOL, _float_op(_op))
add_comparisons(T.NUMERIC, T.NUMERIC, sort_key(T.NUMERIC))
for _t in (T.TEXT, T.NAME, T.BOOL, T.BYTEA, T.UUID, T.OID):
    add_comparisons(_t, _t)
add_comparisons(T.BPCHAR, T.BPCHAR, sort_key(T.BPCHAR))


def _array_factory(op: str):
    f = _PY[op]

    def make(bound):
        k = sort_key(bound[0])
        return lambda a, b, ctx: f(k(a), k(b))

    return make


for _op in _PY:
    OPERATORS.add(_op, (ANYARRAY, ANYARRAY), T.BOOL, factory=_array_factory(_op))
