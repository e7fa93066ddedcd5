"""Fixtures for the A2UI tests: a validator, a real uvicorn server on a free port, and a
booking service on its own PostgreSQL schema (dropped afterwards)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from cairn.a2ui.validate import Validator

EXAMPLES = (Path(__file__).resolve().parents[2]
            / "src/cairn/a2ui/schemas/v0_9/catalogs/basic/examples")
DSN = os.environ.get("CAIRN_BOOKING_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BASIC = "https://a2ui.org/specification/v0_9/catalogs/basic/catalog.json"
CAIRN = "https://cairn.example/a2ui/v0_9/catalogs/cairn/catalog.json"


def example_messages(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    return doc if isinstance(doc, list) else doc["messages"]


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator()


@dataclass
class LiveServer:
    url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app: Any) -> LiveServer:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", app, server, thread)


@pytest.fixture
def demo_server() -> Iterator[LiveServer]:
    """The A2UI app with the deterministic agent and no booking service."""
    from cairn.a2ui.server import create_app

    srv = start_server(create_app(keepalive_s=0.5))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def booking_server() -> Iterator[tuple[LiveServer, Any]]:
    """The full app (booking service on a fresh schema, payments simulator, seeded hall)."""
    from cairn.a2ui.app import build
    from cairn.booking.schema import drop_schema

    schema = f"a2ui_t_{uuid.uuid4().hex[:10]}"
    running = build(DSN, schema, seed=True, tick_s=0.2, keepalive_s=0.3)
    srv = start_server(running.app)
    try:
        yield srv, running
    finally:
        srv.stop()
        running.close()
        with psycopg.connect(DSN) as conn:
            drop_schema(conn, schema)


class SseCollector:
    """Reads a session's SSE stream in a thread until ``stop()`` or the deadline."""

    def __init__(self, client: httpx.Client, last_id: str | None = None,
                 deadline_s: float = 60.0) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self.last_id = last_id
        self.deadline = time.monotonic() + deadline_s
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.connected.wait(10)

    def _run(self) -> None:
        headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
        cur: dict[str, Any] = {}
        with self.client.stream("GET", "/a2ui/stream", headers=headers) as r:
            self.connected.set()
            for line in r.iter_lines():
                if self._stop.is_set() or time.monotonic() > self.deadline:
                    return
                if line == "":
                    if "data" in cur:
                        cur["json"] = json.loads(cur["data"])
                        cur["at"] = time.monotonic()
                        self.events.append(cur)
                    cur = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    cur[key] = value

    def wait_for(self, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < end:
            for ev in self.events[seen:]:
                seen += 1
                if pred(ev["json"]):
                    return ev
            time.sleep(0.01)
        raise AssertionError(f"no matching event in {timeout}s; got {len(self.events)}")

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


def jsonl_turn(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post("/a2ui/jsonl", json=body)
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[-1]["cairn"]["type"] == "done"
    return lines


def a2ui_of(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "version" in line]


def texts_of(lines: list[dict[str, Any]]) -> list[str]:
    return [line["cairn"]["text"] for line in lines if "cairn" in line
            and line["cairn"]["type"] in ("text", "error")]


def action(surface: str, component: str, name: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"a2ui": {"version": "v0.9", "action": {
        "name": name, "surfaceId": surface, "sourceComponentId": component,
        "timestamp": "2026-11-28T12:00:00Z", "context": context}}}
