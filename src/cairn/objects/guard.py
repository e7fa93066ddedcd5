"""Keeping slow and hostile clients from holding the S3 server's workers.

A request's store work runs on a worker thread (the data path blocks on disks and hashing).
A client that opens a request and then sends nothing must never hold one of those threads, or
a handful of such clients (anyone with a presigned PUT URL) freeze the server for everybody.
The defences, each a bound on what one client can take:

* **header read timeout**: the request line and headers must arrive within
  ``header_timeout`` of the connection opening or the request starting, else the connection
  is closed (a slowloris holds a socket, never a worker);
* **body prebuffering**: the first ``prebuffer`` bytes of a body are read on the event loop
  *before* a worker is taken, so a small body that trickles in costs only a coroutine;
* **body idle timeout and minimum rate**: no byte for ``body_idle_timeout`` seconds, or less
  than ``min_rate`` bytes/s on average after ``rate_grace`` seconds, ends the request with
  S3's ``400 RequestTimeout`` (and closes the connection);
* **per-client concurrency**: at most ``per_client`` requests in flight per client address;
  more answer ``503 SlowDown`` at once;
* a dedicated worker pool of ``workers`` threads (not asyncio's default pool, which other
  code shares and which has only ``cpus + 4`` threads).

The values are AWS-like defaults (S3 closes idle request bodies after ~20 s); tests shrink them.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cairn.objects.errors import S3Error


@dataclass(frozen=True)
class Limits:
    """Per-request and per-client bounds of the S3 front end (seconds, bytes)."""

    header_timeout: float = 10.0
    body_idle_timeout: float = 20.0
    min_rate: float = 16 * 1024  # bytes/s, averaged from the start of the body
    rate_grace: float = 10.0  # seconds before the minimum rate applies
    prebuffer: int = 1024 * 1024
    per_client: int = 32
    workers: int = 64


def request_timeout() -> S3Error:
    e = S3Error("Your socket connection to the server was not read from or written to within "
                "the timeout period. Idle connections will be closed.")
    e.code, e.status = "RequestTimeout", 400
    return e


def slow_down() -> S3Error:
    e = S3Error("Please reduce your request rate.")
    e.code, e.status = "SlowDown", 503
    return e


class ClientGate:
    """Counts requests in flight per client address; refuses beyond the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active: collections.Counter[str] = collections.Counter()

    def enter(self, client: str) -> bool:
        # Called on the event loop only: no lock needed.
        if self.active[client] >= self.limit:
            return False
        self.active[client] += 1
        return True

    def leave(self, client: str) -> None:
        self.active[client] -= 1
        if self.active[client] <= 0:
            del self.active[client]


class BodyClock:
    """Enforces the idle timeout and the minimum transfer rate on one request body."""

    def __init__(self, limits: Limits, loop: asyncio.AbstractEventLoop) -> None:
        self.limits, self.loop = limits, loop
        self.start = loop.time()
        self.received = 0

    async def next(self, stream: Any) -> bytes:
        """The next chunk of ``stream`` (an async iterator); StopAsyncIteration at the end."""
        try:
            chunk: bytes = await asyncio.wait_for(stream.__anext__(),
                                                  self.limits.body_idle_timeout)
        except TimeoutError:
            raise request_timeout() from None
        self.received += len(chunk)
        elapsed = self.loop.time() - self.start
        if elapsed > self.limits.rate_grace and \
                self.received < self.limits.min_rate * elapsed:
            raise request_timeout()
        return chunk


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A bound, listening TCP socket for ``uvicorn.Server.run(sockets=[...])``.

    ``proto=IPPROTO_TCP`` matters: asyncio sets TCP_NODELAY on accepted connections only when
    the socket names its protocol. Without it Nagle's algorithm meets the client's delayed
    ACKs and every small response waits ~40 ms (GET 4 KiB fell from ~120 to ~18 ops/s)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a header read timeout (pass as ``http=`` to
    ``uvicorn.Config``/``uvicorn.run``). The timer runs from the connection's start, and from
    the first byte of each later request, to the end of that request's headers."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Idle between requests is the keep-alive timeout's job, not this one's.
            self._disarm()

    return HeaderTimeoutProtocol
