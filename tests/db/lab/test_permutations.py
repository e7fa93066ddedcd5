"""Every interleaving, not just the one in the file: like PostgreSQL's isolation tester, run
all permutations of the two racing sessions of write skew and phantom. Serializable (all three
cairn methods) must prevent the anomaly in every one, and whether it occurs at repeatable
read must be the same on cairn and PostgreSQL, interleaving by interleaving."""

from __future__ import annotations

import itertools

import pytest

from cairn.db.lab import anomalies
from cairn.db.lab.cairn_backend import CairnBackend
from cairn.db.lab.driver import Driver
from cairn.db.lab.pg_backend import PostgresBackend
from cairn.db.lab.spec import Level, Spec


def interleavings(a: list[str], b: list[str]) -> list[list[str]]:
    out = []
    for slots in itertools.combinations(range(len(a) + len(b)), len(a)):
        ia, ib = iter(a), iter(b)
        out.append([next(ia) if i in slots else next(ib) for i in range(len(a) + len(b))])
    return out


def perms(sp: Spec) -> list[list[str]]:
    racing = [s for s in sp.sessions.values() if s.name != "check"]
    assert len(racing) == 2
    a, b = ([st.name for st in s.steps] for s in racing)
    final = [st.name for st in sp.sessions["check"].steps]
    return [p + final for p in interleavings(a, b)]


def test_interleavings_count() -> None:
    assert len(interleavings(["a1", "a2", "a3"], ["b1", "b2", "b3"])) == 20
    assert ["a1", "b1", "a2", "b2", "a3", "b3"] in interleavings(["a1", "a2", "a3"],
                                                                 ["b1", "b2", "b3"])


@pytest.mark.parametrize("method", ["ssi", "2pl", "serial"])
@pytest.mark.parametrize("name", ["write_skew", "phantom"])
def test_serializable_prevents_in_every_interleaving(name: str, method: str) -> None:
    sp = anomalies.load_specs()[name]
    for p in perms(sp):
        r = Driver(sp, CairnBackend(), Level("serializable", method)).run(p)
        assert r.occurred is False, f"{name} occurred at serializable/{method}:\n{r.text}"


@pytest.mark.parametrize("name", ["write_skew", "phantom"])
def test_repeatable_read_matches_postgres_in_every_interleaving(name: str) -> None:
    sp = anomalies.load_specs()[name]
    rr = Level("repeatable read")
    occurred = []
    for p in perms(sp):
        c = Driver(sp, CairnBackend(), rr).run(p)
        g = Driver(sp, PostgresBackend(), rr).run(p)
        assert c.occurred == g.occurred, f"{' '.join(p)}:\ncairn\n{c.text}\npostgres\n{g.text}"
        occurred.append(c.occurred)
    # Snapshot isolation lets the anomaly through exactly when the two transactions overlap.
    assert any(occurred) and not all(occurred)
