"""Multi-version concurrency control: tuple versions, snapshots and visibility (PostgreSQL style).

Every row is a *chain* of versions, oldest first. A version carries ``xmin`` (the transaction
that created it) and ``xmax`` (the transaction that deleted or replaced it; 0 while it is the
live version). An UPDATE appends a new version and sets the old one's ``xmax``; a DELETE only
sets ``xmax``. Readers never take locks to read: each picks, per chain, the version its
*snapshot* says is visible, so writers never block readers and readers never block writers.

A snapshot is PostgreSQL's ``(xmin, xmax, xip)``: every transaction id below ``xmax`` that is
not in the in-progress set ``active`` had finished when the snapshot was taken. Because a
rollback undoes its versions in place (see ``cairn.db``), a transaction id found in a chain
belongs to a committed transaction or to one still in progress, never to an aborted one, so
"finished before the snapshot" means "committed before the snapshot". Visibility is then one
comparison and one set lookup, with no commit-log access on the hot path.

Transaction ids are 64-bit (Python integers, stored as 8-byte keys on disk): at a million
transactions a second they last 584,000 years, so the 32-bit wraparound that forces PostgreSQL
to *freeze* old tuples (rewrite xmin as "frozen" before the counter laps) cannot happen here.
"""

from __future__ import annotations

from typing import Any


class Version:
    """One tuple version. ``row`` is never mutated once another transaction may see it
    (except by its own creator, which rewrites its own uncommitted version in place)."""

    __slots__ = ("dlsn", "lsn", "row", "xmax", "xmin")

    def __init__(self, xmin: int, xmax: int, row: dict[str, Any], lsn: int = 0):
        self.xmin = xmin
        self.xmax = xmax
        self.row = row
        #: end LSN of the deleter's commit record (0: none yet); with ``lsn`` it tells a reader
        #: which log position must be durable before it may report what it saw.
        self.dlsn = 0
        #: LSN of the creator's commit record: the order of versions in a chain, which is the
        #: commit order of their creators (rows are written under a row lock), not xid order.
        self.lsn = lsn

    def __repr__(self) -> str:
        return f"Version(xmin={self.xmin}, xmax={self.xmax}, row={self.row!r})"


class Snapshot:
    """Which transactions' effects a reader sees: those below ``xmax`` and not ``active``,
    plus its own (``me``). ``xmin`` is the oldest transaction still running at the time: every
    id below it is settled, which is what vacuum's horizon is made of."""

    __slots__ = ("active", "me", "xmax", "xmin")

    def __init__(self, xmin: int, xmax: int, active: frozenset[int] | set[int], me: int):
        self.xmin = xmin
        self.xmax = xmax
        self.active = active
        self.me = me

    def sees(self, xid: int) -> bool:
        """Did ``xid`` commit before this snapshot (or is it the snapshot's own)?"""
        return xid == self.me or (xid < self.xmax and xid not in self.active)

    def __repr__(self) -> str:
        return f"Snapshot(xmin={self.xmin}, xmax={self.xmax}, active={sorted(self.active)})"


def visible_version(chain: list[Version], snap: Snapshot) -> Version | None:
    """The version of ``chain`` that ``snap`` sees, or None if the row does not exist for it.

    Walk from the newest version back to the first one whose creator the snapshot sees; the
    row exists if that version's deleter is not also seen."""
    me = snap.me
    xmax = snap.xmax
    active = snap.active
    for i in range(len(chain) - 1, -1, -1):
        v = chain[i]
        x = v.xmin
        if x == me or (x < xmax and x not in active):
            d = v.xmax
            if d and (d == me or (d < xmax and d not in active)):
                return None
            return v
    return None


def dirty_version(chain: list[Version]) -> Version | None:
    """READ UNCOMMITTED: the newest version, committed or not, unless it is deleted (by anyone,
    committed or not). Dirty reads, but writes still lock rows: never dirty writes."""
    if not chain:
        return None
    v = chain[-1]
    return None if v.xmax else v


def latest_version(chain: list[Version]) -> Version | None:
    """The newest version if it is live (not deleted); the writer holding the row lock acts on
    this one (PostgreSQL's EvalPlanQual re-check at READ COMMITTED)."""
    if not chain:
        return None
    v = chain[-1]
    return None if v.xmax else v
