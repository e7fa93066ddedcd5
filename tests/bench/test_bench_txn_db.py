"""``cairn bench db --quick``: the database-larger-than-cache benchmark runs end to end and
reports every figure (the crash children are real SIGKILLed processes)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.bench.txn_db import bench_db


def test_bench_db_quick_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "db.json"
    result = CliRunner().invoke(bench_db, ["--quick", "--quiet", "--dir", str(tmp_path / "w"),
                                           "--json", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "targets at 5,000 rows" in result.output
    data = json.loads(out.read_text())
    small, large = data["sizes"]
    assert (small["rows"], large["rows"]) == (1_000, 5_000)
    for size in (small, large):
        assert size["rates"]["transfers"] > 0 and size["rates"]["read_mostly"] > 0
        assert size["rss_mib"] > 0 and size["reopen_s"] > 0
        assert size["checkpoint"]["checkpoint_s"] >= 0
        # each crash child committed after its checkpoint and was killed: replay found them
        assert [r["commits"] for r in size["recovery"]] == [50, 200]
        assert all(r["wal_records"] > 0 for r in size["recovery"])
    assert large["cache"]["misses"] > 0  # 5,000 rows in a 1 MiB cache: reads missed
