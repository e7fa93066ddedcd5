"""The lab's PostgreSQL side: the same scenario as SQL, one psycopg connection per session.

Each run gets its own schema (``lab_<random>``), dropped afterwards. Statements become plain
SQL with parameters; a session's transaction starts with ``BEGIN ISOLATION LEVEL ...`` at its
first statement, as in the isolation tester. Whether a session waits for a lock is asked of
the server with ``pg_blocking_pids()`` (the lock graph, not a timeout), so a trace never depends
on how loaded the machine is.

Deadlocks: PostgreSQL runs its deadlock check once per wait, ``deadlock_timeout`` after the
wait began, and the backend whose check finds the cycle is the victim. So the victim depends on
timing: at the default 1 s, the first waiter if the cycle closes within that second, else the
waiter that closed it. The lab makes it deterministic: ``deadlock_timeout`` is 50 ms, and a
session counts as blocked only once it has waited :data:`SETTLED_WAIT` (its own check has run
and found nothing), so the driver issues the next step only after that, and the waiter that
*closes* a cycle is always the victim -- as in cairn, whose check runs as a wait begins.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import psycopg
from psycopg import sql

from cairn.db.lab.driver import Backend, Bound, Connection, DbError, bind
from cairn.db.lab.errors import BackendUnavailable
from cairn.db.lab.spec import Level, Spec, Statement, Table

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DEADLOCK_TIMEOUT = "50ms"
SETTLED_WAIT = 0.3  # seconds; 6x the deadlock timeout, for a loaded machine's timers
SQL_TYPES = {"int": "bigint", "text": "text", "bool": "boolean"}
SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def dsn_from_env() -> str:
    return os.environ.get("CAIRN_PG_DSN", DEFAULT_DSN)


def _error(exc: psycopg.Error) -> DbError:
    state = exc.sqlstate or "XX000"
    diag = getattr(exc, "diag", None)
    return DbError(state, (diag.message_primary if diag else None) or str(exc))


class PgConnection(Connection):
    def __init__(self, dsn: str, schema: str, level: Level) -> None:
        if level.method not in (None, "ssi"):
            raise BackendUnavailable(f"PostgreSQL has no serializable/{level.method}")
        self.level = level
        self.conn = psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}")
        # See the module docstring: the waiter that closes a cycle is the victim. A lock wait
        # longer than 20 s means a broken scenario.
        self.conn.execute(f"SET deadlock_timeout = '{DEADLOCK_TIMEOUT}'")
        self.conn.execute("SET lock_timeout = '20s'")
        self.pid = self.conn.info.backend_pid
        self.space = int(schema[-8:], 16) & 0x7FFFFFFF  # this run's advisory-lock key space

    def begin(self) -> None:
        access = f" {self.level.access.upper()}" if self.level.access else ""
        self._run(sql.SQL("BEGIN ISOLATION LEVEL " + self.level.isolation.upper() + access))

    def commit(self) -> None:
        self._run(sql.SQL("COMMIT"))

    def rollback(self) -> None:
        self._run(sql.SQL("ROLLBACK"))

    def close(self) -> None:
        self.conn.close()

    def _run(self, query: sql.Composable, params: list[Any] | None = None) -> psycopg.Cursor[Any]:
        try:
            return self.conn.execute(query, params)
        except psycopg.Error as exc:
            raise _error(exc) from None

    def execute(self, b: Bound) -> Any:
        stmt, table = b.stmt, b.table
        if stmt.verb == "advisory":
            fn = "pg_advisory_xact_lock" if stmt.wait is None else "pg_try_advisory_xact_lock"
            if stmt.mode == "shared":
                fn += "_shared"
            # Advisory locks are per database, not per schema: the two-key form, with this
            # run's own first key, keeps concurrent runs (pytest -n, two test processes)
            # from taking each other's locks.
            row = self._run(sql.SQL("SELECT {}(%s, hashtext(%s))").format(sql.Identifier(fn)),
                            [self.space, str(b.key)]).fetchone()
            if stmt.wait is not None and row is not None and row[0] is False:
                raise DbError("55P03", "could not obtain advisory lock")
            return None
        if stmt.verb == "siread":
            row = self._run(sql.SQL("SELECT count(*) FROM pg_locks WHERE mode = 'SIReadLock' "
                                    "AND pid = pg_backend_pid()")).fetchone()
            return int(row[0]) if row is not None else 0
        assert table is not None
        if stmt.verb == "lock":
            assert stmt.mode is not None
            self._run(sql.SQL("LOCK TABLE {} IN {} MODE{}").format(
                sql.Identifier(table.name), sql.SQL(stmt.mode.upper()),
                sql.SQL(" NOWAIT" if stmt.wait else "")))
            return None
        cols = table.column_names()
        t = sql.Identifier(table.name)
        pk = sql.Identifier(table.primary_key)
        col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        if stmt.verb == "get":
            cur = self._run(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(col_list, t, pk),
                            [b.key])
            row = cur.fetchone()
            return dict(zip(cols, row, strict=True)) if row is not None else None
        if stmt.verb == "select":
            where, params = _where(b)
            q = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(col_list, t, where, pk)
            if stmt.limit is not None:
                q = q + sql.SQL(" LIMIT {}").format(sql.Literal(stmt.limit))
            q = q + _locking(stmt)
            cur = self._run(q, params)
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        if stmt.verb == "insert":
            assert b.row is not None
            names = list(b.row)
            q = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                t, sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)))
            return self._run(q, [b.row[n] for n in names]).rowcount
        if stmt.verb == "update":
            assert b.row is not None
            sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in b.row)
            params = [*b.row.values(), b.key]
            conds = [sql.SQL("{} = %s").format(pk)]
            for c, v in (b.expect or {}).items():
                conds.append(sql.SQL("{} IS NOT DISTINCT FROM %s").format(sql.Identifier(c)))
                params.append(v)
            q = sql.SQL("UPDATE {} SET {} WHERE {}").format(t, sets, sql.SQL(" AND ").join(conds))
            return self._run(q, params).rowcount
        if stmt.verb == "delete":
            q = sql.SQL("DELETE FROM {} WHERE {} = %s").format(t, pk)
            return self._run(q, [b.key]).rowcount
        raise AssertionError(stmt.verb)


def _where(b: Bound) -> tuple[sql.Composable, list[Any]]:
    if not b.where:
        return sql.SQL(""), []
    parts = [sql.SQL("{} {} %s").format(sql.Identifier(c), sql.SQL(SQL_OPS[op]))
             for c, op, _ in b.where]
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), [v for _, _, v in b.where]


def _locking(stmt: Statement) -> sql.Composable:
    if stmt.lock is None:
        return sql.SQL("")
    text = " FOR UPDATE" if stmt.lock == "update" else " FOR SHARE"
    if stmt.wait == "nowait":
        text += " NOWAIT"
    elif stmt.wait == "skip locked":
        text += " SKIP LOCKED"
    return sql.SQL(text)


class PostgresBackend(Backend):
    system = "postgres"

    def __init__(self, dsn: str | None = None) -> None:
        self.dsn = dsn or dsn_from_env()
        self.schema = f"lab_{uuid.uuid4().hex[:12]}"
        try:
            self.admin = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise BackendUnavailable(f"PostgreSQL is not reachable at {self.dsn}: "
                                     f"{str(exc).strip().splitlines()[0]}") from None
        self.pids: dict[str, int] = {}
        self.conns: list[PgConnection] = []
        self._blocked_since: dict[int, float] = {}  # pid -> when it was first seen blocked

    def prepare(self, spec: Spec) -> None:
        a = self.admin
        a.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        a.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(self.schema)))
        for table in spec.tables.values():
            a.execute(_create_table(table))
        for ix in spec.indexes:
            a.execute(sql.SQL("CREATE {}INDEX ON {} ({})").format(
                sql.SQL("UNIQUE " if ix.unique else ""), sql.Identifier(ix.table),
                sql.SQL(", ").join(map(sql.Identifier, ix.columns))))
        if spec.setup:
            setup = PgConnection(self.dsn, self.schema, Level("read committed"))
            try:
                setup.begin()
                for stmt in spec.setup:
                    setup.execute(bind(spec, stmt, {}))
                setup.commit()
            finally:
                setup.close()

    def connect(self, session: str, level: Level) -> Connection:
        conn = PgConnection(self.dsn, self.schema, level)
        self.pids[session] = conn.pid
        self.conns.append(conn)
        return conn

    def waits(self, running: dict[str, int]) -> dict[str, set[str] | None]:
        names = [n for n in running if n in self.pids]
        if not names:
            return {}
        by_pid = {pid: n for n, pid in self.pids.items()}
        # A lock wait, or a READ ONLY DEFERRABLE transaction waiting for a safe snapshot.
        rows = self.admin.execute(
            "SELECT p, pg_blocking_pids(p) || pg_safe_snapshot_blocking_pids(p) "
            "FROM unnest(%s::int[]) AS p",
            [[self.pids[n] for n in names]]).fetchall()
        out: dict[str, set[str] | None] = {}
        now = time.monotonic()
        for pid, blockers in rows:
            if not blockers or any(b not in by_pid for b in blockers):
                # Not waiting, or waiting for a client outside this scenario: a DEFERRABLE
                # transaction waits for every serializable read-write transaction in the
                # *cluster* (another test's scenario, say). That wait is not part of the
                # trace; it ends on its own, so the step counts as still running.
                self._blocked_since.pop(pid, None)
                out[by_pid[pid]] = None
                continue
            since = self._blocked_since.setdefault(pid, now)
            # Not settled until its deadlock check has run (module docstring): until then it
            # counts as still running, so the driver waits before the next step.
            out[by_pid[pid]] = ({by_pid[b] for b in blockers}
                                if now - since >= SETTLED_WAIT else None)
        return out

    def close(self) -> None:
        try:
            for pid in self.pids.values():  # a session left waiting must not keep locks
                self.admin.execute("SELECT pg_terminate_backend(%s) "
                                   "FROM pg_stat_activity WHERE pid = %s AND state <> 'idle'",
                                   [pid, pid])
            self.admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(self.schema)))
        finally:
            self.admin.close()


def _create_table(table: Table) -> sql.Composable:
    cols = [sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(SQL_TYPES[c.type]),
                                      sql.SQL(" PRIMARY KEY" if c.name == table.primary_key
                                              else ""))
            for c in table.columns]
    return sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table.name),
                                                  sql.SQL(", ").join(cols))
