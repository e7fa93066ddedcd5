"""Lost acknowledged writes: the durability promise of a quorum write, checked after the fact.

An acknowledged write survives if the final state still holds it (as the value or as one of
the siblings), or if a later write legitimately replaced it: one whose writer had seen it (its
causal context covered it). Anything else was silently dropped, which is what last-write-wins
does to a write whose coordinator's clock ran behind (DDIA fig. 8-3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AckedWrite:
    key: Any
    wid: Any          # a unique id of the write (its dot, or value)
    call: float = 0.0
    ret: float = 0.0


def lost_writes(acked: Iterable[AckedWrite], survivors: Mapping[Any, set[Any]],
                superseded: set[Any]) -> list[AckedWrite]:
    """Acknowledged writes neither surviving in ``survivors[key]`` nor in ``superseded`` (the
    ids some later write's context covered)."""
    return [w for w in acked
            if w.wid not in survivors.get(w.key, ()) and w.wid not in superseded]
