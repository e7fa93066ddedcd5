"""Probabilistically Bounded Staleness (Bailis et al., VLDB 2012): how often does a partial
quorum read, issued t ms after a write committed, return that write?

``wars_model`` is the paper's WARS Monte Carlo: a write goes to all N replicas at once
(replica i applies it after W_i and acknowledges after W_i + A_i); it commits at the w-th
acknowledgement; a read sent t ms later reaches replica i after R_i and comes back after S_i;
the reader takes the first r answers and is consistent if one of them had the write
(W_i <= commit + t + R_i).

``simulate`` measures the same probability on the real protocol: ``KVNode`` in the simulator,
with "rep", "ack", "read" and "rresp" messages drawing their delays from the W, A, R and S
distributions, a proxy coordinator (last-write-wins puts, Cassandra-style) for writes and for
reads, and no read repair or anti-entropy to help. The two should agree within sampling error.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from cairn.kv.node import KVConfig, KVNode
from cairn.kv.ring import Ring
from cairn.kv.store import MemoryStore
from cairn.sim import Delay, NetConfig, Simulator

CONFIGS = ((3, 1, 1), (3, 1, 2), (3, 2, 1), (3, 2, 2))
TIMES = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0)


@dataclass(frozen=True, slots=True)
class Latencies:
    """The four WARS distributions (ms). Defaults: slow writes, fast everything else, all
    exponential, one of the paper's synthetic settings (W mean 10 ms, A = R = S mean 1 ms)."""

    w: Delay = field(default_factory=lambda: Delay("exponential", 10.0))
    a: Delay = field(default_factory=lambda: Delay("exponential", 1.0))
    r: Delay = field(default_factory=lambda: Delay("exponential", 1.0))
    s: Delay = field(default_factory=lambda: Delay("exponential", 1.0))


def wars_model(n: int, r: int, w: int, times: Sequence[float], trials: int = 100_000,
               lat: Latencies | None = None, seed: int = 0) -> list[float]:
    """P(consistent read) at each t in ``times``, by Monte Carlo over the WARS model."""
    lat = lat or Latencies()
    rng = random.Random(seed)
    hits = [0] * len(times)
    for _ in range(trials):
        ws = [lat.w.draw(rng) for _ in range(n)]
        commit = sorted(ws[i] + lat.a.draw(rng) for i in range(n))[w - 1]
        for j, t in enumerate(times):
            reads = [lat.r.draw(rng) for _ in range(n)]
            answers = sorted(range(n), key=lambda i, reads=reads: reads[i] + lat.s.draw(rng))
            if any(ws[i] <= commit + t + reads[i] for i in answers[:r]):
                hits[j] += 1
    return [h / trials for h in hits]


class _Prober:
    """Writes a fresh key through a proxy, and reads it back ``t`` ms after the commit."""

    def __init__(self, ctx, proxies: dict[str, str], times: Sequence[float], per_t: int,
                 opts: tuple, out: list[list[int]]):
        self.ctx = ctx
        self.proxies = proxies
        self.times = times
        self.per_t = per_t
        self.opts = opts
        self.out = out
        self.trial = 0

    def start(self) -> None:
        self.ctx.set_timer(0.0, ("write",))

    def on_timer(self, tag: tuple) -> None:
        if tag[0] == "write":
            total = len(self.times) * self.per_t
            if self.trial < total:
                i = self.trial
                self.trial += 1
                key = f"pbs{i}"
                self.ctx.send(self.proxies[key], ("req", ("w", i), self.ctx.name, "put", key,
                                                  "new", None, self.opts, 0))
                self.ctx.set_timer(0.5, ("write",))  # trials overlap, keys never do
        else:
            i = tag[1]
            key = f"pbs{i}"
            self.ctx.send(self.proxies[key], ("req", ("r", i), self.ctx.name, "get", key, None,
                                              None, self.opts, 0))

    def on_message(self, src: str, msg: tuple) -> None:
        (kind, i), ok = msg[1], msg[2]
        t = self.times[i % len(self.times)]
        if kind == "w" and ok:
            self.ctx.set_timer(t, ("read", i))
        elif kind == "r" and ok:
            self.out[i % len(self.times)][0] += 1
            self.out[i % len(self.times)][1] += msg[3][0] == ("new",)


def simulate(n: int, r: int, w: int, times: Sequence[float], trials: int = 2000,
             lat: Latencies | None = None, seed: int = 0, nodes: int = 5) -> list[float]:
    """P(consistent read) at each t measured on ``KVNode`` in the simulator."""
    lat = lat or Latencies()
    zero = Delay("constant", 0.0)
    net = NetConfig(delay=zero, delays={"rep": lat.w, "ack": lat.a, "read": lat.r,
                                        "rresp": lat.s, "req": zero, "resp": zero})
    sim = Simulator(seed, net, detail=False)
    cfg = KVConfig(n=n, r=r, w=w, mode="lww", read_repair=False, ae_ms=0.0, sloppy=False,
                   timeout_ms=1e6, handoff_ms=1e6)
    names = [f"n{i + 1}" for i in range(nodes)]
    ring = Ring(names, cfg.vnodes)
    for name in names:
        sim.add(name, lambda ctx: KVNode(ctx, ring, cfg, MemoryStore(ctx.disk)))
    # The proxy of each key is a node outside its preference list (all messages cross the net).
    proxies = {}
    for i in range(len(times) * trials):
        key = f"pbs{i}"
        outside = [x for x in ring.walk(key) if x not in ring.preference(key, n)]
        proxies[key] = outside[i % len(outside)] if outside else ring.walk(key)[0]
    out = [[0, 0] for _ in times]
    sim.add("prober", lambda ctx: _Prober(ctx, proxies, times, trials, (n, r, w), out))
    total = len(times) * trials
    # Nodes keep periodic timers: run in slices until every trial has been read back.
    while sum(o[0] for o in out) < total and sim.pending():
        sim.run(until=sim.now + 1000.0)
    return [hit / total if total else 0.0 for total, hit in out]


@dataclass(slots=True)
class PBSResult:
    times: list[float]
    model: dict[str, list[float]]
    simulated: dict[str, list[float]]

    def max_gap(self) -> float:
        return max(abs(a - b) for k in self.model
                   for a, b in zip(self.model[k], self.simulated[k], strict=True))


def compare(trials: int = 2000, model_trials: int = 50_000, seed: int = 0,
            times: Sequence[float] = TIMES, lat: Latencies | None = None) -> PBSResult:
    model, simulated = {}, {}
    for n, r, w in CONFIGS:
        label = f"N={n} R={r} W={w}"
        model[label] = wars_model(n, r, w, times, model_trials, lat, seed)
        simulated[label] = simulate(n, r, w, times, trials, lat, seed)
    return PBSResult(list(times), model, simulated)


def plot(result: PBSResult, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, label in enumerate(result.model):
        color = f"C{i}"
        ax.plot(result.times, result.model[label], "-", color=color, label=f"{label} WARS model")
        ax.plot(result.times, result.simulated[label], "o", color=color,
                label=f"{label} simulator")
    ax.set_xlabel("t: ms after the write committed")
    ax.set_ylabel("P(read returns the write)")
    ax.set_title("PBS: WARS Monte Carlo (lines) vs cairn kv in the simulator (dots)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
