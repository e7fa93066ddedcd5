"""``cairn bench a2ui`` runs end to end on a small map (the real server, Chromium, 2 clients)
and reports every figure; the speed itself is the benchmark's business, not a test's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.bench.a2ui import SeatMapAgent, bench_a2ui, measure_validation, seat_map_messages


def test_bench_a2ui_small_run(tmp_path: Path) -> None:
    out = tmp_path / "a2ui.json"
    res = CliRunner().invoke(bench_a2ui, ["--agent", "scripted", "--seats", "120",
                                          "--clients", "2", "--repeats", "1", "--holds", "2",
                                          "--json", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert "request -> first rendered root" in res.output
    assert "live update p99" in res.output
    doc = json.loads(out.read_text())
    summary = doc["summary"]
    assert len(doc["first_root_ms"]) == 1 and len(doc["full_map_ms"]) == 1
    assert 0 < doc["first_root_ms"][0] <= doc["full_map_ms"][0]
    # Every hold reached every watching client (2 holds x 2 clients), each after the click.
    assert summary["live_missed"] == 0 and summary["live_samples"] == 4
    assert all(ms > 0 for ms in doc["live_ms"])
    assert set(summary["targets"].values()) <= {"PASS", "MISS"}
    assert all(rate > 0 for rate in summary["validated_per_s"].values())


def test_validation_rates_cover_each_message_kind() -> None:
    rates = measure_validation(50, seconds=0.05)
    assert set(rates) == {"updateDataModel (one seat)", "updateComponents (seat map layout)",
                          "updateDataModel (50 seats)", "createSurface"}


def test_seat_map_messages_are_valid_for_the_server() -> None:
    from cairn.a2ui.validate import Validator

    validator = Validator()
    surfaces: dict = {}
    for m in seat_map_messages(30):
        validator.apply(m, surfaces, None)
    seats = seat_map_messages(30)[2]["updateDataModel"]["value"]["seats"]
    assert len(seats) == 30 and {s["status"] for s in seats} <= {"free", "sold"}
    assert SeatMapAgent(seats=30).held == set()
