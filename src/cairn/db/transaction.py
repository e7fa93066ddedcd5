"""A transaction: reads through a snapshot, writes new versions under row locks.

Isolation levels (``Database.begin(isolation=..., method=...)``):

* ``read uncommitted``: reads the newest version, committed or not: real dirty reads (unlike
  PostgreSQL, which treats it as READ COMMITTED), so the lab can show them. Writes still take
  row locks, so there are never dirty writes.
* ``read committed``: a new snapshot for every statement (every call). A writer that waited
  for a row lock acts on the newest committed version (PostgreSQL's EvalPlanQual re-check), so
  ``update(..., {"n": lambda row: row["n"] + 1})`` is an atomic increment.
* ``repeatable read``: snapshot isolation, as in PostgreSQL: one snapshot for the whole
  transaction, taken at its first statement; updating a row another transaction changed after
  that snapshot fails with ``SerializationFailure`` (first updater wins).
* ``serializable``: method ``ssi`` (default) is repeatable read plus SIREAD locks and the
  dangerous-structure check (:mod:`cairn.txn.ssi`); ``2pl`` is strict two-phase locking
  (shared row locks on reads, predicate locks on scanned index ranges, all held to commit;
  reads see the newest committed data); ``serial`` runs one transaction at a time (a database
  wide mutex taken at ``begin``).

``read_only=True`` refuses writes and ``SELECT FOR UPDATE/SHARE`` (25006, as PostgreSQL). At
repeatable read and serializable/ssi its snapshot leaves out commits that are not durable yet,
so it never waits for an fsync; at serializable SSI stops tracking it once its snapshot is safe
(``deferrable=True`` waits for that at the first statement), and from then on its point reads
take no database mutex.

Every error inside a transaction aborts it at once (its locks are released); later calls
raise ``InFailedTransaction`` (25P02), and calls after commit/rollback raise
``TransactionFinished``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cairn.db import predicate
from cairn.db.heap import Heap, check_row, check_value
from cairn.storage.errors import DurabilityError
from cairn.txn.errors import (
    DataError,
    InFailedTransaction,
    InvalidParameter,
    LockNotAvailable,
    PartitionViolation,
    ReadOnlyTransaction,
    SerializationFailure,
    TransactionFinished,
    TxnError,
    UniqueViolation,
)
from cairn.txn.locks import TABLE_MODES, LockOwner
from cairn.txn.mvcc import Snapshot, Version, dirty_version, latest_version, visible_version
from cairn.txn.ssi import SxAct

if TYPE_CHECKING:
    from cairn.db.database import Database

RU, RC, RR, SER = "read uncommitted", "read committed", "repeatable read", "serializable"
LEVELS = {RU: RU, RC: RC, RR: RR, SER: SER, "snapshot": RR}
METHODS = ("ssi", "2pl", "serial")
_MISSING = object()


def normalize_level(isolation: str) -> str:
    level = LEVELS.get(isolation)  # type: ignore[call-overload]
    if level is not None:
        return level
    if not isinstance(isolation, str):
        raise InvalidParameter(f"isolation must be a string, not {isolation!r}")
    key = " ".join(isolation.lower().replace("_", " ").replace("-", " ").split())
    try:
        return LEVELS[key]
    except KeyError:
        raise InvalidParameter(
            f"unknown isolation level {isolation!r}; use one of {', '.join(LEVELS)}") from None


class Transaction:
    """Created by :meth:`Database.begin`; use it from one thread at a time."""

    def __init__(self, db: Database, xid: int, isolation: str, method: str, read_only: bool,
                 lock_timeout: float | None, *, deferrable: bool = False, vid: int = 0):
        self.db = db
        # 0 for a *virtual* read-only transaction (``vid``): it gets an xid only if SSI has to
        # track it (Database._assign_xid).
        self.xid = xid
        self.vid = vid
        self.isolation = isolation
        self.method = method if isolation == SER else None
        self.read_only = read_only
        # SERIALIZABLE READ ONLY DEFERRABLE; like PostgreSQL, ignored at other levels.
        self.deferrable = deferrable and read_only and isolation == SER and method == "ssi"
        self.lock_timeout = lock_timeout
        self.owner = LockOwner(xid, f"transaction {xid}" if xid else f"virtual transaction {vid}")
        self.state = "active"  # active | failed | committed | rolled back
        self.commit_lsn: int | None = None
        self.error: BaseException | None = None
        # snapshot discipline
        self._per_tx_snapshot = isolation == RR or (isolation == SER and method == "ssi")
        self._latest_reads = isolation == SER and method in ("2pl", "serial")
        self._2pl = isolation == SER and method == "2pl"
        self._snap: Snapshot | None = None
        self._sx: SxAct | None = None
        # (table, pk bytes) -> [xmin of the version this transaction replaced (None: fresh
        # insert), final row (None: deleted), the version it created]
        self._writes: dict[tuple[str, bytes], list[Any]] = {}
        self._tlocks: set[tuple[str, str]] = set()
        self._fast: list[tuple] = []  # table lock tags held on the lock manager's fast path
        # Serial method: the partition executors held; the one partition it is bound to
        # (None: all, or the database is not partitioned). See cairn.db.partitions.
        self._serial_held: list[int] = []
        self._partition: int | None = None
        self._dep = 0  # newest commit-record end this transaction may have seen
        self._fast_reads = isolation != RU
        self._track_deps = db._wal.tracks_durability

    def __repr__(self) -> str:
        m = f"/{self.method}" if self.method else ""
        return f"<Transaction {self.xid} {self.isolation}{m} {self.state}>"

    # -- plumbing -----------------------------------------------------------------------------
    def _check(self) -> None:
        if self.state != "active":
            if self.state == "failed":
                raise InFailedTransaction(
                    "current transaction is aborted, commands ignored until end of "
                    f"transaction block (cause: {self.error!r})")
            raise TransactionFinished(f"{self.owner.label} is already {self.state}")
        sx = self._sx
        if sx is not None and sx.safe:
            self._sx = None  # safe snapshot: SSI forgot it; plain snapshot isolation from now
        elif sx is not None and sx.doomed:
            self._fail(SerializationFailure(
                "could not serialize access due to read/write dependencies among "
                "transactions (canceled on identification as a pivot)", cause="rw-dependencies"))

    def _check_write(self, what: str = "a write") -> None:
        self._check()
        if self.read_only:
            self._fail(ReadOnlyTransaction(f"cannot execute {what} in a read-only transaction"))

    def _check_read(self, locking: bool) -> None:
        """Before a read; a locking read (FOR UPDATE/SHARE) counts as a write (25006)."""
        if locking:
            self._check_write("SELECT FOR UPDATE/SHARE")
        else:
            self._check()

    def _fail(self, exc: BaseException) -> None:
        """Abort on error (releasing locks at once) and raise ``exc``."""
        if self.state == "active":
            self.error = exc
            self.db._abort(self, exc)
            self.state = "failed"
        raise exc

    def _snapshot(self) -> Snapshot:
        """The snapshot of the current statement (mutex held)."""
        if self._per_tx_snapshot:
            snap = self._snap
            if snap is None:
                if self.read_only:
                    return self.db._read_only_snapshot(self)
                snap = self._snap = self.db._take_snapshot(self.xid)
                if self.method == "ssi":
                    self._sx = self.db._ssi.register(self.xid, snap,
                                                     commits_seen=self.db._visible_commits)
            return snap
        snap = self._snap = self.db._take_snapshot(self.xid)
        return snap

    def _lock_table(self, table: str, mode: str, nowait: bool = False) -> None:
        key = (table, mode)
        if key not in self._tlocks and not (mode == "access share" and self._fast_share(table)):
            self.db._locks.acquire(self.owner, ("table", table), mode, nowait=nowait,
                                   timeout=self.lock_timeout)
            self._tlocks.add(key)

    def _fast_share(self, table: str) -> bool:
        """ACCESS SHARE on ``table`` on the lock manager's fast path (no mutex needed); False
        while an ACCESS EXCLUSIVE request exists (then it must queue in the lock table)."""
        tag = ("table", table)
        if not self.db._locks.try_fast_share(self.owner, tag):
            return False
        self._fast.append(tag)
        self._tlocks.add((table, "access share"))
        return True

    def _start_unlocked(self, table: str) -> bool:
        """A virtual read-only transaction's first read of ``table`` without the mutex: the
        table's ACCESS SHARE on the fast path, and at the first statement the snapshot. False
        when either needs the mutex after all."""
        if (table, "access share") not in self._tlocks and not self._fast_share(table):
            return False
        return self._snap is not None or self.db._virtual_snapshot(self)

    def _pk(self, heap: Heap, key: Any) -> bytes:
        """``key`` packed; for a single-partition serial transaction, only one of its
        partition's rows."""
        pkb = heap.pk_bytes(key)
        if self._partition is not None and self.db._partitions.of_pk(pkb) != self._partition:
            raise PartitionViolation(
                f"a row of {heap.name!r} outside partition {self._partition} (this transaction's"
                "); run it without partition=, or with the partition of that row's key")
        return pkb

    def _lock_row(self, table: str, pkb: bytes, mode: str, nowait: bool = False) -> None:
        self.db._locks.acquire(self.owner, ("row", table, pkb), mode, nowait=nowait,
                               timeout=self.lock_timeout)

    def _read(self, heap: Heap, pkb: bytes, chain: list[Version] | None,
              snap: Snapshot) -> Version | None:
        if not chain:
            if self._sx is not None:
                self.db._ssi.read_row(self._sx, heap.name, pkb, None)
            return None
        if self.isolation == RU:
            return dirty_version(chain)
        if self._sx is not None:
            self.db._ssi.read_row(self._sx, heap.name, pkb, chain)
        if self._track_deps:
            self._depend(chain)
        return visible_version(chain, snap)

    def _depend(self, chain: list[Version]) -> None:
        """Early lock release: a commit becomes visible before its record is durable, so a
        reader remembers the newest not-yet-durable commit it may have observed and waits for
        it before its own commit returns (a writer's own later record covers it anyway)."""
        durable = self.db._wal.durable_lsn
        dep = self._dep
        for i in range(len(chain) - 1, -1, -1):
            v = chain[i]
            m = v.lsn if v.lsn > v.dlsn else v.dlsn
            if not m:
                continue  # uncommitted
            if m <= durable:
                break
            if m > dep:
                dep = m
        self._dep = dep

    # -- reads --------------------------------------------------------------------------------
    def get(self, table: str, key: Any, *, for_update: bool = False, for_share: bool = False,
            nowait: bool = False) -> dict[str, Any] | None:
        """The row with primary key ``key`` as this transaction sees it, or None."""
        db = self.db
        if not (for_update or for_share or self._2pl) and self._fast_reads:
            # Hot path of a plain snapshot read (read committed, repeatable read, SSI): the
            # same steps as below, inlined, because point reads dominate most workloads.
            sx = self._sx
            if self.state != "active" or (sx is not None and (sx.doomed or sx.safe)):
                self._check()
            heap = db._heaps.get(table)
            if heap is not None:
                try:
                    pkb = self._pk(heap, key)
                    if (self._per_tx_snapshot and self._snap is not None
                            and (table, "access share") in self._tlocks) or (
                            self.xid == 0 and self._start_unlocked(table)):
                        return self._read_unlocked(heap, pkb)
                    if heap.store is not None:
                        heap.chain(pkb)  # a miss reads the engine before the mutex
                    with db._mu:
                        if (table, "access share") not in self._tlocks:
                            self._lock_table(table, "access share")
                        snap = self._snap
                        if snap is None or not self._per_tx_snapshot:
                            snap = self._snapshot()
                        chain = heap.chain(pkb)
                        if not chain:
                            if self._sx is not None:
                                db._ssi.read_row(self._sx, table, pkb, None)
                            return None
                        if self._sx is not None:
                            db._ssi.read_row(self._sx, table, pkb, chain)
                        if self._track_deps:
                            self._depend(chain)
                        v = visible_version(chain, snap)
                        return dict(v.row) if v is not None else None
                except TxnError as exc:
                    self._fail(exc)
                    raise
        self._check_read(for_update or for_share)
        try:
            heap = db._heap(table)
            pkb = self._pk(heap, key)
            if heap.store is not None:
                heap.chain(pkb)  # a miss reads the engine before the mutex
            with db._mu:
                if for_update or for_share:
                    if self._per_tx_snapshot:
                        self._snapshot()  # the snapshot predates the wait, as in PostgreSQL
                    self._lock_table(heap.name, "row share")
                    self._lock_row(heap.name, pkb, "update" if for_update else "share", nowait)
                    v = self._locked_version(heap, pkb, self._snapshot())
                else:
                    self._lock_table(heap.name, "access share")
                    if self._2pl:
                        self._lock_row(heap.name, pkb, "share")
                    v = self._read(heap, pkb, heap.chain(pkb), self._snapshot())
                return dict(v.row) if v is not None else None
        except TxnError as exc:
            self._fail(exc)
            raise

    def _read_unlocked(self, heap: Heap, pkb: bytes) -> dict[str, Any] | None:
        """A point read on this transaction's snapshot once it has one and holds the table's
        ACCESS SHARE lock: no database mutex (a holder preempted by the GIL would stall every
        other reader). Chains only grow at the end while they are read; rollback and vacuum
        replace their contents in one step (``chain[:] = ...``), removing only versions this
        snapshot cannot see, so a copy taken in one step is consistent. Under SSI the SIREAD
        lock comes first, then the chain (see ``SsiTracker.lock_row``); only a row changed
        since the snapshot takes the mutex, to add rw-edges."""
        sx = self._sx
        ssi = self.db._ssi
        more = sx is not None and ssi.lock_row(sx, heap.name, pkb)
        chain = heap.chain(pkb)
        chain = chain[:] if chain else None
        db = self.db
        if db._pager.over and db._mu.acquire(blocking=False):
            try:  # eviction needs the mutex; a reader that finds it free does it
                db._evict()
            finally:
                db._mu.release()
        if sx is not None and (more or ssi.written_after(sx, chain)):
            with self.db._mu:
                ssi.read_edges(sx, chain)
        if not chain:
            return None
        if self._track_deps:
            self._depend(chain)
        v = visible_version(chain, self._snap)  # type: ignore[arg-type]
        return dict(v.row) if v is not None else None

    def _locked_version(self, heap: Heap, pkb: bytes, snap: Snapshot) -> Version | None:
        """After taking a row lock: the version to return/act on (EvalPlanQual at read
        committed; a concurrent change since the snapshot is a serialization failure at
        repeatable read and serializable)."""
        chain = heap.chain(pkb)
        latest = latest_version(chain) if chain else None
        if not self._per_tx_snapshot:
            if chain and self._track_deps:
                self._depend(chain)
            return latest
        vis = self._read(heap, pkb, chain, snap)
        if vis is None:
            if chain and chain[-1].xmax and not snap.sees(chain[-1].xmax) \
                    and snap.sees(chain[-1].xmin):
                raise SerializationFailure(
                    "could not serialize access due to concurrent delete",
                    cause="concurrent update")
            return None
        if vis is not latest:
            raise SerializationFailure("could not serialize access due to concurrent update",
                                       cause="concurrent update")
        return vis

    def select(self, table: str, where: Any = None, *, for_update: bool = False,
               for_share: bool = False, nowait: bool = False, skip_locked: bool = False,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Rows matching ``where`` (a callable on the row, or a dict of column conditions that
        can use an index, see :mod:`cairn.db.predicate`), in primary-key or index order.

        ``for_update``/``for_share`` lock each returned row (SELECT ... FOR UPDATE/SHARE);
        ``nowait`` raises LockNotAvailable instead of waiting; ``skip_locked`` leaves out rows
        another transaction has locked (the job-queue idiom)."""
        self._check_read(for_update or for_share)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidParameter("limit must be a non-negative integer")
        db = self.db
        try:
            heap = db._heap(table)
            match, conds = predicate.parse(where)
            locking = for_update or for_share
            with db._mu:
                self._lock_table(heap.name, "row share" if locking else "access share")
                plan = predicate.plan(heap, conds)
                if self._2pl:
                    for span in plan.spans or [None]:
                        db._locks.acquire(self.owner, ("pred", heap.name), "S", span,
                                          timeout=self.lock_timeout)
                snap = self._snapshot()
                sx = self._sx
                if sx is not None and plan.kind != "points":
                    for span in plan.spans or [None]:
                        db._ssi.read_span(sx, heap.name, span)
                candidates: Any
                if plan.kind == "points":
                    candidates = plan.points or []
                elif plan.kind == "index":
                    idx = heap.indexes[plan.index or ""]
                    if len(plan.ranges or []) == 1:
                        lo, hi = (plan.ranges or [])[0]
                        candidates = idx.scan(lo, hi)
                    else:
                        seen: dict[bytes, None] = {}
                        for lo, hi in plan.ranges or []:
                            for pkb in idx.scan(lo, hi):
                                seen[pkb] = None
                        candidates = list(seen)
                else:
                    # a sequential scan: the cache's chains merged with the engine's
                    candidates = heap.scan_chains()
                if self._partition is not None:  # it sees its own partition only
                    of_pk, mine = db._partitions.of_pk, self._partition
                    candidates = [c for c in candidates
                                  if of_pk(c if type(c) is bytes else c[0]) == mine]
                out: list[dict[str, Any]] = []
                mode = "update" if for_update else "share"
                for cand in candidates:
                    if type(cand) is bytes:
                        pkb, chain = cand, heap.chain(cand)
                    else:
                        pkb, chain = cand
                    v = self._read(heap, pkb, chain, snap)
                    if v is None or (match is not None and not match(v.row)):
                        continue
                    if locking:
                        try:
                            self._lock_row(heap.name, pkb, mode, nowait or skip_locked)
                        except LockNotAvailable:
                            if skip_locked:
                                continue
                            raise
                        v = self._locked_version(heap, pkb, snap)
                        if v is None or (match is not None and not match(v.row)):
                            continue
                    out.append(dict(v.row))
                    if limit is not None and len(out) >= limit:
                        break
                if db._pager.over:
                    db._evict()
                return out
        except TxnError as exc:
            self._fail(exc)
            raise

    def explain(self, table: str, where: Any = None) -> str:
        """The access path ``select`` would use (Seq Scan, Primary Key Lookup, Index Scan)."""
        heap = self.db._heap(table)
        return predicate.plan(heap, predicate.parse(where)[1]).describe()

    # -- writes -------------------------------------------------------------------------------
    def _unique_check(self, heap: Heap, pkb: bytes, old: dict[str, Any] | None,
                      new: dict[str, Any] | None) -> None:
        for idx in heap.indexes.values():
            if not idx.unique:
                continue
            nv = idx.unique_key(new) if new is not None else None
            ov = idx.unique_key(old) if old is not None else None
            if nv == ov:
                continue
            for vb in (ov, nv):
                if vb is not None:
                    self.db._locks.acquire(self.owner, ("unique", heap.name, idx.name, vb),
                                           "exclusive", timeout=self.lock_timeout)
            if nv is None:
                continue
            for other in idx.pks_with(nv):
                if other == pkb:
                    continue
                chain = heap.chain(other)
                if chain and not chain[-1].xmax and idx.unique_key(chain[-1].row) == nv:
                    raise UniqueViolation(
                        f'duplicate key value violates unique constraint "{idx.name}": '
                        f"{dict((c, new.get(c)) for c in idx.columns) if new else ''}")

    def _points(self, heap: Heap, pkb: bytes, *rows: dict[str, Any] | None
                ) -> list[tuple[str, bytes]]:
        pts: list[tuple[str, bytes]] = [(predicate.PK, pkb)]
        for idx in heap.indexes.values():
            for row in rows:
                if row is not None:
                    pts.append((idx.name, idx.key(row)))
        return pts

    def _before_write(self, heap: Heap, pkb: bytes, old: dict[str, Any] | None,
                      new: dict[str, Any] | None) -> None:
        # Writers at every level respect 2PL's predicate locks while a 2PL transaction runs,
        # so that a 2PL reader's range stays stable against them too.
        if self._2pl or self.db._n2pl:
            self.db._locks.acquire(self.owner, ("pred", heap.name), "W",
                                   tuple(self._points(heap, pkb, old, new)),
                                   timeout=self.lock_timeout)
        if heap.indexes:
            self._unique_check(heap, pkb, old, new)

    def _after_write(self, heap: Heap, pkb: bytes, old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> None:
        """SSI's check for readers of what was just written: after the version is in the chain
        (and noted for rollback), as ``SsiTracker.write`` requires."""
        if self._sx is not None:
            self.db._ssi.write(self._sx, heap.name, pkb,
                               self._points(heap, pkb, old, new)[1:] if heap.indexes else [])

    def _note_write(self, heap: Heap, pkb: bytes, replaced: Version | None,
                    row: dict[str, Any] | None, version: Version | None) -> None:
        key = (heap.name, pkb)
        entry = self._writes.get(key)
        if entry is None:
            self._writes[key] = [replaced.xmin if replaced is not None else None, row, version]
        else:
            entry[1] = row
            if version is not None:
                entry[2] = version

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Insert ``row``; a live row with the same primary key raises UniqueViolation."""
        self._check_write()
        db = self.db
        try:
            heap = db._heap(table)
            check_row(row)
            row = dict(row)
            pkb = self._pk(heap, heap.row_pk(row))
            if heap.store is not None:
                # a miss reads the engine before the mutex; a new key gets its (empty) chain
                # now, so the steps under the mutex find it resident
                heap.chain_for_insert(pkb)
            with db._mu:
                if self._per_tx_snapshot:
                    self._snapshot()
                self._lock_table(heap.name, "row exclusive")
                self._lock_row(heap.name, pkb, "update")
                chain = heap.chain(pkb)
                if chain and not chain[-1].xmax:
                    raise UniqueViolation(
                        f'duplicate key value violates unique constraint "{heap.name}_pkey": '
                        f"{heap.pk} = {heap.row_pk(row)!r}")
                self._before_write(heap, pkb, None, row)
                chain = heap.chain_for_insert(pkb)
                v = Version(self.xid, 0, row)
                chain.append(v)
                heap.index_new_version(pkb, row)
                self._note_write(heap, pkb, None, row, v)
                self._after_write(heap, pkb, None, row)
        except TxnError as exc:
            self._fail(exc)
            raise

    def _target(self, heap: Heap, pkb: bytes) -> tuple[list[Version] | None, Version | None]:
        """The version an UPDATE/DELETE acts on (row lock held)."""
        chain = heap.chain(pkb)
        snap = self._snapshot()
        if not self._per_tx_snapshot:
            return chain, latest_version(chain) if chain else None
        return chain, self._locked_version(heap, pkb, snap)

    def update(self, table: str, key: Any, changes: dict[str, Any], *,
               expect: dict[str, Any] | None = None) -> bool:
        """Set ``changes`` on the row ``key``; False if there is no such row (for this
        transaction) or, with ``expect``, if a column does not hold the expected value
        (compare-and-set). A callable value is applied to the current row:
        ``{"n": lambda row: row["n"] + 1}`` is an atomic increment."""
        self._check_write()
        if type(changes) is not dict:
            raise DataError("changes must be a dict of column -> value")
        db = self.db
        try:
            heap = db._heap(table)
            pkb = self._pk(heap, key)
            for c, val in changes.items():
                if not callable(val):
                    check_value(c, val)
            if heap.store is not None:
                heap.chain(pkb)  # a miss reads the engine before the mutex
            with db._mu:
                if self._per_tx_snapshot:
                    self._snapshot()  # taken before any wait, as in PostgreSQL
                self._lock_table(heap.name, "row exclusive")
                self._lock_row(heap.name, pkb, "update")
                chain, cur = self._target(heap, pkb)
                if cur is None:
                    return False
                if expect is not None and any(
                        cur.row.get(c, _MISSING) != val for c, val in expect.items()):
                    return False
                new = dict(cur.row)
                for c, val in changes.items():
                    if callable(val):
                        val = val(cur.row)
                        check_value(c, val)
                    new[c] = val
                if any(type(c) is not str or not c or "\x00" in c for c in changes):
                    check_row(new)  # raises for the bad column name
                if any(new.get(c, _MISSING) != cur.row.get(c, _MISSING) for c in heap.pk):
                    raise DataError("updating the primary key is not supported; delete and "
                                    "insert instead")
                old = cur.row
                self._before_write(heap, pkb, old, new)
                assert chain is not None
                if cur.xmin == self.xid:
                    old_row, cur.row = cur.row, new  # our own uncommitted version: in place
                    for idx in heap.indexes.values():
                        ovb, nvb = idx.key(old_row), idx.key(new)
                        if ovb != nvb:
                            idx.add(nvb, pkb)
                            if all(idx.key(v.row) != ovb for v in chain):
                                idx.discard(ovb, pkb)  # no version has the old value now
                    self._note_write(heap, pkb, None, new, None)
                else:
                    v = Version(self.xid, 0, new)
                    chain.append(v)  # then the xmax: a dirty reader never sees the row gone
                    cur.xmax = self.xid
                    heap.index_new_version(pkb, new)
                    self._note_write(heap, pkb, cur, new, v)
                self._after_write(heap, pkb, old, new)
                return True
        except TxnError as exc:
            self._fail(exc)
            raise

    def delete(self, table: str, key: Any, *, expect: dict[str, Any] | None = None) -> bool:
        """Delete the row ``key``; False if there is none (or ``expect`` does not match)."""
        self._check_write()
        db = self.db
        try:
            heap = db._heap(table)
            pkb = self._pk(heap, key)
            if heap.store is not None:
                heap.chain(pkb)  # a miss reads the engine before the mutex
            with db._mu:
                if self._per_tx_snapshot:
                    self._snapshot()
                self._lock_table(heap.name, "row exclusive")
                self._lock_row(heap.name, pkb, "update")
                _chain, cur = self._target(heap, pkb)
                if cur is None:
                    return False
                if expect is not None and any(
                        cur.row.get(c, _MISSING) != val for c, val in expect.items()):
                    return False
                self._before_write(heap, pkb, cur.row, None)
                cur.xmax = self.xid
                self._note_write(heap, pkb, None if cur.xmin == self.xid else cur, None, None)
                self._after_write(heap, pkb, cur.row, None)
                return True
        except TxnError as exc:
            self._fail(exc)
            raise

    # -- explicit locks -----------------------------------------------------------------------
    def lock_table(self, table: str, mode: str = "access exclusive", *,
                   nowait: bool = False) -> None:
        """LOCK TABLE ``table`` IN ``mode`` MODE, held to the end of the transaction."""
        self._check()
        mode = " ".join(mode.lower().replace("_", " ").split())
        if mode not in TABLE_MODES:
            raise InvalidParameter(f"unknown table lock mode {mode!r}")
        try:
            heap = self.db._heap(table)
            with self.db._mu:
                self._lock_table(heap.name, mode, nowait)
        except TxnError as exc:
            self._fail(exc)
            raise

    def advisory_lock(self, key: int | str, *, shared: bool = False,
                      nowait: bool = False) -> None:
        """pg_advisory_xact_lock: an application lock released at commit/rollback."""
        self._check()
        _check_advisory_key(key)
        try:
            with self.db._mu:
                self.db._locks.acquire(self.owner, ("advisory", key),
                                       "share" if shared else "exclusive", nowait=nowait,
                                       timeout=self.lock_timeout)
        except TxnError as exc:
            self._fail(exc)
            raise

    def try_advisory_lock(self, key: int | str, *, shared: bool = False) -> bool:
        """pg_try_advisory_xact_lock: True if taken, False if someone else holds it."""
        self._check()
        _check_advisory_key(key)
        with self.db._mu:
            try:
                self.db._locks.acquire(self.owner, ("advisory", key),
                                       "share" if shared else "exclusive", nowait=True)
                return True
            except LockNotAvailable:
                return False

    # -- end ----------------------------------------------------------------------------------
    def commit(self) -> None:
        """Make the transaction's writes durable and visible (or raise and roll back)."""
        if self.state == "failed":
            raise InFailedTransaction(
                f"cannot commit: the transaction was aborted by {self.error!r}")
        self._check()
        try:
            self.db._commit(self)
        except (TxnError, DurabilityError) as exc:
            if self.state == "active":
                self._fail(exc)
            raise
        if self.db._ckpt_due.is_set():
            self.db._flush_due()

    def rollback(self) -> None:
        """Undo everything; a no-op on a transaction an error already aborted."""
        if self.state in ("failed", "rolled back"):
            self.state = "rolled back"
            return
        if self.state == "committed":
            raise TransactionFinished(f"{self.owner.label} is already committed")
        self.db._abort(self, None)
        self.state = "rolled back"
        if self.db._ckpt_due.is_set():
            self.db._flush_due()

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None and self.state == "active":
            self.commit()
        elif self.state in ("active", "failed"):
            self.rollback()


def _check_advisory_key(key: Any) -> None:
    if type(key) not in (int, str):
        raise InvalidParameter("an advisory lock key is an int or a str")


Procedure = Callable[..., Any]
