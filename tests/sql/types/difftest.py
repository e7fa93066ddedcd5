"""The differential corpus: the same expressions on PostgreSQL and on cairn.

``corpus/calls.sql`` lists expressions; ``corpus/calls.expected`` holds PostgreSQL 15's
answers (JSON lines: text output and result type, or SQLSTATE and message). Regenerate it on
the running PostgreSQL with ``.venv/bin/python -m tests.sql.types.difftest``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cairn.sql import types as T
from cairn.sql.errors import SqlError

HERE = Path(__file__).parent / "corpus"
CALLS = HERE / "calls.sql"
EXPECTED = HERE / "calls.expected"
DSN = os.environ.get("CAIRN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def lines() -> list[str]:
    return [
        ln.rstrip("\n")
        for ln in CALLS.read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _set_zone(line: str) -> str | None:
    if line.upper().startswith("SET TIMEZONE"):
        return line.split("=", 1)[1].strip().strip("'")
    return None


def run_postgres(items: list[str]) -> list[dict[str, Any]]:
    import psycopg

    out: list[dict[str, Any]] = []
    with psycopg.connect(DSN, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(
            "SET datestyle = 'ISO, MDY'; SET intervalstyle = 'postgres'; "
            "SET extra_float_digits = 1; SET timezone = 'UTC'"
        )
        for line in items:
            zone = _set_zone(line)
            if zone is not None:
                cur.execute(f"SET timezone = '{zone}'")
                out.append({"sql": line})
                continue
            srf = line.startswith("SRF ")
            expr = line[4:] if srf else line
            try:
                if srf:
                    cur.execute(f"SELECT x FROM {expr} AS x")
                    res = cur.pgresult
                    rows = [
                        None if res.get_value(i, 0) is None else res.get_value(i, 0).decode()
                        for i in range(res.ntuples)
                    ]
                    out.append({"sql": line, "rows": rows})
                else:
                    cur.execute(f"SELECT ({expr}), pg_typeof(({expr}))::text")
                    res = cur.pgresult
                    raw = res.get_value(0, 0)
                    out.append(
                        {
                            "sql": line,
                            "type": res.get_value(0, 1).decode(),
                            "value": None if raw is None else raw.decode(),
                        }
                    )
            except psycopg.Error as e:
                out.append({"sql": line, "error": [e.sqlstate, e.diag.message_primary]})
    return out


def run_cairn(items: list[str]) -> list[dict[str, Any]]:
    from tests.sql.types.minisql import evaluate

    ctx = T.EvalContext()
    out: list[dict[str, Any]] = []
    for line in items:
        zone = _set_zone(line)
        if zone is not None:
            ctx.set_timezone(zone)
            out.append({"sql": line})
            continue
        srf = line.startswith("SRF ")
        expr = line[4:] if srf else line
        try:
            tname, value = evaluate(expr, ctx)
            if srf:
                out.append({"sql": line, "rows": value})
            else:
                out.append({"sql": line, "type": tname, "value": value})
        except SqlError as e:
            out.append({"sql": line, "error": [e.sqlstate, e.message]})
        except Exception as e:  # a crash is a mismatch too, shown with its type
            out.append({"sql": line, "crash": f"{type(e).__name__}: {e}"})
    return out


def load_expected() -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in EXPECTED.read_text().splitlines() if ln.strip()]


def regenerate() -> int:
    results = run_postgres(lines())
    EXPECTED.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    return len(results)


if __name__ == "__main__":
    print(f"wrote {regenerate()} expected results to {EXPECTED}")
