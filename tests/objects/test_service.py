"""The service factory `cairn serve` and `cairn s3 serve` share: credentials from the
environment, S3 over boto3, unsigned health and Prometheus metrics."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import uvicorn

from cairn.objects.service import open_service

from .s3server import client, free_port


def test_service_health_metrics_and_env_credentials(tmp_path: Path) -> None:
    svc = open_service(str(tmp_path), maintenance=True,
                       env={"CAIRN_S3_ACCESS_KEY": "ENVKEY1", "CAIRN_S3_SECRET_KEY": "s3cret"})
    assert svc.access_key == "ENVKEY1" and svc.secret_key is None
    assert "4+2" in svc.summary
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(svc.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        s3 = client(url, access="ENVKEY1", secret="s3cret")
        s3.create_bucket(Bucket="svc")
        s3.put_object(Bucket="svc", Key="k", Body=b"x" * 50_000)
        assert s3.get_object(Bucket="svc", Key="k")["Body"].read() == b"x" * 50_000
        with urllib.request.urlopen(url + "/_cairn/health") as r:
            assert r.status == 200 and json.loads(r.read())["drives_online"] == 6
        with urllib.request.urlopen(url + "/_cairn/metrics") as r:
            text = r.read().decode()
        assert 'cairn_s3_requests_total{op="put"} 1' in text
        assert 'cairn_s3_drive_online{drive="d0"} 1' in text
        # Three of six drives gone: below the write quorum of 4+2, health says so.
        for i in range(3):
            shutil.rmtree(tmp_path / "drives" / f"d{i}")
        try:
            urllib.request.urlopen(url + "/_cairn/health")
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and json.loads(exc.read())["status"] == "degraded"
    finally:
        server.should_exit = True
        thread.join(10)
        svc.close()
    # The root key is never stored: a second open without it gets a fresh pair in memory
    # (printed once), and ENVKEY1 is unknown to it.
    again = open_service(str(tmp_path), maintenance=False, env={})
    try:
        assert again.access_key != "ENVKEY1" and again.secret_key is not None
        assert "ENVKEY1" not in again.keys
    finally:
        again.close()
