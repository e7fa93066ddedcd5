"""The hash engine (Bitcask) beyond the shared contract: record and hint formats, segment
rollover, merge and its crash safety, recovery rules, tombstones, hint fallback, the
background merge thread, read-only mode after a background error, and its stats."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import threading
import time
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from cairn.storage import CorruptionError, Delete, Put, StorageError, open_engine
from cairn.storage.faults import FaultyFileSystem, SimulatedCrash, flip_bit
from cairn.storage.hash import HashEngine
from cairn.storage.hash.hint import HintBuilder, decode_hint
from cairn.storage.hash.segment import (
    MORE,
    OVERHEAD,
    RESIDUE,
    TOMBSTONE,
    SegmentScan,
    encode_delete,
    encode_put,
    parse_name,
    scan_segment,
    segment_name,
)

SMALL = {"segment_size": 2048, "merge_min_dead_bytes": 0, "background_merge": False}
KEYS = st.binary(min_size=1, max_size=20)
VALUES = st.binary(max_size=200)


def scan_all(data: bytes, path: str = "seg") -> tuple[list[tuple[int, int, bytes, int]],
                                                       SegmentScan]:
    result = SegmentScan()
    return list(scan_segment(data, path, 0xFFFF, result)), result


def files(path: Path, suffix: str) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.endswith(suffix))


# -- record format -----------------------------------------------------------------------------
def test_record_layout_and_residue() -> None:
    from crc32c import crc32c

    rec = encode_put(b"key", b"value")
    assert len(rec) == OVERHEAD + 3 + 5
    assert rec[0] == 0 and rec[1:5] == (3).to_bytes(4, "little")
    assert rec[9:12] == b"key" and rec[12:17] == b"value"
    assert crc32c(rec) == RESIDUE, "the whole record checksums to the CRC-32C residue"
    tomb = encode_delete(b"key")
    assert tomb[0] == TOMBSTONE and crc32c(tomb) == RESIDUE


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(st.tuples(KEYS, st.one_of(st.none(), VALUES)), min_size=1,
                                 max_size=4), min_size=1, max_size=8),
       cut=st.integers(min_value=0, max_value=10_000))
def test_any_truncation_is_a_torn_tail_at_a_batch_boundary(batches, cut) -> None:
    data = b""
    boundaries = [0]
    expected: list[list[bytes]] = []
    for batch in batches:
        for i, (key, value) in enumerate(batch):
            flags = MORE if i < len(batch) - 1 else 0
            data += encode_put(key, value, flags) if value is not None \
                else encode_delete(key, flags)
        boundaries.append(len(data))
        expected.append([k for k, _ in batch])
    cut = min(cut, len(data))
    records, result = scan_all(data[:cut])
    # Whole batches only: the scan stops at the last batch boundary not after the cut.
    keep = max(b for b in boundaries if b <= cut)
    assert result.valid_end == keep
    assert result.torn == (cut != keep)
    n_batches = boundaries.index(keep)
    assert [r[2] for r in records] == [k for batch in expected[:n_batches] for k in batch]


def test_damage_before_valid_data_is_corruption() -> None:
    data = bytearray(b"".join(encode_put(b"k%d" % i, b"v" * 30) for i in range(5)))
    data[OVERHEAD + 2 + 31 + 12] ^= 0x10  # inside the second record's value
    with pytest.raises(CorruptionError) as info:
        scan_all(bytes(data), "seg-x")
    assert info.value.path == "seg-x" and info.value.offset == OVERHEAD + 2 + 30


def test_segment_names_sort_in_replay_order() -> None:
    assert parse_name(segment_name(7)) == (7, 0, "data")
    assert parse_name(segment_name(7, 3)) == (7, 3, "data")
    assert parse_name("seg-000000000007-00003.hint") == (7, 3, "hint")
    assert parse_name("CAIRN-ENGINE") is None and parse_name("seg-7.data") is None


# -- hint files ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from([0, TOMBSTONE]), KEYS,
                                  st.integers(0, 1000), st.integers(OVERHEAD + 1, 500))))
def test_hint_round_trip(entries) -> None:
    hb = HintBuilder()
    for flags, key, off, n in entries:
        hb.add(flags, key, off, n)
    raw = hb.encode(2000)
    assert decode_hint(raw, 2000) == [(f, k, o, n) for f, k, o, n in entries]
    assert decode_hint(raw, 1999) is None, "a hint for another data size is not trusted"


def test_damaged_hint_is_rejected() -> None:
    hb = HintBuilder()
    hb.add(0, b"abc", 0, 20)
    raw = bytearray(hb.encode(100))
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        assert decode_hint(bytes(bad), 100) is None
    assert decode_hint(bytes(raw[:-1]), 100) is None


# -- engine: rollover, merge, hints, recovery ---------------------------------------------------
def load(db: HashEngine, n: int, rounds: int = 1, seed: int = 0) -> dict[bytes, bytes]:
    rng = random.Random(seed)
    model: dict[bytes, bytes] = {}
    for _ in range(rounds):
        for i in range(n):
            k, v = b"key%04d" % i, rng.randbytes(rng.choice((10, 60, 150)))
            db.put(k, v)
            model[k] = v
    return model


def test_rollover_merge_and_hints(tmp_path: Path) -> None:
    db = HashEngine(str(tmp_path / "db"), **SMALL)
    model = load(db, 200, rounds=3)
    for i in range(0, 200, 4):
        db.delete(b"key%04d" % i)
        model.pop(b"key%04d" % i)
    before = db.stats()
    assert before.extra["segments"] > 10, "small segments must roll over"
    assert before.extra["dead_bytes"] > before.live_bytes
    db.compact()
    after = db.stats()
    assert after.compactions == 1 and after.bytes_compacted > 0
    assert after.extra["dead_bytes"] == 0, "a full merge leaves no garbage"
    assert after.disk_bytes < before.disk_bytes / 2
    assert after.extra["hint_files"] == after.extra["merged_segments"] > 0
    assert after.write_amplification > before.write_amplification
    assert dict(db.scan()) == model
    db.close()
    path = tmp_path / "db"
    assert files(path, ".hint") and all(parse_name(n)[1] > 0 for n in files(path, ".hint"))
    db = HashEngine(str(path), **SMALL)
    st_ = db.stats()
    assert st_.extra["recovery_hints_loaded"] == after.extra["hint_files"]
    assert st_.extra["recovery_segments_scanned"] <= 1  # only the fresh active segment
    assert dict(db.scan()) == model
    assert all(db.get(k) == v for k, v in model.items())
    assert db.stats().read_amplification == 1.0, "one pread per get"
    db.close()


def test_bad_hint_falls_back_to_scanning_its_segment(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), **SMALL) as db:
        model = load(db, 100, rounds=2)
        db.compact()
    hint = path / files(path, ".hint")[0]
    flip_bit(str(hint), hint.stat().st_size // 2)
    with HashEngine(str(path), **SMALL) as db:
        assert db.stats().extra["recovery_hints_rejected"] == 1
        assert dict(db.scan()) == model


def test_tombstones_are_dropped_by_merge_and_stay_deleted(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), **SMALL) as db:
        load(db, 50)
        for i in range(50):
            db.delete(b"key%04d" % i)
        db.delete(b"never-written")  # absent: nothing to write
        db.compact()
        assert db.stats().keys == 0
        merged = [n for n in files(path, ".data") if parse_name(n)[1] > 0]
        assert sum((path / n).stat().st_size for n in merged) == 0, "nothing live to copy"
    with HashEngine(str(path), **SMALL) as db:
        assert list(db.scan()) == [] and db.get(b"key0001") is None


def test_tombstone_in_active_segment_survives_merge_of_older_ones(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), segment_size=1 << 20, merge_min_dead_bytes=0,
                    background_merge=False) as db:
        db.put(b"a", b"1")
        db.put(b"b", b"2")
        db.compact()  # a and b now live in a merged segment
        db.delete(b"a")  # the tombstone sits in the active segment, newer than the merge
        db.put(b"b", b"3")
        db.compact()
        db.delete(b"b")
    with HashEngine(str(path), background_merge=False) as db:
        assert db.get(b"a") is None and db.get(b"b") is None


def test_batches_in_segments_are_atomic_after_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), background_merge=False) as db:
        db.write_batch([Put(b"x", b"1"), Put(b"y", b"1")], sync=True)
        db.write_batch([Put(b"x", b"2"), Delete(b"y"), Put(b"z", b"2")], sync=True)
    seg = path / files(path, ".data")[-1]
    size = seg.stat().st_size
    last_batch = len(encode_put(b"x", b"2")) + len(encode_delete(b"y")) + \
        len(encode_put(b"z", b"2"))
    os.truncate(seg, size - 3)  # the batch's final record is cut
    with HashEngine(str(path), background_merge=False) as db:
        assert dict(db.scan()) == {b"x": b"1", b"y": b"1"}, "the cut batch is dropped whole"
        assert db.stats().extra["recovery_torn_bytes_truncated"] == last_batch - 3
    assert seg.stat().st_size == size - last_batch


def test_garbage_in_an_older_segment_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), **SMALL) as db:
        load(db, 100)
    first = path / files(path, ".data")[0]
    with open(first, "ab") as f:
        f.write(b"\x00garbage")  # an older, fsynced segment cannot end in a torn record
    with pytest.raises(CorruptionError) as info:
        HashEngine(str(path), **SMALL)
    assert info.value.path == str(first)


def test_get_verifies_the_record_it_reads(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with HashEngine(str(path), background_merge=False) as db:
        db.put(b"a", b"A" * 50)
        db.put(b"b", b"B" * 50, sync=True)
    seg = path / files(path, ".data")[0]
    flip_bit(str(seg), OVERHEAD + 1 + 10)  # inside a's value, which b follows
    with pytest.raises(CorruptionError):
        HashEngine(str(path), background_merge=False)  # a full scan sees it first
    # With a trusted hint the open does not read values: the get itself must catch it.
    path2 = tmp_path / "db2"
    with HashEngine(str(path2), background_merge=False) as db:
        db.put(b"a", b"A" * 50)
        db.compact()
    merged = path2 / next(n for n in files(path2, ".data") if parse_name(n)[1] > 0)
    flip_bit(str(merged), OVERHEAD + 1 + 10)
    with HashEngine(str(path2), background_merge=False) as db:
        with pytest.raises(CorruptionError) as info:
            db.get(b"a")
        assert info.value.path == str(merged) and info.value.offset == 0
        with pytest.raises(CorruptionError):
            list(db.scan())


def test_gets_read_a_memory_map_that_follows_the_file_and_merges(tmp_path: Path) -> None:
    """Reads of the flushed part of a segment slice a read-only map (no pread); the map is
    remapped as the file grows, checked like a pread, and dropped when a merge retires it."""
    from cairn.storage.hash.segment import REMAP_MIN

    rng = random.Random(7)
    model: dict[bytes, bytes] = {}
    with HashEngine(str(tmp_path / "db"), background_merge=False) as db:
        for i in range(4000):  # ~2.3 MiB: past REMAP_MIN
            model[b"k%05d" % i] = rng.randbytes(rng.randrange(400, 800))
            db.put(b"k%05d" % i, model[b"k%05d" % i])
        db.flush()
        assert all(db.get(k) == v for k, v in model.items())
        seg = db._active
        view, mapped = seg.view
        assert view is not None and REMAP_MIN <= mapped <= seg.size
        for i in range(0, 4000, 3):  # overwrite a third: the map must not serve stale values
            model[b"k%05d" % i] = b"new %d" % i
            db.put(b"k%05d" % i, model[b"k%05d" % i])
        assert all(db.get(k) == v for k, v in model.items())
        old = list(db._segments)
        db.compact()
        assert all(s.view[0] is None for s in old if s not in db._segments)
        assert all(db.get(k) == v for k, v in model.items())
    # A bit flip that the map serves is caught by the checksum, as with pread.
    path = tmp_path / "db2"
    with HashEngine(str(path), background_merge=False) as db:
        for i in range(3000):
            db.put(b"k%05d" % i, b"v" * 500)
        db.compact()
    merged = path / next(n for n in files(path, ".data") if parse_name(n)[1] > 0)
    with HashEngine(str(path), background_merge=False) as db:
        assert db.get(b"k00001") == b"v" * 500  # maps the merged segment
        flip_bit(str(merged), OVERHEAD + 6 + 10)  # inside the first record's value
        with pytest.raises(CorruptionError):
            db.get(b"k00000")


# -- recovery of interrupted merges -------------------------------------------------------------
def _merge_snapshot(tmp_path: Path) -> tuple[Path, dict[bytes, bytes], list[str], list[str]]:
    """A directory before and after a merge: (path, model, input files, output files)."""
    path = tmp_path / "db"
    with HashEngine(str(path), **SMALL) as db:
        model = load(db, 120, rounds=2, seed=3)
        db.flush()
        before = set(os.listdir(path))
        shutil.copytree(path, tmp_path / "before")
        db.compact()
        after = set(os.listdir(path))
    inputs = sorted(n for n in before - after if n.endswith(".data"))
    outputs = sorted(n for n in after - before if parse_name(n) and parse_name(n)[1] > 0)
    return path, model, inputs, outputs


def test_merge_outputs_without_commit_are_discarded(tmp_path: Path) -> None:
    path, model, inputs, outputs = _merge_snapshot(tmp_path)
    # Crash after the outputs were written, before the newest input was unlinked (commit).
    for name in inputs:
        shutil.copy(tmp_path / "before" / name, path / name)
    with HashEngine(str(path), **SMALL) as db:
        assert db.stats().extra["recovery_files_removed"] >= len(outputs)
        assert dict(db.scan()) == model
    assert not any(n in os.listdir(path) for n in outputs)


def test_committed_merge_leftovers_are_removed(tmp_path: Path) -> None:
    path, model, inputs, outputs = _merge_snapshot(tmp_path)
    # Crash after the commit (newest input gone), before the other inputs were removed.
    for name in inputs[:-1]:
        shutil.copy(tmp_path / "before" / name, path / name)
    with HashEngine(str(path), **SMALL) as db:
        assert db.stats().extra["recovery_files_removed"] >= len(inputs) - 1
        assert dict(db.scan()) == model
    assert not any(n in os.listdir(path) for n in inputs)
    assert all(n in os.listdir(path) for n in outputs)


@pytest.mark.parametrize(("seed", "target", "after"), [
    (0, "-00001.data", 0), (1, "-00001.data", 5), (2, "-00001.hint", 0),
    (3, "-00002.data", 0), (4, "-00003.data", 2), (5, "-00002.hint", 0)])
def test_torn_write_during_merge_loses_nothing(tmp_path: Path, seed: int, target: str,
                                               after: int) -> None:
    fs = FaultyFileSystem()
    path = str(tmp_path / "db")
    db = open_engine("hash", path, fs=fs, **SMALL)
    model = load(db, 150, rounds=2, seed=seed)
    db.put(b"durable", b"yes", sync=True)
    model[b"durable"] = b"yes"
    # Tear one of the merge's writes: to an output segment or to its hint file.
    fs.add("torn_write", path_contains=target, after=after, keep=seed * 7)
    with pytest.raises(SimulatedCrash):
        db.compact()
    with pytest.raises(SimulatedCrash):
        db.put(b"after", b"x")  # read-only now: the crash is remembered
    fs.crash(seed)
    with open_engine("hash", path, **SMALL) as db:
        assert dict(db.scan()) == model


@pytest.mark.parametrize("seed", range(6))
def test_power_loss_at_any_point_of_a_merge(tmp_path: Path, seed: int) -> None:
    fs = FaultyFileSystem()
    path = str(tmp_path / "db")
    db = open_engine("hash", path, fs=fs, **SMALL)
    model = load(db, 150, rounds=2, seed=seed)
    db.put(b"last", b"sync", sync=True)
    model[b"last"] = b"sync"
    # Die on the n-th write from here on, all of them the merge's (a torn write of 0 bytes
    # is a clean cut); the last seeds let the merge finish before the power goes.
    fs.add("torn_write", after=seed * 40, keep=0)
    with contextlib.suppress(SimulatedCrash):
        db.compact()
    fs.crash(seed)
    with open_engine("hash", path, **SMALL) as db:
        assert dict(db.scan()) == model


def test_failed_fsync_during_merge_makes_the_engine_read_only(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    path = str(tmp_path / "db")
    db = open_engine("hash", path, fs=fs, **SMALL)
    model = load(db, 100, rounds=2)
    db.flush()
    fs.add("fsync_error", path_contains="-00001.data")
    with pytest.raises(StorageError):
        db.compact()
    with pytest.raises(StorageError):
        db.put(b"k", b"v")
    assert db.get(b"key0001") == model[b"key0001"], "reads still work"
    db.close()
    with open_engine("hash", path, **SMALL) as db:
        assert dict(db.scan()) == model


# -- concurrency and the background merge -------------------------------------------------------
def test_background_merge_runs_beside_readers_and_writers(tmp_path: Path) -> None:
    db = HashEngine(str(tmp_path / "db"), segment_size=4096, merge_min_dead_bytes=0,
                    merge_dead_ratio=0.3, merge_interval=0.005)
    model: dict[bytes, bytes] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(t: int) -> None:
        rng = random.Random(t)
        try:
            for i in range(1500):
                k = b"t%d-%03d" % (t, rng.randrange(100))
                v = b"%d" % i * rng.randrange(1, 20)
                with lock:  # keep the model in the engine's order for this key space
                    db.put(k, v)
                    model[k] = v
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                with lock:
                    expected = dict(model)
                for k in expected:  # keys are never deleted here, so each must be found
                    got = db.get(k)
                    assert got is not None and len(got) > 0
                seen = [k for k, _ in db.scan()]
                assert seen == sorted(seen)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads[:3]:
        t.join()
    deadline = time.monotonic() + 10
    while db.stats().compactions == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    threads[3].join()
    assert not errors, errors
    st_ = db.stats()
    assert st_.compactions > 0, "the merge thread never ran"
    assert dict(db.scan()) == model
    db.close()
    with HashEngine(str(tmp_path / "db"), background_merge=False) as db:
        assert dict(db.scan()) == model


def test_scan_snapshot_survives_a_merge(tmp_path: Path) -> None:
    with HashEngine(str(tmp_path / "db"), **SMALL) as db:
        model = load(db, 200, rounds=2)
        it = db.scan()
        first = next(it)
        db.compact()  # swaps every segment while the scan is half done
        for i in range(200):
            db.put(b"key%04d" % i, b"new")
        rest = list(it)
        assert dict([first, *rest]) == model, "the scan sees its snapshot, not the new writes"
        assert db.get(b"key0000") == b"new"
        assert db._retired == []  # the pinned inputs were closed when the scan ended


def test_background_error_makes_writes_raise_it(tmp_path: Path) -> None:
    fs = FaultyFileSystem()
    db = open_engine("hash", str(tmp_path / "db"), fs=fs, segment_size=1024,
                     merge_min_dead_bytes=0, merge_max_segments=2, merge_interval=0.005)
    fs.add("torn_write", path_contains="-00001.data")
    with pytest.raises(SimulatedCrash):
        for i in range(100_000):
            db.put(b"k%03d" % (i % 50), b"v" * 100)
    assert db.stats().extra["read_only_error"] is not None
    with contextlib.suppress(SimulatedCrash):
        db.close()


def test_group_commit_gathers_concurrent_durable_writers(tmp_path: Path) -> None:
    db = HashEngine(str(tmp_path / "db"), background_merge=False, commit_delay=0.002)
    barrier = threading.Barrier(6)

    def writer(t: int) -> None:
        barrier.wait()
        for i in range(30):
            db.put(b"w%d-%02d" % (t, i), b"x", sync=True)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st_ = db.stats()
    assert st_.commits == 180
    assert st_.commits_per_fsync > 2.0, st_.to_dict()
    assert len(list(db.scan())) == 180
    db.close()


def test_options_are_validated(tmp_path: Path) -> None:
    for bad in ({"segment_size": 10}, {"merge_dead_ratio": 0}, {"merge_max_segments": 1},
                {"merge_interval": 0}, {"commit_delay": -1}, {"max_key_size": 0}):
        with pytest.raises(StorageError):
            HashEngine(str(tmp_path / "db"), **bad)  # type: ignore[arg-type]


def test_stats_explain_the_engine(tmp_path: Path) -> None:
    with HashEngine(str(tmp_path / "db"), **SMALL) as db:
        for i in range(100):
            db.put(b"k%03d" % i, b"v" * 40)
        for i in range(50):
            db.put(b"k%03d" % i, b"w" * 40)
        db.get(b"k001")
        db.get(b"absent")
        st_ = db.stats()
        assert st_.keys == 100 and st_.live_bytes == 100 * (4 + 40)
        assert st_.extra["dead_bytes"] == 50 * (OVERHEAD + 4 + 40)
        assert st_.extra["live_record_bytes"] == 100 * (OVERHEAD + 44)
        assert st_.disk_bytes == st_.extra["data_bytes"] == 150 * (OVERHEAD + 44)
        assert st_.gets == 2 and st_.read_units == 1
        assert st_.user_bytes_written == 150 * 44
        assert round(st_.space_amplification, 3) == round(150 * 57 / (100 * 44), 3)


def test_sorted_key_cache_follows_the_key_set(tmp_path: Path) -> None:
    with HashEngine(str(tmp_path / "db"), background_merge=False) as db:
        for i in range(0, 100, 2):
            db.put(b"%03d" % i, b"a")
        assert [k for k, _ in db.scan(b"010", b"016")] == [b"010", b"012", b"014"]
        cached = db._sorted_keys
        db.put(b"012", b"b")  # an overwrite keeps the key set, and so the sorted keys
        assert db._sorted_keys is cached
        assert list(db.scan(b"012", b"013")) == [(b"012", b"b")]
        db.put(b"013", b"c")  # a new key
        db.write_batch([Delete(b"010"), Put(b"011", b"d")])
        assert [k for k, _ in db.scan(b"010", b"016")] == [b"011", b"012", b"013", b"014"]
        assert [k for k, _ in db.scan(b"010", b"016", reverse=True)] == \
            [b"014", b"013", b"012", b"011"]
        db.delete(b"013")
        assert [k for k, _ in db.scan(b"012", b"015")] == [b"012", b"014"]
        assert len(list(db.scan())) == 50


OPS = st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f"]),
                         st.one_of(st.none(), st.binary(max_size=300))), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.one_of(st.tuples(st.just("batch"), OPS, st.booleans()),
                                st.tuples(st.just("compact"), st.just([]), st.just(False))),
                      min_size=1, max_size=25),
       crash_seed=st.integers(0, 1000))
def test_power_loss_recovers_a_prefix_with_every_acknowledged_batch(tmp_path_factory, steps,
                                                                    crash_seed) -> None:
    path = str(tmp_path_factory.mktemp("db") / "db")
    fs = FaultyFileSystem()
    db = open_engine("hash", path, fs=fs, segment_size=600, merge_min_dead_bytes=0,
                     background_merge=False)
    model: dict[bytes, bytes] = {}
    prefixes = [dict(model)]
    acked = 0
    for kind, ops, sync in steps:
        if kind == "compact":
            db.compact()
            continue
        db.write_batch([Put(k, v) if v is not None else Delete(k) for k, v in ops], sync=sync)
        for k, v in ops:
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        prefixes.append(dict(model))
        if sync:
            acked = len(prefixes) - 1
    fs.crash(crash_seed)
    with open_engine("hash", path, background_merge=False) as db:
        state = dict(db.scan())
        matches = [i for i, p in enumerate(prefixes) if p == state]
        assert matches and max(matches) >= acked, (state, acked)


def test_zero_filled_and_random_tails_are_torn_not_corrupt() -> None:
    good = b"".join(encode_put(b"k%04d" % i, bytes(i % 7) + b"v") for i in range(200))
    for tail in (bytes(100_000), os.urandom(100_000), bytes(999) + b"\x01" + bytes(999)):
        records, result = scan_all(good + tail)
        assert len(records) == 200 and result.torn and result.valid_end == len(good)
    # ... but a valid record after the damage, even one full of zeros, is corruption.
    for rec in (encode_put(b"z", bytes(40)), encode_delete(b"\x00\x01"),
                encode_put(b"\x00" * 300, b"")):
        with pytest.raises(CorruptionError) as info:
            scan_all(good + bytes(3000) + rec)
        assert info.value.offset == len(good)
