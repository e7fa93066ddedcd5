"""One operation of a recorded history: who called what, when it started and when it returned.

``ret`` is ``INFINITY`` for an operation whose outcome is unknown (timed out, the client
crashed): it may have taken effect at any time after ``call``, or never (Jepsen's ``:info``).
An operation known to have failed without effect is simply left out of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INFINITY = float("inf")


@dataclass(frozen=True, slots=True)
class Op:
    client: str
    kind: str          # "read" | "write" (the register model's operations)
    key: Any
    value: Any         # the value written, or the value a read returned
    call: float
    ret: float = INFINITY

    @property
    def unknown(self) -> bool:
        return self.ret == INFINITY

    def __str__(self) -> str:
        end = "?" if self.unknown else f"{self.ret:.3f}"
        verb = "wrote" if self.kind == "write" else "read"
        return f"[{self.call:.3f}, {end}] {self.client} {verb} {self.key!r} = {self.value!r}"
