"""pg_catalog and information_schema: the catalog as tables clients can query.

PostgreSQL's clients learn about a database by querying its catalog: psql's ``\\d`` reads
pg_class and pg_attribute, ORMs reflect through information_schema, drivers map type OIDs
through pg_type. cairn keeps its catalog in its own form (:mod:`cairn.sql.catalog`), so these
relations are views computed from it on each scan, with PostgreSQL's column names, types and
OIDs (built-in types keep their PostgreSQL OIDs; tables, indexes and sequences get cairn's).
Like PostgreSQL's, pg_catalog is searched before the search_path, so ``FROM pg_class`` works
unqualified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cairn.sql import types as T
from cairn.sql.catalog import BUILTIN_SCHEMAS, Relation

NAME, OID, TEXT, BOOL, INT2, INT4, INT8 = T.NAME, T.OID, T.TEXT, T.BOOL, T.INT2, T.INT4, T.INT8
FLOAT4, TSTZ = T.FLOAT4, T.TIMESTAMPTZ
CHAR = T.TEXT  # PostgreSQL's one-byte "char" (OID 18) is shown as text here
INT2_ARRAY = T.array_of(T.INT2)
TEXT_ARRAY = T.array_of(T.TEXT)
DATABASE_OID = 16384 - 1


@dataclass(frozen=True)
class SystemView:
    schema: str
    name: str
    columns: list[tuple[str, T.SqlType]]
    rows: Callable[[Any], list[tuple]]


VIEWS: dict[tuple[str, str], SystemView] = {}


def view(schema: str, name: str, columns: list[tuple[str, T.SqlType]]) -> Callable:
    def deco(fn: Callable[[Any], list[tuple]]) -> Callable[[Any], list[tuple]]:
        VIEWS[(schema, name)] = SystemView(schema, name, columns, fn)
        return fn
    return deco


def find(schema: str | None, name: str) -> SystemView | None:
    if schema is None:
        return VIEWS.get(("pg_catalog", name))
    return VIEWS.get((schema, name))


def _ns_oid(session: Any, schema: str) -> int:
    s = session.catalog().schema(schema)
    return s.oid if s is not None else 0


def _role_oid(session: Any, name: str) -> int:
    r = session.role(name)
    return r.oid if r is not None else 0


def _schemas(session: Any) -> list[Any]:
    cat = session.sdb.catalog
    names = set(cat.schemas) | {n for n, s in session.overlay.schemas.items() if s}
    names -= {n for n, s in session.overlay.schemas.items() if s is None}
    out = [session.catalog().schema(n) for n in sorted(names)]
    return [s for s in out if s is not None]


def _relations(session: Any) -> list[Relation]:
    return session.catalog().all_relations()


# -- pg_catalog ------------------------------------------------------------------------------
@view("pg_catalog", "pg_namespace", [("oid", OID), ("nspname", NAME), ("nspowner", OID),
                                     ("nspacl", TEXT_ARRAY)])
def pg_namespace(s: Any) -> list[tuple]:
    return [(sc.oid, sc.name, _role_oid(s, sc.owner), None) for sc in _schemas(s)]


_RELKIND = {"r": "r", "v": "v", "S": "S"}


@view("pg_catalog", "pg_class", [
    ("oid", OID), ("relname", NAME), ("relnamespace", OID), ("reltype", OID),
    ("relowner", OID), ("relam", OID), ("relfilenode", OID), ("relpages", INT4),
    ("reltuples", FLOAT4), ("relhasindex", BOOL), ("relpersistence", CHAR),
    ("relkind", CHAR), ("relnatts", INT2), ("relchecks", INT2), ("relhasrules", BOOL),
    ("relhastriggers", BOOL), ("relrowsecurity", BOOL), ("relforcerowsecurity", BOOL),
    ("relispartition", BOOL), ("reloptions", TEXT_ARRAY), ("relacl", TEXT_ARRAY)])
def pg_class(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        ns = _ns_oid(s, r.schema)
        owner = _role_oid(s, r.owner)
        st = s.sdb.statistics.get(r.oid)
        out.append((r.oid, r.name, ns, 0, owner, 2 if r.kind == "r" else 0, r.oid, 0,
                    st.reltuples if st is not None else -1.0, bool(r.indexes), "p",
                    _RELKIND[r.kind], len(r.live_columns),
                    len(r.checks), r.kind == "v", False, r.rls, r.rls_forced, False, None,
                    _acl(r)))
        for ix in r.indexes:
            out.append((ix.oid, ix.name, ns, 0, owner, 403, ix.oid, 0, -1.0, False, "p",
                        "i", len(ix.columns), 0, False, False, False, False, False, None,
                        None))
    return out


def _acl(r: Relation) -> list[str] | None:
    if not r.acl:
        return None
    letters = {"insert": "a", "select": "r", "update": "w", "delete": "d", "truncate": "D",
               "references": "x", "trigger": "t", "usage": "U"}
    return [f"{'' if g == 'public' else g}={''.join(letters.get(p, '') for p in privs)}"
            f"/{r.owner}" for g, privs in sorted(r.acl.items())]


@view("pg_catalog", "pg_attribute", [
    ("attrelid", OID), ("attname", NAME), ("atttypid", OID), ("attlen", INT2),
    ("attnum", INT2), ("atttypmod", INT4), ("attndims", INT2), ("attnotnull", BOOL),
    ("atthasdef", BOOL), ("atthasmissing", BOOL), ("attidentity", CHAR),
    ("attgenerated", CHAR), ("attisdropped", BOOL), ("attislocal", BOOL),
    ("attcollation", OID)])
def pg_attribute(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        for c in r.columns:
            t = c.type
            ident = {"always": "a", "by default": "d"}.get(c.identity or "", "")
            out.append((r.oid, c.name if not c.dropped else
                        f"........pg.dropped.{c.attnum}........", 0 if c.dropped else t.oid,
                        t.typlen, c.attnum, t.typmod, 1 if t.is_array else 0, c.not_null,
                        c.default is not None and not c.identity, c.missing is not None,
                        ident, "", c.dropped, True, 100 if t.category == "S" else 0))
        for ix in r.indexes:
            for k, name in enumerate(ix.columns, 1):
                col = r.column(name)
                if col is not None:
                    out.append((ix.oid, name, col.type.oid, col.type.typlen, k,
                                col.type.typmod, 0, False, False, False, "", "", False, True,
                                0))
    return out


_TYPE_OIDS = [16, 17, 19, 20, 21, 23, 25, 26, 114, 700, 701, 705, 1042, 1043, 1082, 1083,
              1114, 1184, 1186, 1700, 2205, 2206, 2249, 2278, 2950, 3802, 2283, 2277]


@view("pg_catalog", "pg_type", [
    ("oid", OID), ("typname", NAME), ("typnamespace", OID), ("typowner", OID),
    ("typlen", INT2), ("typbyval", BOOL), ("typtype", CHAR), ("typcategory", CHAR),
    ("typispreferred", BOOL), ("typisdefined", BOOL), ("typdelim", CHAR), ("typrelid", OID),
    ("typelem", OID), ("typarray", OID), ("typinput", TEXT), ("typoutput", TEXT),
    ("typbasetype", OID), ("typtypmod", INT4), ("typndims", INT4), ("typnotnull", BOOL)])
def pg_type(s: Any) -> list[tuple]:
    out = []
    seen: set[int] = set()
    for oid in _TYPE_OIDS:
        try:
            t = T.by_oid(oid)
        except Exception:  # a type the types package does not define
            continue
        for typ in (t, _array_or_none(t)):
            if typ is None or typ.oid in seen:
                continue
            seen.add(typ.oid)
            arr = _array_or_none(typ)
            out.append((typ.oid, typ.typname or typ.name, 11, 10, typ.typlen,
                        typ.typlen in (1, 2, 4, 8), "p" if typ.category == "P" else "b",
                        typ.category, typ.preferred, True, ",", 0,
                        typ.element.oid if typ.element is not None else 0,
                        arr.oid if arr is not None and arr.oid != typ.oid else 0,
                        f"{typ.typname}in", f"{typ.typname}out", 0, -1, 0, False))
    return out


def _array_or_none(t: T.SqlType) -> T.SqlType | None:
    if t.element is not None or t.category == "P":
        return None
    try:
        return T.array_of(t)
    except Exception:  # no array type for it
        return None


@view("pg_catalog", "pg_index", [
    ("indexrelid", OID), ("indrelid", OID), ("indnatts", INT2), ("indnkeyatts", INT2),
    ("indisunique", BOOL), ("indisprimary", BOOL), ("indisexclusion", BOOL),
    ("indimmediate", BOOL), ("indisclustered", BOOL), ("indisvalid", BOOL),
    ("indisready", BOOL), ("indislive", BOOL), ("indkey", TEXT), ("indexprs", TEXT),
    ("indpred", TEXT)])
def pg_index(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        for ix in r.indexes:
            keys = " ".join(str(r.column(n).attnum) for n in ix.columns  # type: ignore[union-attr]
                            if r.column(n) is not None)
            out.append((ix.oid, r.oid, len(ix.columns), len(ix.columns), ix.unique,
                        ix.primary, False, True, False, True, True, True, keys, None, None))
    return out


@view("pg_catalog", "pg_constraint", [
    ("oid", OID), ("conname", NAME), ("connamespace", OID), ("contype", CHAR),
    ("condeferrable", BOOL), ("condeferred", BOOL), ("convalidated", BOOL),
    ("conrelid", OID), ("conindid", OID), ("confrelid", OID), ("confupdtype", CHAR),
    ("confdeltype", CHAR), ("conkey", INT2_ARRAY), ("confkey", INT2_ARRAY),
    ("consrc", TEXT)])
def pg_constraint(s: Any) -> list[tuple]:
    acts = {"no action": "a", "restrict": "r", "cascade": "c", "set null": "n",
            "set default": "d"}
    view_ = s.catalog()
    out = []
    for r in _relations(s):
        ns = _ns_oid(s, r.schema)

        def nums(rel: Relation, names: list[str]) -> list[int]:
            return [c.attnum for n in names if (c := rel.column(n)) is not None]
        for ix in r.indexes:
            if ix.constraint:
                out.append((ix.oid + 1_000_000, ix.name, ns, "p" if ix.primary else "u",
                            False, False, True, r.oid, ix.oid, 0, " ", " ",
                            nums(r, ix.columns), None, None))
        for k, ck in enumerate(r.checks):
            out.append((r.oid * 100 + k + 2_000_000, ck.name, ns, "c", False, False, True,
                        r.oid, 0, 0, " ", " ", None, None, ck.expr))
        for k, fk in enumerate(r.fkeys):
            ref = view_.relation_by_oid(fk.ref_oid)
            out.append((r.oid * 100 + k + 3_000_000, fk.name, ns, "f", False, False, True,
                        r.oid, 0, fk.ref_oid, acts.get(fk.on_update, "a"),
                        acts.get(fk.on_delete, "a"), nums(r, fk.columns),
                        nums(ref, fk.ref_columns) if ref else None, None))
    return out


@view("pg_catalog", "pg_attrdef", [("oid", OID), ("adrelid", OID), ("adnum", INT2),
                                   ("adbin", TEXT)])
def pg_attrdef(s: Any) -> list[tuple]:
    return [(r.oid * 1000 + c.attnum + 4_000_000, r.oid, c.attnum, c.default)
            for r in _relations(s) for c in r.live_columns if c.default is not None]


_ROLE_COLS = [("oid", OID), ("rolname", NAME), ("rolsuper", BOOL), ("rolinherit", BOOL),
              ("rolcreaterole", BOOL), ("rolcreatedb", BOOL), ("rolcanlogin", BOOL),
              ("rolreplication", BOOL), ("rolbypassrls", BOOL), ("rolconnlimit", INT4),
              ("rolpassword", TEXT), ("rolvaliduntil", TSTZ)]


def _roles(s: Any, secret: bool) -> list[tuple]:
    names = set(s.sdb.catalog.roles) | {n for n, r in s.overlay.roles.items() if r}
    names -= {n for n, r in s.overlay.roles.items() if r is None}
    out = []
    for n in sorted(names):
        r = s.role(n)
        if r is None:
            continue
        pw = r.password if secret else ("********" if r.password else None)
        out.append((r.oid, r.name, r.superuser, r.inherit, r.createrole, r.createdb, r.login,
                    r.replication, r.bypassrls, r.connection_limit, pw, None))
    return out


@view("pg_catalog", "pg_roles", _ROLE_COLS)
def pg_roles(s: Any) -> list[tuple]:
    return _roles(s, False)


@view("pg_catalog", "pg_authid", _ROLE_COLS)
def pg_authid(s: Any) -> list[tuple]:
    if not s.is_superuser():
        from cairn.sql.errors import SqlError
        raise SqlError("permission denied for table pg_authid", sqlstate="42501")
    return _roles(s, True)


@view("pg_catalog", "pg_auth_members", [("roleid", OID), ("member", OID), ("grantor", OID),
                                        ("admin_option", BOOL)])
def pg_auth_members(s: Any) -> list[tuple]:
    out = []
    for row in _roles(s, False):
        r = s.role(row[1])
        for parent in r.member_of:
            out.append((_role_oid(s, parent), r.oid, 10, False))
    return out


@view("pg_catalog", "pg_database", [
    ("oid", OID), ("datname", NAME), ("datdba", OID), ("encoding", INT4),
    ("datcollate", NAME), ("datctype", NAME), ("datistemplate", BOOL),
    ("datallowconn", BOOL), ("datconnlimit", INT4)])
def pg_database(s: Any) -> list[tuple]:
    return [(DATABASE_OID, s.database_name, _role_oid(s, "cairn"), 6, "C", "C", False, True,
             -1)]


@view("pg_catalog", "pg_settings", [
    ("name", TEXT), ("setting", TEXT), ("unit", TEXT), ("category", TEXT),
    ("short_desc", TEXT), ("context", TEXT), ("vartype", TEXT), ("source", TEXT)])
def pg_settings(s: Any) -> list[tuple]:
    from cairn.sql.session import DEFAULT_SETTINGS
    return [(k, v, None, "cairn", "", "user", "string",
             "session" if DEFAULT_SETTINGS.get(k) != v else "default")
            for k, v in sorted(s.settings.items())]


@view("pg_catalog", "pg_locks", [
    ("locktype", TEXT), ("relation", OID), ("transactionid", TEXT), ("mode", TEXT),
    ("granted", BOOL), ("fastpath", BOOL), ("owner", TEXT), ("waitstart_seconds", T.FLOAT8)])
def pg_locks(s: Any) -> list[tuple]:
    heaps = {r.heap: r.oid for r in _relations(s) if r.heap}
    out = []
    for li in s.db.locks():
        tag = li.tag
        kind = tag[0] if tag else "?"
        rel = heaps.get(tag[1]) if len(tag) > 1 and isinstance(tag[1], str) else None
        locktype = {"table": "relation", "row": "tuple", "advisory": "advisory",
                    "pred": "predicate"}.get(kind, str(kind))
        out.append((locktype, rel, None, li.mode, li.granted, li.fastpath, li.owner,
                    li.waiting_seconds))
    return out


@view("pg_catalog", "pg_stat_activity", [
    ("datname", NAME), ("pid", INT4), ("usename", NAME), ("application_name", TEXT),
    ("client_addr", TEXT), ("backend_start", TSTZ), ("xact_start", TSTZ),
    ("query_start", TSTZ), ("state", TEXT), ("query", TEXT), ("backend_type", TEXT)])
def pg_stat_activity(s: Any) -> list[tuple]:
    out = []
    for sess in list(s.sdb.sessions.values()):
        state = "active" if sess.running else (
            "idle in transaction (aborted)" if sess.failed else
            "idle in transaction" if sess.in_block else "idle")
        out.append((s.database_name, sess.pid, sess.session_user,
                    sess.settings.get("application_name", ""), sess.client_addr,
                    sess.started_at, sess.ctx.transaction_timestamp if sess.tx else None,
                    sess.ctx.statement_timestamp, state, sess.last_query, "client backend"))
    return out


@view("pg_catalog", "pg_stat_user_tables", [
    ("relid", OID), ("schemaname", NAME), ("relname", NAME), ("n_tup_ins", INT8),
    ("n_tup_upd", INT8), ("n_tup_del", INT8), ("n_live_tup", INT8), ("n_dead_tup", INT8),
    ("last_vacuum", TSTZ), ("last_autovacuum", TSTZ), ("vacuum_count", INT8),
    ("autovacuum_count", INT8)])
def pg_stat_user_tables(s: Any) -> list[tuple]:
    from datetime import UTC, datetime
    out = []
    for r in _relations(s):
        if r.kind != "r":
            continue
        try:
            st = s.db.table_stats(r.heap)
        except Exception:  # a heap not there (dropped meanwhile)
            continue

        def ts(x: float | None) -> datetime | None:
            return None if x is None else datetime.fromtimestamp(x, UTC)
        out.append((r.oid, r.schema, r.name, st.inserts, st.updates, st.deletes,
                    st.live_versions, st.dead_versions, ts(st.last_vacuum),
                    ts(st.last_autovacuum), st.vacuum_count, st.autovacuum_count))
    return out


@view("pg_catalog", "pg_policy", [
    ("polname", NAME), ("polrelid", OID), ("polcmd", CHAR), ("polpermissive", BOOL),
    ("polroles", TEXT_ARRAY), ("polqual", TEXT), ("polwithcheck", TEXT)])
def pg_policy(s: Any) -> list[tuple]:
    cmds = {"all": "*", "select": "r", "insert": "a", "update": "w", "delete": "d"}
    return [(p.name, r.oid, cmds[p.command], p.permissive, p.roles or ["public"], p.using,
             p.check) for r in _relations(s) for p in r.policies]


@view("pg_catalog", "pg_stats", [
    ("schemaname", NAME), ("tablename", NAME), ("attname", NAME), ("null_frac", FLOAT4),
    ("n_distinct", FLOAT4), ("most_common_vals", TEXT), ("most_common_freqs", T.array_of(FLOAT4)),
    ("histogram_bounds", TEXT)])
def pg_stats(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        st = s.sdb.statistics.get(r.oid)
        if st is None:
            continue
        for c in r.live_columns:
            cs = st.columns.get(c.name)
            if cs is None:
                continue

            def arr(vals: list[Any], t: T.SqlType = c.type) -> str | None:
                if not vals:
                    return None
                return T.format_output(T.array_of(t.base), list(vals), s.ctx)
            out.append((r.schema, r.name, c.name, cs.null_frac, cs.n_distinct, arr(cs.mcv),
                        cs.mcf or None, arr(cs.histogram)))
    return out


@view("pg_catalog", "pg_range", [("rngtypid", OID), ("rngsubtype", OID),
                                 ("rngmultitypid", OID), ("rngcollation", OID),
                                 ("rngsubopc", OID), ("rngcanonical", TEXT),
                                 ("rngsubdiff", TEXT)])
def pg_range(s: Any) -> list[tuple]:
    return []  # cairn has no range types; clients (asyncpg) join against it


@view("pg_catalog", "pg_tables", [("schemaname", NAME), ("tablename", NAME),
                                  ("tableowner", NAME), ("hasindexes", BOOL),
                                  ("rowsecurity", BOOL)])
def pg_tables(s: Any) -> list[tuple]:
    return [(r.schema, r.name, r.owner, bool(r.indexes), r.rls) for r in _relations(s)
            if r.kind == "r"]


# -- information_schema ------------------------------------------------------------------------
IS = "information_schema"


@view(IS, "schemata", [("catalog_name", NAME), ("schema_name", NAME),
                       ("schema_owner", NAME)])
def schemata(s: Any) -> list[tuple]:
    return [(s.database_name, sc.name, sc.owner) for sc in _schemas(s)]


@view(IS, "tables", [("table_catalog", NAME), ("table_schema", NAME), ("table_name", NAME),
                     ("table_type", TEXT), ("is_insertable_into", TEXT)])
def tables(s: Any) -> list[tuple]:
    return [(s.database_name, r.schema, r.name,
             "VIEW" if r.kind == "v" else "BASE TABLE", "NO" if r.kind == "v" else "YES")
            for r in _relations(s) if r.kind in "rv"]


def _data_type(t: T.SqlType) -> str:
    if t.is_array:
        return "ARRAY"
    base = t.base.name
    return {"timestamp without time zone": "timestamp without time zone"}.get(base, base)


@view(IS, "columns", [
    ("table_catalog", NAME), ("table_schema", NAME), ("table_name", NAME),
    ("column_name", NAME), ("ordinal_position", INT4), ("column_default", TEXT),
    ("is_nullable", TEXT), ("data_type", TEXT), ("character_maximum_length", INT4),
    ("numeric_precision", INT4), ("numeric_scale", INT4), ("udt_name", NAME),
    ("is_identity", TEXT), ("identity_generation", TEXT)])
def columns(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        if r.kind not in "rv":
            continue
        for pos, c in enumerate(r.live_columns, 1):
            t = c.type
            maxlen = prec = scale = None
            if t.oid in (T.VARCHAR.oid, T.BPCHAR.oid) and t.typmod != -1:
                maxlen = t.typmod - 4
            if t.oid == T.NUMERIC.oid and t.typmod != -1:
                prec, scale = T.numeric_precision_scale(t.typmod)
            elif t.oid in (T.INT2.oid, T.INT4.oid, T.INT8.oid):
                prec, scale = {T.INT2.oid: 16, T.INT4.oid: 32, T.INT8.oid: 64}[t.oid], 0
            out.append((s.database_name, r.schema, r.name, c.name, pos,
                        None if c.identity else c.default,
                        "NO" if c.not_null else "YES", _data_type(t), maxlen, prec, scale,
                        t.typname or t.name, "YES" if c.identity else "NO",
                        c.identity.upper() if c.identity else None))
    return out


@view(IS, "table_constraints", [
    ("constraint_catalog", NAME), ("constraint_schema", NAME), ("constraint_name", NAME),
    ("table_schema", NAME), ("table_name", NAME), ("constraint_type", TEXT)])
def table_constraints(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        for ix in r.indexes:
            if ix.constraint:
                out.append((s.database_name, r.schema, ix.name, r.schema, r.name,
                            "PRIMARY KEY" if ix.primary else "UNIQUE"))
        for ck in r.checks:
            out.append((s.database_name, r.schema, ck.name, r.schema, r.name, "CHECK"))
        for fk in r.fkeys:
            out.append((s.database_name, r.schema, fk.name, r.schema, r.name, "FOREIGN KEY"))
    return out


@view(IS, "key_column_usage", [
    ("constraint_catalog", NAME), ("constraint_schema", NAME), ("constraint_name", NAME),
    ("table_schema", NAME), ("table_name", NAME), ("column_name", NAME),
    ("ordinal_position", INT4)])
def key_column_usage(s: Any) -> list[tuple]:
    out = []
    for r in _relations(s):
        for ix in r.indexes:
            if ix.constraint:
                for k, n in enumerate(ix.columns, 1):
                    out.append((s.database_name, r.schema, ix.name, r.schema, r.name, n, k))
        for fk in r.fkeys:
            for k, n in enumerate(fk.columns, 1):
                out.append((s.database_name, r.schema, fk.name, r.schema, r.name, n, k))
    return out


SYSTEM_SCHEMAS = set(BUILTIN_SCHEMAS) - {"public"}
