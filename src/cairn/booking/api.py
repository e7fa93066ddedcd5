"""The booking HTTP API (Starlette): ``create_app(config)`` for ``cairn booking serve``,
``cairn serve`` and the A2UI agent.

Rules every endpoint follows:
- Authentication: ``Authorization: Bearer <token>`` (API tokens are stored hashed); admin-only
  endpoints answer 403 to other users. Another user's hold or order reads as 404.
- Every mutating request (POST, DELETE) carries an ``Idempotency-Key`` header (8..100 chars of
  ``[A-Za-z0-9_.:-]``), handled by :meth:`BookingService.idempotent`: a retry replays the stored
  answer (header ``Idempotency-Replayed: true``), another request under the same key is 422, a
  concurrent one is 409. The payment webhook is authenticated by its HMAC signature instead.
- Errors are JSON problem bodies (RFC 9457 fields plus a stable ``code``): malformed JSON 400,
  missing key 400, bad token 401, not admin 403, unknown id 404, seat taken 409, expired hold
  410, oversize body 413, invalid values 422, provider not answering 503. Each service call is
  one transaction (or a saga that compensates), so an error leaves nothing half-written.
- ``/health`` says whether PostgreSQL, Redis and the provider answer and whether the ``redis``
  strategy has degraded to the pessimistic path; ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hmac
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.booking.errors import (
    BookingError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from cairn.booking.idempotency import check_key
from cairn.booking.model import Event, Hold, Order, SeatState, SectionSpec, User, Venue
from cairn.booking.openapi import docs_html, openapi_document
from cairn.booking.paysim import sign
from cairn.booking.service import BookingConfig, BookingService, IdemContext, problem
from cairn.encoding import loads_bounded

MAX_BODY = 64 * 1024


class BadRequest(BookingError):
    status = 400
    code = "bad_request"


class PayloadTooLarge(BookingError):
    status = 413
    code = "payload_too_large"


# -- JSON shapes ---------------------------------------------------------------------------


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "venue_id": e.venue_id,
        "name": e.name,
        "starts_at": _iso(e.starts_at),
        "prices": e.prices,
    }


def hold_json(h: Hold) -> dict[str, Any]:
    return {
        "id": h.id,
        "event_id": h.event_id,
        "seat_ids": list(h.seat_ids),
        "status": h.status,
        "expires_at": _iso(h.expires_at),
        "strategy": h.strategy,
    }


def order_json(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "event_id": o.event_id,
        "hold_id": o.hold_id,
        "status": o.status,
        "amount_cents": o.amount_cents,
        "seat_ids": list(o.seat_ids),
        "tickets": list(o.tickets),
        "failure": o.failure,
    }


def seat_json(s: SeatState) -> dict[str, Any]:
    return dataclasses.asdict(s)


def venue_json(v: Venue) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "sections": [
            {"name": s.name, "tier": s.tier, "rows": list(s.rows), "seats_per_row": s.seats_per_row}
            for s in v.sections
        ],
    }


# -- request helpers -----------------------------------------------------------------------


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = True):
    if name not in body:
        if required:
            raise ValidationFailed(f"field {name!r} is required")
        return None
    value = body[name]
    # bool is an int in Python; never accept true/false where a number is meant
    if isinstance(value, bool) and kind is not bool:
        raise ValidationFailed(f"field {name!r} has the wrong type")
    if not isinstance(value, kind):
        raise ValidationFailed(f"field {name!r} has the wrong type")
    _check_value(name, value)
    return value


def _check_value(name: str, value: object) -> None:
    """Refuse what PostgreSQL would refuse later with a 500: NUL bytes, out-of-range ints."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationFailed(f"field {name!r} contains a NUL byte")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**62) < value < 2**62:
        raise ValidationFailed(f"field {name!r} is out of range")
    if isinstance(value, list | tuple):
        for item in value:
            _check_value(name, item)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(name, k)
            _check_value(name, v)


