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
