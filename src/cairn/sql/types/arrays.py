"""Arrays: PostgreSQL's text form ``{1,2,NULL,"a b"}`` in and out.

Python value: a list (nested lists for more dimensions; NULL elements are None). Lower bounds
are always 1: a dimension decoration ``[1:3]=`` is accepted on input when it starts at 1
(other lower bounds: 0A000). Multidimensional arrays must be rectangular, as in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cairn.sql.errors import FeatureNotSupported, InvalidTextRepresentation

_SPACE = " \t\n\r\v\f"
_SPECIAL = set('{}",\\') | set(_SPACE)


def _malformed(text: str, detail: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'malformed array literal: "{text}"', detail=detail)


def parse_array_text(text: str) -> list:
    """The nested structure of an array literal, elements as str (None for NULL)."""
    s = text
    i, n = 0, len(s)
    while i < n and s[i] in _SPACE:
        i += 1
    if i < n and s[i] == "[":
        eq = s.find("=", i)
        if eq < 0:
            raise _malformed(text, 'Missing "=" after array dimensions.')
        for dim in s[i:eq].strip().strip("[]").split("]["):
            lo = dim.split(":")[0] if ":" in dim else "1"
            if lo.strip() != "1":
                raise FeatureNotSupported("array lower bounds other than 1 are not supported")
        i = eq + 1
        while i < n and s[i] in _SPACE:
            i += 1
    if i >= n or s[i] != "{":
        raise _malformed(text, 'Array value must start with "{" or dimension information.')

    def parse_level(i: int) -> tuple[list, int]:
        assert s[i] == "{"
        i += 1
        out: list = []
        expect_item = True
        while True:
            while i < n and s[i] in _SPACE:
                i += 1
            if i >= n:
                raise _malformed(text, "Unexpected end of input.")
            c = s[i]
            if c == "}":
                if out and expect_item:
                    raise _malformed(text, 'Unexpected "}" character.')
                return out, i + 1
            if not expect_item:
                if c != ",":
                    raise _malformed(text, "Unexpected array element.")
                i += 1
                expect_item = True
                continue
            if c == "{":
                sub, i = parse_level(i)
                out.append(sub)
            elif c == '"':
                i += 1
                buf = []
                while True:
                    if i >= n:
                        raise _malformed(text, "Unexpected end of input.")
                    c = s[i]
                    if c == "\\":
                        if i + 1 >= n:
                            raise _malformed(text, "Unexpected end of input.")
                        buf.append(s[i + 1])
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        buf.append(c)
                        i += 1
                out.append("".join(buf))
            elif c == ",":
                raise _malformed(text, 'Unexpected "," character.')
            else:
                buf = []
                quoted_any = False
                keep = 0  # length up to the last escaped character (never trimmed)
                while i < n and s[i] not in ",}":
                    c = s[i]
                    if c == "\\":
                        if i + 1 >= n:
                            raise _malformed(text, "Unexpected end of input.")
                        buf.append(s[i + 1])
                        quoted_any = True
                        keep = len(buf)
                        i += 2
                    elif c in '{"':
                        raise _malformed(text, f'Unexpected "{c}" character.')
                    else:
                        buf.append(c)
                        i += 1
                raw = "".join(buf)
                item = raw[:keep] + raw[keep:].rstrip(_SPACE)
                out.append(None if not quoted_any and item.upper() == "NULL" else item)
            expect_item = False

    result, i = parse_level(i)
    while i < n and s[i] in _SPACE:
        i += 1
    if i != n:
        raise _malformed(text, "Junk after closing right brace.")
    _check_rect(result, text)
    return result


def _check_rect(v: list, text: str) -> None:
    if not v:
        return
    kinds = {isinstance(x, list) for x in v}
    if len(kinds) > 1:
        raise _malformed(
            text, "Multidimensional arrays must have sub-arrays with matching dimensions."
        )
    if kinds == {True}:
        shapes = {_shape(x) for x in v}
        if len(shapes) > 1 or any(not x for x in v):
            raise _malformed(
                text, "Multidimensional arrays must have sub-arrays with matching dimensions."
            )
        for x in v:
            _check_rect(x, text)


def _shape(v: Any) -> tuple:
    if isinstance(v, list):
        return (len(v), *(_shape(v[0]) if v else ()))
    return ()


def make_array_input(t: Any, elem_in: Callable[[str, Any], Any]) -> Callable[[str, Any], list]:
    def conv(v: list, ctx: Any) -> list:
        return [
            None if x is None else conv(x, ctx) if isinstance(x, list) else elem_in(x, ctx)
            for x in v
        ]

    def array_in(text: str, ctx: Any = None) -> list:
        return conv(parse_array_text(text), ctx)

    return array_in


def quote_element(s: str) -> str:
    if s == "" or s.upper() == "NULL" or any(c in _SPECIAL for c in s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def make_array_output(t: Any, elem_out: Callable[[Any, Any], str]) -> Callable[[list, Any], str]:
    def array_out(v: list, ctx: Any = None) -> str:
        parts = []
        for x in v:
            if x is None:
                parts.append("NULL")
            elif isinstance(x, list):
                parts.append(array_out(x, ctx))
            else:
                parts.append(quote_element(elem_out(x, ctx)))
        return "{" + ",".join(parts) + "}"

    return array_out


def ndims(v: list) -> int:
    return len(_shape(v)) if v else 0


def dims(v: list) -> tuple[int, ...]:
    return _shape(v) if v else ()


def flatten(v: list) -> list:
    out: list = []
    for x in v:
        if isinstance(x, list):
            out.extend(flatten(x))
        else:
            out.append(x)
    return out
