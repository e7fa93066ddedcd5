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
                           "list_keys_per_s": 9000.0},
                 "moto": {"put_big_mb_s": 130.0, "get_big_mb_s": 800.0,
                          "put_4kib_ops_s": 200.0, "get_4kib_ops_s": 250.0,
                          "list_keys_per_s": 5000.0}}}
    out = tmp_path / "bench.png"
    plot(result, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
