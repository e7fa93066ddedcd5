"""DML: INSERT (with ON CONFLICT and RETURNING), UPDATE and DELETE over cairn.db.

Each row goes through the same steps as in PostgreSQL's executor: defaults for the columns
not given, assignment casts to the column types (22001, 22003 ... as PostgreSQL reports them),
NOT NULL (23502), CHECK (23514) and FOREIGN KEY (23503) constraints, then the heap write,
whose primary-key and unique-index checks cairn.db makes under its row locks (23505 with
PostgreSQL's "Key (id)=(1) already exists."). UPDATE and DELETE find their rows through the
planner (so an indexed WHERE reads, locks and SSI-tracks only the rows it needs) and write
them with cairn.db's row-locking update and delete.
"""

from __future__ import annotations

import itertools
from typing import Any

from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.catalog import ROWID, Relation
from cairn.sql.errors import SqlError
from cairn.sql.expr import Bound, Scope, ScopeColumn, coerce, to_bool
from cairn.sql.planner import ExecState, PlannedQuery, _column_name
from cairn.txn.errors import NotNullViolation as DbNotNull
from cairn.txn.errors import UniqueViolation


class DmlMixin:
    """Session methods for DML (mixed into :class:`cairn.sql.session.Session`)."""

    tx: Any
    sdb: Any
    ctx: Any

    # -- shared ---------------------------------------------------------------------------
    def _target(self, rv: a.RangeVar) -> Relation:
        rel = self.catalog().resolve(rv.schema, rv.name, self.search_path(), rv.pos)  # type: ignore[attr-defined]
        if rel.kind != "r":
            kind = {"v": "view", "S": "sequence"}[rel.kind]
            raise SqlError(f'cannot change {kind} "{rel.name}"', sqlstate="55000"
                           if rel.kind == "v" else "42809")
        return rel

    def _row_scope(self, rel: Relation, alias: str) -> Scope:
        return Scope([ScopeColumn(alias, c.name, c.type) for c in rel.live_columns])

    def _compiled(self, what: Any, rel: Relation, build: Any, row_only: bool = False) -> Any:
        """What ``build()`` compiles for ``rel`` (defaults, CHECKs, index predicates), kept
        on the terms query plans are (``_cached_plan``): while the catalog, search_path, the
        role and TimeZone are unchanged, so that each INSERT does not parse and bind them
        again. A transaction with uncommitted DDL compiles afresh, unless the expression is
        ``row_only`` (IMMUTABLE, over the row alone): then only the relation's own definition
        matters, and the cached one must be this very object."""
        if self.overlay and not row_only:  # type: ignore[attr-defined]
            return build()
        cache = self.compiled  # type: ignore[attr-defined]
        key = (what, rel.oid, self.sdb.catalog.generation,
               self.settings["search_path"], self.current_user,  # type: ignore[attr-defined]
               self.ctx.timezone)
        hit = cache.get(key)
        if hit is not None and hit[0] is rel:
            return hit[1]
        value = build()
        if len(cache) >= self.sdb.plan_cache_size:
            cache.clear()
        cache[key] = (rel, value)
        return value

    def _defaults(self, rel: Relation) -> list[Bound | None]:
        return self._compiled("defaults", rel, lambda: [
            self._bind_default(rel, c) if c.default is not None else None  # type: ignore[attr-defined]
            for c in rel.live_columns])

    def _check_row(self, rel: Relation, vals: list[Any], checks: list[tuple[str, Any]],
                   ex: ExecState) -> None:
        for c, v in zip(rel.live_columns, vals, strict=True):
            if v is None and c.not_null:
                raise SqlError(f'null value in column "{c.name}" of relation "{rel.name}" '
                               "violates not-null constraint", sqlstate="23502",
                               detail=f"Failing row contains ({_row_text(rel, vals, ex)}).")
        row = tuple(vals)
        for name, fn in checks:
            if fn(row, ex) is False:
                raise SqlError(f'new row for relation "{rel.name}" violates check constraint '
                               f'"{name}"', sqlstate="23514",
                               detail=f"Failing row contains ({_row_text(rel, vals, ex)}).")

    def _rls_check(self, rel: Relation, command: str) -> Any:
        """WITH CHECK of the row-level security policies for rows ``command`` writes."""
        q = self.rls_expr(rel, command, check=True)  # type: ignore[attr-defined]
        if q is None:
            return None
        pl = self.planner([], track=False)  # type: ignore[attr-defined]
        fn = to_bool(pl.bind(q, self._row_scope(rel, rel.name)), pl.ctx, "POLICY", -1).fn

        def check(row: tuple, ex: ExecState, using: bool = False) -> None:
            if fn(row, ex) is not True:
                what = " (USING expression)" if using else ""
                raise SqlError(f"new row violates row-level security policy{what} for table "
                               f'"{rel.name}"', sqlstate="42501")
        return check

    def _checks(self, rel: Relation) -> list[tuple[str, Any]]:
        return self._compiled("checks", rel, lambda: self._bind_checks(rel))

    def _bind_checks(self, rel: Relation) -> list[tuple[str, Any]]:
        from cairn.sql.parser import Parser

        out = []
        pl = self.planner([], track=False)  # type: ignore[attr-defined]
        scope = self._row_scope(rel, rel.name)
        for ck in rel.checks:
            node = Parser(ck.expr).expr()
            b = to_bool(pl.bind(node, scope), pl.ctx, "CHECK", -1)
            out.append((ck.name, b.fn))
        return out

    def _check_fkeys(self, rel: Relation, vals: list[Any]) -> None:
        view = self.catalog()  # type: ignore[attr-defined]
        for fk in rel.fkeys:
            cols = [rel.column(n) for n in fk.columns]
            key = [vals[rel.live_columns.index(c)] for c in cols]  # type: ignore[arg-type]
            if any(v is None for v in key):
                continue
            ref = view.relation_by_oid(fk.ref_oid)
            if ref is None:
                continue
            where = {}
            for n, v in zip(fk.ref_columns, key, strict=True):
                rc = ref.column(n)
                assert rc is not None
                where[rc.key] = ("=", T.to_storage(rc.type, v))
            found = self.tx.select(ref.heap, where, for_share=True, limit=1)
            if not found:
                shown = ", ".join(fk.columns)
                vs = ", ".join(T.format_output(c.type, v, self.ctx)  # type: ignore[union-attr]
                               for c, v in zip(cols, key, strict=True))
                raise SqlError(f'insert or update on table "{rel.name}" violates foreign key '
                               f'constraint "{fk.name}"', sqlstate="23503",
                               detail=f'Key ({shown})=({vs}) is not present in table '
                                      f'"{ref.name}".')

    def _referenced(self, rel: Relation, old: tuple, ex: ExecState) -> None:
        """ON DELETE of a referenced row: RESTRICT / NO ACTION / CASCADE / SET NULL."""
        view = self.catalog()  # type: ignore[attr-defined]
        for child in view.all_relations():
            for fk in child.fkeys:
                if fk.ref_oid != rel.oid:
                    continue
                key = []
                for n in fk.ref_columns:
                    c = rel.column(n)
                    key.append(old[rel.live_columns.index(c)])  # type: ignore[arg-type]
                where = {}
                for n, v in zip(fk.columns, key, strict=True):
                    cc = child.column(n)
                    assert cc is not None
                    where[cc.key] = ("=", T.to_storage(cc.type, v))
                rows = self.tx.select(child.heap, where, for_update=True)
                if not rows:
                    continue
                if fk.on_delete in ("no action", "restrict"):
                    shown = ", ".join(fk.ref_columns)
                    vs = ", ".join(T.format_output(rel.column(n).type, v, self.ctx)  # type: ignore[union-attr]
                                   for n, v in zip(fk.ref_columns, key, strict=True))
                    raise SqlError(f'update or delete on table "{rel.name}" violates foreign '
                                   f'key constraint "{fk.name}" on table "{child.name}"',
                                   sqlstate="23503",
                                   detail=f'Key ({shown})=({vs}) is still referenced from '
                                          f'table "{child.name}".')
                for d in rows:
                    pk = _stored_pk(child, d)
                    if fk.on_delete == "cascade":
                        self._referenced(child, _decode(child, d), ex)
                        self.tx.delete(child.heap, pk)
                    else:
                        changes = {child.column(n).key: None for n in fk.columns}  # type: ignore[union-attr]
                        self.tx.update(child.heap, pk, changes)

    def _store(self, rel: Relation, vals: list[Any]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for c, v in zip(rel.live_columns, vals, strict=True):
            if v is not None:
                d[c.key] = T.to_storage(c.type, v)
            elif c.missing is not None:
                d[c.key] = None  # an explicit NULL: a missing key would read the old default
        if rel.pk is None:
            d[ROWID] = self._next_rowid(rel)
        d.update(self._partial_keys(rel, vals))
        return d

    # -- partial unique indexes -------------------------------------------------------------
    def _partial_predicate(self, rel: Relation, text: str, node: Any = None) -> Any:
        """A partial index's WHERE compiled on the table's row (cached per catalog state)."""
        from cairn.sql.parser import Parser

        def build() -> Any:
            pl = self.planner([], track=False)  # type: ignore[attr-defined]
            b = pl.bind(node if node is not None else Parser(text).expr(),
                        self._row_scope(rel, rel.name))
            if pl.volatile:
                raise SqlError("functions in index predicate must be marked IMMUTABLE",
                               sqlstate="42P17")
            return to_bool(b, pl.ctx, "WHERE", -1).fn
        return self._compiled(("predicate", text), rel, build, row_only=True)

    def _partial_keys(self, rel: Relation, vals: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ix in rel.indexes:
            if ix.hidden is None:
                continue
            row = tuple(vals)
            ok = self._partial_predicate(rel, ix.predicate or "")(row, self.exec_state([]))  # type: ignore[attr-defined]
            key = None
            if ok is True:
                parts = []
                for n in ix.columns:
                    c = rel.column(n)
                    assert c is not None
                    v = vals[rel.live_columns.index(c)]
                    if v is None:
                        parts = []
                        break
                    parts.append(T.to_storage(c.type, v))
                key = parts or None
            out[ix.hidden] = key
        return out

    def _backfill_partial(self, rel: Relation, ix: Any) -> None:
        """CREATE UNIQUE INDEX ... WHERE on a table with rows: give each its key."""
        rel2 = rel.copy()
        rel2.indexes = [*rel.indexes, ix]
        for d in self.tx.select(rel.heap):
            vals = list(_decode(rel, d))
            keys = self._partial_keys(rel2, vals)
            self.tx.update(rel.heap, _stored_pk(rel, d), {ix.hidden: keys[ix.hidden]})

    def _next_rowid(self, rel: Relation) -> int:
        """The hidden row id of a table without a primary key: ordered by insertion, and a
        reopened database continues above the largest id the heap holds (read once)."""
        counters = self.sdb.rowids
        counter = counters.get(rel.heap)
        if counter is None:
            with self.sdb.seq_lock:
                counter = counters.get(rel.heap)
                if counter is None:
                    with self.db.transaction("read committed") as tx:  # type: ignore[attr-defined]
                        top = max((r.get(ROWID, 0) for r in tx.select(rel.heap)), default=0)
                    counter = counters[rel.heap] = itertools.count(top + 1)
        return next(counter)

    def _insert_stored(self, rel: Relation, vals: list[Any]) -> dict[str, Any]:
        d = self._store(rel, vals)
        try:
            self.tx.insert(rel.heap, d)
        except UniqueViolation as exc:
            raise self._unique_error(rel, vals, exc) from exc
        except DbNotNull as exc:
            raise SqlError(str(exc), sqlstate="23502") from exc
        return d

    def _unique_error(self, rel: Relation, vals: list[Any], exc: Exception) -> SqlError:
        msg = str(exc)
        ix = None
        if "_pkey" in msg and rel.heap + "_pkey" in msg:
            ix = next((i for i in rel.indexes if i.primary), None)
        else:
            ix = next((i for i in rel.indexes if i.db_name and f'"{i.db_name}"' in msg), None)
        if ix is None:
            return SqlError(msg, sqlstate="23505")
        cols = [rel.column(n) for n in ix.columns]
        shown = ", ".join(ix.columns)
        vs = ", ".join(T.format_output(c.type, vals[rel.live_columns.index(c)], self.ctx)  # type: ignore[union-attr, arg-type]
                       for c in cols)
        return SqlError(f'duplicate key value violates unique constraint "{ix.name}"',
                        sqlstate="23505", detail=f"Key ({shown})=({vs}) already exists.")

    def _returning(self, targets: list[a.ResTarget], rel: Relation, alias: str,
                   pl: Any, extra_scope: Scope | None = None) -> tuple[list[Any], list[str],
                                                                       list[T.SqlType]]:
        scope = self._row_scope(rel, alias)
        if extra_scope is not None:
            scope = Scope(scope.columns + extra_scope.columns)
        fns, names, types = [], [], []
        for t in targets:
            e = t.expr
            if isinstance(e, a.Star) or (isinstance(e, a.ColumnRef) and e.fields[-1] == "*"):
                for i, c in enumerate(rel.live_columns):
                    fns.append(lambda row, ex, i=i: row[i])
                    names.append(c.name)
                    types.append(c.type)
                continue
            b = pl.bind(e, scope)
            if b.type.oid == T.UNKNOWN.oid:
                b = coerce(b, T.TEXT, "implicit", pl.ctx)
            fns.append(b.fn)
            names.append(t.name or _column_name(e))
            types.append(b.type)
        return fns, names, types

    # -- INSERT ---------------------------------------------------------------------------
    def stmt_InsertStmt(self, st: a.InsertStmt, params: list[Any],
                        types: list[T.SqlType]) -> Any:

        pl = self._dml_planner(st, types)
        rel = self._target(st.table)
        self.check_privilege(rel, "insert", st.table.pos)  # type: ignore[attr-defined]
        cols = rel.live_columns
        if st.columns:
            targets = []
            for n in st.columns:
                c = rel.column(n)
                if c is None:
                    raise SqlError(f'column "{n}" of relation "{rel.name}" does not exist',
                                   sqlstate="42703", position=st.table.pos + 1)
                if c in targets:
                    raise SqlError(f'column "{n}" specified more than once', sqlstate="42701")
                targets.append(c)
        else:
            targets = list(cols)
        positions = [cols.index(c) for c in targets]
        defaults = self._defaults(rel)
        ex = self.exec_state(params)  # type: ignore[attr-defined]
        # the source rows, as lists of closures or a planned query
        source_rows: list[list[Any]] = []
        if st.query is None:
            source_rows = [[]]
            positions = []
        elif isinstance(st.query, a.SelectStmt) and st.query.values is not None and \
                not st.query.order_by and st.query.limit is None:
            if len({len(r) for r in st.query.values}) > 1:
                raise SqlError("VALUES lists must all be the same length", sqlstate="42601",
                               position=st.query.pos + 1)
            for r in st.query.values:
                if len(r) > len(targets):
                    raise SqlError("INSERT has more expressions than target columns",
                                   sqlstate="42601", position=st.pos + 1)
                if len(r) < len(targets) and not st.columns:
                    # without a column list, the leading columns (the rest take defaults)
                    targets = targets[:len(r)]
                    positions = positions[:len(r)]
                if len(r) < len(targets):
                    raise SqlError("INSERT has more target columns than expressions",
                                   sqlstate="42601", position=st.pos + 1)
                row = []
                for e, c in zip(r, targets, strict=True):
                    if isinstance(e, a.Default):
                        row.append(None if defaults[cols.index(c)] is None else
                                   defaults[cols.index(c)])
                        continue
                    if c.identity == "always" and st.overriding != "system":
                        raise SqlError(f'cannot insert a non-DEFAULT value into column '
                                       f'"{c.name}"', sqlstate="428C9",
                                       detail=f'Column "{c.name}" is an identity column '
                                              "defined as GENERATED ALWAYS.",
                                       hint="Use OVERRIDING SYSTEM VALUE to override.")
                    b = pl.bind(e, Scope())
                    row.append(coerce(b, c.type, "assignment", pl.ctx, getattr(e, "pos", -1),
                                      f'column "{c.name}" is of type {{dst}} but expression '
                                      "is of type {src}"))
                source_rows.append(row)
        else:
            pl.unknown_outputs = True
            try:
                pq: PlannedQuery = pl.plan_query(st.query)
            finally:
                pl.unknown_outputs = False
            if len(pq.types) > len(targets):
                raise SqlError("INSERT has more expressions than target columns",
                               sqlstate="42601", position=st.pos + 1)
            convs = []
            for i, (t, c) in enumerate(zip(pq.types, targets, strict=False)):
                src = Bound(t, lambda row, ex, i=i: row[i])
                if t.oid == T.UNKNOWN.oid:  # an untyped literal or parameter: read as c's type
                    parse = T.input_function(c.type.base)
                    src = Bound(c.type.base, lambda row, ex, i=i, p=parse: None if row[i] is None
                                else (p(row[i], ex.ctx) if isinstance(row[i], str) else row[i]))
                    hook = pq.infers[i] if pq.infers else None
                    if hook is not None:
                        hook(c.type)
                b = coerce(src, c.type, "assignment", pl.ctx, -1, f'column "{c.name}" is of '
                           "type {dst} but expression is of type {src}")
                convs.append(b)
            positions = positions[:len(pq.types)]
            if not self.describing:  # Describe binds; it never runs the query
                for qrow in list(pq.node.rows(ex)):
                    source_rows.append([("v", b.fn(qrow, ex)) for b in convs])
        checks = self._checks(rel)
        rls_insert = self._rls_check(rel, "insert")
        ret = None
        if st.returning:
            ret = self._returning(st.returning, rel, st.table.alias or rel.name, pl)
        conflict = st.on_conflict
        arbiter = self._arbiter(rel, conflict) if conflict is not None else None
        upd = None
        if conflict is not None and conflict.action == "update":
            upd = self._conflict_update(rel, conflict, pl, st.table.alias or rel.name)
        self._described(ret)
        out_rows: list[tuple] = []
        n = 0
        self._run_dml_ctes(pl, ex)
        for src in source_rows:
            vals: list[Any] = [None] * len(cols)
            given = set()
            for p, item in zip(positions, src, strict=False):
                given.add(p)
                if isinstance(item, tuple) and len(item) == 2 and item[0] == "v":
                    vals[p] = item[1]
                elif item is None:
                    given.discard(p)
                else:
                    vals[p] = item.fn((), ex)
            for i, d in enumerate(defaults):
                if i not in given and d is not None:
                    vals[i] = d.fn((), ex)
            self._check_row(rel, vals, checks, ex)
            if rls_insert is not None:
                rls_insert(tuple(vals), ex)
            self._check_fkeys(rel, vals)
            if arbiter is not None:
                existing = self._conflicting(rel, arbiter, vals)
                if existing is not None:
                    if upd is None:
                        continue
                    row = self._apply_conflict_update(rel, upd, existing, vals, ex, checks)
                    if row is None:
                        continue
                    n += 1
                    if ret is not None:
                        out_rows.append(tuple(f(row, ex) for f in ret[0]))
                    continue
            self._insert_stored(rel, vals)
            n += 1
            if ret is not None:
                row = tuple(vals)
                out_rows.append(tuple(f(row, ex) for f in ret[0]))
        return _dml_result(f"INSERT 0 {n}", ret, out_rows)

    def _arbiter(self, rel: Relation, oc: a.OnConflict) -> list[str] | None:
        """The unique index ON CONFLICT checks: the one matching its target, or every one."""
        if oc.constraint is not None:
            ix = next((i for i in rel.indexes if i.name == oc.constraint), None)
            if ix is None:
                raise SqlError(f'constraint "{oc.constraint}" for table "{rel.name}" does not '
                               "exist", sqlstate="42704")
            return ix.columns
        if not oc.columns:
            uniq = [i for i in rel.indexes if i.unique]
            return uniq[0].columns if uniq else None
        names = []
        for e in oc.columns:
            if not isinstance(e, a.ColumnRef):
                raise SqlError("ON CONFLICT on expressions is not supported", sqlstate="0A000")
            names.append(e.fields[-1])
        for ix in rel.indexes:
            if ix.unique and sorted(ix.columns) == sorted(names):
                return ix.columns
        raise SqlError("there is no unique or exclusion constraint matching the ON CONFLICT "
                       "specification", sqlstate="42P10")

    def _conflicting(self, rel: Relation, cols: list[str], vals: list[Any]) -> dict | None:
        where = {}
        for n in cols:
            c = rel.column(n)
            assert c is not None
            v = vals[rel.live_columns.index(c)]
            if v is None:
                return None
            where[c.key] = ("=", T.to_storage(c.type, v))
        rows = self.tx.select(rel.heap, where, for_update=True, limit=1)
        return rows[0] if rows else None

    def _conflict_update(self, rel: Relation, oc: a.OnConflict, pl: Any, alias: str) -> Any:
        scope = Scope([ScopeColumn(alias, c.name, c.type) for c in rel.live_columns] +
                      [ScopeColumn("excluded", c.name, c.type) for c in rel.live_columns])
        sets = self._bind_sets(rel, oc.sets, pl, scope)
        where = to_bool(pl.bind(oc.where, scope), pl.ctx, "WHERE", -1).fn \
            if oc.where is not None else None
        return sets, where

    def _apply_conflict_update(self, rel: Relation, upd: Any, existing: dict,
                               vals: list[Any], ex: ExecState, checks: list) -> tuple | None:
        sets, where = upd
        old = _decode(rel, existing)
        using = self.rls_expr(rel, "update")  # type: ignore[attr-defined]
        if using is not None:
            pl = self.planner([], track=False)  # type: ignore[attr-defined]
            ok = to_bool(pl.bind(using, self._row_scope(rel, rel.name)), pl.ctx, "POLICY",
                         -1).fn(old, ex)
            if ok is not True:
                raise SqlError("new row violates row-level security policy (USING expression) "
                               f'for table "{rel.name}"', sqlstate="42501")
        row = old + tuple(vals)
        if where is not None and where(row, ex) is not True:
            return None
        new = list(old)
        for i, f in sets:
            new[i] = f(row, ex)
        self._check_row(rel, new, checks, ex)
        rls = self._rls_check(rel, "update")
        if rls is not None:
            rls(tuple(new), ex)
        self._write_update(rel, existing, old, new)
        return tuple(new)

    def _bind_sets(self, rel: Relation, sets: list[tuple[list[str], a.Node]], pl: Any,
                   scope: Scope) -> list[tuple[int, Any]]:
        cols = rel.live_columns
        out: list[tuple[int, Any]] = []
        for names, e in sets:
            exprs: list[a.Node]
            if len(names) > 1:
                if isinstance(e, a.RowExpr):
                    exprs = e.items
                else:
                    raise SqlError("multiple-column UPDATE from a subquery is not supported",
                                   sqlstate="0A000")
                if len(exprs) != len(names):
                    raise SqlError("number of columns does not match number of values",
                                   sqlstate="42601")
            else:
                exprs = [e]
            for n, x in zip(names, exprs, strict=True):
                c = rel.column(n)
                if c is None:
                    raise SqlError(f'column "{n}" of relation "{rel.name}" does not exist',
                                   sqlstate="42703")
                i = cols.index(c)
                if isinstance(x, a.Default):
                    d = self._bind_default(rel, c) if c.default else None  # type: ignore[attr-defined]
                    out.append((i, d.fn if d else (lambda row, ex: None)))
                    continue
                b = coerce(pl.bind(x, scope), c.type, "assignment", pl.ctx,
                           getattr(x, "pos", -1), f'column "{c.name}" is of type {{dst}} but '
                           "expression is of type {src}")
                out.append((i, b.fn))
        return out

    def _write_update(self, rel: Relation, stored: dict, old: tuple, new: list[Any]) -> None:
        pk = _stored_pk(rel, stored)
        changes: dict[str, Any] = {}
        cols = rel.live_columns
        pk_keys = set(rel.pk_keys())
        moved = False
        for c, o, v in zip(cols, old, new, strict=True):
            if o is v and not (v is None and c.missing is not None and c.key not in stored):
                continue
            if o is not None and v is not None and o == v and type(o) is type(v):
                continue
            sv = None if v is None else T.to_storage(c.type, v)
            if c.key in pk_keys and sv != stored.get(c.key):
                moved = True
            changes[c.key] = sv
        for hidden, key in self._partial_keys(rel, new).items():
            if stored.get(hidden) != key:
                changes[hidden] = key
        self._check_fkeys(rel, new)
        if moved:
            # a new primary key is a new row: delete and insert (PostgreSQL's
            # cross-partition UPDATE does the same)
            self.tx.delete(rel.heap, pk)
            self._insert_stored(rel, new)
            return
        try:
            if changes:
                self.tx.update(rel.heap, pk, changes)
            else:
                self.tx.update(rel.heap, pk, {})
        except UniqueViolation as exc:
            raise self._unique_error(rel, new, exc) from exc

    # -- UPDATE / DELETE ------------------------------------------------------------------
    def _plan_target(self, st: Any, pl: Any, extra_from: list[a.Node]) -> tuple[Any, Scope,
                                                                             Relation]:
        rel = self._target(st.table)
        alias = st.table.alias or rel.name
        rv = a.RangeVar(rel.name, rel.schema, alias, pos=st.table.pos)
        pl.target_command = "update" if isinstance(st, a.UpdateStmt) else "delete"
        node, scope = pl.from_where([rv, *extra_from], st.where, [], None, emit_row=True)
        self.last_dml_plan = node  # EXPLAIN shows it (with its counts after ANALYZE)
        assert pl.target_scan is not None and pl.target_scan.built is not None
        self.target_scan = pl.target_scan.built
        return node, scope, rel

    def _dml_planner(self, st: Any, types: list[T.SqlType]) -> Any:
        """The statement's planner, with its WITH clause planned."""
        pl = self.planner(types)  # type: ignore[attr-defined]
        if st.with_ is not None:
            pl.ctes.append(pl._plan_ctes(st.with_, Scope()))
        return pl

    def _target_rows(self, pl: Any, node: Any, rel: Relation, width: int, ex: ExecState
                     ) -> Any:
        """The rows an UPDATE/DELETE acts on: each target row once (a join may repeat it),
        locked and re-read (:meth:`_lock_current`), after the WITH statements ran."""
        self._run_dml_ctes(pl, ex)
        seen: set[int] = set()
        for row in list(node.rows(ex)):
            stored = row[width]
            if id(stored) in seen:
                continue
            seen.add(id(stored))
            locked = self._lock_current(rel, row, width, ex)
            if locked is not None:
                yield locked

    def _lock_current(self, rel: Relation, row: tuple, width: int, ex: ExecState
                      ) -> tuple | None:
        """Lock the row and re-read it (PostgreSQL's EvalPlanQual): if another transaction
        changed it since our snapshot and committed, read committed works on the new version
        if it still meets the target's conditions, and skips it if not; repeatable read and
        serializable fail with 40001 (raised by the lock). None: skip the row."""
        stored = row[width]
        d = self.tx.get(rel.heap, _stored_pk(rel, stored), for_update=True)
        if d is None:
            return None  # deleted meanwhile
        if d == stored:
            return row
        scan = self.target_scan
        new = scan.decode(d)
        if scan.filt is not None and scan.filt(new, ex) is not True:
            return None
        return new + row[width + 1:]

    def stmt_UpdateStmt(self, st: a.UpdateStmt, params: list[Any],
                        types: list[T.SqlType]) -> Any:

        pl = self._dml_planner(st, types)
        node, scope, rel = self._plan_target(st, pl, st.from_)
        self.check_privilege(rel, "update", st.table.pos)  # type: ignore[attr-defined]
        width = len(rel.live_columns)
        sets = self._bind_sets(rel, st.sets, pl, scope)
        checks = self._checks(rel)
        rls_update = self._rls_check(rel, "update")
        ret = self._returning(st.returning, rel, st.table.alias or rel.name, pl) \
            if st.returning else None
        self._described(ret)
        ex = self.exec_state(params)  # type: ignore[attr-defined]
        n = 0
        out_rows = []
        for row in self._target_rows(pl, node, rel, width, ex):
            stored = row[width]
            old = row[:width]
            new = list(old)
            for i, f in sets:
                new[i] = f(row, ex)
            self._check_row(rel, new, checks, ex)
            if rls_update is not None:
                rls_update(tuple(new), ex)
            self._write_update(rel, stored, old, new)
            n += 1
            if ret is not None:
                nr = tuple(new)
                out_rows.append(tuple(f(nr, ex) for f in ret[0]))
        return _dml_result(f"UPDATE {n}", ret, out_rows)

    def stmt_DeleteStmt(self, st: a.DeleteStmt, params: list[Any],
                        types: list[T.SqlType]) -> Any:

        pl = self._dml_planner(st, types)
        node, _scope, rel = self._plan_target(st, pl, st.using)
        self.check_privilege(rel, "delete", st.table.pos)  # type: ignore[attr-defined]
        width = len(rel.live_columns)
        ret = self._returning(st.returning, rel, st.table.alias or rel.name, pl) \
            if st.returning else None
        self._described(ret)
        ex = self.exec_state(params)  # type: ignore[attr-defined]
        n = 0
        out_rows = []
        for row in self._target_rows(pl, node, rel, width, ex):
            stored = row[width]
            old = row[:width]
            self._referenced(rel, old, ex)
            if self.tx.delete(rel.heap, _stored_pk(rel, stored)):
                n += 1
                if ret is not None:
                    out_rows.append(tuple(f(old, ex) for f in ret[0]))
        return _dml_result(f"DELETE {n}", ret, out_rows)

    def _described(self, ret: Any) -> None:
        """In a Describe (no execution), stop once everything is bound."""
        if getattr(self, "describing", False):
            from cairn.sql.session import Column
            cols = None if ret is None else [Column(n, t) for n, t in
                                             zip(ret[1], ret[2], strict=True)]
            raise Described(cols)

    def plan_dml_in_query(self, pl: Any, q: a.Node, scope: Scope) -> PlannedQuery:
        raise SqlError("a data-modifying statement is only allowed at the top of a WITH "
                       "clause", sqlstate="0A000")

    def dml_columns(self, stmt: a.Node, types: list[Any]) -> list[Any] | None:
        """The RETURNING columns of an INSERT/UPDATE/DELETE, bound but not run."""
        saved = self.describing
        self.describing = True
        try:
            self._dispatch(stmt, [None] * len(types), types)  # type: ignore[attr-defined]
        except Described as d:
            return d.columns
        finally:
            self.describing = saved
        return None

    def _run_dml_ctes(self, pl: Any, ex: ExecState) -> None:
        if self.describing:
            return
        for node in pl.dml_ctes:
            node.run(ex)


class Described(Exception):  # a control-flow signal for Describe, not an error
    def __init__(self, columns: Any):
        super().__init__("described")
        self.columns = columns


def _dml_result(tag: str, ret: Any, rows: list[tuple]) -> Any:
    """An INSERT/UPDATE/DELETE's result: its tag, and the RETURNING rows if it has any."""
    from cairn.sql.session import Column, Result

    if ret is None:
        return Result(tag)
    return Result(tag, [Column(nm, t) for nm, t in zip(ret[1], ret[2], strict=True)], rows)


def _stored_pk(rel: Relation, stored: dict[str, Any]) -> Any:
    keys = rel.pk_keys()
    if len(keys) == 1:
        return stored[keys[0]]
    return tuple(stored[k] for k in keys)


def _decode(rel: Relation, d: dict[str, Any]) -> tuple:
    out = []
    for c in rel.live_columns:
        v = d.get(c.key, c.missing)
        out.append(None if v is None else T.from_storage(c.type, v))
    return tuple(out)


def _row_text(rel: Relation, vals: list[Any], ex: ExecState) -> str:
    return ", ".join("null" if v is None else T.format_output(c.type, v, ex.ctx)
                     for c, v in zip(rel.live_columns, vals, strict=True))
