"""Merkle trees for anti-entropy (Dynamo §4.7, DDIA ch. 5 "anti-entropy process").

Keys fall into ``2**depth`` leaf buckets by hash; a leaf's hash covers its (key, digest) pairs,
an inner node's the hashes of its two children. Two replicas compare roots, then descend only
into children whose hashes differ, so the bytes exchanged grow with the number of differing
keys (times the depth), not with the number of keys; ``naive_bytes`` is the cost of sending
every (key, digest) pair instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASH_BYTES = 8
INDEX_BYTES = 4


def _h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=HASH_BYTES).digest()


def key_hash(key: str) -> int:
    """The 32-bit hash whose top ``depth`` bits pick a key's leaf (callers may cache it)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")


def bucket(key: str, depth: int) -> int:
    return key_hash(key) >> (32 - depth)


class MerkleTree:
    def __init__(self, items: Iterable[tuple[str, bytes]], depth: int = 8,
                 hashes: dict[str, int] | None = None):
        self.depth = depth
        self.naive = 0  # bytes of the naive exchange of the same items, when recorded
        self.leaves: list[dict[str, bytes]] = [{} for _ in range(1 << depth)]
        hashes = {} if hashes is None else hashes  # key -> key_hash(key), reused across trees
        shift = 32 - depth
        for key, d in items:
            h = hashes.get(key)
            if h is None:
                h = hashes[key] = key_hash(key)
            self.leaves[h >> shift][key] = d
        level = [_h(b"".join(k.encode() + b"\0" + d for k, d in sorted(leaf.items())))
                 if leaf else b"\0" * HASH_BYTES for leaf in self.leaves]
        self.levels: list[list[bytes]] = [level]   # levels[0] leaves ... levels[depth] root
        while len(level) > 1:
            level = [_h(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def node(self, height: int, index: int) -> bytes:
        """The hash at ``height`` above the leaves (0: a leaf) and ``index`` from the left."""
        return self.levels[height][index]

    def keys(self) -> int:
        return sum(len(leaf) for leaf in self.leaves)


def naive_bytes(items: Iterable[tuple[str, bytes]]) -> int:
    """What a full comparison sends: every key with its digest."""
    return sum(len(k.encode()) + HASH_BYTES for k, _ in items)


def differing_buckets(a: MerkleTree, b: MerkleTree) -> tuple[list[int], int]:
    """The leaf buckets whose hashes differ, and the bytes a top-down exchange sends to find
    them (each round sends the hashes of the children of the nodes that differed)."""
    if a.depth != b.depth:
        raise ValueError("trees of different depth")
    sent = HASH_BYTES
    frontier = [0] if a.root != b.root else []
    for height in range(a.depth - 1, -1, -1):
        children = [c for i in frontier for c in (2 * i, 2 * i + 1)]
        sent += len(children) * (HASH_BYTES + INDEX_BYTES)
        frontier = [c for c in children if a.node(height, c) != b.node(height, c)]
    return frontier, sent
