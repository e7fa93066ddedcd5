"""String operators and functions: ||, LIKE/ILIKE, regular expressions, and PostgreSQL's
common string functions (length, lower, substring, trim, lpad, split_part, format, ...).

Strings are Python str (code points); lengths count characters as PostgreSQL does in UTF8.
LIKE patterns become anchored Python regular expressions (cached); PostgreSQL's POSIX regular
expressions (ARE) are mapped onto Python's ``re``, which agrees on the common syntax.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from cairn.sql.errors import InvalidEscapeSequence, InvalidParameterValue, SqlError
from cairn.sql.functions.registry import ANYNONARRAY, FUNCTIONS, OPERATORS
from cairn.sql.types import sqltype as T
from cairn.sql.types.io import output_function

TEXT, INT4, BOOL = T.TEXT, T.INT4, T.BOOL
F = FUNCTIONS.add


def _concat_any_text(bound):
    lo = output_function(bound[0])
    return lambda a, b, ctx: lo(a, ctx) + b


def _concat_text_any(bound):
    ro = output_function(bound[1])
    return lambda a, b, ctx: a + ro(b, ctx)


OPERATORS.add("||", (TEXT, TEXT), TEXT, lambda a, b, ctx: a + b)
OPERATORS.add("||", (ANYNONARRAY, TEXT), TEXT, factory=_concat_any_text)
OPERATORS.add("||", (TEXT, ANYNONARRAY), TEXT, factory=_concat_text_any)


# --- LIKE ------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def like_regex(pattern: str, escape: str | None = "\\", icase: bool = False) -> re.Pattern:
    """A LIKE pattern as an anchored regex (``%`` any run, ``_`` one character)."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if escape and c == escape:
            if i + 1 >= n:
                raise InvalidEscapeSequence("LIKE pattern must not end with escape character")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.S | (re.I if icase else 0))


def like(s: str, p: str, ctx) -> bool:
    return like_regex(p).fullmatch(s) is not None


def ilike(s: str, p: str, ctx) -> bool:
    return like_regex(p, "\\", True).fullmatch(s) is not None


_NO_ESCAPE = "\x00noescape"


def like_escape(p: str, esc: str, ctx) -> str:
    """``p LIKE x ESCAPE e``: rewrite the pattern to use backslash as its escape."""
    if len(esc) > 1:
        raise InvalidEscapeSequence(
            "invalid escape string", hint="Escape string must be empty or one character."
        )
    out, i = [], 0
    while i < len(p):
        c = p[i]
        if esc and c == esc:
            if i + 1 >= len(p):
                raise InvalidEscapeSequence("LIKE pattern must not end with escape character")
            nxt = p[i + 1]
            out.append("\\" + nxt)
            i += 2
            continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


for _op, _fn in (("~~", like), ("~~*", ilike)):
    OPERATORS.add(_op, (TEXT, TEXT), BOOL, _fn)
OPERATORS.add("!~~", (TEXT, TEXT), BOOL, lambda s, p, ctx: not like(s, p, ctx))
OPERATORS.add("!~~*", (TEXT, TEXT), BOOL, lambda s, p, ctx: not ilike(s, p, ctx))
F("like_escape", (TEXT, TEXT), TEXT, like_escape)
F("like", (TEXT, TEXT), BOOL, like)
F("ilike", (TEXT, TEXT), BOOL, ilike)


# --- regular expressions ---------------------------------------------------------------------


@lru_cache(maxsize=512)
def regex(pattern: str, flags: str = "") -> re.Pattern:
    """PostgreSQL ARE -> Python re: the common syntax agrees; a few class escapes differ."""
    f = 0
    for ch in flags:
        if ch == "i":
            f |= re.I
        elif ch in "nmp":
            f |= re.M
        elif ch == "s":
            f |= re.S
        elif ch == "x":
            f |= re.X
        elif ch in "gc":
            pass
        else:
            raise InvalidParameterValue(f'invalid regular expression option: "{ch}"')
    p = (
        pattern.replace("[[:alpha:]]", "[^\\W\\d_]")
        .replace("[[:digit:]]", "\\d")
        .replace("[[:alnum:]]", "[^\\W_]")
        .replace("[[:space:]]", "\\s")
        .replace("[[:upper:]]", "[A-Z]")
        .replace("[[:lower:]]", "[a-z]")
        .replace("\\m", "\\b")
        .replace("\\M", "\\b")
        .replace("\\y", "\\b")
    )
    try:
        return re.compile(p, f)
    except re.error as e:
        raise SqlError(f"invalid regular expression: {e}", sqlstate="2201B") from None


