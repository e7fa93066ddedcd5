"""`cairn bench storage` end to end (CliRunner, tiny N) plus its report logic.

Every test works in its own tmp directory and shares nothing global, so the file runs under
pytest-xdist.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cairn.bench.common import Measurement
from cairn.bench.peers import CAIRN_ENGINES, STORES, SqliteStore, Unavailable
from cairn.bench.report import TARGETS, bloom_note, summarize, to_json
from cairn.bench.storage_cmd import bench_storage
from cairn.bench.workloads import WORKLOADS, BenchConfig, SystemRun
from cairn.storage import engine_class


def _importable_engines() -> list[str]:
    kinds = []
    for kind in CAIRN_ENGINES:
        try:
            engine_class(kind)
        except Exception:  # not written yet: the command skips it, tested separately below
            continue
        kinds.append(kind)
    return kinds


ENGINES = _importable_engines()
# Under `pytest -n auto --dist loadgroup` the tests sharing the module-scoped run stay on one
# worker, so the benchmark runs once instead of once per worker.
pytestmark = pytest.mark.xdist_group("bench_storage")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(bench_storage, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Path]:
    """One tiny run over every workload: existing engines + sqlite3, lmdb and semidbm."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "out.json"
    png = tmp / "chart.png"
    data = tmp / "data"
    res = _run(["--keys", "300", "--repeat", "3", "--reads", "200", "--range-scans", "5",
                "--sync-writes", "48", "--budget", "5", "--engines", ",".join(ENGINES),
                "--peers", "sqlite3,lmdb,semidbm", "--json", str(out), "--plot", str(png),
                "--dir", str(data)])
    return res, json.loads(out.read_text()), tmp


def test_run_succeeds_and_reports_every_workload(full_run: tuple[Any, dict, Path]) -> None:
    res, doc, _ = full_run
    assert res.exit_code == 0, res.output
    assert doc["benchmark"] == "storage" and doc["reference"] == "sqlite3"
    assert doc["config"]["keys"] == 300 and doc["config"]["repeat"] == 3
    assert set(doc["systems"]) == {*ENGINES, "sqlite3", "lmdb", "semidbm"}
    for name, system in doc["systems"].items():
        assert set(system["workloads"]) == set(WORKLOADS), name
        assert system["disk_bytes"] > 0
        assert system["space_amplification"] == pytest.approx(
            system["disk_bytes"] / (300 * 116), rel=1e-3)
        for wl, cell in system["workloads"].items():
            assert cell["error"] is None, (name, wl, cell["error"])
            if cell["na"] is not None:
                assert cell["ops_per_sec"] is None and cell["runs"] == []
                continue
            assert len(cell["runs"]) == 3, (name, wl)
            assert cell["ops_per_sec"] > 0
            # the reported rate is the median of the repeats
            rates = [r["ops_per_sec"] for r in cell["runs"]]
            for r in cell["runs"]:
                assert r["ops_per_sec"] == pytest.approx(r["ops"] / r["seconds"], rel=1e-2)
            assert cell["ops_per_sec"] == pytest.approx(statistics.median(rates), rel=1e-3)
    # progress: one line per repeat, system and workload
    for name in doc["systems"]:
        for wl in WORKLOADS:
            for r in (1, 2, 3):
                assert f"[{r}/3] {name:<9} {wl}" in res.output


def test_ratios_match_the_rates(full_run: tuple[Any, dict, Path]) -> None:
    _, doc, _ = full_run
    ref = doc["systems"]["sqlite3"]["workloads"]
    for name, system in doc["systems"].items():
        for wl, cell in system["workloads"].items():
            if cell["ops_per_sec"] is None or ref[wl]["ops_per_sec"] is None:
                assert cell["ratio_to_sqlite3"] is None
                continue
            assert cell["ratio_to_sqlite3"] == pytest.approx(
                cell["ops_per_sec"] / ref[wl]["ops_per_sec"], rel=1e-3), (name, wl)
    assert all(c["ratio_to_sqlite3"] == pytest.approx(1.0) for c in ref.values()
               if c["ops_per_sec"] is not None)


def test_workload_sizes_and_caps(full_run: tuple[Any, dict, Path]) -> None:
    _, doc, _ = full_run
    lmdb = doc["systems"]["lmdb"]["workloads"]
    assert lmdb["random_insert"]["ops"] == 300
    assert lmdb["point_read"]["ops"] == 200 and not lmdb["point_read"]["capped"]
    assert lmdb["full_scan"]["ops"] == 300
    assert lmdb["range_scan"]["ops"] == 5
    assert lmdb["durable_1w"]["ops"] == 48
    assert lmdb["durable_8w"]["ops"] == 48  # 8 writers x 6 writes
    semidbm = doc["systems"]["semidbm"]["workloads"]
    assert semidbm["durable_8w"]["na"] and "thread-safe" in semidbm["durable_8w"]["na"]
    if "log" in doc["systems"]:
        log = doc["systems"]["log"]["workloads"]
        # the log engine's O(n) reads are capped and flagged, and said so in the report
        assert log["point_read"]["ops"] == 10 and log["point_read"]["capped"]
        assert "measured with only 10 reads" in doc["log_read"]


