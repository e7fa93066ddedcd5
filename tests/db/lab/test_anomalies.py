"""The anomaly matrix: each cell as DDIA ch. 7 says, and cairn equal to PostgreSQL wherever
PostgreSQL has the level (read uncommitted excepted on purpose: cairn's really reads dirty)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cairn.db.lab import anomalies
from cairn.db.lab.spec import CAIRN_LEVELS, POSTGRES_LEVELS, Level

# One worker builds the matrix once for every test here (a module fixture).
pytestmark = pytest.mark.xdist_group("txn_lab_anomaly_matrix")


@pytest.fixture(scope="module")
def matrix() -> anomalies.Matrix:
    return anomalies.build()


def test_every_cell_ran(matrix: anomalies.Matrix) -> None:
    assert not matrix.skipped, matrix.skipped
    assert len(matrix.cells) == len(anomalies.ANOMALIES) * (len(CAIRN_LEVELS)
                                                            + len(POSTGRES_LEVELS))


def test_every_cell_is_as_the_chapter_says(matrix: anomalies.Matrix) -> None:
    assert matrix.unexpected() == []


SHARED = [(a, lv) for a in anomalies.ANOMALIES for lv in POSTGRES_LEVELS[1:]]
@pytest.mark.parametrize("anomaly,level", [pytest.param(a, lv, id=f"{a}-{lv.label}")
                                           for a, lv in SHARED])
def test_cairn_matches_postgres(matrix: anomalies.Matrix, anomaly: str, level: Level) -> None:
    cairn = matrix.get(anomaly, "cairn", level)
    pg = matrix.get(anomaly, "postgres", level)
    assert cairn is not None and pg is not None
    assert cairn.outcome == pg.outcome, f"cairn:\n{cairn.trace}\npostgres:\n{pg.trace}"


def test_read_uncommitted_really_reads_dirty_on_cairn_only(matrix: anomalies.Matrix) -> None:
    ru = Level("read uncommitted")
    assert matrix.get("dirty_read", "cairn", ru).outcome == "occurred"  # type: ignore[union-attr]
    pg = matrix.get("dirty_read", "postgres", ru)
    assert pg is not None and pg.outcome == "prevented: no conflict"


def test_how_each_serializable_method_prevents_write_skew(matrix: anomalies.Matrix) -> None:
    get = matrix.get
    assert get("write_skew", "cairn", Level("serializable", "ssi")).outcome == \
        "prevented: aborted 40001"  # type: ignore[union-attr]
    assert get("write_skew", "cairn", Level("serializable", "2pl")).outcome == \
        "prevented: blocked, then aborted 40P01"  # type: ignore[union-attr]
    assert get("write_skew", "cairn", Level("serializable", "serial")).outcome == \
        "prevented: blocked"  # type: ignore[union-attr]
    assert get("write_skew", "postgres", Level("repeatable read")).outcome == \
        "occurred"  # type: ignore[union-attr]


def test_render_and_json(matrix: anomalies.Matrix) -> None:
    text = anomalies.render(matrix)
    for name in ("dirty read", "dirty write", "read skew", "lost update", "write skew",
                 "phantom"):
        assert f"## {name}" in text
    assert "interleaving:" in text and "cairn SER/2pl" in text
    doc = anomalies.to_json(matrix)
    json.dumps(doc)
    assert doc["all_as_expected"] is True
    assert {c["system"] for c in doc["cells"]} == {"cairn", "postgres"}
    assert all(c["trace"] for c in doc["cells"])


def test_cli_json_cairn_only() -> None:
    import click

    from cairn.db.cli import register

    root, bench = click.Group("cairn"), click.Group("bench")
    register(root, bench)
    res = CliRunner().invoke(root, ["txn", "anomalies", "--json", "--systems", "cairn"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert len(doc["cells"]) == len(anomalies.ANOMALIES) * len(CAIRN_LEVELS)
    assert doc["all_as_expected"] is True
    assert [a["name"] for a in doc["anomalies"]] == list(anomalies.ANOMALIES)
