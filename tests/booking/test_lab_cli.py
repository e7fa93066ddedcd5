"""The contention lab and the ``cairn booking`` commands."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
from click.testing import CliRunner

from cairn.booking.cli import booking
from cairn.booking.lab import format_table, run_race
from cairn.booking.schema import MIGRATIONS, applied_versions, drop_schema

from .conftest import DSN, REDIS_URL


def test_race_side_by_side_only_none_oversells() -> None:
    results = run_race(DSN, REDIS_URL, clients=8, rounds=2, think_ms=20.0, pool_size=10)
    by = {r.strategy: r for r in results}
    assert set(by) == {"none", "pessimistic", "optimistic", "redis"}
    for name in ("pessimistic", "optimistic", "redis"):
        assert by[name].winners_per_round == 1.0
        assert by[name].oversold == 0
        assert by[name].conflicts == 2 * 7
    assert by["none"].oversold >= 1 and by["none"].winners_per_round > 1
    table = format_table(results)
    assert "pessimistic" in table and "oversold" in table


def test_migrate_command_is_idempotent_and_race_writes_json(tmp_path: Path) -> None:
    schema = f"booking_cli_{uuid.uuid4().hex[:10]}"
    runner = CliRunner()
    try:
        first = runner.invoke(booking, ["migrate", "--dsn", DSN, "--schema", schema])
        assert first.exit_code == 0, first.output
        assert f"applied {[m.version for m in MIGRATIONS]}" in first.output
        again = runner.invoke(booking, ["migrate", "--dsn", DSN, "--schema", schema])
        assert "up to date" in again.output
        with psycopg.connect(DSN) as conn:
            assert applied_versions(conn, schema) == [m.version for m in MIGRATIONS]
    finally:
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, schema)
    out = tmp_path / "race.json"
    res = runner.invoke(
        booking,
        [
            "race",
            "--dsn",
            DSN,
            "--redis-url",
            REDIS_URL,
            "--clients",
            "4",
            "--rounds",
            "1",
            "--strategy",
            "pessimistic",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["pessimistic"]["oversold"] == 0


def test_unreachable_database_says_how_to_start_one() -> None:
    res = CliRunner().invoke(booking, ["migrate", "--dsn", "postgresql://postgres@127.0.0.1:1/x"])
    assert res.exit_code != 0
    assert "not reachable" in res.output and "start PostgreSQL" in res.output


def test_bad_schema_name_is_refused() -> None:
    res = CliRunner().invoke(booking, ["migrate", "--dsn", DSN, "--schema", "x; DROP TABLE y"])
    assert res.exit_code != 0 and "invalid schema name" in res.output


def test_serve_without_database_says_how_to_start_one() -> None:
    res = CliRunner().invoke(
        booking, ["serve", "--port", "0", "--dsn", "postgresql://postgres@127.0.0.1:1/x"]
    )
    assert res.exit_code != 0
    assert "not reachable" in res.output and "start PostgreSQL" in res.output
    assert "CAIRN_BOOKING_DSN" in res.output


def test_loadtest_without_database_says_how_to_start_one() -> None:
    res = CliRunner().invoke(
        booking, ["loadtest", "--quick", "--dsn", "postgresql://postgres@127.0.0.1:1/x"]
    )
    assert res.exit_code != 0 and "start PostgreSQL" in res.output
