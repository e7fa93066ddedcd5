"""The memtable's lazy range scans: nothing is copied when a scan starts, yet a scan sees the
memtable as it was when it started (overwrites, deletes and inserts made later are invisible),
and the key order is kept incrementally rather than re-sorted after every write."""

from __future__ import annotations

import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.storage import open_engine
from cairn.storage.lsm.memtable import RECENT_MIN, MemTable, RangeSnapshot

KEYS = st.binary(min_size=1, max_size=3)


def test_scan_shares_the_sorted_key_lists_instead_of_copying() -> None:
    m = MemTable()
    for i in range(5000):
        m.put(b"k%05d" % i, b"v")
    base, _ = m._ordered()
    snap = m.range_items(b"k01000", b"k02000")
    assert snap._base is base  # no copy of keys, and no values read yet
    assert len(snap) == 1000 and snap._saved == {}
    assert [k for k, _ in snap][:2] == [b"k01000", b"k01001"]


def test_snapshot_ignores_later_overwrites_deletes_and_inserts() -> None:
    m = MemTable()
    for k in (b"a", b"b", b"c", b"d"):
        m.put(k, k.upper())
    snap = m.range_items(b"b", None)
    m.put(b"b", b"new")
    m.put(b"b", b"newer")  # the first value saved wins: the one the scan started with
    m.data[b"c"] = None  # the engine's own fast path writes the dict directly
    m.put(b"bb", b"inserted")
    m.put(b"a", b"outside the range")
    assert list(snap) == [(b"b", b"B"), (b"c", b"C"), (b"d", b"D")]
    assert list(m.range_items(b"b", None)) == [(b"b", b"newer"), (b"bb", b"inserted"),
                                                (b"c", None), (b"d", b"D")]


def test_reverse_iteration_and_equality_with_lists() -> None:
    m = MemTable()
    for k in (b"x", b"a", b"m"):
        m.put(k, b"1")
    snap = m.range_items(None, b"y")
    assert snap == [(b"a", b"1"), (b"m", b"1"), (b"x", b"1")]
    assert list(reversed(snap)) == [(b"x", b"1"), (b"m", b"1"), (b"a", b"1")]
    assert not m.range_items(b"n", b"o")


def test_writes_run_unwatched_once_every_scan_is_closed() -> None:
    m = MemTable()
    m.put(b"a", b"1")
    plain = type(m.data)
    s1, s2 = m.range_items(None, None), m.range_items(b"a", b"b")
    assert type(m.data) is not plain  # watched while scans are open
    list(s1)  # a finished iteration closes its scan
    assert type(m.data) is not plain
    del s2  # so does dropping one
    assert type(m.data) is plain and m.data.scans == ()  # type: ignore[attr-defined]
    m.frozen = True
    m.range_items(None, None)  # a frozen memtable never changes: nothing to watch
    assert type(m.data) is plain


def test_incremental_order_folds_recent_keys() -> None:
    m = MemTable()
    expected: set[bytes] = set()
    for i in range(3 * RECENT_MIN):
        key = b"%08d" % ((i * 7919) % 100_003)
        m.put(key, b"v")
        expected.add(key)
        if i % 97 == 0:
            assert list(k for k, _ in m.range_items(None, None)) == sorted(expected)
    assert m.sorted_keys() == sorted(expected)
    assert m._recent == []  # folded


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "del", "scan", "step"]), KEYS, KEYS,
                          st.binary(max_size=2)), max_size=80))
def test_every_scan_sees_the_state_at_its_start(ops: list[tuple[str, bytes, bytes,
                                                                 bytes]]) -> None:
    """A model: random writes interleaved with scans that start and advance at random
    moments; each scan's output equals the model's range at the moment the scan started."""
    m = MemTable()
    model: dict[bytes, bytes | None] = {}
    open_scans: list[tuple[list[tuple[bytes, bytes | None]], object, list[object]]] = []
    for op, key, other, value in ops:
        if op == "put":
            m.put(key, value)
            model[key] = value
        elif op == "del":
            m.put(key, None)
            model[key] = None
        elif op == "scan":
            lo, hi = min(key, other), max(key, other)
            want = sorted((k, v) for k, v in model.items() if lo <= k < hi)
            it = iter(m.range_items(lo, hi))
            open_scans.append((want, it, []))
        elif open_scans:  # step: advance one open scan by one entry
            _, it, got = open_scans[len(key) % len(open_scans)]
            got.extend(next(it, None) for _ in range(1))  # type: ignore[call-overload]
    for want, it, got in open_scans:
        got.extend(it)  # type: ignore[call-overload]
        assert [g for g in got if g is not None] == want


def test_concurrent_overwrites_never_leak_into_a_running_scan() -> None:
    m = MemTable()
    keys = [b"k%05d" % i for i in range(20_000)]
    for k in keys:
        m.put(k, b"old")
    snap = m.range_items(None, None)
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            m.put(keys[i % len(keys)], b"new")
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = list(snap)
    finally:
        stop.set()
        t.join()
    assert len(seen) == len(keys) and all(v == b"old" for _, v in seen)


def test_engine_scan_is_a_snapshot_over_the_lazy_memtable(tmp_path: Path) -> None:
    db = open_engine("lsm", str(tmp_path / "db"))
    try:
        for i in range(2000):
            db.put(b"k%04d" % i, b"v1")
        it = db.scan(b"k0100", b"k0200")
        first = next(it)
        for i in range(2000):
            db.put(b"k%04d" % i, b"v2")
        db.delete(b"k0150")
        rest = list(it)
        assert [first, *rest] == [(b"k%04d" % i, b"v1") for i in range(100, 200)]
        assert dict(db.scan(b"k0100", b"k0200"))[b"k0199"] == b"v2"
        assert b"k0150" not in dict(db.scan(b"k0100", b"k0200"))
    finally:
        db.close()


def test_range_snapshot_type_is_what_range_items_returns() -> None:
    assert isinstance(MemTable().range_items(None, None), RangeSnapshot)


def test_a_snapshot_freed_while_its_memtable_lock_is_held_does_not_deadlock() -> None:
    """A scan's last reference can go while this thread is inside the memtable's lock (another
    thread drops it, or the cyclic GC runs during an allocation there); its ``__del__``
    unregisters in this same thread, so the lock must be reentrant."""
    m = MemTable()
    for i in range(100):
        m.put(b"k%03d" % i, b"v")
    done = threading.Event()

    def run() -> None:
        snap = m.range_items(None, None)
        with m._scan_lock:
            del snap  # the last reference: __del__ -> close -> _unregister, in here
        m.put(b"k000", b"w")  # and writes are plain dict stores again
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert done.is_set(), "dropping a snapshot under the memtable lock deadlocked"
    assert type(m.data).__name__ == "_Entries"
