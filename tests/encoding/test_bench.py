"""`cairn bench encoding` runs, measures every codec and peer, and sizes agree with peers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.cli import _register, cli
from cairn.encoding.bench import run


def test_report_has_every_format_and_identical_sizes() -> None:
    report = run(seconds=0.002, repeats=1)
    assert [r["record"] for r in report["records"]] == ["ddia-example", "wide-30"]
    for rec in report["records"]:
        assert len(rec["formats"]) == 6
        for row in rec["formats"]:
            assert row["ours"]["encode"] > 0 and row["ours"]["decode"] > 0
            assert row["peers"], row["format"]
            for name, peer in row["peers"].items():
                if name != "orjson":  # orjson escapes differently only for non-ASCII
                    assert peer["size"] == row["size"], (row["format"], name)
    avro = report["records"][0]["formats"][-1]
    assert set(avro["peers"]) == {"fastavro", "fastavro-pure"}


def test_cli_writes_json_and_plot(tmp_path: Path) -> None:
    _register()
    out = CliRunner().invoke(cli, ["bench", "encoding", "--seconds", "0.002", "--repeats", "1",
                                   "--json", str(tmp_path / "b.json"), "--plot",
                                   str(tmp_path / "b.png")])
    assert out.exit_code == 0, out.output
    assert "fastavro-pure" in out.output
    assert json.loads((tmp_path / "b.json").read_text())["records"]
    assert (tmp_path / "b.png").stat().st_size > 10_000
