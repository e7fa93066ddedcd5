"""date, time, timestamp and timestamptz: text input and output, arithmetic helpers.

Python values: ``datetime.date``, ``datetime.time``, naive ``datetime`` for timestamp and an
aware ``datetime`` in UTC for timestamptz. PostgreSQL's special values 'infinity' and
'-infinity' of date/timestamp/timestamptz are the floats ``math.inf``/``-math.inf`` (they sort
above/below every date, print as "infinity"). Years are limited to Python's 1..9999 (PostgreSQL
reaches 4713 BC..294276 AD): outside that, 22008 "date out of range"/"timestamp out of range".

Input follows PostgreSQL's DateStyle ISO, MDY: ISO 8601 (``2024-01-02 03:04:05.5+02``, with
``T``), ``01/02/2024`` (month first), ``20240102``, month names (``Jan 2 2024``, ``2 Jan
2024``), time zones as ``Z``/``+hh[:mm]``/abbreviations/IANA names, and the special words
epoch, infinity, now, today, tomorrow, yesterday, allballs.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from cairn.sql.errors import DatetimeFieldOverflow, InvalidDatetimeFormat
from cairn.sql.types.interval import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    USECS_PER_DAY,
    USECS_PER_SEC,
    Interval,
    checked,
)

__all__ = ["INT32_MAX", "INT32_MIN", "INT64_MAX", "INT64_MIN"]  # re-exported for storage
INF = math.inf
NINF = -math.inf
PG_EPOCH = datetime(2000, 1, 1)
PG_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_DATE = date(2000, 1, 1)
UNIX_EPOCH = datetime(1970, 1, 1)
_PG_EPOCH_ORD = PG_EPOCH_DATE.toordinal()

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_MONTHS.update(
    {
        "january": 1,
        "february": 2,
        "march": 3,
        "april": 4,
        "june": 6,
        "july": 7,
        "august": 8,
        "september": 9,
        "sept": 9,
        "october": 10,
        "november": 11,
        "december": 12,
    }
)
_ABBREV = {
    "utc": 0,
    "gmt": 0,
    "z": 0,
    "zulu": 0,
    "ut": 0,
    "est": -5 * 60,
    "edt": -4 * 60,
    "cst": -6 * 60,
    "cdt": -5 * 60,
    "mst": -7 * 60,
    "mdt": -6 * 60,
    "pst": -8 * 60,
    "pdt": -7 * 60,
    "cet": 60,
    "cest": 120,
    "eet": 120,
    "eest": 180,
    "bst": 60,
    "msk": 180,
    "jst": 9 * 60,
    "ist": 330,
    "hst": -10 * 60,
    "akst": -9 * 60,
    "akdt": -8 * 60,
    "wet": 0,
    "west": 60,
    "aest": 600,
    "aedt": 660,
}

_TIME = (
    r"(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:\.(?P<F>\d*))?)?"
    r"(?:\s*(?P<ampm>(?:am|pm)\b|a\.m\.|p\.m\.))?"
)
_TZ = r"(?P<tz>z\b|[+-]\d{1,2}(?::?\d{2}){0,2}\b|[a-z][a-z0-9_/+-]*)"
_DATES = [
    r"(?P<y>\d{3,})[-.](?P<m>\d{1,2})[-.](?P<d>\d{1,2})",
    r"(?P<y>\d{4,})/(?P<m>\d{1,2})/(?P<d>\d{1,2})",
    r"(?P<m>\d{1,2})[/-](?P<d>\d{1,2})[/-](?P<y>\d{1,4})",
    r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
    r"(?P<mn>[a-z]{3,9})\.?[\s-]+(?P<d>\d{1,2}),?[\s-]+(?P<y>\d{1,4})",
    r"(?P<d>\d{1,2})[\s-]+(?P<mn>[a-z]{3,9})\.?[\s-]+(?P<y>\d{1,4})",
    r"(?P<y>\d{4})[\s-]+(?P<mn>[a-z]{3,9})\.?[\s-]+(?P<d>\d{1,2})",
]
_WEEKDAY = r"(?:(?:sun|mon|tue|wed|thu|fri|sat)[a-z]*\.?,?\s+)?"
_FULL = [
    re.compile(
        r"\s*" + _WEEKDAY + d + r"(?:(?:\s*t\s*|\s+)" + _TIME + r")?(?:\s*" + _TZ + r")?"
        r"(?:\s+(?P<era>bc|ad))?\s*\Z",
        re.I,
    )
    for d in _DATES
]
_TIME_ONLY = re.compile(r"\s*(?:t)?" + _TIME + r"(?:\s*" + _TZ + r")?\s*\Z", re.I)
_SPECIAL = {
    "infinity",
    "+infinity",
    "-infinity",
    "epoch",
    "now",
    "today",
    "tomorrow",
    "yesterday",
    "allballs",
}


class _Parsed:
    __slots__ = ("date", "fsec", "hms", "special", "tz")

    def __init__(self) -> None:
        self.date: tuple[int, int, int] | None = None
        self.hms: tuple[int, int, int] | None = None
        self.fsec = 0
        self.tz: str | None = None
        self.special: str | None = None


def _parse(text: str, typename: str) -> _Parsed:
    s = text.strip()
    low = s.lower()
    p = _Parsed()
    if low in _SPECIAL:
        p.special = low.lstrip("+")
        return p
    for rx in _FULL:
        m = rx.match(s)
        if m is None:
            continue
        g = m.groupdict()
        y = int(g["y"])
        if len(g["y"]) <= 2:  # two-digit years: 70..99 -> 19xx, 00..69 -> 20xx
            y += 2000 if y < 70 else 1900
        if g.get("mn") is not None:
            mon = _MONTHS.get(g["mn"].lower())
            if mon is None:
                raise InvalidDatetimeFormat("")
        else:
            mon = int(g["m"])
        if g.get("era") and g["era"].lower() == "bc":
            raise DatetimeFieldOverflow(f"{typename} out of range")
        p.date = (y, mon, int(g["d"]))
        _time_fields(p, g)
        return p
    m = _TIME_ONLY.match(s)
    if m is not None:
        _time_fields(p, m.groupdict())
        return p
    raise InvalidDatetimeFormat("")


def _time_fields(p: _Parsed, g: dict[str, Any]) -> None:
    if g.get("H") is not None:
        h, mi = int(g["H"]), int(g["M"])
        sec = int(g["S"] or 0)
        frac = g["F"] or ""
        fsec = round(float("0." + frac) * 1e6) if frac else 0
        ampm = (g.get("ampm") or "").lower().replace(".", "")
        if ampm:
            if h > 12:
                raise DatetimeFieldOverflow("")
            h = h % 12 + (12 if ampm == "pm" else 0)
        if fsec == 1_000_000:
            sec, fsec = sec + 1, 0
        p.hms = (h, mi, sec)
        p.fsec = fsec
    tz = g.get("tz")
    if tz:
        if tz.lower() in ("bc", "ad"):
            raise DatetimeFieldOverflow("")
        p.tz = tz


def zone_for(name: str) -> tzinfo:
    """A time zone as written in a value or SET TIME ZONE: +hh[:mm[:ss]], abbreviation, IANA."""
    low = name.lower()
    if low in _ABBREV:
        return timezone(timedelta(minutes=_ABBREV[low]))
    m = re.fullmatch(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?", name)
    if m:
        h, mi, se = int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0)
        if h > 15 or mi > 59 or se > 59:
            raise DatetimeFieldOverflow("")
        off = timedelta(hours=h, minutes=mi, seconds=se)
        return timezone(-off if m.group(1) == "-" else off)
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        for cand in (name.upper(), name.title()):
            try:
                return ZoneInfo(cand)
            except (ValueError, OSError, KeyError):
                continue
    raise InvalidDatetimeFormat(f'time zone "{name}" not recognized', sqlstate="22023")


def _session_zone(ctx: Any) -> tzinfo:
    return ctx.tzinfo if ctx is not None else UTC


def _build(p: _Parsed, text: str, typename: str) -> tuple[datetime, bool]:
    """The naive local datetime of a parsed value and whether it came with a zone."""
    if p.date is None:
        raise InvalidDatetimeFormat("")
    y, mo, d = p.date
    h, mi, s = p.hms or (0, 0, 0)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 24 and mi <= 59 and s <= 60):
        raise DatetimeFieldOverflow("")
    try:
        base = datetime(y, mo, d)
    except ValueError:
        if 1 <= y <= 9999:
            raise DatetimeFieldOverflow("") from None
        raise DatetimeFieldOverflow(f'{typename} out of range: "{text}"') from None
    if h == 24 and (mi or s or p.fsec):
        raise DatetimeFieldOverflow("")
    try:
        v = base + timedelta(hours=h, minutes=mi, seconds=s, microseconds=p.fsec)
    except OverflowError:
        raise DatetimeFieldOverflow(f'{typename} out of range: "{text}"') from None
    return v, p.tz is not None


def _special(word: str, ctx: Any, kind: str) -> Any:
    if word == "infinity":
        return INF
    if word == "-infinity":
        return NINF
    if word == "epoch":
        return UNIX_EPOCH
    now = ctx.transaction_timestamp if ctx is not None else datetime.now(UTC)
    if word == "now":
        return now
    local = now.astimezone(_session_zone(ctx)).replace(tzinfo=None)
    today = datetime(local.year, local.month, local.day)
    return today + timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}[word])


def _errors(typename: str, text: str, fn):
    try:
        return fn()
    except InvalidDatetimeFormat as e:
        if e.message:
            raise
        raise InvalidDatetimeFormat(f'invalid input syntax for type {typename}: "{text}"') from None
    except DatetimeFieldOverflow as e:
        if e.message:
            raise
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{text}"') from None


def timestamp_in(text: str, ctx: Any = None) -> datetime | float:
    def go() -> datetime | float:
        p = _parse(text, "timestamp")
        if p.special:
            if p.special == "allballs":
                raise InvalidDatetimeFormat("")
            v = _special(p.special, ctx, "timestamp")
            if isinstance(v, datetime) and v.tzinfo is not None:
                v = v.astimezone(_session_zone(ctx)).replace(tzinfo=None)
            return v
        v, _ = _build(p, text, "timestamp")
        return v

    return _errors("timestamp", text, go)


def timestamptz_in(text: str, ctx: Any = None) -> datetime | float:
    def go() -> datetime | float:
        p = _parse(text, "timestamp")
        if p.special:
            if p.special == "allballs":
                raise InvalidDatetimeFormat("")
            v = _special(p.special, ctx, "timestamptz")
            if isinstance(v, datetime) and v.tzinfo is None:
                if p.special == "epoch":
                    return v.replace(tzinfo=UTC)
                return local_to_utc(v, _session_zone(ctx))
            return v
        v, has_tz = _build(p, text, "timestamp")
        zone = zone_for(p.tz) if has_tz else _session_zone(ctx)
        return local_to_utc(v, zone)

    return _errors("timestamp with time zone", text, go)


def local_to_utc(v: datetime, zone: tzinfo) -> datetime:
    """A local wall-clock time in ``zone`` to UTC, resolving DST as PostgreSQL: an ambiguous
    time (fall back) is read as standard time, the later instant; a skipped one (spring
    forward) takes the offset in force before the change."""
    try:
        a = v.replace(tzinfo=zone)
        b = v.replace(tzinfo=zone, fold=1)
        off_a, off_b = a.utcoffset(), b.utcoffset()
        chosen = b if off_a is not None and off_b is not None and off_a > off_b else a
        return chosen.astimezone(UTC)
    except OverflowError:
        raise DatetimeFieldOverflow("timestamp out of range") from None


def date_in(text: str, ctx: Any = None) -> date | float:
    def go() -> date | float:
        p = _parse(text, "date")
        if p.special:
            if p.special == "allballs":
                raise InvalidDatetimeFormat("")
            v = _special(p.special, ctx, "date")
            if isinstance(v, float):
                return v
            if v.tzinfo is not None:
                v = v.astimezone(_session_zone(ctx))
            return v.date()
        v, _ = _build(p, text, "date")
        return v.date()

    return _errors("date", text, go)


def time_in(text: str, ctx: Any = None) -> time:
    def go() -> time:
        s = text.strip().lower()
        if s == "allballs":
            return time(0)
        if s == "now":
            now = ctx.transaction_timestamp if ctx is not None else datetime.now(UTC)
            return now.astimezone(_session_zone(ctx)).time().replace(tzinfo=None)
        p = _parse(text, "time")
        if p.special or p.hms is None:
            raise InvalidDatetimeFormat("")
        h, mi, s_ = p.hms
        us = ((h * 60 + mi) * 60 + s_) * USECS_PER_SEC + p.fsec
        if mi > 59 or s_ > 60 or us > USECS_PER_DAY:
            raise DatetimeFieldOverflow("")
        if us == USECS_PER_DAY:  # 24:00:00 is valid in PostgreSQL, not in Python's time
            raise DatetimeFieldOverflow("time 24:00:00 is not supported by cairn", sqlstate="22008")
        return micros_to_time(us)

    return _errors("time", text, go)


# --- output ----------------------------------------------------------------------------------


def _frac(us: int) -> str:
    return ("." + f"{us:06d}").rstrip("0") if us else ""


def date_out(v: date | float) -> str:
    if isinstance(v, float):
        return "infinity" if v > 0 else "-infinity"
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"


def time_out(v: time) -> str:
    return f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}{_frac(v.microsecond)}"


def timestamp_out(v: datetime | float) -> str:
    if isinstance(v, float):
        return "infinity" if v > 0 else "-infinity"
    s = v.isoformat(" ")  # C-implemented; PostgreSQL trims the fraction's trailing zeros
    return s.rstrip("0") if v.microsecond else s


def offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    a = abs(seconds)
    h, rem = divmod(a, 3600)
    m, s = divmod(rem, 60)
    if s:
        return f"{sign}{h:02d}:{m:02d}:{s:02d}"
    if m:
        return f"{sign}{h:02d}:{m:02d}"
    return f"{sign}{h:02d}"


def timestamptz_out(v: datetime | float, ctx: Any = None) -> str:
    if isinstance(v, float):
        return "infinity" if v > 0 else "-infinity"
    local = v.astimezone(ctx.tzinfo if ctx is not None else UTC)
    off = local.utcoffset()
    secs = off.days * 86400 + off.seconds if off is not None else 0
    text = _OFFSETS.get(secs)
    if text is None:
        text = _OFFSETS[secs] = offset_text(secs)
    s = local.replace(tzinfo=None).isoformat(" ")
    return (s.rstrip("0") if v.microsecond else s) + text


_OFFSETS: dict[int, str] = {}  # offset seconds -> "+05:30" (a few dozen entries at most)


# --- numeric forms (binary protocol, storage, keys) -------------------------------------------


def timestamp_to_micros(v: datetime) -> int:
    """Microseconds since 2000-01-01 (UTC for an aware value)."""
    if v.tzinfo is not None:
        d = v - PG_EPOCH_UTC
    else:
        d = v - PG_EPOCH
    return (d.days * 86400 + d.seconds) * USECS_PER_SEC + d.microseconds


def micros_to_timestamp(us: int, aware: bool) -> datetime:
    try:
        v = (PG_EPOCH_UTC if aware else PG_EPOCH) + timedelta(microseconds=us)
    except OverflowError:
        raise DatetimeFieldOverflow("timestamp out of range") from None
    return v


def temporal_key(v: Any) -> Any:
    """Sort key of a date/timestamp/timestamptz value (infinities are floats)."""
    if isinstance(v, float):
        return v
    if isinstance(v, datetime):
        return timestamp_to_micros(v)
    return v.toordinal()


def time_to_micros(v: time) -> int:
    return ((v.hour * 60 + v.minute) * 60 + v.second) * USECS_PER_SEC + v.microsecond


def micros_to_time(us: int) -> time:
    us %= USECS_PER_DAY
    s, f = divmod(us, USECS_PER_SEC)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return time(h, m, s, f)


def date_to_days(v: date) -> int:
    return v.toordinal() - _PG_EPOCH_ORD


def days_to_date(n: int) -> date:
    try:
        return date.fromordinal(n + _PG_EPOCH_ORD)
    except (ValueError, OverflowError):
        raise DatetimeFieldOverflow("date out of range") from None


def round_precision(value: Any, t: Any, p: int) -> Any:
    """timestamp(p)/time(p)/interval(p): round the fraction to p digits (half away from 0)."""
    if isinstance(value, float) or p >= 6:
        return value
    scale = 10 ** (6 - p)

    def rnd(us: int) -> int:
        q = (abs(us) + scale // 2) // scale * scale
        return q if us >= 0 else -q

    if isinstance(value, datetime):
        us = timestamp_to_micros(value)
        return micros_to_timestamp(rnd(us), value.tzinfo is not None)
    if isinstance(value, time):
        return micros_to_time(rnd(time_to_micros(value)))
    if isinstance(value, Interval):
        return checked(value.months, value.days, rnd(value.micros))
    return value


# --- arithmetic --------------------------------------------------------------------------------


def add_months(v: datetime, months: int) -> datetime:
    y, m = divmod(v.year * 12 + (v.month - 1) + months, 12)
    m += 1
    if not 1 <= y <= 9999:
        raise DatetimeFieldOverflow("timestamp out of range")
    import calendar

    d = min(v.day, calendar.monthrange(y, m)[1])
    return v.replace(year=y, month=m, day=d)


def timestamp_plus_interval(v: datetime | float, iv: Interval) -> datetime | float:
    if isinstance(v, float):
        return v
    try:
        if iv.months:
            v = add_months(v, iv.months)
        if iv.days:
            v = v + timedelta(days=iv.days)
        return v + timedelta(microseconds=iv.micros)
    except OverflowError:
        raise DatetimeFieldOverflow("timestamp out of range") from None


def timestamptz_plus_interval(v: datetime | float, iv: Interval, ctx: Any) -> datetime | float:
    """Months and days move the wall clock in the session's zone (DST-aware), micros are
    absolute time, as PostgreSQL's timestamptz_pl_interval."""
    if isinstance(v, float):
        return v
    try:
        if iv.months or iv.days:
            zone = _session_zone(ctx)
            local = v.astimezone(zone).replace(tzinfo=None)
            if iv.months:
                local = add_months(local, iv.months)
            if iv.days:
                local = local + timedelta(days=iv.days)
            v = local_to_utc(local, zone)
        return v + timedelta(microseconds=iv.micros)
    except OverflowError:
        raise DatetimeFieldOverflow("timestamp out of range") from None


