"""Typed errors of the storage layer.

Every error a caller can act on has its own class, so that the layers above can map them to
their PostgreSQL / S3 counterparts. Corruption always says *where* (file and byte offset): a
checksum mismatch that cannot be located is not debuggable.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error raised by cairn.storage."""


class InvalidKeyError(StorageError, ValueError):
    """A key that is not bytes, is empty, or is longer than the engine allows."""


class InvalidValueError(StorageError, ValueError):
    """A value that is not bytes or is larger than the engine allows."""


class EngineClosedError(StorageError):
    """An operation on an engine after ``close()``."""


class EngineMismatchError(StorageError):
    """The directory holds another engine's files, a newer format, or unrelated files."""


class CorruptionError(StorageError):
    """On-disk data failed a checksum or a structural check.

    ``path`` and ``offset`` locate the damage so that it can be inspected with a hex dump.
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None):
        where = ""
        if path is not None:
            where = f" [{path}" + (f" @ offset {offset}" if offset is not None else "") + "]"
        super().__init__(message + where)
        self.path = path
        self.offset = offset


class DurabilityError(StorageError, OSError):
    """An fsync (or the write before it) failed: the write was *not* acknowledged.

    After a failed fsync the state of the OS page cache is unknown (the "fsyncgate" lesson from
    PostgreSQL), so an engine that raises this refuses further writes until it is reopened.
    """
