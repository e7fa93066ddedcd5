"""Multi-leader replication between cairn.db leaders in the simulator: fig. 5-9 with naive
timestamps and with version vectors, every conflict rule, topologies without loops, an
offline calendar, and seeded fault runs."""

from __future__ import annotations

import pytest

from cairn.replication import (
    TOPOLOGIES,
    MultiLeaderConfig,
    MultiLeaderScenario,
    MultiLeaderSim,
    ReplicationError,
    run_multileader_seed,
    upstream,
)


def fig_5_9(mode: str) -> MultiLeaderSim:
    """A inserts; B receives it and updates; C gets B's update before A's insert."""
    ml = MultiLeaderSim(config=MultiLeaderConfig(topology="all", mode=mode, sync_ms=50))
    ml.sim.block("A", "C")                 # A's messages to C are lost for now
    ml.write("A", "x", {"v": 1})
    ml.run(10)
    assert ml.leader("B").rows() == {"x": {"v": 1}}
    ml.write("B", "x", {"v": 2})           # causally after the insert
    ml.run(10)
    ml.sim.heal()
    ml.run(300)                            # C pulls the insert later
    return ml


def test_fig_5_9_naive_timestamps_drop_the_update_and_diverge():
    ml = fig_5_9("naive")
    assert any("arrived before its insert" in a for a in ml.leader("C").anomalies)
    c = ml.contents()
    assert c["A"] == c["B"] == {"x": {"v": 2}}
    assert c["C"] == {"x": {"v": 1}}       # the update is lost at C for good


def test_fig_5_9_version_vectors_wait_for_the_insert_and_converge():
    ml = fig_5_9("vv")
    c = ml.contents()
    assert c["A"] == c["B"] == c["C"] == {"x": {"v": 2}}
    assert ml.leader("C").anomalies == [] and ml.leader("C").pending == 0
    assert ml.leader("C").conflicts() == []  # causally ordered: no conflict


@pytest.mark.parametrize("rule,expect", [
    ("lww", lambda rows: rows["v"] in ("a", "b")),
    ("replica", lambda rows: rows["v"] == "b"),       # the greatest leader id wins
    ("merge", lambda rows: rows["tags"] == ["ta", "tb"]),
    ("siblings", lambda rows: sorted(s["v"] for s in rows["_siblings"]) == ["a", "b"]),
])
def test_concurrent_writes_conflict_resolved_by_rule_and_recorded(rule, expect):
    ml = MultiLeaderSim(["A", "B"], MultiLeaderConfig(topology="all", rule=rule, sync_ms=50))
    ml.write("A", "k", {"v": "a", "tags": ["ta"]})
    ml.write("B", "k", {"v": "b", "tags": ["tb"]})   # concurrent: neither saw the other
    ml.run(200)
    c = ml.contents()
    assert c["A"] == c["B"] and expect(c["A"]["k"])
    for name in "AB":
        recs = ml.leader(name).conflicts()
        assert len(recs) == 1 and recs[0]["rule"] == rule and recs[0]["key"] == "k"
    # A later write that saw the conflict resolves it everywhere without a new conflict.
    ml.write("A", "k", {"v": "resolved", "tags": []})
    ml.run(200)
    assert ml.contents()["B"]["k"] == {"v": "resolved", "tags": []}
    assert len(ml.leader("B").conflicts()) == 1


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_topologies_deliver_everything_once_without_loops(topology):
    names = ["A", "B", "C", "D"]
    ml = MultiLeaderSim(names, MultiLeaderConfig(topology=topology, sync_ms=1e6))
    for i, n in enumerate(names):
        ml.write(n, f"k{i}", {"v": i})
    ml.run(500)
    c = ml.contents()
    assert all(c[n] == {f"k{i}": {"v": i} for i in range(4)} for n in names)
    sent = ml.sim.stats["sent"]
    # Each of the 4 changes reaches the 3 other leaders exactly once: ring, 3 hops; star, the
    # centre sends 3, a leaf 1 that the centre forwards to 2; all-to-all, 3 direct sends.
    assert sent == 12
    assert ml.sim.pending() == len(names)  # only the (far) sync timers are left: no echo


def test_upstream_of_each_topology():
    names = ["A", "B", "C"]
    assert upstream("A", names, "circular") == ["C"]
    assert upstream("B", names, "star") == ["A"] and upstream("A", names, "star") == ["B", "C"]
    assert upstream("A", names, "all") == ["B", "C"]
    with pytest.raises(ReplicationError):
        MultiLeaderConfig(topology="mesh")
    with pytest.raises(ReplicationError):
        MultiLeaderConfig(rule="coin")


def test_offline_calendar_syncs_later():
    ml = MultiLeaderSim(["laptop", "server"], MultiLeaderConfig(rule="siblings", sync_ms=50))
    ml.write("server", "standup", {"at": "09:00"})
    ml.run(100)
    ml.sim.partition(["laptop"], ["server"])     # on a plane
    ml.write("laptop", "standup", {"at": "09:30"})
    ml.write("laptop", "lunch", {"at": "12:00"})
    ml.write("server", "standup", {"at": "10:00"})
    ml.run(500)
    assert ml.leader("server").rows()["standup"] == {"at": "10:00"}
    assert "lunch" not in ml.leader("server").rows()
    ml.sim.heal()                                # landed
    ml.run(300)
    c = ml.contents()
    assert c["laptop"] == c["server"]
    assert c["server"]["lunch"] == {"at": "12:00"}
    assert sorted(s["at"] for s in c["server"]["standup"]["_siblings"]) == ["09:30", "10:00"]


def test_seeded_runs_converge_with_version_vectors_and_not_with_naive_timestamps():
    for topology in TOPOLOGIES:
        rep = run_multileader_seed(3, MultiLeaderScenario(
            writes=250, config=MultiLeaderConfig(topology=topology)))
        assert rep.failures == [] and rep.conflicts > 0 and rep.faults
    naive = [run_multileader_seed(s, MultiLeaderScenario(
        writes=250, config=MultiLeaderConfig(mode="naive"))) for s in range(3)]
    assert any(r.failures for r in naive)


def test_a_seed_replays_identically():
    sc = MultiLeaderScenario(writes=150, detail=True)
    a, b = run_multileader_seed(5, sc), run_multileader_seed(5, sc)
    assert a.digest == b.digest and a.conflicts == b.conflicts


def test_sim_multileader_command_reports_and_fails_for_naive_mode(tmp_path):
    from click.testing import CliRunner

    from cairn.cli import _register, cli
    if "sim" not in cli.commands or "multileader" not in cli.commands["sim"].commands:
        _register()
    ok = CliRunner().invoke(cli, ["sim", "multileader", "--seeds", "2", "--writes", "150",
                                  "--topology", "circular", "--json", str(tmp_path / "m.json")])
    assert ok.exit_code == 0 and "2 seeds run, 0 with property failures" in ok.output
    bad = CliRunner().invoke(cli, ["sim", "multileader", "--seeds", "3", "--writes", "250",
                                   "--mode", "naive"])
    assert bad.exit_code == 1 and "replay: cairn sim multileader" in bad.output
