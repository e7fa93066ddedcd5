"""Storage nodes: a drive served over HTTP, and the :class:`Drive` that talks to one.

A storage node (``cairn s3 node --port P --dir D``) is a process that owns one directory drive
(:class:`~cairn.objects.drives.LocalDrive`) and serves the drive interface over HTTP/1.1: the
S3 front end then keeps metadata and erasure coding to itself and spreads shards over nodes,
as MinIO's erasure sets span servers. The node knows nothing about objects, stripes or
checksums; the shard frames it stores carry their own CRC32C, so a node that returns rotten
bytes is caught by the reader exactly as a rotten local file is.

Protocol (every request may carry ``X-Cairn-Node-Token``; a node started with a token refuses
requests without it):

=================================================  ===========================================
``PUT  /blob/<id>?w=<writer>&off=<n>``  body        append to a blob being written (``off`` is
                                                    the byte offset the client expects, so a
                                                    retried or reordered append is refused)
``POST /blob/<id>?w=<writer>&commit``               fsync + rename: the blob becomes visible
``DELETE /blob/<id>?w=<writer>``                    abort a write
``GET  /blob/<id>`` (``Range: bytes=a-b``)          read
``HEAD /blob/<id>``                                 size in ``X-Blob-Size``
``DELETE /blob/<id>``                               delete (404 when absent)
``GET  /blobs`` / ``GET /info`` / ``POST /sweep``   list ids / drive info (JSON) / drop temps
=================================================  ===========================================

Errors map back to the drive exceptions: 404 :class:`ShardNotFoundError`, 507
:class:`DriveFullError`, anything else (and a refused or dropped connection, which is what a
killed node looks like) :class:`DriveError` / :class:`DriveOfflineError`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cairn.objects.drives import BlobWriter, Drive, DriveInfo, LocalDrive, check_blob_id
from cairn.objects.errors import (
    DriveError,
    DriveFullError,
    DriveOfflineError,
    ShardNotFoundError,
)

TOKEN_HEADER = "X-Cairn-Node-Token"
WRITER_IDLE_S = 600.0  # an open write untouched this long is dropped (its client is gone)
SEND_BUFFER = 256 * 1024  # small writes (the 16-byte shard header) ride with the next frame


# -- the node (server side) -------------------------------------------------------------------

class _Writers:
    """Blob writes in progress on a node: writer id -> (BlobWriter, bytes so far, last use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[str, tuple[BlobWriter, int, float]] = {}

    def reap(self) -> None:
        horizon = time.monotonic() - WRITER_IDLE_S
        with self.lock:
            stale = [k for k, (_, _, t) in self.open.items() if t < horizon]
            dropped = [self.open.pop(k)[0] for k in stale]
        for w in dropped:
            w.abort()


class NodeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], drive: LocalDrive, token: str | None) -> None:
        super().__init__(addr, _Handler)
        self.drive, self.token, self.writers = drive, token, _Writers()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread
    server: NodeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               ) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        body = self._body()  # always consumed, so the connection stays usable after errors
        srv = self.server
        if srv.token is not None and self.headers.get(TOKEN_HEADER) != srv.token:
            return self._reply(403, b"bad token")
        drive = srv.drive
        try:
            if url.path.startswith("/blob/"):
                blob = check_blob_id(url.path[len("/blob/"):])
                wid = q.get("w")
                if wid is not None:
                    return self._write(blob, wid, q, body)
                if self.command == "GET":
                    return self._read(blob)
                if self.command == "HEAD":
                    return self._reply(200, headers={"X-Blob-Size": str(drive.size(blob))})
                if self.command == "DELETE":
                    return self._reply(204 if drive.delete(blob) else 404)
            elif url.path == "/blobs" and self.command == "GET":
                return self._reply(200, "\n".join(drive.list()).encode())
            elif url.path == "/info" and self.command == "GET":
                return self._reply(200, json.dumps(asdict(drive.info())).encode())
            elif url.path == "/sweep" and self.command == "POST":
                srv.writers.reap()
                with srv.writers.lock:
                    busy = bool(srv.writers.open)
                # Temp files of writes still open here are not leftovers.
                return self._reply(200, str(0 if busy else drive.sweep_tmp()).encode())
            return self._reply(400, b"unknown request")
        except ShardNotFoundError as exc:
            return self._reply(404, str(exc).encode())
        except DriveFullError as exc:
            return self._reply(507, str(exc).encode())
        except DriveOfflineError as exc:
            return self._reply(503, str(exc).encode())
        except DriveError as exc:
            return self._reply(500, str(exc).encode())

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _route

    def _read(self, blob: str) -> None:
        rng = self.headers.get("Range", "")
        offset, length = 0, -1
        if rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            offset = int(a)
            length = int(b) - offset + 1 if b else -1
        data = self.server.drive.read(blob, offset, length)
        self._reply(206 if rng else 200, data)

    def _write(self, blob: str, wid: str, q: dict[str, str], body: bytes) -> None:
        ws = self.server.writers
        if self.command == "PUT":
            off = int(q.get("off", "0"))
            with ws.lock:
                entry = ws.open.get(wid)
            if entry is None:
                if off != 0:
                    return self._reply(409, b"no such write")
                w: BlobWriter = self.server.drive.create(blob)
                entry = (w, 0, time.monotonic())
            w, have, _ = entry
            if have != off:
                return self._reply(409, f"offset {off}, have {have}".encode())
            w.write(body)
            with ws.lock:
                ws.open[wid] = (w, have + len(body), time.monotonic())
            return self._reply(204)
        with ws.lock:
            entry = ws.open.pop(wid, None)
        if self.command == "POST" and "commit" in q:
            if entry is None:
                return self._reply(409, b"no such write")
            entry[0].commit()
            return self._reply(204)
        if self.command == "DELETE":
            if entry is not None:
                entry[0].abort()
            return self._reply(204)
        return self._reply(400, b"bad write request")


