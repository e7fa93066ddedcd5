"""Secondary indexes: non-unique, unique, multi-column and covering, updated atomically with the
row, checked against a model (hypothesis) and under power loss."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from cairn.storage import StorageError, open_engine
from cairn.storage.faults import FaultyFileSystem
from cairn.storage.index import SchemaError, Table, UniqueViolation
from cairn.storage.keycodec import pack

from .kinds import ORDERED_KINDS, small

pytestmark = pytest.mark.parametrize("kind", ORDERED_KINDS)


def people(db) -> Table:
    t = Table(db, "people", "id")
    t.create_index("by_city", ["city"])
    t.create_index("by_email", ["email"], unique=True)
    t.create_index("by_city_age", ["city", "age"], include=["name"])
    return t


def test_lookups_and_updates(kind, make_engine):
    t = people(make_engine(kind, **small(kind)))
    t.put({"id": 1, "name": "Ada", "city": "London", "age": 36, "email": "ada@x"})
    t.put({"id": 2, "name": "Alan", "city": "London", "age": 41, "email": "alan@x"})
    t.put({"id": 3, "name": "Grace", "city": "NYC", "age": 85, "email": "grace@x"})
    assert [r["id"] for r in t.lookup("by_city", "London")] == [1, 2]
    assert [r["name"] for r in t.lookup("by_email", "grace@x")] == ["Grace"]
    assert [r["id"] for r in t.range("by_city_age", ("London", 40), ("London", 99))] == [2]
    # Moving a row moves its index entries, in the same batch.
    t.put({"id": 1, "name": "Ada", "city": "Paris", "age": 37, "email": "ada@x"})
    assert [r["id"] for r in t.lookup("by_city", "London")] == [2]
    assert [r["id"] for r in t.lookup("by_city", "Paris")] == [1]
    assert t.delete(2) and not t.delete(2)
    assert t.lookup("by_city", "London") == []
    assert t.lookup("by_email", "alan@x") == []
    assert t.check() == []


def test_unique_index(kind, make_engine):
    t = people(make_engine(kind, **small(kind)))
    t.put({"id": 1, "name": "Ada", "city": "L", "age": 1, "email": "same@x"})
    with pytest.raises(UniqueViolation, match="by_email") as info:
        t.put({"id": 2, "name": "Eve", "city": "L", "age": 2, "email": "same@x"})
    assert info.value.sqlstate == "23505"
    assert t.get(2) is None, "the refused row was not written"
    assert t.lookup("by_city", "L") == [t.get(1)], "nor any of its index entries"
    t.put({"id": 1, "name": "Ada", "city": "M", "age": 1, "email": "same@x"})  # same row: ok
    # NULLs never conflict in a unique index, as in SQL.
    t.put({"id": 3, "name": "N1", "city": "L", "age": 3, "email": None})
    t.put({"id": 4, "name": "N2", "city": "L", "age": 4, "email": None})
    assert [r["id"] for r in t.lookup("by_email", None)] == [3, 4]
    with pytest.raises(UniqueViolation):
        t.insert({"id": 1, "name": "dup", "city": "L", "age": 0, "email": "other@x"})
    assert t.check() == []


def test_covering_index_answers_without_the_row(kind, make_engine):
    t = people(make_engine(kind, **small(kind)))
    for i in range(20):
        t.put({"id": i, "name": f"p{i}", "city": "C" if i % 2 else "D", "age": i,
               "email": f"{i}@x"})
    before = t.stats.primary_fetches
    rows = t.range("by_city_age", ("C", 5), ("C", 11), columns=["id", "name", "age"])
    assert rows == [{"id": i, "name": f"p{i}", "age": i} for i in (5, 7, 9)]
    assert t.stats.primary_fetches == before, "index-only scan touched the rows"
    assert t.stats.index_only_lookups >= 3
    rows = t.lookup("by_city", "C", columns=["email"])  # not covered: fetches rows
    assert len(rows) == 10 and t.stats.primary_fetches == before + 10
    desc = t.range("by_city_age", ("D",), ("E",), columns=["age"], reverse=True)
    assert [r["age"] for r in desc] == list(range(18, -1, -2))


def test_backfill_catalog_reopen_and_drop(kind, tmp_path: Path):
    path = str(tmp_path / "db")
    with open_engine(kind, path, **small(kind)) as db:
        t = Table(db, "t", ["a", "b"])
        for i in range(300):
            t.put({"a": i % 7, "b": i, "v": f"v{i % 5}"})
        t.create_index("by_v", ["v"])
        with pytest.raises(UniqueViolation):
            t.create_index("uniq_v", ["v"], unique=True)
        assert "uniq_v" not in t.indexes
    with open_engine(kind, path, **small(kind)) as db:
        t = Table(db, "t")
        assert t.primary_key == ("a", "b") and list(t.indexes) == ["by_v"]
        assert len(t.lookup("by_v", "v3")) == 60
        assert t.check() == []
        t.drop_index("by_v")
        with pytest.raises(SchemaError):
            t.lookup("by_v", "v3")
        prefix = pack(("i", "t", "by_v"))
        assert list(db.scan(prefix, prefix + b"\xff")) == []
        with pytest.raises(SchemaError):
            Table(db, "t", "other_pk")
        with pytest.raises(SchemaError):
            Table(db, "missing")


def test_bad_rows_are_refused_whole(kind, make_engine):
    t = people(make_engine(kind, **small(kind)))
    for bad in ({"name": "no id"}, {"id": None}, {"id": 1, "city": ["not", "a", "scalar"]}):
        with pytest.raises(StorageError):
            t.put(bad)
    assert list(t.rows()) == [] and t.check() == []


def test_unordered_engines_are_refused(kind, make_engine):
    with pytest.raises(StorageError, match="ordered"):
        Table(make_engine("log", name="log"), "t", "id")


def test_power_loss_never_splits_row_from_index(kind, tmp_path: Path):
    for seed in range(5):
        fs = FaultyFileSystem()
        path = str(tmp_path / f"db{seed}")
        db = open_engine(kind, path, fs=fs, **small(kind))
        t = people(db)
        rng = random.Random(seed)
        for i in range(150):
            t.put({"id": rng.randrange(40), "name": "n", "city": rng.choice("ABC"),
                   "age": rng.randrange(90), "email": f"{i}@x"})
            if rng.random() < 0.2:
                t.delete(rng.randrange(40))
        fs.crash(seed)
        with open_engine(kind, path, **small(kind)) as db2:
            assert Table(db2, "people").check() == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["put", "delete"]), st.integers(0, 15),
                              st.sampled_from(["a", "b", "c", None]), st.integers(0, 5)),
                    max_size=40))
def test_matches_a_model(kind, make_engine, ops):
    db = make_engine(kind, name=f"m{uuid.uuid4().hex}", **small(kind))
    t = Table(db, "m", "id")
    t.create_index("by_tag_n", ["tag", "n"], include=["n"])
    model: dict[int, dict] = {}
    for op, pk, tag, n in ops:
        if op == "put":
            row = {"id": pk, "tag": tag, "n": n}
            t.put(row)
            model[pk] = row
        else:
            assert t.delete(pk) == (pk in model)
            model.pop(pk, None)
    for tag in ("a", "b", "c", None):
        got = [r["id"] for r in t.lookup("by_tag_n", tag)]
        want = [r["id"] for r in sorted((r for r in model.values() if r["tag"] == tag),
                                        key=lambda r: (r["n"], r["id"]))]
        assert got == want
    assert t.check() == []
