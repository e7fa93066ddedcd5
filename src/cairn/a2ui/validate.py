"""Validation of every outgoing A2UI message: official JSON Schemas plus structural rules.

Two layers, because the schemas cannot express everything:

1. **Schema**: the message must validate against the *unmodified* official v0.9
   ``server_to_client.json`` with the surface's catalog mapped in as ``catalog.json`` (the
   vendored files; see :mod:`cairn.a2ui.vendor_schemas`), compiled by jsonschema-rs for the
   verdict. A failing message is explained against its own component's (or message kind's)
   definition so the error names the deepest property. Tests cross-check against a second
   implementation (pure-Python ``jsonschema``) and the official Python SDK's validator.
2. **Structure** (what the spec requires in prose): ``createSurface`` before updates and never
   twice; unique ids in a message; after every ``updateComponents`` the surface has a ``root``,
   every child reference resolves, there are no cycles and no orphans; paths are valid JSON
   Pointers and relative only inside templates; ``weight`` only on children of Row/Column;
   function calls nest at most 5 deep; literal URLs use http(s) or are relative.

cairn is stricter than the spec on one point, on purpose: the spec lets a child arrive in a
later message, we require each ``updateComponents`` to leave the surface complete. The
renderer then never shows a placeholder for a child that might never come, and "invalid UI is
never sent" is checkable one message at a time. Progressive streaming still works: the layout
goes first, complete, and data follows in ``updateDataModel`` messages.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
from referencing.jsonschema import DRAFT202012

from cairn.a2ui import pointer
from cairn.a2ui.catalog import (
    BASIC_CATALOG_ID,
    CATALOG_PLACEHOLDER,
    FLEX_CONTAINERS,
    URL_PROPS,
    Catalog,
    default_catalogs,
    official_documents,
)
from cairn.a2ui.errors import InvalidPointer, ProtocolError, UnknownSurface, ValidationFailed

VERSION = "v0.9"
SERVER_KINDS = ("createSurface", "updateComponents", "updateDataModel", "deleteSurface")
ENVELOPE_ID = "https://a2ui.org/specification/v0_9/server_to_client.json"
MAX_FUNCTION_DEPTH = 5
MAX_TREE_DEPTH = 50
MAX_COMPONENTS = 20_000
_SAFE_URL = re.compile(r"^(https?://[^\s<>\"']+|/(?!/)[^\s<>\"']*|\./[^\s<>\"']*)$", re.I)
_SHELL_ID = "urn:cairn:a2ui:shell-catalog"


def check_url(url: str, where: str) -> None:
    """Only http(s) URLs and same-origin relative paths; never ``javascript:``/``data:``."""
    if not isinstance(url, str) or not _SAFE_URL.match(url.strip()) or len(url) > 4096:
        raise ValidationFailed(
            f"URL {str(url)[:80]!r} is not allowed: use http(s):// or a relative path", where
        )


@dataclass
class SurfaceState:
    """The server's mirror of one surface: what the client holds after our messages."""

    surface_id: str
    catalog_id: str
    send_data_model: bool = False
    theme: dict[str, Any] | None = None
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: Any = field(default_factory=dict)

    def create_message(self) -> dict[str, Any]:
        body: dict[str, Any] = {"surfaceId": self.surface_id, "catalogId": self.catalog_id}
        if self.theme is not None:
            body["theme"] = self.theme
        if self.send_data_model:
            body["sendDataModel"] = True
        return {"version": VERSION, "createSurface": body}

    def snapshot(self) -> list[dict[str, Any]]:
        """Messages that rebuild this surface from nothing (used on reconnect)."""
        out = [self.create_message()]
        if self.components:
            # root first, then breadth-first: the order a progressive renderer likes.
            out.append({"version": VERSION, "updateComponents": {
                "surfaceId": self.surface_id, "components": list(_root_first(self.components))}})
        out.append({"version": VERSION, "updateDataModel": {
            "surfaceId": self.surface_id, "path": "/", "value": copy.deepcopy(self.data)}})
        return out


