"""Join order: a cost-based search over the inner joins of a FROM clause (PostgreSQL's
standard join search, by dynamic programming over subsets).

Three or more relations joined by inner joins (comma lists, INNER/CROSS JOIN ... ON) are one
join problem, as PostgreSQL flattens them up to ``join_collapse_limit`` (8). Each relation's
row count is estimated from its table's size (ANALYZE's reltuples when analyzed) and the
selectivity of the conditions pushed into its scan; an equality between two relations joins
them with the selectivity 1 / max(distinct values) (ANALYZE's n_distinct, else 200 as
PostgreSQL's default). The search considers every split of every subset that a join condition
connects (cross products only when nothing else connects the parts) and keeps the cheapest:
a hash join costs building the inner side plus probing it. Beyond 10 relations it joins
greedily. The chosen tree's rows are put back in FROM order for the rest of the query.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

DEFAULT_DISTINCT = 200.0
DP_LIMIT = 10


@dataclass
class Rel:
    """One relation of the join problem."""

    index: int
    rows: float
    width: int


@dataclass
class Edge:
    """An equality joining two relations: ``exprs[i]`` reads relation ``rels[i]`` only."""

    rels: tuple[int, int]
    exprs: tuple[Any, Any]
    selectivity: float


@dataclass
class Best:
    cost: float
    rows: float
    left: int | None = None  # subset masks of the chosen split (None for a single relation)
    right: int | None = None
    edges: list[Edge] = field(default_factory=list)


def _bits(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def search(rels: list[Rel], edges: list[Edge]) -> dict[int, Best]:
    """The cheapest way to join every subset; ``result[full mask]`` is the answer."""
    n = len(rels)
    best: dict[int, Best] = {1 << r.index: Best(0.0, max(r.rows, 1.0)) for r in rels}
    full = (1 << n) - 1

    def crossing(a: int, b: int) -> list[Edge]:
        return [e for e in edges if (a >> e.rels[0] & 1 and b >> e.rels[1] & 1)
                or (a >> e.rels[1] & 1 and b >> e.rels[0] & 1)]

    def join(a: int, b: int) -> Best | None:
        ba, bb = best.get(a), best.get(b)
        if ba is None or bb is None:
            return None
        es = crossing(a, b)
        sel = 1.0
        for e in es:
            sel *= e.selectivity
        rows = max(ba.rows * bb.rows * sel, 1.0)
        # hash join: build the right side, probe with the left; a cross product pays for
        # every pair (nested loop)
        cost = ba.cost + bb.cost + (ba.rows + bb.rows * 1.5 if es else ba.rows * bb.rows)
        return Best(cost + rows * 0.01, rows, a, b, es)

    if n <= DP_LIMIT:
        for size in range(2, n + 1):
            for combo in itertools.combinations(range(n), size):
                mask = sum(1 << i for i in combo)
                cands: list[Best] = []
                connected: list[Best] = []
                sub = (mask - 1) & mask
                while sub:
                    other = mask ^ sub
                    got = join(sub, other)
                    if got is not None:
                        cands.append(got)
                        if got.edges:
                            connected.append(got)
                    sub = (sub - 1) & mask
                pool = connected or cands
                if pool:
                    best[mask] = min(pool, key=lambda b: b.cost)
        return best
    # greedy: start from the smallest relation, add the cheapest next one
    order = sorted(range(n), key=lambda i: rels[i].rows)
    cur = 1 << order[0]
    left = set(order[1:])
    while left:
        options = []
        for i in left:
            got = join(cur, 1 << i)
            if got is not None:
                options.append((not got.edges, got.cost, i, got))
        _, _, i, got = min(options)
        best[cur | 1 << i] = got
        cur |= 1 << i
        left.remove(i)
    best[full] = best[cur]
    return best


def order_of(best: dict[int, Best], mask: int) -> list[int]:
    """The relations of ``mask`` in the order the chosen tree lays out their columns."""
    b = best[mask]
    if b.left is None or b.right is None:
        return _bits(mask)
    return order_of(best, b.left) + order_of(best, b.right)
