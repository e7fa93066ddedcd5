"""CRDT merge laws (commutative, associative, idempotent) on states reached by random
concurrent executions, and the semantics each type promises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.kv.crdt import GCounter, LWWRegister, MVRegister, ORSet, PNCounter

ACTORS = ["a", "b", "c"]


def apply(kind, state, actor, op, arg, tick):
    if kind == "g":
        return state.increment(actor, arg)
    if kind == "pn":
        return state.add(actor, arg - 2)
    if kind == "or":
        return state.add(actor, arg) if op else state.remove(arg)
    if kind == "lww":
        return state.assign(actor, arg, float(tick % 4))
    return state.assign(actor, arg, state.vv if op else ())[0]


EMPTY = {"g": GCounter(), "pn": PNCounter(), "or": ORSet(), "lww": LWWRegister(),
         "mv": MVRegister()}

steps = st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 4),
                           st.integers(0, 2)), max_size=25)


def run(kind, script):
    """Three replicas doing random local updates and pairwise merges; every state seen."""
    reps = {a: EMPTY[kind] for a in ACTORS}
    seen = [EMPTY[kind]]
    for tick, (i, op, arg, j) in enumerate(script):
        a = ACTORS[i]
        if j == 0 and i != 2:
            reps[a] = reps[a].merge(reps[ACTORS[i + 1]])
        else:
            reps[a] = apply(kind, reps[a], a, op, arg, tick)
        seen.append(reps[a])
    return seen


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(EMPTY)), steps, st.data())
def test_merge_is_commutative_associative_idempotent(kind, script, data):
    states = run(kind, script)
    x, y, z = (data.draw(st.sampled_from(states)) for _ in range(3))
    assert x.merge(y) == y.merge(x)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert x.merge(x) == x
    assert x.merge(y).merge(y) == x.merge(y)


def test_counters():
    a = GCounter().increment("a", 2)
    b = GCounter().increment("b", 3)
    assert a.merge(b).value == 5 and a.merge(b).merge(a).value == 5
    pn = PNCounter().add("a", 5).merge(PNCounter().add("b", -7))
    assert pn.value == -2


def test_or_set_add_wins_over_a_concurrent_remove():
    s = ORSet().add("a", "milk")
    left = s.remove("milk")
    right = s.add("b", "milk")
    assert left.value == frozenset()
    assert left.merge(right).value == {"milk"}
    assert left.merge(s).value == frozenset()  # the remove saw that add


def test_lww_keeps_the_greatest_timestamp():
    r = LWWRegister().assign("a", "x", 5.0).merge(LWWRegister().assign("b", "y", 3.0))
    assert r.value == "x"


def test_mv_register_shopping_cart_fig_5_13():
    # Two clients write concurrently from the empty context: two siblings.
    r, d1 = MVRegister().assign("n1", "milk")
    r, d2 = r.assign("n1", "eggs")
    assert sorted(r.value) == ["eggs", "milk"] and d1 != d2
    # Client 1 read both and writes their merge: both siblings are replaced.
    r2, _ = r.assign("n1", "eggs,milk", r.vv)
    assert r2.value == ("eggs,milk",)
    # A replica that only had "milk" merges the new state: the covered sibling disappears.
    only_milk, _ = MVRegister().assign("n1", "milk")
    assert only_milk.merge(r2).value == ("eggs,milk",)
    # A write with a stale context keeps what it did not see.
    r3, _ = r2.assign("n2", "ham", only_milk.vv)
    assert sorted(r3.value) == ["eggs,milk", "ham"]
