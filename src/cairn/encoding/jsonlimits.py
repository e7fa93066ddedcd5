"""Untrusted JSON with a nesting limit: too deep is a clear ``ValueError``, never a crash.

Python's ``json`` parser recurses once per nesting level, so a body of a thousand ``[`` raises
``RecursionError`` (a 500 with a traceback in a web handler), and a value nested just under that
limit breaks the first recursive walk over it later. :func:`loads_bounded` turns both into
:class:`JsonTooDeep`, a ``ValueError``, so a handler that already answers malformed JSON with a
400 answers deep JSON the same way (PostgreSQL's ``jsonb`` refuses deep input with
``54001 stack depth limit exceeded`` for the same reason).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    """The JSON text nests arrays/objects deeper than the limit."""


def depth_exceeds(value: Any, limit: int) -> bool:
    """Does ``value`` nest lists/dicts deeper than ``limit``? (Iterative: no recursion.)"""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            if d >= limit:
                return True
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def loads_bounded(data: str | bytes, *, max_depth: int = MAX_DEPTH,
                  parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``json.loads`` that raises :class:`JsonTooDeep` for more than ``max_depth`` levels."""
    try:
        value = json.loads(data, parse_constant=parse_constant)
    except RecursionError:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels") from None
    if depth_exceeds(value, max_depth):
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return value
