"""Expressions: name resolution, type resolution, and compilation into Python closures.

The analyzer half of PostgreSQL's parse analysis (parse_expr.c, parse_oper.c, parse_func.c,
parse_coerce.c) and the executor half (execExpr*.c) in one pass: each expression node is
resolved against the scope (which columns the FROM clause makes visible), typed by
PostgreSQL's rules (operator and function resolution, untyped literals taking the type their
context asks for, casts in the implicit / assignment / explicit contexts), and compiled into a
closure ``fn(row, ex)``: ``row`` is the tuple of the current input row, ``ex`` the execution
state (parameters, session context, outer rows of correlated subqueries). Compiling once and
calling per row is what makes a Python executor bearable; constant subtrees are folded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.errors import SqlError

Fn = Callable[[tuple, Any], Any]


@dataclass
class Bound:
    """A compiled expression: its type and its closure. ``const`` marks a folded constant
    (``value`` holds it); ``unknown_text`` is the text of an untyped string literal."""

    type: T.SqlType
    fn: Fn
    const: bool = False
    value: Any = None
    unknown_text: str | None = None
    is_param: bool = False
    retset: bool = False  # a set-returning function call
    # an untyped parameter ($n whose type the client left open): told the type its context
    # wants, once, so that Describe can report it (PostgreSQL's parameter type inference)
    infer: Callable[[T.SqlType], None] | None = None
    # a plain column of the scope (index into the row), for index selection and EXPLAIN
    column: int | None = None
    text: str = ""


def const(t: T.SqlType, value: Any, text: str = "") -> Bound:
    return Bound(t, lambda row, ex, v=value: v, True, value, text=text)


@dataclass
class ScopeColumn:
    table: str | None  # the range variable's alias
    name: str
    type: T.SqlType
    hidden: bool = False  # not expanded by *


@dataclass
class Scope:
    """The columns a FROM clause makes visible, in row order; ``outer`` for correlation."""

    columns: list[ScopeColumn] = field(default_factory=list)
    outer: Scope | None = None
    # set when a correlated reference into this scope's outer scopes was compiled
    correlated: bool = False

    def find(self, fields_: list[str], pos: int) -> tuple[int, ScopeColumn] | None:
        if len(fields_) == 1:
            name = fields_[0]
            hits = [(i, c) for i, c in enumerate(self.columns) if c.name == name]
        else:
            table, name = fields_[-2], fields_[-1]
            hits = [(i, c) for i, c in enumerate(self.columns)
                    if c.table == table and c.name == name]
            if not hits and not any(c.table == table for c in self.columns):
                return None
            if not hits:
                raise SqlError(f"column {table}.{name} does not exist", sqlstate="42703",
                               position=pos + 1)
        if len(hits) > 1 and len(fields_) == 1:
            # the merged column of JOIN ... USING: the visible one answers for the name
            visible = [h for h in hits if not h[1].hidden]
            if len(visible) == 1:
                return visible[0]
        if len(hits) > 1:
            # USING/NATURAL joins merge their columns: several hits of one merged column
            first = hits[0]
            if all(h[1].table is None for h in hits[1:]) and first[1].table is None:
                return first
            raise SqlError(f'column reference "{fields_[-1]}" is ambiguous', sqlstate="42702",
                           position=pos + 1)
        return hits[0] if hits else None

    def has_table(self, name: str) -> bool:
        return any(c.table == name for c in self.columns)


def ast_key(node: Any) -> Any:
    """A structural key of a parse tree that ignores positions: GROUP BY matching."""
    if isinstance(node, a.Node):
        return (type(node).__name__, *(
            ast_key(getattr(node, f.name)) for f in fields(node) if f.name != "pos"))
    if isinstance(node, list | tuple):
        return tuple(ast_key(x) for x in node)
    return node


def type_from_name(tn: a.TypeName) -> T.SqlType:
    names = [n for n in tn.names if n != "pg_catalog"]
    name = " ".join(names)
    if tn.with_tz is True:
        name = {"timestamp": "timestamp with time zone", "time": "time with time zone"}.get(
            name, name)
    elif tn.with_tz is False:
        name = {"timestamp": "timestamp without time zone",
                "time": "time without time zone"}.get(name, name)
    try:
        return T.parse_type(name, tn.typmods or None, tn.array_dims)
    except SqlError as exc:
        if exc.position is None and tn.pos >= 0:
            exc.position = tn.pos + 1
        raise


# -- coercion -------------------------------------------------------------------------------
def coerce(b: Bound, target: T.SqlType, context: str, ctx: Any, pos: int = -1,
           what: str = "") -> Bound:
    """``b`` converted to ``target`` in ``context`` ("implicit", "assignment", "explicit"),
    or 42804 (datatype mismatch) / 42846 (cannot cast) as PostgreSQL reports them."""
    src = b.type
    if src == target:
        return b
    if src.oid == T.UNKNOWN.oid and b.infer is not None:
        b.infer(target)
        pf = b.fn
        parse = T.input_function(target.base)

        def param_in(row: tuple, ex: Any) -> Any:
            v = pf(row, ex)
            if isinstance(v, str):
                v = parse(v, ex.ctx)
                return T.coerce_typmod(v, target, context == "explicit", ex.ctx)
            return v
        return Bound(target, param_in, is_param=True, text=b.text)
    if src.oid == T.UNKNOWN.oid and b.const:
        if b.value is None:
            return const(target, None)
        try:
            v = T.parse_input(target.base, b.value, ctx)
            v = T.coerce_typmod(v, target, context == "explicit", ctx)
        except SqlError as exc:
            if exc.position is None and pos >= 0:
                exc.position = pos + 1
            raise
        return const(target, v, b.text)
    cast = T.find_cast(src, target, context)
    if cast is None:
        if context == "explicit":
            raise SqlError(f"cannot cast type {src.name} to {target.name}", sqlstate="42846",
                           position=pos + 1 if pos >= 0 else None)
        if what:
            raise SqlError(what.format(src=src.name, dst=target.name), sqlstate="42804",
                           hint="You will need to rewrite or cast the expression.",
                           position=pos + 1 if pos >= 0 else None)
        raise SqlError(f"argument of type {src.name} cannot be converted to {target.name}",
                       sqlstate="42804", position=pos + 1 if pos >= 0 else None)
    f = cast.fn
    inner = b.fn
    if b.const:
        v = None if b.value is None else f(b.value, ctx)
        return const(target, v, b.text)

    def run(row: tuple, ex: Any) -> Any:
        v = inner(row, ex)
        return None if v is None else f(v, ex.ctx)
    return Bound(target, run, text=b.text)


def common_type(items: list[Bound], what: str, pos: int = -1) -> T.SqlType:
    """PostgreSQL's select_common_type for CASE, COALESCE, UNION, VALUES and arrays."""
    known = [b.type for b in items if b.type.oid != T.UNKNOWN.oid]
    if not known:
        return T.TEXT
    best = known[0].base if known[0].typmod != -1 and not all(
        t == known[0] for t in known) else known[0]
    for t in known[1:]:
        if t.base == best.base:
            continue
        if t.category != best.category:
            raise SqlError(f"{what} types {best.name} and {t.name} cannot be matched",
                           sqlstate="42804", position=pos + 1 if pos >= 0 else None)
        if T.can_coerce(best, t, "implicit") and (t.preferred or not T.can_coerce(
                t, best, "implicit")):
            best = t
        elif not T.can_coerce(t, best, "implicit"):
            raise SqlError(f"{what} types {best.name} and {t.name} cannot be matched",
                           sqlstate="42804", position=pos + 1 if pos >= 0 else None)
    return best


