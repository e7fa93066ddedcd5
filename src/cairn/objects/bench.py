"""Measurements behind ``cairn bench s3``: erasure-coding backends side by side, the store's
PUT/GET throughput and small-object rates, and the disk's raw sequential write bandwidth (the
limit the targets are stated against). Medians of repeats; ratios printed by the CLI.

The HTTP workloads against SeaweedFS and moto (boto3 as the client) arrive with the REST
front end; everything here runs in process, so it is an upper bound on what HTTP will reach.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from cairn.objects.erasure import ReedSolomon
from cairn.objects.store import ObjectStore

MiB = 1024 * 1024


def _median_rate(fn: Callable[[], object], nbytes: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        rates.append(nbytes / MiB / (time.perf_counter() - t))
    return statistics.median(rates)


def bench_erasure(size: int = 64 * MiB, stripe: int = 4 * MiB, k: int = 4, m: int = 2,
                  repeats: int = 3) -> list[dict[str, Any]]:
    """Encode and degraded-decode (two data shards lost) MB/s per backend."""
    data = os.urandom(size)
    stripes = [data[o: o + stripe] for o in range(0, size, stripe)]
    rows: list[dict[str, Any]] = []
    for backend in ("zfec", "numpy"):
        rs = ReedSolomon(k, m, backend)  # type: ignore[arg-type]
        encoded = [rs.encode(s) for s in stripes]
        lost = {i: sh[i] for sh in encoded[:1] for i in range(2, k + m)}
        assert rs.decode(lost, len(stripes[0])) == stripes[0]

        def enc(rs: ReedSolomon = rs) -> None:
            for s in stripes:
                rs.encode(s)

        def dec(rs: ReedSolomon = rs, encoded: list[list[bytes]] = encoded) -> None:
            for s, sh in zip(stripes, encoded, strict=True):
                rs.decode({i: sh[i] for i in range(2, k + m)}, len(s))

        rows.append({"backend": backend, "encode_mb_s": _median_rate(enc, size, repeats),
                     "decode_mb_s": _median_rate(dec, size, repeats)})
    try:
        from pyeclib.ec_iface import ECDriver

        drv = ECDriver(k=k, m=m, ec_type="isa_l_rs_vand")
        frags = [drv.encode(s) for s in stripes]
        rows.append({
            "backend": "pyeclib isa_l_rs_vand",
            "encode_mb_s": _median_rate(lambda: [drv.encode(s) for s in stripes], size,
                                        repeats),
            "decode_mb_s": _median_rate(lambda: [drv.decode(f[2:]) for f in frags], size,
                                        repeats)})
    except Exception as exc:  # an optional peer: report why it is missing
        rows.append({"backend": "pyeclib", "error": str(exc)})
    return rows


def raw_disk_write(path: str, size: int = 256 * MiB) -> float:
    """Sequential write + fsync bandwidth (MB/s), 4 MiB writes: the ceiling for large PUTs."""
    block = os.urandom(4 * MiB)
    target = os.path.join(path, "raw-disk-probe")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t = time.perf_counter()
        for _ in range(size // len(block)):
            os.write(fd, block)
        os.fsync(fd)
        return size / MiB / (time.perf_counter() - t)
    finally:
        os.close(fd)
        os.remove(target)


def bench_store(root: str | None = None, big: int = 64 * MiB, big_count: int = 3,
                small_count: int = 300) -> dict[str, Any]:
    """In-process PUT/GET of large and 4 KiB objects on a 4+2 store over six drives."""
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        out: dict[str, Any] = {"raw_disk_write_mb_s": raw_disk_write(tmp)}
        store = ObjectStore(tmp)
        try:
            store.create_bucket("bench")
            payload = os.urandom(big)
            puts, gets = [], []
            for i in range(big_count):
                t = time.perf_counter()
                store.put_object("bench", f"big{i}", payload)
                puts.append(big / MiB / (time.perf_counter() - t))
            for i in range(big_count):
                t = time.perf_counter()
                n = sum(len(c) for c in store.open_object("bench", f"big{i}")[3])
                gets.append(n / MiB / (time.perf_counter() - t))
            out["put_64mib_mb_s"] = statistics.median(puts)
            out["get_64mib_mb_s"] = statistics.median(gets)
            small = os.urandom(4096)
            t = time.perf_counter()
            for i in range(small_count):
                store.put_object("bench", f"small/{i:06d}", small)
            out["put_4kib_ops_s"] = small_count / (time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(small_count):
                store.get_object("bench", f"small/{i:06d}")
            out["get_4kib_ops_s"] = small_count / (time.perf_counter() - t)
            t = time.perf_counter()
            page = store.list_objects("bench", delimiter="/")
            out["list_delimiter_ms"] = (time.perf_counter() - t) * 1000
            out["list_common_prefixes"] = page.common_prefixes
        finally:
            store.close()
    out["put_vs_raw"] = out["put_64mib_mb_s"] / out["raw_disk_write_mb_s"]
    out["get_vs_raw"] = out["get_64mib_mb_s"] / out["raw_disk_write_mb_s"]
    return out
