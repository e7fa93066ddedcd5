"""Typed A2UI v0.9 messages: server→client and client→server, as dataclasses.

The wire format is JSON objects with ``"version": "v0.9"`` and exactly one message key. These
classes are what cairn's code builds and reads; :func:`to_wire` turns a server message into
the JSON that is validated (:mod:`cairn.a2ui.validate`) and sent, and
:func:`parse_client_message` turns untrusted client JSON into an :class:`ActionMessage` or
:class:`ErrorMessage` after checking it against the official ``client_to_server.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from cairn.a2ui.catalog import official_documents
from cairn.a2ui.errors import MalformedRequest, ValidationFailed

VERSION = "v0.9"
_UNSET: Any = object()


@dataclass(frozen=True)
class CreateSurface:
    surface_id: str
    catalog_id: str
    theme: dict[str, Any] | None = None
    send_data_model: bool = False

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"surfaceId": self.surface_id, "catalogId": self.catalog_id}
        if self.theme is not None:
            body["theme"] = self.theme
        if self.send_data_model:
            body["sendDataModel"] = True
        return {"version": VERSION, "createSurface": body}


@dataclass(frozen=True)
class UpdateComponents:
    surface_id: str
    components: tuple[dict[str, Any], ...]

    def to_wire(self) -> dict[str, Any]:
        return {"version": VERSION, "updateComponents": {
            "surfaceId": self.surface_id, "components": list(self.components)}}


@dataclass(frozen=True)
class UpdateDataModel:
    """Upsert ``value`` at ``path``; ``value`` left unset deletes the key."""

    surface_id: str
    path: str = "/"
    value: Any = _UNSET

    @property
    def deletes(self) -> bool:
        return self.value is _UNSET

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"surfaceId": self.surface_id, "path": self.path}
        if self.value is not _UNSET:
            body["value"] = self.value
        return {"version": VERSION, "updateDataModel": body}


@dataclass(frozen=True)
class DeleteSurface:
    surface_id: str

    def to_wire(self) -> dict[str, Any]:
        return {"version": VERSION, "deleteSurface": {"surfaceId": self.surface_id}}


ServerMessage = CreateSurface | UpdateComponents | UpdateDataModel | DeleteSurface


def from_wire(msg: dict[str, Any]) -> ServerMessage:
    """A server message from (already validated) wire JSON."""
    if "createSurface" in msg:
        b = msg["createSurface"]
        return CreateSurface(b["surfaceId"], b["catalogId"], b.get("theme"),
                             bool(b.get("sendDataModel", False)))
    if "updateComponents" in msg:
        b = msg["updateComponents"]
        return UpdateComponents(b["surfaceId"], tuple(b["components"]))
    if "updateDataModel" in msg:
        b = msg["updateDataModel"]
        return UpdateDataModel(b["surfaceId"], b.get("path", "/"), b.get("value", _UNSET))
    if "deleteSurface" in msg:
        return DeleteSurface(msg["deleteSurface"]["surfaceId"])
    raise ValidationFailed("not a server message", "")


# -- client → server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionMessage:
    name: str
    surface_id: str
    source_component_id: str
    timestamp: dt.datetime
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorMessage:
    code: str
    surface_id: str
    message: str
    path: str | None = None


ClientMessage = ActionMessage | ErrorMessage


@cache
def _client_validator() -> jsonschema.Draft202012Validator:
    docs = official_documents()
    schema = next(d for d in docs.values() if d.get("title", "").startswith(
        "A2UI (Agent to UI) Client-to-Server"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _parse_ts(value: str) -> dt.datetime:
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(f"timestamp {value[:40]!r} is not ISO 8601",
                               "/action/timestamp") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def parse_client_message(msg: Any) -> ClientMessage:
    """Check untrusted client JSON against ``client_to_server.json`` and type it."""
    if not isinstance(msg, dict):
        raise MalformedRequest("an A2UI client message must be a JSON object", "")
    err = best_match(_client_validator().iter_errors(msg))
    if err is not None:
        path = "/" + "/".join(str(p) for p in err.absolute_path) if err.absolute_path else ""
        raise ValidationFailed(f"invalid client message: {err.message[:300]}", path)
    if "action" in msg:
        a = msg["action"]
        return ActionMessage(a["name"], a["surfaceId"], a["sourceComponentId"],
                             _parse_ts(a["timestamp"]), dict(a["context"]))
    e = msg["error"]
    return ErrorMessage(str(e["code"]), e["surfaceId"], e["message"], e.get("path"))


@dataclass(frozen=True)
class ClientCapabilities:
    supported_catalog_ids: frozenset[str]

    @staticmethod
    def parse(raw: Any) -> ClientCapabilities:
        """``{"v0.9": {"supportedCatalogIds": [...]}}`` (inline catalogs are not accepted)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("v0.9"), dict):
            raise ValidationFailed("a2uiClientCapabilities needs a 'v0.9' object",
                                   "/a2uiClientCapabilities")
        ids = raw["v0.9"].get("supportedCatalogIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) and len(i) < 512
                                                for i in ids) or len(ids) > 64:
            raise ValidationFailed("supportedCatalogIds must be a list of strings",
                                   "/a2uiClientCapabilities/v0.9/supportedCatalogIds")
        if raw["v0.9"].get("inlineCatalogs"):
            raise ValidationFailed("this agent does not accept inline catalogs",
                                   "/a2uiClientCapabilities/v0.9/inlineCatalogs")
        return ClientCapabilities(frozenset(ids))
