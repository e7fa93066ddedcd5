"""``cairn serve``: one process starts every service, prints real URLs, stops cleanly on SIGINT,
and what was written survives a restart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

LINE = re.compile(r"^\s+(?P<name>s3|schema registry|booking|console)\s+(?P<url>http://\S+)"
                  r"\s+(?P<note>.*)$")


def _start(data: Path, *extra: str, env_extra: dict[str, str] | None = None
           ) -> tuple[subprocess.Popen[str], dict[str, tuple[str, str]]]:
    """Start ``cairn serve`` on free ports; without ``extra`` options the booking service is
    off (it has its own test below, in a throwaway schema)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    env.pop("CAIRN_S3_ACCESS_KEY", None)
    env.pop("CAIRN_S3_SECRET_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cairn.cli", "serve", "--data", str(data), "--s3-port", "0",
         "--registry-port", "0", *(extra or ["--no-booking"])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    found: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = LINE.match(line)
        if m:
            found[m["name"]] = (m["url"], m["note"])
        if line.startswith("Ctrl-C"):
            proc.startup_lines = lines  # type: ignore[attr-defined]
            return proc, found
    proc.kill()
    raise AssertionError("cairn serve did not start:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def _s3(url: str, note: str):  # type: ignore[no-untyped-def]
    m = re.search(r"access key (\S+) secret (\S+)", note)
    assert m, note
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=m[1],
                        aws_secret_access_key=m[2], region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}))


def test_serve_starts_every_service_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, found = _start(data)
    try:
        assert set(found) == {"s3", "schema registry"}
        s3 = _s3(*found["s3"])
        s3.create_bucket(Bucket="tickets")
        s3.put_object(Bucket="tickets", Key="a/b.txt", Body=b"seat 12B")
        reg = found["schema registry"][0].rstrip("/")
        schema = {"type": "record", "name": "User",
                  "fields": [{"name": "userName", "type": "string"}]}
        r = httpx.post(f"{reg}/subjects/users-value/versions",
                       json={"schema": json.dumps(schema)},
                       headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        assert r.status_code == 200, r.text
        schema_id = r.json()["id"]
    finally:
        out = _stop(proc)
    assert "stopped cleanly" in out

    proc, found = _start(data)
    try:
        s3 = _s3(*found["s3"])
        assert s3.get_object(Bucket="tickets", Key="a/b.txt")["Body"].read() == b"seat 12B"
        reg = found["schema registry"][0].rstrip("/")
        r = httpx.get(f"{reg}/schemas/ids/{schema_id}")
        assert r.status_code == 200 and "userName" in r.json()["schema"]
    finally:
        _stop(proc)


def test_serve_refuses_a_taken_port_with_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "cairn.cli", "serve", "--data", str(tmp_path / "d"),
             "--s3-port", str(port), "--registry-port", "0"],
            capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


def test_serve_runs_booking_api_and_console_on_one_service(tmp_path: Path) -> None:
    import secrets

    import psycopg

    schema = f"t_serve_{secrets.token_hex(4)}"
    token = secrets.token_urlsafe(16)
    proc, found = _start(tmp_path / "data", "--booking-schema", schema, "--booking-port", "0",
                         "--console-port", "0", env_extra={"CAIRN_BOOKING_ADMIN_TOKEN": token})
    try:
        assert set(found) == {"s3", "schema registry", "booking", "console"}
        assert token in found["booking"][1] and schema in found["booking"][1]
        api = found["booking"][0].rstrip("/")
        console = found["console"][0].rstrip("/")
        assert httpx.get(f"{api}/health").status_code == 200
        page = httpx.get(f"{console}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert httpx.get(f"{console}/health").status_code == 200
        # The console seeded its events; the API lists them: one booking service, one database.
        events = httpx.get(f"{api}/events", headers={"Authorization": f"Bearer {token}"})
        assert events.status_code == 200, events.text
        assert len(events.json()) >= 1
        first = events.json()[0]["id"]
        seats = httpx.get(f"{api}/events/{first}/seats",
                          headers={"Authorization": f"Bearer {token}"})
        assert seats.status_code == 200 and len(seats.text) > 100
    finally:
        out = _stop(proc)
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    assert "stopped cleanly" in out


def test_serve_without_postgresql_says_how_to_start_it_and_serves_the_rest(
        tmp_path: Path) -> None:
    proc, found = _start(tmp_path / "data", "--booking-dsn",
                         "postgresql://postgres@127.0.0.1:1/test", "--booking-port", "0",
                         "--console-port", "0")
    try:
        assert set(found) == {"s3", "schema registry"}
        skipped = [ln for ln in proc.startup_lines if "skipped" in ln]  # type: ignore[attr-defined]
        assert skipped and "PostgreSQL is not reachable" in skipped[0]
        assert "start PostgreSQL" in skipped[0]
        assert "--booking-dsn / CAIRN_BOOKING_DSN" in skipped[0]  # the option serve has
        assert _s3(*found["s3"]).list_buckets()["Buckets"] == []
    finally:
        _stop(proc)
