"""Fixtures for the database tests: an in-memory database with a few tables, and a helper that
runs a step in another thread so a test can watch it block and then go on."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from cairn.db import Database


@pytest.fixture(autouse=True)
def _cache_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CAIRN_DB_TEST_CACHE_BYTES set, every database of the tests gets that chain cache
    (a memory database then pages to an ordered store in memory): test_tiny_cache.py runs
    the suites this way with a cache so small that every read of a clean chain misses."""
    size = os.environ.get("CAIRN_DB_TEST_CACHE_BYTES")
    if not size:
        return
    init = Database.__init__

    def paged(self: Database, path: str | None, **options: Any) -> None:
        options.setdefault("cache_bytes", int(size))
        init(self, path, **options)

    monkeypatch.setattr(Database, "__init__", paged)


def bank() -> Database:
    """Fekete et al.'s bank: a checking and a savings account, both at 0 (the read-only
    anomaly's setting), in memory."""
    db = Database.memory()
    db.create_table("acct")
    with db.transaction() as tx:
        tx.insert("acct", {"id": "checking", "bal": 0})
        tx.insert("acct", {"id": "savings", "bal": 0})
    return db


@pytest.fixture
def db() -> Iterator[Database]:
    d = Database.memory(deadlock_timeout=0.05)
    d.create_table("accounts")
    d.create_index("accounts", ["owner"])
    with d.transaction() as tx:
        tx.insert("accounts", {"id": 1, "owner": "ada", "balance": 100})
        tx.insert("accounts", {"id": 2, "owner": "bob", "balance": 100})
    yield d
    d.close()


class Background:
    """Run a call in a thread; ``blocked()`` tells whether it is still waiting."""

    def __init__(self, fn: Callable[[], Any]):
        self.future: Future[Any] = Future()

        def run() -> None:
            try:
                self.future.set_result(fn())
            except BaseException as exc:
                self.future.set_exception(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def blocked(self, wait: float = 0.15) -> bool:
        self.thread.join(wait)
        return self.thread.is_alive()

    def result(self, timeout: float = 5.0) -> Any:
        return self.future.result(timeout)

    def exception(self, timeout: float = 5.0) -> BaseException | None:
        return self.future.exception(timeout)


@pytest.fixture
def bg() -> Callable[[Callable[[], Any]], Background]:
    return Background


def run_clients(n: int, fn: Callable[[int], Any]) -> None:
    """Run ``fn(i)`` for i in range(n) on n threads; fail with any error they raised."""
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