def _root_first(components: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    order = ["root"] if "root" in components else []
    order += [k for k in components if k != "root"]
    for cid in order:
        if cid not in seen:
            seen.add(cid)
            yield components[cid]


def _json_path(parts: Any) -> str:
    return "/" + "/".join(pointer.escape(str(p)) for p in parts) if parts else ""


class Validator:
    """Validates server messages against the official schemas and the structural rules.

    Thread-safe for reads; the per-surface state it checks against is passed in and returned,
    so one validator serves every session.
    """

    def __init__(self, catalogs: Mapping[str, Catalog] | None = None) -> None:
        self.catalogs: dict[str, Catalog] = dict(catalogs or default_catalogs())
        docs = official_documents()
        self._docs = docs
        self._fast: dict[str, Any] = {}
        self._components: dict[tuple[str, str], Any] = {}
        self._kinds: dict[tuple[str, str], Any] = {}
        self._envelopes: dict[str, jsonschema.Draft202012Validator] = {}
        envelope = docs[ENVELOPE_ID]
        for cid, cat in self.catalogs.items():
            # The unmodified official envelope with this catalog mapped in as
            # "catalog.json", compiled by jsonschema-rs; and one validator per component
            # (the same schemas) to explain failures.
            rs_reg = jsonschema_rs.Registry(
                [*docs.items(), *((c.catalog_id, c.doc) for c in self.catalogs.values()),
                 (CATALOG_PLACEHOLDER, cat.doc)])
            self._fast[cid] = jsonschema_rs.Draft202012Validator(envelope, registry=rs_reg)
            for name in cat.components:
                self._components[(cid, name)] = jsonschema_rs.Draft202012Validator(
                    {"$ref": f"{cid}#/components/{name}"}, registry=rs_reg)
            for kind in SERVER_KINDS:
                self._kinds[(cid, kind)] = jsonschema_rs.Draft202012Validator(
                    {"$ref": f"{ENVELOPE_ID}#/$defs/{kind[0].upper()}{kind[1:]}Message"},
                    registry=rs_reg)

    # -- schema layer -----------------------------------------------------------------------

    def official_envelope(self, catalog_id: str) -> jsonschema.Draft202012Validator:
        """The official envelope under the pure-Python ``jsonschema`` package (a second,
        independent implementation, used by tests to cross-check the compiled one)."""
        if catalog_id not in self._envelopes:
            cat = self.catalogs[catalog_id]
            base = [(uri, DRAFT202012.create_resource(doc)) for uri, doc in self._docs.items()]
            base += [(c.catalog_id, DRAFT202012.create_resource(c.doc))
                     for c in self.catalogs.values()]
            reg = referencing.Registry().with_resources(
                [*base, (CATALOG_PLACEHOLDER, DRAFT202012.create_resource(cat.doc))])
            self._envelopes[catalog_id] = jsonschema.Draft202012Validator(
                self._docs[ENVELOPE_ID], registry=reg)
        return self._envelopes[catalog_id]

    def check_schema(self, msg: Any, catalog_id: str) -> None:
        """Official-schema check: a fast verdict, and a precise explanation when it fails.

        The verdict comes from the unmodified official envelope compiled by jsonschema-rs.
        Only a failing message is explained, component by component (the envelope's
        ``oneOf`` over 18 components otherwise only says "not valid under any of the
        schemas"), with the deepest error and its JSON Pointer.
        """
        if catalog_id not in self.catalogs:
            raise ValidationFailed(f"unknown catalog {catalog_id!r}", "/createSurface/catalogId")
        fast = self._fast[catalog_id]
        try:
            if fast.is_valid(msg):
                return
        except (ValueError, TypeError, OverflowError) as exc:  # not JSON-shaped at all
            raise ValidationFailed(f"not a JSON value: {exc}", "") from exc
        uc = msg.get("updateComponents") if isinstance(msg, dict) else None
        comps = uc.get("components") if isinstance(uc, dict) else None
        if isinstance(comps, list):
            cat = self.catalogs[catalog_id]
            for i, comp in enumerate(comps):
                where = f"/updateComponents/components/{i}"
                if not isinstance(comp, dict) or not isinstance(comp.get("component"), str):
                    raise ValidationFailed("a component must be an object with a 'component' "
                                           "name", where)
                name = comp["component"]
                if name not in cat.components:
                    raise ValidationFailed(
                        f"unknown component {name[:60]!r} (catalog {catalog_id} has "
                        f"{', '.join(cat.components)})", where + "/component")
                err = _deepest(self._components[(catalog_id, name)].iter_errors(comp))
                if err is not None:
                    raise ValidationFailed(f"{name} {str(comp.get('id'))[:60]!r}: "
                                           f"{err.message[:300]}",
                                           where + _json_path(err.instance_path))
        kinds = [k for k in SERVER_KINDS if isinstance(msg, dict) and k in msg]
        if len(kinds) == 1:  # explain against that message kind's own definition
            fast = self._kinds[(catalog_id, kinds[0])]
        err = _deepest(fast.iter_errors(msg))
        raise ValidationFailed(err.message[:300] if err is not None else "invalid message",
                               _json_path(err.instance_path) if err is not None else "")

    # -- structural layer -------------------------------------------------------------------

    def validate(self, msg: Any, surfaces: Mapping[str, SurfaceState],
                 supported_catalogs: frozenset[str] | None = None, *,
                 defer_structure: bool = False) -> SurfaceState | None:
        """Validate one outgoing message; return the surface's state after it.

        ``surfaces`` is the session's current state (not modified). Returns the new
        :class:`SurfaceState` (``None`` after ``deleteSurface``). Raises
        :class:`ValidationFailed` / :class:`ProtocolError`.
        """
        if not isinstance(msg, dict):
            raise ValidationFailed("a message must be a JSON object", "")
        kinds = [k for k in SERVER_KINDS if k in msg]
        if len(kinds) != 1:
            raise ValidationFailed(
                "a message must have exactly one of " + ", ".join(SERVER_KINDS), "")
        kind = kinds[0]
        body = msg[kind]
        sid = body.get("surfaceId") if isinstance(body, dict) else None
        if kind == "createSurface":
            cid = body.get("catalogId") if isinstance(body, dict) else None
            cid = cid if isinstance(cid, str) and cid in self.catalogs else BASIC_CATALOG_ID
            self.check_schema(msg, cid)
            if body["catalogId"] not in self.catalogs:
                raise ValidationFailed(f"unknown catalog {body['catalogId']!r}",
                                       "/createSurface/catalogId")
            if supported_catalogs is not None and body["catalogId"] not in supported_catalogs:
                raise ProtocolError(
                    f"the client does not support catalog {body['catalogId']!r}",
                    "/createSurface/catalogId")
            if sid in surfaces:
                raise ProtocolError(f"surface {sid!r} already exists (delete it first)",
                                    "/createSurface/surfaceId")
            theme = body.get("theme")
            if theme is not None and "iconUrl" in theme:
                check_url(theme["iconUrl"], "/createSurface/theme/iconUrl")
            return SurfaceState(sid, body["catalogId"], bool(body.get("sendDataModel")),
                                theme)
        state = surfaces.get(sid) if isinstance(sid, str) else None
        self.check_schema(msg, state.catalog_id if state else BASIC_CATALOG_ID)
        if state is None:
            raise UnknownSurface(f"surface {sid!r} does not exist (send createSurface first)",
                                 f"/{kind}/surfaceId")
        if kind == "deleteSurface":
            return None
        if kind == "updateDataModel":
            # Checked without copying the model (a 2,000-seat map is updated one seat at a
            # time): a dry run proves the path can be applied; :meth:`apply` then applies it.
            path = body.get("path", "/")
            pointer.check(path, where="/updateDataModel/path")
            try:
                pointer.check_settable(state.data, path, deleting="value" not in body)
            except InvalidPointer as exc:
                raise ValidationFailed(f"cannot apply update: {exc.message}",
                                       "/updateDataModel/path") from exc
            return state
        # updateComponents
        comps = body["components"]
        merged = dict(state.components)
        seen: set[str] = set()
        for i, comp in enumerate(comps):
            cid = comp["id"]
            if cid in seen:
                raise ValidationFailed(f"duplicate component id {cid!r} in one message",
                                       f"/updateComponents/components/{i}/id")
            seen.add(cid)
            merged[cid] = comp
        if len(merged) > MAX_COMPONENTS:
            raise ValidationFailed(f"more than {MAX_COMPONENTS} components on one surface", "")
        if not defer_structure:
            self.check_structure(merged, self.catalogs[state.catalog_id],
                                 {c["id"]: f"/updateComponents/components/{i}"
                                  for i, c in enumerate(comps)})
        return SurfaceState(state.surface_id, state.catalog_id, state.send_data_model,
                            state.theme, merged, state.data)

    def apply(self, msg: Any, surfaces: dict[str, SurfaceState],
              supported_catalogs: frozenset[str] | None = None) -> None:
        """Validate ``msg`` and apply it to ``surfaces`` (in place); nothing changes if invalid."""
        new = self.validate(msg, surfaces, supported_catalogs)
        kind = next(k for k in SERVER_KINDS if k in msg)
        body = msg[kind]
        sid = body["surfaceId"]
        if new is None:
            surfaces.pop(sid, None)
            return
        if kind == "updateDataModel":
            path = body.get("path", "/")
            if "value" in body:
                new.data = pointer.set_value(new.data, path, copy.deepcopy(body["value"]))
            else:
                new.data = pointer.delete(new.data, path)
        surfaces[sid] = new

    def apply_batch(self, msgs: list[Any], surfaces: dict[str, SurfaceState],
                    supported_catalogs: frozenset[str] | None = None) -> None:
        """Validate a list of messages as one unit (the spec's view of a payload).

        References may resolve in a later message of the list; the structural rules are
        checked once, on each touched surface, after the whole list. All or nothing:
        ``surfaces`` changes only if every message passes. Errors are prefixed ``/<i>``.
        """
        work = dict(surfaces)
        new_ids: dict[str, dict[str, str]] = {}
        copied: set[str] = set()
        for i, msg in enumerate(msgs):
            try:
                kind = next((k for k in SERVER_KINDS if isinstance(msg, dict) and k in msg),
                            None)
                if kind == "updateDataModel":
                    sid = msg[kind].get("surfaceId") if isinstance(msg[kind], dict) else None
                    if sid in work and sid not in copied:
                        st = work[sid]
                        work[sid] = SurfaceState(st.surface_id, st.catalog_id,
                                                 st.send_data_model, st.theme, st.components,
                                                 copy.deepcopy(st.data))
                        copied.add(sid)
                new = self.validate(msg, work, supported_catalogs, defer_structure=True)
                sid = msg[kind]["surfaceId"]
                if new is None:
                    work.pop(sid, None)
                    new_ids.pop(sid, None)
                    continue
                if kind == "createSurface":
                    copied.add(sid)
                    new_ids[sid] = {}
                if kind == "updateComponents":
                    for j, c in enumerate(msg[kind]["components"]):
                        new_ids.setdefault(sid, {})[c["id"]] = \
                            f"/{i}/updateComponents/components/{j}"
                if kind == "updateDataModel":
                    path = msg[kind].get("path", "/")
                    if "value" in msg[kind]:
                        new.data = pointer.set_value(new.data, path,
                                                     copy.deepcopy(msg[kind]["value"]))
                    else:
                        new.data = pointer.delete(new.data, path)
                work[sid] = new
            except ValidationFailed as exc:
                exc.path = f"/{i}{exc.path}"
                raise
        for sid, ids in new_ids.items():
            st = work.get(sid)
            if st is not None and ids:
                self.check_structure(st.components, self.catalogs[st.catalog_id], ids)
        surfaces.clear()
        surfaces.update(work)

    def check_structure(self, comps: Mapping[str, dict[str, Any]], cat: Catalog,
                        index: Mapping[str, str] | None = None) -> None:
        """Root, references, cycles, orphans, paths, weights, URLs of a full component set.

        ``index`` maps the ids of the components just sent to their JSON Pointer in the
        message (for error paths); orphans are looked for among those only.
        """
        index = index or {}

        def where(cid: str, suffix: str = "") -> str:
            return index.get(cid, f"/components/{pointer.escape(cid)}") + suffix

        if "root" not in comps:
            raise ValidationFailed("the surface has no component with id 'root'", "")
        edges: dict[str, list[str]] = {}
        template_roots: dict[str, str] = {}  # template component id -> data path
        for cid, comp in comps.items():
            out: list[str] = []
            for spec in cat.refs.get(comp["component"], ()):
                for ppath, value in _walk(comp, spec.path):
                    loc = where(cid, ppath)
                    if spec.kind == "id" or isinstance(value, list):
                        ids = value if isinstance(value, list) else [value]
                        for j, child in enumerate(ids):
                            sub = f"{loc}/{j}" if isinstance(value, list) else loc
                            if child not in comps:
                                raise ValidationFailed(
                                    f"{comp['component']} {cid!r} refers to missing "
                                    f"component {child!r}", sub)
                            out.append(child)
                    else:  # template {componentId, path}
                        tid = value["componentId"]
                        pointer.check(value["path"], relative_ok=True, where=loc + "/path")
                        if tid not in comps:
                            raise ValidationFailed(
                                f"{comp['component']} {cid!r} uses missing template "
                                f"component {tid!r}", loc + "/componentId")
                        template_roots[tid] = value["path"]
                        out.append(tid)
            if cid in out:
                raise ValidationFailed(f"component {cid!r} refers to itself", where(cid))
            edges[cid] = out
        # Cycles and depth: iterative DFS from root with colours.
        depth: dict[str, int] = {}
        colour: dict[str, int] = {}
        stack: list[tuple[str, int, int]] = [("root", 0, 0)]
        while stack:
            node, i, d = stack.pop()
            if i == 0:
                if colour.get(node) == 1:
                    raise ValidationFailed(f"cycle through component {node!r}", where(node))
                if colour.get(node) == 2:
                    continue
                colour[node] = 1
                depth[node] = d
                if d > MAX_TREE_DEPTH:
                    raise ValidationFailed(f"component tree deeper than {MAX_TREE_DEPTH}",
                                           where(node))
            kids = edges[node]
            if i < len(kids):
                stack.append((node, i + 1, d))
                child = kids[i]
                if colour.get(child) == 1:
                    raise ValidationFailed(f"cycle: {node!r} -> {child!r}", where(node))
                if colour.get(child) != 2:
                    stack.append((child, 0, d + 1))
            else:
                colour[node] = 2
        # Orphans: a component sent in this message that the tree does not reach. Components
        # of earlier messages may become unreachable when a parent is replaced (the protocol
        # has no "remove component"), so only the new ones are checked.
        orphans = [c for c in (index or comps) if c not in colour]
        if orphans:
            raise ValidationFailed(
                f"component {orphans[0]!r} is not reachable from 'root'", where(orphans[0]))
        # Which components sit inside a template (relative paths allowed there).
        in_template: set[str] = set()
        todo = list(template_roots)
        while todo:
            c = todo.pop()
            if c not in in_template:
                in_template.add(c)
                todo.extend(edges[c])
        for cid, comp in comps.items():
            rel = cid in in_template
            for loc, key, value in _bindings(comp, "", 0):
                if key == "path":
                    pointer.check(value, relative_ok=rel, where=where(cid, loc))
                elif key == "depth":
                    raise ValidationFailed(
                        f"function calls nest deeper than {MAX_FUNCTION_DEPTH}", where(cid, loc))
                elif key == "url":
                    check_url(value, where(cid, loc))
            for prop in URL_PROPS.get(comp["component"], ()):
                if isinstance(comp.get(prop), str):
                    check_url(comp[prop], where(cid, "/" + prop))
            for child in edges[cid]:
                if "weight" in comps[child] and comp["component"] not in FLEX_CONTAINERS:
                    raise ValidationFailed(
                        f"{child!r} has 'weight' but its parent {cid!r} is a "
                        f"{comp['component']}, not a Row or Column", where(child, "/weight"))
        if "weight" in comps["root"]:
            raise ValidationFailed("'root' cannot have 'weight'", where("root", "/weight"))


def _walk(node: Any, path: tuple[str, ...], loc: str = "") -> Iterator[tuple[str, Any]]:
    """Values at a property path with ``*`` wildcards, with their JSON Pointer suffix."""
    if not path:
        yield loc, node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _walk(item, rest, f"{loc}/{i}")
    elif isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest, f"{loc}/{pointer.escape(head)}")


