"""cairn bench sql on a tiny data set: every workload runs on every system and the report
names each ratio beside its target."""

from __future__ import annotations

from cairn.bench.common import Progress
from cairn.bench.sql import WORKLOADS, SqlBenchConfig, report, run


def test_every_workload_runs_and_reports_ratios() -> None:
    cfg = SqlBenchConfig(accounts=300, orders=400, customers=20, seconds=0.05, repeat=1,
                         systems=("cairn", "sqlite3"))
    result = run(cfg, Progress(quiet=True))
    got = {(c["system"], c["workload"]) for c in result["cells"]}
    assert got == {(s, w) for s in ("cairn", "sqlite3") for w in WORKLOADS}
    assert all(c["rate"] > 0 for c in result["cells"])
    text = report(result)
    assert "point select" in text and ">= 0.3x" in text and "cairn/sqlite3" in text
    assert result["plan_us_uncached"] > 0 and result["plan_us_cached"] > 0


def test_a_missing_peer_is_reported_not_fatal(monkeypatch) -> None:
    from cairn.bench import sql as bench

    monkeypatch.setattr(bench, "PG_DSN", "host=127.0.0.1 port=1 dbname=none connect_timeout=1")
    cfg = SqlBenchConfig(accounts=300, orders=200, customers=10, seconds=0.02, repeat=1,
                         systems=("postgresql",))
    result = run(cfg, Progress(quiet=True))
    assert "postgresql" in result["skipped"]
    assert "skipped postgresql" in report(result)
