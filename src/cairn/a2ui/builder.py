"""Small helpers to build components and messages without typos.

Components are plain dicts (the wire shape); these functions only spell the common ones and
keep ids explicit. Everything built here still goes through the validator before it is sent.
"""

from __future__ import annotations

from typing import Any

from cairn.a2ui.messages import VERSION


def text(id_: str, value: Any, variant: str | None = None, **kw: Any) -> dict[str, Any]:
    c = {"id": id_, "component": "Text", "text": value, **kw}
    if variant:
        c["variant"] = variant
    return c


def column(id_: str, children: list[str] | dict[str, str], **kw: Any) -> dict[str, Any]:
    return {"id": id_, "component": "Column", "children": children, **kw}


def row(id_: str, children: list[str] | dict[str, str], **kw: Any) -> dict[str, Any]:
    return {"id": id_, "component": "Row", "children": children, **kw}


def card(id_: str, child: str, **kw: Any) -> dict[str, Any]:
    return {"id": id_, "component": "Card", "child": child, **kw}


def button(id_: str, child: str, event: str, context: dict[str, Any] | None = None,
           variant: str | None = None, **kw: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"name": event}
    if context:
        ev["context"] = context
    c = {"id": id_, "component": "Button", "child": child, "action": {"event": ev}, **kw}
    if variant:
        c["variant"] = variant
    return c


def bind(path: str) -> dict[str, str]:
    return {"path": path}


def call(name: str, return_type: str | None = None, **args: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"call": name, "args": args}
    if return_type:
        c["returnType"] = return_type
    return c


AGENT_NAME = "cairn"


def create(surface_id: str, catalog_id: str, *, send_data_model: bool = False,
           theme: dict[str, Any] | None = None) -> dict[str, Any]:
    """``createSurface``; the theme always names the agent that drew it (attribution)."""
    body: dict[str, Any] = {"surfaceId": surface_id, "catalogId": catalog_id,
                            "theme": {**(theme or {}), "agentDisplayName": AGENT_NAME}}
    if send_data_model:
        body["sendDataModel"] = True
    return {"version": VERSION, "createSurface": body}


def components(surface_id: str, comps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": VERSION, "updateComponents": {"surfaceId": surface_id,
                                                     "components": comps}}


def data(surface_id: str, path: str, value: Any) -> dict[str, Any]:
    return {"version": VERSION, "updateDataModel": {"surfaceId": surface_id, "path": path,
                                                    "value": value}}


def delete(surface_id: str) -> dict[str, Any]:
    return {"version": VERSION, "deleteSurface": {"surfaceId": surface_id}}
