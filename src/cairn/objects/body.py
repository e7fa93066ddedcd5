"""Request bodies as the store reads them: decoded from ``aws-chunked``, and verified.

S3 clients send a PUT body in one of three ways, announced by ``x-amz-content-sha256``:

* a hex SHA-256 of the body (verified at the end: ``XAmzContentSHA256Mismatch``),
  or ``UNSIGNED-PAYLOAD``;
* ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]``: ``aws-chunked`` framing
  (``hex-size;chunk-signature=sig CRLF data CRLF ... 0;chunk-signature=sig CRLF``), each
  chunk signed with the previous chunk's signature (a hash chain from the request's seed
  signature), optionally followed by signed trailers;
* ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``: the same framing without signatures, ending in a
  trailer such as ``x-amz-checksum-crc32:...`` (the current boto3 default).

Every reader raises a typed S3 error *before* end-of-stream is reported when the body is
shorter or longer than declared, malformed, or fails a signature or checksum, so the store
aborts the write and nothing becomes visible.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import crc32c
from awscrt import checksums as crt_checksums

from cairn.objects import sigv4
from cairn.objects.errors import S3Error

MAX_CHUNK_HEADER = 4096
MAX_TRAILER = 16 * 1024
BACKGROUND_HASH_MIN = 256 * 1024  # larger bodies are hashed off the request thread


def s3err(code: str, status: int, message: str) -> S3Error:
    e = S3Error(message)
    e.code, e.status = code, status
    return e


class Reader(Protocol):
    def read(self, n: int = -1) -> bytes: ...


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, fn: Callable[[bytes, int], int]) -> None:
        self.fn, self.value = fn, 0

    def update(self, data: bytes) -> None:
        self.value = self.fn(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Crc64:
    """CRC-64/NVME (the AWS SDKs' default full-object checksum), computed by awscrt."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = crt_checksums.crc64nvme(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(8, "big")


CHECKSUMS: dict[str, Callable[[], _Hasher]] = {
    "crc32": lambda: _Crc(zlib.crc32),
    "crc32c": lambda: _Crc(lambda d, v: crc32c.crc32c(d, v)),
    "crc64nvme": _Crc64,
    "sha256": hashlib.sha256,
    "sha1": hashlib.sha1,
}
# x-amz-checksum-* request headers that are not a checksum value.
CHECKSUM_CONTROL = {"algorithm", "type", "mode"}


def checksum_algorithm(name: str) -> str:
    """The lower-case algorithm name, or S3's 400 for one that does not exist."""
    algo = name.lower()
    if algo not in CHECKSUMS:
        raise s3err("InvalidRequest", 400, f"Checksum algorithm {name!r} is not supported: "
                    "use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256")
    return algo


def checksum_b64(algorithm: str, data: bytes) -> str:
    h = CHECKSUMS[algorithm]()
    h.update(data)
    return base64.b64encode(h.digest()).decode()


class _HashLane:
    """Feeds hashers in the background, in order, on one thread of its own.

    A PUT's body is hashed two or three times (SHA-256 of the signed payload, the CRC the
    client announced, MD5 for the ETag); done inline, the hashes sit between the socket and
    the erasure coder and the body arrives no faster than they run. Here the request thread
    only queues the bytes (immutable ``bytes`` chunks, batched to ~1 MiB per task) and moves
    on; :meth:`close` waits until every byte is hashed. A lane made with ``background=False``
    (a small body: a thread would cost more than it saves) hashes inline."""

    BATCH = 1024 * 1024
    MAX_QUEUED = 8  # batches in flight before the reader waits (bounds memory)

    def __init__(self, background: bool = True) -> None:
        self.background = background
        self._pool: ThreadPoolExecutor | None = None
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._targets: list[_Hasher] = []
        self._queued: collections.deque[Future[None]] = collections.deque()

    def update(self, targets: list[_Hasher], data: bytes) -> None:
        if not targets:
            return
        if not self.background:
            for h in targets:
                h.update(data)
            return
        if not isinstance(data, bytes):
            data = bytes(data)  # only immutable bytes may be hashed later
        if self._batch and targets != self._targets:
            self._submit()
        self._targets = targets
        self._batch.append(data)
        self._batch_bytes += len(data)
        if self._batch_bytes >= self.BATCH:
            self._submit()

    def _submit(self) -> None:
        if self._pool is None:
            # One worker: tasks run in submission order, as the hashes require.
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-hash")
        batch, targets = self._batch, self._targets
        self._batch, self._batch_bytes = [], 0
        self._queued.append(self._pool.submit(_hash_batch, targets, batch))
        while len(self._queued) > self.MAX_QUEUED:
            self._queued.popleft().result()

    def close(self) -> None:
        """Wait until every byte given so far is hashed."""
        if self._batch:
            if self._pool is None:
                _hash_batch(self._targets, self._batch)
                self._batch, self._batch_bytes = [], 0
            else:
                self._submit()
        while self._queued:
            self._queued.popleft().result()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def _hash_batch(targets: list[_Hasher], batch: list[bytes]) -> None:
    for data in batch:
        for h in targets:
            h.update(data)


class VerifyingReader:
    """Counts, hashes and checks a plain body: declared length, SHA-256, Content-MD5 and any
    ``x-amz-checksum-*`` header, all checked when the last byte has been read."""

    def __init__(self, inner: Reader, length: int | None, sha256_hex: str | None,
                 md5_b64: str | None, checksums: dict[str, str]) -> None:
        self.inner, self.length = inner, length
        self.got = 0
        self.sha = hashlib.sha256() if sha256_hex else None
        self.sha256_hex = sha256_hex
        self.md5 = hashlib.md5() if md5_b64 else None
        self.md5_b64 = md5_b64
        # algorithm -> base64 value (may be filled by a trailer)
        self.expect = {checksum_algorithm(a): v for a, v in checksums.items()}
        self.hashers = {a: CHECKSUMS[a]() for a in self.expect}
        self.computed: dict[str, str] = {}
        self.done = False
        # Background hashing for bodies of unknown or large size (the socket chunks of a
        # large body are often 64 KiB or less, so the decision cannot be made per chunk).
        self._lane = _HashLane(background=length is None or length > BACKGROUND_HASH_MIN)

    def add_checksum(self, algorithm: str, value: str | None) -> None:
        algorithm = checksum_algorithm(algorithm)
        self.expect[algorithm] = value or ""
        self.hashers.setdefault(algorithm, CHECKSUMS[algorithm]())

    def read(self, n: int = -1) -> bytes:
        if self.done:
            return b""
        want = n if self.length is None else min(n if n >= 0 else 1 << 62,
                                                 self.length - self.got)
        data = self.inner.read(want) if want else b""
        if data:
            self.got += len(data)
            self._lane.update([h for h in (self.sha, self.md5, *self.hashers.values())
                               if h is not None], data)
            return data
        self.finish()
        return b""

    def finish(self) -> None:
        if self.done:
            return
        self._lane.close()
        if self.length is not None and self.got < self.length:
            raise s3err("IncompleteBody", 400, "You did not provide the number of bytes "
                        "specified by the Content-Length HTTP header.")
        if self.length is not None and self.inner.read(1):
            raise s3err("BadRequest", 400, "the body is longer than Content-Length")
        if self.sha is not None and self.sha.hexdigest() != self.sha256_hex:
            raise s3err("XAmzContentSHA256Mismatch", 400, "The provided "
                        "'x-amz-content-sha256' header does not match what was computed.")
        if self.md5 is not None and base64.b64encode(self.md5.digest()).decode() != \
                self.md5_b64:
            raise s3err("BadDigest", 400, "The Content-MD5 you specified did not match what "
                        "we received.")
        for algo, h in self.hashers.items():
            value = base64.b64encode(h.digest()).decode()
            self.computed[algo] = value
            if self.expect.get(algo) and self.expect[algo] != value:
                raise s3err("BadDigest", 400, f"The {algo.upper()} you specified did not match "
                            "the calculated checksum.")
        self.done = True


class AwsChunkedReader:
    """Decodes ``aws-chunked``; verifies chunk signatures when ``signed`` is given and hands
    trailers (``x-amz-checksum-*``) to ``on_trailer``."""

    def __init__(self, inner: Reader, signed: sigv4.Verified | None,
                 on_trailer: Callable[[str, str], None], decoded_length: int | None) -> None:
        self.inner, self.signed, self.on_trailer = inner, signed, on_trailer
        self.decoded_length = decoded_length
        self.prev = signed.signature if signed else ""
        self.buf = bytearray()
        self.left = 0  # bytes left in the current chunk
        self.chunk_sha: hashlib._Hash | None = None  # type: ignore[name-defined]
        self.chunk_sig = ""
        self.eof = False
        self.total = 0

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            more = self.inner.read(max(n - len(self.buf), 64 * 1024))
            if not more:
                return False
            self.buf += more
        return True

    def _line(self, limit: int) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > limit or not self._fill(len(self.buf) + 1):
                raise s3err("IncompleteBody", 400, "aws-chunked body ended early or is "
                            "malformed")

    def _start_chunk(self) -> None:
        header = self._line(MAX_CHUNK_HEADER).decode("latin-1")
        size_hex, _, ext = header.partition(";")
        try:
            size = int(size_hex, 16)
        except ValueError:
            raise s3err("InvalidRequest", 400, "malformed aws-chunked chunk header") from None
        if self.signed is not None:
            name, _, sig = ext.partition("=")
            if name.strip() != "chunk-signature":
                raise sigv4.signature_mismatch()
            self.chunk_sig = sig.strip()
            self.chunk_sha = hashlib.sha256()
        self.left = size
        if size == 0:
            self._end_chunk()
            self._trailers()
            self.eof = True

    def _end_chunk(self) -> None:
        if self.signed is not None and self.chunk_sha is not None:
            want = sigv4.chunk_signature(self.signed, self.prev, self.chunk_sha.hexdigest())
            if not hmac.compare_digest(want, self.chunk_sig):
                raise sigv4.signature_mismatch()
            self.prev = want

    def _trailers(self) -> None:
        raw = bytearray()
        while True:
            line = self._line(MAX_TRAILER)
            if not line:
                break
            raw += line + b"\n"
            if len(raw) > MAX_TRAILER:
                raise s3err("InvalidRequest", 400, "trailer too large")
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                if self.signed is not None:
                    body = bytes(raw[: -len(line) - 1])
                    want = sigv4.trailer_signature(self.signed, self.prev, body)
                    if not hmac.compare_digest(want, value.strip()):
                        raise sigv4.signature_mismatch()
                continue
            if name.startswith("x-amz-checksum-"):
                self.on_trailer(name[len("x-amz-checksum-"):], value.strip())

    def read(self, n: int = -1) -> bytes:
        n = n if n >= 0 else 1 << 20
        while not self.eof and self.left == 0:
            self._start_chunk()
        if self.eof:
            if self.decoded_length is not None and self.total != self.decoded_length:
                raise s3err("IncompleteBody", 400, "decoded length differs from "
                            "x-amz-decoded-content-length")
            return b""
        if not self.buf and not self._fill(1):
            raise s3err("IncompleteBody", 400, "aws-chunked body ended early")
        take = min(n, self.left, len(self.buf))
        data = bytes(self.buf[:take])
        del self.buf[:take]
        self.left -= take
        self.total += take
        if self.chunk_sha is not None:
            self.chunk_sha.update(data)
        if self.left == 0:
            if not self._fill(2) or self.buf[:2] != b"\r\n":
                raise s3err("IncompleteBody", 400, "aws-chunked chunk not terminated")
            del self.buf[:2]
            self._end_chunk()
        return data
