"""Validation of keys and values shared by every engine.

Keys and values are ``bytes``. An empty value is a value; an empty key is an error. Limits are
documented here once so every engine reports the same clear error for the same bad input.
"""

from __future__ import annotations

from cairn.storage.errors import InvalidKeyError, InvalidValueError

MAX_KEY_SIZE = 4096  # bytes; S3 keys (1,024 bytes) plus bucket and version fit comfortably
MAX_VALUE_SIZE = 16 * 1024 * 1024  # 16 MiB; larger blobs belong in the object store


def check_key(key: object, max_size: int = MAX_KEY_SIZE) -> bytes:
    """Return ``key`` if it is a valid key, else raise :class:`InvalidKeyError`."""
    if type(key) is not bytes:
        raise InvalidKeyError(f"key must be bytes, not {type(key).__name__}")
    if not key:
        raise InvalidKeyError("key must not be empty")
    if len(key) > max_size:
        raise InvalidKeyError(f"key is {len(key)} bytes; the limit is {max_size}")
    return key


def check_value(value: object, max_size: int = MAX_VALUE_SIZE) -> bytes:
    """Return ``value`` if it is a valid value, else raise :class:`InvalidValueError`."""
    if type(value) is not bytes:
        raise InvalidValueError(f"value must be bytes, not {type(value).__name__}")
    if len(value) > max_size:
        raise InvalidValueError(f"value is {len(value)} bytes; the limit is {max_size}")
    return value
