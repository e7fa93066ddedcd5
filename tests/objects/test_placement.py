"""Placement by rendezvous hashing: deterministic, spread over failure domains, and stable when
a drive is added (only the new drive's fair share of shards moves)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.objects.errors import ServiceUnavailable
from cairn.objects.placement import DriveSpec, movement, place

KEYS = [f"object-{i}".encode() for i in range(3000)]


def drives(n: int, domains: int | None = None) -> list[DriveSpec]:
    return [DriveSpec(f"d{i}", f"h{i % domains}" if domains else f"d{i}") for i in range(n)]


@given(st.binary(max_size=40), st.integers(6, 20))
def test_deterministic_and_distinct(key: bytes, n: int) -> None:
    ds = drives(n)
    chosen = place(ds, key, 6)
    assert chosen == place(list(reversed(ds)), key, 6)
    assert len({d.drive_id for d in chosen}) == 6


def test_spreads_over_failure_domains() -> None:
    ds = drives(12, domains=3)  # 3 hosts x 4 drives, 6 shards: exactly 2 per host
    for key in KEYS[:500]:
        chosen = place(ds, key, 6)
        per_host = [sum(d.domain == f"h{h}" for d in chosen) for h in range(3)]
        assert per_host == [2, 2, 2]
        assert len({d.domain for d in chosen[:3]}) == 3


def test_adding_a_drive_moves_about_its_fair_share() -> None:
    before = drives(12)
    after = [*before, DriveSpec("d12", "d12")]
    moved = movement(KEYS, before, after, 6)
    # The new drive should end up with 1/13 of all shards, and nothing else should move.
    assert 0.6 / 13 < moved < 1.4 / 13
    load = sum(any(d.drive_id == "d12" for d in place(after, k, 6)) for k in KEYS) / len(KEYS)
    assert load == pytest.approx(6 / 13, abs=0.05)


def test_spread_is_even() -> None:
    ds = drives(10)
    counts = {d.drive_id: 0 for d in ds}
    for key in KEYS:
        for d in place(ds, key, 6):
            counts[d.drive_id] += 1
    expected = len(KEYS) * 6 / 10
    assert all(abs(c - expected) < 0.1 * expected for c in counts.values())


def test_too_few_drives() -> None:
    with pytest.raises(ServiceUnavailable):
        place(drives(5), b"k", 6)
