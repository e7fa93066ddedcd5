"""cairn.kv: a leaderless, Dynamo-style key-value store on cairn's storage engines (DDIA ch. 5).

Consistent hashing with virtual nodes and preference lists, any node coordinating, per-request
n/r/w, dotted version vectors with siblings or last-write-wins, sloppy quorums with hinted
handoff, read repair, Merkle-tree anti-entropy and state-based CRDTs. The node is written once
and runs both in ``cairn.sim`` (``run_seed``) and as real processes (``cairn kv up``).
See docs/leaderless.md.
"""

from cairn.kv.crdt import GCounter, LWWRegister, MVRegister, ORSet, PNCounter
from cairn.kv.node import KVConfig, KVError, KVNode
from cairn.kv.ring import Ring, RingError, moved_keys
from cairn.kv.simulation import Report, Scenario, SimCluster, run_seed
from cairn.kv.store import EngineStore, MemoryStore

__all__ = [
    "EngineStore",
    "GCounter",
    "KVConfig",
    "KVError",
    "KVNode",
    "LWWRegister",
    "MVRegister",
    "MemoryStore",
    "ORSet",
    "PNCounter",
    "Report",
    "Ring",
    "RingError",
    "Scenario",
    "SimCluster",
    "moved_keys",
    "run_seed",
]