def timestamp_minus(a: datetime | float, b: datetime | float) -> Interval:
    from cairn.sql.types.interval import justify_hours

    if isinstance(a, float) or isinstance(b, float):
        raise DatetimeFieldOverflow("cannot subtract infinite timestamps")
    return justify_hours(Interval(0, 0, timestamp_to_micros(a) - timestamp_to_micros(b)))


def date_to_timestamp(v: date | float) -> datetime | float:
    if isinstance(v, float):
        return v
    return datetime(v.year, v.month, v.day)


def date_to_timestamptz(v: date | float, ctx: Any) -> datetime | float:
    if isinstance(v, float):
        return v
    return local_to_utc(datetime(v.year, v.month, v.day), _session_zone(ctx))


def timestamptz_to_timestamp(v: datetime | float, ctx: Any) -> datetime | float:
    if isinstance(v, float):
        return v
    return v.astimezone(_session_zone(ctx)).replace(tzinfo=None)


def timestamp_to_timestamptz(v: datetime | float, ctx: Any) -> datetime | float:
    if isinstance(v, float):
        return v
    return local_to_utc(v, _session_zone(ctx))


def to_local(v: datetime, ctx: Any) -> datetime:
    """A timestamptz as naive wall-clock time in the session zone."""
    return v.astimezone(_session_zone(ctx)).replace(tzinfo=None)
