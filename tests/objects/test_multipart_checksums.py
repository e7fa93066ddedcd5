"""Checksums of multipart uploads (issue 17): COMPOSITE (checksum of the part checksums, -N)
and FULL_OBJECT (the CRC of the whole object, combined from the parts' CRCs), returned by
Complete, ListParts and HEAD/GET with checksum mode, and validated by boto3 on GET."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from pathlib import Path

import crc32c
import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.objects.checksums import crc_combine

from .s3server import client, running_server

CRC_FUNCS = {"crc32": zlib.crc32, "crc32c": crc32c.crc32c, "crc64nvme": crt.crc64nvme}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(CRC_FUNCS)), st.binary(max_size=3000),
       st.binary(max_size=3000))
def test_crc_combine_equals_the_crc_of_the_concatenation(algo: str, a: bytes,
                                                         b: bytes) -> None:
    f = CRC_FUNCS[algo]
    assert crc_combine(algo, f(a), f(b), len(b)) == f(a + b)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[object]:
    with running_server(tmp_path) as url:
        c = client(url)
        c.create_bucket(Bucket="bkt")
        yield c


PART1 = bytes(range(256)) * (5 * 4096)  # 5 MiB, the minimum part size
PART2 = b"tail of the object" * 1000


def upload(s3, algo: str, **create: str):  # type: ignore[no-untyped-def]
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp", ChecksumAlgorithm=algo, **create)
    parts = []
    for n, data in ((1, PART1), (2, PART2)):
        r = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up["UploadId"], PartNumber=n,
                           Body=data, ChecksumAlgorithm=algo)
        parts.append({"PartNumber": n, "ETag": r["ETag"],
                      f"Checksum{algo}": r[f"Checksum{algo}"]})
    listed = s3.list_parts(Bucket="bkt", Key="mp", UploadId=up["UploadId"])
    assert listed["Owner"]["ID"] and listed["Initiator"]["ID"]
    assert [p[f"Checksum{algo}"] for p in listed["Parts"]] == \
        [p[f"Checksum{algo}"] for p in parts]
    done = s3.complete_multipart_upload(Bucket="bkt", Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    return up, parts, done


def b64(value: int, width: int) -> str:
    return base64.b64encode(value.to_bytes(width, "big")).decode()


def test_full_object_crc64nvme(s3) -> None:  # type: ignore[no-untyped-def]
    up, _, done = upload(s3, "CRC64NVME")
    want = b64(crt.crc64nvme(PART1 + PART2), 8)
    assert up["ChecksumType"] == "FULL_OBJECT"
    assert done["ChecksumCRC64NVME"] == want and done["ChecksumType"] == "FULL_OBJECT"
    # boto3 checks the body against the header: a wrong combination would fail the read.
    got = s3.get_object(Bucket="bkt", Key="mp", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == want and got["Body"].read() == PART1 + PART2
    head = s3.head_object(Bucket="bkt", Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == want and head["ChecksumType"] == "FULL_OBJECT"


def test_full_object_crc32c_on_request(s3) -> None:  # type: ignore[no-untyped-def]
    _, _, done = upload(s3, "CRC32C", ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32C"] == b64(crc32c.crc32c(PART1 + PART2), 4)
    got = s3.get_object(Bucket="bkt", Key="mp", ChecksumMode="ENABLED")
    assert got["Body"].read() == PART1 + PART2


def test_composite_crc32(s3) -> None:  # type: ignore[no-untyped-def]
    up, parts, done = upload(s3, "CRC32")
    raw = b"".join(base64.b64decode(p["ChecksumCRC32"]) for p in parts)
    want = b64(zlib.crc32(raw), 4) + "-2"
    assert up["ChecksumType"] == "COMPOSITE"
    assert done["ChecksumCRC32"] == want and done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket="bkt", Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == want and head["ChecksumType"] == "COMPOSITE"


@pytest.mark.parametrize(("algo", "kind"), [("SHA256", "FULL_OBJECT"),
                                            ("CRC64NVME", "COMPOSITE")])
def test_impossible_pairs_are_refused(s3, algo: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket="bkt", Key="mp", ChecksumAlgorithm=algo,
                                   ChecksumType=kind)
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
