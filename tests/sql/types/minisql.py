"""A tiny evaluator of SQL scalar expressions over cairn's types and functions, for the
differential tests: literals, ``::`` casts, function calls, prefix and binary operators (one
binary operator per parenthesised level). It types literals as PostgreSQL's parser does
(integer -> int4/int8/numeric, decimal -> numeric, quoted string -> unknown) and resolves
every call through cairn.sql.functions, so the tests exercise the real resolution rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cairn.sql import functions as F
from cairn.sql import types as T
from cairn.sql.errors import SqlError
from cairn.sql.types.sqltype import regtype_name

_TOKEN = re.compile(
    r"\s*(?:(?P<str>E?'(?:[^']|'')*')|(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<cast>::)|(?P<punct>[(),\[\]])"
    r"|(?P<op>[-+*/<>=~!@#%^&|`?]+))"
)
_TYPE_WORDS = {
    "double": "precision",
    "character": "varying",
    "timestamp": "with time zone",
    "time": "with time zone",
}


@dataclass
class Node:
    type: T.SqlType
    value: Any


def _tokens(s: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot tokenize at {s[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
    return out


class Parser:
    def __init__(self, text: str, ctx: T.EvalContext) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, v: str) -> None:
        t = self.take()
        if t[1] != v:
            raise ValueError(f"expected {v}, got {t}")

    def expect_word(self, w: str) -> None:
        t = self.take()
        if t[1].lower() != w:
            raise ValueError(f"expected {w}, got {t}")

    def parse(self) -> Node:
        n = self.expr()
        if self.peek() is not None:
            raise ValueError(f"junk after expression: {self.toks[self.i :]}")
        return n

    def expr(self) -> Node:
        left = self.unary()
        while True:  # left-associative chain of binary operators
            t = self.peek()
            if t is None or not (
                t[0] == "op" or (t[0] == "name" and t[1].lower() in ("like", "ilike", "similar"))
            ):
                return left
            self.take()
            word = t[1].lower()
            if word == "similar":
                self.expect_word("to")
            op = {"like": "~~", "ilike": "~~*", "similar": "~"}.get(word, t[1])
            right = self.unary()
            nxt = self.peek()
            if word == "similar" or (nxt is not None and nxt[1].lower() == "escape"):
                esc = None
                if nxt is not None and nxt[1].lower() == "escape":
                    self.take()
                    esc = self.unary()
                fname = "similar_to_escape" if word == "similar" else "like_escape"
                args = [right] if esc is None else [right, esc]
                f = F.resolve_function(fname, [a.type for a in args])
                right = Node(f.result, f.call([a.value for a in args], self.ctx))
            o = F.resolve_operator(op, left.type, right.type)
            left = Node(o.result, o.call(left.value, right.value, self.ctx))

    def unary(self) -> Node:
        t = self.peek()
        if t is not None and t[0] == "op":
            self.take()
            nxt = self.peek()
            after = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
            if (
                t[1] == "-"
                and nxt is not None
                and nxt[0] == "num"
                and (after is None or after[0] != "cast")
            ):
                # PostgreSQL's grammar folds "-" into a numeric constant (-2147483648 is int4),
                # but not into a cast: -1::int is -(1::int)
                self.take()
                return self._number("-" + nxt[1])
            arg = self.unary()
            o = F.resolve_operator(t[1], None, arg.type)
            return Node(o.result, o.call(None, arg.value, self.ctx))
        n = self.primary()
        while self.peek() is not None and self.peek()[0] == "cast":
            self.take()
            n = self.cast(n, self.typename())
        return n

    def _number(self, v: str) -> Node:
        if re.fullmatch(r"-?\d+", v):
            iv = int(v)
            if -(2**31) <= iv <= 2**31 - 1:
                return Node(T.INT4, iv)
            if -(2**63) <= iv <= 2**63 - 1:
                return Node(T.INT8, iv)
        return Node(T.NUMERIC, T.parse_input(T.NUMERIC, v))

    def typename(self) -> T.SqlType:
        words = [self.take()[1].lower()]
        follow = _TYPE_WORDS.get(words[0])
        if follow and self.peek() is not None and self.peek()[1].lower() == follow.split()[0]:
            for _w in follow.split():
                words.append(self.take()[1].lower())
        mods: list[int] = []
        if self.peek() is not None and self.peek()[1] == "(":
            self.take()
            while True:
                tok = self.take()[1]
                mods.append(-int(self.take()[1]) if tok == "-" else int(tok))
                if self.take()[1] == ")":
                    break
        dims = 0
        while self.peek() is not None and self.peek()[1] == "[":
            self.take()
            self.expect("]")
            dims += 1
        return T.parse_type(" ".join(words), mods or None, dims)

    def cast(self, n: Node, t: T.SqlType) -> Node:
        if n.value is None:
            return Node(t, None)
        c = T.find_cast(n.type, t, "explicit")
        if c is None:
            raise SqlError(f"cannot cast type {n.type.name} to {t.name}", sqlstate="42846")
        return Node(t, c.apply(n.value, self.ctx))

    def primary(self) -> Node:
        kind, v = self.take()
        if kind == "str":
            body = v[1:-1] if v[0] == "'" else v[2:-1]
            body = body.replace("''", "'")
            if v[0] == "E":
                body = body.encode().decode("unicode_escape")
            return Node(T.UNKNOWN, body)
        if kind == "num":
            return self._number(v)
        if kind == "punct" and v == "(":
            n = self.expr()
            self.expect(")")
            return n
        if kind == "name":
            low = v.lower()
            if low == "null":
                return Node(T.UNKNOWN, None)
            if low in ("true", "false"):
                return Node(T.BOOL, low == "true")
            if self.peek() is not None and self.peek()[1] == "(":
                self.take()
                args: list[Node] = []
                if low == "extract":  # extract(field FROM x) -> extract('field', x)
                    args.append(Node(T.UNKNOWN, self.take()[1]))
                    self.expect_word("from")
                    args.append(self.expr())
                    self.expect(")")
                elif self.peek()[1] != ")":
                    while True:
                        args.append(self.expr())
                        sep = self.take()[1]
                        if sep == ")":
                            break
                        if sep.lower() == "for" and len(args) == 1 and low == "substring":
                            args.append(Node(T.INT4, 1))  # substring(x FOR n): from 1
                        elif sep.lower() not in (",", "from", "in", "placing", "for"):
                            raise ValueError(f"unexpected {sep!r} in call")
                else:
                    self.take()
                low = {"trim": "btrim"}.get(low, low)
                f = F.resolve_function(low, [a.type for a in args])
                return Node(
                    f.result,
                    ("SRF", f.call([a.value for a in args], self.ctx))
                    if f.retset
                    else f.call([a.value for a in args], self.ctx),
                )
            if low in ("current_date", "localtimestamp"):
                f = F.resolve_function(low, [])
                return Node(f.result, f.call([], self.ctx))
        raise ValueError(f"unexpected token {v!r}")


def evaluate(text: str, ctx: T.EvalContext) -> tuple[str, str | list | None]:
    """(result type name, text output or None for NULL, or a list of row texts for an SRF)."""
    n = Parser(text, ctx).parse()
    if isinstance(n.value, tuple) and len(n.value) == 2 and n.value[0] == "SRF":
        out = T.output_function(n.type) if n.type != T.RECORD else None
        rows = []
        for r in n.value[1]:
            if out is None:
                rows.append("(" + ",".join("" if x is None else str(x) for x in r) + ")")
            else:
                rows.append(None if r is None else out(r, ctx))
        return regtype_name(n.type.oid), rows
    if n.value is None:
        return regtype_name(n.type.oid), None
    return regtype_name(n.type.oid), T.format_output(n.type, n.value, ctx)
