"""``cairn s3 placement``, ``cairn s3 scrub`` and the erasure benchmark's numbers."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cairn.cli import _register, cli
from cairn.objects.bench import bench_erasure
from cairn.objects.store import ObjectStore


def test_placement_report() -> None:
    _register()
    res = CliRunner().invoke(cli, ["s3", "placement", "--objects", "2000"])
    assert res.exit_code == 0, res.output
    moved = float(res.output.split(":")[1].split("%")[0])
    assert 4.0 < moved < 12.0  # about 1/13 of shards


def test_scrub_command_heals(tmp_path: Path) -> None:
    with ObjectStore(str(tmp_path)) as s:
        s.create_bucket("bkt")
        s.put_object("bkt", "k", b"x" * 50_000)  # above the inline limit: erasure-coded
    victim = next(p for p in (tmp_path / "drives").rglob("*.5"))
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    _register()
    res = CliRunner().invoke(cli, ["s3", "scrub", "--data", str(tmp_path)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["corrupt"] == 1 and report["healed_shards"] == 1


def test_bench_erasure_rows() -> None:
    rows = bench_erasure(size=1024 * 1024, stripe=256 * 1024, repeats=1)
    by = {r["backend"]: r for r in rows}
    assert by["zfec"]["encode_mb_s"] > 0 and by["numpy"]["decode_mb_s"] > 0
