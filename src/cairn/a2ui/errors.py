"""Typed errors of the A2UI layer.

Every error carries a JSON Pointer ``path`` into the offending message (as A2UI's
``VALIDATION_FAILED`` error does) and a message in plain words, so that a client, a log line
and an LLM repair prompt can all say exactly what was wrong and where.
"""

from __future__ import annotations


class A2uiError(Exception):
    """Base class: ``code`` is the wire error code, ``path`` a JSON Pointer (or "")."""

    code = "A2UI_ERROR"
    http_status = 400

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.message} (at {self.path})" if self.path else self.message


class ValidationFailed(A2uiError):
    """A message broke a schema or structural rule (A2UI's ``VALIDATION_FAILED``)."""

    code = "VALIDATION_FAILED"


class InvalidPointer(ValidationFailed):
    """A string that is not a valid (absolute or template-relative) JSON Pointer."""


class ProtocolError(A2uiError):
    """A well-formed message sent at the wrong time (unknown surface, duplicate create)."""

    code = "PROTOCOL_ERROR"


class UnknownSurface(ProtocolError):
    """The surface does not exist in this session (or belongs to another one)."""

    code = "UNKNOWN_SURFACE"
    http_status = 404


class PayloadTooLarge(A2uiError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class MalformedRequest(A2uiError):
    """The request body is not JSON, or not one of the documented shapes."""

    code = "MALFORMED_REQUEST"
