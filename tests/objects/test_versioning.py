"""Versioning over boto3 (as the S3 API reference specifies it) and in the store, including a
model-based property test of version histories."""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.objects.store import ObjectStore

from .conftest import make_store
from .s3server import client, running_server

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_server(tmp_path_factory.mktemp("s3v")) as url:
        yield client(url)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def headers(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return dict(exc.value.response["ResponseMetadata"]["HTTPHeaders"])


def versioned(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def raw_versions(s3: Any, bucket: str, **params: Any) -> ET.Element:
    """The ListVersionsResult document itself: boto3 splits Version and DeleteMarker into two
    lists and so loses S3's interleaved order, which these tests check."""
    url = s3.generate_presigned_url("list_object_versions",
                                    Params={"Bucket": bucket, **params})
    with urllib.request.urlopen(url) as r:
        return ET.fromstring(r.read())


def versions(s3: Any, bucket: str, **params: Any) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is delete marker) in listing order."""
    return [(e.findtext(NS + "Key") or "", e.findtext(NS + "VersionId") or "",
             e.findtext(NS + "IsLatest") == "true", e.tag == NS + "DeleteMarker")
            for e in raw_versions(s3, bucket, **params)
            if e.tag in (NS + "Version", NS + "DeleteMarker")]


def test_versioning_configuration(s3: Any) -> None:
    s3.create_bucket(Bucket="vconf")
    assert "Status" not in s3.get_bucket_versioning(Bucket="vconf")
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="vconf")["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="vconf")["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="vconf", VersioningConfiguration={"Status": "Off"})
    assert code(e) == "MalformedXML"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket="no-such-bucket-v")
    assert code(e) == "NoSuchBucket"


def test_versions_delete_markers_and_get_by_id(s3: Any) -> None:
    b = versioned(s3, "vmain")
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null" and len(v1) == 32
    g = s3.get_object(Bucket=b, Key="k")
    assert g["Body"].read() == b"two" and g["VersionId"] == v2
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.head_object(Bucket=b, Key="k", VersionId=v1)["ContentLength"] == 3
    assert versions(s3, b) == [("k", v2, True, False), ("k", v1, False, False)]

    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code(e) == "NoSuchKey"
    assert headers(e)["x-amz-delete-marker"] == "true"
    assert headers(e)["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=marker)
    assert status(e) == 405 and code(e) == "MethodNotAllowed"
    assert headers(e)["x-amz-delete-marker"] == "true" and "last-modified" in headers(e)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k", VersionId=marker)
    assert status(e) == 405
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    assert versions(s3, b) == [("k", marker, True, True), ("k", v2, False, False),
                               ("k", v1, False, False)]
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"

    # Deleting the marker by id brings the object back; deleting the latest version by id
    # makes the next newest current.
    r = s3.delete_object(Bucket=b, Key="k", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two"
    r = s3.delete_object(Bucket=b, Key="k", VersionId=v2)
    assert r["VersionId"] == v2 and "DeleteMarker" not in r
    g = s3.get_object(Bucket=b, Key="k")
    assert g["Body"].read() == b"one" and g["VersionId"] == v1
    assert [k for k, *_ in versions(s3, b)] == ["k"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=v2)
    assert code(e) == "NoSuchVersion"


def test_version_id_errors(s3: Any) -> None:
    b = versioned(s3, "vids")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId="not-a-version")
    assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="k", VersionId="../../etc")
    assert code(e) == "InvalidArgument"
    missing = "0" * 16 + v[16:]
    s3.delete_object(Bucket=b, Key="k", VersionId=missing)  # absent version: success
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="other", VersionId=v)  # an id of another key
    assert code(e) == "NoSuchVersion"


def test_suspended_null_version_semantics(s3: Any) -> None:
    s3.create_bucket(Bucket="vsusp")
    s3.put_object(Bucket="vsusp", Key="k", Body=b"pre")  # before versioning: the null version
    assert "VersionId" not in s3.put_object(Bucket="vsusp", Key="u", Body=b"u")
    s3.put_bucket_versioning(Bucket="vsusp", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="vsusp", Key="k", Body=b"v1")["VersionId"]
    assert [(vid, latest) for _, vid, latest, _ in versions(s3, "vsusp", Prefix="k")] == [
        (v1, True), ("null", False)]
    assert s3.get_object(Bucket="vsusp", Key="k", VersionId="null")["Body"].read() == b"pre"
    s3.put_bucket_versioning(Bucket="vsusp", VersioningConfiguration={"Status": "Suspended"})
    r = s3.put_object(Bucket="vsusp", Key="k", Body=b"s1")
    assert r["VersionId"] == "null"
    # The new null version replaced the old one; v1 is kept.
    assert [(vid, latest) for _, vid, latest, _ in versions(s3, "vsusp", Prefix="k")] == [
        ("null", True), (v1, False)]
    s3.put_object(Bucket="vsusp", Key="k", Body=b"s2")
    assert len(versions(s3, "vsusp", Prefix="k")) == 2
    assert s3.get_object(Bucket="vsusp", Key="k")["Body"].read() == b"s2"
    d = s3.delete_object(Bucket="vsusp", Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    assert versions(s3, "vsusp", Prefix="k") == [("k", "null", True, True),
                                                 ("k", v1, False, False)]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="vsusp", Key="k")
    assert code(e) == "NoSuchKey"


def test_unversioned_bucket_lists_null_versions(s3: Any) -> None:
    s3.create_bucket(Bucket="vnone")
    for k in ["a", "b/c", "b/d"]:
        s3.put_object(Bucket="vnone", Key=k, Body=k.encode())
    s3.put_object(Bucket="vnone", Key="a", Body=b"again")
    assert versions(s3, "vnone") == [("a", "null", True, False), ("b/c", "null", True, False),
                                     ("b/d", "null", True, False)]
    r = s3.list_object_versions(Bucket="vnone", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    assert [v["Key"] for v in r["Versions"]] == ["a"]
    s3.delete_object(Bucket="vnone", Key="a")
    assert [k for k, *_ in versions(s3, "vnone")] == ["b/c", "b/d"]


def test_list_versions_pagination(s3: Any) -> None:
    b = versioned(s3, "vpage")
    for i in range(4):
        for _ in range(3):
            s3.put_object(Bucket=b, Key=f"p/{i}", Body=b"x")
        if i % 2:
            s3.delete_object(Bucket=b, Key=f"p/{i}")
    want = versions(s3, b)
    assert len(want) == 14 and sum(w[2] for w in want) == 4
    got: list[tuple[str, str, bool, bool]] = []
    kw: dict[str, str] = {}
    pages = 0
    while True:
        doc = raw_versions(s3, b, MaxKeys=3, **kw)
        pages += 1
        page = versions(s3, b, MaxKeys=3, **kw)
        assert len(page) <= 3
        got += page
        if doc.findtext(NS + "IsTruncated") != "true":
            break
        kw = {"KeyMarker": doc.findtext(NS + "NextKeyMarker") or "",
              "VersionIdMarker": doc.findtext(NS + "NextVersionIdMarker") or ""}
    assert pages == 5
    assert got == want
    # The paginator resumes the same way.
    n = sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", []))
            for p in s3.get_paginator("list_object_versions").paginate(
                Bucket=b, PaginationConfig={"PageSize": 2}))
    assert n == 14


def test_delete_objects_copy_and_multipart_with_versions(s3: Any) -> None:
    b = versioned(s3, "vmany")
    v1 = s3.put_object(Bucket=b, Key="a", Body=b"a1", Metadata={"m": "1"})["VersionId"]
    s3.put_object(Bucket=b, Key="a", Body=b"a2")
    c = s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "a",
                                                         "VersionId": v1})
    assert c["CopySourceVersionId"] == v1 and c["VersionId"] not in ("null", v1)
    g = s3.get_object(Bucket=b, Key="copy")
    assert g["Body"].read() == b"a1" and g["Metadata"] == {"m": "1"}
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": v1},
                                                        {"Key": "copy"}]})
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["a"]["VersionId"] == v1
    assert deleted["copy"]["DeleteMarker"] is True and deleted["copy"]["DeleteMarkerVersionId"]
    assert [vid for k, vid, *_ in versions(s3, b) if k == "a"] != [v1]
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"z")["ETag"]
    done = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["VersionId"] == s3.head_object(Bucket=b, Key="mp")["VersionId"]


def test_bucket_with_only_versions_is_not_empty(s3: Any) -> None:
    b = versioned(s3, "vempty")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=b, Key="k", VersionId=v)
    s3.delete_object(Bucket=b, Key="k", VersionId=marker)
    s3.delete_bucket(Bucket=b)


# -- the store: garbage collection of versions ------------------------------------------------

def _blobs(store: ObjectStore) -> int:
    return sum(len(list(d.list())) for d in store.drives.values())


def test_gc_keeps_noncurrent_data_and_reclaims_deleted_versions(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    try:
        store.create_bucket("gcb")
        store.set_versioning("gcb", "Enabled")
        r1 = store.put_object("gcb", "k", b"1" * 100_000)
        store.put_object("gcb", "k", b"2" * 100_000)
        store.delete_object("gcb", "k")  # a marker: both versions keep their data
        assert store.collect_garbage() == 0 and _blobs(store) == 12
        assert store.get_object("gcb", "k", version_id=r1.version_id) == b"1" * 100_000
        store.delete_object("gcb", "k", r1.version_id)
        assert store.collect_garbage() == 6 and _blobs(store) == 6
        store.set_versioning("gcb", "Suspended")
        store.put_object("gcb", "n", b"3" * 100_000)
        store.put_object("gcb", "n", b"4" * 100_000)  # replaces the null version
        assert store.collect_garbage() == 6
        assert store.get_object("gcb", "n") == b"4" * 100_000
    finally:
        store.close()


# -- a model of S3 versioning, checked against the store by hypothesis -------------------------

KEYS = ["a", "a/b", "c"]
ops = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(max_size=8)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS)),
    st.tuples(st.just("delete_version"), st.sampled_from(KEYS), st.integers(0, 3)),
    st.tuples(st.just("versioning"), st.sampled_from(["Enabled", "Suspended"])),
), max_size=25)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_versioning_matches_a_model(tmp_path_factory: pytest.TempPathFactory,
                                    steps: list[tuple[Any, ...]]) -> None:
    store = make_store(tmp_path_factory.mktemp("model"), inline_max=64)
    try:
        store.create_bucket("mod")
        state = ""
        # key -> versions newest first: (version id, data or None for a delete marker)
        model: dict[str, list[tuple[str, bytes | None]]] = {k: [] for k in KEYS}
        for step in steps:
            if step[0] == "versioning":
                store.set_versioning("mod", step[1])
                state = step[1]
            elif step[0] == "put":
                rec = store.put_object("mod", step[1], step[2])
                hist = model[step[1]]
                if state != "Enabled":
                    hist[:] = [v for v in hist if v[0] != "null"]
                hist.insert(0, (rec.version_id, step[2]))
                assert (rec.version_id == "null") == (state != "Enabled")
            elif step[0] == "delete":
                res = store.delete_object("mod", step[1])
                hist = model[step[1]]
                if state == "":
                    hist.clear()
                else:
                    if state == "Suspended":
                        hist[:] = [v for v in hist if v[0] != "null"]
                    hist.insert(0, (str(res.version_id), None))
            else:
                hist = model[step[1]]
                if step[2] < len(hist):
                    vid = hist.pop(step[2])[0]
                    store.delete_object("mod", step[1], vid)
            for k in KEYS:
                hist = model[k]
                if hist and hist[0][1] is not None:
                    assert store.get_object("mod", k) == hist[0][1]
                else:
                    with pytest.raises(Exception, match="key does not exist"):
                        store.head_object("mod", k)
        page = store.list_versions("mod")
        assert [(r.key, r.version_id, latest, r.delete_marker) for r, latest in page.entries] \
            == [(k, vid, i == 0, data is None) for k in KEYS
                for i, (vid, data) in enumerate(model[k])]
        listed = [r.key for r in store.list_objects("mod").contents]
        assert listed == [k for k in KEYS if model[k] and model[k][0][1] is not None]
    finally:
        store.close()
