"""The checkers: each is fed a known-bad history and must say so; the linearizability search
agrees with brute force on small random histories."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.check import (
    INFINITY,
    AckedWrite,
    Op,
    check_convergence,
    check_linearizable,
    lost_writes,
)


def w(c, v, call, ret, key="x"):
    return Op(c, "write", key, v, call, ret)


def r(c, v, call, ret, key="x"):
    return Op(c, "read", key, v, call, ret)


def test_sequential_history_is_linearizable():
    h = [w("a", 1, 0, 1), r("b", 1, 2, 3), w("a", 2, 4, 5), r("b", 2, 6, 7)]
    assert check_linearizable(h).ok


def test_concurrent_read_may_see_either_value():
    h = [w("a", 1, 0, 1), w("a", 2, 2, 6), r("b", 1, 3, 4), r("c", 2, 5, 7)]
    assert check_linearizable(h).ok


def test_fig_9_6_stale_read_after_a_fresh_one_is_caught():
    # DDIA fig. 9-6: A reads the new value, then B (starting after A returned) reads the old one.
    h = [w("writer", 0, 0, 1), w("writer", 1, 2, 20), r("A", 1, 3, 5), r("B", 0, 6, 8)]
    res = check_linearizable(h)
    assert not res.ok
    assert res.key == "x"
    assert res.stuck is not None
    text = res.explain()
    assert "NOT linearizable" in text and "B read" in text


def test_read_of_a_value_never_written_and_per_key_split():
    h = [w("a", 1, 0, 1, "x"), r("b", 1, 2, 3, "y")]
    res = check_linearizable(h)
    assert not res.ok and res.key == "y"


def test_unknown_write_may_or_may_not_take_effect():
    h_took = [w("a", 1, 0, 1), w("a", 2, 2, INFINITY), r("b", 2, 10, 11)]
    h_not = [w("a", 1, 0, 1), w("a", 2, 2, INFINITY), r("b", 1, 10, 11)]
    assert check_linearizable(h_took).ok and check_linearizable(h_not).ok
    h_flip = [w("a", 1, 0, 1), w("a", 2, 2, INFINITY), r("b", 2, 10, 11), r("b", 1, 12, 13)]
    assert not check_linearizable(h_flip).ok


def brute_force(ops: list[Op]) -> bool:
    known = [o for o in ops if not o.unknown]
    unknown = [o for o in ops if o.unknown]
    for k in range(len(unknown) + 1):
        for extra in itertools.combinations(unknown, k):
            chosen = known + list(extra)
            for perm in itertools.permutations(chosen):
                if any(perm[j].ret < perm[i].call
                       for i in range(len(perm)) for j in range(i + 1, len(perm))):
                    continue
                state = None
                for o in perm:
                    if o.kind == "write":
                        state = o.value
                    elif o.value != state:
                        break
                else:
                    return True
    return False


@st.composite
def histories(draw):
    n = draw(st.integers(1, 6))
    ops = []
    for i in range(n):
        call = draw(st.integers(0, 10))
        length = draw(st.integers(0, 4))
        ret = INFINITY if draw(st.integers(0, 7)) == 0 else call + length
        kind = draw(st.sampled_from(["read", "write"]))
        value = draw(st.sampled_from([None, 1, 2])) if kind == "read" else draw(st.integers(1, 2))
        if kind == "read" and ret == INFINITY:
            ret = call + length
        ops.append(Op(f"c{i}", kind, "x", value, call, ret))
    return ops


@settings(max_examples=300, deadline=None)
@given(histories())
def test_search_agrees_with_brute_force(ops):
    assert check_linearizable(ops).ok == brute_force(ops)


def test_convergence_reports_each_differing_key():
    same = {"a": {"k": 1, "j": 2}, "b": {"k": 1, "j": 2}}
    assert check_convergence(same) == []
    bad = {"a": {"k": 1, "j": 2}, "b": {"k": 1}, "c": {"k": 3, "j": 2}}
    diffs = check_convergence(bad)
    assert [d.key for d in diffs] == ["j", "k"]
    assert diffs[0].values["b"] is None and "differs" in str(diffs[1])
    assert check_convergence(bad, owners={"k": ["a", "b"], "j": ["a", "c"]}) == []


def test_lost_writes_flags_an_acknowledged_write_nobody_saw():
    acked = [AckedWrite("k", "w1"), AckedWrite("k", "w2"), AckedWrite("k", "w3")]
    assert lost_writes(acked, {"k": {"w3"}}, superseded={"w1"}) == [AckedWrite("k", "w2")]
    assert lost_writes(acked, {"k": {"w2", "w3"}}, superseded={"w1"}) == []
