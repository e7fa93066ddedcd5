"""``where=``: a callable on the row, or a structured predicate that can use an index.

A structured predicate is a dict of column conditions, all of which must hold::

    {"owner": "ada"}                       # equality
    {"balance": (">=", 100)}               # one of = != < <= > >=
    {"start": ("between", 9, 17)}          # inclusive on both ends
    {"room": ("in", [1, 2, 3])}

The planner picks an access path, the way a query planner picks an index scan: primary-key
points when every key column is fixed by ``=``/``in``; else the index whose leading columns
are fixed by equalities and whose next column has the tightest condition; else a full scan.
Each access path is also the *span* a serializable transaction locks: SSI takes SIREAD locks
on it and 2PL takes predicate (index-range) locks on it, so a scan through an index locks the
range it read instead of the whole table. Every candidate is re-checked against the full
predicate on the version the reader sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cairn.db.heap import Heap, Index, index_value
from cairn.storage.keycodec import pack, prefix_end
from cairn.txn.errors import InvalidParameter

PK = "\x00pk"  # the name the primary key has in lock spans
OPS = {"=", "==", "!=", "<", "<=", ">", ">=", "between", "in"}
_MISSING = object()

Span = tuple[str, bytes, bytes | None] | None


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    args: tuple[Any, ...]


@dataclass
class Plan:
    kind: str  # "full", "points" (pk lookups) or "index"
    index: str | None = None
    ranges: list[tuple[bytes, bytes | None]] | None = None  # index ranges [lo, hi)
    points: list[bytes] | None = None  # packed primary keys
    spans: list[Span] | None = None  # what the scan locks (SIREAD / 2PL predicate)

    def describe(self) -> str:
        if self.kind == "full":
            return "Seq Scan"
        if self.kind == "points":
            return f"Primary Key Lookup ({len(self.points or [])} keys)"
        return f"Index Scan using {self.index} ({len(self.ranges or [])} ranges)"


def parse(where: Any) -> tuple[Callable[[dict[str, Any]], bool] | None, list[Cond]]:
    if where is None:
        return None, []
    if callable(where):
        return where, []
    if not isinstance(where, dict):
        raise InvalidParameter("where must be a callable on the row or a dict of conditions")
    conds: list[Cond] = []
    for column, spec in where.items():
        if not isinstance(column, str):
            raise InvalidParameter(f"bad column in where: {column!r}")
        if type(spec) is tuple and spec and isinstance(spec[0], str) and spec[0] in OPS:
            op, args = spec[0], tuple(spec[1:])
            if op == "==":
                op = "="
            want = {"between": 2, "in": 1}.get(op, 1)
            if len(args) != want:
                raise InvalidParameter(f"{op!r} on {column!r} takes {want} argument(s)")
            if op == "in":
                if not isinstance(args[0], (list, tuple, set, frozenset)):
                    raise InvalidParameter(f"'in' on {column!r} takes a list of values")
                args = (tuple(args[0]),)
            conds.append(Cond(column, op, args))
        else:
            conds.append(Cond(column, "=", (spec,)))
    return _compile(conds), conds


def _eq(a: Any, b: Any) -> bool:
    """SQL-like equality: booleans are not numbers (Python says ``0 == False``)."""
    return a == b and (type(a) is bool) == (type(b) is bool)


def _test(c: Cond, v: Any) -> bool:
    op, a = c.op, c.args
    try:
        if op == "=":
            return _eq(v, a[0])
        if op == "!=":
            return v is not _MISSING and not _eq(v, a[0])
        if v is _MISSING or v is None:
            return False
        if op == "<":
            return v < a[0]
        if op == "<=":
            return v <= a[0]
        if op == ">":
            return v > a[0]
        if op == ">=":
            return v >= a[0]
        if op == "between":
            return a[0] <= v <= a[1]
        return any(_eq(v, x) for x in a[0])
    except TypeError:
        return False  # comparing across types (SQL would reject; we do not match)


def _compile(conds: list[Cond]) -> Callable[[dict[str, Any]], bool]:
    if len(conds) == 1 and conds[0].op == "=":
        col, val = conds[0].column, conds[0].args[0]
        return lambda row: _eq(row.get(col, _MISSING), val)

    def match(row: dict[str, Any]) -> bool:
        return all(_test(c, row.get(c.column, _MISSING)) for c in conds)

    return match


def _ranges_for(index_cols: tuple[str, ...], by_col: dict[str, list[Cond]]
                ) -> tuple[int, list[tuple[bytes, bytes | None]]] | None:
    """Ranges over an index whose leading columns the conditions fix; (score, ranges)."""
    prefixes: list[tuple[Any, ...]] = [()]
    score = 0
    for col in index_cols:
        conds = by_col.get(col, [])
        eq = next((c for c in conds if c.op == "="), None)
        inn = next((c for c in conds if c.op == "in"), None)
        if eq is not None:
            prefixes = [(*p, index_value(eq.args[0])) for p in prefixes]
            score += 10
            continue
        if inn is not None and len(inn.args[0]) <= 64:
            prefixes = [(*p, index_value(v)) for p in prefixes for v in inn.args[0]]
            score += 8
            continue
        lo_val, lo_inc, hi_val, hi_inc = _MISSING, True, _MISSING, True
        for c in conds:
            if c.op in (">", ">="):
                lo_val, lo_inc = index_value(c.args[0]), c.op == ">="
            elif c.op in ("<", "<="):
                hi_val, hi_inc = index_value(c.args[0]), c.op == "<="
            elif c.op == "between":
                lo_val, lo_inc = index_value(c.args[0]), True
                hi_val, hi_inc = index_value(c.args[1]), True
        if lo_val is _MISSING and hi_val is _MISSING:
            break
        if (lo_val is not _MISSING and hi_val is not _MISSING
                and type(lo_val) is not type(hi_val)):
            break
        score += 5
        ranges: list[tuple[bytes, bytes | None]] = []
        for p in prefixes:
            base = pack(p)
            if lo_val is _MISSING:
                # Skip NULLs (they sort first), as a SQL comparison never matches NULL.
                lo = pack((*p, False))
            else:
                lo = pack((*p, lo_val)) if lo_inc else prefix_end(pack((*p, lo_val))) or b"\xff"
            if hi_val is _MISSING:
                hi = prefix_end(base) if base else None
            else:
                hi = prefix_end(pack((*p, hi_val))) if hi_inc else pack((*p, hi_val))
            ranges.append((lo, hi))
        return score, ranges
    if score == 0:
        return None
    out: list[tuple[bytes, bytes | None]] = []
    for p in prefixes:
        b = pack(p)
        out.append((b, prefix_end(b)))
    return score, out


def plan(heap: Heap, conds: list[Cond]) -> Plan:
    if not conds:
        return Plan("full", spans=[None])
    by_col: dict[str, list[Cond]] = {}
    for c in conds:
        by_col.setdefault(c.column, []).append(c)
    # Primary-key points: every key column fixed.
    keys: list[tuple[Any, ...]] = [()]
    for col in heap.pk:
        cs = by_col.get(col, [])
        eq = next((c for c in cs if c.op == "="), None)
        inn = next((c for c in cs if c.op == "in"), None)
        if eq is not None:
            keys = [(*k, eq.args[0]) for k in keys]
        elif inn is not None and len(inn.args[0]) <= 1024:
            keys = [(*k, v) for k in keys for v in inn.args[0]]
        else:
            keys = []
            break
    if keys:
        points: list[bytes] = []
        for k in keys:
            try:
                points.append(heap.pk_bytes(k[0] if heap.single_pk is not None else k))
            except Exception:
                continue
        points = sorted(set(points))
        return Plan("points", points=points,
                    spans=[(PK, p, prefix_end(p)) for p in points])
    best: tuple[int, Index, list[tuple[bytes, bytes | None]]] | None = None
    for idx in heap.indexes.values():
        r = _ranges_for(idx.columns, by_col)
        if r is not None and (best is None or r[0] > best[0]):
            best = (r[0], idx, r[1])
    if best is None:
        return Plan("full", spans=[None])
    _, idx, ranges = best
    return Plan("index", index=idx.name, ranges=ranges,
                spans=[(idx.name, lo, hi) for lo, hi in ranges])
