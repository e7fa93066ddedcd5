"""Listing equals a sorted model, page by page, for any keys, prefix, delimiter and page size
(ListObjects semantics: UTF-8 byte order, common prefixes rolled up, resume after a marker)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.objects.store import ObjectStore

from .conftest import make_store

ALPHABET = "ab/ü."
keys_st = st.sets(st.text(ALPHABET, min_size=1, max_size=6), max_size=25)
_counter = itertools.count()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    s = make_store(tmp_path_factory.mktemp("listing"))
    yield s
    s.close()


def model(keys: set[str], prefix: str, delimiter: str) -> list[tuple[str, bool]]:
    """(name, is_prefix) entries in S3 order."""
    out: list[tuple[str, bool]] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                cp = key[: cut + len(delimiter)]
                if not out or out[-1] != (cp, True):
                    out.append((cp, True))
                continue
        out.append((key, False))
    return out


def list_all(s: ObjectStore, bucket: str, prefix: str, delimiter: str,
             page: int) -> list[tuple[str, bool]]:
    got: list[tuple[str, bool]] = []
    marker = ""
    for _ in range(200):
        res = s.list_objects(bucket, prefix, delimiter, page, marker)
        entries = [(r.key, False) for r in res.contents] + [(p, True) for p in
                                                           res.common_prefixes]
        entries.sort(key=lambda e: e[0].encode())
        assert len(entries) <= page
        got += entries
        if not res.is_truncated:
            return got
        assert res.next_marker is not None and entries
        marker = res.next_marker
    raise AssertionError("listing did not terminate")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=keys_st, prefix=st.text(ALPHABET, max_size=2),
       delimiter=st.sampled_from(["", "/", "b", "ü"]), page=st.integers(1, 7))
def test_listing_matches_sorted_model(shared: ObjectStore, keys: set[str], prefix: str,
                                      delimiter: str, page: int) -> None:
    bucket = f"list-{next(_counter)}"
    shared.create_bucket(bucket)
    for key in keys:
        shared.put_object(bucket, key, key.encode())
    want = model(keys, prefix, delimiter)
    assert list_all(shared, bucket, prefix, delimiter, 1000) == want
    assert list_all(shared, bucket, prefix, delimiter, page) == want


def test_start_after_and_prefix(shared: ObjectStore) -> None:
    shared.create_bucket("start-after")
    for k in ["a", "a/1", "a/2", "b", "c/x"]:
        shared.put_object("start-after", k, b"")
    page = shared.list_objects("start-after", start_after="a/1")
    assert [r.key for r in page.contents] == ["a/2", "b", "c/x"]
    page = shared.list_objects("start-after", delimiter="/", start_after="a")
    assert [r.key for r in page.contents] == ["b"] and page.common_prefixes == ["a/", "c/"]
    page = shared.list_objects("start-after", prefix="a/", max_keys=1)
    assert [r.key for r in page.contents] == ["a/1"] and page.is_truncated
    # The listing reflects a delete at once (strong consistency).
    shared.delete_object("start-after", "b")
    assert [r.key for r in shared.list_objects("start-after").contents] == ["a", "a/1", "a/2",
                                                                            "c/x"]


def test_delimiter_skips_large_and_small_prefixes(store: ObjectStore) -> None:
    """Prefixes larger than the in-scan skip (which then seek, probing windows) and smaller
    ones, mixed with plain keys, page by page, for objects and versions."""
    keys = [f"a/{i:04d}" for i in range(200)] + ["a0", "b/1", "b/2", "c", "d/x/y"]
    keys += [f"e/{i:03d}" for i in range(70)] + ["f"]
    for k in keys:
        store.put_object("bkt", k, b"")
    want = ["a/", "a0", "b/", "c", "d/", "e/", "f"]
    page = store.list_objects("bkt", delimiter="/")
    assert sorted([r.key for r in page.contents] + page.common_prefixes) == want
    got: list[str] = []
    after = ""
    while True:
        p = store.list_objects("bkt", delimiter="/", max_keys=1, start_after=after)
        got += [r.key for r in p.contents] + p.common_prefixes
        if not p.is_truncated:
            break
        after = p.next_marker or ""
    assert got == want
    vp = store.list_versions("bkt", delimiter="/")
    assert sorted([r.key for r, _ in vp.entries] + vp.common_prefixes) == want
