"""Storage nodes over HTTP: the drive contract over the wire, and an S3 server whose six drives
are six `cairn s3 node` processes, two of which are SIGKILLed and come back empty."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from cairn.objects.errors import DriveError, DriveOfflineError, ShardNotFoundError
from cairn.objects.healer import Healer
from cairn.objects.node import HttpDrive, serve_node
from cairn.objects.store import ObjectStore

from .conftest import STRIPE
from .s3server import client, free_port, running_server


class Node:
    """One `cairn s3 node` process on a fixed port (so it can come back at the same URL)."""

    def __init__(self, root: Path, port: int, token: str) -> None:
        self.root, self.port, self.token = root, port, token
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, via_cli: bool = False) -> None:
        env = {**os.environ, "CAIRN_S3_NODE_TOKEN": self.token}
        # `cairn s3 node` imports every layer's CLI; `-m cairn.objects.node` is the same
        # server and starts in a fraction of the time, so only one node goes through the CLI.
        cmd = (["-c", "from cairn.cli import main; main()", "s3", "node"] if via_cli
               else ["-m", "cairn.objects.node"])
        self.proc = subprocess.Popen(
            [sys.executable, *cmd, "--port", str(self.port), "--dir", str(self.root)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self) -> None:
        probe = HttpDrive(self.url, "probe", token=self.token, timeout=2)
        deadline = time.time() + 90  # generous: a shared 2-core box under load starts slowly
        while time.time() < deadline:
            if probe.online():
                return
            assert self.proc is not None and self.proc.poll() is None, "node exited"
            time.sleep(0.05)
        raise AssertionError("node did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    ns = [Node(tmp_path / f"node{i}", free_port(), "node-secret") for i in range(6)]
    for i, n in enumerate(ns):
        n.start(via_cli=i == 0)
    try:
        for n in ns:
            n.wait_ready()
        yield ns
    finally:
        for n in ns:
            n.kill()


def test_http_drive_contract(tmp_path: Path) -> None:
    import threading

    srv = serve_node(str(tmp_path / "n"), token="t")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        d = HttpDrive(url, "n0", token="t")
        w = d.create("abc.0")
        w.write(b"hello ")
        w.write(memoryview(b"world"))
        assert list(d.list()) == []  # invisible until committed
        w.commit()
        assert list(d.list()) == ["abc.0"] and d.size("abc.0") == 11
        assert d.read("abc.0") == b"hello world"
        assert d.read("abc.0", 6, 5) == b"world" and d.read("abc.0", 6) == b"world"
        aborted = d.create("abd.0")
        aborted.write(b"x" * 300_000)  # past the send buffer: really on the node
        aborted.abort()
        assert "abd.0" not in list(d.list())
        with pytest.raises(ShardNotFoundError):
            d.read("nope.0")
        with pytest.raises(DriveError):
            d.read("../etc")  # refused by the client before any request
        assert d.delete("abc.0") and not d.delete("abc.0")
        info = d.info()
        assert info.online and info.blobs == 0 and info.drive_id == "n0"
        assert not HttpDrive(url, "n1", token="wrong").online()  # the token is checked
        with pytest.raises(DriveError):
            HttpDrive(url, "n1", token="wrong").read("abc.0")
    finally:
        srv.shutdown()
        srv.server_close()
    gone = HttpDrive(url, "n0", token="t")  # (d's kept-alive connection outlives shutdown)
    with pytest.raises(DriveOfflineError):
        gone.read("abc.0")
    assert not gone.online()


def test_killed_nodes_lose_nothing_and_heal_when_back_empty(nodes: list[Node],
                                                           tmp_path: Path) -> None:
    drives = [HttpDrive(n.url, f"n{i}", token=n.token) for i, n in enumerate(nodes)]
    store = ObjectStore(str(tmp_path / "meta"), drives, stripe_size=STRIPE, inline_max=0,
                        gc_grace=0.0)
    with running_server(tmp_path, store) as url:
        s3 = client(url)
        s3.create_bucket(Bucket="nodes")
        bodies = {f"obj{i}": os.urandom(n) for i, n in
                  enumerate([0, 1, 1000, STRIPE - 1, STRIPE * 3 + 17, 400_000])}
        for key, body in bodies.items():
            s3.put_object(Bucket="nodes", Key=key, Body=body)

        def all_readable() -> None:
            for key, body in bodies.items():
                assert s3.get_object(Bucket="nodes", Key=key)["Body"].read() == body, key

        all_readable()
        # SIGKILL two nodes (m = 2): every object stays readable, and writes go on (quorum 4).
        nodes[1].kill()
        nodes[4].kill()
        all_readable()
        bodies["written-degraded"] = os.urandom(STRIPE * 2)
        s3.put_object(Bucket="nodes", Key="written-degraded", Body=bodies["written-degraded"])
        all_readable()
        with pytest.raises(ClientError) as e:  # a third loss is beyond the code: clean 503
            nodes[2].kill()
            s3.put_object(Bucket="nodes", Key="too-few", Body=os.urandom(STRIPE))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        nodes[2].start()
        nodes[2].wait_ready()

        # The two nodes come back with empty disks; the healer restores full redundancy.
        for n in (nodes[1], nodes[4]):
            shutil.rmtree(n.root)
            n.start()
        for n in (nodes[1], nodes[4]):
            n.wait_ready()
        healer = Healer(store)
        report = healer.run()
        assert report.healed_shards >= 2 * len(bodies) - 2 and not report.unrecoverable
        again = healer.run(heal=False)
        assert (again.missing, again.corrupt, again.unreadable) == (0, 0, 0)
        # Proof: two *other* nodes can now die and everything is still there.
        nodes[0].kill()
        nodes[5].kill()
        all_readable()
