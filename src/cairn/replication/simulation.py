"""Multi-leader replication in the deterministic simulator: scripted demonstrations (DDIA
fig. 5-9, an offline calendar) and the seeded fault runs of ``cairn sim multileader``.

A run: 3 leaders in a topology, local writes at random leaders (inserts of new rows, updates
of rows the leader has, some deletes, concurrent edits of the same rows), message delays,
loss, duplication, reordering, partitions, one-way blocks and leader crashes; then everything
heals and the leaders pull from each other. Checked: every leader holds the same rows
(``check_convergence``); in ``vv`` mode no update was dropped and nothing is left waiting.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from cairn.check import check_convergence
from cairn.replication.multileader import Leader, MultiLeaderConfig
from cairn.sim import Clock, Delay, NetConfig, Simulator


class MultiLeaderSim:
    """Leaders in the simulator, written to directly (each leader's local clients)."""

    def __init__(self, names: list[str] | None = None, config: MultiLeaderConfig | None = None,
                 seed: int = 0, net: NetConfig | None = None, detail: bool = True):
        self.names = names or ["A", "B", "C"]
        self.config = config or MultiLeaderConfig()
        self.sim = Simulator(seed, net or NetConfig(delay=Delay("constant", 5.0)),
                             detail=detail)
        for name in self.names:
            self.sim.add(name, lambda ctx: Leader(ctx, self.names, self.config))

    def leader(self, name: str) -> Leader:
        return self.sim.process(name)

    def write(self, name: str, key: Any, values: dict | None) -> None:
        self.leader(name).write("rows", key, values)

    def run(self, ms: float) -> None:
        self.sim.run(until=self.sim.now + ms)

    def contents(self) -> dict[str, dict]:
        return {n: self.leader(n).rows() for n in self.names}


@dataclass(slots=True)
class MultiLeaderScenario:
    leaders: int = 3
    writes: int = 400
    keys: int = 20
    config: MultiLeaderConfig = field(default_factory=MultiLeaderConfig)
    delay: Delay = field(default_factory=lambda: Delay("exponential", 5.0, base=1.0))
    loss: float = 0.02
    duplicate: float = 0.02
    reorder: float = 0.1
    faults: bool = True
    skew_ms: float = 20.0
    heal_ms: float = 3000.0
    detail: bool = False


@dataclass(slots=True)
class MultiLeaderReport:
    seed: int
    writes: int = 0
    conflicts: int = 0
    anomalies: list[str] = field(default_factory=list)
    divergent_keys: list[str] = field(default_factory=list)
    pending: int = 0
    faults: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    digest: str = ""

    @property
    def failures(self) -> list[str]:
        out = [f"divergent key {k}" for k in self.divergent_keys]
        out += self.anomalies
        if self.pending:
            out.append(f"{self.pending} changes still waiting for their dependencies")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__slots__}
        d["failures"] = self.failures
        return d


def run_multileader_seed(seed: int, sc: MultiLeaderScenario | None = None) -> MultiLeaderReport:
    sc = sc or MultiLeaderScenario()
    start = time.perf_counter()
    rng = random.Random(f"multileader/{seed}")
    names = [chr(ord("A") + i) for i in range(sc.leaders)]
    ml = MultiLeaderSim(names, sc.config, seed,
                        NetConfig(delay=sc.delay, loss=sc.loss, duplicate=sc.duplicate,
                                  reorder=sc.reorder), detail=sc.detail)
    sim = ml.sim
    rep = MultiLeaderReport(seed)
    for n in names:
        sim.set_clock(n, Clock(rng.uniform(-sc.skew_ms, sc.skew_ms), 0.0))
    horizon = sc.writes * 5.0
    t = 0.0
    for i in range(sc.writes):
        t += rng.expovariate(1 / 5.0)
        leader = rng.choice(names)
        key = f"r{rng.randrange(sc.keys)}"
        x = rng.random()
        values = None if x < 0.05 else {"v": f"{leader}{i}", "tags": [f"t{i % 7}"]}

        def act(leader: str = leader, key: str = key, values: dict | None = values) -> None:
            if sim.is_up(leader):
                ml.write(leader, key, values)
                rep.writes += 1
        sim.at(t, act, "write")
    if sc.faults:
        ft = rng.uniform(20, 200)
        while ft < horizon:
            kind = rng.choice(("crash", "partition", "oneway"))
            length = rng.uniform(30, 400)
            if kind == "crash":
                v = rng.choice(names)
                sim.at(ft, lambda v=v: sim.crash(v), "crash")
                sim.at(ft + length, lambda v=v: sim.restart(v), "restart")
            elif kind == "partition":
                cut = rng.randrange(1, len(names))
                order = names[:]
                rng.shuffle(order)
                sim.at(ft, lambda a=order[:cut], b=order[cut:]: sim.partition(a, b), "part")
                sim.at(ft + length, sim.heal, "heal")
            else:
                a, b = rng.sample(names, 2)
                sim.at(ft, lambda a=a, b=b: sim.block(a, b), "block")
                sim.at(ft + length, sim.heal, "heal")
            rep.faults.append(f"{ft:.0f}ms {kind} for {length:.0f}ms")
            ft += length + rng.uniform(50, 400)
    sim.run(until=t + 1.0)
    sim.heal()
    for n in names:
        sim.restart(n)
    sim.run(until=sim.now + sc.heal_ms)
    contents = ml.contents()
    rep.divergent_keys = [str(d.key) for d in check_convergence(contents)]
    for n in names:
        leader = ml.leader(n)
        rep.conflicts += len(leader.conflicts())
        rep.anomalies += leader.anomalies
        rep.pending += leader.pending
    rep.digest = sim.digest() if sc.detail else ""
    rep.wall_s = time.perf_counter() - start
    return rep
