"""EXPLAIN: the plan tree in PostgreSQL's shape, with estimates, and actual rows for ANALYZE.

The text form indents like PostgreSQL's (``->`` before each child, details two columns in),
so a reader can put a cairn plan next to a PostgreSQL one. Estimates come from a small cost
model with PostgreSQL's constants (seq_page_cost 1, random_page_cost 4, cpu_tuple_cost 0.01,
cpu_index_tuple_cost 0.005, cpu_operator_cost 0.0025) over each table's live row count and
size; EXPLAIN ANALYZE runs the statement and adds the rows each node really produced and how
many times it ran (``loops``), as PostgreSQL does with TIMING OFF, plus the total planning and
execution times.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from cairn.sql import plan as P

SEQ_PAGE, RANDOM_PAGE, CPU_TUPLE, CPU_INDEX_TUPLE, CPU_OP = 1.0, 4.0, 0.01, 0.005, 0.0025
PAGE = 8192


@dataclass
class Estimate:
    startup: float
    total: float
    rows: float
    width: int


class Estimator:
    """Row and cost estimates of a plan tree, bottom up."""

    def __init__(self, table_rows: Any):
        self.table_rows = table_rows  # Relation -> (rows, bytes)
        self.memo: dict[int, Estimate] = {}

    def of(self, node: P.PlanNode) -> Estimate:
        got = self.memo.get(id(node))
        if got is None:
            got = self._estimate(node)
            self.memo[id(node)] = got
        return got

    def _estimate(self, n: P.PlanNode) -> Estimate:
        width = max(4, 8 * max(n.width, 1))
        if isinstance(n, P.TableScan):
            rows, size = self.table_rows(n.rel)
            pages = max(1.0, math.ceil(size / PAGE))
            if n.spec.kind == "pk":
                est = 1.0
                cost = RANDOM_PAGE + CPU_INDEX_TUPLE + CPU_TUPLE
                return Estimate(0.0, cost, est, width)
            if n.spec.kind == "index":
                est = max(1.0, rows * 0.005)
                cost = RANDOM_PAGE * min(pages, est) + est * (CPU_INDEX_TUPLE + CPU_TUPLE)
                return Estimate(0.25, cost, est, width)
            sel = 0.33 if n.filt is not None else 1.0
            cost = pages * SEQ_PAGE + rows * CPU_TUPLE + (rows * CPU_OP if n.filt else 0)
            return Estimate(0.0, cost, max(1.0, rows * sel), width)
        kids = [self.of(c) for c in n.children()]
        if isinstance(n, P.HashJoin):
            left, right = kids
            rows = max(left.rows, right.rows)
            startup = right.total + right.rows * CPU_OP
            total = startup + left.total + left.rows * CPU_OP + rows * CPU_TUPLE
            return Estimate(startup, total, rows, width)
        if isinstance(n, P.NestedLoop | P.LateralJoin):
            left, right = kids
            rows = left.rows * right.rows * (0.33 if getattr(n, "cond", None) else 1.0)
            total = left.total + left.rows * right.total + left.rows * right.rows * CPU_OP
            return Estimate(left.startup + right.startup, total, max(1.0, rows), width)
        if isinstance(n, P.Sort):
            child = kids[0]
            c = 2.0 * CPU_OP * child.rows * math.log2(max(child.rows, 2.0))
            return Estimate(child.total + c, child.total + c + child.rows * CPU_OP, child.rows,
                            width)
        if isinstance(n, P.Aggregate):
            child = kids[0]
            rows = max(1.0, child.rows * 0.1) if n.group_fns else 1.0
            cost = child.total + child.rows * CPU_OP * (1 + len(n.aggs))
            return Estimate(cost, cost + rows * CPU_TUPLE, rows, width)
        if isinstance(n, P.Limit):
            child = kids[0]
            return Estimate(child.startup, child.total, child.rows, width)
        if isinstance(n, P.Filter):
            child = kids[0]
            return Estimate(child.startup, child.total + child.rows * CPU_OP,
                            max(1.0, child.rows * 0.33), width)
        if isinstance(n, P.Result):
            return Estimate(0.0, 0.01, 1.0, width)
        if isinstance(n, P.ValuesScan):
            return Estimate(0.0, 0.01 * len(n.exprs), float(len(n.exprs)), width)
        if isinstance(n, P.FunctionScan):
            return Estimate(0.0, 10.0, 1000.0, width)
        if kids:
            startup = max(k.startup for k in kids)
            total = sum(k.total for k in kids)
            rows = sum(k.rows for k in kids) if isinstance(n, P.SetOp) else kids[0].rows
            return Estimate(startup, total, rows, width)
        return Estimate(0.0, 1.0, 1.0, width)


def _visible(n: P.PlanNode) -> tuple[P.PlanNode, list[P.PlanNode]]:
    """Nodes EXPLAIN shows: projections are folded into their input, as in PostgreSQL."""
    while isinstance(n, P.Project) or getattr(n, "transparent", False):
        n = n.child if isinstance(n, P.Project) else n.node  # type: ignore[attr-defined]
    return n, n.children()


def explain_text(root: P.PlanNode, est: Estimator, costs: bool, analyze: bool,
                 verbose: bool = False) -> list[str]:
    out: list[str] = []

    def line(n: P.PlanNode) -> str:
        e = est.of(n)
        s = n.label()
        if costs:
            s += f"  (cost={e.startup:.2f}..{e.total:.2f} rows={round(e.rows)} width={e.width})"
        if analyze:
            loops = max(n.loops, 1) if n.loops else 0
            rows = round(n.actual_rows / loops) if loops else 0
            s += f" (actual rows={rows} loops={n.loops})"
        return s

    def walk(n: P.PlanNode, depth: int) -> None:
        n, kids = _visible(n)
        pad = " " * (6 * depth - 4) + "->  " if depth else ""
        out.append(pad + line(n))
        for d in n.details():
            out.append(" " * (6 * depth + 2) + d)
        if isinstance(n, P.HashJoin):
            walk(kids[0], depth + 1)
            inner = kids[1]
            e = est.of(inner)
            hash_pad = " " * (6 * (depth + 1) - 4) + "->  "
            hline = "Hash"
            if costs:
                hline += f"  (cost={e.total:.2f}..{e.total:.2f} rows={round(e.rows)} " \
                         f"width={e.width})"
            if analyze:
                hline += f" (actual rows={inner.actual_rows} loops={max(n.loops, 0)})"
            out.append(hash_pad + hline)
            walk(inner, depth + 2)
            return
        for k in kids:
            walk(k, depth + 1)

    walk(root, 0)
    return out


def explain_json(root: P.PlanNode, est: Estimator, costs: bool, analyze: bool) -> str:
    def node(n: P.PlanNode) -> dict[str, Any]:
        n, kids = _visible(n)
        label = n.label()
        kind = n.name
        d: dict[str, Any] = {"Node Type": kind}
        if isinstance(n, P.TableScan):
            d["Relation Name"] = n.rel.name
            d["Alias"] = n.alias
            if n.spec.index:
                d["Index Name"] = n.spec.index
        elif label != kind:
            d["Label"] = label
        e = est.of(n)
        if costs:
            d.update({"Startup Cost": round(e.startup, 2), "Total Cost": round(e.total, 2),
                      "Plan Rows": round(e.rows), "Plan Width": e.width})
        if analyze:
            d.update({"Actual Rows": n.actual_rows // max(n.loops, 1),
                      "Actual Loops": n.loops})
        for det in n.details():
            k, _, v = det.partition(": ")
            d[k] = v
        if kids:
            d["Plans"] = [node(k) for k in kids]
        return d
    return json.dumps([{"Plan": node(root)}], indent=2)
