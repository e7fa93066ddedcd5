"""The object store: buckets and objects with strong consistency over metadata + drives.

The write path is "data first, then one atomic metadata commit" (DDIA ch. 7's atomic commit
reduced to a single batch in an engine that already makes batches atomic):

1. the body is streamed into fresh shard blobs under a new, never-reused ``data_id``, fsynced
   on every drive (:class:`~cairn.objects.datapath.DataWriter`);
2. one durable ``write_batch`` swaps the key's record to point at it, marks the new data
   referenced and queues the old data for garbage collection.

Readers see the old record or the new one, never a mix; a crash before step 2 leaves only
unreferenced blobs (reclaimed by :meth:`ObjectStore.collect_orphans` after a safety window);
a crash after it leaves the complete new object. Concurrent writers of one key serialise only
on step 2 (a striped per-key lock), so each key ends up as exactly one writer's object.

Queued garbage is deleted only ``gc_grace`` seconds after it was unreferenced, so a GET that
read the old record just before an overwrite can finish streaming the old bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import BinaryIO

from cairn.objects import metadata as md
from cairn.objects.datapath import (
    BufferPool,
    DataReader,
    DataWriter,
    data_id_time_ns,
    new_data_id,
)
from cairn.objects.drives import Drive, LocalDrive, private_dirs
from cairn.objects.erasure import ReedSolomon
from cairn.objects.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    DriveError,
    InvalidArgument,
    InvalidBucketName,
    InvalidRange,
    KeyTooLongError,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    PreconditionFailed,
)
from cairn.objects.metadata import BucketRecord, DataRef, ObjectRecord
from cairn.objects.placement import DriveSpec, rank
from cairn.storage import Delete, Engine, Put, open_engine

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
STREAM_CHUNK = 1024 * 1024
SKIP_BEFORE_SEEK = 8  # keys under a common prefix stepped over before seeking past them
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def check_bucket_name(name: str) -> str:
    """S3's general-purpose bucket naming rules."""
    if (not _BUCKET_NAME.fullmatch(name) or ".." in name or _IP.fullmatch(name)
            or name.startswith("xn--") or name.endswith("-s3alias") or ".-" in name
            or "-." in name):
        raise InvalidBucketName(f"invalid bucket name {name!r}", BucketName=name)
    return name


