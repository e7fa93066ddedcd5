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


def test_deferrable_waits_out_a_foreign_serializable_writer() -> None:
    """A DEFERRABLE transaction waits for every serializable read-write transaction in the
    PostgreSQL *cluster*, not only the scenario's (under ``pytest -n`` another worker's spec is
    one). Such a wait is not part of the trace: the driver waits it out instead of reporting the
    step as blocked (CI once printed ``<still waiting at the end>`` here)."""
    import threading
    import time

    import psycopg

    from cairn.db.lab import pg_backend

    path = next(p for p in SPECS if p.stem == "read_only_deferrable")
    sp = spec.load(path)
    try:
        other = psycopg.connect(pg_backend.dsn_from_env(), autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is part of the test setup and must answer: {exc}")
    with other:
        other.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        other.execute("CREATE TEMP TABLE lab_foreign (x int)")
        other.execute("INSERT INTO lab_foreign VALUES (1)")  # a read-write transaction
        ended = threading.Event()

        def finish_later() -> None:
            time.sleep(1.5)  # longer than the lab's settled wait (0.3 s)
            other.execute("COMMIT")
            ended.set()

        t = threading.Thread(target=finish_later)
        t.start()
        try:
            got = runner.run_spec(sp, systems=["postgres"]).text()
        finally:
            t.join()
    assert ended.is_set()
    assert "<still waiting at the end>" not in got, got
    assert "read-only anomaly: prevented: blocked\n" in got + "\n", got
