"""cairn.replication: multi-leader replication between cairn.db databases (DDIA ch. 5).

Each leader (think: a data centre, or a laptop that is offline for a while) accepts writes on
its own ``cairn.db.Database`` and ships them to the others asynchronously as a change stream;
write-write conflicts are detected with per-row version vectors and resolved by a configurable
rule, every resolution recorded in the leader's ``_conflicts`` table. Topologies: circular,
star, all-to-all; loops are cut by the replica ids a change carries. See docs/multileader.md.
(Single-leader replication is another issue's.)
"""

from cairn.replication.multileader import (
    RULES,
    TOPOLOGIES,
    Change,
    Leader,
    MultiLeaderConfig,
    ReplicationError,
    upstream,
)
from cairn.replication.simulation import (
    MultiLeaderReport,
    MultiLeaderScenario,
    MultiLeaderSim,
    run_multileader_seed,
)

__all__ = [
    "RULES",
    "TOPOLOGIES",
    "Change",
    "Leader",
    "MultiLeaderConfig",
    "MultiLeaderReport",
    "MultiLeaderScenario",
    "MultiLeaderSim",
    "ReplicationError",
    "run_multileader_seed",
    "upstream",
]
