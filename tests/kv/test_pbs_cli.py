"""PBS: the simulator agrees with the WARS model; the commands run, report and fail right."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cairn.cli import cli
from cairn.kv.pbs import simulate, wars_model

TIMES = (0.0, 5.0, 20.0)


def test_simulated_staleness_matches_the_wars_model_within_a_few_points():
    for n, r, w in ((3, 1, 1), (3, 2, 1)):
        model = wars_model(n, r, w, TIMES, trials=10_000)
        sim = simulate(n, r, w, TIMES, trials=500)
        assert max(abs(a - b) for a, b in zip(model, sim, strict=True)) < 0.07, (model, sim)
        assert model[0] < model[-1]  # staleness fades with time
    # A strict quorum (r + w > n) is never stale in this model.
    assert simulate(3, 2, 2, (0.0,), trials=200) == [1.0]


def _run(args):
    from cairn.cli import _register
    if "sim" not in cli.commands:
        _register()
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_sim_leaderless_command_reports_seeds_and_writes_json(tmp_path):
    out = tmp_path / "s.json"
    res = _run(["sim", "leaderless", "--seeds", "2", "--seed", "5", "--ops", "400",
                "--jobs", "1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "2 seeds run, 0 with property failures" in res.output
    doc = json.loads(out.read_text())
    assert doc["seeds"] == 2 and [r["seed"] for r in doc["reports"]] == [5, 6]


def test_sim_leaderless_lww_reports_dropped_writes(tmp_path):
    res = _run(["sim", "leaderless", "--seeds", "1", "--ops", "600", "--mode", "lww",
                "--jobs", "1"])
    assert "last write wins dropped" in res.output


def test_kv_up_rejects_an_impossible_quorum():
    res = _run(["kv", "up", "--nodes", "2", "--n", "3"])
    assert res.exit_code != 0 and "n <= nodes" in res.output
