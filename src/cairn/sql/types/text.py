"""Text-like and small scalar types: text, varchar(n), char(n), name, boolean, bytea, uuid.

Strings compare by code point (the "C" collation). char(n) is blank-padded and its trailing
blanks do not count in comparisons; varchar(n) and char(n) reject longer values on input and
assignment unless the excess is blanks, and truncate on an explicit cast (SQL's rule).
bytea's text form is PostgreSQL's hex format (``\\x0102``); the escape format is accepted too.
"""

from __future__ import annotations

import binascii
import re
import uuid as _uuid

from cairn.sql.errors import (
    InvalidParameterValue,
    InvalidTextRepresentation,
    SqlError,
    StringDataRightTruncation,
)


def text_in(text: str) -> str:
    if "\x00" in text:
        raise SqlError('invalid byte sequence for encoding "UTF8": 0x00', sqlstate="22021")
    return text


def check_length(value: str, n: int, typename: str, explicit: bool, pad: bool) -> str:
    """Apply varchar(n)/char(n): truncate (explicit cast) or reject, then blank-pad char(n)."""
    if len(value) > n:
        if not explicit and value[n:].strip(" "):
            raise StringDataRightTruncation(f"value too long for type {typename}({n})")
        value = value[:n]
    if pad and len(value) < n:
        value = value + " " * (n - len(value))
    return value


def bpchar_strip(v: str) -> str:
    """char(n)'s comparison form: trailing blanks are insignificant."""
    return v.rstrip(" ")


# --- boolean ---------------------------------------------------------------------------------


def bool_in(text: str) -> bool:
    """PostgreSQL's parse_bool: any prefix of true/false/yes/no, on/off (2+ letters), 1/0."""
    s = text.strip().lower()
    if s:
        if "true".startswith(s) or "yes".startswith(s) or s == "on" or s == "1":
            return True
        if (
            "false".startswith(s)
            or "no".startswith(s)
            or (len(s) > 1 and "off".startswith(s))
            or s == "0"
        ):
            return False
    raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')


def bool_out(v: bool) -> str:
    return "t" if v else "f"


# --- bytea -----------------------------------------------------------------------------------

_HEXDIGITS = set("0123456789abcdefABCDEF")


def bytea_in(text: str) -> bytes:
    if text.startswith("\\x"):
        s = text[2:]
        out = bytearray()
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c in " \t\n\r":
                i += 1
                continue
            if c not in _HEXDIGITS:
                raise InvalidParameterValue(f'invalid hexadecimal digit: "{c}"')
            if i + 1 >= n:
                raise InvalidParameterValue("invalid hexadecimal data: odd number of digits")
            d = s[i + 1]
            if d not in _HEXDIGITS:
                raise InvalidParameterValue(f'invalid hexadecimal digit: "{d}"')
            out.append(int(c + d, 16))
            i += 2
        return bytes(out)
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif text[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(r"[0-3][0-7][0-7]", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            raise InvalidTextRepresentation("invalid input syntax for type bytea")
    return bytes(out)


def bytea_out(v: bytes) -> str:
    return "\\x" + binascii.hexlify(v).decode()


def bytea_escape_out(v: bytes) -> str:
    """encode(x, 'escape'): printable ASCII as is, backslash doubled, others as \\ooo."""
    out = []
    for b in v:
        if b == 0x5C:
            out.append("\\\\")
        elif b < 0x20 or b > 0x7E:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return "".join(out)


# --- uuid ------------------------------------------------------------------------------------

_UUID_RE = re.compile(
    r"\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?\Z"
)
_UUID_LOOSE = re.compile(r"\{?(?:[0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4}\}?\Z")


def uuid_in(text: str) -> _uuid.UUID:
    s = text.strip()
    if (
        (_UUID_RE.match(s) or _UUID_LOOSE.match(s))
        and (s[0] == "{") == (s[-1] == "}")
        and not s.rstrip("}").endswith("-")
    ):
        return _uuid.UUID(hex=s.strip("{}").replace("-", ""))
    raise InvalidTextRepresentation(f'invalid input syntax for type uuid: "{text}"')


def uuid_out(v: _uuid.UUID) -> str:
    return str(v)
