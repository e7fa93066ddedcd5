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

# cairn takes a repeatable-read transaction's snapshot *after* its first statement has waited
# for a row lock, PostgreSQL before: so when the lock holder commits, PostgreSQL's waiter fails
# with 40001 and cairn's goes on (a serializable history either way, but not PostgreSQL's
# behaviour). Strict: the test fails loudly once cairn.db is fixed, so this mark goes away.
KNOWN_DIVERGENCE = {
    "dirty_write": "cairn RR/SSI: snapshot taken after the first statement's lock wait "
                   "(PostgreSQL takes it before and raises 40001)",
}


def _param(path: Path) -> object:
    marks = []
    if path.stem in KNOWN_DIVERGENCE:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DIVERGENCE[path.stem]))
    return pytest.param(path, id=path.stem, marks=marks)


def test_there_are_scenarios_and_expected_outputs() -> None:
    assert len(SPECS) >= 14
    for path in SPECS:
        assert path.with_suffix(".out").exists(), f"{path} has no expected output"


@pytest.mark.parametrize("path", [_param(p) for p in SPECS])
def test_scenario_output_matches_expected(path: Path) -> None:
    sp = spec.load(path)
    got = runner.run_spec(sp).text()
    want = path.with_suffix(".out").read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "expected", "actual"))
        pytest.fail(f"{path.name} differs from its expected output:\n{diff}")
