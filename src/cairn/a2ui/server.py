"""The HTTP transport: Server-Sent Events down, POST up, JSONL as a second framing.

A small documented envelope of our own (A2UI defines no SSE binding; see docs/a2ui.md):

* ``GET /a2ui/stream``: SSE, one A2UI message per ``event: a2ui`` (``id:`` = sequence number,
  ``data:`` = the message JSON); agent text/status/errors as ``event: cairn``. Reconnect
  with ``Last-Event-ID`` replays after that id, or re-creates surfaces cleanly
  (:mod:`cairn.a2ui.session`).
* ``POST /a2ui/send``: ``{"text": ...}`` or ``{"a2ui": <action|error>,
  "a2uiClientCapabilities": ..., "a2uiClientDataModel": ...}`` → ``202``; results arrive on
  the stream.
* ``POST /a2ui/jsonl``: the same request; the response streams that turn's messages, one JSON
  object per line (chunked), ending with ``{"cairn": {"type": "done", ...}}``.

Sessions are a random cookie (``cairn_session``, HttpOnly, SameSite=Strict) set on first
contact; a session only ever sees its own surfaces and data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.a2ui.agent.base import Agent
from cairn.a2ui.catalog import BASIC_CATALOG_ID, CAIRN_CATALOG_ID, CATALOG_DIR
from cairn.a2ui.errors import A2uiError, MalformedRequest, PayloadTooLarge, UnknownSurface
from cairn.a2ui.inbound import check_action, check_client_data_model
from cairn.a2ui.messages import (
    ActionMessage,
    ClientCapabilities,
    ErrorMessage,
    parse_client_message,
)
from cairn.a2ui.session import Session, SessionStore, StreamEvent, Subscriber
from cairn.a2ui.validate import Validator
from cairn.encoding import loads_bounded

log = logging.getLogger(__name__)

COOKIE = "cairn_session"
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 1 << 20  # 1 MiB: an action, its context and a data model fit easily
MAX_TEXT = 2000
MAX_FRAMES_PER_WRITE = 256  # bounds one write of the SSE stream (a snapshot is one event each)


# The requests that need a session: the page a browser opens (its cookie is set there, before
# the client's first stream or send) and the A2UI endpoints. Health checks, static assets and
# catalogs never create one: 200 cookieless health checks made 200 sessions and pushed real
# users' idle sessions out of the bounded store.
SESSION_PATHS = frozenset({"/", "/index.html", "/a2ui/stream", "/a2ui/send", "/a2ui/jsonl"})


class SessionMiddleware:
    """Attach the caller's :class:`Session` to the scope (``None`` if it has none); create one
    (and its cookie) only for a request in :data:`SESSION_PATHS`."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sid = None
        for k, v in scope.get("headers", []):
            if k == b"cookie":
                for part in v.decode("latin-1").split(";"):
                    name, _, value = part.strip().partition("=")
                    if name == COOKIE:
                        sid = value
        session = self.store.get(sid)
        new = session is None and scope.get("path", "") in SESSION_PATHS
        if new:
            session = self.store.create()
        scope.setdefault("state", {})["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if new and message["type"] == "http.response.start":
                cookie = (f"{COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict; "
                          "Max-Age=86400")
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _error(exc: A2uiError) -> JSONResponse:
    return JSONResponse({"error": exc.to_json()}, status_code=exc.http_status)


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, refusing more than ``limit`` bytes before reading it all."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    try:
        return loads_bounded(b"".join(chunks), parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"request body is not JSON: {str(exc)[:120]}") from exc


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def sse_frame(ev: StreamEvent) -> bytes:
    # JSON never contains a raw newline, so one data: line per event is safe.
    return f"id: {ev.seq}\nevent: {ev.kind}\ndata: {ev.json}\n\n".encode()


async def sse_chunks(sub: Subscriber, backlog: list[StreamEvent],
                     keepalive_s: float) -> AsyncIterator[bytes]:
    """The bytes of one SSE stream: ``retry`` and the backlog, then live events as they come.

    Everything already queued (e.g. the seats of one change) goes out in one write: one wake-up
    of the browser's network stack and renderer, not one per event. Nothing waits for more
    events to batch: the write happens as soon as the first one is there.
    """
    yield b"retry: 1000\n\n" + b"".join(sse_frame(ev) for ev in backlog)
    while True:
        try:
            async with asyncio.timeout(keepalive_s):
                ev = await sub.queue.get()
        except TimeoutError:
            yield b": keepalive\n\n"
            continue
        if ev is None:
            return  # overflow: the client reconnects and resumes
        frames = [sse_frame(ev)]
        while not sub.queue.empty() and len(frames) < MAX_FRAMES_PER_WRITE:
            nxt = sub.queue.get_nowait()
            if nxt is None:
                yield b"".join(frames)
                return
            frames.append(sse_frame(nxt))
        yield b"".join(frames)


def create_app(agent: Agent | None = None, *, validator: Validator | None = None,
               static_dir: Path | None = STATIC_DIR, max_body: int = MAX_BODY,
               keepalive_s: float = 15.0,
               on_startup: list[Callable[[], Awaitable[None]]] | None = None,
               on_shutdown: list[Callable[[], Awaitable[None]]] | None = None) -> Starlette:
    """The A2UI app. ``agent`` defaults to the deterministic agent without booking."""
    if validator is None:
        validator = Validator()
    if agent is None:
        from cairn.a2ui.agent.core import DeterministicAgent

        agent = DeterministicAgent()
    store = SessionStore(validator)
    bind = getattr(agent, "bind_sessions", None)
    if bind is not None:
        # Live updates (seat changes) go to every session's open surfaces.
        bind(lambda: list(store.sessions.values()))
    tasks: set[asyncio.Task[None]] = set()

    def session_of(request: Request) -> Session:
        return request.scope["state"]["session"]

    async def run_turn(session: Session, coro: Awaitable[None], turn: int,
                       quiet: bool = False) -> None:
        async with session.turn_lock:
            try:
                await coro
            except A2uiError as exc:
                session.say("error", f"I could not build that screen: {exc}", code=exc.code)
            except Exception as exc:  # the stream must survive any agent bug
                log.exception("agent turn failed")
                session.say("error", f"Something went wrong: {type(exc).__name__}: {exc}")
            finally:
                if not quiet:  # the first screen is no turn a client waits for
                    session.say("done", "", turn=turn)

    async def parse_request(request: Request) -> tuple[Session, Awaitable[None]]:
        session = session_of(request)
        body = await read_json(request, max_body)
        if not isinstance(body, dict):
            raise MalformedRequest("the body must be a JSON object")
        unknown = set(body) - {"text", "a2ui", "a2uiClientCapabilities", "a2uiClientDataModel"}
        if unknown:
            raise MalformedRequest(f"unknown fields {sorted(unknown)[:5]}")
        if "a2uiClientCapabilities" in body:
            session.capabilities = ClientCapabilities.parse(body["a2uiClientCapabilities"])
        if "a2uiClientDataModel" in body:
            session.client_data.update(check_client_data_model(
                body["a2uiClientDataModel"], session))
        if ("text" in body) == ("a2ui" in body):
            raise MalformedRequest("send exactly one of 'text' and 'a2ui'")
        if "text" in body:
            text = body["text"]
            if not isinstance(text, str) or not text.strip():
                raise MalformedRequest("'text' must be a non-empty string", "/text")
            if len(text) > MAX_TEXT or "\x00" in text:
                raise MalformedRequest(f"'text' is limited to {MAX_TEXT} characters "
                                       "without NUL", "/text")
            return session, agent.on_text(session, text.strip())
        msg = parse_client_message(body["a2ui"])
        if isinstance(msg, ActionMessage):
            check_action(msg, session)
            return session, agent.on_action(session, msg)
        assert isinstance(msg, ErrorMessage)
        if msg.surface_id not in session.surfaces:
            raise UnknownSurface(f"surface {msg.surface_id!r} does not exist",
                                 "/a2ui/error/surfaceId")
        return session, agent.on_client_error(session, msg)

    def start_turn(session: Session, coro: Awaitable[None], quiet: bool = False) -> int:
        turn = session.seq + 1  # the id of the first event this turn may produce
        task = asyncio.get_running_loop().create_task(run_turn(session, coro, turn, quiet))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return turn

    async def send(request: Request) -> Response:
        try:
            session, coro = await parse_request(request)
        except A2uiError as exc:
            return _error(exc)
        turn = start_turn(session, coro)
        return JSONResponse({"accepted": True, "turn": turn}, status_code=202)

    async def jsonl(request: Request) -> Response:
        try:
            session, coro = await parse_request(request)
        except A2uiError as exc:
            return _error(exc)
        sub, _ = session.attach(str(session.seq))  # live events only
        turn = start_turn(session, coro)

        async def lines() -> AsyncIterator[bytes]:
            try:
                while True:
                    ev = await sub.queue.get()
                    if ev is None:
                        yield b'{"cairn":{"type":"error","text":"stream overflow"}}\n'
                        return
                    if not isinstance(ev.seq, int) or ev.seq < turn:
                        continue
                    line = ev.json if ev.kind == "a2ui" else '{"cairn":' + ev.json + "}"
                    yield line.encode() + b"\n"
                    if ev.kind == "cairn" and ev.data is not None and \
                            ev.data.get("type") == "done" and ev.data.get("turn") == turn:
                        return
            finally:
                session.detach(sub)

        return StreamingResponse(lines(), media_type="application/jsonl",
                                 headers={"Cache-Control": "no-store"})

    async def stream(request: Request) -> Response:
        session = session_of(request)
        last = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        sub, backlog = session.attach(last)
        connect = getattr(agent, "on_connect", None)
        if connect is not None and not session.state.get("connected") and not session.surfaces:
            # The first stream of a fresh session: the agent may fill the first screen.
            session.state["connected"] = True
            start_turn(session, connect(session), quiet=True)

        async def events() -> AsyncIterator[bytes]:
            try:
                async for chunk in sse_chunks(sub, backlog, keepalive_s):
                    yield chunk
            finally:
                session.detach(sub)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def capabilities(request: Request) -> Response:
        return JSONResponse({"v0.9": {"supportedCatalogIds": [CAIRN_CATALOG_ID,
                                                               BASIC_CATALOG_ID],
                                      "acceptsInlineCatalogs": False}})

    async def cairn_catalog(request: Request) -> Response:
        return FileResponse(CATALOG_DIR / "cairn" / "catalog.json",
                            media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "sessions": len(store.sessions)})

    async def no_client(request: Request) -> Response:
        return PlainTextResponse("cairn A2UI server: the web client is not built "
                                 "(src/cairn/a2ui/static/ is missing)\n")

    routes: list[Any] = [
        Route("/a2ui/stream", stream),
        Route("/a2ui/send", send, methods=["POST"]),
        Route("/a2ui/jsonl", jsonl, methods=["POST"]),
        Route("/a2ui/capabilities", capabilities),
        Route("/a2ui/catalogs/cairn/catalog.json", cairn_catalog),
        Route("/health", health),
    ]
    if static_dir is not None and (static_dir / "index.html").exists():
        routes.append(Mount("/", StaticFiles(directory=static_dir, html=True)))
    else:
        routes.append(Route("/", no_client))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await agent.start()
        for hook in on_startup or []:
            await hook()
        try:
            yield
        finally:
            for task in list(tasks):
                task.cancel()
            for hook in on_shutdown or []:
                await hook()
            await agent.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.store = store
    app.state.agent = agent
    app.state.validator = validator
    app.add_middleware(SessionMiddleware, store=store)
    return app
