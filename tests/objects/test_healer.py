"""Scrubber and healer: bit rot and lost drives are found, rebuilt, and full redundancy is
back (every shard verifies) afterwards; the bytes served never change."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from cairn.objects.healer import Healer

from .conftest import STRIPE, make_store


def test_scrub_finds_and_heals_flipped_bits_in_any_shard(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    objs = {f"o{i}": os.urandom(i * STRIPE // 2 + 11) for i in range(6)}
    for k, v in objs.items():
        s.put_object("bkt", k, v)
    rng = random.Random(5)
    files = sorted(p for p in (tmp_path / "drives").rglob("*.[0-9]") if "blobs" in p.parts)
    victims = rng.sample(files, 8)
    for p in victims:
        raw = bytearray(p.read_bytes())
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        p.write_bytes(bytes(raw))
    healer = Healer(s)
    report = healer.run()
    assert report.corrupt == len(victims)
    assert report.healed_shards >= len(victims) and not report.unrecoverable
    clean = healer.run(heal=False)
    assert clean.corrupt == clean.missing == clean.unreadable == 0
    assert clean.shards_checked == 6 * len(objs)
    for k, v in objs.items():
        assert s.get_object("bkt", k) == v
    s.close()


def test_drives_replaced_empty_are_refilled(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    objs = {f"o{i}": os.urandom(3 * STRIPE + i) for i in range(5)}
    for k, v in objs.items():
        s.put_object("bkt", k, v)
    for i in (1, 4):  # two drives die and are replaced by empty ones
        shutil.rmtree(tmp_path / "drives" / f"d{i}")
        s.drives[f"d{i}"].format()  # type: ignore[attr-defined]
    for k, v in objs.items():
        assert s.get_object("bkt", k) == v  # degraded but correct
    report = Healer(s).run()
    assert report.missing == 2 * len(objs) and report.healed_shards == 2 * len(objs)
    assert Healer(s).run(heal=False).missing == 0
    # Full redundancy is back: any other two drives can now go.
    for i in (0, 2):
        shutil.rmtree(tmp_path / "drives" / f"d{i}")
    for k, v in objs.items():
        assert s.get_object("bkt", k) == v
    s.close()


def test_heal_moves_shards_off_a_drive_that_stays_down(tmp_path: Path) -> None:
    s = make_store(tmp_path, k=2, m=1)  # 3 shards on 6 drives: spares exist
    s.create_bucket("bkt")
    data = os.urandom(2 * STRIPE)
    s.put_object("bkt", "k", data)
    ref = s.head_object("bkt", "k").parts[0]
    gone = ref.drives[0]
    assert gone is not None
    shutil.move(str(tmp_path / "drives" / gone), str(tmp_path / "away"))
    report = Healer(s).run()
    assert report.unreadable == 1 and report.healed_shards == 1
    new = s.head_object("bkt", "k").parts[0]
    assert gone not in new.drives and None not in new.drives
    assert s.get_object("bkt", "k") == data
    s.close()


def test_too_much_damage_is_reported_not_invented(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    s.put_object("bkt", "k", os.urandom(STRIPE))
    for i in (0, 1, 2):
        shutil.rmtree(tmp_path / "drives" / f"d{i}")
        s.drives[f"d{i}"].format()  # type: ignore[attr-defined]
    report = Healer(s).run()
    assert len(report.unrecoverable) == 1 and report.healed_shards == 0
    s.close()


def test_heal_queue_repairs_what_reads_reported_current_and_noncurrent(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    s.set_versioning("bkt", "Enabled")
    old = os.urandom(2 * STRIPE + 5)
    new = os.urandom(STRIPE + 9)
    v_old = s.put_object("bkt", "k", old)
    v_new = s.put_object("bkt", "k", new)
    other = s.put_object("bkt", "other", os.urandom(STRIPE))
    shutil.rmtree(tmp_path / "drives" / "d2")  # one drive dies and comes back empty
    s.drives["d2"].format()  # type: ignore[attr-defined]
    # Reads of the current and the noncurrent version are correct; those that needed the
    # lost shard (a data shard: healthy reads never touch parity) queue their data.
    assert s.get_object("bkt", "k") == new
    assert s.get_object("bkt", "k", version_id=v_old.version_id) == old
    queued = set(s.heal_queue)
    assert queued <= {v_old.parts[0].data_id, v_new.parts[0].data_id}
    report = Healer(s).heal_queued()
    assert report.healed_shards == len(queued) and not report.unrecoverable
    assert not s.heal_queue
    # Only the queued data was healed; the full scrub still finds the rest missing.
    on_d2 = sum("d2" in r.parts[0].drives for r in (v_old, v_new, other))
    assert Healer(s).run(heal=False).missing == on_d2 - len(queued)
    s.close()
