"""Every anomaly-lab scenario, run as SQL through cairn.sql, traces exactly as it does on
cairn.db's API at every isolation level and serializable method: the SQL layer adds no
anomaly and loses no protection (dirty reads, lost updates, write skew, phantoms, locks,
NOWAIT, SKIP LOCKED, deadlocks, DEFERRABLE)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from cairn.db.lab import runner, spec
from cairn.db.lab.cairn_backend import CairnBackend
from cairn.db.lab.driver import Driver
from cairn.sql.lab import SqlLabBackend

SPECS = runner.spec_files()


def traces(sp: spec.Spec, make) -> str:
    results = []
    for level in runner.levels_for("cairn", sp):
        for perm in sp.permutations:
            results.append(Driver(sp, make(), level).run(perm))
    return runner.format_runs(sp, results)


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in SPECS])
def test_scenario_traces_the_same_through_sql(path: Path) -> None:
    sp = spec.load(path)
    if "cairn" not in sp.systems:
        pytest.fail(f"{path.name} does not run on cairn")
    want = traces(sp, CairnBackend)
    got = traces(sp, SqlLabBackend)
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "cairn.db API", "cairn.sql"))
        pytest.fail(f"{path.name} traces differently through SQL:\n{diff}")
