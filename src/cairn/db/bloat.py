"""The long-transaction-holds-vacuum-back demo (``cairn txn bloat``).

A table of counters gets a steady stream of small update transactions. Each update leaves a
dead version behind; vacuum reclaims them as long as no running transaction could still see
them. Then one REPEATABLE READ transaction starts and just stays open (a forgotten ``BEGIN`` in
a psql session, a long report). Its snapshot pins the vacuum horizon: every version deleted
after it started stays, vacuum removes nothing, and the table bloats. When it ends, one vacuum
reclaims the backlog. The numbers are read from ``table_stats`` at each phase.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cairn.db.database import Database


@dataclass
class Phase:
    phase: str
    live_versions: int
    dead_versions: int
    bytes: int
    removed_by_vacuum: int
    horizon: int


@dataclass
class BloatReport:
    rows: int
    updates_per_phase: int
    phases: list[Phase] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(rows: int = 100, updates: int = 2000) -> BloatReport:
    db = Database.memory()
    report = BloatReport(rows, updates)
    try:
        db.create_table("counters")
        with db.transaction() as tx:
            for i in range(rows):
                tx.insert("counters", {"id": i, "n": 0})

        def churn() -> None:
            for k in range(updates):
                with db.transaction() as tx:
                    tx.update("counters", k % rows, {"n": lambda r: r["n"] + 1})

        def record(name: str) -> None:
            result = db.vacuum("counters")[0]
            s = db.table_stats("counters")
            report.phases.append(Phase(name, s.live_versions, s.dead_versions, s.bytes,
                                       result.removed, result.horizon))

        churn()
        record("updates, no long transaction, then vacuum")
        long_tx = db.begin("repeatable read")
        long_tx.get("counters", 0)  # takes the snapshot
        churn()
        record("updates while a long transaction is open, then vacuum")
        churn()
        record("more updates, long transaction still open, then vacuum")
        long_tx.commit()
        record("long transaction ended, vacuum")
    finally:
        db.close()
    return report


def render(report: BloatReport) -> str:
    lines = [f"{report.rows} rows, {report.updates_per_phase} single-row updates per phase",
             f"{'phase':58} {'live':>6} {'dead':>7} {'bytes':>9} {'vacuumed':>9}"]
    for p in report.phases:
        lines.append(f"{p.phase:58} {p.live_versions:>6} {p.dead_versions:>7} {p.bytes:>9} "
                     f"{p.removed_by_vacuum:>9}")
    return "\n".join(lines)
