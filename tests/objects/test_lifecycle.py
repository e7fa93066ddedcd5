"""Lifecycle rules: the configuration over boto3, and expiry applied by the maintenance loop
with a clock the test moves (days pass in microseconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cairn.objects import lifecycle
from cairn.objects.maintenance import Maintenance
from cairn.objects.multipart import Multipart
from cairn.objects.store import ObjectStore

from .conftest import make_store
from .s3server import client, running_server

DAY = 86400.0


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_server(tmp_path_factory.mktemp("s3l")) as url:
        c = client(url)
        c.create_bucket(Bucket="life")
        yield c


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


RULES = [
    {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
     "Expiration": {"Days": 7}, "NoncurrentVersionExpiration": {"NoncurrentDays": 3}},
    {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    {"ID": "big", "Filter": {"And": {"Prefix": "tmp/", "ObjectSizeGreaterThan": 10}},
     "Status": "Disabled", "Expiration": {"Days": 1}},
]


def test_configuration_round_trip_and_errors(s3: Any) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="life")
    assert code(e) == "NoSuchLifecycleConfiguration"
    s3.put_bucket_lifecycle_configuration(Bucket="life",
                                          LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket="life")["Rules"]
    assert [r["ID"] for r in got] == ["logs", "uploads", "big"]
    assert got[0]["Expiration"] == {"Days": 7} and got[0]["Filter"] == {"Prefix": "logs/"}
    assert got[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    assert got[1]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert got[2]["Status"] == "Disabled"
    assert got[2]["Filter"]["And"] == {"Prefix": "tmp/", "ObjectSizeGreaterThan": 10}
    bad: list[tuple[list[dict[str, Any]], str]] = [
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
           "Expiration": {"Days": 0}}], "InvalidArgument"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled"}], "MalformedXML"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}},
          {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
           "Expiration": {"Days": 2}}], "InvalidArgument"),
        ([{"ID": "x", "Filter": {"Tag": {"Key": "a", "Value": "b"}}, "Status": "Enabled",
           "Expiration": {"Days": 1}}], "NotImplemented"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
           "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}], "NotImplemented"),
    ]
    for rules, want in bad:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket="life",
                                                  LifecycleConfiguration={"Rules": rules})
        assert code(e) == want, rules
    # A refused configuration left the previous one in place.
    assert len(s3.get_bucket_lifecycle_configuration(Bucket="life")["Rules"]) == 3
    s3.delete_bucket_lifecycle(Bucket="life")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="life")
    assert code(e) == "NoSuchLifecycleConfiguration"


def test_due_rounds_up_to_midnight_utc() -> None:
    noon = 10 * DAY + DAY / 2
    assert lifecycle.due(noon, 1) == 12 * DAY
    assert lifecycle.due(10 * DAY, 1) == 11 * DAY


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    s = make_store(tmp_path, inline_max=1024)
    s.create_bucket("bkt")
    yield s
    s.close()


def _rules(store: ObjectStore, rules: list[lifecycle.Rule]) -> None:
    store.put_bucket_config("bkt", "lifecycle", lifecycle.encode(rules))


def test_expiration_of_current_objects_by_the_maintenance_loop(store: ObjectStore) -> None:
    now = [time.time()]
    loop = Maintenance(store, clock=lambda: now[0], lifecycle_interval=1.0)
    store.put_object("bkt", "logs/a", b"a")
    store.put_object("bkt", "logs/b", b"b" * 5000)
    store.put_object("bkt", "keep/c", b"c")
    _rules(store, [lifecycle.Rule("r", True, prefix="logs/", expiration_days=2),
                   lifecycle.Rule("off", False, prefix="keep/", expiration_days=1)])
    tick = time.monotonic()
    now[0] += 1 * DAY  # not yet due
    loop.run_due(tick + 10)
    assert [r.key for r in store.list_objects("bkt").contents] == ["keep/c", "logs/a", "logs/b"]
    now[0] += 2 * DAY
    loop.run_due(tick + 20)
    assert [r.key for r in store.list_objects("bkt").contents] == ["keep/c"]
    assert loop.stats.lifecycle["expired"] == 2 and loop.stats.errors == {}
    assert store.collect_garbage() == 6  # the 5000-byte object's shards


def test_size_filter_and_date(store: ObjectStore) -> None:
    store.put_object("bkt", "t/small", b"s")
    store.put_object("bkt", "t/large", b"L" * 100)
    _rules(store, [lifecycle.Rule("big", True, prefix="t/", size_gt=10, expiration_days=1)])
    lifecycle.apply(store, time.time() + 3 * DAY)
    assert [r.key for r in store.list_objects("bkt").contents] == ["t/small"]
    _rules(store, [lifecycle.Rule("d", True, expiration_date="2001-01-01T00:00:00.000Z")])
    assert lifecycle.apply(store, time.time()).expired == 1
    assert store.list_objects("bkt").contents == []


def test_versioned_expiry_noncurrent_and_markers(store: ObjectStore) -> None:
    store.set_versioning("bkt", "Enabled")
    t0 = time.time()
    store.clock = lambda: t0
    store.put_object("bkt", "k", b"1")
    store.clock = lambda: t0 + 10 * DAY  # v1 becomes noncurrent on day 10
    v2 = store.put_object("bkt", "k", b"2").version_id
    store.clock = lambda: t0 + 11 * DAY
    v3 = store.put_object("bkt", "k", b"3").version_id
    _rules(store, [lifecycle.Rule("nc", True, noncurrent_days=5, newer_noncurrent=None,
                                  expiration_days=30, expired_object_delete_marker=False)])
    # Day 14: v1 has been noncurrent 4 days, v2 3 days: nothing goes.
    assert lifecycle.apply(store, t0 + 14 * DAY).noncurrent_removed == 0
    # Day 16: v1 (noncurrent since day 10) goes; v2 (since day 11) stays until day 17.
    assert lifecycle.apply(store, t0 + 16 * DAY + 1).noncurrent_removed == 1
    assert [r.version_id for r, _ in store.list_versions("bkt").entries] == [v3, v2]
    # Day 42: v3 expires behind a delete marker (versioned: nothing is lost yet) and v2 goes.
    store.clock = lambda: t0 + 42 * DAY  # the marker is created "now"
    rep = lifecycle.apply(store, t0 + 42 * DAY + 1)
    assert rep.expired == 1 and rep.noncurrent_removed == 1
    entries = store.list_versions("bkt").entries
    assert [(r.delete_marker, latest) for r, latest in entries] == [(True, True), (False, False)]
    assert entries[1][0].version_id == v3
    # Later: v3 goes too; then the lone marker is removed by ExpiredObjectDeleteMarker.
    lifecycle.apply(store, t0 + 100 * DAY)
    assert [r.delete_marker for r, _ in store.list_versions("bkt").entries] == [True]
    _rules(store, [lifecycle.Rule("m", True, expired_object_delete_marker=True)])
    assert lifecycle.apply(store, t0 + 100 * DAY).markers_removed == 1
    assert store.list_versions("bkt").entries == []
    store.delete_bucket("bkt")


def test_newer_noncurrent_versions_are_kept(store: ObjectStore) -> None:
    store.set_versioning("bkt", "Enabled")
    vids = [store.put_object("bkt", "k", bytes([i])).version_id for i in range(5)]
    _rules(store, [lifecycle.Rule("n", True, noncurrent_days=1, newer_noncurrent=2)])
    assert lifecycle.apply(store, time.time() + 5 * DAY).noncurrent_removed == 2
    assert [r.version_id for r, _ in store.list_versions("bkt").entries] == vids[::-1][:3]


def test_abort_incomplete_multipart_uploads(store: ObjectStore) -> None:
    mp = Multipart(store, min_part_size=1)
    old = mp.create("bkt", "big/old")
    mp.upload_part("bkt", "big/old", old.upload_id, 1, b"x" * 5000)
    _rules(store, [lifecycle.Rule("a", True, prefix="big/", abort_days=1)])
    assert lifecycle.apply(store, time.time()).uploads_aborted == 0
    assert lifecycle.apply(store, time.time() + 2 * DAY + 1).uploads_aborted == 1
    assert mp.list_uploads("bkt") == []
    assert store.collect_garbage() == 6


def test_expiry_never_removes_an_object_overwritten_after_judgement(store: ObjectStore) -> None:
    old = store.put_object("bkt", "race", b"old")
    store.put_object("bkt", "race", b"new")
    # What the lifecycle job judged expired was `old`; the key now holds a newer object.
    assert not store.delete_object("bkt", "race", expected_seq=old.seq).changed
    assert store.get_object("bkt", "race") == b"new"