OPERATORS.add("~", (TEXT, TEXT), BOOL, lambda s, p, ctx: regex(p).search(s) is not None)
OPERATORS.add("~*", (TEXT, TEXT), BOOL, lambda s, p, ctx: regex(p, "i").search(s) is not None)
OPERATORS.add("!~", (TEXT, TEXT), BOOL, lambda s, p, ctx: regex(p).search(s) is None)
OPERATORS.add("!~*", (TEXT, TEXT), BOOL, lambda s, p, ctx: regex(p, "i").search(s) is None)


def similar_to_escape(pat: str, esc: str | None = "\\", ctx=None) -> str:
    """SQL's SIMILAR TO pattern as the POSIX regex PostgreSQL matches it against (anchored):
    ``%`` and ``_`` are wildcards, ``| * + ? {m,n} ( ) [ ]`` are regex syntax, the rest is
    literal; ``esc`` quotes the next character."""
    if esc is not None and len(esc) > 1:
        raise InvalidEscapeSequence(
            "invalid escape string", hint="Escape string must be empty or one character."
        )
    out = ["^(?:"]
    i, n, in_class = 0, len(pat), False
    while i < n:
        c = pat[i]
        if esc and c == esc:
            if i + 1 >= n:
                raise InvalidEscapeSequence("invalid escape string")
            out.append(re.escape(pat[i + 1]))
            i += 2
            continue
        if in_class:
            out.append(c)
            in_class = c != "]"
        elif c == "[":
            out.append(c)
            in_class = True
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c in "|*+?{}()0123456789,":
            out.append(c)
        else:
            out.append(re.escape(c))
        i += 1
    out.append(")$")
    return "".join(out)


F("similar_to_escape", (TEXT,), TEXT, lambda p, ctx: similar_to_escape(p))
F("similar_to_escape", (TEXT, TEXT), TEXT, similar_to_escape)
F("similar_escape", (TEXT, TEXT), TEXT, similar_to_escape, strict=False)


def _pg_replacement(rep: str) -> str:
    """PostgreSQL's \\1..\\9 and \\& in a replacement -> Python's \\g<n>."""
    out, i = [], 0
    while i < len(rep):
        c = rep[i]
        if c == "\\" and i + 1 < len(rep):
            d = rep[i + 1]
            if d.isdigit():
                out.append(f"\\g<{d}>")
            elif d == "&":
                out.append("\\g<0>")
            else:
                out.append(d.replace("\\", "\\\\"))
            i += 2
            continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


def regexp_replace(s: str, p: str, rep: str, flags: str = "", ctx=None) -> str:
    rx = regex(p, flags)
    template = _pg_replacement(rep)
    if "g" not in flags:
        return rx.sub(template, s, count=1)
    # PostgreSQL's scan: after an empty match the next character is copied and skipped
    # (Python's re.sub would also try a non-empty match at the same position)
    out, pos, n = [], 0, len(s)
    while pos <= n:
        m = rx.search(s, pos)
        if m is None:
            break
        out.append(s[pos : m.start()])
        out.append(m.expand(template))
        if m.end() == m.start():
            if m.start() < n:
                out.append(s[m.start()])
            pos = m.start() + 1
        else:
            pos = m.end()
    out.append(s[pos:])
    return "".join(out)


def _groups(m: re.Match) -> list[str | None]:
    return list(m.groups()) if m.re.groups else [m.group(0)]


def regexp_match(s: str, p: str, flags: str = "", ctx=None) -> list | None:
    if "g" in flags:
        raise InvalidParameterValue(
            'regexp_match() does not support the "global" option',
            hint="Use the regexp_matches function instead.",
        )
    m = regex(p, flags).search(s)
    return None if m is None else _groups(m)


def regexp_matches(s: str, p: str, flags: str = "", ctx=None) -> list:
    r = regex(p, flags)
    if "g" in flags:
        return [_groups(m) for m in r.finditer(s)]
    m = r.search(s)
    return [] if m is None else [_groups(m)]


