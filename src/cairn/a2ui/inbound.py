"""Validation of untrusted client input: actions, client data models, sizes, surface ids.

The client is a browser we do not control. An action must name a surface of the caller's
own session (another session's surface ids are indistinguishable from unknown ones: no
oracle), a component that exists on it, an event name that component declares, and only the
context keys it declares; values are bounded in size and depth. The client data model is
accepted only for surfaces created with ``sendDataModel`` and is bounded the same way.
"""

from __future__ import annotations

import json
from typing import Any

from cairn.a2ui.errors import UnknownSurface, ValidationFailed
from cairn.a2ui.messages import ActionMessage
from cairn.a2ui.session import Session

MAX_CONTEXT_BYTES = 64 * 1024
MAX_DATA_MODEL_BYTES = 512 * 1024
MAX_DEPTH = 32
MAX_NAME = 200


def _depth(value: Any, limit: int, where: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            raise ValidationFailed(f"value nests deeper than {limit}", where)
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
        elif isinstance(v, str) and "\x00" in v:
            raise ValidationFailed("strings may not contain NUL", where)


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def declared_events(component: dict[str, Any]) -> dict[str, set[str]]:
    """Event names a component can dispatch, with their declared context keys."""
    out: dict[str, set[str]] = {}
    stack: list[Any] = [component]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ev = node.get("event")
            if isinstance(ev, dict) and isinstance(ev.get("name"), str):
                out.setdefault(ev["name"], set()).update((ev.get("context") or {}).keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def check_action(action: ActionMessage, session: Session) -> None:
    """Raise a clear error unless the action could have come from our own surface."""
    if len(action.name) > MAX_NAME or len(action.source_component_id) > MAX_NAME:
        raise ValidationFailed("action name or component id too long", "/a2ui/action")
    state = session.surfaces.get(action.surface_id)
    if state is None:
        raise UnknownSurface(f"surface {action.surface_id[:80]!r} does not exist in this "
                             "session", "/a2ui/action/surfaceId")
    comp = state.components.get(action.source_component_id)
    if comp is None:
        raise ValidationFailed(
            f"component {action.source_component_id[:80]!r} is not on surface "
            f"{action.surface_id!r}", "/a2ui/action/sourceComponentId")
    events = declared_events(comp)
    if action.name not in events:
        raise ValidationFailed(
            f"component {action.source_component_id!r} has no action {action.name[:80]!r}",
            "/a2ui/action/name")
    extra = set(action.context) - events[action.name]
    if extra:
        raise ValidationFailed(f"undeclared context keys {sorted(extra)[:5]}",
                               "/a2ui/action/context")
    if _size(action.context) > MAX_CONTEXT_BYTES:
        raise ValidationFailed(f"action context over {MAX_CONTEXT_BYTES} bytes",
                               "/a2ui/action/context")
    _depth(action.context, MAX_DEPTH, "/a2ui/action/context")


def check_client_data_model(raw: Any, session: Session) -> dict[str, Any]:
    """``{"version": "v0.9", "surfaces": {id: model}}`` for our sendDataModel surfaces."""
    if not isinstance(raw, dict) or raw.get("version") != "v0.9" or not isinstance(
            raw.get("surfaces"), dict) or set(raw) - {"version", "surfaces"}:
        raise ValidationFailed("a2uiClientDataModel must be {version: 'v0.9', surfaces: {}}",
                               "/a2uiClientDataModel")
    if _size(raw) > MAX_DATA_MODEL_BYTES:
        raise ValidationFailed(f"client data model over {MAX_DATA_MODEL_BYTES} bytes",
                               "/a2uiClientDataModel")
    out: dict[str, Any] = {}
    for sid, model in raw["surfaces"].items():
        where = f"/a2uiClientDataModel/surfaces/{sid[:80]}"
        state = session.surfaces.get(sid)
        if state is None:
            raise UnknownSurface(f"surface {sid[:80]!r} does not exist in this session", where)
        if not state.send_data_model:
            raise ValidationFailed(f"surface {sid!r} was not created with sendDataModel", where)
        if not isinstance(model, dict):
            raise ValidationFailed("a surface's data model must be an object", where)
        _depth(model, MAX_DEPTH, where)
        out[sid] = model
    return out
