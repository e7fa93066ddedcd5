"""``cairn booking loadtest --quick``: the real service under concurrent HTTP load, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.booking.cli import booking

from .conftest import DSN, REDIS_URL


def test_quick_loadtest_side_by_side(tmp_path: Path) -> None:
    out, png = tmp_path / "lt.json", tmp_path / "lt.png"
    res = CliRunner().invoke(
        booking,
        [
            "loadtest",
            "--quick",
            "--dsn",
            DSN,
            "--redis-url",
            REDIS_URL,
            "--strategy",
            "none",
            "--strategy",
            "redis",
            "--strategy",
            "optimistic",
            "--json",
            str(out),
            "--plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "oversold seats per strategy" in res.output
    data = json.loads(out.read_text())
    assert set(data) == {"none", "redis", "optimistic"}  # one entry per strategy
    assert all(isinstance(v["oversold"], int) for v in data.values())
    redis = data["redis"]
    assert redis["oversold"] == 0
    sc = redis["scenarios"]
    assert sc["ref"]["checks"]["winners_per_round"] == 1.0
    assert sc["a"]["successes"] == 1 and sc["a"]["checks"]["exactly_one_winner"]
    assert sc["b"]["checks"]["holds_not_accounted"] == 0
    assert sc["b"]["checks"]["held_seats_without_granted_hold"] == 0
    assert sc["b"]["successes"] == sc["b"]["checks"]["granted_holds"] > 0
    for name in ("none", "redis"):
        c = data[name]["scenarios"]["c"]["checks"]
        assert c["seats_inconsistent"] == 0 and c["unfinished_sagas"] == 0
        assert c["money_matches"] and c["captured_net_cents"] == c["ticket_cents"]
        assert c["paid_orders"] == c["sold_seats"] == c["tickets"]
        assert c["authorized_outstanding_cents"] == 0
    # CAS retries per scenario add up to the service's total; only optimistic retries
    for name, entry in data.items():
        per_scenario = [f["retries"] for f in entry["scenarios"].values()]
        assert sum(per_scenario) == entry["service"]["holds"]["retries"]
        if name != "optimistic":
            assert sum(per_scenario) == 0
    assert data["optimistic"]["oversold"] == 0
    assert png.stat().st_size > 10_000
