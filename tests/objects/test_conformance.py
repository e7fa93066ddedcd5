"""S3 conformance details in the style of ceph's s3-tests: listing edge cases, owners, copy
directives and conditions, UploadPartCopy, GET by part number, checksum mode, multipart upload
listing, delete-many quiet mode. Expected values are AWS's (the S3 API reference)."""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .s3server import client, running_server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_server(tmp_path_factory.mktemp("s3c")) as url:
        c = client(url)
        c.create_bucket(Bucket="conf")
        yield c


def err(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = exc.value.response
    return int(r["ResponseMetadata"]["HTTPStatusCode"]), str(r["Error"]["Code"])


def test_listing_edge_cases(s3: Any) -> None:
    for k in ["e/a", "e/b", "e/c/d"]:
        s3.put_object(Bucket="conf", Key=k, Body=b"x")
    r = s3.list_objects_v2(Bucket="conf", Prefix="e/", MaxKeys=0)
    assert r["KeyCount"] == 0 and r["IsTruncated"] is False and "Contents" not in r
    r = s3.list_objects(Bucket="conf", Prefix="e/", MaxKeys=0)
    assert r["IsTruncated"] is False
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="conf", EncodingType="base64")
    assert err(e) == (400, "InvalidArgument")
    # V1 always names the owner; V2 only with fetch-owner.
    assert s3.list_objects(Bucket="conf", Prefix="e/")["Contents"][0]["Owner"]["ID"]
    assert "Owner" not in s3.list_objects_v2(Bucket="conf", Prefix="e/")["Contents"][0]
    v2 = s3.list_objects_v2(Bucket="conf", Prefix="e/", FetchOwner=True)
    assert v2["Contents"][0]["Owner"]["ID"]
    # A delimiter that is not "/"; a prefix that is a whole key; start-after past the end.
    r = s3.list_objects_v2(Bucket="conf", Prefix="e/", Delimiter="c")
    assert [c["Key"] for c in r["Contents"]] == ["e/a", "e/b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["e/c"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket="conf", Prefix="e/a")["Contents"]] \
        == ["e/a"]
    assert s3.list_objects_v2(Bucket="conf", Prefix="e/", StartAfter="e/z")["KeyCount"] == 0
    # V1 with a delimiter gives NextMarker; the marker may be a common prefix.
    r = s3.list_objects(Bucket="conf", Prefix="e/", Delimiter="/", MaxKeys=2)
    assert r["IsTruncated"] and r["NextMarker"] == "e/b"
    r = s3.list_objects(Bucket="conf", Prefix="e/", Delimiter="/", Marker=r["NextMarker"])
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["e/c/"] and not r["IsTruncated"]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="conf", ContinuationToken="!!not-a-token!!")
    assert err(e) == (400, "InvalidArgument")


def test_copy_directives_and_conditions(s3: Any) -> None:
    src = s3.put_object(Bucket="conf", Key="c/src", Body=b"copy me", ContentType="text/plain",
                        Metadata={"a": "1"}, CacheControl="no-cache")
    s3.copy_object(Bucket="conf", Key="c/same", CopySource="conf/c/src")
    h = s3.head_object(Bucket="conf", Key="c/same")
    assert h["ContentType"] == "text/plain" and h["Metadata"] == {"a": "1"}
    assert h["CacheControl"] == "no-cache" and h["ETag"] == src["ETag"]
    s3.copy_object(Bucket="conf", Key="c/new", CopySource="conf/c/src",
                   MetadataDirective="REPLACE", ContentType="image/png",
                   Metadata={"b": "2"}, ContentDisposition="inline")
    h = s3.head_object(Bucket="conf", Key="c/new")
    assert h["ContentType"] == "image/png" and h["Metadata"] == {"b": "2"}
    assert h["ContentDisposition"] == "inline" and "CacheControl" not in h
    # Copying onto itself needs REPLACE.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="conf", Key="c/src", CopySource="conf/c/src")
    assert err(e) == (400, "InvalidRequest")
    s3.copy_object(Bucket="conf", Key="c/src", CopySource="conf/c/src",
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket="conf", Key="c/src")["Metadata"] == {"c": "3"}
    for kw in ({"CopySourceIfMatch": '"0000"'}, {"CopySourceIfNoneMatch": src["ETag"]},
               {"CopySourceIfModifiedSince": "2100-01-01T00:00:00Z"},
               {"CopySourceIfUnmodifiedSince": "2000-01-01T00:00:00Z"}):
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket="conf", Key="c/x", CopySource="conf/c/src", **kw)
        assert err(e) == (412, "PreconditionFailed"), kw
    s3.copy_object(Bucket="conf", Key="c/x", CopySource="conf/c/src",
                   CopySourceIfMatch=src["ETag"])
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="conf", Key="c/y", CopySource="conf/c/missing")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="conf", Key="c/y", CopySource="no-such-bucket-c/k")
    assert err(e) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="conf", Key="c/y", CopySource="conf/c/src",
                       MetadataDirective="MERGE")  # type: ignore[arg-type]
    assert err(e)[0] == 400


