"""Errors of the transactional database, each with its PostgreSQL SQLSTATE (``.sqlstate``).

They are defined in :mod:`cairn.txn.errors` (the lock manager and SSI raise them) and exported
here, the name users import from.
"""

from __future__ import annotations

from cairn.storage.errors import CorruptionError, DurabilityError
from cairn.txn.errors import (
    DatabaseClosed,
    DatabaseLocked,
    DataError,
    DeadlockDetected,
    DuplicateTable,
    InFailedTransaction,
    InvalidParameter,
    LockNotAvailable,
    LockTimeout,
    NotNullViolation,
    PartitionViolation,
    ReadOnlyTransaction,
    SerializationFailure,
    TransactionFinished,
    TxnError,
    UndefinedObject,
    UndefinedTable,
    UniqueViolation,
)


class ObjectInUse(TxnError):
    """the object is in use: DROP TABLE while a transaction holds a lock on the table."""

    sqlstate = "55006"


#: the errors a client should retry the whole transaction on
RETRYABLE = (SerializationFailure, DeadlockDetected)

__all__ = [
    "RETRYABLE",
    "CorruptionError",
    "DataError",
    "DatabaseClosed",
    "DatabaseLocked",
    "DeadlockDetected",
    "DuplicateTable",
    "DurabilityError",
    "InFailedTransaction",
    "InvalidParameter",
    "LockNotAvailable",
    "LockTimeout",
    "NotNullViolation",
    "ObjectInUse",
    "PartitionViolation",
    "ReadOnlyTransaction",
    "SerializationFailure",
    "TransactionFinished",
    "TxnError",
    "UndefinedObject",
    "UndefinedTable",
    "UniqueViolation",
]
