"""The object store end to end below HTTP: put/get/delete/list, ranges, preconditions,
overwrite and delete garbage, degraded reads with m drives gone, bit rot, concurrency."""

from __future__ import annotations

import io
import os
import random
import shutil
import threading
from pathlib import Path

import pytest

from cairn.objects import errors
from cairn.objects.drives import LocalDrive
from cairn.objects.store import ObjectStore

from .conftest import STRIPE, make_store


def blobs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "drives").rglob("*") if p.is_file() and "blobs" in p.parts)


def test_put_get_roundtrip_sizes(store: ObjectStore) -> None:
    for size in [0, 1, 3, 4, 5, STRIPE - 1, STRIPE, STRIPE + 1, 5 * STRIPE + 123]:
        data = os.urandom(size)
        rec = store.put_object("bkt", f"k{size}", data, content_type="text/plain",
                               user_meta={"a": "b"})
        assert rec.size == size
        import hashlib
        assert rec.etag == f'"{hashlib.md5(data).hexdigest()}"'
        assert store.get_object("bkt", f"k{size}") == data
        head = store.head_object("bkt", f"k{size}")
        assert head.content_type == "text/plain" and head.user_meta == {"a": "b"}


def test_streamed_body_and_length_mismatch(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(3 * STRIPE + 7)
    store.put_object("bkt", "s", io.BytesIO(data), len(data))
    assert store.get_object("bkt", "s") == data
    before = len(blobs(tmp_path))
    with pytest.raises(errors.InvalidArgument, match="declared"):
        store.put_object("bkt", "short", io.BytesIO(b"abc"), 10)
    assert len(blobs(tmp_path)) == before  # nothing left behind
    with pytest.raises(errors.NoSuchKey):
        store.head_object("bkt", "short")


def test_ranges(store: ObjectStore) -> None:
    data = os.urandom(4 * STRIPE + 99)
    store.put_object("bkt", "r", data)
    rng = random.Random(1)
    for _ in range(40):
        a = rng.randrange(len(data))
        b = rng.randrange(a, len(data) + 50)
        assert store.get_object("bkt", "r", (a, b)) == data[a: b + 1]
    assert store.get_object("bkt", "r", (None, 10)) == data[-10:]
    assert store.get_object("bkt", "r", (5, None)) == data[5:]
    with pytest.raises(errors.InvalidRange):
        store.get_object("bkt", "r", (len(data), None))


def test_overwrite_and_delete_reclaim_shards(store: ObjectStore, tmp_path: Path) -> None:
    store.put_object("bkt", "k", b"one" * 1000)
    first = len(blobs(tmp_path))
    assert first == 6
    store.put_object("bkt", "k", b"two" * 1000)
    assert store.get_object("bkt", "k") == b"two" * 1000
    assert len(blobs(tmp_path)) == 12  # old data waits in the GC queue
    assert store.collect_garbage() == 6
    assert len(blobs(tmp_path)) == 6
    store.delete_object("bkt", "k")
    store.delete_object("bkt", "k")  # idempotent
    with pytest.raises(errors.NoSuchKey):
        store.get_object("bkt", "k")
    assert store.collect_garbage() == 6 and blobs(tmp_path) == []


def test_gc_grace_keeps_recent_garbage(tmp_path: Path) -> None:
    s = make_store(tmp_path, gc_grace=3600.0)
    s.create_bucket("bk1")
    s.put_object("bk1", "k", b"x")
    s.put_object("bk1", "k", b"y")
    assert s.collect_garbage() == 0  # inside the safety window
    assert s.collect_garbage(now_ns=2**62) == 6
    assert s.get_object("bk1", "k") == b"y"
    s.close()


def test_orphans_are_collected_only_after_the_window(tmp_path: Path) -> None:
    s = make_store(tmp_path, orphan_window=3600.0)
    s.create_bucket("bk1")
    s.put_object("bk1", "live", b"keep me")
    w = s.write_data(b"never committed")  # a write whose commit never happened (crash)
    w.finish()
    assert len(blobs(tmp_path)) == 12
    assert s.collect_orphans() == 0  # could be a write in flight
    assert s.collect_orphans(now_ns=2**62) == 6
    assert s.get_object("bk1", "live") == b"keep me"
    s.close()


def test_preconditions(store: ObjectStore) -> None:
    rec = store.put_object("bkt", "c", b"v1", if_none_match="*")
    with pytest.raises(errors.PreconditionFailed):
        store.put_object("bkt", "c", b"v2", if_none_match="*")
    with pytest.raises(errors.PreconditionFailed):
        store.put_object("bkt", "c", b"v2", if_match='"nope"')
    store.put_object("bkt", "c", b"v3", if_match=rec.etag)
    assert store.get_object("bkt", "c") == b"v3"


def test_buckets(store: ObjectStore) -> None:
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        store.create_bucket("bkt")
    for bad in ["A", "ab", "a..b", "192.168.0.1", "-ab", "x" * 64, "xn--abc"]:
        with pytest.raises(errors.InvalidBucketName):
            store.create_bucket(bad)
    store.put_object("bkt", "k", b"x")
    with pytest.raises(errors.BucketNotEmpty):
        store.delete_bucket("bkt")
    store.delete_object("bkt", "k")
    store.delete_bucket("bkt")
    with pytest.raises(errors.NoSuchBucket):
        store.put_object("bkt", "k", b"x")
    assert store.list_buckets() == []


def test_hostile_keys(store: ObjectStore, tmp_path: Path) -> None:
    for key in ["../../etc/passwd", "a/../../b", "/abs", "k" * 1024, "ü/∂/😀"]:
        store.put_object("bkt", key, key.encode())
        assert store.get_object("bkt", key) == key.encode()
    with pytest.raises(errors.KeyTooLongError):
        store.put_object("bkt", "k" * 1025, b"")
    with pytest.raises(errors.InvalidArgument):
        store.put_object("bkt", "a\x00b", b"")
    with pytest.raises(errors.InvalidArgument):
        store.put_object("bkt", "bad\udcff", b"")
    outside = [p for p in tmp_path.parent.rglob("passwd")]
    assert outside == []


def test_reads_survive_losing_any_m_drives(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bk1")
    objs = {f"o{i}": os.urandom(random.Random(i).randrange(1, 3 * STRIPE)) for i in range(8)}
    for k, v in objs.items():
        s.put_object("bk1", k, v)
    for lost in [(0, 1), (2, 5), (3, 4)]:
        for i in lost:
            shutil.move(str(tmp_path / "drives" / f"d{i}"), str(tmp_path / f"away{i}"))
        for k, v in objs.items():
            assert s.get_object("bk1", k) == v
        for i in lost:
            shutil.move(str(tmp_path / f"away{i}"), str(tmp_path / "drives" / f"d{i}"))
    assert s.stats.degraded_reads > 0 and s.heal_queue
    # A third drive gone: too few shards, a clean error rather than wrong bytes.
    for i in (0, 1, 2):
        shutil.rmtree(tmp_path / "drives" / f"d{i}")
    with pytest.raises(errors.ServiceUnavailable):
        s.get_object("bk1", "o0")
    s.close()


def test_writes_continue_with_a_drive_down_and_fail_below_quorum(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bk1")
    shutil.move(str(tmp_path / "drives" / "d0"), str(tmp_path / "away0"))
    data = os.urandom(2 * STRIPE)
    s.put_object("bk1", "k", data)  # 5 of 6 shards >= the write quorum of k=4
    ref = s.head_object("bk1", "k").parts[0]
    assert "d0" not in ref.drives and ref.drives.count(None) == 1
    assert ref.data_id in s.heal_queue
    assert s.get_object("bk1", "k") == data
    for i in (1, 2):
        shutil.move(str(tmp_path / "drives" / f"d{i}"), str(tmp_path / f"away{i}"))
    with pytest.raises(errors.ServiceUnavailable, match="quorum"):
        s.put_object("bk1", "k2", data)
    for i in (0, 1, 2):
        shutil.move(str(tmp_path / f"away{i}"), str(tmp_path / "drives" / f"d{i}"))
    with pytest.raises(errors.NoSuchKey):
        s.head_object("bk1", "k2")
    assert s.get_object("bk1", "k") == data
    s.close()


def test_bit_rot_is_detected_and_never_returned(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bk1")
    data = os.urandom(3 * STRIPE + 5)
    s.put_object("bk1", "k", data)
    rng = random.Random(3)
    # Two corrupt data shards (a healthy read never looks at parity): still within m.
    files = [p for p in blobs(tmp_path) if p.name.endswith((".0", ".2"))]
    for victim in files:
        raw = bytearray(victim.read_bytes())
        pos = rng.randrange(len(raw))
        raw[pos] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(raw))
    assert s.get_object("bk1", "k") == data
    assert s.stats.shard_problems.get("corrupt", 0) >= 1
    s.close()


def test_concurrent_writers_produce_one_whole_object(store: ObjectStore) -> None:
    bodies = [bytes([i]) * (2 * STRIPE + i) for i in range(6)]
    barrier = threading.Barrier(len(bodies))

    def put(b: bytes) -> None:
        barrier.wait()
        store.put_object("bkt", "hot", b)

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_object("bkt", "hot") in bodies
    store.collect_garbage()
    assert store.get_object("bkt", "hot") in bodies


def test_reopen_sees_committed_objects(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bk1")
    s.put_object("bk1", "k", b"durable")
    s.close()
    s2 = make_store(tmp_path)
    assert s2.get_object("bk1", "k") == b"durable"
    s2.close()


def test_full_drive_is_a_clean_error(tmp_path: Path) -> None:
    from cairn.storage.faults import FaultyFileSystem

    fs = FaultyFileSystem()
    drives = [LocalDrive(str(tmp_path / "drives" / f"d{i}"), f"d{i}", fs=fs) for i in range(6)]
    s = ObjectStore(str(tmp_path), drives, stripe_size=STRIPE)
    s.create_bucket("bk1")
    s.put_object("bk1", "ok", b"before")
    fs.add("write_error", "/tmp/", times=10**9)  # every blob write: ENOSPC
    with pytest.raises(errors.InsufficientStorage):
        s.put_object("bk1", "big", os.urandom(STRIPE))
    fs.faults.clear()
    assert [p for p in tmp_path.rglob("*.tmp") if "drives" in p.parts] == []
    assert s.get_object("bk1", "ok") == b"before"
    with pytest.raises(errors.NoSuchKey):
        s.head_object("bk1", "big")
    s.close()


def test_small_objects_are_inlined_in_their_record(tmp_path: Path) -> None:
    s = make_store(tmp_path, inline_max=1024)
    s.create_bucket("bk1")
    for size in (0, 1, 1024):
        data = os.urandom(size)
        rec = s.put_object("bk1", f"k{size}", io.BytesIO(data), size)
        assert rec.parts == () and s.get_object("bk1", f"k{size}") == data
        if size:
            assert s.get_object("bk1", f"k{size}", (size - 1, None)) == data[-1:]
    big = os.urandom(1025)
    assert s.put_object("bk1", "big", io.BytesIO(big), None).parts
    assert s.get_object("bk1", "big") == big
    assert len(blobs(tmp_path)) == 6  # only the 1025-byte object has shards
    with pytest.raises(errors.InvalidArgument):
        s.put_object("bk1", "short", io.BytesIO(b"abc"), 10)
    s.put_object("bk1", "k1", b"overwrite")  # inline over inline: nothing to collect
    assert s.collect_garbage() == 0 and s.get_object("bk1", "k1") == b"overwrite"
    s.close()
