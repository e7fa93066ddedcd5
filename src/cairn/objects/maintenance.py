"""The background loop of a running store: garbage collection, orphan collection, scrubbing,
lifecycle rules.

One daemon thread wakes every ``tick`` seconds and runs each job whose interval has passed:
the GC queue (cheap, frequent), the heal queue (data that reads found damaged, every minute),
lifecycle rules (hourly; they judge by a wall ``clock`` that
tests replace), the orphan sweep (lists every drive, so hourly), and the scrubber/healer (reads
every shard, so rarely). Errors are counted, never fatal: a drive that
is offline now is retried on the next round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.objects.errors import ObjectStoreError
from cairn.objects.healer import Healer
from cairn.objects.store import ObjectStore
from cairn.storage import StorageError


@dataclass
class MaintenanceStats:
    runs: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    blobs_collected: int = 0
    shards_healed: int = 0
    lifecycle: dict[str, int] = field(default_factory=dict)  # totals of LifecycleReport


class Maintenance:
    def __init__(self, store: ObjectStore, *, gc_interval: float = 30.0,
                 orphan_interval: float = 3600.0, scrub_interval: float = 86400.0,
                 tick: float = 1.0, lifecycle_interval: float = 3600.0,
                 heal_queue_interval: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.stats = MaintenanceStats()
        self.clock = clock
        self.tick = tick
        healer = Healer(store)
        self._jobs: list[tuple[str, float, Callable[[], None]]] = [
            ("gc", gc_interval, self._gc),
            ("lifecycle", lifecycle_interval, self._lifecycle),
            ("heal-queue", heal_queue_interval, lambda: self._heal_queue(healer)),
            ("orphans", orphan_interval, self._orphans),
            ("scrub", scrub_interval, lambda: self._scrub(healer)),
        ]
        self._next = {name: time.monotonic() + interval for name, interval, _ in self._jobs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cairn-s3-maintenance",
                                        daemon=True)

    def _gc(self) -> None:
        self.stats.blobs_collected += self.store.collect_garbage()

    def _lifecycle(self) -> None:
        from dataclasses import asdict

        from cairn.objects import lifecycle

        done = asdict(lifecycle.apply(self.store, self.clock()))
        for k, v in done.items():
            self.stats.lifecycle[k] = self.stats.lifecycle.get(k, 0) + v

    def _orphans(self) -> None:
        self.stats.blobs_collected += self.store.collect_orphans()

    def _heal_queue(self, healer: Healer) -> None:
        if self.store.heal_queue:
            self.stats.shards_healed += healer.heal_queued().healed_shards

    def _scrub(self, healer: Healer) -> None:
        self.stats.shards_healed += healer.run().healed_shards

    def start(self) -> Maintenance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def run_due(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for name, interval, job in self._jobs:
            if now < self._next[name]:
                continue
            self._next[name] = now + interval
            try:
                job()
                self.stats.runs[name] = self.stats.runs.get(name, 0) + 1
            except (ObjectStoreError, StorageError, OSError) as exc:
                self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
                self.stats.last_error = f"{name}: {exc}"

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.run_due()
