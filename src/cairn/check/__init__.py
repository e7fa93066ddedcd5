"""cairn.check: checkers of recorded histories (what a replicated system promised, verified).

- ``check_linearizable``: Wing & Gong's search with Lowe's memoisation (the algorithm behind
  Knossos and Porcupine), split per key (P-compositionality: a history is linearizable iff each
  key's sub-history is). Reports a minimal story of the violation.
- ``check_convergence``: after the faults heal, replicas hold equal contents.
- ``lost_writes``: acknowledged writes that are neither in the final state nor legitimately
  overwritten by a write that knew about them.

It imports nothing from the rest of cairn; every protocol feeds it plain records.
"""

from cairn.check.convergence import Divergence, check_convergence
from cairn.check.history import INFINITY, Op
from cairn.check.linearizability import (
    LinearizabilityResult,
    RegisterModel,
    check_linearizable,
)
from cairn.check.lost import AckedWrite, lost_writes

__all__ = [
    "INFINITY",
    "AckedWrite",
    "Divergence",
    "LinearizabilityResult",
    "Op",
    "RegisterModel",
    "check_convergence",
    "check_linearizable",
    "lost_writes",
]
