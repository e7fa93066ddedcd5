"""thriftpy2 as the oracle: load our exported ``.thrift`` text, fill its generated structs from
our Python values, and serialize with the official binary and compact protocols."""

from __future__ import annotations

import io
import itertools
from typing import Any

import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory, TCompactProtocolFactory
from thriftpy2.thrift import TType
from thriftpy2.utils import deserialize, serialize

from cairn.encoding.schema import (
    NULL,
    Record,
    Schema,
    is_optional,
    union_branch,
    union_value,
)
from cairn.encoding.thrift import to_thrift

_counter = itertools.count()
FACTORIES = {"binary": TBinaryProtocolFactory(), "compact": TCompactProtocolFactory()}


def load(schema: Schema) -> tuple[Any, type]:
    text = to_thrift(schema)
    name = f"oracle{next(_counter)}_thrift"
    module = thriftpy2.load_fp(io.StringIO(text), module_name=name)
    assert isinstance(schema, Record)
    root = getattr(module, schema.name.replace(".", "_"))
    return module, root


def to_struct(cls: type, schema: Schema, value: Any) -> Any:
    return _convert(cls, schema, value)


def _convert(spec_cls: Any, t: Schema, v: Any) -> Any:
    """Turn our value into thriftpy2's value for a thrift_spec entry's class (or None)."""
    from cairn.encoding.schema import Array, Enum, Map, Union

    if isinstance(t, Record):
        kwargs = {}
        specs = {s[1]: s for s in spec_cls.thrift_spec.values()}
        for f in t.fields:
            x = v[f.name]
            ft = f.type
            inner = is_optional(ft)
            if inner is not None:
                if x is None:
                    continue
                ft = inner
                x = union_value(x)
            kwargs[f.name] = _convert_spec(specs[f.name], ft, x)
        return spec_cls(**kwargs)
    if isinstance(t, Union):
        i = union_branch(t, v)
        if t.branches[i] == NULL:
            return spec_cls()
        specs = {s[1]: s for s in spec_cls.thrift_spec.values()}
        name = f"b{i}"
        return spec_cls(**{name: _convert_spec(specs[name], t.branches[i], union_value(v))})
    if isinstance(t, Enum):
        return t.symbols.index(v)
    if isinstance(t, Array | Map):
        raise AssertionError("containers are converted through their spec")
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and t.name in ("float", "double"):  # type: ignore[union-attr]
        return float(v)
    return v


def _convert_spec(spec: tuple, t: Schema, v: Any) -> Any:
    from cairn.encoding.schema import Array, Map

    ttype = spec[0]
    if ttype == TType.LIST:
        return [_convert_elem(spec[2], t.items, x) for x in v]  # type: ignore[union-attr]
    if ttype == TType.MAP:
        _, vspec = spec[2]
        return {k: _convert_elem(vspec, t.values, x) for k, x in v.items()}  # type: ignore
    if ttype == TType.STRUCT:
        return _convert(spec[2], t, v)
    assert not isinstance(t, (Array, Map))
    return _convert(None, t, v)


def _convert_elem(elem: Any, t: Schema, v: Any) -> Any:
    """Container element specs are a TType, or (TType, class/nested spec)."""
    if isinstance(elem, tuple):
        ttype, inner = elem
        if ttype == TType.STRUCT:
            return _convert(inner, t, v)
        if ttype == TType.LIST:
            return [_convert_elem(inner, t.items, x) for x in v]  # type: ignore[union-attr]
        if ttype == TType.MAP:
            _, vspec = inner
            return {k: _convert_elem(vspec, t.values, x) for k, x in v.items()}  # type: ignore
        return _convert(None, t, v)
    return _convert(None, t, v)


def write(cls: type, schema: Schema, value: Any, protocol: str) -> bytes:
    return serialize(to_struct(cls, schema, value), FACTORIES[protocol])


def read(cls: type, data: bytes, protocol: str) -> Any:
    return deserialize(cls(), data, FACTORIES[protocol])
