"""One leaderless node as a real process: the same ``KVNode`` as in the simulator, behind HTTP.

The process binds its port (0: a free one), prints ``PORT <n>`` and waits for the cluster map
(``POST /admin/cluster``), then serves:

- the client API: ``GET|PUT|DELETE /kv/<key>``, ``POST /kv/<key>/incr|sadd|srem`` with JSON
  bodies and optional ``?n=&r=&w=``; replies carry the values (siblings) and the causal context
  to send back with the next write;
- the node-to-node transport: ``POST /msg`` carries a batch of protocol messages (one sender
  thread per peer keeps a connection open; a failed send is a lost message, as in the
  simulator);
- ``GET /admin/status``.

Every call into the node holds one lock: the node is a single-threaded state machine. Its
replicas and hints live in a cairn storage engine, synced before a write is acknowledged.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import itertools
import json
import os
import queue
import random
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cairn.kv.codec import decode, encode
from cairn.kv.node import KVConfig, KVNode
from cairn.kv.ring import Ring
from cairn.kv.store import EngineStore
from cairn.storage import open_engine

REAL_CONFIG = dict(timeout_ms=300.0, suspect_ms=2000.0, handoff_ms=500.0, ae_ms=2000.0,
                   ae_depth=10, vnodes=64)
CLIENT_WAIT_S = 5.0


class _Peer(threading.Thread):
    """Sends queued messages to one peer in batches over a kept-alive connection."""

    def __init__(self, src: str, host: str, port: int):
        super().__init__(daemon=True, name=f"kv-peer-{host}:{port}")
        self.src, self.host, self.port = src, host, port
        self.q: queue.Queue = queue.Queue()
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        while True:
            batch = [self.q.get()]
            if batch[0] is None:
                return
            while len(batch) < 200:
                try:
                    batch.append(self.q.get_nowait())
                except queue.Empty:
                    break
            try:
                body = json.dumps({"src": self.src, "msgs": [encode(m) for m in batch
                                                             if m is not None]}).encode()
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                self.conn.request("POST", "/msg", body, {"Content-Type": "application/json"})
                self.conn.getresponse().read()
            except OSError:
                self.conn = None  # lost, like a dropped packet; the protocol copes
            except Exception:  # a message the codec cannot carry: report it, keep going
                traceback.print_exc()
            if None in batch:
                return


class RealContext:
    """What ``KVNode`` needs from its world, backed by threads, sockets and the wall clock."""

    def __init__(self, name: str, server: NodeServer):
        self.name = name
        self.server = server
        self.rng = random.Random()

    def now(self) -> float:
        return time.time() * 1000.0

    def send(self, dst: str, msg: tuple) -> None:
        if "@" in dst:  # a client waiting on some node's HTTP handler
            owner = dst.split("@", 1)[0]
            if owner == self.name:
                self.server.deliver_response(msg)
                return
            dst = owner
        self.server.send(dst, msg)

    def set_timer(self, delay_ms: float, tag: Any) -> None:
        self.server.timer(delay_ms, tag)


class NodeServer:
    def __init__(self, name: str, data: str, engine: str = "lsm", host: str = "127.0.0.1",
                 port: int = 0):
        self.name = name
        self.lock = threading.RLock()
        self.store = EngineStore(open_engine(engine, data))
        self.node: KVNode | None = None
        self.peers: dict[str, _Peer] = {}
        self.waiters: dict[Any, list] = {}
        self.counter = itertools.count(1)
        self.timers: list[tuple[float, int, Any]] = []
        self.timer_seq = itertools.count()
        self.timer_cv = threading.Condition()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.stopped = False

    # --- cluster map -------------------------------------------------------------------------
    def configure(self, nodes: dict[str, str], config: dict[str, Any]) -> int:
        """Adopt the cluster map. The first map starts the node; a later one is a membership
        change: peers are added and dropped, and the node copies the keys it must send to their
        new owners (returns how many (key, node) copies it sent)."""
        with self.lock:
            wanted = {}
            for name, url in nodes.items():
                if name != self.name:
                    parts = urlsplit(url)
                    wanted[name] = (parts.hostname, parts.port)
            for name, peer in list(self.peers.items()):
                if wanted.get(name) != (peer.host, peer.port):
                    peer.q.put(None)
                    del self.peers[name]
            for name, (host, port) in wanted.items():
                if name not in self.peers:
                    self.peers[name] = _Peer(self.name, host, port)
                    self.peers[name].start()
            if self.node is not None:
                return self.node.change_ring(Ring(sorted(nodes), self.node.cfg.vnodes))
            cfg = KVConfig(**{**REAL_CONFIG, **config})
            self.node = KVNode(RealContext(self.name, self), Ring(sorted(nodes), cfg.vnodes),
                               cfg, self.store)
            threading.Thread(target=self._timer_loop, daemon=True).start()
            self.node.start()
            return 0

    # --- transport ---------------------------------------------------------------------------
    def send(self, dst: str, msg: tuple) -> None:
        if dst == self.name:
            threading.Thread(target=self.receive, args=(self.name, [msg]), daemon=True).start()
            return
        peer = self.peers.get(dst)
        if peer is not None:
            peer.q.put(msg)

    def receive(self, src: str, msgs: list[tuple]) -> None:
        for msg in msgs:
            if msg[0] == "resp":
                self.deliver_response(msg)
                continue
            with self.lock:
                if self.node is not None:
                    self.node.on_message(src, msg)

    def deliver_response(self, msg: tuple) -> None:
        slot = self.waiters.get(msg[1])
        if slot is not None and not slot[0].is_set():
            slot[1] = msg
            slot[0].set()

    def timer(self, delay_ms: float, tag: Any) -> None:
        with self.timer_cv:
            heapq.heappush(self.timers, (time.monotonic() + delay_ms / 1000.0,
                                         next(self.timer_seq), tag))
            self.timer_cv.notify()

    def _timer_loop(self) -> None:
        while not self.stopped:
            with self.timer_cv:
                while not self.timers or self.timers[0][0] > time.monotonic():
                    wait = self.timers[0][0] - time.monotonic() if self.timers else 1.0
                    self.timer_cv.wait(max(wait, 0.001))
                    if self.stopped:
                        return
                _, _, tag = heapq.heappop(self.timers)
            with self.lock:
                if self.node is not None:
                    try:
                        self.node.on_timer(tag)
                    except Exception:  # one bad timer must not stop every later one
                        traceback.print_exc()

    # --- client requests ---------------------------------------------------------------------
    def request(self, op: str, key: str, arg: Any, context: Any, opts: tuple | None
                ) -> tuple[bool, Any]:
        if self.node is None:
            return False, "node not configured"
        n = next(self.counter)
        rid = (self.name, n)
        slot: list = [threading.Event(), None]
        self.waiters[rid] = slot
        try:
            with self.lock:
                self.node.on_message("@client", ("req", rid, f"{self.name}@{n}", op, key, arg,
                                                  context, opts, 0))
            if not slot[0].wait(CLIENT_WAIT_S):
                return False, "timeout: no answer from the coordinator"
            return slot[1][2], slot[1][3]
        finally:
            del self.waiters[rid]

    def status(self) -> dict[str, Any]:
        with self.lock:
            homes: dict[str, int] = {}
            for (home, _), _ in self.store.hint_items():
                homes[home] = homes.get(home, 0) + 1
            return {"name": self.name, "keys": len(self.store.stored_keys()),
                    "hints": sum(homes.values()), "hints_by_home": homes,
                    "suspects": sorted(self.node.suspect) if self.node else [],
                    "configured": self.node is not None}

    # --- HTTP --------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the body waits for
            # the client's delayed ACK (~40 ms per request).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else {}

            def _send(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                try:
                    url = urlsplit(self.path)
                    body = self._body()
                    if url.path == "/msg" and method == "POST":
                        server.receive(body["src"], [decode(m) for m in body["msgs"]])
                        self._send(200, {})
                    elif url.path == "/admin/cluster" and method == "POST":
                        moved = server.configure(body["nodes"], body.get("config", {}))
                        self._send(200, {"ok": True, "moved": moved})
                    elif url.path == "/admin/status":
                        self._send(200, server.status())
                    elif url.path.startswith("/kv/"):
                        self._kv(method, url, body)
                    else:
                        self._send(404, {"error": "no such endpoint", "code": "NoSuchEndpoint"})
                except (ValueError, KeyError, TypeError) as e:
                    self._send(400, {"error": f"bad request: {e}", "code": "InvalidRequest"})

            def _kv(self, method: str, url: Any, body: dict) -> None:
                parts = url.path[4:].split("/")
                key = unquote(parts[0])
                action = parts[1] if len(parts) > 1 else None
                q = {k: int(v[0]) for k, v in parse_qs(url.query).items() if k in ("n", "r", "w")}
                opts = None
                if q:
                    cfg = server.node.cfg if server.node else KVConfig()
                    opts = (q.get("n", cfg.n), q.get("r", cfg.r), q.get("w", cfg.w))
                context = decode(body["context"]) if body.get("context") else None
                if method == "GET" and action is None:
                    op, arg = "get", None
                elif method == "PUT" and action is None:
                    op, arg = "put", body["value"]
                elif method == "DELETE" and action is None:
                    op, arg = "del", None
                elif method == "POST" and action == "incr":
                    op, arg = "incr", int(body.get("amount", 1))
                elif method == "POST" and action in ("sadd", "srem"):
                    op, arg = action, body["element"]
                else:
                    self._send(405, {"error": f"{method} {url.path}", "code": "MethodNotAllowed"})
                    return
                ok, result = server.request(op, key, arg, context, opts)
                if not ok:
                    code = 409 if str(result).startswith("WRONGTYPE") else (
                        400 if str(result).startswith("bad request") else 503)
                    self._send(code, {"error": result, "code": {409: "WrongType",
                                                                400: "InvalidRequest",
                                                                503: "Unavailable"}[code]})
                elif op == "get":
                    values, ctx = result
                    self._send(200, {"values": list(values), "context": encode(ctx)})
                else:
                    self._send(200, {"ok": True, "version": encode(result)})

            def do_GET(self) -> None:
                self._route("GET")

            def do_PUT(self) -> None:
                self._route("PUT")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        return Handler

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.stopped = True
        self.httpd.shutdown()
        with self.lock:
            self.store.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="one cairn kv node")
    p.add_argument("--name", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--engine", default="lsm")
    args = p.parse_args(argv)
    os.makedirs(args.data, exist_ok=True)
    server = NodeServer(args.name, args.data, args.engine, port=args.port)
    print(f"PORT {server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
