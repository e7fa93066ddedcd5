"""A node's local clock: true time seen through a fixed skew and a drift rate.

DDIA ch. 8: quartz drifts (tens of ppm, more under load) and NTP leaves offsets of milliseconds
to seconds. ``local = skew + true * (1 + drift)``; a timer of ``d`` local milliseconds fires after
``d / (1 + drift)`` true milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clock:
    skew: float = 0.0   # ms added to true time
    drift: float = 0.0  # rate error: 1e-4 is 100 ppm fast, -0.01 is 1 % slow

    def local(self, true_ms: float) -> float:
        return self.skew + true_ms * (1.0 + self.drift)

    def true_delay(self, local_ms: float) -> float:
        return local_ms / (1.0 + self.drift)
