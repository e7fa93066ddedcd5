"""The S3 REST front end: HTTP in, :class:`ObjectStore` calls, S3 XML and error codes out.

Path-style (``/bucket/key``) and virtual-host-style (``bucket.<domain>``) addressing; every
request must carry a valid SigV4 signature (header or presigned URL), anonymous ones are
refused. Request bodies are pulled by the store's writer thread from the ASGI stream one chunk
at a time (natural back-pressure, no whole-body buffering), decoded from ``aws-chunked`` and
verified (:mod:`.body`); responses stream from the data path.

Behaviour follows the S3 API reference (status codes, headers, XML shapes); operations not
built yet answer ``501 NotImplemented`` rather than pretending.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import email.utils
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import defusedxml
import defusedxml.ElementTree as defused_et
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cairn.objects import cors, sigv4
from cairn.objects.body import (
    CHECKSUM_CONTROL,
    AwsChunkedReader,
    Reader,
    VerifyingReader,
    checksum_algorithm,
    s3err,
)
from cairn.objects.errors import NoSuchKey, ObjectStoreError, PreconditionFailed, S3Error
from cairn.objects.guard import BodyClock, ClientGate, Limits, slow_down
from cairn.objects.keys import KeyStore
from cairn.objects.metadata import ObjectRecord
from cairn.objects.multipart import MIN_PART_SIZE, Multipart
from cairn.objects.store import ObjectStore

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_HEADER_BYTES = 8 * 1024
MAX_XML_BODY = 1024 * 1024
MAX_USER_META = 2 * 1024
PULL_BYTES = 1024 * 1024  # body bytes moved from the event loop to the store per hop
SUBRESOURCES_NOT_BUILT = {"acl",
                          "policy", "website", "encryption", "replication",
                          "notification", "logging", "object-lock", "retention", "legal-hold",
                          "attributes", "torrent", "restore", "select"}


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def xml_response(root: ET.Element, status: int = 200, headers: dict[str, str] | None = None,
                 ) -> Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                   xml_declaration=False)
    return Response(body, status, headers=headers, media_type="application/xml")


def el(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e


def error_response(err: S3Error, resource: str, head: bool) -> Response:
    rid = uuid.uuid4().hex[:16].upper()
    headers = {"x-amz-request-id": rid, **err.headers}
    if head:
        return Response(b"", err.status, headers=headers)
    root = ET.Element("Error")
    el(root, "Code", err.code)
    el(root, "Message", err.message)
    for k, v in err.detail.items():
        el(root, k, v)
    el(root, "Resource", resource)
    el(root, "RequestId", rid)
    return xml_response(root, err.status, headers)


class _Pull:
    """A blocking reader (used on a worker thread) over the ASGI request stream. It hands
    out the ASGI chunks as they arrived (no joining into bigger buffers: the store copies
    each byte once, into its stripe buffer), fetched many per hop to the event loop. Every
    chunk passes the body clock (idle timeout, minimum rate: :mod:`.guard`)."""

    def __init__(self, request: Request, loop: asyncio.AbstractEventLoop,
                 limits: Limits) -> None:
        self._stream = request.stream().__aiter__()
        self._loop = loop
        self._clock = BodyClock(limits, loop)
        self._chunks: collections.deque[bytes] = collections.deque()
        self._eof = False

    async def prefill(self, limit: int) -> None:
        """Read up to ``limit`` bytes on the event loop, before a worker thread is taken."""
        got = sum(len(c) for c in self._chunks)
        while got < limit and not self._eof:
            parts, self._eof = await self._next(limit - got)
            self._chunks.extend(parts)
            got += sum(len(c) for c in parts)

    async def _next(self, want: int) -> tuple[list[bytes], bool]:
        # Gather many ASGI messages per hop: a thread hop per 64 KiB message would cost more
        # than the hashing and erasure coding of the data.
        parts: list[bytes] = []
        got = 0
        while got < want:
            try:
                chunk = await self._clock.next(self._stream)
            except StopAsyncIteration:
                return parts, True
            if chunk:
                parts.append(chunk)
                got += len(chunk)
        return parts, False

    def read(self, n: int = -1) -> bytes:
        while not self._chunks and not self._eof:
            want = n if 0 < n <= PULL_BYTES else PULL_BYTES
            parts, self._eof = asyncio.run_coroutine_threadsafe(self._next(want),
                                                                self._loop).result()
            self._chunks.extend(parts)
        if not self._chunks:
            return b""
        chunk = self._chunks[0]
        if n < 0 or n >= len(chunk):
            return self._chunks.popleft()
        self._chunks[0] = chunk[n:]
        return chunk[:n]


STORAGE_CLASSES = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
                   "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR",
                   "SNOW", "EXPRESS_ONEZONE"}
# Request headers whose promise cairn does not keep: accepting and ignoring them would be a
# fake success (an "encrypted" or "locked" object that is neither).
HEADERS_NOT_BUILT = (
    "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context", "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold", "x-amz-website-redirect-location",
    "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
OWNER_ID = "cairn"  # the one account's canonical ID, as listings name it
# Canned ACLs that say what cairn does anyway (one owner, nothing shared).
ACLS_KEPT = {"private", "bucket-owner-full-control"}


def _refuse_unbuilt_headers(headers: dict[str, str]) -> None:
    """501 NotImplemented for a header cairn would otherwise ignore, 400 for a bad value."""
    for name in HEADERS_NOT_BUILT:
        if name in headers:
            raise s3err("NotImplemented", 501, f"A header you provided implies functionality "
                        f"that is not implemented: {name}")
    for name in ("x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner"):
        # Every bucket's owner is the one account, ID "cairn": any other expectation fails
        # (ignoring the header would skip the caller's safety check).
        if name in headers and headers[name] != OWNER_ID:
            raise s3err("AccessDenied", 403, "Access Denied")
    acl = headers.get("x-amz-acl")
    if acl is not None and acl not in ACLS_KEPT:
        raise s3err("NotImplemented", 501, f"The canned ACL {acl!r} is not implemented")
    if headers.get("x-amz-bucket-object-lock-enabled", "false").lower() != "false":
        raise s3err("NotImplemented", 501, "Object Lock is not implemented")
    sc = headers.get("x-amz-storage-class")
    if sc is not None and sc != "STANDARD":
        if sc not in STORAGE_CLASSES:
            raise s3err("InvalidStorageClass", 400, "The storage class you specified is not "
                        "valid")
        raise s3err("NotImplemented", 501, f"Storage class {sc} is not implemented (only "
                    "STANDARD)")


MAX_TAGS = 10


def _check_tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """S3's tag rules: at most 10, unique keys of 1-128 and values of 0-256 characters."""
    if len(pairs) > MAX_TAGS:
        raise s3err("BadRequest", 400, "Object tags cannot be greater than 10")
    tags: dict[str, str] = {}
    for k, v in pairs:
        if not 1 <= len(k) <= 128 or len(v) > 256:
            raise s3err("InvalidTag", 400, "The TagKey or TagValue you have provided is too "
                        "long or empty")
        if k in tags:
            raise s3err("InvalidTag", 400, "Cannot provide multiple Tags with the same key")
        tags[k] = v
    return tags


