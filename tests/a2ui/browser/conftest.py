"""Fixtures for the web client's browser tests: the real uvicorn app, Debian's Chromium.

The app is ``cairn.a2ui.server.create_app`` (the same factory ``cairn a2ui serve`` uses) on a
free port in a background thread; the browser is ``/usr/bin/chromium`` driven by Playwright
(``apt-get install -y chromium``; Playwright's own browser download is not used). Every test
gets a fresh browser context, so a fresh cookie and a fresh agent session.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CAIRN_CHROMIUM", "/usr/bin/chromium")
# Flags for a root, headless, offline machine: no sandbox (root), no GPU, and no background
# networking (this machine refuses outside connections, which would only slow Chromium down).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "a2ui"


@dataclass
class LiveServer:
    """A uvicorn server running an ASGI app on 127.0.0.1 in a daemon thread."""

    app: Any
    port: int = 0
    server: Any = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def launch_chromium(playwright: Any) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y "
                    "chromium) or point CAIRN_CHROMIUM at a Chromium binary")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)


# Module scope, not session: a live sync Playwright keeps its event loop running in the
# worker's main thread, and a later test on that worker could not call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def demo_server() -> Iterator[LiveServer]:
    """The real app with the default (deterministic, demo) agent."""
    from cairn.a2ui.server import create_app

    srv = LiveServer(create_app()).start()
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class Client:
    """One browser tab on the web client, with the POSTs it made recorded."""

    page: Any
    base_url: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def open(self) -> Client:
        self.page.goto(self.base_url + "/")
        self.page.wait_for_function("() => window.cairnA2ui && "
                                    "document.querySelector('#status').dataset.state "
                                    "=== 'connected'")
        return self

    def say(self, text: str) -> None:
        self.page.fill("#chat-input", text)
        self.page.press("#chat-input", "Enter")

    def process(self, messages: list[dict[str, Any]]) -> None:
        """Feed A2UI messages to the renderer directly (for catalog and hostile-input cases
        that the agent, which validates everything it sends, would never produce)."""
        self.page.evaluate("m => window.cairnA2ui.process(m)", messages)

    def data(self, surface_id: str, path: str = "/") -> Any:
        return self.page.evaluate(
            "([s, p]) => window.cairnA2ui.processor.model.getSurface(s)?.dataModel.get(p)",
            [surface_id, path])

    def surface(self, surface_id: str) -> Any:
        return self.page.locator(f"section.surface[data-surface-id='{surface_id}']")

    def agent_says(self, pattern: str, timeout: float = 10_000) -> Any:
        loc = self.page.locator("#log .msg.agent", has_text=re.compile(pattern))
        loc.last.wait_for(timeout=timeout)
        return loc.last

    def errors_shown(self) -> list[str]:
        return self.page.locator("#log .msg.error").all_inner_texts()

    def actions(self) -> list[dict[str, Any]]:
        return [b["a2ui"]["action"] for b in self.sent if "action" in b.get("a2ui", {})]

    def reported_errors(self) -> list[dict[str, Any]]:
        return [b["a2ui"]["error"] for b in self.sent if "error" in b.get("a2ui", {})]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def open_client(browser: Any) -> Iterator[Callable[[LiveServer], Client]]:
    """Open the web client of a server in a fresh context (= a fresh session)."""
    contexts: list[Any] = []

    def _open(server: LiveServer, viewport: dict[str, int] | None = None) -> Client:
        ctx = browser.new_context(viewport=viewport or {"width": 1100, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        client = Client(page, server.url)

        def on_request(request: Any) -> None:
            if request.method == "POST" and request.url.endswith("/a2ui/send"):
                try:
                    client.sent.append(json.loads(request.post_data or "null"))
                except ValueError:
                    client.sent.append({"raw": request.post_data})

        page.on("request", on_request)
        page.on("console",
                lambda m: client.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: client.page_errors.append(str(e)))
        return client.open()

    yield _open
    for ctx in contexts:
        ctx.close()
