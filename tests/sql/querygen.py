"""A seeded random generator of schemas, data and queries, for differential and TLP testing.

SQLancer's ternary logic partitioning (Rigger & Su, OOPSLA 2020): for any predicate p, the
rows of ``Q`` are exactly the rows of ``Q WHERE p``, ``Q WHERE NOT p`` and ``Q WHERE p IS
NULL`` together (as a multiset), so a database that evaluates p wrongly in some case shows it
without any oracle. The same queries also run on PostgreSQL and must return the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

INT_COLS = ["c0", "c2"]
TEXT_COLS = ["c1"]
BOOL_COLS = ["c3"]


@dataclass
class Case:
    setup: list[str]
    queries: list[str]
    tlp: list[tuple[str, str]]  # (query without WHERE, predicate)


class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def value(self, kind: str) -> str:
        r = self.r
        if r.random() < 0.15:
            return "NULL"
        if kind == "int":
            return str(r.choice([0, 1, -1, 2, 3, 7, 10, -5, 100, r.randint(-50, 50)]))
        if kind == "text":
            return "'" + r.choice(["", "a", "ab", "b", "abc", "B", "a%", "zz", "a b"]) + "'"
        return r.choice(["true", "false"])

    def setup(self) -> list[str]:
        out = []
        for t in ("t0", "t1"):
            out.append(f"CREATE TABLE {t} (c0 int, c1 text, c2 int, c3 boolean)")
            rows = []
            for _ in range(self.r.randint(3, 12)):
                rows.append(f"({self.value('int')}, {self.value('text')}, "
                            f"{self.value('int')}, {self.value('bool')})")
            out.append(f"INSERT INTO {t} VALUES {', '.join(rows)}")
        return out

    def int_expr(self, t: str, depth: int = 0) -> str:
        r = self.r
        c = r.random()
        if depth > 2 or c < 0.4:
            return f"{t}.{r.choice(INT_COLS)}" if r.random() < 0.7 else self.value("int")
        if c < 0.6:
            op = r.choice(["+", "-", "*"])
            return f"({self.int_expr(t, depth + 1)} {op} {self.int_expr(t, depth + 1)})"
        if c < 0.7:
            return f"abs({self.int_expr(t, depth + 1)})"
        if c < 0.8:
            return f"coalesce({self.int_expr(t, depth + 1)}, {self.value('int')})"
        if c < 0.9:
            return (f"CASE WHEN {self.pred(t, depth + 1)} THEN {self.int_expr(t, depth + 1)} "
                    f"ELSE {self.int_expr(t, depth + 1)} END")
        return f"length({t}.c1)"

    def pred(self, t: str, depth: int = 0) -> str:
        r = self.r
        c = r.random()
        if depth > 2 or c < 0.35:
            op = r.choice(["=", "<>", "<", "<=", ">", ">="])
            return f"{self.int_expr(t, depth + 1)} {op} {self.int_expr(t, depth + 1)}"
        if c < 0.45:
            pattern = r.choice(["'a%'", "'%b'", "'_'", "'a_c'", "'%'"])
            return f"{t}.c1 {r.choice(['LIKE', 'NOT LIKE', 'ILIKE'])} {pattern}"
        if c < 0.55:
            return f"{self.int_expr(t, depth + 1)} IS {r.choice(['', 'NOT '])}NULL"
        if c < 0.62:
            return f"{t}.c3" if r.random() < 0.5 else f"{t}.c3 IS NOT TRUE"
        if c < 0.72:
            return (f"{self.int_expr(t, depth + 1)} {r.choice(['', 'NOT '])}BETWEEN "
                    f"{self.value('int')} AND {self.value('int')}")
        if c < 0.8:
            items = ", ".join(self.value("int") for _ in range(r.randint(1, 4)))
            return f"{self.int_expr(t, depth + 1)} {r.choice(['', 'NOT '])}IN ({items})"
        if c < 0.9:
            op = r.choice(["AND", "OR"])
            return f"({self.pred(t, depth + 1)} {op} {self.pred(t, depth + 1)})"
        return f"NOT ({self.pred(t, depth + 1)})"

    def query(self) -> tuple[str, str]:
        """(a query without WHERE, a predicate) for TLP; the query's rows are a multiset."""
        r = self.r
        shape = r.random()
        if shape < 0.5:
            cols = ", ".join(f"t0.{c}" for c in r.sample(["c0", "c1", "c2", "c3"],
                                                         r.randint(1, 4)))
            return f"SELECT {cols} FROM t0", self.pred("t0")
        if shape < 0.8:
            kind = r.choice(["JOIN", "LEFT JOIN", "CROSS JOIN"])
            on = "" if kind == "CROSS JOIN" else \
                f" ON t0.{r.choice(INT_COLS)} = t1.{r.choice(INT_COLS)}"
            return (f"SELECT t0.c0, t1.c1, {self.int_expr('t1')} FROM t0 {kind} t1{on}",
                    self.pred(r.choice(["t0", "t1"])) if kind != "LEFT JOIN"
                    else self.pred("t0"))
        return "SELECT DISTINCT t0.c3, t0.c1 FROM t0", self.pred("t0")

    def aggregate(self) -> str:
        r = self.r
        agg = r.choice(["count(*)", "count(t0.c0)", "sum(t0.c0)", "min(t0.c1)", "max(t0.c2)",
                        "bool_or(t0.c3)"])
        group = r.choice(["", " GROUP BY t0.c3", " GROUP BY t0.c1"])
        sel = agg if not group else f"{group.split()[-1]}, {agg}"
        having = f" HAVING count(*) > {r.randint(0, 2)}" if group and r.random() < 0.3 else ""
        return f"SELECT {sel} FROM t0 WHERE {self.pred('t0')}{group}{having}"

    def case(self, n: int) -> Case:
        setup = self.setup()
        tlp = [self.query() for _ in range(n)]
        queries = [f"{q} WHERE {p}" for q, p in tlp] + [self.aggregate() for _ in range(n)]
        return Case(setup, queries, tlp)


def tlp_queries(q: str, p: str) -> list[str]:
    return [f"{q} WHERE {p}", f"{q} WHERE NOT ({p})", f"{q} WHERE ({p}) IS NULL"]
