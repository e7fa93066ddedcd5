"""AWS Signature Version 4: verify requests signed in the Authorization header or presigned in
the query string, and the per-chunk signatures of ``aws-chunked`` uploads.

Written from the public specification ("Signature Version 4 signing process" and "Signature
calculations for the Authorization header / query parameters / streaming payloads" of the S3
API reference). The server recomputes the signature from the request it received and the
secret of the claimed access key, and compares in constant time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from cairn.objects.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def _err(code: str, status: int, message: str) -> S3Error:
    e = S3Error(message)
    e.code, e.status = code, status
    return e


def access_denied(message: str = "Access Denied") -> S3Error:
    return _err("AccessDenied", 403, message)


def signature_mismatch() -> S3Error:
    return _err("SignatureDoesNotMatch", 403, "The request signature we calculated does not "
                "match the signature you provided. Check your key and signing method.")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=256)  # four HMACs per request otherwise; the key lives a day
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _uri_encode(s: str) -> str:
    return urllib.parse.quote(s, safe="-_.~")


def canonical_query(raw_query: str, drop: str | None = None) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        name = urllib.parse.unquote(name)
        value = urllib.parse.unquote(value)
        if name == drop:
            continue
        pairs.append((_uri_encode(name), _uri_encode(value)))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _canonical_headers(headers: Mapping[str, str], signed: list[str]) -> str:
    out = []
    for name in signed:
        value = headers.get(name)
        if value is None:
            raise access_denied(f"signed header {name!r} is missing")
        out.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(out)


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out; what the payload checks need."""

    access_key: str
    amz_date: str
    scope: str
    signature: str
    key: bytes  # the signing key, for chunk signatures
    payload_hash: str


