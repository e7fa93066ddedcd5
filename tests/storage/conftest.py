"""Fixtures shared by the storage tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cairn.storage import Engine, open_engine


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Open engines under tmp_path; every engine opened is closed at teardown."""
    opened: list[Engine] = []

    def make(kind: str, name: str = "db", **options: object) -> Engine:
        engine = open_engine(kind, str(tmp_path / name), **options)
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        with contextlib.suppress(BaseException):
            engine.close()
