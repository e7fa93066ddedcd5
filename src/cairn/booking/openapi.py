"""The OpenAPI 3.1 document of the booking API, served at ``/openapi.json``.

Written out by hand from the routes in :mod:`cairn.booking.api` (a test checks that every route
is documented and every documented operation exists, and that every mutating operation names
the ``Idempotency-Key`` header), so clients can be generated from it.
"""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problems(*codes: int) -> dict[str, Any]:
    names = {
        400: "malformed JSON or missing Idempotency-Key",
        401: "missing or unknown API token",
        403: "admin role required",
        404: "not found (or owned by another user)",
        409: "conflict: seat taken, lock busy, key in progress, invalid state",
        410: "the hold has expired",
        402: "payment declined (checkout compensated)",
        413: "request body too large",
        422: "invalid values, or an Idempotency-Key reused for another request",
        503: "payment provider did not answer; finished in the background",
    }
    return {
        str(c): {
            "description": names[c],
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for c in codes
    }


def _ok(code: int, schema: dict[str, Any], description: str = "success") -> dict[str, Any]:
    return {
        str(code): {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


IDEM = {"$ref": "#/components/parameters/IdempotencyKey"}
AUTHED = [{"bearer": []}]
COMMON = (400, 401, 413, 422)


def _path_param(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    mutating: bool = False,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    security: list | None = None,
    tag: str = "booking",
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    plist = list(params or [])
    if mutating:
        plist.append(IDEM)
    if plist:
        op["parameters"] = plist
    if body is not None:
        op["requestBody"] = _body(body)
    op["security"] = AUTHED if security is None else security
    return op


def openapi_document() -> dict[str, Any]:
    ev = _path_param("event_id", "integer")
    hold = _path_param("hold_id")
    order = _path_param("order_id")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cairn booking",
            "version": "1.0.0",
            "description": "Ticket booking that never double-books (see docs/booking.md).",
        },
        "paths": {
            "/": {
                "get": _op(
                    "an index of this API: links to /openapi.json, /docs, /health",
                    _ok(200, {"type": "object"}),
                    security=[],
                    tag="ops",
                )
            },
            "/docs": {
                "get": _op(
                    "this document as a readable HTML page (no scripts)",
                    {"200": {"description": "HTML", "content": {"text/html": {}}}},
                    security=[],
                    tag="ops",
                )
            },
            "/health": {
                "get": _op(
                    "liveness and degradation (Redis down -> pessimistic fallback)",
                    _ok(200, _ref("Health")) | _ok(503, _ref("Health"), "database down"),
                    security=[],
                    tag="ops",
                )
            },
            "/metrics": {
                "get": _op(
                    "Prometheus text metrics",
                    {"200": {"description": "metrics", "content": {"text/plain": {}}}},
                    security=[],
                    tag="ops",
                )
            },
            "/openapi.json": {
                "get": _op("this document", _ok(200, {"type": "object"}), security=[], tag="ops")
            },
            "/me": {"get": _op("the calling user", _ok(200, _ref("User")) | _problems(401))},
            "/users": {
                "post": _op(
                    "create a user and its API token (admin)",
                    _ok(201, _ref("NewUser")) | _problems(*COMMON, 403, 409),
                    mutating=True,
                    body={
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "is_admin": {"type": "boolean"}},
                    },
                    tag="admin",
                )
            },
            "/venues": {
                "post": _op(
                    "create a venue with its seat map (admin)",
                    _ok(201, _ref("Venue")) | _problems(*COMMON, 403, 409),
                    mutating=True,
                    body=_ref("VenueIn"),
                    tag="admin",
                )
            },
            "/events": {
                "get": _op(
                    "list events",
                    _ok(200, {"type": "array", "items": _ref("Event")}) | _problems(401),
                ),
                "post": _op(
                    "create an event with a price per tier (admin)",
                    _ok(201, _ref("Event")) | _problems(*COMMON, 403, 404, 409),
                    mutating=True,
                    body=_ref("EventIn"),
                    tag="admin",
                ),
            },
            "/events/{event_id}": {
                "get": _op("one event", _ok(200, _ref("Event")) | _problems(401, 404), params=[ev])
            },
            "/events/{event_id}/seats": {
                "get": _op(
                    "seat map with live availability (an expired hold shows as free)",
                    _ok(200, _ref("SeatMap")) | _problems(401, 404),
                    params=[
                        ev,
                        {
                            "name": "section",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                )
            },
            "/events/{event_id}/holds": {
                "post": _op(
                    "hold seats, all or nothing (given seat ids, or any N in a section)",
                    _ok(201, _ref("Hold")) | _problems(*COMMON, 404, 409),
                    mutating=True,
                    params=[ev],
                    body=_ref("HoldIn"),
                )
            },
            "/holds/{hold_id}": {
                "get": _op(
                    "one of my holds", _ok(200, _ref("Hold")) | _problems(401, 404), params=[hold]
                ),
                "delete": _op(
                    "release one of my holds",
                    _ok(200, _ref("Hold")) | _problems(*COMMON, 404, 409),
                    mutating=True,
                    params=[hold],
                ),
            },
            "/holds/{hold_id}/checkout": {
                "post": _op(
                    "check out a hold: authorize, confirm seats, capture, issue tickets (a saga)",
                    _ok(201, _ref("Order")) | _problems(*COMMON, 402, 404, 409, 410, 503),
                    mutating=True,
                    params=[hold],
                )
            },
            "/orders": {
                "get": _op(
                    "my orders",
                    _ok(200, {"type": "array", "items": _ref("Order")}) | _problems(401),
                )
            },
            "/orders/{order_id}": {
                "get": _op(
                    "one of my orders",
                    _ok(200, _ref("Order")) | _problems(401, 404),
                    params=[order],
                )
            },
            "/orders/{order_id}/cancel": {
                "post": _op(
                    "cancel a paid order: refund, void tickets, free seats",
                    _ok(200, _ref("Order")) | _problems(*COMMON, 404, 409, 503),
                    mutating=True,
                    params=[order],
                )
            },
            "/admin/stats": {
                "get": _op(
                    "service counters (admin)",
                    _ok(200, {"type": "object"}) | _problems(401, 403),
                    tag="admin",
                )
            },
            "/webhooks/payments": {
                "post": _op(
                    "payment provider webhook (HMAC-signed; duplicates are recognised)",
                    _ok(200, {"type": "object"}) | _problems(400, 401, 413),
                    params=[
                        {
                            "name": "X-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    body={"type": "object"},
                    security=[],
                    tag="ops",
                )
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "8..100 chars [A-Za-z0-9_.:-]; a retry replays the first "
                    "answer; keys live 24 h",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,100}$"},
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail", "code"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "code": {"type": "string"},
                    },
                },
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["ok", "degraded", "down"]},
                        "database": {"type": "boolean"},
                        "redis": {"type": ["boolean", "null"]},
                        "payments": {"type": "boolean"},
                        "strategy": {"type": "string"},
                        "mode": {"type": "string"},
                        "degraded": {"type": "boolean"},
                    },
                },
                "User": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "is_admin": {"type": "boolean"},
                    },
                },
                "NewUser": {
                    "allOf": [
                        _ref("User"),
                        {"type": "object", "properties": {"token": {"type": "string"}}},
                    ]
                },
                "Section": {
                    "type": "object",
                    "required": ["name", "tier", "rows", "seats_per_row"],
                    "properties": {
                        "name": {"type": "string"},
                        "tier": {"type": "string"},
                        "rows": {"type": "array", "items": {"type": "string"}},
                        "seats_per_row": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                },
                "VenueIn": {
                    "type": "object",
                    "required": ["name", "sections"],
                    "properties": {
                        "name": {"type": "string"},
                        "sections": {"type": "array", "items": _ref("Section")},
                    },
                },
                "Venue": {
                    "allOf": [
                        _ref("VenueIn"),
                        {"type": "object", "properties": {"id": {"type": "integer"}}},
                    ]
                },
                "EventIn": {
                    "type": "object",
                    "required": ["venue_id", "name", "starts_at", "prices"],
                    "properties": {
                        "venue_id": {"type": "integer"},
                        "name": {"type": "string"},
                        "starts_at": {"type": "string", "format": "date-time"},
                        "prices": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
                "Event": {
                    "allOf": [
                        _ref("EventIn"),
                        {"type": "object", "properties": {"id": {"type": "integer"}}},
                    ]
                },
                "Seat": {
                    "type": "object",
                    "properties": {
                        "seat_id": {"type": "integer"},
                        "section": {"type": "string"},
                        "row": {"type": "string"},
                        "number": {"type": "integer"},
                        "tier": {"type": "string"},
                        "price_cents": {"type": "integer"},
                        "status": {"enum": ["free", "held", "sold"]},
                    },
                },
                "SeatMap": {
                    "type": "object",
                    "properties": {
                        "event_id": {"type": "integer"},
                        "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "seats": {"type": "array", "items": _ref("Seat")},
                    },
                },
                "HoldIn": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["seat_ids"],
                            "properties": {
                                "seat_ids": {
                                    "type": "array",
                                    "items": {"type": "integer"},
                                    "minItems": 1,
                                    "maxItems": 20,
                                },
                                "ttl_ms": {"type": "integer"},
                            },
                        },
                        {
                            "type": "object",
                            "required": ["section", "count"],
                            "properties": {
                                "section": {"type": "string"},
                                "count": {"type": "integer", "minimum": 1, "maximum": 20},
                                "ttl_ms": {"type": "integer"},
                            },
                        },
                    ]
                },
                "Hold": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "event_id": {"type": "integer"},
                        "seat_ids": {"type": "array", "items": {"type": "integer"}},
                        "status": {"enum": ["active", "released", "expired", "checked_out"]},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "strategy": {"type": "string"},
                    },
                },
                "Order": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "event_id": {"type": "integer"},
                        "hold_id": {"type": "string"},
                        "status": {"enum": ["pending", "paid", "failed", "cancelling", "refunded"]},
                        "amount_cents": {"type": "integer"},
                        "seat_ids": {"type": "array", "items": {"type": "integer"}},
                        "tickets": {"type": "array", "items": {"type": "string"}},
                        "failure": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }


