"""ANALYZE: per-column statistics of a table's sample, as PostgreSQL keeps in pg_statistic.

For each column: the fraction of NULLs, the number of distinct values (negative when it is a
fraction of the rows and should grow with the table, as PostgreSQL stores it), the most
common values with their frequencies, and equi-depth histogram bounds over the rest. The
sample is at most 300 x ``default_statistics_target`` rows (30,000), drawn uniformly, as
PostgreSQL's; a table with fewer rows is read whole. The planner's estimates read these
(pg_stats shows them); tables never analyzed fall back to defaults.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cairn.sql import types as T

STATISTICS_TARGET = 100  # default_statistics_target
SAMPLE_ROWS = 300 * STATISTICS_TARGET


@dataclass
class ColumnStats:
    null_frac: float
    n_distinct: float  # > 0: a count; < 0: minus the fraction of rows (grows with the table)
    mcv: list[Any] = field(default_factory=list)
    mcf: list[float] = field(default_factory=list)
    histogram: list[Any] = field(default_factory=list)

    def eq_selectivity(self, value: Any, reltuples: float) -> float:
        """Fraction of rows equal to ``value`` (PostgreSQL's var_eq_const)."""
        for v, f in zip(self.mcv, self.mcf, strict=True):
            if v == value:
                return f
        distinct = self.n_distinct if self.n_distinct > 0 else -self.n_distinct * reltuples
        rest = 1.0 - self.null_frac - sum(self.mcf)
        others = max(distinct - len(self.mcv), 1.0)
        return max(rest / others, 0.0)


@dataclass
class TableStats:
    reltuples: float
    columns: dict[str, ColumnStats]


def analyze(rows: list[tuple], names: list[str], types: list[T.SqlType],
            total: int, rng: random.Random | None = None) -> TableStats:
    """Statistics of ``rows`` (a table's live rows, decoded) for the columns ``names``."""
    rng = rng or random.Random(0)
    sample = rows if len(rows) <= SAMPLE_ROWS else rng.sample(rows, SAMPLE_ROWS)
    n = len(sample)
    out: dict[str, ColumnStats] = {}
    for i, (name, t) in enumerate(zip(names, types, strict=True)):
        vals = [r[i] for r in sample]
        nonnull = [v for v in vals if v is not None]
        null_frac = (n - len(nonnull)) / n if n else 0.0
        try:
            h = T.hash_function(t)
            keyed = [h(v) for v in nonnull]
        except Exception:  # a type without a hash: equality only by repr
            keyed = [repr(v) for v in nonnull]
        counts = Counter(keyed)
        d = len(counts)
        # PostgreSQL's estimator: if every value appeared once, assume unique (-1); if the
        # sample holds the whole table, the count is exact; otherwise the Haas-Stokes
        # estimate, stored as a fraction when it exceeds 10% of the rows
        if n == 0:
            n_distinct = 0.0
        elif d == len(nonnull):
            n_distinct = -1.0 * (1 - null_frac)
        elif n >= total:
            n_distinct = float(d)
        else:
            f1 = sum(1 for c in counts.values() if c == 1)
            denom = (n - f1) + f1 * n / max(total, 1)
            est = n * d / denom if denom else float(d)
            n_distinct = -est / total if est > 0.1 * total else est
        firsts: dict[Any, Any] = {}
        for k, v in zip(keyed, nonnull, strict=True):
            firsts.setdefault(k, v)
        common = [(k, c) for k, c in counts.most_common(STATISTICS_TARGET) if c > 1]
        avg = len(nonnull) / d if d else 0
        mcv = [(k, c) for k, c in common if c >= 1.25 * avg] if d > STATISTICS_TARGET \
            else common
        mcv_keys = {k for k, _ in mcv}
        rest = [v for k, v in zip(keyed, nonnull, strict=True) if k not in mcv_keys]
        hist: list[Any] = []
        if len(rest) > 1:
            try:
                rest.sort(key=T.sort_key(t))
                b = min(STATISTICS_TARGET, len(rest) - 1)
                hist = [rest[round(j * (len(rest) - 1) / b)] for j in range(b + 1)]
            except Exception:  # unordered types (json) keep no histogram
                hist = []
        out[name] = ColumnStats(null_frac, n_distinct, [firsts[k] for k, _ in mcv],
                                [c / n for _, c in mcv], hist)
    return TableStats(float(total), out)
