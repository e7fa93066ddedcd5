"""JSON Pointer (RFC 6901) and A2UI's data-binding paths.

A2UI binds component properties to a per-surface JSON data model with JSON Pointers. It extends
RFC 6901 with *relative* paths: a path without a leading ``/`` is resolved against the current
template item (``name`` inside a template over ``/people`` at index 2 means
``/people/2/name``). ``updateDataModel`` upserts at a path and creates missing containers (a
numeric next segment creates an array, anything else an object); omitting the value deletes.
These functions implement exactly that, on plain Python JSON values.
"""

from __future__ import annotations

import re
from typing import Any

from cairn.a2ui.errors import InvalidPointer

_BAD_ESCAPE = re.compile(r"~(?![01])")
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
MAX_POINTER_LEN = 2048


def escape(token: str) -> str:
    """One reference token, escaped (``~`` → ``~0``, ``/`` → ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def check(path: str, *, relative_ok: bool = False, where: str = "") -> None:
    """Raise :class:`InvalidPointer` unless ``path`` is a valid binding path."""
    if not isinstance(path, str):
        raise InvalidPointer("a path must be a string", where)
    if len(path) > MAX_POINTER_LEN:
        raise InvalidPointer(f"path longer than {MAX_POINTER_LEN} characters", where)
    if "\x00" in path:
        raise InvalidPointer("path contains a NUL character", where)
    if _BAD_ESCAPE.search(path):
        raise InvalidPointer(f"path {path!r} has a '~' not followed by 0 or 1", where)
    if path.startswith("/") or path == "":
        return
    if not relative_ok:
        raise InvalidPointer(
            f"path {path!r} is relative (no leading '/'); relative paths are only allowed "
            "inside a template",
            where,
        )


def split(path: str) -> list[str]:
    """Reference tokens of an absolute pointer (``""`` and ``"/"`` are the whole document).

    A2UI treats ``/`` as the root (RFC 6901 would read it as the key ``""``); we follow A2UI.
    """
    if path in ("", "/"):
        return []
    if not path.startswith("/"):
        raise InvalidPointer(f"{path!r} is not absolute")
    return [unescape(t) for t in path[1:].split("/")]


def join(tokens: list[str]) -> str:
    return "/" + "/".join(escape(t) for t in tokens) if tokens else "/"


def resolve_path(path: str, scope: str | None = None) -> str:
    """The absolute path a binding refers to: relative paths are joined to ``scope``."""
    if path.startswith("/"):
        return path
    if scope is None:
        raise InvalidPointer(f"relative path {path!r} used outside a template")
    base = scope.rstrip("/")
    return f"{base}/{path}" if path else (base or "/")


def get(doc: Any, path: str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when any step is missing."""
    node = doc
    for tok in split(path):
        if isinstance(node, dict):
            if tok not in node:
                return default
            node = node[tok]
        elif isinstance(node, list):
            if not _INDEX.match(tok) or int(tok) >= len(node):
                return default
            node = node[int(tok)]
        else:
            return default
    return node


def check_settable(doc: Any, path: str, *, deleting: bool = False) -> None:
    """Raise :class:`InvalidPointer` if :func:`set_value` would fail; changes nothing."""
    tokens = split(path)
    node = doc
    for i, tok in enumerate(tokens):
        if node is None:
            return  # the rest is created
        if isinstance(node, list):
            if not _INDEX.match(tok):
                raise InvalidPointer(f"segment {tok!r} is not an array index",
                                     join(tokens[:i + 1]))
            if int(tok) > 1_000_000:
                raise InvalidPointer("array index over 1,000,000", join(tokens[:i + 1]))
            node = node[int(tok)] if int(tok) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(tok)
        else:
            if i == 0 and not deleting:
                return  # a scalar model is replaced by a container
            raise InvalidPointer("path goes through a scalar", join(tokens[:i]))
        if node is not None and not isinstance(node, dict | list) and i < len(tokens) - 1:
            return  # set_value replaces a scalar on the way with a container


_DELETE = object()


def set_value(doc: Any, path: str, value: Any = _DELETE) -> Any:
    """Apply ``updateDataModel`` semantics and return the (possibly new) document.

    Upsert at ``path``, creating containers on the way; ``value`` omitted deletes the key (for
    an array index it leaves ``None`` and keeps the length, as the spec says).
    """
    tokens = split(path)
    if not tokens:
        return None if value is _DELETE else value
    if doc is None:
        doc = [] if _INDEX.match(tokens[0]) else {}
    node = doc
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        nxt = None if last else tokens[i + 1]
        if isinstance(node, list):
            if not _INDEX.match(tok):
                raise InvalidPointer(f"segment {tok!r} is not an array index", join(tokens[:i + 1]))
            idx = int(tok)
            while len(node) <= idx and not (last and value is _DELETE):
                node.append(None)
            if last:
                if idx < len(node):
                    node[idx] = None if value is _DELETE else value
                return doc
            if node[idx] is None or not isinstance(node[idx], dict | list):
                node[idx] = [] if nxt is not None and _INDEX.match(nxt) else {}
            node = node[idx]
        elif isinstance(node, dict):
            if last:
                if value is _DELETE:
                    node.pop(tok, None)
                else:
                    node[tok] = value
                return doc
            if not isinstance(node.get(tok), dict | list):
                node[tok] = [] if nxt is not None and _INDEX.match(nxt) else {}
            node = node[tok]
        else:
            raise InvalidPointer("path goes through a scalar", join(tokens[:i]))
    return doc


def delete(doc: Any, path: str) -> Any:
    return set_value(doc, path)


def resolve_value(value: Any, data: Any, scope: str | None = None) -> Any:
    """What a renderer resolves a bound property or action-context value to.

    A literal is itself; ``{"path": p}`` reads the data model at ``p`` (relative to the
    template item ``scope`` when it has no leading ``/``); lists and plain objects resolve
    element-wise. Function calls are evaluated by the client only and are returned as they
    are. The server uses this to check what a template will show or send (tests, and the
    agent's reading of a client data model).
    """
    if isinstance(value, dict):
        if set(value) == {"path"} and isinstance(value["path"], str):
            return get(data, resolve_path(value["path"], scope))
        if "call" in value:
            return value
        return {k: resolve_value(v, data, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_value(v, data, scope) for v in value]
    return value


def template_scopes(data: Any, path: str, scope: str | None = None) -> list[str]:
    """The scope of each instance of a ChildList template over the array at ``path``."""
    base = resolve_path(path, scope)
    items = get(data, base)
    if not isinstance(items, list):
        return []
    prefix = base.rstrip("/")
    return [f"{prefix}/{i}" for i in range(len(items))]
