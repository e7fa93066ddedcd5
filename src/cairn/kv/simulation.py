"""The leaderless cluster inside the deterministic simulator, and the properties every run
must keep (``cairn sim leaderless``).

One seed decides everything: message delays, loss, duplication and reordering, clock skew and
drift per node, when nodes crash and restart, which partitions (symmetric or one-way) come and
go, and what the clients do. Clients run closed loops of gets, read-modify-write puts (the
context of their last read), blind puts (siblings), deletes, counter increments and set
operations. Then the faults heal, hinted handoff and anti-entropy run, and the run is checked:

- convergence: every key's home replicas hold equal states;
- no acknowledged write lost (``mode="mv"``): each acknowledged dot is still a sibling or was
  covered by the context of a later write (a writer that had read it);
- counters: the converged value lies between the acknowledged and the attempted increments;
- with ``mode="lww"``: the acknowledged writes that last-write-wins silently dropped although
  they started after the surviving write had finished (skewed clocks), and the
  linearizability checker's verdict on the register history.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from cairn.check import INFINITY, AckedWrite, Op, check_convergence, check_linearizable, lost_writes
from cairn.kv.crdt import MVRegister, covers, vv_merge
from cairn.kv.node import KVConfig, KVNode
from cairn.kv.ring import Ring
from cairn.kv.store import MemoryStore
from cairn.sim import Clock, Delay, NetConfig, Simulator


@dataclass(slots=True)
class Scenario:
    nodes: int = 5
    clients: int = 5
    ops: int = 10_000
    keys: int = 100
    counters: int = 5
    sets: int = 5
    config: KVConfig = field(default_factory=lambda: KVConfig(ae_ms=500.0))
    delay: Delay = field(default_factory=lambda: Delay("exponential", 1.0, base=0.1))
    loss: float = 0.01
    duplicate: float = 0.01
    reorder: float = 0.05
    faults: bool = True
    skew_ms: float = 20.0        # clocks are offset by up to this much
    drift: float = 1e-3          # and run fast or slow by up to this rate
    think_ms: float = 1.0
    client_timeout_ms: float = 80.0
    heal_ms: float = 4000.0
    detail: bool = False         # log message contents (determinism tests)
    linearizability: bool = True  # check the register history (lww mode)


@dataclass(slots=True)
class Report:
    seed: int
    ops: int = 0
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    events: int = 0
    sim_ms: float = 0.0
    wall_s: float = 0.0
    digest: str = ""
    divergent_keys: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    counter_errors: list[str] = field(default_factory=list)
    linearizable: bool | None = None
    violation: str = ""
    faults: list[str] = field(default_factory=list)
    handoffs: int = 0
    repairs: int = 0
    ae_bytes: int = 0            # Merkle exchange: hashes and the keys of differing leaves
    ae_object_bytes: int = 0     # the differing keys' states (the same for a naive exchange)
    ae_naive_bytes: int = 0      # what sending every (key, digest) pair would have cost
    ae_differing_keys: int = 0

    @property
    def failures(self) -> list[str]:
        out = [f"divergent key {k}" for k in self.divergent_keys]
        out += [f"lost acknowledged write {w}" for w in self.lost]
        out += self.counter_errors
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.__slots__}
        d["failures"] = self.failures
        return d


class _Client:
    """A closed-loop client: one request at a time to a random node, then a short think."""

    def __init__(self, ctx: Any, run: _Run, ops: int):
        self.ctx = ctx
        self.run = run
        self.left = ops
        self.current: Any = None
        self.seq = 0
        self.contexts: dict[str, Any] = {}   # key -> context of this client's last read

    def start(self) -> None:
        self.ctx.set_timer(self.ctx.rng.random() * 2, ("next",))

    def on_timer(self, tag: tuple) -> None:
        if tag[0] == "next":
            self._issue()
        elif tag[0] == "cto" and self.current is not None and self.current[0] == tag[1]:
            self._finish(None, unknown=True)

    def on_message(self, src: str, msg: tuple) -> None:
        if msg[0] == "resp" and self.current is not None and msg[1] == self.current[0]:
            self._finish(msg, unknown=False)

    def _issue(self) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        rng = self.ctx.rng
        sc = self.run.scenario
        self.seq += 1
        rid = (self.ctx.name, self.seq)
        x = rng.random()
        arg: Any = None
        context: Any = None
        if x < 0.1 and sc.counters:
            op, key, arg = "incr", f"c{rng.randrange(sc.counters)}", rng.choice((1, 1, 2, -1))
        elif x < 0.2 and sc.sets:
            op, key, arg = rng.choice(("sadd", "sadd", "srem")), f"s{rng.randrange(sc.sets)}", \
                f"e{rng.randrange(8)}"
        else:
            key = f"k{rng.randrange(sc.keys)}"
            y = rng.random()
            if y < 0.45:
                op = "get"
            else:
                op = "del" if y > 0.97 else "put"
                arg = f"{self.ctx.name}.{self.seq}" if op == "put" else None
                # Mostly read-modify-write (the last read's context), sometimes blind.
                context = self.contexts.pop(key, None) if y < 0.9 else None
        self.current = (rid, op, key, arg, context, self.ctx.now(), self.run.sim.now)
        node = self.run.node_names[rng.randrange(len(self.run.node_names))]
        self.ctx.send(node, ("req", rid, self.ctx.name, op, key, arg, context, None, 0))
        self.ctx.set_timer(sc.client_timeout_ms, ("cto", rid))

    def _finish(self, msg: tuple | None, unknown: bool) -> None:
        _rid, op, key, arg, context, _, started = self.current
        self.current = None
        self.run.record(self.ctx.name, op, key, arg, context, started, msg, unknown)
        if not unknown and msg[2] and op == "get" and msg[3][1]:
            self.contexts[key] = msg[3][1]
        self.ctx.set_timer(self.run.scenario.think_ms * (0.5 + self.ctx.rng.random()), ("next",))


class _Run:
    def __init__(self, scenario: Scenario, seed: int):
        self.scenario = scenario
        self.seed = seed
        self.report = Report(seed)
        self.rng = random.Random(f"faults/{seed}")
        sc = scenario
        self.sim = Simulator(seed, NetConfig(delay=sc.delay, loss=sc.loss,
                                             duplicate=sc.duplicate, reorder=sc.reorder),
                             detail=sc.detail)
        self.node_names = [f"n{i + 1}" for i in range(sc.nodes)]
        self.ring = Ring(self.node_names, sc.config.vnodes)
        self.history: list[Op] = []
        self.acked: list[AckedWrite] = []
        self.contexts: dict[str, Any] = {}     # key -> merge of every issued write's context
        self.writes: dict[Any, Op] = {}        # value -> the write op (lww check)
        self.incr_acked: dict[str, list[int]] = {}
        self.incr_tried: dict[str, list[int]] = {}

    def observe(self, event: str, *args: Any) -> None:
        rep = self.report
        if event == "dot":
            key, _, context = args
            if context:
                self.contexts[key] = vv_merge(self.contexts.get(key, ()), context)
        elif event == "handoff":
            rep.handoffs += 1
        elif event == "repair":
            rep.repairs += 1
        elif event == "ae_bytes":
            if args[0] == "ae_objs":
                rep.ae_object_bytes += args[1]
            else:
                rep.ae_bytes += args[1]
        elif event == "ae_start":
            rep.ae_naive_bytes += args[2]
        elif event == "ae_diff":
            rep.ae_differing_keys += args[0]

    def record(self, client: str, op: str, key: str, arg: Any, context: Any, started: float,
               msg: tuple | None, unknown: bool) -> None:
        rep = self.report
        rep.ops += 1
        now = self.sim.now
        if unknown:
            rep.unknown += 1
        elif msg[2]:
            rep.ok += 1
        else:
            rep.failed += 1
        ok = not unknown and msg[2]
        if op == "incr":
            tried = self.incr_tried.setdefault(key, [0, 0])
            tried[0 if arg < 0 else 1] += arg
            if ok:
                acked = self.incr_acked.setdefault(key, [0, 0])
                acked[0 if arg < 0 else 1] += arg
            return
        if key[0] != "k":
            return
        keep_history = self.scenario.config.mode == "lww" and self.scenario.linearizability
        if op == "get":
            if ok and keep_history:
                values = msg[3][0]
                value = values[0] if len(values) == 1 else (values if values else None)
                self.history.append(Op(client, "read", key, value, started, now))
            return
        ret = now if ok else INFINITY  # a failed or timed-out write may still take effect
        if self.scenario.config.mode == "lww":
            w = Op(client, "write", key, arg, started, ret)
            if keep_history:
                self.history.append(w)
            if arg is not None:
                self.writes[arg] = w
        if ok:
            wid = msg[3] if self.scenario.config.mode == "mv" else arg
            self.acked.append(AckedWrite(key, wid, started, now))

    # --- faults ------------------------------------------------------------------------------
    def schedule_faults(self, horizon: float) -> None:
        sim, rng, names = self.sim, self.rng, self.node_names
        sc = self.scenario
        for name in names:
            sim.set_clock(name, Clock(rng.uniform(-sc.skew_ms, sc.skew_ms),
                                      rng.uniform(-sc.drift, sc.drift)))
        if not sc.faults:
            return
        t = rng.uniform(50, 300)
        while t < horizon:
            kind = rng.choice(("crash", "partition", "oneway", "crash", "partition"))
            length = rng.uniform(50, 600)
            if kind == "crash":
                victim = rng.choice(names)
                sim.at(t, lambda v=victim: sim.crash(v), f"crash {victim}")
                sim.at(t + length, lambda v=victim: sim.restart(v), f"restart {victim}")
                self.report.faults.append(f"{t:.0f}ms crash {victim} for {length:.0f}ms")
            elif kind == "partition":
                cut = rng.randrange(1, len(names))
                shuffled = names[:]
                rng.shuffle(shuffled)
                a, b = shuffled[:cut], shuffled[cut:]
                sim.at(t, lambda a=a, b=b: sim.partition(a, b), "partition")
                sim.at(t + length, sim.heal, "heal")
                self.report.faults.append(f"{t:.0f}ms partition {a}|{b} for {length:.0f}ms")
            else:
                src, dst = rng.sample(names, 2)
                sim.at(t, lambda s=src, d=dst: sim.block(s, d), "block")
                sim.at(t + length, sim.heal, "heal")
                self.report.faults.append(f"{t:.0f}ms {src}->{dst} blocked for {length:.0f}ms")
            t += length + rng.uniform(100, 800)

    # --- the run -----------------------------------------------------------------------------
    def execute(self) -> Report:
        start = time.perf_counter()
        sc, sim = self.scenario, self.sim
        for name in self.node_names:
            sim.add(name, lambda ctx: KVNode(ctx, self.ring, sc.config, MemoryStore(ctx.disk),
                                             self.observe))
        per_client = [sc.ops // sc.clients + (i < sc.ops % sc.clients) for i in range(sc.clients)]
        for i, ops in enumerate(per_client):
            sim.add(f"client{i}", lambda ctx, ops=ops: _Client(ctx, self, ops))
        # Rough length of the client phase: faults are spread over it.
        horizon = max(per_client) * (sc.think_ms + 4 * sc.delay.base + 6 * sc.delay.a)
        self.schedule_faults(horizon)
        while self.report.ops < sc.ops and sim.pending():
            sim.run(until=sim.now + 500)
        # Heal everything, then let hinted handoff and anti-entropy finish.
        sim.heal()
        for name in self.node_names:
            sim.restart(name)
        sim.run(until=sim.now + sc.heal_ms)
        self.check()
        rep = self.report
        rep.events = len(sim.log)
        rep.sim_ms = sim.now
        rep.digest = sim.digest() if sc.detail else ""
        rep.wall_s = time.perf_counter() - start
        return rep

    def check(self) -> None:
        rep, sc = self.report, self.scenario
        n = sc.config.n
        data = {name: self.sim.disk(name).get("data", {}) for name in self.node_names}
        keys = set().union(*data.values())
        owners = {k: list(self.ring.walk(k)[:n]) for k in keys}
        rep.divergent_keys = [d.key for d in check_convergence(data, owners)]
        # Anti-entropy against the naive full comparison: what one full exchange of every
        # replica pair would have sent, for the keys the pair shares.
        final = {k: data[owners[k][0]].get(k) for k in keys}
        if sc.config.mode == "mv":
            survivors = {k: set(s.dots) for k, s in final.items() if isinstance(s, MVRegister)}
            superseded = {w.wid for w in self.acked
                          if covers(self.contexts.get(w.key, ()), w.wid)}
            rep.lost = [f"{w.key} dot {w.wid}" for w in
                        lost_writes(self.acked, survivors, superseded)]
        else:
            survivors = {k: {s.val} for k, s in final.items() if hasattr(s, "val")}
            superseded = set()
            for w in self.acked:
                s = final.get(w.key)
                winner = self.writes.get(getattr(s, "val", None))
                # Dropped for real only if the survivor had finished before w started.
                if winner is None or not winner.ret < w.call:
                    superseded.add(w.wid)
            rep.lost = [f"{w.key} write {w.wid!r} (acknowledged at {w.ret:.1f}ms)" for w in
                        lost_writes(self.acked, survivors, superseded)]
            if sc.linearizability:
                res = check_linearizable(self.history)
                rep.linearizable = res.ok
                rep.violation = "" if res.ok else res.explain()
        for key, (neg, pos) in self.incr_tried.items():
            value = getattr(final.get(key), "value", 0)
            acked_neg, acked_pos = self.incr_acked.get(key, (0, 0))
            # Unacknowledged increments may or may not have been applied.
            if not acked_pos + neg <= value <= pos + acked_neg:
                rep.counter_errors.append(
                    f"counter {key}={value} outside [{acked_pos + neg}, {pos + acked_neg}]")


def run_seed(seed: int, scenario: Scenario | None = None) -> Report:
    return _Run(scenario or Scenario(), seed).execute()


class _Inbox:
    """A client endpoint for ``SimCluster``: keeps the responses it receives."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.responses: dict[Any, tuple] = {}

    def start(self) -> None:
        pass

    def on_timer(self, tag: Any) -> None:
        pass

    def on_message(self, src: str, msg: tuple) -> None:
        if msg[0] == "resp":
            self.responses[msg[1]] = msg


