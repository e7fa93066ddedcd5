"""The optional LLM backend: an OpenAI-compatible chat model that writes A2UI itself.

Configured by ``CAIRN_LLM_URL`` (base URL, e.g. ``http://127.0.0.1:8000/v1``),
``CAIRN_LLM_MODEL`` and ``CAIRN_LLM_API_KEY``. The system prompt carries the protocol rules
and the catalog (component names, properties, required ones, derived from the catalog
schema). The model answers in prose with A2UI messages inside ``<a2ui-json>[...]</a2ui-json>``
(the official SDK's convention). The answer is *streamed* (``stream: true``) and parsed as it
arrives (:class:`StreamParser`): every complete message is validated against the session at
once and sent if valid, so the layout appears while the model is still writing. A message
that only lacks children still to come is held back and merged with the following
``updateComponents`` until it is complete.

With a booking service attached, the model can also call booking tools through the
OpenAI-compatible function-calling interface (``tools`` in the request, ``tool_calls`` in the
streamed answer): ``list_events``, ``show_seat_map`` and ``hold_seats``. The tools act
through the deterministic agent's templates (so the events list, the live seat map and the
hold form are the same validated surfaces a typed request gets), and their results go back to
the model as ``tool`` messages for its next answer, at most :data:`MAX_TOOL_ROUNDS` times per
turn. Arguments are untrusted: each is checked, and a bad call gets an error result, not an
exception.

On the first invalid message the stream is cut, and the validation error is fed back to the
model in A2UI's own ``VALIDATION_FAILED`` shape (surface, JSON Pointer, message) for a
bounded number of repairs; then the agent falls back to text. Invalid UI is never sent. Slow
models are bounded by a time-to-first-byte and an idle timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from cairn.a2ui.catalog import CAIRN_CATALOG_ID, Catalog, cairn_catalog
from cairn.a2ui.errors import A2uiError, ValidationFailed
from cairn.a2ui.messages import ActionMessage, ErrorMessage
from cairn.a2ui.session import Session

OPEN, CLOSE = "<a2ui-json>", "</a2ui-json>"
MAX_MESSAGE = 2 << 20
MAX_OUTPUT = 8 << 20
MAX_TOOL_ROUNDS = 3
MAX_TOOL_CALLS = 4  # per answer
MAX_TOOL_ARGS = 4096  # bytes of one call's JSON arguments

# The booking tools, in the chat completions `tools` format (JSON Schema parameters).
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "list_events",
        "description": "Show the user the list of upcoming events (drawn for them) and "
                       "return the events: id, name, start, prices.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "show_seat_map",
        "description": "Show the user the live seat map of one event (drawn for them); "
                       "returns how many seats are free and the sections.",
        "parameters": {"type": "object", "properties": {
            "event_id": {"type": "integer", "description": "id from list_events"}},
            "required": ["event_id"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "hold_seats",
        "description": "Hold seats for the user (all or none), then show the checkout form. "
                       "Give seat_ids, or a section and a count (adjacent seats are not "
                       "guaranteed).",
        "parameters": {"type": "object", "properties": {
            "event_id": {"type": "integer"},
            "seat_ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1,
                         "maxItems": 10},
            "section": {"type": "string", "maxLength": 50},
            "count": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": ["event_id"], "additionalProperties": False}}},
]
TOOL_NAMES = frozenset(t["function"]["name"] for t in TOOLS)


@dataclass(frozen=True)
class LlmConfig:
    url: str
    model: str
    api_key: str = ""
    max_repairs: int = 2
    first_byte_timeout_s: float = 20.0
    idle_timeout_s: float = 10.0
    total_timeout_s: float = 60.0
    temperature: float = 0.2

    @staticmethod
    def from_env(**over: Any) -> LlmConfig:
        env = os.environ
        url = over.pop("url", None) or env.get("CAIRN_LLM_URL")
        if not url:
            raise ValueError("CAIRN_LLM_URL is not set")
        return LlmConfig(url=url.rstrip("/"),
                         model=over.pop("model", None) or env.get("CAIRN_LLM_MODEL", "default"),
                         api_key=over.pop("api_key", None) or env.get("CAIRN_LLM_API_KEY", ""),
                         **over)


# -- the streaming parser --------------------------------------------------------------------


@dataclass
class StreamParser:
    """Incremental parser of prose with ``<a2ui-json>`` blocks holding a JSON array.

    Inside a block only objects matter: the scanner tracks strings, escapes and brace depth
    and cuts out each complete top-level object; commas, brackets, whitespace and a Markdown
    code fence around them are skipped; anything else is an error.

    :meth:`feed` returns ``("text", str)``, ``("message", obj)``, ``("block_end", None)``
    and ``("error", str)`` items as soon as they are complete. JSON objects are cut out by a
    small scanner that tracks strings and escapes, then decoded with :func:`json.loads`.
    """

    buf: str = ""
    inside: bool = False
    depth: int = 0
    in_str: bool = False
    esc: bool = False
    start: int = -1
    pos: int = 0
    total: int = 0
    failed: bool = False

    def feed(self, chunk: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if self.failed:
            return out
        self.total += len(chunk)
        if self.total > MAX_OUTPUT:
            self.failed = True
            return [("error", f"model output over {MAX_OUTPUT} bytes")]
        self.buf += chunk
        while True:
            if not self.inside:
                i = self.buf.find(OPEN)
                if i < 0:
                    keep = len(OPEN) - 1  # a tag may be split across chunks
                    text, self.buf = self.buf[:-keep] if len(self.buf) > keep else "", \
                        self.buf[-keep:] if len(self.buf) > keep else self.buf
                    if text:
                        out.append(("text", text))
                    return out
                if i:
                    out.append(("text", self.buf[:i]))
                self.buf = self.buf[i + len(OPEN):]
                self.inside, self.depth, self.pos, self.start = True, 0, 0, -1
                continue
            item = self._scan()
            if item is None:
                return out
            out.append(item)
            if item[0] == "error":
                self.failed = True
                return out

    def _scan(self) -> tuple[str, Any] | None:
        b = self.buf
        while self.pos < len(b):
            ch = b[self.pos]
            if self.start >= 0:  # inside an object: only strings and braces matter
                if self.in_str:
                    if self.esc:
                        self.esc = False
                    elif ch == "\\":
                        self.esc = True
                    elif ch == '"':
                        self.in_str = False
                elif ch == '"':
                    self.in_str = True
                elif ch == "{":
                    self.depth += 1
                elif ch == "}":
                    self.depth -= 1
                    if self.depth == 0:
                        raw = b[self.start:self.pos + 1]
                        self.buf = b[self.pos + 1:]
                        self.pos, self.start = 0, -1
                        if len(raw) > MAX_MESSAGE:
                            return ("error", f"a message over {MAX_MESSAGE} bytes")
                        try:
                            return ("message", json.loads(raw))
                        except ValueError as exc:
                            return ("error", f"invalid JSON in a message: {exc}")
                if self.pos - self.start > MAX_MESSAGE:
                    return ("error", f"a message over {MAX_MESSAGE} bytes")
            elif ch == "{":
                self.start, self.depth = self.pos, 1
            elif ch in " \t\r\n,[]":
                pass
            elif ch == "j" and len(b) - self.pos < 4 and "json".startswith(b[self.pos:]):
                return None  # maybe the "json" of a code fence, split across chunks
            elif ch == "`" or b.startswith("json", self.pos):
                # tolerate a Markdown code fence inside the block
                self.pos += 4 if ch == "j" else 1
                continue
            elif ch == "<":
                if b.startswith(CLOSE, self.pos):
                    self.buf = b[self.pos + len(CLOSE):]
                    self.inside, self.pos = False, 0
                    return ("block_end", None)
                if len(b) - self.pos < len(CLOSE):
                    return None
                return ("error", "unexpected '<' inside <a2ui-json>")
            else:
                return ("error", f"unexpected {ch!r} between messages")
            self.pos += 1
        return None

    def finish(self) -> list[tuple[str, Any]]:
        if self.failed:
            return []
        if self.inside:
            return [("error", "the <a2ui-json> block was not closed")]
        return [("text", self.buf)] if self.buf else []


def new_parser() -> StreamParser:
    return StreamParser()


# -- the prompt --------------------------------------------------------------------------------

RULES = """You draw user interfaces with the A2UI protocol, version v0.9.
Answer with one short sentence of prose, then the UI inside <a2ui-json> and </a2ui-json> as a
JSON array of messages. Each message is an object with "version": "v0.9" and exactly one of:
- {"createSurface": {"surfaceId": ID, "catalogId": CATALOG}} (first, once per surface)
- {"updateComponents": {"surfaceId": ID, "components": [...]}}
- {"updateDataModel": {"surfaceId": ID, "path": "/json/pointer", "value": ANY}}
- {"deleteSurface": {"surfaceId": ID}}
Components are flat objects {"id": ..., "component": "<Name>", ...properties}. Exactly one
component has id "root". Children are listed by id ("children": ["a", "b"], "child": "a") or
as a template {"componentId": "item", "path": "/items"} repeated over a data array. Every id
you reference must be defined; no cycles. Send root and layout first, then data. Bind values
with {"path": "/absolute/pointer"}; inside a template use relative paths ("name"). Buttons
need "child" (a Text id) and "action": {"event": {"name": "...", "context": {...}}}. Use only
the components and properties below; never HTML, scripts or javascript: URLs.
The catalog id is %s. Components (required properties marked *):
%s
"""


def system_prompt(catalog: Catalog, surfaces: list[str]) -> str:
    lines = []
    for name, info in catalog.describe().items():
        props = ", ".join(p + ("*" if p in info["required"] else "") for p in info["props"])
        lines.append(f"- {name}: {props}")
    text = RULES % (catalog.catalog_id, "\n".join(lines))
    if surfaces:
        text += ("\nSurfaces that exist now (delete one before creating it again): "
                 + ", ".join(surfaces) + "\n")
    return text


# -- the agent ---------------------------------------------------------------------------------


class ModelFailed(Exception):
    pass


@dataclass
class LlmStats:
    calls: int = 0
    repairs: int = 0
    fallbacks: int = 0
    sent: int = 0
    tool_calls: int = 0
    errors: list[str] = field(default_factory=list)


class LlmAgent:
    """Chat model → validated A2UI; the deterministic agent handles booking actions."""

    def __init__(self, config: LlmConfig, fallback: Any | None = None,
                 catalog: Catalog | None = None) -> None:
        self.config = config
        self.fallback = fallback
        self.catalog = catalog or cairn_catalog()
        self.stats = LlmStats()
        self._client: httpx.AsyncClient | None = None

    def bind_sessions(self, sessions: Any) -> None:
        if self.fallback is not None and hasattr(self.fallback, "bind_sessions"):
            self.fallback.bind_sessions(sessions)

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key \
            else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(
            self.config.total_timeout_s, read=self.config.idle_timeout_s))
        if self.fallback is not None:
            await self.fallback.start()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.fallback is not None:
            await self.fallback.stop()

    @property
    def booking(self) -> Any | None:
        return getattr(self.fallback, "booking", None)

    async def _chunks(self, messages: list[dict[str, Any]],
                      calls: dict[int, dict[str, str]] | None = None) -> AsyncIterator[str]:
        """Content deltas of one streamed chat completion (OpenAI wire format); tool call
        deltas (``delta.tool_calls``: id and name once, arguments in pieces) are assembled
        into ``calls`` by their index."""
        assert self._client is not None
        body: dict[str, Any] = {"model": self.config.model, "messages": messages,
                                "stream": True, "temperature": self.config.temperature}
        if calls is not None:
            body["tools"] = TOOLS
        self.stats.calls += 1
        async with self._client.stream("POST", f"{self.config.url}/chat/completions",
                                       json=body) as r:
            if r.status_code != 200:
                text = (await r.aread())[:300].decode("utf-8", "replace")
                raise ModelFailed(f"the model server answered {r.status_code}: {text}")
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    delta = json.loads(data)["choices"][0].get("delta") or {}
                    content = delta.get("content")
                    pieces = delta.get("tool_calls") or []
                    if calls is not None:
                        for piece in pieces:
                            _merge_tool_call(calls, piece)
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                    raise ModelFailed(f"malformed stream chunk: {data[:100]}") from exc
                if isinstance(content, str) and content:
                    yield content

    async def on_text(self, session: Session, text: str) -> None:
        await self.converse(session, text)

    async def on_action(self, session: Session, action: ActionMessage) -> None:
        if self.fallback is not None and action.surface_id in (
                "events", "seats", "hold", "confirmation", "orders", "demo"):
            await self.fallback.on_action(session, action)
            return
        await self.converse(session, "The user triggered the action " + json.dumps(
            {"name": action.name, "surfaceId": action.surface_id,
             "context": action.context})[:4000])

    async def on_client_error(self, session: Session, error: ErrorMessage) -> None:
        session.say("status", f"The client reported {error.code}: {error.message[:300]}")

    async def context(self) -> str:
        """Live data the model may show: the events, when a booking service is attached."""
        booking = self.booking
        if booking is None:
            return ""
        from starlette.concurrency import run_in_threadpool

        events = await run_in_threadpool(booking.list_events)
        rows = [json.dumps({"id": e.id, "name": e.name, "starts_at": e.starts_at.isoformat(),
                            "prices_eur": {t: p / 100 for t, p in sorted(e.prices.items())}})
                for e in events[:50]]
        return ("\nEvents (data you may show; the seat map, holds and checkout are drawn by "
                "the booking templates: call the tools show_seat_map and hold_seats for "
                "those):\n" + "\n".join(rows) + "\n") if rows else ""

    async def converse(self, session: Session, user_text: str) -> None:
        convo = [{"role": "system", "content": system_prompt(self.catalog,
                                                             sorted(session.surfaces))
                  + await self.context()},
                 {"role": "user", "content": user_text}]
        last_error = ""
        before = set(session.surfaces)
        tool_rounds = 0
        attempt = 0
        while attempt <= self.config.max_repairs:
            calls: dict[int, dict[str, str]] | None = {} if self.booking is not None and \
                tool_rounds < MAX_TOOL_ROUNDS else None
            try:
                said, error = await asyncio.wait_for(self._attempt(session, convo, calls),
                                                     self.config.total_timeout_s)
            except (TimeoutError, httpx.TimeoutException):
                error, said = "the model did not answer in time", ""
                last_error = error
                break  # a slow model is not repaired by asking again
            except (ModelFailed, httpx.HTTPError) as exc:
                error, said = str(exc), ""
                last_error = error
                break
            if error is None and calls:
                # The model asked for tools: run them, hand back the results, ask again.
                tool_rounds += 1
                convo += await self.run_tools(session, said, calls)
                continue
            if error is None:
                return
            last_error = error
            self.stats.errors.append(error)
            if attempt == self.config.max_repairs:
                break
            attempt += 1
            self.stats.repairs += 1
            convo += [{"role": "assistant", "content": said},
                      {"role": "user", "content": (
                          "Your last message failed validation and was not shown: "
                          + error + "\nThe surfaces that exist now: "
                          + (", ".join(sorted(session.surfaces)) or "none")
                          + ". Send corrected A2UI messages (only what is still missing).")}]
        self.stats.fallbacks += 1
        # Surfaces this turn created but never completed would show as empty boxes.
        for sid in sorted(set(session.surfaces) - before):
            if not session.surfaces[sid].components:
                session.emit({"version": "v0.9", "deleteSurface": {"surfaceId": sid}})
        session.say("text", "I could not draw that screen (" + last_error[:300] + ").")

    async def _attempt(self, session: Session, convo: list[dict[str, Any]],
                       calls: dict[int, dict[str, str]] | None = None
                       ) -> tuple[str, str | None]:
        """One streamed answer: send valid messages as they complete; return the raw text
        and the first error (None when everything was valid and sent)."""
        parser = new_parser()
        raw: list[str] = []
        prose: list[str] = []
        pending: dict[str, dict[str, Any]] = {}  # surfaceId -> held updateComponents
        first_byte = time.monotonic() + self.config.first_byte_timeout_s
        got_any = False
        stream = self._chunks(convo, calls)
        try:
            while True:
                timeout = (first_byte - time.monotonic()) if not got_any \
                    else self.config.idle_timeout_s
                try:
                    chunk = await asyncio.wait_for(anext(stream), max(0.01, timeout))
                except StopAsyncIteration:
                    break
                got_any = True
                raw.append(chunk)
                for kind, value in parser.feed(chunk):
                    err = self._handle(session, kind, value, prose, pending)
                    if err is not None:
                        return "".join(raw), err
            for kind, value in parser.finish():
                err = self._handle(session, kind, value, prose, pending)
                if err is not None:
                    return "".join(raw), err
        finally:
            await stream.aclose()
        if pending:
            sid, msg = next(iter(pending.items()))
            try:
                session.check(msg)
            except A2uiError as exc:
                return "".join(raw), _failure(sid, exc)
        text = "".join(prose).strip()
        if text:
            session.say("text", text[:4000])
        return "".join(raw), None

    async def run_tools(self, session: Session, said: str,
                        calls: dict[int, dict[str, str]]) -> list[dict[str, Any]]:
        """Run the model's tool calls in order; the assistant message and one ``tool`` result
        per call, to append to the conversation."""
        ordered = [calls[i] for i in sorted(calls)][:MAX_TOOL_CALLS]
        for n, call in enumerate(ordered):
            call.setdefault("id", f"call_{n}")
        out: list[dict[str, Any]] = [{"role": "assistant", "content": said or None,
                                      "tool_calls": [
            {"id": c["id"], "type": "function",
             "function": {"name": c.get("name", ""), "arguments": c.get("arguments", "")}}
            for c in ordered]}]
        for call in ordered:
            self.stats.tool_calls += 1
            try:
                result = await self.call_tool(session, call.get("name", ""),
                                              call.get("arguments", ""))
            except A2uiError as exc:
                result = {"error": f"the screen could not be drawn: {exc}"}
            out.append({"role": "tool", "tool_call_id": call["id"],
                        "content": json.dumps(result, ensure_ascii=False)[:8000]})
        return out

    async def call_tool(self, session: Session, name: str, arguments: str) -> dict[str, Any]:
        """One booking tool on behalf of this session's user; errors become results."""
        agent, booking = self.fallback, self.booking
        if agent is None or booking is None:
            return {"error": "no booking service is attached"}
        if name not in TOOL_NAMES:
            return {"error": f"unknown tool {name[:60]!r}"}
        try:
            args = json.loads(arguments or "{}") if len(arguments) <= MAX_TOOL_ARGS else None
        except ValueError:
            args = None
        if not isinstance(args, dict):
            return {"error": "arguments must be a JSON object"}
        if name == "list_events":
            await agent.list_events(session)
            events = await agent.tool(booking.list_events)
            return {"events": [{"id": e.id, "name": e.name,
                                "starts_at": e.starts_at.isoformat()} for e in events[:50]],
                    "shown": True}
        event_id = args.get("event_id")
        if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 1:
            return {"error": "event_id must be a positive integer"}
        from cairn.booking.errors import BookingError

        if name == "show_seat_map":
            try:
                seats = await agent.show_seats(session, event_id)
            except BookingError as exc:
                return {"error": str(exc)}
            return {"event_id": event_id, "total": len(seats),
                    "free": sum(1 for s in seats if s.status == "free"),
                    "sections": sorted({s.section for s in seats}), "shown": True}
        if name == "hold_seats":
            ids, section, count = args.get("seat_ids"), args.get("section"), args.get("count")
            if ids is not None and not (isinstance(ids, list) and 1 <= len(ids) <= 10 and all(
                    isinstance(i, int) and not isinstance(i, bool) for i in ids)):
                return {"error": "seat_ids must be a list of 1 to 10 integers"}
            if ids is None and not (isinstance(section, str) and 0 < len(section) <= 50
                                    and isinstance(count, int) and 1 <= count <= 10):
                return {"error": "give seat_ids, or a section and a count from 1 to 10"}
            before = session.state.get("hold")
            await agent.hold(session, event_id, ids, section=section, count=count)
            hold_id = session.state.get("hold")
            if hold_id is None or hold_id == before:
                return {"held": False, "error": "the seats could not be held (the user was "
                                                "told why)"}
            return {"held": True, "hold_id": hold_id,
                    "seats": sorted(session.state["holds"][hold_id]), "form_shown": True}
        raise AssertionError(name)  # every name in TOOL_NAMES is handled above

    def _handle(self, session: Session, kind: str, value: Any, prose: list[str],
                pending: dict[str, dict[str, Any]]) -> str | None:
        if kind == "text":
            prose.append(value)
            return None
        if kind == "error":
            return f'{{"code": "VALIDATION_FAILED", "path": "", "message": "{value}"}}'
        if kind == "block_end":
            if pending:
                sid, msg = next(iter(pending.items()))
                try:
                    session.check(msg)
                except A2uiError as exc:
                    return _failure(sid, exc)
            return None
        msg = _attribute(value)
        sid = _surface_of(msg)
        if sid is not None and "updateComponents" in msg and sid in pending:
            # Merge with what is held back: later definitions of an id win.
            held = pending.pop(sid)
            merged = {c.get("id"): c for c in held["updateComponents"]["components"]
                      if isinstance(c, dict)}
            for c in msg["updateComponents"].get("components") or []:
                if isinstance(c, dict):
                    merged[c.get("id")] = c
            msg = {"version": "v0.9", "updateComponents": {"surfaceId": sid,
                                                           "components": list(merged.values())}}
        elif sid is not None and sid in pending:
            # Data or other messages for a surface whose layout is still incomplete: the
            # layout goes first, so an incomplete layout before them is an error now.
            try:
                session.check(pending[sid])
            except A2uiError as exc:
                return _failure(sid, exc)
        try:
            session.emit(msg)
            self.stats.sent += 1
            if sid in pending:
                pending.pop(sid)
        except ValidationFailed as exc:
            if "updateComponents" in msg and _incomplete(exc):
                pending[sid or ""] = msg  # children may still be on their way
                return None
            return _failure(sid, exc)
        except A2uiError as exc:
            return _failure(sid, exc)
        return None


