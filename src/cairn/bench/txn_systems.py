"""The systems ``cairn bench txn`` drives: cairn.db at each level and method, and PostgreSQL.

Both sit behind one tiny interface (:class:`Client`: ``attempt(body)`` runs one transaction
attempt; :class:`Ops` is what a body may do), so that the workloads of
:mod:`cairn.bench.txn` are written once and the two systems do exactly the same work: the same
reads, the same client-side decisions, the same writes. Commits are durable on both sides:
cairn's database lives on disk with fsync'd WAL commits, PostgreSQL runs with
``synchronous_commit = on``. A failed attempt raises :class:`Abort` with the SQLSTATE, and the
workload retries 40001 and 40P01 the way a real client does.
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

RETRY_STATES = ("40001", "40P01")
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class Abort(Exception):
    """One transaction attempt failed with a retryable SQLSTATE."""

    def __init__(self, sqlstate: str, message: str = "") -> None:
        super().__init__(f"{sqlstate} {message}")
        self.sqlstate = sqlstate


class Unavailable(Exception):
    """The system cannot be used in this run (PostgreSQL down, a level it does not have)."""


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """One column of the benchmark: a system at an isolation level (and method)."""

    system: str  # "cairn" or "postgres"
    isolation: str
    method: str | None = None

    @property
    def name(self) -> str:
        iso = {"read uncommitted": "RU", "read committed": "RC", "repeatable read": "RR",
               "serializable": "SER"}[self.isolation]
        return f"{self.system} {iso}" + (f"/{self.method}" if self.method else "")

    @property
    def serializable(self) -> bool:
        return self.isolation == "serializable"


CAIRN_SYSTEMS = (
    SystemSpec("cairn", "read uncommitted"), SystemSpec("cairn", "read committed"),
    SystemSpec("cairn", "repeatable read"), SystemSpec("cairn", "serializable", "ssi"),
    SystemSpec("cairn", "serializable", "2pl"), SystemSpec("cairn", "serializable", "serial"),
)
POSTGRES_SYSTEMS = (
    SystemSpec("postgres", "read committed"), SystemSpec("postgres", "repeatable read"),
    SystemSpec("postgres", "serializable"),
)
ALL_SYSTEMS = CAIRN_SYSTEMS + POSTGRES_SYSTEMS


class Ops(ABC):
    """What a transaction body may do (rows are dicts)."""

    @abstractmethod
    def get(self, table: str, key: Any) -> dict[str, Any] | None: ...

    @abstractmethod
    def select_eq(self, table: str, **equal: Any) -> list[dict[str, Any]]:
        """Rows whose columns equal the given values (an indexed predicate)."""

    @abstractmethod
    def update(self, table: str, key: Any, changes: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class TableDef:
    name: str
    primary_key: str
    columns: dict[str, str]  # name -> "int" | "text" | "bool"
    indexes: tuple[str, ...] = ()


class Client(ABC):
    """One client thread's connection; ``attempt`` runs ``body`` in one transaction, declared
    READ ONLY when ``read_only`` (the body then only reads)."""

    @abstractmethod
    def attempt(self, body: Callable[[Ops], T], read_only: bool = False) -> T: ...

    def close(self) -> None:  # noqa: B027 - optional
        pass


class Store(ABC):
    """A fresh database for one benchmark cell."""

    @abstractmethod
    def load(self, table: TableDef, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def client(self, spec: SystemSpec) -> Client: ...

    @abstractmethod
    def scan(self, table: TableDef) -> list[dict[str, Any]]:
        """Every row, read in one committed snapshot (for the invariant checks)."""

    def stats(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def close(self) -> None: ...


# ------------------------------------------------------------------------------- PostgreSQL

_PG_TYPES = {"int": "bigint", "text": "text", "bool": "boolean"}


class _PgOps(Ops):
    def __init__(self, conn: Any, tables: dict[str, TableDef]) -> None:
        self.conn = conn
        self.tables = tables

    def get(self, table: str, key: Any) -> dict[str, Any] | None:
        t = self.tables[table]
        cur = self.conn.execute(f"SELECT * FROM {t.name} WHERE {t.primary_key} = %s", [key])
        row = cur.fetchone()
        return None if row is None else dict(zip([d.name for d in cur.description], row,
                                                 strict=True))

    def select_eq(self, table: str, **equal: Any) -> list[dict[str, Any]]:
        t = self.tables[table]
        where = " AND ".join(f"{c} = %s" for c in equal)
        cur = self.conn.execute(f"SELECT * FROM {t.name} WHERE {where}", list(equal.values()))
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def update(self, table: str, key: Any, changes: dict[str, Any]) -> None:
        t = self.tables[table]
        sets = ", ".join(f"{c} = %s" for c in changes)
        self.conn.execute(f"UPDATE {t.name} SET {sets} WHERE {t.primary_key} = %s",
                          [*changes.values(), key])


class _PgClient(Client):
    def __init__(self, dsn: str, schema: str, spec: SystemSpec,
                 tables: dict[str, TableDef]) -> None:
        import psycopg

        self.psycopg = psycopg
        self.conn = psycopg.connect(dsn, autocommit=True,
                                    options=f"-c search_path={schema} -c synchronous_commit=on")
        self.begin = f"BEGIN ISOLATION LEVEL {spec.isolation.upper()}"
        self.begin_read_only = self.begin + " READ ONLY"  # SET TRANSACTION READ ONLY
        self.ops = _PgOps(self.conn, tables)

    def attempt(self, body: Callable[[Ops], T], read_only: bool = False) -> T:
        conn = self.conn
        try:
            conn.execute(self.begin_read_only if read_only else self.begin)
            result = body(self.ops)
            conn.execute("COMMIT")
            return result
        except self.psycopg.Error as exc:
            conn.execute("ROLLBACK")
            if exc.sqlstate in RETRY_STATES:
                raise Abort(exc.sqlstate, str(exc)) from None
            raise
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()


class PostgresStore(Store):
    def __init__(self, dsn: str | None = None) -> None:
        import psycopg

        self.dsn = dsn or os.environ.get("CAIRN_PG_DSN", DEFAULT_DSN)
        try:
            self.admin = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise Unavailable(f"PostgreSQL not reachable at {self.dsn}: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        self.schema = f"bench_txn_{uuid.uuid4().hex[:10]}"
        self.admin.execute(f"CREATE SCHEMA {self.schema}")
        self.tables: dict[str, TableDef] = {}

    def load(self, table: TableDef, rows: list[dict[str, Any]]) -> None:
        self.tables[table.name] = table
        cols = ", ".join(f"{c} {_PG_TYPES[t]}{' PRIMARY KEY' if c == table.primary_key else ''}"
                         for c, t in table.columns.items())
        a = self.admin
        a.execute(f"CREATE TABLE {self.schema}.{table.name} ({cols})")
        for ix in table.indexes:
            a.execute(f"CREATE INDEX ON {self.schema}.{table.name} ({ix})")
        names = list(table.columns)
        copy_sql = f"COPY {self.schema}.{table.name} ({', '.join(names)}) FROM STDIN"
        with a.cursor() as cur, cur.copy(copy_sql) as copy:
            for r in rows:
                copy.write_row([r[n] for n in names])
        a.execute(f"ANALYZE {self.schema}.{table.name}")

    def client(self, spec: SystemSpec) -> Client:
        if spec.system != "postgres" or spec.method not in (None, "ssi"):
            raise Unavailable(f"PostgreSQL has no {spec.name}")
        return _PgClient(self.dsn, self.schema, spec, self.tables)

    def scan(self, table: TableDef) -> list[dict[str, Any]]:
        cur = self.admin.execute(f"SELECT * FROM {self.schema}.{table.name}")
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        try:
            self.admin.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        finally:
            self.admin.close()
