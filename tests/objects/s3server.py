"""A real cairn S3 server on a free 127.0.0.1 port, in a thread, for boto3 tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import uvicorn
from botocore.config import Config

from cairn.objects.guard import Limits, protocol
from cairn.objects.keys import AccessKey, KeyStore
from cairn.objects.server import make_app
from cairn.objects.store import ObjectStore

from .conftest import make_store

ACCESS, SECRET = "TESTACCESSKEY", "test-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(root: Path, store: ObjectStore | None = None,
                   limits: Limits | None = None) -> Iterator[str]:
    """Serve ``store`` (default: a fresh one under ``root``); closes it on exit."""
    store = store or make_store(root)
    keys = KeyStore(store.meta, AccessKey(ACCESS, SECRET, 0.0))
    port = free_port()
    limits = limits or Limits()
    config = uvicorn.Config(make_app(store, keys, limits=limits), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off",
                            http=protocol(limits.header_timeout))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def client(url: str, *, access: str = ACCESS, secret: str = SECRET, style: str = "path",
           **cfg: object):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 1},
                      signature_version="s3v4", **cfg))
