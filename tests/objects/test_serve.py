"""``cairn s3 serve`` as a real process: env root credentials, boto3 against it, SIGKILL in
the middle of uploads, restart, every acknowledged PUT readable and whole; ``cairn s3 keys``."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from click.testing import CliRunner

from cairn.cli import _register, cli

from .s3server import client, free_port

ACCESS, SECRET = "ROOTKEY123", "root-secret"


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAIRN_S3_ACCESS_KEY": ACCESS, "CAIRN_S3_SECRET_KEY": SECRET,
           "PYTHONPATH": "src"}
    proc = subprocess.Popen([sys.executable, "-c", "from cairn.cli import main; main()", "s3",
                             "serve", "--port", str(port), "--data", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import socket

    deadline = time.time() + 90  # generous: a shared 2-core box under load starts slowly
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "died") \
                    from None
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def payload(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (100 + 997 * (i % 7))


def test_sigkill_server_during_puts(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    try:
        s3 = client(f"http://127.0.0.1:{port}", access=ACCESS, secret=SECRET)
        s3.create_bucket(Bucket="crash")
    except BaseException:
        proc.kill()  # never leave a server behind
        proc.wait()
        raise
    acked: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                s3.put_object(Bucket="crash", Key=f"k{i}", Body=payload(i))
                acked.append(i)
            except (ClientError, BotoCoreError):
                return
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.time() + 60
    while len(acked) < 15 and t.is_alive() and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    t.join(30)
    assert len(acked) >= 15
    proc = start(tmp_path, port)
    try:
        s3 = client(f"http://127.0.0.1:{port}", access=ACCESS, secret=SECRET)
        for i in acked:
            assert s3.get_object(Bucket="crash", Key=f"k{i}")["Body"].read() == payload(i)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])]
        for key in listed:  # whatever is listed (acked or not) is whole
            i = int(key[1:])
            assert s3.get_object(Bucket="crash", Key=key)["Body"].read() == payload(i)
        assert len(listed) >= len(acked)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_keys_commands(tmp_path: Path) -> None:
    _register()
    r = CliRunner(env={"CAIRN_S3_ACCESS_KEY": None, "CAIRN_S3_SECRET_KEY": None,
                       "CAIRN_S3_CREDENTIALS_FILE": None})
    data, root = str(tmp_path / "data"), str(tmp_path / "root.json")
    assert r.invoke(cli, ["s3", "keys", "list", "--data", data]).exit_code != 0  # no root
    cred = ["--data", data, "--credentials", root]
    out = r.invoke(cli, ["s3", "keys", "create", *cred, "--access-key", "ALICE1",
                         "--secret-key", "s3cr3t"])
    assert out.exit_code == 0 and "ALICE1" in out.output
    assert "ALICE1" in r.invoke(cli, ["s3", "keys", "list", *cred]).output
    bad = r.invoke(cli, ["s3", "keys", "create", *cred, "--access-key", "../x"])
    assert bad.exit_code != 0
    assert r.invoke(cli, ["s3", "keys", "delete", *cred, "ALICE1"]).exit_code == 0
    assert "ALICE1" not in r.invoke(cli, ["s3", "keys", "list", *cred]).output
    assert r.invoke(cli, ["s3", "keys", "delete", *cred, "ALICE1"]).exit_code != 0
    inside = r.invoke(cli, ["s3", "keys", "list", "--data", data, "--credentials",
                            str(tmp_path / "data" / "root.json")])
    assert inside.exit_code != 0 and "inside the data" in inside.output


def test_serve_refuses_anonymous(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    port = free_port()
    proc = start(tmp_path, port)
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/")
        assert e.value.code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
