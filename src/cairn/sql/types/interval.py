"""PostgreSQL's interval: months, days and microseconds kept apart.

A month is not a fixed number of days and a day is not always 24 hours (DST), so PostgreSQL
keeps the three fields separately and adds them to timestamps one by one. For comparison (and
for ``=``) it justifies them: a month counts 30 days and a day 24 hours, so '1 mon' = '30 days'.
Output here is the ``postgres`` IntervalStyle: ``1 year 2 mons 3 days 04:05:06``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cairn.sql.errors import DatetimeFieldOverflow, InvalidDatetimeFormat

USECS_PER_DAY = 86_400_000_000
USECS_PER_HOUR = 3_600_000_000
USECS_PER_MINUTE = 60_000_000
USECS_PER_SEC = 1_000_000
DAYS_PER_MONTH = 30
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True, eq=False)
class Interval:
    """An interval value. Equality and order are PostgreSQL's (justified: 1 mon = 30 days)."""

    months: int = 0
    days: int = 0
    micros: int = 0

    def sort_value(self) -> int:
        return (self.months * DAYS_PER_MONTH + self.days) * USECS_PER_DAY + self.micros

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interval):
            return NotImplemented
        return self.sort_value() == other.sort_value()

    def __hash__(self) -> int:
        return hash(self.sort_value())

    def __lt__(self, other: Interval) -> bool:
        return self.sort_value() < other.sort_value()

    def __le__(self, other: Interval) -> bool:
        return self.sort_value() <= other.sort_value()

    def __gt__(self, other: Interval) -> bool:
        return self.sort_value() > other.sort_value()

    def __ge__(self, other: Interval) -> bool:
        return self.sort_value() >= other.sort_value()

    def same_fields(self, other: Interval) -> bool:
        """Field-wise identity (what the text output shows), stricter than ``=``."""
        return (self.months, self.days, self.micros) == (other.months, other.days, other.micros)


def checked(months: int, days: int, micros: int) -> Interval:
    if not (
        INT32_MIN <= months <= INT32_MAX
        and INT32_MIN <= days <= INT32_MAX
        and INT64_MIN <= micros <= INT64_MAX
    ):
        raise DatetimeFieldOverflow("interval out of range", sqlstate="22008")
    return Interval(months, days, micros)


# --- output ----------------------------------------------------------------------------------


def _seconds(sec: int, fsec: int) -> str:
    s = f"{sec:02d}"
    if fsec:
        s += ("." + f"{fsec:06d}").rstrip("0")
    return s


def interval_out(v: Interval) -> str:
    """IntervalStyle ``postgres`` (PostgreSQL's EncodeInterval)."""
    years = int(v.months / 12) if v.months >= 0 else -int(-v.months / 12)
    mons = v.months - years * 12
    parts: list[str] = []
    is_zero, is_before = True, False
    for value, unit in ((years, "year"), (mons, "mon"), (v.days, "day")):
        if value == 0:
            continue
        parts.append(
            f"{'' if is_zero else ' '}{'+' if is_before and value > 0 else ''}"
            f"{value} {unit}{'' if value == 1 else 's'}"
        )
        is_before = value < 0
        is_zero = False
    t = v.micros
    if is_zero or t != 0:
        minus = t < 0
        a = -t if minus else t
        hour, rem = divmod(a, USECS_PER_HOUR)
        minute, rem = divmod(rem, USECS_PER_MINUTE)
        sec, fsec = divmod(rem, USECS_PER_SEC)
        parts.append(
            f"{'' if is_zero else ' '}{'-' if minus else ('+' if is_before else '')}"
            f"{hour:02d}:{minute:02d}:{_seconds(sec, fsec)}"
        )
    return "".join(parts)


# --- input -----------------------------------------------------------------------------------

_UNITS = {
    "microsecond": "us",
    "microseconds": "us",
    "us": "us",
    "usec": "us",
    "usecs": "us",
    "usecond": "us",
    "useconds": "us",
    "millisecond": "ms",
    "milliseconds": "ms",
    "ms": "ms",
    "msec": "ms",
    "msecs": "ms",
    "msecond": "ms",
    "mseconds": "ms",
    "second": "s",
    "seconds": "s",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "minute": "min",
    "minutes": "min",
    "m": "min",
    "min": "min",
    "mins": "min",
    "hour": "h",
    "hours": "h",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "day": "d",
    "days": "d",
    "d": "d",
    "week": "w",
    "weeks": "w",
    "w": "w",
    "month": "mon",
    "months": "mon",
    "mon": "mon",
    "mons": "mon",
    "year": "y",
    "years": "y",
    "y": "y",
    "yr": "y",
    "yrs": "y",
    "decade": "dec",
    "decades": "dec",
    "dec": "dec",
    "decs": "dec",
    "century": "c",
    "centuries": "c",
    "cent": "c",
    "c": "c",
    "millennium": "mil",
    "millennia": "mil",
    "millenniums": "mil",
    "mil": "mil",
    "mils": "mil",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<ym>[+-]?\d+-\d+)(?=\s|$)"
    r"|(?P<time>[+-]?\d+:\d+(?::\d+(?:\.\d*)?)?)"
    r"|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))\s*(?P<unit>[a-z]+)?"
    r"|(?P<word>[a-z@]+))"
)


