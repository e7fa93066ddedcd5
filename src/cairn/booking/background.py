"""Small shared pieces of the service's moving parts: thread-safe counters and periodic workers.

The hold strategies, the payment client and the sagas each keep counters that request threads
bump concurrently and that ``/admin/stats`` and ``/metrics`` read (:class:`CounterSet`). The
hold expiry worker and the saga recovery worker are both a daemon thread that runs one round
every few hundred milliseconds and must outlive a failed round (:class:`PeriodicThread`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


@dataclasses.dataclass
class CounterSet:
    """Integer counters as dataclass fields; subclasses declare them (``retries: int = 0``).

    Thread-safe: one instance is shared by the request threads of a service process.
    """

    _lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if not f.name.startswith("_")
            }


class PeriodicThread:
    """Calls ``run_round`` every ``interval_s`` in a daemon thread until :meth:`stop`.

    A round that raises is logged and the next one runs anyway: a database blip or a provider
    bug must not end the worker for the life of the process.
    """

    def __init__(self, name: str, run_round: Callable[[], object], interval_s: float) -> None:
        self.name = name
        self.run_round = run_round
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_round()
            except Exception:
                log.exception("%s round failed; retrying", self.name)
            self._stop.wait(self.interval_s)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
