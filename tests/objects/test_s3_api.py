"""boto3 against a real cairn S3 server on a local port: every built operation and its errors.

Behaviour is checked against what the S3 API reference specifies (codes, statuses, headers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import io
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .s3server import client, running_server


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("s3")) as u:
        yield u


@pytest.fixture(scope="module")
def s3(url: str) -> Any:
    c = client(url)
    c.create_bucket(Bucket="api")
    return c


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_bucket_lifecycle(s3: Any, url: str) -> None:
    s3.create_bucket(Bucket="life")
    assert "life" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket="life")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="life")
    assert code(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket="life", Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="life")
    assert code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="life", Key="x")
    s3.delete_bucket(Bucket="life")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="life")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="life")
    assert code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert code(e) == "InvalidBucketName"


def test_put_get_head_metadata_checksums(s3: Any) -> None:
    body = os.urandom(300_000)
    r = s3.put_object(Bucket="api", Key="dir/obj.bin", Body=body, ContentType="image/png",
                      Metadata={"color": "blue"}, CacheControl="max-age=60")
    assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    g = s3.get_object(Bucket="api", Key="dir/obj.bin")
    assert g["Body"].read() == body
    assert g["ContentType"] == "image/png" and g["Metadata"] == {"color": "blue"}
    assert g["CacheControl"] == "max-age=60" and g["ContentLength"] == len(body)
    h = s3.head_object(Bucket="api", Key="dir/obj.bin")
    assert h["ETag"] == r["ETag"] and h["ContentLength"] == len(body)
    for algo in ["CRC32", "SHA1", "SHA256"]:  # CRC32C needs botocore[crt] on the client
        r = s3.put_object(Bucket="api", Key=f"ck-{algo}", Body=b"abc", ChecksumAlgorithm=algo)
        assert r[f"Checksum{algo}"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="api", Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="missing")
    assert code(e) == "NoSuchKey"


def test_wrong_checksum_and_md5_are_rejected(s3: Any) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="api", Key="bad-md5", Body=b"abc",
                      ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="api", Key="bad-crc", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert code(e) == "BadDigest"
    for k in ("bad-md5", "bad-crc"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket="api", Key=k)


def test_ranges_and_conditionals(s3: Any) -> None:
    body = bytes(range(256)) * 100
    etag = s3.put_object(Bucket="api", Key="rng", Body=body)["ETag"]
    g = s3.get_object(Bucket="api", Key="rng", Range="bytes=10-19")
    assert g["Body"].read() == body[10:20] and g["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert s3.get_object(Bucket="api", Key="rng", Range="bytes=-5")["Body"].read() == body[-5:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="rng", Range=f"bytes={len(body)}-")
    assert code(e) == "InvalidRange"
    assert s3.get_object(Bucket="api", Key="rng", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="rng", IfMatch='"other"')
    assert code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="rng", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="rng", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api", Key="rng", IfUnmodifiedSince=past)
    assert code(e) == "PreconditionFailed"
    s3.put_object(Bucket="api", Key="once", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="api", Key="once", Body=b"2", IfNoneMatch="*")
    assert code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket="api", Key="once")["Body"].read() == b"1"


def test_listing_v1_v2_paginated(s3: Any) -> None:
    s3.create_bucket(Bucket="lst")
    keys = [f"p{i % 3}/k{i:03d}" for i in range(25)] + ["top1", "top2"]
    for k in keys:
        s3.put_object(Bucket="lst", Key=k, Body=b"")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lst", PaginationConfig={
        "PageSize": 4})
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert got == sorted(keys)
    r = s3.list_objects_v2(Bucket="lst", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["p0/", "p1/", "p2/"]
    assert [o["Key"] for o in r["Contents"]] == ["top1", "top2"] and r["KeyCount"] == 5
    pages = s3.get_paginator("list_objects").paginate(Bucket="lst", Delimiter="/",
                                                      PaginationConfig={"PageSize": 2})
    got_prefixes = [p["Prefix"] for pg in pages for p in pg.get("CommonPrefixes", [])]
    assert got_prefixes == ["p0/", "p1/", "p2/"]
    r = s3.list_objects_v2(Bucket="lst", Prefix="p1/", StartAfter="p1/k010")
    assert all(o["Key"] > "p1/k010" and o["Key"].startswith("p1/") for o in r["Contents"])
    r = s3.list_objects_v2(Bucket="lst", Prefix="p 1", EncodingType="url")
    assert r["KeyCount"] == 0


def test_copy_and_delete_many(s3: Any) -> None:
    s3.put_object(Bucket="api", Key="src", Body=b"copy me", Metadata={"m": "1"})
    r = s3.copy_object(Bucket="api", Key="dst", CopySource={"Bucket": "api", "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == s3.head_object(Bucket="api", Key="src")["ETag"]
    g = s3.get_object(Bucket="api", Key="dst")
    assert g["Body"].read() == b"copy me" and g["Metadata"] == {"m": "1"}
    s3.copy_object(Bucket="api", Key="dst", CopySource="api/src", MetadataDirective="REPLACE",
                   Metadata={"m": "2"})
    assert s3.head_object(Bucket="api", Key="dst")["Metadata"] == {"m": "2"}
    r = s3.delete_objects(Bucket="api", Delete={"Objects": [{"Key": "src"}, {"Key": "dst"},
                                                            {"Key": "never-existed"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["dst", "never-existed", "src"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="api", Key="src")


def test_virtual_host_style(url: str, s3: Any) -> None:
    port = url.rsplit(":", 1)[1]
    v = client(f"http://localhost:{port}", style="virtual")

    def to_loopback(request: Any, **_: Any) -> None:
        # api.localhost may not resolve here: connect to 127.0.0.1, keep the signed Host.
        request.headers["Host"] = f"api.localhost:{port}"
        request.url = request.url.replace(f"api.localhost:{port}", f"127.0.0.1:{port}")

    v.meta.events.register("before-send.s3", to_loopback)
    v.put_object(Bucket="api", Key="vhost", Body=b"v")
    assert v.get_object(Bucket="api", Key="vhost")["Body"].read() == b"v"
    assert s3.get_object(Bucket="api", Key="vhost")["Body"].read() == b"v"


def test_hostile_keys(s3: Any, tmp_path: Path) -> None:
    for key in ["../../escape", "a/../../b", "k" * 1024, "ü/😀 +%&=?"]:
        s3.put_object(Bucket="api", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="api", Key=key)["Body"].read() == key.encode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="api", Key="k" * 1025, Body=b"")
    assert code(e) == "KeyTooLongError"


def test_authentication_failures(url: str, s3: Any) -> None:
    with pytest.raises(ClientError) as e:
        client(url, secret="wrong").list_buckets()
    assert code(e) == "SignatureDoesNotMatch"
    with pytest.raises(urllib.error.HTTPError) as h:
        urllib.request.urlopen(f"{url}/api/once")
    assert h.value.code == 403 and b"AccessDenied" in h.value.read()
    s3.put_object(Bucket="api", Key="pre", Body=b"signed")
    good = s3.generate_presigned_url("get_object", Params={"Bucket": "api", "Key": "pre"},
                                     ExpiresIn=60)
    assert urllib.request.urlopen(good).read() == b"signed"
    tampered = good.replace("Key", "Kez").replace("/pre?", "/once?")
    with pytest.raises(urllib.error.HTTPError) as h:
        urllib.request.urlopen(tampered)
    assert h.value.code == 403
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "api", "Key": "pp"},
                                        ExpiresIn=60)
    req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT")
    urllib.request.urlopen(req).read()
    assert s3.get_object(Bucket="api", Key="pp")["Body"].read() == b"via presigned put"


def test_expired_presigned_url(url: str, s3: Any) -> None:
    import botocore.auth

    orig = botocore.auth.datetime.datetime  # type: ignore[attr-defined]

    class Past(orig):  # type: ignore[misc, valid-type]
        @classmethod
        def utcnow(cls) -> dt.datetime:  # type: ignore[override]
            return orig.utcnow() - dt.timedelta(hours=2)

        @classmethod
        def now(cls, tz: Any = None) -> dt.datetime:  # type: ignore[override]
            return orig.now(tz) - dt.timedelta(hours=2)

    botocore.auth.datetime.datetime = Past  # type: ignore[attr-defined, misc]
    try:
        old = s3.generate_presigned_url("get_object", Params={"Bucket": "api", "Key": "pre"},
                                        ExpiresIn=60)
    finally:
        botocore.auth.datetime.datetime = orig  # type: ignore[attr-defined, misc]
    with pytest.raises(urllib.error.HTTPError) as h:
        urllib.request.urlopen(old)
    assert h.value.code == 403 and b"expired" in h.value.read()


def test_body_shorter_than_declared_writes_nothing(url: str, s3: Any) -> None:
    host, port = url.rsplit("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    # A presigned PUT, then a body that stops short of its Content-Length.
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "api", "Key": "short"},
                                        ExpiresIn=60)
    path = put_url.split(port, 1)[1]
    conn.putrequest("PUT", path)
    conn.putheader("Content-Length", "100")
    conn.endheaders()
    conn.send(b"only ten b")
    conn.sock.shutdown(1)  # type: ignore[union-attr]
    try:
        resp = conn.getresponse()
        assert resp.status == 400
    except (ConnectionError, http.client.HTTPException):
        pass  # the server may also just drop the connection
    conn.close()
    with pytest.raises(ClientError):
        s3.head_object(Bucket="api", Key="short")


def test_malformed_xml_and_unbuilt_features(s3: Any) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket="api", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert code(e) == "NotImplemented"

    def truncate(request: Any, **_: Any) -> None:
        request.data = b"<Delete><Object>"

    s3.meta.events.register_first("before-sign.s3.DeleteObjects", truncate)
    try:
        with pytest.raises(ClientError) as e:
            s3.delete_objects(Bucket="api", Delete={"Objects": [{"Key": "x"}]})
        assert code(e) in ("MalformedXML", "BadDigest")
    finally:
        s3.meta.events.unregister("before-sign.s3.DeleteObjects", truncate)


def test_large_upload_via_transfer_manager(s3: Any) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    from boto3.s3.transfer import TransferConfig

    s3.upload_fileobj(io.BytesIO(data), "api", "large",
                      Config=TransferConfig(multipart_threshold=64 * 1024 * 1024))
    out = io.BytesIO()
    s3.download_fileobj("api", "large", out)
    assert out.getvalue() == data


def _raw_signed(s3: Any, url: str, path: str, extra: dict[str, str] | None = None,
                ) -> tuple[int, bytes]:
    """Send a GET signed with SigV4 by botocore to an arbitrary raw path."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(method="GET", url=url + path, headers=dict(extra or {}))
    S3SigV4Auth(s3._request_signer._credentials, "s3", "us-east-1").add_auth(req)
    host, port = url.rsplit("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path, headers=dict(req.headers.items()))
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_hostile_requests_get_s3_errors(s3: Any, url: str) -> None:
    status, body = _raw_signed(s3, url, "/api/%FF%FEbad")
    assert status == 400 and b"InvalidURI" in body
    status, body = _raw_signed(s3, url, "/api/x", {"x-amz-meta-big": "v" * 9000})
    assert status == 400 and b"RequestHeaderSectionTooLarge" in body
    with pytest.raises(ClientError) as e:
        s3.get_object_acl(Bucket="api", Key="once")
    assert code(e) == "NotImplemented"


def test_multipart_with_the_transfer_manager(s3: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    data = os.urandom(17 * 1024 * 1024 + 3)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024,
                         multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(data), "api", "multi", Config=cfg)
    head = s3.head_object(Bucket="api", Key="multi")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-4"')
    out = io.BytesIO()
    s3.download_fileobj("api", "multi", out)
    assert out.getvalue() == data


def test_multipart_api_and_errors(s3: Any) -> None:
    up = s3.create_multipart_upload(Bucket="api", Key="mpu", ContentType="text/csv",
                                    Metadata={"k": "v"})["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="api")["Uploads"]] == [up]
    p1 = s3.upload_part(Bucket="api", Key="mpu", UploadId=up, PartNumber=1, Body=b"a" * 100)
    p2 = s3.upload_part(Bucket="api", Key="mpu", UploadId=up, PartNumber=2, Body=b"b" * 100)
    parts = s3.list_parts(Bucket="api", Key="mpu", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 100), (2, 100)]
    both = [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]
    with pytest.raises(ClientError) as e:  # part 1 is below the 5 MiB minimum
        s3.complete_multipart_upload(Bucket="api", Key="mpu", UploadId=up,
                                     MultipartUpload={"Parts": both})
    assert code(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="api", Key="mpu", UploadId=up,
                                     MultipartUpload={"Parts": both[::-1]})
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="api", Key="mpu", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 3, "ETag": p1["ETag"]}]})
    assert code(e) == "InvalidPart"
    r = s3.complete_multipart_upload(Bucket="api", Key="mpu", UploadId=up,
                                     MultipartUpload={"Parts": both[1:]})
    assert r["ETag"].endswith('-1"')
    g = s3.get_object(Bucket="api", Key="mpu")
    assert g["Body"].read() == b"b" * 100 and g["ContentType"] == "text/csv"
    assert g["Metadata"] == {"k": "v"}
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="api", Key="mpu", UploadId=up, PartNumber=3, Body=b"x")
    assert code(e) == "NoSuchUpload"
    up2 = s3.create_multipart_upload(Bucket="api", Key="mpu2")["UploadId"]
    s3.upload_part(Bucket="api", Key="mpu2", UploadId=up2, PartNumber=1, Body=b"z")
    s3.abort_multipart_upload(Bucket="api", Key="mpu2", UploadId=up2)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="api", Key="mpu2", UploadId=up2)
    assert code(e) == "NoSuchUpload"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="api")
