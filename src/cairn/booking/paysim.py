"""A payment provider simulator: its own HTTP service, with fault injection and idempotency.

The booking service talks to it over HTTP exactly as it would to a real card processor
(authorize, capture, void, refund; webhooks), so the saga's failure handling is exercised by
real network failures: declines, timeouts (the operation *is* performed, only the answer is
lost: the dangerous case), 5xx (not performed), slow answers and duplicate webhooks.

Its own idempotency (the Stripe model): every POST carries an ``Idempotency-Key``; the first
result per (operation, key) is stored and replayed for retries, the same key with another body
is refused with 422, and a retry while the first is still running gets 409. 5xx answers are not
stored, so a retry runs again. State is in memory: the simulator is a test double of someone
else's durable system, and it stays up while the booking service is killed and restarted.

Faults are set with ``POST /admin/faults``: rates (``decline``, ``timeout``, ``error``,
``slow``) drawn from a seeded RNG, plus a ``script``: a queue of ``{"op": ..., "fault": ...}``
consumed first-match per operation, for tests that need one exact failure at one exact step.
A card ``tok_decline`` is always declined. ``GET /v1/ledger`` gives the money totals.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

OPS = ("authorize", "capture", "void", "refund")
FAULTS = ("none", "decline", "timeout", "error", "slow")
RATE_FAULTS = ("error", "timeout", "decline", "slow")  # order in which rates are drawn
# operation -> (states it may start from, state it leads to, webhook it sends); voiding a
# voided authorization is a no-op success, the other operations are not repeatable by state.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "capture": (("authorized",), "captured", "charge.captured"),
    "void": (("authorized", "voided"), "voided", "authorization.voided"),
    "refund": (("captured",), "refunded", "charge.refunded"),
}


@dataclass
class Authorization:
    id: str
    amount_cents: int
    reference: str
    status: str  # authorized | captured | voided | refunded
    captured_cents: int = 0
    refunded_cents: int = 0


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=dict)  # fault -> probability
    ops: tuple[str, ...] = OPS  # operations the rates apply to
    script: list[dict[str, str]] = field(default_factory=list)
    slow_ms: float = 200.0
    hang_s: float = 5.0  # how long a "timeout" answer is held back
    duplicate_webhooks: float = 0.0
    seed: int = 0


@dataclass
class SimState:
    auths: dict[str, Authorization] = field(default_factory=dict)
    results: dict[tuple[str, str], tuple[str, int, dict]] = field(default_factory=dict)
    running: set[tuple[str, str]] = field(default_factory=set)
    faults: FaultConfig = field(default_factory=FaultConfig)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    counts: dict[str, int] = field(default_factory=dict)
    webhook_url: str | None = None
    webhook_secret: str = "whsec_cairn"
    webhooks_sent: int = 0

    def bump(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _problem(status: int, code: str, detail: str) -> tuple[int, dict]:
    return status, {"error": code, "detail": detail}


def _pick_fault(state: SimState, op: str) -> str:
    for i, item in enumerate(state.faults.script):
        if item.get("op") == op:
            del state.faults.script[i]
            return item.get("fault", "none")
    if op in state.faults.ops:
        draw = state.rng.random()
        acc = 0.0
        for name in RATE_FAULTS:
            acc += state.faults.rates.get(name, 0.0)
            if draw < acc:
                return name
    return "none"


def create_app(state: SimState | None = None) -> Starlette:
    st = state or SimState()
    background: set[asyncio.Task] = set()
    clients: dict[str, httpx.AsyncClient] = {}

    async def send_webhook(kind: str, auth: Authorization, amount: int) -> None:
        if not st.webhook_url:
            return
        body = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex}",
                "type": kind,
                "auth_id": auth.id,
                "amount_cents": amount,
            }
        ).encode()
        copies = 2 if st.rng.random() < st.faults.duplicate_webhooks else 1
        headers = {"content-type": "application/json", "x-signature": sign(st.webhook_secret, body)}
        if "client" not in clients:  # one client: creating one costs ~0.25 s of CPU
            clients["client"] = httpx.AsyncClient(timeout=2.0)
        client = clients["client"]
        for _ in range(copies):
            # At-least-once delivery: a failed delivery is not retried here (the receiver
            # must cope with loss as well as duplicates).
            with contextlib.suppress(httpx.HTTPError):
                await client.post(st.webhook_url, content=body, headers=headers)
                st.webhooks_sent += 1

    def webhook(kind: str, auth: Authorization, amount: int) -> None:
        task = asyncio.get_running_loop().create_task(send_webhook(kind, auth, amount))
        background.add(task)
        task.add_done_callback(background.discard)

    async def idempotent(
        request: Request, op: str, run: Callable[[dict], Awaitable[tuple[int, dict]]]
    ) -> JSONResponse:
        key = request.headers.get("idempotency-key", "")
        if not 1 <= len(key) <= 200:
            return JSONResponse({"error": "missing_idempotency_key"}, 400)
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return JSONResponse({"error": "malformed_json"}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be an object"}, 400)
        path_params = dict(request.path_params)
        fp = hashlib.sha256(
            json.dumps([op, path_params, body], sort_keys=True).encode()
        ).hexdigest()
        slot = (op, key)
        st.bump(f"{op}_requests")
        if slot in st.results:
            stored_fp, status, payload = st.results[slot]
            if stored_fp != fp:
                return JSONResponse({"error": "idempotency_key_reused"}, 422)
            st.bump(f"{op}_replays")
            return JSONResponse(payload, status, headers={"idempotent-replayed": "true"})
        if slot in st.running:
            return JSONResponse({"error": "idempotency_in_progress"}, 409)
        fault = _pick_fault(st, op)
        st.bump(f"fault_{fault}")
        if fault == "error":
            return JSONResponse({"error": "internal_error"}, 503)  # not performed, not stored
        st.running.add(slot)
        try:
            if fault == "slow":
                await asyncio.sleep(st.faults.slow_ms / 1000)
            if fault == "decline":
                status, payload = _problem(402, "card_declined", "simulated decline")
            else:
                status, payload = await run(body | {"_path": path_params})
            st.results[slot] = (fp, status, payload)
        finally:
            st.running.discard(slot)
        if fault == "timeout":
            # Performed and stored, but the answer comes too late: the client sees a timeout.
            await asyncio.sleep(st.faults.hang_s)
        return JSONResponse(payload, status)

    def auth_json(a: Authorization) -> dict:
        return {
            "id": a.id,
            "status": a.status,
            "amount_cents": a.amount_cents,
            "captured_cents": a.captured_cents,
            "refunded_cents": a.refunded_cents,
            "reference": a.reference,
        }

    async def do_authorize(body: dict) -> tuple[int, dict]:
        amount = body.get("amount_cents")
        if type(amount) is not int or amount <= 0:
            return _problem(400, "invalid_amount", "amount_cents must be a positive integer")
        if body.get("card", "tok_visa") == "tok_decline":
            return _problem(402, "card_declined", "card tok_decline")
        auth = Authorization(
            f"auth_{uuid.uuid4().hex[:20]}", amount, str(body.get("reference", "")), "authorized"
        )
        st.auths[auth.id] = auth
        webhook("authorization.created", auth, amount)
        return 201, auth_json(auth)

    def _find(body: dict) -> Authorization | None:
        return st.auths.get(str(body["_path"].get("auth_id", "")))

    def do_transition(op: str) -> Callable[[dict], Awaitable[tuple[int, dict]]]:
        """Capture, void or refund: the states each may start from, then the state change,
        the amount it moves and its webhook (:data:`TRANSITIONS`)."""
        allowed, to, hook = TRANSITIONS[op]

        async def run(body: dict) -> tuple[int, dict]:
            auth = _find(body)
            if auth is None:
                return _problem(404, "no_such_authorization", "unknown authorization")
            if auth.status not in allowed:
                return _problem(409, "invalid_state", f"authorization is {auth.status}")
            amount = 0
            if to == "captured":
                auth.captured_cents = amount = auth.amount_cents
            elif to == "refunded":
                auth.refunded_cents = amount = auth.captured_cents
            auth.status = to
            webhook(hook, auth, amount)
            return 200, auth_json(auth)

        return run

    async def authorize(request: Request) -> JSONResponse:
        return await idempotent(request, "authorize", do_authorize)

    async def capture(request: Request) -> JSONResponse:
        return await idempotent(request, "capture", do_transition("capture"))

    async def void(request: Request) -> JSONResponse:
        return await idempotent(request, "void", do_transition("void"))

    async def refund(request: Request) -> JSONResponse:
        return await idempotent(request, "refund", do_transition("refund"))

    async def get_auth(request: Request) -> JSONResponse:
        auth = st.auths.get(request.path_params["auth_id"])
        if auth is None:
            return JSONResponse({"error": "no_such_authorization"}, 404)
        return JSONResponse(auth_json(auth))

    async def ledger(request: Request) -> JSONResponse:
        by_status: dict[str, int] = {}
        for a in st.auths.values():
            by_status[a.status] = by_status.get(a.status, 0) + 1
        captured = sum(a.captured_cents for a in st.auths.values())
        refunded = sum(a.refunded_cents for a in st.auths.values())
        held = sum(a.amount_cents for a in st.auths.values() if a.status == "authorized")
        return JSONResponse(
            {
                "captured_cents": captured,
                "refunded_cents": refunded,
                "net_captured_cents": captured - refunded,
                "authorized_outstanding_cents": held,
                "by_status": by_status,
                "counts": st.counts,
                "webhooks_sent": st.webhooks_sent,
            }
        )

    async def set_faults(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"{}")
            rates = {str(k): float(v) for k, v in body.get("rates", {}).items()}
            script = [
                {"op": str(i["op"]), "fault": str(i["fault"])} for i in body.get("script", [])
            ]
            if any(k not in RATE_FAULTS for k in rates) or sum(rates.values()) > 1.0:
                raise ValueError("rates: keys in error/timeout/decline/slow, sum <= 1")
            if any(i["op"] not in OPS or i["fault"] not in FAULTS for i in script):
                raise ValueError(f"script: op in {OPS}, fault in {FAULTS}")
            ops = tuple(body.get("ops", OPS))
            cfg = FaultConfig(
                rates=rates,
                ops=ops,
                script=script,
                slow_ms=float(body.get("slow_ms", 200.0)),
                hang_s=float(body.get("hang_s", 5.0)),
                duplicate_webhooks=float(body.get("duplicate_webhooks", 0.0)),
                seed=int(body.get("seed", 0)),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": "bad_fault_config", "detail": str(exc)}, 400)
        st.faults = cfg
        st.rng = random.Random(cfg.seed)
        if "webhook_url" in body:
            st.webhook_url = body["webhook_url"] or None
        if "webhook_secret" in body:
            st.webhook_secret = str(body["webhook_secret"])
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> JSONResponse:
        st.auths.clear()
        st.results.clear()
        st.counts.clear()
        st.faults = FaultConfig()
        st.rng = random.Random(0)
        st.webhooks_sent = 0
        st.webhook_url = None
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/authorizations", authorize, methods=["POST"]),
            Route("/v1/authorizations/{auth_id}", get_auth, methods=["GET"]),
            Route("/v1/authorizations/{auth_id}/capture", capture, methods=["POST"]),
            Route("/v1/authorizations/{auth_id}/void", void, methods=["POST"]),
            Route("/v1/authorizations/{auth_id}/refund", refund, methods=["POST"]),
            Route("/v1/ledger", ledger, methods=["GET"]),
            Route("/admin/faults", set_faults, methods=["POST"]),
            Route("/admin/reset", reset, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free port with no race (the socket stays open)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets on Linux: without it, a response written as headers +
    # body waits for the client's delayed ACK (Nagle): ~40 ms per keep-alive request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ThreadedServer:
    """Run a Starlette app under uvicorn in a background thread (embedded use, ``serve``)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ThreadedServer:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
