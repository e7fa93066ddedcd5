"""The rebalancer: after a drive is added, exactly the shards placement now puts elsewhere
move (as :func:`movement` predicts), every object stays readable byte for byte, old copies are
removed, a second run moves nothing, and rotten shards are left to the healer."""

from __future__ import annotations

import os
from pathlib import Path

from cairn.objects import metadata as md
from cairn.objects.drives import LocalDrive
from cairn.objects.metadata import DataRef, ObjectRecord
from cairn.objects.placement import DriveSpec, movement
from cairn.objects.rebalance import Rebalancer
from cairn.objects.store import ObjectStore

from .conftest import STRIPE


def open_store(root: Path, drives: int) -> ObjectStore:
    ds = [LocalDrive(str(root / "drives" / f"d{i}"), f"d{i}") for i in range(drives)]
    return ObjectStore(str(root), ds, stripe_size=STRIPE, gc_grace=0.0, inline_max=0)


def blob_files(root: Path, drive: str) -> list[Path]:
    return [p for p in (root / "drives" / drive / "blobs").rglob("*") if p.is_file()]


def test_adding_a_drive_moves_the_predicted_shards(tmp_path: Path) -> None:
    s = open_store(tmp_path, 6)
    s.create_bucket("bk1")
    s.set_versioning("bk1", "Enabled")
    bodies = {f"k{i}": os.urandom(STRIPE + 97 * i) for i in range(40)}
    for key, body in bodies.items():
        s.put_object("bk1", key, body)
    old = s.put_object("bk1", "k0", b"second version " * 5000)  # k0's first is noncurrent
    refs = [p for raw in _records(s) for p in _parts(raw)]
    s.close()

    s = open_store(tmp_path, 7)  # a seventh drive joins
    before = [DriveSpec(f"d{i}", f"d{i}") for i in range(6)]
    after = [*before, DriveSpec("d6", "d6")]
    expected = round(movement([r.data_id.encode() for r in refs], before, after, 6)
                     * 6 * len(refs))
    report = Rebalancer(s).run()
    assert report.data_pieces == len(refs)
    assert report.shards_moved == expected > 0 and report.skipped == []
    assert len(blob_files(tmp_path, "d6")) == expected
    assert report.bytes_moved == sum(p.stat().st_size for p in blob_files(tmp_path, "d6"))
    total = sum(len(blob_files(tmp_path, f"d{i}")) for i in range(7))
    assert total == 6 * len(refs)  # moved, not copied: the old blobs are gone
    for key, body in bodies.items():
        if key != "k0":
            assert s.get_object("bk1", key) == body
    assert s.get_object("bk1", "k0") == b"second version " * 5000
    assert s.get_object("bk1", "k0", version_id=_first_version(s)) == bodies["k0"]
    assert old.version_id != _first_version(s)
    assert s.stats.degraded_reads == 0  # every shard is where its record says
    again = Rebalancer(s).run()
    assert again.shards_moved == 0 and again.bytes_moved == 0
    s.close()


def test_rotten_shard_is_skipped_not_copied(tmp_path: Path) -> None:
    s = open_store(tmp_path, 6)
    s.create_bucket("bk1")
    for i in range(30):
        s.put_object("bk1", f"k{i}", os.urandom(2 * STRIPE))
    s.close()
    s = open_store(tmp_path, 7)
    rb = Rebalancer(s)
    victim = None
    for raw in _records(s):
        for ref in _parts(raw):
            moves = rb.plan(ref)
            if moves:
                victim = (ref, next(iter(moves)))
                break
        if victim:
            break
    assert victim is not None
    ref, index = victim
    path = tmp_path / "drives" / str(ref.drives[index]) / "blobs" / ref.blob_id(index)[:2] / \
        ref.blob_id(index)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    report = rb.run()
    assert any(ref.blob_id(index) in why for why in report.skipped)
    assert path.exists()  # left where it is, for the healer
    s.close()


def _records(s: ObjectStore) -> list[bytes]:
    """Every object record: current ones (O) and noncurrent versions (V, not "@")."""
    out = [v for _, v in s.meta.scan(md.OBJECT, md.prefix_end(md.OBJECT))]
    return out + [v for _, v in s.meta.scan(md.VERSION, md.prefix_end(md.VERSION))
                  if v != md.CURRENT]


def _parts(raw: bytes) -> list[DataRef]:
    return list(ObjectRecord.decode(raw).parts)


def _first_version(s: ObjectStore) -> str:
    page = s.list_versions("bk1", "k0")
    return [r.version_id for r, _ in page.entries if r.key == "k0"][-1]


def test_rebalance_command_reports_moved_bytes(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from cairn.cli import _register, cli

    with ObjectStore(str(tmp_path)) as s:  # the default: six drives under the data dir
        s.create_bucket("bkt")
        for i in range(20):
            s.put_object("bkt", f"k{i}", bytes([i]) * 50_000)  # erasure-coded, not inlined
    _register()
    res = CliRunner().invoke(cli, ["s3", "rebalance", "--data", str(tmp_path), "--drives", "8"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["data_pieces"] == 20 and report["shards_moved"] > 0
    assert report["bytes_moved"] > report["shards_moved"] * 50_000 // 4
    with ObjectStore(str(tmp_path), [LocalDrive(str(tmp_path / "drives" / f"d{i}"), f"d{i}")
                                     for i in range(8)]) as s:
        assert all(s.get_object("bkt", f"k{i}") == bytes([i]) * 50_000 for i in range(20))
        assert s.stats.degraded_reads == 0
