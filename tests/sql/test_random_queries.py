"""Random queries: cairn against PostgreSQL (differential) and against itself (TLP).

Each seed makes two small tables of random rows (NULLs, duplicates, negatives) and random
queries over them: predicates of comparisons, arithmetic, LIKE, BETWEEN, IN, CASE, COALESCE,
three-valued AND/OR/NOT, joins and aggregates. Every query must return on cairn what it
returns on PostgreSQL (or fail with the same SQLSTATE), and every ``Q WHERE p`` must
partition ``Q``'s rows into p, NOT p and p IS NULL (SQLancer's ternary logic partitioning).
A failure names its seed and query; ``CAIRN_SQL_SEEDS=N`` runs more seeds.
"""

from __future__ import annotations

import collections
import os

import pytest

from tests.sql.querygen import Gen, tlp_queries
from tests.sql.scenario import cairn_runner, pg_runner

SEEDS = int(os.environ.get("CAIRN_SQL_SEEDS", "12"))
QUERIES = 12


def _rows(lines: list[str]) -> list[str]:
    if len(lines) >= 2 and lines[-1].startswith("(") and lines[-1].endswith(")"):
        return lines[1:-1]
    return lines


@pytest.mark.parametrize("seed", range(SEEDS))
def test_tlp_partitions_every_predicate(seed: int) -> None:
    case = Gen(seed).case(QUERIES)
    run, close = cairn_runner()
    try:
        for st in case.setup:
            assert not run(st)[0].startswith("ERROR"), st
        for q, p in case.tlp:
            whole = run(q)
            if whole[0].startswith("ERROR"):
                continue
            parts = [run(x) for x in tlp_queries(q, p)]
            if any(x[0].startswith("ERROR") for x in parts):
                continue  # e.g. an overflow in p: PostgreSQL would raise it too
            want = collections.Counter(_rows(whole))
            got = collections.Counter(r for x in parts for r in _rows(x))
            if "DISTINCT" in q:
                assert set(want) == set(got), f"seed {seed}: {q} WHERE {p}"
            else:
                assert want == got, f"seed {seed}: {q} WHERE {p}"
    finally:
        close()


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_queries_match_postgresql(seed: int, pg_available: bool) -> None:
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail("CI must reach the local PostgreSQL: it is the oracle of these tests")
        pytest.skip("the local PostgreSQL is not reachable (CI starts it)")
    case = Gen(seed).case(QUERIES)
    crun, cclose = cairn_runner()
    prun, pclose = pg_runner()
    try:
        for st in case.setup:
            assert crun(st) == prun(st), st
        for q in case.queries:
            c, p = crun(q), prun(q)
            if c[0].startswith("ERROR") or p[0].startswith("ERROR"):
                # the same error class (message texts of overflow errors may differ in type)
                assert c[0].split(":")[0] == p[0].split(":")[0], f"seed {seed}: {q}\n{c}\n{p}"
                continue
            assert c == p, f"seed {seed}: {q}\ncairn: {c}\npostgresql: {p}"
    finally:
        cclose()
        pclose()


def test_the_tlp_oracle_catches_a_wrong_predicate() -> None:
    """A planted bug (NOT p evaluated as p) must break the partition: the check can fail."""
    run, close = cairn_runner()
    try:
        for st in ["CREATE TABLE t0 (c0 int)", "INSERT INTO t0 VALUES (1), (2), (NULL)"]:
            run(st)
        q, p = "SELECT t0.c0 FROM t0", "t0.c0 > 1"
        whole = collections.Counter(_rows(run(q)))
        wrong = [f"{q} WHERE {p}", f"{q} WHERE {p}", f"{q} WHERE ({p}) IS NULL"]
        got = collections.Counter(r for x in wrong for r in _rows(run(x)))
        assert whole != got
    finally:
        close()
