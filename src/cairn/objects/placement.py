"""Placement: which drives hold the shards of an object (rendezvous hashing, failure domains).

Each drive gets a score ``hash(drive_id, object)``; the object's k+m shards go to the
highest-scoring drives, taking at most one drive per failure domain while there are unused
domains (so losing a whole host/rack costs as few shards as possible). This is rendezvous
(highest-random-weight) hashing: deterministic with no shared state, and when a drive is added
an object's drive set changes only if the new drive outranks one of its chosen drives, which
happens for a fraction ``n / drives`` of objects (and then one shard moves). See
:func:`movement`.

The chosen drives are recorded in the object's metadata at write time, so reads never depend on
the current drive set; the ranking beyond the first n gives fallbacks when a chosen drive is
down during a write, and targets for the healer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import xxhash

from cairn.objects.errors import ServiceUnavailable


@dataclass(frozen=True)
class DriveSpec:
    drive_id: str
    domain: str


def _score(drive_id: str, key: bytes) -> int:
    return xxhash.xxh3_64_intdigest(key, seed=0) ^ xxhash.xxh3_64_intdigest(
        drive_id.encode() + b"\x00" + key)


def rank(drives: Sequence[DriveSpec], key: bytes) -> list[DriveSpec]:
    """Every drive, best first, with failure domains spread: the first drives of the ranking
    cover as many distinct domains as possible."""
    ordered = sorted(drives, key=lambda d: (_score(d.drive_id, key), d.drive_id), reverse=True)
    seen: set[str] = set()
    first, rest = [], []
    for d in ordered:
        if d.domain in seen:
            rest.append(d)
        else:
            seen.add(d.domain)
            first.append(d)
    # Round-robin the leftovers over domains so the second shard per domain comes as late
    # as possible too.
    return first + _spread(rest)


def _spread(drives: list[DriveSpec]) -> list[DriveSpec]:
    out: list[DriveSpec] = []
    pending = list(drives)
    while pending:
        seen: set[str] = set()
        keep: list[DriveSpec] = []
        for d in pending:
            if d.domain in seen:
                keep.append(d)
            else:
                seen.add(d.domain)
                out.append(d)
        pending = keep
    return out


def place(drives: Sequence[DriveSpec], key: bytes, n: int) -> list[DriveSpec]:
    """The n drives for ``key``; shard i goes to element i."""
    if len(drives) < n:
        raise ServiceUnavailable(f"{n} shards need {n} drives; only {len(drives)} configured")
    return rank(drives, key)[:n]


def movement(keys: Iterable[bytes], before: Sequence[DriveSpec], after: Sequence[DriveSpec],
             n: int) -> float:
    """Fraction of shards that must move when the drive set changes from ``before`` to
    ``after``, when a rebalancer keeps every shard whose drive is still chosen."""
    moved = total = 0
    for key in keys:
        old = {d.drive_id for d in place(before, key, n)}
        new = {d.drive_id for d in place(after, key, n)}
        moved += len(new - old)
        total += n
    return moved / total if total else 0.0
