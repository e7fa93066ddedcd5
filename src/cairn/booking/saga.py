"""Checkout and cancellation as sagas with a durable log in PostgreSQL (Garcia-Molina 1987;
DDIA ch. 12 "multi-partition request processing" without distributed transactions).

Checkout, forward: ``begun`` (order created from an active hold) -> authorize payment ->
``authorized`` -> confirm the seats (**the point of no return**: the seats become ``sold``) ->
``confirmed`` -> capture -> ``captured`` -> issue tickets -> ``done`` (order ``paid``).

A failure runs the compensations in reverse from the last step reached: refund the capture,
un-sell the seats, void the authorization, release the hold; the order ends ``failed``. Before
the pivot any failure compensates. After it, an unanswered capture is retried (forward
recovery); only a *definitive* refusal (or a failed ticket issue) compensates backwards.

Durability: every transition is one PostgreSQL transaction that updates ``sagas`` (state, step,
lease) and appends to ``saga_log``, together with the step's own writes (seats sold, tickets
issued), so the log and the world never disagree. Calls to the provider happen *between*
transactions and carry an idempotency key derived from the saga and step
(``<saga>:authorize``), so re-running a step after a crash cannot charge twice.

Crash recovery: a saga is owned by a process through a lease (``owner``, ``lease_until``)
renewed at every transition. The recovery worker claims unfinished sagas whose lease has
lapsed (``FOR UPDATE SKIP LOCKED``: several workers never take the same saga) and drives them
on from the step the log says, forwards or backwards. A step whose provider call did not get an
answer is re-sent with the same key; for an authorization whose outcome is unknown the
compensation re-sends it (the provider replays the first answer) to learn whether there is
something to void.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import psycopg.errors

from cairn.booking.background import CounterSet, PeriodicThread
from cairn.booking.changes import publish
from cairn.booking.db import Database
from cairn.booking.errors import HoldExpired, InvalidState, NotFound
from cairn.booking.holds import free_held_seats
from cairn.booking.model import Order
from cairn.booking.payments import PaymentResult, PaymentsClient

Hook = Callable[[str, str], None]  # (point, saga_id), called after a transition commits


@dataclass(frozen=True)
class SagaRow:
    id: str
    order_id: str
    kind: str  # checkout | cancel
    state: str  # running | compensating | done | compensated
    step: str
    error: str | None
    user_id: int
    event_id: int
    hold_id: str
    amount_cents: int
    auth_id: str | None


class LeaseLost(Exception):
    """Another process took the saga over (our lease lapsed); stop driving it."""


@dataclass
class SagaStats(CounterSet):
    started: int = 0
    done: int = 0
    compensated: int = 0
    resumed: int = 0
    blocked: int = 0


class _SeatsLost(Exception):
    pass


class Sagas:
    """Runs checkout and cancel sagas; one instance per service process."""

    def __init__(
        self,
        db: Database,
        payments: PaymentsClient,
        *,
        lease_s: float = 30.0,
        retry_after_s: float = 1.0,
        card: str = "tok_visa",
        hook: Hook | None = None,
        recover_interval_s: float = 0.5,
    ) -> None:
        self.db = db
        self.payments = payments
        self.lease_s = lease_s
        self.retry_after_s = retry_after_s
        self.card = card
        self.hook = hook
        self.recover_interval_s = recover_interval_s
        self.owner = str(uuid.uuid4())
        self.stats = SagaStats()
        self._worker = PeriodicThread("saga-recovery", self.recover_once, recover_interval_s)
        self._active: set[str] = set()
        self._active_lock = threading.Lock()

    # -- starting -------------------------------------------------------------------------

    def begin_checkout(
        self,
        user_id: int,
        hold_id: str,
        in_txn: Callable[[psycopg.Connection, str], None] | None = None,
    ) -> str:
        """Create the order and its saga from the user's active hold; return the saga id.

        ``in_txn(conn, order_id)`` runs inside the same transaction (the API records the
        idempotency key's recovery point there, so a retried request finds this order).
        """
        with self.db.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT event_id, status, expires_at <= CURRENT_TIMESTAMP FROM holds "
                "WHERE id = %s AND user_id = %s FOR UPDATE",
                (hold_id, user_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"hold {hold_id} not found")
            event_id, status, expired = int(row[0]), str(row[1]), bool(row[2])
            if (
                status == "checked_out"
                or conn.execute("SELECT 1 FROM orders WHERE hold_id = %s", (hold_id,)).fetchone()
            ):
                raise InvalidState(f"hold {hold_id} is already being checked out")
            if status == "expired" or (status == "active" and expired):
                raise HoldExpired(f"hold {hold_id} has expired")
            if status != "active":
                raise InvalidState(f"hold {hold_id} is {status}")
            amount = conn.execute(
                "SELECT COALESCE(SUM(p.price_cents), 0) FROM hold_seats hs "
                "JOIN seats s ON s.id = hs.seat_id "
                "JOIN sections sec ON sec.venue_id = s.venue_id AND sec.name = s.section "
                "JOIN event_prices p ON p.event_id = hs.event_id AND p.tier = sec.tier "
                "WHERE hs.hold_id = %s",
                (hold_id,),
            ).fetchone()
            assert amount is not None
            order_id = str(uuid.uuid4())
            saga_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO orders (id, user_id, event_id, hold_id, status, amount_cents) "
                "VALUES (%s, %s, %s, %s, 'pending', %s)",
                (order_id, user_id, event_id, hold_id, int(amount[0])),
            )
            self._insert_saga(conn, saga_id, order_id, "checkout")
            if in_txn is not None:
                in_txn(conn, order_id)
        self.stats.bump("started")
        self._fire("running:begun", saga_id)
        return saga_id

    def begin_cancel(self, user_id: int, order_id: str) -> str:
        """Start refunding a paid order; the saga frees the seats once the refund is done."""
        with self.db.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT status FROM orders WHERE id = %s AND user_id = %s FOR UPDATE",
                (order_id, user_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"order {order_id} not found")
            if row[0] == "cancelling":
                existing = self.saga_for(order_id, "cancel", conn)
                assert existing is not None
                return existing
            if row[0] != "paid":
                raise InvalidState(
                    f"order {order_id} is {row[0]}; only paid orders can be cancelled"
                )
            self._order_status(conn, order_id, "cancelling")
            saga_id = str(uuid.uuid4())
            self._insert_saga(conn, saga_id, order_id, "cancel")
        self.stats.bump("started")
        return saga_id

    def _insert_saga(
        self, conn: psycopg.Connection, saga_id: str, order_id: str, kind: str
    ) -> None:
        conn.execute(
            "INSERT INTO sagas (id, order_id, kind, state, step, owner, lease_until) "
            "VALUES (%s, %s, %s, 'running', 'begun', %s, "
            "CURRENT_TIMESTAMP + %s * INTERVAL '1 second')",
            (saga_id, order_id, kind, self.owner, self.lease_s),
        )
        conn.execute(
            "INSERT INTO saga_log (saga_id, step, action, outcome, detail) "
            "VALUES (%s, 'begun', 'do', 'ok', %s)",
            (saga_id, f"{kind} started"),
        )

    # -- reading --------------------------------------------------------------------------

    def load(self, saga_id: str, conn: psycopg.Connection | None = None) -> SagaRow:
        q = (
            "SELECT g.id, g.order_id, g.kind, g.state, g.step, g.error, o.user_id, o.event_id, "
            "o.hold_id, o.amount_cents, o.auth_id FROM sagas g JOIN orders o ON o.id = g.order_id "
            "WHERE g.id = %s"
        )
        if conn is None:
            with self.db.pool.connection() as c:
                r = c.execute(q, (saga_id,)).fetchone()
        else:
            r = conn.execute(q, (saga_id,)).fetchone()
        if r is None:
            raise NotFound(f"saga {saga_id} not found")
        return SagaRow(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            r[5],
            int(r[6]),
            int(r[7]),
            str(r[8]),
            int(r[9]),
            r[10],
        )

    def saga_for(
        self, order_id: str, kind: str = "checkout", conn: psycopg.Connection | None = None
    ) -> str | None:
        q = "SELECT id FROM sagas WHERE order_id = %s AND kind = %s"
        if conn is None:
            with self.db.pool.connection() as c:
                r = c.execute(q, (order_id, kind)).fetchone()
        else:
            r = conn.execute(q, (order_id, kind)).fetchone()
        return str(r[0]) if r else None

    def log(self, saga_id: str) -> list[tuple[str, str, str, str]]:
        """The saga's durable log: (step, action, outcome, detail) in order."""
        with self.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT step, action, outcome, detail FROM saga_log WHERE saga_id = %s ORDER BY id",
                (saga_id,),
            ).fetchall()
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    # -- driving --------------------------------------------------------------------------

    def drive(self, saga_id: str) -> SagaRow:
        """Run the saga until it finishes or waits on the provider; return its latest row.

        The caller must own the saga (it began it, or claimed it in :meth:`recover_once`).
        """
        with self._active_lock:
            if saga_id in self._active:  # another thread of this process is driving it
                return self.load(saga_id)
            self._active.add(saga_id)
        try:
            while True:
                s = self.load(saga_id)
                if s.state in ("done", "compensated"):
                    return s
                if s.kind == "cancel":
                    progressed = self._cancel_step(s)
                elif s.state == "running":
                    progressed = self._forward(s)
                else:
                    progressed = self._backward(s)
                if not progressed:
                    self.stats.bump("blocked")
                    return self.load(saga_id)
        except LeaseLost:
            return self.load(saga_id)
        finally:
            with self._active_lock:
                self._active.discard(saga_id)

    def claim(self, saga_id: str) -> bool:
        """Take over one unfinished saga whose lease lapsed (a retried request uses this)."""
        with self.db.pool.connection() as conn:
            cur = conn.execute(
                "UPDATE sagas SET owner = %s, lease_until = CURRENT_TIMESTAMP + %s * INTERVAL "
                "'1 second', attempts = attempts + 1 WHERE id = %s AND state IN "
                "('running', 'compensating') AND (lease_until < CURRENT_TIMESTAMP OR owner = %s)",
                (self.owner, self.lease_s, saga_id, self.owner),
            )
            return cur.rowcount == 1

    def recover_once(self, limit: int = 20) -> int:
        """Claim unfinished sagas with a lapsed lease and drive them; return how many."""
        with self.db.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT id FROM sagas WHERE state IN ('running', 'compensating') "
                "AND lease_until < CURRENT_TIMESTAMP ORDER BY updated_at LIMIT %s "
                "FOR UPDATE SKIP LOCKED",
                (limit,),
            ).fetchall()
            ids = [str(r[0]) for r in rows]
            for saga_id in ids:
                conn.execute(
                    "UPDATE sagas SET owner = %s, lease_until = CURRENT_TIMESTAMP + %s * "
                    "INTERVAL '1 second', attempts = attempts + 1 WHERE id = %s",
                    (self.owner, self.lease_s, saga_id),
                )
        for saga_id in ids:
            self.stats.bump("resumed")
            self.drive(saga_id)
        return len(ids)

    def start(self) -> None:
        """Run :meth:`recover_once` in the background every ``recover_interval_s``."""
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    # -- transitions ----------------------------------------------------------------------

    def _fire(self, point: str, saga_id: str) -> None:
        if self.hook is not None:
            self.hook(point, saga_id)

    def _move(
        self,
        conn: psycopg.Connection,
        s: SagaRow,
        *,
        step: str,
        action: str,
        outcome: str,
        detail: str = "",
        state: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a transition in the caller's transaction; fails if we lost the lease."""
        # Compare-and-set on (owner, state, step): a second driver of the same saga (another
        # process that took over a lapsed lease) cannot apply the same transition twice.
        cur = conn.execute(
            "UPDATE sagas SET state = %s, step = %s, error = COALESCE(%s, error), "
            "updated_at = CURRENT_TIMESTAMP, lease_until = CURRENT_TIMESTAMP + %s * INTERVAL "
            "'1 second' WHERE id = %s AND owner = %s AND state = %s AND step = %s",
            (state or s.state, step, error, self.lease_s, s.id, self.owner, s.state, s.step),
        )
        if cur.rowcount != 1:
            raise LeaseLost(s.id)
        conn.execute(
            "INSERT INTO saga_log (saga_id, step, action, outcome, detail) "
            "VALUES (%s, %s, %s, %s, %s)",
            (s.id, step, action, outcome, detail[:500]),
        )

    def _commit_move(self, s: SagaRow, **kw: str | None) -> None:
        with self.db.pool.connection() as conn, conn.transaction():
            self._move(conn, s, **kw)  # type: ignore[arg-type]
        self._fire(f"{kw.get('state') or s.state}:{kw['step']}", s.id)

    def _fail(self, s: SagaRow, step: str, error: str, detail: str) -> None:
        """A forward step failed: turn to compensating from ``step`` (the last one reached)."""
        self._commit_move(
            s,
            step=step,
            action="do",
            outcome="failed",
            state="compensating",
            error=error,
            detail=detail,
        )

    def _authorized(self, s: SagaRow, auth_id: str | None, action: str, detail: str) -> None:
        """Remember the provider's authorization on the order and move to ``authorized``."""
        with self.db.pool.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE orders SET auth_id = %s, updated_at = CURRENT_TIMESTAMP WHERE id = %s",
                (auth_id, s.order_id),
            )
            self._move(conn, s, step="authorized", action=action, outcome="ok", detail=detail)

    def _order_status(
        self, conn: psycopg.Connection, order_id: str, status: str, failure: str | None = None
    ) -> None:
        conn.execute(
            "UPDATE orders SET status = %s, failure = COALESCE(%s, failure), "
            "updated_at = CURRENT_TIMESTAMP WHERE id = %s",
            (status, failure, order_id),
        )

    def _done(self, conn: psycopg.Connection, s: SagaRow, order_status: str, detail: str) -> None:
        """The last forward transition: the order takes its final status, the saga is done."""
        self._order_status(conn, s.order_id, order_status)
        self._move(conn, s, step="done", action="do", outcome="ok", state="done", detail=detail)

    def _unsell(self, conn: psycopg.Connection, s: SagaRow, kind: str) -> int:
        """Give the order's sold seats back (free), announcing them as ``kind``."""
        freed = conn.execute(
            "UPDATE event_seats SET status = 'free', order_id = NULL, "
            "version = version + 1 WHERE event_id = %s AND order_id = %s "
            "AND status = 'sold' RETURNING seat_id",
            (s.event_id, s.order_id),
        ).fetchall()
        if freed:
            publish(
                conn,
                self.db.schema,
                s.event_id,
                [int(r[0]) for r in freed],
                kind,
                order_id=s.order_id,
            )
        return len(freed)

    def _wait(self, s: SagaRow, step: str, action: str, detail: str) -> bool:
        """The provider gave no answer: log it and let the recovery worker retry soon."""
        with self.db.pool.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE sagas SET lease_until = CURRENT_TIMESTAMP + %s * INTERVAL '1 second', "
                "updated_at = CURRENT_TIMESTAMP WHERE id = %s AND owner = %s",
                (self.retry_after_s, s.id, self.owner),
            )
            conn.execute(
                "INSERT INTO saga_log (saga_id, step, action, outcome, detail) "
                "VALUES (%s, %s, %s, 'retry', %s)",
                (s.id, step, action, detail[:500]),
            )
        return False

    # -- checkout, forward ----------------------------------------------------------------

    def _forward(self, s: SagaRow) -> bool:
        if s.step == "begun":
            r = self.payments.authorize(f"{s.id}:authorize", s.amount_cents, s.order_id, self.card)
            if r.outcome == "ok":
                self._authorized(s, r.auth_id, "do", str(r.auth_id))
                self._fire("running:authorized", s.id)
            elif r.outcome == "refused":
                # Definitively declined: there is no authorization to void.
                self._fail(s, "no_auth", f"payment_declined: {r.detail}", r.detail)
            else:
                # Unknown: the authorization may exist. Compensate from "begun", which
                # re-sends the authorization with the same key to find out.
                self._fail(s, "begun", f"payment_unavailable: {r.detail}", r.detail)
            return True
        if s.step == "authorized":
            return self._confirm(s)
        if s.step == "confirmed":
            assert s.auth_id is not None
            r = self.payments.capture(s.auth_id, f"{s.id}:capture")
            if r.outcome == "ok":
                self._commit_move(s, step="captured", action="do", outcome="ok")
            elif r.outcome == "refused":
                self._fail(s, "confirmed", f"capture_refused: {r.detail}", r.detail)
            else:
                # Past the point of no return: keep trying forward, never give the seats up
                # because the provider is slow.
                return self._wait(s, "captured", "do", r.detail)
            return True
        if s.step == "captured":
            return self._issue_tickets(s)
        raise AssertionError(f"saga {s.id}: unexpected forward step {s.step}")

    def _confirm(self, s: SagaRow) -> bool:
        """The pivot: the hold's seats become sold, if the hold is still ours and in time."""
        try:
            with self.db.pool.connection() as conn, conn.transaction():
                expected = conn.execute(
                    "SELECT COUNT(*) FROM hold_seats WHERE hold_id = %s", (s.hold_id,)
                ).fetchone()
                sold = conn.execute(
                    "UPDATE event_seats SET status = 'sold', hold_id = NULL, "
                    "hold_expires_at = NULL, order_id = %s, version = version + 1 "
                    "WHERE event_id = %s AND hold_id = %s AND status = 'held' "
                    "AND hold_expires_at > CURRENT_TIMESTAMP RETURNING seat_id",
                    (s.order_id, s.event_id, s.hold_id),
                ).fetchall()
                moved = conn.execute(
                    "UPDATE holds SET status = 'checked_out' WHERE id = %s AND status = 'active'",
                    (s.hold_id,),
                ).rowcount
                if expected is None or len(sold) != int(expected[0]) or moved != 1:
                    raise _SeatsLost  # rolls the partial update back
                publish(
                    conn,
                    self.db.schema,
                    s.event_id,
                    [int(r[0]) for r in sold],
                    "sold",
                    hold_id=s.hold_id,
                    order_id=s.order_id,
                )
                self._move(conn, s, step="confirmed", action="do", outcome="ok")
        except _SeatsLost:
            self._fail(
                s,
                "authorized",
                "hold_lost: the hold expired or was released before the seats were confirmed",
                "hold lost",
            )
            return True
        self._fire("running:confirmed", s.id)
        return True

    def _issue_tickets(self, s: SagaRow) -> bool:
        try:
            with self.db.pool.connection() as conn, conn.transaction():
                seats = conn.execute(
                    "SELECT es.seat_id, p.price_cents FROM event_seats es "
                    "JOIN seats st ON st.id = es.seat_id "
                    "JOIN sections sec ON sec.venue_id = st.venue_id AND sec.name = st.section "
                    "JOIN event_prices p ON p.event_id = es.event_id AND p.tier = sec.tier "
                    "WHERE es.event_id = %s AND es.order_id = %s AND es.status = 'sold' "
                    "ORDER BY es.seat_id",
                    (s.event_id, s.order_id),
                ).fetchall()
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO tickets (id, order_id, event_id, seat_id, price_cents, status)"
                        " VALUES (%s, %s, %s, %s, %s, 'valid')",
                        [
                            (str(uuid.uuid4()), s.order_id, s.event_id, int(a), int(p))
                            for a, p in seats
                        ],
                    )
                self._done(conn, s, "paid", f"{len(seats)} tickets")
        except psycopg.errors.UniqueViolation as exc:
            # tickets_one_valid refused: a seat already has a valid ticket. Cannot happen if the
            # pivot did its job; if it does, give the money back rather than sell twice.
            self._fail(
                s,
                "captured",
                f"tickets_failed: {exc.diag.message_primary}",
                "duplicate ticket refused",
            )
            return True
        self.stats.bump("done")
        self._fire("done:done", s.id)
        return True

    # -- checkout, backward ---------------------------------------------------------------

    def _backward(self, s: SagaRow) -> bool:
        if s.step == "captured":
            assert s.auth_id is not None
            r = self.payments.refund(s.auth_id, f"{s.id}:refund")
            return self._undone(s, r, "refund", "confirmed", refusal_is_done=False)
        if s.step == "confirmed":
            with self.db.pool.connection() as conn, conn.transaction():
                unsold = self._unsell(conn, s, "unsold")
                # "refunded" (captured) or "authorized": the next undo is a void, which a
                # refunded authorization answers with a refusal we treat as done.
                self._move(
                    conn,
                    s,
                    step="authorized",
                    action="undo",
                    outcome="ok",
                    detail=f"{unsold} seats un-sold",
                )
            self._fire("compensating:authorized", s.id)
            return True
        if s.step == "authorized":
            assert s.auth_id is not None
            # A refunded authorization refuses the void: there is nothing left to void.
            r = self.payments.void(s.auth_id, f"{s.id}:void")
            return self._undone(s, r, "void", "no_auth", refusal_is_done=True)
        if s.step == "begun":
            # Did the lost authorization happen? Re-send it with the same key: the provider
            # replays the first answer (or performs it now, and we void it next).
            r = self.payments.authorize(f"{s.id}:authorize", s.amount_cents, s.order_id, self.card)
            if r.outcome == "unknown":
                return self._wait(s, "begun", "undo", r.detail)
            if r.outcome == "ok":
                self._authorized(s, r.auth_id, "undo", f"authorization {r.auth_id} exists: void it")
            else:
                self._commit_move(
                    s, step="no_auth", action="undo", outcome="ok", detail="no authorization exists"
                )
            return True
        if s.step == "no_auth":
            with self.db.pool.connection() as conn, conn.transaction():
                conn.execute(
                    "UPDATE holds SET status = 'released' WHERE id = %s "
                    "AND status IN ('active', 'checked_out')",
                    (s.hold_id,),
                )
                free_held_seats(conn, self.db.schema, s.hold_id)
                self._order_status(conn, s.order_id, "failed", s.error)
                self._move(
                    conn,
                    s,
                    step="released",
                    action="undo",
                    outcome="ok",
                    state="compensated",
                    detail="hold released, order failed",
                )
            self.stats.bump("compensated")
            self._fire("compensated:released", s.id)
            return True
        raise AssertionError(f"saga {s.id}: unexpected backward step {s.step}")

    def _undone(
        self, s: SagaRow, r: PaymentResult, what: str, next_step: str, *, refusal_is_done: bool
    ) -> bool:
        """Record a compensating provider call: wait if it got no answer, else step back."""
        if r.outcome == "unknown":
            return self._wait(s, s.step, "undo", r.detail)
        self._commit_move(
            s,
            step=next_step,
            action="undo",
            outcome="ok" if r.outcome == "ok" or refusal_is_done else "failed",
            detail=f"{what} {r.outcome} {r.detail}",
        )
        return True

    # -- cancel (refund a paid order) -----------------------------------------------------

    def _cancel_step(self, s: SagaRow) -> bool:
        assert s.auth_id is not None
        r = self.payments.refund(s.auth_id, f"{s.id}:refund")
        if r.outcome == "unknown":
            return self._wait(s, "begun", "do", r.detail)
        with self.db.pool.connection() as conn, conn.transaction():
            if r.outcome == "refused":
                self._order_status(conn, s.order_id, "paid")
                self._move(
                    conn,
                    s,
                    step="aborted",
                    action="do",
                    outcome="failed",
                    state="compensated",
                    error=f"refund_refused: {r.detail}",
                )
            else:
                conn.execute(
                    "UPDATE tickets SET status = 'void' WHERE order_id = %s AND status = 'valid'",
                    (s.order_id,),
                )
                self._unsell(conn, s, "refunded")
                self._done(conn, s, "refunded", "refunded, tickets void, seats free")
        self._fire(f"cancel:{'done' if r.outcome == 'ok' else 'aborted'}", s.id)
        return True


