"""Hostile and malformed input reaching the browser: nothing executes, nothing that should not
be rendered is, every failure is shown in plain words and reported to the agent as an A2UI
``error`` with a JSON Pointer, and the rest of the stream carries on."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from cairn.a2ui.catalog import BASIC_CATALOG_ID, CAIRN_CATALOG_ID

V = "v0.9"


def surface(sid: str, components: list[dict[str, Any]], data: Any = None,
            catalog: str = CAIRN_CATALOG_ID) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [
        {"version": V, "createSurface": {"surfaceId": sid, "catalogId": catalog}},
        {"version": V, "updateComponents": {"surfaceId": sid, "components": components}},
    ]
    if data is not None:
        msgs.append({"version": V, "updateDataModel": {"surfaceId": sid, "value": data}})
    return msgs


HOSTILE_TEXT = [
    "<script>window.__pwned = 1</script>",
    "<img src=x onerror=\"window.__pwned = 2\">",
    "[click me](javascript:window.__pwned=3)",
    "<a href=\"javascript:window.__pwned=4\">link</a>",
    "![img](javascript:window.__pwned=5)",
    "[data](data:text/html,<script>window.__pwned=6</script>)",
    "<iframe src=\"javascript:window.__pwned=7\"></iframe>",
]


def test_script_and_javascript_urls_never_render_live(open_client: Any,
                                                      demo_server: Any) -> None:
    client = open_client(demo_server)
    comps = [{"id": "root", "component": "Column",
              "children": [f"t{i}" for i in range(len(HOSTILE_TEXT))] + ["bound", "img",
                                                                          "h"]}]
    comps += [{"id": f"t{i}", "component": "Text", "text": t} for i, t in enumerate(HOSTILE_TEXT)]
    comps += [{"id": "bound", "component": "Text", "text": {"path": "/evil"}},
              {"id": "img", "component": "Image", "url": "javascript:window.__pwned=8"},
              {"id": "h", "component": "Text", "variant": "h2",
               "text": "<b onmouseover=alert(1)>x</b>"}]
    client.process(surface("evil", comps, {"evil": "<svg onload=\"window.__pwned=9\"></svg>"}))
    s = client.surface("evil")
    expect(s.locator("a2ui-surface")).to_be_visible()
    expect(s.get_by_text("click me")).to_be_visible()
    client.page.wait_for_timeout(300)
    assert client.page.evaluate("() => window.__pwned") is None
    # No live elements came from the agent's strings: no script, link, iframe, svg, img-from-md.
    counts = s.locator("a2ui-surface").evaluate("""e => {
        const r = e.shadowRoot;
        const q = sel => r.querySelectorAll(sel).length;
        return {script: q('script'), a: q('a'), iframe: q('iframe'), svg: q('svg'),
                b: q('b'), handlers: [...r.querySelectorAll('*')].filter(
                    n => [...n.attributes].some(a => a.name.startsWith('on'))).length,
                jsUrls: [...r.querySelectorAll('[href],[src]')].filter(
                    n => /^\\s*javascript:/i.test(n.getAttribute('href') || '')).length};
    }""")
    assert counts == {"script": 0, "a": 0, "iframe": 0, "svg": 0, "b": 0, "handlers": 0,
                      "jsUrls": 0}, counts
    # The h2 shows the markup as text.
    expect(s.locator("h2")).to_have_text("<b onmouseover=alert(1)>x</b>")
    client.screenshot("hostile_text")


def test_unknown_component_degrades_and_is_reported(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(surface("u", [
        {"id": "root", "component": "Column", "children": ["ok", "bad"]},
        {"id": "ok", "component": "Text", "text": "still here"},
        {"id": "bad", "component": "Marquee", "text": "hi"},
    ], catalog=BASIC_CATALOG_ID))
    s = client.surface("u")
    expect(s.get_by_text("still here")).to_be_visible()
    expect(s.get_by_text("(unsupported component: Marquee)")).to_be_visible()
    client.page.wait_for_timeout(200)
    errors = client.reported_errors()
    assert errors and errors[0]["code"] == "VALIDATION_FAILED"
    assert errors[0]["path"] == "/updateComponents/components/2/component"
    assert errors[0]["surfaceId"] == "u"


def test_bad_messages_fail_alone(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    msgs: list[Any] = [
        "not an object",
        {"version": "v0.8", "createSurface": {"surfaceId": "x", "catalogId": BASIC_CATALOG_ID}},
        {"version": V, "createSurface": {"surfaceId": "a", "catalogId": BASIC_CATALOG_ID},
         "deleteSurface": {"surfaceId": "a"}},
        {"version": V, "updateComponents": {"surfaceId": "nowhere", "components": [
            {"id": "root", "component": "Text", "text": "x"}]}},
        {"version": V, "createSurface": {"surfaceId": "c", "catalogId": "https://evil/cat"}},
        # A good surface in the same batch still renders ...
        *surface("good", [{"id": "root", "component": "Text", "text": "good one"}],
                 catalog=BASIC_CATALOG_ID),
        # ... a duplicate createSurface is refused, a bad prop type is refused with a pointer.
        {"version": V, "createSurface": {"surfaceId": "good", "catalogId": BASIC_CATALOG_ID}},
        {"version": V, "updateComponents": {"surfaceId": "good", "components": [
            {"id": "root", "component": "Text", "text": "good one"},
            {"id": "t2", "component": "Text", "text": 42, "variant": "h9"}]}},
    ]
    client.process(msgs)
    expect(client.surface("good").get_by_text("good one")).to_be_visible()
    shown = client.errors_shown()
    assert len(shown) == 7, shown
    assert all(m.startswith("Could not show part of the answer") for m in shown)
    assert any("v0.9" in m for m in shown)
    assert any("already exists" in m for m in shown)
    client.page.wait_for_timeout(300)
    paths = [e["path"] for e in client.reported_errors()]
    assert "/version" in paths and "/updateComponents/components/1/text" in paths
    assert client.page_errors == []


def test_huge_message_does_not_hang_the_page(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    big = "x" * (10 * 1024 * 1024)
    client.process(surface("big", [{"id": "root", "component": "Text", "text": "big below"}],
                         {"blob": big}, catalog=BASIC_CATALOG_ID))
    expect(client.surface("big").get_by_text("big below")).to_be_visible()
    assert client.page.evaluate("() => 1 + 1") == 2


def test_user_text_is_shown_as_text(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.say("<img src=x onerror=\"window.__pwned=10\">")
    expect(client.page.locator("#log .msg.user")).to_have_text(
        "<img src=x onerror=\"window.__pwned=10\">")
    client.agent_says("did not catch that")
    assert client.page.evaluate("() => window.__pwned") is None
    assert client.page.locator("#log img").count() == 0
