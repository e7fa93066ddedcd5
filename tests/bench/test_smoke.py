"""Smoke test of `cairn bench storage --quick` through the real `cairn` command group.

Self-contained (its own tmp_path, no fixed paths or ports, nothing global), so it runs under
`pytest -n auto`.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.cli import _register, cli


def test_cairn_bench_storage_quick(tmp_path: Path) -> None:
    _register()
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    res = CliRunner().invoke(cli, ["bench", "storage", "--quick", "--keys", "400",
                                   "--engines", "log", "--peers", "sqlite3", "--json", str(out),
                                   "--plot", str(png), "--dir", str(tmp_path / "data")])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc["systems"]) == {"log", "sqlite3"}
    log = doc["systems"]["log"]["workloads"]
    assert log["random_insert"]["ops"] == 400 and log["random_insert"]["ops_per_sec"] > 0
    assert doc["systems"]["sqlite3"]["workloads"]["point_read"]["ratio_to_sqlite3"] == 1.0
    assert "log group commit: 8 durable writers vs 1" in res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "data").iterdir()) == []


def test_cairn_bench_lists_both_benchmarks() -> None:
    _register()
    res = CliRunner().invoke(cli, ["bench", "--help"])
    assert res.exit_code == 0, res.output
    assert "storage" in res.output and "memtable" in res.output
