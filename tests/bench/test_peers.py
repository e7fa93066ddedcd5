"""The benchmark's adapters behave like one dict-with-order model, whatever system is behind
them, so that every workload measures the same work on each (hypothesis property tests)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.bench.common import BenchmarkError, Measurement, median, ratio, timed_loop
from cairn.bench.peers import (
    CAIRN_ENGINES,
    PEERS,
    Caps,
    NotApplicable,
    SqliteStore,
    Store,
    Unavailable,
    disk_usage,
    make_store,
    open_store,
)
from cairn.bench.workloads import BenchConfig, DataSet, run_system


def _available() -> list[str]:
    names = []
    for name in (*CAIRN_ENGINES, *PEERS):
        try:
            store = make_store(name, "/nonexistent")
            if name in CAIRN_ENGINES:
                from cairn.storage import engine_class
                engine_class(name)
            else:
                # import only: the adapters import their library in open()
                __import__({"sqlite3": "sqlite3"}.get(name, name))
        except Exception:  # a cairn engine not written yet or a peer without a wheel
            continue
        assert isinstance(store, Store)
        names.append(name)
    return names


SYSTEMS = _available()
pytestmark = pytest.mark.xdist_group("bench_peers")

keys16 = st.binary(min_size=16, max_size=16)
items = st.dictionaries(keys16, st.binary(min_size=0, max_size=200), min_size=1, max_size=60)


@pytest.mark.parametrize("name", SYSTEMS)
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=items, probe=keys16, bounds=st.tuples(keys16, keys16))
def test_adapter_matches_a_sorted_dict(name: str, tmp_path_factory: pytest.TempPathFactory,
                                       model: dict[bytes, bytes], probe: bytes,
                                       bounds: tuple[bytes, bytes]) -> None:
    store = open_store(name, str(tmp_path_factory.mktemp(name) / "db"))
    try:
        store.load(sorted(model.items()))
        for k, v in model.items():
            assert store.get(k) == v
        assert store.get(probe) == model.get(probe)
        lo, hi = sorted(bounds)
        in_range = sum(1 for k in model if lo <= k < hi)
        try:
            assert store.scan(None, None) == len(model)
            assert store.scan(None, None, 3) == min(3, len(model))
            assert store.scan(lo, hi) == in_range
            assert store.scan(lo, None) == sum(1 for k in model if k >= lo)
        except NotApplicable:
            assert name == "diskcache"
            assert store.scan(None, None) == len(model)
        store.flush()
        assert store.disk_bytes() > 0
    finally:
        store.close()


@pytest.mark.parametrize("name", SYSTEMS)
def test_sync_writes_survive_reopen(name: str, tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = open_store(name, path)
    try:
        store.sync_put(b"durable-key-0001", b"v" * 100)
        if store.concurrent_writers is None:
            threads = [threading.Thread(
                target=lambda t=t: [store.sync_put(b"t%d-%013d" % (t, i), b"w" * 10)
                                    for i in range(20)]) for t in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
    finally:
        store.close()
    again = make_store(name, path)
    again.open()  # reopen the same directory: what was acknowledged is there
    try:
        assert again.get(b"durable-key-0001") == b"v" * 100
        if again.concurrent_writers is None:
            assert again.get(b"t7-%013d" % 19) == b"w" * 10
        assert isinstance(again.stats(), dict)
    finally:
        again.close()


def test_unknown_system_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="unknown system"):
        open_store("oracle", str(tmp_path / "x"))


def test_disk_usage_counts_allocated_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10_000)
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(1 << 30)  # 1 GiB apparent, nothing allocated (like LMDB's map)
    assert 10_000 <= disk_usage(str(tmp_path)) < 1 << 20


def test_median_ratio_and_timed_loop() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    with pytest.raises(BenchmarkError):
        median([])
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None and ratio(1.0, 0.0) is None
    seen: list[int] = []
    m = timed_loop(1000, seen.append, budget=10.0)
    assert m.ops == 1000 and seen == list(range(1000)) and not m.capped
    # a budget that expires at once still runs one step, then stops and says so
    m = timed_loop(10_000, lambda i: None, budget=1e-9, check_every=64)
    assert m.ops == 1 and m.capped
    assert Measurement(ops=10, seconds=2.0).ops_per_sec == 5.0
    with pytest.raises(BenchmarkError):
        timed_loop(0, lambda i: None, budget=1.0)


def test_bad_config_is_a_typed_error() -> None:
    with pytest.raises(BenchmarkError, match="keys"):
        BenchConfig(keys=0)
    with pytest.raises(BenchmarkError, match="unknown workload"):
        BenchConfig(workloads=("nope",))
    with pytest.raises(BenchmarkError, match="budget"):
        BenchConfig(budget=0)


def test_capped_full_scan_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Capped(SqliteStore):
        caps = Caps(reads=7, full_scan=50, range_scans=2)

    from cairn.bench import peers
    monkeypatch.setitem(peers.STORES, "sqlite3", Capped)
    cfg = BenchConfig(keys=300, repeat=1, reads=40, range_scans=6, range_len=20,
                      sync_writes=16, workloads=("random_insert", "point_read", "full_scan",
                                                 "range_scan", "durable_8w"))
    run = run_system("sqlite3", str(tmp_path), DataSet.make(cfg, 0), cfg, lambda *a: None)
    assert not run.errors and not run.na
    m = run.measurements
    assert (m["full_scan"].ops, m["full_scan"].capped) == (50, True)
    assert (m["point_read"].ops, m["point_read"].capped) == (7, True)
    assert (m["range_scan"].ops, m["range_scan"].capped) == (2, True)
    assert (m["random_insert"].ops, m["random_insert"].capped) == (300, False)
    assert m["durable_8w"].ops == 16  # 8 writers x 2
    assert run.disk_bytes and run.stats["page_count"] > 0
    assert list(tmp_path.iterdir()) == []


def test_dataset_keys_and_values() -> None:
    cfg = BenchConfig(keys=500, reads=100, range_scans=10, range_len=1000)
    data = DataSet.make(cfg, 0)
    assert all(len(k) == 16 for k in data.keys) and data.keys == sorted(data.keys)
    assert all(len(v) == 100 and v[:50] == v[50:] for v in data.values)
    assert sorted(data.order) == list(range(500)) and data.order != list(range(500))
    present = set(data.keys)
    assert all(len(k) == 16 and k not in present for k in data.absent)
    assert cfg.scan_len == 500 and data.range_starts == [0] * 10
    assert DataSet.make(cfg, 0).values == data.values  # deterministic per (seed, repeat)
    assert DataSet.make(cfg, 1).values != data.values


def test_setup_gives_sqlite3_the_same_cache_and_no_mmap(tmp_path: Path) -> None:
    from cairn.bench.peers import Setup
    store = open_store("sqlite3", str(tmp_path / "db"), Setup(cache_bytes=16 << 20))
    try:
        conn = store._conn()  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -(16 << 10)  # KiB
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] == 0
    finally:
        store.close()


@pytest.mark.parametrize(("name", "option"), [("btree", "pool_bytes"),
                                              ("lsm", "block_cache_bytes")])
def test_setup_reaches_the_cairn_engines(name: str, option: str, tmp_path: Path) -> None:
    from cairn.bench.peers import Setup
    store = open_store(name, str(tmp_path / "db"), Setup(cache_bytes=3 << 20))
    try:
        extra = store.stats()["extra"]
        cap = extra.get("block_cache_capacity") or (extra["pool_capacity_pages"]
                                                     * extra["page_size"])
        assert cap == 3 << 20
        assert store.engine.manual_wal_flush is False  # type: ignore[attr-defined]
    finally:
        store.close()
    assert make_store(name, "/x", Setup(manual_wal_flush=True)).options()[  # type: ignore
        "manual_wal_flush"] is True
    assert option in make_store(name, "/x", Setup(cache_bytes=1 << 20)).options()  # type: ignore
