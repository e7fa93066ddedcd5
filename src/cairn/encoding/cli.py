"""``cairn encode ...``, ``cairn bench encoding`` and ``cairn registry ...`` commands.

The schema registry and the dataflow demo keep their data in a cairn storage engine, but
``cairn.encoding`` imports no other layer: the command line hands in a :class:`Stores` (how to
open an engine directory, the engine kinds, how to bind a port), so the wiring lives here and
the storage layer stays out of the import graph.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from cairn.encoding.formats import FORMATS


@dataclass(frozen=True)
class Stores:
    """What the registry commands need from below: ``open(kind, path)`` opens (creating) an
    engine directory, ``kinds`` lists the engines with ``default`` first choice, ``bind(host,
    port)`` returns a listening socket (or fails with one line)."""

    open: Callable[[str, str], Any]
    kinds: tuple[str, ...]
    default: str
    bind: Callable[[str, int], socket.socket]


def open_registry(data_dir: str, engine: str, open_store: Callable[[str, str], Any]
                  ) -> tuple[Any, Any]:
    """Open (creating) the engine directory and a registry on it: (registry, engine)."""
    from cairn.encoding.registry import SchemaRegistry

    os.makedirs(data_dir, exist_ok=True)
    store = open_store(engine, os.path.join(data_dir, f"registry-{engine}"))
    return SchemaRegistry(store), store


def serve_registry(data_dir: str, engine: str, sock: socket.socket,
                   open_store: Callable[[str, str], Any]) -> None:
    """Serve the registry on the bound ``sock`` until Ctrl-C."""
    import uvicorn

    from cairn.encoding.registry_http import create_app

    registry, store = open_registry(data_dir, engine, open_store)
    try:
        host, port = sock.getsockname()[:2]
        click.echo(f"schema registry on http://{host}:{port}/ (engine {engine}, data "
                   f"{os.path.abspath(data_dir)})")
        server = uvicorn.Server(uvicorn.Config(create_app(registry), log_level="warning"))
        server.run(sockets=[sock])
    finally:
        store.close()
        sock.close()


def dataflow(data_dir: str, engine: str, open_store: Callable[[str, str], Any]
             ) -> dict[str, Any]:
    """The three dataflow modes of DDIA ch. 4 on a real engine (see cairn.encoding.dataflow)."""
    from cairn.encoding import dataflow as df

    registry, store = open_registry(data_dir, engine, open_store)
    try:
        return {"engine": engine,
                "database": df.database_demo(store, registry),
                "rewrite_by_old_code": df.rewrite_demo(),
                "messages": df.messages_demo(store, registry),
                "rpc": df.rpc_demo(registry)}
    finally:
        store.close()


def _load_schema(path: str) -> Any:
    from cairn.encoding.avsc import parse_schema

    with open(path, encoding="utf-8") as fh:
        return parse_schema(fh.read())


def register(cli_root: click.Group, bench_group: click.Group, stores: Stores) -> None:
    @cli_root.group("encode", short_help="Encodings (DDIA ch. 4): demo, explain, export, convert")
    def encode() -> None:
        """Encodings (DDIA ch. 4): the book's example, annotated bytes, schema export."""

    @encode.command("demo")
    @click.option("--json", "as_json", is_flag=True, help="print the same as data")
    def demo(as_json: bool) -> None:
        """Encode the book's example record in every format, sizes and annotated bytes."""
        from cairn.encoding.dataflow import rewrite_demo
        from cairn.encoding.demo import MARTIN, demo_data
        from cairn.encoding.explain import Part, render

        rows = demo_data()
        rewrite = rewrite_demo()
        if as_json:
            click.echo(json.dumps({"record": MARTIN, "formats": rows,
                                   "rewrite_by_old_code": rewrite}, indent=2))
            return
        click.echo(f"record: {json.dumps(MARTIN)}\n")
        for r in rows:
            mark = "=" if r["size"] == r["book_size"] else "!="
            click.echo(f"{r['format']:15} {r['size']:3} bytes  ({mark} book's {r['book_size']})")
        for r in rows:
            click.echo(f"\n== {r['title']}: {r['size']} bytes")
            click.echo(render([Part(**p) for p in r["parts"]]))
        click.echo("\n== Fig. 4-7: v2 code adds photoURL (tag 4); v1 code reads the record, "
                   "updates favoriteNumber and writes it back")
        for w in rewrite:
            fate = "survives" if w["new_field_survived"] else "LOST"
            how = (f"kept {w['kept_unknown_bytes']} unknown bytes" if w["kept_unknown_bytes"]
                   else "no place for unknown fields in the reader's schema")
            click.echo(f"{w['format']:15} photoURL {fate:8} "
                       f"({w['size_written_by_new_code']} -> "
                       f"{w['size_rewritten_by_old_code']} bytes; {how})")

    @encode.command("explain")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--schema", "schema_path", required=True,
                  type=click.Path(exists=True, dir_okay=False), help=".avsc file")
    @click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
    @click.option("--json", "as_json", is_flag=True)
    def explain_cmd(file: str, schema_path: str, fmt: str, as_json: bool) -> None:
        """Annotate the bytes of an encoded record, part by part."""
        from cairn.encoding.explain import explain, render

        schema = _load_schema(schema_path)
        with open(file, "rb") as fh:
            data = fh.read()
        parts = explain(fmt, schema, data)
        if as_json:
            click.echo(json.dumps([p.to_dict() for p in parts], indent=2))
        else:
            click.echo(render(parts))
        if parts and parts[-1].meaning.startswith("error"):
            sys.exit(1)

    @encode.command("export")
    @click.argument("schema_path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--to", "target", type=click.Choice(["proto", "thrift", "avsc", "canonical"]),
                  required=True)
    def export(schema_path: str, target: str) -> None:
        """Print an .avsc schema as .proto, .thrift, .avsc or Avro canonical form."""
        from cairn.encoding.avsc import canonical_form, to_avsc
        from cairn.encoding.proto import to_proto
        from cairn.encoding.thrift import to_thrift

        schema = _load_schema(schema_path)
        out = {"proto": to_proto, "thrift": to_thrift, "avsc": to_avsc,
               "canonical": canonical_form}[target](schema)
        click.echo(out)

    @encode.command("convert")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--schema", "schema_path", required=True,
                  type=click.Path(exists=True, dir_okay=False))
    @click.option("--from", "src", required=True, type=click.Choice(FORMATS))
    @click.option("--to", "dst", required=True, type=click.Choice(FORMATS))
    @click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
    def convert(file: str, schema_path: str, src: str, dst: str, out_path: str) -> None:
        """Decode FILE in one format and write it in another."""
        from cairn.encoding.formats import codec_for

        schema = _load_schema(schema_path)
        with open(file, "rb") as fh:
            value = codec_for(src, schema).decode(fh.read())
        data = codec_for(dst, schema).encode(value)
        with open(out_path, "wb") as fh:
            fh.write(data)
        click.echo(f"{len(data)} bytes of {dst} written to {out_path}")

    _register_registry(cli_root, encode, stores)
    _register_bench(bench_group)


