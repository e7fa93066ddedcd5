"""The booking service layer: one object that the HTTP API and the A2UI agent both call.

:class:`BookingService` owns the connection pool, the configured hold strategy, the
idempotency store, the checkout sagas and the background workers (hold expiry, saga recovery).
Its methods take a :class:`~cairn.booking.model.User` (the caller) and enforce ownership: a user
never sees or changes another user's holds or orders (they read as "not found", so their
existence is not revealed either). Every method raises a typed
:class:`~cairn.booking.errors.BookingError` on bad input, before or inside a transaction that
is then rolled back, so nothing is half-written.

Idempotency: :meth:`BookingService.idempotent` wraps any mutating operation in an
``Idempotency-Key`` (see :mod:`cairn.booking.idempotency`); the API calls it for every POST and
DELETE, and an agent may as well.

Quick use::

    svc = BookingService(BookingConfig(dsn=..., schema="booking", payments_url=...))
    svc.start()
    user = svc.authenticate(token)
    events = svc.list_events()
    seats = svc.seat_map(events[0].id)
    hold = svc.hold(user, events[0].id, seat_ids=[seats[0].seat_id])
    order = svc.checkout(user, hold.id)
    svc.close()

Live changes of seat states come from :mod:`cairn.booking.changes` (``NOTIFY booking_seats``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import redis

from cairn.booking import catalog
from cairn.booking.db import DEFAULT_DSN, Database, check_reachable
from cairn.booking.errors import (
    BookingError,
    CheckoutFailed,
    Forbidden,
    HoldLost,
    IdempotencyConflict,
    LockNotAvailable,
    NotFound,
    PaymentDeclined,
    PaymentUnavailable,
    SerializationFailure,
    ValidationFailed,
)
from cairn.booking.expiry import ExpiryWorker
from cairn.booking.holds import (
    DEFAULT_TTL_MS,
    HoldStrategy,
    NoLockHolds,
    OptimisticHolds,
    PessimisticHolds,
    TxnHook,
    get_hold,
    release_hold,
)
from cairn.booking.idempotency import IdempotencyStore, KeyRecord
from cairn.booking.model import Event, Hold, Order, SeatState, SectionSpec, User, Venue
from cairn.booking.payments import PaymentsClient
from cairn.booking.redis_holds import RedisHolds
from cairn.booking.saga import Sagas, get_order, list_orders
from cairn.booking.schema import migrate

STRATEGIES = ("none", "pessimistic", "optimistic", "redis")
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class BookingConfig:
    """Service settings (flags, then ``CAIRN_BOOKING_*`` environment variables, then these)."""

    dsn: str = DEFAULT_DSN
    schema: str = "booking"
    redis_url: str = DEFAULT_REDIS
    redis_prefix: str = "cairn:booking"
    strategy: str = "pessimistic"
    payments_url: str | None = None  # None: the caller must start a simulator (serve does)
    hold_ttl_ms: int = DEFAULT_TTL_MS
    pool_min: int = 2
    pool_max: int = 20
    payment_timeout_s: float = 2.0
    payment_retries: int = 2
    saga_lease_s: float = 30.0
    saga_retry_after_s: float = 1.0
    card: str = "tok_visa"
    none_think_ms: float = 0.0  # the lab's check-to-write window for the `none` strategy
    workers: bool = True  # expiry + saga recovery threads
    expiry_interval_s: float = 1.0
    migrate: bool = True
    webhook_secret: str = "whsec_cairn"
    admin_token: str | None = None  # ensure an admin user with this token exists
    crash_after: str | None = None  # test hook: SIGKILL ourselves after this saga point
    idempotency_lock_s: float = 90.0  # a running key older than this was abandoned

    @staticmethod
    def from_env(**overrides: object) -> BookingConfig:
        env = os.environ
        base: dict[str, object] = {}
        for name, conv in (
            ("dsn", str),
            ("schema", str),
            ("redis_url", str),
            ("redis_prefix", str),
            ("strategy", str),
            ("payments_url", str),
            ("hold_ttl_ms", int),
            ("pool_max", int),
            ("payment_timeout_s", float),
            ("saga_lease_s", float),
            ("admin_token", str),
            ("crash_after", str),
            ("none_think_ms", float),
            ("idempotency_lock_s", float),
            ("saga_retry_after_s", float),
            ("payment_retries", int),
            ("workers", lambda v: v.lower() not in ("0", "false", "no")),
        ):
            value = env.get(f"CAIRN_BOOKING_{name.upper()}")
            if value is not None:
                base[name] = conv(value)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return BookingConfig(**base)  # type: ignore[arg-type]


def make_strategy(
    name: str, db: Database, config: BookingConfig, client: redis.Redis | None
) -> HoldStrategy:
    if name == "none":
        return NoLockHolds(db, think_ms=config.none_think_ms)
    if name == "pessimistic":
        return PessimisticHolds(db)
    if name == "optimistic":
        return OptimisticHolds(db, max_retries=8)
    if name == "redis":
        assert client is not None
        return RedisHolds(db, client, prefix=config.redis_prefix)
    raise ValidationFailed(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


def _crash_hook(point_wanted: str) -> Callable[[str, str], None]:
    def hook(point: str, saga_id: str) -> None:
        if point == point_wanted:
            # The crash test: die between two saga steps as hard as a power cut would.
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


@dataclass
class Counters:
    values: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.values[name] = self.values.get(name, 0) + n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.values)


class BookingService:
    def __init__(
        self, config: BookingConfig, *, saga_hook: Callable[[str, str], None] | None = None
    ) -> None:
        if config.strategy not in STRATEGIES:
            raise ValidationFailed(f"unknown strategy {config.strategy!r}; one of {STRATEGIES}")
        self.config = config
        if config.migrate:
            check_reachable(config.dsn)
            with psycopg.connect(config.dsn) as conn:
                migrate(conn, config.schema)
        self.db = Database(
            config.dsn, config.schema, min_size=config.pool_min, max_size=config.pool_max
        )
        self.redis: redis.Redis | None = None
        if config.strategy == "redis":
            self.redis = redis.Redis.from_url(
                config.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        self.strategy = make_strategy(config.strategy, self.db, config, self.redis)
        self.idempotency = IdempotencyStore(self.db, lock_timeout_s=config.idempotency_lock_s)
        if config.payments_url is None:
            raise ValidationFailed("payments_url is required (start `cairn booking payments-sim`)")
        self.payments = PaymentsClient(
            config.payments_url, timeout_s=config.payment_timeout_s, retries=config.payment_retries
        )
        hook = saga_hook
        if config.crash_after:
            hook = _crash_hook(config.crash_after)
        self.sagas = Sagas(
            self.db,
            self.payments,
            lease_s=config.saga_lease_s,
            retry_after_s=config.saga_retry_after_s,
            card=config.card,
            hook=hook,
        )
        # Idempotency keys older than their TTL (24 h) are deleted once a minute.
        self.expiry = ExpiryWorker(
            self.db, interval_s=config.expiry_interval_s, housekeeping=self.idempotency.reap
        )
        self.counters = Counters()
        if config.admin_token:
            self._ensure_admin(config.admin_token)
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background workers (hold expiry, saga recovery)."""
        if self.config.workers and not self._started:
            self.expiry.start()
            self.sagas.start()
            self._started = True

    def close(self) -> None:
        if self._started:
            self.sagas.stop()
            self.expiry.stop()
            self._started = False
        self.strategy.close()
        self.payments.close()
        self.db.close()

    def _ensure_admin(self, token: str) -> None:
        with self.db.pool.connection() as conn:
            found = conn.execute(
                "SELECT 1 FROM users WHERE token_hash = %s", (catalog.hash_token(token),)
            ).fetchone()
            if found is None:
                conn.execute(
                    "INSERT INTO users (name, token_hash, is_admin) VALUES ('admin', %s, TRUE)",
                    (catalog.hash_token(token),),
                )

    # -- users ----------------------------------------------------------------------------

    def authenticate(self, token: str) -> User:
        return catalog.authenticate(self.db, token)

    @staticmethod
    def _admin(user: User) -> None:
        if not user.is_admin:
            raise Forbidden("admin role required")

    def create_user(self, admin: User, name: str, *, is_admin: bool = False) -> tuple[User, str]:
        self._admin(admin)
        return catalog.create_user(self.db, name, is_admin=is_admin)

    # -- catalog --------------------------------------------------------------------------

    def create_venue(self, admin: User, name: str, sections: tuple[SectionSpec, ...]) -> Venue:
        self._admin(admin)
        return catalog.create_venue(self.db, name, sections)

    def create_event(
        self, admin: User, venue_id: int, name: str, starts_at: dt.datetime, prices: dict[str, int]
    ) -> Event:
        self._admin(admin)
        return catalog.create_event(self.db, venue_id, name, starts_at, prices)

    def list_events(self, limit: int = 100) -> list[Event]:
        with self.db.pool.connection() as conn:
            ids = conn.execute(
                "SELECT id FROM events ORDER BY starts_at, id LIMIT %s", (limit,)
            ).fetchall()
        return [catalog.get_event(self.db, int(r[0])) for r in ids]

    def get_event(self, event_id: int) -> Event:
        return catalog.get_event(self.db, event_id)

    def seat_map(self, event_id: int, section: str | None = None) -> list[SeatState]:
        return catalog.seat_map(self.db, event_id, section)

    # -- holds ----------------------------------------------------------------------------

    def hold(
        self,
        user: User,
        event_id: int,
        *,
        seat_ids: list[int] | None = None,
        section: str | None = None,
        count: int | None = None,
        ttl_ms: int | None = None,
        in_txn: TxnHook | None = None,
    ) -> Hold:
        """Hold the given seats (all or none), or any ``count`` free seats of ``section``.

        ``in_txn(conn, hold)`` runs inside the transaction that creates the hold (the API
        stores the idempotent response there)."""
        ttl = self.config.hold_ttl_ms if ttl_ms is None else ttl_ms
        if seat_ids is not None and (section is not None or count is not None):
            raise ValidationFailed("give either seat_ids, or section and count")
        if seat_ids is not None:
            return self.strategy.hold(user.id, event_id, seat_ids, ttl, in_txn)
        if section is None or count is None:
            raise ValidationFailed("give seat_ids, or section and count")
        return self.strategy.hold_any(user.id, event_id, section, count, ttl, in_txn)

    def get_hold(self, user: User, hold_id: str) -> Hold:
        return get_hold(self.db, user.id, hold_id)

    def release(self, user: User, hold_id: str, in_txn: TxnHook | None = None) -> Hold:
        return release_hold(self.db, user.id, hold_id, in_txn)

    # -- orders ---------------------------------------------------------------------------

    def checkout(self, user: User, hold_id: str, record: KeyRecord | None = None) -> Order:
        """Run the checkout saga for the user's hold; return the paid order.

        Raises :class:`PaymentDeclined` (402), :class:`HoldLost` (409),
        :class:`CheckoutFailed` (409) when the saga compensated, and
        :class:`PaymentUnavailable` (503) when it waits on the provider (the recovery worker
        finishes it; the order reads ``pending`` meanwhile). With ``record`` (an idempotency
        key this request owns) a retry resumes the order the first attempt created.
        """
        saga_id: str | None = None
        if record is not None and record.recovery_point.startswith("order:"):
            order_id = record.recovery_point.split(":", 1)[1]
            saga_id = self.sagas.saga_for(order_id)
            if saga_id is not None and not self.sagas.claim(saga_id):
                return self._checkout_result(self.sagas.load(saga_id).order_id)
        if saga_id is None:

            def remember(conn: psycopg.Connection, order_id: str) -> None:
                if record is not None:
                    self.idempotency.checkpoint(record, f"order:{order_id}", conn)

            saga_id = self.sagas.begin_checkout(user.id, hold_id, remember)
        row = self.sagas.drive(saga_id)
        return self._checkout_result(row.order_id)

    def _checkout_result(self, order_id: str) -> Order:
        order = get_order(self.db, None, order_id)
        if order.status in ("paid", "cancelling", "refunded"):
            return order
        if order.status == "failed":
            reason = order.failure or ""
            if reason.startswith("payment_declined"):
                raise PaymentDeclined(f"order {order_id}: {reason}")
            if reason.startswith("hold_lost"):
                raise HoldLost(f"order {order_id}: {reason}")
            raise CheckoutFailed(f"order {order_id}: {reason}")
        raise PaymentUnavailable(
            f"order {order_id} is pending: the payment provider did not answer; "
            "it will be completed or compensated in the background"
        )

    def get_order(self, user: User, order_id: str) -> Order:
        return get_order(self.db, None if user.is_admin else user.id, order_id)

    def list_orders(self, user: User) -> list[Order]:
        return list_orders(self.db, user.id)

    def cancel_order(self, user: User, order_id: str) -> Order:
        """Refund a paid order; its tickets become void and its seats free again."""
        saga_id = self.sagas.begin_cancel(user.id, order_id)
        if self.sagas.claim(saga_id):
            self.sagas.drive(saga_id)
        order = get_order(self.db, user.id, order_id)
        if order.status == "cancelling":
            raise PaymentUnavailable(f"order {order_id}: refund pending at the provider")
        if order.status != "refunded":
            raise CheckoutFailed(f"order {order_id}: refund refused")
        return order

    # -- idempotency ----------------------------------------------------------------------

    TRANSIENT = (IdempotencyConflict, LockNotAvailable, SerializationFailure, PaymentUnavailable)

    def idempotent(
        self,
        user: User,
        key: str | None,
        method: str,
        path: str,
        body: object,
        run: Callable[[IdemContext], tuple[int, object]],
    ) -> tuple[int, object, bool]:
        """Run ``run`` at most once per (user, key); returns (status, json body, replayed).

        ``run`` gets an :class:`IdemContext`; an operation that can store its answer inside
        its own transaction (``ctx.finish_in``, or ``ctx.hook`` for holds) commits the effect
        and the stored response atomically (brandur's "atomic phases"): no crash can leave an
        effect whose answer a retry would not find.

        Definitive answers (2xx and 4xx) are stored and replayed; transient ones (a lock
        conflict, a serialization failure, a provider that did not answer, 5xx) are not, so
        a retry with the same key runs again, resuming from the stored recovery point.
        """
        record = self.idempotency.begin(user.id, key or "", method, path, body)
        if record.replay is not None:
            self.counters.bump("idempotent_replays")
            return record.replay.status, json.loads(record.replay.body), True
        ctx = IdemContext(record, self.idempotency)
        try:
            status, payload = run(ctx)
        except BookingError as exc:
            if isinstance(exc, self.TRANSIENT) or exc.status >= 500:
                self.idempotency.unlock(record)
                raise
            payload = problem(exc)
            self.idempotency.finish(record, exc.status, json.dumps(payload))
            raise
        except BaseException:
            self.idempotency.unlock(record)
            raise
        if not ctx.finished:
            self.idempotency.finish(record, status, json.dumps(payload, default=str))
        return status, payload, False

    # -- health and metrics ---------------------------------------------------------------

    def health(self) -> dict[str, object]:
        db_ok = True
        try:
            with self.db.pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
        except Exception:  # any failure means "not healthy"; the detail is not needed here
            db_ok = False
        strat = self.strategy.health()
        redis_up: bool | None = None
        if self.redis is not None:
            redis_up = not bool(strat.get("degraded"))
        payments_up = self.payments.healthy()
        degraded = bool(strat.get("degraded")) or not payments_up
        return {
            "status": "down" if not db_ok else ("degraded" if degraded else "ok"),
            "database": db_ok,
            "redis": redis_up,
            "payments": payments_up,
            "strategy": self.config.strategy,
            "mode": strat.get("mode", self.config.strategy),
            "degraded": degraded,
            "detail": strat.get("redis_error", ""),
        }

    def stats(self) -> dict[str, object]:
        with self.db.pool.connection() as conn:
            sagas = {
                f"{k}:{s}": int(n)
                for k, s, n in conn.execute(
                    "SELECT kind, state, COUNT(*) FROM sagas GROUP BY kind, state"
                ).fetchall()
            }
            orders = {
                str(s): int(n)
                for s, n in conn.execute("SELECT status, COUNT(*) FROM orders GROUP BY status")
            }
        return {
            "strategy": self.config.strategy,
            "holds": self.strategy.stats.snapshot(),
            "payments": self.payments.stats.snapshot(),
            "sagas": self.sagas.stats.snapshot(),
            "saga_states": sagas,
            "orders": orders,
            "expired_holds": self.expiry.expired_total,
            "counters": self.counters.snapshot(),
            "degraded": bool(self.strategy.health().get("degraded")),
        }

    def record_webhook(self, event_id: str, kind: str, auth_id: str, amount_cents: int) -> bool:
        """Store a provider webhook once; returns False for a duplicate delivery."""
        with self.db.pool.connection() as conn, conn.transaction():
            cur = conn.execute(
                "UPDATE payment_events SET deliveries = deliveries + 1 "
                "WHERE provider_event_id = %s",
                (event_id,),
            )
            if cur.rowcount == 1:
                return False
            try:
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO payment_events (provider_event_id, kind, auth_id, "
                        "amount_cents) VALUES (%s, %s, %s, %s)",
                        (event_id, kind, auth_id, amount_cents),
                    )
            except psycopg.errors.UniqueViolation:
                conn.execute(
                    "UPDATE payment_events SET deliveries = deliveries + 1 "
                    "WHERE provider_event_id = %s",
                    (event_id,),
                )
                return False
        return True


@dataclass
class IdemContext:
    """What an idempotent operation gets: its key record, and a way to store its answer in
    its own transaction."""

    record: KeyRecord
    store: IdempotencyStore
    finished: bool = False

    def finish_in(self, conn: psycopg.Connection, status: int, payload: object) -> None:
        self.store.finish(self.record, status, json.dumps(payload, default=str), conn)
        self.finished = True

    def hook(self, status: int, render: Callable[[Hold], object]) -> TxnHook:
        """A hold-transaction hook that stores ``(status, render(hold))`` as the answer."""
        return lambda conn, hold: self.finish_in(conn, status, render(hold))


def problem(exc: BookingError) -> dict[str, object]:
    """The JSON problem body (RFC 9457 fields) for a typed error."""
    return {
        "type": f"https://cairn.dev/problems/{exc.code}",
        "title": exc.code.replace("_", " "),
        "status": exc.status,
        "detail": str(exc),
        "code": exc.code,
    }


__all__ = ["STRATEGIES", "BookingConfig", "BookingService", "NotFound", "problem"]
