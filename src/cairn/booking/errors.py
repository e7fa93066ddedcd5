"""Typed errors of the booking service, named after their PostgreSQL counterparts where one exists.

Each error carries the HTTP status the API maps it to, so a bad input always becomes a clear
4xx and never a half-written state (the service raises before or inside a rolled-back
transaction).
"""

from __future__ import annotations


class BookingError(Exception):
    """Base class; ``status`` is the HTTP status, ``code`` a stable machine-readable name."""

    status = 500
    code = "booking_error"


class ValidationFailed(BookingError):
    status = 422
    code = "validation_failed"


class NotFound(BookingError):
    """Also used for another user's hold or order: existence is not revealed."""

    status = 404
    code = "not_found"


class Unauthorized(BookingError):
    status = 401
    code = "unauthorized"


class Forbidden(BookingError):
    status = 403
    code = "forbidden"


class SeatUnavailable(BookingError):
    """A requested seat is held or sold by someone else."""

    status = 409
    code = "seat_unavailable"


class LockNotAvailable(SeatUnavailable):
    """SQLSTATE 55P03: ``FOR UPDATE NOWAIT`` found the row locked, or a Redis lock was taken."""

    code = "lock_not_available"


class SerializationFailure(BookingError):
    """SQLSTATE 40001 analogue: optimistic retries exhausted; the client may retry."""

    status = 409
    code = "serialization_failure"


class StaleFencingToken(BookingError):
    """PostgreSQL saw a newer fencing token for this seat: the Redis lease had expired."""

    status = 409
    code = "stale_fencing_token"


class HoldExpired(BookingError):
    status = 410
    code = "hold_expired"


class InvalidState(BookingError):
    """The hold or order is not in a state that allows the operation (e.g. already released)."""

    status = 409
    code = "invalid_state"


class IdempotencyConflict(BookingError):
    """A request with this key is still running: retry later with the same key."""

    status = 409
    code = "idempotency_in_progress"


class IdempotencyMismatch(BookingError):
    """The key was already used with a different request."""

    status = 422
    code = "idempotency_key_reused"


class DatabaseUnavailable(BookingError):
    status = 503
    code = "database_unavailable"


class PaymentDeclined(BookingError):
    """The provider refused the payment; the checkout was compensated (seats released)."""

    status = 402
    code = "payment_declined"


class HoldLost(BookingError):
    """The hold expired or was released while the payment ran: the seats were not confirmed."""

    status = 409
    code = "hold_lost"


class CheckoutFailed(BookingError):
    """A later step failed and the checkout was compensated (refunded, seats released)."""

    status = 409
    code = "checkout_failed"


class PaymentUnavailable(BookingError):
    """The provider did not answer; the saga is left to the recovery worker to finish."""

    status = 503
    code = "payment_unavailable"
