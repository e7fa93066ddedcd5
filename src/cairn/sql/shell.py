"""``cairn sql shell``: an interactive SQL shell in psql's manner.

Statements may span lines and end with ``;``; backslash commands describe the database
(``\\d``, ``\\dt``, ``\\di``, ``\\ds``, ``\\dv``, ``\\dn``, ``\\du``, ``\\d NAME``), toggle
expanded output (``\\x``) and timing (``\\timing``); results print as psql's aligned tables.
The describe commands are ordinary queries against pg_catalog, as psql's are, so the shell
also shows what the catalog answers. Line editing and history come from readline when the
terminal has it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cairn.sql import types as T
from cairn.sql.errors import SqlError
from cairn.sql.lexer import EOF, OP, tokenize
from cairn.sql.session import Result, Session

NUMERIC_CATEGORY = "N"

_DESCRIBE = {
    "dt": ("r", "table"), "di": ("i", "index"), "ds": ("S", "sequence"), "dv": ("v", "view"),
}


def _text(v: Any, t: T.SqlType, ctx: Any) -> str:
    if v is None:
        return ""
    return T.format_output(t, v, ctx)


def format_table(res: Result, ctx: Any, expanded: bool = False) -> str:
    """psql's aligned (or \\x expanded) output of one result."""
    if res.columns is None:
        return res.tag
    names = [c.name for c in res.columns]
    cells = [[_text(v, c.type, ctx) for v, c in zip(row, res.columns, strict=True)]
             for row in res.rows]
    n = len(cells)
    footer = f"({n} row{'s' if n != 1 else ''})"
    if expanded:
        width = max((len(h) for h in names), default=0)
        out = []
        for i, row in enumerate(cells, 1):
            out.append(f"-[ RECORD {i} ]" + "-" * max(0, width - 2))
            out.extend(f"{h.ljust(width)} | {v}" for h, v in zip(names, row, strict=True))
        return "\n".join(out) if out else "(0 rows)"
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(names)]
    right = [c.type.category == NUMERIC_CATEGORY for c in res.columns]
    head = " " + " | ".join(h.center(w) for h, w in zip(names, widths, strict=True)) + " "
    rule = "-" + "-+-".join("-" * w for w in widths) + "-"
    lines = [head.rstrip(), rule]
    for r in cells:
        parts = [v.rjust(w) if rt else v.ljust(w) for v, w, rt in zip(r, widths, right,
                                                                     strict=True)]
        lines.append((" " + " | ".join(parts)).rstrip())
    lines.append(footer)
    return "\n".join(lines)


def statement_complete(text: str) -> bool:
    """Whether ``text`` ends a statement: its last token is a ';' outside any quote."""
    if not text.strip():
        return False
    try:
        toks = tokenize(text)
    except SqlError as exc:
        return "unterminated" not in exc.message  # an error to show, not more input
    toks = [t for t in toks if t.kind != EOF]
    return bool(toks) and toks[-1].kind == OP and toks[-1].value == ";"


