"""to_char, to_number, to_timestamp(text, text) and to_date: PostgreSQL's template patterns.

Date/time patterns: HH HH12 HH24 MI SS MS US FF1..FF6 SSSS AM PM A.M. P.M. (and lower case)
YYYY YYY YY Y Y,YYY IYYY BC AD MONTH Month month MON Mon mon MM DAY Day day DY Dy dy DDD IDDD
DD D ID W WW IW CC J Q RM rm TZ tz TZH TZM OF, with the FM prefix (no padding), the TH/th
suffix (ordinal), "quoted text" and backslash escapes. Numeric patterns: 9 0 . D , G S MI PL SG
FM EEEE and V (the common ones; L and RN are not implemented).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cairn.sql.errors import DatetimeFieldOverflow, InvalidDatetimeFormat, SqlError
from cairn.sql.functions.registry import FUNCTIONS
from cairn.sql.types import datetimes as DT
from cairn.sql.types import numbers as N
from cairn.sql.types import sqltype as T
from cairn.sql.types.interval import USECS_PER_HOUR, Interval

F = FUNCTIONS.add
TEXT = T.TEXT
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
_KEYWORDS = sorted(
    [
        "HH24",
        "HH12",
        "HH",
        "MI",
        "SSSSS",
        "SSSS",
        "SS",
        "MS",
        "US",
        "FF1",
        "FF2",
        "FF3",
        "FF4",
        "FF5",
        "FF6",
        "A.M.",
        "a.m.",
        "P.M.",
        "p.m.",
        "AM",
        "am",
        "PM",
        "pm",
        "Y,YYY",
        "YYYY",
        "yyyy",
        "YYY",
        "yyy",
        "YY",
        "yy",
        "Y",
        "y",
        "IYYY",
        "IYY",
        "IY",
        "I",
        "B.C.",
        "b.c.",
        "A.D.",
        "a.d.",
        "BC",
        "bc",
        "AD",
        "ad",
        "MONTH",
        "Month",
        "month",
        "MON",
        "Mon",
        "mon",
        "MM",
        "DAY",
        "Day",
        "day",
        "DY",
        "Dy",
        "dy",
        "DDD",
        "IDDD",
        "DD",
        "D",
        "ID",
        "W",
        "WW",
        "IW",
        "CC",
        "J",
        "Q",
        "RM",
        "rm",
        "TZH",
        "TZM",
        "TZ",
        "tz",
        "OF",
        "hh24",
        "hh12",
        "hh",
        "mi",
        "ss",
        "ms",
        "us",
        "mm",
        "dd",
        "ddd",
        "d",
        "ww",
        "iw",
        "cc",
        "j",
        "q",
    ],
    key=len,
    reverse=True,
)


def _ordinal(n: int, upper: bool) -> str:
    if 10 <= n % 100 <= 20:
        s = "th"
    else:
        s = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return s.upper() if upper else s


def _tokens(fmt: str):
    """(kind, text, fm, th) tokens of a template: kind "kw" or "lit"."""
    i, n = 0, len(fmt)
    while i < n:
        fm = False
        if fmt.startswith(("FM", "fm"), i):
            fm = True
            i += 2
        if i < n and fmt[i] == '"':
            j = i + 1
            buf = []
            while j < n and fmt[j] != '"':
                if fmt[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(fmt[j])
                j += 1
            yield "lit", "".join(buf), False, ""
            i = j + 1
            continue
        if i < n and fmt[i] == "\\" and i + 1 < n:
            yield "lit", fmt[i + 1], False, ""
            i += 2
            continue
        for kw in _KEYWORDS:
            if fmt.startswith(kw, i):
                i += len(kw)
                th = ""
                if fmt.startswith(("TH", "th"), i):
                    th = fmt[i : i + 2]
                    i += 2
                yield "kw", kw, fm, th
                break
        else:
            if i < n:
                yield "lit", fmt[i], False, ""
                i += 1


def _num(v: int, width: int, fm: bool, th: str) -> str:
    s = str(v) if fm else (f"{v:0{width}d}" if v >= 0 else "-" + f"{-v:0{width}d}")
    if th:
        s += _ordinal(abs(v), th == "TH")
    return s


def _case(word: str, kw: str, fm: bool, width: int = 9) -> str:
    if kw.isupper() and len(kw) > 1 and not kw[1:].islower():
        word = word.upper()
    elif kw.islower():
        word = word.lower()
    return word if fm else word.ljust(width)


def format_datetime(v: datetime, fmt: str, tzoff: int | None, tzname: str | None) -> str:
    out = []
    iso_y, iso_w, iso_d = v.isocalendar()
    for kind, kw, fm, th in _tokens(fmt):
        if kind == "lit":
            out.append(kw)
            continue
        k = kw.upper()
        h12 = v.hour % 12 or 12
        if k in ("HH", "HH12"):
            out.append(_num(h12, 2, fm, th))
        elif k == "HH24":
            out.append(_num(v.hour, 2, fm, th))
        elif k == "MI":
            out.append(_num(v.minute, 2, fm, th))
        elif k == "SS":
            out.append(_num(v.second, 2, fm, th))
        elif k in ("SSSS", "SSSSS"):
            out.append(_num(v.hour * 3600 + v.minute * 60 + v.second, 0, True, th))
        elif k == "MS":
            out.append(_num(v.microsecond // 1000, 3, fm, th))
        elif k == "US":
            out.append(_num(v.microsecond, 6, fm, th))
        elif k.startswith("FF"):
            d = int(k[2])
            out.append(f"{v.microsecond:06d}"[:d])
        elif k in ("AM", "PM", "A.M.", "P.M."):
            pm = v.hour >= 12
            word = ("P" if pm else "A") + ("M" if "." not in k else ".M.")
            out.append(word if kw[0].isupper() else word.lower())
        elif k == "Y,YYY":
            out.append(f"{v.year // 1000},{v.year % 1000:03d}")
        elif k == "YYYY":
            out.append(_num(v.year, 4, fm, th))
        elif k == "YYY":
            out.append(_num(v.year % 1000, 3, fm, th))
        elif k == "YY":
            out.append(_num(v.year % 100, 2, fm, th))
        elif k == "Y":
            out.append(_num(v.year % 10, 1, fm, th))
        elif k == "IYYY":
            out.append(_num(iso_y, 4, fm, th))
        elif k == "IYY":
            out.append(_num(iso_y % 1000, 3, fm, th))
        elif k == "IY":
            out.append(_num(iso_y % 100, 2, fm, th))
        elif k == "I":
            out.append(_num(iso_y % 10, 1, fm, th))
        elif k in ("BC", "AD", "B.C.", "A.D."):
            word = "A.D." if "." in k else "AD"
            out.append(word if kw[0].isupper() else word.lower())
        elif k == "MONTH":
            out.append(_case(_MONTHS[v.month - 1], kw, fm))
        elif k == "MON":
            out.append(_case(_MONTHS[v.month - 1][:3], kw, True))
        elif k == "MM":
            out.append(_num(v.month, 2, fm, th))
        elif k == "DAY":
            out.append(_case(_DAYS[(v.weekday() + 1) % 7], kw, fm))
        elif k == "DY":
            out.append(_case(_DAYS[(v.weekday() + 1) % 7][:3], kw, True))
        elif k == "DDD":
            out.append(_num(v.timetuple().tm_yday, 3, fm, th))
        elif k == "IDDD":
            out.append(_num((iso_w - 1) * 7 + iso_d, 3, fm, th))
        elif k == "DD":
            out.append(_num(v.day, 2, fm, th))
        elif k == "D":
            out.append(_num((v.weekday() + 1) % 7 + 1, 1, fm, th))
        elif k == "ID":
            out.append(_num(iso_d, 1, fm, th))
        elif k == "W":
            out.append(_num((v.day - 1) // 7 + 1, 1, fm, th))
        elif k == "WW":
            out.append(_num((v.timetuple().tm_yday - 1) // 7 + 1, 2, fm, th))
        elif k == "IW":
            out.append(_num(iso_w, 2, fm, th))
        elif k == "CC":
            out.append(_num((v.year + 99) // 100, 2, fm, th))
        elif k == "J":
            out.append(_num(v.toordinal() + 1721425, 0, True, th))
        elif k == "Q":
            out.append(_num((v.month - 1) // 3 + 1, 1, fm, th))
        elif k == "RM":
            r = _ROMAN[v.month - 1]
            r = r if kw == "RM" else r.lower()
            out.append(r if fm else r.ljust(4))
        elif k == "TZ":
            z = tzname or ""
            out.append(z if kw == "TZ" else z.lower())
        elif k in ("TZH", "TZM", "OF"):
            off = tzoff or 0
            sign = "-" if off < 0 else "+"
            hh, mm = divmod(abs(off) // 60, 60)
            if k == "TZH":
                out.append(f"{sign}{hh:02d}")
            elif k == "TZM":
                out.append(f"{mm:02d}")
            else:
                out.append(f"{sign}{hh:02d}" + (f":{mm:02d}" if mm else ""))
    return "".join(out)


def to_char_ts(v: Any, fmt: str, ctx=None) -> str | None:
    if isinstance(v, float):
        return None
    return format_datetime(v, fmt, None, None)


def to_char_tstz(v: Any, fmt: str, ctx=None) -> str | None:
    if isinstance(v, float):
        return None
    zone = ctx.tzinfo if ctx is not None else UTC
    local = v.astimezone(zone)
    off = int(local.utcoffset().total_seconds())
    name = local.tzname() or ""
    if name and (name[0] in "+-"):
        name = DT.offset_text(off)
    return format_datetime(local.replace(tzinfo=None), fmt, off, name)


def to_char_interval(v: Interval, fmt: str, ctx=None) -> str:
    us = v.micros
    sign = -1 if us < 0 else 1
    a = abs(us)
    hours = a // USECS_PER_HOUR
    rest = a - hours * USECS_PER_HOUR
    base = datetime(1, 1, 1) + timedelta(microseconds=rest)
    out = format_datetime(base, fmt, 0, "")
    # hours, days, months and years of an interval are not clock fields: redo them plainly
    years = int(v.months / 12)
    months = v.months - years * 12
    repl = {
        "HH24": hours * sign,
        "HH": (hours % 12 or 12) * sign,
        "DD": v.days,
        "MM": months,
        "YYYY": years,
    }
    res = []
    for kind, kw, fm, th in _tokens(fmt):
        if kind == "kw" and kw.upper() in repl:
            val = repl[kw.upper()]
            res.append(_num(val, 2 if kw.upper() != "YYYY" else 4, fm, th))
        else:
            res.append(
                format_datetime(base, ("FM" if fm else "") + kw + th, 0, "") if kind == "kw" else kw
            )
    return "".join(res) if res else out


# --- numbers ---------------------------------------------------------------------------------


_SG, _PL, _MI, _S = "\x01", "\x02", "\x03", "\x04"


def to_char_number(v: Any, fmt: str, ctx=None) -> str:
    """PostgreSQL's numeric to_char for the patterns 9 0 . D , G S MI PL SG FM EEEE V."""
    if isinstance(v, float):
        if v != v:
            d = Decimal("NaN")
        elif math.isinf(v):
            d = Decimal("Infinity") if v > 0 else Decimal("-Infinity")
        else:
            d = Decimal(repr(v))
    else:
        d = Decimal(v)
    fm = "FM" in fmt.upper()
    f = re.sub(r"(?i)fm", "", fmt)
    # sign patterns become single placeholder characters before the layout
    for rx, ph in ((r"(?i)SG", _SG), (r"(?i)PL", _PL), (r"(?i)MI", _MI), (r"(?i)S", _S)):
        f = re.sub(rx, ph, f)
    if "EEEE" in f.upper():
        return _to_char_sci(d, f, fm)
    vpos = f.upper().find("V")
    shift = 0
    if vpos >= 0:
        shift = sum(1 for c in f[vpos + 1 :] if c in "90")
        f = f[:vpos] + f[vpos + 1 :]
        d = d.scaleb(shift)
    has_point = re.search(r"[.Dd]", f) is not None
    if has_point:
        int_part, _, frac_part = re.split(r"([.Dd])", f, maxsplit=1)
    else:
        int_part, frac_part = f, ""
    nfrac = sum(1 for c in frac_part if c in "90")
    nint = sum(1 for c in int_part if c in "90")
    if d.is_nan():
        return "NaN" if fm else " NaN"
    if not d.is_finite():
        width = nint + (1 + nfrac if has_point else 0)
        return " " + "#" * width if not fm else "#" * width
    neg = d < 0
    r = d.copy_abs().quantize(Decimal(1).scaleb(-nfrac), rounding=ROUND_HALF_UP, context=N.DEC)
    digits = format(r, "f")
    ip, _, fp = digits.partition(".")
    fp = fp.ljust(nfrac, "0")
    if ip == "0" and (has_point or nfrac):
        ip = ""  # 0.5 with 9.99 prints " .50"; a plain zero still prints its digit
    if len(ip) > nint:
        ip_out = "#" * nint
        fp = "#" * nfrac
        overflow = True
    else:
        overflow = False
        ip_out = ip
    # lay out the integer part right to left over the pattern
    chars = []
    di = len(ip_out) - 1
    first_zero = next((k for k, c in enumerate(int_part) if c == "0"), None)
    for k in range(len(int_part) - 1, -1, -1):
        c = int_part[k]
        if c in "90":
            if di >= 0:
                chars.append(ip_out[di])
                di -= 1
            elif c == "0" or (first_zero is not None and k >= first_zero):
                chars.append("0")
            else:
                chars.append(" ")
        elif c in ",G":
            chars.append(
                ","
                if (
                    di >= 0
                    or any(x == "0" for x in int_part[:k])
                    or (first_zero is not None and k > first_zero)
                )
                else " "
            )
        else:
            chars.append(c)
    body = "".join(reversed(chars))
    explicit_sign = any(ch in f for ch in (_SG, _MI, _S))
    if _S in int_part:  # S: the sign goes right before the first digit
        bare = body.replace(_S, "")
        stripped = bare.lstrip(" ")
        pad = len(bare) - len(stripped)
        body = " " * max(pad, 0) + ("-" if neg else "+") + stripped
    elif not explicit_sign:  # the default sign slot before the digits (kept with PL)
        stripped = body.lstrip(" ")
        pad = len(body) - len(stripped)
        if fm:
            body = ("-" if neg else "") + stripped
        else:
            body = " " * pad + ("-" if neg else " ") + stripped
    if has_point:
        point = "."
        frac_chars = []
        fi = 0
        for c in frac_part:
            if c in "90":
                frac_chars.append(fp[fi] if fi < len(fp) else "0")
                fi += 1
            else:
                frac_chars.append(c)
        frac_txt = "".join(frac_chars)
        if fm:
            # FM drops trailing zeros matched by 9 (not by 0)
            last0 = max((k for k, c in enumerate(frac_part) if c == "0"), default=-1)
            keep = len(frac_txt)
            while keep - 1 > last0 and keep > 0 and frac_txt[keep - 1] == "0":
                keep -= 1
            frac_txt = frac_txt[:keep]
        body = body + point + frac_txt
    body = (
        body.replace(_SG, "-" if neg else "+")
        .replace(_MI, "-" if neg else " ")
        .replace(_PL, " " if neg else "+")
        .replace(_S, "-" if neg else "+")
    )
    if fm:
        body = body.strip(" ") if not overflow else body
    return body


