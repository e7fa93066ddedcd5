"""The metadata model: buckets, object records and the data they point to, in a cairn engine.

Everything a client can observe about an object, except its bytes, is one record in an
ordered cairn storage engine (the LSM tree by default). The namespace is flat: an object key is
bytes after its bucket name, and slashes are just characters, so a listing with a prefix is a
range scan and "directories" (common prefixes) are computed while scanning, as S3 does.

Key layout (bucket names cannot contain NUL, object keys are refused with one, and UTF-8 never
contains the byte 0xFF, which makes ``prefix + b"\\xff"`` an exclusive upper bound of every key
that starts with ``prefix``):

======================================  ==============================================
``B`` bucket                            :class:`BucketRecord`
``O`` bucket NUL key                    :class:`ObjectRecord`, the current version (absent when
                                        the key's latest version is a delete marker)
``V`` bucket NUL key NUL ~seq (16 hex)  every version of the key, newest first: ``@`` for the
                                        current one (its record is the ``O`` value), else the
                                        full record of a noncurrent version or delete marker
``D`` data_id                           the ``V`` key of the version referring to it (GC keeps it)
``G`` due-time(16 hex) data_id          :class:`DataRef` that no record refers to any more
======================================  ==============================================

A write becomes visible in one atomic ``write_batch``: the new record, its ``V`` entry, its ``D``
marker, and (when the version it replaces is gone for good) the old data's move from ``D`` to the
``G`` queue. ``O`` is a copy of the latest live version kept for the hot paths (GET without a
version id, ListObjects is one range scan with no delete markers to skip); ``V`` is the whole
history that ListObjectVersions scans. Every bucket writes ``V``, versioned or not, so a bucket
that later enables versioning needs no migration and ListObjectVersions works everywhere (an
unversioned key has exactly one ``V`` entry, its ``null`` version).

Data is always written (and fsynced) to the drives *before* that batch, so a record never
points at data that is not there.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

BUCKET, OBJECT, DATA, GARBAGE, VERSION = b"B", b"O", b"D", b"G", b"V"
CURRENT = b"@"  # V value of the current version: its record is the O value
MAX_SEQ = (1 << 64) - 1


@dataclass(frozen=True)
class DataRef:
    """Where one contiguous piece of object data lives: ``drives[i]`` holds shard i (None when
    the shard could not be written and awaits the healer)."""

    data_id: str
    k: int
    m: int
    stripe_size: int
    length: int
    drives: tuple[str | None, ...]

    def blob_id(self, index: int) -> str:
        return f"{self.data_id}.{index}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["drives"] = list(self.drives)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DataRef:
        return cls(d["data_id"], d["k"], d["m"], d["stripe_size"], d["length"],
                   tuple(d["drives"]))


@dataclass(frozen=True)
class BucketRecord:
    name: str
    created: float
    versioning: str = ""  # "", "Enabled" or "Suspended" (S3's three states)


@dataclass(frozen=True)
class ObjectRecord:
    bucket: str
    key: str
    version_id: str
    size: int
    etag: str  # quoted, as S3 returns it
    last_modified: float
    content_type: str = "binary/octet-stream"
    user_meta: dict[str, str] = field(default_factory=dict)
    parts: tuple[DataRef, ...] = ()
    checksums: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # Cache-Control, Content-Encoding...
    inline: str = ""  # base64 of a small object's bytes, kept in the record (no parts)
    seq: int = 0  # orders the key's versions (nanosecond clock, strictly increasing per key)
    delete_marker: bool = False
    checksum_type: str = ""  # COMPOSITE or FULL_OBJECT for a multipart object's checksum
    tags: dict[str, str] = field(default_factory=dict)  # object tagging (S3 TagSet)

    def encode(self) -> bytes:
        d = asdict(self)
        d["parts"] = [p.to_json() for p in self.parts]
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> ObjectRecord:
        d = json.loads(raw)
        d["parts"] = tuple(DataRef.from_json(p) for p in d["parts"])
        return cls(**d)


def encode_ref(ref: DataRef) -> bytes:
    return json.dumps(ref.to_json(), separators=(",", ":")).encode()


def decode_ref(raw: bytes) -> DataRef:
    return DataRef.from_json(json.loads(raw))


def encode_bucket(rec: BucketRecord) -> bytes:
    return json.dumps(asdict(rec), separators=(",", ":")).encode()


def decode_bucket(raw: bytes) -> BucketRecord:
    return BucketRecord(**json.loads(raw))


def bucket_key(bucket: str) -> bytes:
    return BUCKET + bucket.encode()


def object_prefix(bucket: str) -> bytes:
    return OBJECT + bucket.encode() + b"\x00"


def object_key(bucket: str, key: str) -> bytes:
    return object_prefix(bucket) + key.encode()


def versions_prefix(bucket: str) -> bytes:
    return VERSION + bucket.encode() + b"\x00"


def key_versions_prefix(bucket: str, key: str) -> bytes:
    return versions_prefix(bucket) + key.encode() + b"\x00"


def version_key(bucket: str, key: str, seq: int) -> bytes:
    """Inverted sequence: a forward scan meets the newest version first."""
    return key_versions_prefix(bucket, key) + f"{MAX_SEQ - seq:016x}".encode()


def split_version_key(vkey: bytes, bucket: str) -> tuple[str, int]:
    """(object key, seq) of a ``V`` key of ``bucket``."""
    rest = vkey[len(versions_prefix(bucket)):]
    return rest[:-17].decode(), MAX_SEQ - int(rest[-16:], 16)


def data_key(data_id: str) -> bytes:
    return DATA + data_id.encode()


def garbage_key(due_ns: int, data_id: str) -> bytes:
    return GARBAGE + f"{due_ns:016x}".encode() + data_id.encode()


def prefix_end(prefix: bytes) -> bytes:
    """Exclusive upper bound of every key starting with ``prefix`` (see module doc)."""
    return prefix + b"\xff"


def new_version_id(seq: int) -> str:
    """32 characters: the sequence (so a lookup by id is one point read) + 64 random bits (so
    ids of different keys or of a recreated bucket never collide or become guessable)."""
    return f"{seq:016x}{secrets.token_hex(8)}"


def version_id_seq(version_id: str) -> int | None:
    """The sequence inside a version id, None for ``null``; ValueError when malformed."""
    if version_id == "null":
        return None
    if len(version_id) != 32 or not all(c in "0123456789abcdef" for c in version_id):
        raise ValueError(version_id)
    return int(version_id[:16], 16)


def config_key(bucket: str, kind: str) -> bytes:
    """``C`` bucket NUL kind: a bucket sub-resource document (lifecycle rules...)."""
    return b"C" + bucket.encode() + b"\x00" + kind.encode()
