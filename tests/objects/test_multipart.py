"""Multipart uploads in the store: stitching, S3's validation rules, ETag, abort and GC."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cairn.objects import errors
from cairn.objects.multipart import Multipart
from cairn.objects.store import ObjectStore

from .conftest import STRIPE, make_store


def blobs(root: Path) -> int:
    return sum(1 for p in (root / "drives").rglob("*") if p.is_file() and "blobs" in p.parts)


@pytest.fixture
def mp(tmp_path: Path) -> tuple[ObjectStore, Multipart]:
    s = make_store(tmp_path)
    s.create_bucket("bkt")
    return s, Multipart(s, min_part_size=STRIPE)


def test_complete_stitches_parts_in_order(mp: tuple[ObjectStore, Multipart],
                                          tmp_path: Path) -> None:
    s, m = mp
    up = m.create("bkt", "big", content_type="text/plain", user_meta={"a": "1"})
    parts = [os.urandom(STRIPE + 100), os.urandom(STRIPE * 2), os.urandom(10)]
    etags = [m.upload_part("bkt", "big", up.upload_id, i + 1, p).etag
             for i, p in enumerate(parts)]
    m.upload_part("bkt", "big", up.upload_id, 2, parts[1])  # re-upload replaces part 2
    assert [p.number for p in m.list_parts("bkt", "big", up.upload_id)] == [1, 2, 3]
    assert [u.upload_id for u in m.list_uploads("bkt")] == [up.upload_id]
    with pytest.raises(errors.NoSuchKey):
        s.head_object("bkt", "big")  # invisible until complete
    rec = m.complete("bkt", "big", up.upload_id, list(zip([1, 2, 3], etags, strict=True)))
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert rec.etag == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    whole = b"".join(parts)
    assert s.get_object("bkt", "big") == whole and rec.content_type == "text/plain"
    assert s.get_object("bkt", "big", (STRIPE, 3 * STRIPE + 50)) == whole[STRIPE:3 * STRIPE + 51]
    assert m.list_uploads("bkt") == []
    with pytest.raises(errors.NoSuchUpload):
        m.list_parts("bkt", "big", up.upload_id)
    s.collect_garbage()  # the replaced part 2
    assert blobs(tmp_path) == 3 * 6
    s.delete_object("bkt", "big")
    s.collect_garbage()
    assert blobs(tmp_path) == 0


def test_validation(mp: tuple[ObjectStore, Multipart]) -> None:
    s, m = mp
    up = m.create("bkt", "k")
    e1 = m.upload_part("bkt", "k", up.upload_id, 1, b"small").etag
    e2 = m.upload_part("bkt", "k", up.upload_id, 2, b"x" * STRIPE).etag
    with pytest.raises(errors.S3Error) as e:
        m.complete("bkt", "k", up.upload_id, [(2, e2), (1, e1)])
    assert e.value.code == "InvalidPartOrder"
    with pytest.raises(errors.S3Error) as e:
        m.complete("bkt", "k", up.upload_id, [(1, e1), (3, e2)])
    assert e.value.code == "InvalidPart"
    with pytest.raises(errors.S3Error) as e:
        m.complete("bkt", "k", up.upload_id, [(1, '"0000"')])
    assert e.value.code == "InvalidPart"
    with pytest.raises(errors.S3Error) as e:
        m.complete("bkt", "k", up.upload_id, [(1, e1), (2, e2)])
    assert e.value.code == "EntityTooSmall"
    with pytest.raises(errors.InvalidArgument):
        m.upload_part("bkt", "k", up.upload_id, 10001, b"")
    with pytest.raises(errors.NoSuchUpload):
        m.upload_part("bkt", "k", "nope", 1, b"")
    rec = m.complete("bkt", "k", up.upload_id, [(2, e2)])  # a subset is fine
    assert rec.size == STRIPE and s.get_object("bkt", "k") == b"x" * STRIPE


def test_abort_reclaims_parts(mp: tuple[ObjectStore, Multipart], tmp_path: Path) -> None:
    s, m = mp
    up = m.create("bkt", "gone")
    for n in (1, 2):
        m.upload_part("bkt", "gone", up.upload_id, n, os.urandom(1000))
    assert blobs(tmp_path) == 12
    m.abort("bkt", "gone", up.upload_id)
    with pytest.raises(errors.NoSuchUpload):
        m.abort("bkt", "gone", up.upload_id)
    with pytest.raises(errors.NoSuchUpload):
        m.complete("bkt", "gone", up.upload_id, [(1, '"x"')])
    assert s.collect_garbage() == 12 and blobs(tmp_path) == 0
    assert s.collect_orphans(now_ns=2**62) == 0
