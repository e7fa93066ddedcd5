"""A scripted OpenAI-compatible chat completions server for the LLM path's tests.

Each POST /v1/chat/completions takes the next scripted answer: ``chunks`` (pieces of the
assistant's content, streamed as SSE ``chat.completion.chunk`` events with a delay before
each), then any ``tool_calls`` (streamed the way OpenAI does: id and name in the first delta of
a call, the JSON arguments in small pieces, ``finish_reason: "tool_calls"``), or an HTTP
``status`` error, or a ``stall`` (sleep before the first byte). Requests
are recorded so tests can read the repair prompts the agent sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Answer:
    chunks: list[str] = field(default_factory=list)
    delay_s: float = 0.0  # before each chunk
    last_delay_s: float = 0.0  # extra, before the final chunk
    status: int = 200
    stall_s: float = 0.0
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments)


def split(text: str, size: int = 17) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


@dataclass
class Script:
    answers: list[Answer] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)

    def app(self) -> Starlette:
        async def completions(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            self.auth.append(request.headers.get("authorization"))
            if not self.answers:
                return JSONResponse({"error": "script exhausted"}, status_code=500)
            ans = self.answers.pop(0)
            if ans.status != 200:
                return JSONResponse({"error": {"message": "scripted failure"}},
                                    status_code=ans.status)
            assert body.get("stream") is True

            async def events() -> AsyncIterator[bytes]:
                if ans.stall_s:
                    await asyncio.sleep(ans.stall_s)
                for i, piece in enumerate(ans.chunks):
                    await asyncio.sleep(ans.delay_s + (ans.last_delay_s
                                                       if i == len(ans.chunks) - 1 else 0))
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "scripted",
                             "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]}
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                for n, (name, args) in enumerate(ans.tool_calls):
                    text = args if isinstance(args, str) else json.dumps(args)
                    pieces = [{"index": n, "id": f"call_{n}", "type": "function",
                               "function": {"name": name, "arguments": ""}}]
                    pieces += [{"index": n, "function": {"arguments": part}}
                               for part in split(text, 7)]
                    for piece in pieces:
                        chunk = {"id": "c1", "object": "chat.completion.chunk",
                                 "model": "scripted", "choices": [{
                                     "index": 0, "delta": {"tool_calls": [piece]},
                                     "finish_reason": None}]}
                        yield f"data: {json.dumps(chunk)}\n\n".encode()
                if ans.tool_calls:
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "scripted",
                             "choices": [{"index": 0, "delta": {},
                                          "finish_reason": "tool_calls"}]}
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
