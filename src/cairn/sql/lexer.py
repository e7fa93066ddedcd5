"""The SQL lexer: PostgreSQL's lexical rules (scan.l), turned into a list of tokens.

What PostgreSQL's scanner does, and so this one: unquoted identifiers fold to lower case and
quoted ones ("Mixed Case", with ``""`` for a quote) keep theirs; string constants take ``''``
for a quote, ``E'...'`` takes backslash escapes, ``$tag$...$tag$`` quotes anything, and two
constants separated by white space containing a newline are one constant; numbers are
integers or numerics (``1.5``, ``.5``, ``1e3``); ``$1`` is a parameter; an operator is the
longest run of operator characters, except that ``--`` and ``/*`` start comments (which
nest) and a multi-character operator may not end in ``+`` or ``-`` unless it also holds one
of ``~ ! @ # % ^ & | ` ?`` (so ``a*-1`` is ``a * -1``). Every token keeps its character
offset, which syntax errors report as PostgreSQL's 1-based ``position``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.sql.errors import SqlError

# token kinds
IDENT = "ident"  # value: folded name; quoted identifiers have quoted=True
STRING = "string"
INTEGER = "integer"
NUMERIC = "numeric"
PARAM = "param"
OP = "op"  # operators and punctuation
EOF = "eof"

_OP_CHARS = set("+-*/<>=~!@#%^&|`?")
_OP_SPECIAL = set("~!@#%^&|`?")
_PUNCT = set("()[],;:.")

_WS = re.compile(r"[ \t\n\r\f\v]+")
_IDENT = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PARAM = re.compile(r"\$(\d+)")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


@dataclass(slots=True)
class Token:
    kind: str
    value: str
    pos: int  # character offset in the statement text (0-based)
    quoted: bool = False  # a "quoted identifier"
    raw: str = ""  # the text as written (for error messages)

    def is_kw(self, word: str) -> bool:
        return self.kind == IDENT and not self.quoted and self.value == word


def syntax_error(sql: str, pos: int | None, near: str | None = None) -> SqlError:
    """PostgreSQL's 42601 message: at or near the offending token, or at end of input."""
    if near is None:  # the position is then the end of the text
        msg = "syntax error at end of input"
    else:
        msg = f'syntax error at or near "{near}"'
    return SqlError(msg, sqlstate="42601", position=None if pos is None else pos + 1)