def test_upload_part_copy_and_get_by_part_number(s3: Any) -> None:
    big = os.urandom(5 * MiB + 100)
    s3.put_object(Bucket="conf", Key="p/src", Body=big)
    up = s3.create_multipart_upload(Bucket="conf", Key="p/dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="conf", Key="p/dst", UploadId=up, PartNumber=1,
                             CopySource="conf/p/src", CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    p2 = s3.upload_part_copy(Bucket="conf", Key="p/dst", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": "conf", "Key": "p/src"})
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket="conf", Key="p/dst", UploadId=up, PartNumber=3,
                            CopySource="conf/p/src", CopySourceRange=f"bytes=0-{len(big)}")
    assert err(e) == (416, "InvalidRange")
    parts = [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket="conf", Key="p/dst", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    want = big[: 5 * MiB] + big
    assert s3.get_object(Bucket="conf", Key="p/dst")["Body"].read() == want
    g = s3.get_object(Bucket="conf", Key="p/dst", PartNumber=2)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206 and g["PartsCount"] == 2
    assert g["Body"].read() == big and g["ContentRange"] == (
        f"bytes {5 * MiB}-{len(want) - 1}/{len(want)}")
    h = s3.head_object(Bucket="conf", Key="p/dst", PartNumber=1)
    assert h["ContentLength"] == 5 * MiB and h["PartsCount"] == 2
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="conf", Key="p/dst", PartNumber=3)
    assert err(e) == (416, "InvalidPartNumber")
    # A plain object is one part.
    assert s3.get_object(Bucket="conf", Key="p/src", PartNumber=1)["Body"].read() == big


def test_checksum_mode_returns_stored_checksums(s3: Any) -> None:
    body = b"checksummed"
    s3.put_object(Bucket="conf", Key="ck", Body=body, ChecksumAlgorithm="CRC32")
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    h = s3.head_object(Bucket="conf", Key="ck", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == crc
    assert "ChecksumCRC32" not in s3.head_object(Bucket="conf", Key="ck")
    g = s3.get_object(Bucket="conf", Key="ck", ChecksumMode="ENABLED")
    assert g["Body"].read() == body and g["ChecksumCRC32"] == crc


def test_list_multipart_uploads_pagination_and_delimiter(s3: Any) -> None:
    ids = {}
    for k in ["u/a", "u/b", "u/c/1", "u/c/2", "u/d"]:
        ids[k] = s3.create_multipart_upload(Bucket="conf", Key=k)["UploadId"]
    seen: list[str] = []
    kw: dict[str, str] = {}
    while True:
        r = s3.list_multipart_uploads(Bucket="conf", Prefix="u/", MaxUploads=2, **kw)
        seen += [u["Key"] for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
    assert seen == sorted(ids)
    r = s3.list_multipart_uploads(Bucket="conf", Prefix="u/", Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["u/a", "u/b", "u/d"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["u/c/"]
    assert r["Uploads"][0]["Initiator"]["ID"]
    for k, up in ids.items():
        s3.abort_multipart_upload(Bucket="conf", Key=k, UploadId=up)


def test_delete_many_quiet_and_errors(s3: Any) -> None:
    for k in ["q/1", "q/2"]:
        s3.put_object(Bucket="conf", Key=k, Body=b"x")
    r = s3.delete_objects(Bucket="conf", Delete={"Objects": [{"Key": "q/1"}, {"Key": "q/2"},
                                                             {"Key": "q/absent"}],
                                                 "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert s3.list_objects_v2(Bucket="conf", Prefix="q/")["KeyCount"] == 0
    r = s3.delete_objects(Bucket="conf", Delete={"Objects": [{"Key": "q/absent"}]})
    assert [d["Key"] for d in r["Deleted"]] == ["q/absent"]  # absent keys count as deleted
    r = s3.delete_objects(Bucket="conf", Delete={"Objects": [
        {"Key": "q/1", "VersionId": "bogus"}]})
    assert r["Errors"][0]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket="conf",
                          Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert err(e) == (400, "MalformedXML")


def test_conditional_get_matrix(s3: Any) -> None:
    etag = s3.put_object(Bucket="conf", Key="cond", Body=b"c")["ETag"]
    cases: list[tuple[dict[str, Any], int]] = [
        ({"IfMatch": etag}, 200), ({"IfMatch": '"nope"'}, 412),
        ({"IfNoneMatch": etag}, 304), ({"IfNoneMatch": '"nope"'}, 200),
        ({"IfModifiedSince": "2000-01-01T00:00:00Z"}, 200),
        ({"IfModifiedSince": "2100-01-01T00:00:00Z"}, 304),
        ({"IfUnmodifiedSince": "2100-01-01T00:00:00Z"}, 200),
        ({"IfUnmodifiedSince": "2000-01-01T00:00:00Z"}, 412),
        # S3's precedence: If-Match true wins over If-Unmodified-Since false, and
        # If-None-Match false wins over If-Modified-Since true.
        ({"IfMatch": etag, "IfUnmodifiedSince": "2000-01-01T00:00:00Z"}, 200),
        ({"IfNoneMatch": etag, "IfModifiedSince": "2000-01-01T00:00:00Z"}, 304),
    ]
    for kw, want in cases:
        try:
            got = s3.get_object(Bucket="conf", Key="cond", **kw)
            status = got["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as exc:
            status = int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        assert status == want, kw
