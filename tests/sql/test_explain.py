"""EXPLAIN: PostgreSQL's plan shape, the access path chosen, actual rows after ANALYZE."""

from __future__ import annotations

import json

import pytest

from cairn.sql import SqlDatabase, SqlError


@pytest.fixture()
def session():
    sdb = SqlDatabase.open(None)
    s = sdb.connect()
    s.execute("CREATE TABLE t (id int PRIMARY KEY, v text, g int)")
    s.execute("CREATE INDEX t_g ON t (g)")
    s.execute("INSERT INTO t SELECT i, 'x' || i, i % 10 FROM generate_series(1, 100) i")
    yield s
    s.close()
    sdb.close()


def plan(s, sql: str) -> list[str]:
    res = s.execute(sql)[0]
    assert [c.name for c in res.columns] == ["QUERY PLAN"]
    return [r[0] for r in res.rows]


def test_primary_key_lookup_is_an_index_scan(session) -> None:
    lines = plan(session, "EXPLAIN SELECT * FROM t WHERE id = 7")
    assert lines[0].startswith("Index Scan using t_pkey on t  (cost=")
    assert lines[1] == "  Index Cond: (id = 7)"


def test_secondary_index_and_residual_filter(session) -> None:
    lines = plan(session, "EXPLAIN (COSTS OFF) SELECT * FROM t WHERE g = 3 AND v LIKE 'x1%'")
    assert lines == ["Index Scan using t_g on t", "  Index Cond: (g = 3)",
                     "  Filter: (v ~~ 'x1%'::text)"]


def test_join_tree_indents_like_postgresql(session) -> None:
    lines = plan(session, "EXPLAIN (COSTS OFF) SELECT a.v FROM t a JOIN t b ON a.g = b.id "
                          "ORDER BY a.v")
    assert lines == ["Sort", "  ->  Hash Join", "        Hash Cond: (g = id)",
                     "        ->  Seq Scan on t a", "        ->  Hash",
                     "              ->  Seq Scan on t b"]


def test_analyze_counts_rows_and_loops(session) -> None:
    lines = plan(session, "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM t WHERE g = 3")
    assert lines[0] == "Aggregate (actual rows=1 loops=1)"
    assert lines[1] == "  ->  Index Scan using t_g on t (actual rows=10 loops=1)"
    assert lines[-2].startswith("Planning Time: ") and lines[-1].startswith("Execution Time: ")


def test_explain_analyze_runs_dml_and_plain_explain_does_not(session) -> None:
    lines = plan(session, "EXPLAIN UPDATE t SET v = 'y' WHERE g = 1")
    assert lines[0].startswith("Update on t")
    assert lines[1].startswith("  ->  Index Scan using t_g on t")
    assert session.execute("SELECT count(*) FROM t WHERE v = 'y'")[0].rows == [(0,)]
    lines = plan(session, "EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM t WHERE id > 95")
    assert lines[1] == "  ->  Index Scan using t_pkey on t (actual rows=5 loops=1)"
    assert session.execute("SELECT count(*) FROM t")[0].rows == [(95,)]


def test_json_format(session) -> None:
    res = session.execute("EXPLAIN (FORMAT JSON) SELECT * FROM t WHERE g = 2")[0]
    doc = json.loads(res.rows[0][0])
    node = doc[0]["Plan"]
    assert node["Node Type"] == "Index Scan"
    assert node["Index Name"] == "t_g" and node["Relation Name"] == "t"
    assert node["Plan Rows"] >= 1 and node["Total Cost"] > 0


def test_unknown_option_is_a_syntax_error(session) -> None:
    with pytest.raises(SqlError) as e:
        session.execute("EXPLAIN (BOGUS) SELECT 1")
    assert e.value.sqlstate == "42601"


def test_vacuum_and_analyze(session) -> None:
    session.execute("DELETE FROM t WHERE id > 60")
    assert session.execute("VACUUM VERBOSE t")[0].tag == "VACUUM"
    assert any("40 dead versions removed" in n[2] for n in session.notices)
    assert session.execute("ANALYZE t")[0].tag == "ANALYZE"
    rows = session.execute("SELECT attname, n_distinct FROM pg_stats WHERE tablename = 't' "
                           "ORDER BY attname")[0].rows
    assert rows == [("g", 10.0), ("id", -1.0), ("v", -1.0)]
    assert session.execute("SELECT reltuples FROM pg_class WHERE relname = 't'")[0].rows == [
        (60.0,)]
    session.execute("BEGIN")
    with pytest.raises(SqlError) as e:
        session.execute("VACUUM t")
    assert e.value.sqlstate == "25001"
    session.execute("ROLLBACK")


def test_set_transaction_before_the_first_query(session) -> None:
    session.execute("BEGIN")
    session.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    assert session.execute("SHOW transaction_isolation")[0].rows == [("repeatable read",)]
    with pytest.raises(SqlError) as e:
        session.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    assert e.value.sqlstate == "25001"
    session.execute("ROLLBACK")


def test_six_table_join_is_ordered_by_cost() -> None:
    """Written in a bad order, a six-table join still avoids cross products and starts from
    the selective scan (part filtered by size)."""
    from pathlib import Path

    sdb = SqlDatabase.open(None)
    s = sdb.connect()
    try:
        setup = Path(__file__).parent / "scenarios" / "queries" / "join_order.sql"
        for line in setup.read_text().splitlines()[:13]:
            s.execute(line)
        lines = plan(s, "EXPLAIN (COSTS OFF) SELECT r.rname, count(*) FROM lineitem l, "
                        "orders o, customer c, nation n, region r, part p WHERE l.oid = o.oid "
                        "AND o.cid = c.cid AND c.nid = n.nid AND n.rid = r.rid "
                        "AND l.pid = p.pid AND p.size = 3 GROUP BY r.rname")
        assert not any("Nested Loop" in ln for ln in lines), lines
        assert sum("Hash Join" in ln for ln in lines) == 5
        scans = [ln.strip() for ln in lines if "Scan on" in ln]
        deepest = max((ln for ln in lines if "Scan on" in ln), key=lambda ln: len(ln) -
                      len(ln.lstrip()))
        assert "part p" in deepest or "lineitem l" in deepest, lines
        assert len(scans) == 6
    finally:
        s.close()
        sdb.close()
