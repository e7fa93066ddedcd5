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
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

from cairn.objects import metadata as md
from cairn.objects.datapath import DataReader, DataWriter, data_id_time_ns, new_data_id
from cairn.objects.drives import Drive, LocalDrive
from cairn.objects.erasure import ReedSolomon
from cairn.objects.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    DriveError,
    InvalidArgument,
    InvalidBucketName,
    InvalidRange,
    KeyTooLongError,
    NoSuchBucket,
    NoSuchKey,
    PreconditionFailed,
)
from cairn.objects.metadata import BucketRecord, DataRef, ObjectRecord
from cairn.objects.placement import DriveSpec, rank
from cairn.storage import Delete, Engine, Put, open_engine

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
STREAM_CHUNK = 1024 * 1024
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
                 inline_max: int = 16 * 1024) -> None:
        os.makedirs(path, exist_ok=True)
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
        self._pool = ThreadPoolExecutor(max_workers=max(8, 2 * (k + m)),
                                        thread_name_prefix="cairn-objects")
        self._locks = [threading.Lock() for _ in range(64)]
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
        with self._locks[0]:
            self.head_bucket(name)
            prefix = md.object_prefix(name)
            if next(iter(self.meta.scan(prefix, md.prefix_end(prefix))), None) is not None:
                raise BucketNotEmpty(BucketName=name)
            self.meta.delete(md.bucket_key(name), sync=True)

    # -- objects -----------------------------------------------------------------------------
    def write_data(self, body: BinaryIO | bytes, length: int | None = None) -> DataWriter:
        """Stream ``body`` into new shard blobs (step 1 of a put); returns the finished
        writer. Used by puts and by multipart part uploads."""
        data_id = new_data_id()
        ranked = [self.drives[s.drive_id] for s in rank(self._specs, data_id.encode())]
        writer = DataWriter(self.rs, self.stripe_size, ranked, self._pool, self._report,
                            data_id=data_id)
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
                   checksums: Callable[[], dict[str, str]] | None = None) -> ObjectRecord:
        """Store an object. ``checksums`` is called after the body has been read (a
        verifying reader's computed CRC32/CRC32C/SHA-256 values, base64) to record them."""
        check_key(key)
        self.head_bucket(bucket)
        if if_none_match is not None and if_none_match != "*":
            raise InvalidArgument("If-None-Match on PUT accepts only '*'")
        head, rest = self._read_head(body, length)
        common = {"bucket": bucket, "key": key, "version_id": "null",
                  "last_modified": time.time(),
                  "content_type": content_type or "binary/octet-stream",
                  "user_meta": dict(user_meta or {}), "headers": dict(headers or {})}
        if rest is None:  # small: inline in the record, one metadata fsync and no blobs
            md5 = hashlib.md5(head)
            rec = ObjectRecord(size=len(head), etag=f'"{md5.hexdigest()}"',
                               inline=base64.b64encode(head).decode(), checksums={
                                   "MD5": base64.b64encode(md5.digest()).decode(),
                                   **(checksums() if checksums else {})}, **common)
            self._commit(rec, if_none_match=if_none_match, if_match=if_match)
        else:
            writer = self.write_data(_Chain(head, rest) if head else rest, length)
            ref = writer.finish()
            try:
                rec = ObjectRecord(
                    size=ref.length, etag=f'"{writer.md5.hexdigest()}"', parts=(ref,),
                    checksums={"MD5": base64.b64encode(writer.md5.digest()).decode(),
                               **(checksums() if checksums else {})}, **common)
                self._commit(rec, if_none_match=if_none_match, if_match=if_match)
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
                if_match: str | None = None) -> None:
        self._commit_built(rec.bucket, rec.key, lambda: (rec, []),
                           if_none_match=if_none_match, if_match=if_match)

    def _commit_built(self, bucket: str, key: str,
                      build: Callable[[], tuple[ObjectRecord, list[Put | Delete]]], *,
                      if_none_match: str | None = None, if_match: str | None = None) -> None:
        """Make the record ``build`` returns the key's current object, in one atomic batch
        with the extra operations it returns. ``build`` runs under the key's lock (multipart
        complete validates its parts and drops the upload there)."""
        okey = md.object_key(bucket, key)
        with self._lock(bucket, key):
            self.head_bucket(bucket)  # a bucket deleted meanwhile
            rec, more = build()
            old_raw = self.meta.get(okey)
            old = ObjectRecord.decode(old_raw) if old_raw is not None else None
            if if_none_match == "*" and old is not None:
                raise PreconditionFailed("the key already exists", Condition="If-None-Match")
            if if_match is not None and (old is None or not _etag_matches(if_match, old.etag)):
                if old is None:
                    raise NoSuchKey(Key=rec.key)
                raise PreconditionFailed("ETag does not match", Condition="If-Match")
            ops: list[Put | Delete] = [Put(okey, rec.encode())]
            ops += [Put(md.data_key(p.data_id), okey) for p in rec.parts]
            if old is not None:
                ops += self._unref_ops(old)
            self.meta.write_batch([*more, *ops], sync=True)

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

    def head_object(self, bucket: str, key: str) -> ObjectRecord:
        check_key(key)
        raw = self.meta.get(md.object_key(bucket, key))
        if raw is None:
            self.head_bucket(bucket)
            raise NoSuchKey(Key=key)
        return ObjectRecord.decode(raw)

    def open_object(self, bucket: str, key: str, byte_range: tuple[int | None, int | None]
                    | None = None) -> tuple[ObjectRecord, int, int, Iterator[bytes]]:
        """Record, (start, end) served and a lazy stream of the bytes. ``byte_range`` is an
        HTTP range ``(first, last)`` inclusive, ``(None, n)`` for a suffix of n bytes."""
        rec = self.head_object(bucket, key)
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
                   byte_range: tuple[int | None, int | None] | None = None) -> bytes:
        _, _, _, stream = self.open_object(bucket, key, byte_range)
        return b"".join(stream)

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete the key; deleting an absent key succeeds (S3 semantics)."""
        check_key(key)
        okey = md.object_key(bucket, key)
        with self._lock(bucket, key):
            self.head_bucket(bucket)
            raw = self.meta.get(okey)
            if raw is None:
                return
            ops: list[Put | Delete] = [Delete(okey), *self._unref_ops(ObjectRecord.decode(raw))]
            self.meta.write_batch(ops, sync=True)
        with self._stats_lock:
            self.stats.deletes += 1

    # -- listing -----------------------------------------------------------------------------
    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "",
                     max_keys: int = 1000, start_after: str = "") -> ListPage:
        """Keys in UTF-8 byte order, as S3 lists them, with common prefixes rolled up."""
        self.head_bucket(bucket)
        if max_keys < 0:
            raise InvalidArgument("max-keys must be non-negative")
        base = md.object_prefix(bucket)
        lo = base + prefix.encode()
        hi = md.prefix_end(lo)
        if start_after and base + start_after.encode() >= lo:
            lo = base + start_after.encode() + b"\x00"  # strictly after
        contents: list[ObjectRecord] = []
        prefixes: list[str] = []
        last: str | None = None
        while lo < hi:
            advanced = False
            for k, v in self.meta.scan(lo, hi):
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
                        # Skip every key under this common prefix with one new seek.
                        lo = md.prefix_end(base + cp.encode())
                        advanced = True
                        break
                if len(contents) + len(prefixes) >= max_keys:
                    return ListPage(contents, prefixes, True, last)
                contents.append(ObjectRecord.decode(v))
                last = key
            if not advanced:
                break
        return ListPage(contents, prefixes, False, None)

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


__all__ = ["ListPage", "ObjectStore", "StoreStats", "check_bucket_name", "check_key",
           "new_data_id"]
