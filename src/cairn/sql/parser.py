"""The SQL parser: statements of PostgreSQL's dialect into :mod:`cairn.sql.ast` trees.

``parse(sql)`` returns one tree per statement (a string may hold several, separated by
semicolons, as the simple query protocol allows). Expressions and queries are in
:mod:`cairn.sql.parser_expr`; this module adds DML, DDL, transaction control, settings and the
utility statements. What PostgreSQL accepts and cairn does not gets 0A000
("... is not supported"), never a silent misreading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.sql import ast as a
from cairn.sql.errors import SqlError
from cairn.sql.lexer import EOF, IDENT, INTEGER, NUMERIC, OP, STRING
from cairn.sql.parser_expr import ExprParser

_ISOLATION = {
    ("read", "uncommitted"): "read uncommitted",
    ("read", "committed"): "read committed",
    ("repeatable", "read"): "repeatable read",
    ("serializable",): "serializable",
}

_LOCK_MODES = ["access share", "row share", "row exclusive", "share update exclusive",
               "share row exclusive", "share", "exclusive", "access exclusive"]


@dataclass(frozen=True)
class Statement:
    """One parsed statement and the text it came from."""

    node: a.Node
    text: str


class Parser(ExprParser):
    # -- entry ----------------------------------------------------------------------------
    def statements(self) -> list[Statement]:
        out: list[Statement] = []
        while True:
            while self.accept_op(";"):
                pass
            if self.tok.kind == EOF:
                return out
            start = self.tok.pos
            node = self.statement()
            end = self.tok.pos
            if not self.at_end():
                raise self.error()
            out.append(Statement(node, self.sql[start:end].strip()))

    def statement(self) -> a.Node:
        t = self.tok
        if t.kind == OP and t.value == "(":
            return self.select_stmt()
        if t.kind != IDENT or t.quoted:
            raise self.error()
        v = t.value
        handler = _STATEMENTS.get(v)
        if handler is None:
            raise self.error()
        return handler(self)

    # -- DML ------------------------------------------------------------------------------
    def dml_stmt(self, with_: a.WithClause | None) -> a.Node:
        if self.at_kw("insert"):
            node: a.Node = self._insert()
        elif self.at_kw("update"):
            node = self._update()
        elif self.at_kw("delete"):
            node = self._delete()
        else:
            raise self.error()
        node.with_ = with_  # type: ignore[attr-defined]
        return node

    def _with_stmt(self) -> a.Node:
        return self.select_stmt()

    def _relation_alias(self) -> tuple[str, str | None, int, str | None]:
        schema, name, pos = self.qualified_name()
        alias = None
        if self.accept_kw("as") or (self.at_col_id() and not self.at_kw(
                "set", "using", "where", "returning", "default", "values", "select",
                "overriding", "on")):
            alias = self.col_id()
        return name, schema, pos, alias

    def _insert(self) -> a.InsertStmt:
        pos = self.expect_kw("insert").pos
        self.expect_kw("into")
        name, schema, tpos, alias = self._relation_alias()
        stmt = a.InsertStmt(a.RangeVar(name, schema, alias, pos=tpos), pos=pos)
        if self.at_op("(") and not self._paren_is_query():
            self.next()
            stmt.columns = []
            while True:
                col = self.col_id()
                if self.at_op(".", "["):
                    raise self.unsupported("assignment to a field or subscript")
                stmt.columns.append(col)
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        if self.accept_kw("overriding"):
            stmt.overriding = self.expect_kw("system", "user").value
            self.expect_kw("value")
        if self.accept_kws("default", "values"):
            stmt.query = None
        else:
            stmt.query = self.select_stmt()
        if self.accept_kw("on"):
            self.expect_kw("conflict")
            oc = a.OnConflict("nothing")
            if self.accept_op("("):
                while True:
                    oc.columns.append(self.expr())
                    if not self.accept_op(","):
                        break
                self.expect_op(")")
                if self.accept_kw("where"):
                    oc.target_where = self.expr()
            elif self.accept_kws("on", "constraint"):
                oc.constraint = self.col_id()
            self.expect_kw("do")
            if self.accept_kw("nothing"):
                oc.action = "nothing"
            else:
                self.expect_kw("update")
                self.expect_kw("set")
                if not oc.columns and oc.constraint is None:
                    raise SqlError("ON CONFLICT DO UPDATE requires inference specification or "
                                   "constraint name", sqlstate="42601",
                                   hint="For example, ON CONFLICT (column_name).",
                                   position=self.tok.pos + 1)
                oc.action = "update"
                oc.sets = self._set_list()
                if self.accept_kw("where"):
                    oc.where = self.expr()
            stmt.on_conflict = oc
        if self.accept_kw("returning"):
            stmt.returning = self._target_list()
        return stmt

    def _set_list(self) -> list[tuple[list[str], a.Node]]:
        sets: list[tuple[list[str], a.Node]] = []
        while True:
            if self.at_op("("):
                cols = self.paren_name_list()
                self.expect_op("=")
                sets.append((cols, self.expr()))
            else:
                col = self.col_id()
                if self.at_op(".", "["):
                    raise self.unsupported("assignment to a field or subscript")
                self.expect_op("=")
                sets.append(([col], self.expr()))
            if not self.accept_op(","):
                return sets

    def _update(self) -> a.UpdateStmt:
        pos = self.expect_kw("update").pos
        only = self.accept_kw("only")
        name, schema, tpos, alias = self._relation_alias()
        self.expect_kw("set")
        stmt = a.UpdateStmt(a.RangeVar(name, schema, alias, only=only, pos=tpos),
                            self._set_list(), pos=pos)
        if self.accept_kw("from"):
            stmt.from_ = self.from_list()
        stmt.where, stmt.returning = self._where_returning()
        return stmt

    def _where_returning(self) -> tuple[a.Node | None, list[a.ResTarget]]:
        """UPDATE's and DELETE's tails: [WHERE cond] [RETURNING targets]."""
        where = None
        if self.accept_kw("where"):
            if self.accept_kws("current", "of"):
                raise self.unsupported("WHERE CURRENT OF")
            where = self.expr()
        returning = self._target_list() if self.accept_kw("returning") else []
        return where, returning

    def _delete(self) -> a.DeleteStmt:
        pos = self.expect_kw("delete").pos
        self.expect_kw("from")
        only = self.accept_kw("only")
        name, schema, tpos, alias = self._relation_alias()
        stmt = a.DeleteStmt(a.RangeVar(name, schema, alias, only=only, pos=tpos), pos=pos)
        if self.accept_kw("using"):
            stmt.using = self.from_list()
        stmt.where, stmt.returning = self._where_returning()
        return stmt

    def _copy(self) -> a.CopyStmt:
        pos = self.expect_kw("copy").pos
        table = query = None
        cols: list[str] = []
        if self.accept_op("("):
            query = self.preparable_stmt()
            self.expect_op(")")
        else:
            schema, name, tpos = self.qualified_name()
            table = a.RangeVar(name, schema, pos=tpos)
            if self.at_op("("):
                cols = self.paren_name_list()
        is_from = self.expect_kw("from", "to").value == "from"
        t = self.next()
        if t.kind == IDENT and t.value in ("stdin", "stdout"):
            target = t.value
        elif t.kind == STRING:
            raise SqlError("COPY to or from a file on the server is not supported; use "
                           "STDIN/STDOUT", sqlstate="0A000", position=t.pos + 1)
        else:
            raise self.error(t)
        opts: dict[str, Any] = {}
        self.accept_kw("with")
        if self.accept_op("("):
            while True:
                key = self.any_name()
                val: Any = True
                if not self.at_op(",", ")"):
                    vt = self.next()
                    val = vt.value
                opts[key] = val
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        else:
            while self.at_kw("csv", "header", "delimiter", "null", "binary"):
                key = self.next().value
                if key in ("delimiter", "null"):
                    self.accept_kw("as")
                    opts[key] = self.next().value
                elif key == "csv":
                    opts["format"] = "csv"
                elif key == "binary":
                    opts["format"] = "binary"
                else:
                    opts[key] = True
        return a.CopyStmt(table, query, cols, is_from, target, opts, pos)

    # -- DDL ------------------------------------------------------------------------------
    def _create(self) -> a.Node:
        pos = self.expect_kw("create").pos
        or_replace = self.accept_kws("or", "replace")
        temporary = bool(self.accept_kw("temporary", "temp"))
        if self.accept_kw("unlogged"):
            pass
        if self.at_kw("table"):
            return self._create_table(pos, temporary)
        if self.at_kw("unique", "index"):
            return self._create_index(pos)
        if self.at_kw("view"):
            return self._create_view(pos, or_replace)
        if self.at_kw("sequence"):
            self.next()
            ine = self.accept_kws("if", "not", "exists")
            schema, name, tpos = self.qualified_name()
            return a.CreateSequenceStmt(a.RangeVar(name, schema, pos=tpos),
                                        self._seq_options(), ine, pos=pos)
        if self.accept_kw("schema"):
            ine = self.accept_kws("if", "not", "exists")
            auth = None
            if self.accept_kw("authorization"):
                auth = self.col_id()
                if self.at_end():
                    return a.CreateSchemaStmt(auth, ine, auth, pos)
            name = self.col_id()
            if self.accept_kw("authorization"):
                auth = self.col_id()
            return a.CreateSchemaStmt(name, ine, auth, pos)
        if self.at_kw("role", "user", "group"):
            is_user = self.next().value == "user"
            name = self.col_id(allow_type_func=True)
            return a.RoleStmt("create", name, self._role_options(), is_user, pos=pos)
        if self.accept_kw("policy"):
            return self._policy("create", pos)
        if self.at_kw("function", "procedure", "trigger", "type", "extension", "domain",
                      "materialized", "database", "aggregate", "operator", "rule",
                      "publication", "subscription", "tablespace", "collation", "cast"):
            raise self.unsupported(f"CREATE {self.tok.value.upper()}")
        raise self.error()

    def _create_table(self, pos: int, temporary: bool) -> a.Node:
        self.expect_kw("table")
        ine = self.accept_kws("if", "not", "exists")
        schema, name, tpos = self.qualified_name()
        stmt = a.CreateTableStmt(a.RangeVar(name, schema, pos=tpos), if_not_exists=ine,
                                 temporary=temporary, pos=pos)
        if self.at_op("(") and not self._paren_is_query():
            self.next()
            if not self.at_op(")"):
                while True:
                    if self.at_kw("constraint", "primary", "unique", "check", "foreign",
                                  "exclude"):
                        stmt.constraints.append(self._table_constraint())
                    elif self.at_kw("like"):
                        raise self.unsupported("CREATE TABLE ... (LIKE ...)")
                    else:
                        stmt.columns.append(self._column_def())
                    if not self.accept_op(","):
                        break
            self.expect_op(")")
        elif not self.at_kw("as"):
            raise self.error()
        if self.accept_kw("inherits"):
            raise self.unsupported("INHERITS")
        if self.accept_kw("partition"):
            raise self.unsupported("PARTITION BY")
        if self.accept_kw("with"):
            if self.accept_op("("):  # storage parameters: accepted, ignored
                depth = 1
                while depth:
                    t = self.next()
                    if t.kind == EOF:
                        raise self.error(t)
                    if t.kind == OP and t.value == "(":
                        depth += 1
                    elif t.kind == OP and t.value == ")":
                        depth -= 1
            else:
                self.i -= 1
        if self.accept_kws("on", "commit"):
            self.expect_kw("preserve", "delete", "drop")
            self.expect_kw("rows") if self.tok.value == "rows" else None
        if self.accept_kw("as"):
            stmt.as_query = self.select_stmt()
            if self.accept_kw("with"):
                stmt.with_data = not self.accept_kw("no")
                self.expect_kw("data")
        return stmt

    def _column_def(self) -> a.ColumnDef:
        pos = self.tok.pos
        name = self.col_id()
        tn = self.type_name()
        cd = a.ColumnDef(name, tn, pos=pos)
        while True:
            c = self._column_constraint()
            if c is None:
                return cd
            cd.constraints.append(c)

    def _column_constraint(self) -> a.Constraint | None:
        pos = self.tok.pos
        cname = None
        if self.accept_kw("constraint"):
            cname = self.col_id()
        if self.accept_kws("not", "null"):
            return a.Constraint("not null", cname, pos=pos)
        if self.accept_kw("null"):
            return a.Constraint("null", cname, pos=pos)
        if self.accept_kw("default"):
            start = self.tok.pos
            e = self._other()
            return a.Constraint("default", cname, expr=e,
                                text=self.sql[start:self.tok.pos].strip(), pos=pos)
        if self.accept_kws("primary", "key"):
            c = a.Constraint("primary key", cname, pos=pos)
            self._index_params(c)
            return c
        if self.accept_kw("unique"):
            c = a.Constraint("unique", cname, pos=pos)
            self._nulls_distinct()
            self._index_params(c)
            return c
        if self.accept_kw("check"):
            self.expect_op("(")
            start = self.tok.pos
            e = self.expr()
            text = self.sql[start:self.tok.pos].strip()
            self.expect_op(")")
            self.accept_kws("no", "inherit")
            return a.Constraint("check", cname, expr=e, text=text, pos=pos)
        if self.accept_kw("references"):
            c = a.Constraint("foreign key", cname, pos=pos)
            self._references(c)
            return c
        if self.accept_kw("generated"):
            if self.accept_kw("always"):
                ident = "always"
            else:
                self.expect_kw("by")
                self.expect_kw("default")
                ident = "by default"
            self.expect_kw("as")
            if self.accept_kw("identity"):
                c = a.Constraint("identity", cname, identity=ident, pos=pos)
                if self.at_op("("):
                    self.next()
                    c.seq_options = self._seq_options()
                    self.expect_op(")")
                return c
            self.expect_op("(")
            e = self.expr()
            self.expect_op(")")
            self.expect_kw("stored")
            return a.Constraint("generated", cname, expr=e, pos=pos)
        if self.accept_kw("collate"):
            self.qualified_name()
            return self._column_constraint()
        if self.at_kw("deferrable", "initially"):
            raise self.unsupported("deferrable constraints")
        if cname is not None:
            raise self.error()
        return None

    def _nulls_distinct(self) -> None:
        if self.accept_kw("nulls"):
            if self.accept_kw("not"):
                raise self.unsupported("UNIQUE NULLS NOT DISTINCT")
            self.expect_kw("distinct")

    def _index_params(self, c: a.Constraint) -> None:
        if self.accept_kw("include"):
            c.include = self.paren_name_list()
        if self.accept_kws("using", "index", "tablespace"):
            self.col_id()

    def _references(self, c: a.Constraint) -> None:
        schema, name, pos = self.qualified_name()
        c.ref_table = a.RangeVar(name, schema, pos=pos)
        if self.at_op("("):
            c.ref_columns = self.paren_name_list()
        if self.accept_kw("match"):
            self.expect_kw("simple", "full", "partial")
        while self.accept_kw("on"):
            which = self.expect_kw("delete", "update").value
            if self.accept_kw("cascade"):
                act = "cascade"
            elif self.accept_kw("restrict"):
                act = "restrict"
            elif self.accept_kws("no", "action"):
                act = "no action"
            else:
                self.expect_kw("set")
                act = "set " + self.expect_kw("null", "default").value
            if which == "delete":
                c.on_delete = act
            else:
                c.on_update = act
        if self.at_kw("deferrable", "initially", "not"):
            if self.accept_kws("not", "deferrable"):
                pass
            else:
                raise self.unsupported("deferrable constraints")

    def _table_constraint(self) -> a.Constraint:
        pos = self.tok.pos
        cname = None
        if self.accept_kw("constraint"):
            cname = self.col_id()
        if self.accept_kws("primary", "key"):
            c = a.Constraint("primary key", cname, self.paren_name_list(), pos=pos)
            self._index_params(c)
            return c
        if self.accept_kw("unique"):
            self._nulls_distinct()
            c = a.Constraint("unique", cname, self.paren_name_list(), pos=pos)
            self._index_params(c)
            return c
        if self.accept_kw("check"):
            self.expect_op("(")
            start = self.tok.pos
            e = self.expr()
            text = self.sql[start:self.tok.pos].strip()
            self.expect_op(")")
            return a.Constraint("check", cname, expr=e, text=text, pos=pos)
        if self.accept_kws("foreign", "key"):
            c = a.Constraint("foreign key", cname, self.paren_name_list(), pos=pos)
            self.expect_kw("references")
            self._references(c)
            return c
        if self.at_kw("exclude"):
            raise self.unsupported("EXCLUDE constraints")
        raise self.error()

    def _create_index(self, pos: int) -> a.CreateIndexStmt:
        unique = self.accept_kw("unique")
        self.expect_kw("index")
        conc = self.accept_kw("concurrently")
        ine = self.accept_kws("if", "not", "exists")
        name = None
        if not self.at_kw("on"):
            name = self.col_id()
        self.expect_kw("on")
        self.accept_kw("only")
        schema, tname, tpos = self.qualified_name()
        method = "btree"
        if self.accept_kw("using"):
            method = self.any_name()
        self.expect_op("(")
        cols: list[a.IndexElem] = []
        while True:
            if self.at_op("("):
                self.next()
                e = self.expr()
                self.expect_op(")")
            else:
                e = self.expr()
            el = a.IndexElem(e)
            if self.accept_kw("collate"):
                self.qualified_name()
            if self.tok.kind == IDENT and not self.at_kw("asc", "desc", "nulls") \
                    and not self.at_op(",", ")"):
                self.any_name()  # an operator class: accepted
            if self.accept_kw("desc"):
                el.desc = True
            else:
                self.accept_kw("asc")
            if self.accept_kw("nulls"):
                el.nulls_first = self.expect_kw("first", "last").value == "first"
            cols.append(el)
            if not self.accept_op(","):
                break
        self.expect_op(")")
        stmt = a.CreateIndexStmt(name, a.RangeVar(tname, schema, pos=tpos), cols, unique,
                                 if_not_exists=ine, concurrently=conc, method=method, pos=pos)
        if self.accept_kw("include"):
            stmt.include = self.paren_name_list()
        self._nulls_distinct()
        if self.accept_kw("with"):
            self.expect_op("(")
            while not self.accept_op(")"):
                self.next()
        if self.accept_kw("where"):
            start = self.tok.pos
            stmt.where = self.expr()
            stmt.where_text = self.sql[start:self.tok.pos].strip()
        return stmt

    def _create_view(self, pos: int, or_replace: bool) -> a.CreateViewStmt:
        self.expect_kw("view")
        schema, name, tpos = self.qualified_name()
        cols = self.paren_name_list() if self.at_op("(") else []
        if self.accept_kw("with"):
            self.expect_op("(")
            while not self.accept_op(")"):
                self.next()
        self.expect_kw("as")
        start = self.tok.pos
        q = self.select_stmt()
        text = self.sql[start:self.tok.pos].strip()
        if self.accept_kw("with"):
            self.accept_kw("cascaded", "local")
            self.expect_kw("check")
            self.expect_kw("option")
            raise self.unsupported("WITH CHECK OPTION")
        return a.CreateViewStmt(a.RangeVar(name, schema, pos=tpos), q, text, cols, or_replace,
                                pos)

    def _seq_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        while True:
            if self.accept_kw("as"):
                opts["as"] = self.type_name()
            elif self.accept_kw("increment"):
                self.accept_kw("by")
                opts["increment"] = self._signed_int()
            elif self.accept_kw("minvalue"):
                opts["minvalue"] = self._signed_int()
            elif self.accept_kw("maxvalue"):
                opts["maxvalue"] = self._signed_int()
            elif self.accept_kws("no", "minvalue"):
                opts["minvalue"] = None
            elif self.accept_kws("no", "maxvalue"):
                opts["maxvalue"] = None
            elif self.accept_kw("start"):
                self.accept_kw("with")
                opts["start"] = self._signed_int()
            elif self.accept_kw("restart"):
                self.accept_kw("with")
                opts["restart"] = self._signed_int() if self.tok.kind in (
                    INTEGER, OP) else True
            elif self.accept_kw("cache"):
                opts["cache"] = self._signed_int()
            elif self.accept_kws("no", "cycle"):
                opts["cycle"] = False
            elif self.accept_kw("cycle"):
                opts["cycle"] = True
            elif self.accept_kws("owned", "by"):
                if self.accept_kw("none"):
                    opts["owned_by"] = None
                else:
                    names = [self.col_id()]
                    while self.accept_op("."):
                        names.append(self.any_name())
                    opts["owned_by"] = names
            else:
                return opts

    def _signed_int(self) -> int:
        neg = self.accept_op("-")
        t = self.next()
        if t.kind not in (INTEGER, NUMERIC):
            raise self.error(t)
        v = int(t.value) if t.kind == INTEGER else int(float(t.value))
        return -v if neg else v

    def _drop(self) -> a.DropStmt:
        pos = self.expect_kw("drop").pos
        kinds = ("table", "index", "view", "sequence", "schema", "role", "user", "policy",
                 "group")
        if not self.at_kw(*kinds):
            if self.tok.kind == IDENT:
                raise self.unsupported(f"DROP {self.tok.value.upper()}")
            raise self.error()
        kind = self.next().value
        if kind in ("user", "group"):
            kind = "role"
        if kind == "index":
            self.accept_kw("concurrently")
        ie = self.accept_kws("if", "exists")
        names: list[a.RangeVar] = []
        while True:
            if kind == "role":
                p = self.tok.pos
                names.append(a.RangeVar(self.col_id(allow_type_func=True), pos=p))
            else:
                schema, name, p = self.qualified_name()
                names.append(a.RangeVar(name, schema, pos=p))
            if not self.accept_op(","):
                break
        stmt = a.DropStmt(kind, names, ie, pos=pos)
        if kind == "policy":
            self.expect_kw("on")
            schema, name, p = self.qualified_name()
            stmt.on_table = a.RangeVar(name, schema, pos=p)
        if self.accept_kw("cascade"):
            stmt.cascade = True
        else:
            self.accept_kw("restrict")
        return stmt

    def _alter(self) -> a.Node:
        pos = self.expect_kw("alter").pos
        if self.accept_kw("sequence"):
            ie = self.accept_kws("if", "exists")
            schema, name, tpos = self.qualified_name()
            st = a.CreateSequenceStmt(a.RangeVar(name, schema, pos=tpos), self._seq_options(),
                                      alter=True, pos=pos)
            st.if_not_exists = ie
            return st
        if self.at_kw("role", "user", "group"):
            self.next()
            name = self.col_id(allow_type_func=True)
            if self.accept_kws("rename", "to"):
                return a.RoleStmt("alter", name, rename_to=self.col_id(), pos=pos)
            if self.at_kw("set", "reset"):
                raise self.unsupported("ALTER ROLE ... SET")
            self.accept_kw("with")
            return a.RoleStmt("alter", name, self._role_options(), pos=pos)
        if self.accept_kw("policy"):
            return self._policy("alter", pos)
        if self.at_kw("table", "index", "view"):
            kind = self.next().value
            ie = self.accept_kws("if", "exists")
            self.accept_kw("only")
            schema, name, tpos = self.qualified_name()
            stmt = a.AlterTableStmt(a.RangeVar(name, schema, pos=tpos), [], ie, kind, pos)
            while True:
                stmt.cmds.append(self._alter_cmd())
                if not self.accept_op(","):
                    return stmt
        if self.accept_kw("system"):
            if self.accept_kw("set"):
                name = self._setting_name()
                if not self.accept_kw("to"):
                    self.expect_op("=")
                vals = self._set_values()
                return a.VariableSetStmt("system:" + name, vals, pos=pos)
            self.expect_kw("reset")
            name = "all" if self.accept_kw("all") else self._setting_name()
            return a.VariableSetStmt("system:" + name, [], reset=True, pos=pos)
        if self.at_kw("database"):
            raise self.unsupported("ALTER DATABASE")
        if self.tok.kind == IDENT:
            raise self.unsupported(f"ALTER {self.tok.value.upper()}")
        raise self.error()

    def _alter_cmd(self) -> a.AlterTableCmd:
        pos = self.tok.pos
        if self.accept_kw("add"):
            if self.at_kw("constraint", "primary", "unique", "check", "foreign"):
                return a.AlterTableCmd("add constraint", constraint=self._table_constraint(),
                                       pos=pos)
            self.accept_kw("column")
            ine = self.accept_kws("if", "not", "exists")
            return a.AlterTableCmd("add column", definition=self._column_def(),
                                   if_not_exists=ine, pos=pos)
        if self.accept_kw("drop"):
            if self.accept_kw("constraint"):
                ie = self.accept_kws("if", "exists")
                cmd = a.AlterTableCmd("drop constraint", new_name=self.col_id(),
                                      if_exists=ie, pos=pos)
            else:
                self.accept_kw("column")
                ie = self.accept_kws("if", "exists")
                cmd = a.AlterTableCmd("drop column", column=self.col_id(), if_exists=ie,
                                      pos=pos)
            if self.accept_kw("cascade"):
                cmd.cascade = True
            else:
                self.accept_kw("restrict")
            return cmd
        if self.accept_kw("rename"):
            if self.accept_kw("to"):
                return a.AlterTableCmd("rename", new_name=self.col_id(), pos=pos)
            if self.accept_kw("constraint"):
                old = self.col_id()
                self.expect_kw("to")
                return a.AlterTableCmd("rename constraint", column=old,
                                       new_name=self.col_id(), pos=pos)
            self.accept_kw("column")
            old = self.col_id()
            self.expect_kw("to")
            return a.AlterTableCmd("rename column", column=old, new_name=self.col_id(),
                                   pos=pos)
        if self.accept_kw("alter"):
            self.accept_kw("column")
            col = self.col_id()
            if self.accept_kws("set", "default"):
                start = self.tok.pos
                e = self._other()
                return a.AlterTableCmd("set default", column=col, expr=e,
                                       text=self.sql[start:self.tok.pos].strip(), pos=pos)
            if self.accept_kws("drop", "default"):
                return a.AlterTableCmd("drop default", column=col, pos=pos)
            if self.accept_kws("set", "not", "null"):
                return a.AlterTableCmd("set not null", column=col, pos=pos)
            if self.accept_kws("drop", "not", "null"):
                return a.AlterTableCmd("drop not null", column=col, pos=pos)
            if self.accept_kws("set", "data", "type") or self.accept_kw("type"):
                tn = self.type_name()
                cmd = a.AlterTableCmd("alter type", column=col, type=tn, pos=pos)
                if self.accept_kw("using"):
                    cmd.expr = self.expr()
                return cmd
            raise self.error()
        if self.accept_kw("enable"):
            self.expect_kw("row")
            self.expect_kw("level")
            self.expect_kw("security")
            return a.AlterTableCmd("enable rls", pos=pos)
        if self.accept_kw("disable"):
            self.expect_kw("row")
            self.expect_kw("level")
            self.expect_kw("security")
            return a.AlterTableCmd("disable rls", pos=pos)
        if self.accept_kw("force"):
            self.expect_kw("row")
            self.expect_kw("level")
            self.expect_kw("security")
            return a.AlterTableCmd("force rls", pos=pos)
        if self.accept_kws("no", "force"):
            self.expect_kw("row")
            self.expect_kw("level")
            self.expect_kw("security")
            return a.AlterTableCmd("no force rls", pos=pos)
        if self.accept_kws("owner", "to"):
            return a.AlterTableCmd("owner", new_name=self.col_id(allow_type_func=True),
                                   pos=pos)
        raise self.error()

    def _table_list(self) -> list[a.RangeVar]:
        """[ONLY] name [, ...]: the tables of TRUNCATE and LOCK."""
        tables: list[a.RangeVar] = []
        while True:
            self.accept_kw("only")
            schema, name, p = self.qualified_name()
            tables.append(a.RangeVar(name, schema, pos=p))
            if not self.accept_op(","):
                return tables

    def _truncate(self) -> a.TruncateStmt:
        pos = self.expect_kw("truncate").pos
        self.accept_kw("table")
        tables = self._table_list()
        stmt = a.TruncateStmt(tables, pos=pos)
        if self.accept_kws("restart", "identity"):
            stmt.restart_identity = True
        else:
            self.accept_kws("continue", "identity")
        if self.accept_kw("cascade"):
            stmt.cascade = True
        else:
            self.accept_kw("restrict")
        return stmt

    # -- roles, privileges, policies ------------------------------------------------------
    def _role_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        self.accept_kw("with")
        flags = {"superuser", "createdb", "createrole", "inherit", "login", "replication",
                 "bypassrls"}
        while self.tok.kind == IDENT:
            w = self.tok.value
            if w in flags:
                self.next()
                opts[w] = True
            elif w.startswith("no") and w[2:] in flags:
                self.next()
                opts[w[2:]] = False
            elif w == "password":
                self.next()
                if self.accept_kw("null"):
                    opts["password"] = None
                else:
                    t = self.next()
                    if t.kind != STRING:
                        raise self.error(t)
                    opts["password"] = t.value
            elif w == "encrypted":
                self.next()
            elif w == "connection":
                self.next()
                self.expect_kw("limit")
                opts["connection_limit"] = self._signed_int()
            elif w == "valid":
                self.next()
                self.expect_kw("until")
                opts["valid_until"] = self.next().value
            elif w == "in" and self.peek().kind == IDENT and self.peek().value in ("role",
                                                                                   "group"):
                self.next()
                self.next()
                opts["in_role"] = [self.col_id(allow_type_func=True)]
                while self.accept_op(","):
                    opts["in_role"].append(self.col_id(allow_type_func=True))
            elif w in ("role", "admin", "user"):
                self.next()
                key = "admin" if w == "admin" else "members"
                opts.setdefault(key, [])
                opts[key].append(self.col_id(allow_type_func=True))
                while self.accept_op(","):
                    opts[key].append(self.col_id(allow_type_func=True))
            else:
                break
        return opts

    def _grant(self) -> a.GrantStmt:
        t = self.next()
        grant = t.value == "grant"
        pos = t.pos
        if not grant:
            self.accept_kws("grant", "option", "for")
        privs: list[str] = []
        cols: list[str] = []
        if self.accept_kw("all"):
            self.accept_kw("privileges")
            privs = ["all"]
        else:
            while True:
                p = self.any_name()
                privs.append(p)
                if self.at_op("("):
                    cols = self.paren_name_list()
                if not self.accept_op(","):
                    break
        if not self.accept_kw("on"):
            # GRANT role TO role
            self.expect_kw("to" if grant else "from")
            grantees = [self.col_id(allow_type_func=True)]
            while self.accept_op(","):
                grantees.append(self.col_id(allow_type_func=True))
            return a.GrantStmt(grant, privs, "role", [], grantees, pos=pos)
        kind = "table"
        if self.accept_kws("all", "tables", "in", "schema"):
            kind = "all tables in schema"
        elif self.accept_kws("all", "sequences", "in", "schema"):
            kind = "all sequences in schema"
        elif self.accept_kw("table"):
            kind = "table"
        elif self.accept_kw("sequence"):
            kind = "sequence"
        elif self.accept_kw("schema"):
            kind = "schema"
        elif self.at_kw("database", "function", "language", "tablespace", "type", "domain"):
            raise self.unsupported(f"GRANT ON {self.tok.value.upper()}")
        objs: list[a.RangeVar] = []
        while True:
            if kind in ("schema", "all tables in schema", "all sequences in schema"):
                p = self.tok.pos
                objs.append(a.RangeVar(self.col_id(), pos=p))
            else:
                schema, name, p = self.qualified_name()
                objs.append(a.RangeVar(name, schema, pos=p))
            if not self.accept_op(","):
                break
        self.expect_kw("to" if grant else "from")
        grantees: list[str] = []
        while True:
            self.accept_kw("group")
            grantees.append(self.col_id(allow_type_func=True) if not self.at_kw(
                "public", "current_user", "session_user") else self.next().value)
            if not self.accept_op(","):
                break
        st = a.GrantStmt(grant, privs, kind, objs, grantees, columns=cols, pos=pos)
        if grant and self.accept_kws("with", "grant", "option"):
            st.with_grant_option = True
        if not grant:
            if self.accept_kw("cascade"):
                st.cascade = True
            else:
                self.accept_kw("restrict")
        return st

    def _policy(self, kind: str, pos: int) -> a.PolicyStmt:
        name = self.col_id()
        self.expect_kw("on")
        schema, tname, tpos = self.qualified_name()
        st = a.PolicyStmt(kind, name, a.RangeVar(tname, schema, pos=tpos), pos=pos)
        if kind == "alter" and self.accept_kws("rename", "to"):
            st.rename_to = self.col_id()
            return st
        if kind == "create" and self.accept_kw("as"):
            st.permissive = self.expect_kw("permissive", "restrictive").value == "permissive"
        if kind == "create" and self.accept_kw("for"):
            st.command = self.expect_kw("all", "select", "insert", "update", "delete").value
        if self.accept_kw("to"):
            while True:
                st.roles.append(self.next().value)
                if not self.accept_op(","):
                    break
        if self.accept_kw("using"):
            self.expect_op("(")
            start = self.tok.pos
            st.using = self.expr()
            st.using_text = self.sql[start:self.tok.pos].strip()
            self.expect_op(")")
        if self.accept_kws("with", "check"):
            self.expect_op("(")
            start = self.tok.pos
            st.check = self.expr()
            st.check_text = self.sql[start:self.tok.pos].strip()
            self.expect_op(")")
        return st

    # -- transactions ---------------------------------------------------------------------
    def _tx_modes(self, st: a.TransactionStmt) -> None:
        while True:
            if self.accept_kws("isolation", "level"):
                for words, level in _ISOLATION.items():
                    if self.accept_kws(*words):
                        st.isolation = level
                        break
                else:
                    raise self.error()
            elif self.accept_kws("read", "only"):
                st.read_only = True
            elif self.accept_kws("read", "write"):
                st.read_only = False
            elif self.accept_kws("not", "deferrable"):
                st.deferrable = False
            elif self.accept_kw("deferrable"):
                st.deferrable = True
            else:
                return
            self.accept_op(",")

    def _begin(self) -> a.TransactionStmt:
        t = self.next()
        if t.value == "start":
            self.expect_kw("transaction")
        else:
            self.accept_kw("transaction", "work")
        st = a.TransactionStmt("begin", pos=t.pos)
        self._tx_modes(st)
        return st

    def _commit(self) -> a.TransactionStmt:
        t = self.next()
        if t.value == "prepare" or (t.value == "commit" and self.at_kw("prepared")):
            raise self.unsupported("two-phase commit", t)
        self.accept_kw("transaction", "work")
        st = a.TransactionStmt("commit", pos=t.pos)
        if self.accept_kw("and"):
            st.chain = not self.accept_kw("no")
            self.expect_kw("chain")
        return st

    def _rollback(self) -> a.TransactionStmt:
        t = self.next()
        if self.at_kw("prepared"):
            raise self.unsupported("two-phase commit", t)
        self.accept_kw("transaction", "work")
        if self.accept_kw("to"):
            self.accept_kw("savepoint")
            return a.TransactionStmt("rollback to", savepoint=self.col_id(), pos=t.pos)
        st = a.TransactionStmt("rollback", pos=t.pos)
        if self.accept_kw("and"):
            st.chain = not self.accept_kw("no")
            self.expect_kw("chain")
        return st

    def _savepoint(self) -> a.TransactionStmt:
        t = self.next()
        return a.TransactionStmt("savepoint", savepoint=self.col_id(), pos=t.pos)

    def _release(self) -> a.TransactionStmt:
        t = self.next()
        self.accept_kw("savepoint")
        return a.TransactionStmt("release", savepoint=self.col_id(), pos=t.pos)

    # -- settings -------------------------------------------------------------------------
    def _setting_name(self) -> str:
        name = self.any_name()
        while self.accept_op("."):
            name += "." + self.any_name()
        return name

    def _set_values(self) -> list[a.Node]:
        if self.accept_kw("default"):
            return []
        vals: list[a.Node] = []
        while True:
            t = self.tok
            if t.kind == IDENT:
                self.next()
                vals.append(a.Const(t.value, "string", t.pos))
            elif t.kind in (STRING, INTEGER, NUMERIC) or (t.kind == OP and t.value in "+-"):
                vals.append(self._unary())
            else:
                raise self.error()
            if not self.accept_op(","):
                return vals

    def _set(self) -> a.Node:
        pos = self.expect_kw("set").pos
        local = False
        if self.accept_kw("local"):
            local = True
        else:
            self.accept_kw("session")
        if self.accept_kw("transaction"):
            st = a.TransactionStmt("set transaction", pos=pos)
            if self.accept_kw("snapshot"):
                raise self.unsupported("SET TRANSACTION SNAPSHOT")
            self._tx_modes(st)
            return st
        if self.accept_kws("characteristics", "as", "transaction"):
            st = a.TransactionStmt("set session characteristics", pos=pos)
            self._tx_modes(st)
            return st
        if self.accept_kws("time", "zone"):
            if self.accept_kw("local", "default"):
                return a.VariableSetStmt("timezone", [], local, pos=pos)
            if self.accept_kw("interval"):
                raise self.unsupported("SET TIME ZONE INTERVAL")
            return a.VariableSetStmt("timezone", self._set_values(), local, pos=pos)
        if self.accept_kw("role"):
            if self.accept_kw("none"):
                return a.VariableSetStmt("role", [], local, pos=pos)
            t = self.next()
            return a.VariableSetStmt("role", [a.Const(t.value, "string", t.pos)], local,
                                     pos=pos)
        if self.accept_kws("session", "authorization"):
            if self.accept_kw("default"):
                return a.VariableSetStmt("session_authorization", [], local, pos=pos)
            t = self.next()
            return a.VariableSetStmt("session_authorization",
                                     [a.Const(t.value, "string", t.pos)], local, pos=pos)
        if self.accept_kw("names"):
            return a.VariableSetStmt("client_encoding", self._set_values(), local, pos=pos)
        if self.accept_kw("constraints"):
            raise self.unsupported("SET CONSTRAINTS")
        name = self._setting_name()
        if not self.accept_kw("to"):
            self.expect_op("=")
        return a.VariableSetStmt(name, self._set_values(), local, pos=pos)

    def _reset(self) -> a.Node:
        pos = self.expect_kw("reset").pos
        if self.accept_kw("all"):
            return a.VariableSetStmt("all", [], reset=True, pos=pos)
        if self.accept_kws("time", "zone"):
            return a.VariableSetStmt("timezone", [], reset=True, pos=pos)
        if self.accept_kws("session", "authorization"):
            return a.VariableSetStmt("session_authorization", [], reset=True, pos=pos)
        return a.VariableSetStmt(self._setting_name(), [], reset=True, pos=pos)

    def _show(self) -> a.Node:
        pos = self.expect_kw("show").pos
        if self.accept_kws("time", "zone"):
            return a.VariableShowStmt("timezone", pos)
        if self.accept_kws("transaction", "isolation", "level"):
            return a.VariableShowStmt("transaction_isolation", pos)
        if self.accept_kws("session", "authorization"):
            return a.VariableShowStmt("session_authorization", pos)
        if self.accept_kw("all"):
            return a.VariableShowStmt("all", pos)
        return a.VariableShowStmt(self._setting_name(), pos)

    # -- utilities ------------------------------------------------------------------------
    def _explain(self) -> a.ExplainStmt:
        pos = self.expect_kw("explain").pos
        st = a.ExplainStmt(a.CheckpointStmt(), pos=pos)
        if self.at_op("("):
            self.next()
            while True:
                opt = self.any_name()
                val: Any = True
                if not self.at_op(",", ")"):
                    t = self.next()
                    val = t.value.lower() if t.kind in (IDENT, STRING) else t.value
                    if val in ("true", "on", "1"):
                        val = True
                    elif val in ("false", "off", "0"):
                        val = False
                if opt == "format":
                    if val not in ("text", "json", "yaml", "xml"):
                        raise SqlError(f'unrecognized value for EXPLAIN option "format": '
                                       f'"{val}"', sqlstate="22023")
                    st.format = str(val)
                elif opt in ("analyze", "verbose", "costs", "buffers", "timing", "summary",
                             "settings", "wal"):
                    if opt in ("analyze", "verbose", "costs", "buffers", "timing", "summary"):
                        setattr(st, opt, bool(val))
                else:
                    raise SqlError(f'unrecognized EXPLAIN option "{opt}"', sqlstate="42601")
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        else:
            if self.accept_kw("analyze", "analyse"):
                st.analyze = True
            if self.accept_kw("verbose"):
                st.verbose = True
        st.stmt = self.preparable_stmt() if not self.at_kw("create", "execute") else \
            self.statement()
        return st

    def _vacuum(self) -> a.VacuumStmt:
        t = self.next()
        st = a.VacuumStmt([], analyze_only=t.value in ("analyze", "analyse"), pos=t.pos)
        if self.at_op("("):
            self.next()
            while True:
                opt = self.any_name()
                if not self.at_op(",", ")"):
                    self.next()
                if opt == "verbose":
                    st.verbose = True
                elif opt in ("analyze", "analyse"):
                    st.analyze = True
                elif opt == "full":
                    st.full = True
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        while self.at_kw("full", "freeze", "verbose", "analyze", "analyse"):
            w = self.next().value
            if w == "verbose":
                st.verbose = True
            elif w in ("analyze", "analyse"):
                st.analyze = True
            elif w == "full":
                st.full = True
        if not self.at_end():
            while True:
                schema, name, p = self.qualified_name()
                st.tables.append(a.RangeVar(name, schema, pos=p))
                if self.at_op("("):
                    self.paren_name_list()
                if not self.accept_op(","):
                    break
        return st

    def _lock(self) -> a.LockStmt:
        pos = self.expect_kw("lock").pos
        self.accept_kw("table")
        tables = self._table_list()
        st = a.LockStmt(tables, pos=pos)
        if self.accept_kw("in"):
            for mode in sorted(_LOCK_MODES, key=lambda m: -len(m.split())):
                if self.accept_kws(*mode.split()):
                    st.mode = mode
                    break
            else:
                raise self.error()
            self.expect_kw("mode")
        if self.accept_kw("nowait"):
            st.nowait = True
        return st

    def _listen(self) -> a.ListenStmt:
        t = self.next()
        if t.value == "unlisten":
            if self.accept_op("*"):
                return a.ListenStmt("*", True, t.pos)
            return a.ListenStmt(self.col_id(), True, t.pos)
        return a.ListenStmt(self.col_id(), False, t.pos)

    def _notify(self) -> a.NotifyStmt:
        pos = self.expect_kw("notify").pos
        ch = self.col_id()
        payload = None
        if self.accept_op(","):
            t = self.next()
            if t.kind != STRING:
                raise self.error(t)
            payload = t.value
        return a.NotifyStmt(ch, payload, pos)

    def _prepare(self) -> a.Node:
        pos = self.expect_kw("prepare").pos
        if self.at_kw("transaction"):
            raise self.unsupported("PREPARE TRANSACTION")
        name = self.col_id()
        types: list[a.TypeName] = []
        if self.accept_op("("):
            while True:
                types.append(self.type_name())
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        self.expect_kw("as")
        return a.PrepareStmt(name, types, self.preparable_stmt(), pos)

    def _execute(self) -> a.Node:
        pos = self.expect_kw("execute").pos
        name = self.col_id()
        params: list[a.Node] = []
        if self.accept_op("("):
            params = self.expr_list()
            self.expect_op(")")
        return a.ExecuteStmt(name, params, pos)

    def _deallocate(self) -> a.Node:
        pos = self.expect_kw("deallocate").pos
        self.accept_kw("prepare")
        if self.accept_kw("all"):
            return a.DeallocateStmt(None, pos)
        return a.DeallocateStmt(self.col_id(), pos)

    def _discard(self) -> a.Node:
        pos = self.expect_kw("discard").pos
        what = self.expect_kw("all", "plans", "sequences", "temp", "temporary").value
        return a.DiscardStmt("temp" if what == "temporary" else what, pos)

    def _checkpoint(self) -> a.Node:
        return a.CheckpointStmt(self.next().pos)

    def _unsupported_stmt(self) -> a.Node:
        t = self.tok
        raise self.unsupported(t.value.upper(), t)


_STATEMENTS: dict[str, Any] = {
    "select": Parser.select_stmt,
    "values": Parser.select_stmt,
    "table": Parser.select_stmt,
    "with": Parser._with_stmt,
    "insert": lambda p: p.dml_stmt(None),
    "update": lambda p: p.dml_stmt(None),
    "delete": lambda p: p.dml_stmt(None),
    "copy": Parser._copy,
    "create": Parser._create,
    "drop": Parser._drop,
    "alter": Parser._alter,
    "truncate": Parser._truncate,
    "grant": Parser._grant,
    "revoke": Parser._grant,
    "begin": Parser._begin,
    "start": Parser._begin,
    "commit": Parser._commit,
    "end": Parser._commit,
    "abort": Parser._rollback,
    "rollback": Parser._rollback,
    "savepoint": Parser._savepoint,
    "release": Parser._release,
    "set": Parser._set,
    "reset": Parser._reset,
    "show": Parser._show,
    "explain": Parser._explain,
    "vacuum": Parser._vacuum,
    "analyze": Parser._vacuum,
    "analyse": Parser._vacuum,
    "lock": Parser._lock,
    "listen": Parser._listen,
    "unlisten": Parser._listen,
    "notify": Parser._notify,
    "prepare": Parser._prepare,
    "execute": Parser._execute,
    "deallocate": Parser._deallocate,
    "discard": Parser._discard,
    "checkpoint": Parser._checkpoint,
    "do": Parser._unsupported_stmt,
    "call": Parser._unsupported_stmt,
    "fetch": Parser._unsupported_stmt,
    "declare": Parser._unsupported_stmt,
    "move": Parser._unsupported_stmt,
    "close": Parser._unsupported_stmt,
    "cluster": Parser._unsupported_stmt,
    "reindex": Parser._unsupported_stmt,
    "comment": Parser._unsupported_stmt,
    "refresh": Parser._unsupported_stmt,
    "security": Parser._unsupported_stmt,
    "import": Parser._unsupported_stmt,
    "load": Parser._unsupported_stmt,
    "reassign": Parser._unsupported_stmt,
}


def parse(sql: str) -> list[Statement]:
    """Parse a string of one or more statements."""
    if not isinstance(sql, str):
        raise SqlError(f"a query must be a string, not {type(sql).__name__}",
                       sqlstate="22023")
    if "\x00" in sql:
        raise SqlError('invalid byte sequence for encoding "UTF8": 0x00', sqlstate="22021")
    return Parser(sql).statements()


def parse_one(sql: str) -> a.Node:
    stmts = parse(sql)
    if len(stmts) != 1:
        raise SqlError("cannot insert multiple commands into a prepared statement",
                       sqlstate="42601")
    return stmts[0].node
