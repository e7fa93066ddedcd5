"""The ``cairn txn`` commands of the core database: bloat demo and stats (the crash sweep runs
in test_durability.py), through the installed ``cairn`` script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cairn.db import Database

CAIRN = str(Path(sys.executable).with_name("cairn"))


def run(*args: str) -> str:
    proc = subprocess.run([CAIRN, "txn", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_bloat_json() -> None:
    phases = json.loads(run("bloat", "--rows", "10", "--updates", "100", "--json"))["phases"]
    assert [p["removed_by_vacuum"] for p in phases] == [100, 0, 0, 200]
    assert [p["dead_versions"] for p in phases] == [0, 100, 200, 0]


def test_stats_of_a_database_directory(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path))
    db.create_table("t")
    with db.transaction() as tx:
        tx.insert("t", {"id": 1})
    db.close()
    stats = json.loads(run("stats", str(tmp_path)))
    assert stats["tables"]["t"]["rows"] == 1
    assert stats["commits"] == 0  # a fresh process: counters start at zero
    assert stats["next_xid"] >= 2