class SimCluster:
    """A leaderless cluster in the simulator, driven one request at a time (scenario tests,
    the docs' walk-throughs): ``call`` sends a request and runs the simulation until it is
    answered or ``timeout_ms`` passes."""

    def __init__(self, nodes: int = 5, config: KVConfig | None = None, seed: int = 0,
                 net: NetConfig | None = None):
        self.sim = Simulator(seed, net or NetConfig(delay=Delay("constant", 1.0)))
        self.config = config or KVConfig()
        self.names = [f"n{i + 1}" for i in range(nodes)]
        self.ring = Ring(self.names, self.config.vnodes)
        self.events: list[tuple] = []
        for name in self.names:
            self.sim.add(name, lambda ctx: KVNode(ctx, self.ring, self.config,
                                                  MemoryStore(ctx.disk), self._observe))
        self.sim.add("client", _Inbox)
        self.seq = 0

    def _observe(self, *event: Any) -> None:
        self.events.append(event)

    def call(self, node: str, op: str, key: str, arg: Any = None, context: Any = None,
             opts: tuple | None = None, timeout_ms: float = 200.0) -> tuple[bool, Any]:
        self.seq += 1
        rid = ("client", self.seq)
        inbox = self.sim.process("client")
        self.sim.send("client", node, ("req", rid, "client", op, key, arg, context, opts, 0))
        deadline = self.sim.now + timeout_ms
        while rid not in inbox.responses and self.sim.now < deadline:
            self.sim.run(until=min(deadline, self.sim.now + 1.0))
        if rid not in inbox.responses:
            return False, "no response"
        msg = inbox.responses.pop(rid)
        return msg[2], msg[3]

    def settle(self, ms: float) -> None:
        self.sim.run(until=self.sim.now + ms)

    def replicas(self, key: str) -> dict[str, Any]:
        """Each node's stored state of ``key`` (None: not held), hinted copies apart."""
        return {n: self.sim.disk(n).get("data", {}).get(key) for n in self.names}

    def hints(self, node: str) -> dict:
        return dict(self.sim.disk(node).get("hints", {}))

    def homes(self, key: str) -> tuple[str, ...]:
        return self.ring.preference(key, self.config.n)

    def change_membership(self, names: list[str]) -> int:
        """Add and remove nodes: new nodes start empty, every node adopts the new ring and
        copies keys to their new owners (removed nodes hand theirs over first, then stop).
        Returns the number of (key, node) copies sent."""
        self.ring = self.ring.with_nodes(names)
        for name in names:
            if name not in self.names:
                self.names.append(name)
                self.sim.add(name, lambda ctx: KVNode(ctx, self.ring, self.config,
                                                      MemoryStore(ctx.disk), self._observe))
        sent = 0
        for name in list(self.names):
            if self.sim.is_up(name):
                sent += self.sim.process(name).change_ring(self.ring)
        for name in [x for x in self.names if x not in names]:
            self.sim.after(50.0, lambda name=name: self.sim.crash(name), f"decommission {name}")
            self.names.remove(name)
        return sent
