"""The background loop reclaims overwritten data and orphans and heals rot by itself."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cairn.objects.maintenance import Maintenance

from .conftest import STRIPE, make_store


def blobs(root: Path) -> list[Path]:
    return [p for p in (root / "drives").rglob("*") if p.is_file() and "blobs" in p.parts]


def test_background_loop_collects_and_heals(tmp_path: Path) -> None:
    s = make_store(tmp_path, orphan_window=0.0)
    s.create_bucket("bkt")
    s.put_object("bkt", "k", os.urandom(STRIPE))
    s.put_object("bkt", "k", os.urandom(STRIPE))  # the first version is garbage now
    s.write_data(b"crashed before commit").finish()  # an orphan
    m = Maintenance(s, gc_interval=0.05, orphan_interval=0.05, scrub_interval=0.05,
                    tick=0.02).start()
    try:
        deadline = time.time() + 10
        while (len(blobs(tmp_path)) > 6 or not m.stats.runs.get("scrub")) \
                and time.time() < deadline:
            time.sleep(0.05)
        assert len(blobs(tmp_path)) == 6
        live = next(p for p in blobs(tmp_path) if p.name.endswith(".1"))
        data = bytearray(live.read_bytes())
        data[-1] ^= 0x40
        live.write_bytes(bytes(data))
        while m.stats.shards_healed < 1 and time.time() < deadline:
            time.sleep(0.05)
        assert m.stats.shards_healed >= 1 and not m.stats.errors
        assert s.get_object("bkt", "k")  # still whole
    finally:
        m.stop()
    s.close()
