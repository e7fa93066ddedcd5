"""The Python client of ``cairn kv`` (HTTP/1.1 with kept-alive connections; one client per
thread). Reads return the sibling values and the causal context; pass that context to the
next write to replace what was read (DDIA fig. 5-13)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cairn.kv.codec import decode, encode


class KVClientError(Exception):
    """The cluster refused a request; ``code`` names the reason."""

    def __init__(self, message: str, code: str, status: int):
        super().__init__(message)
        self.code = code
        self.status = status


class Unavailable(KVClientError):
    """Too few replicas answered for the quorum (Cassandra's UnavailableException)."""


class WrongType(KVClientError):
    """The key holds another type (Redis's WRONGTYPE)."""


@dataclass(frozen=True, slots=True)
class ReadResult:
    values: list[Any]
    context: Any

    @property
    def value(self) -> Any:
        """The single value (None if absent); ValueError if there are siblings."""
        if len(self.values) > 1:
            raise ValueError(f"{len(self.values)} siblings: resolve them and write back")
        return self.values[0] if self.values else None


class KVClient:
    def __init__(self, url: str, timeout: float = 10.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _call(self, method: str, path: str, body: dict | None = None,
              q: dict[str, int] | None = None) -> Any:
        if q:
            path += "?" + "&".join(f"{k}={v}" for k, v in q.items() if v is not None)
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            try:
                headers = {"Content-Type": "application/json"} if data else {}
                self._conn.request(method, path, data, headers)
                resp = self._conn.getresponse()
                payload = json.loads(resp.read() or b"{}")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        if resp.status >= 400:
            cls = {503: Unavailable, 409: WrongType}.get(resp.status, KVClientError)
            raise cls(payload.get("error", ""), payload.get("code", ""), resp.status)
        return payload

    @staticmethod
    def _path(key: str, action: str = "") -> str:
        return "/kv/" + quote(key, safe="") + (f"/{action}" if action else "")

    def get(self, key: str, *, n: int | None = None, r: int | None = None) -> ReadResult:
        p = self._call("GET", self._path(key), q={"n": n, "r": r})
        return ReadResult(p["values"], decode(p["context"]))

    def put(self, key: str, value: Any, context: Any = None, *, n: int | None = None,
            w: int | None = None) -> Any:
        body = {"value": value, "context": encode(context) if context else None}
        return decode(self._call("PUT", self._path(key), body, {"n": n, "w": w})["version"])

    def delete(self, key: str, context: Any = None, *, w: int | None = None) -> None:
        self._call("DELETE", self._path(key), {"context": encode(context) if context else None},
                   {"w": w})

    def incr(self, key: str, amount: int = 1) -> int:
        return decode(self._call("POST", self._path(key, "incr"), {"amount": amount})["version"])

    def sadd(self, key: str, element: Any) -> None:
        self._call("POST", self._path(key, "sadd"), {"element": element})

    def srem(self, key: str, element: Any) -> None:
        self._call("POST", self._path(key, "srem"), {"element": element})

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/admin/status")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