MODEL_NAME = "cairn (language model)"


def _attribute(msg: Any) -> Any:
    """The orchestrator, not the model, names who drew a surface (A2UI's attribution rule):
    ``agentDisplayName`` is overwritten and a model-chosen ``iconUrl`` dropped."""
    if isinstance(msg, dict) and isinstance(msg.get("createSurface"), dict):
        body = dict(msg["createSurface"])
        theme = body.get("theme")
        theme = dict(theme) if isinstance(theme, dict) else {}
        theme.pop("iconUrl", None)
        theme["agentDisplayName"] = MODEL_NAME
        body["theme"] = theme
        return {**msg, "createSurface": body}
    return msg


def _surface_of(msg: Any) -> str | None:
    if not isinstance(msg, dict):
        return None
    for k in ("createSurface", "updateComponents", "updateDataModel", "deleteSurface"):
        body = msg.get(k)
        if isinstance(body, dict) and isinstance(body.get("surfaceId"), str):
            return body["surfaceId"]
    return None


def _incomplete(exc: ValidationFailed) -> bool:
    """Errors a later message can still fix: a child, template or root not sent yet."""
    m = exc.message
    return ("refers to missing component" in m or "missing template component" in m
            or "no component with id 'root'" in m or "not reachable from 'root'" in m)