def to_bool(b: Bound, ctx: Any, what: str, pos: int) -> Bound:
    if b.type == T.BOOL:
        return b
    if b.type.oid == T.UNKNOWN.oid:
        return coerce(b, T.BOOL, "implicit", ctx, pos)
    raise SqlError(f"argument of {what} must be type boolean, not type {b.type.name}",
                   sqlstate="42804", position=pos + 1 if pos >= 0 else None)


# -- three-valued logic ---------------------------------------------------------------------
def and_fn(fns: list[Fn]) -> Fn:
    if len(fns) == 2:
        f1, f2 = fns

        def and2(row: tuple, ex: Any) -> Any:
            x = f1(row, ex)
            if x is False:
                return False
            y = f2(row, ex)
            if y is False:
                return False
            return None if x is None or y is None else True
        return and2

    def and_n(row: tuple, ex: Any) -> Any:
        unknown = False
        for f in fns:
            v = f(row, ex)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True
    return and_n


def conjunction(fns: list[Fn]) -> Fn | None:
    """All of ``fns`` (three-valued AND): None for no condition, the one itself for one."""
    if not fns:
        return None
    return fns[0] if len(fns) == 1 else and_fn(fns)


def or_fn(fns: list[Fn]) -> Fn:
    def or_n(row: tuple, ex: Any) -> Any:
        unknown = False
        for f in fns:
            v = f(row, ex)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False
    return or_n
