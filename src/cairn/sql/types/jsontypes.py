"""json and jsonb: validation, PostgreSQL's jsonb normalisation, and text output.

json keeps its text exactly as written (after validation). jsonb is the parsed value: objects
as dicts with duplicate keys resolved last-wins and keys ordered as PostgreSQL stores them
(shorter keys first, then bytewise), numbers as int or Decimal (PostgreSQL's numeric, so
1.50 keeps its scale), strings without the NUL character (\\u0000 is rejected, as in jsonb).
Output uses PostgreSQL's spacing: ``{"a": 1, "b": [1, 2]}``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from cairn.sql.errors import InvalidTextRepresentation, SqlError
from cairn.sql.types.numbers import normalize_numeric, numeric_out


class JsonNull:
    """A whole jsonb value that is JSON ``null`` (distinct from SQL NULL, which is None).

    Inside arrays and objects JSON null is plain None; only a top-level jsonb value needs the
    sentinel, so that ``'null'::jsonb IS NULL`` is false as in PostgreSQL."""

    _instance: JsonNull | None = None

    def __new__(cls) -> JsonNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "JSON_NULL"

    def __reduce__(self) -> str:
        return "JSON_NULL"


JSON_NULL = JsonNull()


def top(v: Any) -> Any:
    """A jsonb sub-value as a whole jsonb value (None -> JSON_NULL)."""
    return JSON_NULL if v is None else v


def _key_order(k: str) -> tuple[int, bytes]:
    b = k.encode()
    return (len(b), b)


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    d: dict[str, Any] = {}
    for k, v in pairs:
        d.pop(k, None)
        d[k] = v
    return {k: d[k] for k in sorted(d, key=_key_order)}


def _reject_const(name: str) -> Any:
    raise ValueError(name)


def _num(s: str) -> Decimal:
    return normalize_numeric(Decimal(s))


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_num, parse_constant=_reject_const
)
_TRAILING = re.compile(r"[ \t\n\r]*")


def _parse(text: str, typename: str) -> Any:
    try:
        i = _TRAILING.match(text, 0).end()
        v, end = _DECODER.raw_decode(text, i)
        end = _TRAILING.match(text, end).end()
        if end != len(text):
            raise ValueError("trailing")
    except (ValueError, RecursionError):
        raise InvalidTextRepresentation(
            f"invalid input syntax for type {typename}", detail=_detail(text)
        ) from None
    return v


def _detail(text: str) -> str:
    s = text.strip()
    if not s:
        return "The input string ended unexpectedly."
    tok = re.match(r"[A-Za-z0-9_]+|.", s)
    return f'Token "{tok.group(0) if tok else s}" is invalid.'


def json_in(text: str) -> str:
    _parse(text, "json")
    return text


def _check_nul(v: Any) -> Any:
    if isinstance(v, str):
        if "\x00" in v:
            raise SqlError(
                "unsupported Unicode escape sequence",
                sqlstate="22P05",
                detail="\\u0000 cannot be converted to text.",
            )
    elif isinstance(v, dict):
        for k, x in v.items():
            _check_nul(k)
            _check_nul(x)
    elif isinstance(v, list):
        for x in v:
            _check_nul(x)
    return v


def jsonb_in(text: str) -> Any:
    return top(_check_nul(_parse(text, "json")))


def normalize(v: Any) -> Any:
    """A Python value (from to_jsonb, json_build_object, ...) in jsonb's normal form."""
    if v is JSON_NULL:
        return None
    if isinstance(v, dict):
        return {k: normalize(v[k]) for k in sorted(v, key=_key_order)}
    if isinstance(v, (list, tuple)):
        return [normalize(x) for x in v]
    if isinstance(v, float):
        return normalize_numeric(Decimal(repr(v)))
    if isinstance(v, Decimal):
        return normalize_numeric(v)
    return v


_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS = re.compile(r'["\\\x00-\x1f]')


def quote_string(s: str) -> str:
    """PostgreSQL's escape_json: only quotes, backslash and control characters escaped."""
    if _NEEDS.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS.sub(lambda m: _ESC.get(m.group(0), f"\\u{ord(m.group(0)):04x}"), s) + '"'


def jsonb_out(v: Any) -> str:
    if v is None or v is JSON_NULL:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return quote_string(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return numeric_out(v)
    if isinstance(v, float):
        return numeric_out(normalize_numeric(Decimal(repr(v))))
    if isinstance(v, list):
        return "[" + ", ".join(jsonb_out(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(quote_string(k) + ": " + jsonb_out(x) for k, x in v.items()) + "}"
    raise TypeError(f"not a jsonb value: {v!r}")


def jsonb_pretty(v: Any, indent: int = 0) -> str:
    pad = "    " * (indent + 1)
    if isinstance(v, dict):
        if not v:
            return "{\n" + "    " * indent + "}"
        items = [pad + quote_string(k) + ": " + jsonb_pretty(x, indent + 1) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "    " * indent + "}"
    if isinstance(v, list):
        if not v:
            return "[\n" + "    " * indent + "]"
        items = [pad + jsonb_pretty(x, indent + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + "    " * indent + "]"
    return jsonb_out(v)


def jsonb_typeof(v: Any) -> str:
    if v is None or v is JSON_NULL:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (int, float, Decimal)):
        return "number"
    if isinstance(v, list):
        return "array"
    return "object"


def jsonb_canonical(v: Any) -> str:
    return jsonb_out(v)