def get_order(db: Database, user_id: int | None, order_id: str) -> Order:
    """An order with its seats and valid tickets; ``user_id`` None reads any (admin)."""
    with db.pool.connection() as conn:
        row = conn.execute(
            "SELECT user_id, event_id, hold_id, status, amount_cents, failure FROM orders "
            "WHERE id = %s",
            (order_id,),
        ).fetchone()
        if row is None or (user_id is not None and int(row[0]) != user_id):
            raise NotFound(f"order {order_id} not found")
        seats = conn.execute(
            "SELECT seat_id FROM hold_seats WHERE hold_id = %s ORDER BY seat_id", (row[2],)
        ).fetchall()
        tickets = conn.execute(
            "SELECT id FROM tickets WHERE order_id = %s AND status = 'valid' ORDER BY seat_id",
            (order_id,),
        ).fetchall()
    return Order(
        order_id,
        int(row[0]),
        int(row[1]),
        str(row[2]),
        str(row[3]),
        int(row[4]),
        tuple(int(s[0]) for s in seats),
        tuple(str(t[0]) for t in tickets),
        row[5],
    )


def list_orders(db: Database, user_id: int, limit: int = 100) -> list[Order]:
    with db.pool.connection() as conn:
        ids = conn.execute(
            "SELECT id FROM orders WHERE user_id = %s ORDER BY created_at DESC, id LIMIT %s",
            (user_id, limit),
        ).fetchall()
    return [get_order(db, user_id, str(r[0])) for r in ids]