def _parse_time(amz_date: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise access_denied("X-Amz-Date is not in ISO 8601 basic format") from None


def only_one_auth() -> S3Error:
    return _err("InvalidArgument", 400, "Only one auth mechanism allowed; only the "
                "X-Amz-Algorithm query parameter, Signature query string parameter or the "
                "Authorization header should be specified")


def _from_http_date(value: str | None) -> str:
    """An RFC 7231 ``Date`` as SigV4's ISO 8601 basic time, or '' when absent or invalid."""
    if not value:
        return ""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return ""
    if when.tzinfo is None:
        return ""
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def verify(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
           secrets: Mapping[str, str], now: dt.datetime | None = None,
           region: str | None = None) -> Verified:
    """Check a request's SigV4 signature; raise an S3 error (403) when it is wrong.

    ``headers`` must have lower-case names, the values of a repeated header joined with
    ``,`` (as SigV4's canonical form does); ``raw_path`` is the path exactly as sent.
    ``region``: the server's region, which the credential scope must name.
    """
    now = now or dt.datetime.now(dt.UTC)
    query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
    auth = headers.get("authorization")
    if auth is not None and ("X-Amz-Signature" in query or "X-Amz-Algorithm" in query):
        raise only_one_auth()
    if auth is not None:
        if not auth.startswith(ALGORITHM + " "):
            raise _err("InvalidRequest", 400, "The authorization mechanism you have provided "
                       "is not supported. Please use AWS4-HMAC-SHA256.")
        fields = {}
        for item in auth[len(ALGORITHM) + 1:].split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value
        try:
            credential, signed, signature = (fields["Credential"], fields["SignedHeaders"],
                                             fields["Signature"])
        except KeyError:
            raise _err("AuthorizationHeaderMalformed", 400,
                       "the authorization header is malformed") from None
        # X-Amz-Date wins; without it SigV4 takes the (signed) Date header's time.
        amz_date = headers.get("x-amz-date") or _from_http_date(headers.get("date"))
        if not amz_date:
            raise access_denied("AWS authentication requires a valid Date or x-amz-date "
                                "header")
        payload = headers.get("x-amz-content-sha256", EMPTY_SHA256)
        cquery = canonical_query(raw_query)
        expires = None
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise _err("AuthorizationQueryParametersError", 400, "unsupported X-Amz-Algorithm")
        try:
            credential, signed = query["X-Amz-Credential"], query["X-Amz-SignedHeaders"]
            signature, amz_date = query["X-Amz-Signature"], query["X-Amz-Date"]
            expires = int(query["X-Amz-Expires"])
        except (KeyError, ValueError):
            raise _err("AuthorizationQueryParametersError", 400,
                       "presigned URL parameters are missing or malformed") from None
        if not 0 < expires <= MAX_PRESIGN_SECONDS:
            raise _err("AuthorizationQueryParametersError", 400,
                       "X-Amz-Expires must be between 1 second and 7 days")
        payload = UNSIGNED
        cquery = canonical_query(raw_query, drop="X-Amz-Signature")
    elif "AWSAccessKeyId" in query or (auth or "").startswith("AWS "):
        raise _err("InvalidRequest", 400, "The authorization mechanism you have provided is "
                   "not supported. Please use AWS4-HMAC-SHA256.")
    else:
        raise access_denied("anonymous requests are not allowed")

    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _err("AuthorizationHeaderMalformed", 400, "malformed credential scope")
    access_key, date, scope_region, service, _ = parts
    if region is not None and scope_region != region:
        raise _err("AuthorizationHeaderMalformed" if expires is None else
                   "AuthorizationQueryParametersError", 400,
                   f"The authorization header is malformed; the region '{scope_region}' is "
                   f"wrong; expecting '{region}'")
    if service != "s3":
        raise _err("AuthorizationHeaderMalformed", 400, "The authorization header is "
                   f"malformed; incorrect service '{service}'. This endpoint belongs to 's3'.")
    region = scope_region
    secret = secrets.get(access_key)
    if secret is None:
        raise _err("InvalidAccessKeyId", 403,
                   "The AWS Access Key Id you provided does not exist in our records.")
    when = _parse_time(amz_date)
    if amz_date[:8] != date:
        raise signature_mismatch()
    if expires is None:
        if abs(now - when) > MAX_SKEW:
            raise _err("RequestTimeTooSkewed", 403, "The difference between the request time "
                       "and the current time is too large.")
    elif when - now > MAX_SKEW:
        # Signed "in the future": with the maximum expiry it would outlive seven days.
        raise access_denied("Request is not valid yet")
    elif now > when + dt.timedelta(seconds=expires):
        raise access_denied("Request has expired")
    signed_list = signed.split(";")
    canonical = "\n".join([method, raw_path or "/", cquery,
                           _canonical_headers(headers, signed_list), signed, payload])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(secret, date, region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature) and not canonical.isascii():
        # Header values arrive as bytes (held here Latin-1 decoded). SDKs that send UTF-8
        # bytes (Go, Java) sign those bytes; botocore signs the UTF-8 of what it then sends as
        # Latin-1. Both are the client's real signature of what it sent.
        to_sign = "\n".join([ALGORITHM, amz_date, scope,
                             hashlib.sha256(canonical.encode("latin-1")).hexdigest()])
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise signature_mismatch()
    return Verified(access_key, amz_date, scope, signature, key, payload)


def chunk_signature(v: Verified, previous: str, chunk_sha256: str) -> str:
    to_sign = "\n".join([ALGORITHM + "-PAYLOAD", v.amz_date, v.scope, previous, EMPTY_SHA256,
                         chunk_sha256])
    return hmac.new(v.key, to_sign.encode(), hashlib.sha256).hexdigest()


def trailer_signature(v: Verified, previous: str, trailer: bytes) -> str:
    to_sign = "\n".join([ALGORITHM + "-TRAILER", v.amz_date, v.scope, previous,
                         hashlib.sha256(trailer).hexdigest()])
    return hmac.new(v.key, to_sign.encode(), hashlib.sha256).hexdigest()
