"""SIGKILL the store in the middle of puts, multipart completes, overwrites and deletes,
reopen, and check: every acknowledged write is readable whole, no acknowledged delete comes
back, nothing is partial, and the orphaned shards of interrupted writes are collected."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cairn.objects import errors
from cairn.objects.healer import Healer

from .conftest import make_store

CHILD = textwrap.dedent("""
    import hashlib, random, sys
    sys.path[:0] = [{tests!r}]
    from objects.conftest import make_store
    from cairn.objects.multipart import Multipart
    from pathlib import Path
    s = make_store(Path({root!r}))
    mp = Multipart(s, min_part_size=1)
    try:
        s.create_bucket("crash")
    except Exception:
        pass
    rng = random.Random({seed})
    ver = 0
    while True:
        key = f"k{{rng.randrange(12)}}"
        ver += 1
        if rng.random() < 0.25:
            print("BEGIN", key, "DEL", flush=True)
            s.delete_object("crash", key)
            print("ACK", key, "DEL", flush=True)
        else:
            size = rng.choice([0, 100, 70000, 200000])
            body = hashlib.sha256(f"{{key}}-{{ver}}".encode()).digest() * (size // 32 + 1)
            print("BEGIN", key, ver, size, flush=True)
            if size and rng.random() < 0.3:  # the same bytes as a two-part multipart upload
                up = mp.create("crash", key)
                cut = size // 2
                e1 = mp.upload_part("crash", key, up.upload_id, 1, body[:cut]).etag
                e2 = mp.upload_part("crash", key, up.upload_id, 2, body[cut:size]).etag
                mp.complete("crash", key, up.upload_id, [(1, e1), (2, e2)])
            else:
                s.put_object("crash", key, body[:size])
            print("ACK", key, ver, size, flush=True)
""")


def body(key: str, ver: int, size: int) -> bytes:
    return (hashlib.sha256(f"{key}-{ver}".encode()).digest() * (size // 32 + 1))[:size]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_during_writes(tmp_path: Path, seed: int) -> None:
    tests_dir = str(Path(__file__).resolve().parent.parent)
    script = CHILD.format(tests=tests_dir, root=str(tmp_path), seed=seed)
    log = tmp_path / "log.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out,
                                env={**os.environ, "PYTHONPATH": "src"})
        deadline = time.time() + 30
        while time.time() < deadline and log.read_text().count("ACK") < 20 + 10 * seed:
            time.sleep(0.05)
        time.sleep(random.Random(seed).random() * 0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lines = [ln.split() for ln in log.read_text().splitlines() if ln.strip()]
    assert sum(ln[0] == "ACK" for ln in lines) >= 20
    # Per key: the last acknowledged state, plus an operation that began but was not acked.
    acked: dict[str, tuple | None] = {}
    pending: dict[str, tuple | None] = {}
    for ln in lines:
        state = None if ln[2] == "DEL" else (int(ln[2]), int(ln[3]))
        if ln[0] == "BEGIN":
            pending[ln[1]] = state
        elif len(ln) >= 3:
            acked[ln[1]] = state
            pending.pop(ln[1], None)

    s = make_store(tmp_path, orphan_window=0.0)
    for key in {*acked, *pending}:
        allowed = []
        if key in acked:
            allowed.append(acked[key])
        if key in pending:
            allowed.append(pending[key])
        try:
            got = s.get_object("crash", key)
        except errors.NoSuchKey:
            assert None in allowed or key not in acked, f"{key}: acked write lost"
            continue
        assert any(st is not None and got == body(key, *st) for st in allowed), \
            f"{key}: content is neither the acked nor the in-flight write"
    from cairn.objects.multipart import Multipart

    m = Multipart(s)
    for up in m.list_uploads("crash"):  # uploads the crash left open: abort them
        m.abort("crash", up.key, up.upload_id)
    s.collect_garbage(now_ns=2**62)
    s.collect_orphans()
    referenced = sum(len(r.parts) for r in s.list_objects("crash").contents)
    report = Healer(s).run(heal=False)
    assert report.corrupt == report.missing == 0
    blobs = [p for p in (tmp_path / "drives").rglob("*") if p.is_file() and "blobs" in p.parts]
    assert len(blobs) == 6 * referenced  # every leftover shard was reclaimed
    s.close()
