"""Statistics of the database, as dataclasses (the numbers that explain it).

``TableStats`` follows PostgreSQL's ``pg_stat_user_tables`` (n_live_tup, n_dead_tup, vacuum
counts and times); ``DatabaseStats`` adds commits, aborts by cause, lock waits and deadlocks
(``pg_stat_database``), SSI conflict counts, the WAL's records, bytes and fsyncs (group commit
shows as commits per fsync) and the vacuum horizon.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableStats:
    name: str
    rows: int = 0  # chains whose newest version is live (committed or not)
    live_versions: int = 0  # versions not deleted by a committed transaction
    dead_versions: int = 0  # deleted/replaced by a committed transaction, not yet vacuumed
    versions: int = 0
    bytes: int = 0  # JSON bytes of every version (live and dead): what bloat costs
    indexes: dict[str, int] = field(default_factory=dict)  # index -> entries
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    dead_since_vacuum: int = 0
    vacuum_count: int = 0
    autovacuum_count: int = 0
    last_vacuum: float | None = None
    last_autovacuum: float | None = None
    versions_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VacuumResult:
    table: str
    removed: int  # dead versions reclaimed
    kept_dead: int  # dead versions a running transaction may still see
    horizon: int  # oldest xid any running transaction may still need (OldestXmin)
    seconds: float
    auto: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DatabaseStats:
    next_xid: int
    active_transactions: int
    oldest_xmin: int
    commits: int
    rollbacks: int
    aborts: dict[str, int]  # by cause: serialization, deadlock, lock_timeout, ...
    lock_waits: int
    lock_wait_seconds: float
    deadlocks: int
    lock_timeouts: int
    lock_not_available: int
    ssi_conflicts: int
    ssi_dangerous: int
    ssi_siread_locks: int
    ssi_safe_snapshots: int  # read-only transactions that ran untracked (safe at once or later)
    ssi_unsafe_snapshots: int  # read-only snapshots found unsafe (tracked to the end)
    wal_records: int
    wal_bytes: int
    wal_end_lsn: int
    wal_fsyncs: int
    wal_commits_per_fsync: float
    wal_max_group: int
    checkpoints: int
    last_checkpoint_lsn: int
    tables: dict[str, TableStats] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # the chain cache (cairn.db.pager)
    longest_checkpoint_hold: float = 0.0  # longest mutex hold of one checkpoint step (s)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Tally:
    """Counters bumped without a lock (read-only transactions that end without the database
    mutex): each thread adds to its own cell, which only it writes, so no update is lost;
    a reader sums the cells."""

    def __init__(self) -> None:
        self._cells: dict[int, dict[str, int]] = {}

    def add(self, name: str, n: int = 1) -> None:
        ident = threading.get_ident()
        cell = self._cells.get(ident)
        if cell is None:
            cell = self._cells.setdefault(ident, {})
        cell[name] = cell.get(name, 0) + n

    def get(self, name: str) -> int:
        return sum(c.get(name, 0) for c in list(self._cells.values()))

    def by_prefix(self, prefix: str) -> dict[str, int]:
        """``{name without prefix: total}`` of every counter named ``prefix...``."""
        out: dict[str, int] = {}
        for cell in list(self._cells.values()):
            for name, n in list(cell.items()):
                if name.startswith(prefix):
                    key = name[len(prefix):]
                    out[key] = out.get(key, 0) + n
        return out
