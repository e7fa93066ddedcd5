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


def test_plot_from_a_saved_run(tmp_path: Path) -> None:
    from cairn.objects.bench import plot

    result = {
        "erasure": [{"backend": "zfec", "encode_mb_s": 1000.0, "decode_mb_s": 900.0}],
        "http": {"cairn": {"put_big_mb_s": 140.0, "get_big_mb_s": 900.0,
                           "put_4kib_ops_s": 400.0, "get_4kib_ops_s": 700.0,
                           "list_keys_per_s": 9000.0, "list_delimiter_ms": 12.0},
                 "seaweedfs": "unavailable: not installed",
                 "moto": {"put_big_mb_s": 130.0, "get_big_mb_s": 800.0,
                          "put_4kib_ops_s": 200.0, "get_4kib_ops_s": 250.0,
                          "list_keys_per_s": 5000.0}}}
    out = tmp_path / "bench.png"
    plot(result, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_targets_judge_every_workload_in_the_right_direction() -> None:
    from cairn.objects.bench import targets

    ours = {"put_big_mb_s": 100.0, "get_big_mb_s": 400.0, "list_delimiter_ms": 10.0}
    result = {"store": {"raw_disk_write_mb_s": 500.0},
              "http": {"cairn": ours,
                       "moto": {"put_big_mb_s": 50.0, "get_big_mb_s": 500.0,
                                "list_delimiter_ms": 40.0},
                       "seaweedfs": {"put_big_mb_s": 150.0, "list_delimiter_ms": 5.0},
                       "broken": "unavailable: no binary"}}
    rows = {r["target"]: r for r in targets(result)}
    assert rows["put_big_mb_s vs moto"]["ratio"] == 2.0 and rows["put_big_mb_s vs moto"]["pass"]
    assert not rows["get_big_mb_s vs moto"]["pass"]  # 0.8x: behind moto is a MISS
    assert rows["list_delimiter_ms vs moto"]["ratio"] == 4.0  # lower is better: 40/10
    assert rows["list_delimiter_ms vs seaweedfs"]["pass"]  # 0.5x of SeaweedFS is enough
    assert rows["put_big_mb_s vs seaweedfs"]["ratio"] == 100 / 150
    assert not rows["put_big_mb_s / raw disk"]["pass"]  # 20 % < 25 %
    assert rows["get_big_mb_s / raw disk"]["pass"]  # 80 % >= 40 %
    assert not any("broken" in t for t in rows)
