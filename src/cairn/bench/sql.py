"""``cairn bench sql``: the same SQL on cairn.sql, sqlite3 and PostgreSQL, side by side.

Workloads (each statement parameterized and prepared once, as an application would):
point SELECT by primary key, a 100-row range SELECT, single-row INSERT, UPDATE by key, a
TPC-B-like transaction (pgbench's: three updates, a select, an insert), and a join of the
``orders`` and ``customers`` tables with GROUP BY. cairn and sqlite3 run in process on a file
in a temporary directory, both durable (cairn fsyncs its WAL at commit, sqlite3 runs
journal_mode=WAL with synchronous=FULL); PostgreSQL runs on the local server through psycopg,
labelled client-server: its figures include a network round trip per statement that the
in-process systems do not pay. Ratios are cairn / sqlite3, beside the targets of the SQL issue.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from cairn.bench.common import BenchmarkError, Progress, median

TARGETS = {"point select": 0.3, "insert": 0.3, "tpc-b": 0.8, "join + group by": 0.1}
WORKLOADS = ("point select", "range select 100", "insert", "update by key", "tpc-b",
             "join + group by")
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


@dataclass
class SqlBenchConfig:
    accounts: int = 20_000
    orders: int = 100_000
    customers: int = 10_000
    seconds: float = 2.0
    repeat: int = 3
    systems: tuple[str, ...] = ("cairn", "sqlite3", "postgresql")
    seed: int = 7


@dataclass
class Cell:
    system: str
    workload: str
    runs: list[float] = field(default_factory=list)  # ops/s per repeat

    @property
    def rate(self) -> float:
        return median(self.runs)


class System:
    """One database under test: a DB-API connection and how its placeholders look."""

    name = ""
    client_server = False

    def __init__(self, cfg: SqlBenchConfig, workdir: str):
        self.cfg = cfg
        self.workdir = workdir

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def run(self, sql: str, params: tuple = ()) -> None:
        self.execute(sql, params)

    def begin(self) -> None:
        self.run("BEGIN")

    def commit(self) -> None:
        self.run("COMMIT")

    def close(self) -> None:
        pass


class CairnSystem(System):
    name = "cairn"

    def __init__(self, cfg: SqlBenchConfig, workdir: str):
        super().__init__(cfg, workdir)
        from cairn.sql import SqlDatabase

        self.sdb = SqlDatabase.open(os.path.join(workdir, "cairn"))
        self.session = self.sdb.connect()

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.session.execute(sql, list(params))[-1].rows

    def close(self) -> None:
        self.session.close()
        self.sdb.close()


class SqliteSystem(System):
    name = "sqlite3"

    def __init__(self, cfg: SqlBenchConfig, workdir: str):
        super().__init__(cfg, workdir)
        self.conn = sqlite3.connect(os.path.join(workdir, "bench.sqlite"),
                                    isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = _qmarks(sql)
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.conn.close()


class PostgresSystem(System):
    name = "postgresql"
    client_server = True

    def __init__(self, cfg: SqlBenchConfig, workdir: str):
        super().__init__(cfg, workdir)
        import psycopg

        self.conn = psycopg.connect(PG_DSN, autocommit=True)
        self.schema = f"bench_sql_{os.getpid()}"
        self.conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.conn.execute(f"CREATE SCHEMA {self.schema}")
        self.conn.execute(f"SET search_path = {self.schema}")
        self.cur = self.conn.cursor()

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.cur.execute(_dollars(sql), params or None, prepare=True)
        return self.cur.fetchall() if self.cur.description else []

    def close(self) -> None:
        self.conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.conn.close()


def _qmarks(sql: str) -> str:
    for i in range(9, 0, -1):
        sql = sql.replace(f"${i}", "?")
    return sql


def _dollars(sql: str) -> str:
    for i in range(9, 0, -1):
        sql = sql.replace(f"${i}", "%s")
    return sql


SYSTEMS: dict[str, type[System]] = {"cairn": CairnSystem, "sqlite3": SqliteSystem,
                                    "postgresql": PostgresSystem}


# -- data -----------------------------------------------------------------------------------
SCHEMA = [
    "CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler text)",
    "CREATE TABLE tellers (tid int PRIMARY KEY, bid int, tbalance int)",
    "CREATE TABLE branches (bid int PRIMARY KEY, bbalance int)",
    "CREATE TABLE history (tid int, bid int, aid int, delta int, note text)",
    "CREATE TABLE customers (cid int PRIMARY KEY, region text)",
    "CREATE TABLE orders (oid int PRIMARY KEY, cid int, amount int)",
    "CREATE TABLE inserts (id int PRIMARY KEY, v text)",
]


def load(sys_: System, cfg: SqlBenchConfig, progress: Progress) -> None:
    for stmt in SCHEMA:
        sys_.run(stmt)
    rng = random.Random(cfg.seed)

    def batch(table: str, rows: list[tuple]) -> None:
        cols = len(rows[0])
        for i in range(0, len(rows), 500):
            chunk = rows[i:i + 500]
            placeholders = ", ".join("(" + ", ".join(
                _lit(v) for v in r) + ")" for r in chunk)
            sys_.run(f"INSERT INTO {table} VALUES {placeholders}")
        _ = cols
    sys_.begin()
    batch("branches", [(b, 0) for b in range(1, 11)])
    batch("tellers", [(t, (t - 1) // 10 + 1, 0) for t in range(1, 101)])
    batch("accounts", [(a, (a - 1) % 10 + 1, 0, "x" * 20) for a in range(1, cfg.accounts + 1)])
    regions = ["north", "south", "east", "west", "centre"]
    batch("customers", [(c, regions[c % 5]) for c in range(1, cfg.customers + 1)])
    batch("orders", [(o, rng.randint(1, cfg.customers), rng.randint(1, 500))
                     for o in range(1, cfg.orders + 1)])
    sys_.commit()
    progress.line(f"  loaded {sys_.name}: {cfg.accounts:,} accounts, {cfg.orders:,} orders")


def _lit(v: Any) -> str:
    return f"'{v}'" if isinstance(v, str) else str(v)


# -- workloads ---------------------------------------------------------------------------------
def workload(name: str, sys_: System, cfg: SqlBenchConfig, rng: random.Random,
             counter: list[int]) -> Callable[[], int]:
    """A callable running one operation and returning the rows it touched."""
    n = cfg.accounts
    if name == "point select":
        return lambda: len(sys_.execute("SELECT abalance FROM accounts WHERE aid = $1",
                                        (rng.randint(1, n),)))
    if name == "range select 100":
        def rng100() -> int:
            lo = rng.randint(1, n - 100)
            return len(sys_.execute("SELECT aid, abalance FROM accounts WHERE aid BETWEEN $1 "
                                    "AND $2", (lo, lo + 99)))
        return rng100
    if name == "insert":
        def ins() -> int:
            counter[0] += 1
            sys_.run("INSERT INTO inserts VALUES ($1, $2)", (counter[0], "v"))
            return 1
        return ins
    if name == "update by key":
        def upd() -> int:
            sys_.run("UPDATE accounts SET abalance = abalance + 1 WHERE aid = $1",
                     (rng.randint(1, n),))
            return 1
        return upd
    if name == "tpc-b":
        def tpcb() -> int:
            aid, tid = rng.randint(1, n), rng.randint(1, 100)
            bid, delta = (tid - 1) // 10 + 1, rng.randint(-5000, 5000)
            sys_.begin()
            sys_.run("UPDATE accounts SET abalance = abalance + $1 WHERE aid = $2",
                     (delta, aid))
            sys_.execute("SELECT abalance FROM accounts WHERE aid = $1", (aid,))
            sys_.run("UPDATE tellers SET tbalance = tbalance + $1 WHERE tid = $2",
                     (delta, tid))
            sys_.run("UPDATE branches SET bbalance = bbalance + $1 WHERE bid = $2",
                     (delta, bid))
            sys_.run("INSERT INTO history VALUES ($1, $2, $3, $4, $5)",
                     (tid, bid, aid, delta, "tpc-b"))
            sys_.commit()
            return 1
        return tpcb
    if name == "join + group by":
        def join() -> int:
            rows = sys_.execute("SELECT c.region, count(*), sum(o.amount) FROM orders o "
                                "JOIN customers c ON c.cid = o.cid GROUP BY c.region")
            if len(rows) != 5:
                raise BenchmarkError(f"{sys_.name}: the join returned {len(rows)} groups")
            return len(rows)
        return join
    raise BenchmarkError(f"unknown workload {name!r}")


def timed(op: Callable[[], int], seconds: float) -> float:
    start = time.perf_counter()
    done = 0
    while True:
        op()
        done += 1
        el = time.perf_counter() - start
        if el >= seconds:
            return done / el


def plan_cost(sys_: CairnSystem, n: int = 2000) -> tuple[float, float]:
    """Microseconds per statement with the plan cache hit and with it emptied each time."""
    s = sys_.session
    sql = "SELECT abalance FROM accounts WHERE aid = $1"
    t0 = time.perf_counter()
    for i in range(n):
        s.execute(sql, [i % 100 + 1])
    hit = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i in range(n // 4):
        s.plan_cache.clear()
        s.query_plans.clear()
        s.execute(sql, [i % 100 + 1])
    miss = (time.perf_counter() - t0) / (n // 4)
    return hit * 1e6, miss * 1e6


def run(cfg: SqlBenchConfig, progress: Progress) -> dict[str, Any]:
    cells: dict[tuple[str, str], Cell] = {}
    skipped: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for rep in range(cfg.repeat):
        for name in cfg.systems:
            workdir = tempfile.mkdtemp(prefix="cairn-bench-sql-")
            try:
                try:
                    sys_ = SYSTEMS[name](cfg, workdir)
                except Exception as exc:  # a peer that is not there is reported, not fatal
                    skipped[name] = f"{type(exc).__name__}: {exc}"
                    continue
                try:
                    load(sys_, cfg, progress)
                    rng = random.Random(cfg.seed + rep)
                    counter = [0]
                    for w in WORKLOADS:
                        rate = timed(workload(w, sys_, cfg, rng, counter), cfg.seconds)
                        cells.setdefault((name, w), Cell(name, w)).runs.append(rate)
                        progress.line(f"  repeat {rep + 1}/{cfg.repeat} {name:10} {w:18} "
                                      f"{rate:12,.1f} ops/s")
                    if isinstance(sys_, CairnSystem) and rep == 0:
                        extra["plan_us_cached"], extra["plan_us_uncached"] = plan_cost(sys_)
                finally:
                    sys_.close()
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    return {"config": asdict(cfg), "cells": [asdict(c) | {"rate": c.rate}
                                              for c in cells.values()],
            "skipped": skipped, **extra}


def report(result: dict[str, Any]) -> str:
    rates = {(c["system"], c["workload"]): c["rate"] for c in result["cells"]}
    systems = [s for s in result["config"]["systems"] if s not in result["skipped"]]
    head = f"{'workload':20}" + "".join(f"{s + (' (c/s)' if s == 'postgresql' else ''):>20}"
                                        for s in systems) + f"{'cairn/sqlite3':>15}  target"
    lines = ["ops/s, median of repeats; postgresql is client-server (c/s), the others in "
             "process; all durable", head]
    for w in WORKLOADS:
        row = f"{w:20}"
        for s in systems:
            v = rates.get((s, w))
            row += f"{v:20,.1f}" if v is not None else f"{'-':>20}"
        c, q = rates.get(("cairn", w)), rates.get(("sqlite3", w))
        r = c / q if c and q else None
        row += f"{r:14.2f}x" if r is not None else f"{'-':>15}"
        t = TARGETS.get(w)
        if t is not None and r is not None:
            row += f"  >= {t}x {'PASS' if r >= t else 'MISS'}"
        lines.append(row)
    if "plan_us_cached" in result:
        lines.append(f"cairn point select, statement cost: {result['plan_us_cached']:.1f} us "
                     f"with the plan cache, {result['plan_us_uncached']:.1f} us parsing and "
                     "planning each time")
    for s, why in result["skipped"].items():
        lines.append(f"skipped {s}: {why}")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = {(c["system"], c["workload"]): c["rate"] for c in result["cells"]}
    ratios = []
    for w in WORKLOADS:
        c, q = rates.get(("cairn", w)), rates.get(("sqlite3", w))
        ratios.append(c / q if c and q else 0.0)
    fig, ax = plt.subplots(figsize=(9, 4))
    bars = ax.bar(WORKLOADS, ratios, color="#4c72b0")
    for w, b in zip(WORKLOADS, bars, strict=True):
        t = TARGETS.get(w)
        if t is not None:
            ax.hlines(t, b.get_x(), b.get_x() + b.get_width(), colors="#c44e52")
    ax.set_ylabel("cairn / sqlite3 (ops/s)")
    ax.set_title("cairn bench sql: cairn.sql against sqlite3 (red: target)")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command("sql")
@click.option("--accounts", default=20_000, show_default=True, type=click.IntRange(200))
@click.option("--orders", default=100_000, show_default=True, type=click.IntRange(100))
@click.option("--customers", default=10_000, show_default=True, type=click.IntRange(5))
@click.option("--seconds", default=2.0, show_default=True, type=click.FloatRange(0.05),
              help="time per workload and repeat")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1))
@click.option("--systems", default="cairn,sqlite3,postgresql", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
def bench_sql(accounts: int, orders: int, customers: int, seconds: float, repeat: int,
              systems: str, json_path: str | None, plot_path: str | None) -> None:
    """SQL on cairn.sql, sqlite3 and PostgreSQL: point, range, insert, update, TPC-B, join."""
    names = tuple(s.strip() for s in systems.split(",") if s.strip())
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown:
        raise click.BadParameter(f"unknown system(s) {', '.join(unknown)}; choose from "
                                 f"{', '.join(SYSTEMS)}", param_hint="--systems")
    cfg = SqlBenchConfig(accounts, orders, customers, seconds, repeat, names)
    result = run(cfg, Progress())
    click.echo(report(result))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
    if plot_path:
        plot(result, plot_path)
