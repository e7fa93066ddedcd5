"""The lab's cairn side: a scenario against ``cairn.db`` through its public Python API.

Each run opens a fresh ``Database.memory()``; each session holds one ``Transaction`` at a time
(begun at its first statement, at the session's level). Every session runs on its own thread,
so a lock wait is a real wait inside cairn's lock manager.

Whether a session is blocked is read off the lock manager itself, not guessed from a timeout:
the session's thread is inside :meth:`LockManager._wait` *and* its request is still not
grantable (checked under the database mutex, so a waiter that was just woken counts as
running), or it waits for the serial executor's turn in ``begin``. The lock manager's
wait-for edges name which sessions it waits for.
"""

from __future__ import annotations

import sys
from typing import Any

from cairn.db.lab.driver import Backend, Bound, Connection, DbError, bind
from cairn.db.lab.errors import BackendUnavailable
from cairn.db.lab.spec import Level, Spec

try:
    from cairn.db import Database
except ImportError as _exc:  # cairn.db not built yet in this checkout
    Database = None  # type: ignore[assignment,misc]
    _IMPORT_ERROR: str | None = str(_exc)
else:
    _IMPORT_ERROR = None

_TYPES = {"int": int, "text": str, "bool": bool}


def _db_error(exc: BaseException) -> DbError | None:
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str):
        return DbError(state, str(exc))
    return None


def where_arg(b: Bound) -> Any:
    """The structured predicate cairn plans with (it can use an index and lock a range); a
    column constrained twice falls back to a callable."""
    if not b.where:
        return None
    cols = [c for c, _, _ in b.where]
    if len(set(cols)) == len(cols):
        return {c: v if op == "=" else (op, v) for c, op, v in b.where}
    checks = [(c, op, v) for c, op, v in b.where]

    def pred(row: dict[str, Any]) -> bool:
        for c, op, v in checks:
            x = row.get(c)
            ok = {"=": x == v, "!=": x != v}.get(op)
            if ok is None:
                ok = x is not None and {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v}[op]
            if not ok:
                return False
        return True

    return pred


class CairnConnection(Connection):
    def __init__(self, backend: CairnBackend, session: str, level: Level) -> None:
        self.backend = backend
        self.db = backend.db
        self.session = session
        self.level = level
        self.tx: Any = None

    def begin(self) -> None:
        kwargs: dict[str, Any] = {"isolation": self.level.isolation}
        if self.level.isolation == "serializable":
            kwargs["method"] = self.level.method or "ssi"
        if self.level.access is not None:
            kwargs["read_only"] = True
            kwargs["deferrable"] = self.level.access == "read only deferrable"
        try:
            self.tx = self.db.begin(**kwargs)
        except Exception as exc:
            err = _db_error(exc)
            if err is None:
                raise
            raise err from None
        self.backend.owners[id(self.tx.owner)] = self.session
        self.backend.txs[self.session] = self.tx

    def execute(self, b: Bound) -> Any:
        tx = self.tx
        stmt = b.stmt
        assert tx is not None
        try:
            if stmt.verb == "advisory":
                if stmt.wait is None:
                    tx.advisory_lock(b.key, shared=stmt.mode == "shared")
                elif not tx.try_advisory_lock(b.key, shared=stmt.mode == "shared"):
                    raise DbError("55P03", "could not obtain advisory lock")
                return None
            if stmt.verb == "siread":
                me = f"transaction {tx.xid}"
                return sum(1 for li in self.db.locks()
                           if li.mode == "SIReadLock" and li.owner == me)
            assert b.table is not None
            table = b.table.name
            if stmt.verb == "lock":
                tx.lock_table(table, stmt.mode, nowait=stmt.wait == "nowait")
                return None
            if stmt.verb == "get":
                return tx.get(table, b.key)
            if stmt.verb == "select":
                rows = tx.select(table, where=where_arg(b), for_update=stmt.lock == "update",
                                 for_share=stmt.lock == "share", nowait=stmt.wait == "nowait",
                                 skip_locked=stmt.wait == "skip locked", limit=stmt.limit)
                pk = b.table.primary_key
                return sorted(rows, key=lambda r: r[pk])
            if stmt.verb == "insert":
                tx.insert(table, dict(b.row or {}))
                return 1
            if stmt.verb == "update":
                return int(bool(tx.update(table, b.key, dict(b.row or {}), expect=b.expect)))
            if stmt.verb == "delete":
                return int(bool(tx.delete(table, b.key)))
        except Exception as exc:
            err = _db_error(exc)
            if err is None:
                raise
            raise err from None
        raise AssertionError(stmt.verb)

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        if self.tx is not None and self.tx.state in ("committed", "rolled back"):
            self.tx = None
            return
        self._end("rollback")

    def _end(self, what: str) -> None:
        tx, self.tx = self.tx, None
        if tx is None:
            return
        try:
            getattr(tx, what)()
        except Exception as exc:
            err = _db_error(exc)
            if err is None:
                raise
            raise err from None
        finally:
            self.backend.owners.pop(id(tx.owner), None)