def _failure(surface_id: str | None, exc: A2uiError) -> str:
    """The error in A2UI's client error shape, which is what the model is told."""
    return json.dumps({"code": "VALIDATION_FAILED", "surfaceId": surface_id or "",
                       "path": exc.path, "message": exc.message})


__all__ = ["CAIRN_CATALOG_ID", "LlmAgent", "LlmConfig", "StreamParser", "new_parser",
           "system_prompt"]


def _merge_tool_call(calls: dict[int, dict[str, str]], piece: Any) -> None:
    """Fold one streamed ``tool_calls`` delta into ``calls`` (arguments arrive in pieces)."""
    if not isinstance(piece, dict):
        raise TypeError("a tool call delta must be an object")
    index = piece.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < 64:
        raise TypeError("bad tool call index")
    call = calls.setdefault(index, {})
    if isinstance(piece.get("id"), str):
        call["id"] = piece["id"][:100]
    fn = piece.get("function") or {}
    if isinstance(fn.get("name"), str):
        call["name"] = call.get("name", "") + fn["name"]
    if isinstance(fn.get("arguments"), str):
        call["arguments"] = call.get("arguments", "") + fn["arguments"]
        if len(call["arguments"]) > MAX_TOOL_ARGS:
            raise ValueError("tool call arguments too long")
