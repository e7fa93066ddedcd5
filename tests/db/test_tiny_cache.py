"""The database's behavioural suites again, with a chain cache of one byte: every clean chain is
evicted at once, so nearly every read pages its chain in from the store (the engine on disk, an
ordered store in memory for ``Database.memory``). MVCC, SSI, locks and the lock-free read
paths must not notice (conftest's CAIRN_DB_TEST_CACHE_BYTES)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = ["tests/db/test_serializable_histories.py", "tests/db/test_isolation.py",
          "tests/db/test_mvcc.py", "tests/db/test_read_only.py", "tests/db/test_vacuum.py",
          "tests/db/test_api.py", "tests/db/test_locks.py", "tests/db/lab/test_anomalies.py"]


def test_the_suites_pass_with_a_one_byte_cache() -> None:
    env = {**os.environ, "CAIRN_DB_TEST_CACHE_BYTES": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *SUITES], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
