"""The HTTP API over a real uvicorn socket: auth, ownership, malformed input, idempotency,
concurrency, degradation, OpenAPI, webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate as validate_openapi

from cairn.booking.api import create_app
from cairn.booking.catalog import create_user
from cairn.booking.holds import oversold_seats
from cairn.booking.paysim import ThreadedServer
from cairn.booking.service import BookingService

from .conftest import Sim, Stage, make_stage, service_config


@dataclasses.dataclass
class Api:
    url: str
    svc: BookingService

    def call(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        key: str | None = "auto",
        **kw: Any,
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key == "auto" and method in ("POST", "DELETE"):
            key = f"k-{uuid.uuid4().hex}"
        if key not in (None, "auto"):
            headers["Idempotency-Key"] = key
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=30, **kw)


# One client for the module: creating an httpx client costs ~0.25 s (TLS context setup).
HTTP = httpx.Client(timeout=30)


def _serve(svc: BookingService) -> ThreadedServer:
    return ThreadedServer(create_app(service=svc)).start()


@pytest.fixture(scope="module")
def api(svc: BookingService) -> Iterator[Api]:
    server = _serve(svc)
    try:
        yield Api(server.url, svc)
    finally:
        server.stop()


@pytest.fixture
def stage(svc: BookingService) -> Stage:
    return make_stage(svc.db)


@pytest.fixture(scope="module")
def admin(svc: BookingService) -> str:
    return create_user(svc.db, "root", is_admin=True)[1]


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["code"] == code and body["detail"]


# -- OpenAPI, health, metrics -----------------------------------------------------------------


def test_openapi_documents_every_route_and_idempotency(api: Api) -> None:
    doc = api.call("GET", "/openapi.json", None).json()
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)  # the official OpenAPI 3.1 schema and $ref resolution
    app = create_app(service=api.svc)
    served = {
        (r.path, m.lower())
        for r in app.routes
        for m in (getattr(r, "methods", None) or ())
        if m != "HEAD"
    }
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    for (path, method), op in (
        ((p, m), o) for p, ops in doc["paths"].items() for m, o in ops.items()
    ):
        if method in ("post", "delete") and path != "/webhooks/payments":
            refs = [p.get("$ref") for p in op.get("parameters", [])]
            assert "#/components/parameters/IdempotencyKey" in refs, path
        for ref in _refs(op):
            name = ref.rsplit("/", 1)[1]
            assert name in doc["components"]["schemas"] or name in doc["components"]["parameters"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_health_and_metrics(api: Api, admin: str) -> None:
    h = api.call("GET", "/health", None).json()
    assert h["status"] == "ok" and h["database"] and h["payments"] and not h["degraded"]
    api.call("GET", "/me", admin)
    text = api.call("GET", "/metrics", None).text
    assert 'cairn_booking_http_requests_total{method="GET",route="/me",status="200"}' in text
    assert "# TYPE cairn_booking_holds_total counter" in text
    assert 'cairn_booking_degraded{strategy="pessimistic"} 0' in text


# -- auth and ownership -----------------------------------------------------------------------


def test_tokens_and_admin_role(api: Api, admin: str, stage: Stage) -> None:
    r = api.call("GET", "/events", None)
    _problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    _problem(api.call("GET", "/events", "nope"), 401, "unauthorized")
    _problem(
        api.call("GET", "/events", None, headers={"Authorization": "Basic x"}), 401, "unauthorized"
    )
    user = stage.tokens[0]
    venue = {
        "name": "V",
        "sections": [{"name": "A", "tier": "t", "rows": ["1"], "seats_per_row": 2}],
    }
    _problem(api.call("POST", "/venues", user, venue), 403, "forbidden")
    _problem(api.call("GET", "/admin/stats", user), 403, "forbidden")
    made = api.call("POST", "/users", admin, {"name": "newbie"})
    assert made.status_code == 201
    assert api.call("GET", "/me", made.json()["token"]).json()["name"] == "newbie"
    v = api.call("POST", "/venues", admin, venue)
    assert v.status_code == 201
    e = api.call(
        "POST",
        "/events",
        admin,
        {
            "venue_id": v.json()["id"],
            "name": "E",
            "starts_at": "2031-01-01T10:00:00+00:00",
            "prices": {"t": 700},
        },
    )
    assert e.status_code == 201
    seats = api.call("GET", f"/events/{e.json()['id']}/seats", user).json()
    assert seats["summary"] == {"free": 2, "held": 0, "sold": 0}
    assert e.json()["id"] in [x["id"] for x in api.call("GET", "/events", user).json()]


def test_users_never_see_or_change_each_others_holds_and_orders(api: Api, stage: Stage) -> None:
    a, b = stage.tokens[0], stage.tokens[1]
    ev = stage.event.id
    body = {"seat_ids": [stage.seat_ids["A"][0]]}
    key = f"shared-{uuid.uuid4().hex}"
    hold = api.call("POST", f"/events/{ev}/holds", a, body, key=key)
    assert hold.status_code == 201
    hid = hold.json()["id"]
    # B sends the same key and body: keys are per user, so B's request runs as B's own (the
    # seat is taken) and A's stored answer (A's hold) is never replayed to B.
    theirs = api.call("POST", f"/events/{ev}/holds", b, body, key=key)
    _problem(theirs, 409, "seat_unavailable")
    assert "idempotency-replayed" not in theirs.headers and hid not in theirs.text
    _problem(api.call("GET", f"/holds/{hid}", b), 404, "not_found")
    _problem(api.call("DELETE", f"/holds/{hid}", b), 404, "not_found")
    _problem(api.call("POST", f"/holds/{hid}/checkout", b), 404, "not_found")
    assert api.call("GET", f"/holds/{hid}", a).json()["status"] == "active"
    order = api.call("POST", f"/holds/{hid}/checkout", a)
    assert order.status_code == 201 and order.json()["status"] == "paid"
    oid = order.json()["id"]
    _problem(api.call("GET", f"/orders/{oid}", b), 404, "not_found")
    _problem(api.call("POST", f"/orders/{oid}/cancel", b), 404, "not_found")
    assert api.call("GET", "/orders", b).json() == []
    assert [o["id"] for o in api.call("GET", "/orders", a).json()] == [oid]
    cancelled = api.call("POST", f"/orders/{oid}/cancel", a)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "refunded"


# -- malformed and hostile requests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"seat_ids": ["1"]}, 422, "validation_failed"),
        ({"seat_ids": [True]}, 422, "validation_failed"),
        ({"seat_ids": []}, 422, "validation_failed"),
        ({"seat_ids": list(range(1, 30))}, 422, "validation_failed"),
        ({"seat_ids": [1, 1]}, 422, "validation_failed"),
        ({"seat_ids": [10**30]}, 422, "validation_failed"),
        ({"seat_ids": [-5]}, 422, "validation_failed"),
        ({"seat_ids": 3}, 422, "validation_failed"),
        ({"section": "A", "count": True}, 422, "validation_failed"),
        ({"section": "A\x00", "count": 1}, 422, "validation_failed"),
        ({"section": "A", "count": 0}, 422, "validation_failed"),
        ({"seat_ids": [1], "section": "A", "count": 1}, 422, "validation_failed"),
        ({"seat_ids": [1], "ttl_ms": "soon"}, 422, "validation_failed"),
        ({}, 422, "validation_failed"),
        ({"seat_ids": [999_999_999]}, 404, "not_found"),
    ],
)
def test_bad_hold_requests_get_clear_4xx_and_write_nothing(
    api: Api, stage: Stage, body: dict, status: int, code: str
) -> None:
    r = api.call("POST", f"/events/{stage.event.id}/holds", stage.tokens[0], body)
    _problem(r, status, code)
    with api.svc.db.pool.connection() as conn:
        n = conn.execute(
            "SELECT COUNT(*) FROM holds WHERE event_id = %s", (stage.event.id,)
        ).fetchone()
    assert n is not None and n[0] == 0


_SECTION = {"name": "A", "tier": "t", "rows": ["1"], "seats_per_row": 2}


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/venues", {"name": "V", "sections": []}, 422, "validation_failed"),
        ("/venues", {"name": "V", "sections": "A"}, 422, "validation_failed"),
        ("/venues", {"name": "V", "sections": [3]}, 422, "validation_failed"),
        ("/venues", {"name": "V", "sections": [_SECTION, _SECTION]}, 422, "validation_failed"),
        (
            "/venues",
            {"name": "V", "sections": [_SECTION | {"rows": [1]}]},
            422,
            "validation_failed",
        ),
        (
            "/venues",
            {"name": "V", "sections": [_SECTION | {"seats_per_row": 0}]},
            422,
            "validation_failed",
        ),
        ("/venues", {"name": "", "sections": [_SECTION]}, 422, "validation_failed"),
        ("/venues", {"sections": [_SECTION]}, 422, "validation_failed"),
        ("/events", {"venue_id": "x", "name": "E"}, 422, "validation_failed"),
        (
            "/events",
            {
                "venue_id": 999_999_999,
                "name": "E",
                "starts_at": "2031-01-01T10:00:00+00:00",
                "prices": {"t": 1},
            },
            404,
            "not_found",
        ),
        (
            "/events",
            {"venue_id": 1, "name": "E", "starts_at": "next week", "prices": {"t": 1}},
            422,
            "validation_failed",
        ),
        (
            "/events",
            {"venue_id": 1, "name": "E", "starts_at": "2031-01-01T10:00:00", "prices": {"t": 1}},
            422,
            "validation_failed",
        ),
        (
            "/events",
            {
                "venue_id": 1,
                "name": "E",
                "starts_at": "2031-01-01T10:00:00+00:00",
                "prices": {"t": -1},
            },
            422,
            "validation_failed",
        ),
        ("/users", {"name": 7}, 422, "validation_failed"),
        ("/users", {"name": "x", "is_admin": "yes"}, 422, "validation_failed"),
    ],
)
def test_bad_admin_requests_get_clear_4xx_and_write_nothing(
    api: Api, admin: str, path: str, body: dict, status: int, code: str
) -> None:
    def counts() -> tuple:
        with api.svc.db.pool.connection() as conn:
            return tuple(
                conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
                for table in ("venues", "sections", "seats", "events", "event_seats", "users")
            )

    before = counts()
    _problem(api.call("POST", path, admin, body), status, code)
    assert counts() == before


def test_protocol_violations(api: Api, stage: Stage) -> None:
    tok = stage.tokens[0]
    path = f"/events/{stage.event.id}/holds"
    auth = {"Authorization": f"Bearer {tok}"}
    r = HTTP.post(api.url + path, content=b"{bad", headers=auth | {"Idempotency-Key": "k" * 10})
    _problem(r, 400, "bad_request")
    r = HTTP.post(api.url + path, content=b"[1,2]", headers=auth | {"Idempotency-Key": "k" * 11})
    _problem(r, 400, "bad_request")
    r = HTTP.post(api.url + path, content=b"\xff\xfe", headers=auth | {"Idempotency-Key": "k" * 12})
    _problem(r, 400, "bad_request")
    big = b'{"seat_ids": [' + b"1," * 40_000 + b"1]}"
    r = HTTP.post(api.url + path, content=big, headers=auth | {"Idempotency-Key": "k" * 13})
    _problem(r, 413, "payload_too_large")
    _problem(api.call("POST", path, tok, {"seat_ids": [1]}, key=None), 400, "bad_request")
    _problem(api.call("POST", path, tok, {"seat_ids": [1]}, key="short"), 422, "validation_failed")
    _problem(
        api.call("POST", path, tok, {"seat_ids": [1]}, key="../../etc/passwd"),
        422,
        "validation_failed",
    )
    _problem(api.call("GET", "/holds/..%2F..%2Fetc", tok), 404, "not_found")
    _problem(api.call("GET", "/events/abc/seats", tok), 404, "not_found")
    _problem(api.call("GET", "/events/99999999/seats", tok), 404, "not_found")
    _problem(api.call("PUT", "/events", tok, {}), 405, "method_not_allowed")
    _problem(api.call("GET", "/no/such/path", tok), 404, "not_found")


# -- idempotency over HTTP ----------------------------------------------------------------------


def test_idempotent_replay_mismatch_and_checkout_retry(api: Api, sim: Sim, stage: Stage) -> None:
    sim.reset()
    tok = stage.tokens[2]
    path = f"/events/{stage.event.id}/holds"
    seat = stage.seat_ids["B"][0]
    first = api.call("POST", path, tok, {"seat_ids": [seat]}, key="hold-key-0001")
    again = api.call("POST", path, tok, {"seat_ids": [seat]}, key="hold-key-0001")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["idempotency-replayed"] == "true"
    _problem(
        api.call("POST", path, tok, {"seat_ids": [seat + 1]}, key="hold-key-0001"),
        422,
        "idempotency_key_reused",
    )
    # the same key from another user is another key
    other = api.call("POST", path, stage.tokens[3], {"seat_ids": [seat]}, key="hold-key-0001")
    _problem(other, 409, "seat_unavailable")
    hid = first.json()["id"]
    c1 = api.call("POST", f"/holds/{hid}/checkout", tok, key="pay-key-0001")
    c2 = api.call("POST", f"/holds/{hid}/checkout", tok, key="pay-key-0001")
    assert c1.status_code == c2.status_code == 201 and c1.json() == c2.json()
    assert sim.ledger()["by_status"] == {"captured": 1}
    # a definitive failure is stored too: the replay is the same 409
    r1 = api.call("POST", f"/holds/{hid}/checkout", tok, key="pay-key-0002")
    r2 = api.call("POST", f"/holds/{hid}/checkout", tok, key="pay-key-0002")
    _problem(r1, 409, "invalid_state")
    assert r2.json() == r1.json() and r2.headers["idempotency-replayed"] == "true"


def test_concurrent_requests_with_one_key_run_once(api: Api, stage: Stage) -> None:
    tok = stage.tokens[1]
    path = f"/events/{stage.event.id}/holds"

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        path,
                        json={"section": "B", "count": 2},
                        headers={
                            "Authorization": f"Bearer {tok}",
                            "Idempotency-Key": "same-key-42",
                        },
                    )
                    for _ in range(12)
                )
            )

    responses = asyncio.run(main())
    assert {r.status_code for r in responses} <= {201, 409}
    winners = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(winners) == 1
    # Every other request was told to retry (the key is busy), or got the stored answer.
    for r in responses:
        if r.status_code == 409:
            _problem(r, 409, "idempotency_in_progress")
    replays = [r for r in responses if r.headers.get("idempotency-replayed") == "true"]
    assert len(replays) == sum(r.status_code == 201 for r in responses) - 1
    with api.svc.db.pool.connection() as conn:
        n = conn.execute(
            "SELECT COUNT(*) FROM holds WHERE event_id = %s", (stage.event.id,)
        ).fetchone()
    assert n is not None and n[0] == 1


# -- concurrency over HTTP, per strategy --------------------------------------------------------


async def _storm(url: str, path: str, tokens: list[str], body: dict) -> list[int]:
    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=100)
    ) as client:
        rs = await asyncio.gather(
            *(
                client.post(
                    path,
                    json=body,
                    headers={
                        "Authorization": f"Bearer {t}",
                        "Idempotency-Key": f"k-{uuid.uuid4().hex}",
                    },
                )
                for t in tokens
            )
        )
    return [r.status_code for r in rs]


@pytest.mark.parametrize("strategy", ["pessimistic", "optimistic", "redis"])
def test_many_clients_one_seat_exactly_one_wins(
    svc: BookingService, sim: Sim, strategy: str
) -> None:
    other = BookingService(
        service_config(svc.config.schema, sim.url, strategy=strategy, migrate=False)
    )
    server = _serve(other)
    try:
        stage = make_stage(other.db, users=40)
        seat = stage.seat_ids["A"][0]
        path = f"/events/{stage.event.id}/holds"
        codes = asyncio.run(_storm(server.url, path, stage.tokens, {"seat_ids": [seat]}))
        assert codes.count(201) == 1
        assert set(codes) <= {201, 409}
        assert oversold_seats(other.db, stage.event.id) == 0
        # the winner's answer was stored with its hold (same transaction); no key is left
        # locked, so every loser may retry its key
        with other.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT k.response_code, k.response_body, k.locked_at IS NULL "
                "FROM idempotency_keys k JOIN users u ON u.id = k.user_id "
                f"WHERE u.id IN ({', '.join(str(x.id) for x in stage.users)})"
            ).fetchall()
        assert len(rows) == 40 and all(unlocked for _, _, unlocked in rows)
        stored = [json.loads(body)["id"] for code, body, _ in rows if code == 201]
        assert len(stored) == 1
        with other.db.pool.connection() as conn:
            st = conn.execute("SELECT status FROM holds WHERE id = %s", (stored[0],)).fetchone()
        assert st is not None and st[0] == "active"
    finally:
        server.stop()
        other.close()


def test_redis_down_degrades_to_pessimistic_and_never_double_books(
    svc: BookingService, sim: Sim
) -> None:
    other = BookingService(
        service_config(
            svc.config.schema,
            sim.url,
            strategy="redis",
            redis_url="redis://127.0.0.1:1/0",
            migrate=False,
        )
    )
    server = _serve(other)
    try:
        stage = make_stage(other.db, users=30)
        seat = stage.seat_ids["B"][0]
        codes = asyncio.run(
            _storm(
                server.url, f"/events/{stage.event.id}/holds", stage.tokens, {"seat_ids": [seat]}
            )
        )
        assert codes.count(201) == 1 and set(codes) <= {201, 409}
        health = HTTP.get(server.url + "/health").json()
        assert health["status"] == "degraded" and health["redis"] is False
        assert health["mode"] == "pessimistic-fallback"
        text = HTTP.get(server.url + "/metrics").text
        assert 'cairn_booking_degraded{strategy="redis"} 1' in text
        assert "cairn_booking_redis_up 0" in text
        fallbacks = re.search(
            r'^cairn_booking_holds_total\{strategy="redis",outcome="fallbacks"\} (\d+)$',
            text,
            re.MULTILINE,
        )
        assert fallbacks is not None and int(fallbacks.group(1)) >= 1
        assert other.strategy.stats.snapshot()["fallbacks"] == int(fallbacks.group(1))
    finally:
        server.stop()
        other.close()


# -- webhooks -----------------------------------------------------------------------------------


def test_duplicate_webhooks_are_recorded_once(api: Api, sim: Sim, stage: Stage) -> None:
    sim.reset()
    sim.faults(duplicate_webhooks=1.0, webhook_url=f"{api.url}/webhooks/payments")
    tok = stage.tokens[0]
    hold = api.call(
        "POST", f"/events/{stage.event.id}/holds", tok, {"seat_ids": [stage.seat_ids["B"][5]]}
    ).json()
    order = api.call("POST", f"/holds/{hold['id']}/checkout", tok).json()
    assert order["status"] == "paid"
    end = time.monotonic() + 5
    rows: list = []
    while time.monotonic() < end:
        with api.svc.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT kind, deliveries FROM payment_events pe JOIN orders o "
                "ON o.auth_id = pe.auth_id WHERE o.id = %s ORDER BY kind",
                (order["id"],),
            ).fetchall()
        if len(rows) == 2 and all(d == 2 for _, d in rows):
            break
        time.sleep(0.05)
    assert rows == [("authorization.created", 2), ("charge.captured", 2)]
    bad = HTTP.post(
        api.url + "/webhooks/payments", content=b'{"id":"x"}', headers={"x-signature": "forged"}
    )
    _problem(bad, 401, "unauthorized")
    sim.faults()


# -- the first minutes: the root URL, deep JSON, expired holds --------------------------------


def test_root_url_is_a_json_index_and_docs_is_a_page(api: Api) -> None:
    r = api.call("GET", "/", None)
    assert r.status_code == 200, r.text
    index = r.json()
    assert index["openapi"] == "/openapi.json" and index["docs"] == "/docs"
    for link in ("openapi", "docs", "health", "metrics"):
        assert api.call("GET", index[link], None).status_code == 200, link
    page = api.call("GET", "/docs", None)
    assert page.headers["content-type"].startswith("text/html")
    assert "/events/{event_id}/holds" in page.text and "Idempotency-Key" in page.text
    assert "<script" not in page.text


@pytest.mark.parametrize("depth", [100, 1_000, 30_000])
def test_deeply_nested_json_is_a_400_problem(api: Api, stage: Stage, depth: int) -> None:
    """JSON nested ~1,000 deep made the parser raise RecursionError: a 500 with a traceback."""
    body = b'{"seat_ids": ' + b"[" * depth + b"]" * depth + b"}"
    headers = {"Authorization": f"Bearer {stage.tokens[0]}", "Idempotency-Key": f"deep-{depth}"}
    r = HTTP.post(api.url + f"/events/{stage.event.id}/holds", content=body, headers=headers)
    _problem(r, 400, "bad_request")
    assert "nested deeper" in r.json()["detail"]


def test_expired_hold_is_410_for_release_and_checkout_alike(api: Api, stage: Stage) -> None:
    """Before the expiry worker gets to it, DELETE of an expired hold said 200 (released)
    while checkout of the same hold said 410: both say 410 hold_expired now."""
    seat = stage.seat_ids["A"][4]
    tok = stage.tokens[0]
    r = api.call("POST", f"/events/{stage.event.id}/holds", tok, {"seat_ids": [seat]})
    assert r.status_code == 201, r.text
    hold = r.json()["id"]
    with api.svc.db.pool.connection() as conn:  # its time runs out (the worker has not run)
        conn.execute(
            "UPDATE holds SET expires_at = CURRENT_TIMESTAMP - interval '1 second' "
            "WHERE id = %s",
            (hold,),
        )
    _problem(api.call("DELETE", f"/holds/{hold}", tok), 410, "hold_expired")
    _problem(api.call("POST", f"/holds/{hold}/checkout", tok), 410, "hold_expired")
    with api.svc.db.pool.connection() as conn:
        conn.execute("UPDATE holds SET status = 'expired' WHERE id = %s", (hold,))
    _problem(api.call("DELETE", f"/holds/{hold}", tok), 410, "hold_expired")
    _problem(api.call("POST", f"/holds/{hold}/checkout", tok), 410, "hold_expired")
