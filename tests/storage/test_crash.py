"""SIGKILL crash sweep: 200 kills per engine, each followed by recovery and a full check
(cairn.storage.crashtest). Run in a subprocess so that the sweep forks from a single-threaded
process."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from .kinds import KINDS, small

CAIRN = str(Path(sys.executable).with_name("cairn"))
KILLS = 200


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_sweep_loses_no_acknowledged_write(kind: str, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [CAIRN, "storage", "crashtest", "--kind", kind, "--kills", str(KILLS), "--seed",
         str(seed), "--dir", str(tmp_path / "work"), "--max-delay", "0.04",
         "--options", json.dumps(small(kind)), "--json", str(out)],
        capture_output=True, text=True, timeout=900)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())["results"][0]
    assert result["violations"] == [], f"seed {seed}: {proc.stdout}"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["kills"] == KILLS
    assert result["acked_batches"] > KILLS  # the children really wrote between kills
    assert result["checked_keys"] > 0


def test_kill_rounds_hands_each_round_output_to_check_and_reports_a_child_that_dies() -> None:
    """The shared sweep driver (also used by cairn.db.crashtest): the child's reports reach
    ``check``, the kill lands after the ready line, and a child that ends by itself is a
    failure, not a silent round."""
    import os
    import time

    from cairn.storage.crashtest import kill_rounds

    def child(fd: int, seed: int) -> None:
        os.write(fd, f"R\nseed {seed}\n".encode())
        while True:
            time.sleep(0.001)

    seen: list[tuple[int, bytes]] = []
    assert kill_rounds(3, random.Random(1), child, lambda n, out: not seen.append((n, out)),
                       min_delay=0.001, max_delay=0.01) is None
    assert [n for n, _ in seen] == [0, 1, 2]
    assert all(out.startswith(b"R\nseed ") for _, out in seen)

    def crashing(fd: int, seed: int) -> None:
        os._exit(3)  # dies before it is ready (no traceback printing in a forked test)

    failed = kill_rounds(2, random.Random(1), crashing, lambda n, out: True,
                         min_delay=0.001, max_delay=0.01, ready_timeout=5)
    assert failed is not None and "exited on its own" in failed

    stops: list[int] = []
    assert kill_rounds(5, random.Random(2), child, lambda n, out: stops.append(n) or False,
                       min_delay=0.001, max_delay=0.01) is None
    assert stops == [0]  # check said stop
