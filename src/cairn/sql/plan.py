"""Executor nodes: the physical plan, run as Python iterators (the Volcano model).

Each node is a small class with ``rows(ex)`` yielding tuples and ``explain()`` describing
itself the way PostgreSQL's EXPLAIN does (node name, the detail lines, children). Rows are
tuples whose layout the planner fixed; expressions are closures compiled by
:mod:`cairn.sql.expr`. Scans go through cairn.db's transaction API, so visibility, row locks
and SSI predicate locks are those of the access path actually chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cairn.sql import types as T
from cairn.sql.catalog import Relation
from cairn.sql.errors import SqlError

Fn = Callable[[tuple, Any], Any]


class PlanNode:
    name = "Node"
    width = 0  # columns per row
    est_rows = 1000.0
    # EXPLAIN ANALYZE counters
    actual_rows = 0
    loops = 0

    def rows(self, ex: Any) -> Iterator[tuple]:
        raise NotImplementedError

    def children(self) -> list[PlanNode]:
        return []

    def details(self) -> list[str]:
        return []

    def label(self) -> str:
        return self.name


def counted(node: PlanNode, it: Iterator[tuple]) -> Iterator[tuple]:
    node.loops += 1
    for r in it:
        node.actual_rows += 1
        yield r


@dataclass
class ScanSpec:
    """How to read a base table through cairn.db: a dict predicate the db can plan (points,
    index ranges) built at run time from the parameters, and the residual filter."""

    where: Callable[[Any], dict[str, Any] | None] | None = None
    kind: str = "seq"  # "seq" | "index" | "pk"
    index: str | None = None
    cond_text: str = ""
    # the primary-key columns' storage keys, when ``where`` fixes each with "=": the scan is
    # then one ``get`` of that key (no predicate to plan; SSI takes a row lock, not a range)
    point_keys: list[str] | None = None


class TableScan(PlanNode):
    def __init__(self, rel: Relation, alias: str, decode: Callable[[dict], tuple],
                 spec: ScanSpec, filt: Fn | None, filter_text: str = "",
                 lock: tuple[str, str] | None = None):
        self.rel = rel
        self.alias = alias
        self.decode = decode
        self.spec = spec
        self.filt = filt
        self.filter_text = filter_text
        self.lock = lock  # (strength, wait policy) for FOR UPDATE / SHARE
        self.width = len(rel.live_columns)
        self.name = {"seq": "Seq Scan", "index": "Index Scan", "pk": "Index Scan"}[spec.kind]

    def label(self) -> str:
        rel = self.rel.name
        al = "" if self.alias == rel else f" {self.alias}"
        if self.spec.kind == "seq":
            return f"Seq Scan on {rel}{al}"
        return f"Index Scan using {self.spec.index} on {rel}{al}"

    def details(self) -> list[str]:
        out = []
        if self.spec.kind != "seq" and self.spec.cond_text:
            out.append(f"Index Cond: {self.spec.cond_text}")
        if self.filter_text:
            out.append(f"Filter: {self.filter_text}")
        return out

    def rows(self, ex: Any) -> Iterator[tuple]:
        self.loops += 1
        where = self.spec.where(ex) if self.spec.where is not None else None
        kw: dict[str, Any] = {}
        if self.lock is not None:
            strength, wait = self.lock
            if strength in ("update", "no key update"):
                kw["for_update"] = True
            else:
                kw["for_share"] = True
            if wait == "nowait":
                kw["nowait"] = True
            elif wait == "skip locked":
                kw["skip_locked"] = True
        if where is False:  # a contradiction (x = NULL): nothing to read
            return
        ex.check()
        pk = self.spec.point_keys
        if pk is not None and where is not None and len(where) == len(pk) and not kw.get(
                "skip_locked"):
            key = where[pk[0]][1] if len(pk) == 1 else tuple(where[k][1] for k in pk)
            d = ex.tx.get(self.rel.heap, key, **kw)
            if d is not None:
                row = self.decode(d)
                if self.filt is None or self.filt(row, ex) is True:
                    self.actual_rows += 1
                    yield row
            return
        stored = ex.tx.select(self.rel.heap, where, **kw)
        decode, filt = self.decode, self.filt
        for i, d in enumerate(stored):
            if not i & 1023:
                ex.check()
            row = decode(d)
            if filt is None or filt(row, ex) is True:
                self.actual_rows += 1
                yield row


class Wrapper(PlanNode):
    """A node that only adjusts its input's rows (column order, merged USING columns, WITH
    statements run first): EXPLAIN shows the input in its place."""

    transparent = True

    def __init__(self, node: PlanNode):
        self.node = node
        self.width = node.width
        self.name = node.name

    def label(self) -> str:
        return self.node.label()

    def children(self) -> list[PlanNode]:
        return self.node.children()

    def details(self) -> list[str]:
        return self.node.details()


class LockRows(PlanNode):
    """SELECT ... FOR UPDATE/SHARE: lock each row as it leaves the sort, before LIMIT counts
    it (PostgreSQL's LockRows), so that SKIP LOCKED skips only rows another transaction holds
    and LIMIT 1 locks one row. A row changed since the snapshot is re-read: read committed
    re-checks the scan's conditions on the new version and returns it (EvalPlanQual)."""

    name = "LockRows"

    def __init__(self, child: PlanNode, scan: TableScan, slot: int, strength: str, wait: str,
                 outputs: list[Fn]):
        self.child, self.scan, self.slot = child, scan, slot
        self.strength, self.wait, self.outputs = strength, wait, outputs
        self.width = child.width

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        self.loops += 1
        rel = self.scan.rel
        keys = rel.pk_keys()
        upd = self.strength in ("update", "no key update")
        for r in self.child.rows(ex):
            stored = r[self.slot]
            where = {k: ("=", stored[k]) for k in keys}
            got = ex.tx.select(rel.heap, where, for_update=upd, for_share=not upd,
                               nowait=self.wait == "nowait",
                               skip_locked=self.wait == "skip locked", limit=1)
            if not got:
                continue  # locked by another (SKIP LOCKED), or deleted meanwhile
            d = got[0]
            if d != stored:
                raw = self.scan.decode(d)
                if self.scan.filt is not None and self.scan.filt(raw, ex) is not True:
                    continue
                r = tuple(f(raw, ex) for f in self.outputs)
            self.actual_rows += 1
            yield r


class Result(PlanNode):
    """A single row with no input (SELECT without FROM)."""

    name = "Result"

    def rows(self, ex: Any) -> Iterator[tuple]:
        return counted(self, iter([()]))


class ValuesScan(PlanNode):
    name = "Values Scan"

    def __init__(self, rows_: list[list[Fn]], width: int):
        self.exprs = rows_
        self.width = width

    def label(self) -> str:
        return 'Values Scan on "*VALUES*"'

    def rows(self, ex: Any) -> Iterator[tuple]:
        return counted(self, (tuple(f((), ex) for f in r) for r in self.exprs))


class Filter(PlanNode):
    name = "Filter"

    def __init__(self, child: PlanNode, pred: Fn, text: str = ""):
        self.child, self.pred, self.text = child, pred, text
        self.width = child.width

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        pred = self.pred
        return counted(self, (r for r in self.child.rows(ex) if pred(r, ex) is True))


class Project(PlanNode):
    name = "Project"

    def __init__(self, child: PlanNode, exprs: list[Fn]):
        self.child, self.exprs = child, exprs
        self.width = len(exprs)

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        exprs = self.exprs
        if len(exprs) == 1:
            f = exprs[0]
            return counted(self, ((f(r, ex),) for r in self.child.rows(ex)))
        return counted(self, (tuple([f(r, ex) for f in exprs]) for r in self.child.rows(ex)))


class NestedLoop(PlanNode):
    name = "Nested Loop"

    def __init__(self, kind: str, left: PlanNode, right: PlanNode, cond: Fn | None,
                 text: str = ""):
        self.kind, self.left, self.right, self.cond, self.text = kind, left, right, cond, text
        self.width = left.width + right.width

    def label(self) -> str:
        return "Nested Loop" + ({"left": " Left Join", "full": " Full Join", "anti": " Anti Join",
                                 "semi": " Semi Join"}.get(self.kind, ""))

    def details(self) -> list[str]:
        return [f"Join Filter: {self.text}"] if self.text else []

    def children(self) -> list[PlanNode]:
        return [self.left, self.right]

    def rows(self, ex: Any) -> Iterator[tuple]:
        self.loops += 1
        right_rows = list(self.right.rows(ex))
        cond, kind = self.cond, self.kind
        rnull = (None,) * self.right.width
        matched_right = [False] * len(right_rows) if kind == "full" else None
        for lr in self.left.rows(ex):
            ex.check()  # a long nested loop answers a cancel between outer rows
            hit = False
            for j, rr in enumerate(right_rows):
                row = lr + rr
                if cond is None or cond(row, ex) is True:
                    hit = True
                    if matched_right is not None:
                        matched_right[j] = True
                    self.actual_rows += 1
                    yield row
            if not hit and kind in ("left", "full"):
                self.actual_rows += 1
                yield lr + rnull
        if matched_right is not None:
            lnull = (None,) * self.left.width
            for j, rr in enumerate(right_rows):
                if not matched_right[j]:
                    self.actual_rows += 1
                    yield lnull + rr


class HashJoin(PlanNode):
    """Equi-join: build a hash table on the inner (right) input, probe with the outer."""

    name = "Hash Join"

    def __init__(self, kind: str, left: PlanNode, right: PlanNode, lkeys: list[Fn],
                 rkeys: list[Fn], hashers: list[Callable[[Any], Any]], extra: Fn | None,
                 text: str = ""):
        self.kind, self.left, self.right = kind, left, right
        self.lkeys, self.rkeys, self.hashers, self.extra = lkeys, rkeys, hashers, extra
        self.text = text
        self.width = left.width + right.width

    def label(self) -> str:
        return "Hash " + {"inner": "Join", "left": "Left Join", "full": "Full Join",
                          "right": "Right Join"}[self.kind]

    def details(self) -> list[str]:
        return [f"Hash Cond: {self.text}"] if self.text else []

    def children(self) -> list[PlanNode]:
        return [self.left, self.right]

    def _key(self, fns: list[Fn], row: tuple, ex: Any) -> Any:
        vals = []
        for f, h in zip(fns, self.hashers, strict=False):
            v = f(row, ex)
            if v is None:
                return None
            vals.append(h(v))
        return tuple(vals)

    def rows(self, ex: Any) -> Iterator[tuple]:
        self.loops += 1
        table: dict[Any, list[tuple]] = {}
        right_all: list[tuple] = []
        for n, rr in enumerate(self.right.rows(ex)):
            if not n & 1023:
                ex.check()
            right_all.append(rr)
            k = self._key(self.rkeys, rr, ex)
            if k is not None:
                table.setdefault(k, []).append(rr)
        kind, extra = self.kind, self.extra
        rnull = (None,) * self.right.width
        matched: set[int] = set()
        for lr in self.left.rows(ex):
            k = self._key(self.lkeys, lr, ex)
            hit = False
            if k is not None:
                for rr in table.get(k, ()):
                    row = lr + rr
                    if extra is None or extra(row, ex) is True:
                        hit = True
                        if kind in ("full", "right"):
                            matched.add(id(rr))
                        self.actual_rows += 1
                        yield row
            if not hit and kind in ("left", "full"):
                self.actual_rows += 1
                yield lr + rnull
        if kind in ("full", "right"):
            lnull = (None,) * self.left.width
            for rr in right_all:
                if id(rr) not in matched:
                    self.actual_rows += 1
                    yield lnull + rr


@dataclass
class SortKey:
    fn: Fn
    key: Callable[[Any], Any]
    desc: bool
    nulls_first: bool


class Sort(PlanNode):
    name = "Sort"

    def __init__(self, child: PlanNode, keys: list[SortKey], text: str = "",
                 limit: Fn | None = None):
        self.child, self.keys, self.text = child, keys, text
        self.width = child.width

    def children(self) -> list[PlanNode]:
        return [self.child]

    def details(self) -> list[str]:
        return [f"Sort Key: {self.text}"] if self.text else []

    def rows(self, ex: Any) -> Iterator[tuple]:
        rows = list(self.child.rows(ex))
        # stable sorts from the last key to the first; NULLs placed per key
        for k in reversed(self.keys):
            vals = [k.fn(r, ex) for r in rows]
            nn = [(v, r) for v, r in zip(vals, rows, strict=False) if v is not None]
            nulls = [r for v, r in zip(vals, rows, strict=False) if v is None]
            kf = k.key
            nn.sort(key=lambda p, kf=kf: kf(p[0]), reverse=k.desc)
            sorted_rows = [r for _, r in nn]
            rows = nulls + sorted_rows if k.nulls_first else sorted_rows + nulls
        return counted(self, iter(rows))


class Limit(PlanNode):
    name = "Limit"

    def __init__(self, child: PlanNode, limit: Fn | None, offset: Fn | None):
        self.child, self.limit, self.offset = child, limit, offset
        self.width = child.width

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        lim = self.limit((), ex) if self.limit is not None else None
        off = self.offset((), ex) if self.offset is not None else None
        if lim is not None and lim < 0:
            raise SqlError("LIMIT must not be negative", sqlstate="2201W")
        if off is not None and off < 0:
            raise SqlError("OFFSET must not be negative", sqlstate="2201X")
        off = off or 0
        return counted(self, self._gen(ex, lim, off))

    def _gen(self, ex: Any, lim: int | None, off: int) -> Iterator[tuple]:
        if lim == 0:
            return
        n = 0
        for i, r in enumerate(self.child.rows(ex)):
            if i < off:
                continue
            yield r
            n += 1
            if lim is not None and n >= lim:
                return


class Unique(PlanNode):
    """DISTINCT (hashing) and DISTINCT ON (first row per key after the sort)."""

    name = "HashAggregate"

    def __init__(self, child: PlanNode, key_fns: list[Fn] | None,
                 hashers: list[Callable[[Any], Any]]):
        self.child, self.key_fns, self.hashers = child, key_fns, hashers
        self.width = child.width
        self.name = "Unique" if key_fns is not None else "HashAggregate"

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        seen: set[Any] = set()
        hs = self.hashers

        def gen() -> Iterator[tuple]:
            for r in self.child.rows(ex):
                vals = r if self.key_fns is None else tuple(f(r, ex) for f in self.key_fns)
                k = tuple(None if v is None else h(v) for v, h in zip(vals, hs, strict=False))
                if k in seen:
                    continue
                seen.add(k)
                yield r
        return counted(self, gen())


@dataclass
class AggSpec:
    """One aggregate call: its state functions and inputs."""

    name: str
    args: list[Fn]
    init: Callable[[], Any]
    step: Callable[[Any, list[Any]], Any]
    final: Callable[[Any], Any]
    distinct: bool = False
    filter: Fn | None = None
    strict: bool = True  # skip rows where an argument is NULL
    order: list[SortKey] = field(default_factory=list)
    arg_hash: list[Callable[[Any], Any]] = field(default_factory=list)


class Aggregate(PlanNode):
    """GROUP BY with hashing (HashAggregate), or one group for a plain aggregate."""

    def __init__(self, child: PlanNode, group_fns: list[Fn],
                 hashers: list[Callable[[Any], Any]], aggs: list[AggSpec], text: str = ""):
        self.child, self.group_fns, self.hashers, self.aggs = child, group_fns, hashers, aggs
        self.text = text
        self.width = len(group_fns) + len(aggs)
        self.name = "HashAggregate" if group_fns else "Aggregate"

    def children(self) -> list[PlanNode]:
        return [self.child]

    def details(self) -> list[str]:
        return [f"Group Key: {self.text}"] if self.text else []

    def rows(self, ex: Any) -> Iterator[tuple]:
        groups: dict[Any, tuple[tuple, list[Any]]] = {}
        aggs = self.aggs
        gfns, hs = self.group_fns, self.hashers
        ordered = any(ag.order or ag.distinct for ag in aggs)
        for n, r in enumerate(self.child.rows(ex)):
            if not n & 1023:
                ex.check()
            gvals = tuple(f(r, ex) for f in gfns)
            k = tuple(None if v is None else h(v) for v, h in zip(gvals, hs, strict=False))
            g = groups.get(k)
            if g is None:
                g = (gvals, [[] if ordered and (ag.order or ag.distinct) else ag.init()
                             for ag in aggs])
                groups[k] = g
            states = g[1]
            for i, ag in enumerate(aggs):
                if ag.filter is not None and ag.filter(r, ex) is not True:
                    continue
                vals = [f(r, ex) for f in ag.args]
                if ag.strict and any(v is None for v in vals):
                    continue
                if ag.order or ag.distinct:
                    states[i].append((vals, r))
                else:
                    states[i] = ag.step(states[i], vals)
        if not groups and not gfns:
            groups[()] = ((), [[] if (ag.order or ag.distinct) else ag.init() for ag in aggs])
        out = []
        for gvals, states in groups.values():
            res = []
            for ag, st in zip(aggs, states, strict=False):
                if ag.order or ag.distinct:
                    st = self._replay(ag, st, ex)
                res.append(ag.final(st))
            out.append(gvals + tuple(res))
        return counted(self, iter(out))

    @staticmethod
    def _replay(ag: AggSpec, items: list[tuple[list[Any], tuple]], ex: Any) -> Any:
        if ag.order:
            rows = items
            for k in reversed(ag.order):
                vals = [k.fn(r, ex) for _, r in rows]
                nn = [(v, it) for v, it in zip(vals, rows, strict=False) if v is not None]
                nulls = [it for v, it in zip(vals, rows, strict=False) if v is None]
                nn.sort(key=lambda p, kf=k.key: kf(p[0]), reverse=k.desc)
                srt = [it for _, it in nn]
                rows = nulls + srt if k.nulls_first else srt + nulls
            items = rows
        st = ag.init()
        seen: set[Any] = set()
        for vals, _r in items:
            if ag.distinct:
                key = tuple(None if v is None else h(v)
                            for v, h in zip(vals, ag.arg_hash, strict=False))
                if key in seen:
                    continue
                seen.add(key)
            st = ag.step(st, vals)
        return st


class Materialize(PlanNode):
    """A CTE or an uncorrelated subquery's result, computed once per statement."""

    name = "CTE Scan"

    def __init__(self, child: PlanNode, name: str):
        self.child, self.cte = child, name
        self.width = child.width
        self.key = object()

    def label(self) -> str:
        return f"CTE Scan on {self.cte}"

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        cache = ex.materialized
        rows = cache.get(self.key)
        if rows is None:
            rows = list(self.child.rows(ex))
            cache[self.key] = rows
        return counted(self, iter(rows))


class RecursiveUnion(PlanNode):
    name = "Recursive Union"

    def __init__(self, base: PlanNode, width: int, distinct: bool,
                 hashers: list[Callable[[Any], Any]]):
        self.base = base
        self.step: PlanNode | None = None
        self.width = width
        self.distinct = distinct
        self.hashers = hashers
        self.key = object()  # where the working table lives in ex.materialized

    def children(self) -> list[PlanNode]:
        return [self.base] + ([self.step] if self.step else [])

    def rows(self, ex: Any) -> Iterator[tuple]:
        seen: set[Any] = set()
        hs = self.hashers

        def fresh(rows: list[tuple]) -> list[tuple]:
            if not self.distinct:
                return rows
            out = []
            for r in rows:
                k = tuple(None if v is None else h(v) for v, h in zip(r, hs, strict=False))
                if k not in seen:
                    seen.add(k)
                    out.append(r)
            return out

        work = fresh(list(self.base.rows(ex)))
        result = list(work)
        n = 0
        assert self.step is not None
        while work:
            n += 1
            if n > 1_000_000:
                raise SqlError("recursive query did not terminate", sqlstate="54001")
            ex.materialized[self.key] = work
            work = fresh(list(self.step.rows(ex)))
            result.extend(work)
        return counted(self, iter(result))


class WorkTableScan(PlanNode):
    name = "WorkTable Scan"

    def __init__(self, source: RecursiveUnion, name: str):
        self.source = source
        self.width = source.width
        self.cte = name

    def label(self) -> str:
        return f"WorkTable Scan on {self.cte}"

    def rows(self, ex: Any) -> Iterator[tuple]:
        return counted(self, iter(ex.materialized.get(self.source.key, [])))


class SetOp(PlanNode):
    def __init__(self, op: str, all_: bool, left: PlanNode, right: PlanNode,
                 hashers: list[Callable[[Any], Any]]):
        self.op, self.all, self.left, self.right, self.hashers = op, all_, left, right, hashers
        self.width = left.width
        self.name = "Append" if op == "union" and all_ else (
            "HashAggregate" if op == "union" else "HashSetOp " + op.capitalize()
            + (" All" if all_ else ""))

    def children(self) -> list[PlanNode]:
        return [self.left, self.right]

    def _key(self, r: tuple) -> Any:
        return tuple(None if v is None else h(v) for v, h in zip(r, self.hashers, strict=False))

    def rows(self, ex: Any) -> Iterator[tuple]:
        op, all_ = self.op, self.all
        if op == "union":
            if all_:
                return counted(self, _chain(self.left.rows(ex), self.right.rows(ex)))
            seen: set[Any] = set()
            out = []
            for r in _chain(self.left.rows(ex), self.right.rows(ex)):
                k = self._key(r)
                if k not in seen:
                    seen.add(k)
                    out.append(r)
            return counted(self, iter(out))
        right: dict[Any, int] = {}
        for r in self.right.rows(ex):
            k = self._key(r)
            right[k] = right.get(k, 0) + 1
        out = []
        emitted: dict[Any, int] = {}
        for r in self.left.rows(ex):
            k = self._key(r)
            n_right = right.get(k, 0)
            if op == "intersect":
                if all_:
                    if emitted.get(k, 0) < n_right:
                        emitted[k] = emitted.get(k, 0) + 1
                        out.append(r)
                elif n_right and k not in emitted:
                    emitted[k] = 1
                    out.append(r)
            else:  # except
                if all_:
                    if n_right > 0:
                        right[k] = n_right - 1
                    else:
                        out.append(r)
                elif not n_right and k not in emitted:
                    emitted[k] = 1
                    out.append(r)
        return counted(self, iter(out))


def _chain(*its: Iterator[tuple]) -> Iterator[tuple]:
    for it in its:
        yield from it


class FunctionScan(PlanNode):
    """A set-returning function in FROM (generate_series, unnest, jsonb_each...)."""

    name = "Function Scan"

    def __init__(self, fn: Callable[[tuple, Any], list[Any]], width: int, label: str,
                 ordinality: bool, lateral_child: PlanNode | None = None):
        self.fn, self.width, self.fname, self.ordinality = fn, width, label, ordinality

    def label(self) -> str:
        return f"Function Scan on {self.fname}"

    def rows(self, ex: Any) -> Iterator[tuple]:
        vals = self.fn((), ex)
        return counted(self, self._gen(vals, ex))

    def _gen(self, vals: Any, ex: Any = None) -> Iterator[tuple]:
        for n, v in enumerate(vals or (), 1):
            if ex is not None and not n & 1023:
                ex.check()
            t = v if isinstance(v, tuple) else (v,)
            yield (*t, n) if self.ordinality else t


class LateralJoin(PlanNode):
    """A join whose right side reads the current left row (LATERAL, SRFs on columns)."""

    name = "Nested Loop"

    def __init__(self, kind: str, left: PlanNode, right: PlanNode, cond: Fn | None):
        self.kind, self.left, self.right, self.cond = kind, left, right, cond
        self.width = left.width + right.width

    def children(self) -> list[PlanNode]:
        return [self.left, self.right]

    def rows(self, ex: Any) -> Iterator[tuple]:
        self.loops += 1
        rnull = (None,) * self.right.width
        for lr in self.left.rows(ex):
            ex.outer.append(lr)
            try:
                rights = list(self.right.rows(ex))
            finally:
                ex.outer.pop()
            hit = False
            for rr in rights:
                row = lr + rr
                if self.cond is None or self.cond(row, ex) is True:
                    hit = True
                    self.actual_rows += 1
                    yield row
            if not hit and self.kind == "left":
                self.actual_rows += 1
                yield lr + rnull


class ProjectSet(PlanNode):
    """Set-returning functions in the select list: one output row per element, in lockstep
    (PostgreSQL 10+'s rule: shorter ones padded with NULLs)."""

    name = "ProjectSet"

    def __init__(self, child: PlanNode, exprs: list[Fn], srf: list[bool]):
        self.child, self.exprs, self.srf = child, exprs, srf
        self.width = len(exprs)

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        def gen() -> Iterator[tuple]:
            for r in self.child.rows(ex):
                vals = [f(r, ex) for f in self.exprs]
                lists = [list(v) if s and v is not None else None
                         for v, s in zip(vals, self.srf, strict=False)]
                n = max((len(x) for x in lists if x is not None), default=0)
                for i in range(n):
                    yield tuple((x[i] if i < len(x) else None) if x is not None else v
                                for x, v in zip(lists, vals, strict=False))
        return counted(self, gen())


class WindowAgg(PlanNode):
    """Window functions: partition, order, then a per-row value per window function."""

    name = "WindowAgg"

    def __init__(self, child: PlanNode, funcs: list[Callable[[list[tuple], Any], list[Any]]]):
        self.child, self.funcs = child, funcs
        self.width = child.width + len(funcs)

    def children(self) -> list[PlanNode]:
        return [self.child]

    def rows(self, ex: Any) -> Iterator[tuple]:
        rows = list(self.child.rows(ex))
        cols = [f(rows, ex) for f in self.funcs]
        return counted(self, (r + tuple(c[i] for c in cols) for i, r in enumerate(rows)))


def output_types_text(types: list[T.SqlType]) -> str:
    return ", ".join(t.name for t in types)
