"""Unit and property tests of the LSM engine's parts: memtable, Bloom filter, SSTable format,
manifest, merging iterator, compaction pickers, and the memtable benchmark command."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

import hypothesis.strategies as st
import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from cairn.bench.memtable import bench_memtable
from cairn.storage import CorruptionError, StorageError
from cairn.storage.engine import Put
from cairn.storage.faults import flip_bit
from cairn.storage.fileio import REAL_FS
from cairn.storage.lsm import LSMEngine
from cairn.storage.lsm.bloom import BloomFilter, expected_fp_rate
from cairn.storage.lsm.compaction import CompactionOptions, pick_leveled, pick_tiered
from cairn.storage.lsm.iterators import live, merge_entries
from cairn.storage.lsm.manifest import (
    ManifestWriter,
    TableMeta,
    Version,
    VersionEdit,
    read_current,
)
from cairn.storage.lsm.memtable import MemTable
from cairn.storage.lsm.sstable import BlockCache, Codec, TableReader, TableWriter
from cairn.storage.lsm.wal import encode_put
from cairn.storage.record import encode_frame as record_frame

KEYS = st.binary(min_size=1, max_size=20)


def test_memtable_sorted_view_follows_writes() -> None:
    m = MemTable()
    m.put(b"b", b"2")
    m.put(b"a", b"1")
    assert m.sorted_keys() == [b"a", b"b"]
    m.put(b"c", None)
    assert m.sorted_items() == [(b"a", b"1"), (b"b", b"2"), (b"c", None)]
    m.put(b"a", b"x")  # overwrite: same keys, new value, still seen
    assert m.range_items(b"a", b"b") == [(b"a", b"x")]
    assert m.approx_bytes > 0


def test_wal_fast_path_frame_matches_record_format() -> None:
    for k, v in ((b"k", b""), (b"key", b"v" * 300)):
        assert encode_put(k, v) == record_frame([Put(k, v)])[0]


@settings(max_examples=40, deadline=None)
@given(st.sets(KEYS, min_size=1, max_size=300), st.sampled_from([2.0, 6.0, 10.0, 16.0]))
def test_bloom_has_no_false_negatives(keys: set[bytes], bits: float) -> None:
    f = BloomFilter.build(sorted(keys), bits)
    assert all(f.may_contain(k) for k in keys)
    again = BloomFilter.decode(f.encode())
    assert again == f


def test_bloom_false_positive_rate_near_the_configured_one() -> None:
    keys = [b"present%06d" % i for i in range(20_000)]
    f = BloomFilter.build(keys, 10)
    fp = sum(f.may_contain(b"absent%06d" % i) for i in range(20_000)) / 20_000
    assert expected_fp_rate(10) == pytest.approx(0.0082, abs=0.001)
    assert fp < 3 * expected_fp_rate(10)
    assert fp > 0  # a filter that never says "maybe" to absent keys is suspicious


def test_bloom_garbage_is_corruption() -> None:
    with pytest.raises(CorruptionError):
        BloomFilter.decode(b"\x00" + b"\xff" * 16, "x.sst", 7)


def _write_table(path: Path, items: list[tuple[bytes, bytes | None]], compression: str,
                 block_size: int = 128) -> TableReader:
    w = TableWriter(REAL_FS, str(path), block_size=block_size, bits_per_key=10,
                    codec=Codec(compression))
    w.add_all(items)
    info = w.finish()
    assert info.entries == len(items)
    return TableReader.open(REAL_FS, str(path), 1, BlockCache(1 << 20))


ENTRIES = st.dictionaries(KEYS, st.one_of(st.none(), st.binary(max_size=200)), min_size=1,
                          max_size=120)


@settings(max_examples=40, deadline=None)
@given(ENTRIES, st.sampled_from(["none", "lz4", "zstd"]), KEYS, KEYS)
def test_sstable_roundtrip(tmp_path_factory: pytest.TempPathFactory,
                           entries: dict[bytes, bytes | None], compression: str, a: bytes,
                           b: bytes) -> None:
    items = sorted(entries.items())
    r = _write_table(tmp_path_factory.mktemp("t") / "1.sst", items, compression)
    try:
        for k, v in items:
            assert r.get(k) == (True, v)
            assert r.bloom.may_contain(k)
        assert r.get(b"\x00" * 21)[0] is (b"\x00" * 21 in entries)
        assert list(r.iter_range(None, None)) == items
        lo, hi = min(a, b), max(a, b)
        expected = [(k, v) for k, v in items if lo <= k < hi]
        assert list(r.iter_range(lo, hi)) == expected
        assert list(r.iter_range(lo, hi, reverse=True)) == expected[::-1]
    finally:
        r.close()


def test_sstable_compresses_compressible_blocks(tmp_path: Path) -> None:
    items: list[tuple[bytes, bytes | None]] = [(b"k%05d" % i, b"abc" * 30) for i in range(500)]
    raw = _write_table(tmp_path / "raw.sst", items, "none", 4096)
    small = _write_table(tmp_path / "z.sst", items, "zstd", 4096)
    assert small.size < raw.size / 3
    assert list(small.iter_range(None, None)) == items
    raw.close()
    small.close()


def test_sstable_rejects_out_of_order_keys(tmp_path: Path) -> None:
    w = TableWriter(REAL_FS, str(tmp_path / "x.sst"), block_size=64, bits_per_key=10,
                    codec=Codec("none"))
    with pytest.raises(StorageError):
        w.add_all([(b"b", b"1" * 70), (b"a", b"2" * 70)])
        w.finish()
    w.abandon()


@pytest.mark.parametrize("where", ["data", "footer", "index"])
def test_sstable_damage_is_reported_with_file_and_offset(tmp_path: Path, where: str) -> None:
    items: list[tuple[bytes, bytes | None]] = [(b"k%04d" % i, b"v" * 40) for i in range(200)]
    path = tmp_path / "1.sst"
    r = _write_table(path, items, "lz4")
    index_at = r.index_offsets[-1] + r.index_sizes[-1] + 5
    r.close()
    size = path.stat().st_size
    offset = {"data": 10, "footer": size - 20, "index": index_at + 3}[where]
    flip_bit(str(path), offset, 2)
    with pytest.raises(CorruptionError) as info:
        r = _write_table_reader(path)
        for k, _ in items:
            r.get(k)
    assert info.value.path == str(path)
    assert info.value.offset is not None


def _write_table_reader(path: Path) -> TableReader:
    return TableReader.open(REAL_FS, str(path), 1, BlockCache(1 << 20))


def test_merge_newest_wins_and_tombstones_hide() -> None:
    newest = [(b"a", None), (b"c", b"3new")]
    older = [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    assert list(merge_entries([newest, older])) == [(b"a", None), (b"b", b"2"),
                                                    (b"c", b"3new")]
    assert list(live(merge_entries([newest, older]))) == [(b"b", b"2"), (b"c", b"3new")]
    rev = list(merge_entries([newest[::-1], older[::-1]], reverse=True))
    assert rev == [(b"c", b"3new"), (b"b", b"2"), (b"a", None)]


def _meta(n: int, level: int, lo: bytes, hi: bytes, size: int = 100, seq: int = 0) -> TableMeta:
    return TableMeta(n, level, size, lo, hi, 10, 0, size, seq)


def test_leveled_picker_l0_takes_all_l0_and_overlapping_l1() -> None:
    v = Version.empty(4).apply(VersionEdit([
        _meta(1, 0, b"a", b"m", seq=1), _meta(2, 0, b"c", b"d", seq=2),
        _meta(3, 1, b"a", b"b"), _meta(4, 1, b"x", b"z"), _meta(5, 2, b"a", b"z")]))
    plan = pick_leveled(v, CompactionOptions(l0_trigger=2), {})
    assert plan is not None and plan.output_level == 1
    assert [t.number for t in plan.inputs] == [2, 1, 3]  # newest L0 first, then L1 overlap
    assert not plan.drop_tombstones  # L2 overlaps: older values below could resurface


def test_leveled_picker_drops_tombstones_only_without_deeper_data() -> None:
    v = Version.empty(3).apply(VersionEdit([_meta(1, 0, b"a", b"c", seq=1),
                                            _meta(2, 0, b"d", b"f", seq=2)]))
    plan = pick_leveled(v, CompactionOptions(l0_trigger=2), {})
    assert plan is not None and plan.drop_tombstones


def test_leveled_picker_moves_a_table_with_no_overlap() -> None:
    opts = CompactionOptions(level_base_bytes=50)
    v = Version.empty(4).apply(VersionEdit([_meta(1, 1, b"a", b"c"), _meta(2, 2, b"x", b"z")]))
    plan = pick_leveled(v, opts, {})
    assert plan is not None and plan.trivial_move and plan.output_level == 2


def test_tiered_picker_merges_adjacent_similar_runs() -> None:
    runs = [_meta(i, 0, b"a", b"z", size=s, seq=10 - i)
            for i, s in enumerate([100, 110, 90, 105, 5000], start=1)]
    v = Version.empty(2).apply(VersionEdit(runs))
    plan = pick_tiered(v, CompactionOptions(style="tiered", min_merge=4))
    assert plan is not None
    assert [t.number for t in plan.inputs] == [1, 2, 3, 4]
    assert plan.seq == 9 and not plan.drop_tombstones  # the big old run is left out
    assert pick_tiered(Version.empty(2).apply(VersionEdit(runs[:3])),
                       CompactionOptions(style="tiered")) is None


def test_manifest_replays_edits_and_rejects_a_damaged_last_edit(tmp_path: Path) -> None:
    d = str(tmp_path)
    v = Version.empty(3)
    w = ManifestWriter(REAL_FS, d, 5, v.snapshot_edit(6))
    w.append(VersionEdit([_meta(7, 0, b"a", b"b", seq=1)], [], 3, 8, 2))
    w.append(VersionEdit([_meta(9, 1, b"a", b"b")], [7], None, 10))
    w.close()
    state = read_current(REAL_FS, d, 3)
    assert state is not None
    assert [t.number for t in state.version.tables()] == [9]
    assert state.version.log_number == 3 and state.next_file == 10
    # A torn (cut short) last edit was never acknowledged: dropped.
    path = tmp_path / "MANIFEST-000005"
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    state = read_current(REAL_FS, d, 3)
    assert state is not None and [t.number for t in state.version.tables()] == [7]
    # A complete last edit that fails its checksum was damaged after the fact: refused.
    path.write_bytes(data)
    flip_bit(str(path), len(data) - 3)
    with pytest.raises(CorruptionError):
        read_current(REAL_FS, d, 3)


def test_bench_memtable_command(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    res = CliRunner().invoke(bench_memtable, ["--keys", "3000", "--repeat", "1", "--json",
                                              str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["keys"] == 3000
    assert data["ratio"] == pytest.approx(
        data["dict_sorted_at_flush_ops_s"] / data["sorteddict_ops_s"], rel=0.02)
    assert "ratio" in res.output
    assert CliRunner().invoke(bench_memtable, ["--keys", "0"]).exit_code != 0
    assert os.path.exists(out)


def _blk(tag: bytes):  # type: ignore[no-untyped-def]
    return ([tag], [tag], {tag: tag})


def test_block_cache_clock_gives_referenced_blocks_a_second_chance() -> None:
    cache = BlockCache(300)
    for i in range(3):
        cache.put(i, _blk(b"%d" % i), 100)
    assert cache.get(0) is not None  # 0 is referenced: it survives the next eviction
    cache.put(3, _blk(b"3"), 100)  # over capacity: 0 gets a second chance, 1 goes
    assert cache.used == 300
    assert cache.get(1) is None
    assert cache.get(0) is not None and cache.get(2) is not None and cache.get(3) is not None
    cache.put(4, _blk(b"4"), 100)  # every entry referenced: one full turn, then the oldest
    assert cache.used == 300 and len(cache._map) == 3
    assert cache.get(4) is not None  # a new block is never its own victim
    assert cache.hits == 5 and cache.misses == 1


def test_block_cache_never_holds_more_than_its_capacity() -> None:
    cache = BlockCache(1000)
    rng = random.Random(7)
    for i in range(2000):
        if rng.random() < 0.5:
            cache.get(rng.randrange(i + 1))
        cache.put(i, _blk(b"x"), rng.randrange(1, 300))
        assert cache.used <= 1000
        assert cache.used == sum(e[1] for e in cache._map.values())
    cache.evict_table(0)  # all keys are below 1 << 32: table 0
    assert cache.used == 0 and not cache._map


def test_cached_block_size_is_real_memory() -> None:
    """The block cache charges what a decoded block occupies (within 25 % of tracemalloc)."""
    import tracemalloc

    from cairn.storage.lsm.sstable import decoded_size, encode_block, make_block
    rng = random.Random(7)
    blocks = []
    total = 0
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for j in range(100):
            keys = [b"key:%012d" % (j * 100 + i) for i in range(33)]
            vals: list[bytes | None] = [rng.randbytes(100) for _ in range(33)]
            total += decoded_size(len(encode_block(keys, vals)), len(keys))
            blocks.append(make_block(keys, vals))
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.75 * used <= total <= 1.25 * used, (used, total)


@pytest.mark.parametrize("manual", [False, True])
def test_wal_frames_reach_the_os_unless_manual_wal_flush(tmp_path: Path, manual: bool) -> None:
    """RocksDB's default: an unsynced put is in the file (write(2)) when put returns, so a
    process crash cannot lose it; manual_wal_flush=True keeps it in the user-space buffer."""
    eng = LSMEngine(str(tmp_path / "db"), background=False, manual_wal_flush=manual)
    try:
        wal = [n for n in os.listdir(tmp_path / "db") if n.endswith(".log")]
        path = tmp_path / "db" / wal[0]
        before = os.path.getsize(path)
        eng.put(b"k", b"v" * 50)
        grew = os.path.getsize(path) - before
        assert grew == (0 if manual else 4 + 4 + 9 + 1 + 50)
    finally:
        eng.close()


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.binary(min_size=1, max_size=8),
                       st.one_of(st.none(), st.binary(max_size=12)), max_size=30),
       st.lists(st.binary(min_size=1, max_size=9), max_size=15))
def test_raw_block_lookup_matches_a_dict(model: dict[bytes, bytes | None],
                                         probes: list[bytes]) -> None:
    """A point read that misses the cache searches the raw block: it must agree with the model
    for every stored key (tombstones included) and for probes that are prefixes, extensions or
    concatenations of stored keys (bytes that occur in the keys blob across entries)."""
    from cairn.storage.lsm.sstable import decode_block, encode_block, raw_lookup
    keys = sorted(model)
    raw = encode_block(keys, [model[k] for k in keys])
    assert decode_block(raw, "t", 0) == (keys, [model[k] for k in keys])
    extra = [a + b for a, b in itertools.pairwise(keys)]
    extra += [k[:-1] for k in keys if len(k) > 1] + [k[1:] for k in keys if len(k) > 1]
    for probe in [*keys, *probes, *extra]:
        want = (probe in model, model.get(probe))
        assert raw_lookup(raw, probe, "t", 0) == want, probe


def test_point_reads_cache_raw_blocks_then_decode_hot_ones(tmp_path: Path) -> None:
    """A cache miss keeps the block raw (charged ~its size); the second read of it decodes it;
    the cache never holds more than its capacity."""
    eng = LSMEngine(str(tmp_path / "db"), background=False, block_cache_bytes=64 * 1024)
    try:
        for i in range(5000):
            eng.put(b"k%05d" % i, b"v%05d" % i * 8)
        eng.flush()
        for i in range(0, 5000, 2):
            assert eng.get(b"k%05d" % i) == b"v%05d" % i * 8
        assert eng.get(b"k00010") == b"v00010" * 8  # a second read: decoded now
        assert eng.get(b"k00010x") is None and eng.get(b"k0001") is None
        extra = eng.stats().extra
        assert extra["block_cache_bytes"] <= 64 * 1024
        assert 0 < extra["cache_hit_rate"] < 1 and extra["disk_bytes_read_per_get"] > 0
        assert dict(eng.scan(b"k00100", b"k00105")) == {
            b"k%05d" % i: b"v%05d" % i * 8 for i in range(100, 105)}
    finally:
        eng.close()


def test_wait_for_compactions_leaves_nothing_due(tmp_path: Path) -> None:
    """After many small memtables, wait_for_compactions() runs what is due in the caller's
    thread (the background compactor may run too) until nothing is; the data is intact."""
    eng = LSMEngine(str(tmp_path / "db"), memtable_bytes=4096, l0_compaction_trigger=2,
                    target_file_size=8192, level_base_bytes=16384)
    try:
        for i in range(3000):
            eng.put(b"k%05d" % ((i * 7919) % 3000), b"v%05d" % i)
        eng.wait_for_compactions()
        extra = eng.stats().extra
        assert extra["l0_tables"] < 2 and extra["immutable_memtables"] == 0
        assert eng.stats().compactions > 0
        assert len(dict(eng.scan())) == 3000
    finally:
        eng.close()
