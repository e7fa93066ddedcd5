"""A node's local storage: its replicas of keys and the hinted writes it keeps for others.

``MemoryStore`` lives in the simulator's per-node ``disk`` dict (it survives a simulated crash);
``EngineStore`` keeps the same two maps in a cairn storage engine (``open_engine``), each write
synced before the node acknowledges it, which is what makes a quorum acknowledgement durable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cairn.kv.codec import decode, encode
from cairn.storage import Engine

RECENT_REQUESTS = 50_000  # request ids remembered to apply a duplicated request only once


class MemoryStore:
    def __init__(self, disk: dict):
        self.data: dict[str, Any] = disk.setdefault("data", {})
        self.hints: dict[tuple[str, str], Any] = disk.setdefault("hints", {})
        self.rids: dict[Any, None] = disk.setdefault("rids", {})

    def first_time(self, rid: Any) -> bool:
        """Record ``rid``; False if it was seen before (kept with the data: survives a crash)."""
        if rid in self.rids:
            return False
        self.rids[rid] = None
        if len(self.rids) > RECENT_REQUESTS:
            del self.rids[next(iter(self.rids))]
        return True

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, state: Any) -> None:
        self.data[key] = state

    def stored_keys(self) -> list[str]:
        return list(self.data)

    def hint_get(self, home: str, key: str) -> Any:
        return self.hints.get((home, key))

    def hint_put(self, home: str, key: str, state: Any) -> None:
        self.hints[(home, key)] = state

    def hint_delete(self, home: str, key: str) -> None:
        self.hints.pop((home, key), None)

    def hint_items(self) -> list[tuple[tuple[str, str], Any]]:
        return list(self.hints.items())

    def close(self) -> None:
        pass


class EngineStore:
    """Keys ``d\\0<key>`` hold replicas, ``h\\0<home>\\0<key>`` hinted writes (JSON-encoded)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.rids: dict[Any, None] = {}

    def first_time(self, rid: Any) -> bool:
        """Record ``rid``; False if seen before (in memory: a real client retries with a new
        id only after an error, so a restart forgetting old ids costs nothing)."""
        if rid in self.rids:
            return False
        self.rids[rid] = None
        if len(self.rids) > RECENT_REQUESTS:
            del self.rids[next(iter(self.rids))]
        return True

    def _get(self, k: bytes) -> Any:
        raw = self.engine.get(k)
        return None if raw is None else decode(json.loads(raw))

    def _put(self, k: bytes, state: Any) -> None:
        self.engine.put(k, json.dumps(encode(state)).encode(), sync=True)

    def get(self, key: str) -> Any:
        return self._get(b"d\0" + key.encode())

    def put(self, key: str, state: Any) -> None:
        self._put(b"d\0" + key.encode(), state)

    def stored_keys(self) -> list[str]:
        return [k[2:].decode() for k, _ in self.engine.scan(b"d\0", b"d\1")]

    def hint_get(self, home: str, key: str) -> Any:
        return self._get(f"h\0{home}\0{key}".encode())

    def hint_put(self, home: str, key: str, state: Any) -> None:
        self._put(f"h\0{home}\0{key}".encode(), state)

    def hint_delete(self, home: str, key: str) -> None:
        self.engine.delete(f"h\0{home}\0{key}".encode(), sync=True)

    def hint_items(self) -> list[tuple[tuple[str, str], Any]]:
        out = []
        for k, v in self._scan(b"h\0", b"h\1"):
            _, home, key = k.decode().split("\0", 2)
            out.append(((home, key), decode(json.loads(v))))
        return out

    def _scan(self, lo: bytes, hi: bytes) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.engine.scan(lo, hi))

    def close(self) -> None:
        self.engine.close()
