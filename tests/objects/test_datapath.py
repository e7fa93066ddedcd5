"""The large-object data path: stripe buffers reused across writes without mixing bytes,
frames written straight from the caller's buffer, background hashing that keeps byte order,
reads handed out as views (no joined stripes), and the write-back hint."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.objects import errors, shardfile
from cairn.objects.body import VerifyingReader, _HashLane
from cairn.objects.datapath import BufferPool
from cairn.objects.drives import LocalDrive, start_writeback
from cairn.objects.erasure import ReedSolomon
from cairn.objects.store import ObjectStore

from .conftest import STRIPE, make_store


class Chunks(io.RawIOBase):
    """A body that arrives in the given chunk sizes (as a socket delivers it)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, list(sizes), 0

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        step = self.sizes.pop(0) if self.sizes else len(self.data)
        step = min(step, n) if n >= 0 else step
        out = self.data[self.pos: self.pos + step]
        self.pos += len(out)
        return out


def test_buffer_pool_reuses_and_bounds() -> None:
    pool = BufferPool(1024, keep=2)
    a, b, c = pool.get(), pool.get(), pool.get()
    for buf in (a, b, c):
        pool.put(buf)
    assert pool.get() is not pool.get()  # two kept, distinct
    assert len(pool.get()) == 1024  # the third was dropped: a fresh one
    pool.put(bytearray(10))  # the wrong size is never kept
    assert all(len(pool.get()) == 1024 for _ in range(3))


def test_reused_stripe_buffers_never_mix_objects(store: ObjectStore) -> None:
    """Many objects of odd sizes through the store's shared buffers, written while earlier
    stripes are still being encoded: every object reads back byte for byte."""
    bodies = {f"k{i}": os.urandom(i * STRIPE // 3 + i) for i in range(1, 12)}
    for key, body in bodies.items():
        store.put_object("bkt", key, Chunks(body, [1000, 70000, 5]), len(body))
    for key, body in bodies.items():
        assert store.get_object("bkt", key) == body
        assert store.head_object("bkt", key).etag == f'"{hashlib.md5(body).hexdigest()}"'


def test_failed_stripe_releases_its_buffer_and_leaves_nothing(tmp_path: Path) -> None:
    from cairn.storage.faults import FaultyFileSystem

    fs = FaultyFileSystem()
    drives = [LocalDrive(str(tmp_path / "drives" / f"d{i}"), f"d{i}", fs=fs) for i in range(6)]
    s = ObjectStore(str(tmp_path), drives, stripe_size=STRIPE, inline_max=0)
    s.create_bucket("bk1")
    fs.add("write_error", "/tmp/", times=10**9)
    with pytest.raises(errors.InsufficientStorage):
        s.put_object("bk1", "big", os.urandom(5 * STRIPE))
    fs.faults.clear()
    body = os.urandom(3 * STRIPE + 1)
    s.put_object("bk1", "after", body)  # the pool's buffers are fine for the next write
    assert s.get_object("bk1", "after") == body
    assert [p for p in tmp_path.rglob("*.tmp") if "drives" in p.parts] == []
    s.close()


def test_even_split_shares_memory_and_padded_split_copies() -> None:
    rs = ReedSolomon(4, 2)
    data = bytearray(os.urandom(4096))
    shards = rs.encode(data)
    assert isinstance(shards[0], memoryview) and shards[0].obj is data
    assert b"".join(shards[:4]) == bytes(data)
    assert [bytes(s) for s in rs.encode(bytes(data))] == [bytes(s) for s in shards]
    odd = rs.encode(os.urandom(4097))
    assert all(isinstance(s, bytes) and len(s) == 1025 for s in odd)


def test_frame_crc_matches_pack_frame() -> None:
    payload = os.urandom(1000)
    assert shardfile.frame_crc(memoryview(payload)) + payload == shardfile.pack_frame(payload)


def test_reads_are_views_of_at_most_one_frame(store: ObjectStore) -> None:
    data = os.urandom(3 * STRIPE + 17)
    store.put_object("bkt", "v", data)
    _, start, end, stream = store.open_object("bkt", "v", (5, 3 * STRIPE + 3))
    assert (start, end) == (5, 3 * STRIPE + 4)
    chunks = list(stream)
    assert b"".join(chunks) == data[5: 3 * STRIPE + 4]
    assert max(len(c) for c in chunks) <= STRIPE // 4  # one shard frame each
    assert any(isinstance(c, memoryview) for c in chunks)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 300_000), min_size=1, max_size=30),
       background=st.booleans())
def test_background_hashing_keeps_byte_order(sizes: list[int], background: bool) -> None:
    """Chunks of any sizes, batched to the lane's thread (or hashed inline): the digests equal
    one-shot hashes of the whole body."""
    data = os.urandom(sum(sizes))
    sha, md5 = hashlib.sha256(), hashlib.md5()
    lane = _HashLane(background)
    pos = 0
    for n in sizes:
        lane.update([sha, md5], data[pos: pos + n])
        pos += n
    lane.close()
    assert sha.digest() == hashlib.sha256(data).digest()
    assert md5.digest() == hashlib.md5(data).digest()


def test_verifying_reader_checks_after_background_hashing() -> None:
    data = os.urandom(3 * 1024 * 1024 + 11)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    good = VerifyingReader(Chunks(data, [200_000] * 100), len(data),
                           hashlib.sha256(data).hexdigest(), None, {"crc32": crc})
    while good.read(1 << 20):
        pass
    assert good.computed["crc32"] == crc
    assert good._lane.background  # a large body is hashed off the request thread
    small = VerifyingReader(Chunks(b"abc", [3]), 3, None, None, {})
    assert not small._lane.background and small.read(10) == b"abc"
    bad = VerifyingReader(Chunks(data, [200_000] * 100), len(data),
                          hashlib.sha256(data + b"x").hexdigest(), None, {})
    with pytest.raises(errors.S3Error, match="x-amz-content-sha256"):
        while bad.read(1 << 20):
            pass


def test_start_writeback_is_a_harmless_hint(tmp_path: Path) -> None:
    path = tmp_path / "f"
    with open(path, "wb") as fh:
        fh.write(os.urandom(1 << 20))
        fh.flush()
        started = start_writeback(fh.fileno())
    assert started == (os.uname().sysname == "Linux")
    assert path.stat().st_size == 1 << 20
    assert start_writeback(10**6) is False  # a bad descriptor is not an exception


def test_larger_stripes_round_trip_through_the_pool(tmp_path: Path) -> None:
    s = make_store(tmp_path, stripe_size=STRIPE * 2)
    s.create_bucket("bk1")
    body = os.urandom(5 * STRIPE)
    s.put_object("bk1", "k", body)
    assert s.get_object("bk1", "k") == body
    s.close()
