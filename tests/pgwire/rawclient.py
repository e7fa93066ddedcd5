"""A deliberately dumb protocol client for tests: raw bytes out, typed messages back."""

from __future__ import annotations

import socket
import struct

from cairn.pgwire.protocol import PROTOCOL_3_0, parse_error_fields


def cstr(s: str | bytes) -> bytes:
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def startup_packet(user: str = "cairn", database: str = "cairn", version: int = PROTOCOL_3_0,
                   **extra: str) -> bytes:
    body = struct.pack("!i", version)
    for k, v in {"user": user, "database": database, **extra}.items():
        body += cstr(k) + cstr(v)
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


class Raw:
    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def byte(self) -> bytes:
        return self._read(1)

    def recv(self) -> tuple[str, bytes]:
        kind = self._read(1)
        (length,) = struct.unpack("!i", self._read(4))
        return kind.decode(), self._read(length - 4)

    def until_ready(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            k, body = self.recv()
            out.append((k, body))
            if k == "Z":
                return out

    def closed(self) -> bool:
        """True when the server has closed its side (EOF after anything already sent)."""
        try:
            while True:
                self.recv()
        except (EOFError, ConnectionError):
            return True

    def login(self, **extra: str) -> list[tuple[str, bytes]]:
        self.send(startup_packet(**extra))
        return self.until_ready()

    def close(self) -> None:
        self.sock.close()


def error_of(messages: list[tuple[str, bytes]]) -> dict[str, str]:
    for k, body in messages:
        if k == "E":
            return parse_error_fields(body)
    raise AssertionError(f"no ErrorResponse in {[k for k, _ in messages]}")


def kinds(messages: list[tuple[str, bytes]]) -> str:
    return "".join(k for k, _ in messages)
