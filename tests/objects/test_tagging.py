"""Object tagging (issue 17): Put/Get/DeleteObjectTagging, ``x-amz-tagging`` on PUT, copy and
multipart, tags per version, the tag-count header, and S3's limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .s3server import client, running_server


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[object]:
    with running_server(tmp_path) as url:
        c = client(url)
        c.create_bucket(Bucket="bkt")
        yield c


def tags(s3, key: str, **kw: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    got = s3.get_object_tagging(Bucket="bkt", Key=key, **kw)["TagSet"]
    return {t["Key"]: t["Value"] for t in got}


def test_tags_on_put_get_replace_delete(s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket="bkt", Key="k", Body=b"v", Tagging="team=a&tier=hot%20one")
    assert tags(s3, "k") == {"team": "a", "tier": "hot one"}
    assert s3.get_object(Bucket="bkt", Key="k")["TagCount"] == 2
    s3.put_object_tagging(Bucket="bkt", Key="k",
                          Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert tags(s3, "k") == {"only": "one"}
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"v"  # data untouched
    s3.delete_object_tagging(Bucket="bkt", Key="k")
    assert tags(s3, "k") == {}
    assert "TagCount" not in s3.head_object(Bucket="bkt", Key="k")
    with pytest.raises(ClientError) as e:
        tags(s3, "missing")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_tags_per_version_copy_and_multipart(s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="bkt", Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket="bkt", Key="k", Body=b"2", Tagging="v=2")
    s3.put_object_tagging(Bucket="bkt", Key="k", VersionId=v1,
                          Tagging={"TagSet": [{"Key": "v", "Value": "old"}]})
    assert tags(s3, "k", VersionId=v1) == {"v": "old"}
    assert tags(s3, "k") == {"v": "2"}
    versions = s3.list_object_versions(Bucket="bkt")["Versions"]
    assert len(versions) == 2  # tagging made no new version
    s3.copy_object(Bucket="bkt", Key="c1", CopySource="bkt/k")
    assert tags(s3, "c1") == {"v": "2"}
    s3.copy_object(Bucket="bkt", Key="c2", CopySource="bkt/k", TaggingDirective="REPLACE",
                   Tagging="new=yes")
    assert tags(s3, "c2") == {"new": "yes"}
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp", Tagging="mp=1")["UploadId"]
    etag = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up, PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket="bkt", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert tags(s3, "mp") == {"mp": "1"}


def test_tag_limits(s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket="bkt", Key="k", Body=b"v")
    for bad in ([{"Key": f"k{i}", "Value": "v"} for i in range(11)],
                [{"Key": "x" * 129, "Value": "v"}],
                [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]):
        with pytest.raises(ClientError) as e:
            s3.put_object_tagging(Bucket="bkt", Key="k", Tagging={"TagSet": bad})
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k2", Body=b"v", Tagging="a=1&a=2")
    assert e.value.response["Error"]["Code"] == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="bkt")
    assert e.value.response["Error"]["Code"] == "NotImplemented"
