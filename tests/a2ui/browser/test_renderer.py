"""The A2UI renderer guide's mandatory cases, end to end: typed text → real agent → SSE → the
official renderer in Chromium → actions POSTed back with capabilities.

The demo surface (``cairn.a2ui.agent.demo.hello_surface``) holds all five cases: static text,
a row layout, a TextField bound two-way to ``/name``, a Text that depends on it through
``formatString``, and a List template whose buttons send an action with a relative binding.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from cairn.a2ui.catalog import BASIC_CATALOG_ID, CAIRN_CATALOG_ID


def open_demo(open_client: Any, demo_server: Any) -> Any:
    client = open_client(demo_server)
    client.say("demo")
    expect(client.surface("demo").get_by_text("Hello from cairn")).to_be_visible()
    return client


def test_static_text(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    heading = client.surface("demo").locator("h2")
    expect(heading).to_have_text("Hello from cairn")
    # The typed request shows as the user's message, the agent's prose as its reply.
    expect(client.page.locator("#log .msg.user")).to_have_text(["demo"])
    client.agent_says("small demo form")
    assert client.errors_shown() == []
    client.screenshot("renderer_static_text")


def test_surface_names_the_agent_from_its_theme(open_client: Any, demo_server: Any) -> None:
    """v0.9 theme: ``agentDisplayName`` is shown next to the surface, as text only."""
    client = open_demo(open_client, demo_server)
    expect(client.surface("demo").locator(".surface-agent")).to_have_text("cairn")
    hostile = "<img src=x onerror=\"window.__pwned = 1\">"
    client.process([
        {"version": "v0.9", "createSurface": {"surfaceId": "t", "catalogId": BASIC_CATALOG_ID,
                                              "theme": {"agentDisplayName": hostile}}},
        {"version": "v0.9", "updateComponents": {"surfaceId": "t", "components": [
            {"id": "root", "component": "Text", "text": "hi"}]}},
        {"version": "v0.9", "createSurface": {"surfaceId": "u", "catalogId": BASIC_CATALOG_ID}},
    ])
    expect(client.surface("t").locator(".surface-agent")).to_have_text(hostile)
    assert client.surface("t").locator("img").count() == 0
    assert client.page.evaluate("() => window.__pwned") is None
    assert client.surface("u").locator(".surface-agent").count() == 0  # no theme, no caption


def test_row_layout(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    label = client.surface("demo").get_by_text("Your name", exact=True)
    field = client.surface("demo").locator("input").first
    lb, fb = label.bounding_box(), field.bounding_box()
    assert lb and fb
    # Side by side: the label is left of the field and they overlap vertically.
    assert lb["x"] + lb["width"] <= fb["x"] + 1
    assert lb["y"] < fb["y"] + fb["height"] and fb["y"] < lb["y"] + lb["height"]


def test_text_field_updates_ui_and_data_model_live(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    posts_before = len(client.sent)
    field = client.surface("demo").locator("input").first
    field.press_sequentially("Ada", delay=20)
    # The dependent Text re-renders on every keystroke ...
    expect(client.surface("demo").get_by_text("Hello, Ada!")).to_be_visible()
    # ... the local data model holds the value ...
    assert client.data("demo", "/name") == "Ada"
    # ... and typing made no network call (two-way binding is local).
    time.sleep(0.2)
    assert len(client.sent) == posts_before
    client.screenshot("renderer_text_field")


def test_dependent_components_react(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    surface = client.surface("demo")
    expect(surface.get_by_text("Hello, !")).to_be_visible()
    # The required check on the field reports until there is a name.
    field = surface.locator("input").first
    field.fill("Grace")
    expect(surface.get_by_text("Hello, Grace!")).to_be_visible()
    field.fill("")
    expect(surface.get_by_text("Hello, !")).to_be_visible()
    expect(surface.get_by_text("Please enter a name")).to_be_visible()


def test_list_template_actions_are_scoped(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    surface = client.surface("demo")
    surface.get_by_role("button", name="beta").click()
    client.agent_says("You picked beta")
    surface.get_by_role("button", name="gamma").click()
    client.agent_says("You picked gamma")
    picks = [a for a in client.actions() if a["name"] == "pick"]
    assert [a["context"] for a in picks] == [{"item": "beta"}, {"item": "gamma"}]
    for a in picks:
        assert a["surfaceId"] == "demo" and a["sourceComponentId"] == "item"
        assert a["timestamp"].endswith("Z")


def test_action_resolves_context_and_carries_capabilities(open_client: Any,
                                                          demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    surface = client.surface("demo")
    surface.locator("input").first.fill("Ada")
    surface.get_by_role("button", name="Greet me").click()
    client.agent_says("Hello, Ada!")
    body = next(b for b in client.sent if b.get("a2ui", {}).get("action", {}).get("name")
                == "greet")
    assert body["a2ui"]["version"] == "v0.9"
    assert body["a2ui"]["action"]["context"] == {"name": "Ada"}
    ids = body["a2uiClientCapabilities"]["v0.9"]["supportedCatalogIds"]
    assert set(ids) == {BASIC_CATALOG_ID, CAIRN_CATALOG_ID}
    # Typed text carries the capabilities too.
    text_body = next(b for b in client.sent if b.get("text") == "demo")
    assert "a2uiClientCapabilities" in text_body
    client.screenshot("renderer_action")


def test_chart_from_the_agent(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.say("chart")
    chart = client.surface("chart").locator("cairn-chart")
    expect(chart.locator("rect.bar")).to_have_count(3)
    expect(chart.locator("figcaption")).to_have_text("Demo chart")


def test_reconnect_resumes_without_duplicating(open_client: Any, demo_server: Any) -> None:
    client = open_demo(open_client, demo_server)
    client.surface("demo").locator("input").first.fill("Ada")
    # Drop the stream and reconnect from the last event id: nothing is replayed twice.
    client.page.evaluate("() => { window.cairnA2ui.eventSource.close(); "
                         "window.cairnA2ui.reconnect(); }")
    client.page.wait_for_function("() => document.querySelector('#status').dataset.state "
                                  "=== 'connected'")
    client.say("chart")
    expect(client.surface("chart").locator("cairn-chart")).to_be_visible()
    expect(client.page.locator("section.surface[data-surface-id='demo']")).to_have_count(1)
    assert client.data("demo", "/name") == "Ada"  # the local state survived
    assert client.errors_shown() == []
    # A reload (a new page: no event id) gets a snapshot of the live surfaces, once each.
    client.page.reload()
    client.page.wait_for_function("() => window.cairnA2ui && "
                                  "document.querySelector('#status').dataset.state "
                                  "=== 'connected'")
    expect(client.surface("demo").get_by_text("Hello from cairn")).to_be_visible()
    expect(client.page.locator("section.surface")).to_have_count(2)
    assert client.errors_shown() == []


def test_server_errors_are_shown_in_plain_words(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.page.evaluate("() => window.cairnA2ui.sendText('x'.repeat(3000))")
    err = client.page.locator("#log .msg.error")
    expect(err).to_contain_text("Your message was not delivered")
    expect(err).to_contain_text("2000 characters")
