"""The scenario driver: runs a permutation of steps, one thread per session, and prints a trace.

Each session owns a worker thread (and a connection or a cairn transaction), so when a step
waits for a lock it really waits, as a client would, while the driver carries on with the next
step of the permutation. After every step the driver *settles*: it waits until each running
step has either finished or is known to be blocked (asked of the system itself: PostgreSQL's
``pg_blocking_pids``, cairn's lock manager), so the trace does not depend on timing. Waiters
that close a cycle are left to the deadlock detector. A step of a session that is still
waiting is queued and runs right after, as the next statement of a real client would.

The trace mimics PostgreSQL's isolation tester: ``step name: statement``, the rows it read,
``<waiting ...>`` / ``<... completed>`` around a wait, ``ERROR <SQLSTATE> <name>`` on failure.
After an error the driver rolls the transaction back (what a client does) and skips that
session's statements up to its commit or rollback.
"""

from __future__ import annotations

import ast
import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cairn.db.lab import expr
from cairn.db.lab.errors import LabError
from cairn.db.lab.spec import Level, Spec, Statement, Table

SETTLE_TIMEOUT = 30.0  # seconds a step may run before the driver gives up on the scenario
STABLE_POLLS = 3  # a session must look blocked this many polls in a row


SQLSTATE_NAMES = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
    "23505": "unique_violation",
    "25P02": "in_failed_sql_transaction",
    "57014": "query_canceled",
    "25006": "read_only_sql_transaction",
}


class DbError(Exception):
    """A database error in a step, normalized to its SQLSTATE (the same on both systems)."""

    def __init__(self, sqlstate: str, message: str = "") -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message

    @property
    def label(self) -> str:
        return f"ERROR {self.sqlstate} {SQLSTATE_NAMES.get(self.sqlstate, 'error')}"


@dataclass(frozen=True, slots=True)
class Bound:
    """A statement with its expressions evaluated: what the backend executes."""

    stmt: Statement
    table: Table | None
    key: Any = None
    row: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None
    where: tuple[tuple[str, str, Any], ...] = ()


