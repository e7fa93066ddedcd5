"""COPY ... FROM STDIN / TO STDOUT in PostgreSQL's text and CSV formats.

Text format: one line per row, columns separated by a tab (DELIMITER), NULL as ``\\N``, and
backslash escapes for the delimiter, newline, carriage return, tab and backslash. CSV format:
fields separated by commas, quoted with ``"`` when they hold a delimiter, quote, newline or
would read as NULL, an empty unquoted field is NULL, and an optional HEADER line. Values go
through the column types' text input and output, so a COPY round trip is exact. Rows are
inserted through the same path as INSERT (defaults, constraints, row security).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cairn.sql.errors import SqlError

_TEXT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


@dataclass
class CopyOptions:
    format: str = "text"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'

    @classmethod
    def from_statement(cls, opts: dict[str, Any]) -> CopyOptions:
        fmt = str(opts.get("format", "text")).lower()
        if fmt not in ("text", "csv"):
            raise SqlError(f'COPY format "{fmt}" not recognized' if fmt != "binary" else
                           "COPY BINARY is not supported", sqlstate="22023" if fmt != "binary"
                           else "0A000")
        o = cls(format=fmt)
        if fmt == "csv":
            o.delimiter, o.null = ",", ""
        if "delimiter" in opts:
            o.delimiter = str(opts["delimiter"])
            if len(o.delimiter) != 1:
                raise SqlError("COPY delimiter must be a single one-byte character",
                               sqlstate="0A000")
        if "null" in opts:
            o.null = str(opts["null"])
        if "header" in opts:
            h = opts["header"]
            o.header = h is True or str(h).lower() in ("true", "on", "1")
            if o.header and fmt != "csv":
                raise SqlError("cannot specify HEADER in TEXT mode", sqlstate="0A000")
        if "quote" in opts:
            o.quote = str(opts["quote"])
        return o


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field
    out: list[str] = []
    i, n = 0, len(field)
    while i < n:
        c = field[i]
        if c == "\\" and i + 1 < n:
            d = field[i + 1]
            if d in _TEXT_ESCAPES:
                out.append(_TEXT_ESCAPES[d])
                i += 2
                continue
            if d in "01234567":
                j = i + 1
                while j < n and j < i + 4 and field[j] in "01234567":
                    j += 1
                out.append(chr(int(field[i + 1:j], 8)))
                i = j
                continue
            out.append(d)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _escape(value: str, delimiter: str) -> str:
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    out = out.replace("\t", "\\t")
    if delimiter not in "\t":
        out = out.replace(delimiter, "\\" + delimiter)
    return out


def parse_rows(data: str | Iterable[str], o: CopyOptions, names: list[str]
               ) -> list[list[str | None]]:
    """The fields of each data row (None for NULL), PostgreSQL's rules for the format."""
    text = data if isinstance(data, str) else "".join(data)
    rows: list[list[str | None]] = []
    if o.format == "csv":
        reader = csv.reader(io.StringIO(text), delimiter=o.delimiter, quotechar=o.quote,
                            strict=True)
        # csv drops the quoting: find NULLs by re-reading each field's raw form is not
        # possible, so an unquoted empty field is NULL only when NULL is the empty string
        raw_lines = _csv_raw_fields(text, o)
        for k, fields in enumerate(reader):
            if k == 0 and o.header:
                continue
            out: list[str | None] = []
            quoted = raw_lines[k] if k < len(raw_lines) else []
            for j, f in enumerate(fields):
                was_quoted = quoted[j] if j < len(quoted) else False
                out.append(None if (f == o.null and not was_quoted) else f)
            rows.append(out)
    else:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            if line == "\\.":
                break
            if line.endswith("\r"):
                line = line[:-1]
            out = []
            for f in _split_text(line, o.delimiter):
                out.append(None if f == o.null else _unescape(f))
            rows.append(out)
    width = len(names)
    for k, r in enumerate(rows, 1):
        if len(r) != width:
            what = "extra data after last expected column" if len(r) > width else \
                f'missing data for column "{names[len(r)]}"'
            raise SqlError(what, sqlstate="22P04",
                           detail=f"COPY line {k + (1 if o.header else 0)}")
    return rows


def _split_text(line: str, delim: str) -> list[str]:
    """Split on the delimiter, but not on an escaped one (``\\`` before it)."""
    out, cur, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur.append(line[i:i + 2])
            i += 2
            continue
        if c == delim:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _csv_raw_fields(text: str, o: CopyOptions) -> list[list[bool]]:
    """For each CSV record, whether each field was quoted (a quoted empty string is not
    NULL)."""
    out: list[list[bool]] = []
    rec: list[bool] = []
    at_start, in_quotes, quoted = True, False, False
    i = 0
    while i < len(text):
        c = text[i]
        if in_quotes:
            if c == o.quote:
                if i + 1 < len(text) and text[i + 1] == o.quote:
                    i += 2
                    continue
                in_quotes = False
            i += 1
            continue
        if at_start and c == o.quote:
            in_quotes = quoted = True
            at_start = False
        elif c == o.delimiter:
            rec.append(quoted)
            quoted, at_start = False, True
        elif c == "\n":
            rec.append(quoted)
            out.append(rec)
            rec, quoted, at_start = [], False, True
        elif c != "\r":
            at_start = False
        i += 1
    if not at_start or rec:
        rec.append(quoted)
        out.append(rec)
    return out


def format_rows(rows: list[list[str | None]], names: list[str], o: CopyOptions) -> str:
    out = io.StringIO()
    if o.format == "csv":
        if o.header:
            out.write(o.delimiter.join(_csv_field(n, o) for n in names) + "\n")
        for r in rows:
            out.write(o.delimiter.join(o.null if v is None else _csv_field(v, o) for v in r))
            out.write("\n")
        return out.getvalue()
    for r in rows:
        out.write(o.delimiter.join(o.null if v is None else _escape(v, o.delimiter)
                                   for v in r))
        out.write("\n")
    return out.getvalue()


def _csv_field(v: str, o: CopyOptions) -> str:
    """A non-NULL value, quoted when it holds the delimiter, a quote or a line break, or
    would read back as NULL."""
    if v == o.null or any(c in v for c in (o.delimiter, o.quote, "\n", "\r")):
        return o.quote + v.replace(o.quote, o.quote * 2) + o.quote
    return v
