"""The call corpus: cairn's answers equal PostgreSQL 15's, recorded in corpus/calls.expected,
and the recording still matches the running PostgreSQL (a live differential check)."""

from __future__ import annotations

import json

import pytest

from tests.sql.types.difftest import lines, load_expected, run_cairn, run_postgres

EXPECTED = load_expected()
RESULTS = run_cairn(lines())


def test_corpus_covers_the_file():
    assert [e["sql"] for e in EXPECTED] == lines()
    assert len(EXPECTED) > 600


@pytest.mark.parametrize("i", range(len(EXPECTED)), ids=[e["sql"][:60] for e in EXPECTED])
def test_cairn_matches_postgres(i):
    assert RESULTS[i] == EXPECTED[i], json.dumps(RESULTS[i], ensure_ascii=False)


def test_recording_matches_live_postgres():
    live = run_postgres(lines())
    drift = [(a, b) for a, b in zip(live, EXPECTED, strict=True) if a != b]
    assert not drift, drift[:5]


def test_driver_reports_a_wrong_answer():
    """The comparison can fail: a corrupted expectation is noticed."""
    bad = dict(EXPECTED[1])
    bad["value"] = "not what PostgreSQL said"
    assert RESULTS[1] != bad
