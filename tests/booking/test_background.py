"""The shared pieces: counters bumped from many threads, the periodic worker thread."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cairn.booking.background import CounterSet, PeriodicThread


@dataclass
class _Tally(CounterSet):
    hits: int = 0
    misses: int = 0


def test_counters_lose_no_bump_under_threads_and_snapshot_only_counters() -> None:
    tally = _Tally()

    def work(i: int) -> None:
        for _ in range(500):
            tally.bump("hits")
            tally.bump("misses", 2)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert tally.snapshot() == {"hits": 4000, "misses": 8000}


def test_periodic_thread_outlives_a_failing_round_and_stops() -> None:
    rounds: list[int] = []
    ran_after_failure = threading.Event()

    def round_() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("database blip")
        if len(rounds) >= 4:
            ran_after_failure.set()

    worker = PeriodicThread("test-worker", round_, 0.01)
    worker.start()
    assert worker.running
    try:
        assert ran_after_failure.wait(5)
    finally:
        worker.stop()
    assert not worker.running
    stopped_at = len(rounds)
    time.sleep(0.05)
    assert len(rounds) == stopped_at  # no round after stop()
