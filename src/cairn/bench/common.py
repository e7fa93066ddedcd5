"""Shared benchmark plumbing: measurements, medians of repeats, ratios and progress lines.

The project asks every ``cairn bench`` command to put peers side by side in one run and report
medians of repeats with ratios printed. The median (not the mean) is used because a shared
2-core machine produces occasional outliers (another process's burst, a page-cache eviction)
that would drag a mean but leave the middle value alone.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

CHUNK_SECONDS = 0.005  # how long a timed loop runs between two reads of the clock


class BenchmarkError(Exception):
    """A benchmark that cannot run as asked (bad options, or a system returned wrong data)."""


@dataclass(slots=True)
class Measurement:
    """One timed run of one workload on one system.

    ``ops`` counts the unit of the workload (keys written, gets, scans); ``capped`` says that the
    run stopped early because of a per-system cap or the time budget, so ``ops`` is smaller than
    what was asked and the rate comes from the ops that did run.
    """

    ops: int
    seconds: float
    capped: bool = False

    @property
    def ops_per_sec(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class Series:
    """Every repeat of one (system, workload) cell; the report shows the median."""

    runs: list[Measurement] = field(default_factory=list)
    na: str | None = None  # reason the workload does not apply to the system
    error: str | None = None  # the workload raised: what it said

    @property
    def median_ops_per_sec(self) -> float | None:
        rates = [m.ops_per_sec for m in self.runs]
        return median(rates) if rates else None

    @property
    def capped(self) -> bool:
        return any(m.capped for m in self.runs)

    @property
    def min_ops(self) -> int:
        return min((m.ops for m in self.runs), default=0)

    @property
    def ops(self) -> int:
        """Operations in one run (the median run size, which matters for capped cells)."""
        return int(median([m.ops for m in self.runs])) if self.runs else 0


def median(values: Sequence[float]) -> float:
    if not values:
        raise BenchmarkError("median of no values")
    return float(statistics.median(values))


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` where either side is missing or the reference is 0."""
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


def fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.2g}x"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def timed_loop(ops: int, step: Callable[[int], None], budget: float,
               check_every: int = 64) -> Measurement:
    """Run ``step(i)`` for ``i`` in ``range(ops)`` and time it, stopping at ``budget`` seconds.

    The clock is read after chunks of steps sized to take about ``CHUNK_SECONDS`` each (at
    most ``check_every`` steps): fast operations pay for a clock read only every
    ``check_every`` steps, while a slow system (the log engine's O(n) reads) is checked after
    every step and stops right after the one that crosses the budget. At least one step runs.
    """
    if ops <= 0:
        raise BenchmarkError("a timed loop needs at least one operation")
    clock = time.perf_counter
    start = clock()
    deadline = start + budget
    done = 0
    chunk = 1
    while done < ops:
        chunk_end = min(ops, done + chunk)
        for i in range(done, chunk_end):
            step(i)
        done = chunk_end
        now = clock()
        if now >= deadline:
            break
        per_step = (now - start) / done
        chunk = max(1, min(check_every, int(CHUNK_SECONDS / per_step))) if per_step > 0 \
            else check_every
    return Measurement(ops=done, seconds=clock() - start, capped=done < ops)


@dataclass
class Progress:
    """One line per (repeat, system, workload) so that a long run shows where it is."""

    emit: Callable[[str], None] | None = None
    quiet: bool = False

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.emit is not None:
            self.emit(text)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
