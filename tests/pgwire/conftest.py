"""Fixtures: a cairn wire server on a free port (in this process), stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from cairn.pgwire import PgServer, ServerConfig
from cairn.sql import SqlDatabase


@dataclass
class Running:
    server: PgServer
    host: str
    port: int

    def dsn(self, user: str = "cairn", password: str | None = None, **extra: str) -> str:
        auth = f"{user}:{quote(password, safe='')}" if password is not None else user
        query = "&".join(f"{k}={v}" for k, v in extra.items())
        return f"postgresql://{auth}@{self.host}:{self.port}/cairn" + (f"?{query}" if query
                                                                        else "")


def start(tmp_path, **options) -> tuple[PgServer, SqlDatabase]:
    sdb = SqlDatabase.open(None)
    cfg = ServerConfig(port=0, data_dir=str(tmp_path), **options)
    server = PgServer(sdb, cfg)
    server.start()
    return server, sdb


@pytest.fixture
def pg(tmp_path) -> Iterator[Running]:
    server, sdb = start(tmp_path)
    host, port = server.address
    try:
        yield Running(server, host, port)
    finally:
        server.stop()
        sdb.close()


@pytest.fixture
def make_server(tmp_path) -> Iterator:
    """A factory for servers with options (hba rules, secrets, limits); all stopped at the end."""
    made: list[tuple[PgServer, SqlDatabase]] = []

    def make(**options) -> Running:
        server, sdb = start(tmp_path, **options)
        made.append((server, sdb))
        host, port = server.address
        return Running(server, host, port)

    yield make
    for server, sdb in made:
        server.stop()
        sdb.close()
