"""The scenario format and its expression language: malformed files fail with a clear error
naming the line; expressions can only compute, never run Python."""

from __future__ import annotations

import pytest

from cairn.db.lab import expr, spec
from cairn.db.lab.driver import RunResult, _has_cycle, classify
from cairn.db.lab.errors import SpecError
from cairn.db.lab.spec import Level

GOOD = """
# A comment that becomes the description.
anomaly test
table t (id int primary key, v int, name text)
index t (v) unique
setup
  insert t {"id": 1, "v": 0, "name": "a b"}
session s1 (repeatable read)
  r1: select t where v >= 0 and name != "x y" limit 3 for update skip locked
  w1: update t 1 {"v": r1[0].v + 1} expect {"v": 0} if len(r1) == 1
  c1: commit
session s2
  g2: get t "a b"
permutation r1 w1 g2 c1
occurred-if committed(s1) and g2 == null
"""


def test_parse_good_file() -> None:
    sp = spec.parse(GOOD, "good")
    assert sp.description == "A comment that becomes the description."
    assert sp.tables["t"].primary_key == "id" and sp.indexes[0].unique
    r1 = sp.step("r1").stmt
    assert (r1.lock, r1.wait, r1.limit) == ("update", "skip locked", 3)
    assert [(p.column, p.op) for p in r1.where] == [("v", ">="), ("name", "!=")]
    w1 = sp.step("w1").stmt
    assert w1.expect is not None and w1.cond is not None
    assert sp.sessions["s1"].level == Level("repeatable read")
    assert sp.sessions["s2"].level is None
    assert sp.permutations == [["r1", "w1", "g2", "c1"]]


@pytest.mark.parametrize("text,message", [
    ("table t (id int)\nsession s\n  a: get t 1", "no primary key"),
    ("table t (id blob primary key)\nsession s\n  a: get t 1", "bad column"),
    ("table t (id int primary key)\nsession s\n  a: frobnicate t 1", "unknown statement"),
    ("table t (id int primary key)\nsession s\n  a: get u 1", "unknown table"),
    ("table t (id int primary key)\nsession s\n  a: get t 1\npermutation a b", "unknown step"),
    ("table t (id int primary key)\nsession s\n  a: get t 1\n  a: get t 2", "defined twice"),
    ("table t (id int primary key)\nsession s\n  a: select t where nope = 1", "no column"),
    ("table t (id int primary key)\nsession s (dirty)\n  a: get t 1", "isolation level"),
    ("table t (id int primary key)\n  a: get t 1", "outside setup or session"),
    ("table t (id int primary key)\nsession s\n  a: get t __import__('os')", "only"),
    ("table t (id int primary key)\nsession s\n  a: get t (lambda:1)()", "may be called"),
    ("table t (id int primary key)\nsession s\n  a: get t 1\noccurred-if a.__class__",
     "not allowed"),
    ("bogus line", "unknown keyword"),
    ("table t (id int primary key)\nsession s\n  a: lock t sideways", "lock wants"),
    ("table t (id int primary key)\nsession s\n  a: advisory 1 loudly", "advisory wants"),
    ("table t (id int primary key)\nsession s\n  a: select t for update nowait extra", "select"),
])
def test_bad_files_fail_clearly(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec.parse(text, "bad")


def test_lock_statements() -> None:
    sp = spec.parse("table t (id int primary key)\nsession s\n  a: lock t access exclusive nowait"
                    "\n  b: advisory 42 shared", "locks")
    a, b = sp.step("a").stmt, sp.step("b").stmt
    assert (a.verb, a.mode, a.wait) == ("lock", "access exclusive", "nowait")
    assert (b.verb, b.mode, b.wait) == ("advisory", "shared", None)


def test_expressions_compute_only() -> None:
    env = {"r": {"v": 2}, "rows": [{"v": 1}, {"v": 4}]}
    assert expr.evaluate(expr.parse("r.v + 1"), env) == 3
    assert expr.evaluate(expr.parse("total(rows, 'v') == 5 and not false"), env) is True
    assert expr.evaluate(expr.parse('{"v": r.v * 2}'), env) == {"v": 4}
    assert expr.evaluate(expr.parse("committed(s1)"), env, committed=lambda s: s == "s1")
    with pytest.raises(SpecError, match="no result"):
        expr.evaluate(expr.parse("missing.v"), env)
    with pytest.raises(SpecError, match="IndexError"):
        expr.evaluate(expr.parse("rows[5]"), env)
    for bad in ("open('x')", "r.__dict__", "[x for x in rows]", "r.v ** 2", "a := 1"):
        with pytest.raises(SpecError):
            expr.parse(bad)


def test_split_top_ignores_keywords_in_strings_and_brackets() -> None:
    assert spec.split_top('insert t {"a": "x if y"} if z', "if") == ('insert t {"a": "x if y"}',
                                                                      "z")
    assert spec.split_top("get t 1", "if") == ("get t 1", None)


def test_levels() -> None:
    assert Level.parse("Serializable") == Level("serializable", "ssi")
    assert Level.parse("serializable/2pl").label == "serializable/2pl"
    with pytest.raises(SpecError):
        Level.parse("read committed/2pl")


def test_classify_and_cycles() -> None:
    r = RunResult("cairn", Level("read committed"), [])
    r.occurred = False
    assert classify(r) == "prevented: no conflict"
    r.waited.append("x")
    r.errors["y"] = "40P01"
    assert classify(r) == "prevented: blocked, then aborted 40P01"
    r.occurred = True
    assert classify(r) == "occurred"
    assert _has_cycle({"a": {"b"}, "b": {"a"}})
    assert not _has_cycle({"a": {"b"}, "b": None})


def test_access_modes_and_siread() -> None:
    sp = spec.parse("""
table t (id int primary key)
session a (serializable read only deferrable)
  a1: siread
session b (read only)
  b1: get t 1
session c (repeatable read read only)
  c1: get t 1
""")
    assert sp.sessions["a"].level == Level("serializable", "ssi", "read only deferrable")
    assert sp.sessions["a"].level.label == "serializable/ssi read only deferrable"
    assert sp.sessions["a"].steps[0].stmt.verb == "siread"
    assert sp.sessions["b"].level is None and sp.sessions["b"].access == "read only"
    assert sp.sessions["c"].level == Level("repeatable read", None, "read only")
    with pytest.raises(SpecError, match="serializable only"):
        Level.parse("read committed read only deferrable")
    with pytest.raises(SpecError, match="takes nothing"):
        spec.parse_statement("siread t", "x:1")
