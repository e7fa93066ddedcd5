"""Query planning: parse trees of queries into executor nodes.

The analyzer and planner of PostgreSQL in one pass, in the order PostgreSQL evaluates a query:
FROM (scans and joins; WHERE conjuncts pushed down to the scan they mention, equalities between
two inputs turned into hash-join keys), WHERE, GROUP BY and aggregates, HAVING, the select
list, DISTINCT, ORDER BY, LIMIT/OFFSET. A scan of a base table hands cairn.db a predicate it
can plan (primary-key points, index ranges), so that the rows read, and the SSI predicate
locks taken, are those of the chosen access path.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cairn.sql import ast as a
from cairn.sql import joinorder as JO
from cairn.sql import plan as P
from cairn.sql import types as T
from cairn.sql import window as W
from cairn.sql.catalog import CatalogView, Relation
from cairn.sql.errors import SqlError
from cairn.sql.expr import (
    Bound,
    Scope,
    ScopeColumn,
    and_fn,
    ast_key,
    coerce,
    common_type,
    conjunction,
    const,
    or_fn,
    to_bool,
    type_from_name,
)

_AGGS = {"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg",
         "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg"}
_CMP_OPS = {"=", "<", "<=", ">", ">="}
_ADVISORY = {f"pg_{t}advisory_{x}lock{s}" for t in ("", "try_") for x in ("", "xact_")
             for s in ("", "_shared")} | {"pg_advisory_unlock", "pg_advisory_unlock_shared",
                                          "pg_advisory_unlock_all"}
_SESSION_FUNCS = {"current_database", "pg_get_userbyid", "pg_table_is_visible",
                  "pg_get_expr", "obj_description", "col_description", "shobj_description",
                  "pg_get_indexdef", "pg_get_constraintdef", "has_table_privilege",
                  "pg_backend_pid", "pg_cancel_backend", "pg_terminate_backend",
                  "format_type", "pg_encoding_to_char", "pg_get_viewdef",
                  "pg_relation_size", "pg_total_relation_size", "pg_is_in_recovery"}
_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class ExecState:
    """What compiled expressions and plan nodes read at run time."""

    tx: Any
    params: list[Any]
    ctx: T.EvalContext
    session: Any = None
    outer: list[tuple] = field(default_factory=list)
    materialized: dict[Any, Any] = field(default_factory=dict)
    deadline: float | None = None  # statement_timeout, as a time.monotonic() value

    def check(self) -> None:
        """Interrupt points (scans call it every few rows): a CancelRequest or
        statement_timeout ends the statement with 57014, as in PostgreSQL."""
        s = self.session
        if s is not None and s.cancel_requested:
            s.cancel_requested = False
            raise SqlError("canceling statement due to user request", sqlstate="57014")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SqlError("canceling statement due to statement timeout", sqlstate="57014")


@dataclass
class AggContext:
    """Binding the select list of a grouped query: group keys and aggregates map to slots."""

    group_keys: list[Any]  # ast_key of each GROUP BY expression
    group_bound: list[Bound]
    input_scope: Scope
    aggs: list[P.AggSpec] = field(default_factory=list)
    agg_types: list[T.SqlType] = field(default_factory=list)
    agg_keys: list[Any] = field(default_factory=list)


@dataclass
class PlannedQuery:
    node: P.PlanNode
    names: list[str]
    types: list[T.SqlType]
    volatile: bool = True  # calls a volatile function (set by the session's plan cache)
    columns: list[Any] | None = None  # the result's Column records, made once
    # untyped outputs' parameter inference hooks (INSERT ... SELECT $1 learns $1's type)
    infers: list[Any] | None = None


@dataclass
class Cte:
    name: str
    planned: PlannedQuery | None
    node: P.PlanNode | None = None  # Materialize or WorkTableScan
    recursive_source: P.RecursiveUnion | None = None


@functools.lru_cache(maxsize=4096)
def _resolve_operator(op: str, left: T.SqlType | None, right: T.SqlType) -> Any:
    """Operator resolution depends only on the name and the argument types: memoized."""
    return T.resolve_operator(op, left, right)


@functools.lru_cache(maxsize=4096)
def _resolve_function(name: str, args: tuple[T.SqlType, ...]) -> Any:
    return T.resolve_function(name, list(args))


def _hasher(t: T.SqlType) -> Callable[[Any], Any]:
    return T.hash_function(t)


class Planner:
    """Plans the queries of one statement for one session."""

    def __init__(self, catalog: CatalogView, search_path: list[str], ctx: T.EvalContext,
                 param_types: list[T.SqlType], session: Any = None):
        self.catalog = catalog
        self.search_path = search_path
        self.ctx = ctx
        self.param_types = param_types
        self.session = session
        self.ctes: list[dict[str, Cte]] = []
        self.volatile = False
        # a plan that must not be reused: it read something at plan time that can change
        self.volatile_plan = False
        self.read_relations: list[Relation] = []
        self.inferred: dict[int, T.SqlType] = {}  # $n (0-based) -> type from its context
        self.clause = ""  # the clause being bound, for "not allowed in WHERE" messages
        # window functions of the SELECT list being bound (None where none are allowed)
        self.windows: list[W.WindowFunc] | None = None
        self.window_defs: dict[str, a.WindowDef] = {}
        # the command whose row-level security policies the next base-table scan takes
        # (an UPDATE/DELETE target); every other scan takes the SELECT policies
        self.target_command: str | None = None
        self.target_scan: ScanBuilder | None = None  # the DML target's scan (from_where)
        self.depth = 0  # nesting of plan_query
        self.dml_ctes: list[DmlCteNode] = []  # data-modifying WITH statements to run first
        # INSERT ... SELECT: the top query's untyped outputs ('5', $1) stay unknown, so that
        # the target columns give them their types (PostgreSQL's rule), not text
        self.unknown_outputs = False
        # subqueries being planned: (the scope outside them, [correlated?])
        self.sublinks: list[tuple[Scope, list[bool]]] = []

    # ======================================================================================
    # expressions
    # ======================================================================================
    def bind(self, node: a.Node, scope: Scope, agg: AggContext | None = None) -> Bound:
        if agg is not None:
            k = ast_key(node)
            for i, gk in enumerate(agg.group_keys):
                if gk == k:
                    t = agg.group_bound[i].type
                    return Bound(t, lambda row, ex, i=i: row[i], column=i,
                                 text=agg.group_bound[i].text)
        m = getattr(self, "_b_" + type(node).__name__, None)
        if m is None:
            raise SqlError(f"{type(node).__name__} is not supported here", sqlstate="0A000")
        return m(node, scope, agg)

    def _b_Const(self, n: a.Const, scope: Scope, agg: AggContext | None) -> Bound:
        k = n.kind
        if k == "integer":
            v = int(n.value)
            if -2**31 <= v < 2**31:
                return const(T.INT4, v, n.value)
            if -2**63 <= v < 2**63:
                return const(T.INT8, v, n.value)
            return const(T.NUMERIC, T.parse_input(T.NUMERIC, n.value), n.value)
        if k == "numeric":  # 1e3 is 1000, as PostgreSQL's numeric input reads it
            return const(T.NUMERIC, T.parse_input(T.NUMERIC, n.value), n.value)
        if k == "bool":
            return const(T.BOOL, n.value, "true" if n.value else "false")
        if k == "null":
            b = const(T.UNKNOWN, None, "NULL")
            return b
        if k == "bitstring":
            raise SqlError("bit strings are not supported", sqlstate="0A000",
                           position=n.pos + 1)
        b = const(T.UNKNOWN, n.value, f"'{n.value}'::text")
        b.unknown_text = n.value
        return b

    def _b_Param(self, n: a.Param, scope: Scope, agg: AggContext | None) -> Bound:
        i = n.number - 1
        if i >= len(self.param_types):
            raise SqlError(f"there is no parameter ${n.number}", sqlstate="42P02",
                           position=n.pos + 1)
        t = self.param_types[i]
        b = Bound(t or T.UNKNOWN, lambda row, ex, i=i: ex.params[i], is_param=True,
                  text=f"${n.number}")
        if t is None or t.oid == T.UNKNOWN.oid:
            def infer(target: T.SqlType, i: int = i) -> None:
                self.inferred.setdefault(i, target.base)
            b.infer = infer
        return b

    def _b_ColumnRef(self, n: a.ColumnRef, scope: Scope, agg: AggContext | None) -> Bound:
        fields_ = n.fields
        if len(fields_) > 3:
            raise SqlError(f"improper qualified name (too many dotted names): "
                           f"{'.'.join(fields_)}", sqlstate="42601", position=n.pos + 1)
        look = fields_[-2:] if len(fields_) == 3 else fields_
        if agg is not None:
            hit = agg.input_scope.find(look, n.pos)
            if hit is not None:
                col = hit[1]
                shown = f"{col.table}.{col.name}" if col.table else col.name
                raise SqlError(f'column "{shown}" must appear in the GROUP BY clause or be '
                               "used in an aggregate function", sqlstate="42803",
                               position=n.pos + 1)
        else:
            hit = scope.find(look, n.pos)
            if hit is not None:
                i, col = hit
                return Bound(col.type, lambda row, ex, i=i: row[i], column=i, text=col.name)
        # an outer query's column (a correlated subquery)
        depth, sc = 0, scope.outer if agg is None else agg.input_scope.outer
        while sc is not None:
            depth += 1
            hit = sc.find(look, n.pos)
            if hit is not None:
                i, col = hit
                for outside, flag in self.sublinks:
                    o: Scope | None = outside
                    while o is not None:
                        if o is sc:
                            flag[0] = True
                            break
                        o = o.outer
                d = depth
                return Bound(col.type, lambda row, ex, i=i, d=d: ex.outer[-d][i],
                             text=col.name)
            sc = sc.outer
        shown = ".".join(fields_)
        if len(fields_) == 2 and not scope.has_table(fields_[0]):
            raise SqlError(f'missing FROM-clause entry for table "{fields_[0]}"',
                           sqlstate="42P01", position=n.pos + 1)
        raise SqlError(f'column "{shown}" does not exist', sqlstate="42703",
                       position=n.pos + 1)

    def _b_Star(self, n: a.Star, scope: Scope, agg: AggContext | None) -> Bound:
        raise SqlError("row expansion via \"*\" is not supported here", sqlstate="0A000",
                       position=n.pos + 1)

    def _b_Cast(self, n: a.Cast, scope: Scope, agg: AggContext | None) -> Bound:
        target = type_from_name(n.type)
        if target.oid == T.REGCLASS.oid and self.session is not None:
            b = self.bind(n.arg, scope, agg)
            if b.type.category == "S" or b.type.oid == T.UNKNOWN.oid:
                return self.session.regclass(b, n.pos)
        b = self.bind(n.arg, scope, agg)
        out = coerce(b, target, "explicit", self.ctx, n.pos)
        if out is b:
            return b
        if target.typmod != -1 and not out.const:
            inner = out.fn

            def typmod(row: tuple, ex: Any) -> Any:
                return T.coerce_typmod(inner(row, ex), target, True, ex.ctx)
            out = Bound(target, typmod)
        out.text = f"({b.text})::{target.name}"
        return out

    def _b_BinOp(self, n: a.BinOp, scope: Scope, agg: AggContext | None) -> Bound:
        left = self.bind(n.left, scope, agg)
        right = self.bind(n.right, scope, agg)
        return self.operator(n.op, left, right, n.pos)

    def operator(self, op: str, left: Bound | None, right: Bound, pos: int = -1) -> Bound:
        try:
            o = _resolve_operator(op, left.type if left else None, right.type)
        except SqlError as exc:
            if exc.position is None and pos >= 0:
                exc.position = pos + 1
            raise
        text = f"({left.text} {op} {right.text})" if left else f"({op} {right.text})"
        for side, t in ((left, o.left), (right, o.right)):
            if side is not None and side.infer is not None and t is not None:
                side.infer(t)
        if left is None:
            r = self._convert(right, o.casts[0], o.right)
            f = o.fn
            if r.const:
                v = None if (o.strict and r.value is None) else f(r.value, self.ctx)
                return const(o.result, v, text)
            rf = r.fn
            strict = o.strict

            def pre(row: tuple, ex: Any) -> Any:
                v = rf(row, ex)
                if v is None and strict:
                    return None
                return f(v, ex.ctx)
            return Bound(o.result, pre, text=text)
        lb = self._convert(left, o.casts[0], o.left)
        rb = self._convert(right, o.casts[1], o.right)
        f = o.fn
        if lb.const and rb.const:
            if o.strict and (lb.value is None or rb.value is None):
                return const(o.result, None, text)
            return const(o.result, f(lb.value, rb.value, self.ctx), text)
        lf, rf = lb.fn, rb.fn
        if not o.strict:
            return Bound(o.result, lambda row, ex: f(lf(row, ex), rf(row, ex), ex.ctx),
                         text=text)
        if rb.const:
            rv = rb.value
            if rv is None:
                return const(o.result, None, text)

            def op_c(row: tuple, ex: Any) -> Any:
                x = lf(row, ex)
                if x is None:
                    return None
                return f(x, rv, ex.ctx)
            return Bound(o.result, op_c, text=text)

        def op2(row: tuple, ex: Any) -> Any:
            x = lf(row, ex)
            if x is None:
                return None
            y = rf(row, ex)
            if y is None:
                return None
            return f(x, y, ex.ctx)
        return Bound(o.result, op2, text=text)

    def _convert(self, b: Bound, conv: Any, target: T.SqlType | None) -> Bound:
        if conv is None:
            return b
        if b.const:
            v = None if b.value is None else conv(b.value, self.ctx)
            return const(target or b.type, v, b.text)
        inner = b.fn

        def run(row: tuple, ex: Any) -> Any:
            v = inner(row, ex)
            return None if v is None else conv(v, ex.ctx)
        return Bound(target or b.type, run, text=b.text)

    def _b_UnaryOp(self, n: a.UnaryOp, scope: Scope, agg: AggContext | None) -> Bound:
        arg = self.bind(n.arg, scope, agg)
        return self.operator(n.op, None, arg, n.pos)

    def _b_BoolOp(self, n: a.BoolOp, scope: Scope, agg: AggContext | None) -> Bound:
        what = n.op.upper()
        args = [to_bool(self.bind(x, scope, agg), self.ctx, what, n.pos) for x in n.args]
        fns = [b.fn for b in args]
        text = f" {what} ".join(b.text for b in args)
        return Bound(T.BOOL, and_fn(fns) if n.op == "and" else or_fn(fns), text=f"({text})")

    def _b_Not(self, n: a.Not, scope: Scope, agg: AggContext | None) -> Bound:
        b = to_bool(self.bind(n.arg, scope, agg), self.ctx, "NOT", n.pos)
        f = b.fn

        def not_(row: tuple, ex: Any) -> Any:
            v = f(row, ex)
            return None if v is None else not v
        return Bound(T.BOOL, not_, text=f"(NOT {b.text})")

    def _b_IsNull(self, n: a.IsNull, scope: Scope, agg: AggContext | None) -> Bound:
        b = self.bind(n.arg, scope, agg)
        f = b.fn
        if n.negated:
            return Bound(T.BOOL, lambda row, ex: f(row, ex) is not None,
                         text=f"({b.text} IS NOT NULL)")
        return Bound(T.BOOL, lambda row, ex: f(row, ex) is None, text=f"({b.text} IS NULL)")

    def _b_IsBool(self, n: a.IsBool, scope: Scope, agg: AggContext | None) -> Bound:
        b = to_bool(self.bind(n.arg, scope, agg), self.ctx, "IS", n.pos)
        f, want, neg = b.fn, n.value, n.negated
        return Bound(T.BOOL, lambda row, ex: (f(row, ex) is want) != neg)

    def _b_IsDistinct(self, n: a.IsDistinct, scope: Scope, agg: AggContext | None) -> Bound:
        eq = self.operator("=", self.bind(n.left, scope, agg), self.bind(n.right, scope, agg),
                           n.pos)
        left, right = self.bind(n.left, scope, agg), self.bind(n.right, scope, agg)
        lf, rf, ef, neg = left.fn, right.fn, eq.fn, n.negated

        def distinct(row: tuple, ex: Any) -> bool:
            x, y = lf(row, ex), rf(row, ex)
            if x is None or y is None:
                d = (x is None) != (y is None)
            else:
                d = ef(row, ex) is not True
            return d != neg
        return Bound(T.BOOL, distinct)

    def _b_Between(self, n: a.Between, scope: Scope, agg: AggContext | None) -> Bound:
        x = self.bind(n.arg, scope, agg)
        lo, hi = self.bind(n.low, scope, agg), self.bind(n.high, scope, agg)
        ge = self.operator(">=", x, lo, n.pos)
        le = self.operator("<=", x, hi, n.pos)
        fn = and_fn([ge.fn, le.fn])
        if n.symmetric:
            ge2 = self.operator(">=", x, hi, n.pos)
            le2 = self.operator("<=", x, lo, n.pos)
            fn = or_fn([fn, and_fn([ge2.fn, le2.fn])])
        if n.negated:
            inner = fn

            def nb(row: tuple, ex: Any) -> Any:
                v = inner(row, ex)
                return None if v is None else not v
            fn = nb
        return Bound(T.BOOL, fn, text=f"({x.text} BETWEEN {lo.text} AND {hi.text})")

    def _b_InList(self, n: a.InList, scope: Scope, agg: AggContext | None) -> Bound:
        x = self.bind(n.arg, scope, agg)
        items = [self.bind(i, scope, agg) for i in n.items]
        t = common_type([x, *items], "IN", n.pos)
        xc = coerce(x, t, "implicit", self.ctx, n.pos)
        eqs = [self.operator("=", xc, coerce(i, t, "implicit", self.ctx, n.pos), n.pos)
               for i in items]
        fn = or_fn([e.fn for e in eqs])
        if n.negated:
            inner = fn

            def ni(row: tuple, ex: Any) -> Any:
                v = inner(row, ex)
                return None if v is None else not v
            fn = ni
        return Bound(T.BOOL, fn, text=f"({x.text} IN (...))")

    def _b_Like(self, n: a.Like, scope: Scope, agg: AggContext | None) -> Bound:
        x = self.bind(n.arg, scope, agg)
        if n.similar:  # x SIMILAR TO p is x ~ similar_to_escape(p [, escape])
            pat = self.bind(n.pattern, scope, agg)
            args = [pat] + ([self.bind(n.escape, scope, agg)] if n.escape is not None else [])
            rx = self.function("similar_to_escape", args, n.pos)
            return self.operator("!~" if n.negated else "~", x, rx, n.pos)
        pat = self.bind(n.pattern, scope, agg)
        if n.escape is not None:
            esc = self.bind(n.escape, scope, agg)
            pat = self.function("like_escape", [pat, esc], n.pos)
        op = ("!" if n.negated else "") + ("~~*" if n.insensitive else "~~")
        return self.operator(op, x, pat, n.pos)

    def _b_Case(self, n: a.Case, scope: Scope, agg: AggContext | None) -> Bound:
        arg = self.bind(n.arg, scope, agg) if n.arg is not None else None
        conds: list[Bound] = []
        for w, _ in n.whens:
            if arg is not None:
                conds.append(self.operator("=", arg, self.bind(w, scope, agg), n.pos))
            else:
                conds.append(to_bool(self.bind(w, scope, agg), self.ctx, "CASE/WHEN", n.pos))
        results = [self.bind(r, scope, agg) for _, r in n.whens]
        default = self.bind(n.default, scope, agg) if n.default is not None else const(
            T.UNKNOWN, None)
        t = common_type([*results, default], "CASE", n.pos)
        results = [coerce(r, t, "implicit", self.ctx, n.pos) for r in results]
        default = coerce(default, t, "implicit", self.ctx, n.pos)
        pairs = [(c.fn, r.fn) for c, r in zip(conds, results, strict=False)]
        df = default.fn

        def case(row: tuple, ex: Any) -> Any:
            for c, r in pairs:
                if c(row, ex) is True:
                    return r(row, ex)
            return df(row, ex)
        return Bound(t, case, text="CASE ... END")

    def _b_Coalesce(self, n: a.Coalesce, scope: Scope, agg: AggContext | None) -> Bound:
        items = [self.bind(x, scope, agg) for x in n.args]
        t = common_type(items, "COALESCE", n.pos)
        fns = [coerce(b, t, "implicit", self.ctx, n.pos).fn for b in items]

        def coalesce(row: tuple, ex: Any) -> Any:
            for f in fns:
                v = f(row, ex)
                if v is not None:
                    return v
            return None
        return Bound(t, coalesce, text="COALESCE(...)")

    def _b_NullIf(self, n: a.NullIf, scope: Scope, agg: AggContext | None) -> Bound:
        left = self.bind(n.left, scope, agg)
        right = self.bind(n.right, scope, agg)
        eq = self.operator("=", left, right, n.pos)
        lf, ef = left.fn, eq.fn
        t = left.type if left.type.oid != T.UNKNOWN.oid else T.TEXT
        if left.type.oid == T.UNKNOWN.oid:
            lf = coerce(left, T.TEXT, "implicit", self.ctx).fn
        return Bound(t, lambda row, ex: None if ef(row, ex) is True else lf(row, ex))

    def _b_MinMax(self, n: a.MinMax, scope: Scope, agg: AggContext | None) -> Bound:
        items = [self.bind(x, scope, agg) for x in n.args]
        t = common_type(items, n.op.upper(), n.pos)
        fns = [coerce(b, t, "implicit", self.ctx, n.pos).fn for b in items]
        key = T.sort_key(t)
        pick = max if n.op == "greatest" else min

        def mm(row: tuple, ex: Any) -> Any:
            vals = [v for v in (f(row, ex) for f in fns) if v is not None]
            return pick(vals, key=key) if vals else None
        return Bound(t, mm)

    def _b_ArrayExpr(self, n: a.ArrayExpr, scope: Scope, agg: AggContext | None) -> Bound:
        items = [self.bind(x, scope, agg) for x in n.items]
        if not items:
            raise SqlError("cannot determine type of empty array", sqlstate="42P18",
                           hint="Explicitly cast to the desired type, for example "
                                "ARRAY[]::integer[].", position=n.pos + 1)
        t = common_type(items, "ARRAY", n.pos)
        fns = [coerce(b, t, "implicit", self.ctx, n.pos).fn for b in items]
        at = t if t.is_array else T.array_of(t)
        return Bound(at, lambda row, ex: [f(row, ex) for f in fns])

    def _b_Subscript(self, n: a.Subscript, scope: Scope, agg: AggContext | None) -> Bound:
        arr = self.bind(n.arg, scope, agg)
        if not arr.type.is_array:
            raise SqlError(f"cannot subscript type {arr.type.name} because it does not "
                           "support subscripting", sqlstate="42804", position=n.pos + 1)
        af = arr.fn
        if n.is_slice:
            lo = coerce(self.bind(n.index, scope, agg), T.INT4, "assignment", self.ctx).fn \
                if n.index else None
            hi = coerce(self.bind(n.upper, scope, agg), T.INT4, "assignment", self.ctx).fn \
                if n.upper else None

            def sl(row: tuple, ex: Any) -> Any:
                v = af(row, ex)
                if v is None:
                    return None
                a_ = lo(row, ex) if lo else 1
                b_ = hi(row, ex) if hi else len(v)
                if a_ is None or b_ is None:
                    return None
                return v[max(a_, 1) - 1:max(b_, 0)]
            return Bound(arr.type, sl)
        idx = coerce(self.bind(n.index, scope, agg), T.INT4, "assignment", self.ctx).fn  # type: ignore[arg-type]
        elem = arr.type.element
        assert elem is not None

        def sub(row: tuple, ex: Any) -> Any:
            v = af(row, ex)
            i = idx(row, ex)
            if v is None or i is None or i < 1 or i > len(v):
                return None
            return v[i - 1]
        return Bound(elem, sub)

    def _b_AnyAll(self, n: a.AnyAll, scope: Scope, agg: AggContext | None) -> Bound:
        left = self.bind(n.left, scope, agg)
        arr = self.bind(n.right, scope, agg)
        if arr.type.oid == T.UNKNOWN.oid:
            arr = coerce(arr, T.array_of(left.type if left.type.oid != T.UNKNOWN.oid
                                         else T.TEXT), "implicit", self.ctx, n.pos)
        if not arr.type.is_array:
            raise SqlError("op ANY/ALL (array) requires array on right side",
                           sqlstate="42809", position=n.pos + 1)
        elem = arr.type.element
        assert elem is not None
        lprobe = Bound(left.type, lambda row, ex: ex.outer[-1][0])
        lprobe.infer = left.infer
        probe = Bound(elem, lambda row, ex: ex.outer[-1][1])
        cmp = self.operator(n.op, lprobe, probe, n.pos)
        lf, af, cf = left.fn, arr.fn, cmp.fn
        is_any = n.kind == "any"

        def anyall(row: tuple, ex: Any) -> Any:
            v = af(row, ex)
            if v is None:
                return None
            lv = lf(row, ex)
            unknown = False
            for e in v:
                ex.outer.append((lv, e))
                try:
                    r = cf(row, ex)
                finally:
                    ex.outer.pop()
                if r is None:
                    unknown = True
                elif r is is_any:
                    return is_any
            return None if unknown else (not is_any)
        return Bound(T.BOOL, anyall)

    def _b_SQLValue(self, n: a.SQLValue, scope: Scope, agg: AggContext | None) -> Bound:
        name = n.name
        if name in ("current_user", "current_role", "user"):
            return Bound(T.NAME, lambda row, ex: ex.session.current_user)
        if name == "session_user":
            return Bound(T.NAME, lambda row, ex: ex.session.session_user)
        if name == "current_catalog":
            return Bound(T.NAME, lambda row, ex: ex.session.database_name)
        if name == "current_schema":
            return Bound(T.NAME, lambda row, ex: ex.session.current_schema())
        fname = {"current_date": "current_date", "current_time": "current_time",
                 "current_timestamp": "now", "localtime": "localtime",
                 "localtimestamp": "localtimestamp"}[name]
        return self.function(fname, [], n.pos)

    def _b_Default(self, n: a.Default, scope: Scope, agg: AggContext | None) -> Bound:
        raise SqlError("DEFAULT is not allowed in this context", sqlstate="42601",
                       position=n.pos + 1)

    def _b_RowExpr(self, n: a.RowExpr, scope: Scope, agg: AggContext | None) -> Bound:
        items = [self.bind(x, scope, agg) for x in n.items]
        fns = [b.fn for b in items]
        b = Bound(T.RECORD, lambda row, ex: tuple(f(row, ex) for f in fns))
        b.value = items  # the members, for row comparisons
        return b

    def function(self, name: str, args: list[Bound], pos: int = -1) -> Bound:
        try:
            fn = _resolve_function(name, tuple(b.type for b in args))
        except SqlError as exc:
            if exc.position is None and pos >= 0:
                exc.position = pos + 1
            raise
        conv = [self._convert(b, c, t) for b, c, t in zip(args, fn.casts, fn.args, strict=False)]
        f, strict = fn.fn, fn.strict
        if fn.volatility == "v":
            self.volatile = True
        text = f"{name}({', '.join(b.text for b in args)})"
        if fn.volatility == "i" and all(b.const for b in conv) and not fn.retset:
            vals = [b.value for b in conv]
            if strict and any(v is None for v in vals):
                return const(fn.result, None, text)
            return const(fn.result, f(*vals, self.ctx), text)
        fns = [b.fn for b in conv]
        if len(fns) == 1:
            f0 = fns[0]

            def call1(row: tuple, ex: Any) -> Any:
                v = f0(row, ex)
                if v is None and strict:
                    return None
                return f(v, ex.ctx)
            b = Bound(fn.result, call1, text=text)
        else:
            def call(row: tuple, ex: Any) -> Any:
                vals = [g(row, ex) for g in fns]
                if strict and None in vals:
                    return None
                return f(*vals, ex.ctx)
            b = Bound(fn.result, call, text=text)
        b.retset = fn.retset
        for arg, t in zip(args, fn.args, strict=False):
            if arg.infer is not None:
                arg.infer(t)
        return b

    def _b_FuncCall(self, n: a.FuncCall, scope: Scope, agg: AggContext | None) -> Bound:
        name = n.name[-1]
        if len(n.name) > 1 and n.name[0] not in ("pg_catalog", "public"):
            raise SqlError(f"schema \"{n.name[0]}\" does not exist", sqlstate="3F000",
                           position=n.pos + 1)
        if n.over is not None:
            return self._window_call(n, scope, agg)
        if name in _AGGS or n.star or n.distinct or n.filter is not None or n.order_by:
            if agg is None:
                where = f" in {self.clause}" if self.clause else " here"
                raise SqlError(f"aggregate functions are not allowed{where}" if name in _AGGS
                               else f"function {name} is not an aggregate",
                               sqlstate="42803", position=n.pos + 1)
            return self._aggregate(n, agg)
        special = self._special_function(name, n, scope, agg)
        if special is not None:
            return special
        args = [self.bind(x, scope, agg) for x in n.args]
        return self.function(name, args, n.pos)

    def _special_function(self, name: str, n: a.FuncCall, scope: Scope,
                          agg: AggContext | None) -> Bound | None:
        if name in ("nextval", "currval", "setval", "lastval"):
            # 'name'::regclass names the sequence: its text is what we look up
            raw = [x.arg if isinstance(x, a.Cast) and x.type.names[-1] == "regclass"
                   and isinstance(x.arg, a.Const) else x for x in n.args]
            args = [self.bind(x, scope, agg) for x in raw]
            self.volatile = True
            return self.session.sequence_function(name, args, n.pos) if self.session else None
        if name == "current_setting":
            args = [coerce(self.bind(x, scope, agg), T.TEXT, "implicit", self.ctx).fn
                    for x in n.args]

            def cs(row: tuple, ex: Any) -> Any:
                vals = [f(row, ex) for f in args]
                return ex.session.current_setting(vals[0], bool(vals[1]) if len(vals) > 1
                                                  else False)
            return Bound(T.TEXT, cs)
        if name == "set_config":
            args = [self.bind(x, scope, agg) for x in n.args]
            fns = [coerce(b, t, "implicit", self.ctx).fn
                   for b, t in zip(args, [T.TEXT, T.TEXT, T.BOOL], strict=False)]
            self.volatile = True
            return Bound(T.TEXT, lambda row, ex: ex.session.set_config(
                *[f(row, ex) for f in fns]))
        if name in ("current_schema", "current_user", "session_user") and not n.args:
            return self._b_SQLValue(a.SQLValue(name, None, n.pos), scope, agg)
        if name in _SESSION_FUNCS and self.session is not None:
            args = [self.bind(x, scope, agg) for x in n.args]
            return self.session.catalog_function(name, args, n.pos)
        if name == "pg_typeof" and len(n.args) == 1:
            b = self.bind(n.args[0], scope, agg)
            shown = b.type.name if b.type.oid != T.UNKNOWN.oid else "unknown"
            return const(T.TEXT, shown)
        if name in _ADVISORY and self.session:
            args = [coerce(self.bind(x, scope, agg), T.INT8, "implicit", self.ctx).fn
                    for x in n.args]
            self.volatile = True
            return self.session.advisory_function(name, args)
        if name == "pg_notify" and self.session:
            args = [coerce(self.bind(x, scope, agg), T.TEXT, "implicit", self.ctx).fn
                    for x in n.args]
            return Bound(T.VOID, lambda row, ex: ex.session.notify(
                *[f(row, ex) for f in args]) or "")
        return None

    # -- window functions -----------------------------------------------------------------
    def _window_call(self, n: a.FuncCall, scope: Scope, agg: AggContext | None) -> Bound:
        if self.windows is None:
            where = f" in {self.clause}" if self.clause else " here"
            raise SqlError(f"window functions are not allowed{where}", sqlstate="42P20",
                           position=n.pos + 1)
        name = n.name[-1]
        w = self._window_def(n.over, n.pos)  # type: ignore[arg-type]
        partition = [self.bind(x, scope, agg) for x in w.partition_by]
        for i, p in enumerate(partition):
            if p.type.oid == T.UNKNOWN.oid:
                partition[i] = coerce(p, T.TEXT, "implicit", self.ctx)
        order = [self._key_of(self.bind(sb.expr, scope, agg), sb) for sb in w.order_by]
        saved, self.windows = self.windows, None  # no window call inside a window call
        try:
            args = [self.bind(x, scope, agg) for x in n.args]
        finally:
            self.windows = saved
        wf = W.WindowFunc(name, [b.fn for b in args], [b.fn for b in partition],
                          [_hasher(b.type) for b in partition], order, w.frame)
        if name in W.RANKING:
            rtype = W.RANKING[name]
            if name == "ntile":
                wf.args = [coerce(args[0], T.INT4, "implicit", self.ctx).fn]
        elif name in W.VALUE:
            if not args:
                raise SqlError(f"function {name}() does not exist", sqlstate="42883",
                               position=n.pos + 1)
            rtype = args[0].type if args[0].type.oid != T.UNKNOWN.oid else T.TEXT
            if name in ("lag", "lead") and len(args) > 2:
                wf.args[2] = coerce(args[2], rtype, "implicit", self.ctx, n.pos).fn
            if len(args) > 1:
                wf.args[1] = coerce(args[1], T.INT4, "implicit", self.ctx).fn
        elif name in _AGGS or n.star:
            # in a grouped query its inputs are the group rows (bound with ``agg``)
            spec, rtype = self._agg_spec(name, n, args)
            if n.filter is not None:
                spec.filter = to_bool(self.bind(n.filter, scope, agg), self.ctx, "FILTER",
                                      n.pos).fn
            wf.agg = spec
        else:
            raise SqlError(f"function {name} is not a window function", sqlstate="42809",
                           position=n.pos + 1)
        if w.frame is not None:
            offs: list[Any] = []
            for b in (w.frame.start, w.frame.end):
                if b.offset is None:
                    offs.append(None)
                    continue
                ob = self.bind(b.offset, Scope())
                if w.frame.mode == "range":
                    if len(order) != 1:
                        raise SqlError("RANGE with offset PRECEDING/FOLLOWING requires exactly "
                                       "one ORDER BY column", sqlstate="42P20",
                                       position=n.pos + 1)
                    offs.append(ob.fn)
                else:
                    offs.append(coerce(ob, T.INT8, "implicit", self.ctx).fn)
            wf.offsets = offs
        self.windows.append(wf)
        k = len(self.windows) - 1
        wins = self.windows
        return Bound(rtype, lambda row, ex, k=k, w=wins: row[len(row) - len(w) + k],
                     text=f"{name}() OVER (...)")

    def _window_def(self, w: a.WindowDef, pos: int) -> a.WindowDef:
        """OVER w / OVER (w ORDER BY ...): a named window from the WINDOW clause."""
        if w.ref is None:
            return w
        base = self.window_defs.get(w.ref)
        if base is None:
            raise SqlError(f'window "{w.ref}" does not exist', sqlstate="42704",
                           position=pos + 1)
        base = self._window_def(base, pos)
        return a.WindowDef(None, None, base.partition_by, w.order_by or base.order_by,
                           w.frame or base.frame)

    # -- aggregates -----------------------------------------------------------------------
    def _aggregate(self, n: a.FuncCall, agg: AggContext) -> Bound:
        k = ast_key(n)
        for i, ak in enumerate(agg.agg_keys):
            if ak == k:
                slot = len(agg.group_keys) + i
                return Bound(agg.agg_types[i], lambda row, ex, s=slot: row[s])
        name = n.name[-1]
        inner = agg.input_scope
        args = [self.bind(x, inner) for x in n.args]
        spec, rtype = self._agg_spec(name, n, args)
        if n.filter is not None:
            spec.filter = to_bool(self.bind(n.filter, inner), self.ctx, "FILTER", n.pos).fn
        if n.order_by:
            spec.order = [self._sort_key(s, inner) for s in n.order_by]
        if n.distinct:
            spec.distinct = True
            spec.arg_hash = [_hasher(b.type) for b in args]
        agg.aggs.append(spec)
        agg.agg_types.append(rtype)
        agg.agg_keys.append(k)
        slot = len(agg.group_keys) + len(agg.aggs) - 1
        return Bound(rtype, lambda row, ex, s=slot: row[s], text=f"{name}(...)")

    def _agg_spec(self, name: str, n: a.FuncCall, args: list[Bound]) -> tuple[P.AggSpec,
                                                                                 T.SqlType]:
        fns = [b.fn for b in args]
        if name == "count":
            if n.star or not args:
                return P.AggSpec("count", [], lambda: 0, lambda s, v: s + 1, lambda s: s,
                                 strict=False), T.INT8
            return P.AggSpec("count", fns, lambda: 0, lambda s, v: s + 1,
                             lambda s: s), T.INT8
        if len(args) < 1:
            raise SqlError(f"function {name}() does not exist", sqlstate="42883",
                           position=n.pos + 1)
        t = args[0].type
        if t.oid == T.UNKNOWN.oid:
            args[0] = coerce(args[0], T.TEXT, "implicit", self.ctx)
            t = T.TEXT
            fns[0] = args[0].fn
        if name in ("sum", "avg"):
            if t.category != "N" and t.oid != T.INTERVAL.oid:
                raise SqlError(f"function {name}({t.name}) does not exist", sqlstate="42883",
                               hint="No function matches the given name and argument types. "
                                    "You might need to add explicit type casts.",
                               position=n.pos + 1)
            if t.oid in (T.INT2.oid, T.INT4.oid):
                rt = T.INT8 if name == "sum" else T.NUMERIC
            elif t.oid == T.INT8.oid:
                rt = T.NUMERIC
            elif t.oid in (T.FLOAT4.oid, T.FLOAT8.oid):
                rt = T.FLOAT8 if name == "avg" or t.oid == T.FLOAT8.oid else T.FLOAT4
            else:
                rt = t.base
            to_num = rt.oid == T.NUMERIC.oid
            # numeric addition as PostgreSQL's (exact: no 28-digit rounding of Decimal's
            # default context)
            add = T.resolve_operator("+", rt, rt).fn if to_num else None
            ctx = self.ctx
            if name == "sum":
                def step(s: Any, v: list[Any]) -> Any:
                    x = Decimal(v[0]) if to_num and not isinstance(v[0], Decimal) else v[0]
                    if s is None:
                        return x
                    return add(s, x, ctx) if add is not None else s + x
                return P.AggSpec("sum", fns, lambda: None, step, lambda s: s), rt

            def astep(s: Any, v: list[Any]) -> Any:
                x = v[0]
                if to_num and not isinstance(x, Decimal):
                    x = Decimal(x)
                if s is None:
                    return (x, 1)
                return (add(s[0], x, ctx) if add is not None else s[0] + x, s[1] + 1)

            div = T.resolve_operator("/", rt, rt).fn  # PostgreSQL's result scale rules
            ctx = self.ctx

            def afinal(s: Any) -> Any:
                if s is None:
                    return None
                if to_num:
                    return div(s[0], Decimal(s[1]), ctx)
                return s[0] / s[1]
            return P.AggSpec("avg", fns, lambda: None, astep, afinal), rt
        if name in ("min", "max"):
            key = T.sort_key(t)
            better = (lambda x, y: key(x) < key(y)) if name == "min" else (
                lambda x, y: key(x) > key(y))

            def mstep(s: Any, v: list[Any]) -> Any:
                return v[0] if s is None or better(v[0], s) else s
            return P.AggSpec(name, fns, lambda: None, mstep, lambda s: s), t.base
        if name in ("bool_and", "bool_or", "every"):
            if t.oid != T.BOOL.oid:
                raise SqlError(f"function {name}({t.name}) does not exist", sqlstate="42883",
                               position=n.pos + 1)
            if name == "bool_or":
                return P.AggSpec(name, fns, lambda: None,
                                 lambda s, v: v[0] if s is None else (s or v[0]),
                                 lambda s: s), T.BOOL
            return P.AggSpec(name, fns, lambda: None,
                             lambda s, v: v[0] if s is None else (s and v[0]),
                             lambda s: s), T.BOOL
        if name == "string_agg":
            if len(args) != 2:
                raise SqlError("function string_agg requires two arguments", sqlstate="42883",
                               position=n.pos + 1)
            fns = [coerce(args[0], T.TEXT, "implicit", self.ctx).fn,
                   coerce(args[1], T.TEXT, "implicit", self.ctx).fn]

            def sstep(s: Any, v: list[Any]) -> Any:
                if s is None:
                    return [v[0]]
                s.append(v[1] or "")
                s.append(v[0])
                return s
            spec = P.AggSpec("string_agg", fns, lambda: None, sstep,
                             lambda s: None if s is None else "".join(s))
            spec.strict = False
            first = fns[0]
            spec.filter = None
            spec.args = fns
            orig_step = spec.step
            spec.step = lambda s, v: s if v[0] is None else orig_step(s, v)
            _ = first
            return spec, T.TEXT
        if name == "array_agg":
            at = t if t.is_array else T.array_of(t.base)
            spec = P.AggSpec("array_agg", fns, lambda: None,
                             lambda s, v: [v[0]] if s is None else (s.append(v[0]) or s),
                             lambda s: s, strict=False)
            return spec, at
        if name in ("json_agg", "jsonb_agg"):
            rt = T.JSONB if name == "jsonb_agg" else T.JSON
            conv = self.function("to_jsonb", [args[0]]).fn
            spec = P.AggSpec(name, [conv], lambda: None,
                             lambda s, v: [v[0]] if s is None else (s.append(v[0]) or s),
                             lambda s: s if rt == T.JSONB or s is None else
                             T.format_output(T.JSONB, s), strict=False)
            return spec, rt
        raise SqlError(f"aggregate {name} is not supported", sqlstate="0A000",
                       position=n.pos + 1)

    # -- subqueries -----------------------------------------------------------------------
    def _b_SubLink(self, n: a.SubLink, scope: Scope, agg: AggContext | None) -> Bound:
        outside = scope if agg is None else _agg_scope_for_outer(agg, scope)
        sub_scope = Scope([], outer=outside)
        flag = [False]
        self.sublinks.append((outside, flag))
        saved_clause, self.clause = self.clause, ""
        try:
            pq = self.plan_query(n.query, sub_scope)
        finally:
            self.sublinks.pop()
            self.clause = saved_clause
        node = pq.node
        correlated = flag[0]
        kind = n.kind

        def run(row: tuple, ex: Any, cache: dict[str, Any] = {}) -> list[tuple]:  # noqa: B006
            if not correlated:
                key = id(node)
                got = ex.materialized.get(key)
                if got is None:
                    ex.outer.append(row)
                    try:
                        got = list(node.rows(ex))
                    finally:
                        ex.outer.pop()
                    ex.materialized[key] = got
                return got
            ex.outer.append(row)
            try:
                return list(node.rows(ex))
            finally:
                ex.outer.pop()

        if kind == "exists":
            return Bound(T.BOOL, lambda row, ex: bool(run(row, ex)), text="EXISTS(SubPlan)")
        if kind == "expr":
            if len(pq.types) != 1:
                raise SqlError("subquery must return only one column", sqlstate="42601",
                               position=n.pos + 1)

            def scalar(row: tuple, ex: Any) -> Any:
                rows = run(row, ex)
                if len(rows) > 1:
                    raise SqlError("more than one row returned by a subquery used as an "
                                   "expression", sqlstate="21000")
                return rows[0][0] if rows else None
            return Bound(pq.types[0], scalar, text="(SubPlan)")
        if kind == "array":
            t = pq.types[0]
            return Bound(T.array_of(t), lambda row, ex: [r[0] for r in run(row, ex)])
        # IN / op ANY / op ALL (subquery)
        assert n.test is not None and n.op is not None
        tests = n.test.items if isinstance(n.test, a.RowExpr) else [n.test]
        lefts = [self.bind(x, scope, agg) for x in tests]
        if len(lefts) != len(pq.types):
            raise SqlError("subquery has too many columns" if len(pq.types) > len(lefts)
                           else "subquery has too few columns", sqlstate="42601",
                           position=n.pos + 1)
        cmps = []
        k = len(lefts)
        for i, (lb, t) in enumerate(zip(lefts, pq.types, strict=False)):
            # both sides read from a probe row (left values, subquery row) pushed for the
            # comparison, so that outer references inside the left side keep their depth
            lprobe = Bound(lb.type, lambda row, ex, i=i: ex.outer[-1][i])
            lprobe.infer = lb.infer
            rprobe = Bound(t, lambda row, ex, j=k + i: ex.outer[-1][j])
            cmps.append(self.operator(n.op, lprobe, rprobe, n.pos).fn)
        left_fns = [lb.fn for lb in lefts]
        is_any = kind == "any"

        def quantified(row: tuple, ex: Any) -> Any:
            unknown = False
            lvals = tuple(f(row, ex) for f in left_fns)
            for r in run(row, ex):
                ex.outer.append(lvals + r)
                try:
                    vals = [c(row, ex) for c in cmps]
                finally:
                    ex.outer.pop()
                v: bool | None = False if False in vals else (None if None in vals else True)
                if v is None:
                    unknown = True
                elif v is is_any:
                    return is_any
            return None if unknown else (not is_any)
        return Bound(T.BOOL, quantified, text="(SubPlan)")

    # ======================================================================================
    # queries
    # ======================================================================================
    def plan_query(self, q: a.Node, outer: Scope | None = None) -> PlannedQuery:
        scope = outer if outer is not None else Scope()
        with_ = getattr(q, "with_", None)
        self.depth += 1
        if with_ is not None:
            self.ctes.append(self._plan_ctes(with_, scope))
        try:
            if isinstance(q, a.SetOperation):
                return self._run_ctes_first(self._set_op(q, scope))
            if isinstance(q, a.SelectStmt):
                if q.values is not None:
                    return self._run_ctes_first(self._values(q, scope))
                return self._run_ctes_first(self._select(q, scope))
            if self.session is not None and isinstance(q, (a.InsertStmt, a.UpdateStmt,
                                                           a.DeleteStmt)):
                return self.session.plan_dml_in_query(self, q, scope)
            raise SqlError(f"{type(q).__name__} is not allowed here", sqlstate="0A000")
        finally:
            self.depth -= 1
            if with_ is not None:
                self.ctes.pop()

    def _run_ctes_first(self, pq: PlannedQuery) -> PlannedQuery:
        if self.depth != 1 or not self.dml_ctes:
            return pq
        return PlannedQuery(RunFirst(pq.node, list(self.dml_ctes)), pq.names, pq.types)

    def _plan_ctes(self, w: a.WithClause, scope: Scope) -> dict[str, Cte]:
        out: dict[str, Cte] = {}
        self.ctes.append(out)
        try:
            for c in w.ctes:
                if c.name in out:
                    raise SqlError(f'WITH query name "{c.name}" specified more than once',
                                   sqlstate="42712", position=c.pos + 1)
                if w.recursive and isinstance(c.query, a.SetOperation) and \
                        c.query.op == "union" and _mentions(c.query.right, c.name):
                    out[c.name] = self._recursive_cte(c, scope)
                    continue
                if isinstance(c.query, (a.InsertStmt, a.UpdateStmt, a.DeleteStmt)):
                    out[c.name] = self._dml_cte(c)
                    continue
                pq = self.plan_query(c.query, Scope([], outer=scope.outer))
                names = c.col_aliases + pq.names[len(c.col_aliases):]
                pq = PlannedQuery(pq.node, names, pq.types)
                out[c.name] = Cte(c.name, pq, P.Materialize(pq.node, c.name))
        finally:
            self.ctes.pop()
        return out

    def _dml_cte(self, c: a.CommonTableExpr) -> Cte:
        """WITH x AS (DELETE ... RETURNING ...): the statement runs once per execution, at
        the first read of x or before the main statement if nothing reads it (PostgreSQL
        runs every data-modifying WITH statement exactly once)."""
        if self.session is None:
            raise SqlError("data-modifying statements in WITH need a session", sqlstate="0A000")
        if self.depth > 1:
            raise SqlError("WITH clause containing a data-modifying statement must be at the "
                           "top level", sqlstate="0A000", position=c.pos + 1)
        cols = self.session.dml_columns(c.query, self.param_types)
        node = DmlCteNode(c.query, c.name, len(cols or []), list(self.param_types))
        self.dml_ctes.append(node)
        self.volatile = self.volatile_plan = True  # writes: never cached, never read-only
        if cols is None:
            pq = PlannedQuery(node, [], [])
            return Cte(c.name, pq, _NoReturning(node, c.name))
        names = c.col_aliases + [col.name for col in cols][len(c.col_aliases):]
        return Cte(c.name, PlannedQuery(node, names, [col.type for col in cols]), node)

    def _recursive_cte(self, c: a.CommonTableExpr, scope: Scope) -> Cte:
        q = c.query
        assert isinstance(q, a.SetOperation)
        base = self.plan_query(q.left, Scope([], outer=scope.outer))
        names = c.col_aliases + base.names[len(c.col_aliases):]
        ru = P.RecursiveUnion(base.node, len(base.types), not q.all,
                              [_hasher(t) for t in base.types])
        cte = Cte(c.name, PlannedQuery(ru, names, base.types), None, ru)
        self.ctes[-1][c.name] = cte
        step = self.plan_query(q.right, Scope([], outer=scope.outer))
        if len(step.types) != len(base.types):
            raise SqlError("each UNION query must have the same number of columns",
                           sqlstate="42601", position=q.pos + 1)
        ru.step = step.node
        cte.node = P.Materialize(ru, c.name)
        return cte

    def _find_cte(self, name: str) -> Cte | None:
        for level in reversed(self.ctes):
            if name in level:
                return level[name]
        return None

    def _values(self, q: a.SelectStmt, scope: Scope) -> PlannedQuery:
        assert q.values is not None
        width = len(q.values[0])
        bound_rows = []
        for r in q.values:
            if len(r) != width:
                raise SqlError("VALUES lists must all be the same length", sqlstate="42601",
                               position=q.pos + 1)
            bound_rows.append([self.bind(x, scope) for x in r])
        types = []
        for j in range(width):
            t = common_type([r[j] for r in bound_rows], "VALUES", q.pos)
            types.append(t)
        fns = [[coerce(r[j], types[j], "implicit", self.ctx, q.pos).fn for j in range(width)]
               for r in bound_rows]
        node: P.PlanNode = P.ValuesScan(fns, width)
        names = [f"column{j + 1}" for j in range(width)]
        return self._finish(node, names, types, q, Scope([ScopeColumn(None, n, t)
                                                          for n, t in
                                                          zip(names, types, strict=False)],
                                                         outer=scope.outer))

    def _set_op(self, q: a.SetOperation, scope: Scope) -> PlannedQuery:
        left = self.plan_query(q.left, Scope([], outer=scope.outer))
        right = self.plan_query(q.right, Scope([], outer=scope.outer))
        if len(left.types) != len(right.types):
            raise SqlError(f"each {q.op.upper()} query must have the same number of columns",
                           sqlstate="42601", position=q.pos + 1)
        types = []
        lproj, rproj = [], []
        for i, (lt, rt) in enumerate(zip(left.types, right.types, strict=False)):
            lb = Bound(lt, lambda row, ex, i=i: row[i])
            rb = Bound(rt, lambda row, ex, i=i: row[i])
            t = common_type([lb, rb], q.op.upper(), q.pos)
            types.append(t)
            lproj.append(coerce(lb, t, "implicit", self.ctx, q.pos).fn)
            rproj.append(coerce(rb, t, "implicit", self.ctx, q.pos).fn)
        ln = left.node if all(t1 == t2 for t1, t2 in zip(left.types, types, strict=False)) else \
            P.Project(left.node, lproj)
        rn = right.node if all(t1 == t2 for t1, t2 in zip(right.types, types, strict=False)) else \
            P.Project(right.node, rproj)
        node: P.PlanNode = P.SetOp(q.op, q.all, ln, rn, [_hasher(t) for t in types])
        names = left.names
        out_scope = Scope([ScopeColumn(None, n, t) for n, t in
                                                          zip(names, types, strict=False)],
                          outer=scope.outer)
        return self._finish(node, names, types, q, out_scope)

    def _finish(self, node: P.PlanNode, names: list[str], types: list[T.SqlType], q: Any,
                scope: Scope) -> PlannedQuery:
        """ORDER BY, LIMIT and OFFSET over a VALUES list or a set operation."""
        if q.order_by:
            keys = []
            for sb in q.order_by:
                e = sb.expr
                if isinstance(e, a.Const) and e.kind == "integer":
                    i = int(e.value) - 1
                    if not 0 <= i < len(types):
                        raise SqlError(f"ORDER BY position {i + 1} is not in select list",
                                       sqlstate="42P10", position=e.pos + 1)
                    b = Bound(types[i], lambda row, ex, i=i: row[i])
                else:
                    b = self.bind(e, scope)
                keys.append(self._key_of(b, sb))
            node = P.Sort(node, keys)
        if q.limit is not None or q.offset is not None:
            node = P.Limit(node, self._limit_expr(q.limit, "LIMIT"),
                           self._limit_expr(q.offset, "OFFSET"))
        return PlannedQuery(node, names, types)

    def _limit_expr(self, e: a.Node | None, what: str) -> Any:
        if e is None or (isinstance(e, a.Const) and e.kind == "null"):
            return None
        b = coerce(self.bind(e, Scope()), T.INT8, "assignment", self.ctx)
        return b.fn

    def _key_of(self, b: Bound, sb: a.SortBy) -> P.SortKey:
        if b.type.oid == T.UNKNOWN.oid:
            b = coerce(b, T.TEXT, "implicit", self.ctx)
        desc = sb.desc
        nulls_first = sb.nulls_first if sb.nulls_first is not None else desc
        return P.SortKey(b.fn, T.sort_key(b.type), desc, nulls_first)

    def _sort_key(self, sb: a.SortBy, scope: Scope) -> P.SortKey:
        return self._key_of(self.bind(sb.expr, scope), sb)

    # -- FROM -----------------------------------------------------------------------------
    def _from_item(self, item: a.Node, outer: Scope | None,
                   locking: list[a.LockingClause]) -> tuple[P.PlanNode, Scope, list[Any]]:
        """A FROM item: its plan, its scope, and (for base tables) scan hooks for pushdown."""
        if isinstance(item, a.RangeVar):
            cte = self._find_cte(item.name) if item.schema is None else None
            alias = item.alias or item.name
            if cte is not None:
                pq = cte.planned
                assert pq is not None
                names = item.col_aliases + pq.names[len(item.col_aliases):]
                sc = Scope([ScopeColumn(alias, n, t)
                            for n, t in zip(names, pq.types, strict=False)],
                           outer=outer)
                if cte.node is None and cte.recursive_source is not None:
                    return P.WorkTableScan(cte.recursive_source, item.name), sc, []
                assert cte.node is not None
                return cte.node, sc, []
            sv = _system_view(item) if self.session is not None else None
            if sv is not None:
                names = item.col_aliases + [c[0] for c in sv.columns][len(item.col_aliases):]
                types = [c[1] for c in sv.columns]
                node = P.FunctionScan(lambda row, ex, sv=sv: sv.rows(ex.session), len(types),
                                      f"{sv.schema}.{sv.name}", False)
                return node, Scope([ScopeColumn(alias, n, t) for n, t in
                                    zip(names, types, strict=True)], outer=outer), []
            rel = self.catalog.resolve(item.schema, item.name, self.search_path, item.pos)
            if self.session is not None:
                self.session.check_privilege(rel, "select", item.pos)
            if rel.kind == "v":
                from cairn.sql.parser import parse_one
                q = parse_one(rel.view_sql or "")
                pq = self.plan_query(q, Scope([], outer=None))
                cols = [c.name for c in rel.live_columns] or pq.names
                names = item.col_aliases + cols[len(item.col_aliases):]
                return pq.node, Scope([ScopeColumn(alias, n, t) for n, t in
                                       zip(names, pq.types, strict=False)], outer=outer), []
            if rel.kind == "S":
                raise SqlError("selecting from a sequence is not supported", sqlstate="0A000",
                               position=item.pos + 1)
            self.read_relations.append(rel)
            command, self.target_command = self.target_command or "select", None
            cols = rel.live_columns
            names = [c.name for c in cols]
            names = item.col_aliases + names[len(item.col_aliases):]
            sc = Scope([ScopeColumn(alias, n, c.type) for n, c in zip(names, cols, strict=False)],
                       outer=outer)
            lock = None
            for lc in locking:
                if not lc.tables or alias in lc.tables or item.name in lc.tables:
                    lock = (lc.strength, lc.wait)
            scan = ScanBuilder(self, rel, alias, sc, lock)
            if self.session is not None:
                commands = [command] + (["select"] if command != "select" else [])
                for cmd in commands:
                    q = self.session.rls_expr(rel, cmd)
                    if q is not None:
                        scan.rls_conds.append(q)
            return scan, sc, [scan]
        if isinstance(item, a.RangeSubselect):
            flag = [False]
            if item.lateral and outer is not None:
                self.sublinks.append((outer, flag))
            try:
                pq = self.plan_query(item.query, Scope([], outer=outer if item.lateral else
                                                       (outer.outer if outer else None)))
            finally:
                if item.lateral and outer is not None:
                    self.sublinks.pop()
            if flag[0]:
                pq.node.lateral = True  # type: ignore[attr-defined]
            names = item.col_aliases + pq.names[len(item.col_aliases):]
            return pq.node, Scope([ScopeColumn(item.alias, n, t) for n, t in
                                   zip(names, pq.types, strict=False)], outer=outer), []
        if isinstance(item, a.RangeFunction):
            return self._function_scan(item, outer)
        if isinstance(item, a.JoinExpr):
            return self._join(item, outer, locking)
        raise SqlError(f"{type(item).__name__} in FROM is not supported", sqlstate="0A000")

    def _function_scan(self, item: a.RangeFunction, outer: Scope | None
                       ) -> tuple[P.PlanNode, Scope, list[Any]]:
        f = item.func
        assert isinstance(f, a.FuncCall)
        # arguments may refer to earlier FROM items (implicitly LATERAL): bound in the outer
        arg_scope = Scope([], outer=outer)
        flag = [False]
        if outer is not None:
            self.sublinks.append((outer, flag))
        try:
            return self._function_scan_bound(item, f, arg_scope, outer, flag)
        finally:
            if outer is not None:
                self.sublinks.pop()

    def _function_scan_bound(self, item: a.RangeFunction, f: a.FuncCall, arg_scope: Scope,
                             outer: Scope | None, flag: list[bool]
                             ) -> tuple[P.PlanNode, Scope, list[Any]]:
        name = f.name[-1]
        if name == "unnest":
            args = [self.bind(x, arg_scope) for x in f.args]
            if not args or not args[0].type.is_array:
                if args and args[0].type.oid == T.UNKNOWN.oid:
                    raise SqlError("could not determine polymorphic type because input has "
                                   "type unknown", sqlstate="42804", position=f.pos + 1)
                raise SqlError("function unnest requires an array", sqlstate="42883",
                               position=f.pos + 1)
            types = [b.type.element for b in args]
            fns = [b.fn for b in args]

            def unnest(row: tuple, ex: Any) -> list[tuple]:
                lists = [g(row, ex) or [] for g in fns]
                n = max(len(x) for x in lists)
                return [tuple(x[i] if i < len(x) else None for x in lists) for i in range(n)]
            node_fn = unnest
            out_types: list[T.SqlType] = types  # type: ignore[assignment]
            default_names = ["unnest"] * len(types)
        else:
            b = self._b_FuncCall(f, arg_scope, None)
            rt = b.type
            bf = b.fn
            if b.retset:
                if rt.oid == T.RECORD.oid:
                    raise SqlError(f"function {name} returning record in FROM is not "
                                   "supported", sqlstate="0A000", position=f.pos + 1)
                node_fn = lambda row, ex: bf(row, ex) or []  # noqa: E731
            else:
                node_fn = lambda row, ex: [bf(row, ex)]  # noqa: E731
            out_types = [rt]
            default_names = [name]
        width = len(out_types) + (1 if item.ordinality else 0)
        if item.ordinality:
            out_types = [*out_types, T.INT8]
            default_names = [*default_names, "ordinality"]
        alias = item.alias or name
        names = item.col_aliases + default_names[len(item.col_aliases):]
        if len(out_types) == 1 and not item.col_aliases and item.alias:
            names = [item.alias]
        node = P.FunctionScan(node_fn, width, name, item.ordinality)
        node.lateral = flag[0]  # type: ignore[attr-defined]
        return node, Scope([ScopeColumn(alias, n, t)
                            for n, t in zip(names, out_types, strict=False)],
                           outer=outer), []

    def _join(self, j: a.JoinExpr, outer: Scope | None, locking: list[a.LockingClause]
              ) -> tuple[P.PlanNode, Scope, list[Any]]:
        left, ls, lscans = self._from_item(j.left, outer, locking)
        _check_alias_clash(ls, j.right)
        right, rs, rscans = self._from_item(j.right, Scope(ls.columns, outer=outer)
                                            if _is_lateral(j.right) else outer, locking)
        cols = ls.columns + rs.columns
        # WHERE conditions must not filter the nullable side of an outer join before it
        for s in (rscans if j.kind in ("left", "full", "right") else []) + (
                lscans if j.kind in ("right", "full") else []):
            s.outer_join_nullable = True
        using = j.using
        if j.natural:
            rnames = {c.name for c in rs.columns}
            using = [c.name for c in ls.columns if c.name in rnames]
        cond_nodes: list[a.Node] = []
        if using is not None:
            pairs: list[tuple[int, int]] = []
            for name in using:
                li = [i for i, c in enumerate(ls.columns) if c.name == name and not c.hidden]
                ri = [i for i, c in enumerate(rs.columns) if c.name == name and not c.hidden]
                if not li or not ri:
                    side = "left" if not li else "right"
                    raise SqlError(f'column "{name}" specified in USING clause does not exist '
                                   f"in {side} table", sqlstate="42703", position=j.pos + 1)
                pairs.append((li[0], ri[0]))
            nl = len(ls.columns)
            eqs: list[Bound] = []
            for li, ri in pairs:
                lb = Bound(ls.columns[li].type, lambda row, ex, i=li: row[i])
                k = nl + ri
                rb = Bound(rs.columns[ri].type, lambda row, ex, i=k: row[i])
                eqs.append(self.operator("=", lb, rb, j.pos))
            cond = conjunction([e.fn for e in eqs])
            same = all(ls.columns[li].type.base == rs.columns[ri].type.base
                       for li, ri in pairs)
            if pairs and same and not getattr(right, "lateral", False):
                node = P.HashJoin(
                    j.kind, left, right, [lambda row, ex, i=li: row[i] for li, _ in pairs],
                    [lambda row, ex, i=ri: row[i] for _, ri in pairs],
                    [_hasher(ls.columns[li].type) for li, _ in pairs], None,
                    " AND ".join(f"({ls.columns[li].table}.{ls.columns[li].name} = "
                                 f"{rs.columns[ri].table}.{rs.columns[ri].name})"
                                 for li, ri in pairs))
            else:
                node = self._make_join(j.kind, left, right, cond)
            # PostgreSQL's layout: the merged columns first (COALESCE of both sides for
            # RIGHT and FULL joins), then each side's own; the sides' copies of the merged
            # columns stay reachable qualified (t.col) but * leaves them out
            merged = [ScopeColumn(None, name, ls.columns[li].type)
                      for name, (li, _ri) in zip(using, pairs, strict=True)]
            used_l = {li for li, _ in pairs}
            used_r = {ri for _, ri in pairs}
            side_cols = [ScopeColumn(c.table, c.name, c.type, hidden=c.hidden or i in used_l)
                         for i, c in enumerate(ls.columns)] + [
                ScopeColumn(c.table, c.name, c.type, hidden=c.hidden or i in used_r)
                for i, c in enumerate(rs.columns)]
            scope = Scope(merged + side_cols, outer=outer)
            return _UsingJoin(node, pairs, nl, j.kind), scope, lscans + rscans
        scope = Scope(cols, outer=outer)
        if j.on is not None:
            cond_nodes = _conjuncts(j.on)
        if j.kind == "cross" or not cond_nodes:
            node = self._make_join("inner" if j.kind == "cross" else j.kind, left, right, None)
            return node, scope, lscans + rscans
        node = self._join_with_conds(j.kind, left, right, ls, rs, cond_nodes, scope)
        return node, scope, lscans + rscans

    def _join_with_conds(self, kind: str, left: P.PlanNode, right: P.PlanNode, ls: Scope,
                         rs: Scope, conds: list[a.Node], scope: Scope) -> P.PlanNode:
        nl = len(ls.columns)
        hash_pairs: list[tuple[Bound, Bound]] = []
        rest: list[Bound] = []
        for c in conds:
            b = to_bool(self.bind(c, scope), self.ctx, "JOIN/ON", getattr(c, "pos", -1))
            pair = self._equi_pair(c, scope, nl) if kind != "cross" else None
            if pair is not None:
                hash_pairs.append(pair)
            else:
                rest.append(b)
        extra = conjunction([b.fn for b in rest])
        if hash_pairs and not getattr(right, "lateral", False):
            lkeys = [p[0].fn for p in hash_pairs]
            rkeys = []
            hashers = []
            for lb, rb in hash_pairs:
                rf = rb.fn
                rkeys.append(lambda row, ex, rf=rf, nl=nl: rf((None,) * nl + row, ex))
                hashers.append(_hasher(lb.type))
            text = " AND ".join(f"({lb.text} = {rb.text})" for lb, rb in hash_pairs)
            return P.HashJoin(kind, left, right, lkeys, rkeys, hashers, extra, text)
        allb = [self.bind(c, scope) for c in conds]
        cond = conjunction([b.fn for b in allb])
        return self._make_join(kind, left, right, cond)

    def _equi_pair(self, c: a.Node, scope: Scope, nl: int) -> tuple[Bound, Bound] | None:
        """``left_expr = right_expr`` where each side reads one input only (``a.id =
        b.id + 1`` too), both of one hashable type: a hash-join key pair."""
        if not (isinstance(c, a.BinOp) and c.op == "="):
            return None
        sides = [self._side(c.left, scope, nl), self._side(c.right, scope, nl)]
        if sides == ["right", "left"]:
            first, second = c.right, c.left
        elif sides == ["left", "right"]:
            first, second = c.left, c.right
        else:
            return None
        x, y = self.bind(first, scope), self.bind(second, scope)
        if x.type.base != y.type.base or x.type.oid == T.UNKNOWN.oid:
            return None
        return x, y

    def _side(self, e: a.Node, scope: Scope, nl: int) -> str | None:
        """"left" or "right" when every column ``e`` reads is of that input; None if it
        reads both, neither, an outer query or a subquery."""
        refs = _column_refs(e)
        if not refs:
            return None
        sides = set()
        for f in refs:
            try:
                hit = scope.find(f, -1)
            except SqlError:
                return None
            if hit is None:
                return None
            sides.add("left" if hit[0] < nl else "right")
        return sides.pop() if len(sides) == 1 else None

    def _make_join(self, kind: str, left: P.PlanNode, right: P.PlanNode, cond: Any,
                   eqs_info: Any = None, ls: Scope | None = None,
                   rs: Scope | None = None) -> P.PlanNode:
        if getattr(right, "lateral", False):
            return P.LateralJoin("left" if kind == "left" else "inner", left, right, cond)
        if kind == "right":
            # a right join is a left join with the inputs swapped, columns put back in order
            nl, nr = left.width, right.width
            swapped_cond = None
            if cond is not None:
                swapped_cond = lambda row, ex: cond(row[nr:] + row[:nr], ex)  # noqa: E731
            inner = P.NestedLoop("left", right, left, swapped_cond)
            proj = [lambda row, ex, i=i: row[nr + i] for i in range(nl)] + [
                lambda row, ex, i=i: row[i] for i in range(nr)]
            return P.Project(inner, proj)
        return P.NestedLoop(kind, left, right, cond)

    # -- SELECT ---------------------------------------------------------------------------
    def _select(self, q: a.SelectStmt, scope: Scope) -> PlannedQuery:
        outer = scope.outer if not scope.columns else scope
        if q.into is not None:
            raise SqlError("SELECT ... INTO is not supported; use CREATE TABLE ... AS",
                           sqlstate="0A000", position=q.pos + 1)
        # FOR UPDATE on one table locks rows above the sort (LockRows); otherwise the scans
        # lock what they read
        lock_late = bool(q.locking) and len(q.from_) == 1 and isinstance(
            q.from_[0], a.RangeVar) and self._find_cte(q.from_[0].name) is None
        self.target_scan = None
        node, fscope = self.from_where(q.from_, q.where, [] if lock_late else q.locking,
                                       outer, emit_row=lock_late)
        lock_scan = self.target_scan if lock_late else None
        self.target_scan = None
        if q.locking and (q.group_by or q.having is not None or q.distinct or any(
                _has_aggregate(t.expr) for t in q.targets)):
            raise SqlError(f"FOR {q.locking[0].strength.upper()} is not allowed with "
                           "aggregate functions or DISTINCT", sqlstate="0A000",
                           position=q.pos + 1)
        # grouping
        has_aggs = bool(q.group_by) or q.having is not None or any(
            _has_aggregate(t.expr) for t in q.targets) or any(
            _has_aggregate(s.expr) for s in q.order_by)
        agg: AggContext | None = None
        if has_aggs:
            gb: list[Bound] = []
            gkeys: list[Any] = []
            for g in q.group_by:
                if isinstance(g, a.Const) and g.kind == "integer":
                    i = int(g.value) - 1
                    if not 0 <= i < len(q.targets):
                        raise SqlError(f"GROUP BY position {i + 1} is not in select list",
                                       sqlstate="42P10", position=g.pos + 1)
                    g = q.targets[i].expr
                elif isinstance(g, a.ColumnRef) and len(g.fields) == 1 and \
                        fscope.find(g.fields, g.pos) is None:
                    named = [t.expr for t in q.targets if t.name == g.fields[0]]
                    if named:
                        g = named[0]
                if isinstance(g, a.RowExpr) and not g.items:
                    continue
                b = self.bind(g, fscope)
                if b.type.oid == T.UNKNOWN.oid:
                    b = coerce(b, T.TEXT, "implicit", self.ctx)
                gb.append(b)
                gkeys.append(ast_key(g))
            # aggregates are discovered while binding the outputs, HAVING and ORDER BY
            agg = AggContext(gkeys, gb, fscope)
        # targets (window functions allowed in the select list and ORDER BY only)
        saved_windows, saved_defs = self.windows, self.window_defs
        self.windows = []
        self.window_defs = {w.name: w for w in q.windows if w.name}
        try:
            return self._select_targets(q, node, fscope, agg, outer, lock_scan)
        finally:
            self.windows, self.window_defs = saved_windows, saved_defs

    def _select_targets(self, q: a.SelectStmt, node: P.PlanNode, fscope: Scope,
                        agg: AggContext | None, outer: Scope | None,
                        lock_scan: ScanBuilder | None = None) -> PlannedQuery:
        names: list[str] = []
        outs: list[Bound] = []
        for t in q.targets:
            e = t.expr
            if isinstance(e, a.Star) or (isinstance(e, a.ColumnRef) and e.fields[-1] == "*"):
                table = e.table if isinstance(e, a.Star) else e.fields[:-1]
                expanded = self._expand_star(table, fscope, e.pos, agg)
                if not expanded and not fscope.columns and table is None:
                    raise SqlError("SELECT * with no tables specified is not valid",
                                   sqlstate="42601", position=e.pos + 1)
                for n_, b in expanded:
                    names.append(n_)
                    outs.append(b)
                continue
            b = self.bind(e, fscope, agg)
            names.append(t.name or _column_name(e))
            outs.append(b)
        having = None
        if q.having is not None:
            wins, self.windows = self.windows, None
            self.clause = "HAVING"
            try:
                having = to_bool(self.bind(q.having, fscope, agg), self.ctx, "HAVING",
                                 q.pos)
            finally:
                self.windows, self.clause = wins, ""
        # ORDER BY keys: output names and positions first, then input expressions
        sort_keys: list[P.SortKey] = []
        extra: list[Bound] = []
        for sb in q.order_by:
            e = sb.expr
            b = None
            if isinstance(e, a.Const) and e.kind == "integer":
                i = int(e.value) - 1
                if not 0 <= i < len(outs):
                    raise SqlError(f"ORDER BY position {i + 1} is not in select list",
                                   sqlstate="42P10", position=e.pos + 1)
                b = Bound(outs[i].type, lambda row, ex, i=i: row[i])
                sort_keys.append(self._key_of(b, sb))
                continue
            if isinstance(e, a.ColumnRef) and len(e.fields) == 1 and e.fields[0] in names \
                    and names.count(e.fields[0]) == 1:
                i = names.index(e.fields[0])
                b = Bound(outs[i].type, lambda row, ex, i=i: row[i])
                sort_keys.append(self._key_of(b, sb))
                continue
            eb = self.bind(e, fscope, agg)
            extra.append(eb)
            i = len(outs) + len(extra) - 1
            sort_keys.append(self._key_of(Bound(eb.type, lambda row, ex, i=i: row[i]), sb))
        if agg is not None:
            hashers = [_hasher(b.type) for b in agg.group_bound]
            node = P.Aggregate(node, [b.fn for b in agg.group_bound], hashers, agg.aggs,
                               ", ".join(b.text for b in agg.group_bound))
            if having is not None:
                node = P.Filter(node, having.fn, having.text)
        elif having is not None:
            node = P.Filter(node, having.fn)
        if self.windows:
            node = P.WindowAgg(node, [lambda rows, ex, wf=wf: W.compute(wf, rows, ex)
                                      for wf in self.windows])
        # project outputs (+ hidden sort columns, + the stored row LockRows locks by)
        lock_slot = None
        if lock_scan is not None:
            width = lock_scan.width - 1
            extra.append(Bound(T.RECORD, lambda row, ex, i=width: row[i]))
            lock_slot = len(outs) + len(extra) - 1
        all_outs = outs + extra
        srf = [b.retset for b in all_outs]
        if any(srf):
            node = P.ProjectSet(node, [b.fn for b in all_outs], srf)
        else:
            node = P.Project(node, [b.fn for b in all_outs])
        # an untyped literal in the select list is text (its value is already a str)
        keep = self.unknown_outputs and self.depth == 1
        types = [b.type if b.type.oid != T.UNKNOWN.oid or keep else T.TEXT for b in outs]
        infers = [b.infer for b in outs] if keep else None
        # DISTINCT
        if q.distinct:
            if extra:
                raise SqlError("for SELECT DISTINCT, ORDER BY expressions must appear in "
                               "select list", sqlstate="42P10", position=q.pos + 1)
            node = P.Unique(node, None, [_hasher(t) for t in types])
        if sort_keys:
            node = P.Sort(node, sort_keys)
        if q.distinct_on:
            keys = []
            for d in q.distinct_on:
                if isinstance(d, a.Const) and d.kind == "integer":
                    i = int(d.value) - 1
                    keys.append((lambda row, ex, i=i: row[i], types[i]))
                    continue
                db = self.bind(d, fscope, agg)
                found = None
                for i in range(min(len(outs), len(q.targets))):
                    if ast_key(q.targets[i].expr) == ast_key(d):
                        found = i
                if found is None:
                    raise SqlError("SELECT DISTINCT ON expressions must match initial ORDER BY "
                                   "expressions", sqlstate="42P10", position=q.pos + 1)
                keys.append((lambda row, ex, i=found: row[i], db.type))
            node = P.Unique(node, [k[0] for k in keys], [_hasher(k[1]) for k in keys])
        if lock_slot is not None and lock_scan is not None:
            assert lock_scan.built is not None
            lc = q.locking[-1]
            node = P.LockRows(node, lock_scan.built, lock_slot, lc.strength, lc.wait,
                              [b.fn for b in all_outs])
        if extra:
            n = len(outs)
            node = P.Project(node, [lambda row, ex, i=i: row[i] for i in range(n)])
        if q.limit is not None or q.offset is not None:
            node = P.Limit(node, self._limit_expr(q.limit, "LIMIT"),
                           self._limit_expr(q.offset, "OFFSET"))
        return PlannedQuery(node, names, types, infers=infers)

    def from_where(self, from_: list[a.Node], where: a.Node | None,
                   locking: list[a.LockingClause], outer: Scope | None,
                   emit_row: bool = False) -> tuple[P.PlanNode, Scope]:
        """FROM and WHERE: scans with their pushed-down conditions, joins, the rest as a
        filter. ``emit_row``: the first (DML target) scan appends its stored row dict."""
        node: P.PlanNode
        scans: list[ScanBuilder] = []
        items, on_conds = _flatten_inner(from_)
        if len(items) >= 3 and not emit_row and not locking and not any(
                _is_lateral(i) for i in items) and not (
                where is not None and (_has_aggregate(where) or _has_window(where))):
            conds = on_conds + (_conjuncts(where) if where is not None else [])
            return self._join_search(items, conds, outer)
        if not from_:
            node, fscope = P.Result(), Scope([], outer=outer)
        else:
            node, fscope, scans = self._from_item(from_[0], outer, locking)
            if emit_row and isinstance(node, ScanBuilder):
                self.target_scan = node
                node.emit_row = True
                node.width += 1
                fscope.columns.append(ScopeColumn(None, "\x00row", T.RECORD, hidden=True))
            for item in from_[1:]:
                _check_alias_clash(fscope, item)
                lat = _is_lateral(item)
                rnode, rscope, rscans = self._from_item(
                    item, Scope(fscope.columns, outer=outer) if lat else outer, locking)
                fscope = Scope(fscope.columns + rscope.columns, outer=outer)
                node = self._make_join("inner", node, rnode, None)
                scans += rscans
        # WHERE: conjuncts on one base table go into its scan; equalities across two inputs
        # of a cross product become hash joins
        _set_offsets(node)
        if where is not None and (_has_aggregate(where) or _has_window(where)):
            saved, self.clause, self.windows = (self.clause, self.windows), "WHERE", None
            try:
                self.bind(where, fscope)  # raises PostgreSQL's 42803 / 42P20
            finally:
                self.clause, self.windows = saved
        if where is not None:
            remaining: list[a.Node] = []
            for c in _conjuncts(where):
                if not self._push_down(c, fscope, scans, node):
                    remaining.append(c)
            node = _materialize_scans(node)
            if remaining:
                node = self._join_rewrite(node, remaining, fscope)
        else:
            node = _materialize_scans(node)
        return node, fscope

    # -- join order -----------------------------------------------------------------------
    def _join_search(self, items: list[a.Node], conds: list[a.Node], outer: Scope | None
                     ) -> tuple[P.PlanNode, Scope]:
        """Three or more inner-joined relations: the cheapest join tree (joinorder.py)."""
        parts: list[tuple[P.PlanNode, Scope]] = []
        cols: list[ScopeColumn] = []
        offsets: list[int] = []
        for item in items:
            if parts:
                _check_alias_clash(Scope(cols), item)
            node_i, sc_i, _scans = self._from_item(item, outer, [])
            offsets.append(len(cols))
            cols += sc_i.columns
            parts.append((node_i, sc_i))
        fscope = Scope(cols, outer=outer)

        def item_of(col: int) -> int:
            return max(i for i, off in enumerate(offsets) if off <= col)

        def items_used(c: a.Node) -> set[int] | None:
            refs = _column_refs(c)
            if refs is None:
                return None
            used = set()
            for f in refs:
                try:
                    hit = fscope.find(f, -1)
                except SqlError:
                    return None
                if hit is not None:
                    used.add(item_of(hit[0]))
            return used

        top: list[a.Node] = []
        own: dict[int, list[a.Node]] = {}
        multi: list[tuple[set[int], a.Node]] = []
        edges: list[JO.Edge] = []
        for c in conds:
            used = items_used(c)
            if used is None or not used:
                top.append(c)
            elif len(used) == 1:
                i = used.pop()
                node_i = parts[i][0]
                if isinstance(node_i, ScanBuilder):
                    node_i.add_condition(c)
                else:
                    own.setdefault(i, []).append(c)
            else:
                edge = self._edge(c, used, items_used)
                if edge is not None:
                    edges.append(edge)
                else:
                    multi.append((used, c))
        rels = [JO.Rel(i, self._estimate_rows(parts[i][0]), parts[i][1].columns.__len__())
                for i in range(len(items))]
        for e in edges:
            e.selectivity = self._edge_selectivity(e, parts)
        best = JO.search(rels, edges)
        full = (1 << len(items)) - 1
        applied: set[int] = set()

        def scope_of(order: list[int]) -> Scope:
            return Scope([c for i in order for c in parts[i][1].columns], outer=outer)

        def build(mask: int) -> tuple[P.PlanNode, list[int]]:
            b = best[mask]
            if b.left is None or b.right is None:
                i = mask.bit_length() - 1
                node = _materialize_scans(parts[i][0])
                if own.get(i):
                    bs = [to_bool(self.bind(c, parts[i][1]), self.ctx, "WHERE", -1)
                          for c in own[i]]
                    node = _filter(node, bs)
                return node, [i]
            lnode, lorder = build(b.left)
            rnode, rorder = build(b.right)
            order = lorder + rorder
            ls, rs, js = scope_of(lorder), scope_of(rorder), scope_of(order)
            lkeys, rkeys, hashers, texts, extra = [], [], [], [], []
            for e in b.edges:
                (ia, ea), (_ib, eb) = zip(e.rels, e.exprs, strict=True)
                lx, rx = (ea, eb) if ia in lorder else (eb, ea)
                kl, kr = self.bind(lx, ls), self.bind(rx, rs)
                if kl.type.base != kr.type.base or kl.type.oid == T.UNKNOWN.oid:
                    extra.append(to_bool(self.operator("=", self.bind(lx, js),
                                                       self.bind(rx, js)), self.ctx, "WHERE",
                                         -1))
                    continue
                lkeys.append(kl.fn)
                rkeys.append(kr.fn)
                hashers.append(_hasher(kl.type))
                texts.append(f"({kl.text} = {kr.text})")
            for k, (used, c) in enumerate(multi):
                if k not in applied and used <= set(order):
                    applied.add(k)
                    extra.append(to_bool(self.bind(c, js), self.ctx, "WHERE", -1))
            ef = conjunction([x.fn for x in extra])
            if lkeys:
                node: P.PlanNode = P.HashJoin("inner", lnode, rnode, lkeys, rkeys, hashers,
                                             ef, " AND ".join(texts))
            else:
                node = P.NestedLoop("inner", lnode, rnode, ef,
                                    " AND ".join(x.text for x in extra))
            return node, order

        node, order = build(full)
        if order != list(range(len(items))):
            # back to FROM order, which the select list was bound to
            pos, at = {}, 0
            for i in order:
                pos[i] = at
                at += len(parts[i][1].columns)
            idx = [pos[i] + k for i in range(len(items)) for k in range(len(parts[i][1].columns))]
            node = _Reorder(node, idx)
        if top:
            bs = [to_bool(self.bind(c, fscope), self.ctx, "WHERE", -1) for c in top]
            node = _filter(node, bs)
        return node, fscope

    def _edge(self, c: a.Node, used: set[int], items_used: Any) -> JO.Edge | None:
        if not (isinstance(c, a.BinOp) and c.op == "=") or len(used) != 2:
            return None
        ul, ur = items_used(c.left), items_used(c.right)
        if not ul or not ur or len(ul) != 1 or len(ur) != 1 or ul == ur:
            return None
        return JO.Edge((next(iter(ul)), next(iter(ur))), (c.left, c.right), 0.005)

    def _estimate_rows(self, node: P.PlanNode) -> float:
        if not isinstance(node, ScanBuilder):
            return 1000.0
        rel = node.rel
        st = self.session.sdb.statistics.get(rel.oid) if self.session is not None else None
        if st is not None:
            rows = st.reltuples
        else:
            try:
                rows = float(self.session.db.table_stats(rel.heap).rows) \
                    if self.session is not None else 1000.0
            except Exception:  # a heap not there: no estimate
                rows = 1000.0
        for c in node.conds:
            rows *= 0.005 if isinstance(c, a.BinOp) and c.op == "=" else 0.33
        return max(rows, 1.0)

    def _edge_selectivity(self, e: JO.Edge, parts: list[tuple[P.PlanNode, Scope]]) -> float:
        nds = []
        for i, ex in zip(e.rels, e.exprs, strict=True):
            node = parts[i][0]
            nd = JO.DEFAULT_DISTINCT
            if isinstance(node, ScanBuilder) and isinstance(ex, a.ColumnRef) and \
                    self.session is not None:
                st = self.session.sdb.statistics.get(node.rel.oid)
                cs = st.columns.get(ex.fields[-1]) if st is not None else None
                if cs is not None and cs.n_distinct:
                    nd = cs.n_distinct if cs.n_distinct > 0 else -cs.n_distinct * st.reltuples
            nds.append(max(nd, 1.0))
        return 1.0 / max(nds)

    def _expand_star(self, table: list[str] | None, scope: Scope, pos: int,
                     agg: AggContext | None) -> list[tuple[str, Bound]]:
        out = []
        if table is not None and not scope.has_table(table[-1]):
            raise SqlError(f'missing FROM-clause entry for table "{table[-1]}"',
                           sqlstate="42P01", position=pos + 1)
        for i, c in enumerate(scope.columns):
            if table is None and c.hidden:
                continue
            if table is not None and c.table != table[-1]:
                continue
            if agg is not None:
                b = self.bind(a.ColumnRef([c.table, c.name] if c.table else [c.name], pos),
                              scope, agg)
            else:
                b = Bound(c.type, lambda row, ex, i=i: row[i], column=i, text=c.name)
            out.append((c.name, b))
        return out

    def _push_down(self, c: a.Node, scope: Scope, scans: list[ScanBuilder],
                   node: P.PlanNode) -> bool:
        """Give a WHERE conjunct to the one base-table scan it mentions."""
        refs = _column_refs(c)
        if refs is None or _has_aggregate(c):
            return False
        owners: set[int] = set()
        for fields_ in refs:
            hit = scope.find(fields_, -1) if fields_ else None
            if hit is None:
                continue  # an outer reference: a parameter for this scan
            i = hit[0]
            owner = None
            for k, s in enumerate(scans):
                if s.offset <= i < s.offset + s.width:
                    owner = k
            if owner is None:
                return False
            owners.add(owner)
        if len(owners) != 1:
            return False
        scan = scans[owners.pop()]
        if scan.outer_join_nullable:
            return False
        scan.add_condition(c)
        return True

    def _join_rewrite(self, node: P.PlanNode, conds: list[a.Node], scope: Scope
                      ) -> P.PlanNode:
        """Turn a cross join plus WHERE equalities into hash joins where it can."""
        if isinstance(node, P.NestedLoop) and node.kind == "inner" and node.cond is None:
            nl = node.left.width
            pairs = []
            rest = []
            for c in conds:
                p = self._equi_pair(c, scope, nl)
                if p is not None and _only_left(c, scope, nl, node) is False:
                    pairs.append(p)
                else:
                    rest.append(c)
            if pairs:
                left = node.left
                if isinstance(left, P.NestedLoop) and left.cond is None and rest:
                    sub_scope = Scope(scope.columns[:nl], outer=scope.outer)
                    here = [c for c in rest if _within(c, sub_scope)]
                    if here:
                        left = self._join_rewrite(left, here, sub_scope)
                        rest = [c for c in rest if c not in here]
                lkeys = [p[0].fn for p in pairs]
                rkeys = [(lambda row, ex, rf=p[1].fn, nl=nl: rf((None,) * nl + row, ex))
                         for p in pairs]
                text = " AND ".join(f"({p[0].text} = {p[1].text})" for p in pairs)
                node = P.HashJoin("inner", left, node.right, lkeys, rkeys,
                                  [_hasher(p[0].type) for p in pairs], None, text)
                conds = rest
        if not conds:
            return node
        bs = [to_bool(self.bind(c, scope), self.ctx, "WHERE", getattr(c, "pos", -1))
              for c in conds]
        return _filter(node, bs)


class ScanBuilder(P.PlanNode):
    """A base-table scan being planned: collects pushed-down conditions, then becomes a
    :class:`cairn.sql.plan.TableScan` (``build``), choosing what cairn.db can use."""

    def __init__(self, planner: Planner, rel: Relation, alias: str, scope: Scope,
                 lock: tuple[str, str] | None):
        self.planner, self.rel, self.alias, self.scope, self.lock = (planner, rel, alias,
                                                                    scope, lock)
        self.conds: list[a.Node] = []
        self.width = len(rel.live_columns)
        self.offset = 0
        self.outer_join_nullable = False
        self.emit_row = False
        self.rls_conds: list[a.Node] = []  # row-level security: bound by the table's name
        self.built: P.TableScan | None = None

    def add_condition(self, c: a.Node) -> None:
        self.conds.append(c)

    def build(self) -> P.TableScan:
        if self.built is not None:
            return self.built
        pl = self.planner
        own = Scope(self.scope.columns, outer=self.scope.outer)
        cols = self.rel.live_columns
        keys = [c.key for c in cols]
        fs = [T.storage_functions(c.type)[1] for c in cols]
        missing = [c.missing for c in cols]
        pairs = list(zip(keys, fs, missing, strict=False))

        emit_row = self.emit_row

        def decode(d: dict[str, Any]) -> tuple:
            out = []
            for k, f, m in pairs:
                v = d.get(k, m)
                out.append(None if v is None else f(v))
            if emit_row:
                out.append(d)
            return tuple(out)
        # row-level security first: a user's condition never sees a row a policy hides
        # (PostgreSQL's security barrier); policies name columns by the table, not the alias
        rls_scope = Scope([ScopeColumn(self.rel.name, c.name, c.type) for c in cols])
        conds = [(c, rls_scope) for c in self.rls_conds] + [(c, own) for c in self.conds]
        bounds = [to_bool(pl.bind(c, sc), pl.ctx, "WHERE", getattr(c, "pos", -1))
                  for c, sc in conds]
        spec = P.ScanSpec()
        sargs: list[tuple[str, str, Bound, T.SqlType]] = []
        residual: list[Bound] = []
        for (c, sc), b in zip(conds, bounds, strict=True):
            s = self._sarg(c, sc)
            if s is not None:
                sargs.append(s)
            residual.append(b)
        if sargs:
            to_st = {k: _sarg_storage(c.type) for k, c in zip(keys, cols, strict=False)}
            pk = set(self.rel.pk_keys())
            ix_cols = {tuple(self.rel.column(n).key for n in ix.columns)  # type: ignore[union-attr]
                       for ix in self.rel.indexes}
            usable = [s for s in sargs if s[1] == "=" or s[0] in pk or any(
                s[0] == ic[0] for ic in ix_cols)]
            if usable:
                def where(ex: Any, usable: list = usable, to_st: dict = to_st) -> Any:
                    d: dict[str, Any] = {}
                    for key, op, vb, _t in usable:
                        v = vb.fn((), ex)
                        if v is None:
                            return False
                        sv = to_st[key](v, op)
                        if sv is _NO_MATCH:
                            return False
                        if key in d:
                            d[key] = _narrow(d[key], (op, sv))
                            continue
                        d[key] = (op, sv)
                    return d
                spec.where = where
                eq_keys = {s[0] for s in usable if s[1] == "="}
                if pk <= eq_keys:
                    spec.kind, spec.index = "pk", _pk_name(self.rel)
                    if eq_keys == pk and all(s[1] == "=" for s in usable):
                        spec.point_keys = self.rel.pk_keys()
                else:
                    for ix in self.rel.indexes:
                        first = self.rel.column(ix.columns[0])
                        if first is not None and first.key in {s[0] for s in usable}:
                            spec.kind, spec.index = "index", ix.name
                            break
                spec.cond_text = " AND ".join(f"({_colname(cols, s[0])} {s[1]} {s[2].text})"
                                              for s in usable)
        filt = conjunction([b.fn for b in residual])
        # index conditions are rechecked with the filter; EXPLAIN shows only the rest
        shown = [b for (c, sc), b in zip(conds, bounds, strict=True)
                 if spec.where is None or self._sarg(c, sc) is None]
        text = " AND ".join(b.text for b in shown)
        self.built = P.TableScan(self.rel, self.alias, decode, spec, filt, text, self.lock)
        return self.built

    def _sarg(self, c: a.Node, scope: Scope) -> tuple[str, str, Bound, T.SqlType] | None:
        """``column op value`` where value does not depend on this table's row and is of the
        column's own type: something cairn.db can turn into a key or index range."""
        if not (isinstance(c, a.BinOp) and c.op in _CMP_OPS):
            return None
        pl = self.planner
        x, y = c.left, c.right
        op = c.op
        if not isinstance(x, a.ColumnRef):
            x, y, op = y, x, _FLIP[op]
        if not isinstance(x, a.ColumnRef):
            return None
        hit = scope.find(x.fields[-2:], -1)
        if hit is None:
            return None
        i = hit[0]
        col = self.rel.live_columns[i]
        if col.type.oid == T.BPCHAR.oid or (col.type.oid == T.NUMERIC.oid
                                            and col.type.typmod == -1):
            # blank-padded compare / numerics of any scale: their stored forms do not compare
            # like the values, so the db cannot look them up (the filter still applies)
            return None
        if _column_refs(y) is None:
            return None
        for f in _column_refs(y) or []:
            if scope.find(f, -1) is not None:
                return None
        vb = pl.bind(y, Scope([], outer=scope.outer))
        if vb.type.base != col.type.base:
            widening = (col.type.category == "N" and vb.type.category == "N"
                        and T.can_coerce(vb.type, col.type.base, "implicit")
                        and col.type.oid in (T.INT8.oid, T.NUMERIC.oid, T.FLOAT8.oid))
            if vb.type.oid == T.UNKNOWN.oid or widening:
                vb = coerce(vb, col.type.base, "implicit", pl.ctx)
            elif not (col.type.category == "S" and vb.type.category == "S"):
                return None
        return col.key, op, vb, col.type

    def rows(self, ex: Any) -> Any:
        return self.build().rows(ex)


