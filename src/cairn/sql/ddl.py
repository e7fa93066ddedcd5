"""DDL: CREATE/DROP of tables, indexes, sequences, views and schemas, and sequences' values.

Every definition is a row of the catalog table, written by the statement's own transaction
(transactional DDL, as in PostgreSQL); the heap of a new table is a cairn.db table created at
once (an aborted CREATE TABLE leaves an empty, unreferenced heap, as an aborted PostgreSQL
CREATE TABLE leaves a relfilenode for the next VACUUM to find). DDL takes ACCESS EXCLUSIVE
on the heaps it changes, so an ALTER or DROP queues behind running readers and every later
reader queues behind it: the migration gotcha, and ``SET lock_timeout`` its cure.

Sequences are not transactional (PostgreSQL's rule): ``nextval`` hands out numbers from a
block of 32 reserved durably in one short transaction of its own, so a crash may skip up to
32 numbers and a rollback never gives one back.
"""

from __future__ import annotations

import itertools
from typing import Any

from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.catalog import (
    CATALOG_TABLE,
    CheckDef,
    Column,
    ForeignKey,
    IndexDef,
    Relation,
    Schema,
)
from cairn.sql.errors import SqlError
from cairn.sql.expr import Bound, coerce, type_from_name

SEQ_TABLE = "_sql_sequences"
SEQ_BLOCK = 32
_SERIALS = {"serial": T.INT4, "serial4": T.INT4, "bigserial": T.INT8, "serial8": T.INT8,
            "smallserial": T.INT2, "serial2": T.INT2}
_INT_LIMITS = {T.INT2.oid: (-2**15, 2**15 - 1), T.INT4.oid: (-2**31, 2**31 - 1),
               T.INT8.oid: (-2**63, 2**63 - 1)}


