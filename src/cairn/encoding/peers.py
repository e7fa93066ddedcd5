"""The official libraries as peers: protobuf message classes and thriftpy2 structs built at
run time from our schemas, so that they can be benchmarked next to our codecs
(``cairn bench encoding``) and serve as oracles in the tests.

protobuf classes come from a ``FileDescriptorProto`` assembled from our lowering
(:func:`cairn.encoding.proto.lower`), thriftpy2 modules from our exported ``.thrift`` text;
values are converted from our Python form into theirs. Imports of the peer libraries happen
here only, and this module is only imported by benchmarks and tests.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import thriftpy2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from thriftpy2.protocol import TBinaryProtocolFactory, TCompactProtocolFactory
from thriftpy2.thrift import TType
from thriftpy2.utils import deserialize, serialize

from cairn.encoding.proto import PField, ProtoFile, lower, proto_name
from cairn.encoding.schema import (
    NULL,
    Array,
    Enum,
    Map,
    Record,
    Schema,
    Union,
    is_optional,
    union_branch,
    union_value,
)
from cairn.encoding.thrift import to_thrift

_T = descriptor_pb2.FieldDescriptorProto
_TYPES = {"bool": _T.TYPE_BOOL, "int32": _T.TYPE_INT32, "int64": _T.TYPE_INT64,
          "float": _T.TYPE_FLOAT, "double": _T.TYPE_DOUBLE, "string": _T.TYPE_STRING,
          "bytes": _T.TYPE_BYTES, "enum": _T.TYPE_ENUM, "message": _T.TYPE_MESSAGE,
          "sint32": _T.TYPE_SINT32, "sint64": _T.TYPE_SINT64, "uint32": _T.TYPE_UINT32,
          "uint64": _T.TYPE_UINT64, "fixed32": _T.TYPE_FIXED32, "fixed64": _T.TYPE_FIXED64,
          "sfixed32": _T.TYPE_SFIXED32, "sfixed64": _T.TYPE_SFIXED64}
_counter = itertools.count()


def message_class(schema: Schema) -> tuple[type, ProtoFile]:
    pf = lower(schema)
    package = f"oracle{next(_counter)}"
    fd = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package,
                                            syntax="proto3")
    for e in pf.enums:
        ed = fd.enum_type.add(name=proto_name(e.name))
        for i, s in enumerate(e.symbols):
            ed.value.add(name=f"{proto_name(e.name)}_{s}", number=i)
    for m in pf.messages:
        md = fd.message_type.add(name=m.name)
        oneof_index = None
        for f in m.fields:
            fdp = md.field.add(name=f.name, number=f.number)
            if f.ptype == "map":
                entry = md.nested_type.add(name=_entry_name(f.name))
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=_T.TYPE_STRING,
                                label=_T.LABEL_OPTIONAL)
                vf = entry.field.add(name="value", number=2, label=_T.LABEL_OPTIONAL)
                _set_type(vf, f.value, package)  # type: ignore[arg-type]
                fdp.type = _T.TYPE_MESSAGE
                fdp.type_name = f".{package}.{m.name}.{_entry_name(f.name)}"
                fdp.label = _T.LABEL_REPEATED
                continue
            _set_type(fdp, f, package)
            fdp.label = _T.LABEL_REPEATED if f.label == "repeated" else _T.LABEL_OPTIONAL
            if f.oneof is not None:
                if oneof_index is None:
                    md.oneof_decl.add(name="branch")
                    oneof_index = len(md.oneof_decl) - 1
                fdp.oneof_index = oneof_index
            elif f.label == "optional":
                # proto3 `optional`: a synthetic oneof of one field gives explicit presence
                md.oneof_decl.add(name=f"_{f.name}")
                fdp.oneof_index = len(md.oneof_decl) - 1
                fdp.proto3_optional = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName(f"{package}.{pf.root.name}")
    return message_factory.GetMessageClass(desc), pf


def _entry_name(field_name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in field_name.split("_")) + "Entry"


def _set_type(fdp: Any, f: PField, package: str) -> None:
    fdp.type = _TYPES[f.ptype]
    if f.ptype == "message":
        fdp.type_name = f".{package}.{f.message.name}"  # type: ignore[union-attr]
    elif f.ptype == "enum":
        fdp.type_name = f".{package}.{proto_name(f.enum.name)}"  # type: ignore[union-attr]


def to_message(cls: type, pf: ProtoFile, value: Any) -> Any:
    """Fill an official message object from our Python value."""
    msg = cls()
    _fill(msg, pf.root, value)
    return msg


def _fill(msg: Any, m: Any, value: Any) -> None:
    if m.kind == "record":
        for f in m.fields:
            _set_field(msg, f, value[f.name])
    elif m.kind == "wrap":
        _set_field(msg, m.fields[0], value)
    else:
        i = union_branch(m.schema, value)
        if i == m.null_branch:
            return
        f = next(f for f in m.fields if f.number == i + 1)
        _set_field(msg, f, union_value(value))


def _scalar(f: PField, v: Any) -> Any:
    if f.ptype == "enum":
        return f.enum.symbols.index(v)  # type: ignore[union-attr]
    if f.ptype in ("float", "double"):
        return float(v)
    return v


def _set_field(msg: Any, f: PField, v: Any) -> None:
    if f.ptype == "map":
        target = getattr(msg, f.name)
        vf = f.value
        for k, x in v.items():
            if vf.ptype == "message":  # type: ignore[union-attr]
                _fill(target[k], vf.message, x)  # type: ignore[union-attr]
            else:
                target[k] = _scalar(vf, x)  # type: ignore[arg-type]
        return
    if f.label == "repeated":
        target = getattr(msg, f.name)
        for x in v:
            if f.ptype == "message":
                _fill(target.add(), f.message, x)
            else:
                target.append(_scalar(f, x))
        return
    if v is None:
        return
    if f.ptype == "message":
        sub = getattr(msg, f.name)
        sub.SetInParent()
        _fill(sub, f.message, v)
        return
    setattr(msg, f.name, _scalar(f, v))


FACTORIES = {"binary": TBinaryProtocolFactory(), "compact": TCompactProtocolFactory()}


def load_thrift(schema: Schema) -> tuple[Any, type]:
    text = to_thrift(schema)
    name = f"oracle{next(_counter)}_thrift"
    module = thriftpy2.load_fp(io.StringIO(text), module_name=name)
    assert isinstance(schema, Record)
    root = getattr(module, schema.name.replace(".", "_"))
    return module, root


def to_thrift_struct(cls: type, schema: Schema, value: Any) -> Any:
    return _convert(cls, schema, value)


def _convert(spec_cls: Any, t: Schema, v: Any) -> Any:
    """Turn our value into thriftpy2's value for a thrift_spec entry's class (or None)."""
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


def thrift_write(cls: type, schema: Schema, value: Any, protocol: str) -> bytes:
    return serialize(to_thrift_struct(cls, schema, value), FACTORIES[protocol])


def thrift_read(cls: type, data: bytes, protocol: str) -> Any:
    return deserialize(cls(), data, FACTORIES[protocol])
