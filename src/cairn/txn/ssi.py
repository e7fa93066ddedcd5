"""Serializable snapshot isolation: rw-antidependency tracking (Cahill et al.; Ports & Grittner,
"Serializable Snapshot Isolation in PostgreSQL", VLDB 2012).

Snapshot isolation allows exactly one kind of anomaly that serial execution does not: a cycle in
the dependency graph that contains two consecutive *rw-antidependencies* T1 -rw-> T2 -rw-> T3
("T1 read something T2 later overwrote"). SSI runs every transaction on a snapshot, as
REPEATABLE READ does, and additionally

* leaves a **SIREAD lock** on what it read: a row, an index range (a structured predicate that
  used an index) or a whole table (a full scan). SIREAD locks block nothing; they survive
  commit for as long as a concurrent transaction may still conflict with them;
* records an edge R -rw-> W when a writer W writes where a concurrent R holds a SIREAD lock,
  and when a reader R skips a version because a concurrent W created or deleted it;
* aborts one transaction of every *dangerous structure* T1 -> T2 -> T3 where T3 commits first
  (the pivot T2 if it has not committed, else T1), with two refinements from PostgreSQL: a
  read-only T1 is only dangerous if T3 committed before T1's snapshot, and a victim that is not
  the transaction currently acting is *doomed*: it fails at its next statement or at commit.

**Read-only transactions** (Ports & Grittner, section 4): a transaction declared READ ONLY can
only be T1 of a dangerous structure (it writes nothing, so nothing has an rw-edge into it), and
only if T3 committed before its snapshot. Its snapshot is *safe* when no concurrent read-write
transaction T2 can still become such a pivot: every read-write serializable transaction running
at the snapshot has ended, none of them having committed with an rw-edge out to a transaction
the snapshot sees. A safe read-only transaction drops its SIREAD locks and edges and runs as
plain snapshot isolation; one safe from the start takes none at all (``register`` returns
None). Each read-write transaction keeps the read-only ones that wait on it (``watchers``), so
its end settles them: safe when the last one ends cleanly, *unsafe* (fully tracked to the end)
when one commits with such an edge. SERIALIZABLE READ ONLY DEFERRABLE waits for a safe
snapshot, taking a new one after an unsafe verdict (``cairn.db`` does the waiting).

Only transactions at SERIALIZABLE with the ``ssi`` method take part, as in PostgreSQL, where
lower levels neither take SIREAD locks nor are checked.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from cairn.txn.errors import SerializationFailure
from cairn.txn.mvcc import Snapshot, Version

ReadSpan = tuple[str, bytes, bytes | None] | None


class SxAct:
    """A serializable transaction as SSI sees it (PostgreSQL's SERIALIZABLEXACT)."""

    __slots__ = ("commit_seq", "commits_seen", "doomed", "ins", "outs", "possible", "read_only",
                 "row_tags", "safe", "snap", "tags", "unsafe", "watchers", "whole_tables",
                 "wrote", "xid")

    def __init__(self, xid: int, snap: Snapshot, commits_seen: int = 0):
        self.xid = xid
        self.snap = snap
        # How many write commits had become visible when the snapshot was taken (the
        # database's count): a later read-only snapshot that counts no more cannot see a
        # commit this transaction does not see (see SsiTracker.possible_pivots).
        self.commits_seen = commits_seen
        self.ins: set[SxAct] = set()  # X -rw-> self
        self.outs: set[SxAct] = set()  # self -rw-> Y
        self.commit_seq: int | None = None  # set at (pre)commit: the commit order
        self.doomed = False
        self.wrote = False
        self.tags: list[tuple] = []  # SIREAD locks on tables and ranges, for release
        self.row_tags: list[tuple[str, bytes]] = []  # SIREAD locks on rows
        self.whole_tables: set[str] = set()  # tables whose row locks were promoted
        # Read-only optimization: a declared read-only transaction and the read-write ones
        # that could still make its snapshot unsafe; a read-write one and its watchers.
        self.read_only = False
        self.safe = False  # read-only with a safe snapshot: no SIREAD locks, no edges
        self.unsafe = False  # read-only whose snapshot can no longer become safe
        self.possible: set[SxAct] = set()
        self.watchers: set[SxAct] = set()

    def __repr__(self) -> str:
        return f"<SxAct {self.xid}{' committed' if self.commit_seq else ''}>"


@dataclass
class SsiStats:
    conflicts: int = 0  # rw-antidependency edges recorded
    dangerous: int = 0  # dangerous structures found
    doomed: int = 0  # victims marked for abort at their next statement/commit
    siread_locks: int = 0  # currently held
    promotions: int = 0  # row locks traded for a table lock
    safe_at_start: int = 0  # read-only transactions whose snapshot was safe at once
    became_safe: int = 0  # read-only transactions whose snapshot turned safe while running
    unsafe: int = 0  # read-only snapshots found unsafe (kept fully tracked)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _failure(detail: str) -> SerializationFailure:
    return SerializationFailure(
        "could not serialize access due to read/write dependencies among transactions "
        f"({detail})", cause="rw-dependencies")


class SsiTracker:
    """SIREAD locks and rw-edges of the serializable transactions of one database. The caller
    holds the database mutex around every call except :meth:`lock_row`, :meth:`written_after`
    and :meth:`possible_pivots`, which point reads and read-only snapshots make without it."""

    def __init__(self, max_row_locks: int = 10_000) -> None:
        self.by_xid: dict[int, SxAct] = {}
        self.rows: dict[tuple, set[SxAct]] = {}  # (table, pk bytes) -> readers
        self.tables: dict[str, set[SxAct]] = {}  # whole-table (full scan) readers
        self.ranges: dict[tuple[str, str], list[tuple[bytes, bytes | None, SxAct]]] = {}
        self.active: set[SxAct] = set()
        self.committed: list[SxAct] = []
        self.seq = 0
        self.stats = SsiStats()
        self._finished = 0
        self._sweep_at = 64
        self.max_row_locks = max_row_locks

    def possible_pivots(self, commits_seen: int) -> list[SxAct]:
        """The running read-write transactions that could still become the pivot T2 of a
        dangerous structure whose T1 is a read-only snapshot that counted ``commits_seen``
        visible write commits. T2 needs an rw-edge out to a T3 that T1 sees and T2 does not:
        a commit that became visible after T2's snapshot and before T1's. If no write commit
        became visible in between (equal counts), T1 sees nothing T2 does not see, and T2
        cannot threaten it. (A refinement of PostgreSQL's rule, which counts every running
        read-write transaction; it keeps far more read-only transactions untracked when
        short writers overlap them all the time.) Safe without the mutex: it reads a copy."""
        return [a for a in tuple(self.active)
                if not a.read_only and a.commits_seen < commits_seen]

    def register(self, xid: int, snap: Snapshot, read_only: bool = False,
                 commits_seen: int = 0) -> SxAct | None:
        """Track a transaction from its snapshot on (``commits_seen``: the database's count
        of visible write commits at the snapshot). A read-only one whose snapshot is safe
        already (no running read-write transaction can become a pivot against it) is not
        tracked at all: None, and it runs as plain snapshot isolation."""
        if read_only:
            possible = set(self.possible_pivots(commits_seen))
            if not possible:
                self.stats.safe_at_start += 1
                return None
        sx = SxAct(xid, snap, commits_seen)
        self.by_xid[xid] = sx
        self.active.add(sx)
        if read_only:
            sx.read_only = True
            sx.possible = possible
            for a in possible:
                a.watchers.add(sx)
        return sx

    @staticmethod
    def threatens(rw: SxAct, snap: Snapshot) -> bool:
        """Could committed read-write ``rw`` be the pivot T2 of a dangerous structure whose
        T1 is a read-only transaction on ``snap``? Only with an rw-edge out to a T3 that
        committed before ``snap`` (edges ``rw`` gains later go to transactions that commit
        after it, which such a snapshot does not see)."""
        return any(o.commit_seq is not None and snap.sees(o.xid) for o in tuple(rw.outs))

    def _settle_watchers(self, rw: SxAct, committed: bool) -> None:
        """``rw`` ended: each read-only transaction waiting on it becomes unsafe (``rw``
        committed with a dangerous edge), safe (it was the last one), or waits on."""
        for ro in rw.watchers:
            if ro.safe or ro.unsafe:
                continue
            if committed and self.threatens(rw, ro.snap):
                ro.unsafe = True
                self.stats.unsafe += 1
                for a in ro.possible:
                    if a is not rw:
                        a.watchers.discard(ro)
                ro.possible = set()
                continue
            ro.possible.discard(rw)
            if not ro.possible and not ro.doomed:
                self._make_safe(ro)
        rw.watchers = set()

    def _make_safe(self, ro: SxAct) -> None:
        """Safe snapshot: ``ro`` can be in no dangerous structure; forget what it read."""
        ro.safe = True
        self.stats.became_safe += 1
        self.active.discard(ro)  # nothing to track: it need not hold back the sweep either
        for w in ro.outs:
            w.ins.discard(ro)
        ro.outs = set()
        self._drop(ro)

    # -- reads --------------------------------------------------------------------------------
    def read_row(self, sx: SxAct, table: str, pkb: bytes, chain: list[Version] | None) -> None:
        """``sx`` read (or looked for) row ``pkb``: SIREAD-lock it, and add an edge to every
        concurrent writer of a version newer than the one ``sx`` sees (mutex held)."""
        more = self.lock_row(sx, table, pkb)
        if more or self.written_after(sx, chain):
            self.read_edges(sx, chain)

    def lock_row(self, sx: SxAct, table: str, pkb: bytes) -> bool:
        """Take ``sx``'s SIREAD lock on row ``pkb``; True when the lock table has grown past
        ``max_row_locks`` (:meth:`read_edges` promotes it). Safe without the mutex, from the
        transaction's own thread: a point read takes the lock *before* it reads the chain,
        and a writer (:meth:`write`) looks for locks *after* it added its version, so at
        least one of them sees the other (Dekker): the writer finds the lock, or the reader
        finds the version and adds the edge itself. ``rows`` is only changed by single
        dict/set operations, which the GIL makes atomic; for a set that :meth:`_unlock_row`
        removes meanwhile, the reader sees it gone and adds itself to the live one."""
        if sx.safe or table in sx.whole_tables:
            return False
        key = (table, pkb)
        rows = self.rows
        s = rows.get(key)
        if s is not None and sx in s:
            return False
        while True:
            if s is None:
                s = rows.setdefault(key, set())
            s.add(sx)
            cur = rows.get(key)
            if cur is s:
                break
            s = cur
        sx.row_tags.append(key)
        return len(sx.row_tags) > self.max_row_locks

    @staticmethod
    def written_after(sx: SxAct, chain: list[Version] | None) -> bool:
        """Has the row changed since ``sx``'s snapshot (a newer version, or a deletion)? Only
        then can the read create an edge, so only then does it need :meth:`read_edges`."""
        if sx.safe or not chain:
            return False
        snap = sx.snap
        v = chain[-1]
        x = v.xmin
        return bool(v.xmax) or not (x == snap.me or (x < snap.xmax and x not in snap.active))

    def read_edges(self, sx: SxAct, chain: list[Version] | None) -> None:
        """The rest of a point read (mutex held): promote a lock table grown too large, and add
        an edge to every concurrent writer of a version newer than the one ``sx`` sees."""
        if sx.safe:
            return  # safe meanwhile: SSI forgot it
        if len(sx.row_tags) > self.max_row_locks:
            self._promote(sx)
        if not chain:
            return
        snap = sx.snap
        by_xid = self.by_xid
        for i in range(len(chain) - 1, -1, -1):
            v = chain[i]
            if snap.sees(v.xmin):
                d = v.xmax
                if d and not snap.sees(d):
                    w = by_xid.get(d)
                    if w is not None:
                        self._edge(sx, w, sx)
                break
            w = by_xid.get(v.xmin)
            if w is not None:
                self._edge(sx, w, sx)

    def _unlock_row(self, sx: SxAct, key: tuple) -> None:
        """Drop ``sx``'s SIREAD lock on row ``key`` (mutex held). A reader may be adding itself
        to the same set without the mutex (:meth:`lock_row`): after removing an empty set,
        put it back if someone joined it meanwhile; that reader also sees the set gone and
        adds itself to the live one."""
        rows = self.rows
        s = rows.get(key)
        if s is None:
            return
        s.discard(sx)
        if not s:
            del rows[key]
            if s:
                cur = rows.setdefault(key, s)
                if cur is not s:
                    cur |= s

    def _promote(self, sx: SxAct) -> None:
        """Too many row SIREAD locks: trade them for one lock per table (PostgreSQL's
        max_pred_locks_per_relation promotion). Coarser, so possibly more false conflicts,
        but memory stays bounded for a transaction that reads a whole big table row by row."""
        tables = {key[0] for key in sx.row_tags}
        for key in sx.row_tags:
            self._unlock_row(sx, key)
        sx.row_tags = []
        for table in tables:
            self.read_span(sx, table, None)
            sx.whole_tables.add(table)
        self.stats.promotions += 1

    def read_span(self, sx: SxAct, table: str, span: ReadSpan) -> None:
        """``sx`` scanned an index range (``span``) or the whole table (None)."""
        if sx.safe:
            return
        if span is None:
            readers = self.tables.setdefault(table, set())
            if sx not in readers:
                readers.add(sx)
                sx.tags.append(("table", table))
        else:
            index, lo, hi = span
            entry = (lo, hi, sx)
            self.ranges.setdefault((table, index), []).append(entry)
            sx.tags.append(("range", (table, index), entry))

    # -- writes -------------------------------------------------------------------------------
    def write(self, sx: SxAct, table: str, pkb: bytes,
              points: list[tuple[str, bytes]]) -> None:
        """``sx`` wrote row ``pkb`` whose old/new index values are ``points``: add an edge from
        every concurrent holder of a SIREAD lock that covers it. Call it *after* the new version
        (or the xmax) is in the chain: see :meth:`lock_row`."""
        sx.wrote = True
        readers: set[SxAct] = set()
        r = self.rows.get((table, pkb))
        if r:
            readers |= r
        r = self.tables.get(table)
        if r:
            readers |= r
        for index, vb in points:
            entries = self.ranges.get((table, index))
            if entries:
                for lo, hi, rd in entries:
                    if lo <= vb and (hi is None or vb < hi):
                        readers.add(rd)
        if not readers:
            return
        snap = sx.snap
        for rd in readers:
            if rd is sx or rd.safe:
                continue
            if rd.commit_seq is not None and snap.sees(rd.xid):
                continue  # committed before we started: not concurrent
            self._edge(rd, sx, sx)

    # -- dangerous structures -----------------------------------------------------------------
    @staticmethod
    def _first(t3: SxAct, *others: SxAct) -> bool:
        """Did ``t3`` commit before every one of ``others`` (that is not ``t3`` itself)?"""
        c = t3.commit_seq
        if c is None:
            return False
        return all(o is t3 or o.commit_seq is None or o.commit_seq > c for o in others)

    @staticmethod
    def _t1_matters(t1: SxAct, t3: SxAct) -> bool:
        # A read-only T1 (declared, or committed without writing) only closes a cycle if T3
        # committed before T1's snapshot.
        if t1.read_only or (t1.commit_seq is not None and not t1.wrote):
            return t1.snap.sees(t3.xid)
        return True

    def _edge(self, r: SxAct, w: SxAct, actor: SxAct) -> None:
        if r is w or w in r.outs:
            return
        r.outs.add(w)
        w.ins.add(r)
        self.stats.conflicts += 1
        # w as the pivot: r -> w -> y, y committed first
        for y in w.outs:
            if self._first(y, w, r) and self._t1_matters(r, y):
                self._dangerous(w, r, actor)
                return
        # r as the pivot: x -> r -> w, w committed first
        if w.commit_seq is not None:
            for x in r.ins:
                if self._first(w, r, x) and self._t1_matters(x, w):
                    self._dangerous(r, x, actor)
                    return

    def _dangerous(self, pivot: SxAct, t_in: SxAct, actor: SxAct) -> None:
        self.stats.dangerous += 1
        victim = pivot if pivot.commit_seq is None else t_in
        if victim.commit_seq is not None:
            return  # everyone committed: cannot happen when checks run before each commit
        if victim is actor:
            raise _failure(f"pivot {pivot.xid}")
        if not victim.doomed:
            victim.doomed = True
            self.stats.doomed += 1

    def precommit(self, sx: SxAct) -> None:
        """Called before ``sx`` writes its commit record; raises if it must abort instead."""
        if sx.doomed:
            raise _failure(f"transaction {sx.xid} was chosen as the victim of a dangerous "
                           "structure; canceled on identification as a pivot")
        # sx as the pivot: x -> sx -> y with y already committed.
        for y in sx.outs:
            if y.commit_seq is None:
                continue
            for x in sx.ins:
                if self._first(y, x) and self._t1_matters(x, y):
                    self.stats.dangerous += 1
                    raise _failure(f"pivot {sx.xid} at commit")
        # sx as T3 committing first: r -> sx with r a pivot (x -> r), r and x still running.
        for r in sx.ins:
            if r.commit_seq is not None or r.doomed:
                continue
            for x in r.ins:
                # A read-only x does not see sx (not committed yet): no anomaly through it.
                if (x is sx or x.commit_seq is None) and self._t1_matters(x, sx):
                    self.stats.dangerous += 1
                    r.doomed = True
                    self.stats.doomed += 1
                    break
        self.seq += 1
        sx.commit_seq = self.seq

    # -- end of transaction -------------------------------------------------------------------
    def finish(self, sx: SxAct, committed: bool) -> None:
        self.active.discard(sx)
        if sx.watchers:
            self._settle_watchers(sx, committed)
        if sx.read_only:
            for a in sx.possible:
                a.watchers.discard(sx)
            sx.possible = set()
        if sx.safe:
            sx.commit_seq = None  # nothing to keep: it can be in no dangerous structure
            self._drop(sx)
        elif not committed:
            sx.commit_seq = None
            for o in sx.outs:
                o.ins.discard(sx)
            for i in sx.ins:
                i.outs.discard(sx)
            self._drop(sx)
        else:
            self.committed.append(sx)
        self._finished += 1
        if not self.active:
            # Nobody is tracked: no lock can matter. (A reader made safe while it was taking a
            # lock without the mutex may leave one behind; writers skip safe readers.)
            self.rows.clear()
            self.tables.clear()
            self.ranges.clear()
            self.by_xid.clear()
            self.committed.clear()
        elif len(self.committed) >= self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        """Forget committed transactions that every running one already sees: no concurrent
        transaction is left that could form an edge with them. Amortized: the next sweep waits
        until the list has doubled, so a long-running transaction that pins everything does
        not make every commit pay for a full pass."""
        keep: list[SxAct] = []
        active = self.active
        horizon = min(a.snap.xmin for a in active)  # every snapshot sees xids below this
        for c in self.committed:
            if c.xid < horizon or all(a.snap.sees(c.xid) for a in active):
                self._drop(c)
            else:
                keep.append(c)
        self.committed = keep
        self._sweep_at = max(64, 2 * len(keep))

    def _drop(self, sx: SxAct) -> None:
        if self.by_xid.get(sx.xid) is sx:
            del self.by_xid[sx.xid]
        for tag in sx.tags:
            if tag[0] == "table":
                s = self.tables.get(tag[1])
                if s:
                    s.discard(sx)
            elif tag[0] == "range":
                lst = self.ranges.get(tag[1])
                if lst:
                    with contextlib.suppress(ValueError):
                        lst.remove(tag[2])
        for key in sx.row_tags:
            self._unlock_row(sx, key)
        sx.tags = []
        sx.row_tags = []

    def siread_count(self) -> int:
        return (sum(len(s) for s in list(self.rows.values())) + sum(len(s) for s in
                self.tables.values()) + sum(len(v) for v in self.ranges.values()))

    def lock_rows(self) -> list[tuple[tuple, int]]:
        """Every SIREAD lock held, as (tag, xid): ("row", table, pk bytes), ("table", table)
        or ("range", table, index, lo, hi), for ``pg_locks``-style listings."""
        out: list[tuple[tuple, int]] = []
        for (table, pkb), readers in list(self.rows.items()):  # copies: see lock_row
            out.extend((("row", table, pkb), r.xid) for r in tuple(readers))
        for table, readers in self.tables.items():
            out.extend((("table", table), r.xid) for r in readers)
        for (table, index), entries in self.ranges.items():
            out.extend((("range", table, index, lo, hi), r.xid) for lo, hi, r in entries)
        return out
