"""Consistent hashing with virtual nodes (Dynamo §4.2, DDIA ch. 6).

Each node owns ``vnodes`` points on a 64-bit ring; a key belongs to the first points clockwise
from its hash. ``walk(key)`` lists every node in the order a key meets them: the first ``n`` are
its preference list (home replicas), the rest are the fallbacks a sloppy quorum uses, in order.
Adding or removing a node moves only the keys whose walk changes (about 1/N of them).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable


class RingError(ValueError):
    """A ring that cannot place keys (no nodes, duplicate names, n larger than the cluster)."""


def position(text: str) -> int:
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big")


class Ring:
    def __init__(self, nodes: Iterable[str], vnodes: int = 64):
        self.nodes = tuple(nodes)
        if not self.nodes:
            raise RingError("a ring needs at least one node")
        if len(set(self.nodes)) != len(self.nodes):
            raise RingError(f"duplicate node names in {self.nodes}")
        self.vnodes = vnodes
        points = sorted((position(f"{node}#{i}"), node) for node in self.nodes
                        for i in range(vnodes))
        self._hashes = [h for h, _ in points]
        self._owners = [n for _, n in points]
        self._walks: dict[str, tuple[str, ...]] = {}

    def walk(self, key: str) -> tuple[str, ...]:
        """All nodes, in the order the ring meets them from ``key``'s position."""
        w = self._walks.get(key)
        if w is None:
            start = bisect.bisect(self._hashes, position(key))
            seen: list[str] = []
            owners = self._owners
            size = len(owners)
            want = len(self.nodes)
            for i in range(size):
                node = owners[(start + i) % size]
                if node not in seen:
                    seen.append(node)
                    if len(seen) == want:
                        break
            w = self._walks[key] = tuple(seen)
        return w

    def preference(self, key: str, n: int) -> tuple[str, ...]:
        if not 1 <= n <= len(self.nodes):
            raise RingError(f"n={n} needs between 1 and {len(self.nodes)} nodes")
        return self.walk(key)[:n]

    def with_nodes(self, nodes: Iterable[str]) -> Ring:
        return Ring(nodes, self.vnodes)


def moved_keys(old: Ring, new: Ring, keys: Iterable[str], n: int) -> dict[str, set[str]]:
    """For each key, the nodes that become its replicas under ``new`` (data to copy there)."""
    out = {}
    for key in keys:
        gained = set(new.preference(key, n)) - set(old.preference(key, n))
        if gained:
            out[key] = gained
    return out