class CairnBackend(Backend):
    system = "cairn"

    def __init__(self) -> None:
        if Database is None:
            raise BackendUnavailable(f"cairn.db is not importable: {_IMPORT_ERROR}")
        self.db: Any = Database.memory()
        self.owners: dict[int, str] = {}  # id(LockOwner) -> session name
        self.txs: dict[str, Any] = {}  # session -> its current transaction

    def prepare(self, spec: Spec) -> None:
        db = self.db
        for t in spec.tables.values():
            db.create_table(t.name, primary_key=t.primary_key)
        for ix in spec.indexes:
            db.create_index(ix.table, list(ix.columns), unique=ix.unique)
        if spec.setup:
            tx = db.begin(isolation="read committed")
            for stmt in spec.setup:
                b = bind(spec, stmt, {})
                assert b.table is not None
                if stmt.verb == "insert":
                    tx.insert(b.table.name, dict(b.row or {}))
                elif stmt.verb == "update":
                    tx.update(b.table.name, b.key, dict(b.row or {}))
                elif stmt.verb == "delete":
                    tx.delete(b.table.name, b.key)
            tx.commit()

    def connect(self, session: str, level: Level) -> Connection:
        return CairnConnection(self, session, level)

    def waits(self, running: dict[str, int]) -> dict[str, set[str] | None]:
        frames = sys._current_frames()
        out: dict[str, set[str] | None] = {}
        for name, tid in running.items():
            frame = frames.get(tid)
            out[name] = self._blocked_on(frame) if frame is not None else None
        return out

    def _blocked_on(self, frame: Any) -> set[str] | None:
        f = frame
        while f is not None:
            code = f.f_code
            filename = code.co_filename.replace("\\", "/")
            if code.co_name == "_wait" and filename.endswith("cairn/txn/locks.py"):
                loc = f.f_locals
                lm, state, req = loc.get("self"), loc.get("state"), loc.get("req")
                if lm is None or state is None or req is None:
                    return None
                with lm.mu:
                    if req.granted or lm._grantable(state, req, req) or req not in state.queue:
                        return None  # woken and about to go on: running, not blocked
                    blockers = lm._blockers(req.owner)
                return {self.owners.get(id(o), f"xid {getattr(o, 'owner_id', '?')}")
                        for o in blockers}
            if code.co_name == "begin" and filename.endswith("cairn/db/database.py"):
                return self._serial_wait(f)
            if code.co_name == "_wait_safe_snapshot" and filename.endswith("cairn/db/database.py"):
                return self._safe_snapshot_wait(f)
            f = f.f_back
        return None

    def _safe_snapshot_wait(self, frame: Any) -> set[str] | None:
        """SERIALIZABLE READ ONLY DEFERRABLE waits for the read-write transactions that ran
        at its snapshot (PostgreSQL: ``pg_safe_snapshot_blocking_pids``)."""
        sx, db = frame.f_locals.get("sx"), frame.f_locals.get("self")
        if sx is None or db is None:
            return None
        with db._mu:
            if sx.safe or sx.unsafe:
                return None  # settled, about to go on
            xids = {a.xid for a in sx.possible}
        names = {name for name, tx in self.txs.items() if tx is not None and tx.xid in xids}
        return names or None

    def _serial_wait(self, frame: Any) -> set[str] | None:
        """``begin`` at serializable/serial waits for the serial executor (one transaction at
        a time): blocked while another session's serial transaction is still active."""
        loc = frame.f_locals
        if loc.get("level") != "serializable" or loc.get("method") != "serial":
            return None
        holders = {name for name, tx in self.txs.items()
                   if tx is not None and tx.method == "serial" and tx.state == "active"}
        return holders or None

    def close(self) -> None:
        close = getattr(self.db, "close", None)
        if close is not None:
            close()
