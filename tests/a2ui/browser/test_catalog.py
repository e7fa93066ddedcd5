"""cairn's catalog in the browser: SeatMap (2,000 seats, live status, two-way selection) and
Chart (bar and line). Messages go straight into the renderer of the real page, as the agent
would stream them."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from cairn.a2ui.catalog import CAIRN_CATALOG_ID

V = "v0.9"


def seats(n: int = 2000, per_row: int = 40) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        section = "Stalls" if i < n * 3 // 4 else "Balcony"
        k = i if section == "Stalls" else i - n * 3 // 4
        out.append({"id": str(1000 + i), "section": section, "row": chr(65 + k // per_row),
                    "number": k % per_row + 1, "tier": "A" if section == "Stalls" else "B",
                    "price": 45.0 if section == "Stalls" else 30.0,
                    "status": "sold" if i % 11 == 0 else "free"})
    return out


def seat_map_messages(sid: str = "map", n: int = 2000, max_selection: int = 4) -> list[Any]:
    return [
        {"version": V, "createSurface": {"surfaceId": sid, "catalogId": CAIRN_CATALOG_ID}},
        {"version": V, "updateComponents": {"surfaceId": sid, "components": [
            {"id": "root", "component": "Column", "children": ["map", "count"]},
            {"id": "map", "component": "SeatMap", "seats": {"path": "/seats"},
             "selection": {"path": "/selection"}, "maxSelection": max_selection,
             "currency": "EUR", "label": "Friday concert",
             "action": {"event": {"name": "select",
                                  "context": {"seats": {"path": "/selection"}}}}},
            {"id": "count", "component": "Text",
             "text": {"call": "formatString", "args": {"value": "chosen: ${/selection}"}}},
        ]}},
        {"version": V, "updateDataModel": {"surfaceId": sid, "path": "/",
                                           "value": {"seats": seats(n), "selection": []}}},
    ]


def seat(client: Any, seat_id: str) -> Any:
    return client.surface("map").locator(f"cairn-seat-map button[data-seat='{seat_id}']")


def test_seat_map_renders_2000_seats(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(seat_map_messages())
    buttons = client.surface("map").locator("cairn-seat-map button.seat")
    expect(buttons).to_have_count(2000)
    expect(client.surface("map").locator("cairn-seat-map .section-name")).to_have_text(
        ["Stalls", "Balcony"])
    assert buttons.locator("visible=true").count() > 0
    expect(seat(client, "1000")).to_be_disabled()  # sold (index 0)
    expect(seat(client, "1001")).to_be_enabled()
    assert client.errors_shown() == []
    client.screenshot("catalog_seat_map")


def test_seat_selection_is_two_way_and_fires_the_action(open_client: Any,
                                                        demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(seat_map_messages())
    seat(client, "1001").click()
    seat(client, "1002").click()
    expect(seat(client, "1002")).to_have_attribute("aria-pressed", "true")
    assert client.data("map", "/selection") == ["1001", "1002"]
    # A Text bound to the same path reacts; the summary shows count and price.
    expect(client.surface("map").get_by_text("chosen: [\"1001\",\"1002\"]")).to_be_visible()
    expect(client.surface("map").locator(".selected-count")).to_have_text("2")
    expect(client.surface("map").locator(".selected-total")).to_contain_text("90")
    # The optional action carries the selection as resolved after the write.
    client.page.wait_for_timeout(200)
    selects = [a for a in client.actions() if a["name"] == "select"]
    assert [a["context"]["seats"] for a in selects] == [["1001"], ["1001", "1002"]]
    # Clicking again deselects.
    seat(client, "1001").click()
    assert client.data("map", "/selection") == ["1002"]


def test_max_selection_is_enforced(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(seat_map_messages(max_selection=2))
    for s in ("1001", "1002", "1003"):
        seat(client, s).click()
    assert client.data("map", "/selection") == ["1001", "1002"]
    expect(client.page.locator("#log .msg.notice", has_text="at most 2 seats")).to_be_visible()


def test_live_status_updates_repaint_one_seat(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(seat_map_messages())
    target = seat(client, "1005")
    expect(target).to_have_attribute("data-status", "free")
    # Tag every seat element; a status update must keep the DOM nodes (no full re-render).
    client.surface("map").locator("cairn-seat-map").evaluate(
        "e => e.shadowRoot.querySelectorAll('button.seat').forEach(b => b._tag = 1)")
    client.process([{"version": V, "updateDataModel": {
        "surfaceId": "map", "path": "/seats/5/status", "value": "held"}}])
    expect(target).to_have_attribute("data-status", "held")
    expect(target).to_be_disabled()
    untouched = client.surface("map").locator("cairn-seat-map").evaluate(
        "e => [...e.shadowRoot.querySelectorAll('button.seat')].every(b => b._tag === 1)")
    assert untouched
    client.process([{"version": V, "updateDataModel": {
        "surfaceId": "map", "path": "/seats/5/status", "value": "mine"}}])
    expect(target).to_have_attribute("data-status", "mine")
    expect(target).to_be_enabled()


def test_unknown_seat_status_is_never_offered(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(seat_map_messages(n=10))
    client.process([{"version": V, "updateDataModel": {
        "surfaceId": "map", "path": "/seats/3/status", "value": "<img src=x onerror=alert(1)>"}}])
    expect(seat(client, "1003")).to_be_disabled()
    expect(seat(client, "1003")).to_have_attribute("data-status", "sold")


def chart_messages(variant: str) -> list[Any]:
    sid = f"chart-{variant}"
    return [
        {"version": V, "createSurface": {"surfaceId": sid, "catalogId": CAIRN_CATALOG_ID}},
        {"version": V, "updateComponents": {"surfaceId": sid, "components": [
            {"id": "root", "component": "Chart", "variant": variant, "title": "ops/s",
             "labels": {"path": "/labels"}, "series": {"path": "/series"}, "unit": "ops/s",
             "height": 200},
        ]}},
        {"version": V, "updateDataModel": {"surfaceId": sid, "path": "/", "value": {
            "labels": ["lsm", "btree", "hash", "log"],
            "series": [{"name": "get", "values": [120, 80, 200, 10]},
                       {"name": "put", "values": [150, 60, 180, 300]}]}}},
    ]


def test_bar_chart(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(chart_messages("bar"))
    chart = client.surface("chart-bar").locator("cairn-chart")
    expect(chart.locator("rect.bar")).to_have_count(8)
    expect(chart.locator("text.label")).to_have_text(["lsm", "btree", "hash", "log"])
    expect(chart.locator(".keys .key")).to_have_text(["get", "put"])
    # Bars scale with the values: "log put" (300) is taller than "log get" (10).
    heights = chart.locator("rect.bar").evaluate_all(
        "rs => rs.map(r => Number(r.getAttribute('height')))")
    assert heights[7] > heights[3] > 0
    # Streaming a new point redraws the chart.
    client.process([{"version": V, "updateDataModel": {
        "surfaceId": "chart-bar", "path": "/series/0/values/3", "value": 400}}])
    expect(chart.locator("rect.bar").nth(3)).not_to_have_attribute("height", str(heights[3]))
    client.screenshot("catalog_chart_bar")


def test_line_chart(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)
    client.process(chart_messages("line"))
    chart = client.surface("chart-line").locator("cairn-chart")
    expect(chart.locator("polyline.line")).to_have_count(2)
    expect(chart.locator("circle")).to_have_count(8)
    expect(chart.locator("rect.bar")).to_have_count(0)