def _to_char_sci(d: Decimal, f: str, fm: bool) -> str:
    pre = f.upper().partition("EEEE")[0]
    nfrac = sum(1 for c in pre.split(".")[1] if c in "90") if "." in pre else 0
    if not d.is_finite():
        return " " + "#" * (len(pre) + 4)
    s = f"{abs(d):.{nfrac}e}"
    mant, e = s.split("e")
    exp = int(e)
    out = ("-" if d < 0 else " ") + mant + "e" + ("-" if exp < 0 else "+") + f"{abs(exp):02d}"
    return out.strip() if fm else out


def to_number(s: str, fmt: str, ctx=None) -> Decimal:
    """to_number: keep the digits, sign and decimal point the template positions allow."""
    neg = "-" in s or ("(" in s and ")" in s)
    has_point = re.search(r"[.Dd]", fmt) is not None
    nfrac = 0
    if has_point:
        nfrac = sum(1 for c in re.split(r"[.Dd]", fmt, maxsplit=1)[1] if c in "90")
    cleaned = []
    seen_point = False
    for c in s:
        if c.isdigit():
            cleaned.append(c)
        elif c == "." and has_point and not seen_point:
            cleaned.append(".")
            seen_point = True
    txt = "".join(cleaned)
    if not txt or txt == ".":
        raise SqlError(f'invalid input syntax for type numeric: "{s}"', sqlstate="22P02")
    d = Decimal(txt)
    if has_point:
        d = d.quantize(Decimal(1).scaleb(-nfrac), rounding=ROUND_HALF_UP, context=N.DEC)
    return d.copy_negate() if neg else d


