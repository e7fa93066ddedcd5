"""Expressions, type names and queries (SELECT, VALUES, set operations, WITH).

A recursive-descent parser with one function per precedence level of PostgreSQL's operator
table (lowest first): OR, AND, NOT, IS, comparison, BETWEEN/IN/LIKE, any other operator,
+ -, * / %, ^, AT TIME ZONE, unary minus, subscripts, ``::`` casts. gram.y is an LALR grammar;
this is the same language written as functions, which keeps PostgreSQL's error positions
("syntax error at or near ...") easy to report.
"""

from __future__ import annotations

from cairn.sql import ast as a
from cairn.sql.errors import SqlError
from cairn.sql.lexer import EOF, IDENT, INTEGER, NUMERIC, OP, PARAM, STRING
from cairn.sql.parser_base import NOT_BARE_LABEL, RESERVED, Cursor

_CMP = {"=", "<", ">", "<=", ">=", "<>"}
_FIXED = _CMP | {"+", "-", "*", "/", "%", "^", "::", "(", ")", "[", "]", ",", ";", ".", ":",
                 ":=", ".."}

# multi-word type names, longest first
_TYPE_WORDS = {
    "double": [["double", "precision"]],
    "character": [["character", "varying"], ["character"]],
    "char": [["char", "varying"], ["char"]],
    "national": [["national", "character", "varying"], ["national", "character"]],
    "bit": [["bit", "varying"], ["bit"]],
}
# type names that may prefix a string literal: date '2020-01-01'
_SQL_VALUES = {"current_date", "current_time", "current_timestamp", "localtime",
               "localtimestamp", "current_user", "current_role", "session_user", "user",
               "current_catalog", "current_schema"}