def _header_tags(headers: dict[str, str]) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL query encoding)."""
    raw = headers.get("x-amz-tagging")
    if not raw:
        return {}
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise s3err("InvalidArgument", 400, "The header 'x-amz-tagging' shall be encoded as "
                    "UTF-8 then URLEncoded URL query parameters without tag name "
                    "duplicates.") from None
    return _check_tags(pairs)


def _utf8(value: str) -> str:
    """A header value's bytes (held Latin-1 decoded) read as UTF-8, which clients send."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(after.encode()).decode()


def _decode_token(token: str) -> str:
    """The name a continuation token stands for; 400 for one this server did not make."""
    try:
        after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        if _encode_token(after) != token:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError):
        raise s3err("InvalidArgument", 400,
                    "The continuation token provided is incorrect") from None
    return after


def _header_value(name: str, value: str) -> str:
    """A value from the query string that becomes a response header: no control characters
    (a CRLF would split the response) and Latin-1 only, as HTTP headers are."""
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F or ord(c) > 0xFF for c in value):
        raise s3err("InvalidArgument", 400, f"{name} contains characters not allowed in an "
                    "HTTP header")
    return value


def _joined_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names; a repeated header's values joined with ``,`` (SigV4 signs them so).
    Two Authorization headers are refused: which one would be the request's?"""
    out: dict[str, str] = {}
    for k, v in raw:
        name, value = k.decode("latin-1").lower(), v.decode("latin-1")
        if name in out:
            if name == "authorization":
                raise sigv4.only_one_auth()
            out[name] = out[name].strip() + "," + value.strip()
        else:
            out[name] = value
    return out


def _parse_range(value: str | None, size: int) -> tuple[int | None, int | None] | None:
    if not value or not value.startswith("bytes=") or "," in value:
        return None  # S3 ignores what it cannot use and serves the whole object
    first, _, last = value[6:].strip().partition("-")
    try:
        if first == "":
            return (None, int(last))
        return (int(first), int(last) if last else None)
    except ValueError:
        return None


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _etag_in(header: str, etag: str) -> bool:
    return any(t.strip() in ("*", etag, etag.strip('"')) for t in header.split(","))


def check_read_conditions(rec: ObjectRecord, headers: dict[str, str]) -> int | None:
    """HTTP status to answer instead of the object (304/412), per the S3 precedence rules."""
    lm = int(rec.last_modified)
    im, inm = headers.get("if-match"), headers.get("if-none-match")
    ims = _parse_http_date(headers.get("if-modified-since"))
    ius = _parse_http_date(headers.get("if-unmodified-since"))
    if im is not None:
        if not _etag_in(im, rec.etag):
            return 412
    elif ius is not None and lm > ius:
        return 412
    if inm is not None:
        if _etag_in(inm, rec.etag):
            return 304
    elif ims is not None and lm <= ims:
        return 304
    return None