class _Acc:
    def __init__(self) -> None:
        self.months = 0
        self.days = 0
        self.micros = 0.0

    def add_days(self, f: float) -> None:
        whole = math.trunc(f)
        self.days += whole
        self.micros += (f - whole) * USECS_PER_DAY

    def add_months(self, f: float) -> None:
        whole = math.trunc(f)
        self.months += whole
        self.add_days((f - whole) * DAYS_PER_MONTH)


def _time_micros(tok: str) -> float:
    neg = tok.startswith("-")
    parts = tok.lstrip("+-").split(":")
    h, m = int(parts[0]), int(parts[1])
    s = float(parts[2]) if len(parts) > 2 else 0.0
    if m > 59 or s >= 60:
        raise DatetimeFieldOverflow("")
    v = h * USECS_PER_HOUR + m * USECS_PER_MINUTE + s * USECS_PER_SEC
    return -v if neg else v


def interval_in(text: str) -> Interval:
    s = text.strip().lower()
    try:
        if s.startswith("p"):
            return _iso_interval(s, text)
        acc = _Acc()
        pos, ago, seen = 0, False, False
        fields: set[str] = set()  # PostgreSQL's fmask: each field at most once
        if s.startswith("@"):
            pos = 1
        toks = []
        while pos < len(s):
            m = _TOKEN.match(s, pos)
            if m is None or m.end() == pos:
                if s[pos:].strip() == "":
                    break
                raise InvalidDatetimeFormat("")
            pos = m.end()
            toks.append(m)
        for k, m in enumerate(toks):
            seen = True
            nxt = toks[k + 1] if k + 1 < len(toks) else None

            def mark(*names: str) -> None:
                for n in names:
                    if n in fields:
                        raise InvalidDatetimeFormat("")
                    fields.add(n)

            if m.group("ym"):
                y, mo = (
                    m.group("ym").lstrip("+").split("-")
                    if not m.group("ym").startswith("-")
                    else ("-" + m.group("ym")[1:].split("-")[0], m.group("ym").split("-")[2])
                )
                sign = -1 if m.group("ym").startswith("-") else 1
                acc.months += int(y) * 12 + sign * int(mo)
                mark("mon")
            elif m.group("time"):
                acc.micros += _time_micros(m.group("time"))
                mark("h", "min", "s")
            elif m.group("num") is not None:
                num = float(m.group("num"))
                unit = m.group("unit")
                if unit is None or unit == "ago":
                    if nxt is not None and nxt.group("time"):
                        acc.add_days(num)  # "1 02:00:00" is a day and a time
                        mark("d")
                        continue
                    if nxt is not None and not (nxt.group("word") == "ago"):
                        raise InvalidDatetimeFormat("")
                    acc.micros += num * USECS_PER_SEC
                    mark("s")
                    ago = ago or unit == "ago"
                    continue
                u = _UNITS.get(unit)
                if u is None:
                    raise InvalidDatetimeFormat("")
                mark(u)
                _apply(acc, u, num)
            else:
                w = m.group("word")
                if w == "ago":
                    ago = True
                elif w != "@":
                    raise InvalidDatetimeFormat("")
        if not seen:
            raise InvalidDatetimeFormat("")
        micros = round(acc.micros)
        if ago:
            return checked(-acc.months, -acc.days, -micros)
        return checked(acc.months, acc.days, micros)
    except InvalidDatetimeFormat:
        raise InvalidDatetimeFormat(f'invalid input syntax for type interval: "{text}"') from None
    except (DatetimeFieldOverflow, ValueError, OverflowError):
        raise DatetimeFieldOverflow(f'interval field value out of range: "{text}"') from None


def _apply(acc: _Acc, u: str, num: float) -> None:
    if u == "us":
        acc.micros += num
    elif u == "ms":
        acc.micros += num * 1000
    elif u == "s":
        acc.micros += num * USECS_PER_SEC
    elif u == "min":
        acc.micros += num * USECS_PER_MINUTE
    elif u == "h":
        acc.micros += num * USECS_PER_HOUR
    elif u == "d":
        acc.add_days(num)
    elif u == "w":
        acc.add_days(num * 7)
    elif u == "mon":
        acc.add_months(num)
    else:
        years = num * {"y": 1, "dec": 10, "c": 100, "mil": 1000}[u]
        whole = math.trunc(years)
        acc.months += whole * 12 + round((years - whole) * 12)


_ISO = re.compile(
    r"p(?:(?P<y>[+-]?\d+(?:\.\d+)?)y)?(?:(?P<mo>[+-]?\d+(?:\.\d+)?)m)?(?:(?P<w>[+-]?\d+(?:\.\d+)?)w)?"
    r"(?:(?P<d>[+-]?\d+(?:\.\d+)?)d)?(?:t(?:(?P<h>[+-]?\d+(?:\.\d+)?)h)?"
    r"(?:(?P<mi>[+-]?\d+(?:\.\d+)?)m)?(?:(?P<s>[+-]?\d+(?:\.\d+)?)s)?)?\Z"
)