# --- parsing: to_timestamp(text, text), to_date ---------------------------------------------

_PARSE_WIDTH = {
    "YYYY": 4,
    "YYY": 3,
    "YY": 2,
    "Y": 1,
    "MM": 2,
    "DD": 2,
    "HH24": 2,
    "HH12": 2,
    "HH": 2,
    "MI": 2,
    "SS": 2,
    "MS": 3,
    "US": 6,
    "DDD": 3,
    "J": 7,
    "IYYY": 4,
    "IW": 2,
    "ID": 1,
    "Q": 1,
    "CC": 2,
    "WW": 2,
    "D": 1,
    "W": 1,
    "SSSS": 5,
    "SSSSS": 5,
    "FF1": 1,
    "FF2": 2,
    "FF3": 3,
    "FF4": 4,
    "FF5": 5,
    "FF6": 6,
}


def parse_datetime(s: str, fmt: str) -> tuple[datetime, int | None]:
    """A timestamp from text by template, as PostgreSQL's to_timestamp (lenient spacing)."""
    f: dict[str, Any] = {}
    i, n = 0, len(s)
    for kind, kw, _fm, th in _tokens(fmt):
        if kind == "lit":
            if kw.isspace():
                while i < n and s[i].isspace():
                    i += 1
            elif i < n and not s[i].isalnum():
                i += 1
            continue
        while i < n and s[i].isspace():
            i += 1
        k = kw.upper()
        if k in ("MONTH", "MON"):
            m = re.match(r"[A-Za-z]+", s[i:])
            word = m.group(0).lower() if m else ""
            for idx, name in enumerate(_MONTHS):
                if (k == "MON" and word[:3] == name[:3].lower()) or word == name.lower():
                    f["MM"] = idx + 1
                    i += 3 if k == "MON" else len(word)
                    break
            else:
                raise InvalidDatetimeFormat(
                    f'invalid value "{s[i : i + 3]}" for "{kw}"',
                    detail="The given value did not match any of the "
                    "allowed values for this field.",
                )
            continue
        if k in ("DAY", "DY"):
            m = re.match(r"[A-Za-z]+", s[i:])
            i += len(m.group(0)) if m else 0
            continue
        if k in ("AM", "PM", "A.M.", "P.M."):
            m = re.match(r"(?i)([ap])\.?m\.?", s[i:])
            if not m:
                raise InvalidDatetimeFormat(f'invalid value "{s[i : i + 2]}" for "{kw}"')
            f["PM"] = m.group(1).lower() == "p"
            i += len(m.group(0))
            continue
        if k in ("TZH", "TZM", "TZ", "OF"):
            m = re.match(r"[+-]?\d{1,2}(?::?\d{2})?", s[i:])
            if m:
                f[k] = m.group(0)
                i += len(m.group(0))
            continue
        if k in ("BC", "AD", "B.C.", "A.D."):
            m = re.match(r"(?i)[ab]\.?[cd]\.?", s[i:])
            if m:
                i += len(m.group(0))
            continue
        width = _PARSE_WIDTH.get(k)
        if width is None:
            continue
        m = re.match(rf"[+-]?\d{{1,{width}}}" if k != "J" else r"\d+", s[i:])
        if m is None:
            raise InvalidDatetimeFormat(
                f'invalid value "{s[i : i + width]}" for "{kw}"', detail="Value must be an integer."
            )
        f[k] = int(m.group(0))
        i += len(m.group(0))
        if th:
            i += 2
    year = f.get("YYYY", f.get("IYYY"))
    if year is None and "YY" in f:
        year = f["YY"] + (2000 if f["YY"] < 70 else 1900)
    if year is None and "YYY" in f:
        year = f["YYY"] + (2000 if f["YYY"] < 100 else 1000)
    if year is None and "CC" in f:
        year = (f["CC"] - 1) * 100 + 1
    year = year or 1
    if "J" in f:
        base = date.fromordinal(f["J"] - 1721425)
        year, month, day = base.year, base.month, base.day
    elif "DDD" in f:
        base = date(year, 1, 1) + timedelta(days=f["DDD"] - 1)
        month, day = base.month, base.day
    else:
        month, day = f.get("MM", 1), f.get("DD", 1)
    hour = f.get("HH24", f.get("HH12", f.get("HH", 0)))
    if "PM" in f:
        if not 1 <= hour <= 12:
            raise DatetimeFieldOverflow(
                f'hour "{hour}" is invalid for the 12-hour clock',
                hint="Use the 24-hour clock, or give an hour between 1 and 12.",
            )
        hour = hour % 12 + (12 if f["PM"] else 0)
    us = f.get("US", 0)
    if "MS" in f:
        us = f["MS"] * 1000
    for k in ("FF1", "FF2", "FF3", "FF4", "FF5", "FF6"):
        if k in f:
            us = f[k] * 10 ** (6 - int(k[2]))
    try:
        v = datetime(year, month, day)
    except ValueError:
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{s}"') from None
    secs = f.get("SSSS", f.get("SSSSS"))
    if secs is not None:
        v += timedelta(seconds=secs)
    else:
        if hour > 24 or f.get("MI", 0) > 59 or f.get("SS", 0) > 60:
            raise DatetimeFieldOverflow(f'date/time field value out of range: "{s}"')
        v += timedelta(hours=hour, minutes=f.get("MI", 0), seconds=f.get("SS", 0))
    v += timedelta(microseconds=us)
    tzoff = None
    if "TZH" in f or "OF" in f or "TZ" in f:
        txt = f.get("OF") or f.get("TZ") or f.get("TZH")
        hh = int(txt.replace(":", "")[:3] if txt[0] in "+-" else txt[:2])
        mm = int(f.get("TZM", 0))
        tzoff = (abs(hh) * 60 + mm) * 60 * (-1 if txt.startswith("-") else 1)
    return v, tzoff


def to_timestamp_text(s: str, fmt: str, ctx=None) -> datetime:
    v, tzoff = parse_datetime(s, fmt)
    if tzoff is not None:
        return (v - timedelta(seconds=tzoff)).replace(tzinfo=UTC)
    return DT.local_to_utc(v, ctx.tzinfo if ctx is not None else UTC)


def to_date_text(s: str, fmt: str, ctx=None) -> date:
    return parse_datetime(s, fmt)[0].date()


F("to_char", (T.TIMESTAMP, TEXT), TEXT, to_char_ts)
F("to_char", (T.TIMESTAMPTZ, TEXT), TEXT, to_char_tstz, volatility="s")
F("to_char", (T.INTERVAL, TEXT), TEXT, to_char_interval)
for _t in (T.INT4, T.INT8, T.NUMERIC, T.FLOAT8, T.FLOAT4):
    F("to_char", (_t, TEXT), TEXT, to_char_number)
F("to_number", (TEXT, TEXT), T.NUMERIC, to_number)
F("to_timestamp", (TEXT, TEXT), T.TIMESTAMPTZ, to_timestamp_text, volatility="s")
F("to_date", (TEXT, TEXT), T.DATE, to_date_text, volatility="s")
