"""cairn.storage: the storage engines of DDIA chapter 3 behind one interface.

>>> from cairn.storage import open_engine
>>> db = open_engine("lsm", "/tmp/db")          # kinds: log, hash, lsm, btree
>>> db.put(b"k", b"v", sync=True); db.get(b"k")
b'v'

See docs/storage.md for each engine's design, on-disk format and recovery.
"""

from __future__ import annotations

import importlib
from typing import Any

from cairn.storage.engine import Delete, Engine, EngineStats, Op, Put
from cairn.storage.errors import (
    CorruptionError,
    DurabilityError,
    EngineClosedError,
    EngineMismatchError,
    InvalidKeyError,
    InvalidValueError,
    StorageError,
)
from cairn.storage.fileio import REAL_FS, FileSystem

# kind -> (module, class); imported lazily so that opening one engine loads only its code.
ENGINES: dict[str, tuple[str, str]] = {
    "log": ("cairn.storage.log", "LogEngine"),
    "hash": ("cairn.storage.hash", "HashEngine"),
    "lsm": ("cairn.storage.lsm", "LSMEngine"),
    "btree": ("cairn.storage.btree", "BTreeEngine"),
}


def engine_class(kind: str) -> type[Engine]:
    try:
        module, name = ENGINES[kind]
    except KeyError:
        raise StorageError(
            f"unknown engine kind {kind!r}; choose one of {', '.join(ENGINES)}") from None
    return getattr(importlib.import_module(module), name)


def open_engine(kind: str, path: str, fs: FileSystem = REAL_FS, **options: Any) -> Engine:
    """Open (creating if needed) the engine ``kind`` in directory ``path``."""
    return engine_class(kind)(path, fs=fs, **options)


__all__ = [
    "ENGINES",
    "CorruptionError",
    "Delete",
    "DurabilityError",
    "Engine",
    "EngineClosedError",
    "EngineMismatchError",
    "EngineStats",
    "FileSystem",
    "InvalidKeyError",
    "InvalidValueError",
    "Op",
    "Put",
    "StorageError",
    "engine_class",
    "open_engine",
]
