"""Every scenario file runs on cairn.db and on the real PostgreSQL and must print exactly its
expected output (``NAME.out`` next to ``NAME.spec``), like PostgreSQL's isolation tests.

Regenerate an expected file after an intended change with
``cairn txn lab PATH.spec --write`` and review the diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from cairn.db.lab import runner, spec

TEST_SPECS = Path(__file__).parent / "specs"
SPECS = runner.spec_files() + runner.spec_files(TEST_SPECS)

def test_there_are_scenarios_and_expected_outputs() -> None:
    assert len(SPECS) >= 14
    for path in SPECS:
        assert path.with_suffix(".out").exists(), f"{path} has no expected output"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in SPECS])
def test_scenario_output_matches_expected(path: Path) -> None:
    sp = spec.load(path)
    got = runner.run_spec(sp).text()
    want = path.with_suffix(".out").read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "expected", "actual"))
        pytest.fail(f"{path.name} differs from its expected output:\n{diff}")
