"""Sessions: one client's connection state, and the statement loop over cairn.db.

A :class:`SqlDatabase` owns a cairn.db ``Database`` and the shared catalog; each client gets a
:class:`Session` with its settings (search_path, TimeZone, default_transaction_isolation ...)
and its transaction state. As in PostgreSQL, a statement outside BEGIN runs in its own
transaction (autocommit), a statement inside one that fails aborts the whole transaction
(25P02 for everything after it until ROLLBACK), and errors carry PostgreSQL's SQLSTATE and
message text.
"""

from __future__ import annotations

import itertools
import threading
import time as time_mod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from cairn.db import Database
from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.alter import AlterMixin
from cairn.sql.catalog import CATALOG_TABLE, Catalog, CatalogView, Overlay
from cairn.sql.ddl import DdlMixin
from cairn.sql.dml import DmlMixin
from cairn.sql.errors import SqlError
from cairn.sql.parser import parse
from cairn.sql.planner import ExecState, Planner
from cairn.sql.roles import Role, RolesMixin
from cairn.txn.errors import TxnError

ISOLATION_LEVELS = ("read uncommitted", "read committed", "repeatable read", "serializable")
SERIALIZABLE_METHODS = ("ssi", "2pl", "serial")

DEFAULT_SETTINGS: dict[str, str] = {
    "search_path": '"$user", public',
    "timezone": "UTC",
    "datestyle": "ISO, MDY",
    "intervalstyle": "postgres",
    "default_transaction_isolation": "read committed",
    "default_transaction_read_only": "off",
    "cairn.serializable_method": "ssi",
    "statement_timeout": "0",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "client_encoding": "UTF8",
    "server_encoding": "UTF8",
    "server_version": "15.0 (cairn)",
    "server_version_num": "150000",
    "standard_conforming_strings": "on",
    "application_name": "",
    "extra_float_digits": "1",
    "integer_datetimes": "on",
    "max_identifier_length": "63",
    "synchronous_commit": "on",
}


@dataclass
class Column:
    name: str
    type: T.SqlType


@dataclass
class Result:
    """One statement's outcome: a command tag and, for queries, columns and rows."""

    tag: str
    columns: list[Column] | None = None
    rows: list[tuple] = field(default_factory=list)

    @property
    def rowcount(self) -> int:
        parts = self.tag.split()
        if parts and parts[-1].isdigit():
            return int(parts[-1])
        return -1


class Notification(NamedTuple):
    """A NOTIFY delivered to a listening session (PostgreSQL's NotificationResponse)."""

    channel: str
    payload: str
    pid: int  # the sending session's


@dataclass
class Description:
    """What Describe reports for a statement: its parameters' types and its columns."""

    param_types: list[T.SqlType]
    columns: list[Column] | None


def python_type(v: Any) -> T.SqlType:
    """The SQL type a Python parameter value is bound as (psycopg's adaptation rules)."""
    if v is None or isinstance(v, str):
        return T.UNKNOWN
    if isinstance(v, bool):
        return T.BOOL
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return T.INT4
        if -2**63 <= v < 2**63:
            return T.INT8
        return T.NUMERIC
    if isinstance(v, float):
        return T.FLOAT8
    if isinstance(v, Decimal):
        return T.NUMERIC
    if isinstance(v, datetime):
        return T.TIMESTAMPTZ if v.tzinfo is not None else T.TIMESTAMP
    if isinstance(v, date):
        return T.DATE
    if isinstance(v, time):
        return T.TIME
    if isinstance(v, bytes | bytearray | memoryview):
        return T.BYTEA
    if isinstance(v, UUID):
        return T.UUID
    if isinstance(v, dict):
        return T.JSONB
    if type(v).__name__ == "Interval" and hasattr(v, "months"):
        return T.INTERVAL
    if isinstance(v, list):
        inner = next((python_type(x) for x in v if x is not None), T.TEXT)
        if inner.oid == T.UNKNOWN.oid:
            inner = T.TEXT
        return T.array_of(inner)
    raise SqlError(f"cannot adapt type {type(v).__name__}", sqlstate="22023")


def to_sql_error(exc: BaseException) -> SqlError:
    if isinstance(exc, SqlError):
        return exc
    if isinstance(exc, TxnError):
        msg = str(exc)
        return SqlError(msg, sqlstate=exc.sqlstate)
    return SqlError(f"internal error: {type(exc).__name__}: {exc}", sqlstate="XX000")


class SqlDatabase:
    """A cairn.db database with SQL on top: the catalog and the sequences of all sessions."""

    def __init__(self, db: Database, *, owns_db: bool = True, name: str = "cairn"):
        self.db = db
        self.owns_db = owns_db
        self.name = name
        self.catalog = Catalog()
        self.seq_lock = threading.Lock()
        self.seq_cache: dict[int, list[int]] = {}  # oid -> [next value, last reserved]
        self.plan_cache_size = 256
        self.listeners: dict[str, list[Any]] = {}
        self.sessions: dict[int, Session] = {}  # pid -> session (pg_stat_activity)
        self.statistics: dict[int, Any] = {}  # relation oid -> ANALYZE's TableStats
        self.rowids: dict[str, Any] = {}  # heap -> next hidden row id (tables without a key)
        self._pids = itertools.count(1000)
        self._bootstrap()

    @classmethod
    def open(cls, path: str | None = None, **options: Any) -> SqlDatabase:
        db = Database.memory(**options) if path is None else Database.open(path, **options)
        return cls(db)

    def _bootstrap(self) -> None:
        db = self.db
        db.create_table(CATALOG_TABLE, primary_key="oid", if_not_exists=True)
        db.create_table("_sql_sequences", primary_key="oid", if_not_exists=True)
        with db.transaction("read committed") as tx:
            rows = tx.select(CATALOG_TABLE)
        self.catalog.load(rows)
        if not any(r["oid"] == 0 for r in rows):
            with db.transaction("read committed") as tx:
                tx.insert(CATALOG_TABLE, {"oid": 0, "def": {"next_oid": self.catalog.next_oid,
                                                              "schemas": {}}})
                for name in BOOTSTRAP_ROLES:
                    role = Role(self.catalog.alloc_oid(), name, superuser=True, login=True,
                                createdb=True, createrole=True, bypassrls=True,
                                replication=True)
                    tx.insert(CATALOG_TABLE, {"oid": -role.oid, "def": {"role": role.to_json()}})
                    self.catalog.roles[name] = role
                tx.update(CATALOG_TABLE, 0, {"def": {"next_oid": self.catalog.next_oid,
                                                     "schemas": {}}})

    def connect(self, user: str = "cairn") -> Session:
        role = self.catalog.roles.get(user)
        if role is None:
            raise SqlError(f'role "{user}" does not exist', sqlstate="28000")
        if not role.login:
            raise SqlError(f'role "{user}" is not permitted to log in', sqlstate="28000")
        return Session(self, user)

    def role_secret(self, user: str) -> str | None:
        """The stored password verifier of a role ("SCRAM-SHA-256$...", "md5...") or None:
        what the wire protocol authenticates a client against."""
        role = self.catalog.roles.get(user)
        return None if role is None else role.password

    def close(self) -> None:
        if self.owns_db:
            self.db.close()


