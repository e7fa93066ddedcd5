"""Typed transaction errors, each with the PostgreSQL SQLSTATE a client would see.

A client retries on ``SerializationFailure`` (40001) and ``DeadlockDetected`` (40P01); a
``LockNotAvailable`` (55P03) comes from NOWAIT or a lock timeout. Naming them after PostgreSQL
lets the SQL front end later map them onto the wire protocol unchanged.
"""

from __future__ import annotations


class TxnError(Exception):
    """Base class; ``sqlstate`` is the PostgreSQL error code."""

    sqlstate = "XX000"

    def __init__(self, message: str = ""):
        super().__init__(message or self.__doc__ or type(self).__name__)


class SerializationFailure(TxnError):
    """could not serialize access (the transaction was aborted; retry it)."""

    sqlstate = "40001"

    def __init__(self, message: str = "", *, cause: str = "serialization"):
        super().__init__(message)
        #: "concurrent update" (first updater wins), "rw-dependencies" (SSI) ...
        self.cause = cause


class DeadlockDetected(TxnError):
    """deadlock detected (this transaction was chosen as the victim; retry it)."""

    sqlstate = "40P01"


class LockNotAvailable(TxnError):
    """could not obtain lock (NOWAIT)."""

    sqlstate = "55P03"


class LockTimeout(LockNotAvailable):
    """canceling statement due to lock timeout."""


class UniqueViolation(TxnError):
    """duplicate key value violates unique constraint."""

    sqlstate = "23505"


class NotNullViolation(TxnError):
    """null value in a primary key column."""

    sqlstate = "23502"


class InFailedTransaction(TxnError):
    """current transaction is aborted, commands ignored until end of transaction block."""

    sqlstate = "25P02"


class TransactionFinished(TxnError):
    """the transaction has already committed or rolled back."""

    sqlstate = "25000"


class ReadOnlyTransaction(TxnError):
    """cannot write in a read-only transaction."""

    sqlstate = "25006"


class UndefinedTable(TxnError):
    """relation does not exist."""

    sqlstate = "42P01"


class DuplicateTable(TxnError):
    """relation already exists."""

    sqlstate = "42P07"


class UndefinedObject(TxnError):
    """object (index, procedure) does not exist."""

    sqlstate = "42704"


class InvalidParameter(TxnError, ValueError):
    """invalid parameter value (bad isolation level, bad predicate, bad lock mode ...)."""

    sqlstate = "22023"


class PartitionViolation(TxnError):
    """a single-partition serial transaction touched a row of another partition (VoltDB's
    mispartitioned statement; PostgreSQL has no partitioned executors, so the code is its
    feature_not_supported)."""

    sqlstate = "0A000"


class DataError(TxnError, ValueError):
    """a row or key that cannot be stored (wrong type, not JSON, hostile value)."""

    sqlstate = "22000"


class DatabaseClosed(TxnError):
    """the database is closed (or failed after an fsync error and must be reopened)."""

    sqlstate = "57P01"


class DatabaseLocked(TxnError):
    """the database directory is in use by another open Database (process)."""

    sqlstate = "55006"
