"""Never a fake success (issue 17): every request header or parameter cairn does not implement
gets AWS's error instead of being accepted and ignored; and the client-visible answers the
issue names (checksums, GetBucketLocation, continuation tokens)."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from .rawclient import request
from .s3server import client, running_server


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path) as u:
        client(u).create_bucket(Bucket="bkt")
        yield u


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


@pytest.mark.parametrize(("extra", "status", "err"), [
    ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z"},
     501, "NotImplemented"),
    ({"ObjectLockLegalHoldStatus": "ON"}, 501, "NotImplemented"),
    ({"ServerSideEncryption": "AES256"}, 501, "NotImplemented"),
    ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"}, 501, "NotImplemented"),
    ({"ACL": "public-read"}, 501, "NotImplemented"),
    ({"GrantRead": 'id="someone"'}, 501, "NotImplemented"),
    ({"StorageClass": "GLACIER"}, 501, "NotImplemented"),
    ({"StorageClass": "BOGUS"}, 400, "InvalidStorageClass"),
    ({"WebsiteRedirectLocation": "/x"}, 501, "NotImplemented"),
])
def test_unimplemented_put_options_are_refused(url: str, extra: dict[str, str], status: int,
                                               err: str) -> None:
    s3 = client(url)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k", Body=b"v", **extra)  # type: ignore[arg-type]
    assert code(e) == (status, err)
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket="bkt", Key="k", **extra)  # type: ignore[arg-type]
    assert code(e) == (status, err)
    assert "Contents" not in s3.list_objects_v2(Bucket="bkt")  # nothing was written


def test_what_cairn_does_is_accepted(url: str) -> None:
    s3 = client(url)
    s3.put_object(Bucket="bkt", Key="k", Body=b"v", ACL="private", StorageClass="STANDARD")
    s3.copy_object(Bucket="bkt", Key="k2", CopySource="bkt/k", ACL="bucket-owner-full-control")
    assert s3.get_object(Bucket="bkt", Key="k2")["Body"].read() == b"v"


def test_object_lock_bucket_and_copy_options_are_refused(url: str) -> None:
    s3 = client(url)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    assert code(e) == (501, "NotImplemented")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="locked")
    s3.put_object(Bucket="bkt", Key="k", Body=b"v")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="bkt", Key="k2", CopySource="bkt/k", StorageClass="GLACIER")
    assert code(e) == (501, "NotImplemented")


def test_bad_continuation_token_is_refused(url: str) -> None:
    s3 = client(url)
    for i in range(3):
        s3.put_object(Bucket="bkt", Key=f"k{i}", Body=b"v")
    page = s3.list_objects_v2(Bucket="bkt", MaxKeys=2)
    rest = s3.list_objects_v2(Bucket="bkt", ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["k2"]
    for bad in ("!!!", "a", "===="):
        with pytest.raises(ClientError) as e:
            s3.list_objects_v2(Bucket="bkt", ContinuationToken=bad)
        assert code(e) == (400, "InvalidArgument")


def test_bucket_location_of_a_missing_bucket_is_no_such_bucket(url: str) -> None:
    s3 = client(url)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_location(Bucket="nope")
    assert code(e) == (404, "NoSuchBucket")
    assert s3.get_bucket_location(Bucket="bkt")["LocationConstraint"] is None


def b64(value: int, width: int) -> str:
    return base64.b64encode(value.to_bytes(width, "big")).decode()


def test_crc64nvme_and_unknown_checksums(url: str) -> None:
    s3 = client(url)
    data = b"checksum me" * 1000
    want = b64(crt.crc64nvme(data), 8)
    put = s3.put_object(Bucket="bkt", Key="c", Body=data, ChecksumAlgorithm="CRC64NVME")
    assert put["ChecksumCRC64NVME"] == want
    got = s3.get_object(Bucket="bkt", Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == want and got["Body"].read() == data
    assert s3.head_object(Bucket="bkt", Key="c", ChecksumMode="ENABLED")[
        "ChecksumCRC64NVME"] == want
    # A wrong value is a BadDigest and stores nothing.
    r = request(url, "PUT", "/bkt/bad", body=data,
                headers=[("x-amz-checksum-crc64nvme", b64(1, 8))])
    assert r.status == 400 and r.code == "BadDigest"
    # An algorithm that does not exist is a 400, not a 500.
    r = request(url, "PUT", "/bkt/foo", body=data, headers=[("x-amz-checksum-foo", "AAAA")])
    assert r.status == 400 and r.code == "InvalidRequest"
    r = request(url, "PUT", "/bkt/foo", body=data,
                headers=[("x-amz-checksum-algorithm", "FOO")])
    assert r.status == 400 and r.code == "InvalidRequest"
    r = request(url, "PUT", "/bkt/crc", body=data,
                headers=[("x-amz-checksum-crc32", b64(zlib.crc32(data), 4))])
    assert r.status == 200 and r.headers["x-amz-checksum-crc32"] == b64(zlib.crc32(data), 4)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]}
    assert keys == {"c", "crc"}


def test_expected_bucket_owner_is_checked(url: str) -> None:
    s3 = client(url)
    s3.put_object(Bucket="bkt", Key="k", Body=b"v", ExpectedBucketOwner="cairn")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k2", Body=b"v", ExpectedBucketOwner="111122223333")
    assert code(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="bkt", Key="k3", CopySource="bkt/k",
                       ExpectedSourceBucketOwner="111122223333")
    assert code(e) == (403, "AccessDenied")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["k"]