class _UsingJoin(P.Wrapper):
    """JOIN ... USING / NATURAL JOIN: rows are (merged columns, left row, right row); a
    merged column is the left side's value, or the right side's where the left is NULL
    (PostgreSQL's COALESCE for RIGHT and FULL joins)."""

    def __init__(self, node: P.PlanNode, pairs: list[tuple[int, int]], nl: int, kind: str):
        super().__init__(node)
        self.kind, self.nl = kind, nl
        self.pairs = [(li, nl + ri) for li, ri in pairs]
        self.width = len(pairs) + node.width

    def rows(self, ex: Any) -> Any:
        pairs = self.pairs
        self.loops += 1
        for r in self.node.rows(ex):
            self.actual_rows += 1
            yield tuple(r[li] if r[li] is not None else r[ri] for li, ri in pairs) + r


_NO_MATCH = object()


def _narrow(have: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    """Two conditions on one column for cairn.db: a lower and an upper bound become one
    range (BETWEEN is inclusive; a strict bound is a superset the filter trims), so
    ``id BETWEEN 10 AND 20`` reads 11 keys, not every key above 10. Otherwise the first
    condition stands (the filter applies the rest)."""
    lo_ops, hi_ops = (">", ">="), ("<", "<=")
    if have[0] == "=":
        return have
    if new[0] == "=":
        return new
    if have[0] in lo_ops and new[0] in hi_ops:
        return ("between", have[1], new[1])
    if have[0] in hi_ops and new[0] in lo_ops:
        return ("between", new[1], have[1])
    return have


def _sarg_storage(t: T.SqlType) -> Callable[[Any, str], Any]:
    """A search value's stored form for a column of ``t``. A numeric(p,s) column stores every
    value at scale s: the search value is brought to it (for ``=``, a value that changes is
    one no row holds; a rounded range bound is a superset the filter trims)."""
    to = T.storage_functions(t)[0]
    if t.oid != T.NUMERIC.oid or t.typmod == -1:
        return lambda v, op: to(v)
    _p, scale = T.numeric_precision_scale(t.typmod)
    q = Decimal(1).scaleb(-scale)

    def numeric(v: Any, op: str) -> Any:
        if not isinstance(v, Decimal) or not v.is_finite():
            return to(v)
        r = v.quantize(q)
        if op == "=" and r != v:
            return _NO_MATCH
        return to(r)
    return numeric


class DmlCteNode(P.PlanNode):
    """A data-modifying WITH statement: run once per execution, its RETURNING rows kept."""

    name = "ModifyTable"

    def __init__(self, stmt: a.Node, cte: str, width: int, types: list[Any]):
        self.stmt, self.cte, self.width, self.types = stmt, cte, width, types
        self.key = object()

    def label(self) -> str:
        return f"CTE {self.cte} ({type(self.stmt).__name__.replace('Stmt', '')})"

    def run(self, ex: Any) -> list[tuple]:
        got = ex.materialized.get(self.key)
        if got is None:
            res = ex.session._dispatch(self.stmt, ex.params, self.types)
            got = ex.materialized[self.key] = list(res.rows)
        return got

    def rows(self, ex: Any) -> Any:
        return P.counted(self, iter(self.run(ex)))


class _NoReturning(P.PlanNode):
    def __init__(self, node: DmlCteNode, name: str):
        self.node, self.cte = node, name

    def rows(self, ex: Any) -> Any:
        raise SqlError(f'WITH query "{self.cte}" does not have a RETURNING clause',
                       sqlstate="0A000")


class RunFirst(P.Wrapper):
    """Runs the statement's data-modifying WITH statements before its own rows."""

    def __init__(self, node: P.PlanNode, ctes: list[DmlCteNode]):
        super().__init__(node)
        self.ctes = ctes

    def rows(self, ex: Any) -> Any:
        for c in self.ctes:
            c.run(ex)
        return self.node.rows(ex)


class _Reorder(P.Wrapper):
    """Puts a reordered join's columns back in FROM order (shown as its input in EXPLAIN)."""

    def __init__(self, node: P.PlanNode, idx: list[int]):
        super().__init__(node)
        self.idx = idx
        self.width = len(idx)

    def rows(self, ex: Any) -> Any:
        idx = self.idx
        for r in self.node.rows(ex):
            yield tuple(r[i] for i in idx)


def _flatten_inner(from_: list[a.Node]) -> tuple[list[a.Node], list[a.Node]]:
    """The relations of a FROM list with its inner joins opened up (as PostgreSQL's
    join_collapse_limit does), and their ON conditions."""
    items: list[a.Node] = []
    conds: list[a.Node] = []

    def walk(n: a.Node) -> None:
        if isinstance(n, a.JoinExpr) and n.kind in ("inner", "cross") and not n.natural \
                and n.using is None and n.alias is None:
            walk(n.left)
            walk(n.right)
            if n.on is not None:
                conds.extend(_conjuncts(n.on))
        else:
            items.append(n)
    for f in from_:
        walk(f)
    return items, conds


def _filter(node: P.PlanNode, conds: list[Bound]) -> P.PlanNode:
    """A Filter node over ``node`` keeping the rows where every condition is true."""
    pred = conjunction([b.fn for b in conds])
    assert pred is not None
    return P.Filter(node, pred, " AND ".join(b.text for b in conds))


def _item_alias(item: a.Node) -> str | None:
    if isinstance(item, a.RangeVar):
        return item.alias or item.name
    if isinstance(item, a.RangeSubselect | a.RangeFunction):
        return item.alias
    return None


def _check_alias_clash(scope: Scope, item: a.Node) -> None:
    """FROM t, t: PostgreSQL's 42712 (a second range variable needs its own alias)."""
    name = _item_alias(item)
    if name is not None and scope.has_table(name):
        raise SqlError(f'table name "{name}" specified more than once', sqlstate="42712",
                       position=getattr(item, "pos", -2) + 1)


def _system_view(item: a.RangeVar) -> Any:
    """pg_catalog's and information_schema's relations (pg_catalog is searched first)."""
    from cairn.sql import system_views
    if item.schema not in (None, "pg_catalog", "information_schema"):
        return None
    return system_views.find(item.schema, item.name)


def _pk_name(rel: Relation) -> str:
    for ix in rel.indexes:
        if ix.primary:
            return ix.name
    return f"{rel.name}_pkey"


def _colname(cols: list[Any], key: str) -> str:
    for c in cols:
        if c.key == key:
            return str(c.name)
    return key


def _materialize_scans(node: P.PlanNode) -> P.PlanNode:
    """Replace the ScanBuilders in a plan tree by the scans they build."""
    if isinstance(node, ScanBuilder):
        return node.build()
    for attr in ("left", "right", "child", "node"):
        ch = getattr(node, attr, None)
        if isinstance(ch, P.PlanNode):
            setattr(node, attr, _materialize_scans(ch))
    return node


def _set_offsets(node: P.PlanNode, start: int = 0) -> int:
    if isinstance(node, ScanBuilder):
        node.offset = start
        return start + node.width
    if isinstance(node, _UsingJoin):  # its rows start with the merged columns
        return _set_offsets(node.node, start + len(node.pairs))
    kids = [getattr(node, k) for k in ("left", "right") if isinstance(getattr(node, k, None),
                                                                     P.PlanNode)]
    if kids:
        pos = start
        for k in kids:
            pos = _set_offsets(k, pos)
        return pos
    for attr in ("child", "node"):
        ch = getattr(node, attr, None)
        if isinstance(ch, P.PlanNode):
            return _set_offsets(ch, start)
    return start + node.width


def _conjuncts(e: a.Node) -> list[a.Node]:
    if isinstance(e, a.BoolOp) and e.op == "and":
        out: list[a.Node] = []
        for x in e.args:
            out.extend(_conjuncts(x))
        return out
    if isinstance(e, a.Between) and not e.negated and not e.symmetric:
        # x BETWEEN a AND b is x >= a AND x <= b: two conditions an index range can take
        return [a.BinOp(">=", e.arg, e.low, e.pos), a.BinOp("<=", e.arg, e.high, e.pos)]
    return [e]


def _column_refs(e: Any) -> list[list[str]] | None:
    """Column references in an expression; None if it holds a subquery (not pushable)."""
    out: list[list[str]] = []

    def walk(n: Any) -> bool:
        if isinstance(n, a.SubLink):
            return False
        if isinstance(n, a.ColumnRef):
            out.append(n.fields[-2:])
            return True
        if isinstance(n, a.FuncCall) and (n.over is not None):
            return False
        if isinstance(n, a.Node):
            return all(walk(f) for f in fields_of(n))
        if isinstance(n, list | tuple):
            return all(walk(x) for x in n)
        return True
    return out if walk(e) else None


def fields_of(n: a.Node) -> list[Any]:
    from dataclasses import fields as dfields
    return [getattr(n, f.name) for f in dfields(n) if f.name != "pos"]


def _has_window(e: Any) -> bool:
    if isinstance(e, a.SubLink):
        return False
    if isinstance(e, a.FuncCall) and e.over is not None:
        return True
    if isinstance(e, a.Node):
        return any(_has_window(f) for f in fields_of(e))
    if isinstance(e, list | tuple):
        return any(_has_window(x) for x in e)
    return False


def _has_aggregate(e: Any) -> bool:
    if isinstance(e, a.SubLink):
        return False
    if isinstance(e, a.FuncCall) and e.over is None and (e.name[-1] in _AGGS or e.star):
        return True
    if isinstance(e, a.Node):
        return any(_has_aggregate(f) for f in fields_of(e))
    if isinstance(e, list | tuple):
        return any(_has_aggregate(x) for x in e)
    return False


def _column_name(e: a.Node) -> str:
    """PostgreSQL's FigureColname: the name a select-list item gets without AS."""
    name, _strength = _figure_colname(e)
    return name or "?column?"


def _figure_colname(e: Any) -> tuple[str | None, int]:
    """(name, strength): 2 for a column or function name, 1 for a type name or "case", 0
    for nothing (parse_target.c's FigureColnameInternal)."""
    if isinstance(e, a.ColumnRef):
        return e.fields[-1], 2
    if isinstance(e, a.FuncCall):
        return e.name[-1], 2
    if isinstance(e, a.Cast):
        name, strength = _figure_colname(e.arg)
        if strength <= 1:
            last = e.type.names[-1]
            return {"varying": "varchar", "precision": "float8"}.get(last, last), 1
        return name, strength
    if isinstance(e, a.Case):
        name, strength = _figure_colname(e.default) if e.default is not None else (None, 0)
        if strength <= 1:
            return "case", 1
        return name, strength
    if isinstance(e, a.Coalesce):
        return "coalesce", 2
    if isinstance(e, a.NullIf):
        return "nullif", 2
    if isinstance(e, a.MinMax):
        return e.op, 2
    if isinstance(e, a.SubLink):
        if e.kind == "exists":
            return "exists", 2
        if e.kind == "array":
            return "array", 2
        if e.kind == "expr" and isinstance(e.query, a.SelectStmt) and e.query.targets:
            t = e.query.targets[0]
            return (t.name, 2) if t.name else _figure_colname(t.expr)
        return None, 0
    if isinstance(e, a.ArrayExpr):
        return "array", 2
    if isinstance(e, a.SQLValue):
        return {"user": "current_user"}.get(e.name, e.name), 2
    if isinstance(e, a.RowExpr):
        return "row", 2
    if isinstance(e, a.Subscript):
        return _figure_colname(e.arg)
    return None, 0


def _mentions(q: Any, name: str) -> bool:
    if isinstance(q, a.RangeVar):
        return q.schema is None and q.name == name
    if isinstance(q, a.Node):
        return any(_mentions(f, name) for f in fields_of(q))
    if isinstance(q, list | tuple):
        return any(_mentions(x, name) for x in q)
    return False


def _is_lateral(item: a.Node) -> bool:
    return bool(getattr(item, "lateral", False)) or isinstance(item, a.RangeFunction)


def _only_left(c: a.Node, scope: Scope, nl: int, node: Any) -> bool:
    return False


def _within(c: a.Node, scope: Scope) -> bool:
    refs = _column_refs(c)
    if refs is None:
        return False
    try:
        return all(scope.find(f, -1) is not None for f in refs)
    except SqlError:
        return False


def _agg_scope_for_outer(agg: AggContext, scope: Scope) -> Scope:
    return Scope(agg.input_scope.columns, outer=agg.input_scope.outer)
