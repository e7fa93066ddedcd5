"""The simulated network's behaviour: delays per message kind, loss, duplication, reordering.

Messages are tuples whose first element names their kind (``("rep", ...)``); ``delays`` maps a
kind to its own distribution, which is how the PBS experiment gives write, ack, read and
response messages the separate W, A, R, S latencies of the WARS model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.sim.delay import Delay, DelayError


@dataclass(slots=True)
class NetConfig:
    delay: Delay = field(default_factory=lambda: Delay("exponential", 1.0))
    delays: dict[str, Delay] = field(default_factory=dict)  # per message kind
    loss: float = 0.0         # probability a message is dropped
    duplicate: float = 0.0    # probability a message is delivered twice
    reorder: float = 0.0      # probability a message gets an extra delay of up to reorder_ms
    reorder_ms: float = 10.0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise DelayError(f"{name} must be a probability in [0, 1], got {p}")

    def delay_for(self, msg: object) -> Delay:
        if self.delays and isinstance(msg, tuple) and msg:
            return self.delays.get(msg[0], self.delay)
        return self.delay
