"""Real node processes on free loopback ports: the HTTP API, the client, siblings, a killed
node (sloppy quorum + hinted handoff) and its return."""

from __future__ import annotations

import time

import pytest

from cairn.kv.client import KVClient, Unavailable, WrongType
from cairn.kv.cluster import LocalCluster


@pytest.fixture
def cluster(tmp_path):
    c = LocalCluster(4, tmp_path, config={"timeout_ms": 500.0, "handoff_ms": 100.0})
    c.start()
    yield c
    c.stop()


def wait_for(cond, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_put_get_siblings_counters_sets(cluster):
    a, b = (KVClient(u) for u in list(cluster.urls.values())[:2])
    a.put("cart", "milk")
    b.put("cart", "eggs")                       # blind write: a sibling
    got = a.get("cart")
    assert sorted(got.values) == ["eggs", "milk"]
    a.put("cart", "eggs,milk", got.context)
    assert b.get("cart").value == "eggs,milk"
    assert a.incr("hits", 3) == 3 and b.incr("hits", -1) == 2
    b.sadd("s", "x")
    a.sadd("s", "y")
    b.srem("s", "x")
    assert a.get("s").values == ["y"]
    with pytest.raises(WrongType):
        a.put("hits", "no")
    assert a.get("absent").values == []
    a.close()
    b.close()


def test_killed_node_sloppy_quorum_then_handoff(cluster):
    client = KVClient(cluster.urls["n1"])
    victim = "n4"
    cluster.kill(victim)
    written = 0
    for i in range(30):
        for _ in range(3):  # a loaded machine may time a round out: the client retries
            try:
                client.put(f"k{i}", f"v{i}", w=3)
                written += 1
                break
            except Unavailable:
                pass
    assert written == 30  # every write found 3 live replicas (stand-ins included)
    hints = sum(KVClient(u).status()["hints"] for n, u in cluster.urls.items() if n != victim)
    assert hints > 0
    cluster.restart(victim)
    back = KVClient(cluster.urls[victim])
    assert wait_for(lambda: sum(KVClient(u).status()["hints"]
                                for u in cluster.urls.values()) == 0)
    assert back.status()["keys"] > 0
    assert all(client.get(f"k{i}", r=3).value == f"v{i}" for i in range(30))


def test_strict_quorum_unavailable_when_too_few_replicas(cluster):
    client = KVClient(cluster.urls["n1"])
    cluster.kill("n2")
    cluster.kill("n3")
    with pytest.raises(Unavailable):
        for i in range(20):
            client.put(f"q{i}", "v", n=4, w=4)


def test_bad_input_gets_typed_errors_and_loses_nothing(cluster):
    import http.client
    import json

    url = cluster.urls["n1"]
    client = KVClient(url)
    client.put("keep", "v")
    port = int(url.rsplit(":", 1)[1])
    for method, path, body, status, code in [
        ("PUT", "/kv/keep", b"{}", 400, "InvalidRequest"),            # no value
        ("PUT", "/kv/keep", b"not json", 400, "InvalidRequest"),
        ("GET", "/kv/keep?r=x", None, 400, "InvalidRequest"),
        ("GET", "/kv/keep?n=3&r=4", None, 400, "InvalidRequest"),     # r > n
        ("PATCH", "/kv/keep", b"{}", 501, None),
        ("GET", "/nowhere", None, 404, "NoSuchEndpoint"),
    ]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, body)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        assert resp.status == status, (method, path, resp.status, payload)
        if code:
            assert json.loads(payload)["code"] == code
    assert client.get("keep").value == "v"


def test_adding_and_removing_a_node_moves_data_while_requests_continue(tmp_path):
    with LocalCluster(3, tmp_path, config={"timeout_ms": 500.0}) as c:
        client = KVClient(c.urls["n1"])
        for i in range(40):
            client.put(f"m{i}", f"a{i}")
        name, moved = c.add_node()
        assert name == "n4" and 0 < moved < 40 * 3
        for i in range(40):  # requests during and after the move
            got = client.get(f"m{i}")
            client.put(f"m{i}", f"b{i}", got.context)
        newcomer = KVClient(c.urls["n4"])
        assert wait_for(lambda: newcomer.status()["keys"] == moved)  # one copy per key
        assert all(newcomer.get(f"m{i}", r=3).value == f"b{i}" for i in range(40))
        moved = c.remove_node("n2")
        assert moved > 0
        c.kill("n2")
        assert all(client.get(f"m{i}", r=3).value == f"b{i}" for i in range(40))
