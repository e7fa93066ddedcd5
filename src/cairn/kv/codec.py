"""JSON encoding of protocol messages and CRDT states, for the HTTP transport and the engine.

Tuples, sets, bytes and the CRDT dataclasses have no JSON form of their own; they are tagged
(``{"T": [...]}``, ``{"S": [...]}``, ``{"B": hex}``, ``{"C": name, "f": [...]}``) so that
``decode(encode(x))`` gives back an equal value (property-tested).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cairn.kv.crdt import CRDTS


class CodecError(ValueError):
    """A value the codec cannot carry (an unknown type or tag)."""


def encode(x: Any) -> Any:
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, tuple):
        return {"T": [encode(v) for v in x]}
    if isinstance(x, bytes):
        return {"B": x.hex()}
    if isinstance(x, list):
        return [encode(v) for v in x]
    if isinstance(x, frozenset | set):
        return {"S": sorted((encode(v) for v in x), key=repr)}
    if isinstance(x, dict):
        return {"D": [[encode(k), encode(v)] for k, v in x.items()]}
    if type(x).__name__ in CRDTS and dataclasses.is_dataclass(x):
        return {"C": type(x).__name__,
                "f": [encode(getattr(x, f.name)) for f in dataclasses.fields(x)]}
    raise CodecError(f"cannot encode {type(x).__name__}")


def decode(x: Any) -> Any:
    if isinstance(x, list):
        return [decode(v) for v in x]
    if isinstance(x, dict):
        if "T" in x:
            return tuple(decode(v) for v in x["T"])
        if "B" in x:
            return bytes.fromhex(x["B"])
        if "S" in x:
            return frozenset(decode(v) for v in x["S"])
        if "D" in x:
            return {decode(k): decode(v) for k, v in x["D"]}
        if "C" in x and x["C"] in CRDTS:
            return CRDTS[x["C"]](*(decode(v) for v in x["f"]))
        raise CodecError(f"unknown tagged value {sorted(x)}")
    return x