def test_targets_are_all_reported(full_run: tuple[Any, dict, Path]) -> None:
    res, doc, _ = full_run
    targets = {t["name"]: t for t in doc["targets"]}
    assert set(targets) == {t.name for t in TARGETS}
    rates = {n: {w: c["ops_per_sec"] for w, c in s["workloads"].items()}
             for n, s in doc["systems"].items()}
    for t in targets.values():
        assert t["status"] in ("PASS", "MISS", "SKIP")
        assert f"{t['status']}  {t['name']}" in res.output
        if t["system"] not in rates or t["reference"] not in rates:
            assert t["status"] == "SKIP" and t["ratio"] is None
            continue
        expected = rates[t["system"]][t["workload"]] / rates[t["reference"]][
            t["reference_workload"]]
        assert t["ratio"] == pytest.approx(expected, rel=1e-3)
        assert t["status"] == ("PASS" if t["ratio"] >= t["min_ratio"] else "MISS")


def test_png_written_and_data_dirs_removed(full_run: tuple[Any, dict, Path]) -> None:
    _, _, tmp = full_run
    png = (tmp / "chart.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    assert list((tmp / "data").iterdir()) == []  # every temp data directory cleaned up


def test_missing_engine_is_skipped_with_a_note(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(SqliteStore):
        name = "hash"

        def open(self) -> None:
            raise Unavailable("cannot import cairn engine 'hash': not built yet")

    monkeypatch.setitem(STORES, "hash", Broken)
    out = tmp_path / "r.json"
    res = _run(["--quick", "--keys", "100", "--engines", "hash", "--peers", "sqlite3",
                "--workloads", "random_insert,point_read", "--json", str(out),
                "--dir", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "skipping hash: cannot import cairn engine 'hash'" in res.output
    doc = json.loads(out.read_text())
    assert set(doc["systems"]) == {"sqlite3"}
    assert "not built yet" in doc["skipped"]["hash"]
    hash_targets = [t for t in doc["targets"] if t["system"] == "hash"]
    assert hash_targets and all(t["status"] == "SKIP" for t in hash_targets)


def test_wrong_answers_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A system that returns a wrong value must not 'win': the cell is an error, exit 1."""

    class Liar(SqliteStore):
        def get(self, key: bytes) -> bytes | None:
            value = super().get(key)
            return None if value is None else value[:-1] + b"!"

    monkeypatch.setitem(STORES, "sqlite3", Liar)
    out = tmp_path / "r.json"
    res = _run(["--quick", "--keys", "50", "--engines", "none", "--peers", "sqlite3,lmdb",
                "--workloads", "random_insert,point_read,full_scan", "--json", str(out),
                "--dir", str(tmp_path / "d")])
    assert res.exit_code == 1
    doc = json.loads(out.read_text())
    cell = doc["systems"]["sqlite3"]["workloads"]["point_read"]
    assert "wrong value" in cell["error"] and cell["ops_per_sec"] is None
    assert doc["systems"]["sqlite3"]["workloads"]["full_scan"]["error"] is None
    assert doc["systems"]["lmdb"]["workloads"]["point_read"]["error"] is None


def test_quick_defaults_yield_to_explicit_options(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = _run(["--quick", "--keys", "123", "--engines", "none", "--peers", "lmdb",
                "--workloads", "seq_insert", "--json", str(out), "--dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    cfg = json.loads(out.read_text())["config"]
    assert cfg["keys"] == 123 and cfg["repeat"] == 1 and cfg["sync_writes"] == 200


@pytest.mark.parametrize("args, message", [
    (["--engines", "nosuch"], "unknown engine nosuch"),
    (["--peers", "postgres"], "unknown peer postgres"),
    (["--workloads", "fly"], "unknown workload fly"),
    (["--engines", "none", "--peers", "none"], "nothing to benchmark"),
    (["--keys", "0"], "--keys"),
])
def test_bad_options_are_rejected(args: list[str], message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(bench_storage, [*args, "--dir", str(tmp_path)])
    assert res.exit_code == 2
    assert message in res.output
    assert list(tmp_path.iterdir()) == []  # rejected before any data directory was made


def _run_with(rates: dict[str, dict[str, float]], stats: dict[str, dict]) -> dict[str, Any]:
    cfg = BenchConfig(keys=1000, repeat=1)
    runs = {name: [SystemRun(measurements={wl: Measurement(ops=int(r), seconds=1.0)
                                           for wl, r in wls.items()},
                             disk_bytes=200_000, stats=stats.get(name, {}))]
            for name, wls in rates.items()}
    return to_json(summarize(cfg, runs, {"btree": "not built"}, 1.0))


def test_target_verdicts_from_known_rates() -> None:
    doc = _run_with(
        {"lsm": {"random_insert": 1000, "point_read": 700, "absent_read": 1049},
         "rocksdict": {"random_insert": 1001, "point_read": 1000},
         "log": {"durable_1w": 100, "durable_8w": 400},
         "sqlite3": {"point_read": 10}},
        {"lsm": {"extra": {"bloom_fp_rate": 0.012, "bloom_bits_per_key": 10,
                           "bloom_configured_fp_rate": 0.0082, "levels": 3}}})
    t = {x["name"]: x for x in doc["targets"]}
    assert t["lsm random insert vs rocksdict"]["status"] == "MISS"
    assert t["lsm point read vs rocksdict"]["status"] == "PASS"  # exactly 0.7x
    absent = t["lsm absent-key read vs its present-key read"]
    assert absent["status"] == "MISS" and absent["ratio"] == pytest.approx(1049 / 700)
    assert "bloom_fp_rate=0.012" in absent["note"]
    assert "bloom_configured_fp_rate=0.0082" in absent["note"] and "levels" not in absent["note"]
    assert t["log group commit: 8 durable writers vs 1"]["status"] == "PASS"  # exactly 4x
    assert t["btree point read vs sqlite3"]["status"] == "SKIP"
    assert "btree skipped: not built" in t["btree point read vs sqlite3"]["note"]
    assert doc["systems"]["lsm"]["workloads"]["point_read"]["ratio_to_sqlite3"] == 70.0


def test_bloom_note_without_figures() -> None:
    assert bloom_note({}) == "no bloom figures in lsm stats extra"
    assert bloom_note({"extra": {"bloom_checks": 5}}) == "bloom: bloom_checks=5"


def test_cache_and_growth_reported(tmp_path: Path) -> None:
    """--cache-mib reaches the config and every system's memory note; --growth-from runs the
    smaller size first and reports each rate's fall, in the text, the JSON and the chart."""
    out, png = tmp_path / "g.json", tmp_path / "g.png"
    engines = [e for e in ("lsm", "btree") if e in ENGINES]
    res = _run(["--keys", "400", "--growth-from", "200", "--cache-mib", "1", "--repeat", "1",
                "--reads", "100", "--workloads", "random_insert,point_read",
                "--engines", ",".join(engines), "--peers", "sqlite3", "--json", str(out),
                "--plot", str(png), "--dir", str(tmp_path / "d"), "-q"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["config"]["cache_bytes"] == 1 << 20
    assert doc["growth"]["from_keys"] == 200 and doc["growth"]["to_keys"] == 400
    assert doc["growth"]["base"]["config"]["keys"] == 200
    for name, sm in doc["systems"].items():
        base = doc["growth"]["base"]["systems"][name]["workloads"]["point_read"]["ops_per_sec"]
        now = sm["workloads"]["point_read"]["ops_per_sec"]
        assert sm["growth"]["point_read"] == pytest.approx(base / now, rel=1e-4)
        assert sm["memory"] == STORES[name].memory_note
    for name in engines:
        cache = doc["systems"][name]["point_read_cache"]
        assert 0.0 <= cache["cache_hit_rate"] <= 1.0 and cache["disk_bytes_per_get"] >= 0
        assert f"{name} point read falls" in res.output
    assert "cost growth 200 -> 400 keys" in res.output
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_beyond_cache_thresholds_replace_the_in_memory_ones() -> None:
    from cairn.bench.report import BEYOND_CACHE, beyond_cache, targets_for
    small = BenchConfig(keys=200_000, cache_bytes=64 << 20)
    big = BenchConfig(keys=2_000_000, cache_bytes=16 << 20)
    assert not beyond_cache(small) and beyond_cache(big)
    assert targets_for(small) == TARGETS
    got = {t.name: t.min_ratio for t in targets_for(big)}
    assert all(got[name] == ratio for name, ratio in BEYOND_CACHE.items())


def test_growth_from_must_be_below_keys(tmp_path: Path) -> None:
    res = CliRunner().invoke(bench_storage, ["--keys", "100", "--growth-from", "100",
                                             "--dir", str(tmp_path)])
    assert res.exit_code != 0 and "--growth-from" in res.output