def check_key(key: str) -> str:
    """Any UTF-8 up to 1024 bytes, except NUL (it is the separator of the metadata keys)."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("object key is not valid UTF-8") from None
    if not raw:
        raise InvalidArgument("object key is empty")
    if len(raw) > MAX_KEY_BYTES:
        raise KeyTooLongError(f"key is {len(raw)} bytes; the limit is {MAX_KEY_BYTES}")
    if "\x00" in key:
        raise InvalidArgument("object key contains NUL")
    return key


@dataclass(frozen=True)
class ListPage:
    contents: list[ObjectRecord]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None  # the last key or prefix returned, to resume after


@dataclass(frozen=True)
class VersionsPage:
    """One page of ListObjectVersions: ``(record, is_latest)`` in key order, newest first."""

    entries: list[tuple[ObjectRecord, bool]]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True)
class DeleteResult:
    version_id: str | None  # of the delete marker created, or of the version removed
    delete_marker: bool  # a marker was created, or the version removed was one
    changed: bool = True  # False: nothing was there to delete

@dataclass
class StoreStats:
    puts: int = 0
    gets: int = 0
    deletes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    degraded_reads: int = 0
    shard_problems: dict[str, int] = field(default_factory=dict)
    gc_deleted_blobs: int = 0


@lru_cache(maxsize=32)
def _codec(k: int, m: int) -> ReedSolomon:
    return ReedSolomon(k, m)


class ObjectStore:
    """Buckets and objects over an ordered metadata engine and a set of drives."""

    def __init__(self, path: str, drives: list[Drive] | None = None, *, k: int = 4, m: int = 2,
                 stripe_size: int = 4 * 1024 * 1024, gc_grace: float = 60.0,
                 orphan_window: float = 3600.0, engine: Engine | None = None,
                 inline_max: int = 16 * 1024,
                 clock: Callable[[], float] = time.time) -> None:
        # Owner-only: object bytes and metadata are nobody else's business (issue 17).
        private_dirs(path)
        self.clock = clock  # wall clock of Last-Modified (lifecycle tests move it)
        self.path = path
        self.k, self.m, self.stripe_size = k, m, stripe_size
        self.gc_grace = gc_grace
        self.orphan_window = orphan_window
        # Objects up to this size live inside their metadata record (MinIO inlines small
        # objects in xl.meta for the same reason): a 4 KiB PUT costs one fsync instead of k+m+1.
        self.inline_max = inline_max
        if drives is None:
            drives = [LocalDrive(os.path.join(path, "drives", f"d{i}"), f"d{i}")
                      for i in range(k + m)]
        self.drives: dict[str, Drive] = {d.drive_id: d for d in drives}
        self._specs = [DriveSpec(d.drive_id, d.domain) for d in drives]
        self.rs = _codec(k, m)
        self.meta = engine or open_engine("lsm", os.path.join(path, "meta"))
        if engine is None:
            os.chmod(os.path.join(path, "meta"), 0o700)
        self._pool = ThreadPoolExecutor(max_workers=max(8, 2 * (k + m)),
                                        thread_name_prefix="cairn-objects")
        self._locks = [threading.Lock() for _ in range(64)]
        self._buffers = BufferPool(stripe_size)  # stripe buffers reused across writes
        self._stats_lock = threading.Lock()
        self.stats = StoreStats()
        self.heal_queue: set[str] = set()  # data ids with a reported shard problem
        self._prefetch = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cairn-readahead")
        self.reader = DataReader(self.drives, self._pool, self._report, _codec, self._prefetch)
        for d in drives:
            with contextlib.suppress(DriveError):  # an offline drive is swept when back
                d.sweep_tmp()  # leftovers of writes that a crash interrupted

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._prefetch.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self.meta.close()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _report(self, data_id: str, index: int, drive_id: str | None, what: str) -> None:
        with self._stats_lock:
            p = self.stats.shard_problems
            p[what] = p.get(what, 0) + 1
            if what != "write-failed":
                self.stats.degraded_reads += 1
            self.heal_queue.add(data_id)

    def _lock(self, bucket: str, key: str) -> threading.Lock:
        return self._locks[hash((bucket, key)) % len(self._locks)]

    def swap_data(self, rkey: bytes, old: DataRef, new: DataRef) -> bool:
        """Point the object record at ``rkey`` to ``new`` shards in place of ``old`` if it
        still refers to ``old`` exactly (the healer and the rebalancer moved its data while
        writers went on): checked again under the object's lock, committed durably. False
        when the record changed meanwhile (the moved copy is then garbage)."""
        raw = self.meta.get(rkey)
        if raw is None or raw == md.CURRENT:  # promoted meanwhile: the next pass sees it
            return False
        rec = ObjectRecord.decode(raw)
        with self._lock(rec.bucket, rec.key):
            raw = self.meta.get(rkey)
            if raw is None or raw == md.CURRENT:
                return False
            rec = ObjectRecord.decode(raw)
            if old not in rec.parts:
                return False
            parts = tuple(new if p == old else p for p in rec.parts)
            self.meta.write_batch([Put(rkey, replace(rec, parts=parts).encode())], sync=True)
        return True

    # -- buckets -----------------------------------------------------------------------------
    def create_bucket(self, name: str) -> BucketRecord:
        check_bucket_name(name)
        with self._locks[0]:
            if self.meta.get(md.bucket_key(name)) is not None:
                raise BucketAlreadyOwnedByYou(BucketName=name)
            rec = BucketRecord(name, time.time())
            self.meta.put(md.bucket_key(name), md.encode_bucket(rec), sync=True)
        return rec

    def head_bucket(self, name: str) -> BucketRecord:
        raw = self.meta.get(md.bucket_key(name))
        if raw is None:
            raise NoSuchBucket(BucketName=name)
        return md.decode_bucket(raw)

    def list_buckets(self) -> list[BucketRecord]:
        return [md.decode_bucket(v)
                for _, v in self.meta.scan(md.BUCKET, md.prefix_end(md.BUCKET))]

    def delete_bucket(self, name: str) -> None:
        """Only an empty bucket: no object, no noncurrent version and no delete marker."""
        with self._locks[0]:
            self.head_bucket(name)
            for prefix in (md.object_prefix(name), md.versions_prefix(name)):
                if next(iter(self.meta.scan(prefix, md.prefix_end(prefix))), None) is not None:
                    raise BucketNotEmpty(BucketName=name)
            conf = md.config_key(name, "")
            ops: list[Put | Delete] = [Delete(k) for k, _ in
                                       self.meta.scan(conf, md.prefix_end(conf))]
            self.meta.write_batch([*ops, Delete(md.bucket_key(name))], sync=True)

    def set_versioning(self, name: str, status: str) -> BucketRecord:
        """``Enabled`` or ``Suspended``; a bucket never returns to unversioned (as S3)."""
        if status not in ("Enabled", "Suspended"):
            raise InvalidArgument(f"versioning status must be Enabled or Suspended, not "
                                  f"{status!r}")
        with self._locks[0]:
            rec = replace(self.head_bucket(name), versioning=status)
            self.meta.put(md.bucket_key(name), md.encode_bucket(rec), sync=True)
        return rec

    def put_bucket_config(self, name: str, kind: str, value: bytes | None) -> None:
        """Store (or with None, remove) a bucket sub-resource document (lifecycle...)."""
        self.head_bucket(name)
        ckey = md.config_key(name, kind)
        if value is None:
            self.meta.delete(ckey, sync=True)
        else:
            self.meta.put(ckey, value, sync=True)

    def get_bucket_config(self, name: str, kind: str) -> bytes | None:
        self.head_bucket(name)
        return self.meta.get(md.config_key(name, kind))

    # -- objects -----------------------------------------------------------------------------
    def write_data(self, body: BinaryIO | bytes, length: int | None = None) -> DataWriter:
        """Stream ``body`` into new shard blobs (step 1 of a put); returns the finished
        writer. Used by puts and by multipart part uploads."""
        data_id = new_data_id()
        ranked = [self.drives[s.drive_id] for s in rank(self._specs, data_id.encode())]
        writer = DataWriter(self.rs, self.stripe_size, ranked, self._pool, self._report,
                            data_id=data_id, buffers=self._buffers)
        try:
            if isinstance(body, bytes | bytearray | memoryview):
                for off in range(0, len(body), self.stripe_size):
                    writer.write(memoryview(body)[off: off + self.stripe_size])
            else:
                remaining = length
                while remaining is None or remaining > 0:
                    want = STREAM_CHUNK if remaining is None else min(STREAM_CHUNK, remaining)
                    chunk = body.read(want)
                    if not chunk:
                        break
                    writer.write(chunk)
                    if remaining is not None:
                        remaining -= len(chunk)
                if length is not None and writer.length != length:
                    raise InvalidArgument(
                        f"body has {writer.length} bytes, {length} declared")  # IncompleteBody
        except BaseException:
            writer.abort()
            raise
        return writer

    def put_object(self, bucket: str, key: str, body: BinaryIO | bytes,
                   length: int | None = None, *, content_type: str | None = None,
                   user_meta: dict[str, str] | None = None, if_none_match: str | None = None,
                   if_match: str | None = None, headers: dict[str, str] | None = None,
                   checksums: Callable[[], dict[str, str]] | None = None,
                   tags: dict[str, str] | None = None) -> ObjectRecord:
        """Store an object. ``checksums`` is called after the body has been read (a
        verifying reader's computed CRC32/CRC32C/SHA-256 values, base64) to record them."""
        check_key(key)
        self.head_bucket(bucket)
        if if_none_match is not None and if_none_match != "*":
            raise InvalidArgument("If-None-Match on PUT accepts only '*'")
        head, rest = self._read_head(body, length)
        common = {"bucket": bucket, "key": key, "version_id": "null",
                  "last_modified": self.clock(),
                  "content_type": content_type or "binary/octet-stream",
                  "user_meta": dict(user_meta or {}), "headers": dict(headers or {}),
                  "tags": dict(tags or {})}
        if rest is None:  # small: inline in the record, one metadata fsync and no blobs
            md5 = hashlib.md5(head)
            rec = ObjectRecord(size=len(head), etag=f'"{md5.hexdigest()}"',
                               inline=base64.b64encode(head).decode(), checksums={
                                   "MD5": base64.b64encode(md5.digest()).decode(),
                                   **(checksums() if checksums else {})}, **common)
            rec = self._commit(rec, if_none_match=if_none_match, if_match=if_match)
        else:
            writer = self.write_data(_Chain(head, rest) if head else rest, length)
            ref = writer.finish()
            try:
                rec = ObjectRecord(
                    size=ref.length, etag=f'"{writer.md5.hexdigest()}"', parts=(ref,),
                    checksums={"MD5": base64.b64encode(writer.md5.digest()).decode(),
                               **(checksums() if checksums else {})}, **common)
                rec = self._commit(rec, if_none_match=if_none_match, if_match=if_match)
            except BaseException:
                self._discard(ref)
                raise
        with self._stats_lock:
            self.stats.puts += 1
            self.stats.bytes_in += rec.size
        return rec

    def _read_head(self, body: BinaryIO | bytes,
                   length: int | None) -> tuple[bytes, BinaryIO | bytes | None]:
        """Up to ``inline_max + 1`` bytes of the body; ``rest`` is None when that was all of
        it (the object will be stored inline)."""
        limit = self.inline_max
        if limit <= 0 or (length is not None and length > limit):
            return b"", body
        if isinstance(body, bytes | bytearray | memoryview):
            return (bytes(body), None) if len(body) <= limit else (b"", body)
        chunks = bytearray()
        while len(chunks) <= limit:
            more = body.read(limit + 1 - len(chunks))
            if not more:
                if length is not None and len(chunks) != length:
                    raise InvalidArgument(f"body has {len(chunks)} bytes, {length} declared")
                return bytes(chunks), None
            chunks += more
        return bytes(chunks), body

    def _commit(self, rec: ObjectRecord, *, if_none_match: str | None = None,
                if_match: str | None = None) -> ObjectRecord:
        return self._commit_built(rec.bucket, rec.key, lambda: (rec, []),
                                  if_none_match=if_none_match, if_match=if_match)

    def _commit_built(self, bucket: str, key: str,
                      build: Callable[[], tuple[ObjectRecord, list[Put | Delete]]], *,
                      if_none_match: str | None = None,
                      if_match: str | None = None) -> ObjectRecord:
        """Make the record ``build`` returns the key's current version, in one atomic batch
        with the extra operations it returns; returns the record with its version id. ``build``
        runs under the key's lock (multipart complete validates its parts and drops the upload
        there)."""
        okey = md.object_key(bucket, key)
        with self._lock(bucket, key):
            brec = self.head_bucket(bucket)  # a bucket deleted meanwhile
            rec, more = build()
            old = self._current(bucket, key)
            if if_none_match == "*" and old is not None:
                raise PreconditionFailed("the key already exists", Condition="If-None-Match")
            if if_match is not None and (old is None or not _etag_matches(if_match, old.etag)):
                if old is None:
                    raise NoSuchKey(Key=rec.key)
                raise PreconditionFailed("ETag does not match", Condition="If-Match")
            seq = self._next_seq(bucket, key, old)
            vid = md.new_version_id(seq) if brec.versioning == "Enabled" else "null"
            rec = replace(rec, seq=seq, version_id=vid, delete_marker=False)
            vkey = md.version_key(bucket, key, seq)
            ops: list[Put | Delete] = [*more, *self._make_room(brec, key, old)]
            ops += [Put(okey, rec.encode()), Put(vkey, md.CURRENT)]
            ops += [Put(md.data_key(p.data_id), vkey) for p in rec.parts]
            self.meta.write_batch(ops, sync=True)
        return rec

    # -- versions ----------------------------------------------------------------------------
    def _current(self, bucket: str, key: str) -> ObjectRecord | None:
        raw = self.meta.get(md.object_key(bucket, key))
        return ObjectRecord.decode(raw) if raw is not None else None

    def _versions(self, bucket: str, key: str) -> Iterator[tuple[bytes, ObjectRecord]]:
        """The key's versions, newest first, as (V key, record); lazy (stop early)."""
        pre = md.key_versions_prefix(bucket, key)
        for vkey, raw in self.meta.scan(pre, md.prefix_end(pre)):
            yield vkey, self._resolve(bucket, key, raw)

    def _resolve(self, bucket: str, key: str, raw: bytes) -> ObjectRecord:
        if raw == md.CURRENT:
            cur = self.meta.get(md.object_key(bucket, key))
            if cur is None:  # impossible while the invariant holds; never guess
                raise InvalidArgument(f"metadata of {bucket}/{key} is inconsistent")
            return ObjectRecord.decode(cur)
        return ObjectRecord.decode(raw)

    def _next_seq(self, bucket: str, key: str, current: ObjectRecord | None) -> int:
        """A nanosecond clock, forced above the key's newest version (a clock step back or two
        writes in one tick must still order versions)."""
        latest = current.seq if current is not None else max(
            (r.seq for _, r in itertools.islice(self._versions(bucket, key), 1)), default=0)
        return max(time.time_ns(), latest + 1)

    def _make_room(self, brec: BucketRecord, key: str,
                   current: ObjectRecord | None) -> list[Put | Delete]:
        """Operations that retire what a new latest version replaces: the current version
        becomes noncurrent (versioned buckets) or goes away (unversioned); in suspended
        buckets the ``null`` version, wherever it is, is replaced (S3: at most one ``null``)."""
        ops: list[Put | Delete] = []
        if brec.versioning == "":
            if current is not None:
                ops.append(Delete(md.version_key(brec.name, key, current.seq)))
                ops += self._unref_ops(current)
            return ops
        if current is not None and (brec.versioning == "Enabled"
                                    or current.version_id != "null"):
            # Kept as a noncurrent version: its full record replaces the ``@`` stub.
            ops.append(Put(md.version_key(brec.name, key, current.seq), current.encode()))
        if brec.versioning == "Suspended":
            for vk, r in self._versions(brec.name, key):
                if r.version_id == "null":
                    ops += [Delete(vk), *self._unref_ops(r)]
                    break
        return ops

    def _find_version(self, bucket: str, key: str,
                      version_id: str) -> tuple[bytes, ObjectRecord, bool] | None:
        """(V key, record, is latest) of one version, or None."""
        try:
            seq = md.version_id_seq(version_id)
        except ValueError:
            raise InvalidArgument("Invalid version id specified", ArgumentName="versionId",
                                  ArgumentValue=version_id) from None
        first = True
        if seq is None:
            for vk, r in self._versions(bucket, key):
                if r.version_id == "null":
                    return vk, r, first
                first = False
            return None
        vkey = md.version_key(bucket, key, seq)
        raw = self.meta.get(vkey)
        if raw is None:
            return None
        rec = self._resolve(bucket, key, raw)
        if rec.version_id != version_id:
            return None
        latest = next(iter(self._versions(bucket, key)), None)
        return vkey, rec, latest is not None and latest[0] == vkey

    def _unref_ops(self, old: ObjectRecord) -> list[Put | Delete]:
        due = time.time_ns() + int(self.gc_grace * 1e9)
        ops: list[Put | Delete] = []
        for p in old.parts:
            ops.append(Delete(md.data_key(p.data_id)))
            ops.append(Put(md.garbage_key(due, p.data_id),
                           md.encode_ref(p)))
        return ops

    def _discard(self, ref: DataRef) -> None:
        """Delete blobs of data that never became visible (a failed commit)."""
        for i, drive_id in enumerate(ref.drives):
            d = self.drives.get(drive_id) if drive_id else None
            if d is not None:
                with contextlib.suppress(DriveError):  # the orphan collector gets it later
                    d.delete(ref.blob_id(i))

    def head_object(self, bucket: str, key: str,
                    version_id: str | None = None) -> ObjectRecord:
        """The current version, or the version asked for. A delete marker answers as S3
        does: ``NoSuchKey`` (latest) or ``MethodNotAllowed`` (asked for by id), both with
        ``x-amz-delete-marker: true``."""
        check_key(key)
        if version_id is not None:
            self.head_bucket(bucket)
            found = self._find_version(bucket, key, version_id)
            if found is None:
                raise NoSuchVersion(Key=key, VersionId=version_id)
            rec = found[1]
            if rec.delete_marker:
                err = MethodNotAllowed(Method="GET", ResourceType="DeleteMarker")
                err.headers.update(_marker_headers(rec))
                raise err
            return rec
        raw = self.meta.get(md.object_key(bucket, key))
        if raw is None:
            self.head_bucket(bucket)
            err = NoSuchKey(Key=key)
            latest = next(iter(self._versions(bucket, key)), None)
            if latest is not None and latest[1].delete_marker:
                err.headers.update(_marker_headers(latest[1]))
            raise err
        return ObjectRecord.decode(raw)

    def set_tags(self, bucket: str, key: str, version_id: str | None,
                  tags: dict[str, str]) -> ObjectRecord:
        """Replace the tag set of the current version (or of ``version_id``) in place: tags
        are metadata about a version, not a new version (PutObjectTagging)."""
        with self._lock(bucket, key):
            rec = replace(self.head_object(bucket, key, version_id), tags=dict(tags))
            okey = md.object_key(bucket, key)
            cur = self._current(bucket, key)
            if cur is not None and cur.seq == rec.seq and cur.version_id == rec.version_id:
                self.meta.put(okey, rec.encode(), sync=True)
            else:  # a noncurrent version: its record lives under its V key
                self.meta.put(md.version_key(bucket, key, rec.seq), rec.encode(), sync=True)
        return rec

    def open_object(self, bucket: str, key: str, byte_range: tuple[int | None, int | None]
                    | None = None, version_id: str | None = None,
                    ) -> tuple[ObjectRecord, int, int, Iterator[bytes]]:
        """Record, (start, end) served and a lazy stream of the bytes. ``byte_range`` is an
        HTTP range ``(first, last)`` inclusive, ``(None, n)`` for a suffix of n bytes."""
        rec = self.head_object(bucket, key, version_id)
        start, end = _resolve_range(byte_range, rec.size)
        with self._stats_lock:
            self.stats.gets += 1
            self.stats.bytes_out += end - start
        return rec, start, end, self._stream(rec, start, end)

    def _stream(self, rec: ObjectRecord, start: int, end: int) -> Iterator[bytes]:
        if rec.inline:
            yield base64.b64decode(rec.inline)[start:end]
            return
        base = 0
        for part in rec.parts:
            lo, hi = max(start, base), min(end, base + part.length)
            if lo < hi:
                yield from self.reader.read(part, lo - base, hi - base)
            base += part.length

    def get_object(self, bucket: str, key: str,
                   byte_range: tuple[int | None, int | None] | None = None,
                   version_id: str | None = None) -> bytes:
        _, _, _, stream = self.open_object(bucket, key, byte_range, version_id)
        return b"".join(stream)

    def delete_object(self, bucket: str, key: str, version_id: str | None = None, *,
                      expected_seq: int | None = None) -> DeleteResult:
        """Delete as S3 does. Without a version id: unversioned buckets drop the key (absent
        keys succeed), versioned ones add a delete marker (suspended: the ``null`` marker,
        replacing the ``null`` version). With one: that version is gone for good, and when it
        was the latest the next newest becomes current. ``expected_seq`` deletes only if the
        current version is still that one (lifecycle expiry racing an overwrite)."""
        check_key(key)
        okey = md.object_key(bucket, key)
        with self._lock(bucket, key):
            brec = self.head_bucket(bucket)
            if version_id is not None:
                result = self._delete_version(bucket, key, version_id)
            else:
                current = self._current(bucket, key)
                if expected_seq is not None and (current is None or current.seq != expected_seq):
                    return DeleteResult(None, False, False)  # lifecycle: changed since judged
                ops: list[Put | Delete] = self._make_room(brec, key, current)
                if brec.versioning == "":
                    if current is None:
                        return DeleteResult(None, False, False)
                    ops.append(Delete(okey))
                    result = DeleteResult(None, False)
                else:
                    seq = self._next_seq(bucket, key, current)
                    vid = md.new_version_id(seq) if brec.versioning == "Enabled" else "null"
                    marker = ObjectRecord(bucket, key, vid, 0, "", self.clock(), seq=seq,
                                          delete_marker=True, content_type="")
                    if current is not None:
                        ops.append(Delete(okey))
                    ops.append(Put(md.version_key(bucket, key, seq), marker.encode()))
                    result = DeleteResult(vid, True)
                self.meta.write_batch(ops, sync=True)
        with self._stats_lock:
            self.stats.deletes += 1
        return result

    def _delete_version(self, bucket: str, key: str, version_id: str) -> DeleteResult:
        """Under the key's lock: remove one version; promote the next one if it was latest."""
        found = self._find_version(bucket, key, version_id)
        if found is None:  # S3: deleting a version that does not exist succeeds
            return DeleteResult(version_id, False, False)
        vkey, rec, latest = found
        ops: list[Put | Delete] = [Delete(vkey), *self._unref_ops(rec)]
        if latest:
            nxt = next(itertools.islice(self._versions(bucket, key), 1, 2), None)
            okey = md.object_key(bucket, key)
            if nxt is None or nxt[1].delete_marker:
                ops.append(Delete(okey))
            else:
                ops += [Put(okey, nxt[1].encode()), Put(nxt[0], md.CURRENT)]
        self.meta.write_batch(ops, sync=True)
        return DeleteResult(version_id, rec.delete_marker)

    def list_versions(self, bucket: str, prefix: str = "", delimiter: str = "",
                      max_keys: int = 1000, key_marker: str = "",
                      version_id_marker: str = "") -> VersionsPage:
        """ListObjectVersions: every version and delete marker, keys in byte order, each
        key's versions newest first, resuming after (key-marker, version-id-marker)."""
        self.head_bucket(bucket)
        if max_keys < 0:
            raise InvalidArgument("max-keys must be non-negative")
        base = md.versions_prefix(bucket)
        lo = base + prefix.encode()
        hi = md.prefix_end(lo)
        prev_key: str | None = None  # the key of the last entry seen (is-latest tracking)
        if max_keys == 0:
            return VersionsPage([], [], False, None, None)
        if key_marker:
            if version_id_marker:
                found = self._find_version(bucket, key_marker, version_id_marker)
                if found is None:
                    raise InvalidArgument("Invalid version id specified",
                                          ArgumentName="version-id-marker")
                start = found[0] + b"\x00"
                prev_key = key_marker
            else:
                start = md.prefix_end(md.key_versions_prefix(bucket, key_marker))
            lo = max(lo, start)
        entries: list[tuple[ObjectRecord, bool]] = []
        prefixes: list[str] = []
        last: tuple[str, str] | None = None

        def full() -> bool:
            return len(entries) + len(prefixes) >= max_keys

        seeking = False
        while lo < hi:
            advanced = False
            skip, skipped = b"", 0
            for vkey, raw in self._seek(lo, hi, seeking):
                seeking = True
                if skip and vkey.startswith(skip):  # as in list_objects
                    skipped += 1
                    if skipped > SKIP_BEFORE_SEEK:
                        lo = md.prefix_end(skip)
                        advanced = True
                        break
                    continue
                key, _ = md.split_version_key(vkey, bucket)
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        cp = key[: cut + len(delimiter)]
                        if not (key_marker and cp.encode() <= key_marker.encode()):
                            if full():
                                return VersionsPage(entries, prefixes, True, *(last or
                                                                               (None, None)))
                            prefixes.append(cp)
                            last = (cp, "")
                        skip, skipped = base + cp.encode(), 0
                        continue
                if full():
                    return VersionsPage(entries, prefixes, True, *(last or (None, None)))
                rec = self._resolve(bucket, key, raw)
                entries.append((rec, key != prev_key))
                prev_key = key
                last = (key, rec.version_id)
            if not advanced:
                break
        return VersionsPage(entries, prefixes, False, None, None)

    # -- listing -----------------------------------------------------------------------------
    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "",
                     max_keys: int = 1000, start_after: str = "") -> ListPage:
        """Keys in UTF-8 byte order, as S3 lists them, with common prefixes rolled up."""
        self.head_bucket(bucket)
        if max_keys < 0:
            raise InvalidArgument("max-keys must be non-negative")
        if max_keys == 0:  # S3: an empty page that is not truncated
            return ListPage([], [], False, None)
        base = md.object_prefix(bucket)
        lo = base + prefix.encode()
        hi = md.prefix_end(lo)
        if start_after and base + start_after.encode() >= lo:
            lo = base + start_after.encode() + b"\x00"  # strictly after
        contents: list[ObjectRecord] = []
        prefixes: list[str] = []
        last: str | None = None
        seeking = False
        while lo < hi:
            advanced = False
            skip, skipped = b"", 0
            for k, v in self._seek(lo, hi, seeking):
                seeking = True
                if skip and k.startswith(skip):
                    # Under the common prefix just emitted: step over a few keys in this
                    # scan, then skip the rest of them with one new seek.
                    skipped += 1
                    if skipped > SKIP_BEFORE_SEEK:
                        lo = md.prefix_end(skip)
                        advanced = True
                        break
                    continue
                key = k[len(base):].decode()
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        cp = key[: cut + len(delimiter)]
                        # A prefix at or before the marker was returned on an earlier page
                        # (S3 resumes after a NextMarker that is a common prefix).
                        if cp.encode() > start_after.encode():
                            if len(contents) + len(prefixes) >= max_keys:
                                return ListPage(contents, prefixes, True, last)
                            prefixes.append(cp)
                            last = cp
                        skip, skipped = base + cp.encode(), 0
                        continue
                if len(contents) + len(prefixes) >= max_keys:
                    return ListPage(contents, prefixes, True, last)
                contents.append(ObjectRecord.decode(v))
                last = key
            if not advanced:
                break
        return ListPage(contents, prefixes, False, None)

    def _seek(self, lo: bytes, hi: bytes, probe: bool) -> Iterator[tuple[bytes, bytes]]:
        """``meta.scan(lo, hi)``. Starting a scan costs binary searches (the LSM memtable's
        ranges are lazy, SSTables are read block by block), so a delimiter listing can seek
        past each common prefix instead of walking its keys. ``probe`` is kept for callers
        that mark seeks after the first (no longer needs different handling)."""
        del probe
        return self.meta.scan(lo, hi)

    # -- garbage collection ------------------------------------------------------------------
    def collect_garbage(self, now_ns: int | None = None) -> int:
        """Delete the blobs of data unreferenced at least ``gc_grace`` ago; returns blobs
        deleted. A queue entry is removed only after every drive confirmed its delete."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        hi = md.garbage_key(now_ns, "")
        deleted = 0
        for k, v in list(self.meta.scan(md.GARBAGE, hi)):
            ref = md.decode_ref(v)
            if self.meta.get(md.data_key(ref.data_id)) is not None:
                self.meta.delete(k, sync=True)  # re-referenced (cannot happen today; be safe)
                continue
            ok = True
            for i in range(ref.k + ref.m):
                for d in self.drives.values():  # healed shards may live on other drives
                    try:
                        deleted += d.delete(ref.blob_id(i))
                    except DriveError:
                        ok = False
            if ok:
                self.meta.delete(k, sync=True)
        with self._stats_lock:
            self.stats.gc_deleted_blobs += deleted
        return deleted

    def collect_orphans(self, now_ns: int | None = None) -> int:
        """Delete blobs that no metadata refers to and that are older than
        ``orphan_window`` (writes that crashed or failed before their commit). Younger blobs
        may belong to a write still in flight, so they are left alone."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        horizon = now_ns - int(self.orphan_window * 1e9)
        deleted = 0
        for d in self.drives.values():
            try:
                blobs = list(d.list())
            except DriveError:
                continue
            for blob in blobs:
                data_id = blob.split(".", 1)[0]
                try:
                    born = data_id_time_ns(data_id)
                except ValueError:
                    continue
                if born > horizon or self.meta.get(md.data_key(data_id)) is not None:
                    continue
                with contextlib.suppress(DriveError):
                    deleted += d.delete(blob)
        with self._stats_lock:
            self.stats.gc_deleted_blobs += deleted
        return deleted


