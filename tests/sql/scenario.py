"""The SQL scenario driver: a ``.sql`` file of statements, run on cairn and on PostgreSQL.

Like PostgreSQL's regression tests, each scenario file is a session: statements end with ``;``
at the end of a line; ``-- name: ...`` comments are kept in the output. Each statement's result
is printed in one text form (the columns, then each row with values in PostgreSQL's text
output, NULL as ``NULL``; a command's tag; an error's SQLSTATE, message and detail). A query
without ORDER BY has its rows sorted first (sqllogictest's "rowsort"), since neither system
promises an order. The expected output (``.out`` beside the file) is PostgreSQL's, written by
``CAIRN_SQL_REGEN=1``; the tests check that cairn prints exactly that, and that the live
PostgreSQL still does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

Runner = Callable[[str], list[str]]

_ORDER_BY = re.compile(r"\border\s+by\b", re.I)


def statements(text: str) -> Iterator[str]:
    """Statements of a scenario file: a line ending in ';' ends one (comments pass through
    as statements of their own, so they show in the output)."""
    buf: list[str] = []
    for line in text.splitlines():
        if not buf and line.startswith("--"):
            yield line
            continue
        if not buf and not line.strip():
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buf)
            buf = []
    if buf:
        yield "\n".join(buf)


def format_result(sql: str, columns: list[str] | None, rows: list[list[str | None]],
                  tag: str) -> list[str]:
    if columns is None:
        return [tag]
    out = [" | ".join(columns)]
    lines = [" | ".join("NULL" if v is None else v for v in r) for r in rows]
    if not _ORDER_BY.search(sql):
        lines.sort()
    out.extend(lines)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return out


def format_error(sqlstate: str, message: str, detail: str | None) -> list[str]:
    out = [f"ERROR {sqlstate}:  {message}"]
    if detail:
        out.append(f"DETAIL:  {detail}")
    return out


def run_scenario(text: str, run: Runner) -> str:
    out: list[str] = []
    for st in statements(text):
        out.append(st)
        if st.startswith("--"):
            continue
        out.extend(run(st))
    return "\n".join(out) + "\n"


# -- cairn --------------------------------------------------------------------------------
def cairn_runner() -> tuple[Runner, Callable[[], None]]:
    from cairn.sql import SqlDatabase, SqlError
    from cairn.sql import types as T

    sdb = SqlDatabase.open(None)
    session = sdb.connect("postgres")

    def run(sql: str) -> list[str]:
        try:
            results = session.execute(sql)
        except SqlError as exc:
            return format_error(exc.sqlstate, exc.message, exc.detail)
        lines: list[str] = []
        for r in results:
            if r.columns is None:
                lines.extend(format_result(sql, None, [], r.tag))
                continue
            rows = [[None if v is None else T.format_output(c.type, v, session.ctx)
                     for c, v in zip(r.columns, row, strict=True)] for row in r.rows]
            lines.extend(format_result(sql, [c.name for c in r.columns], rows, r.tag))
        return lines

    def close() -> None:
        session.close()
        sdb.close()
    return run, close


# -- PostgreSQL ---------------------------------------------------------------------------
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def pg_runner(dsn: str = PG_DSN) -> tuple[Runner, Callable[[], None]]:
    """Statements on the real PostgreSQL, in a schema of the run's own (dropped after), read
    through libpq's raw text results so that nothing is converted on the way."""
    import psycopg
    from psycopg import pq

    conn = psycopg.connect(dsn, autocommit=True)
    schema = f"scn_{uuid.uuid4().hex[:12]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    # roles a scenario creates may use it (cairn has no schema privileges)
    conn.execute(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO PUBLIC")
    pgconn = conn.pgconn
    pgconn.exec_(f"SET search_path = {schema}".encode())
    pgconn.exec_(b"SET TimeZone = 'UTC'")
    pgconn.exec_(b"SET client_min_messages = error")

    def run(sql: str) -> list[str]:
        res = pgconn.exec_(sql.encode())
        status = res.status
        if status == pq.ExecStatus.FATAL_ERROR:
            def field(code: int) -> str | None:
                v = res.error_field(code)
                return v.decode() if v is not None else None
            return format_error(field(pq.DiagnosticField.SQLSTATE) or "",
                                field(pq.DiagnosticField.MESSAGE_PRIMARY) or "",
                                field(pq.DiagnosticField.MESSAGE_DETAIL))
        tag = (res.command_status or b"").decode()
        if status != pq.ExecStatus.TUPLES_OK:
            return format_result(sql, None, [], tag)
        cols = [(res.fname(i) or b"").decode() for i in range(res.nfields)]
        rows = []
        for r in range(res.ntuples):
            row = []
            for c in range(res.nfields):
                v = res.get_value(r, c)
                row.append(None if v is None else bytes(v).decode())
            rows.append(row)
        return format_result(sql, cols, rows, tag)

    def close() -> None:
        pgconn.exec_(b"ROLLBACK")
        conn.execute("RESET search_path")
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()
    return run, close


def scenario_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.sql"))