def _bindings(node: Any, loc: str, fdepth: int) -> Iterator[tuple[str, str, Any]]:
    """Data-binding paths, over-deep function calls and ``openUrl`` URLs in a component."""
    if isinstance(node, dict):
        if "call" in node and isinstance(node.get("call"), str):
            fdepth += 1
            if fdepth > MAX_FUNCTION_DEPTH:
                yield loc, "depth", fdepth
                return
            args = node.get("args")
            if node["call"] == "openUrl" and isinstance(args, dict) and isinstance(
                    args.get("url"), str):
                yield loc + "/args/url", "url", args["url"]
        if set(node) == {"path"} and isinstance(node["path"], str):
            yield loc + "/path", "path", node["path"]
            return
        for k, v in node.items():
            if k in ("id", "component"):
                continue
            yield from _bindings(v, f"{loc}/{pointer.escape(k)}", fdepth)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _bindings(v, f"{loc}/{i}", fdepth)


def _deepest(errors: Any) -> Any:
    """The most useful of jsonschema-rs's errors: the deepest, a concrete one over the
    "unevaluated properties" catch-all that a failing ``allOf`` part also triggers."""
    best = None
    for e in errors:
        key = (len(e.instance_path), not e.message.startswith("Unevaluated properties"))
        if best is None or key > best[0]:
            best = (key, e)
    return best[1] if best else None
