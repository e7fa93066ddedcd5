"""Demo surfaces that need no service: a greeting form and a chart.

They exercise the renderer's mandatory cases (static text, row layout, a text field bound
two-way, dependent components, actions with context) and cairn's Chart, so the web client can
be built and tested before any booking data exists.
"""

from __future__ import annotations

from typing import Any

from cairn.a2ui import builder as b
from cairn.a2ui.catalog import CAIRN_CATALOG_ID


def hello_surface(surface_id: str = "demo") -> list[dict[str, Any]]:
    """Root and layout first, then the data: the order a progressive renderer wants."""
    comps = [
        b.column("root", ["title", "name_row", "greeting", "items", "send"]),
        b.text("title", "Hello from cairn", "h2"),
        b.row("name_row", ["name_label", "name"], align="center"),
        b.text("name_label", "Your name"),
        {"id": "name", "component": "TextField", "label": "Name", "value": b.bind("/name"),
         "checks": [{"condition": b.call("required", value=b.bind("/name")),
                     "message": "Please enter a name"}]},
        b.text("greeting", b.call("formatString", "string",
                                  value="Hello, ${/name}!")),
        {"id": "items", "component": "List",
         "children": {"componentId": "item", "path": "/items"}},
        b.button("item", "item_label", "pick", {"item": b.bind("label")}),
        b.text("item_label", b.bind("label")),
        b.button("send", "send_label", "greet", {"name": b.bind("/name")}, "primary"),
        b.text("send_label", "Greet me"),
    ]
    return [
        b.create(surface_id, CAIRN_CATALOG_ID),
        b.components(surface_id, comps),
        b.data(surface_id, "/", {"name": "", "items": [{"label": "alpha"}, {"label": "beta"},
                                                       {"label": "gamma"}]}),
    ]


def chart_surface(surface_id: str, title: str, labels: list[str],
                  series: list[dict[str, Any]], variant: str = "bar",
                  unit: str = "") -> list[dict[str, Any]]:
    comps = [
        b.column("root", ["title", "chart"]),
        b.text("title", title, "h3"),
        {"id": "chart", "component": "Chart", "variant": variant, "title": title,
         "labels": b.bind("/labels"), "series": b.bind("/series"), "unit": unit},
    ]
    return [
        b.create(surface_id, CAIRN_CATALOG_ID),
        b.components(surface_id, comps),
        b.data(surface_id, "/", {"labels": labels, "series": series}),
    ]
