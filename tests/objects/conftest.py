"""Fixtures: a store on six directory drives with small stripes (so objects span many)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.objects.drives import LocalDrive
from cairn.objects.store import ObjectStore

STRIPE = 64 * 1024


def make_store(root: Path, **kw: object) -> ObjectStore:
    drives = [LocalDrive(str(root / "drives" / f"d{i}"), f"d{i}") for i in range(6)]
    # inline_max=0: every object goes through erasure coding unless a test asks otherwise.
    opts: dict[str, object] = {"stripe_size": STRIPE, "gc_grace": 0.0, "inline_max": 0}
    opts.update(kw)
    return ObjectStore(str(root), drives, **opts)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    yield s
    s.close()