F("regexp_replace", (TEXT, TEXT, TEXT), TEXT, lambda s, p, r, ctx: regexp_replace(s, p, r, "", ctx))
F("regexp_replace", (TEXT, TEXT, TEXT, TEXT), TEXT, regexp_replace)
F("regexp_match", (TEXT, TEXT), T.TEXT_ARRAY, lambda s, p, ctx: regexp_match(s, p, "", ctx))
F("regexp_match", (TEXT, TEXT, TEXT), T.TEXT_ARRAY, regexp_match)
F(
    "regexp_matches",
    (TEXT, TEXT),
    T.TEXT_ARRAY,
    lambda s, p, ctx: regexp_matches(s, p, "", ctx),
    retset=True,
)
F("regexp_matches", (TEXT, TEXT, TEXT), T.TEXT_ARRAY, regexp_matches, retset=True)
F("textregexeq", (TEXT, TEXT), BOOL, lambda s, p, ctx: regex(p).search(s) is not None)


# --- functions -------------------------------------------------------------------------------


def substring(s: str, start: int, count: int | None = None, ctx=None) -> str:
    """SQL substring: 1-based ``start``, may be before the string; negative length errors."""
    if count is not None and count < 0:
        raise SqlError("negative substring length not allowed", sqlstate="22011")
    begin = start - 1
    end = None if count is None else begin + count
    begin = max(begin, 0)
    if end is not None and end <= begin:
        return ""
    return s[begin:end]


def substring_regex(s: str, p: str, ctx=None) -> str | None:
    m = regex(p).search(s)
    if m is None:
        return None
    return m.group(1) if m.re.groups else m.group(0)


def _trim(chars: str, left: bool, right: bool):
    def f(s: str, c: str = " ", ctx=None) -> str:
        if left:
            s = s.lstrip(c)
        if right:
            s = s.rstrip(c)
        return s

    return f