BOOTSTRAP_ROLES = ("cairn", "postgres")  # superusers made with a new database
VOID = ""  # the value of a void function: not NULL, printed as nothing (PostgreSQL's)


class Session(DdlMixin, DmlMixin, AlterMixin, RolesMixin):
    def __init__(self, sdb: SqlDatabase, user: str = "cairn"):
        self.sdb = sdb
        self.db = sdb.db
        self.session_user = user
        self.current_user = user
        self.database_name = sdb.name
        self.settings: dict[str, str] = dict(DEFAULT_SETTINGS)
        self._ms_cache: dict[str, tuple[str, int]] = {}
        self.ctx = T.EvalContext()
        self.tx: Any = None
        self.in_block = False  # inside BEGIN ... COMMIT
        self.failed = False
        self.overlay = Overlay()
        self.tx_options: dict[str, Any] = {}
        self.plan_cache: dict[Any, Any] = {}  # statement text -> parse trees
        self.query_plans: dict[Any, Any] = {}  # parse tree (+ context) -> plan
        self.compiled: dict[Any, Any] = {}  # defaults/CHECKs/predicates per relation
        self.prepared: dict[str, Any] = {}
        self.notifications: list[Notification] = []
        self.pending_notifies: list[tuple[str, str]] = []
        self.listening: set[str] = set()
        self.closed = False
        self.currval: dict[int, int] = {}
        self.lastval: int | None = None
        self.describing = False
        self.advisory: dict[Any, Any] = {}  # session advisory locks: (key, shared) -> (lock, n)
        self._copy_data: str | None = None  # COPY FROM STDIN's input, handed by copy()
        self._copy_out: str | None = None  # COPY TO STDOUT's output
        self.last_dml_plan: Any = None
        # (severity, sqlstate, message) the client should see as NoticeResponse messages
        self.notices: list[tuple[str, str, str]] = []
        self.pid = next(sdb._pids)  # PostgreSQL's backend pid: BackendKeyData, pg_stat_activity
        self.client_addr: str | None = None
        self.started_at = datetime.now(UTC)
        self.last_query = ""
        sdb.sessions[self.pid] = self
        # set by cancel() from another thread, read at interrupt points (a plain flag: the
        # GIL makes the store atomic, and an Event's lock cost every statement)
        self.cancel_requested = False
        self.running = False
        self.statement_start = 0.0
        self.last_planner: Planner | None = None

    # -- settings ------------------------------------------------------------------------
    def search_path(self) -> list[str]:
        out = []
        for part in self.settings["search_path"].split(","):
            p = part.strip().strip('"')
            if p == "$user":
                p = self.current_user
            if p:
                out.append(p)
        return out

    def creation_schema(self) -> str:
        view = self.catalog()
        for s in self.search_path():
            if view.schema(s) is not None:
                return s
        raise SqlError("no schema has been selected to create in", sqlstate="3F000")

    def current_schema(self) -> str | None:
        view = self.catalog()
        for s in self.search_path():
            if view.schema(s) is not None:
                return s
        return None

    def current_setting(self, name: str, missing_ok: bool = False) -> str | None:
        key = name.lower()
        if key in self.settings:
            return self.settings[key]
        if missing_ok:
            return None
        raise SqlError(f'unrecognized configuration parameter "{name}"', sqlstate="42704")

    def set_config(self, name: str, value: str, is_local: bool) -> str:
        self._set(name.lower(), value, is_local)
        return value

    def _set(self, name: str, value: str, local: bool = False) -> None:
        if name in ("server_version", "server_version_num", "server_encoding",
                    "integer_datetimes", "max_identifier_length"):
            raise SqlError(f'parameter "{name}" cannot be changed', sqlstate="55P02")
        if name == "timezone":
            self.ctx.set_timezone(value)
        elif name == "default_transaction_isolation":
            if value.lower() not in ISOLATION_LEVELS:
                raise SqlError(f'invalid value for parameter "default_transaction_isolation":'
                               f' "{value}"', sqlstate="22023",
                               hint='Available values: serializable, repeatable read, read '
                                    'committed, read uncommitted.')
            value = value.lower()
        elif name == "cairn.serializable_method":
            if value.lower() not in SERIALIZABLE_METHODS:
                raise SqlError(f'invalid value for parameter "cairn.serializable_method": '
                               f'"{value}"', sqlstate="22023",
                               hint="Available values: ssi, 2pl, serial.")
            value = value.lower()
        elif name in ("statement_timeout", "lock_timeout",
                      "idle_in_transaction_session_timeout"):
            _parse_ms(name, value)
        elif name == "transaction_isolation":
            self._set_tx_isolation(value.lower())
            return
        elif name == "role":
            target = value if value and value != "none" else self.session_user
            if target != self.session_user:
                if self.role(target) is None:
                    raise SqlError(f'role "{target}" does not exist', sqlstate="22023")
                if not self.is_superuser(self.session_user) and \
                        target not in self.roles_of(self.session_user):
                    raise SqlError(f'permission denied to set role "{target}"',
                                   sqlstate="42501")
            self.current_user = target
        elif "." not in name and name not in self.settings:
            raise SqlError(f'unrecognized configuration parameter "{name}"',
                           sqlstate="42704")
        self.settings[name] = value
        if local and self.in_block:
            self.tx_options.setdefault("restore", {}).setdefault(name, None)

    def _ms(self, name: str) -> int:
        """A time setting in milliseconds (parsed once per value)."""
        text = self.settings[name]
        hit = self._ms_cache.get(name)
        if hit is not None and hit[0] == text:
            return hit[1]
        ms = _parse_ms(name, text)
        self._ms_cache[name] = (text, ms)
        return ms

    # -- catalog -------------------------------------------------------------------------
    def catalog(self) -> CatalogView:
        return CatalogView(self.sdb.catalog, self.overlay)

    def planner(self, param_types: list[T.SqlType], track: bool = True) -> Planner:
        """A planner for one statement; ``track``: the statement's own (Describe reads the
        parameter types it inferred), not one binding a default or a CHECK on the side."""
        pl = Planner(self.catalog(), self.search_path(), self.ctx, param_types, self)
        if track:
            self.last_planner = pl
        return pl

    def describe(self, sql: str, param_types: list[T.SqlType | None] | None = None
                 ) -> Description:
        """Parameter types (given, or inferred from their context) and result columns of one
        statement, without running it: the extended protocol's Describe."""
        stmts = parse(sql)
        if len(stmts) > 1:
            raise SqlError("cannot insert multiple commands into a prepared statement",
                           sqlstate="42601")
        if not stmts:
            return Description([], None)
        node = stmts[0].node
        n = max(_max_param(node), len(param_types or []))
        given: list[Any] = list(param_types or []) + [None] * (n - len(param_types or []))
        columns: list[Column] | None = None
        started = False
        if self.tx is None and not isinstance(node, a.TransactionStmt):
            self._begin_tx()
            started = True
        try:
            if isinstance(node, (a.SelectStmt, a.SetOperation)):
                pl = self.planner(given)
                pq = pl.plan_query(node)
                columns = [Column(nm, t) for nm, t in zip(pq.names, pq.types, strict=True)]
            elif isinstance(node, (a.InsertStmt, a.UpdateStmt, a.DeleteStmt)):
                from cairn.sql.dml import Described
                self.describing = True
                try:
                    self._dispatch(node, [None] * n, given)
                except Described as d:
                    columns = d.columns
                finally:
                    self.describing = False
                pl = self.last_planner
            elif isinstance(node, a.VariableShowStmt):
                pl = self.planner(given)
                columns = self.stmt_VariableShowStmt(node, [], []).columns
            else:
                pl = self.planner(given)
        finally:
            if started:
                self._end_tx(False)
        out: list[T.SqlType] = []
        for i, t in enumerate(given):
            if t is not None and t.oid != T.UNKNOWN.oid:
                out.append(t)
            elif i in pl.inferred:
                out.append(pl.inferred[i])
            else:
                raise SqlError(f"could not determine data type of parameter ${i + 1}",
                               sqlstate="42P18")
        return Description(out, columns)

    # -- transactions --------------------------------------------------------------------
    def _begin_tx(self, isolation: str | None = None, read_only: bool | None = None,
                  deferrable: bool | None = None) -> None:
        level = isolation or self.settings["default_transaction_isolation"]
        method = self.settings["cairn.serializable_method"]
        ro = read_only if read_only is not None else \
            self.settings["default_transaction_read_only"] in ("on", "true")
        lt = self._ms("lock_timeout")
        self.tx = self.db.begin(level, method, read_only=bool(ro),
                                deferrable=bool(deferrable) and level == "serializable",
                                lock_timeout=lt / 1000 if lt else None)
        self.ctx.transaction_timestamp = datetime.now(UTC)
        self.tx_options = {"isolation": level, "read_only": ro}

    def _end_tx(self, commit: bool) -> None:
        tx, self.tx = self.tx, None
        overlay = self.overlay
        if overlay:
            self.overlay = Overlay()
        restore = self.tx_options.get("restore")
        self.tx_options = {}
        if tx is None:
            return
        if commit:
            tx.commit()
            if overlay:
                self.sdb.catalog.publish(overlay)
            for ch, payload in self.pending_notifies:
                self._deliver(ch, payload)
        else:
            tx.rollback()
        self.pending_notifies = []
        if restore:
            for name in restore:
                self.settings[name] = DEFAULT_SETTINGS.get(name, "")

    def _deliver(self, channel: str, payload: str) -> None:
        for s in list(self.sdb.listeners.get(channel, [])):
            s.notifications.append(Notification(channel, payload, self.pid))

    def notify(self, channel: str, payload: str | None = None) -> None:
        if channel is None:
            raise SqlError("channel name cannot be empty", sqlstate="22023")
        if payload is not None and len(payload.encode()) >= 8000:
            raise SqlError("payload string too long", sqlstate="22023")
        self.pending_notifies.append((channel, payload or ""))
        return None

    # -- the statement loop --------------------------------------------------------------
    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None,
                param_types: list[T.SqlType | None] | None = None) -> list[Result]:
        """Run every statement of ``sql``; parameters ($1...) apply to a single statement.
        ``param_types`` (the wire protocol's declared parameter types; None entries: from
        the value) type the parameters as the client declared them."""
        if self.closed:
            raise SqlError("connection is closed", sqlstate="08003")
        self.last_query = sql
        params = list(params or [])
        types = [python_type(v) for v in params]
        if param_types:
            for i, t in enumerate(param_types[:len(types)]):
                if t is not None and t.oid != T.UNKNOWN.oid:
                    types[i] = t
        key = (sql, *[t.oid for t in types], self.sdb.catalog.generation,
               self.settings["search_path"])
        cached = self.plan_cache.get(key)
        if cached is not None and not self.overlay:
            stmts = cached
        else:
            stmts = parse(sql)
            if params and len(stmts) > 1:
                raise SqlError("cannot insert multiple commands into a prepared statement",
                               sqlstate="42601")
            if len(self.plan_cache) >= self.sdb.plan_cache_size:
                self.plan_cache.clear()
            self.plan_cache[key] = stmts
        results = []
        implicit = not self.in_block and len(stmts) > 1
        for st in stmts:
            results.append(self._run(st.node, params, types, implicit_block=implicit))
        if implicit and self.tx is not None and not self.in_block:
            self._end_tx(True)
        return results

    def _run(self, node: a.Node, params: list[Any], types: list[T.SqlType],
             implicit_block: bool = False) -> Result:
        if isinstance(node, a.TransactionStmt):
            return self._transaction_stmt(node)
        if self.failed:
            raise SqlError("current transaction is aborted, commands ignored until end of "
                           "transaction block", sqlstate="25P02")
        if isinstance(node, a.VacuumStmt) and not node.analyze_only:
            # VACUUM runs outside any transaction: one of its own would hold back the
            # horizon it cleans up to
            if self.in_block or implicit_block:
                raise SqlError("VACUUM cannot run inside a transaction block",
                               sqlstate="25001")
            return self.vacuum(node)
        autocommit = self.tx is None and not self.in_block
        try:
            if self.tx is None:
                if autocommit and not implicit_block and self._snapshot_only(node, types):
                    # one statement's snapshot: a read-only snapshot transaction gives the
                    # same answer at read committed and takes no lock (a virtual xid)
                    level = self.settings["default_transaction_isolation"]
                    self._begin_tx("repeatable read" if level == "read committed" else None,
                                   read_only=True)
                else:
                    self._begin_tx()
            self.ctx.statement_timestamp = datetime.now(UTC)
            self.statement_start = time_mod.monotonic()
            self.tx_options["used"] = True
            self.running = True
            try:
                res = self._dispatch(node, params, types)
            finally:
                self.running = False
                self.cancel_requested = False  # a late cancel must not hit the next one
            if autocommit and not implicit_block:
                self._end_tx(True)
            return res
        except BaseException as exc:
            err = to_sql_error(exc)
            if self.in_block:
                self.failed = True
            if self.tx is not None and (autocommit or not self.in_block):
                try:
                    self._end_tx(False)
                except Exception:
                    self.tx = None
            if err is exc:
                raise
            raise err from exc

    def _dispatch(self, node: a.Node, params: list[Any], types: list[T.SqlType]) -> Result:
        if isinstance(node, (a.SelectStmt, a.SetOperation)):
            return self.select(node, params, types)
        if self.tx_options.get("read_only"):
            tag = _write_tag(node)
            if tag is not None:
                raise SqlError(f"cannot execute {tag} in a read-only transaction",
                               sqlstate="25006")
        name = type(node).__name__
        handler = getattr(self, "stmt_" + name, None)
        if handler is None:
            raise SqlError(f"{name} is not supported yet", sqlstate="0A000")
        return handler(node, params, types)

    def exec_state(self, params: list[Any], ctx: T.EvalContext | None = None) -> ExecState:
        ex = ExecState(self.tx, params, ctx or self.ctx, self)
        ms = self._ms("statement_timeout")
        if ms:
            ex.deadline = self.statement_start + ms / 1000
        return ex

    def select(self, node: a.Node, params: list[Any], types: list[T.SqlType]) -> Result:
        pq = self._cached_plan(node, types)
        ex = self.exec_state(params)
        rows = list(pq.node.rows(ex))
        cols = pq.columns
        if cols is None:
            cols = pq.columns = [Column(n, t) for n, t in zip(pq.names, pq.types, strict=True)]
        return Result(f"SELECT {len(rows)}", list(cols), rows)

    def _snapshot_only(self, node: a.Node, types: list[T.SqlType]) -> bool:
        """A plain query (no FOR UPDATE, no volatile function, nothing but reads)."""
        if not isinstance(node, a.SelectStmt) or node.locking or node.with_ is not None:
            return False
        if self.settings["default_transaction_isolation"] == "serializable" and \
                self.settings["cairn.serializable_method"] != "ssi":
            return False
        try:
            pq = self._cached_plan(node, types)
        except SqlError:
            return False
        return not pq.volatile

    def _cached_plan(self, node: a.Node, types: list[T.SqlType]) -> Any:
        """A query's plan, reused while nothing it depends on changed: the catalog
        (generation), search_path, the role (row security) and TimeZone (folded constants).
        A transaction with uncommitted DDL plans afresh."""
        if self.overlay:
            return self.planner(types).plan_query(node)
        key = (id(node), *[(t.oid, t.typmod) if t is not None else None for t in types],
               self.sdb.catalog.generation, self.settings["search_path"], self.current_user,
               self.ctx.timezone)
        hit = self.query_plans.get(key)
        if hit is not None and hit[0] is node:
            return hit[1]
        pl = self.planner(types)
        pq = pl.plan_query(node)
        pq.volatile = pl.volatile  # nextval(), random(), now() ...: not read-only safe
        if pl.volatile_plan:
            return pq
        if len(self.query_plans) >= self.sdb.plan_cache_size:
            self.query_plans.clear()
        self.query_plans[key] = (node, pq)  # the node is kept: its id stays its own
        return pq

    def stmt_ExplainStmt(self, st: a.ExplainStmt, params: list[Any],
                         types: list[T.SqlType]) -> Result:
        from cairn.sql import plan as P
        from cairn.sql.explain import Estimator, explain_json, explain_text

        inner = st.stmt
        t0 = time_mod.perf_counter()
        label = None
        if isinstance(inner, (a.SelectStmt, a.SetOperation)):
            pq = self.planner(types).plan_query(inner)
            node = pq.node
            planned = time_mod.perf_counter()
            if st.analyze:
                for _ in node.rows(self.exec_state(params)):
                    pass
        elif isinstance(inner, (a.InsertStmt, a.UpdateStmt, a.DeleteStmt)):
            kind = {a.InsertStmt: "Insert", a.UpdateStmt: "Update",
                    a.DeleteStmt: "Delete"}[type(inner)]
            rel = self._target(inner.table)
            label = f"{kind} on {rel.name}" + (
                f" {inner.table.alias}" if inner.table.alias else "")
            self.last_dml_plan = None
            planned = time_mod.perf_counter()
            if st.analyze:
                res = self._dispatch(inner, params, types)
                count = res.rowcount
            else:
                self.describing = True
                try:
                    self._dispatch(inner, [None] * len(types), types)
                except Exception as exc:  # Described, once the plan is bound
                    from cairn.sql.dml import Described
                    if not isinstance(exc, Described):
                        raise
                finally:
                    self.describing = False
                count = 0
            child = self.last_dml_plan if kind != "Insert" else None
            node = _DmlNode(label, child, count)
        else:
            raise SqlError("EXPLAIN of this statement is not supported", sqlstate="0A000")
        done = time_mod.perf_counter()
        stats = self.db.table_stats

        def table_rows(rel: Any) -> tuple[int, int]:
            try:
                s = stats(rel.heap)
                analyzed = self.sdb.statistics.get(rel.oid)
                return (int(analyzed.reltuples) if analyzed else s.rows), s.bytes
            except Exception:  # a heap dropped since: no estimate
                return 0, 0
        est = Estimator(table_rows)
        if st.format == "json":
            text = explain_json(node, est, st.costs, st.analyze)
            return Result("EXPLAIN", [Column("QUERY PLAN", T.JSON)], [(text,)])
        if st.format != "text":
            raise SqlError(f"EXPLAIN FORMAT {st.format.upper()} is not supported",
                           sqlstate="0A000")
        lines = explain_text(node, est, st.costs, st.analyze, st.verbose)
        if st.analyze and st.summary is not False:
            lines.append(f"Planning Time: {(planned - t0) * 1000:.3f} ms")
            lines.append(f"Execution Time: {(done - planned) * 1000:.3f} ms")
        _ = P
        return Result("EXPLAIN", [Column("QUERY PLAN", T.TEXT)], [(ln,) for ln in lines])

    def _transaction_stmt(self, st: a.TransactionStmt) -> Result:
        k = st.kind
        if k == "begin":
            if self.in_block:
                # PostgreSQL warns and carries on
                return Result("BEGIN")
            self.in_block = True
            self.failed = False
            self._begin_tx(st.isolation, st.read_only, st.deferrable)
            return Result("BEGIN")
        if k in ("commit", "rollback"):
            if not self.in_block:
                return Result("COMMIT" if k == "commit" else "ROLLBACK")
            failed = self.failed
            self.in_block = False
            self.failed = False
            try:
                self._end_tx(k == "commit" and not failed)
            except BaseException as exc:
                raise to_sql_error(exc) from exc
            if st.chain:
                self.in_block = True
                self._begin_tx()
            return Result("ROLLBACK" if failed or k == "rollback" else "COMMIT")
        if k == "set transaction":
            if not self.in_block:
                self.notices.append(("WARNING", "25P01", "SET TRANSACTION can only be used "
                                     "in transaction blocks"))
                return Result("SET")
            if self.tx_options.get("used"):
                if st.isolation is not None:
                    raise SqlError("SET TRANSACTION ISOLATION LEVEL must be called before any "
                                   "query", sqlstate="25001")
            else:  # nothing ran yet: begin again with the new characteristics
                iso = st.isolation or self.tx_options.get("isolation")
                ro = st.read_only if st.read_only is not None else \
                    self.tx_options.get("read_only")
                self.tx.rollback()
                self.tx = None
                self._begin_tx(iso, ro, st.deferrable)
            return Result("SET")
        if k == "set session characteristics":
            if st.isolation:
                self.settings["default_transaction_isolation"] = st.isolation
            if st.read_only is not None:
                self.settings["default_transaction_read_only"] = "on" if st.read_only else "off"
            return Result("SET")
        if k in ("savepoint", "release", "rollback to"):
            if not self.in_block:
                raise SqlError(f"{k.upper()} can only be used in transaction blocks",
                               sqlstate="25P01")
            raise SqlError("savepoints are not supported yet", sqlstate="0A000")
        raise SqlError(f"{k} is not supported", sqlstate="0A000")

    def _set_tx_isolation(self, level: str) -> None:
        raise SqlError("SET TRANSACTION ISOLATION LEVEL must be called before any query",
                       sqlstate="25001")

    # -- settings statements -------------------------------------------------------------
    def stmt_VariableSetStmt(self, st: a.VariableSetStmt, params: list[Any],
                             types: list[T.SqlType]) -> Result:
        name = st.name
        if name.startswith("system:"):
            raise SqlError("ALTER SYSTEM is not supported yet", sqlstate="0A000")
        if st.reset:
            if name == "all":
                self.settings = dict(DEFAULT_SETTINGS)
                self.ctx.set_timezone("UTC")
                self.current_user = self.session_user
            else:
                self._set(name, DEFAULT_SETTINGS.get(name, ""))
            return Result("RESET")
        if not st.values:
            self._set(name, DEFAULT_SETTINGS.get(name, ""), st.local)
            return Result("SET")
        texts = []
        for v in st.values:
            if isinstance(v, a.Const):
                texts.append(str(v.value))
            else:
                b = self.planner([]).bind(v, _EMPTY_SCOPE)
                texts.append(str(b.value))
        value = ", ".join(texts)
        self._set(name, value, st.local)
        return Result("SET")

    def stmt_VariableShowStmt(self, st: a.VariableShowStmt, params: list[Any],
                              types: list[T.SqlType]) -> Result:
        name = st.name
        if name == "transaction_isolation":
            v = self.tx_options.get("isolation") or self.settings[
                "default_transaction_isolation"]
        elif name == "session_authorization":
            v = self.session_user
        elif name == "all":
            rows = [(k, v, "") for k, v in sorted(self.settings.items())]
            return Result("SHOW", [Column("name", T.TEXT), Column("setting", T.TEXT),
                                    Column("description", T.TEXT)], rows)
        else:
            v = self.current_setting(name)
        shown = {"timezone": "TimeZone", "datestyle": "DateStyle",
                 "intervalstyle": "IntervalStyle"}.get(name, name)
        return Result("SHOW", [Column(shown, T.TEXT)], [(v,)])

    def _tables_for(self, rvs: list[a.RangeVar]) -> list[Any]:
        view = self.catalog()
        if rvs:
            return [view.resolve(rv.schema, rv.name, self.search_path(), rv.pos, kinds="r")
                    for rv in rvs]
        return [r for r in view.all_relations() if r.kind == "r" and (
            self.is_superuser() or r.owner in self.roles_of(self.current_user))]

    def vacuum(self, st: a.VacuumStmt) -> Result:
        from cairn.sql.errors import SqlError as _E
        for rel in self._tables_for(st.tables):
            try:
                self.check_owner(rel)
            except _E:
                self.notices.append(("WARNING", "42501", f'permission denied to vacuum '
                                     f'"{rel.name}", skipping it'))
                continue
            for res in self.db.vacuum(rel.heap):
                if st.verbose:
                    self.notices.append(("INFO", "00000", f'vacuuming "{self.database_name}.'
                                         f'{rel.schema}.{rel.name}"'))
                    self.notices.append(("INFO", "00000",
                                         f'finished vacuuming "{self.database_name}.'
                                         f'{rel.schema}.{rel.name}": {res.removed} dead '
                                         f"versions removed, {res.kept_dead} dead versions "
                                         f"not yet removable, oldest xmin: {res.horizon}"))
        if st.analyze:
            self._begin_tx()
            try:
                self.analyze(st.tables, st.verbose)
                self._end_tx(True)
            except BaseException:
                self._end_tx(False)
                raise
        return Result("VACUUM")

    def analyze(self, rvs: list[a.RangeVar], verbose: bool = False) -> None:
        from cairn.sql.dml import _decode
        from cairn.sql.statistics import analyze

        for rel in self._tables_for(rvs):
            rows = [_decode(rel, d) for d in self.tx.select(rel.heap)]
            cols = rel.live_columns
            self.sdb.statistics[rel.oid] = analyze(rows, [c.name for c in cols],
                                                   [c.type for c in cols], len(rows))
            if verbose:
                self.notices.append(("INFO", "00000", f'analyzing "{rel.schema}.{rel.name}"'))
                self.notices.append(("INFO", "00000", f'"{rel.name}": {len(rows)} live rows '
                                     f"sampled, {len(rows)} estimated total rows"))

    def stmt_VacuumStmt(self, st: a.VacuumStmt, params: list[Any],
                        types: list[T.SqlType]) -> Result:
        self.analyze(st.tables, st.verbose)  # ANALYZE alone: inside a transaction is fine
        return Result("ANALYZE")

    def copy(self, sql: str, data: str | None = None) -> tuple[Result, str | None]:
        """COPY ... FROM STDIN with ``data`` (text or CSV), or COPY ... TO STDOUT, whose
        output comes back as the second element. As ``execute``, in its own transaction
        outside BEGIN."""
        stmts = parse(sql)
        if len(stmts) != 1 or not isinstance(stmts[0].node, a.CopyStmt):
            raise SqlError("copy() takes one COPY statement", sqlstate="42601")
        st = stmts[0].node
        if st.is_from and data is None:
            raise SqlError("COPY FROM STDIN needs the data to read", sqlstate="57014")
        self._copy_data = data
        try:
            res = self._run(st, [], [])
        finally:
            self._copy_data = None
        out, self._copy_out = self._copy_out, None
        return res, out

    def stmt_CopyStmt(self, st: a.CopyStmt, params: list[Any],
                      types: list[T.SqlType]) -> Result:
        from cairn.sql.copy import CopyOptions, format_rows, parse_rows

        o = CopyOptions.from_statement(st.options)
        if not st.is_from:
            if st.table is not None:
                rel = self.catalog().resolve(st.table.schema, st.table.name,
                                             self.search_path(), st.table.pos)
                cols = ", ".join(f'"{c}"' for c in (st.columns or [
                    c.name for c in rel.live_columns]))
                q = parse(f'SELECT {cols} FROM "{rel.schema}"."{rel.name}"')[0].node
            else:
                q = st.query  # type: ignore[assignment]
            res = self.select(q, params, types)
            assert res.columns is not None
            rows = [[None if v is None else T.format_output(c.type, v, self.ctx)
                     for v, c in zip(r, res.columns, strict=True)] for r in res.rows]
            self._copy_out = format_rows(rows, [c.name for c in res.columns], o)
            return Result(f"COPY {len(rows)}")
        if st.table is None:
            raise SqlError("COPY FROM needs a table", sqlstate="42601")
        rel = self._target(st.table)
        self.check_privilege(rel, "insert", st.table.pos)
        names = st.columns or [c.name for c in rel.live_columns]
        cols = []
        for n in names:
            c = rel.column(n)
            if c is None:
                raise SqlError(f'column "{n}" of relation "{rel.name}" does not exist',
                               sqlstate="42703")
            cols.append(c)
        data = getattr(self, "_copy_data", None) or ""
        fields = parse_rows(data, o, [c.name for c in cols])
        inputs = [T.input_function(c.type.base) for c in cols]
        defaults = self._defaults(rel)
        checks = self._checks(rel)
        rls = self._rls_check(rel, "insert")
        ex = self.exec_state([])
        positions = [rel.live_columns.index(c) for c in cols]
        n = 0
        for line, r in enumerate(fields, 1):
            vals: list[Any] = [None] * len(rel.live_columns)
            for i, d in enumerate(defaults):
                if i not in positions and d is not None:
                    vals[i] = d.fn((), ex)
            try:
                for p, f, c, fn in zip(positions, r, cols, inputs, strict=True):
                    if f is not None:
                        vals[p] = T.coerce_typmod(fn(f, self.ctx), c.type, False, self.ctx)
            except SqlError as exc:
                exc.detail = f"COPY {rel.name}, line {line}"
                raise
            self._check_row(rel, vals, checks, ex)
            if rls is not None:
                rls(tuple(vals), ex)
            self._check_fkeys(rel, vals)
            self._insert_stored(rel, vals)
            n += 1
        return Result(f"COPY {n}")

    # -- SQL-level prepared statements ---------------------------------------------------
    def stmt_PrepareStmt(self, st: a.PrepareStmt, params: list[Any],
                         types: list[T.SqlType]) -> Result:
        from cairn.sql.expr import type_from_name

        if st.name in self.prepared:
            raise SqlError(f'prepared statement "{st.name}" already exists',
                           sqlstate="42P05")
        ptypes = [type_from_name(t) for t in st.types]
        n = max(_max_param(st.stmt), len(ptypes))
        given: list[Any] = ptypes + [None] * (n - len(ptypes))
        if isinstance(st.stmt, (a.SelectStmt, a.SetOperation)):
            pl = self.planner(given)
            pl.plan_query(st.stmt)  # errors now, as PostgreSQL reports them at PREPARE
            for i, t in enumerate(given):
                if t is None:
                    given[i] = pl.inferred.get(i, T.TEXT)
        self.prepared[st.name] = (st.stmt, [t or T.TEXT for t in given])
        return Result("PREPARE")

    def stmt_ExecuteStmt(self, st: a.ExecuteStmt, params: list[Any],
                         types: list[T.SqlType]) -> Result:
        from cairn.sql.expr import Scope, coerce

        got = self.prepared.get(st.name)
        if got is None:
            raise SqlError(f'prepared statement "{st.name}" does not exist', sqlstate="26000")
        node, ptypes = got
        if len(st.params) != len(ptypes):
            raise SqlError(f'wrong number of parameters for prepared statement "{st.name}"',
                           sqlstate="42601", detail=f"Expected {len(ptypes)} parameters but "
                                                    f"got {len(st.params)}.")
        pl = self.planner([], track=False)
        ex = self.exec_state(params)
        values = [coerce(pl.bind(e, Scope()), t, "assignment", self.ctx).fn((), ex)
                  for e, t in zip(st.params, ptypes, strict=True)]
        return self._dispatch(node, values, ptypes)

    def stmt_DeallocateStmt(self, st: a.DeallocateStmt, params: list[Any],
                            types: list[T.SqlType]) -> Result:
        if st.name is None:
            self.prepared.clear()
        elif self.prepared.pop(st.name, None) is None:
            raise SqlError(f'prepared statement "{st.name}" does not exist', sqlstate="26000")
        return Result("DEALLOCATE ALL" if st.name is None else "DEALLOCATE")

    def stmt_ListenStmt(self, st: a.ListenStmt, params: list[Any],
                        types: list[T.SqlType]) -> Result:
        if st.unlisten:
            chans = list(self.listening) if st.channel == "*" else [st.channel]
            for ch in chans:
                self.listening.discard(ch)
                lst = self.sdb.listeners.get(ch, [])
                if self in lst:
                    lst.remove(self)
            return Result("UNLISTEN")
        self.listening.add(st.channel)
        lst = self.sdb.listeners.setdefault(st.channel, [])
        if self not in lst:
            lst.append(self)
        return Result("LISTEN")

    def stmt_NotifyStmt(self, st: a.NotifyStmt, params: list[Any],
                        types: list[T.SqlType]) -> Result:
        self.notify(st.channel, st.payload)
        return Result("NOTIFY")

    def stmt_LockStmt(self, st: a.LockStmt, params: list[Any],
                      types: list[T.SqlType]) -> Result:
        if not self.in_block:
            raise SqlError("LOCK TABLE can only be used in transaction blocks",
                           sqlstate="25P01")
        view = self.catalog()
        for rv in st.tables:
            rel = view.resolve(rv.schema, rv.name, self.search_path(), rv.pos)
            self.tx.lock_table(rel.heap, st.mode, nowait=st.nowait)
        return Result("LOCK TABLE")

    def stmt_CheckpointStmt(self, st: a.CheckpointStmt, params: list[Any],
                            types: list[T.SqlType]) -> Result:
        self.db.checkpoint()
        return Result("CHECKPOINT")

    def stmt_DiscardStmt(self, st: a.DiscardStmt, params: list[Any],
                         types: list[T.SqlType]) -> Result:
        if st.what in ("all", "plans"):
            self.plan_cache.clear()
            self.query_plans.clear()
            self.compiled.clear()
        if st.what == "all":
            if self.in_block:
                raise SqlError("DISCARD ALL cannot run inside a transaction block",
                               sqlstate="25001")
            self.settings = dict(DEFAULT_SETTINGS)
            self.prepared.clear()
            self.stmt_ListenStmt(a.ListenStmt("*", True), [], [])
        return Result("DISCARD " + st.what.upper())

    def advisory_function(self, name: str, args: list[Any]) -> Any:
        from cairn.sql.expr import Bound

        def run(row: tuple, ex: Any) -> Any:
            keys = [f(row, ex) for f in args]
            if None in keys:
                return None
            key = (keys[0] if len(keys) == 1 else (keys[0] << 32) | (keys[1] & 0xFFFFFFFF)) \
                if keys else None
            shared = name.endswith("_shared")
            if "_xact_" in name:  # released at the end of the transaction
                if name.startswith("pg_try"):
                    return ex.tx.try_advisory_lock(key, shared=shared)
                ex.tx.advisory_lock(key, shared=shared)
                return VOID
            return self._session_advisory(name, key, shared)
        t = T.BOOL if name.startswith(("pg_try", "pg_advisory_unlock")) and \
            name != "pg_advisory_unlock_all" else T.VOID
        return Bound(t, run)

    def _session_advisory(self, name: str, key: Any, shared: bool) -> Any:
        """Session-level advisory locks: held until unlocked or the session ends, and
        re-entrant (each lock needs its own unlock), as PostgreSQL's."""
        held = self.advisory
        if name == "pg_advisory_unlock_all":
            for lock, _n in held.values():
                lock.release()
            held.clear()
            return VOID
        slot = (key, shared)
        if name.startswith("pg_advisory_unlock"):
            got = held.get(slot)
            if got is None:
                self.notices.append(("WARNING", "01000", "you don't own a lock of type "
                                     f"{'ShareLock' if shared else 'ExclusiveLock'}"))
                return False
            if got[1] == 1:
                got[0].release()
                del held[slot]
            else:
                held[slot] = (got[0], got[1] - 1)
            return True
        if slot in held:
            held[slot] = (held[slot][0], held[slot][1] + 1)
            return True if name.startswith("pg_try") else VOID
        try:
            lock = self.db.advisory_lock(key, shared=shared, nowait=name.startswith("pg_try"),
                                         timeout=self._ms("lock_timeout") / 1000 or None)
        except TxnError as exc:
            if name.startswith("pg_try"):
                return False
            raise to_sql_error(exc) from exc
        held[slot] = (lock, 1)
        return True if name.startswith("pg_try") else VOID

    def cancel(self) -> None:
        """Cancel the statement in flight (a CancelRequest): it ends with 57014 at its next
        interrupt point. The caller sends it while a statement is in flight (the wire
        protocol knows); the flag is cleared when that statement ends, so it cannot reach a
        later one."""
        self.cancel_requested = True

    def close(self) -> None:
        if self.tx is not None:
            self._end_tx(False)
        for lock, _n in self.advisory.values():
            lock.release()
        self.advisory.clear()
        self.stmt_ListenStmt(a.ListenStmt("*", True), [], [])
        self.closed = True
        self.sdb.sessions.pop(self.pid, None)

    # -- functions that read the catalog or other sessions ------------------------------
    def regclass(self, b: Any, pos: int) -> Any:
        """'name'::regclass: the relation's OID (42P01 if there is none)."""
        from cairn.sql.expr import Bound, coerce

        f = coerce(b, T.TEXT, "implicit", self.ctx).fn

        def run(row: tuple, ex: Any) -> Any:
            name = f(row, ex)
            if name is None:
                return None
            parts = [p.strip('"') if p.startswith('"') else p.lower()
                     for p in str(name).split(".")]
            view = self.catalog()
            rel = view.find(parts[0] if len(parts) == 2 else None, parts[-1],
                            self.search_path())
            if rel is None:
                for r in view.all_relations():
                    for ix in r.indexes:
                        if ix.name == parts[-1]:
                            return ix.oid
                raise SqlError(f'relation "{name}" does not exist', sqlstate="42P01",
                               position=pos + 1 if pos >= 0 else None)
            return rel.oid
        return Bound(T.REGCLASS, run)

    def catalog_function(self, name: str, args: list[Any], pos: int) -> Any:
        from cairn.sql.expr import Bound

        fns = [b.fn for b in args]
        view = self.catalog

        def vals(row: tuple, ex: Any) -> list[Any]:
            return [f(row, ex) for f in fns]

        def rel_of(oid: Any) -> Any:
            return None if oid is None else view().relation_by_oid(int(oid))
        if name == "current_database":
            return Bound(T.NAME, lambda row, ex: self.database_name)
        if name == "pg_backend_pid":
            return Bound(T.INT4, lambda row, ex: self.pid)
        if name == "pg_is_in_recovery":
            return Bound(T.BOOL, lambda row, ex: False)
        if name == "pg_get_userbyid":
            def user(row: tuple, ex: Any) -> Any:
                oid = vals(row, ex)[0]
                for r in list(self.sdb.catalog.roles.values()):
                    if r.oid == oid:
                        return r.name
                return f"unknown (OID={oid})"
            return Bound(T.NAME, user)
        if name == "pg_table_is_visible":
            def visible(row: tuple, ex: Any) -> Any:
                rel = rel_of(vals(row, ex)[0])
                if rel is None:
                    return True  # an index or a system view: shown
                return view().find(None, rel.name, self.search_path()) is rel
            return Bound(T.BOOL, visible)
        if name in ("pg_get_expr", "pg_get_viewdef"):
            def expr(row: tuple, ex: Any) -> Any:
                v = vals(row, ex)[0]
                if name == "pg_get_viewdef":
                    rel = rel_of(v)
                    return None if rel is None else rel.view_sql
                return v
            return Bound(T.TEXT, expr)
        if name in ("obj_description", "col_description", "shobj_description"):
            return Bound(T.TEXT, lambda row, ex: None)
        if name == "format_type":
            def fmt(row: tuple, ex: Any) -> Any:
                v = vals(row, ex)
                if v[0] is None:
                    return None
                try:
                    t = T.by_oid(int(v[0]))
                except SqlError:
                    return "???"
                mod = v[1] if len(v) > 1 and v[1] is not None else -1
                return (T.with_typmod(t, mod) if mod != -1 else t).name
            return Bound(T.TEXT, fmt)
        if name == "pg_encoding_to_char":
            return Bound(T.NAME, lambda row, ex: "UTF8")
        if name == "pg_get_indexdef":
            def indexdef(row: tuple, ex: Any) -> Any:
                oid = vals(row, ex)[0]
                for r in view().all_relations():
                    for ix in r.indexes:
                        if ix.oid == oid:
                            u = "UNIQUE " if ix.unique else ""
                            return (f"CREATE {u}INDEX {ix.name} ON {r.schema}.{r.name} USING "
                                    f"btree ({', '.join(ix.columns)})")
                return None
            return Bound(T.TEXT, indexdef)
        if name == "pg_get_constraintdef":
            def condef(row: tuple, ex: Any) -> Any:
                oid = vals(row, ex)[0]
                from cairn.sql import system_views as SV
                for c in SV.pg_constraint(self):
                    if c[0] == oid:
                        kind = c[3]
                        rel = rel_of(c[7])
                        names = [col.name for col in rel.columns if col.attnum in (c[12] or [])]
                        if kind in ("p", "u"):
                            word = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                            return f"{word} ({', '.join(names)})"
                        if kind == "c":
                            return f"CHECK ({c[14]})"
                        ref = rel_of(c[9])
                        rnames = [col.name for col in ref.columns
                                  if col.attnum in (c[13] or [])] if ref else []
                        return (f"FOREIGN KEY ({', '.join(names)}) REFERENCES "
                                f"{ref.name if ref else '?'}({', '.join(rnames)})")
                return None
            return Bound(T.TEXT, condef)
        if name == "has_table_privilege":
            def has(row: tuple, ex: Any) -> Any:
                v = vals(row, ex)
                user, table, priv = (self.current_user, v[0], v[1]) if len(v) == 2 else v
                rel = rel_of(table) if isinstance(table, int) else view().find(
                    None, str(table), self.search_path())
                if rel is None:
                    raise SqlError(f'relation "{table}" does not exist', sqlstate="42P01")
                saved = self.current_user
                self.current_user = user
                try:
                    self.check_privilege(rel, str(priv).lower().split()[0])
                    return True
                except SqlError:
                    return False
                finally:
                    self.current_user = saved
            return Bound(T.BOOL, has)
        if name in ("pg_relation_size", "pg_total_relation_size"):
            def size(row: tuple, ex: Any) -> Any:
                rel = rel_of(vals(row, ex)[0])
                if rel is None or not rel.heap:
                    return 0
                return self.db.table_stats(rel.heap).bytes
            return Bound(T.INT8, size)
        if name in ("pg_cancel_backend", "pg_terminate_backend"):
            def cancel(row: tuple, ex: Any) -> Any:
                pid = vals(row, ex)[0]
                other = self.sdb.sessions.get(pid)
                if other is None:
                    return False
                if other.session_user != self.session_user and not self.is_superuser():
                    raise SqlError("must be a superuser to cancel other users' queries",
                                   sqlstate="42501")
                other.cancel()
                return True
            return Bound(T.BOOL, cancel)
        raise SqlError(f"function {name} is not supported", sqlstate="0A000",
                       position=pos + 1 if pos >= 0 else None)



