"""ALTER TABLE: add, drop, rename and retype columns, constraints, defaults, row security.

Each ALTER TABLE takes ACCESS EXCLUSIVE on the table, as PostgreSQL's do, so it waits for
running readers and every later reader waits for it (the migration gotcha: ``SET
lock_timeout`` first). What only changes the catalog is cheap: renames, defaults, dropping a
column (its values stay in the rows, unread) and ADD COLUMN with a constant default, which
records the default as the value older rows read (PostgreSQL 11's attmissingval) instead of
rewriting them. What changes the stored rows (a new type, a new primary key, a volatile
default) rewrites the table into a new heap inside the transaction and swaps it in at commit,
as PostgreSQL's table rewrite assigns a new relfilenode.
"""

from __future__ import annotations

from typing import Any

from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.catalog import CheckDef, Column, IndexDef, Relation
from cairn.sql.errors import SqlError
from cairn.sql.expr import Scope, coerce, to_bool, type_from_name


class AlterMixin:
    """Session methods for ALTER TABLE (mixed into :class:`cairn.sql.session.Session`)."""

    tx: Any
    db: Any
    sdb: Any
    ctx: Any

    def stmt_AlterTableStmt(self, st: a.AlterTableStmt, params: list[Any],
                            types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        view = self.catalog()  # type: ignore[attr-defined]
        rel = view.find(st.table.schema, st.table.name, self.search_path())  # type: ignore[attr-defined]
        if rel is None:
            if st.if_exists:
                return Result("ALTER TABLE")
            raise SqlError(f'relation "{st.table.name}" does not exist', sqlstate="42P01",
                           position=st.table.pos + 1)
        if st.kind == "index" or rel.kind != "r":
            raise SqlError(f'"{rel.name}" is not a table', sqlstate="42809")
        self.check_owner(rel)  # type: ignore[attr-defined]
        self._lock_exclusive(rel)  # type: ignore[attr-defined]
        new = rel.copy()
        rewrite: list[Any] = []
        for cmd in st.cmds:
            self._alter_one(new, cmd, rewrite)
        if rewrite:
            new = self._rewrite(rel, new, rewrite)
        self._write_rel(new, False)  # type: ignore[attr-defined]
        self._save_oid_counter()  # type: ignore[attr-defined]
        return Result("ALTER TABLE")

    # -- one command ----------------------------------------------------------------------
    def _alter_one(self, rel: Relation, cmd: a.AlterTableCmd, rewrite: list[Any]) -> None:
        act = cmd.action
        if act == "add column":
            self._add_column(rel, cmd, rewrite)
        elif act == "drop column":
            col = rel.column(cmd.column or "")
            if col is None:
                if cmd.if_exists:
                    return
                raise SqlError(f'column "{cmd.column}" of relation "{rel.name}" does not '
                               "exist", sqlstate="42703")
            if rel.pk and col.name in rel.pk:
                raise SqlError(f'cannot drop column "{col.name}" of table "{rel.name}": it is '
                               "part of the primary key", sqlstate="0A000")
            uses = [ix for ix in rel.indexes if col.name in ix.columns]
            if uses and not cmd.cascade and any(ix.constraint for ix in uses):
                raise SqlError(f"cannot drop column {col.name} of table {rel.name} because "
                               "other objects depend on it", sqlstate="2BP01",
                               hint="Use DROP ... CASCADE to drop the dependent objects too.")
            rel.indexes = [ix for ix in rel.indexes if col.name not in ix.columns]
            if any(ix.db_name for ix in uses):
                rewrite.append(("drop index", None))
            rel.fkeys = [f for f in rel.fkeys if col.name not in f.columns]
            col.dropped = True
        elif act == "rename column":
            col = rel.column(cmd.column or "")
            if col is None:
                raise SqlError(f'column "{cmd.column}" does not exist', sqlstate="42703")
            if rel.column(cmd.new_name or "") is not None:
                raise SqlError(f'column "{cmd.new_name}" of relation "{rel.name}" already '
                               "exists", sqlstate="42701")
            old = col.name
            col.name = cmd.new_name or old
            for ix in rel.indexes:
                ix.columns = [col.name if c == old else c for c in ix.columns]
            for fk in rel.fkeys:
                fk.columns = [col.name if c == old else c for c in fk.columns]
            if rel.pk:
                rel.pk = [col.name if c == old else c for c in rel.pk]
        elif act == "rename":
            name = cmd.new_name or rel.name
            if self._name_taken(rel.schema, name):  # type: ignore[attr-defined]
                raise SqlError(f'relation "{name}" already exists', sqlstate="42P07")
            rel.name = name
        elif act == "rename constraint":
            self._rename_constraint(rel, cmd.column or "", cmd.new_name or "")
        elif act == "add constraint":
            assert cmd.constraint is not None
            self._add_constraint(rel, cmd.constraint, rewrite)
        elif act == "drop constraint":
            self._drop_constraint(rel, cmd.new_name or "", cmd.if_exists, rewrite)
        elif act in ("set default", "drop default"):
            col = self._col(rel, cmd.column)
            col.default = None
            if act == "set default":
                col.default = cmd.text
                self._bind_default(rel, col)  # type: ignore[attr-defined]
        elif act == "set not null":
            col = self._col(rel, cmd.column)
            i = rel.live_columns.index(col)
            for row in self._all_rows(rel):
                if row[i] is None:
                    raise SqlError(f'column "{col.name}" of relation "{rel.name}" contains '
                                   "null values", sqlstate="23502")
            col.not_null = True
        elif act == "drop not null":
            col = self._col(rel, cmd.column)
            if rel.pk and col.name in rel.pk:
                raise SqlError(f'column "{col.name}" is in a primary key', sqlstate="42P16")
            col.not_null = False
        elif act == "alter type":
            col = self._col(rel, cmd.column)
            assert cmd.type is not None
            new_t = type_from_name(cmd.type)
            rewrite.append(("retype", (col.attnum, new_t, cmd.expr, col.type)))
            col.type = new_t
        elif act in ("enable rls", "disable rls", "force rls", "no force rls"):
            if act == "enable rls":
                rel.rls = True
            elif act == "disable rls":
                rel.rls = False
            elif act == "force rls":
                rel.rls_forced = True
            else:
                rel.rls_forced = False
        elif act == "owner":
            if self.role(cmd.new_name or "") is None:  # type: ignore[attr-defined]
                raise SqlError(f'role "{cmd.new_name}" does not exist', sqlstate="42704")
            rel.owner = cmd.new_name or rel.owner
        else:
            raise SqlError(f"ALTER TABLE {act.upper()} is not supported", sqlstate="0A000")

    def _col(self, rel: Relation, name: str | None) -> Column:
        col = rel.column(name or "")
        if col is None:
            raise SqlError(f'column "{name}" of relation "{rel.name}" does not exist',
                           sqlstate="42703")
        return col

    def _add_column(self, rel: Relation, cmd: a.AlterTableCmd, rewrite: list[Any]) -> None:
        cd = cmd.definition
        assert cd is not None
        if rel.column(cd.name) is not None:
            if cmd.if_not_exists:
                return
            raise SqlError(f'column "{cd.name}" of relation "{rel.name}" already exists',
                           sqlstate="42701")
        col = Column(rel.next_attnum, cd.name, type_from_name(cd.type))
        rel.next_attnum += 1
        for c in cd.constraints:
            if c.kind == "not null":
                col.not_null = True
            elif c.kind == "default":
                col.default = c.text
            elif c.kind == "check":
                rel.checks.append(CheckDef(c.name or f"{rel.name}_{cd.name}_check", c.text))
            elif c.kind == "unique":
                rel.columns.append(col)
                self._add_constraint(rel, a.Constraint("unique", c.name, [cd.name]), rewrite)
                rel.columns.remove(col)
            elif c.kind == "foreign key":
                rel.fkeys.append(self._fkey(rel, c, [cd.name], rel.name))  # type: ignore[attr-defined]
            elif c.kind == "primary key":
                raise SqlError("adding a primary-key column is not supported; add the column, "
                               "then ADD PRIMARY KEY", sqlstate="0A000")
            elif c.kind != "null":
                raise SqlError(f"{c.kind.upper()} in ADD COLUMN is not supported",
                               sqlstate="0A000")
        rel.columns.append(col)
        if col.default is not None:
            b = self._bind_default(rel, col)  # type: ignore[attr-defined]
            if b.const:
                col.missing = None if b.value is None else T.to_storage(col.type, b.value)
            else:  # volatile: every existing row gets its own value (a rewrite)
                rewrite.append(("fill", (col.attnum, b)))
        filled = any(r[0] == "fill" and r[1][0] == col.attnum for r in rewrite)
        if col.not_null and col.missing is None and not filled and \
                self._all_rows(rel, limit=1):
            raise SqlError(f'column "{col.name}" of relation "{rel.name}" contains null '
                           "values", sqlstate="23502")

    def _add_constraint(self, rel: Relation, c: a.Constraint, rewrite: list[Any]) -> None:
        if c.kind == "check":
            name = c.name or f"{rel.name}_check"
            ck = CheckDef(name, c.text)
            from cairn.sql.parser import Parser
            pl = self.planner([], track=False)  # type: ignore[attr-defined]
            scope = Scope([_sc(rel.name, col) for col in rel.live_columns])
            fn = to_bool(pl.bind(Parser(c.text).expr(), scope), pl.ctx, "CHECK", -1).fn
            ex = self.exec_state([])  # type: ignore[attr-defined]
            for row in self._all_rows(rel):
                if fn(row, ex) is False:
                    raise SqlError(f'check constraint "{name}" of relation "{rel.name}" is '
                                   "violated by some row", sqlstate="23514")
            rel.checks.append(ck)
        elif c.kind in ("unique", "primary key"):
            for n in c.columns:
                if rel.column(n) is None:
                    raise SqlError(f'column "{n}" named in key does not exist',
                                   sqlstate="42703")
            if c.kind == "primary key":
                if rel.pk is not None:
                    raise SqlError(f'multiple primary keys for table "{rel.name}" are not '
                                   "allowed", sqlstate="42P16")
                for n in c.columns:
                    col = rel.column(n)
                    assert col is not None
                    col.not_null = True
                rel.pk = list(c.columns)
                rel.indexes.insert(0, IndexDef(c.name or f"{rel.name}_pkey",
                                               self.sdb.catalog.alloc_oid(), list(c.columns),
                                               True, True, True))
                rewrite.append(("new key", None))
                return
            from cairn.sql.ddl import _unique_name
            name = c.name or _unique_name(self, rel.schema, rel.name, list(c.columns), "key")
            rel.indexes.append(IndexDef(name, self.sdb.catalog.alloc_oid(), list(c.columns),
                                        True, False, True, name))
            rewrite.append(("new index", name))
        elif c.kind == "foreign key":
            fk = self._fkey(rel, c, list(c.columns), rel.name)  # type: ignore[attr-defined]
            for row in self._all_rows(rel):
                vals = list(row)
                self._check_fkeys(_with_fkeys(rel, [fk]), vals)  # type: ignore[attr-defined]
            rel.fkeys.append(fk)
        else:
            raise SqlError(f"ADD {c.kind.upper()} is not supported", sqlstate="0A000")

    def _drop_constraint(self, rel: Relation, name: str, if_exists: bool,
                         rewrite: list[Any]) -> None:
        n0 = len(rel.checks) + len(rel.fkeys) + len(rel.indexes)
        rel.checks = [c for c in rel.checks if c.name != name]
        rel.fkeys = [f for f in rel.fkeys if f.name != name]
        ix = next((i for i in rel.indexes if i.name == name and i.constraint), None)
        if ix is not None:
            rel.indexes.remove(ix)
            if ix.primary:
                rel.pk = None
                rewrite.append(("new key", None))
            else:
                rewrite.append(("drop index", name))
        if n0 == len(rel.checks) + len(rel.fkeys) + len(rel.indexes) and not if_exists:
            raise SqlError(f'constraint "{name}" of relation "{rel.name}" does not exist',
                           sqlstate="42704")

    def _rename_constraint(self, rel: Relation, old: str, new: str) -> None:
        for c in rel.checks:
            if c.name == old:
                c.name = new
                return
        for f in rel.fkeys:
            if f.name == old:
                f.name = new
                return
        for ix in rel.indexes:
            if ix.name == old and ix.constraint:
                ix.name = new
                return
        raise SqlError(f'constraint "{old}" for table "{rel.name}" does not exist',
                       sqlstate="42704")

    # -- reading and rewriting rows ----------------------------------------------------------
    def _all_rows(self, rel: Relation, limit: int | None = None) -> list[tuple]:
        from cairn.sql.dml import _decode
        stored = self.tx.select(rel.heap, None, limit=limit)
        return [_decode(rel, d) for d in stored]

    def _rewrite(self, old: Relation, new: Relation, steps: list[Any]) -> Relation:
        """Copy every row into a new heap with the new layout (a new relfilenode)."""
        from cairn.sql.dml import _decode
        new.heap = f"r{new.oid}_{self.sdb.catalog.alloc_oid()}"
        self.db.create_table(new.heap, primary_key=new.pk_keys())
        for ix in new.indexes:
            if not ix.primary:
                ix.db_name = ix.db_name or ix.name
                keys = [new.column(n).key for n in ix.columns]  # type: ignore[union-attr]
                try:
                    self.db.create_index(new.heap, keys, unique=ix.unique, name=ix.db_name)
                except Exception as exc:
                    raise SqlError(f'could not create unique index "{ix.name}"',
                                   sqlstate="23505") from exc
        retype = {s[1][0]: s[1] for s in steps if s[0] == "retype"}
        fills = {s[1][0]: s[1][1] for s in steps if s[0] == "fill"}
        pl = self.planner([], track=False)  # type: ignore[attr-defined]
        ex = self.exec_state([])  # type: ignore[attr-defined]
        old_cols = old.live_columns
        convs: dict[int, Any] = {}
        for attnum, (_n, new_t, using, old_t) in retype.items():
            i = next(k for k, c in enumerate(old_cols) if c.attnum == attnum)
            scope = Scope([_sc(old.name, c) for c in old_cols])
            if using is not None:
                b = pl.bind(using, scope)
            else:
                from cairn.sql.expr import Bound
                b = Bound(old_t, lambda row, ex, i=i: row[i])
            context = "explicit" if using is not None else "assignment"
            try:
                convs[attnum] = coerce(b, new_t, context, pl.ctx).fn
            except SqlError as exc:
                raise SqlError(f'column "{old_cols[i].name}" cannot be cast automatically to '
                               f"type {new_t.name}", sqlstate="42804",
                               hint=f'You might need to specify "USING {old_cols[i].name}::'
                                    f'{new_t.name}".') from exc
        for d in self.tx.select(old.heap, None):
            row = _decode(old, d)
            by_attnum = {c.attnum: v for c, v in zip(old_cols, row, strict=True)}
            vals = []
            for c in new.live_columns:
                if c.attnum in convs:
                    vals.append(convs[c.attnum](row, ex))
                elif c.attnum in fills:
                    vals.append(fills[c.attnum].fn((), ex))
                elif c.attnum in by_attnum:
                    vals.append(by_attnum[c.attnum])
                else:
                    vals.append(None if c.missing is None else T.from_storage(c.type,
                                                                              c.missing))
            for c, v in zip(new.live_columns, vals, strict=True):
                if v is None and c.not_null:
                    raise SqlError(f'column "{c.name}" of relation "{new.name}" contains null '
                                   "values", sqlstate="23502")
            self._insert_stored(new, vals)  # type: ignore[attr-defined]
        for c in new.columns:
            c.missing = None  # every row now holds its value
        return new


def _sc(table: str, col: Column) -> Any:
    from cairn.sql.expr import ScopeColumn
    return ScopeColumn(table, col.name, col.type)


def _with_fkeys(rel: Relation, fkeys: list[Any]) -> Relation:
    r = rel.copy()
    r.fkeys = fkeys
    return r
