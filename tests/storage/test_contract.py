"""The Engine contract, for every engine kind (tests/storage/kinds.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cairn.storage import (
    Delete,
    EngineClosedError,
    EngineMismatchError,
    InvalidKeyError,
    InvalidValueError,
    Put,
    StorageError,
    open_engine,
)
from cairn.storage.directory import claim_directory
from cairn.storage.fileio import REAL_FS
from cairn.storage.limits import MAX_VALUE_SIZE

from .kinds import ESTIMATED_KEY_COUNT, KINDS

pytestmark = pytest.mark.parametrize("kind", KINDS)


def test_put_get_delete(kind, make_engine):
    db = make_engine(kind)
    assert db.get(b"a") is None
    db.put(b"a", b"1")
    db.put(b"b", b"")
    assert db.get(b"a") == b"1"
    assert db.get(b"b") == b"", "an empty value is a value"
    db.put(b"a", b"2")
    assert db.get(b"a") == b"2"
    db.delete(b"a")
    assert db.get(b"a") is None
    db.delete(b"never-there")  # deleting an absent key is fine
    assert db.get(b"b") == b""


def test_bad_keys_and_values_are_refused(kind, make_engine):
    db = make_engine(kind)
    db.put(b"keep", b"me")
    for key in [b"", "str", None, 5, bytearray(b"x"), b"k" * (db.max_key_size + 1)]:
        with pytest.raises(InvalidKeyError):
            db.put(key, b"v")  # type: ignore[arg-type]
        with pytest.raises(InvalidKeyError):
            db.get(key)  # type: ignore[arg-type]
    for value in ["str", None, 1.5, memoryview(b"x")]:
        with pytest.raises(InvalidValueError):
            db.put(b"k", value)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        db.put(b"k", b"x" * (MAX_VALUE_SIZE + 1))
    # A batch with one bad op is refused as a whole, before anything is written.
    with pytest.raises(StorageError):
        db.write_batch([Put(b"k1", b"v1"), Put(b"", b"v2")])
    with pytest.raises(StorageError):
        db.write_batch([("put", b"k1", b"v1"), ("frobnicate", b"k2")])
    assert db.get(b"k1") is None
    assert db.get(b"keep") == b"me"


def test_large_value_round_trips(kind, make_engine, tmp_path):
    db = make_engine(kind)
    big = os.urandom(3 * 1024 * 1024 + 17)
    db.put(b"big", big, sync=True)
    db.put(b"small", b"s")
    assert db.get(b"big") == big
    db.close()
    db = make_engine(kind)
    assert db.get(b"big") == big
    assert db.get(b"small") == b"s"


def test_write_batch_in_order_last_wins(kind, make_engine):
    db = make_engine(kind)
    db.put(b"x", b"old")
    db.write_batch([Put(b"a", b"1"), Put(b"b", b"2"), Delete(b"x"), Put(b"a", b"3"),
                    ("put", b"c", b"4"), ("delete", b"b")])
    assert db.get(b"a") == b"3"
    assert db.get(b"b") is None
    assert db.get(b"c") == b"4"
    assert db.get(b"x") is None
    db.write_batch([])  # empty batch: nothing happens
    assert db.get(b"a") == b"3"


def test_scan_bounds_order_and_reverse(kind, make_engine):
    db = make_engine(kind)
    keys = [b"%03d" % i for i in range(0, 300, 3)]
    for k in reversed(keys):
        db.put(k, k + b"!")
    db.delete(b"150")
    live = [k for k in keys if k != b"150"]
    assert [k for k, _ in db.scan()] == live
    assert all(v == k + b"!" for k, v in db.scan())
    assert [k for k, _ in db.scan(b"100", b"200")] == [k for k in live if b"100" <= k < b"200"]
    assert [k for k, _ in db.scan(b"101", b"105")] == [b"102"]
    assert [k for k, _ in db.scan(b"100", b"200", reverse=True)] == \
        [k for k in reversed(live) if b"100" <= k < b"200"]
    assert [k for k, _ in db.scan(None, b"010")] == [b"000", b"003", b"006", b"009"]
    assert [k for k, _ in db.scan(b"290")] == [b"291", b"294", b"297"]
    assert list(db.scan(b"5", b"4")) == []
    assert [k for k, _ in db.scan(reverse=True)] == list(reversed(live))


def test_reopen_keeps_everything(kind, make_engine):
    db = make_engine(kind)
    expected = {}
    for i in range(2000):
        k, v = b"key-%05d" % (i * 7919 % 2000), b"v%d" % i
        db.put(k, v)
        expected[k] = v
    for i in range(0, 2000, 5):
        k = b"key-%05d" % i
        db.delete(k)
        expected.pop(k)
    db.close()
    db = make_engine(kind)
    assert dict(db.scan()) == expected
    assert db.get(b"key-00000") is None
    assert db.get(b"key-00001") == expected[b"key-00001"]
    db.compact()
    assert dict(db.scan()) == expected
    db.close()
    db = make_engine(kind)
    assert dict(db.scan()) == expected


def test_closed_engine_refuses_work(kind, make_engine):
    db = make_engine(kind)
    db.put(b"a", b"1")
    db.close()
    db.close()  # idempotent
    for call in (lambda: db.get(b"a"), lambda: db.put(b"a", b"2"), lambda: db.delete(b"a"),
                 lambda: list(db.scan()), lambda: db.write_batch([Put(b"a", b"3")])):
        with pytest.raises(EngineClosedError):
            call()


def test_refuses_other_engines_and_garbage(kind, tmp_path: Path):
    other = "log" if kind != "log" else "hash"
    if other in KINDS:
        with open_engine(other, str(tmp_path / "other")) as db:
            db.put(b"a", b"1", sync=True)
    else:  # the other engine's marker, as it would write it
        claim_directory(REAL_FS, str(tmp_path / "other"), other, 1)
        (tmp_path / "other" / "data").write_bytes(b"precious")
    before = {p.name: p.read_bytes() for p in (tmp_path / "other").iterdir()}
    with pytest.raises(EngineMismatchError, match=other):
        open_engine(kind, str(tmp_path / "other"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "other").iterdir()} == before

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "thesis.txt").write_text("do not delete")
    with pytest.raises(EngineMismatchError, match="not empty"):
        open_engine(kind, str(junk))
    assert (junk / "thesis.txt").read_text() == "do not delete"
    assert [p.name for p in junk.iterdir()] == ["thesis.txt"]

    afile = tmp_path / "afile"
    afile.write_bytes(b"x")
    with pytest.raises(EngineMismatchError):
        open_engine(kind, str(afile))


def test_concurrent_writers_and_readers(kind, make_engine):
    db = make_engine(kind)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(300):
                db.put(b"t%d-%04d" % (t, i), b"%d" % i, sync=(i % 50 == 0))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(5):
                seen = [k for k, _ in db.scan()]
                assert seen == sorted(seen)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(list(db.scan())) == 1200
    assert db.get(b"t3-0299") == b"299"


def test_group_commit_shares_fsyncs(kind, make_engine):
    db = make_engine(kind)
    barrier = threading.Barrier(8)

    def writer(t: int) -> None:
        barrier.wait()
        for i in range(40):
            db.put(b"w%d-%03d" % (t, i), b"x" * 100, sync=True)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = db.stats()
    assert st.commits >= 320
    assert st.fsyncs < st.commits, "concurrent durable writers must share fsyncs"
    assert st.commits_per_fsync > 1.0


def test_stats_are_meaningful(kind, make_engine):
    db = make_engine(kind)
    for i in range(500):
        db.put(b"k%04d" % i, b"v" * 50)
    for i in range(100):
        db.put(b"k%04d" % i, b"w" * 50)  # overwrites: dead bytes somewhere
    db.put(b"durable", b"d", sync=True)
    db.flush()
    for i in range(50):
        db.get(b"k%04d" % i)
    st = db.stats()
    d = st.to_dict()
    assert st.engine == kind
    if kind not in ESTIMATED_KEY_COUNT:
        assert st.keys == 501
    assert st.live_bytes == 500 * (5 + 50) + len(b"durable") + 1
    assert st.user_bytes_written == 600 * 55 + 8
    assert st.disk_bytes > 0 and st.disk_bytes_written > 0
    assert st.puts >= 601 and st.gets >= 50
    assert st.read_amplification > 0
    assert st.write_amplification > 0 and st.space_amplification > 0
    assert st.fsyncs >= 1 and st.commits >= 1
    for field in ("write_amplification", "read_amplification", "space_amplification",
                  "commits_per_fsync", "extra"):
        assert field in d
