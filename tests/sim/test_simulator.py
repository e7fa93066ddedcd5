"""The simulator: determinism per seed, and every fault it claims to inject."""

from __future__ import annotations

import pytest

from cairn.sim import Clock, Delay, DelayError, NetConfig, Simulator


class Echo:
    """Counts what it receives, keeps a durable counter on disk, pings its peers on a timer."""

    def __init__(self, ctx, peers, rounds=20):
        self.ctx = ctx
        self.peers = peers
        self.rounds = rounds
        self.received: list[tuple] = []

    def start(self):
        self.ctx.disk.setdefault("boots", 0)
        self.ctx.disk["boots"] += 1
        self.ctx.set_timer(1.0, ("tick", 0))

    def on_message(self, src, msg):
        self.received.append((src, msg))
        self.ctx.disk["got"] = self.ctx.disk.get("got", 0) + 1
        if msg[0] == "ping":
            self.ctx.send(src, ("pong", msg[1]))

    def on_timer(self, tag):
        i = tag[1]
        for p in self.peers:
            self.ctx.send(p, ("ping", (self.ctx.name, i)))
        if i + 1 < self.rounds:
            self.ctx.set_timer(1.0, ("tick", i + 1))


def cluster(seed, net=None, names=("a", "b", "c"), rounds=20):
    sim = Simulator(seed, net or NetConfig(delay=Delay("exponential", 2.0)))
    for n in names:
        sim.add(n, lambda ctx, n=n: Echo(ctx, [p for p in names if p != n], rounds))
    return sim


def test_same_seed_same_event_log_different_seed_different_log():
    net = NetConfig(delay=Delay("lognormal", 0.0, 1.0), loss=0.1, duplicate=0.1, reorder=0.2)
    runs = []
    for seed in (7, 7, 8):
        sim = cluster(seed, NetConfig(**{f: getattr(net, f) for f in net.__slots__}))
        sim.after(5, lambda sim=sim: sim.partition(["a"], ["b", "c"]))
        sim.after(9, lambda sim=sim: sim.crash("b"))
        sim.after(12, lambda sim=sim: sim.restart("b"))
        sim.after(15, lambda sim=sim: sim.heal())
        sim.run()
        runs.append((sim.digest(), len(sim.log), dict(sim.stats)))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]


def test_loss_and_duplication_rates_match_their_probabilities():
    sim = cluster(1, NetConfig(delay=Delay("constant", 1.0), loss=0.2, duplicate=0.3), rounds=400)
    sim.run()
    s = sim.stats
    assert 0.16 < s["dropped"] / s["sent"] < 0.24
    assert 0.25 < s["duplicated"] / (s["sent"] - s["dropped"]) < 0.35


def test_constant_delay_keeps_order_and_reordering_breaks_it():
    def order(reorder):
        sim = cluster(3, NetConfig(delay=Delay("constant", 5.0), reorder=reorder), ("a", "b"), 50)
        sim.run()
        pings = [m[1][1] for s, m in sim.process("b").received if m[0] == "ping"]
        return pings
    assert order(0.0) == sorted(order(0.0))
    assert order(0.5) != sorted(order(0.5))


def test_symmetric_partition_and_one_way_block():
    sim = cluster(2, NetConfig(delay=Delay("constant", 0.5)), ("a", "b", "c"), rounds=5)
    sim.partition(["a"], ["b", "c"])
    sim.run()
    got = {n: {s for s, _ in sim.process(n).received} for n in "abc"}
    assert got["a"] == set() and "a" not in got["b"] and got["b"] == {"c"}

    sim = cluster(2, NetConfig(delay=Delay("constant", 0.5)), ("a", "b"), rounds=5)
    sim.block("a", "b")
    sim.run()
    assert sim.process("b").received == []
    kinds = {m[0] for _, m in sim.process("a").received}
    assert kinds == {"ping"}  # b's pings reach a, a's pongs never come back


def test_crash_loses_memory_keeps_disk_and_stops_timers():
    sim = cluster(4, NetConfig(delay=Delay("constant", 0.5)), ("a", "b"), rounds=10)
    sim.run(until=3.2)
    before = sim.disk("a")["got"]
    sim.crash("a")
    sim.run(until=6.0)
    assert sim.disk("a")["got"] == before  # nothing delivered to a crashed node
    sim.restart("a")
    assert sim.process("a").received == []  # memory is new
    assert sim.disk("a")["boots"] == 2      # the disk survived
    sim.run()
    assert sim.disk("a")["got"] > before
    assert any(e[1] == "lost" for e in sim.log)


def test_clock_skew_and_drift():
    c = Clock(skew=100.0, drift=0.01)
    assert c.local(1000.0) == pytest.approx(1110.0)
    assert c.true_delay(101.0) == pytest.approx(100.0)
    fired = []

    class T:
        def __init__(self, ctx):
            self.ctx = ctx

        def start(self):
            self.ctx.set_timer(50.0, "x")

        def on_message(self, src, msg):
            pass

        def on_timer(self, tag):
            fired.append((sim.now, self.ctx.now()))

    sim = Simulator(0)
    sim.add("slow", T, Clock(skew=-20.0, drift=-0.5))
    sim.run()
    assert fired == [(pytest.approx(100.0), pytest.approx(30.0))]


def test_delay_distributions_have_their_means_and_reject_bad_parameters():
    import random
    import statistics
    rng = random.Random(0)
    assert statistics.mean(Delay("exponential", 4.0).draw(rng) for _ in range(20000)) == \
        pytest.approx(4.0, rel=0.05)
    assert statistics.mean(Delay("uniform", 1.0, 3.0, base=1.0).draw(rng)
                           for _ in range(20000)) == pytest.approx(3.0, rel=0.05)
    assert Delay.parse("exp:2") == Delay("exponential", 2.0)
    for bad in (lambda: Delay("gamma"), lambda: Delay("uniform", 3, 1),
                lambda: Delay.parse("exp:x"), lambda: NetConfig(loss=1.5)):
        with pytest.raises(DelayError):
            bad()
