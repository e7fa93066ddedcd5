"""`cairn bench serial`: it runs every partition count, checks the stock, writes its JSON and
plot. Speed is not asserted (noise on a shared machine); the ratios are the benchmark's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.bench.serial import SerialBenchConfig, bench_serial, run_cell


def test_bench_serial_quick_run(tmp_path: Path) -> None:
    out, png = tmp_path / "serial.json", tmp_path / "serial.png"
    res = CliRunner().invoke(bench_serial, [
        "--partitions", "1,4", "--clients", "4", "--duration", "0.1", "--repeat", "1",
        "--json", str(out), "--plot", str(png), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "vs 1 partition" in res.output and "1.00x" in res.output
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "serial"
    assert [c["partitions"] for c in doc["cells"]] == [1, 4]
    assert all(c["commits_per_sec"] > 0 and len(c["runs"]) == 1 for c in doc["cells"])
    assert doc["cells"][0]["distinct"] == 1 and doc["cells"][1]["distinct"] >= 2
    assert png.stat().st_size > 1000


def test_bench_serial_rejects_bad_partitions() -> None:
    res = CliRunner().invoke(bench_serial, ["--partitions", "0,4"])
    assert res.exit_code != 0 and "1 to 1024" in res.output


def test_run_cell_counts_every_commit() -> None:
    rate, used = run_cell(SerialBenchConfig(clients=3, round_trip=0.0, duration=0.1), 2)
    assert rate > 0 and 1 <= used <= 2  # run_cell raises if the stock and commits disagree