class Connection(ABC):
    """One session's handle on the system: transactions and statements, from its own thread."""

    @abstractmethod
    def begin(self) -> None: ...

    @abstractmethod
    def execute(self, b: Bound) -> Any:
        """get -> row or None; select -> list of rows; writes -> number of rows touched."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Backend(ABC):
    """A system the lab can run scenarios on."""

    system: str = "?"

    @abstractmethod
    def prepare(self, spec: Spec) -> None:
        """Create the tables and indexes and run the setup statements (committed)."""

    @abstractmethod
    def connect(self, session: str, level: Level) -> Connection: ...

    @abstractmethod
    def waits(self, running: dict[str, int]) -> dict[str, set[str] | None]:
        """For each running session (name -> worker thread id): ``None`` if it is not waiting
        for a lock, else the set of sessions it waits for (empty when the system cannot say)."""

    @abstractmethod
    def close(self) -> None: ...


@dataclass
class RunResult:
    system: str
    level: Level
    permutation: list[str]
    lines: list[str] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    waited: list[str] = field(default_factory=list)  # steps that were blocked
    errors: dict[str, str] = field(default_factory=dict)  # step -> SQLSTATE
    committed: dict[str, bool] = field(default_factory=dict)
    occurred: bool | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def fmt_row(row: dict[str, Any] | None, table: Table | None) -> str:
    if row is None:
        return "(no row)"
    if table is not None:
        row = {c: row.get(c) for c in table.column_names()}
    return json.dumps(row, separators=(", ", ": "))


class _SessionState:
    def __init__(self, name: str, conn_factory: Callable[[], Connection]) -> None:
        self.name = name
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lab-{name}")
        self.thread_id = 0
        self.conn: Connection | None = None
        self.conn_factory = conn_factory
        self.tx = "idle"  # idle | open | failed
        self.future: Future[Any] | None = None
        self.step: str | None = None
        self.announced = False  # "<waiting ...>" printed for the current step
        self.queue: list[str] = []
        self.wait_seq = 0


class Driver:
    """Runs one spec on one backend at one level."""

    def __init__(self, spec: Spec, backend: Backend, level: Level) -> None:
        self.spec = spec
        self.backend = backend
        self.level = level

    def run(self, permutation: list[str] | None = None) -> RunResult:
        spec = self.spec
        perm = permutation or spec.permutations[0]
        result = RunResult(self.backend.system, self.level, perm)
        self.result = result
        self.backend.prepare(spec)
        self.sessions: dict[str, _SessionState] = {}
        for s in spec.sessions.values():
            level = s.level or self.level
            if s.access is not None:
                level = level.with_access(s.access)
            self.sessions[s.name] = _SessionState(
                s.name, lambda n=s.name, lv=level: self.backend.connect(n, lv))
        self._seq = 0
        try:
            for name in perm:
                step = spec.step(name)
                st = self.sessions[step.session]
                if st.future is not None:
                    st.queue.append(name)  # runs when its session stops waiting
                    continue
                self._submit(name)
                self._settle(name)
            for st in self.sessions.values():
                if st.future is not None and not st.future.done():
                    result.lines.append(f"step {st.step}: <still waiting at the end>")
            self._finish_hanging()
        finally:
            self._close()
        if spec.occurred_if is not None:
            try:
                result.occurred = bool(expr.evaluate(
                    spec.occurred_if, result.env,
                    committed=lambda s: result.committed.get(s, False)))
            except LabError as exc:
                raise LabError(f"{spec.name}: occurred-if: {exc}") from None
        return result

    # ------------------------------------------------------------------ step execution

    def _submit(self, name: str) -> None:
        step = self.spec.step(name)
        st = self.sessions[step.session]
        st.step = name
        st.announced = False
        self._seq += 1
        st.wait_seq = self._seq
        st.future = st.pool.submit(self._execute, st, name)

    def _execute(self, st: _SessionState, name: str) -> list[str]:
        """Runs on the session's thread; returns the result lines of the step."""
        st.thread_id = threading.get_ident()
        if st.conn is None:
            st.conn = st.conn_factory()
        conn = st.conn
        step = self.spec.step(name)
        stmt = step.stmt
        env = self.result.env
        if stmt.cond is not None and not expr.evaluate(
                stmt.cond, env, committed=lambda s: self.result.committed.get(s, False)):
            return ["(skipped: condition is false)"]
        if stmt.verb in ("commit", "rollback"):
            if st.tx == "failed":
                st.tx = "idle"
                self.result.committed[st.name] = False
                return ["(the transaction was already rolled back)"]
            if st.tx == "idle":
                return ["(no transaction)"]
            try:
                if stmt.verb == "commit":
                    conn.commit()
                else:
                    conn.rollback()
            except DbError as exc:
                st.tx = "idle"
                self.result.errors[name] = exc.sqlstate
                self.result.committed[st.name] = False
                self._safe_rollback(conn)
                return [exc.label]
            st.tx = "idle"
            self.result.committed[st.name] = stmt.verb == "commit"
            return []
        if st.tx == "failed":
            return ["(skipped: the transaction was rolled back)"]
        bound = bind(self.spec, stmt, env)
        try:
            if st.tx == "idle":
                conn.begin()
                st.tx = "open"
            value = conn.execute(bound)
        except DbError as exc:
            self.result.errors[name] = exc.sqlstate
            st.tx = "failed"
            self._safe_rollback(conn)
            return [exc.label]
        env[name] = value
        return self._describe(bound, value)

    @staticmethod
    def _safe_rollback(conn: Connection) -> None:
        with contextlib.suppress(DbError):
            conn.rollback()

    @staticmethod
    def _describe(b: Bound, value: Any) -> list[str]:
        verb = b.stmt.verb
        if verb == "get":
            return [fmt_row(value, b.table)]
        if verb == "select":
            if not value:
                return ["(0 rows)"]
            return [fmt_row(r, b.table) for r in value]
        if verb in ("lock", "advisory"):
            return []
        if verb == "siread":
            return [f"({value} SIREAD lock{'' if value == 1 else 's'})"]
        if value == 0:
            return [f"(0 rows {verb}d)" if verb != "insert" else "(0 rows inserted)"]
        return []

    # ------------------------------------------------------------------ settling

    def _print_done(self, st: _SessionState) -> None:
        assert st.future is not None and st.step is not None
        try:
            lines = st.future.result()
        except LabError:
            raise
        except Exception as exc:  # a backend bug: say so in the trace, never hide it
            lines = [f"INTERNAL {type(exc).__name__}: {exc}"]
        step = self.spec.step(st.step)
        if st.announced:
            self.result.lines.append(f"step {st.step}: <... completed>")
        else:
            self.result.lines.append(f"step {st.step}: {step.stmt.text}")
        self.result.lines.extend("  " + line for line in lines)
        st.future = None
        st.step = None

    def _running(self) -> list[_SessionState]:
        return [st for st in self.sessions.values() if st.future is not None]

    def _wait_stable(self, trigger: _SessionState | None) -> None:
        """Until every running step is done or stably blocked (and no wait cycle remains)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        stable = 0
        while True:
            running = [st for st in self._running() if not st.future.done()]  # type: ignore[union-attr]
            if trigger is not None and trigger.future is not None and trigger.future.done():
                return
            if not running:
                return
            ids = {st.name: st.thread_id for st in running if st.thread_id}
            waits = self.backend.waits(ids) if len(ids) == len(running) else {}
            all_blocked = len(waits) == len(running) and all(
                waits.get(st.name) is not None for st in running)
            if all_blocked and not _has_cycle(waits):
                stable += 1
                if stable >= STABLE_POLLS:
                    return
            else:
                stable = 0
            if time.monotonic() > deadline:
                raise LabError(f"{self.spec.name}: steps "
                               f"{', '.join(str(st.step) for st in running)} neither finished "
                               f"nor blocked within {SETTLE_TIMEOUT:.0f}s")
            time.sleep(0.002)

    def _settle(self, trigger_name: str) -> None:
        trigger = self.sessions[self.spec.step(trigger_name).session]
        self._wait_stable(trigger)
        if trigger.future is not None and trigger.future.done():
            self._print_done(trigger)
        self._wait_stable(None)
        if trigger.future is not None and trigger.future.done():
            self._print_done(trigger)
        elif trigger.future is not None and not trigger.announced:
            self.result.lines.append(
                f"step {trigger_name}: {self.spec.step(trigger_name).stmt.text} <waiting ...>")
            self.result.waited.append(trigger_name)
            trigger.announced = True
        # Earlier waiters that this step released (or that the deadlock detector failed),
        # in the order they started waiting; each one's queued next step runs right away.
        while True:
            done = sorted((st for st in self._running() if st.future.done()),  # type: ignore[union-attr]
                          key=lambda st: st.wait_seq)
            if not done:
                break
            st = done[0]
            self._print_done(st)
            if st.queue:
                nxt = st.queue.pop(0)
                self._submit(nxt)
                self._settle(nxt)
            else:
                self._wait_stable(None)

    def _finish_hanging(self) -> None:
        """Queued steps whose session never unblocked are reported, not silently dropped."""
        for st in self.sessions.values():
            for name in st.queue:
                self.result.lines.append(f"step {name}: <never ran: session still waiting>")

    def _close(self) -> None:
        for st in self.sessions.values():
            conn = st.conn
            if conn is not None and (st.future is None or st.future.done()):
                with contextlib.suppress(Exception):
                    st.pool.submit(self._close_conn, conn, st.tx).result(timeout=10)
        try:
            self.backend.close()
        finally:
            for st in self.sessions.values():
                st.pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _close_conn(conn: Connection, tx: str) -> None:
        if tx == "open":
            with contextlib.suppress(DbError):
                conn.rollback()
        conn.close()


def bind(spec: Spec, stmt: Statement, env: dict[str, Any]) -> Bound:
    """Evaluate a statement's expressions against the results so far."""

    def ev(node: ast.expr | None) -> Any:
        return None if node is None else expr.evaluate(node, env)

    table = spec.tables.get(stmt.table) if stmt.table else None
    row, expect = ev(stmt.row), ev(stmt.expect)
    for what, value in (("row", row), ("expect", expect)):
        if value is not None and not isinstance(value, dict):
            raise LabError(f"{stmt.text!r}: {what} must be a dict, got {value!r}")
    return Bound(stmt, table, ev(stmt.key), row, expect,
                 tuple((p.column, p.op, ev(p.value)) for p in stmt.where))


def _has_cycle(waits: dict[str, set[str] | None]) -> bool:
    graph = {k: set(v or ()) for k, v in waits.items()}
    visiting: set[str] = set()
    done: set[str] = set()

    def dfs(n: str) -> bool:
        if n in visiting:
            return True
        if n in done or n not in graph:
            return False
        visiting.add(n)
        if any(dfs(m) for m in graph[n]):
            return True
        visiting.discard(n)
        done.add(n)
        return False

    return any(dfs(n) for n in graph)


def classify(result: RunResult) -> str:
    """``occurred`` or ``prevented: ...`` with how (blocked, aborted with SQLSTATE, none)."""
    if result.occurred is None:
        return "-"
    if result.occurred:
        return "occurred"
    how: list[str] = []
    if result.waited:
        how.append("blocked")
    states = list(dict.fromkeys(result.errors.values()))
    if states:
        how.append("aborted " + "/".join(states))
    return "prevented: " + (", then ".join(how) if how else "no conflict")
