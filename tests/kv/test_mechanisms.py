"""Each leaderless mechanism on a simulated 5-node cluster, step by step."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.kv import KVConfig, MVRegister, Ring, SimCluster, moved_keys
from cairn.kv.codec import decode, encode
from cairn.kv.crdt import GCounter, LWWRegister, ORSet, PNCounter
from cairn.kv.merkle import MerkleTree, differing_buckets, naive_bytes


def test_ring_preference_lists_and_balance():
    ring = Ring(["a", "b", "c", "d", "e"], vnodes=64)
    keys = [f"k{i}" for i in range(5000)]
    for k in keys[:50]:
        pref = ring.preference(k, 3)
        assert len(set(pref)) == 3 and ring.walk(k)[:3] == pref
    first = [ring.preference(k, 1)[0] for k in keys]
    shares = [first.count(n) / len(keys) for n in "abcde"]
    assert all(0.12 < s < 0.28 for s in shares)
    # Adding a sixth node moves about 1/6 of the primary copies, only to the new node.
    bigger = ring.with_nodes(["a", "b", "c", "d", "e", "f"])
    moved = moved_keys(ring, bigger, keys, 1)
    assert all(v == {"f"} for v in moved.values())
    assert 0.10 < len(moved) / len(keys) < 0.25


def test_merkle_exchange_grows_with_differences_not_with_keys():
    base = {f"k{i}": bytes([i % 256]) * 8 for i in range(4000)}
    a = MerkleTree(base.items(), depth=10)
    assert differing_buckets(a, MerkleTree(base.items(), depth=10)) == ([], 8)
    changed = dict(base)
    for i in range(0, 40, 4):
        changed[f"k{i}"] = b"x" * 8
    buckets, sent = differing_buckets(a, MerkleTree(changed.items(), depth=10))
    assert len(buckets) == 10
    assert sent < naive_bytes(base.items()) / 10


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(max_size=5) | st.booleans()
                    | st.binary(max_size=4),
                    lambda c: st.lists(c, max_size=3) | st.tuples(c, c)
                    | st.frozensets(st.integers(), max_size=3), max_leaves=8))
def test_codec_round_trip(x):
    assert decode(encode(x)) == x


def test_codec_round_trips_every_crdt():
    mv, _ = MVRegister().assign("a", "v")
    for s in (mv, LWWRegister().assign("a", "v", 3.0), PNCounter().add("a", -2),
              GCounter().increment("b"), ORSet().add("a", "x").remove("x")):
        assert decode(encode(s)) == s


def test_any_node_coordinates_and_quorums_count():
    c = SimCluster()
    key = "cart"
    outsider = next(n for n in c.names if n not in c.homes(key))
    ok, dot = c.call(outsider, "put", key, "milk")
    assert ok and dot[0] == c.homes(key)[0]  # forwarded to the first home replica
    ok, (values, context) = c.call(outsider, "get", key)
    assert ok and values == ("milk",) and context
    c.settle(10)
    assert sum(s is not None for s in c.replicas(key).values()) == 3
    bad, why = c.call(outsider, "get", key, opts=(3, 4, 1))
    assert not bad and "bad request" in why


def test_shopping_cart_siblings_fig_5_13():
    c = SimCluster()
    k = "cart"
    assert c.call("n1", "put", k, "milk")[0]
    assert c.call("n2", "put", k, "eggs")[0]              # blind: concurrent with milk
    ok, (values, ctx) = c.call("n3", "get", k)
    assert ok and sorted(values) == ["eggs", "milk"]
    assert c.call("n4", "put", k, "eggs,milk,ham", ctx)[0]  # merges what it read
    assert c.call("n5", "get", k)[1][0] == ("eggs,milk,ham",)
    assert c.call("n1", "put", k, "bacon", ctx)[0]         # stale context: a new sibling
    ok, (values, _) = c.call("n2", "get", k)
    assert ok and sorted(values) == ["bacon", "eggs,milk,ham"]
    assert c.call("n1", "del", k, None, c.call("n3", "get", k)[1][1])[0]
    assert c.call("n4", "get", k)[1][0] == ()


def test_sloppy_quorum_hinted_handoff():
    c = SimCluster(config=KVConfig(n=3, r=2, w=3, timeout_ms=10))
    k = "x"
    home = c.homes(k)[2]
    c.sim.crash(home)
    ok, _ = c.call(c.homes(k)[0], "put", k, "v1")
    assert ok  # w=3 met with a stand-in for the crashed home
    hinted = [n for n in c.names if any(h == home for h, _ in c.hints(n))]
    assert len(hinted) == 1 and hinted[0] not in c.homes(k)
    c.sim.restart(home)
    c.settle(300)
    assert c.replicas(k)[home] is not None and c.replicas(k)[home].value == ("v1",)
    assert c.hints(hinted[0]) == {}
    assert any(e[0] == "handoff" for e in c.events)


def test_strict_quorum_refuses_what_a_sloppy_one_accepts():
    c = SimCluster(config=KVConfig(n=3, r=2, w=3, sloppy=False, timeout_ms=10))
    c.sim.crash(c.homes("x")[2])
    ok, why = c.call(c.homes("x")[0], "put", "x", "v1")
    assert not ok and "timeout" in why


def test_read_repair_fixes_a_stale_replica():
    c = SimCluster(config=KVConfig(n=3, r=3, w=1, ae_ms=0))
    k = "x"
    homes = c.homes(k)
    c.sim.partition([homes[2]], [n for n in c.names if n != homes[2]])
    c.call(homes[0], "put", k, "v1")
    c.settle(50)
    c.sim.heal()
    assert c.replicas(k)[homes[2]] is None
    ok, (values, _) = c.call(homes[0], "get", k)
    assert ok and values == ("v1",)
    c.settle(20)
    assert c.replicas(k)[homes[2]].value == ("v1",)
    assert any(e[0] == "repair" for e in c.events)


def test_anti_entropy_converges_keys_nobody_reads():
    c = SimCluster(config=KVConfig(n=3, r=1, w=1, ae_ms=20, read_repair=False, sloppy=False))
    victim = "n1"
    c.sim.crash(victim)
    for i in range(60):
        c.call("n2", "put", f"k{i}", f"v{i}")
    c.sim.restart(victim)
    c.settle(1000)
    for i in range(60):
        states = {n: s for n, s in c.replicas(f"k{i}").items() if n in c.homes(f"k{i}")}
        assert len(set(map(repr, states.values()))) == 1, states
    assert any(e[0] == "ae_diff" and e[1] > 0 for e in c.events)


def test_counters_and_sets_through_the_cluster_and_wrong_type():
    c = SimCluster()
    for n in c.names:
        assert c.call(n, "incr", "hits", 2)[0]
    assert c.call("n1", "incr", "hits", -3)[0]
    assert c.call("n2", "get", "hits")[1][0] == (7,)
    c.call("n1", "sadd", "s", "a")
    c.call("n2", "sadd", "s", "b")
    c.call("n3", "srem", "s", "a")
    assert c.call("n4", "get", "s")[1][0] == ("b",)
    ok, why = c.call("n1", "put", "hits", "x")
    assert not ok and why.startswith("WRONGTYPE")


def test_adding_and_removing_nodes_moves_data_while_requests_continue():
    c = SimCluster(nodes=4, config=KVConfig(n=3, r=2, w=2, ae_ms=0))
    keys = [f"k{i}" for i in range(120)]
    for k in keys:
        assert c.call("n1", "put", k, f"{k}.1")[0]
    old = c.ring
    sent = c.change_membership(["n1", "n2", "n3", "n4", "n5"])
    expected = moved_keys(old, c.ring, keys, 3)
    assert sent == sum(len(v) for v in expected.values()) and 0 < sent < len(keys) * 3
    # Requests go on while the copies are in flight.
    for k in keys[:40]:
        ok, (values, ctx) = c.call("n5", "get", k)
        assert ok and values == (f"{k}.1",)
        assert c.call("n2", "put", k, f"{k}.2", ctx)[0]
    c.settle(50)
    for k in keys:
        for home in c.homes(k):
            assert c.replicas(k)[home] is not None, (k, home)
    # Removing a node: its keys get a new third replica before it stops.
    sent = c.change_membership(["n1", "n2", "n3", "n5"])
    c.settle(100)
    assert sent > 0 and not c.sim.is_up("n4")
    for k in keys:
        want = f"{k}.2" if k in keys[:40] else f"{k}.1"
        assert c.call("n1", "get", k, opts=(3, 3, 2))[1][0] == (want,)