class _Chain:
    """``head`` bytes already read, then the rest of a stream."""

    def __init__(self, head: bytes, rest: BinaryIO | bytes) -> None:
        self.head = head
        self.rest: BinaryIO = io.BytesIO(rest) if isinstance(rest, bytes | bytearray |
                                                             memoryview) else rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0 or n >= len(self.head):
                out, self.head = self.head, b""
            else:
                out, self.head = self.head[:n], self.head[n:]
            return out
        return self.rest.read(n)


def _marker_headers(rec: ObjectRecord) -> dict[str, str]:
    import email.utils

    return {"x-amz-delete-marker": "true", "x-amz-version-id": rec.version_id,
            "Last-Modified": email.utils.formatdate(rec.last_modified, usegmt=True)}


def _etag_matches(condition: str, etag: str) -> bool:
    tags = [t.strip() for t in condition.split(",")]
    return any(t == "*" or t.strip('"') == etag.strip('"') for t in tags)


def _resolve_range(byte_range: tuple[int | None, int | None] | None,
                   size: int) -> tuple[int, int]:
    if byte_range is None:
        return 0, size
    first, last = byte_range
    if first is None:  # suffix: the last `last` bytes
        if last is None or last <= 0:
            raise InvalidRange(ActualObjectSize=str(size))
        return max(0, size - last), size
    if first >= size:
        raise InvalidRange(ActualObjectSize=str(size))
    end = size if last is None else min(last + 1, size)
    if end <= first:
        raise InvalidRange(ActualObjectSize=str(size))
    return first, end


__all__ = ["DeleteResult", "ListPage", "ObjectStore", "StoreStats", "VersionsPage",
           "check_bucket_name", "check_key", "new_data_id"]
