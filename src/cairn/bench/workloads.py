"""The storage benchmark's data set and workloads (DDIA ch. 3: what each index structure is
good and bad at).

Keys are 16 bytes (``key:`` + 12 digits), values 100 bytes. Present keys use even numbers and
absent keys odd ones, so absent keys fall *between* present ones: a fence-pointer or min/max
check cannot reject them and only a bloom filter (or a real lookup) can. Each value is 50
random bytes written twice, so it compresses about 2:1, like db_bench's default
``compression_ratio=0.5``: compression helps, but cannot make the data disappear.

Workloads, in the order they run on each system:

=================  ==========================================================================
seq_insert         N puts in key order into a fresh store (no fsync per write), then flush()
random_insert      N puts in random order into a fresh store, then flush() (a checkpoint or
                   memtable flush is part of the load's cost); the reads below use this store
point_read         random present keys, one get each; every value is checked
absent_read        random absent keys (between present ones); every answer must be "absent"
full_scan          one ordered scan of every key (rate in keys/s); the count is checked
range_scan         scans of 1000 consecutive keys [start, end) from random starts (scans/s)
durable_1w         single-threaded writes, each durable before it returns (fsync per write)
durable_8w         8 threads x M durable writes each: group commit shares fsyncs
=================  ==========================================================================

Every read checks its answer, so a fast wrong engine fails loudly instead of winning.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cairn.bench.common import BenchmarkError, Measurement, timed_loop
from cairn.bench.peers import NotApplicable, Setup, Store, open_store

KEY_SIZE = 16
VALUE_SIZE = 100

WORKLOADS: tuple[str, ...] = ("seq_insert", "random_insert", "point_read", "absent_read",
                              "full_scan", "range_scan", "durable_1w", "durable_8w")
UNITS: dict[str, str] = {
    "seq_insert": "puts", "random_insert": "puts", "point_read": "gets",
    "absent_read": "gets", "full_scan": "keys", "range_scan": "scans",
    "durable_1w": "writes", "durable_8w": "writes",
}
LABELS: dict[str, str] = {
    "seq_insert": "sequential insert", "random_insert": "random insert",
    "point_read": "random point read", "absent_read": "absent-key read",
    "full_scan": "full ordered scan", "range_scan": "1000-key range scan",
    "durable_1w": "durable writes, 1 writer", "durable_8w": "durable writes, 8 writers",
}


def key_of(i: int) -> bytes:
    return b"key:%012d" % i


@dataclass(frozen=True)
class BenchConfig:
    """What to run. ``reads``, ``range_scans`` and the durable counts are per repeat and system;
    ``budget`` caps each timed read/scan/durable workload in seconds (a slow system then
    reports the rate of the operations it managed, flagged as capped)."""

    keys: int = 200_000
    repeat: int = 3
    reads: int = 50_000
    range_scans: int = 1_000
    range_len: int = 1_000
    sync_writes: int = 2_000
    writers: int = 8
    budget: float = 3.0
    seed: int = 42
    workloads: tuple[str, ...] = WORKLOADS
    cache_bytes: int | None = None  # every system's cache (--cache-mib); None: own defaults
    manual_wal_flush: bool = False  # cairn engines buffer their WAL in user space

    @property
    def setup(self) -> Setup:
        return Setup(self.cache_bytes, self.manual_wal_flush)

    def __post_init__(self) -> None:
        for name, value in (("keys", self.keys), ("repeat", self.repeat),
                            ("reads", self.reads), ("range_scans", self.range_scans),
                            ("range_len", self.range_len), ("sync_writes", self.sync_writes),
                            ("writers", self.writers)):
            if value < 1:
                raise BenchmarkError(f"{name} must be at least 1, got {value}")
        if self.cache_bytes is not None and self.cache_bytes < 1 << 20:
            raise BenchmarkError(f"cache must be at least 1 MiB, got {self.cache_bytes} bytes")
        if self.budget <= 0:
            raise BenchmarkError(f"budget must be positive, got {self.budget}")
        unknown = [w for w in self.workloads if w not in WORKLOADS]
        if unknown:
            raise BenchmarkError(f"unknown workload(s) {', '.join(unknown)}; "
                                 f"choose from {', '.join(WORKLOADS)}")
        if not self.workloads:
            raise BenchmarkError("no workload selected")

    @property
    def scan_len(self) -> int:
        return min(self.range_len, self.keys)

    def to_dict(self) -> dict[str, Any]:
        return {"keys": self.keys, "key_size": KEY_SIZE, "value_size": VALUE_SIZE,
                "repeat": self.repeat, "reads": self.reads, "range_scans": self.range_scans,
                "range_len": self.scan_len, "sync_writes": self.sync_writes,
                "writers": self.writers, "writes_per_writer": self.writes_per_writer,
                "budget_sec": self.budget, "seed": self.seed, "workloads": list(self.workloads),
                "cache_bytes": self.cache_bytes, "manual_wal_flush": self.manual_wal_flush}

    @property
    def writes_per_writer(self) -> int:
        return max(1, self.sync_writes // self.writers)


@dataclass
class DataSet:
    """Keys, values and the random choices of one repeat (the same for every system)."""

    keys: list[bytes]
    values: list[bytes]
    order: list[int]  # random insertion order
    reads: list[int]  # indexes of present keys to get
    absent: list[bytes]
    range_starts: list[int]

    @classmethod
    def make(cls, cfg: BenchConfig, repeat: int) -> DataSet:
        rng = random.Random(cfg.seed * 1_000_003 + repeat)
        n = cfg.keys
        keys = [key_of(2 * i) for i in range(n)]
        values = []
        for _ in range(n):
            half = rng.randbytes(VALUE_SIZE // 2)
            values.append(half + half)
        order = list(range(n))
        rng.shuffle(order)
        reads = [rng.randrange(n) for _ in range(cfg.reads)]
        absent = [key_of(2 * rng.randrange(n) + 1) for _ in range(cfg.reads)]
        last_start = n - cfg.scan_len
        range_starts = [rng.randrange(last_start + 1) for _ in range(cfg.range_scans)]
        return cls(keys, values, order, reads, absent, range_starts)

    @property
    def live_bytes(self) -> int:
        return len(self.keys) * (KEY_SIZE + VALUE_SIZE)


@dataclass
class SystemRun:
    """What one repeat measured on one system."""

    measurements: dict[str, Measurement] = field(default_factory=dict)
    na: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    disk_bytes: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    # cairn engines, during point_read only: cache hit rate and disk bytes read per get
    read_stats: dict[str, float] = field(default_factory=dict)


Report = Callable[[str, Measurement | None, str | None], None]


def _capped(m: Measurement, asked: int) -> Measurement:
    if m.ops < asked:
        m.capped = True
    return m


def _load(store: Store, data: DataSet, order: list[int] | range) -> Measurement:
    """The load, timed up to the end of the ``flush()`` that follows it and of the background
    compactions it caused (``settle``): a checkpoint, a memtable flush or a compaction left for
    later is work the load caused, on every system alike."""
    keys, values = data.keys, data.values
    t0 = time.perf_counter()
    store.load((keys[i], values[i]) for i in order)
    store.flush()
    store.settle()  # compactions the load caused (LSM-trees), on both sides
    return Measurement(ops=len(order), seconds=time.perf_counter() - t0)


def point_read(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    asked = len(data.reads)
    n = min(asked, store.caps.reads or asked)
    keys, values, reads, get = data.keys, data.values, data.reads, store.get

    def step(i: int) -> None:
        j = reads[i]
        if get(keys[j]) != values[j]:
            raise BenchmarkError(f"{store.name} returned a wrong value for {keys[j]!r}")

    return _capped(timed_loop(n, step, cfg.budget), asked)


def absent_read(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    asked = len(data.absent)
    n = min(asked, store.caps.reads or asked)
    absent, get = data.absent, store.get

    def step(i: int) -> None:
        if get(absent[i]) is not None:
            raise BenchmarkError(f"{store.name} found absent key {absent[i]!r}")

    return _capped(timed_loop(n, step, cfg.budget), asked)


def full_scan(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    total = len(data.keys)
    limit = store.caps.full_scan if store.caps.full_scan and store.caps.full_scan < total \
        else None
    t0 = time.perf_counter()
    count = store.scan(None, None, limit)
    elapsed = time.perf_counter() - t0
    expected = limit or total
    if count != expected:
        raise BenchmarkError(f"{store.name} full scan saw {count} keys, expected {expected}")
    return Measurement(ops=count, seconds=elapsed, capped=limit is not None)


def range_scan(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    asked = len(data.range_starts)
    n = min(asked, store.caps.range_scans or asked)
    starts, keys, length, scan = data.range_starts, data.keys, cfg.scan_len, store.scan
    total = len(keys)

    def step(i: int) -> None:
        s = starts[i]
        # [key(s), key(s + length)) holds exactly `length` present keys; the absent (odd)
        # keys between them are never written.
        end = keys[s + length] if s + length < total else None
        count = scan(keys[s], end)
        if count != length:
            raise BenchmarkError(f"{store.name} range scan from {keys[s]!r} saw {count} "
                                 f"keys, expected {length}")

    return _capped(timed_loop(n, step, cfg.budget, check_every=1), asked)


def durable_single(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    sync_put, value = store.sync_put, data.values[0]

    def step(i: int) -> None:
        sync_put(b"dur:%012d" % i, value)

    return timed_loop(cfg.sync_writes, step, cfg.budget, check_every=8)


def durable_concurrent(store: Store, data: DataSet, cfg: BenchConfig) -> Measurement:
    """``writers`` threads, each doing ``writes_per_writer`` durable writes of its own keys.

    Timed from the moment all threads are released (a barrier) until the last one finishes;
    the rate is total acknowledged writes / elapsed. Each writer stops at the time budget.
    """
    if store.concurrent_writers is not None:
        raise NotApplicable(store.concurrent_writers)
    per, value = cfg.writes_per_writer, data.values[1 % len(data.values)]
    barrier = threading.Barrier(cfg.writers + 1)
    done = [0] * cfg.writers
    failures: list[BaseException] = []
    deadline: list[float] = [0.0]

    def writer(t: int) -> None:
        sync_put = store.sync_put
        try:
            barrier.wait()
            for i in range(per):
                sync_put(b"w%02d:%012d" % (t, i), value)
                done[t] = i + 1
                if time.perf_counter() >= deadline[0]:
                    break
        except BaseException as exc:  # report it from the main thread, after join
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(t,), name=f"bench-writer-{t}")
               for t in range(cfg.writers)]
    for th in threads:
        th.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + cfg.budget
    barrier.wait()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    if failures:
        exc = failures[0]
        raise BenchmarkError(f"{store.name} concurrent writer failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    total = sum(done)
    return Measurement(ops=total, seconds=elapsed, capped=total < per * cfg.writers)


READS: dict[str, Callable[[Store, DataSet, BenchConfig], Measurement]] = {
    "point_read": point_read,
    "absent_read": absent_read,
    "full_scan": full_scan,
    "range_scan": range_scan,
    "durable_1w": durable_single,
    "durable_8w": durable_concurrent,
}


def _record(run: SystemRun, wl: str, fn: Callable[[], Measurement], report: Report) -> bool:
    """Run one workload, file its result; False when it raised (the store may be unusable)."""
    try:
        m = fn()
    except NotApplicable as exc:
        run.na[wl] = str(exc)
        report(wl, None, f"n/a: {exc}")
        return True
    except Exception as exc:  # an engine bug or a peer failure: record it, keep benchmarking
        run.errors[wl] = f"{type(exc).__name__}: {exc}"
        report(wl, None, f"ERROR {type(exc).__name__}: {exc}")
        return False
    run.measurements[wl] = m
    report(wl, m, None)
    return True


def _cache_counters(store: Store) -> tuple[int, int, int, int] | None:
    """(gets, cache hits, cache misses, disk bytes read by gets) of a cairn engine."""
    if store.family != "cairn":
        return None
    st = store.stats()
    extra = st.get("extra") or {}
    if "cache_hits" not in extra:
        return None
    return (st.get("gets", 0), extra["cache_hits"], extra["cache_misses"],
            extra.get("get_disk_bytes_read", 0))


def _read_stats(before: tuple[int, int, int, int] | None,
                after: tuple[int, int, int, int] | None) -> dict[str, float]:
    if before is None or after is None:
        return {}
    gets, hits, misses, read = (b - a for a, b in zip(before, after, strict=True))
    lookups = hits + misses
    return {"cache_hit_rate": round(hits / lookups, 4) if lookups else 0.0,
            "disk_bytes_per_get": round(read / gets, 1) if gets else 0.0}


def run_system(name: str, root: str, data: DataSet, cfg: BenchConfig,
               report: Report) -> SystemRun:
    """Every selected workload on system ``name`` in fresh directories under ``root``.

    Raises :class:`cairn.bench.peers.Unavailable` when the system cannot be opened at all.
    """
    run = SystemRun()
    wanted = set(cfg.workloads)
    if "seq_insert" in wanted:
        path = f"{root}/{name}-seq"
        store = open_store(name, path, cfg.setup)
        try:
            _record(run, "seq_insert", lambda: _load(store, data, range(len(data.keys))),
                    report)
        finally:
            store.close()
            shutil.rmtree(path, ignore_errors=True)
    later = [w for w in WORKLOADS[2:] if w in wanted]
    if "random_insert" not in wanted and not later:
        return run
    path = f"{root}/{name}"
    store = open_store(name, path, cfg.setup)
    try:
        # Every later workload reads the randomly loaded store: load it even when the load's
        # timing is not asked for.
        loaded = _record(run, "random_insert", lambda: _load(store, data, data.order),
                         report if "random_insert" in wanted else (lambda *_: None))
        if "random_insert" not in wanted:
            run.measurements.pop("random_insert", None)
        if not loaded:
            for wl in later:
                run.errors[wl] = "not run: the load failed"
            return run
        run.disk_bytes = store.disk_bytes()  # the load ended with a flush()
        for wl in later:
            fn = READS[wl]
            before = _cache_counters(store) if wl == "point_read" else None
            _record(run, wl, lambda fn=fn: fn(store, data, cfg), report)
            if before is not None:
                run.read_stats = _read_stats(before, _cache_counters(store))
        try:
            run.stats = store.stats()
        except Exception as exc:  # stats are informative: never lose the timings over them
            run.stats = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)
    return run
