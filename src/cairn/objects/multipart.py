"""Multipart uploads: parts written independently, stitched into one object at completion.

Each part is ordinary erasure-coded data (its own ``data_id`` and blobs). Metadata:

=============================================  ========================================
``U`` bucket NUL key NUL upload_id             :class:`Upload` (initiated, content type...)
``P`` upload_id NUL part number (5 digits)     :class:`Part` (etag, size, DataRef)
``D`` data_id                                   the ``P`` key (so GC keeps the part's data)
=============================================  ========================================

Completing is one atomic batch: the object record (whose ``parts`` are the chosen parts'
``DataRef`` s in order), ``D`` markers re-pointed at the object, the upload and part records
deleted, unused parts and the key's previous data queued for GC. An abort queues every part's
data. Everything for one key runs under the store's per-key lock, so a complete races neither
an abort nor a part upload. The ETag is S3's: MD5 of the concatenated binary part MD5s, then
``-N``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from cairn.objects import metadata as md
from cairn.objects.checksums import multipart_checksum, upload_type
from cairn.objects.errors import InvalidArgument, NoSuchUpload, S3Error
from cairn.objects.metadata import DataRef, ObjectRecord
from cairn.objects.store import ObjectStore, check_key
from cairn.storage import Delete, Put

MIN_PART_SIZE = 5 * 1024 * 1024  # S3: every part but the last
MAX_PARTS = 10_000


def _err(code: str, status: int, message: str) -> S3Error:
    e = S3Error(message)
    e.code, e.status = code, status
    return e


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    upload_id: str
    initiated: float
    content_type: str = "binary/octet-stream"
    user_meta: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str = ""  # lower case, "" for none
    checksum_type: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int
    last_modified: float
    ref: DataRef
    checksums: dict[str, str] = field(default_factory=dict)


def upload_key(bucket: str, key: str, upload_id: str) -> bytes:
    return b"U" + bucket.encode() + b"\x00" + key.encode() + b"\x00" + upload_id.encode()


def part_prefix(upload_id: str) -> bytes:
    return b"P" + upload_id.encode() + b"\x00"


def part_key(upload_id: str, number: int) -> bytes:
    return part_prefix(upload_id) + f"{number:05d}".encode()


def _encode_part(p: Part) -> bytes:
    d = asdict(p)
    d["ref"] = p.ref.to_json()
    return json.dumps(d, separators=(",", ":")).encode()


def _decode_part(raw: bytes) -> Part:
    d = json.loads(raw)
    d["ref"] = DataRef.from_json(d["ref"])
    return Part(**d)


class Multipart:
    """The multipart operations of one store."""

    def __init__(self, store: ObjectStore, min_part_size: int = MIN_PART_SIZE) -> None:
        self.store, self.min_part_size = store, min_part_size

    def create(self, bucket: str, key: str, *, content_type: str | None = None,
               user_meta: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, checksum_algorithm: str = "",
               checksum_type: str | None = None,
               tags: dict[str, str] | None = None) -> Upload:
        check_key(key)
        self.store.head_bucket(bucket)
        algo = checksum_algorithm.lower()
        kind = upload_type(algo, checksum_type) if algo else ""
        if checksum_type and not algo:
            raise _err("InvalidRequest", 400, "x-amz-checksum-type needs "
                       "x-amz-checksum-algorithm")
        up = Upload(bucket, key, secrets.token_hex(16), time.time(),
                    content_type or "binary/octet-stream", dict(user_meta or {}),
                    dict(headers or {}), algo, kind, dict(tags or {}))
        self.store.meta.put(upload_key(bucket, key, up.upload_id),
                            json.dumps(asdict(up)).encode(), sync=True)
        return up

    def get(self, bucket: str, key: str, upload_id: str) -> Upload:
        self.store.head_bucket(bucket)
        raw = self.store.meta.get(upload_key(bucket, key, upload_id))
        if raw is None:
            raise NoSuchUpload(UploadId=upload_id)
        return Upload(**json.loads(raw))

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int,
                    body: BinaryIO | bytes, length: int | None = None,
                    checksums: Callable[[], dict[str, str]] | None = None) -> Part:
        """``checksums``: called once the body is read (the verified x-amz-checksum-*)."""
        if not 1 <= number <= MAX_PARTS:
            raise InvalidArgument("Part number must be an integer between 1 and 10000, "
                                  "inclusive", ArgumentName="partNumber")
        self.get(bucket, key, upload_id)
        writer = self.store.write_data(body, length)
        ref = writer.finish()
        part = Part(number, f'"{writer.md5.hexdigest()}"', ref.length, time.time(), ref,
                    checksums() if checksums else {})
        pkey = part_key(upload_id, number)
        try:
            with self.store._lock(bucket, key):
                self.get(bucket, key, upload_id)  # aborted or completed meanwhile
                ops: list[Put | Delete] = [Put(pkey, _encode_part(part)),
                                           Put(md.data_key(ref.data_id), pkey)]
                old = self.store.meta.get(pkey)
                if old is not None:  # a re-uploaded part replaces the previous one
                    ops += self._unref([_decode_part(old).ref])
                self.store.meta.write_batch(ops, sync=True)
        except BaseException:
            self.store._discard(ref)
            raise
        return part

    def _unref(self, refs: list[DataRef]) -> list[Put | Delete]:
        due = time.time_ns() + int(self.store.gc_grace * 1e9)
        ops: list[Put | Delete] = []
        for r in refs:
            ops += [Delete(md.data_key(r.data_id)), Put(md.garbage_key(due, r.data_id),
                                                         md.encode_ref(r))]
        return ops

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        self.get(bucket, key, upload_id)
        pre = part_prefix(upload_id)
        return [_decode_part(v) for _, v in self.store.meta.scan(pre, md.prefix_end(pre))]

    def list_uploads(self, bucket: str, prefix: str = "") -> list[Upload]:
        self.store.head_bucket(bucket)
        lo = b"U" + bucket.encode() + b"\x00" + prefix.encode()
        return [Upload(**json.loads(v)) for _, v in self.store.meta.scan(lo, md.prefix_end(lo))]

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        with self.store._lock(bucket, key):
            self.get(bucket, key, upload_id)
            parts = self.list_parts(bucket, key, upload_id)
            ops: list[Put | Delete] = [Delete(upload_key(bucket, key, upload_id))]
            ops += [Delete(part_key(upload_id, p.number)) for p in parts]
            ops += self._unref([p.ref for p in parts])
            self.store.meta.write_batch(ops, sync=True)

    def complete(self, bucket: str, key: str, upload_id: str,
                 chosen: list[tuple[int, str]], *, if_none_match: str | None = None,
                 if_match: str | None = None) -> ObjectRecord:
        """Stitch the listed ``(part number, etag)`` into the object, validating as S3 does.
        ``if_none_match`` (``*``) / ``if_match``: a conditional write, as for PutObject.

        A retried Complete of an upload that already completed answers as the first one did
        while the key still holds that object (its ETag follows from the listed parts)."""
        try:
            up = self.get(bucket, key, upload_id)
        except NoSuchUpload:
            done = self._completed(bucket, key, chosen)
            if done is None:
                raise
            return done
        if if_none_match is not None and if_none_match != "*":
            raise InvalidArgument("If-None-Match accepts only '*'")
        if not chosen:
            raise _err("MalformedXML", 400, "The XML you provided was not well-formed or did "
                       "not validate against our published schema.")
        numbers = [n for n, _ in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise _err("InvalidPartOrder", 400, "The list of parts was not in ascending order. "
                       "The parts list must be specified in order by part number.")

        def build() -> tuple[ObjectRecord, list[Put | Delete]]:
            self.get(bucket, key, upload_id)  # under the key lock: not aborted meanwhile
            have = {p.number: p for p in self.list_parts(bucket, key, upload_id)}
            parts: list[Part] = []
            for n, etag in chosen:  # every part must exist before sizes are judged
                p = have.get(n)
                if p is None or p.etag.strip('"') != etag.strip().strip('"'):
                    raise _err("InvalidPart", 400, "One or more of the specified parts could "
                               "not be found. The part may not have been uploaded, or the "
                               "specified entity tag may not match the part's entity tag.")
                parts.append(p)
            if any(p.size < self.min_part_size for p in parts[:-1]):
                raise _err("EntityTooSmall", 400, "Your proposed upload is smaller than "
                           "the minimum allowed object size.")
            md5s = b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts)
            sums: dict[str, str] = {}
            if up.checksum_algorithm:
                algo = up.checksum_algorithm
                if any(algo not in p.checksums for p in parts):
                    raise _err("InvalidRequest", 400, f"A part was uploaded without its "
                               f"{algo.upper()} checksum")
                sums[algo] = multipart_checksum(
                    algo, up.checksum_type, [(p.checksums[algo], p.size) for p in parts])
            rec = ObjectRecord(
                bucket=bucket, key=key, version_id="null", size=sum(p.size for p in parts),
                etag=f'"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"',
                last_modified=time.time(), content_type=up.content_type,
                user_meta=up.user_meta, parts=tuple(p.ref for p in parts),
                headers=up.headers, checksums=sums, checksum_type=up.checksum_type,
                tags=up.tags)
            used = {p.number for p in parts}
            ops: list[Put | Delete] = [Delete(upload_key(bucket, key, upload_id))]
            ops += [Delete(part_key(upload_id, n)) for n in have]
            ops += self._unref([p.ref for n, p in have.items() if n not in used])
            return rec, ops

        return self.store._commit_built(bucket, key, build, if_none_match=if_none_match,
                                        if_match=if_match)

    def _completed(self, bucket: str, key: str,
                   chosen: list[tuple[int, str]]) -> ObjectRecord | None:
        try:
            md5s = b"".join(bytes.fromhex(e.strip().strip('"')) for _, e in chosen)
            cur = self.store.head_object(bucket, key)
        except (ValueError, S3Error):
            return None
        etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"'
        return cur if chosen and cur.etag == etag else None