class _DmlNode:
    """The top node of an INSERT/UPDATE/DELETE plan in EXPLAIN ("Update on t")."""

    name = "ModifyTable"
    width = 0

    def __init__(self, label: str, child: Any, count: int):
        self._label, self.child, self.actual_rows, self.loops = label, child, 0, 1
        self.count = count

    def label(self) -> str:
        return self._label

    def children(self) -> list[Any]:
        return [self.child] if self.child is not None else []

    def details(self) -> list[str]:
        return []


_WRITE_TAGS = {
    a.InsertStmt: "INSERT", a.UpdateStmt: "UPDATE", a.DeleteStmt: "DELETE",
    a.TruncateStmt: "TRUNCATE TABLE", a.CreateIndexStmt: "CREATE INDEX",
    a.CreateViewStmt: "CREATE VIEW", a.CreateSchemaStmt: "CREATE SCHEMA",
    a.AlterTableStmt: "ALTER TABLE", a.RoleStmt: "CREATE ROLE", a.GrantStmt: "GRANT",
    a.PolicyStmt: "CREATE POLICY",
}


def _write_tag(node: Any) -> str | None:
    """The command a read-only transaction refuses (25006), by PostgreSQL's name."""
    if isinstance(node, a.CreateTableStmt):
        return "CREATE TABLE AS" if node.as_query is not None else "CREATE TABLE"
    if isinstance(node, a.CreateSequenceStmt):
        return "ALTER SEQUENCE" if node.alter else "CREATE SEQUENCE"
    if isinstance(node, a.DropStmt):
        return "DROP " + node.kind.upper()
    if isinstance(node, a.CopyStmt):
        return "COPY FROM" if node.is_from else None
    if isinstance(node, a.RoleStmt):
        return "CREATE ROLE" if node.kind == "create" else "ALTER ROLE"
    if isinstance(node, a.GrantStmt):
        return "GRANT" if node.grant else "REVOKE"
    if isinstance(node, a.LockStmt) and node.mode not in (
            "access share", "row share", "row exclusive"):
        return "LOCK TABLE"
    return _WRITE_TAGS.get(type(node))


def _max_param(node: Any) -> int:
    """The highest $n a parse tree mentions."""
    from dataclasses import fields as dfields

    best = 0
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, a.Param):
            best = max(best, n.number)
        elif isinstance(n, a.Node):
            stack.extend(getattr(n, f.name) for f in dfields(n))
        elif isinstance(n, list | tuple):
            stack.extend(n)
    return best


def _parse_ms(name: str, value: str) -> int:
    v = value.strip().lower()
    units = {"ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}
    for u in sorted(units, key=len, reverse=True):
        if v.endswith(u) and v[:-len(u)].strip().isdigit():
            return int(v[:-len(u)].strip()) * units[u]
    if v.isdigit():
        return int(v)
    raise SqlError(f'invalid value for parameter "{name}": "{value}"', sqlstate="22023")


from cairn.sql.expr import Scope  # noqa: E402

_EMPTY_SCOPE = Scope()