def _iso_interval(s: str, text: str) -> Interval:
    m = _ISO.match(s)
    if m is None or s in ("p", "pt"):
        raise InvalidDatetimeFormat("")
    acc = _Acc()
    for g, u in (
        ("y", "y"),
        ("mo", "mon"),
        ("w", "w"),
        ("d", "d"),
        ("h", "h"),
        ("mi", "min"),
        ("s", "s"),
    ):
        if m.group(g):
            _apply(acc, u, float(m.group(g)))
    return checked(acc.months, acc.days, round(acc.micros))


# --- arithmetic ------------------------------------------------------------------------------


def add(a: Interval, b: Interval) -> Interval:
    return checked(a.months + b.months, a.days + b.days, a.micros + b.micros)


def sub(a: Interval, b: Interval) -> Interval:
    return checked(a.months - b.months, a.days - b.days, a.micros - b.micros)


def neg(a: Interval) -> Interval:
    return checked(-a.months, -a.days, -a.micros)


def _tsround(x: float) -> float:
    return round(x * 1e6) / 1e6


def mul(span: Interval, factor: float) -> Interval:
    """PostgreSQL 15's interval_mul: fractional months cascade into days, days into time."""
    if factor != factor or math.isinf(factor):
        raise DatetimeFieldOverflow("interval out of range")
    rm = span.months * factor
    rd = span.days * factor
    if not (INT32_MIN <= rm <= INT32_MAX and INT32_MIN <= rd <= INT32_MAX):
        raise DatetimeFieldOverflow("interval out of range")
    months = math.trunc(rm)
    days = math.trunc(rd)
    month_rem_days = _tsround((span.months * factor - months) * DAYS_PER_MONTH)
    sec_rem = _tsround(
        (span.days * factor - days + month_rem_days - math.trunc(month_rem_days)) * 86400
    )
    if abs(sec_rem) >= 86400:
        days += math.trunc(sec_rem / 86400)
        sec_rem -= math.trunc(sec_rem / 86400) * 86400
    days += math.trunc(month_rem_days)
    micros = round(span.micros * factor + sec_rem * USECS_PER_SEC)
    return checked(months, days, micros)


def div(span: Interval, factor: float) -> Interval:
    """PostgreSQL 15's interval_div."""
    from cairn.sql.errors import DivisionByZero

    if factor == 0.0:
        raise DivisionByZero("division by zero")
    months = math.trunc(span.months / factor)
    days = math.trunc(span.days / factor)
    month_rem_days = (span.months / factor - months) * DAYS_PER_MONTH
    month_rem_days = _tsround(month_rem_days)
    sec_rem = (span.days / factor - days + month_rem_days - math.trunc(month_rem_days)) * 86400
    sec_rem = _tsround(sec_rem)
    if abs(sec_rem) >= 86400:
        days += math.trunc(sec_rem / 86400)
        sec_rem -= math.trunc(sec_rem / 86400) * 86400
    days += math.trunc(month_rem_days)
    micros = round(span.micros / factor + sec_rem * USECS_PER_SEC)
    return checked(months, days, micros)


def justify_hours(v: Interval) -> Interval:
    whole = int(v.micros / USECS_PER_DAY) if v.micros >= 0 else -int(-v.micros / USECS_PER_DAY)
    days = v.days + whole
    micros = v.micros - whole * USECS_PER_DAY
    if days > 0 and micros < 0:
        micros += USECS_PER_DAY
        days -= 1
    elif days < 0 and micros > 0:
        micros -= USECS_PER_DAY
        days += 1
    return checked(v.months, days, micros)


def justify_days(v: Interval) -> Interval:
    whole = int(v.days / DAYS_PER_MONTH) if v.days >= 0 else -int(-v.days / DAYS_PER_MONTH)
    months = v.months + whole
    days = v.days - whole * DAYS_PER_MONTH
    if months > 0 and days < 0:
        days += DAYS_PER_MONTH
        months -= 1
    elif months < 0 and days > 0:
        days -= DAYS_PER_MONTH
        months += 1
    return checked(months, days, v.micros)


def justify_interval(v: Interval) -> Interval:
    """PostgreSQL's justify_interval: both justifications with one sign throughout."""
    months, days, micros = v.months, v.days, v.micros
    whole = int(days / DAYS_PER_MONTH)
    months += whole
    days -= whole * DAYS_PER_MONTH
    whole = int(micros / USECS_PER_DAY)
    days += whole
    micros -= whole * USECS_PER_DAY
    if months > 0 and (days < 0 or (days == 0 and micros < 0)):
        days += DAYS_PER_MONTH
        months -= 1
    elif months < 0 and (days > 0 or (days == 0 and micros > 0)):
        days -= DAYS_PER_MONTH
        months += 1
    if days > 0 and micros < 0:
        micros += USECS_PER_DAY
        days -= 1
    elif days < 0 and micros > 0:
        micros -= USECS_PER_DAY
        days += 1
    return checked(months, days, micros)