class DdlMixin:
    """Session methods for DDL (mixed into :class:`cairn.sql.session.Session`)."""

    sdb: Any
    db: Any
    tx: Any
    overlay: Any
    current_user: str

    # -- helpers ------------------------------------------------------------------------
    def _write_rel(self, rel: Relation, new: bool) -> None:
        row = {"oid": rel.oid, "def": rel.to_json()}
        if new:
            self.tx.insert(CATALOG_TABLE, row)
        else:
            self.tx.update(CATALOG_TABLE, rel.oid, {"def": row["def"]})
        self.overlay.relations[rel.oid] = rel

    def _name_taken(self, schema: str, name: str) -> bool:
        view = self.catalog()  # type: ignore[attr-defined]
        if view.lookup(schema, name) is not None:
            return True
        return any(ix.name == name and r.schema == schema for r in view.all_relations()
                   for ix in r.indexes)

    def _target_schema(self, rv: a.RangeVar) -> str:
        if rv.schema is not None:
            if self.catalog().schema(rv.schema) is None:  # type: ignore[attr-defined]
                raise SqlError(f'schema "{rv.schema}" does not exist', sqlstate="3F000",
                               position=rv.pos + 1)
            return rv.schema
        return self.creation_schema()  # type: ignore[attr-defined]

    def _duplicate_detail(self, rel: Relation, cols: list[str]) -> str | None:
        """PostgreSQL's DETAIL for a unique index that cannot be built: the first key (in
        the index's order) that two rows share."""
        from cairn.sql.dml import _decode
        idx = [rel.live_columns.index(rel.column(n)) for n in cols]  # type: ignore[arg-type]
        types = [rel.live_columns[i].type for i in idx]
        keys = [tuple(r[i] for i in idx) for r in (_decode(rel, d)
                                                 for d in self.tx.select(rel.heap))]
        keys = [k for k in keys if None not in k]
        sk = [T.sort_key(t) for t in types]
        keys.sort(key=lambda k: tuple(f(v) for f, v in zip(sk, k, strict=True)))
        for a_, b_ in itertools.pairwise(keys):
            if a_ == b_:
                shown = ", ".join(T.format_output(t, v, self.ctx)  # type: ignore[attr-defined]
                                  for t, v in zip(types, a_, strict=True))
                return f"Key ({', '.join(cols)})=({shown}) is duplicated."
        return None

    def _no_own_table_lock(self, rel: Relation) -> None:
        """cairn.db builds an index under a SHARE lock of its own, which would wait forever
        for this transaction's own write lock on the table: refuse instead of hanging."""
        me = f"transaction {self.tx.xid}"
        if any(li.owner == me and li.tag[:2] == ("table", rel.heap)
               for li in self.db.locks()):
            raise SqlError("CREATE INDEX on a table this transaction has already written to "
                           "or locked is not supported yet; commit first", sqlstate="0A000")

    def _lock_exclusive(self, rel: Relation) -> None:
        if rel.heap:
            self.tx.lock_table(rel.heap, "access exclusive")

    # -- CREATE TABLE -------------------------------------------------------------------
    def stmt_CreateTableStmt(self, st: a.CreateTableStmt, params: list[Any],
                             types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        schema = self._target_schema(st.table)
        name = st.table.name
        if self._name_taken(schema, name):
            if st.if_not_exists:
                return Result("CREATE TABLE")
            raise SqlError(f'relation "{name}" already exists', sqlstate="42P07",
                           position=st.table.pos + 1)
        cat = self.sdb.catalog
        rel = Relation(cat.alloc_oid(), schema, name, "r", owner=self.current_user)
        if st.as_query is not None:
            return self._create_table_as(st, rel)
        pk: list[str] | None = None
        uniques: list[tuple[str | None, list[str]]] = []
        seqs: list[tuple[str, T.SqlType]] = []
        for cd in st.columns:
            if rel.column(cd.name) is not None:
                raise SqlError(f'column "{cd.name}" specified more than once',
                               sqlstate="42701", position=cd.pos + 1)
            tname = " ".join(cd.type.names)
            serial = _SERIALS.get(tname) if not cd.type.typmods and not cd.type.array_dims \
                else None
            ctype = serial if serial is not None else type_from_name(cd.type)
            col = Column(rel.next_attnum, cd.name, ctype)
            rel.next_attnum += 1
            if serial is not None:
                seq_name = f"{name}_{cd.name}_seq"
                seqs.append((seq_name, ctype))
                col.default = f"nextval('{seq_name}'::regclass)"
                col.not_null = True
            for c in cd.constraints:
                k = c.kind
                if k == "not null":
                    col.not_null = True
                elif k == "null":
                    if col.not_null and serial is None:
                        raise SqlError(f'conflicting NULL/NOT NULL declarations for column '
                                       f'"{cd.name}" of table "{name}"', sqlstate="42601",
                                       position=c.pos + 1)
                elif k == "default":
                    col.default = c.text
                elif k == "primary key":
                    if pk is not None:
                        raise SqlError(f'multiple primary keys for table "{name}" are not '
                                       "allowed", sqlstate="42P16", position=c.pos + 1)
                    pk = [cd.name]
                    col.not_null = True
                    if c.name:
                        uniques.append((c.name, ["\x00pk"]))
                elif k == "unique":
                    uniques.append((c.name, [cd.name]))
                elif k == "check":
                    rel.checks.append(CheckDef(c.name or f"{name}_{cd.name}_check", c.text))
                elif k == "foreign key":
                    rel.fkeys.append(self._fkey(rel, c, [cd.name], name))
                elif k == "identity":
                    seq_name = f"{name}_{cd.name}_seq"
                    seqs.append((seq_name, ctype))
                    col.identity = c.identity
                    col.default = f"nextval('{seq_name}'::regclass)"
                    col.not_null = True
                elif k == "generated":
                    raise SqlError("generated columns are not supported yet", sqlstate="0A000",
                                   position=c.pos + 1)
            rel.columns.append(col)
        for c in st.constraints:
            if c.kind == "primary key":
                if pk is not None:
                    raise SqlError(f'multiple primary keys for table "{name}" are not '
                                   "allowed", sqlstate="42P16", position=c.pos + 1)
                for n in c.columns:
                    col = rel.column(n)
                    if col is None:
                        raise SqlError(f'column "{n}" named in key does not exist',
                                       sqlstate="42703", position=c.pos + 1)
                    col.not_null = True
                pk = list(c.columns)
                if c.name:
                    uniques.append((c.name, ["\x00pk"]))
            elif c.kind == "unique":
                for n in c.columns:
                    if rel.column(n) is None:
                        raise SqlError(f'column "{n}" named in key does not exist',
                                       sqlstate="42703", position=c.pos + 1)
                uniques.append((c.name, list(c.columns)))
            elif c.kind == "check":
                rel.checks.append(CheckDef(c.name or f"{name}_check", c.text))
            elif c.kind == "foreign key":
                rel.fkeys.append(self._fkey(rel, c, c.columns, name))
        # validate expressions now (PostgreSQL checks defaults and CHECKs at CREATE)
        for col in rel.columns:
            if col.default is not None and not col.default.startswith("nextval("):
                self._bind_default(rel, col)
        rel.pk = pk
        pk_name = next((n for n, cols in uniques if cols == ["\x00pk"]), None) or \
            f"{name}_pkey"
        uniques = [(n, cols) for n, cols in uniques if cols != ["\x00pk"]]
        rel.heap = f"r{rel.oid}"
        self.db.create_table(rel.heap, primary_key=rel.pk_keys())
        if pk is not None:
            rel.indexes.append(IndexDef(pk_name, cat.alloc_oid(), list(pk), True, True, True))
        for cname, cols in uniques:
            iname = cname or _unique_name(self, schema, name, cols, "key")
            if self._name_taken(schema, iname):
                raise SqlError(f'relation "{iname}" already exists', sqlstate="42P07")
            keys = [rel.column(n).key for n in cols]  # type: ignore[union-attr]
            self.db.create_index(rel.heap, keys, unique=True, name=iname)
            rel.indexes.append(IndexDef(iname, cat.alloc_oid(), cols, True, False, True,
                                        iname))
        self._write_rel(rel, True)
        for seq_name, t in seqs:
            self._create_sequence(schema, seq_name, {"as": t}, owned_by=rel.oid)
        self._save_oid_counter()
        return Result("CREATE TABLE")

    def _fkey(self, rel: Relation, c: a.Constraint, cols: list[str], table: str) -> ForeignKey:
        assert c.ref_table is not None
        view = self.catalog()  # type: ignore[attr-defined]
        if c.ref_table.name == table and c.ref_table.schema in (None, rel.schema):
            ref = rel
        else:
            ref = view.resolve(c.ref_table.schema, c.ref_table.name,
                               self.search_path(), c.ref_table.pos)  # type: ignore[attr-defined]
        rcols = c.ref_columns or (ref.pk or [])
        if not rcols:
            raise SqlError(f'there is no primary key for referenced table "{ref.name}"',
                           sqlstate="42830", position=c.pos + 1)
        if len(rcols) != len(cols):
            raise SqlError("number of referencing and referenced columns for foreign key "
                           "disagree", sqlstate="42830", position=c.pos + 1)
        name = c.name or f"{table}_{'_'.join(cols)}_fkey"
        return ForeignKey(name, list(cols), ref.oid, list(rcols), c.on_delete, c.on_update)

    def _bind_default(self, rel: Relation, col: Column) -> Bound:
        from cairn.sql.expr import Scope
        from cairn.sql.parser import Parser

        p = Parser(col.default or "NULL")
        node = p.expr()
        planner = self.planner([], track=False)  # type: ignore[attr-defined]
        b = planner.bind(node, Scope())
        return coerce(b, col.type, "assignment", planner.ctx, -1,
                      f'column "{col.name}" is of type {{dst}} but default expression is of '
                      "type {src}")

    def _create_table_as(self, st: a.CreateTableStmt, rel: Relation) -> Any:
        from cairn.sql.session import Result

        assert st.as_query is not None
        planner = self.planner([], track=False)  # type: ignore[attr-defined]
        pq = planner.plan_query(st.as_query)
        names = [cd.name for cd in st.columns] + pq.names[len(st.columns):]
        for n, t in zip(names, pq.types, strict=True):
            rel.columns.append(Column(rel.next_attnum, n, t))
            rel.next_attnum += 1
        rel.heap = f"r{rel.oid}"
        self.db.create_table(rel.heap, primary_key=rel.pk_keys())
        self._write_rel(rel, True)
        self._save_oid_counter()
        n = 0
        if st.with_data:
            ex = self.exec_state([])  # type: ignore[attr-defined]
            for row in pq.node.rows(ex):
                self._insert_stored(rel, list(row))  # type: ignore[attr-defined]
                n += 1
        return Result(f"SELECT {n}")

    def _save_oid_counter(self) -> None:
        cat = self.sdb.catalog
        schemas = {n: {"oid": s.oid, "owner": s.owner} for n, s in cat.schemas.items()
                   if n not in ("pg_catalog", "public", "information_schema")}
        for n, s in self.overlay.schemas.items():
            if s is None:
                schemas.pop(n, None)
            else:
                schemas[n] = {"oid": s.oid, "owner": s.owner}
        self.tx.update(CATALOG_TABLE, 0, {"def": {"next_oid": cat.next_oid,
                                                  "schemas": schemas}})

    # -- CREATE INDEX -------------------------------------------------------------------
    def stmt_CreateIndexStmt(self, st: a.CreateIndexStmt, params: list[Any],
                             types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        view = self.catalog()  # type: ignore[attr-defined]
        rel = view.resolve(st.table.schema, st.table.name, self.search_path(),  # type: ignore[attr-defined]
                           st.table.pos, kinds="r")
        self.check_owner(rel)  # type: ignore[attr-defined]
        if st.method != "btree":
            raise SqlError(f'access method "{st.method}" is not supported', sqlstate="0A000")
        cols: list[str] = []
        for el in st.columns:
            if not isinstance(el.expr, a.ColumnRef) or len(el.expr.fields) != 1:
                raise SqlError("indexes on expressions are not supported yet",
                               sqlstate="0A000", position=st.pos + 1)
            n = el.expr.fields[0]
            if rel.column(n) is None:
                raise SqlError(f'column "{n}" does not exist', sqlstate="42703",
                               position=el.expr.pos + 1)
            cols.append(n)
        name = st.name or _unique_name(self, rel.schema, rel.name, cols,
                                       "key" if st.unique else "idx")
        if self._name_taken(rel.schema, name):
            if st.if_not_exists:
                return Result("CREATE INDEX")
            raise SqlError(f'relation "{name}" already exists', sqlstate="42P07")
        for n in st.include:
            if rel.column(n) is None:
                raise SqlError(f'column "{n}" does not exist', sqlstate="42703")
        keys = [rel.column(n).key for n in cols]  # type: ignore[union-attr]
        oid = self.sdb.catalog.alloc_oid()
        ix = IndexDef(name, oid, cols, st.unique, False, False, name,
                      include=list(st.include))
        rel = rel.copy()
        if st.where is not None:
            from cairn.sql.parser import Parser
            ix.predicate = st.where_text or ""
            self._partial_predicate(rel, ix.predicate, Parser(ix.predicate).expr())  # type: ignore[attr-defined]
        self._no_own_table_lock(rel)
        try:
            if st.unique and ix.predicate is not None:
                # the index first (every row's key is still NULL), then each row's key
                # through this transaction: a duplicate fails as the index would
                ix.hidden = f"u{oid}"
                self.db.create_index(rel.heap, [ix.hidden], unique=True, name=name)
                self._backfill_partial(rel, ix)  # type: ignore[attr-defined]
            else:
                self.db.create_index(rel.heap, keys, unique=st.unique, name=name)
        except Exception as exc:
            from cairn.txn.errors import UniqueViolation
            if isinstance(exc, UniqueViolation):
                raise SqlError(f'could not create unique index "{name}"', sqlstate="23505",
                               detail=self._duplicate_detail(rel, cols)) from exc
            raise
        rel.indexes.append(ix)
        self._write_rel(rel, False)
        self._save_oid_counter()
        return Result("CREATE INDEX")

    # -- CREATE VIEW / SCHEMA / SEQUENCE ------------------------------------------------
    def stmt_CreateViewStmt(self, st: a.CreateViewStmt, params: list[Any],
                            types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        schema = self._target_schema(st.view)
        pq = self.planner([]).plan_query(st.query)  # type: ignore[attr-defined]
        existing = self.catalog().lookup(schema, st.view.name)  # type: ignore[attr-defined]
        if existing is not None and not (st.or_replace and existing.kind == "v"):
            raise SqlError(f'relation "{st.view.name}" already exists', sqlstate="42P07")
        rel = Relation(existing.oid if existing else self.sdb.catalog.alloc_oid(), schema,
                       st.view.name, "v", owner=self.current_user, view_sql=st.query_text)
        names = st.columns + pq.names[len(st.columns):]
        for n, t in zip(names, pq.types, strict=True):
            rel.columns.append(Column(rel.next_attnum, n, t))
            rel.next_attnum += 1
        self._write_rel(rel, existing is None)
        self._save_oid_counter()
        return Result("CREATE VIEW")

    def stmt_CreateSchemaStmt(self, st: a.CreateSchemaStmt, params: list[Any],
                              types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        if self.catalog().schema(st.name) is not None:  # type: ignore[attr-defined]
            if st.if_not_exists:
                return Result("CREATE SCHEMA")
            raise SqlError(f'schema "{st.name}" already exists', sqlstate="42P06")
        if st.name.startswith("pg_"):
            raise SqlError(f'unacceptable schema name "{st.name}"', sqlstate="42939",
                           detail='The prefix "pg_" is reserved for system schemas.')
        self.overlay.schemas[st.name] = Schema(st.name, self.sdb.catalog.alloc_oid(),
                                               st.authorization or self.current_user)
        self._save_oid_counter()
        return Result("CREATE SCHEMA")

    def stmt_CreateSequenceStmt(self, st: a.CreateSequenceStmt, params: list[Any],
                                types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        if st.alter:
            raise SqlError("ALTER SEQUENCE is not supported yet", sqlstate="0A000")
        schema = self._target_schema(st.seq)
        if self._name_taken(schema, st.seq.name):
            if st.if_not_exists:
                return Result("CREATE SEQUENCE")
            raise SqlError(f'relation "{st.seq.name}" already exists', sqlstate="42P07")
        self._create_sequence(schema, st.seq.name, st.options)
        self._save_oid_counter()
        return Result("CREATE SEQUENCE")

    def _create_sequence(self, schema: str, name: str, opts: dict[str, Any],
                         owned_by: int | None = None) -> Relation:
        t = opts.get("as") or T.INT8
        if isinstance(t, a.TypeName):
            t = type_from_name(t)
        lo, hi = _INT_LIMITS.get(t.oid, _INT_LIMITS[T.INT8.oid])
        inc = opts.get("increment", 1)
        if inc == 0:
            raise SqlError("INCREMENT must not be zero", sqlstate="22023")
        minv = opts.get("minvalue") if opts.get("minvalue") is not None else (
            1 if inc > 0 else lo)
        maxv = opts.get("maxvalue") if opts.get("maxvalue") is not None else (
            hi if inc > 0 else -1)
        start = opts.get("start", minv if inc > 0 else maxv)
        if not minv <= start <= maxv:
            raise SqlError(f"START value ({start}) cannot be less than MINVALUE ({minv})"
                           if start < minv else
                           f"START value ({start}) cannot be greater than MAXVALUE ({maxv})",
                           sqlstate="22023")
        rel = Relation(self.sdb.catalog.alloc_oid(), schema, name, "S",
                       owner=self.current_user,
                       seq={"type": t.oid, "inc": inc, "min": minv, "max": maxv,
                            "start": start, "cycle": bool(opts.get("cycle", False)),
                            "owned_by": owned_by})
        self._write_rel(rel, True)
        return rel

    # -- DROP ---------------------------------------------------------------------------
    def stmt_DropStmt(self, st: a.DropStmt, params: list[Any], types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        view = self.catalog()  # type: ignore[attr-defined]
        tag = "DROP " + st.kind.upper()
        if st.kind == "role":
            return self.drop_roles(st)  # type: ignore[attr-defined]
        if st.kind == "policy":
            return self.drop_policy(st)  # type: ignore[attr-defined]
        if st.kind == "schema":
            for rv in st.names:
                if view.schema(rv.name) is None:
                    if st.if_exists:
                        self._skip_notice(f'schema "{rv.name}" does not exist')
                        continue
                    raise SqlError(f'schema "{rv.name}" does not exist', sqlstate="3F000")
                members = [r for r in view.all_relations() if r.schema == rv.name]
                if members and not st.cascade:
                    raise SqlError(f"cannot drop schema {rv.name} because other objects "
                                   "depend on it", sqlstate="2BP01",
                                   hint="Use DROP ... CASCADE to drop the dependent objects "
                                        "too.")
                for r in members:
                    self._drop_relation(r)
                self.overlay.schemas[rv.name] = None
            self._save_oid_counter()
            return Result(tag)
        if st.kind == "index":
            for rv in st.names:
                owner = next((r for r in view.all_relations() for ix in r.indexes
                              if ix.name == rv.name and (rv.schema in (None, r.schema))),
                             None)
                if owner is None:
                    if st.if_exists:
                        self._skip_notice(f'index "{rv.name}" does not exist')
                        continue
                    raise SqlError(f'index "{rv.name}" does not exist', sqlstate="42704")
                ix = next(i for i in owner.indexes if i.name == rv.name)
                if ix.constraint:
                    raise SqlError(f"cannot drop index {rv.name} because constraint "
                                   f"{rv.name} on table {owner.name} requires it",
                                   sqlstate="2BP01")
                self._lock_exclusive(owner)
                rel = owner.copy()
                rel.indexes = [i for i in rel.indexes if i.name != rv.name]
                self._write_rel(rel, False)
            return Result(tag)
        kinds = {"table": "r", "view": "v", "sequence": "S"}
        if st.kind not in kinds:
            raise SqlError(f"DROP {st.kind.upper()} is not supported yet", sqlstate="0A000")
        for rv in st.names:
            rel = view.find(rv.schema, rv.name, self.search_path())  # type: ignore[attr-defined]
            if rel is None or rel.kind != kinds[st.kind]:
                if rel is not None:
                    raise SqlError(f'"{rv.name}" is not a {st.kind}', sqlstate="42809",
                                   hint=f"Use DROP {_KIND_NAMES[rel.kind]} to remove a "
                                        f"{_KIND_NAMES[rel.kind].lower()}.")
                what = {"table": "table", "view": "view", "sequence": "sequence"}[st.kind]
                if st.if_exists:
                    self._skip_notice(f'{what} "{rv.name}" does not exist')
                    continue
                raise SqlError(f'{what} "{rv.name}" does not exist', sqlstate="42P01")
            if rel.kind == "r":
                deps = [r for r in view.all_relations() if r.oid != rel.oid and any(
                    f.ref_oid == rel.oid for f in r.fkeys)]
                if deps and not st.cascade:
                    raise SqlError(f"cannot drop table {rel.name} because other objects "
                                   "depend on it", sqlstate="2BP01",
                                   detail=f"constraint {deps[0].fkeys[0].name} on table "
                                          f"{deps[0].name} depends on table {rel.name}",
                                   hint="Use DROP ... CASCADE to drop the dependent objects "
                                        "too.")
                for d in deps:
                    d2 = d.copy()
                    d2.fkeys = [f for f in d2.fkeys if f.ref_oid != rel.oid]
                    self._write_rel(d2, False)
            self._drop_relation(rel)
        return Result(tag)

    def _skip_notice(self, what: str) -> None:
        """DROP ... IF EXISTS of something missing: PostgreSQL's NOTICE, not an error."""
        self.notices.append(("NOTICE", "00000", f"{what}, skipping"))  # type: ignore[attr-defined]

    def _drop_relation(self, rel: Relation) -> None:
        self.check_owner(rel)  # type: ignore[attr-defined]
        self._lock_exclusive(rel)
        self.tx.delete(CATALOG_TABLE, rel.oid)
        self.overlay.relations[rel.oid] = None
        if rel.kind == "r":
            view = self.catalog()  # type: ignore[attr-defined]
            for r in view.all_relations():
                if r.kind == "S" and r.seq.get("owned_by") == rel.oid:
                    self.tx.delete(CATALOG_TABLE, r.oid)
                    self.overlay.relations[r.oid] = None

    def stmt_TruncateStmt(self, st: a.TruncateStmt, params: list[Any],
                          types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        view = self.catalog()  # type: ignore[attr-defined]
        for rv in st.tables:
            rel = view.resolve(rv.schema, rv.name, self.search_path(), rv.pos,  # type: ignore[attr-defined]
                               kinds="r")
            self.check_privilege(rel, "truncate", rv.pos)  # type: ignore[attr-defined]
            self._lock_exclusive(rel)
            # a new relfilenode, as PostgreSQL's TRUNCATE: the old heap is left behind
            new = rel.copy()
            new.heap = f"r{rel.oid}_{self.sdb.catalog.alloc_oid()}"
            self.db.create_table(new.heap, primary_key=new.pk_keys())
            for ix in new.indexes:
                if ix.db_name:
                    keys = [new.column(n).key for n in ix.columns]  # type: ignore[union-attr]
                    self.db.create_index(new.heap, keys, unique=ix.unique, name=ix.db_name)
            self._write_rel(new, False)
        self._save_oid_counter()
        return Result("TRUNCATE TABLE")

    # -- sequences ----------------------------------------------------------------------
    def sequence_function(self, name: str, args: list[Bound], pos: int) -> Bound:
        if name == "lastval":
            def lastval(row: tuple, ex: Any) -> Any:
                if ex.session.lastval is None:
                    raise SqlError("lastval is not yet defined in this session",
                                   sqlstate="55000")
                return ex.session.lastval
            return Bound(T.INT8, lastval)
        if not args:
            raise SqlError(f"function {name}() does not exist", sqlstate="42883",
                           position=pos + 1)
        namef = args[0].fn
        rest = [coerce(b, T.INT8, "implicit", self.ctx).fn for b in args[1:]]  # type: ignore[attr-defined]

        def run(row: tuple, ex: Any) -> Any:
            seqname = namef(row, ex)
            s = ex.session
            rel = s._sequence(seqname)
            if name in ("nextval", "setval"):
                s._sequence_privilege(rel, "update")
            if name == "nextval":
                return s._nextval(rel)
            if name == "currval":
                if rel.oid not in s.currval:
                    raise SqlError(f'currval of sequence "{rel.name}" is not yet defined in '
                                   "this session", sqlstate="55000")
                return s.currval[rel.oid]
            vals = [f(row, ex) for f in rest]
            return s._setval(rel, vals[0], vals[1] if len(vals) > 1 else True)
        return Bound(T.INT8, run)

    def _sequence(self, name: Any) -> Relation:
        if isinstance(name, int):
            rel = self.catalog().relation_by_oid(name)  # type: ignore[attr-defined]
        else:
            text = str(name)
            parts = [p.strip('"') for p in text.split(".")]
            schema = parts[0] if len(parts) == 2 else None
            rel = self.catalog().find(schema, parts[-1].lower() if not text.startswith(  # type: ignore[attr-defined]
                '"') else parts[-1], self.search_path())  # type: ignore[attr-defined]
        if rel is None or rel.kind != "S":
            raise SqlError(f'relation "{name}" does not exist', sqlstate="42P01")
        return rel

    def _sequence_privilege(self, rel: Relation, privilege: str) -> None:
        """nextval needs USAGE or UPDATE on the sequence, even behind a serial column (the
        classic "permission denied for sequence t_id_seq" after GRANT INSERT)."""
        try:
            self.check_privilege(rel, "usage")  # type: ignore[attr-defined]
        except SqlError:
            self.check_privilege(rel, privilege)  # type: ignore[attr-defined]

    def _seq_state(self, rel: Relation) -> list[int]:
        cache = self.sdb.seq_cache
        st = cache.get(rel.oid)
        if st is None:
            with self.db.transaction("read committed") as tx:
                row = tx.get(SEQ_TABLE, rel.oid)
            if row is None:
                st = [rel.seq["start"], rel.seq["start"] - rel.seq["inc"], 0]
            else:
                st = [row["last"] + rel.seq["inc"], row["last"], 1]
            cache[rel.oid] = st
        return st

    def _nextval(self, rel: Relation) -> int:
        seq = rel.seq
        inc = seq["inc"]
        with self.sdb.seq_lock:
            st = self._seq_state(rel)
            v = st[0]
            if (inc > 0 and v > seq["max"]) or (inc < 0 and v < seq["min"]):
                if not seq["cycle"]:
                    bound = "maximum" if inc > 0 else "minimum"
                    raise SqlError(f'nextval: reached {bound} value of sequence "{rel.name}" '
                                   f'({seq["max"] if inc > 0 else seq["min"]})',
                                   sqlstate="2200H")
                v = seq["min"] if inc > 0 else seq["max"]
                st[1] = v - inc
            if (inc > 0 and v > st[1]) or (inc < 0 and v < st[1]) or st[2] == 0:
                # reserve the next block durably before handing out any number of it
                reserved = v + inc * (SEQ_BLOCK - 1)
                reserved = min(reserved, seq["max"]) if inc > 0 else max(reserved, seq["min"])
                with self.db.transaction("read committed") as tx:
                    if tx.get(SEQ_TABLE, rel.oid) is None:
                        tx.insert(SEQ_TABLE, {"oid": rel.oid, "last": reserved})
                    else:
                        tx.update(SEQ_TABLE, rel.oid, {"last": reserved})
                st[1], st[2] = reserved, 1
            st[0] = v + inc
        self.currval[rel.oid] = v  # type: ignore[attr-defined]
        self.lastval = v  # type: ignore[attr-defined]
        return v

    def _setval(self, rel: Relation, value: int, is_called: bool) -> int:
        seq = rel.seq
        if not seq["min"] <= value <= seq["max"]:
            raise SqlError(f'setval: value {value} is out of bounds for sequence "{rel.name}" '
                           f'({seq["min"]}..{seq["max"]})', sqlstate="22003")
        with self.sdb.seq_lock:
            nxt = value + seq["inc"] if is_called else value
            with self.db.transaction("read committed") as tx:
                last = nxt - seq["inc"]
                if tx.get(SEQ_TABLE, rel.oid) is None:
                    tx.insert(SEQ_TABLE, {"oid": rel.oid, "last": last})
                else:
                    tx.update(SEQ_TABLE, rel.oid, {"last": last})
            self.sdb.seq_cache[rel.oid] = [nxt, last, 1]
        if is_called:
            self.currval[rel.oid] = value  # type: ignore[attr-defined]
        return value


_KIND_NAMES = {"r": "TABLE", "v": "VIEW", "S": "SEQUENCE"}


def _unique_name(session: Any, schema: str, table: str, cols: list[str], suffix: str) -> str:
    base = f"{table}_{'_'.join(cols)}_{suffix}"
    name, n = base, 0
    while session._name_taken(schema, name):
        n += 1
        name = f"{base}{n}"
    return name
