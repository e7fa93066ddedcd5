"""The leaderless cluster under simulated faults: seeds replay exactly, the properties hold
with version vectors, and the checkers catch what LWW and a cluster without repair break."""

from __future__ import annotations

from cairn.kv import KVConfig, Scenario, run_seed
from cairn.sim import Delay


def small(**kw) -> Scenario:
    base = dict(ops=1500, keys=30, heal_ms=3000.0)
    base.update(kw)
    return Scenario(**base)


def test_a_seed_replays_the_same_event_log():
    sc = small(ops=600, detail=True)
    a, b, c = run_seed(11, sc), run_seed(11, sc), run_seed(12, sc)
    assert a.digest == b.digest and a.events == b.events and a.ok == b.ok
    assert a.digest != c.digest


def test_version_vectors_keep_every_acknowledged_write_and_converge():
    for seed in range(3):
        rep = run_seed(seed, small())
        assert rep.failures == [], (seed, rep.failures)
        assert rep.ok > 1000 and rep.faults  # faults were injected and work got done
        assert rep.handoffs > 0 and rep.repairs > 0 and rep.ae_differing_keys > 0
        assert rep.ae_bytes < rep.ae_naive_bytes


def test_lww_under_clock_skew_drops_acknowledged_writes_and_is_not_linearizable():
    sc = small(config=KVConfig(mode="lww", ae_ms=500.0), skew_ms=200.0, faults=False,
               counters=0, sets=0, keys=5, ops=800)
    rep = run_seed(1, sc)
    assert rep.divergent_keys == []
    assert rep.lost, "skewed clocks should make LWW drop later writes"
    assert rep.linearizable is False and "NOT linearizable" in rep.violation


def test_without_repair_mechanisms_replicas_diverge():
    sc = small(config=KVConfig(sloppy=False, read_repair=False, ae_ms=0.0, handoff_ms=1e9),
               loss=0.05)
    rep = run_seed(3, sc)
    assert rep.divergent_keys  # the convergence checker sees it


def test_strict_quorums_with_variable_delays_are_not_linearizable_fig_9_6():
    # w + r > n, no skew, no faults: still a read can see a value a later read does not.
    sc = small(config=KVConfig(mode="lww", read_repair=False, ae_ms=0.0, n=3, r=2, w=2),
               skew_ms=0.0, drift=0.0, faults=False, counters=0, sets=0, keys=2, ops=1000,
               clients=10, delay=Delay("lognormal", 0.0, 1.5), loss=0.0, duplicate=0.0,
               reorder=0.0, heal_ms=500.0)
    found = [run_seed(seed, sc) for seed in (0, 4, 5)]
    bad = [r for r in found if r.linearizable is False]
    assert bad and all(r.lost == [] for r in found)
    assert "NOT linearizable" in bad[0].violation and "read" in bad[0].violation