def _unterminated(what: str, pos: int, sql: str = "") -> SqlError:
    near = f' at or near "{sql[pos:]}"' if sql else ""
    return SqlError(f"unterminated {what}{near}", sqlstate="42601", position=pos + 1)


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _e_string(body: str, pos: int) -> str:
    """Backslash escapes of E'...' strings."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        d = body[i + 1]
        if d in _ESCAPES:
            out.append(_ESCAPES[d])
            i += 2
        elif d in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            assert m
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        elif d == "x":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2:])
            if not m:
                out.append("x")
                i += 2
                continue
            out.append(chr(int(m.group(0), 16)))
            i += 2 + len(m.group(0))
        elif d in "uU":
            width = 4 if d == "u" else 8
            hexd = body[i + 2:i + 2 + width]
            if len(hexd) != width or not re.fullmatch(r"[0-9A-Fa-f]+", hexd):
                raise SqlError("invalid Unicode escape", sqlstate="22025",
                               hint="Unicode escapes must be \\uXXXX or \\UXXXXXXXX.",
                               position=pos + 1)
            out.append(chr(int(hexd, 16)))
            i += 2 + width
        else:
            out.append(d)
            i += 2
    s = "".join(out)
    if "\x00" in s:
        raise SqlError("invalid byte sequence for encoding \"UTF8\": 0x00", sqlstate="22021",
                       position=pos + 1)
    return s


def _quoted(sql: str, start: int, quote: str, backslash: bool) -> tuple[str, int]:
    """The body of a quoted run starting after its opening quote; doubled quotes are one.
    Returns (raw body with doubled quotes collapsed, index after the closing quote)."""
    out: list[str] = []
    i, n = start, len(sql)
    while True:
        j = sql.find(quote, i)
        if backslash:
            # a backslash escapes the next character, including a quote
            k = sql.find("\\", i)
            while k != -1 and (j == -1 or k < j):
                out.append(sql[i:k + 2])
                i = k + 2
                j = sql.find(quote, i)
                k = sql.find("\\", i)
        if j == -1:
            return "".join(out), -1
        out.append(sql[i:j])
        if j + 1 < n and sql[j + 1] == quote:
            out.append(quote)
            i = j + 2
            continue
        return "".join(out), j + 1


def _continues(sql: str, i: int) -> int:
    """Index of a string constant that continues the previous one: only white space holding a
    newline separates them (SQL's rule). -1 when there is none."""
    m = _WS.match(sql, i)
    if not m or "\n" not in m.group(0):
        return -1
    j = m.end()
    return j if j < len(sql) and sql[j] == "'" else -1


def tokenize(sql: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(sql)
    append = toks.append
    while i < n:
        c = sql[i]
        if c in " \t\n\r\f\v":
            m = _WS.match(sql, i)
            assert m
            i = m.end()
            continue
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j == -1 else j + 1
            continue
        if c == "/" and sql.startswith("/*", i):
            depth, j = 1, i + 2
            while depth:
                a, b = sql.find("/*", j), sql.find("*/", j)
                if b == -1:
                    raise _unterminated("/* comment", i, sql)
                if a != -1 and a < b:
                    depth, j = depth + 1, a + 2
                else:
                    depth, j = depth - 1, b + 2
            i = j
            continue
        if c == "'" or (c in "eEnN" and i + 1 < n and sql[i + 1] == "'"):
            start = i
            escape = c in "eE"
            i += 1 if c == "'" else 2
            parts: list[str] = []
            while True:
                body, end = _quoted(sql, i, "'", escape)
                if end == -1:
                    raise _unterminated("quoted string", start, sql)
                parts.append(_e_string(body, start) if escape else body)
                nxt = _continues(sql, end)
                if nxt == -1:
                    i = end
                    break
                i = nxt + 1
            value = "".join(parts)
            if "\x00" in value:
                raise SqlError('invalid byte sequence for encoding "UTF8": 0x00',
                               sqlstate="22021", position=start + 1)
            append(Token(STRING, value, start, raw=sql[start:i]))
            continue
        if c in "xXbB" and i + 1 < n and sql[i + 1] == "'":
            start = i
            body, end = _quoted(sql, i + 2, "'", False)
            if end == -1:
                raise _unterminated("bit string literal" if c in "bB"
                                    else "hexadecimal string literal", start, sql)
            # bit strings: kept as text with a marker the parser turns into a cast
            append(Token(STRING, body, start, raw=("x" if c in "xX" else "b") + "'"))
            i = end
            continue
        if c == '"':
            start = i
            body, end = _quoted(sql, i + 1, '"', False)
            if end == -1:
                raise _unterminated("quoted identifier", start, sql)
            if not body:
                raise SqlError("zero-length delimited identifier", sqlstate="42601",
                               position=start + 1)
            append(Token(IDENT, body[:63], start, quoted=True, raw=sql[start:end]))
            i = end
            continue
        if c == "$":
            m = _PARAM.match(sql, i)
            if m:
                append(Token(PARAM, m.group(1), i, raw=m.group(0)))
                i = m.end()
                continue
            m = _DOLLAR_TAG.match(sql, i)
            if m:
                tag = m.group(0)
                end = sql.find(tag, m.end())
                if end == -1:
                    raise _unterminated("dollar-quoted string", i, sql)
                append(Token(STRING, sql[m.end():end], i, raw=tag))
                i = end + len(tag)
                continue
            raise syntax_error(sql, i, "$")
        if c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            assert m
            text = m.group(0)
            j = m.end()
            kind = INTEGER if text.isdigit() else NUMERIC
            append(Token(kind, text, i, raw=text))
            i = j
            continue
        m = _IDENT.match(sql, i) if (c.isalpha() or c == "_" or ord(c) >= 0x80) else None
        if m:
            word = m.group(0)
            append(Token(IDENT, word.lower()[:63], i, raw=word))
            i = m.end()
            continue
        if c in _PUNCT:
            if c == ":" and sql.startswith("::", i):
                append(Token(OP, "::", i, raw="::"))
                i += 2
                continue
            if c == ":" and sql.startswith(":=", i):
                append(Token(OP, ":=", i, raw=":="))
                i += 2
                continue
            if c == "." and sql.startswith("..", i):
                append(Token(OP, "..", i, raw=".."))
                i += 2
                continue
            append(Token(OP, c, i, raw=c))
            i += 1
            continue
        if c in _OP_CHARS:
            j = i
            while j < n and sql[j] in _OP_CHARS:
                if j > i and (sql.startswith("--", j) or sql.startswith("/*", j)):
                    break
                j += 1
            op = sql[i:j]
            if "--" in op[1:] or "/*" in op[1:]:
                op = op[:1]
            # a multi-char operator may not end in + or - unless it holds a special char
            if len(op) > 1 and op[-1] in "+-" and not (_OP_SPECIAL & set(op)):
                while len(op) > 1 and op[-1] in "+-":
                    op = op[:-1]
            append(Token(OP, "<>" if op == "!=" else op, i, raw=op))
            i += len(op)
            continue
        raise syntax_error(sql, i, c)
    append(Token(EOF, "", n))
    return toks