def docs_html(doc: dict[str, Any]) -> str:
    """The OpenAPI document as one self-contained HTML page: every route, what it does, whether
    it needs a token and an Idempotency-Key (no external scripts: cairn runs offline)."""
    import html

    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            needs = []
            if op.get("security"):
                needs.append("token")
            if IDEM in op.get("parameters", []):
                needs.append("Idempotency-Key")
            codes = ", ".join(sorted(op["responses"]))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op['summary'])}</td>"
                f"<td>{', '.join(needs) or '-'}</td><td>{codes}</td></tr>"
            )
    title = html.escape(doc["info"]["title"])
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} API</title>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;"
        "padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid"
        " #ddd;padding:.4rem;text-align:left;vertical-align:top}code{font-size:14px}</style>"
        f"</head><body><h1>{title} API</h1><p>{html.escape(doc['info']['description'])} "
        "Machine-readable: <a href='/openapi.json'>/openapi.json</a>. Send "
        "<code>Authorization: Bearer &lt;token&gt;</code>; every POST and DELETE also sends an "
        "<code>Idempotency-Key</code> (8 to 100 characters of <code>A-Za-z0-9_.:-</code>)."
        "</p><table><thead><tr><th>method</th><th>path</th><th>what it does</th><th>needs</th>"
        "<th>statuses</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>"
    )
