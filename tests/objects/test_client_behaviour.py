"""Behaviour clients depend on (issue 17), as AWS documents it: ListBuckets pagination,
conditional and repeated CompleteMultipartUpload, Expect: 100-continue, aws-chunked combined
with another Content-Encoding, non-ASCII user metadata, header validation (411, InvalidDigest),
and POST-policy uploads answered 501."""

from __future__ import annotations

import base64
import hashlib
import http.client
import urllib.parse
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .rawclient import request, send, signed
from .s3server import client, running_server


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path) as u:
        client(u).create_bucket(Bucket="bkt")
        yield u


def code(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_list_buckets_pages(url: str) -> None:
    s3 = client(url)
    for i in range(4):
        s3.create_bucket(Bucket=f"page-{i}")
    first = s3.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == ["bkt", "page-0"]
    rest = s3.list_buckets(MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["page-1", "page-2"]
    last = s3.list_buckets(MaxBuckets=2, ContinuationToken=rest["ContinuationToken"])
    assert [b["Name"] for b in last["Buckets"]] == ["page-3"] and "ContinuationToken" not in last
    assert [b["Name"] for b in s3.list_buckets(Prefix="page-")["Buckets"]] == \
        [f"page-{i}" for i in range(4)]
    with pytest.raises(ClientError) as e:
        s3.list_buckets(ContinuationToken="!!!")
    assert code(e) == (400, "InvalidArgument")
    for q in ("max-buckets=0", "max-buckets=10001", "max-buckets=x"):
        r = request(url, "GET", "/", query=q)
        assert r.status == 400 and r.code == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="bkt")
    assert code(e) == (409, "BucketAlreadyOwnedByYou")


def _upload(s3, key: str) -> tuple[str, list[dict[str, object]]]:  # type: ignore[no-untyped-def]
    up = s3.create_multipart_upload(Bucket="bkt", Key=key)["UploadId"]
    etag = s3.upload_part(Bucket="bkt", Key=key, UploadId=up, PartNumber=1,
                          Body=b"only part")["ETag"]
    return up, [{"PartNumber": 1, "ETag": etag}]


def test_conditional_and_repeated_complete(url: str) -> None:
    s3 = client(url)
    s3.put_object(Bucket="bkt", Key="exists", Body=b"old")
    up, parts = _upload(s3, "exists")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="bkt", Key="exists", UploadId=up, IfNoneMatch="*",
                                     MultipartUpload={"Parts": parts})
    assert code(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="bkt", Key="exists", UploadId=up,
                                     IfMatch='"0123456789abcdef0123456789abcdef"',
                                     MultipartUpload={"Parts": parts})
    assert code(e) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket="bkt", Key="exists")["Body"].read() == b"old"
    etag = s3.head_object(Bucket="bkt", Key="exists")["ETag"]
    done = s3.complete_multipart_upload(Bucket="bkt", Key="exists", UploadId=up, IfMatch=etag,
                                        MultipartUpload={"Parts": parts})
    # The same Complete again (a client retry after a lost response) answers the same.
    again = s3.complete_multipart_upload(Bucket="bkt", Key="exists", UploadId=up,
                                         MultipartUpload={"Parts": parts})
    assert again["ETag"] == done["ETag"]
    assert s3.get_object(Bucket="bkt", Key="exists")["Body"].read() == b"only part"
    up2, parts2 = _upload(s3, "fresh")
    s3.complete_multipart_upload(Bucket="bkt", Key="fresh", UploadId=up2, IfNoneMatch="*",
                                 MultipartUpload={"Parts": parts2})
    s3.put_object(Bucket="bkt", Key="fresh", Body=b"replaced")
    with pytest.raises(ClientError) as e:  # the key no longer holds that upload's object
        s3.complete_multipart_upload(Bucket="bkt", Key="fresh", UploadId=up2,
                                     MultipartUpload={"Parts": parts2})
    assert code(e) == (404, "NoSuchUpload")


def test_expect_100_continue(url: str) -> None:
    target, hs = signed(url, "PUT", "/bkt/e", body=b"hello",
                        headers=[("Expect", "100-continue")])
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", parts.netloc)
    for k, v in hs:
        conn.putheader(k, v)
    conn.putheader("Content-Length", "5")
    conn.endheaders()
    interim = conn.sock.recv(1024)  # the server asks for the body before it is sent
    assert interim.startswith(b"HTTP/1.1 100")
    conn.send(b"hello")
    assert conn.getresponse().status == 200
    conn.close()
    assert client(url).get_object(Bucket="bkt", Key="e")["Body"].read() == b"hello"


def test_aws_chunked_with_another_content_encoding(url: str) -> None:
    data = b"gzipped bytes, really"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode())
    r = request(url, "PUT", "/bkt/gz", body=body, trailer=True, headers=[
        ("Content-Encoding", "aws-chunked,gzip"), ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("X-Amz-Decoded-Content-Length", str(len(data)))])
    assert r.status == 200, r.body
    got = client(url).get_object(Bucket="bkt", Key="gz")
    assert got["ContentEncoding"] == "gzip" and got["Body"].read() == data


def test_non_ascii_user_metadata(url: str) -> None:
    r = request(url, "PUT", "/bkt/m", body=b"x",
                headers=[("x-amz-meta-name", "café ☃")], utf8_headers=True)
    assert r.status == 200, r.body
    r = request(url, "HEAD", "/bkt/m")
    enc = "=?UTF-8?B?" + base64.b64encode("café ☃".encode()).decode() + "?="
    assert r.headers["x-amz-meta-name"] == enc  # RFC 2047, as S3 answers


def test_header_validation(url: str) -> None:
    target, hs = signed(url, "PUT", "/bkt/nolen")
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", parts.netloc)
    for k, v in hs:
        conn.putheader(k, v)
    conn.endheaders()  # no Content-Length, not chunked
    r = conn.getresponse()
    assert r.status == 411 and b"MissingContentLength" in r.read()
    conn.close()
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        r = request(url, "PUT", "/bkt/md5", body=b"x", headers=[("Content-MD5", bad)])
        assert r.status == 400 and r.code == "InvalidDigest", bad
    good = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    assert request(url, "PUT", "/bkt/md5", body=b"x",
                   headers=[("Content-MD5", good)]).status == 200
    r = send(url, "GET", "/", [("Authorization", "")])
    assert r.status in (400, 403) and r.code


def test_post_policy_upload_is_not_implemented(url: str) -> None:
    form = (b"--xx\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--xx--\r\n")
    r = send(url, "POST", "/bkt", [("Content-Type", "multipart/form-data; boundary=xx")],
             form)
    assert r.status == 501 and r.code == "NotImplemented"
