"""Message delay distributions (the latency models of PBS: exponential, Pareto, uniform...).

A ``Delay`` is a description, not a generator: the simulator draws from it with its own seeded
``random.Random`` so that a run depends on the seed only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KINDS = ("constant", "uniform", "exponential", "lognormal", "pareto")


class DelayError(ValueError):
    """A delay distribution that cannot be drawn from (unknown kind, negative parameter)."""


@dataclass(frozen=True, slots=True)
class Delay:
    """A delay in milliseconds: ``base`` plus a draw from ``kind``.

    ``a``/``b`` are the kind's parameters: constant (a), uniform [a, b], exponential (mean a),
    lognormal (mu a, sigma b of the underlying normal), Pareto (scale a, shape b).
    """

    kind: str = "exponential"
    a: float = 1.0
    b: float = 0.0
    base: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DelayError(f"unknown delay kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.base < 0 or (self.kind != "lognormal" and self.a < 0):
            raise DelayError(f"negative delay parameter in {self}")
        if self.kind == "uniform" and self.b < self.a:
            raise DelayError(f"uniform delay needs a <= b, got {self.a} > {self.b}")
        if self.kind == "pareto" and self.b <= 0:
            raise DelayError("pareto delay needs a positive shape b")

    def draw(self, rng: random.Random) -> float:
        kind = self.kind
        if kind == "exponential":
            return self.base + (rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0)
        if kind == "constant":
            return self.base + self.a
        if kind == "uniform":
            return self.base + rng.uniform(self.a, self.b)
        if kind == "lognormal":
            return self.base + math.exp(rng.gauss(self.a, self.b))
        return self.base + self.a * (rng.paretovariate(self.b))

    @classmethod
    def parse(cls, text: str) -> Delay:
        """``exp:2``, ``const:1``, ``uniform:1:5``, ``lognormal:0:1``, ``pareto:1:2``."""
        name, *args = text.split(":")
        name = {"exp": "exponential", "const": "constant"}.get(name, name)
        try:
            values = [float(x) for x in args]
        except ValueError:
            raise DelayError(f"bad delay {text!r}") from None
        return cls(name, *values)
