"""``cairn bench encoding``: our codecs next to the official libraries, in one run.

For two records, the book's example and a 30-field record, and for each format: encode and
decode throughput (records/s, the median of ``repeats`` timed runs of ``seconds`` each) and the
encoded size. Peers: fastavro (its compiled path and its pure-Python path), protobuf (upb),
thriftpy2 (binary and compact), msgpack (C and the pure-Python ``fallback``), json and orjson.
The ratios printed are ours / peer, for the same format and record.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from cairn.encoding.avsc import parse_schema, to_json
from cairn.encoding.demo import MARTIN, PERSON_AVSC
from cairn.encoding.formats import FORMATS, codec_for
from cairn.encoding.schema import Schema

WIDE_AVSC: dict[str, Any] = {
    "type": "record", "name": "Wide", "fields": (
        [{"name": f"s{i}", "type": "string"} for i in range(10)]
        + [{"name": f"n{i}", "type": "long"} for i in range(10)]
        + [{"name": f"d{i}", "type": "double"} for i in range(5)]
        + [{"name": f"b{i}", "type": "boolean"} for i in range(3)]
        + [{"name": "opt", "type": ["null", "string"], "default": None},
           {"name": "tags", "type": {"type": "array", "items": "string"}}])}
WIDE: dict[str, Any] = {
    **{f"s{i}": f"value number {i}" for i in range(10)},
    **{f"n{i}": (i + 1) * 123_457 * (-1) ** i for i in range(10)},
    **{f"d{i}": i * 1.25 + 0.1 for i in range(5)},
    **{f"b{i}": i % 2 == 0 for i in range(3)},
    "opt": "present", "tags": ["a", "bb", "ccc"]}

Op = Callable[[], Any]


def calibrate(op: Op, seconds: float) -> int:
    """A batch size that takes ~1/20 of a timed run, so clock reads do not dominate."""
    batch = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(batch):
            op()
        if time.perf_counter() - t0 > seconds / 20 or batch > 1 << 20:
            return batch
        batch *= 2


def timed_run(op: Op, batch: int, seconds: float) -> float:
    """Records/s of one run of about ``seconds``."""
    n = 0
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(batch):
            op()
        n += batch
    return n / elapsed


def measure(op: Op, seconds: float, repeats: int) -> float:
    """Median records/s over ``repeats`` runs of about ``seconds`` each."""
    batch = calibrate(op, seconds)
    return statistics.median(timed_run(op, batch, seconds) for _ in range(repeats))


def duel(ops: dict[str, Op], seconds: float, repeats: int) -> dict[str, list[float]]:
    """Rates of several contenders measured in *rounds*: each round times every contender
    once, back to back, so a burst of load from other processes on the shared machine hits
    all of them alike; ratios are then taken within a round (paired), not across."""
    batches = {name: calibrate(op, seconds) for name, op in ops.items()}
    rates: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, op in ops.items():
            rates[name].append(timed_run(op, batches[name], seconds))
    return rates


def paired_ratio(ours: list[float], peer: list[float]) -> float:
    """Median over rounds of ours / peer measured in the same round."""
    return round(statistics.median(a / b for a, b in zip(ours, peer, strict=True)), 3)


def _peers(fmt: str, schema: Schema, value: dict[str, Any]) -> dict[str, tuple[Op, Op, int]]:
    """name -> (encode op, decode op, size) for the official libraries of ``fmt``."""
    out: dict[str, tuple[Op, Op, int]] = {}
    if fmt == "avro":
        import fastavro
        from fastavro import _read_py, _write_py

        parsed = fastavro.parse_schema(to_json(schema, tags=False))
        for name, w, r in (("fastavro", fastavro.schemaless_writer, fastavro.schemaless_reader),
                           ("fastavro-pure", _write_py.schemaless_writer,
                            _read_py.schemaless_reader)):
            def enc(w: Any = w) -> bytes:
                buf = io.BytesIO()
                w(buf, parsed, value)
                return buf.getvalue()
            data = enc()

            def dec(r: Any = r, data: bytes = data) -> Any:
                return r(io.BytesIO(data), parsed, None)
            out[name] = (enc, dec, len(data))
    elif fmt == "msgpack":
        import msgpack
        import msgpack.fallback

        data = msgpack.packb(value)
        out["msgpack"] = (lambda: msgpack.packb(value), lambda: msgpack.unpackb(data),
                          len(data))
        packer = msgpack.fallback.Packer()
        out["msgpack-pure"] = (lambda: packer.pack(value),
                               lambda: msgpack.fallback.unpackb(data), len(data))
    elif fmt == "json":
        import orjson

        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        data = dumps(value).encode()
        out["json"] = (lambda: dumps(value).encode(), lambda: json.loads(data), len(data))
        odata = orjson.dumps(value)
        out["orjson"] = (lambda: orjson.dumps(value), lambda: orjson.loads(odata), len(odata))
    elif fmt == "protobuf":
        from cairn.encoding.peers import message_class, to_message

        cls, pf = message_class(schema)
        data = to_message(cls, pf, value).SerializeToString()
        # encode includes filling the message from a dict, as a program holding dicts must
        out["protobuf"] = (lambda: to_message(cls, pf, value).SerializeToString(),
                           lambda: cls.FromString(data), len(data))
    elif fmt in ("thrift-binary", "thrift-compact"):
        from cairn.encoding.peers import (
            load_thrift,
            thrift_read,
            thrift_write,
        )

        protocol = fmt.split("-")[1]
        _, cls = load_thrift(schema)
        data = thrift_write(cls, schema, value, protocol)
        out["thriftpy2"] = (lambda: thrift_write(cls, schema, value, protocol),
                            lambda: thrift_read(cls, data, protocol), len(data))
    return out


def run(seconds: float = 0.3, repeats: int = 5) -> dict[str, Any]:
    report: dict[str, Any] = {"seconds": seconds, "repeats": repeats, "records": [],
                              "method": "rounds: every contender timed once per round; rates "
                                        "are medians over rounds, ratios medians of the "
                                        "per-round ratios"}
    for rname, avsc, value in (("ddia-example", PERSON_AVSC, MARTIN), ("wide-30", WIDE_AVSC,
                                                                         WIDE)):
        schema = parse_schema(avsc)
        rows = []
        for fmt in FORMATS:
            codec = codec_for(fmt, schema)
            data = codec.encode(value)
            peers = _peers(fmt, schema, value)
            rates = {}
            for op_i, op in enumerate(("encode", "decode")):
                ops: dict[str, Op] = {
                    "cairn": (lambda c=codec, v=value: c.encode(v)) if op_i == 0
                    else (lambda c=codec, d=data: c.decode(d))}
                ops.update({name: p[op_i] for name, p in peers.items()})
                rates[op] = duel(ops, seconds, repeats)
            row: dict[str, Any] = {
                "format": fmt, "size": len(data),
                "ours": {op: statistics.median(rates[op]["cairn"]) for op in rates},
                "peers": {}}
            for pname, (_enc, _dec, size) in peers.items():
                row["peers"][pname] = {
                    "encode": statistics.median(rates["encode"][pname]),
                    "decode": statistics.median(rates["decode"][pname]), "size": size,
                    "encode_ratio": paired_ratio(rates["encode"]["cairn"],
                                                 rates["encode"][pname]),
                    "decode_ratio": paired_ratio(rates["decode"]["cairn"],
                                                 rates["decode"][pname])}
            rows.append(row)
        report["records"].append({"record": rname, "formats": rows})
    return report


def print_report(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    for rec in report["records"]:
        echo(f"\n== {rec['record']}  (records/s, median of {report['repeats']} rounds; "
             "ratio = ours / peer, median of per-round ratios)")
        echo(f"{'format':15} {'who':14} {'size':>5} {'encode/s':>11} {'decode/s':>11} "
             f"{'enc ratio':>9} {'dec ratio':>9}")
        for row in rec["formats"]:
            o = row["ours"]
            echo(f"{row['format']:15} {'cairn':14} {row['size']:5} {o['encode']:11,.0f} "
                 f"{o['decode']:11,.0f}")
            for name, p in row["peers"].items():
                same = "" if p["size"] == row["size"] else " (size differs)"
                echo(f"{'':15} {name:14} {p['size']:5} {p['encode']:11,.0f} "
                     f"{p['decode']:11,.0f} {p['encode_ratio']:9.2f} "
                     f"{p['decode_ratio']:9.2f}{same}")


def plot(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(report["records"]), 2, figsize=(13, 4.5 * len(
        report["records"])), squeeze=False)
    for i, rec in enumerate(report["records"]):
        for j, op in enumerate(("encode", "decode")):
            ax = axes[i][j]
            labels, vals, colors = [], [], []
            for row in rec["formats"]:
                labels.append(f"{row['format']}\ncairn")
                vals.append(row["ours"][op])
                colors.append("tab:blue")
                for name, p in row["peers"].items():
                    labels.append(f"{row['format']}\n{name}")
                    vals.append(p[op])
                    colors.append("tab:gray")
            ax.barh(range(len(vals)), vals, color=colors)
            ax.set_yticks(range(len(vals)), labels, fontsize=6)
            ax.invert_yaxis()
            ax.set_xscale("log")
            ax.set_title(f"{rec['record']}: {op} records/s (blue = cairn)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
