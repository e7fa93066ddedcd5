"""Typed errors of the encoding layer.

Every error says *where*: decoders give the byte offset and the field path, encoders the field
path, the schema parser the JSON path of the bad node. Bad input never yields a silent wrong
value, an infinite loop or a bare ``IndexError``: it yields one of these.
"""

from __future__ import annotations


class EncodingError(Exception):
    """Base class of every error raised by cairn.encoding."""


def _path_text(path: list[str]) -> str:
    return ".".join(path) if path else "<root>"


class SchemaError(EncodingError, ValueError):
    """A schema that is not valid JSON, not a valid Avro schema, or unusable for a format."""

    def __init__(self, message: str, path: list[str] | None = None):
        self.message = message
        self.path = list(path or [])
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (at {_path_text(self.path)})" if self.path else self.message


class UnsupportedSchemaError(SchemaError):
    """A valid schema that a given wire format cannot express (e.g. a bare ``null`` field in
    Protocol Buffers)."""


class EncodeError(EncodingError, ValueError):
    """A value that does not match the schema (wrong type, out of range, missing field)."""

    def __init__(self, message: str, path: list[str] | None = None):
        self.message = message
        self.path = list(path or [])
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (field {_path_text(self.path)})"


class DecodeError(EncodingError, ValueError):
    """Bytes that are not a valid encoding: truncated, over-long varint, length past the end,
    unknown union branch, invalid UTF-8, trailing garbage. ``offset`` is the byte offset where
    the problem was found, ``path`` the field being decoded."""

    def __init__(self, message: str, offset: int | None = None, path: list[str] | None = None):
        self.message = message
        self.offset = offset
        self.path = list(path or [])
        super().__init__(message)

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.message}{where} (field {_path_text(self.path)})"


class IncompatibleSchemaError(EncodingError):
    """Reader and writer schemas that cannot be resolved (Avro schema resolution)."""

    def __init__(self, message: str, path: list[str] | None = None):
        self.message = message
        self.path = list(path or [])
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (at {_path_text(self.path)})"


class RegistryError(EncodingError):
    """Schema registry errors, each with the Confluent REST error code it maps to."""

    http_status = 500
    error_code = 50001

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class SubjectNotFound(RegistryError):
    http_status, error_code = 404, 40401


class VersionNotFound(RegistryError):
    http_status, error_code = 404, 40402


class SchemaNotFound(RegistryError):
    http_status, error_code = 404, 40403


class IncompatibleSchema(RegistryError):
    http_status, error_code = 409, 409


class InvalidSchema(RegistryError):
    http_status, error_code = 422, 42201


class InvalidVersion(RegistryError):
    http_status, error_code = 422, 42202


class InvalidCompatibilityLevel(RegistryError):
    http_status, error_code = 422, 42203
