"""Slow and idle clients never hold the server's workers (issue 17: six slow PUT bodies froze
it). Raw sockets play the attacker with a valid presigned PUT URL; boto3 is the honest client
that must still be served. Each slow client binds its own loopback address (127.0.1.x), so
the per-client limit does not hide the attack."""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cairn.objects.guard import Limits

from .s3server import client, running_server


def presigned_put(url: str, key: str) -> tuple[int, str]:
    s3 = client(url)
    signed = s3.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": key},
                                       ExpiresIn=600)
    parts = urllib.parse.urlsplit(signed)
    return int(parts.port or 80), parts.path + "?" + parts.query


def slow_put(url: str, key: str, length: int, source: str, first: bytes = b"x",
             ) -> socket.socket:
    """A presigned PUT that announces ``length`` bytes and sends only ``first``."""
    port, target = presigned_put(url, key)
    sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                    source_address=(source, 0))
    sock.sendall(f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode() + first)
    return sock


def response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and whole raw response (the server closes the connection after an error)."""
    data = b""
    while True:
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            break
        if not more:
            break
        data += more
        if b"\r\n\r\n" in data and data.split(b"\r\n\r\n", 1)[1].endswith(b"</Error>"):
            break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


@contextmanager
def serving(tmp_path: Path, **limits: float) -> Iterator[str]:
    with running_server(tmp_path, limits=Limits(**limits)) as url:  # type: ignore[arg-type]
        client(url).create_bucket(Bucket="bkt")
        yield url


def timed(fn: object) -> float:
    t = time.monotonic()
    fn()  # type: ignore[operator]
    return time.monotonic() - t


def test_fifty_slow_bodies_do_not_stop_other_clients(tmp_path: Path) -> None:
    # 8 workers only, so holding one per slow client would freeze the server at once.
    with serving(tmp_path, workers=8, body_idle_timeout=120, rate_grace=120) as url:
        s3 = client(url)
        s3.put_object(Bucket="bkt", Key="warm", Body=b"w")
        socks = [slow_put(url, f"slow{i}", 100_000, f"127.0.1.{i + 1}") for i in range(50)]
        try:
            time.sleep(0.5)  # let every slow request reach the server
            # Latency bounds far above normal (milliseconds) and far below a freeze (which
            # lasts as long as the slow bodies: two minutes here).
            assert timed(lambda: s3.list_buckets()) < 10
            assert timed(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"v" * 4096)) < 10
            assert timed(lambda: s3.get_object(Bucket="bkt", Key="k")["Body"].read()) < 10
            assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"v" * 4096
        finally:
            for sock in socks:
                sock.close()
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="bkt").get("Contents", [])}
        assert keys == {"warm", "k"}  # no slow PUT became an object


def test_idle_body_gets_request_timeout(tmp_path: Path) -> None:
    with serving(tmp_path, body_idle_timeout=0.5) as url:
        sock = slow_put(url, "idle", 100_000, "127.0.0.1")
        with sock:
            status, raw = response(sock)
        assert status == 400 and b"<Code>RequestTimeout</Code>" in raw
        assert "Contents" not in client(url).list_objects_v2(Bucket="bkt")


def test_idle_large_body_on_a_worker_gets_request_timeout(tmp_path: Path) -> None:
    # Past the prebuffer the body is read by a worker thread: the clock still applies.
    with serving(tmp_path, body_idle_timeout=0.5, prebuffer=64 * 1024) as url:
        sock = slow_put(url, "big", 4 << 20, "127.0.0.1", first=b"y" * (1 << 20))
        with sock:
            status, raw = response(sock)
        assert status == 400 and b"<Code>RequestTimeout</Code>" in raw
        assert "Contents" not in client(url).list_objects_v2(Bucket="bkt")


def test_trickling_body_below_minimum_rate_is_cut(tmp_path: Path) -> None:
    with serving(tmp_path, body_idle_timeout=5, min_rate=10_000, rate_grace=0.3) as url:
        sock = slow_put(url, "trickle", 100_000, "127.0.0.1")
        with sock:
            sock.settimeout(0.1)
            for _ in range(100):  # one byte per 0.1 s: ~10 B/s, far below 10,000
                try:
                    sock.sendall(b"z")
                    if sock.recv(1, socket.MSG_PEEK):
                        break
                except (TimeoutError, BlockingIOError):
                    continue
            sock.settimeout(20)
            status, raw = response(sock)
        assert status == 400 and b"<Code>RequestTimeout</Code>" in raw


def test_slow_headers_close_the_connection(tmp_path: Path) -> None:
    with serving(tmp_path, header_timeout=0.5) as url:
        port = urllib.parse.urlsplit(url).port
        for partial in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(partial)
                assert sock.recv(1024) == b""  # closed by the server, no response
        assert client(url).list_buckets()["Buckets"]  # others unaffected


def test_per_client_concurrency_is_bounded(tmp_path: Path) -> None:
    with serving(tmp_path, per_client=2, body_idle_timeout=60) as url:
        held = [slow_put(url, f"h{i}", 100_000, "127.0.2.1") for i in range(2)]
        try:
            time.sleep(0.3)
            extra = slow_put(url, "h3", 100_000, "127.0.2.1")
            with extra:
                status, raw = response(extra)
            assert status == 503 and b"<Code>SlowDown</Code>" in raw
            assert client(url).list_buckets()["Buckets"]  # another address is served
        finally:
            for sock in held:
                sock.close()


def test_listening_socket_gives_connections_tcp_nodelay() -> None:
    """Without TCP_NODELAY on accepted connections every small response waits for the
    client's delayed ACK (~40 ms): the served GET 4 KiB rate fell from ~120 to ~18 ops/s."""
    import asyncio

    from cairn.objects.guard import listening_socket

    async def main() -> int:
        sock = listening_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            s = writer.get_extra_info("socket")
            seen.set_result(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        port = sock.getsockname()[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            w.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) != 0