def lpad(s: str, n: int, fill: str = " ", ctx=None) -> str:
    if n <= 0:
        return ""
    if len(s) >= n or not fill:
        return s[:n]
    need = n - len(s)
    return (fill * (need // len(fill) + 1))[:need] + s


def rpad(s: str, n: int, fill: str = " ", ctx=None) -> str:
    if n <= 0:
        return ""
    if len(s) >= n or not fill:
        return s[:n]
    need = n - len(s)
    return s + (fill * (need // len(fill) + 1))[:need]


def split_part(s: str, delim: str, n: int, ctx=None) -> str:
    if n == 0:
        raise InvalidParameterValue("field position must not be zero")
    parts = s.split(delim) if delim else [s]
    if s == "":
        return ""
    if n < 0:
        n = len(parts) + n + 1
        if n <= 0:
            return ""
    return parts[n - 1] if n <= len(parts) else ""


def _per_char(s: str, fn) -> str:
    """Case mapping one character to one (PostgreSQL's towupper/towlower per character)."""
    out = []
    for c in s:
        m = fn(c)
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def initcap(s: str, ctx=None) -> str:
    out, prev_alnum = [], False
    for c in s:
        m = c.lower() if prev_alnum else c.upper()
        out.append(m if len(m) == 1 else c)
        prev_alnum = c.isalnum()
    return "".join(out)


def left(s: str, n: int, ctx=None) -> str:
    return s[:n] if n >= 0 else s[: max(len(s) + n, 0)]


def right(s: str, n: int, ctx=None) -> str:
    if n >= 0:
        return s[len(s) - n :] if n else ""
    return s[-n:]


def quote_ident(s: str, ctx=None) -> str:
    from cairn.sql.functions.keywords import is_reserved

    if re.fullmatch(r"[a-z_][a-z0-9_$]*", s) and not is_reserved(s):
        return s
    return '"' + s.replace('"', '""') + '"'


def quote_literal(s: str, ctx=None) -> str:
    body = s.replace("'", "''")
    if "\\" in s:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def chr_(n: int, ctx=None) -> str:
    if n == 0:
        raise SqlError("null character not permitted", sqlstate="54000")
    if n < 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        raise SqlError(
            f"requested character too large for encoding: {n}"
            if n > 0
            else f"requested character not valid for encoding: {n}",
            sqlstate="54000",
        )
    return chr(n)


def repeat(s: str, n: int, ctx=None) -> str:
    return s * max(n, 0)


def strpos(s: str, sub: str, ctx=None) -> int:
    return s.find(sub) + 1


def translate(s: str, frm: str, to: str, ctx=None) -> str:
    table: dict[int, Any] = {}
    for i, c in enumerate(frm):
        if ord(c) not in table:
            table[ord(c)] = to[i] if i < len(to) else None
    return s.translate(table)


def ascii_(s: str, ctx=None) -> int:
    return ord(s[0]) if s else 0


def overlay(s: str, rep: str, start: int, count: int | None = None, ctx=None) -> str:
    if count is None:
        count = len(rep)
    return substring(s, 1, start - 1) + rep + substring(s, start + count)


S = ((TEXT,), TEXT)
for name, fn in (
    ("lower", lambda s, ctx: s.lower() if s.isascii() else _per_char(s, str.lower)),
    ("upper", lambda s, ctx: s.upper() if s.isascii() else _per_char(s, str.upper)),
    ("initcap", initcap),
    ("reverse", lambda s, ctx: s[::-1]),
    ("md5", lambda s, ctx: hashlib.md5(s.encode()).hexdigest()),
    ("quote_ident", quote_ident),
    ("quote_literal", quote_literal),
    ("btrim", _trim(" ", True, True)),
    ("ltrim", _trim(" ", True, False)),
    ("rtrim", _trim(" ", False, True)),
):
    F(name, *S, fn if not name.endswith("trim") else (lambda s, ctx, f=fn: f(s, " ")))
for name, fn in (
    ("btrim", _trim(" ", True, True)),
    ("ltrim", _trim(" ", True, False)),
    ("rtrim", _trim(" ", False, True)),
):
    F(name, (TEXT, TEXT), TEXT, fn)
for name in ("length", "char_length", "character_length"):
    F(name, (TEXT,), INT4, lambda s, ctx: len(s))
F("length", (T.BPCHAR,), INT4, lambda s, ctx: len(s.rstrip(" ")))
F("octet_length", (TEXT,), INT4, lambda s, ctx: len(s.encode()))
F("bit_length", (TEXT,), INT4, lambda s, ctx: 8 * len(s.encode()))
F("substring", (TEXT, INT4), TEXT, lambda s, a, ctx: substring(s, a))
F("substring", (TEXT, INT4, INT4), TEXT, substring)
F("substring", (TEXT, TEXT), TEXT, substring_regex)
F("substr", (TEXT, INT4), TEXT, lambda s, a, ctx: substring(s, a))
F("substr", (TEXT, INT4, INT4), TEXT, substring)
F("position", (TEXT, TEXT), INT4, lambda sub, s, ctx: s.find(sub) + 1)
F("strpos", (TEXT, TEXT), INT4, strpos)
F("lpad", (TEXT, INT4), TEXT, lambda s, n, ctx: lpad(s, n))
F("lpad", (TEXT, INT4, TEXT), TEXT, lpad)
F("rpad", (TEXT, INT4), TEXT, lambda s, n, ctx: rpad(s, n))
F("rpad", (TEXT, INT4, TEXT), TEXT, rpad)
F("replace", (TEXT, TEXT, TEXT), TEXT, lambda s, a, b, ctx: s.replace(a, b) if a else s)
F("split_part", (TEXT, TEXT, INT4), TEXT, split_part)
F("left", (TEXT, INT4), TEXT, left)
F("right", (TEXT, INT4), TEXT, right)
F("repeat", (TEXT, INT4), TEXT, repeat)
F("starts_with", (TEXT, TEXT), BOOL, lambda s, p, ctx: s.startswith(p))
F("ascii", (TEXT,), INT4, ascii_)
F("chr", (INT4,), TEXT, chr_)
F("translate", (TEXT, TEXT, TEXT), TEXT, translate)
F("overlay", (TEXT, TEXT, INT4), TEXT, overlay)
F("overlay", (TEXT, TEXT, INT4, INT4), TEXT, overlay)
OPERATORS.add("||", (T.BYTEA, T.BYTEA), T.BYTEA, lambda a, b, ctx: a + b)
F("sha256", (T.BYTEA,), T.BYTEA, lambda b, ctx: hashlib.sha256(b).digest())
F("md5", (T.BYTEA,), TEXT, lambda b, ctx: hashlib.md5(b).hexdigest())
F("length", (T.BYTEA,), INT4, lambda b, ctx: len(b))
F("octet_length", (T.BYTEA,), INT4, lambda b, ctx: len(b))
