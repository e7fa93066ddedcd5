"""Every scenario file runs on cairn and must print PostgreSQL's output exactly.

The ``.out`` files are PostgreSQL 15's output (regenerate with ``CAIRN_SQL_REGEN=1``); the
live PostgreSQL run checks that they still are, so the expected output cannot drift from the
oracle. A difference is shown as a unified diff of the two sessions.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.sql.scenario import cairn_runner, pg_runner, run_scenario, scenario_files

ROOT = Path(__file__).parent / "scenarios"
FILES = scenario_files(ROOT)


def _diff(a: str, b: str, an: str, bn: str) -> str:
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), an, bn))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_scenario_on_cairn(path: Path) -> None:
    expected_path = path.with_suffix(".out")
    assert expected_path.exists(), "no expected output: run with CAIRN_SQL_REGEN=1"
    run, close = cairn_runner()
    try:
        got = run_scenario(path.read_text(), run)
    finally:
        close()
    expected = expected_path.read_text()
    assert got == expected, _diff(expected, got, "postgresql", "cairn")


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_scenario_on_postgresql(path: Path, pg_available: bool) -> None:
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail("CI must reach the local PostgreSQL: it is the oracle of these tests")
        pytest.skip("the local PostgreSQL is not reachable (CI starts it)")
    run, close = pg_runner()
    try:
        got = run_scenario(path.read_text(), run)
    finally:
        close()
    expected_path = path.with_suffix(".out")
    if os.environ.get("CAIRN_SQL_REGEN"):
        expected_path.write_text(got)
    assert got == expected_path.read_text(), _diff(expected_path.read_text(), got,
                                                   "expected", "postgresql")
