"""cairn.sim: a deterministic simulator of a network of processes and their clocks.

Every replicated protocol in cairn is written as message handlers (``start``, ``on_message``,
``on_timer``) against a small context (``send``, ``set_timer``, ``now``, ``disk``). The simulator
runs them in one thread on a virtual timeline, FoundationDB-style: one seeded random generator
decides every message delay (drawn from a distribution), every loss, duplicate and reordering,
so the same seed replays the same run exactly (``Simulator.digest()`` compares event logs).
Faults: symmetric and one-way partitions, crashes (memory lost, ``disk`` kept) and restarts,
clock skew and drift per node. It imports nothing from the rest of cairn.
"""

from cairn.sim.clock import Clock
from cairn.sim.delay import Delay, DelayError
from cairn.sim.network import NetConfig
from cairn.sim.simulator import Context, Process, Simulator, SimulatorError

__all__ = [
    "Clock",
    "Context",
    "Delay",
    "DelayError",
    "NetConfig",
    "Process",
    "Simulator",
    "SimulatorError",
]
