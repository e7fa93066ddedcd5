"""The parser's cursor over tokens, and PostgreSQL's keyword classes.

PostgreSQL sorts its keywords into reserved ones (never a table or column name unquoted),
type/function-name ones (a function or type name but not a column name: ``left``, ``join``,
``ilike``) and unreserved ones (usable anywhere). The parser asks these sets whether a word
can be a column name or a bare alias, as gram.y's ``ColId`` and ``BareColLabel`` do.
"""

from __future__ import annotations

from cairn.sql.errors import SqlError
from cairn.sql.lexer import EOF, IDENT, OP, Token, syntax_error, tokenize


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


RESERVED = _words("""
all analyse analyze and any array as asc asymmetric both case cast check collate column
constraint create current_catalog current_date current_role current_time current_timestamp
current_user default deferrable desc distinct do else end except false fetch for foreign from
grant group having in initially intersect into lateral leading limit localtime localtimestamp
not null offset on only or order placing primary references returning select session_user some
symmetric table then to trailing true union unique user using variadic when where window with
""")

TYPE_FUNC_NAME = _words("""
authorization binary collation concurrently cross current_schema freeze full ilike inner is
isnull join left like natural notnull outer overlaps right similar tablesample verbose
""")

# words that cannot follow an expression as an alias without AS (they continue the query)
NOT_BARE_LABEL = RESERVED | TYPE_FUNC_NAME | _words("""
over filter within at escape ordinality nulls first last rows range groups exclude
""")


class Cursor:
    """A position in the token list of one SQL text, with the error helpers."""

    def __init__(self, sql: str):
        self.sql = sql
        self.toks: list[Token] = tokenize(sql)
        self.i = 0

    # -- looking --------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def at_kw(self, *words: str) -> bool:
        t = self.toks[self.i]
        return t.kind == IDENT and not t.quoted and t.value in words

    def at_kws(self, *words: str) -> bool:
        """The next tokens are these keywords, in order."""
        for k, w in enumerate(words):
            t = self.peek(k)
            if not (t.kind == IDENT and not t.quoted and t.value == w):
                return False
        return True

    def at_op(self, *ops: str) -> bool:
        t = self.toks[self.i]
        return t.kind == OP and t.value in ops

    def at_end(self) -> bool:
        t = self.toks[self.i]
        return t.kind == EOF or (t.kind == OP and t.value == ";")

    # -- taking ---------------------------------------------------------------------------
    def next(self) -> Token:
        t = self.toks[self.i]
        if t.kind != EOF:
            self.i += 1
        return t

    def accept_kw(self, *words: str) -> bool:
        if self.at_kw(*words):
            self.i += 1
            return True
        return False

    def accept_kws(self, *words: str) -> bool:
        if self.at_kws(*words):
            self.i += len(words)
            return True
        return False

    def accept_op(self, *ops: str) -> bool:
        if self.at_op(*ops):
            self.i += 1
            return True
        return False

    def expect_kw(self, *words: str) -> Token:
        if not self.at_kw(*words):
            raise self.error()
        return self.next()

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.error()
        return self.next()

    # -- names ----------------------------------------------------------------------------
    def col_id(self, *, allow_type_func: bool = False) -> str:
        """An identifier usable as a table or column name (gram.y's ColId)."""
        t = self.tok
        if t.kind != IDENT:
            raise self.error()
        if not t.quoted and (t.value in RESERVED
                             or (not allow_type_func and t.value in TYPE_FUNC_NAME)):
            raise self.error()
        self.i += 1
        return t.value

    def any_name(self) -> str:
        """Any identifier, keywords included (ColLabel: after AS, after a dot)."""
        t = self.tok
        if t.kind != IDENT:
            raise self.error()
        self.i += 1
        return t.value

    def at_col_id(self) -> bool:
        t = self.tok
        return t.kind == IDENT and (t.quoted or (t.value not in RESERVED
                                                 and t.value not in TYPE_FUNC_NAME))

    def qualified_name(self) -> tuple[str | None, str, int]:
        """[schema.]name -> (schema, name, pos)."""
        pos = self.tok.pos
        first = self.col_id()
        if self.accept_op("."):
            return first, self.any_name(), pos
        return None, first, pos

    def name_list(self) -> list[str]:
        names = [self.col_id()]
        while self.accept_op(","):
            names.append(self.col_id())
        return names

    def paren_name_list(self) -> list[str]:
        self.expect_op("(")
        names = self.name_list()
        self.expect_op(")")
        return names

    # -- errors ---------------------------------------------------------------------------
    def error(self, tok: Token | None = None) -> SqlError:
        t = tok or self.tok
        if t.kind == EOF:
            return syntax_error(self.sql, len(self.sql.rstrip()) if self.sql.strip() else 0)
        return syntax_error(self.sql, t.pos, t.raw or t.value)

    def unsupported(self, what: str, tok: Token | None = None) -> SqlError:
        t = tok or self.tok
        return SqlError(f"{what} is not supported", sqlstate="0A000", position=t.pos + 1)
