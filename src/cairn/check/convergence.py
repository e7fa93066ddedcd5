"""Convergence: once faults heal and anti-entropy has run, every replica holds the same data
(eventual consistency's only promise, DDIA ch. 5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Divergence:
    key: Any
    values: dict[str, Any]  # replica -> its value (absent replicas are missing the key)

    def __str__(self) -> str:
        return f"key {self.key!r} differs: " + ", ".join(
            f"{r}={v!r}" for r, v in sorted(self.values.items()))


def check_convergence(replicas: Mapping[str, Mapping[Any, Any]],
                      owners: Mapping[Any, list[str]] | None = None) -> list[Divergence]:
    """Keys whose replicas disagree. ``owners`` (key -> replicas that must hold it) restricts the
    comparison to each key's replica set; without it every replica must hold every key."""
    keys: set[Any] = set()
    for data in replicas.values():
        keys.update(data)
    out = []
    missing = object()
    for key in sorted(keys, key=repr):
        names = owners[key] if owners is not None else list(replicas)
        values = {r: replicas[r].get(key, missing) for r in names}
        distinct = {repr(v) for v in values.values()}
        if len(distinct) > 1:
            out.append(Divergence(key, {r: (None if v is missing else v)
                                        for r, v in values.items()}))
    return out
