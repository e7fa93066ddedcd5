"""``cairn registry ...``: the schema registry wired to a real cairn storage engine.

This module sits outside the layers (like :mod:`cairn.cli`): ``cairn.encoding`` must not import
``cairn.storage``, so the registry takes any key-value store and the wiring that opens an
engine directory lives here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from typing import Any

import click


def default_engine() -> str:
    """"lsm" when that engine is installed, else the always-present "log" engine."""
    try:
        return "lsm" if importlib.util.find_spec("cairn.storage.lsm") else "log"
    except ImportError:
        return "log"


def open_registry(data_dir: str, engine: str) -> tuple[Any, Any]:
    """Open (creating) the engine directory and a registry on it: (registry, engine)."""
    from cairn.encoding.registry import SchemaRegistry
    from cairn.storage import open_engine

    os.makedirs(data_dir, exist_ok=True)
    store = open_engine(engine, os.path.join(data_dir, f"registry-{engine}"))
    return SchemaRegistry(store), store


def serve(data_dir: str, engine: str, sock: socket.socket) -> None:
    """Serve the registry on the bound ``sock`` until Ctrl-C."""
    import uvicorn

    from cairn.encoding.registry_http import create_app

    registry, store = open_registry(data_dir, engine)
    try:
        host, port = sock.getsockname()[:2]
        click.echo(f"schema registry on http://{host}:{port}/ (engine {engine}, data "
                   f"{os.path.abspath(data_dir)})")
        server = uvicorn.Server(uvicorn.Config(create_app(registry), log_level="warning"))
        server.run(sockets=[sock])
    finally:
        store.close()
        sock.close()


def dataflow(data_dir: str, engine: str) -> dict[str, Any]:
    """The three dataflow modes of DDIA ch. 4 on a real engine (see cairn.encoding.dataflow)."""
    from cairn.encoding import dataflow as df

    registry, store = open_registry(data_dir, engine)
    try:
        return {"engine": engine,
                "database": df.database_demo(store, registry),
                "rewrite_by_old_code": df.rewrite_demo(),
                "messages": df.messages_demo(store, registry),
                "rpc": df.rpc_demo(registry)}
    finally:
        store.close()


def register(cli_root: click.Group) -> None:
    from cairn.storage import ENGINES

    encode = cli_root.commands.get("encode")
    if isinstance(encode, click.Group):
        @encode.command("dataflow")
        @click.option("--data", "data_dir", default="./data/encoding-dataflow",
                      show_default=True)
        @click.option("--engine", default=default_engine,
                      show_default="lsm if available, else log")
        def dataflow_cmd(data_dir: str, engine: str) -> None:
            """Database, RPC and message dataflow between schema v1 and v2 code."""
            click.echo(json.dumps(dataflow(data_dir, engine), indent=2, default=str))

    @cli_root.group("registry", short_help="Schema registry: Confluent REST API on a cairn engine")
    def registry() -> None:
        """Schema registry (Confluent-compatible REST API, Avro) on a cairn engine."""

    @registry.command("serve")
    @click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535),
                  help="0 picks a free port")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--data", "data_dir", default="./data", show_default=True,
                  help="cairn's data folder (as for cairn serve: the schemas go in "
                       "DATA/registry)")
    @click.option("--engine", default=default_engine, show_default="lsm if available, else log",
                  type=click.Choice(list(ENGINES)),
                  help="cairn storage engine kind for the schemas")
    def serve_cmd(port: int, host: str, data_dir: str, engine: str) -> None:
        """Serve the schema registry alone until Ctrl-C."""
        from cairn.serve import bind

        sock = bind(host, port)  # bind first: a busy port fails before anything is printed
        serve(os.path.join(data_dir, "registry"), engine, sock)
