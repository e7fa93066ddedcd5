"""`cairn bench txn --quick`: the JSON shape, the invariant checks and the targets.

Self-contained (its own tmp_path and PostgreSQL schema, nothing global), so it runs under
`pytest -n auto`. The speed numbers themselves are not asserted: on a shared machine they are
noise; the benchmark's job here is to run every workload and check every invariant.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner

from cairn.bench.txn import (
    ACCOUNTS,
    DOCTORS,
    TxnBenchConfig,
    _check,
    _load,
    bench_txn,
)
from cairn.bench.txn_cairn import CairnStore
from cairn.bench.txn_systems import PostgresStore

SYSTEMS = "cairn SER/ssi,cairn SER/2pl,postgres SER"


def test_bench_txn_quick_json_shape_and_invariants(tmp_path: Path) -> None:
    out, png = tmp_path / "txn.json", tmp_path / "txn.png"
    res = CliRunner().invoke(bench_txn, ["--quick", "--systems", SYSTEMS, "--json", str(out),
                                         "--plot", str(png), "--quiet"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "txn"
    assert doc["config"]["clients"] == [1, 4]
    cells = doc["cells"]
    # 3 workloads x 2 client counts x 3 systems, every one measured
    assert len(cells) == 3 * 2 * 3
    for c in cells:
        assert c["error"] is None, c
        assert c["commits_per_sec"] > 0, c
        assert c["p50_ms"] is not None and c["p99_ms"] >= c["p50_ms"]
        assert set(c["aborts_per_sec"]) <= {"40001", "40P01"}
        run = c["runs"][0]
        assert run["commits"] > 0 and run["invariant"]
        if " SER" in c["system"]:
            # serializable never loses money and never empties a shift, on either system
            assert c["invariant_ok"] is True, c
    ro = [c for c in cells if c["workload"] == "read_mostly"]
    assert all(c["runs"][0]["read_only"] > 0 for c in ro)
    names = {t["name"]: t for t in doc["targets"]}
    assert names["SSI vs 2PL, read-mostly"]["status"] in ("PASS", "MISS")
    assert names["SSI vs 2PL, read-mostly"]["ratio"] > 0
    # T=16 was not run in --quick: the PostgreSQL target is reported as not measured
    assert names["cairn serializable transfers vs PostgreSQL serializable at T=16"][
        "status"] == "SKIP"
    assert names["zero invariant violations at serializable (cairn and PostgreSQL)"][
        "status"] == "PASS"
    assert "ratios (commits/s):" in res.output and "PASS" in res.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_invariant_checks_catch_broken_data() -> None:
    cfg = TxnBenchConfig(accounts=50, shifts=5)
    with tempfile.TemporaryDirectory() as d:
        store = CairnStore(str(Path(d) / "db"))
        try:
            _load(store, "transfers", cfg)
            assert _check(store, "transfers", cfg)[0]
            with store.db.transaction("read committed") as tx:
                tx.update("accounts", 3, {"balance": 999})  # money vanishes
            ok, what = _check(store, "transfers", cfg)
            assert not ok and "49,999" in what
        finally:
            store.close()
    pg = PostgresStore()
    try:
        _load(pg, "write_skew", cfg)
        assert _check(pg, "write_skew", cfg)[0]
        pg.admin.execute(f"UPDATE {pg.schema}.doctors SET on_call = false WHERE shift = 2")
        ok, what = _check(pg, "write_skew", cfg)
        assert not ok and what.startswith("1 of 5 shifts")
    finally:
        pg.close()
    assert ACCOUNTS.primary_key == "id" and DOCTORS.indexes == ("shift",)


def test_bad_options_are_clear_errors() -> None:
    r = CliRunner().invoke(bench_txn, ["--systems", "mysql SER"])
    assert r.exit_code != 0 and "unknown system" in r.output
    r = CliRunner().invoke(bench_txn, ["--clients", "0"])
    assert r.exit_code != 0 and "positive" in r.output
    r = CliRunner().invoke(bench_txn, ["--workloads", "nope"])
    assert r.exit_code != 0 and "unknown workload" in r.output


def test_read_only_transactions_are_declared_read_only_on_both_systems() -> None:
    """read_mostly's audits run as READ ONLY transactions (a write in one fails with 25006 on
    cairn and on PostgreSQL); its transfers do not."""
    import random

    import pytest

    from cairn.bench.txn import ClientStats, Zipf, _body
    from cairn.bench.txn_systems import SystemSpec

    cfg = TxnBenchConfig(accounts=20)
    rng, stats = random.Random(3), ClientStats()
    kinds = [_body("read_mostly", cfg, rng, Zipf(20, 1.0), stats)[1] for _ in range(200)]
    assert kinds.count(True) == stats.read_only > 150 and False in kinds
    assert not any(_body("transfers", cfg, rng, Zipf(20, 1.0), stats)[1] for _ in range(20))

    def write(ops) -> None:
        ops.update("accounts", 1, {"balance": 0})

    spec = SystemSpec("cairn", "serializable", "ssi")
    with tempfile.TemporaryDirectory() as d:
        store = CairnStore(str(Path(d) / "db"))
        try:
            _load(store, "transfers", cfg)
            client = store.client(spec)
            with pytest.raises(Exception, match="read-only") as info:
                client.attempt(write, read_only=True)
            assert getattr(info.value, "sqlstate", None) == "25006"
            client.attempt(write)  # not declared: fine
        finally:
            store.close()
    pg = PostgresStore()
    try:
        _load(pg, "transfers", cfg)
        client = pg.client(SystemSpec("postgres", "serializable"))
        try:
            with pytest.raises(Exception, match="read-only") as info:
                client.attempt(write, read_only=True)
            assert getattr(info.value, "sqlstate", None) == "25006"
            client.attempt(write)
        finally:
            client.close()
    finally:
        pg.close()
