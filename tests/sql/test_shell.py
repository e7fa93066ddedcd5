"""The SQL shell: psql's output format, multi-line statements, describe commands, errors."""

from __future__ import annotations

import subprocess
import sys

from cairn.sql import SqlDatabase
from cairn.sql.shell import Shell, statement_complete


def run_lines(lines: list[str]) -> list[str]:
    sdb = SqlDatabase.open(None)
    out: list[str] = []
    try:
        sh = Shell(sdb.connect(), out.append)
        for ln in lines:
            sh.feed(ln)
    finally:
        sdb.close()
    return "\n".join(out).splitlines()


def test_statement_ends_at_a_semicolon_outside_quotes() -> None:
    assert statement_complete("select 1;")
    assert not statement_complete("select ';'")
    assert not statement_complete("select 'a;")
    assert statement_complete("select $$;$$;")
    assert not statement_complete("-- just a comment;")


def test_aligned_output_and_multiline_statements() -> None:
    out = run_lines(["create table t (id int primary key, name text);",
                     "insert into t values (1, 'ada'),", "(22, 'bob');",
                     "select * from t", "order by id;"])
    assert out == ["CREATE TABLE", "INSERT 0 2", " id | name", "----+------",
                   "  1 | ada", " 22 | bob", "(2 rows)"]


def test_describe_lists_columns_indexes_and_constraints() -> None:
    out = run_lines(["create table t (id int primary key, n numeric(5,2) default 1 "
                     "check (n > 0));", "\\d t"])
    assert 'Table "t"' in out
    assert any(ln.startswith(" n      | numeric(5,2) |") for ln in out)
    assert '    "t_pkey" PRIMARY KEY, btree (id)' in out
    assert '    "t_n_check" CHECK (n > 0)' in out


def test_errors_print_like_psql_and_the_shell_goes_on() -> None:
    out = run_lines(["select 1/0;", "select nope;", "select 2;"])
    assert out[0] == "ERROR:  division by zero"
    assert out[1] == 'ERROR:  column "nope" does not exist'
    assert out[-1] == "(1 row)"


def test_expanded_and_unknown_commands() -> None:
    out = run_lines(["\\x", "select 1 as a, 'x' as b;", "\\bogus"])
    assert out[0] == "Expanded display is on."
    assert "a | 1" in out and "b | x" in out
    assert out[-2] == "invalid command \\bogus"


def test_the_command_reads_a_script_from_stdin() -> None:
    proc = subprocess.run([sys.executable, "-m", "cairn.cli", "sql", "shell"],
                          input="select 40 + 2 as answer;\n", capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:3] == [" answer", "--------", "     42"]
