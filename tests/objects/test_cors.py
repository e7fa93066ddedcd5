"""Bucket CORS (issue 17: browser uploads): Put/Get/DeleteBucketCors, unsigned preflights
answered from the rules, and the real request's response decorated for the browser."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .rawclient import request
from .s3server import client, running_server

RULES = {"CORSRules": [
    {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["PUT", "GET"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path) as u:
        client(u).create_bucket(Bucket="bkt")
        yield u


def preflight(url: str, origin: str, method: str, req_headers: str = "",
              path: str = "/bkt/upload.bin") -> tuple[int, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    hs = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        hs["Access-Control-Request-Headers"] = req_headers
    conn.request("OPTIONS", path, headers=hs)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}


def test_cors_configuration_round_trip(url: str) -> None:
    s3 = client(url)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="bkt")
    assert e.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket="bkt", CORSConfiguration=RULES)  # type: ignore[arg-type]
    got = s3.get_bucket_cors(Bucket="bkt")["CORSRules"]
    assert got[0]["AllowedOrigins"] == ["https://app.example.com"]
    assert got[0]["MaxAgeSeconds"] == 600 and got[1]["AllowedMethods"] == ["GET"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket="bkt", CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]})
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    s3.delete_bucket_cors(Bucket="bkt")
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket="bkt")


def test_preflight_and_actual_request(url: str) -> None:
    status, _ = preflight(url, "https://app.example.com", "PUT")
    assert status == 403  # no CORS configuration yet
    client(url).put_bucket_cors(Bucket="bkt", CORSConfiguration=RULES)  # type: ignore[arg-type]
    status, h = preflight(url, "https://app.example.com", "PUT",
                          "Content-Type, x-amz-meta-name")
    assert status == 200
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in h["access-control-allow-methods"]
    assert h["access-control-allow-headers"] == "Content-Type, x-amz-meta-name"
    assert h["access-control-max-age"] == "600"
    assert preflight(url, "https://evil.example.net", "PUT")[0] == 403
    assert preflight(url, "https://app.example.com", "DELETE")[0] == 403
    assert preflight(url, "https://app.example.com", "PUT", "authorization-x")[0] == 403
    status, h = preflight(url, "https://anyone.example.org", "GET")
    assert status == 200 and h["access-control-allow-origin"] == "*"
    # The signed request itself carries the headers the browser needs.
    r = request(url, "PUT", "/bkt/upload.bin", body=b"from a browser",
                headers=[("Origin", "https://app.example.com")])
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "ETag"
    r = request(url, "PUT", "/bkt/other.bin", body=b"x",
                headers=[("Origin", "https://evil.example.net")])
    assert r.status == 200 and "access-control-allow-origin" not in r.headers
    # Errors carry the headers too, so the browser's code can read them.
    r = request(url, "GET", "/bkt/missing", headers=[("Origin", "https://app.example.com")])
    assert r.status == 404 and r.code == "NoSuchKey"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
