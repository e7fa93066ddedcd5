"""The lock manager: lock modes, FIFO wait queues, timeouts and deadlock detection.

This is PostgreSQL's heavyweight lock manager (``lmgr``) in miniature. A *lock* is named by a
tag tuple whose first element is its kind, and each kind has its own modes and conflict table:

* ``("table", name)``: PostgreSQL's eight table modes (ACCESS SHARE ... ACCESS EXCLUSIVE);
* ``("row", table, pk)``: row locks ``share`` (SELECT FOR SHARE) and ``update`` (FOR UPDATE,
  and every UPDATE/DELETE/INSERT of the row);
* ``("advisory", key)``: application locks, ``share`` or ``exclusive``;
* ``("unique", table, index, value)``: taken by writers of a unique value, so a second writer of
  the same value waits for the first to finish and then sees a committed duplicate;
* ``("pred", table)``: two-phase locking's predicate locks: readers take ``S`` over an index
  range (or the whole table), writers take ``W`` on the points they write. ``S`` conflicts with
  ``W`` only where the range contains a point: index-range locking, the way 2PL stops phantoms.

Queues are FIFO: a request waits if it conflicts with a granted lock *or with an earlier
waiter*. That is what makes the migration gotcha real: an ACCESS EXCLUSIVE request queued
behind a long-running reader blocks every later ACCESS SHARE request too. (A requester that
already holds a lock on the same object skips the queue check, as in PostgreSQL, because making
it wait behind a waiter that waits for it would be a self-made deadlock.)

Deadlocks are found on the wait-for graph: an owner waits for every holder of a conflicting
granted lock and every earlier conflicting waiter. The check runs when a request starts waiting
and again every ``deadlock_timeout`` while it waits; the owner that finds the cycle is the
victim and gets :class:`DeadlockDetected` (40P01); the others go on.

The caller holds the database mutex (``mutex``) around every call except the fast path;
waiting releases it through a per-request condition variable.

**Fast path** (PostgreSQL's fast-path relation locks): ACCESS SHARE, the weak table lock every
read takes, conflicts only with ACCESS EXCLUSIVE. While nobody asks for ACCESS EXCLUSIVE on a
table, a reader records its ACCESS SHARE in a per-table set without the mutex
(:meth:`LockManager.try_fast_share`); an ACCESS EXCLUSIVE request first raises the table's
*strong* count and then moves every fast-path holder into the lock table as a granted lock, so
it queues behind them exactly as before, and later readers (seeing the count) queue behind it.
Reader and requester meet Dekker-style: the reader adds itself and then checks the count; the
requester raises the count and then looks at the set.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cairn.txn.errors import DeadlockDetected, InvalidParameter, LockNotAvailable, LockTimeout

# PostgreSQL's table lock conflict matrix (docs: "Conflicting Lock Modes").
TABLE_MODES = ("access share", "row share", "row exclusive", "share update exclusive", "share",
               "share row exclusive", "exclusive", "access exclusive")
_TABLE_CONFLICTS = {
    "access share": {"access exclusive"},
    "row share": {"exclusive", "access exclusive"},
    "row exclusive": {"share", "share row exclusive", "exclusive", "access exclusive"},
    "share update exclusive": {"share update exclusive", "share", "share row exclusive",
                               "exclusive", "access exclusive"},
    "share": {"row exclusive", "share update exclusive", "share row exclusive", "exclusive",
              "access exclusive"},
    "share row exclusive": {"row exclusive", "share update exclusive", "share",
                            "share row exclusive", "exclusive", "access exclusive"},
    "exclusive": {"row share", "row exclusive", "share update exclusive", "share",
                  "share row exclusive", "exclusive", "access exclusive"},
    "access exclusive": set(TABLE_MODES),
}
_SX = {"share": {"update", "exclusive"}, "update": {"share", "update"},
       "exclusive": {"share", "exclusive"}}

CONFLICTS: dict[str, dict[str, frozenset[str]]] = {
    "table": {m: frozenset(c) for m, c in _TABLE_CONFLICTS.items()},
    "row": {"share": frozenset({"update"}), "update": frozenset({"share", "update"})},
    "advisory": {"share": frozenset({"exclusive"}),
                 "exclusive": frozenset({"share", "exclusive"})},
    "unique": {"exclusive": frozenset({"exclusive"})},
    "pred": {"S": frozenset({"W"}), "W": frozenset({"S"})},
    "xact": {"share": frozenset({"exclusive"}), "exclusive": frozenset({"share", "exclusive"})},
}
del _SX

# A predicate read span: None (the whole table) or (index, lo, hi) over packed keys, hi
# exclusive (None: open). A write span: a tuple of (index, packed value) points.
ReadSpan = tuple[str, bytes, bytes | None] | None
WriteSpan = tuple[tuple[str, bytes], ...]


def _pred_overlap(read: ReadSpan, write: WriteSpan) -> bool:
    if read is None:
        return True
    index, lo, hi = read
    return any(i == index and lo <= v and (hi is None or v < hi) for i, v in write)


def _overlap(kind: str, mode_a: str, span_a: Any, mode_b: str, span_b: Any) -> bool:
    if kind != "pred":
        return True
    return _pred_overlap(span_a, span_b) if mode_a == "S" else _pred_overlap(span_b, span_a)


class LockOwner:
    """Something that holds locks: a transaction, or a session holding advisory locks."""

    __slots__ = ("__weakref__", "fast_moved", "held", "held_map", "id", "label", "waiting")

    def __init__(self, owner_id: int, label: str = ""):
        self.id = owner_id
        self.label = label or f"owner {owner_id}"
        self.held: list[Request] = []
        self.held_map: dict[tuple[tuple, str], Request] = {}  # (tag, mode) -> request, no span
        self.waiting: Request | None = None
        self.fast_moved = False  # a fast-path lock of ours was moved into the lock table

    def __repr__(self) -> str:
        return f"<LockOwner {self.label}>"


class Request:
    __slots__ = ("cond", "count", "granted", "mode", "owner", "since", "span", "tag")

    def __init__(self, owner: LockOwner, tag: tuple, mode: str, span: Any):
        self.owner = owner
        self.tag = tag
        self.mode = mode
        self.span = span
        self.granted = False
        self.count = 1
        self.cond: threading.Condition | None = None
        self.since = 0.0


class LockState:
    __slots__ = ("granted", "queue")

    def __init__(self) -> None:
        self.granted: list[Request] = []
        self.queue: deque[Request] = deque()


@dataclass
class LockStats:
    """Counters of the lock manager (``pg_stat_database``'s deadlocks, plus wait figures)."""

    acquired: int = 0
    waits: int = 0
    wait_seconds: float = 0.0
    deadlocks: int = 0
    timeouts: int = 0
    not_available: int = 0  # NOWAIT / SKIP LOCKED refusals

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LockInfo:
    """One row of the lock table, like a row of PostgreSQL's ``pg_locks``."""

    tag: tuple
    mode: str
    owner: str
    granted: bool
    waiting_seconds: float = 0.0
    fastpath: bool = False  # held on the fast path, outside the lock table (pg_locks.fastpath)


class LockManager:
    def __init__(self, mutex: threading.Lock | threading.RLock, deadlock_timeout: float = 0.2):
        self.mu = mutex
        self.deadlock_timeout = deadlock_timeout
        self.locks: dict[tuple, LockState] = {}
        self.stats = LockStats()
        # Requests waiting right now: group commit does not wait for committers blocked on a
        # lock (PostgreSQL's commit_siblings leaves out backends waiting for a lock).
        self.blocked = 0
        # Fast path: table tag -> owners holding ACCESS SHARE outside the lock table (sets are
        # never removed, so a reader never adds itself to a set nobody looks at), and table
        # tag -> ACCESS EXCLUSIVE requests granted or waiting.
        self.fast: dict[tuple, set[LockOwner]] = {}
        self.strong: dict[tuple, int] = {}

    # -- fast path (no mutex) -----------------------------------------------------------------
    def try_fast_share(self, owner: LockOwner, tag: tuple) -> bool:
        """Take ACCESS SHARE on table ``tag`` without the mutex; False when an ACCESS EXCLUSIVE
        request exists: then take it with :meth:`acquire` (it may already be held, moved)."""
        s = self.fast.get(tag)
        if s is None:
            s = self.fast.setdefault(tag, set())
        s.add(owner)
        if self.strong.get(tag):  # read after adding ourselves: see the module docstring
            s.discard(owner)
            return False
        return True

    def release_fast(self, owner: LockOwner, tags: list[tuple]) -> bool:
        """Drop ``owner``'s fast-path locks (no mutex). True when one of them was moved into
        the lock table meanwhile: the caller must then release through :meth:`release_all`
        under the mutex. (The mover sets the flag before it looks at the set, so an owner
        that left the set after the look always sees the flag.)"""
        fast = self.fast
        for tag in tags:
            s = fast.get(tag)
            if s is not None:
                s.discard(owner)
        return owner.fast_moved

    def _move_fast(self, tag: tuple, state: LockState) -> None:
        """An ACCESS EXCLUSIVE request on ``tag``: fast-path holders become granted locks."""
        s = self.fast.get(tag)
        if not s:
            return
        for owner in tuple(s):
            owner.fast_moved = True
            if owner in s:
                if owner.held_map.get((tag, "access share")) is None:
                    self._grant(state, Request(owner, tag, "access share", None))
                s.discard(owner)

    def _weaken(self, req: Request) -> None:
        """An ACCESS EXCLUSIVE request ends (released, or gave up waiting)."""
        if req.mode == "access exclusive" and req.tag[0] == "table":
            n = self.strong.get(req.tag, 0) - 1
            if n > 0:
                self.strong[req.tag] = n
            else:
                self.strong.pop(req.tag, None)

    # -- conflicts ----------------------------------------------------------------------------
    def _conflicts(self, req: Request, other: Request) -> bool:
        if other.owner is req.owner:
            return False
        kind = req.tag[0]
        if other.mode not in CONFLICTS[kind][req.mode]:
            return False
        return _overlap(kind, req.mode, req.span, other.mode, other.span)

    def _grantable(self, state: LockState, req: Request, upto: Request | None) -> bool:
        for g in state.granted:
            if self._conflicts(req, g):
                return False
        if any(g.owner is req.owner for g in state.granted):
            return True  # a holder does not queue behind waiters (they may wait for it)
        for w in state.queue:
            if w is upto:
                break
            if self._conflicts(req, w):
                return False
        return True

    # -- acquire / release --------------------------------------------------------------------
    def acquire(self, owner: LockOwner, tag: tuple, mode: str, span: Any = None, *,
                nowait: bool = False, timeout: float | None = None) -> Request:
        """Grant ``mode`` on ``tag`` to ``owner``, waiting in FIFO order if needed.

        Raises :class:`LockNotAvailable` (``nowait``), :class:`LockTimeout` (``timeout``
        seconds passed) or :class:`DeadlockDetected` (this owner closes a cycle)."""
        kind = tag[0]
        conf = CONFLICTS.get(kind)
        if conf is None or mode not in conf:
            raise InvalidParameter(f"lock mode {mode!r} does not exist for {kind} locks")
        if span is None:
            held = owner.held_map.get((tag, mode))
            if held is not None:
                held.count += 1
                return held
        req = Request(owner, tag, mode, span)
        state = self.locks.get(tag)
        if state is None:
            state = self.locks[tag] = LockState()
        if mode == "access exclusive" and kind == "table":
            self.strong[tag] = self.strong.get(tag, 0) + 1  # first; then look at the fast path
            self._move_fast(tag, state)
        if not self._grantable(state, req, None):
            if nowait:
                self.stats.not_available += 1
                self._weaken(req)
                self._forget_if_empty(tag, state)
                raise LockNotAvailable(f"could not obtain lock on {_describe(tag)}")
            self._wait(state, req, timeout)
        self._grant(state, req)
        return req

    def would_block(self, owner: LockOwner, tag: tuple, mode: str) -> bool:
        state = self.locks.get(tag)
        return state is not None and not self._grantable(
            state, Request(owner, tag, mode, None), None)

    def _grant(self, state: LockState, req: Request) -> None:
        req.granted = True
        state.granted.append(req)
        owner = req.owner
        owner.held.append(req)
        if req.span is None:
            owner.held_map[(req.tag, req.mode)] = req
        self.stats.acquired += 1

    def _wait(self, state: LockState, req: Request, timeout: float | None) -> None:
        owner = req.owner
        req.cond = threading.Condition(self.mu)
        req.since = time.monotonic()
        state.queue.append(req)
        owner.waiting = req
        self.stats.waits += 1
        self.blocked += 1
        deadline = None if timeout is None else req.since + timeout
        try:
            next_check = 0.0  # check at once, then every deadlock_timeout
            while True:
                now = time.monotonic()
                if now >= req.since + next_check:
                    if self._in_cycle(owner):
                        self.stats.deadlocks += 1
                        raise DeadlockDetected(
                            f"deadlock detected: {owner.label} waits for {req.mode} lock on "
                            f"{_describe(req.tag)}; it was chosen as the victim")
                    next_check += self.deadlock_timeout
                if self._grantable(state, req, req):
                    state.queue.remove(req)
                    return
                if deadline is not None and now >= deadline:
                    self.stats.timeouts += 1
                    raise LockTimeout(f"canceling statement due to lock timeout "
                                      f"({req.mode} lock on {_describe(req.tag)})")
                wake = req.since + next_check
                if deadline is not None:
                    wake = min(wake, deadline)
                req.cond.wait(max(0.0, wake - now))
        except BaseException:
            if req in state.queue:
                state.queue.remove(req)
                self._wake(state)  # our leaving may unblock those queued behind us
            self._weaken(req)
            self._forget_if_empty(req.tag, state)
            raise
        finally:
            owner.waiting = None
            self.blocked -= 1
            self.stats.wait_seconds += time.monotonic() - req.since

    def _wake(self, state: LockState) -> None:
        for w in state.queue:
            if w.cond is not None and self._grantable(state, w, w):
                w.cond.notify()

    def release(self, req: Request) -> None:
        """Release one lock (advisory unlock); a re-entrant lock needs as many releases."""
        req.count -= 1
        if req.count > 0:
            return
        owner = req.owner
        owner.held.remove(req)
        if req.span is None:
            owner.held_map.pop((req.tag, req.mode), None)
        self._weaken(req)
        state = self.locks.get(req.tag)
        if state is not None:
            state.granted.remove(req)
            self._wake(state)
            self._forget_if_empty(req.tag, state)

    def release_all(self, owner: LockOwner, keep: Callable[[Request], bool] | None = None) -> None:
        """Release every lock of ``owner`` (at commit/rollback), except those ``keep`` keeps."""
        kept: list[Request] = []
        locks = self.locks
        for req in owner.held:
            if keep is not None and keep(req):
                kept.append(req)
                continue
            if req.mode == "access exclusive":
                self._weaken(req)
            state = locks.get(req.tag)
            if state is None:
                continue
            state.granted.remove(req)
            if state.queue:
                self._wake(state)
            elif not state.granted:
                del locks[req.tag]
        owner.held = kept
        owner.held_map = {(r.tag, r.mode): r for r in kept if r.span is None}

    def _forget_if_empty(self, tag: tuple, state: LockState) -> None:
        if not state.granted and not state.queue and self.locks.get(tag) is state:
            del self.locks[tag]

    # -- deadlock detection -------------------------------------------------------------------
    def _blockers(self, owner: LockOwner) -> list[LockOwner]:
        req = owner.waiting
        if req is None:
            return []
        state = self.locks.get(req.tag)
        if state is None:
            return []
        out = [g.owner for g in state.granted if self._conflicts(req, g)]
        if not any(g.owner is owner for g in state.granted):
            for w in state.queue:
                if w is req:
                    break
                if self._conflicts(req, w):
                    out.append(w.owner)
        return out

    def _in_cycle(self, start: LockOwner) -> bool:
        seen: set[int] = set()
        stack = self._blockers(start)
        while stack:
            o = stack.pop()
            if o is start:
                return True
            if id(o) in seen:
                continue
            seen.add(id(o))
            stack.extend(self._blockers(o))
        return False

    # -- inspection ---------------------------------------------------------------------------
    def snapshot(self) -> list[LockInfo]:
        now = time.monotonic()
        out: list[LockInfo] = []
        for tag, state in self.locks.items():
            out.extend(LockInfo(tag, g.mode, g.owner.label, True) for g in state.granted)
            out.extend(LockInfo(tag, w.mode, w.owner.label, False, round(now - w.since, 3))
                       for w in state.queue)
        for tag, owners in list(self.fast.items()):  # copies: readers change them freely
            out.extend(LockInfo(tag, "access share", o.label, True, fastpath=True)
                       for o in tuple(owners))
        return out


def _describe(tag: tuple) -> str:
    kind = tag[0]
    if kind == "table":
        return f'relation "{tag[1]}"'
    if kind == "row":
        return f'a row of "{tag[1]}"'
    if kind == "advisory":
        return f"advisory lock {tag[1]!r}"
    if kind == "pred":
        return f'a predicate on "{tag[1]}"'
    if kind == "unique":
        return f'a unique value of "{tag[1]}".{tag[2]}'
    return repr(tag)