class S3Server:
    """The ASGI application around one store."""

    def __init__(self, store: ObjectStore, keys: KeyStore, domain: str = "localhost",
                 region: str = "us-east-1", min_part_size: int = MIN_PART_SIZE,
                 extra: dict[str, Callable[[], Any]] | None = None,
                 limits: Limits | None = None) -> None:
        self.store, self.keys, self.domain, self.region = store, keys, domain, region
        self.extra = extra or {}  # "health" / "metrics" providers (see service.py)
        self.limits = limits or Limits()
        self.gate = ClientGate(self.limits.per_client)
        # Our own workers: asyncio's default pool is small (cpus + 4) and shared.
        self.pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="cairn-s3")
        self.multipart = Multipart(store, min_part_size)

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self.asgi(scope, receive, send)  # a plain function: servers see ASGI 3

        self.app = app

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI entry: every path is ours (a router's pattern would refuse keys with a
        newline, which are valid S3 keys)."""
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        client = request.client.host if request.client else ""
        if not self.gate.enter(client):
            err = error_response(slow_down(), request.url.path, request.method == "HEAD")
            return self._close_if_unread(request, err)
        try:
            return await self._handle(request, loop)
        finally:
            self.gate.leave(client)

    async def _handle(self, request: Request, loop: asyncio.AbstractEventLoop) -> Response:
        head = request.method == "HEAD"
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if raw_path.startswith("/_cairn/") and request.method == "GET":
            return await loop.run_in_executor(self.pool, self._ops,
                                              raw_path[len("/_cairn/"):])
        resource = raw_path
        origin: tuple[str, str] | None = None  # (bucket, Origin) of a browser's request
        try:
            headers = _joined_headers(request.scope["headers"])
            if sum(len(k) + len(v) for k, v in headers.items()) > MAX_HEADER_BYTES:
                raise s3err("RequestHeaderSectionTooLarge", 400,
                            "Your request header section exceeds the maximum allowed size.")
            bucket, key = self._address(raw_path, headers.get("host", ""))
            resource = "/" + bucket + ("/" + key if key else "") if bucket else "/"
            query = request.scope.get("query_string", b"").decode("latin-1")
            if "origin" in headers and bucket:
                origin = (bucket, headers["origin"])
            if request.method == "OPTIONS":  # a CORS preflight is never signed
                return await loop.run_in_executor(self.pool, self._preflight, bucket, headers)
            if request.method == "POST" and bucket and not key and headers.get(
                    "content-type", "").startswith("multipart/form-data"):
                raise s3err("NotImplemented", 501, "POST Object (HTML form uploads with a "
                            "signed policy) is not implemented")
            verified = sigv4.verify(request.method, raw_path, query, headers, self.keys,
                                    region=self.region)
            params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
            pull = _Pull(request, loop, self.limits)
            if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                # A slow body waits here, on the event loop, not on a worker thread.
                await pull.prefill(self.limits.prebuffer)

            def run() -> Response:
                response = self._dispatch(request, pull, verified, headers, params, bucket,
                                          key)
                if "origin" in headers and bucket:
                    self._cors_actual(response, bucket, request.method, headers["origin"])
                return response

            return await loop.run_in_executor(self.pool, run)
        except S3Error as e:
            response = self._close_if_unread(request, error_response(e, resource, head))
        except ObjectStoreError as e:
            response = self._close_if_unread(
                request, error_response(s3err("InternalError", 500, str(e)), resource, head))
        if origin is not None and request.method != "OPTIONS":
            # A browser can read an error only when it carries the CORS headers too.
            await loop.run_in_executor(self.pool, self._cors_actual, response, origin[0],
                                       request.method, origin[1])
        return response

    def _ops(self, what: str) -> Response:
        """Unsigned operational endpoints (no bucket name can start with ``_``)."""
        import json

        provider = self.extra.get(what)
        if provider is None:
            return Response(b"not found\n", 404, media_type="text/plain")
        if what == "health":
            status, body = provider()
            return Response(json.dumps(body).encode(), status, media_type="application/json")
        return Response(str(provider()).encode(), 200,
                        media_type="text/plain; version=0.0.4")

    @staticmethod
    def _close_if_unread(request: Request, response: Response) -> Response:
        """An error can come before the body was read; its bytes would then be parsed as the
        next request on this keep-alive connection, so the connection must close."""
        headers = request.headers
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            response.headers["Connection"] = "close"
        return response

    def _address(self, raw_path: str, host: str) -> tuple[str, str]:
        try:
            path = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise s3err("InvalidURI", 400, "Couldn't parse the specified URI.") from None
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        suffix = "." + self.domain
        if hostname.endswith(suffix) and len(hostname) > len(suffix):
            return hostname[: -len(suffix)], path[1:]
        bucket, _, key = path[1:].partition("/")
        return bucket, key

    # -- dispatch ---------------------------------------------------------------------------
    def _dispatch(self, request: Request, pull: _Pull,
                  verified: sigv4.Verified, headers: dict[str, str], params: dict[str, str],
                  bucket: str, key: str) -> Response:
        method = request.method
        built = SUBRESOURCES_NOT_BUILT & params.keys()
        if built:
            raise s3err("NotImplemented", 501, f"{sorted(built)[0]} is not implemented yet")
        _refuse_unbuilt_headers(headers)
        if not bucket:
            if method == "GET":
                return self._list_buckets(params)
            raise s3err("MethodNotAllowed", 405, "not allowed on the service")
        body = lambda: self._body(pull, verified, headers)  # noqa: E731
        upload = lambda: self._body(pull, verified, headers, need_length=True)  # noqa: E731
        if "tagging" in params:
            if not key:
                raise s3err("NotImplemented", 501, "bucket tagging is not implemented yet")
            return self._tagging(method, bucket, key, params, body)
        if not key:
            if "versioning" in params:
                return self._versioning(method, bucket, body)
            if "lifecycle" in params:
                return self._lifecycle(method, bucket, body)
            if "cors" in params:
                return self._cors(method, bucket, body)
            if method == "GET" and "versions" in params:
                return self._list_versions(bucket, params)
            if method == "PUT":
                self._drain(body())
                self.store.create_bucket(bucket)
                return Response(b"", 200, headers={"Location": "/" + bucket})
            if method == "HEAD":
                self.store.head_bucket(bucket)
                return Response(b"", 200, headers={"x-amz-bucket-region": self.region})
            if method == "DELETE":
                self.store.delete_bucket(bucket)
                return Response(b"", 204)
            if method == "POST" and "delete" in params:
                return self._delete_many(bucket, body())
            if method == "GET" and "uploads" in params:
                return self._list_uploads(bucket, params)
            if method == "GET":
                if "location" in params:
                    self.store.head_bucket(bucket)  # NoSuchBucket, as s3fs relies on
                    root = ET.Element("LocationConstraint", xmlns=XMLNS)
                    return xml_response(root)
                return self._list(bucket, params)
            raise s3err("MethodNotAllowed", 405, "method not allowed on a bucket")
        if "uploads" in params and method == "POST":
            return self._create_upload(bucket, key, headers)
        if "uploadId" in params:
            return self._upload_op(method, bucket, key, headers, params,
                                   upload if method == "PUT" else body)
        if "partNumber" in params and method not in ("GET", "HEAD"):
            raise s3err("InvalidRequest", 400, "partNumber needs an uploadId")
        if method == "PUT":
            if "x-amz-copy-source" in headers:
                return self._copy(bucket, key, headers)
            return self._put(bucket, key, headers, upload())
        if method in ("GET", "HEAD"):
            return self._get(bucket, key, headers, params, head=method == "HEAD")
        if method == "DELETE":
            res = self.store.delete_object(bucket, key, params.get("versionId"))
            out: dict[str, str] = {}
            if res.version_id is not None:
                out["x-amz-version-id"] = res.version_id
            if res.delete_marker:
                out["x-amz-delete-marker"] = "true"
            return Response(b"", 204, headers=out)
        raise s3err("MethodNotAllowed", 405, "method not allowed on an object")

    def _versioned(self, bucket: str) -> bool:
        return self.store.head_bucket(bucket).versioning != ""

    def _versioning(self, method: str, bucket: str,
                    body: Callable[[], VerifyingReader]) -> Response:
        if method == "GET":
            root = ET.Element("VersioningConfiguration", xmlns=XMLNS)
            status = self.store.head_bucket(bucket).versioning
            if status:
                el(root, "Status", status)
            return xml_response(root)
        if method != "PUT":
            raise s3err("MethodNotAllowed", 405, "method not allowed on versioning")
        doc = _parse_xml(self._drain(body()), "VersioningConfiguration")
        ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""
        status = (doc.findtext(ns + "Status") or "").strip()
        if status not in ("Enabled", "Suspended"):
            raise s3err("MalformedXML", 400, "The XML you provided was not well-formed or did "
                        "not validate against our published schema.")
        if (doc.findtext(ns + "MfaDelete") or "Disabled").strip() == "Enabled":
            raise s3err("NotImplemented", 501, "MFA delete is not implemented")
        self.store.set_versioning(bucket, status)
        return Response(b"", 200)

    def _lifecycle(self, method: str, bucket: str,
                   body: Callable[[], VerifyingReader]) -> Response:
        from cairn.objects import lifecycle

        if method == "GET":
            raw = self.store.get_bucket_config(bucket, "lifecycle")
            if raw is None:
                raise s3err("NoSuchLifecycleConfiguration", 404,
                            "The lifecycle configuration does not exist.")
            return xml_response(lifecycle.to_xml(lifecycle.decode(raw), XMLNS))
        if method == "DELETE":
            self.store.put_bucket_config(bucket, "lifecycle", None)
            return Response(b"", 204)
        if method != "PUT":
            raise s3err("MethodNotAllowed", 405, "method not allowed on lifecycle")
        doc = _parse_xml(self._drain(body()), "LifecycleConfiguration")
        rules = lifecycle.parse_xml(doc)
        self.store.put_bucket_config(bucket, "lifecycle", lifecycle.encode(rules))
        return Response(b"", 200)

    def _cors(self, method: str, bucket: str,
              body: Callable[[], VerifyingReader]) -> Response:
        if method == "GET":
            raw = self.store.get_bucket_config(bucket, "cors")
            if raw is None:
                raise s3err("NoSuchCORSConfiguration", 404, "The CORS configuration does not "
                            "exist")
            return xml_response(cors.to_xml(cors.decode(raw), XMLNS))
        if method == "DELETE":
            self.store.put_bucket_config(bucket, "cors", None)
            return Response(b"", 204)
        if method != "PUT":
            raise s3err("MethodNotAllowed", 405, "method not allowed on cors")
        rules = cors.parse_xml(_parse_xml(self._drain(body()), "CORSConfiguration"))
        self.store.put_bucket_config(bucket, "cors", cors.encode(rules))
        return Response(b"", 200)

    def _cors_rules(self, bucket: str) -> list[cors.Rule] | None:
        try:
            raw = self.store.get_bucket_config(bucket, "cors")
        except S3Error:
            return None
        return cors.decode(raw) if raw is not None else None

    def _preflight(self, bucket: str, headers: dict[str, str]) -> Response:
        """OPTIONS: answered from the bucket's CORS rules, without a signature."""
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if not bucket:
            raise s3err("MethodNotAllowed", 405, "OPTIONS needs a bucket")
        if origin is None:
            raise s3err("BadRequest", 400, "Insufficient information. Origin request header "
                        "needed.")
        if method is None:
            raise s3err("BadRequest", 400, "Invalid Access-Control-Request-Method: null")
        rules = self._cors_rules(bucket)
        if rules is None:
            raise s3err("AccessForbidden", 403, "CORSResponse: CORS is not enabled for this "
                        "bucket.")
        wanted = [h.strip() for h in headers.get("access-control-request-headers", "")
                  .split(",") if h.strip()]
        rule = cors.match(rules, origin, method, wanted)
        if rule is None:
            raise s3err("AccessForbidden", 403, "CORSResponse: This CORS request is not "
                        "allowed. This is usually because the evalution of Origin, request "
                        "method / Access-Control-Request-Method or Access-Control-Request-"
                        "Headers are not whitelisted by the resource's CORS spec.")
        return Response(b"", 200, headers=cors.response_headers(
            rule, origin, preflight=True, request_headers=wanted))

    def _cors_actual(self, response: Response, bucket: str, method: str,
                     origin: str) -> None:
        rules = self._cors_rules(bucket)
        rule = cors.match(rules, origin, method, []) if rules else None
        if rule is not None:
            for k, v in cors.response_headers(rule, origin, preflight=False,
                                              request_headers=[]).items():
                response.headers[k] = v

    def _list_versions(self, bucket: str, params: dict[str, str]) -> Response:
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        encoding = params.get("encoding-type")
        if encoding is not None and encoding != "url":
            raise s3err("InvalidArgument", 400, "Invalid Encoding Method specified in Request")
        encode = encoding == "url"
        try:
            max_keys = min(int(params.get("max-keys", "1000")), 1000)
        except ValueError:
            raise s3err("InvalidArgument", 400, "max-keys must be an integer") from None
        if max_keys < 0:
            raise s3err("InvalidArgument", 400, "max-keys must be non-negative")
        key_marker = params.get("key-marker", "")
        vid_marker = params.get("version-id-marker", "")
        if vid_marker and not key_marker:
            raise s3err("InvalidArgument", 400, "A version-id marker cannot be specified "
                        "without a key marker.")
        page = self.store.list_versions(bucket, prefix, delimiter, max_keys, key_marker,
                                        vid_marker)

        def enc(v: str) -> str:
            return urllib.parse.quote(v, safe="/") if encode else v

        root = ET.Element("ListVersionsResult", xmlns=XMLNS)
        el(root, "Name", bucket)
        el(root, "Prefix", enc(prefix))
        el(root, "KeyMarker", enc(key_marker))
        el(root, "VersionIdMarker", vid_marker)
        if page.is_truncated:
            el(root, "NextKeyMarker", enc(page.next_key_marker or ""))
            el(root, "NextVersionIdMarker", page.next_version_id_marker or "")
        el(root, "MaxKeys", max_keys)
        if delimiter:
            el(root, "Delimiter", enc(delimiter))
        if encode:
            el(root, "EncodingType", "url")
        el(root, "IsTruncated", "true" if page.is_truncated else "false")
        for rec, latest in page.entries:
            e = el(root, "DeleteMarker" if rec.delete_marker else "Version")
            el(e, "Key", enc(rec.key))
            el(e, "VersionId", rec.version_id)
            el(e, "IsLatest", "true" if latest else "false")
            el(e, "LastModified", iso(rec.last_modified))
            if not rec.delete_marker:
                el(e, "ETag", rec.etag)
                el(e, "Size", rec.size)
                el(e, "StorageClass", "STANDARD")
            owner = el(e, "Owner")
            el(owner, "ID", "cairn")
            el(owner, "DisplayName", "cairn")
        for cp in page.common_prefixes:
            el(el(root, "CommonPrefixes"), "Prefix", enc(cp))
        return xml_response(root)

    def _body(self, pull: Reader, verified: sigv4.Verified,
              headers: dict[str, str], need_length: bool = False) -> VerifyingReader:
        """``need_length``: an object or part upload, which S3 refuses without a length."""
        payload = verified.payload_hash
        length_h = headers.get("content-length")
        if length_h is None and "chunked" not in headers.get("transfer-encoding", ""):
            if need_length:
                raise s3err("MissingContentLength", 411, "You must provide the "
                            "Content-Length HTTP header.")
            length_h = "0"
        md5 = headers.get("content-md5")
        if md5 is not None:
            try:
                if len(base64.b64decode(md5, validate=True)) != 16:
                    raise ValueError(md5)
            except ValueError:
                raise s3err("InvalidDigest", 400, "The Content-MD5 you specified was "
                            "invalid.") from None
        try:
            length = int(length_h) if length_h is not None else None
        except ValueError:
            raise s3err("InvalidArgument", 400, "bad Content-Length") from None
        checksums: dict[str, str] = {}
        for name, value in headers.items():
            if name.startswith("x-amz-checksum-") and \
                    name[len("x-amz-checksum-"):] not in CHECKSUM_CONTROL:
                checksums[name[len("x-amz-checksum-"):]] = value
        if "x-amz-checksum-algorithm" in headers:
            checksum_algorithm(headers["x-amz-checksum-algorithm"])
        if payload.startswith("STREAMING-"):
            decoded = headers.get("x-amz-decoded-content-length")
            try:
                dlen = int(decoded) if decoded is not None else None
            except ValueError:
                raise s3err("InvalidArgument", 400, "bad x-amz-decoded-content-length") from None
            signed = None if payload == sigv4.STREAMING_UNSIGNED_TRAILER else verified
            verifier = VerifyingReader(pull, None, None, headers.get("content-md5"), checksums)
            trailer = headers.get("x-amz-trailer", "")
            if trailer.startswith("x-amz-checksum-"):
                verifier.add_checksum(trailer[len("x-amz-checksum-"):], None)
            chunked = AwsChunkedReader(LimitedReader(pull, length), signed,
                                       verifier.add_checksum, dlen)
            verifier.inner = chunked
            verifier.length = dlen
            return verifier
        sha = payload if payload not in (sigv4.UNSIGNED,) else None
        return VerifyingReader(pull, length, sha, headers.get("content-md5"), checksums)

    @staticmethod
    def _drain(reader: VerifyingReader) -> bytes:
        data = bytearray()
        while chunk := reader.read(65536):
            data += chunk
            if len(data) > MAX_XML_BODY:
                raise s3err("MaxMessageLengthExceeded", 400, "request body too large")
        return bytes(data)

    # -- buckets ----------------------------------------------------------------------------
    def _list_buckets(self, params: dict[str, str]) -> Response:
        """ListBuckets, paginated as S3 does: ``max-buckets`` (1-10000), ``continuation-token``
        (the last name of the previous page, opaque to clients), ``prefix``."""
        prefix = params.get("prefix", "")
        try:
            limit = int(params.get("max-buckets", "10000"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 10000:
            raise s3err("InvalidArgument", 400, "max-buckets must be an integer between 1 "
                        "and 10000")
        after = ""
        token = params.get("continuation-token")
        if token is not None:
            after = _decode_token(token)
        names = [b for b in self.store.list_buckets()
                 if b.name.startswith(prefix) and b.name > after]
        page, more = names[:limit], len(names) > limit
        root = ET.Element("ListAllMyBucketsResult", xmlns=XMLNS)
        owner = el(root, "Owner")
        el(owner, "ID", "cairn")
        el(owner, "DisplayName", "cairn")
        buckets = el(root, "Buckets")
        for b in page:
            e = el(buckets, "Bucket")
            el(e, "Name", b.name)
            el(e, "CreationDate", iso(b.created))
            el(e, "BucketRegion", self.region)
        if more:
            el(root, "ContinuationToken", _encode_token(page[-1].name))
        if prefix:
            el(root, "Prefix", prefix)
        return xml_response(root)

    def _list(self, bucket: str, params: dict[str, str]) -> Response:
        v2 = params.get("list-type") == "2"
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        encoding = params.get("encoding-type")
        if encoding is not None and encoding != "url":
            raise s3err("InvalidArgument", 400, "Invalid Encoding Method specified in Request")
        encode = encoding == "url"
        owner = not v2 or params.get("fetch-owner") == "true"  # V1 always names the owner
        try:
            max_keys = min(int(params.get("max-keys", "1000")), 1000)
        except ValueError:
            raise s3err("InvalidArgument", 400, "max-keys must be an integer") from None
        if max_keys < 0:
            raise s3err("InvalidArgument", 400, "max-keys must be non-negative")
        token = params.get("continuation-token")
        if v2 and token is not None:
            after = _decode_token(token)
        elif v2:
            after = params.get("start-after", "")
        else:
            after = params.get("marker", "")
        page = self.store.list_objects(bucket, prefix, delimiter, max_keys, after)

        def enc(s: str) -> str:
            return urllib.parse.quote(s, safe="/") if encode else s

        root = ET.Element("ListBucketResult", xmlns=XMLNS)
        el(root, "Name", bucket)
        el(root, "Prefix", enc(prefix))
        if v2:
            if token is not None:
                el(root, "ContinuationToken", token)
            if "start-after" in params:
                el(root, "StartAfter", enc(params["start-after"]))
            el(root, "KeyCount", len(page.contents) + len(page.common_prefixes))
        else:
            el(root, "Marker", enc(after))
        el(root, "MaxKeys", max_keys)
        if delimiter:
            el(root, "Delimiter", enc(delimiter))
        if encode:
            el(root, "EncodingType", "url")
        el(root, "IsTruncated", "true" if page.is_truncated else "false")
        if page.is_truncated and page.next_marker is not None:
            if v2:
                el(root, "NextContinuationToken", _encode_token(page.next_marker))
            elif delimiter:
                el(root, "NextMarker", enc(page.next_marker))
        for rec in page.contents:
            c = el(root, "Contents")
            el(c, "Key", enc(rec.key))
            el(c, "LastModified", iso(rec.last_modified))
            el(c, "ETag", rec.etag)
            el(c, "Size", rec.size)
            el(c, "StorageClass", "STANDARD")
            if owner:
                o = el(c, "Owner")
                el(o, "ID", "cairn")
                el(o, "DisplayName", "cairn")
        for cp in page.common_prefixes:
            el(el(root, "CommonPrefixes"), "Prefix", enc(cp))
        return xml_response(root)

    def _delete_many(self, bucket: str, reader: VerifyingReader) -> Response:
        doc = _parse_xml(self._drain(reader), "Delete")
        ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""
        quiet = (doc.findtext(ns + "Quiet") or "").strip().lower() == "true"
        objs = doc.findall(ns + "Object")
        if not objs or len(objs) > 1000:
            raise s3err("MalformedXML", 400, "Delete must list 1 to 1000 objects")
        self.store.head_bucket(bucket)
        root = ET.Element("DeleteResult", xmlns=XMLNS)
        for o in objs:
            key = o.findtext(ns + "Key")
            if key is None:
                raise s3err("MalformedXML", 400, "Object without Key")
            vid = o.findtext(ns + "VersionId")
            try:
                res = self.store.delete_object(bucket, key, vid)
                if not quiet:
                    d = el(root, "Deleted")
                    el(d, "Key", key)
                    if vid is not None:
                        el(d, "VersionId", vid)
                    if res.delete_marker:
                        el(d, "DeleteMarker", "true")
                        if vid is None and res.version_id is not None:
                            el(d, "DeleteMarkerVersionId", res.version_id)
            except S3Error as e:
                err = el(root, "Error")
                el(err, "Key", key)
                if vid is not None:
                    el(err, "VersionId", vid)
                el(err, "Code", e.code)
                el(err, "Message", e.message)
        return xml_response(root)

    # -- multipart --------------------------------------------------------------------------
    def _create_upload(self, bucket: str, key: str, headers: dict[str, str]) -> Response:
        algo = headers.get("x-amz-checksum-algorithm", "")
        up = self.multipart.create(bucket, key, content_type=headers.get("content-type"),
                                   user_meta=self._user_meta(headers),
                                   headers=self._kept_headers(headers),
                                   checksum_algorithm=checksum_algorithm(algo) if algo else "",
                                   checksum_type=headers.get("x-amz-checksum-type"),
                                   tags=_header_tags(headers))
        root = ET.Element("InitiateMultipartUploadResult", xmlns=XMLNS)
        el(root, "Bucket", bucket)
        el(root, "Key", key)
        el(root, "UploadId", up.upload_id)
        out = {}
        if up.checksum_algorithm:
            out["x-amz-checksum-algorithm"] = up.checksum_algorithm.upper()
            out["x-amz-checksum-type"] = up.checksum_type
        return xml_response(root, headers=out)

    def _upload_op(self, method: str, bucket: str, key: str, headers: dict[str, str],
                   params: dict[str, str], body: Callable[[], VerifyingReader]) -> Response:
        upload_id = params["uploadId"]
        if method == "PUT":
            try:
                number = int(params.get("partNumber", ""))
            except ValueError:
                raise s3err("InvalidArgument", 400, "Part number must be an integer between "
                            "1 and 10000, inclusive") from None
            if "x-amz-copy-source" in headers:
                return self._upload_part_copy(bucket, key, upload_id, number, headers)
            up = self.multipart.get(bucket, key, upload_id)
            reader = body()
            if up.checksum_algorithm and up.checksum_algorithm not in reader.expect:
                reader.add_checksum(up.checksum_algorithm, None)  # computed here, then
            part = self.multipart.upload_part(bucket, key, upload_id, number, reader,
                                              checksums=lambda: dict(reader.computed))
            out = {"ETag": part.etag}
            for algo, value in reader.computed.items():
                out[f"x-amz-checksum-{algo}"] = value
            return Response(b"", 200, headers=out)
        if method == "POST":
            raw = self._drain(body())
            doc = _parse_xml(raw, "CompleteMultipartUpload")
            ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""
            chosen = []
            for part in doc.findall(ns + "Part"):
                try:
                    chosen.append((int(part.findtext(ns + "PartNumber") or ""),
                                   part.findtext(ns + "ETag") or ""))
                except ValueError:
                    raise s3err("MalformedXML", 400, "bad PartNumber") from None
            rec = self.multipart.complete(bucket, key, upload_id, chosen,
                                          if_none_match=headers.get("if-none-match"),
                                          if_match=headers.get("if-match"))
            root = ET.Element("CompleteMultipartUploadResult", xmlns=XMLNS)
            el(root, "Location", f"/{bucket}/{urllib.parse.quote(key)}")
            el(root, "Bucket", bucket)
            el(root, "Key", key)
            el(root, "ETag", rec.etag)
            for algo, value in rec.checksums.items():
                el(root, "Checksum" + algo.upper(), value)
            if rec.checksum_type:
                el(root, "ChecksumType", rec.checksum_type)
            return xml_response(root, headers=self._version_header(bucket, rec))
        if method == "DELETE":
            self.multipart.abort(bucket, key, upload_id)
            return Response(b"", 204)
        if method == "GET":
            parts = self.multipart.list_parts(bucket, key, upload_id)
            try:
                marker = int(params.get("part-number-marker", "0") or 0)
                max_parts = min(int(params.get("max-parts", "1000")), 1000)
            except ValueError:
                raise s3err("InvalidArgument", 400, "bad part-number-marker/max-parts") from None
            after = [p for p in parts if p.number > marker]
            page, truncated = after[:max_parts], len(after) > max_parts
            root = ET.Element("ListPartsResult", xmlns=XMLNS)
            el(root, "Bucket", bucket)
            el(root, "Key", key)
            el(root, "UploadId", upload_id)
            el(root, "PartNumberMarker", marker)
            if page:
                el(root, "NextPartNumberMarker", page[-1].number)
            el(root, "MaxParts", max_parts)
            el(root, "IsTruncated", "true" if truncated else "false")
            el(root, "StorageClass", "STANDARD")
            for who in ("Initiator", "Owner"):
                o = el(root, who)
                el(o, "ID", "cairn")
                el(o, "DisplayName", "cairn")
            up = self.multipart.get(bucket, key, upload_id)
            if up.checksum_algorithm:
                el(root, "ChecksumAlgorithm", up.checksum_algorithm.upper())
                el(root, "ChecksumType", up.checksum_type)
            for p in page:
                e = el(root, "Part")
                el(e, "PartNumber", p.number)
                el(e, "LastModified", iso(p.last_modified))
                el(e, "ETag", p.etag)
                el(e, "Size", p.size)
                for algo, value in p.checksums.items():
                    el(e, "Checksum" + algo.upper(), value)
            return xml_response(root)
        raise s3err("MethodNotAllowed", 405, "method not allowed on an upload")

    def _upload_part_copy(self, bucket: str, key: str, upload_id: str, number: int,
                          headers: dict[str, str]) -> Response:
        """UploadPartCopy: a part's bytes come from (a range of) an existing object."""
        self.multipart.get(bucket, key, upload_id)
        src_bucket, src_key, src_vid = _copy_source(headers)
        src = self.store.head_object(src_bucket, src_key, src_vid)
        _check_copy_conditions(src, headers)
        rng: tuple[int | None, int | None] | None = None
        spec = headers.get("x-amz-copy-source-range")
        if spec is not None:
            first, _, last = spec.removeprefix("bytes=").partition("-")
            try:
                a, b = int(first), int(last)
            except ValueError:
                raise s3err("InvalidArgument", 400, "The x-amz-copy-source-range value must "
                            "be of the form bytes=first-last where first and last are the "
                            "zero-based offsets of the first and last bytes to copy") from None
            if a > b or b >= src.size:
                raise s3err("InvalidRange", 416, "The requested range is not satisfiable")
            rng = (a, b)
        _, start, end, stream = self.store.open_object(src_bucket, src_key, rng, src_vid)
        part = self.multipart.upload_part(bucket, key, upload_id, number, _IterReader(stream),
                                          end - start)
        root = ET.Element("CopyPartResult", xmlns=XMLNS)
        el(root, "LastModified", iso(part.last_modified))
        el(root, "ETag", part.etag)
        out = {"x-amz-copy-source-version-id": src.version_id} if (
            src_vid is not None or self._versioned(src_bucket)) else {}
        return xml_response(root, headers=out)

    def _list_uploads(self, bucket: str, params: dict[str, str]) -> Response:
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        key_marker = params.get("key-marker", "")
        id_marker = params.get("upload-id-marker", "") if key_marker else ""
        try:
            max_uploads = min(int(params.get("max-uploads", "1000")), 1000)
        except ValueError:
            raise s3err("InvalidArgument", 400, "max-uploads must be an integer") from None
        if max_uploads < 0:
            raise s3err("InvalidArgument", 400, "max-uploads must be non-negative")
        uploads = [u for u in self.multipart.list_uploads(bucket, prefix)
                   if (u.key.encode(), u.upload_id) > (key_marker.encode(), id_marker)
                   or not key_marker]
        if key_marker and not id_marker:
            uploads = [u for u in uploads if u.key.encode() > key_marker.encode()]
        page: list[Any] = []
        prefixes: list[str] = []
        truncated = False
        for u in uploads:
            if delimiter:
                cut = u.key.find(delimiter, len(prefix))
                if cut >= 0:
                    cp = u.key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == cp:
                        continue
                    if len(page) + len(prefixes) >= max_uploads:
                        truncated = True
                        break
                    prefixes.append(cp)
                    continue
            if len(page) + len(prefixes) >= max_uploads:
                truncated = True
                break
            page.append(u)
        root = ET.Element("ListMultipartUploadsResult", xmlns=XMLNS)
        el(root, "Bucket", bucket)
        el(root, "KeyMarker", key_marker)
        el(root, "UploadIdMarker", id_marker)
        if truncated and page:
            el(root, "NextKeyMarker", page[-1].key)
            el(root, "NextUploadIdMarker", page[-1].upload_id)
        if prefix:
            el(root, "Prefix", prefix)
        if delimiter:
            el(root, "Delimiter", delimiter)
        el(root, "MaxUploads", max_uploads)
        el(root, "IsTruncated", "true" if truncated else "false")
        for u in page:
            e = el(root, "Upload")
            el(e, "Key", u.key)
            el(e, "UploadId", u.upload_id)
            for who in ("Initiator", "Owner"):
                o = el(e, who)
                el(o, "ID", "cairn")
                el(o, "DisplayName", "cairn")
            el(e, "StorageClass", "STANDARD")
            el(e, "Initiated", iso(u.initiated))
        for cp in prefixes:
            el(el(root, "CommonPrefixes"), "Prefix", cp)
        return xml_response(root)

    # -- objects ----------------------------------------------------------------------------
    def _tagging(self, method: str, bucket: str, key: str, params: dict[str, str],
                 body: Callable[[], VerifyingReader]) -> Response:
        """Get/Put/DeleteObjectTagging (of the current version or ``versionId``)."""
        vid = params.get("versionId")
        if method == "GET":
            rec = self.store.head_object(bucket, key, vid)
            root = ET.Element("Tagging", xmlns=XMLNS)
            tagset = el(root, "TagSet")
            for k, v in rec.tags.items():
                t = el(tagset, "Tag")
                el(t, "Key", k)
                el(t, "Value", v)
            return xml_response(root, headers=self._version_header(bucket, rec))
        if method == "PUT":
            doc = _parse_xml(self._drain(body()), "Tagging")
            ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""
            pairs = [(t.findtext(ns + "Key"), t.findtext(ns + "Value") or "")
                     for t in doc.iterfind(f"{ns}TagSet/{ns}Tag")]
            if any(k is None for k, _ in pairs):
                raise s3err("MalformedXML", 400, "a Tag without a Key")
            rec = self.store.set_tags(bucket, key, vid, _check_tags(pairs))  # type: ignore[arg-type]
            return Response(b"", 200, headers=self._version_header(bucket, rec))
        if method == "DELETE":
            rec = self.store.set_tags(bucket, key, vid, {})
            return Response(b"", 204, headers=self._version_header(bucket, rec))
        raise s3err("MethodNotAllowed", 405, "method not allowed on tagging")

    def _put(self, bucket: str, key: str, headers: dict[str, str],
             reader: VerifyingReader) -> Response:
        meta = self._user_meta(headers)
        keep = self._kept_headers(headers)
        rec = self.store.put_object(
            bucket, key, reader, None, content_type=headers.get("content-type"),
            user_meta=meta, if_none_match=headers.get("if-none-match"),
            if_match=headers.get("if-match"), headers=keep,
            checksums=lambda: dict(reader.computed), tags=_header_tags(headers))
        out = {"ETag": rec.etag, **self._version_header(bucket, rec)}
        for algo, value in rec.checksums.items():
            if algo != "MD5":
                out[f"x-amz-checksum-{algo}"] = value
        return Response(b"", 200, headers=out)

    def _version_header(self, bucket: str, rec: ObjectRecord) -> dict[str, str]:
        """S3 names the version of every write and read in a bucket that has (or had)
        versioning, ``null`` included; never in a bucket that never had it."""
        if rec.version_id != "null" or self._versioned(bucket):
            return {"x-amz-version-id": rec.version_id}
        return {}

    @staticmethod
    def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
        keep = {h: headers[h] for h in ("cache-control", "content-disposition",
                                        "content-encoding", "content-language", "expires")
                if h in headers}
        if "content-encoding" in keep:  # aws-chunked is transport framing, not the object's
            parts = [p.strip() for p in keep["content-encoding"].split(",")
                     if p.strip() and p.strip() != "aws-chunked"]
            if parts:
                keep["content-encoding"] = ",".join(parts)
            else:
                del keep["content-encoding"]
        return keep

    @staticmethod
    def _user_meta(headers: dict[str, str]) -> dict[str, str]:
        meta = {k[len("x-amz-meta-"):]: _utf8(v) for k, v in headers.items()
                if k.startswith("x-amz-meta-")}
        if sum(len(k) + len(v) for k, v in meta.items()) > MAX_USER_META:
            raise s3err("MetadataTooLarge", 400, "Your metadata headers exceed the maximum "
                        "allowed metadata size.")
        return meta

    def _copy(self, bucket: str, key: str, headers: dict[str, str]) -> Response:
        src_bucket, src_key, src_vid = _copy_source(headers)
        rec, _, _, stream = self.store.open_object(src_bucket, src_key, version_id=src_vid)
        _check_copy_conditions(rec, headers)
        directive = headers.get("x-amz-metadata-directive", "COPY")
        if directive not in ("COPY", "REPLACE"):
            raise s3err("InvalidArgument", 400, "Unknown metadata directive.")
        replace = directive == "REPLACE"
        if not replace and (src_bucket, src_key) == (bucket, key) and src_vid is None:
            raise s3err("InvalidRequest", 400, "This copy request is illegal because it is "
                        "trying to copy an object to itself without changing the object's "
                        "metadata, storage class, website redirect location or encryption "
                        "attributes.")
        tagging = headers.get("x-amz-tagging-directive", "COPY")
        if tagging not in ("COPY", "REPLACE"):
            raise s3err("InvalidArgument", 400, "Unknown tagging directive.")
        new = self.store.put_object(
            bucket, key, _IterReader(stream), rec.size,
            content_type=headers.get("content-type") if replace else rec.content_type,
            user_meta=self._user_meta(headers) if replace else rec.user_meta,
            headers=self._kept_headers(headers) if replace else rec.headers,
            tags=_header_tags(headers) if tagging == "REPLACE" else rec.tags)
        root = ET.Element("CopyObjectResult", xmlns=XMLNS)
        el(root, "LastModified", iso(new.last_modified))
        el(root, "ETag", new.etag)
        out = self._version_header(bucket, new)
        if src_vid is not None or self._versioned(src_bucket):
            out["x-amz-copy-source-version-id"] = rec.version_id
        return xml_response(root, headers=out)

    @staticmethod
    def _part_range(rec: ObjectRecord, value: str,
                    base: dict[str, str]) -> tuple[int | None, int | None] | None:
        """GET/HEAD ``?partNumber=n``: the bytes of part n of a multipart object (206 with
        ``x-amz-mp-parts-count``); part 1 of any other object is all of it."""
        try:
            n = int(value)
        except ValueError:
            n = 0
        if not 1 <= n <= 10000:
            raise s3err("InvalidArgument", 400, "Part number must be an integer between 1 "
                        "and 10000, inclusive")
        count = int(rec.etag.strip('"').rpartition("-")[2]) if "-" in rec.etag else 1
        if n > count:
            raise s3err("InvalidPartNumber", 416, "The requested partnumber is not "
                        "satisfiable")
        if "-" not in rec.etag:
            return None
        base["x-amz-mp-parts-count"] = str(count)
        start = sum(p.length for p in rec.parts[: n - 1])
        length = rec.parts[n - 1].length
        if length == 0:
            return None
        return (start, start + length - 1)

    def _get(self, bucket: str, key: str, headers: dict[str, str], params: dict[str, str],
             head: bool) -> Response:
        vid = params.get("versionId")
        rec = self.store.head_object(bucket, key, vid)
        status = check_read_conditions(rec, headers)
        base = {"ETag": rec.etag, "Last-Modified": http_date(rec.last_modified),
                "Accept-Ranges": "bytes", "Content-Type": rec.content_type,
                **self._version_header(bucket, rec)}
        base.update({k.title(): v for k, v in rec.headers.items()})
        if rec.tags:
            base["x-amz-tagging-count"] = str(len(rec.tags))
        for k, v in rec.user_meta.items():
            # Non-ASCII values go out RFC 2047 encoded, as S3 returns them.
            base[f"x-amz-meta-{k}"] = v if v.isascii() else \
                "=?UTF-8?B?" + base64.b64encode(v.encode()).decode() + "?="
        overrides = {"response-content-type": "Content-Type",
                     "response-content-disposition": "Content-Disposition",
                     "response-cache-control": "Cache-Control",
                     "response-content-encoding": "Content-Encoding",
                     "response-content-language": "Content-Language",
                     "response-expires": "Expires"}
        for p, h in overrides.items():
            if p in params:
                base[h] = _header_value(p, params[p])
        if status == 304:
            return Response(b"", 304, headers={"ETag": rec.etag,
                                               "Last-Modified": base["Last-Modified"]})
        if status == 412:
            raise PreconditionFailed(Condition="If-Match")
        rng = _parse_range(headers.get("range"), rec.size)
        if rng is not None and rec.size == 0:
            rng = None
        if "partNumber" in params:
            rng = self._part_range(rec, params["partNumber"], base)
        elif headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and rng is None:
            for algo, value in rec.checksums.items():
                if algo != "MD5":
                    base[f"x-amz-checksum-{algo}"] = value
                    base["x-amz-checksum-type"] = rec.checksum_type or "FULL_OBJECT"
        try:
            rec2, start, end, stream = self.store.open_object(bucket, key, rng, vid)
        except NoSuchKey:
            raise
        # Overwritten between the two reads: serve the new one.
        if rec2.version_id != rec.version_id or rec2.seq != rec.seq:
            return self._get(bucket, key, headers, params, head)
        base["Content-Length"] = str(end - start)
        code = 200
        if rng is not None:
            code = 206
            base["Content-Range"] = f"bytes {start}-{end - 1}/{rec.size}"
        if head:
            return Response(b"", code, headers=base)
        return StreamingResponse(_prefetch(stream), code, headers=base)


def _copy_source(headers: dict[str, str]) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of ``x-amz-copy-source`` (``bucket/key[?versionId=v]``)."""
    raw_src, _, src_query = headers["x-amz-copy-source"].partition("?")
    src = urllib.parse.unquote(raw_src).lstrip("/")
    src_bucket, _, src_key = src.partition("/")
    src_vid = dict(urllib.parse.parse_qsl(src_query)).get("versionId")
    if not src_bucket or not src_key:
        raise s3err("InvalidArgument", 400, "Copy Source must mention the source bucket and "
                    "key: sourcebucket/sourcekey")
    return src_bucket, src_key, src_vid


def _check_copy_conditions(rec: ObjectRecord, headers: dict[str, str]) -> None:
    """``x-amz-copy-source-if-*``: any failure is 412 (a copy has no 304)."""
    h = {k[len("x-amz-copy-source-"):]: v for k, v in headers.items()
         if k.startswith("x-amz-copy-source-if-")}
    if check_read_conditions(rec, h) is not None:
        raise PreconditionFailed("At least one of the pre-conditions you specified did not "
                                 "hold", Condition="x-amz-copy-source-If-*")


def _parse_xml(raw: bytes, root: str) -> ET.Element:
    """Parse a small request document with a parser that refuses DTDs, entity declarations
    and external references whatever the document's encoding (a byte match on ``<!DOCTYPE``
    misses UTF-16)."""
    try:
        doc = defused_et.fromstring(raw, forbid_dtd=True, forbid_entities=True,
                                    forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise s3err("MalformedXML", 400, "DTDs and entities are not allowed") from None
    except (ET.ParseError, ValueError):
        raise s3err("MalformedXML", 400, "The XML you provided was not well-formed or did "
                    "not validate against our published schema.") from None
    if doc.tag.rsplit("}", 1)[-1] != root:
        raise s3err("MalformedXML", 400, f"expected a {root} element")
    return doc


def _prefetch(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Read the first chunk before headers go out, so a data error becomes an error response
    instead of a truncated 200."""
    first = next(stream, b"")

    def gen() -> Iterator[bytes]:
        yield first
        yield from stream

    return gen()


class LimitedReader:
    """At most ``length`` bytes of ``inner`` (the wire body of an aws-chunked request)."""

    def __init__(self, inner: Reader, length: int | None) -> None:
        self.inner, self.left = inner, length

    def read(self, n: int = -1) -> bytes:
        if self.left is None:
            return self.inner.read(n)
        if self.left <= 0:
            return b""
        data = self.inner.read(min(n if n >= 0 else self.left, self.left))
        self.left -= len(data)
        return data


class _IterReader:
    def __init__(self, it: Iterator[bytes]) -> None:
        self.it, self.buf = it, b""

    def read(self, n: int = -1) -> bytes:
        while not self.buf:
            self.buf = next(self.it, b"")
            if not self.buf:
                return b""
        if n < 0 or n >= len(self.buf):
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out


def make_app(store: ObjectStore, keys: KeyStore, **kw: Any) -> Callable[..., Any]:
    return S3Server(store, keys, **kw).app
