"""State-based CRDTs (Shapiro et al. 2011): every replica's state merges with every other's,
and merge is commutative, associative and idempotent, so replicas that have seen the same
updates hold equal states in whatever order and how often the states arrived (DDIA ch. 5,
"automatic conflict resolution").

- ``GCounter``: one count per actor; merge takes each actor's maximum; value is the sum.
- ``PNCounter``: two G-counters, increments and decrements.
- ``ORSet``: observed-remove set; every add carries a unique dot, a remove tombstones the dots
  it observed, so a concurrent add wins over a remove.
- ``LWWRegister``: the value with the greatest (timestamp, actor): last write wins (Cassandra).
- ``MVRegister``: the multi-value register of Dynamo/Riak with dotted version vectors: each
  concurrent value is kept as a sibling with its dot; a write carrying the causal context it
  read replaces exactly the siblings that context covers (DDIA fig. 5-13, the shopping cart).

All states are immutable (frozen dataclasses of sorted tuples): ``repr`` is canonical, which
gives a stable digest for anti-entropy and a stable event log for the simulator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

Dot = tuple[str, int]
VV = tuple[tuple[str, int], ...]  # a version vector, sorted by actor


def vv_merge(a: VV, b: VV) -> VV:
    if not a:
        return b
    if not b or a == b:
        return a
    d = dict(a)
    for k, v in b:
        if d.get(k, -1) < v:
            d[k] = v
    return tuple(sorted(d.items()))


def vv_get(vv: VV, actor: str) -> int:
    for k, v in vv:
        if k == actor:
            return v
    return 0


def covers(vv: VV, dot: Dot) -> bool:
    return vv_get(vv, dot[0]) >= dot[1]


def _first(pair: tuple) -> Any:
    return pair[0]


def digest(state: Any) -> bytes:
    """An 8-byte digest of a state's canonical repr (anti-entropy's leaf contents)."""
    return hashlib.blake2b(repr(state).encode(), digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class GCounter:
    counts: VV = ()

    def increment(self, actor: str, amount: int = 1) -> GCounter:
        if amount < 0:
            raise ValueError("a G-counter only grows")
        if amount == 0:
            return self
        return GCounter(vv_merge(self.counts, ((actor, vv_get(self.counts, actor) + amount),)))

    def merge(self, other: GCounter) -> GCounter:
        return GCounter(vv_merge(self.counts, other.counts))

    @property
    def value(self) -> int:
        return sum(v for _, v in self.counts)


@dataclass(frozen=True, slots=True)
class PNCounter:
    p: GCounter = GCounter()
    n: GCounter = GCounter()

    def add(self, actor: str, amount: int) -> PNCounter:
        if amount >= 0:
            return PNCounter(self.p.increment(actor, amount), self.n)
        return PNCounter(self.p, self.n.increment(actor, -amount))

    def merge(self, other: PNCounter) -> PNCounter:
        return PNCounter(self.p.merge(other.p), self.n.merge(other.n))

    @property
    def value(self) -> int:
        return self.p.value - self.n.value


@dataclass(frozen=True, slots=True)
class ORSet:
    adds: tuple[tuple[Dot, Any], ...] = ()   # (dot, element), sorted
    removed: tuple[Dot, ...] = ()            # tombstoned dots, sorted

    def add(self, actor: str, element: Any) -> ORSet:
        n = max((d[1] for d, _ in self.adds if d[0] == actor), default=0) + 1
        return ORSet(tuple(sorted((*self.adds, ((actor, n), element)))), self.removed)

    def remove(self, element: Any) -> ORSet:
        seen = {d for d, e in self.adds if e == element} - set(self.removed)
        if not seen:
            return self
        return ORSet(self.adds, tuple(sorted(set(self.removed) | seen)))

    def merge(self, other: ORSet) -> ORSet:
        if self == other:
            return self
        adds = self.adds if self.adds == other.adds else tuple(
            sorted(set(self.adds) | set(other.adds)))
        removed = self.removed if self.removed == other.removed else tuple(
            sorted(set(self.removed) | set(other.removed)))
        return ORSet(adds, removed)

    @property
    def value(self) -> frozenset:
        dead = set(self.removed)
        return frozenset(e for d, e in self.adds if d not in dead)


@dataclass(frozen=True, slots=True)
class LWWRegister:
    ts: float = float("-inf")
    actor: str = ""
    val: Any = None

    def assign(self, actor: str, value: Any, ts: float) -> LWWRegister:
        return self.merge(LWWRegister(ts, actor, value))

    def merge(self, other: LWWRegister) -> LWWRegister:
        return self if (self.ts, self.actor) >= (other.ts, other.actor) else other

    @property
    def value(self) -> Any:
        return self.val


@dataclass(frozen=True, slots=True)
class MVRegister:
    vv: VV = ()                                   # everything this state has seen
    siblings: tuple[tuple[Dot, Any], ...] = ()    # (dot, value) of the concurrent values

    def assign(self, actor: str, value: Any, context: VV = ()) -> tuple[MVRegister, Dot]:
        """Write ``value`` at ``actor`` replacing the siblings ``context`` (the client's last
        read) covers; siblings it did not see stay. Returns the new state and the new dot."""
        vv = vv_merge(self.vv, context)
        dot = (actor, vv_get(vv, actor) + 1)
        keep = (*tuple(s for s in self.siblings if not covers(context, s[0])), (dot, value))
        if len(keep) > 1:
            keep = tuple(sorted(keep, key=_first))
        return MVRegister(vv_merge(vv, (dot,)), keep), dot

    def merge(self, other: MVRegister) -> MVRegister:
        if self == other:
            return self
        mine = {d for d, _ in self.siblings}
        theirs = {d for d, _ in other.siblings}
        keep = [s for s in self.siblings if s[0] in theirs or not covers(other.vv, s[0])]
        keep += [s for s in other.siblings if s[0] not in mine and not covers(self.vv, s[0])]
        keep.sort(key=_first)
        return MVRegister(vv_merge(self.vv, other.vv), tuple(keep))

    @property
    def value(self) -> tuple:
        """The live sibling values (a delete is a ``None`` sibling, a tombstone)."""
        return tuple(v for _, v in self.siblings if v is not None)

    @property
    def dots(self) -> frozenset:
        return frozenset(d for d, _ in self.siblings)


CRDTS = {c.__name__: c for c in (GCounter, PNCounter, ORSet, LWWRegister, MVRegister)}
