"""Requests boto3 cannot make (repeated headers, hand-written bodies), signed by botocore's
own SigV4 signer and sent with http.client, so the server is checked against the reference
signer rather than against itself."""

from __future__ import annotations

import datetime as dt
import http.client
import urllib.parse
from dataclasses import dataclass

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .s3server import ACCESS, SECRET


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str:
        text = self.body.decode("utf-8", "replace")
        if "<Code>" not in text:
            return ""
        return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def signed(url: str, method: str, path: str, *, query: str = "",
           headers: list[tuple[str, str]] | None = None, body: bytes = b"",
           region: str = "us-east-1", access: str = ACCESS, secret: str = SECRET,
           presign: int | None = None,
           trailer: bool = False) -> tuple[str, list[tuple[str, str]]]:
    """(target, headers) of a request signed by botocore (in the header, or presigned for
    ``presign`` seconds). ``trailer``: an aws-chunked body with trailing checksums
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER, boto3's default for uploads)."""
    full = url + path + (("?" + query) if query else "")
    req = AWSRequest(method=method, url=full, data=body)
    if trailer:
        req.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
    for k, v in headers or []:
        req.headers[k] = v  # an email.message: repeated names are kept, in order
    creds = Credentials(access, secret)
    if presign is not None:
        S3SigV4QueryAuth(creds, "s3", region, expires=presign).add_auth(req)
    else:
        S3SigV4Auth(creds, "s3", region).add_auth(req)
    parts = urllib.parse.urlsplit(req.url)
    target = parts.path + (("?" + parts.query) if parts.query else "")
    out = []
    for k in set(req.headers.keys()):
        out += [(k, v) for v in req.headers.get_all(k)]
    return target, out


def send(url: str, method: str, target: str, headers: list[tuple[str, str]],
         body: bytes = b"", utf8_headers: bool = False) -> Reply:
    """``utf8_headers``: send header values as UTF-8 bytes (as Go and Java SDKs do), not
    Latin-1 (http.client's and so botocore's way)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        names = {k.lower() for k, _ in headers}
        if "host" not in names:
            conn.putheader("Host", parts.netloc)
        for k, v in headers:
            conn.putheader(k, v.encode() if utf8_headers else v)
        if "content-length" not in names:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def request(url: str, method: str, path: str, *, query: str = "",
            headers: list[tuple[str, str]] | None = None, body: bytes = b"",
            utf8_headers: bool = False, **kw: object) -> Reply:
    target, hs = signed(url, method, path, query=query, headers=headers, body=body,
                        **kw)  # type: ignore[arg-type]
    return send(url, method, target, hs, body, utf8_headers)


def amz_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