def _register_registry(cli_root: click.Group, encode: click.Group, stores: Stores) -> None:
    engine_opt = click.option("--engine", default=stores.default, show_default=True,
                              type=click.Choice(list(stores.kinds)),
                              help="cairn storage engine kind for the schemas")

    @encode.command("dataflow")
    @click.option("--data", "data_dir", default="./data/encoding-dataflow", show_default=True)
    @engine_opt
    def dataflow_cmd(data_dir: str, engine: str) -> None:
        """Database, RPC and message dataflow between schema v1 and v2 code."""
        click.echo(json.dumps(dataflow(data_dir, engine, stores.open), indent=2, default=str))

    @cli_root.group("registry",
                    short_help="Schema registry: Confluent REST API on a cairn engine")
    def registry() -> None:
        """Schema registry (Confluent-compatible REST API, Avro) on a cairn engine."""

    @registry.command("serve")
    @click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535),
                  help="0 picks a free port")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--data", "data_dir", default="./data", show_default=True,
                  help="cairn's data folder (as for cairn serve: the schemas go in "
                       "DATA/registry)")
    @engine_opt
    def serve_cmd(port: int, host: str, data_dir: str, engine: str) -> None:
        """Serve the schema registry alone until Ctrl-C."""
        sock = stores.bind(host, port)  # bind first: a busy port fails before any output
        serve_registry(os.path.join(data_dir, "registry"), engine, sock, stores.open)


def _register_bench(bench_group: click.Group) -> None:
    @bench_group.command("encoding")
    @click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
    @click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
    @click.option("--seconds", default=0.3, show_default=True,
                  type=click.FloatRange(min=0, min_open=True),
                  help="time per measurement (each repeated, median taken)")
    @click.option("--repeats", default=5, show_default=True, type=click.IntRange(min=1),
                  help="rounds; each round times every contender once")
    def bench_encoding(json_path: str | None, plot_path: str | None, seconds: float,
                       repeats: int) -> None:
        """Encode/decode throughput and size: our codecs next to the official libraries."""
        from cairn.encoding.bench import plot, print_report, run

        report = run(seconds=seconds, repeats=repeats)
        print_report(report, click.echo)
        if json_path:
            with open(json_path, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=2)
        if plot_path:
            plot(report, plot_path)
