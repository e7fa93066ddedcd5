"""Cross-check: our validator against the official Python SDK's validator (the oracle).

Hypothesis builds random surfaces from basic-catalog components (a random tree, then maybe
one mutation that breaks a rule: a dangling child, a cycle, a missing root, a duplicate id,
an orphan, a wrong property type, an unknown property or component). The payload
``[createSurface, updateComponents]`` is validated by ``a2ui.utils.validation
.validate_payload`` (a2ui-agent-sdk 0.9.0 / a2ui-core 0.4.0) and by
:meth:`Validator.apply_batch`; both must give the same verdict. Surfaces avoid the rules
only cairn has (URL schemes, relative paths outside templates, ``weight`` placement), where
cairn is stricter on purpose (tested in test_validate.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from a2ui.core.basic_catalog import BasicCatalog
from a2ui.utils.validation import validate_payload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.a2ui.errors import A2uiError
from cairn.a2ui.validate import SurfaceState, Validator
from tests.a2ui.conftest import BASIC

ORACLE = BasicCatalog("v0.9")
LEAVES = ("Text", "Image", "Icon", "Divider", "TextField", "CheckBox")
CONTAINERS = ("Column", "Row", "Card", "List", "Button")
MUTATIONS = ("none", "dangle", "cycle", "no_root", "dup", "orphan", "bad_type", "bad_prop",
             "bad_component", "self_ref")


def leaf(kind: str, cid: str, draw: Any) -> dict[str, Any]:
    if kind == "Text":
        text = draw(st.sampled_from(["hi", {"path": "/msg"}, {
            "call": "formatString", "args": {"value": "n=${/n}"}, "returnType": "string"}]))
        c = {"id": cid, "component": "Text", "text": text}
        if draw(st.booleans()):
            c["variant"] = draw(st.sampled_from(["h1", "h3", "caption", "body"]))
        return c
    if kind == "Image":
        return {"id": cid, "component": "Image", "url": "https://example.org/a.png",
                "fit": draw(st.sampled_from(["contain", "cover"]))}
    if kind == "Icon":
        return {"id": cid, "component": "Icon", "name": draw(st.sampled_from(
            ["add", "home", "search", "settings"]))}
    if kind == "Divider":
        return {"id": cid, "component": "Divider"}
    if kind == "TextField":
        return {"id": cid, "component": "TextField", "label": "Name",
                "value": {"path": "/name"},
                "checks": [{"condition": {"call": "required", "args": {
                    "value": {"path": "/name"}}, "returnType": "boolean"},
                    "message": "required"}]}
    return {"id": cid, "component": "CheckBox", "label": "ok", "value": {"path": "/ok"}}


@st.composite
def surfaces(draw: Any) -> tuple[list[dict[str, Any]], str]:
    n = draw(st.integers(1, 14))
    comps: list[dict[str, Any]] = []

    def new_id() -> str:
        return "root" if not comps else f"c{len(comps)}"

    for i in range(n):
        cid = new_id()
        remaining = n - i - 1
        if (remaining > 0 and draw(st.booleans())) or (i == 0 and n > 1):
            kind = draw(st.sampled_from(CONTAINERS))
            if kind in ("Column", "Row"):
                c = {"id": cid, "component": kind, "children": []}
            elif kind == "List":
                c = {"id": cid, "component": "List", "children": []}
            elif kind == "Card":
                c = {"id": cid, "component": "Card", "child": None}
            else:
                c = {"id": cid, "component": "Button", "child": None, "action": {
                    "event": {"name": "go", "context": {"v": {"path": "/name"}}}}}
        else:
            c = leaf(draw(st.sampled_from(LEAVES)), cid, draw)
        if comps:
            # attach to a random open parent
            candidates = [p for p in comps if "children" in p or p.get("child", 1) is None]
            if not candidates:
                break
            parent = draw(st.sampled_from(candidates))
            if "children" in parent:
                parent["children"].append(cid)
            else:
                parent["child"] = cid
        comps.append(c)
    # Close unfilled single-child slots with a Text; drop empty child lists' parents' need.
    extra = []
    for c in comps:
        if c.get("child", 1) is None:
            tid = f"t{len(comps) + len(extra)}"
            c["child"] = tid
            extra.append({"id": tid, "component": "Text", "text": "label"})
    comps += extra
    mutation = draw(st.sampled_from(MUTATIONS))
    parents = [c for c in comps if c.get("children") or "child" in c]
    if mutation == "dangle" and parents:
        p = draw(st.sampled_from(parents))
        if "children" in p:
            p["children"].append("ghost")
        else:
            p["child"] = "ghost"
    elif mutation == "cycle" and parents:
        p = draw(st.sampled_from([c for c in parents if "children" in c] or parents))
        if "children" in p:
            p["children"].append("root")
        else:
            p["child"] = "root"
    elif mutation == "self_ref" and parents:
        p = draw(st.sampled_from(parents))
        if "children" in p:
            p["children"].append(p["id"])
        else:
            p["child"] = p["id"]
    elif mutation == "no_root":
        comps[0]["id"] = "top"
        for c in comps:
            if c.get("children"):
                c["children"] = ["top" if x == "root" else x for x in c["children"]]
    elif mutation == "dup" and len(comps) > 1:
        comps.append(dict(comps[draw(st.integers(1, len(comps) - 1))]))
    elif mutation == "orphan":
        comps.append({"id": "lonely", "component": "Text", "text": "x"})
    elif mutation == "bad_type":
        texts = [c for c in comps if c["component"] == "Text"]
        if texts:
            draw(st.sampled_from(texts))["text"] = 42
    elif mutation == "bad_prop":
        draw(st.sampled_from(comps))["colour"] = "red"
    elif mutation == "bad_component":
        draw(st.sampled_from(comps))["component"] = "Marquee"
    return comps, mutation


def payload(comps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"version": "v0.9", "createSurface": {"surfaceId": "s", "catalogId": BASIC}},
            {"version": "v0.9", "updateComponents": {"surfaceId": "s", "components": comps}}]


def oracle_ok(msgs: list[dict[str, Any]]) -> tuple[bool, str]:
    try:
        validate_payload([ORACLE], msgs)
    except Exception as exc:  # the SDK raises several exception types; any means "invalid"
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def ours_ok(v: Validator, msgs: list[dict[str, Any]]) -> tuple[bool, str]:
    surfaces: dict[str, SurfaceState] = {}
    try:
        v.apply_batch(msgs, surfaces)
    except A2uiError as exc:
        return False, str(exc)
    return True, ""


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(surfaces())
def test_same_verdict_as_the_official_sdk(validator: Validator,
                                          case: tuple[list[dict[str, Any]], str]) -> None:
    comps, mutation = case
    msgs = payload(comps)
    ok_oracle, why_oracle = oracle_ok(msgs)
    ok_ours, why_ours = ours_ok(validator, msgs)
    assert ok_ours == ok_oracle, (mutation, why_ours, why_oracle, comps)


@pytest.mark.parametrize("mutation", ["dangle", "cycle", "no_root", "orphan", "bad_type"])
def test_oracle_rejects_what_the_mutations_break(validator: Validator, mutation: str) -> None:
    """The oracle is not vacuous: fixed broken surfaces are rejected by both."""
    base = [{"id": "root", "component": "Column", "children": ["a"]},
            {"id": "a", "component": "Text", "text": "x"}]
    if mutation == "dangle":
        base[0]["children"] = ["a", "ghost"]
    elif mutation == "cycle":
        base[1] = {"id": "a", "component": "Column", "children": ["root"]}
    elif mutation == "no_root":
        base[0]["id"] = "top"
    elif mutation == "orphan":
        base.append({"id": "o", "component": "Text", "text": "y"})
    else:
        base[1]["text"] = 42
    msgs = payload(base)
    assert not oracle_ok(msgs)[0]
    assert not ours_ok(validator, msgs)[0]