class ExprParser(Cursor):
    """Expressions and queries; :class:`cairn.sql.parser.Parser` adds the statements."""

    # -- type names -----------------------------------------------------------------------
    def type_name(self) -> a.TypeName:
        pos = self.tok.pos
        if self.accept_kw("setof"):
            raise self.unsupported("SETOF")
        t = self.tok
        if t.kind != IDENT:
            raise self.error()
        names: list[str] | None = None
        if not t.quoted and t.value in _TYPE_WORDS:
            for words in _TYPE_WORDS[t.value]:
                if self.at_kws(*words):
                    self.i += len(words)
                    names = words
                    break
        if names is None:
            first = self.any_name() if not t.quoted and t.value in ("interval", "time",
                                                                  "timestamp") \
                else self.col_id(allow_type_func=True)
            names = [first]
            if self.accept_op("."):
                names.append(self.any_name())
        tn = a.TypeName(names, pos=pos)
        if self.at_op("("):
            self.next()
            mods: list[int] = []
            while True:
                tok = self.next()
                neg = False
                if tok.kind == OP and tok.value == "-":
                    neg, tok = True, self.next()
                if tok.kind != INTEGER:
                    raise self.error(tok)
                mods.append(-int(tok.value) if neg else int(tok.value))
                if not self.accept_op(","):
                    break
            self.expect_op(")")
            tn.typmods = mods
        if names[-1] in ("timestamp", "time"):
            if self.accept_kws("with", "time", "zone"):
                tn.with_tz = True
            elif self.accept_kws("without", "time", "zone"):
                tn.with_tz = False
        if names == ["interval"]:
            # interval field restrictions (YEAR TO MONTH ...) are accepted and ignored
            while self.accept_kw("year", "month", "day", "hour", "minute", "second", "to"):
                pass
        while self.at_op("["):
            self.next()
            if self.tok.kind == INTEGER:
                self.next()
            self.expect_op("]")
            tn.array_dims += 1
        if self.accept_kw("array"):
            if self.accept_op("["):
                if self.tok.kind == INTEGER:
                    self.next()
                self.expect_op("]")
            tn.array_dims += 1
        return tn

    # -- expressions ----------------------------------------------------------------------
    def expr(self) -> a.Node:
        return self._or()

    def expr_list(self) -> list[a.Node]:
        items = [self.expr()]
        while self.accept_op(","):
            items.append(self.expr())
        return items

    def _or(self) -> a.Node:
        left = self._and()
        if not self.at_kw("or"):
            return left
        args = [left]
        pos = self.tok.pos
        while self.accept_kw("or"):
            args.append(self._and())
        return a.BoolOp("or", args, pos)

    def _and(self) -> a.Node:
        left = self._not()
        if not self.at_kw("and"):
            return left
        args = [left]
        pos = self.tok.pos
        while self.accept_kw("and"):
            args.append(self._not())
        return a.BoolOp("and", args, pos)

    def _not(self) -> a.Node:
        if self.at_kw("not"):
            pos = self.next().pos
            return a.Not(self._not(), pos)
        return self._is()

    def _is(self) -> a.Node:
        node = self._cmp()
        while True:
            t = self.tok
            if self.accept_kw("isnull"):
                node = a.IsNull(node, False, t.pos)
                continue
            if self.accept_kw("notnull"):
                node = a.IsNull(node, True, t.pos)
                continue
            if not self.at_kw("is"):
                return node
            self.next()
            neg = self.accept_kw("not")
            if self.accept_kw("null"):
                node = a.IsNull(node, neg, t.pos)
            elif self.accept_kw("true"):
                node = a.IsBool(node, True, neg, t.pos)
            elif self.accept_kw("false"):
                node = a.IsBool(node, False, neg, t.pos)
            elif self.accept_kw("unknown"):
                node = a.IsBool(node, None, neg, t.pos)
            elif self.accept_kws("distinct", "from"):
                node = a.IsDistinct(node, self._cmp(), neg, t.pos)
            else:
                raise self.error()

    def _cmp(self) -> a.Node:
        left = self._pattern()
        t = self.tok
        if t.kind == OP and t.value in _CMP:
            self.next()
            if self.at_kw("any", "some", "all"):
                return self._any_all(t.value, left, t.pos)
            right = self._pattern()
            node: a.Node = a.BinOp(t.value, left, right, t.pos)
            t2 = self.tok
            if t2.kind == OP and t2.value in _CMP:
                raise self.error(t2)  # comparison is non-associative
            return node
        return left

    def _any_all(self, op: str, left: a.Node, pos: int) -> a.Node:
        kind = "all" if self.next().value == "all" else "any"
        self.expect_op("(")
        if self.at_kw("select", "values", "with") or self.at_op("("):
            save = self.i
            if self.at_op("("):
                # ((SELECT ...)) or (array expression in parentheses)
                try:
                    q = self.select_stmt()
                    self.expect_op(")")
                    return a.SubLink(kind, q, left, op, pos)
                except SqlError:
                    self.i = save
                arr = self.expr()
                self.expect_op(")")
                return a.AnyAll(kind, op, left, arr, pos)
            q = self.select_stmt()
            self.expect_op(")")
            return a.SubLink(kind, q, left, op, pos)
        arr = self.expr()
        self.expect_op(")")
        return a.AnyAll(kind, op, left, arr, pos)

    def _pattern(self) -> a.Node:
        node = self._other()
        while True:
            t = self.tok
            neg = False
            if self.at_kw("not") and self.peek().kind == IDENT and self.peek().value in (
                    "between", "in", "like", "ilike", "similar"):
                self.next()
                neg = True
            if self.accept_kw("between"):
                sym = self.accept_kw("symmetric")
                if not sym:
                    self.accept_kw("asymmetric")
                low = self._other()
                self.expect_kw("and")
                high = self._other()
                node = a.Between(node, low, high, neg, sym, t.pos)
            elif self.accept_kw("in"):
                self.expect_op("(")
                if self.at_kw("select", "values", "with"):
                    q = self.select_stmt()
                    self.expect_op(")")
                    sub = a.SubLink("any", q, node, "=", t.pos)
                    node = a.Not(sub, t.pos) if neg else sub
                else:
                    items = self.expr_list()
                    self.expect_op(")")
                    node = a.InList(node, items, neg, t.pos)
            elif self.at_kw("like", "ilike"):
                ins = self.next().value == "ilike"
                pat = self._other()
                esc = self._other() if self.accept_kw("escape") else None
                node = a.Like(node, pat, esc, neg, ins, False, t.pos)
            elif self.accept_kw("similar"):
                self.expect_kw("to")
                pat = self._other()
                esc = self._other() if self.accept_kw("escape") else None
                node = a.Like(node, pat, esc, neg, False, True, t.pos)
            else:
                if neg:
                    raise self.error()
                return node

    def _is_generic_op(self) -> bool:
        t = self.tok
        return (t.kind == OP and t.value not in _FIXED) or (
            t.kind == IDENT and not t.quoted and t.value == "operator"
            and self.peek().kind == OP and self.peek().value == "(")

    def _generic_op(self) -> str:
        if self.accept_kw("operator"):
            self.expect_op("(")
            if self.tok.kind == IDENT:  # OPERATOR(pg_catalog.+)
                self.next()
                self.expect_op(".")
            op = self.next().value
            self.expect_op(")")
            return op
        return self.next().value

    def _other(self) -> a.Node:
        if self._is_generic_op():  # prefix operator: ~ x, @ x, |/ x
            t = self.tok
            op = self._generic_op()
            return a.UnaryOp(op, self._other(), t.pos)
        left = self._add()
        while self._is_generic_op():
            t = self.tok
            op = self._generic_op()
            left = a.BinOp(op, left, self._add(), t.pos)
        return left

    def _add(self) -> a.Node:
        left = self._mul()
        while self.at_op("+", "-"):
            t = self.next()
            left = a.BinOp(t.value, left, self._mul(), t.pos)
        return left

    def _mul(self) -> a.Node:
        left = self._exp()
        while self.at_op("*", "/", "%"):
            t = self.next()
            left = a.BinOp(t.value, left, self._exp(), t.pos)
        return left

    def _exp(self) -> a.Node:
        left = self._at()
        while self.at_op("^"):
            t = self.next()
            left = a.BinOp("^", left, self._at(), t.pos)
        return left

    def _at(self) -> a.Node:
        node = self._unary()
        while True:
            if self.at_kws("at", "time", "zone"):
                pos = self.tok.pos
                self.i += 3
                zone = self._unary()
                node = a.FuncCall(["timezone"], [zone, node], pos=pos)
            elif self.at_kws("at", "local"):
                pos = self.tok.pos
                self.i += 2
                node = a.FuncCall(["timezone"], [node], pos=pos)
            elif self.accept_kw("collate"):
                self.qualified_name()  # only the "C" order exists: collations are accepted
            else:
                return node

    def _unary(self) -> a.Node:
        if self.at_op("-", "+"):
            t = self.next()
            arg = self._unary()
            if t.value == "-" and isinstance(arg, a.Const) and arg.kind in ("integer",
                                                                              "numeric"):
                v = arg.value
                arg.value = v[1:] if isinstance(v, str) and v.startswith("-") else "-" + v
                arg.pos = t.pos
                return arg
            return a.UnaryOp(t.value, arg, t.pos)
        return self._postfix()

    def _postfix(self) -> a.Node:
        node = self._primary()
        while True:
            if self.at_op("::"):
                t = self.next()
                node = a.Cast(node, self.type_name(), t.pos)
            elif self.at_op("["):
                t = self.next()
                lo = None if self.at_op(":") else self.expr()
                if self.accept_op(":"):
                    hi = None if self.at_op("]") else self.expr()
                    self.expect_op("]")
                    node = a.Subscript(node, lo, hi, True, t.pos)
                else:
                    self.expect_op("]")
                    node = a.Subscript(node, lo, None, False, t.pos)
            elif self.at_op(".") and isinstance(node, (a.RowExpr, a.FuncCall, a.Subscript,
                                                         a.SubLink, a.Cast)):
                t = self.next()
                if self.accept_op("*"):
                    node = a.FieldSelect(node, "*", t.pos)
                else:
                    node = a.FieldSelect(node, self.any_name(), t.pos)
            else:
                return node

    # -- primary expressions --------------------------------------------------------------
    def _primary(self) -> a.Node:
        t = self.tok
        k = t.kind
        if k == INTEGER:
            self.next()
            return a.Const(t.value, "integer", t.pos)
        if k == NUMERIC:
            self.next()
            return a.Const(t.value, "numeric", t.pos)
        if k == STRING:
            self.next()
            if t.raw in ("x'", "b'"):
                bits = t.value if t.raw == "b'" else "".join(
                    f"{int(c, 16):04b}" for c in t.value)
                return a.Const(bits, "bitstring", t.pos)
            return a.Const(t.value, "string", t.pos)
        if k == PARAM:
            self.next()
            n = int(t.value)
            if n < 1:
                raise SqlError(f"there is no parameter ${n}", sqlstate="42P02",
                               position=t.pos + 1)
            return a.Param(n, t.pos)
        if k == OP:
            if t.value == "(":
                return self._paren()
            raise self.error()
        if k == EOF:
            raise self.error()
        # identifiers and keywords
        v = t.value
        if not t.quoted:
            if v in ("true", "false"):
                self.next()
                return a.Const(v == "true", "bool", t.pos)
            if v == "null":
                self.next()
                return a.Const(None, "null", t.pos)
            special = self._special(v, t.pos)
            if special is not None:
                return special
        return self._name_expr()

    def _paren(self) -> a.Node:
        start = self.next()
        if self.at_kw("select", "values", "with") or (
                self.at_op("(") and self._paren_is_query()):
            q = self.select_stmt()
            self.expect_op(")")
            return a.SubLink("expr", q, pos=start.pos)
        first = self.expr()
        if self.accept_op(","):
            items = [first, *self.expr_list()]
            self.expect_op(")")
            return a.RowExpr(items, start.pos)
        self.expect_op(")")
        return first

    def _paren_is_query(self) -> bool:
        """Inside "(", does a nested "((SELECT" start a query?"""
        j = self.i
        while self.toks[j].kind == OP and self.toks[j].value == "(":
            j += 1
        t = self.toks[j]
        return t.kind == IDENT and not t.quoted and t.value in ("select", "values", "with")

    def _special(self, v: str, pos: int) -> a.Node | None:
        """Keywords with their own syntax."""
        nxt = self.peek()
        if v == "case":
            return self._case()
        if v == "cast" and nxt.kind == OP and nxt.value == "(":
            self.next()
            self.next()
            arg = self.expr()
            self.expect_kw("as")
            tn = self.type_name()
            self.expect_op(")")
            return a.Cast(arg, tn, pos)
        if v == "exists" and nxt.kind == OP and nxt.value == "(":
            self.next()
            self.next()
            q = self.select_stmt()
            self.expect_op(")")
            return a.SubLink("exists", q, pos=pos)
        if v == "array":
            self.next()
            if self.accept_op("["):
                return a.ArrayExpr(self._array_items(), pos)
            self.expect_op("(")
            q = self.select_stmt()
            self.expect_op(")")
            return a.SubLink("array", q, pos=pos)
        if v == "row" and nxt.kind == OP and nxt.value == "(":
            self.next()
            self.next()
            items = [] if self.at_op(")") else self.expr_list()
            self.expect_op(")")
            return a.RowExpr(items, pos)
        if v in ("coalesce", "greatest", "least", "nullif") and nxt.kind == OP \
                and nxt.value == "(":
            self.next()
            self.next()
            args = self.expr_list()
            self.expect_op(")")
            if v == "coalesce":
                return a.Coalesce(args, pos)
            if v == "nullif":
                if len(args) != 2:
                    raise SqlError(f"function nullif({', '.join(['unknown'] * len(args))}) "
                                   "does not exist", sqlstate="42883", position=pos + 1)
                return a.NullIf(args[0], args[1], pos)
            return a.MinMax(v, args, pos)
        if v in _SQL_VALUES and not (nxt.kind == OP and nxt.value == "(" and v in (
                "current_schema",)):
            self.next()
            prec = None
            if v in ("current_time", "current_timestamp", "localtime", "localtimestamp") \
                    and self.accept_op("("):
                prec = int(self.next().value)
                self.expect_op(")")
            if v == "current_schema" and self.accept_op("("):
                self.expect_op(")")
            return a.SQLValue(v, prec, pos)
        if v == "default":
            self.next()
            return a.Default(pos)
        if nxt.kind == OP and nxt.value == "(":
            if v == "extract":
                self.next()
                self.next()
                ft = self.next()
                if ft.kind not in (IDENT, STRING):
                    raise self.error(ft)
                self.expect_kw("from")
                arg = self.expr()
                self.expect_op(")")
                return a.FuncCall(["extract"], [a.Const(ft.value.lower(), "string", ft.pos),
                                                arg], pos=pos)
            if v == "position":
                self.next()
                self.next()
                sub = self._other()
                self.expect_kw("in")
                s = self._other()
                self.expect_op(")")
                return a.FuncCall(["position"], [s, sub], pos=pos)
            if v in ("substring", "substr") and v == "substring":
                return self._substring(pos)
            if v == "trim":
                return self._trim(pos)
            if v == "overlay":
                self.next()
                self.next()
                s = self.expr()
                self.expect_kw("placing")
                r = self.expr()
                self.expect_kw("from")
                f = self.expr()
                args = [s, r, f]
                if self.accept_kw("for"):
                    args.append(self.expr())
                self.expect_op(")")
                return a.FuncCall(["overlay"], args, pos=pos)
        # typed literal: date '2020-01-01', interval '1 day', timestamp with time zone '...'
        if v in ("date", "time", "timestamp", "interval", "timestamptz", "int", "integer",
                 "bigint", "smallint", "numeric", "decimal", "real", "float", "double",
                 "boolean", "bool", "text", "varchar", "char", "character", "uuid", "json",
                 "jsonb", "bytea", "name", "oid", "regclass", "inet", "money", "bit",
                 "int2", "int4", "int8", "float4", "float8"):
            save = self.i
            try:
                tn = self.type_name()
            except SqlError:
                self.i = save
                tn = None
            if tn is not None and self.tok.kind == STRING:
                s = self.next()
                lit = a.Const(s.value, "string", s.pos)
                if tn.names == ["interval"]:
                    while self.accept_kw("year", "month", "day", "hour", "minute", "second",
                                         "to"):
                        pass
                return a.Cast(lit, tn, pos)
            self.i = save
        return None

    def _substring(self, pos: int) -> a.Node:
        self.next()
        self.next()
        s = self.expr()
        if self.accept_op(","):
            rest = self.expr_list()
            self.expect_op(")")
            return a.FuncCall(["substring"], [s, *rest], pos=pos)
        start = length = None
        if self.accept_kw("from"):
            start = self.expr()
        if self.accept_kw("for"):
            length = self.expr()
        if start is None and self.accept_kw("similar"):
            pat = self.expr()
            self.expect_kw("escape")
            esc = self.expr()
            self.expect_op(")")
            return a.FuncCall(["substring_similar"], [s, pat, esc], pos=pos)
        self.expect_op(")")
        if start is None and length is None:
            return a.FuncCall(["substring"], [s], pos=pos)
        if start is None:
            start = a.Const("1", "integer", pos)
        args = [s, start] + ([length] if length is not None else [])
        return a.FuncCall(["substring"], args, pos=pos)

    def _trim(self, pos: int) -> a.Node:
        self.next()
        self.next()
        fn = "btrim"
        if self.accept_kw("leading"):
            fn = "ltrim"
        elif self.accept_kw("trailing"):
            fn = "rtrim"
        else:
            self.accept_kw("both")
        chars = None
        if self.accept_kw("from"):
            s = self.expr()
        else:
            first = self.expr()
            if self.accept_kw("from"):
                chars, s = first, self.expr()
            elif self.accept_op(","):
                s, chars = first, self.expr()
            else:
                s = first
        self.expect_op(")")
        return a.FuncCall([fn], [s] if chars is None else [s, chars], pos=pos)

    def _array_items(self) -> list[a.Node]:
        items: list[a.Node] = []
        if self.accept_op("]"):
            return items
        while True:
            if self.at_op("["):  # nested ARRAY[[1,2],[3,4]]
                t = self.next()
                items.append(a.ArrayExpr(self._array_items(), t.pos))
            else:
                items.append(self.expr())
            if not self.accept_op(","):
                break
        self.expect_op("]")
        return items

    def _case(self) -> a.Node:
        pos = self.next().pos
        arg = None if self.at_kw("when") else self.expr()
        whens: list[tuple[a.Node, a.Node]] = []
        while self.accept_kw("when"):
            cond = self.expr()
            self.expect_kw("then")
            whens.append((cond, self.expr()))
        if not whens:
            raise self.error()
        default = self.expr() if self.accept_kw("else") else None
        self.expect_kw("end")
        return a.Case(arg, whens, default, pos)

    def _name_expr(self) -> a.Node:
        """A column reference (a, t.a, s.t.a, t.*) or a function call (f(...), s.f(...))."""
        t = self.tok
        if not t.quoted and t.value in RESERVED:
            raise self.error()
        self.next()
        names = [t.value]
        while self.at_op("."):
            self.next()
            if self.accept_op("*"):
                return a.Star(names, t.pos)
            names.append(self.any_name())
        if self.at_op("("):
            return self._func_call(names, t.pos)
        if self.tok.kind == STRING and len(names) <= 2:
            # a type name given as an identifier before a literal: "int4 '1'", "pg_catalog.int4 '1'"
            s = self.next()
            return a.Cast(a.Const(s.value, "string", s.pos), a.TypeName(names, pos=t.pos), t.pos)
        return a.ColumnRef(names, t.pos)

    def _func_call(self, names: list[str], pos: int) -> a.Node:
        self.expect_op("(")
        fc = a.FuncCall(names, pos=pos)
        if self.accept_op("*"):
            fc.star = True
        elif not self.at_op(")"):
            if self.accept_kw("distinct"):
                fc.distinct = True
            else:
                self.accept_kw("all")
            while True:
                if self.accept_kw("variadic"):
                    fc.variadic = True
                name = None
                if self.tok.kind == IDENT and self.peek().kind == OP and self.peek().value in (
                        "=>", ":="):
                    name = self.next().value
                    self.next()
                fc.args.append(self.expr())
                fc.named.append(name)
                if not self.accept_op(","):
                    break
            if self.accept_kws("order", "by"):
                fc.order_by = self.sort_list()
        self.expect_op(")")
        if not any(fc.named):
            fc.named = []
        if self.accept_kws("within", "group"):
            self.expect_op("(")
            self.expect_kws_seq("order", "by")
            fc.order_by = self.sort_list()
            self.expect_op(")")
        if self.accept_kw("filter"):
            self.expect_op("(")
            self.expect_kw("where")
            fc.filter = self.expr()
            self.expect_op(")")
        if self.accept_kw("over"):
            if self.at_op("("):
                fc.over = self.window_spec()
            else:
                fc.over = a.WindowDef(ref=self.col_id(), pos=self.tok.pos)
        return fc

    def expect_kws_seq(self, *words: str) -> None:
        for w in words:
            self.expect_kw(w)

    # -- windows --------------------------------------------------------------------------
    def window_spec(self) -> a.WindowDef:
        pos = self.expect_op("(").pos
        w = a.WindowDef(pos=pos)
        if self.tok.kind == IDENT and not self.at_kw("partition", "order", "rows", "range",
                                                      "groups"):
            w.ref = self.col_id()
        if self.accept_kws("partition", "by"):
            w.partition_by = self.expr_list()
        if self.accept_kws("order", "by"):
            w.order_by = self.sort_list()
        if self.at_kw("rows", "range", "groups"):
            mode = self.next().value
            if self.accept_kw("between"):
                start = self._frame_bound()
                self.expect_kw("and")
                end = self._frame_bound()
            else:
                start = self._frame_bound()
                end = a.FrameBound("current row")
            excl = "no others"
            if self.accept_kw("exclude"):
                if self.accept_kws("current", "row"):
                    excl = "current row"
                elif self.accept_kw("group"):
                    excl = "group"
                elif self.accept_kw("ties"):
                    excl = "ties"
                else:
                    self.expect_kw("no")
                    self.expect_kw("others")
            w.frame = a.FrameSpec(mode, start, end, excl)
        self.expect_op(")")
        return w

    def _frame_bound(self) -> a.FrameBound:
        if self.accept_kw("unbounded"):
            if self.accept_kw("preceding"):
                return a.FrameBound("unbounded preceding")
            self.expect_kw("following")
            return a.FrameBound("unbounded following")
        if self.accept_kws("current", "row"):
            return a.FrameBound("current row")
        off = self._other()
        if self.accept_kw("preceding"):
            return a.FrameBound("preceding", off)
        self.expect_kw("following")
        return a.FrameBound("following", off)

    # -- ORDER BY -------------------------------------------------------------------------
    def sort_list(self) -> list[a.SortBy]:
        out = [self._sort_by()]
        while self.accept_op(","):
            out.append(self._sort_by())
        return out

    def _sort_by(self) -> a.SortBy:
        pos = self.tok.pos
        e = self.expr()
        sb = a.SortBy(e, pos=pos)
        if self.accept_kw("desc"):
            sb.desc = True
        elif self.accept_kw("asc"):
            pass
        elif self.accept_kw("using"):
            op = self.next()
            sb.using = op.value
            sb.desc = op.value in (">", ">=")
        if self.accept_kw("nulls"):
            if self.accept_kw("first"):
                sb.nulls_first = True
            else:
                self.expect_kw("last")
                sb.nulls_first = False
        return sb

    # -- queries --------------------------------------------------------------------------
    def with_clause(self) -> a.WithClause:
        pos = self.expect_kw("with").pos
        rec = self.accept_kw("recursive")
        ctes: list[a.CommonTableExpr] = []
        while True:
            cpos = self.tok.pos
            name = self.col_id()
            cols = self.paren_name_list() if self.at_op("(") else []
            self.expect_kw("as")
            mat = None
            if self.accept_kw("materialized"):
                mat = True
            elif self.accept_kws("not", "materialized"):
                mat = False
            self.expect_op("(")
            q = self.preparable_stmt()
            self.expect_op(")")
            ctes.append(a.CommonTableExpr(name, q, cols, mat, cpos))
            if not self.accept_op(","):
                break
        return a.WithClause(ctes, rec, pos)

    def preparable_stmt(self) -> a.Node:
        """What a CTE or EXPLAIN may hold: a query or a data-modifying statement."""
        if self.at_kw("insert", "update", "delete"):
            return self.dml_stmt(None)
        return self.select_stmt()

    def dml_stmt(self, with_: a.WithClause | None) -> a.Node:  # overridden by Parser
        raise self.error()

    def select_stmt(self) -> a.Node:
        """select_no_parens | select_with_parens, with set operations, ORDER BY, LIMIT."""
        with_ = self.with_clause() if self.at_kw("with") else None
        if with_ is not None and self.at_kw("insert", "update", "delete"):
            return self.dml_stmt(with_)
        node = self._set_expr()
        order_by: list[a.SortBy] = []
        if self.accept_kws("order", "by"):
            order_by = self.sort_list()
        limit, offset, locking = self._limit_locking()
        target = node
        if order_by and getattr(target, "order_by", None):
            raise SqlError("multiple ORDER BY clauses not allowed", sqlstate="42601",
                           position=self.tok.pos + 1)
        if isinstance(target, (a.SelectStmt, a.SetOperation)):
            if order_by:
                target.order_by = order_by
            if limit is not None:
                target.limit = limit
            if offset is not None:
                target.offset = offset
            if locking:
                target.locking = locking
            if with_ is not None:
                target.with_ = with_
        return target

    def _limit_locking(self) -> tuple[a.Node | None, a.Node | None, list[a.LockingClause]]:
        limit = offset = None
        locking: list[a.LockingClause] = []
        while True:
            if self.accept_kw("limit"):
                limit = a.Const(None, "null") if self.accept_kw("all") else self.expr()
            elif self.accept_kw("offset"):
                offset = self.expr()
                self.accept_kw("row", "rows")
            elif self.accept_kw("fetch"):
                self.expect_kw("first", "next")
                limit = a.Const("1", "integer") if self.at_kw("row", "rows") else self._other()
                self.expect_kw("row", "rows")
                self.expect_kw("only")
            elif self.at_kw("for") and self.peek().kind == IDENT and self.peek().value in (
                    "update", "share", "no", "key"):
                locking.append(self._locking())
            else:
                return limit, offset, locking

    def _locking(self) -> a.LockingClause:
        pos = self.expect_kw("for").pos
        if self.accept_kw("update"):
            strength = "update"
        elif self.accept_kw("share"):
            strength = "share"
        elif self.accept_kws("no", "key", "update"):
            strength = "no key update"
        else:
            self.expect_kw("key")
            self.expect_kw("share")
            strength = "key share"
        lc = a.LockingClause(strength, pos=pos)
        if self.accept_kw("of"):
            lc.tables = [self.qualified_name()[1]]
            while self.accept_op(","):
                lc.tables.append(self.qualified_name()[1])
        if self.accept_kw("nowait"):
            lc.wait = "nowait"
        elif self.accept_kws("skip", "locked"):
            lc.wait = "skip locked"
        return lc

    def _set_expr(self) -> a.Node:
        left = self._set_term()
        while self.at_kw("union", "except"):
            t = self.next()
            all_ = self.accept_kw("all")
            if not all_:
                self.accept_kw("distinct")
            right = self._set_term()
            left = a.SetOperation(t.value, all_, left, right, pos=t.pos)
        return left

    def _set_term(self) -> a.Node:
        left = self._simple_select()
        while self.at_kw("intersect"):
            t = self.next()
            all_ = self.accept_kw("all")
            if not all_:
                self.accept_kw("distinct")
            right = self._simple_select()
            left = a.SetOperation("intersect", all_, left, right, pos=t.pos)
        return left

    def _simple_select(self) -> a.Node:
        t = self.tok
        if self.at_op("("):
            self.next()
            q = self.select_stmt()
            self.expect_op(")")
            return q
        if self.at_kw("values"):
            self.next()
            rows: list[list[a.Node]] = []
            while True:
                self.expect_op("(")
                rows.append(self.expr_list())
                self.expect_op(")")
                if not self.accept_op(","):
                    break
            return a.SelectStmt(values=rows, pos=t.pos)
        if self.at_kw("table"):
            self.next()
            schema, name, pos = self.qualified_name()
            return a.SelectStmt(targets=[a.ResTarget(a.Star(None, pos))],
                                from_=[a.RangeVar(name, schema, pos=pos)], pos=t.pos)
        self.expect_kw("select")
        s = a.SelectStmt(pos=t.pos)
        if self.accept_kw("distinct"):
            if self.accept_kw("on"):
                self.expect_op("(")
                s.distinct_on = self.expr_list()
                self.expect_op(")")
            else:
                s.distinct = True
        else:
            self.accept_kw("all")
        if not self._at_clause_end():
            s.targets = self._target_list()
        if self.accept_kw("into"):
            self.accept_kw("temporary", "temp")
            self.accept_kw("table")
            schema, name, pos = self.qualified_name()
            s.into = a.RangeVar(name, schema, pos=pos)
        if self.accept_kw("from"):
            s.from_ = self.from_list()
        if self.accept_kw("where"):
            s.where = self.expr()
        if self.accept_kws("group", "by"):
            self.accept_kw("all")
            s.group_by = self._group_list()
        if self.accept_kw("having"):
            s.having = self.expr()
        if self.accept_kw("window"):
            while True:
                name = self.col_id()
                self.expect_kw("as")
                w = self.window_spec()
                w.name = name
                s.windows.append(w)
                if not self.accept_op(","):
                    break
        return s

    def _group_list(self) -> list[a.Node]:
        items: list[a.Node] = []
        while True:
            if self.at_op("(") and self.peek().kind == OP and self.peek().value == ")":
                self.next()
                self.next()
                items.append(a.RowExpr([]))
            elif self.at_kw("rollup", "cube", "grouping"):
                raise self.unsupported(f"GROUP BY {self.tok.value.upper()}")
            else:
                items.append(self.expr())
            if not self.accept_op(","):
                return items

    def _at_clause_end(self) -> bool:
        return self.at_end() or self.at_op(")") or self.at_kw(
            "from", "where", "group", "having", "window", "order", "limit", "offset", "union",
            "intersect", "except", "for", "into", "fetch")

    def _target_list(self) -> list[a.ResTarget]:
        out: list[a.ResTarget] = []
        while True:
            pos = self.tok.pos
            if self.at_op("*"):
                self.next()
                out.append(a.ResTarget(a.Star(None, pos), None, pos))
            else:
                e = self.expr()
                out.append(a.ResTarget(e, self._alias_opt(), pos))
            if not self.accept_op(","):
                return out

    def _alias_opt(self) -> str | None:
        if self.accept_kw("as"):
            return self.any_name()
        t = self.tok
        if t.kind == IDENT and (t.quoted or t.value not in NOT_BARE_LABEL):
            self.next()
            return t.value
        return None

    # -- FROM -----------------------------------------------------------------------------
    def from_list(self) -> list[a.Node]:
        items = [self._table_ref()]
        while self.accept_op(","):
            items.append(self._table_ref())
        return items

    def _table_ref(self) -> a.Node:
        left = self._table_primary()
        while True:
            t = self.tok
            natural = False
            if self.at_kw("natural"):
                self.next()
                natural = True
            if self.accept_kws("cross", "join"):
                right = self._table_primary()
                left = a.JoinExpr("cross", left, right, pos=t.pos)
                continue
            kind = None
            if self.accept_kw("join") or self.accept_kws("inner", "join"):
                kind = "inner"
            elif self.at_kw("left", "right", "full"):
                kind = self.next().value
                self.accept_kw("outer")
                self.expect_kw("join")
            if kind is None:
                if natural:
                    raise self.error()
                return left
            right = self._table_primary()
            j = a.JoinExpr(kind, left, right, natural=natural, pos=t.pos)
            if not natural:
                if self.accept_kw("on"):
                    j.on = self.expr()
                elif self.accept_kw("using"):
                    j.using = self.paren_name_list()
                else:
                    raise self.error()
            left = j

    def _table_primary(self) -> a.Node:
        t = self.tok
        lateral = self.accept_kw("lateral")
        if self.at_op("("):
            if self._paren_is_query() or (self.peek().kind == IDENT and self.peek().value in (
                    "select", "values", "with")):
                self.next()
                q = self.select_stmt()
                self.expect_op(")")
                alias, cols = self._table_alias()
                if alias is None:
                    raise SqlError("subquery in FROM must have an alias", sqlstate="42601",
                                   hint="For example, FROM (SELECT ...) [AS] foo.",
                                   position=t.pos + 1)
                return a.RangeSubselect(q, alias, cols, lateral, t.pos)
            self.next()
            inner = self._table_ref()
            self.expect_op(")")
            alias, _cols = self._table_alias()
            if alias and isinstance(inner, a.JoinExpr):
                inner.alias = alias
            return inner
        only = self.accept_kw("only")
        # a function in FROM: generate_series(1, 3), unnest(...), s.f(...)
        if self.tok.kind == IDENT and ((self.peek().kind == OP and self.peek().value == "(") or (
                self.peek().kind == OP and self.peek().value == "."
                and self.peek(2).kind == IDENT and self.peek(3).kind == OP
                and self.peek(3).value == "(")):
            pos = self.tok.pos
            fname = self.next()
            names = [fname.value]
            if self.accept_op("."):
                names.append(self.any_name())
            f = self._func_call(names, pos)
            rf = a.RangeFunction(f, lateral=lateral, pos=pos)
            if self.accept_kws("with", "ordinality"):
                rf.ordinality = True
            alias, cols = self._table_alias(allow_coldefs=True)
            rf.alias = alias
            if cols and isinstance(cols[0], a.ColumnDef):
                rf.col_defs = cols  # type: ignore[assignment]
            else:
                rf.col_aliases = cols  # type: ignore[assignment]
            return rf
        schema, name, pos = self.qualified_name()
        self.accept_op("*")  # inheritance marker
        rv = a.RangeVar(name, schema, only=only, pos=pos)
        rv.alias, rv.col_aliases = self._table_alias()
        if self.at_kw("tablesample"):
            raise self.unsupported("TABLESAMPLE")
        return rv

    def _table_alias(self, allow_coldefs: bool = False) -> tuple[str | None, list]:
        alias = None
        if self.accept_kw("as") or (self.at_col_id() and not self.at_kw(
                "on", "using", "natural", "join", "inner", "left", "right", "full", "cross",
                "where", "group", "having", "order", "limit", "offset", "window", "for",
                "union", "intersect", "except", "returning", "set", "fetch", "lateral",
                "with", "do", "tablesample")):
            alias = self.col_id()
        cols: list = []
        if alias is not None and self.at_op("("):
            self.next()
            while True:
                cname = self.col_id()
                if allow_coldefs and not self.at_op(",", ")"):
                    cols.append(a.ColumnDef(cname, self.type_name()))
                else:
                    cols.append(cname)
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        return alias, cols
