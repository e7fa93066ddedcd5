"""The anomaly lab's scenarios, run as SQL through cairn.sql.

The lab (:mod:`cairn.db.lab`) runs each race-condition scenario on cairn.db's Python API and,
as SQL, on PostgreSQL. This backend runs the same scenarios as SQL on cairn.sql: every step
becomes the SQL statement the PostgreSQL backend sends (``SELECT ... FOR UPDATE``,
``UPDATE ... WHERE``, ``LOCK TABLE``, ``pg_advisory_xact_lock``), executed by a cairn.sql
session, so the SQL layer's reads, locks and writes must produce exactly the traces the
transaction layer does. Which session waits for which is read from the lock manager, as the
cairn.db backend does.
"""

from __future__ import annotations

import zlib
from typing import Any

from cairn.db import Database
from cairn.db.lab.cairn_backend import CairnBackend
from cairn.db.lab.driver import Bound, Connection, DbError, bind
from cairn.db.lab.spec import Level, Spec
from cairn.sql.errors import SqlError
from cairn.sql.session import Session, SqlDatabase

SQL_TYPES = {"int": "bigint", "text": "text", "bool": "boolean"}
SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def statement_sql(b: Bound) -> tuple[str, list[Any]]:
    """The SQL (with $n parameters) a lab statement stands for, as PostgreSQL's backend
    sends it."""
    stmt, table = b.stmt, b.table
    assert table is not None
    t, pk = _ident(table.name), _ident(table.primary_key)
    cols = [c for c in table.column_names()]
    col_list = ", ".join(_ident(c) for c in cols)
    if stmt.verb == "get":
        return f"SELECT {col_list} FROM {t} WHERE {pk} = $1", [b.key]
    if stmt.verb == "select":
        params: list[Any] = []
        where = ""
        if b.where:
            parts = []
            for c, op, v in b.where:
                params.append(v)
                parts.append(f"{_ident(c)} {SQL_OPS[op]} ${len(params)}")
            where = " WHERE " + " AND ".join(parts)
        q = f"SELECT {col_list} FROM {t}{where} ORDER BY {pk}"
        if stmt.limit is not None:
            q += f" LIMIT {int(stmt.limit)}"
        if stmt.lock is not None:
            q += " FOR UPDATE" if stmt.lock == "update" else " FOR SHARE"
            if stmt.wait == "nowait":
                q += " NOWAIT"
            elif stmt.wait == "skip locked":
                q += " SKIP LOCKED"
        return q, params
    if stmt.verb == "insert":
        assert b.row is not None
        names = list(b.row)
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        return (f"INSERT INTO {t} ({', '.join(map(_ident, names))}) VALUES ({marks})",
                [b.row[n] for n in names])
    if stmt.verb == "update":
        assert b.row is not None
        params = list(b.row.values())
        sets = ", ".join(f"{_ident(c)} = ${i}" for i, c in enumerate(b.row, 1))
        params.append(b.key)
        conds = [f"{pk} = ${len(params)}"]
        for c, v in (b.expect or {}).items():
            params.append(v)
            conds.append(f"{_ident(c)} IS NOT DISTINCT FROM ${len(params)}")
        return f"UPDATE {t} SET {sets} WHERE {' AND '.join(conds)}", params
    if stmt.verb == "delete":
        return f"DELETE FROM {t} WHERE {pk} = $1", [b.key]
    if stmt.verb == "lock":
        assert stmt.mode is not None
        return (f"LOCK TABLE {t} IN {stmt.mode.upper()} MODE"
                f"{' NOWAIT' if stmt.wait else ''}", [])
    raise AssertionError(stmt.verb)


class SqlLabConnection(Connection):
    def __init__(self, backend: SqlLabBackend, session: str, level: Level) -> None:
        self.backend = backend
        self.name = session
        self.level = level
        self.session: Session = backend.sdb.connect("cairn")

    def _sql(self, text: str, params: list[Any] | None = None) -> Any:
        try:
            return self.session.execute(text, params)[-1]
        except SqlError as exc:
            raise DbError(exc.sqlstate, exc.message) from None

    def begin(self) -> None:
        method = self.level.method or "ssi"
        self._sql(f"SET cairn.serializable_method = '{method}'")
        access = f" {self.level.access.upper()}" if self.level.access else ""
        self._sql(f"BEGIN ISOLATION LEVEL {self.level.isolation.upper()}{access}")
        tx = self.session.tx
        self.backend.owners[id(tx.owner)] = self.name
        self.backend.txs[self.name] = tx

    def execute(self, b: Bound) -> Any:
        stmt = b.stmt
        if stmt.verb == "advisory":
            key = zlib.crc32(str(b.key).encode())
            fn = "pg_advisory_xact_lock" if stmt.wait is None else "pg_try_advisory_xact_lock"
            if stmt.mode == "shared":
                fn += "_shared"
            res = self._sql(f"SELECT {fn}($1)", [key])
            if stmt.wait is not None and res.rows and res.rows[0][0] is False:
                raise DbError("55P03", "could not obtain advisory lock")
            return None
        if stmt.verb == "siread":
            me = f"transaction {self.session.tx.xid}"
            return sum(1 for li in self.backend.db.locks()
                       if li.mode == "SIReadLock" and li.owner == me)
        text, params = statement_sql(b)
        res = self._sql(text, params)
        table = b.table
        assert table is not None
        cols = table.column_names()
        if stmt.verb == "get":
            return dict(zip(cols, res.rows[0], strict=True)) if res.rows else None
        if stmt.verb == "select":
            return [dict(zip(cols, r, strict=True)) for r in res.rows]
        if stmt.verb in ("insert", "update", "delete"):
            return res.rowcount
        return None

    def commit(self) -> None:
        self._end("COMMIT")

    def rollback(self) -> None:
        self._end("ROLLBACK")

    def _end(self, what: str) -> None:
        tx = self.session.tx
        try:
            res = self._sql(what)
        finally:
            if tx is not None:
                self.backend.owners.pop(id(tx.owner), None)
        if what == "COMMIT" and res.tag == "ROLLBACK" and tx is not None:
            # the block had failed: PostgreSQL answers COMMIT with ROLLBACK
            return

    def close(self) -> None:
        self.session.close()


class SqlLabBackend(CairnBackend):
    """cairn.sql in place of cairn.db's API; waits are read from the same lock manager."""

    system = "cairn"

    def __init__(self) -> None:
        self.sdb = SqlDatabase(Database.memory())
        self.db = self.sdb.db
        self.owners = {}
        self.txs = {}

    def prepare(self, spec: Spec) -> None:
        admin = self.sdb.connect("cairn")
        try:
            for t in spec.tables.values():
                cols = ", ".join(f"{_ident(c.name)} {SQL_TYPES[c.type]}"
                                 f"{' PRIMARY KEY' if c.name == t.primary_key else ''}"
                                 for c in t.columns)
                admin.execute(f"CREATE TABLE {_ident(t.name)} ({cols})")
            for ix in spec.indexes:
                admin.execute(f"CREATE {'UNIQUE ' if ix.unique else ''}INDEX ON "
                              f"{_ident(ix.table)} ({', '.join(map(_ident, ix.columns))})")
            if spec.setup:
                admin.execute("BEGIN")
                for stmt in spec.setup:
                    text, params = statement_sql(bind(spec, stmt, {}))
                    admin.execute(text, params)
                admin.execute("COMMIT")
        finally:
            admin.close()

    def connect(self, session: str, level: Level) -> Connection:
        return SqlLabConnection(self, session, level)

    def close(self) -> None:
        self.sdb.close()
