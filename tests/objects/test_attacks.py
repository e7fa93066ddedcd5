"""Issue 17's attacks, each a regression test against a real server (or SigV4 directly):
presigned URLs dated in the future, the credential scope's region, repeated headers, two
Authorization headers, XML entities in UTF-16, CRLF in response overrides, newline keys."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.objects import sigv4
from cairn.objects.errors import S3Error

from .rawclient import request, send, signed
from .s3server import ACCESS, SECRET, client, running_server


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path) as u:
        client(u).create_bucket(Bucket="bkt")
        yield u


def _presigned_parts(url: str) -> tuple[str, dict[str, str]]:
    target, headers = signed(url, "GET", "/bkt/k", presign=7 * 24 * 3600)
    query = target.partition("?")[2]
    return query, {"host": urllib.parse.urlsplit(url).netloc,
                   **{k.lower(): v for k, v in headers}}


def test_presigned_url_dated_in_the_future_is_refused(url: str) -> None:
    query, headers = _presigned_parts(url)
    signed_at = dt.datetime.now(dt.UTC)
    # Seen from a server clock one day earlier, the URL was signed a day in the future:
    # with the maximum expiry it would be valid for eight days.
    with pytest.raises(S3Error) as e:
        sigv4.verify("GET", "/bkt/k", query, headers, {ACCESS: SECRET},
                     now=signed_at - dt.timedelta(days=1))
    assert e.value.code == "AccessDenied" and "not valid yet" in e.value.message
    # Within the allowed clock skew it is fine.
    sigv4.verify("GET", "/bkt/k", query, headers, {ACCESS: SECRET},
                 now=signed_at - dt.timedelta(minutes=5))


def test_credential_scope_region_must_be_the_servers(url: str) -> None:
    r = request(url, "GET", "/", region="eu-west-1")
    assert r.status == 400 and r.code == "AuthorizationHeaderMalformed"
    assert b"eu-west-1" in r.body
    target, hs = signed(url, "GET", "/", presign=60, region="eu-west-1")
    r = send(url, "GET", target, hs)
    assert r.status == 400 and r.code == "AuthorizationQueryParametersError"
    assert request(url, "GET", "/").status == 200


def test_repeated_header_values_are_joined_as_sigv4_signs_them(url: str) -> None:
    hs = [("x-amz-meta-color", "red"), ("x-amz-meta-color", " blue ")]
    r = request(url, "PUT", "/bkt/dup", headers=hs, body=b"data")
    assert r.status == 200, r.body
    head = client(url).head_object(Bucket="bkt", Key="dup")
    assert head["Metadata"] == {"color": "red,blue"}


def test_two_authorization_headers_are_refused(url: str) -> None:
    target, hs = signed(url, "GET", "/")
    auth = next(v for k, v in hs if k.lower() == "authorization")
    bad = auth.replace(f"Credential={ACCESS}", "Credential=OTHERKEY")
    for extra in ([("Authorization", bad)], [("Authorization", auth)]):
        r = send(url, "GET", target, [*hs, *extra])
        assert r.status == 400 and r.code == "InvalidArgument"
    # Header and query authentication at once are refused as well.
    ptarget, phs = signed(url, "GET", "/", presign=60)
    r = send(url, "GET", ptarget, [*phs, ("Authorization", auth)])
    assert r.status == 400 and r.code == "InvalidArgument"


UTF16_ENTITY = ('<?xml version="1.0" encoding="UTF-16"?>\n'
                '<!DOCTYPE v [<!ENTITY e "Enabled">]>\n'
                '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                '<Status>&e;</Status></VersioningConfiguration>').encode("utf-16")


def test_xml_with_a_dtd_is_refused_in_any_encoding(url: str) -> None:
    assert b"<!DOCTYPE" not in UTF16_ENTITY  # a byte match cannot see it
    r = request(url, "PUT", "/bkt", query="versioning=", body=UTF16_ENTITY)
    assert r.status == 400 and r.code == "MalformedXML"
    assert "Status" not in client(url).get_bucket_versioning(Bucket="bkt")
    plain = UTF16_ENTITY.decode("utf-16").replace('encoding="UTF-16"', 'encoding="UTF-8"')
    r = request(url, "PUT", "/bkt", query="versioning=", body=plain.encode())
    assert r.status == 400 and r.code == "MalformedXML"


def test_crlf_in_a_response_override_is_a_400(url: str) -> None:
    client(url).put_object(Bucket="bkt", Key="k", Body=b"v")
    for bad in ("text/plain\r\nSet-Cookie: a=b", "a\nb", "caf\u00e9\u2603"):
        q = "response-content-type=" + urllib.parse.quote(bad, safe="")
        r = request(url, "GET", "/bkt/k", query=q)
        assert r.status == 400 and r.code == "InvalidArgument", (bad, r.status)
    r = request(url, "GET", "/bkt/k", query="response-content-type=text%2Fcsv")
    assert r.status == 200 and r.headers["content-type"] == "text/csv"


def test_a_key_with_a_newline_is_an_s3_key(url: str) -> None:
    s3 = client(url)
    with pytest.raises(Exception) as e:
        s3.get_object(Bucket="bkt", Key="line\none")
    assert "NoSuchKey" in str(e.value)  # S3's 404, not a router's plain-text one
    s3.put_object(Bucket="bkt", Key="line\none", Body=b"nl")
    assert s3.get_object(Bucket="bkt", Key="line\none")["Body"].read() == b"nl"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["line\none"]


def _sign_with_date_header(url: str, date: str, extra: dict[str, str]) -> list[tuple[str, str]]:
    """A SigV4 header signature whose timestamp is the Date header (no X-Amz-Date), written
    from the specification: canonical request, string to sign, HMAC chain."""
    import hashlib
    import hmac

    host = urllib.parse.urlsplit(url).netloc
    stamp = dt.datetime.strptime(date, "%a, %d %b %Y %H:%M:%S GMT").strftime(
        "%Y%m%dT%H%M%SZ")
    hs = {"date": date, "host": host, "x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
          **extra}
    names = sorted(hs)
    canonical = "\n".join(["GET", "/", "", "".join(f"{n}:{hs[n]}\n" for n in names),
                           ";".join(names), hs["x-amz-content-sha256"]])
    scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (stamp[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={sig}")
    return [(k, v) for k, v in hs.items() if k != "host"] + [("Authorization", auth)]


def test_date_header_in_place_of_x_amz_date(url: str) -> None:
    import email.utils

    now = email.utils.formatdate(usegmt=True)
    assert send(url, "GET", "/", _sign_with_date_header(url, now, {})).status == 200
    old = email.utils.formatdate(dt.datetime.now(dt.UTC).timestamp() - 3600, usegmt=True)
    r = send(url, "GET", "/", _sign_with_date_header(url, old, {}))
    assert r.status == 403 and r.code == "RequestTimeTooSkewed"
    r = send(url, "GET", "/", [("Authorization", "AWS4-HMAC-SHA256 Credential=x")])
    assert r.status == 400 and r.code == "AuthorizationHeaderMalformed"