def _int_list(body: dict[str, Any], name: str) -> list[int]:
    value = _field(body, name, list)
    if any(type(v) is not int for v in value):
        raise ValidationFailed(f"field {name!r} must be a list of integers")
    return value


_UUID = re.compile(r"^[0-9a-f-]{36}$")


def _path_id(request: Request, name: str) -> str:
    raw = str(request.path_params[name])
    if not _UUID.match(raw):
        raise NotFound(f"{name} {raw[:40]!r} not found")
    return raw


async def _json_body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise PayloadTooLarge(f"request body is limited to {MAX_BODY} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge(f"request body is limited to {MAX_BODY} bytes")
    if not raw:
        return {}
    try:
        body = loads_bounded(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the JSON body must be an object")
    return body


# -- metrics -------------------------------------------------------------------------------


@dataclasses.dataclass
class HttpMetrics:
    counts: dict[tuple[str, str, int], int] = dataclasses.field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def add(self, method: str, route: str, status: int, elapsed: float) -> None:
        with self.lock:
            k = (method, route, status)
            self.counts[k] = self.counts.get(k, 0) + 1
            self.seconds[(method, route)] = self.seconds.get((method, route), 0.0) + elapsed


_ID_SEGMENT = re.compile(r"/([0-9]+|[0-9a-f-]{36})(?=/|$)")


class MetricsMiddleware:
    """Counts requests by method, route shape and status (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            route = _ID_SEGMENT.sub("/{id}", scope.get("path", ""))
            self.metrics.add(scope.get("method", ""), route, status, time.perf_counter() - start)


def _prom_labels(**labels: object) -> str:
    inner = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}" if inner else ""


def metrics_text(svc: BookingService, http: HttpMetrics) -> str:
    stats = svc.stats()
    health = svc.health()
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict, float]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            out.append(f"{name}{_prom_labels(**labels)} {value}")

    with http.lock:
        counts = dict(http.counts)
        secs = dict(http.seconds)
    metric(
        "cairn_booking_http_requests_total",
        "counter",
        "HTTP requests by method, route and status",
        [({"method": m, "route": r, "status": s}, n) for (m, r, s), n in sorted(counts.items())],
    )
    metric(
        "cairn_booking_http_request_seconds_sum",
        "counter",
        "time spent answering HTTP requests",
        [({"method": m, "route": r}, round(v, 6)) for (m, r), v in sorted(secs.items())],
    )
    strategy = str(stats["strategy"])
    holds = stats["holds"]
    assert isinstance(holds, dict)
    metric(
        "cairn_booking_holds_total",
        "counter",
        "hold attempts and their outcomes, by strategy",
        [({"strategy": strategy, "outcome": k}, v) for k, v in sorted(holds.items())],
    )
    metric(
        "cairn_booking_degraded",
        "gauge",
        "1 when the redis strategy runs on the pessimistic fallback",
        [({"strategy": strategy}, 1 if stats["degraded"] else 0)],
    )
    metric(
        "cairn_booking_redis_up",
        "gauge",
        "1 when Redis answers (only for the redis strategy)",
        [({}, 1 if health["redis"] else 0)] if health["redis"] is not None else [],
    )
    payments = stats["payments"]
    assert isinstance(payments, dict)
    metric(
        "cairn_booking_payment_calls_total",
        "counter",
        "calls to the payment provider and their failures",
        [({"kind": k}, v) for k, v in sorted(payments.items())],
    )
    sagas = stats["sagas"]
    assert isinstance(sagas, dict)
    metric(
        "cairn_booking_sagas_total",
        "counter",
        "sagas started, finished, compensated, resumed after a crash, blocked on the provider",
        [({"event": k}, v) for k, v in sorted(sagas.items())],
    )
    states = stats["saga_states"]
    assert isinstance(states, dict)
    metric(
        "cairn_booking_saga_states",
        "gauge",
        "sagas by kind and state",
        [({"kind": k.split(":")[0], "state": k.split(":")[1]}, v) for k, v in states.items()],
    )
    orders = stats["orders"]
    assert isinstance(orders, dict)
    metric(
        "cairn_booking_orders",
        "gauge",
        "orders by status",
        [({"status": k}, v) for k, v in sorted(orders.items())],
    )
    metric(
        "cairn_booking_expired_holds_total",
        "counter",
        "holds expired by the worker",
        [({}, float(stats["expired_holds"]))],  # type: ignore[arg-type]
    )
    counters = stats["counters"]
    assert isinstance(counters, dict)
    metric(
        "cairn_booking_idempotent_replays_total",
        "counter",
        "requests answered from a stored idempotent response",
        [({}, counters.get("idempotent_replays", 0))],
    )
    return "\n".join(out) + "\n"


# -- the app -------------------------------------------------------------------------------


def create_app(
    config: BookingConfig | None = None, service: BookingService | None = None
) -> Starlette:
    """The booking API. With ``service`` the caller owns its lifecycle (``cairn serve`` mounts
    the app and starts the service itself); otherwise the app's lifespan creates, starts and
    closes one from ``config``."""
    if config is None and service is None:
        raise ValueError("create_app needs a config or a service")
    api = BookingApi(config, service)
    app = Starlette(
        routes=api.routes(),
        lifespan=api.lifespan,
        exception_handlers={
            BookingError: on_booking_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
    app.add_middleware(MetricsMiddleware, metrics=api.http)  # type: ignore[arg-type]
    if service is not None:
        app.state.service = service
    return app


def respond(status: int, payload: object, replayed: bool = False) -> JSONResponse:
    headers = {"Idempotency-Replayed": "true"} if replayed else None
    return JSONResponse(payload, status, headers=headers)


class BookingApi:
    """The endpoints over one :class:`BookingService`: each handler parses and checks its
    request, then calls the service in a worker thread (psycopg is synchronous)."""

    def __init__(self, config: BookingConfig | None, service: BookingService | None) -> None:
        self.config = config
        self._service = service
        self.http = HttpMetrics()

    @property
    def svc(self) -> BookingService:
        assert self._service is not None, "the service starts with the app's lifespan"
        return self._service

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        owned = None
        if self._service is None:
            assert self.config is not None
            owned = await run_in_threadpool(BookingService, self.config)
            owned.start()
            self._service = owned
        app.state.service = self._service
        try:
            yield
        finally:
            if owned is not None:
                await run_in_threadpool(owned.close)

    def user_of(self, request: Request) -> User:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send Authorization: Bearer <api token>")
        return self.svc.authenticate(token.strip())

    async def mutate(
        self, request: Request, run: Callable[[User, dict[str, Any], Any], tuple[int, object]]
    ) -> Response:
        """Authenticate, parse, then run once per Idempotency-Key (in a worker thread)."""
        body = await _json_body(request)

        def work() -> tuple[int, object, bool]:
            user = self.user_of(request)
            key = request.headers.get("idempotency-key")
            if key is None:
                raise BadRequest("Idempotency-Key header is required on mutating requests")
            check_key(key)
            return self.svc.idempotent(
                user, key, request.method, request.url.path, body, lambda rec: run(user, body, rec)
            )

        status, payload, replayed = await run_in_threadpool(work)
        return respond(status, payload, replayed)

    async def read(self, request: Request, run: Callable[[User], object]) -> Response:
        def work() -> object:
            return run(self.user_of(request))

        return JSONResponse(await run_in_threadpool(work))

    # -- handlers ----------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        h = await run_in_threadpool(self.svc.health)
        return JSONResponse(h, 200 if h["database"] else 503)

    async def metrics(self, request: Request) -> Response:
        text = await run_in_threadpool(metrics_text, self.svc, self.http)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def index(self, request: Request) -> Response:
        return JSONResponse(
            {
                "service": "cairn booking API",
                "openapi": "/openapi.json",
                "docs": "/docs",
                "health": "/health",
                "metrics": "/metrics",
                "events": "/events",
                "auth": "Authorization: Bearer <token>; POST and DELETE need an Idempotency-Key",
            }
        )

    async def docs(self, request: Request) -> Response:
        return HTMLResponse(docs_html(openapi_document()))

    async def me(self, request: Request) -> Response:
        return await self.read(request, lambda u: dataclasses.asdict(u))

    async def create_user(self, request: Request) -> Response:
        def run(user: User, body: dict[str, Any], rec: Any) -> tuple[int, object]:
            name = _field(body, "name", str)
            is_admin = _field(body, "is_admin", bool, required=False) or False
            made, token = self.svc.create_user(user, name, is_admin=is_admin)
            return 201, dataclasses.asdict(made) | {"token": token}

        return await self.mutate(request, run)

    async def create_venue(self, request: Request) -> Response:
        def run(user: User, body: dict[str, Any], rec: Any) -> tuple[int, object]:
            name = _field(body, "name", str)
            sections = []
            for raw in _field(body, "sections", list):
                if not isinstance(raw, dict):
                    raise ValidationFailed("each section is an object")
                rows = _field(raw, "rows", list)
                if any(not isinstance(r, str) for r in rows):
                    raise ValidationFailed("rows are strings")
                sections.append(
                    SectionSpec(
                        _field(raw, "name", str),
                        _field(raw, "tier", str),
                        tuple(rows),
                        _field(raw, "seats_per_row", int),
                    )
                )
            return 201, venue_json(self.svc.create_venue(user, name, tuple(sections)))

        return await self.mutate(request, run)

    async def create_event(self, request: Request) -> Response:
        def run(user: User, body: dict[str, Any], rec: Any) -> tuple[int, object]:
            venue_id = _field(body, "venue_id", int)
            name = _field(body, "name", str)
            try:
                starts_at = dt.datetime.fromisoformat(_field(body, "starts_at", str))
            except ValueError as exc:
                raise ValidationFailed("starts_at must be an ISO 8601 timestamp") from exc
            prices = _field(body, "prices", dict)
            if any(type(v) is not int for v in prices.values()):
                raise ValidationFailed("prices are integers (cents)")
            event = self.svc.create_event(user, venue_id, name, starts_at, prices)
            return 201, event_json(event)

        return await self.mutate(request, run)

    async def list_events(self, request: Request) -> Response:
        return await self.read(request, lambda u: [event_json(e) for e in self.svc.list_events()])

    async def get_event(self, request: Request) -> Response:
        event_id = _event_id(request)
        return await self.read(request, lambda u: event_json(self.svc.get_event(event_id)))

    async def seat_map(self, request: Request) -> Response:
        event_id = _event_id(request)
        section = request.query_params.get("section")

        def run(u: User) -> object:
            seats = self.svc.seat_map(event_id, section)
            summary: dict[str, int] = {"free": 0, "held": 0, "sold": 0}
            for s in seats:
                summary[s.status] = summary.get(s.status, 0) + 1
            return {
                "event_id": event_id,
                "summary": summary,
                "seats": [seat_json(s) for s in seats],
            }

        return await self.read(request, run)

    async def create_hold(self, request: Request) -> Response:
        event_id = _event_id(request)

        def run(user: User, body: dict[str, Any], ctx: IdemContext) -> tuple[int, object]:
            ttl = _field(body, "ttl_ms", int, required=False)
            # the 201 answer is stored in the hold's own transaction (one commit, atomic)
            store = ctx.hook(201, hold_json)
            if "seat_ids" in body:
                if "section" in body or "count" in body:
                    raise ValidationFailed("give either seat_ids, or section and count")
                seats = _int_list(body, "seat_ids")
                hold = self.svc.hold(user, event_id, seat_ids=seats, ttl_ms=ttl, in_txn=store)
            else:
                hold = self.svc.hold(
                    user,
                    event_id,
                    section=_field(body, "section", str),
                    count=_field(body, "count", int),
                    ttl_ms=ttl,
                    in_txn=store,
                )
            return 201, hold_json(hold)

        return await self.mutate(request, run)

    async def get_hold(self, request: Request) -> Response:
        hold_id = _path_id(request, "hold_id")
        return await self.read(request, lambda u: hold_json(self.svc.get_hold(u, hold_id)))

    async def release_hold(self, request: Request) -> Response:
        hold_id = _path_id(request, "hold_id")
        return await self.mutate(
            request,
            lambda u, b, ctx: (
                200,
                hold_json(self.svc.release(u, hold_id, ctx.hook(200, hold_json))),
            ),
        )

    async def checkout(self, request: Request) -> Response:
        hold_id = _path_id(request, "hold_id")
        return await self.mutate(
            request, lambda u, b, ctx: (201, order_json(self.svc.checkout(u, hold_id, ctx.record)))
        )

    async def list_orders(self, request: Request) -> Response:
        return await self.read(request, lambda u: [order_json(o) for o in self.svc.list_orders(u)])

    async def get_order(self, request: Request) -> Response:
        order_id = _path_id(request, "order_id")
        return await self.read(request, lambda u: order_json(self.svc.get_order(u, order_id)))

    async def cancel_order(self, request: Request) -> Response:
        order_id = _path_id(request, "order_id")
        return await self.mutate(
            request, lambda u, b, r: (200, order_json(self.svc.cancel_order(u, order_id)))
        )

    async def admin_stats(self, request: Request) -> Response:
        def run(u: User) -> object:
            if not u.is_admin:
                raise Forbidden("admin role required")
            return self.svc.stats()

        return await self.read(request, run)

    async def webhook(self, request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge("webhook body too large")
        expected = sign(self.svc.config.webhook_secret, raw)
        if not hmac.compare_digest(expected, request.headers.get("x-signature", "")):
            raise Unauthorized("bad webhook signature")
        try:
            body = loads_bounded(raw)
            args = (str(body["id"]), str(body["type"]), str(body["auth_id"]))
            amount = int(body["amount_cents"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest(f"malformed webhook: {exc}") from exc
        first = await run_in_threadpool(self.svc.record_webhook, *args, amount)
        return JSONResponse({"received": True, "duplicate": not first})

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/docs", self.docs, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/me", self.me, methods=["GET"]),
            Route("/users", self.create_user, methods=["POST"]),
            Route("/venues", self.create_venue, methods=["POST"]),
            Route("/events", self.list_events, methods=["GET"]),
            Route("/events", self.create_event, methods=["POST"]),
            Route("/events/{event_id}", self.get_event, methods=["GET"]),
            Route("/events/{event_id}/seats", self.seat_map, methods=["GET"]),
            Route("/events/{event_id}/holds", self.create_hold, methods=["POST"]),
            Route("/holds/{hold_id}", self.get_hold, methods=["GET"]),
            Route("/holds/{hold_id}", self.release_hold, methods=["DELETE"]),
            Route("/holds/{hold_id}/checkout", self.checkout, methods=["POST"]),
            Route("/orders", self.list_orders, methods=["GET"]),
            Route("/orders/{order_id}", self.get_order, methods=["GET"]),
            Route("/orders/{order_id}/cancel", self.cancel_order, methods=["POST"]),
            Route("/admin/stats", self.admin_stats, methods=["GET"]),
            Route("/webhooks/payments", self.webhook, methods=["POST"]),
        ]


# -- errors ------------------------------------------------------------------------


async def on_booking_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BookingError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(problem(exc), exc.status, headers=headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {
            "type": f"https://cairn.dev/problems/{code}",
            "title": code.replace("_", " "),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": code,
        },
        exc.status_code,
    )


async def on_crash(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "type": "https://cairn.dev/problems/internal_error",
            "title": "internal error",
            "status": 500,
            "detail": type(exc).__name__,
            "code": "internal_error",
        },
        500,
    )


def _event_id(request: Request) -> int:
    raw = str(request.path_params["event_id"])
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise NotFound(f"event {raw[:40]!r} not found")
    return int(raw)
