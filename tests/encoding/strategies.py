"""Hypothesis strategies: random Avro schemas (as JSON) and random values of a parsed schema.

``profile`` limits the schemas to what a wire format can express: ``"avro"`` is everything,
``"tagged"`` (Thrift, Protocol Buffers) keeps unions to ``["null", T]`` fields and has no bare
null fields, no nested optionals in containers.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from cairn.encoding.schema import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    Array,
    Enum,
    Fixed,
    Map,
    Primitive,
    Record,
    Schema,
    Union,
)

PRIMS_AVRO = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
PRIMS_TAGGED = ["boolean", "int", "long", "float", "double", "bytes", "string"]


@st.composite
def schema_json(draw: st.DrawFn, profile: str = "avro", max_depth: int = 3,
                max_fields: int = 5) -> dict[str, Any]:
    counter = itertools.count()
    prims = PRIMS_AVRO if profile == "avro" else PRIMS_TAGGED

    def name(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def gen(depth: int, in_container: bool) -> Any:
        kinds = ["prim", "prim", "enum"]
        if profile == "avro":
            kinds.append("fixed")
        if depth > 0:
            kinds += ["record", "array", "map"]
            if profile == "avro":
                kinds.append("union")
        kind = draw(st.sampled_from(kinds))
        if kind == "prim":
            return draw(st.sampled_from(prims))
        if kind == "enum":
            n = draw(st.integers(1, 4))
            return {"type": "enum", "name": name("E"), "symbols": [f"S{i}" for i in range(n)]}
        if kind == "fixed":
            return {"type": "fixed", "name": name("F"), "size": draw(st.integers(0, 6))}
        if kind == "record":
            return gen_record(depth - 1)
        if kind == "array":
            return {"type": "array", "items": gen(depth - 1, True)}
        if kind == "map":
            return {"type": "map", "values": gen(depth - 1, True)}
        branches: list[Any] = []
        seen: set[str] = set()
        for _ in range(draw(st.integers(1, 4))):
            b = gen(depth - 1, True)
            if isinstance(b, list):
                continue  # unions may not contain unions
            if isinstance(b, dict) and b.get("type") in ("array", "map"):
                key = b["type"]
            elif isinstance(b, dict):
                key = b["name"]
            else:
                key = b
            if key not in seen:
                seen.add(key)
                branches.append(b)
        if "array" in seen and any(b == "bytes" or (isinstance(b, dict) and b["type"] == "fixed")
                                   for b in branches):
            # fastavro takes bytes for an array (bytes is a Sequence); the spec does not.
            branches = [b for b in branches if not (isinstance(b, dict)
                                                    and b["type"] == "array")]
        return branches or ["int"]

    def gen_record(depth: int) -> dict[str, Any]:
        fields = []
        for i in range(draw(st.integers(0 if profile == "avro" else 1, max_fields))):
            t = gen(depth, False)
            if profile != "avro" and draw(st.booleans()):
                if isinstance(t, dict) and t.get("type") in ("array", "map"):
                    pass  # an optional container has no tagged-format form; keep it required
                else:
                    t = ["null", t]
            fields.append({"name": f"f{i}", "type": t})
        return {"type": "record", "name": name("R"), "fields": fields}

    return gen_record(max_depth)


def values(t: Schema, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid values of a parsed schema."""
    if isinstance(t, Primitive):
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(INT32_MIN, INT32_MAX),
            "long": st.integers(INT64_MIN, INT64_MAX),
            "float": st.floats(width=32, allow_nan=False),
            "double": st.floats(allow_nan=False),
            "bytes": st.binary(max_size=12),
            "string": st.text(max_size=12),
        }[t.name]
    if isinstance(t, Enum):
        return st.sampled_from(t.symbols)
    if isinstance(t, Fixed):
        return st.binary(min_size=t.size, max_size=t.size)
    if isinstance(t, Array):
        return st.lists(values(t.items, depth + 1), max_size=4)
    if isinstance(t, Map):
        return st.dictionaries(st.text(max_size=6), values(t.values, depth + 1), max_size=3)
    if isinstance(t, Union):
        return st.one_of([values(b, depth + 1) for b in t.branches])
    assert isinstance(t, Record)
    names = [f.name for f in t.fields]
    return st.fixed_dictionaries({f.name: values(f.type, depth + 1) for f in t.fields}).map(
        lambda d: {n: d[n] for n in names})  # schema order, as a writer would build it
