"""SigV4 against the worked example of the S3 API reference ("Signature Calculations ...
Chunked Upload", Example: PUT Object): the seed and every chunk signature must match the
published values, and any change to a chunk is refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from cairn.objects import sigv4
from cairn.objects.body import AwsChunkedReader
from cairn.objects.errors import S3Error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCESS = "AKIAIOSFODNN7EXAMPLE"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
              "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
              "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
HEADERS = {
    "host": "s3.amazonaws.com",
    "x-amz-date": "20130524T000000Z",
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": "66560",
    "content-length": "66824",
    "authorization": (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"),
}
NOW = dt.datetime(2013, 5, 24, 0, 5, tzinfo=dt.UTC)


def chunked_body(sigs: list[str]) -> bytes:
    out = b""
    for size, sig in zip([65536, 1024, 0], sigs, strict=True):
        out += f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n"
    return out


def verify() -> sigv4.Verified:
    return sigv4.verify("PUT", "/examplebucket/chunkObject.txt", "", HEADERS, {ACCESS: SECRET},
                        now=NOW)


def test_seed_and_chunk_signatures_match_the_published_example() -> None:
    v = verify()
    assert v.signature == SEED
    body = chunked_body(CHUNK_SIGS)
    assert len(body) == 66824
    reader = AwsChunkedReader(io.BytesIO(body), v, lambda a, b: None, 66560)
    data = b""
    while chunk := reader.read(10_000):
        data += chunk
    assert data == b"a" * 66560


def test_a_changed_chunk_or_signature_is_refused() -> None:
    v = verify()
    body = bytearray(chunked_body(CHUNK_SIGS))
    body[500] = ord("b")
    reader = AwsChunkedReader(io.BytesIO(bytes(body)), v, lambda a, b: None, 66560)
    with pytest.raises(S3Error) as e:
        while reader.read(10_000):
            pass
    assert e.value.code == "SignatureDoesNotMatch"
    wrong = [CHUNK_SIGS[0], CHUNK_SIGS[2], CHUNK_SIGS[1]]
    reader = AwsChunkedReader(io.BytesIO(chunked_body(wrong)), v, lambda a, b: None, 66560)
    with pytest.raises(S3Error):
        while reader.read(100_000):
            pass


def test_header_checks() -> None:
    with pytest.raises(S3Error) as e:
        sigv4.verify("PUT", "/examplebucket/chunkObject.txt", "", HEADERS, {ACCESS: SECRET},
                     now=NOW + dt.timedelta(hours=1))
    assert e.value.code == "RequestTimeTooSkewed"
    with pytest.raises(S3Error) as e:
        sigv4.verify("PUT", "/examplebucket/other.txt", "", HEADERS, {ACCESS: SECRET}, now=NOW)
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as e:
        sigv4.verify("PUT", "/x", "", HEADERS, {"SOMEONEELSE": SECRET}, now=NOW)
    assert e.value.code == "InvalidAccessKeyId"
    with pytest.raises(S3Error) as e:
        sigv4.verify("GET", "/x", "", {"host": "h"}, {ACCESS: SECRET}, now=NOW)
    assert e.value.code == "AccessDenied"