def serve_node(root: str, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
               drive_id: str = "node") -> NodeServer:
    """A node server bound (port 0: any free port; see ``server_address``), not yet serving."""
    drive = LocalDrive(root, drive_id)
    return NodeServer((host, port), drive, token)


# -- the client: a Drive over HTTP ------------------------------------------------------------

class HttpDrive(Drive):
    """A storage node as a :class:`Drive`. One keep-alive connection per calling thread (the
    data path reads and writes shards from a thread pool)."""

    def __init__(self, url: str, drive_id: str, domain: str | None = None,
                 token: str | None = None, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"storage node URL must be http://host:port, not {url!r}")
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80
        self.drive_id = drive_id
        self.domain = domain or f"{self.host}:{self.port}"
        self.token, self.timeout = token, timeout
        self._local = threading.local()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = c
        return c

    def request(self, method: str, path: str, body: bytes | memoryview = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        h = dict(headers or {})
        if self.token is not None:
            h[TOKEN_HEADER] = self.token
        h["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            # A kept-alive connection the node closed meanwhile fails on first use: retry
            # once on a fresh one. A node that is down refuses the fresh one too.
            conn = self._conn(fresh=attempt == 1)
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 1 or isinstance(exc, TimeoutError):
                    raise DriveOfflineError(f"node {self.drive_id} at {self.url}: {exc}") \
                        from exc
        raise AssertionError("unreachable")

    def _check(self, status: int, data: bytes, ok: tuple[int, ...] = (200, 204, 206)) -> None:
        if status in ok:
            return
        text = data.decode("utf-8", "replace")
        if status == 404:
            raise ShardNotFoundError(f"node {self.drive_id}: {text}")
        if status == 507:
            raise DriveFullError(f"node {self.drive_id} is full")
        if status == 503:
            raise DriveOfflineError(f"node {self.drive_id}: {text}")
        raise DriveError(f"node {self.drive_id}: HTTP {status} {text}")

    def create(self, blob_id: str) -> BlobWriter:
        check_blob_id(blob_id)
        return _HttpWriter(self, blob_id)

    def read(self, blob_id: str, offset: int = 0, length: int = -1) -> bytes:
        check_blob_id(blob_id)
        if length == 0:
            return b""
        rng = f"bytes={offset}-" + (str(offset + length - 1) if length > 0 else "")
        status, data, _ = self.request("GET", f"/blob/{blob_id}", headers={"Range": rng})
        self._check(status, data)
        return data

    def size(self, blob_id: str) -> int:
        check_blob_id(blob_id)
        status, data, headers = self.request("HEAD", f"/blob/{blob_id}")
        self._check(status, data)
        return int(headers["x-blob-size"])

    def delete(self, blob_id: str) -> bool:
        check_blob_id(blob_id)
        status, data, _ = self.request("DELETE", f"/blob/{blob_id}")
        if status == 404:
            return False
        self._check(status, data)
        return True

    def list(self) -> Iterator[str]:
        status, data, _ = self.request("GET", "/blobs")
        self._check(status, data)
        yield from (b for b in data.decode().split("\n") if b)

    def info(self) -> DriveInfo:
        try:
            status, data, _ = self.request("GET", "/info")
            self._check(status, data)
        except DriveError:
            return DriveInfo(self.drive_id, self.domain, False, 0, 0, 0)
        d = json.loads(data)
        return DriveInfo(self.drive_id, self.domain, bool(d["online"]), d["total_bytes"],
                         d["free_bytes"], d["blobs"])

    def sweep_tmp(self) -> int:
        status, data, _ = self.request("POST", "/sweep")
        self._check(status, data)
        return int(data or 0)


class _HttpWriter(BlobWriter):
    def __init__(self, drive: HttpDrive, blob_id: str) -> None:
        self.drive, self.blob_id = drive, blob_id
        self.wid = uuid.uuid4().hex
        self.sent = 0
        self.buf = bytearray()
        self.done = False

    def _path(self, extra: str = "") -> str:
        return f"/blob/{self.blob_id}?w={self.wid}{extra}"

    def _flush(self) -> None:
        if not self.buf:
            return
        data = bytes(self.buf)
        status, body, _ = self.drive.request("PUT", self._path(f"&off={self.sent}"), data)
        self.drive._check(status, body)
        self.sent += len(data)
        self.buf.clear()

    def write(self, data: bytes | memoryview) -> None:
        if self.done:
            raise DriveError("write after commit/abort")
        self.buf += data
        if len(self.buf) >= SEND_BUFFER:
            try:
                self._flush()
            except DriveError:
                self.abort()
                raise

    def commit(self) -> None:
        if self.done:
            raise DriveError("commit after commit/abort")
        try:
            if self.sent == 0 and not self.buf:  # an empty blob still has to exist
                status, body, _ = self.drive.request("PUT", self._path("&off=0"), b"")
                self.drive._check(status, body)
            self._flush()
            status, body, _ = self.drive.request("POST", self._path("&commit"))
            self.drive._check(status, body)
            self.done = True
        except DriveError:
            self.abort()
            raise

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        self.buf.clear()
        with contextlib.suppress(DriveError):  # a dead node's temp files die with its tmp dir
            self.drive.request("DELETE", self._path())


def main(argv: list[str] | None = None) -> None:
    """``python -m cairn.objects.node --port P --dir D`` (the same as ``cairn s3 node``)."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--dir", required=True)
    p.add_argument("--token", default=os.environ.get("CAIRN_S3_NODE_TOKEN"))
    a = p.parse_args(argv)
    run_node(a.dir, a.host, a.port, a.token)


def run_node(root: str, host: str, port: int, token: str | None) -> None:
    srv = serve_node(root, host, port, token)
    print(f"storage node on http://{host}:{srv.server_address[1]}  (drive {root})", flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
