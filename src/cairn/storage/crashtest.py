"""The SIGKILL crash test: durability tested, not claimed.

A child process opens an engine and writes random batches with ``sync=True``. Before each batch
it tells the parent what it is about to write (*intent*), and after ``write_batch`` returns it
says so (*ack*), through a pipe. The parent kills it with SIGKILL at a random moment, reopens the
engine (running its recovery), and checks:

* every acknowledged write is there with the right value, and no deleted key came back;
* the batch in flight at the kill is all there or not at all (atomic batches);
* every key holds a value that was actually written (nothing corrupt or invented).

Children are forked from a single-threaded sweep process (``cairn storage crashtest``), so a
kill costs milliseconds, not an interpreter start-up; the test suite runs the sweep as a
subprocess. State accumulates across kills in one directory, so later rounds recover data that
earlier crashes left, with compactions and merges interrupted mid-way.

The fork / wait-until-ready / kill-at-a-random-moment / collect-the-reports loop is
:func:`kill_rounds`, shared with the database's crash test (``cairn.db.crashtest``), which
brings its own child and its own checks.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import xxhash

from cairn.storage import Delete, Put, open_engine


def digest(value: bytes | None) -> str:
    return "-" if value is None else xxhash.xxh64_hexdigest(value)


@dataclass
class SweepResult:
    kind: str
    kills: int = 0
    acked_batches: int = 0
    checked_keys: int = 0
    inflight_applied: int = 0  # in-flight batches found fully applied after the kill
    inflight_dropped: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _child(kind: str, path: str, options: dict[str, Any], fd: int, seed: int,
           key_space: int) -> None:
    rng = random.Random(seed)
    db = open_engine(kind, path, **options)
    os.write(fd, b"R\n")
    n = 0
    while True:
        ops: list[Put | Delete] = []
        for _ in range(rng.randint(1, 3)):
            key = b"k%06d" % rng.randrange(key_space)
            if rng.random() < 0.1:
                ops.append(Delete(key))
            else:
                ops.append(Put(key, rng.randbytes(rng.choice((10, 100, 100, 700)))))
        intent = " ".join(
            f"{op.key.hex()}={digest(op.value if isinstance(op, Put) else None)}" for op in ops)
        os.write(fd, b"I " + intent.encode() + b"\n")
        db.write_batch(ops, sync=True)
        os.write(fd, b"A\n")
        n += 1
        if n % 200 == 0:
            db.compact()


def _read_until(fd: int, deadline: float, buf: bytearray, until: bytes | None = None) -> bool:
    """Read the child's reports until the deadline (or until ``until`` shows up); False if the
    pipe closed (the child died)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (until is not None and until in buf):
            return True
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return False
            buf += chunk


def kill_rounds(rounds: int, rng: random.Random, child: Callable[[int, int], None],
                check: Callable[[int, bytes], bool], *, min_delay: float, max_delay: float,
                ready_timeout: float = 60.0) -> str | None:
    """The sweep driver: ``rounds`` times, fork a child running ``child(fd, seed)``, wait until
    it writes ``R\\n`` to ``fd`` (recovered and ready), let it run for a random while, SIGKILL
    it and hand everything it wrote to ``check(round_no, output)``, which verifies the
    survivor and returns False to stop the sweep. Returns None, or what went wrong when a
    child ended by itself (it crashed: its traceback is on stderr). Call it from a
    single-threaded process: a fork copies only the calling thread."""
    for round_no in range(rounds):
        seed = rng.randrange(1 << 30) + round_no
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(r)
            code = 70
            try:
                child(w, seed)
            except BaseException:
                traceback.print_exc()
                code = 71
            finally:
                os._exit(code)
        os.close(w)
        buf = bytearray()
        # Wait for the child to finish recovery, then let it work for a random while.
        alive = _read_until(r, time.monotonic() + ready_timeout, buf, until=b"R\n")
        if alive:
            _read_until(r, time.monotonic() + rng.uniform(min_delay, max_delay), buf)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        while True:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            buf += chunk
        os.close(r)
        if not os.WIFSIGNALED(status):
            return (f"round {round_no}: child exited on its own ({status}); "
                    f"output tail {bytes(buf[-300:])!r}")
        if not check(round_no, bytes(buf)):
            break
    return None