class Shell:
    """The shell's state machine: ``feed`` a line, get what to print (testable without a
    terminal)."""

    def __init__(self, session: Session, out: Callable[[str], None]):
        self.session = session
        self.out = out
        self.buf: list[str] = []
        self.expanded = False
        self.timing = False
        self.done = False

    @property
    def prompt(self) -> str:
        name = self.session.database_name
        if self.buf:
            return f"{name}-> "
        mark = "!" if self.session.failed else ("*" if self.session.in_block else "")
        return f"{name}{mark}=> " if not self.session.is_superuser() else f"{name}{mark}=# "

    def feed(self, line: str) -> None:
        if not self.buf and line.lstrip().startswith("\\"):
            self.meta(line.strip())
            return
        self.buf.append(line)
        text = "\n".join(self.buf)
        if statement_complete(text):
            self.buf = []
            self.run(text)

    def run(self, sql: str, params: list[Any] | None = None) -> None:
        t0 = time.perf_counter()
        try:
            results = self.session.execute(sql, params)
        except SqlError as exc:
            msg = f"ERROR:  {exc.message}"
            if exc.detail:
                msg += f"\nDETAIL:  {exc.detail}"
            if exc.hint:
                msg += f"\nHINT:  {exc.hint}"
            self.out(msg)
            return
        for r in results:
            self.out(format_table(r, self.session.ctx, self.expanded))
        for ch, payload, pid in self.session.notifications:
            self.out(f'Asynchronous notification "{ch}" with payload "{payload}" received '
                     f"from server process with PID {pid}.")
        self.session.notifications.clear()
        if self.timing:
            self.out(f"Time: {(time.perf_counter() - t0) * 1000:.3f} ms")

    def meta(self, cmd: str) -> None:
        word, _, arg = cmd[1:].partition(" ")
        arg = arg.strip()
        if word in ("q", "quit"):
            self.done = True
        elif word == "?":
            self.out(HELP)
        elif word == "x":
            self.expanded = not self.expanded if not arg else arg == "on"
            self.out(f"Expanded display is {'on' if self.expanded else 'off'}.")
        elif word == "timing":
            self.timing = not self.timing if not arg else arg == "on"
            self.out(f"Timing is {'on' if self.timing else 'off'}.")
        elif word == "conninfo":
            self.out(f'You are connected to database "{self.session.database_name}" as user '
                     f'"{self.session.session_user}" (in process, pid '
                     f"{self.session.pid}).")
        elif word in ("d", "d+") and arg:
            self.describe(arg)
        elif word in ("d", "d+"):
            self.list_relations("rvS")
        elif word in _DESCRIBE:
            self.list_relations(_DESCRIBE[word][0])
        elif word == "dn":
            self.run("SELECT n.nspname AS \"Name\", pg_get_userbyid(n.nspowner) AS \"Owner\" "
                     "FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%' "
                     "AND n.nspname <> 'information_schema' ORDER BY 1;")
        elif word == "du":
            self.run("SELECT rolname AS \"Role name\", rolsuper AS \"Superuser\", "
                     "rolcanlogin AS \"Login\", rolbypassrls AS \"Bypass RLS\" "
                     "FROM pg_roles ORDER BY 1;")
        elif word == "l":
            self.run("SELECT datname AS \"Name\", pg_get_userbyid(datdba) AS \"Owner\", "
                     "pg_encoding_to_char(encoding) AS \"Encoding\" FROM pg_database;")
        else:
            self.out(f"invalid command \\{word}\nTry \\? for help.")

    def list_relations(self, kinds: str) -> None:
        kind_list = ", ".join(f"'{k}'" for k in kinds)
        self.run("SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", "
                 "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' "
                 "WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' END AS \"Type\", "
                 "pg_get_userbyid(c.relowner) AS \"Owner\" "
                 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 f"WHERE c.relkind IN ({kind_list}) AND pg_table_is_visible(c.oid) "
                 "ORDER BY 1, 2;")

    def describe(self, name: str) -> None:
        lit = name.replace("'", "''")
        try:
            oid = self.session.execute(f"SELECT '{lit}'::regclass::oid")[0].rows[0][0]
        except SqlError:
            self.out(f'Did not find any relation named "{name}".')
            return
        self.out(f'Table "{name}"')
        self.run("SELECT a.attname AS \"Column\", format_type(a.atttypid, a.atttypmod) AS "
                 "\"Type\", CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS "
                 "\"Nullable\", coalesce(d.adbin, '') AS \"Default\" FROM pg_attribute a "
                 "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                 f"WHERE a.attrelid = {oid} AND a.attnum > 0 AND NOT a.attisdropped "
                 "ORDER BY a.attnum;")
        idx = self.session.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i "
            f"JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = {oid} "
            "ORDER BY i.indisprimary DESC, 1")[0].rows
        if idx:
            self.out("Indexes:")
            for iname, idef, primary in idx:
                kind = "PRIMARY KEY, btree" if primary else (
                    "UNIQUE, btree" if " UNIQUE " in f" {idef} " else "btree")
                cols = idef[idef.index("(") + 1:-1] if idef and "(" in idef else ""
                self.out(f'    "{iname}" {kind} ({cols})')
        cons = self.session.execute(
            "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
            f"WHERE conrelid = {oid} AND contype IN ('c', 'f') ORDER BY contype, 1")[0].rows
        for title, kind in (("Check constraints:", "c"), ("Foreign-key constraints:", "f")):
            rows = [r for r in cons if r[2] == kind]
            if rows:
                self.out(title)
                for cname, cdef, _ in rows:
                    self.out(f'    "{cname}" {cdef}')
        pol = self.session.execute(
            f"SELECT polname, polcmd, polqual FROM pg_policy WHERE polrelid = {oid} "
            "ORDER BY 1")[0].rows
        if pol:
            self.out("Policies:")
            for pname, cmd, qual in pol:
                self.out(f'    POLICY "{pname}" ({cmd})' + (f"\n      USING ({qual})"
                                                            if qual else ""))


HELP = """General
  \\q                     quit
  \\timing [on|off]       show how long each statement takes
  \\x [on|off]            expanded output
  \\conninfo              the current connection
Informational
  \\d [NAME]              list relations, or describe one
  \\dt \\di \\ds \\dv        list tables, indexes, sequences, views
  \\dn                    list schemas
  \\du                    list roles
  \\l                     list databases
Statements end with ';' and may span lines."""
