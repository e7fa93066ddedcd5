"""Scenario files: tables, setup, sessions of named steps, permutations, and an anomaly test.

The format follows the idea of PostgreSQL's isolation tester specs (``src/test/isolation``)
but is neutral between systems: each statement is a small verb that both cairn.db's Python API
and SQL can express, so one file runs on both. Example (comments start a line with ``#``)::

    # Write skew (DDIA fig. 7-8): two doctors each see two on call and both leave.
    anomaly write skew
    table doctors (name text primary key, shift int, on_call bool)
    index doctors (shift)
    setup
      insert doctors {"name": "alice", "shift": 1, "on_call": true}
    session alice
      a_read: select doctors where shift = 1 and on_call = true
      a_off: update doctors "alice" {"on_call": false} if len(a_read) >= 2
      a_commit: commit
    session check (read committed)
      final: select doctors where shift = 1 and on_call = true
    permutation a_read ... final
    occurred-if len(final) == 0

Statements: ``get T KEY``, ``select T [where c op v and ...] [limit N] [for update|for share]
[nowait|skip locked]``, ``insert T ROW``, ``update T KEY CHANGES [expect ROW]``,
``delete T KEY``, ``lock T MODE [nowait]`` (LOCK TABLE), ``advisory KEY [shared] [nowait]``
(a transaction-scoped advisory lock), ``siread`` (how many SIREAD locks the session's
transaction holds, as ``pg_locks`` shows them), ``commit``, ``rollback``; any may end in
``if EXPR``.
KEY, ROW, CHANGES, values and EXPR are expressions of :mod:`cairn.db.lab.expr` over earlier
results.
A session without a level runs at the level of the run; ``session s (read committed)`` pins
it, and may add an access mode: ``session s (serializable read only)``, ``(serializable read
only deferrable)``, or ``(read only)`` alone (the run's level, read only). ``levels`` and
``systems`` lines restrict which runs a test scenario makes.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from cairn.db.lab import expr
from cairn.db.lab.errors import SpecError

ISOLATIONS = ("read uncommitted", "read committed", "repeatable read", "serializable")
METHODS = ("ssi", "2pl", "serial")
TYPES = {"int": int, "text": str, "bool": bool}
OPS = ("=", "!=", "<", "<=", ">", ">=")
SYSTEMS = ("cairn", "postgres")
ACCESS_MODES = ("read only", "read only deferrable")
TABLE_LOCK_MODES = ("access share", "row share", "row exclusive", "share update exclusive",
                    "share", "share row exclusive", "exclusive", "access exclusive")


@dataclass(frozen=True, slots=True, order=True)
class Level:
    """An isolation level and, for serializable, how it is achieved; ``access`` is a session's
    access mode (None: read write; "read only"; "read only deferrable")."""

    isolation: str
    method: str | None = None
    access: str | None = None

    @classmethod
    def parse(cls, text: str) -> Level:
        text = " ".join(text.lower().split())
        access = None
        for mode in sorted(ACCESS_MODES, key=len, reverse=True):
            if text.endswith(" " + mode):
                access, text = mode, text[:-len(mode) - 1].strip()
                break
        if access == "read only deferrable" and not text.startswith("serializable"):
            raise SpecError(f"bad level {text!r} read only deferrable: serializable only")
        if access is not None:
            return cls.parse(text).with_access(access)
        iso, _, method = text.partition("/")
        iso = iso.strip()
        if iso not in ISOLATIONS:
            raise SpecError(f"unknown isolation level {text!r}; one of {', '.join(ISOLATIONS)}")
        if method:
            if iso != "serializable" or method.strip() not in METHODS:
                raise SpecError(f"bad level {text!r}: serializable/(ssi|2pl|serial) only")
            return cls(iso, method.strip())
        return cls(iso, "ssi" if iso == "serializable" else None)

    def with_access(self, access: str | None) -> Level:
        return Level(self.isolation, self.method, access)

    @property
    def label(self) -> str:
        base = f"{self.isolation}/{self.method}" if self.method else self.isolation
        return f"{base} {self.access}" if self.access else base


CAIRN_LEVELS = (Level("read uncommitted"), Level("read committed"), Level("repeatable read"),
                Level("serializable", "ssi"), Level("serializable", "2pl"),
                Level("serializable", "serial"))
# PostgreSQL's SERIALIZABLE is SSI; its READ UNCOMMITTED behaves as READ COMMITTED.
POSTGRES_LEVELS = CAIRN_LEVELS[:4]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class Pred:
    """``column op value``: one conjunct of a structured where clause."""

    column: str
    op: str
    value: ast.expr
    text: str


@dataclass(frozen=True, slots=True)
class Statement:
    verb: str  # get select insert update delete lock advisory siread commit rollback
    text: str
    table: str | None = None
    key: ast.expr | None = None
    row: ast.expr | None = None  # insert: the row; update: the changes
    expect: ast.expr | None = None  # update: compare-and-set on these column values
    where: tuple[Pred, ...] = ()
    lock: str | None = None  # "update" or "share"
    wait: str | None = None  # "nowait" or "skip locked"
    limit: int | None = None  # select: at most this many rows, in primary-key order
    mode: str | None = None  # lock: the table lock mode; advisory: "exclusive" or "shared"
    cond: ast.expr | None = None


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    session: str
    stmt: Statement


@dataclass
class Session:
    name: str
    level: Level | None
    access: str | None = None  # an access mode on the run's level: ``session s (read only)``
    steps: list[Step] = field(default_factory=list)


@dataclass
class Spec:
    name: str
    description: str = ""
    anomaly: str | None = None
    tables: dict[str, Table] = field(default_factory=dict)
    indexes: list[Index] = field(default_factory=list)
    setup: list[Statement] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    permutations: list[list[str]] = field(default_factory=list)
    occurred_if: ast.expr | None = None
    occurred_text: str = ""
    levels: list[Level] | None = None  # None: every level the system has
    systems: tuple[str, ...] = SYSTEMS

    def step(self, name: str) -> Step:
        for s in self.sessions.values():
            for st in s.steps:
                if st.name == name:
                    return st
        raise SpecError(f"{self.name}: no step {name!r}")


# ---------------------------------------------------------------------------------- parsing

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _ident(text: str, what: str, where: str) -> str:
    if not _IDENT.match(text):
        raise SpecError(f"{where}: bad {what} name {text!r}")
    return text


def split_top(text: str, keyword: str) -> tuple[str, str | None]:
    """Split ``text`` at the last `` keyword `` that is outside quotes and brackets."""
    depth = 0
    quote: str | None = None
    hit = -1
    i = 0
    n = len(text)
    pattern = re.compile(rf"\s{re.escape(keyword)}\s")
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif depth == 0 and pattern.match(text, i):
            hit = i
        i += 1
    if hit < 0:
        return text, None
    return text[:hit].rstrip(), text[hit + len(keyword) + 2:].strip()


def _split_first(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _first_token(text: str, where: str) -> tuple[str, str]:
    """The first expression token (a quoted string may hold spaces) and the rest."""
    text = text.strip()
    if text[:1] in "\"'":
        end = text.find(text[0], 1)
        if end < 0:
            raise SpecError(f"{where}: unterminated string")
        return text[:end + 1], text[end + 1:].strip()
    return _split_first(text)


def _where(text: str, where: str) -> tuple[Pred, ...]:
    preds = []
    for part in re.split(r"\s+and\s+", text.strip()):
        m = re.match(r"([A-Za-z_]\w*)\s*(<=|>=|!=|=|<|>)\s*(.+)\Z", part.strip())
        if not m:
            raise SpecError(f"{where}: bad condition {part!r} (want: column op value)")
        preds.append(Pred(m.group(1), m.group(2), expr.parse(m.group(3)), part.strip()))
    return tuple(preds)


def parse_statement(text: str, where: str) -> Statement:
    text = " ".join(text.split()) if "\"" not in text and "'" not in text else text.strip()
    body, cond_text = split_top(text, "if")
    cond = expr.parse(cond_text) if cond_text is not None else None
    verb, rest = _split_first(body)
    verb = verb.lower()
    if verb in ("commit", "rollback", "siread"):
        if rest:
            raise SpecError(f"{where}: {verb} takes nothing")
        return Statement(verb, text, cond=cond)
    if verb == "advisory":
        key_text, extra = _first_token(rest, where)
        extra_l = extra.lower().split()
        if not key_text or any(w not in ("shared", "nowait") for w in extra_l):
            raise SpecError(f"{where}: advisory wants: advisory KEY [shared] [nowait]")
        return Statement(verb, text, key=expr.parse(key_text),
                         mode="shared" if "shared" in extra_l else "exclusive",
                         wait="nowait" if "nowait" in extra_l else None, cond=cond)
    table, rest = _split_first(rest)
    if verb == "lock":
        _ident(table, "table", where)
        words = rest.lower().split()
        wait = None
        if words[-1:] == ["nowait"]:
            wait, words = "nowait", words[:-1]
        mode = " ".join(words)
        if mode not in TABLE_LOCK_MODES:
            raise SpecError(f"{where}: lock wants: lock TABLE MODE [nowait], MODE one of "
                            f"{', '.join(TABLE_LOCK_MODES)}")
        return Statement(verb, text, table, mode=mode, wait=wait, cond=cond)
    if verb not in ("get", "select", "insert", "update", "delete"):
        raise SpecError(f"{where}: unknown statement {verb!r}")
    _ident(table, "table", where)
    if verb in ("get", "delete"):
        key_text, extra = _first_token(rest, where)
        if not key_text or extra:
            raise SpecError(f"{where}: {verb} wants: {verb} TABLE KEY")
        return Statement(verb, text, table, key=expr.parse(key_text), cond=cond)
    if verb == "insert":
        if not rest:
            raise SpecError(f"{where}: insert wants a row")
        return Statement(verb, text, table, row=expr.parse(rest), cond=cond)
    if verb == "update":
        key_text, rest = _first_token(rest, where)
        changes_text, expect_text = split_top(rest, "expect")
        if not changes_text:
            raise SpecError(f"{where}: update wants: update TABLE KEY CHANGES [expect ROW]")
        return Statement(verb, text, table, key=expr.parse(key_text),
                         row=expr.parse(changes_text),
                         expect=expr.parse(expect_text) if expect_text else None, cond=cond)
    # select
    lock = wait = None
    low = rest.lower()
    for suffix, attr, value in (("nowait", "wait", "nowait"),
                                ("skip locked", "wait", "skip locked"),
                                ("for update", "lock", "update"),
                                ("for share", "lock", "share")):
        if low.endswith(suffix):
            rest = rest[:-len(suffix)].rstrip()
            low = rest.lower()
            if attr == "wait":
                wait = value
            else:
                lock = value
    limit = None
    m = re.search(r"(?:^|\s)limit\s+(\d+)\s*\Z", rest, re.IGNORECASE)
    if m:
        limit = int(m.group(1))
        rest = rest[:m.start()].rstrip()
    preds: tuple[Pred, ...] = ()
    if rest:
        kw, cond_part = _split_first(rest)
        if kw.lower() != "where":
            raise SpecError(f"{where}: select wants: select TABLE [where ...] [for update]")
        preds = _where(cond_part, where)
    if wait and not lock:
        raise SpecError(f"{where}: {wait} needs for update or for share")
    return Statement(verb, text, table, where=preds, lock=lock, wait=wait, limit=limit,
                     cond=cond)


def _table(text: str, where: str) -> Table:
    m = re.match(r"([A-Za-z_]\w*)\s*\((.*)\)\s*\Z", text)
    if not m:
        raise SpecError(f"{where}: want: table NAME (col type [primary key], ...)")
    cols: list[Column] = []
    pk: str | None = None
    for part in m.group(2).split(","):
        words = part.split()
        if len(words) < 2 or words[1] not in TYPES:
            raise SpecError(f"{where}: bad column {part.strip()!r} (types: {', '.join(TYPES)})")
        cols.append(Column(_ident(words[0], "column", where), words[1]))
        if [w.lower() for w in words[2:]] == ["primary", "key"]:
            pk = words[0]
        elif words[2:]:
            raise SpecError(f"{where}: unknown column option {' '.join(words[2:])!r}")
    if pk is None:
        raise SpecError(f"{where}: table {m.group(1)} has no primary key")
    return Table(m.group(1), tuple(cols), pk)


def parse(text: str, name: str = "scenario") -> Spec:
    spec = Spec(name=name)
    comments: list[str] = []
    block: str | None = None  # "setup" or "session"
    session: Session | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if not spec.tables and not spec.sessions and spec.anomaly is None:
                comments.append(stripped.lstrip("#").strip())
            continue
        indented = line[0] in " \t"
        if indented:
            if block == "setup":
                spec.setup.append(parse_statement(stripped, where))
            elif block == "session" and session is not None:
                step_name, sep, stmt = stripped.partition(":")
                if not sep:
                    raise SpecError(f"{where}: want: step_name: statement")
                step_name = _ident(step_name.strip(), "step", where)
                if any(st.name == step_name for s in spec.sessions.values() for st in s.steps):
                    raise SpecError(f"{where}: step {step_name!r} defined twice")
                session.steps.append(Step(step_name, session.name, parse_statement(stmt, where)))
            else:
                raise SpecError(f"{where}: indented line outside setup or session")
            continue
        kw, rest = _split_first(stripped)
        kw = kw.lower()
        block, session = None, None
        if kw == "anomaly":
            spec.anomaly = rest.strip()
        elif kw == "table":
            t = _table(rest, where)
            spec.tables[t.name] = t
        elif kw == "index":
            m = re.match(r"([A-Za-z_]\w*)\s*\(([^)]*)\)\s*(unique)?\s*\Z", rest)
            if not m:
                raise SpecError(f"{where}: want: index TABLE (col, ...) [unique]")
            cols = tuple(c.strip() for c in m.group(2).split(",") if c.strip())
            spec.indexes.append(Index(m.group(1), cols, bool(m.group(3))))
        elif kw == "setup":
            block = "setup"
        elif kw == "session":
            m = re.match(r"([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*\Z", rest)
            if not m:
                raise SpecError(f"{where}: want: session NAME [(level)]")
            if m.group(1) in spec.sessions:
                raise SpecError(f"{where}: session {m.group(1)!r} defined twice")
            paren = " ".join((m.group(2) or "").lower().split())
            if paren in ACCESS_MODES:
                session = Session(m.group(1), None, paren)
            else:
                session = Session(m.group(1), Level.parse(paren) if paren else None)
            spec.sessions[session.name] = session
            block = "session"
        elif kw == "permutation":
            spec.permutations.append(rest.split())
        elif kw == "occurred-if":
            spec.occurred_if = expr.parse(rest)
            spec.occurred_text = rest.strip()
        elif kw == "levels":
            spec.levels = [Level.parse(x) for x in rest.split(",") if x.strip()]
        elif kw == "systems":
            systems = tuple(x.strip() for x in rest.split(",") if x.strip())
            bad = [s for s in systems if s not in SYSTEMS]
            if bad:
                raise SpecError(f"{where}: unknown system {bad[0]!r}")
            spec.systems = systems
        else:
            raise SpecError(f"{where}: unknown keyword {kw!r}")
    spec.description = "\n".join(comments)
    _check(spec)
    return spec


def _check(spec: Spec) -> None:
    if not spec.sessions:
        raise SpecError(f"{spec.name}: no sessions")
    if not spec.permutations:
        # Like the isolation tester: without a permutation, each session runs to the end in
        # order of declaration.
        spec.permutations.append([st.name for s in spec.sessions.values() for st in s.steps])
    known = {st.name for s in spec.sessions.values() for st in s.steps}
    for perm in spec.permutations:
        for name in perm:
            if name not in known:
                raise SpecError(f"{spec.name}: permutation names unknown step {name!r}")
    for stmts in ([*spec.setup], [st.stmt for s in spec.sessions.values() for st in s.steps]):
        for stmt in stmts:
            if stmt.table is not None and stmt.table not in spec.tables:
                raise SpecError(f"{spec.name}: {stmt.text!r} names unknown table {stmt.table!r}")
            for p in stmt.where:
                if stmt.table and p.column not in spec.tables[stmt.table].column_names():
                    raise SpecError(f"{spec.name}: {stmt.text!r}: no column {p.column!r}")
    for ix in spec.indexes:
        if ix.table not in spec.tables:
            raise SpecError(f"{spec.name}: index on unknown table {ix.table!r}")


def load(path: str | Path) -> Spec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read scenario {p}: {exc}") from None
    return parse(text, p.stem)