def run_sweep(kind: str, path: str, kills: int, seed: int = 0,
              options: dict[str, Any] | None = None, key_space: int = 2000,
              min_delay: float = 0.005, max_delay: float = 0.12,
              progress: Callable[[SweepResult], None] | None = None) -> SweepResult:
    """Kill a writing child ``kills`` times; verify after each kill. Single-threaded caller."""
    opts = options or {}
    result = SweepResult(kind)
    expected: dict[bytes, str] = {}  # key -> digest of its acknowledged value ("-": deleted)
    start = time.monotonic()

    def check(round_no: int, output: bytes) -> bool:
        inflight = _apply_reports(output, expected, result)
        _verify(kind, path, opts, expected, inflight, result, round_no)
        result.kills += 1
        if progress:
            progress(result)
        return len(result.violations) <= 20

    failed = kill_rounds(kills, random.Random(seed),
                         lambda fd, child_seed: _child(kind, path, opts, fd, child_seed,
                                                       key_space),
                         check, min_delay=min_delay, max_delay=max_delay)
    if failed:
        result.violations.append(failed)
    result.seconds = round(time.monotonic() - start, 2)
    return result


def _apply_reports(data: bytes, expected: dict[bytes, str],
                   result: SweepResult) -> dict[bytes, str] | None:
    """Fold acknowledged batches into ``expected``; return the in-flight batch, if any."""
    pending: dict[bytes, str] | None = None
    for line in data.split(b"\n"):
        if line.startswith(b"I "):
            pending = {}
            for item in line[2:].decode().split(" "):
                key_hex, dig = item.split("=")
                pending[bytes.fromhex(key_hex)] = dig
        elif line == b"A" and pending is not None:
            expected.update(pending)
            result.acked_batches += 1
            pending = None
    return pending


def _verify(kind: str, path: str, options: dict[str, Any], expected: dict[bytes, str],
            inflight: dict[bytes, str] | None, result: SweepResult, round_no: int) -> None:
    def bad(msg: str) -> None:
        result.violations.append(f"round {round_no}: {msg}")

    try:
        db = open_engine(kind, path, **options)
    except Exception as exc:
        bad(f"reopen failed: {exc!r}")
        return
    with db:
        try:
            actual = {k: digest(v) for k, v in db.scan()}
        except Exception as exc:
            bad(f"scan failed: {exc!r}")
            return
        if inflight:
            applied = all(actual.get(k, "-") == d for k, d in inflight.items())
            kept = all(actual.get(k, "-") == expected.get(k, "-") for k in inflight)
            if applied and not kept:
                result.inflight_applied += 1
                expected.update(inflight)
            elif kept:
                result.inflight_dropped += 1
            else:
                bad(f"in-flight batch half applied: {inflight} vs "
                    f"{ {k: actual.get(k, '-') for k in inflight} }")
                expected.update({k: actual.get(k, "-") for k in inflight})
        for key in set(expected) | set(actual):
            want, got = expected.get(key, "-"), actual.get(key, "-")
            if want != got:
                bad(f"key {key!r}: expected {want}, found {got}")
            else:
                result.checked_keys += 1
        # Cross-check point reads against the scan. The log engine's get reads the whole log,
        # which grows with every kill, so it checks a handful of keys, not fifty.
        for key in list(expected)[:5 if kind == "log" else 50]:
            got_one = digest(db.get(key))
            if got_one != expected[key]:
                bad(f"get({key!r}) = {got_one}, scan said {expected[key]}")
