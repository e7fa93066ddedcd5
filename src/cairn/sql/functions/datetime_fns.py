"""Date/time operators and functions: arithmetic (date + int, timestamp - timestamp, ...),
now() and friends, date_trunc, extract/date_part, age, make_*, to_timestamp, justify_*,
isfinite, and generate_series over timestamps.

timestamptz arithmetic with months or days moves the wall clock of the session's TimeZone
(so adding '1 day' across a DST change keeps the local time), as PostgreSQL's does.
"""

from __future__ import annotations

import calendar
import math
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from cairn.sql.errors import DatetimeFieldOverflow, InvalidParameterValue, SqlError
from cairn.sql.functions.comparison import add_comparisons
from cairn.sql.functions.registry import FUNCTIONS, OPERATORS, PREFIX
from cairn.sql.types import datetimes as DT
from cairn.sql.types import interval as IV
from cairn.sql.types import sqltype as T
from cairn.sql.types.compare import sort_key
from cairn.sql.types.interval import (
    USECS_PER_DAY,
    USECS_PER_HOUR,
    USECS_PER_MINUTE,
    USECS_PER_SEC,
    Interval,
)
from cairn.sql.types.numbers import DEC

DATE, TIME, TS, TSTZ, IVL = T.DATE, T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL
INT4, FLOAT8, TEXT, NUMERIC = T.INT4, T.FLOAT8, T.TEXT, T.NUMERIC
F = FUNCTIONS.add
OP = OPERATORS.add

for _t in (DATE, TS, TSTZ, IVL):
    add_comparisons(_t, _t, sort_key(_t))
add_comparisons(TIME, TIME)


# --- operators -------------------------------------------------------------------------------


def date_pl_int(d: Any, n: int, ctx) -> Any:
    if isinstance(d, float):
        return d
    try:
        return d + timedelta(days=n)
    except OverflowError:
        raise DatetimeFieldOverflow("date out of range") from None


def date_mi_date(a: Any, b: Any, ctx) -> int:
    if isinstance(a, float) or isinstance(b, float):
        raise DatetimeFieldOverflow("cannot subtract infinite dates")
    return a.toordinal() - b.toordinal()


def time_pl_interval(t: time, iv: Interval, ctx) -> time:
    return DT.micros_to_time(DT.time_to_micros(t) + iv.micros)


OP("+", (DATE, INT4), DATE, date_pl_int)
OP("+", (INT4, DATE), DATE, lambda n, d, ctx: date_pl_int(d, n, ctx))
OP("-", (DATE, INT4), DATE, lambda d, n, ctx: date_pl_int(d, -n, ctx))
OP("-", (DATE, DATE), INT4, date_mi_date)
OP("+", (DATE, IVL), TS, lambda d, iv, ctx: DT.timestamp_plus_interval(DT.date_to_timestamp(d), iv))
OP("+", (IVL, DATE), TS, lambda iv, d, ctx: DT.timestamp_plus_interval(DT.date_to_timestamp(d), iv))
OP(
    "-",
    (DATE, IVL),
    TS,
    lambda d, iv, ctx: DT.timestamp_plus_interval(DT.date_to_timestamp(d), IV.neg(iv)),
)
OP("+", (DATE, TIME), TS, lambda d, t, ctx: d if isinstance(d, float) else datetime.combine(d, t))
OP("+", (TIME, DATE), TS, lambda t, d, ctx: d if isinstance(d, float) else datetime.combine(d, t))
OP("+", (TIME, IVL), TIME, time_pl_interval)
OP("+", (IVL, TIME), TIME, lambda iv, t, ctx: time_pl_interval(t, iv, ctx))
OP("-", (TIME, IVL), TIME, lambda t, iv, ctx: time_pl_interval(t, IV.neg(iv), ctx))
OP(
    "-",
    (TIME, TIME),
    IVL,
    lambda a, b, ctx: Interval(0, 0, DT.time_to_micros(a) - DT.time_to_micros(b)),
)
OP("+", (TS, IVL), TS, lambda a, iv, ctx: DT.timestamp_plus_interval(a, iv))
OP("+", (IVL, TS), TS, lambda iv, a, ctx: DT.timestamp_plus_interval(a, iv))
OP("-", (TS, IVL), TS, lambda a, iv, ctx: DT.timestamp_plus_interval(a, IV.neg(iv)))
OP("-", (TS, TS), IVL, lambda a, b, ctx: DT.timestamp_minus(a, b))
OP("+", (TSTZ, IVL), TSTZ, DT.timestamptz_plus_interval)
OP("+", (IVL, TSTZ), TSTZ, lambda iv, a, ctx: DT.timestamptz_plus_interval(a, iv, ctx))
OP("-", (TSTZ, IVL), TSTZ, lambda a, iv, ctx: DT.timestamptz_plus_interval(a, IV.neg(iv), ctx))
OP("-", (TSTZ, TSTZ), IVL, lambda a, b, ctx: DT.timestamp_minus(a, b))
OP("+", (IVL, IVL), IVL, lambda a, b, ctx: IV.add(a, b))
OP("-", (IVL, IVL), IVL, lambda a, b, ctx: IV.sub(a, b))
OP("*", (IVL, FLOAT8), IVL, lambda a, f, ctx: IV.mul(a, f))
OP("*", (FLOAT8, IVL), IVL, lambda f, a, ctx: IV.mul(a, f))
OP("/", (IVL, FLOAT8), IVL, lambda a, f, ctx: IV.div(a, f))
PREFIX.add("-", (IVL,), IVL, lambda a, ctx: IV.neg(a))
PREFIX.add("+", (IVL,), IVL, lambda a, ctx: a)


# --- current time ----------------------------------------------------------------------------


def _now(ctx) -> datetime:
    return ctx.transaction_timestamp if ctx is not None else datetime.now(UTC)


F("now", (), TSTZ, lambda ctx: _now(ctx), volatility="s")
F("transaction_timestamp", (), TSTZ, lambda ctx: _now(ctx), volatility="s")
F("current_timestamp", (), TSTZ, lambda ctx: _now(ctx), volatility="s")
F(
    "statement_timestamp",
    (),
    TSTZ,
    lambda ctx: ctx.statement_time() if ctx is not None else datetime.now(UTC),
    volatility="s",
)
F("clock_timestamp", (), TSTZ, lambda ctx: datetime.now(UTC), volatility="v")
F("timeofday", (), TEXT, lambda ctx: _time.strftime("%a %b %d %H:%M:%S %Y %Z"), volatility="v")
F("current_date", (), DATE, lambda ctx: DT.to_local(_now(ctx), ctx).date(), volatility="s")
F("localtimestamp", (), TS, lambda ctx: DT.to_local(_now(ctx), ctx), volatility="s")
F("localtime", (), TIME, lambda ctx: DT.to_local(_now(ctx), ctx).time(), volatility="s")
# PostgreSQL's current_time is "time with time zone"; cairn has no timetz and returns time.
F("current_time", (), TIME, lambda ctx: DT.to_local(_now(ctx), ctx).time(), volatility="s")


# --- date_trunc ------------------------------------------------------------------------------

_TRUNC_UNITS = (
    "microseconds",
    "milliseconds",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "decade",
    "century",
    "millennium",
)
_UNIT_ALIASES = {
    "microsecond": "microseconds",
    "us": "microseconds",
    "usec": "microseconds",
    "usecs": "microseconds",
    "useconds": "microseconds",
    "millisecond": "milliseconds",
    "ms": "milliseconds",
    "msec": "milliseconds",
    "msecs": "milliseconds",
    "mseconds": "milliseconds",
    "seconds": "second",
    "sec": "second",
    "secs": "second",
    "s": "second",
    "minutes": "minute",
    "min": "minute",
    "mins": "minute",
    "m": "minute",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "h": "hour",
    "days": "day",
    "d": "day",
    "weeks": "week",
    "w": "week",
    "months": "month",
    "mon": "month",
    "mons": "month",
    "quarters": "quarter",
    "qtr": "quarter",
    "years": "year",
    "y": "year",
    "yr": "year",
    "yrs": "year",
    "decades": "decade",
    "dec": "decade",
    "centuries": "century",
    "cent": "century",
    "c": "century",
    "millennia": "millennium",
    "millenniums": "millennium",
    "mil": "millennium",
    "mils": "millennium",
    "epoch": "epoch",
    "dow": "dow",
    "doy": "doy",
    "isodow": "isodow",
    "isoyear": "isoyear",
    "julian": "julian",
    "timezone": "timezone",
    "timezone_hour": "timezone_hour",
    "timezone_minute": "timezone_minute",
}


def _unit(field: str) -> str:
    f = field.strip().lower()
    return _UNIT_ALIASES.get(f, f)


def trunc_datetime(unit: str, v: datetime, typename: str) -> datetime:
    if unit == "microseconds":
        return v
    if unit == "milliseconds":
        return v.replace(microsecond=v.microsecond // 1000 * 1000)
    if unit == "second":
        return v.replace(microsecond=0)
    if unit == "minute":
        return v.replace(second=0, microsecond=0)
    if unit == "hour":
        return v.replace(minute=0, second=0, microsecond=0)
    day = v.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    if unit == "decade":
        return day.replace(year=v.year // 10 * 10 or 1, month=1, day=1)
    if unit == "century":
        return day.replace(year=(v.year - 1) // 100 * 100 + 1, month=1, day=1)
    if unit == "millennium":
        return day.replace(year=(v.year - 1) // 1000 * 1000 + 1, month=1, day=1)
    raise InvalidParameterValue(
        f'unit "{unit}" not recognized for type {typename}', sqlstate="22023"
    )


def date_trunc_ts(field: str, v: Any, ctx) -> Any:
    unit = _unit(field)
    if isinstance(v, float):
        return v
    if unit not in _TRUNC_UNITS:
        raise SqlError(
            f'unit "{field}" not recognized for type timestamp without time zone', sqlstate="22023"
        )
    return trunc_datetime(unit, v, "timestamp without time zone")


def date_trunc_tstz(field: str, v: Any, ctx, zone: str | None = None) -> Any:
    unit = _unit(field)
    if isinstance(v, float):
        return v
    if unit not in _TRUNC_UNITS:
        raise SqlError(
            f'unit "{field}" not recognized for type timestamp with time zone', sqlstate="22023"
        )
    tz = DT.zone_for(zone) if zone is not None else (ctx.tzinfo if ctx is not None else UTC)
    local = v.astimezone(tz).replace(tzinfo=None)
    return DT.local_to_utc(trunc_datetime(unit, local, "timestamp with time zone"), tz)


def date_trunc_interval(field: str, v: Interval, ctx) -> Interval:
    unit = _unit(field)
    months, days, us = v.months, v.days, v.micros
    order = [
        "microseconds",
        "milliseconds",
        "second",
        "minute",
        "hour",
        "day",
        "month",
        "quarter",
        "year",
        "decade",
        "century",
        "millennium",
    ]
    if unit not in order:
        raise SqlError(f'unit "{field}" not supported for type interval', sqlstate="0A000")
    rank = order.index(unit)

    def tr(x: int, q: int) -> int:
        return int(x / q) * q if x >= 0 else -int(-x / q) * q

    if rank >= 1:
        us = tr(us, 1000)
    if rank >= 2:
        us = tr(us, USECS_PER_SEC)
    if rank >= 3:
        us = tr(us, USECS_PER_MINUTE)
    if rank >= 4:
        us = tr(us, USECS_PER_HOUR)
    if rank >= 5:
        us = 0
    if rank >= 6:
        days = 0
    if rank >= 7:
        months = (
            tr(months, {7: 3, 8: 12, 9: 120, 10: 1200, 11: 12000}.get(rank, 1))
            if rank > 6
            else months
        )
    return Interval(months, days, us)


F("date_trunc", (TEXT, TS), TS, date_trunc_ts)
F("date_trunc", (TEXT, TSTZ), TSTZ, date_trunc_tstz, volatility="s")
F("date_trunc", (TEXT, TSTZ, TEXT), TSTZ, lambda f, v, z, ctx: date_trunc_tstz(f, v, ctx, z))
F("date_trunc", (TEXT, IVL), IVL, date_trunc_interval)


# --- extract / date_part -------------------------------------------------------------------


def _iso(v: date) -> tuple[int, int, int]:
    return v.isocalendar()


def _field_of_datetime(
    unit: str, v: datetime, tzoff: int | None, typename: str, epoch_us: int | None
) -> Decimal:
    """extract(unit from v) as numeric; v is local wall-clock time."""
    if unit == "microseconds":
        return Decimal(v.second * USECS_PER_SEC + v.microsecond)
    if unit == "milliseconds":
        return Decimal(v.second * USECS_PER_SEC + v.microsecond).scaleb(-3)
    if unit == "second":
        return Decimal(v.second * USECS_PER_SEC + v.microsecond).scaleb(-6)
    if unit == "minute":
        return Decimal(v.minute)
    if unit == "hour":
        return Decimal(v.hour)
    if unit == "day":
        return Decimal(v.day)
    if unit == "month":
        return Decimal(v.month)
    if unit == "quarter":
        return Decimal((v.month - 1) // 3 + 1)
    if unit == "year":
        return Decimal(v.year)
    if unit == "decade":
        return Decimal(v.year // 10)
    if unit == "century":
        return Decimal((v.year + 99) // 100)
    if unit == "millennium":
        return Decimal((v.year + 999) // 1000)
    if unit == "week":
        return Decimal(_iso(v)[1])
    if unit == "isoyear":
        return Decimal(_iso(v)[0])
    if unit == "dow":
        return Decimal((v.weekday() + 1) % 7)
    if unit == "isodow":
        return Decimal(v.weekday() + 1)
    if unit == "doy":
        return Decimal(v.timetuple().tm_yday)
    if unit == "julian":
        from cairn.sql.functions.arith import numeric_div

        day = Decimal(v.toordinal() + 1721425)
        frac = numeric_div(Decimal(DT.time_to_micros(v.time())), Decimal(USECS_PER_DAY), None)
        return DEC.add(day, frac)
    if unit == "epoch" and epoch_us is not None:
        return Decimal(epoch_us).scaleb(-6)
    if tzoff is not None and unit in ("timezone", "timezone_hour", "timezone_minute"):
        if unit == "timezone":
            return Decimal(tzoff)
        sign = -1 if tzoff < 0 else 1
        h, m = divmod(abs(tzoff) // 60, 60)
        return Decimal(sign * (h if unit == "timezone_hour" else m))
    raise SqlError(f'unit "{unit}" not supported for type {typename}', sqlstate="0A000")


def _known(unit: str) -> bool:
    return unit in set(_UNIT_ALIASES.values()) | set(_TRUNC_UNITS)


def _check_unit(field: str, typename: str) -> str:
    unit = _unit(field)
    if not _known(unit):
        raise SqlError(f'unit "{field}" not recognized for type {typename}', sqlstate="22023")
    return unit


def _inf_extract(unit: str, v: float, typename: str) -> Decimal | None:
    if unit in ("epoch", "julian", "year", "decade", "century", "millennium", "isoyear"):
        return Decimal("Infinity") if v > 0 else Decimal("-Infinity")
    return None


def extract_ts(field: str, v: Any, ctx) -> Decimal | None:
    unit = _check_unit(field, "timestamp without time zone")
    if isinstance(v, float):
        return _inf_extract(unit, v, "timestamp")
    epoch = DT.timestamp_to_micros(v) + 946684800 * USECS_PER_SEC
    r = _field_of_datetime(unit, v, None, "timestamp without time zone", epoch)
    return r


def extract_tstz(field: str, v: Any, ctx) -> Decimal | None:
    unit = _check_unit(field, "timestamp with time zone")
    if isinstance(v, float):
        return _inf_extract(unit, v, "timestamp with time zone")
    tz = ctx.tzinfo if ctx is not None else UTC
    local = v.astimezone(tz)
    off = int(local.utcoffset().total_seconds())
    epoch = DT.timestamp_to_micros(v) + 946684800 * USECS_PER_SEC
    if unit == "julian":
        local_naive = local.replace(tzinfo=None)
        return _field_of_datetime(unit, local_naive, off, "timestamp with time zone", epoch)
    return _field_of_datetime(
        unit, local.replace(tzinfo=None), off, "timestamp with time zone", epoch
    )


def extract_date(field: str, v: Any, ctx) -> Decimal | None:
    unit = _check_unit(field, "date")
    if isinstance(v, float):
        return _inf_extract(unit, v, "date")
    if unit in (
        "microseconds",
        "milliseconds",
        "second",
        "minute",
        "hour",
        "timezone",
        "timezone_hour",
        "timezone_minute",
    ):
        raise SqlError(f'unit "{field}" not supported for type date', sqlstate="0A000")
    if unit == "epoch":
        return Decimal((v.toordinal() - date(1970, 1, 1).toordinal()) * 86400)
    if unit == "julian":
        return Decimal(v.toordinal() + 1721425)
    return _field_of_datetime(unit, datetime(v.year, v.month, v.day), None, "date", None)


def extract_time(field: str, v: time, ctx) -> Decimal:
    unit = _check_unit(field, "time without time zone")
    us = DT.time_to_micros(v)
    if unit == "epoch":
        return Decimal(us).scaleb(-6)
    if unit in ("microseconds", "milliseconds", "second", "minute", "hour"):
        return _field_of_datetime(unit, datetime.combine(date(2000, 1, 1), v), None, "time", None)
    raise SqlError(
        f'unit "{field}" not supported for type time without time zone', sqlstate="0A000"
    )


def extract_interval(field: str, v: Interval, ctx) -> Decimal:
    unit = _check_unit(field, "interval")
    sec_us = (
        v.micros % (60 * USECS_PER_SEC) if v.micros >= 0 else -((-v.micros) % (60 * USECS_PER_SEC))
    )
    whole_h = int(v.micros / USECS_PER_HOUR) if v.micros >= 0 else -int(-v.micros / USECS_PER_HOUR)
    rem_min = v.micros - whole_h * USECS_PER_HOUR
    minute = int(rem_min / USECS_PER_MINUTE) if rem_min >= 0 else -int(-rem_min / USECS_PER_MINUTE)
    years = int(v.months / 12) if v.months >= 0 else -int(-v.months / 12)
    if unit == "microseconds":
        return Decimal(sec_us)
    if unit == "milliseconds":
        return Decimal(sec_us).scaleb(-3)
    if unit == "second":
        return Decimal(sec_us).scaleb(-6)
    if unit == "minute":
        return Decimal(minute)
    if unit == "hour":
        return Decimal(whole_h)
    if unit == "day":
        return Decimal(v.days)
    if unit == "month":
        return Decimal(v.months - years * 12)
    if unit == "quarter":
        return Decimal((v.months - years * 12) // 3 + 1)
    if unit == "year":
        return Decimal(years)
    if unit == "decade":
        return Decimal(int(years / 10))
    if unit == "century":
        return Decimal(int(years / 100))
    if unit == "millennium":
        return Decimal(int(years / 1000))
    if unit == "epoch":
        secs = Decimal(v.micros).scaleb(-6)
        days_secs = (
            Decimal(years) * Decimal("365.25") * 86400
            + Decimal(v.months - years * 12) * 30 * 86400
            + Decimal(v.days) * 86400
        )
        return DEC.add(secs, days_secs).quantize(Decimal("0.000001"), context=DEC)
    raise SqlError(f'unit "{field}" not supported for type interval', sqlstate="0A000")


def _as_float(fn):
    def f(field: str, v: Any, ctx) -> float | None:
        r = fn(field, v, ctx)
        return None if r is None else float(r)

    return f


for _t, _fn in (
    (TS, extract_ts),
    (TSTZ, extract_tstz),
    (DATE, extract_date),
    (TIME, extract_time),
    (IVL, extract_interval),
):
    F("extract", (TEXT, _t), NUMERIC, _fn, volatility="s" if _t == TSTZ else "i")
    F("date_part", (TEXT, _t), FLOAT8, _as_float(_fn), volatility="s" if _t == TSTZ else "i")


# --- age, make_*, to_timestamp, justify, isfinite ---------------------------------------------


def age(a: Any, b: Any, ctx=None) -> Interval:
    """PostgreSQL's age: symbolic years/months/days, then the time difference."""
    if isinstance(a, float) or isinstance(b, float):
        raise DatetimeFieldOverflow("interval out of range")
    if a.tzinfo is not None:
        a, b = DT.to_local(a, ctx), DT.to_local(b, ctx)
    neg = a < b
    hi, lo = (b, a) if neg else (a, b)
    months = (hi.year - lo.year) * 12 + hi.month - lo.month
    days = hi.day - lo.day
    us = DT.time_to_micros(hi.time()) - DT.time_to_micros(lo.time())
    if us < 0:
        us += USECS_PER_DAY
        days -= 1
    if days < 0:
        months -= 1
        # borrow the days of the month before hi's month (PostgreSQL borrows from lo's month)
        y, m = lo.year, lo.month
        days += calendar.monthrange(y, m)[1]
    if neg:
        return Interval(-months, -days, -us)
    return Interval(months, days, us)


def _midnight_today(ctx) -> datetime:
    local = DT.to_local(_now(ctx), ctx)
    return datetime(local.year, local.month, local.day)


F("age", (TS, TS), IVL, age)
F("age", (TSTZ, TSTZ), IVL, age, volatility="s")
F("age", (TS,), IVL, lambda a, ctx: age(_midnight_today(ctx), a, ctx), volatility="s")
F(
    "age",
    (TSTZ,),
    IVL,
    lambda a, ctx: age(DT.local_to_utc(_midnight_today(ctx), ctx.tzinfo if ctx else UTC), a, ctx),
    volatility="s",
)


def make_date(y: int, m: int, d: int, ctx=None) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise DatetimeFieldOverflow(f"date field value out of range: {y}-{m:02d}-{d:02d}") from None


def make_time(h: int, mi: int, s: float, ctx=None) -> time:
    if not (0 <= h <= 23 and 0 <= mi <= 59 and 0 <= s < 60):
        raise DatetimeFieldOverflow(
            f"time field value out of range: {h}:{mi:02d}:{s:09.6f}".replace(".000000", "")
        )
    us = round(s * USECS_PER_SEC)
    return DT.micros_to_time(((h * 60 + mi) * 60) * USECS_PER_SEC + us)


def make_timestamp(y: int, mo: int, d: int, h: int, mi: int, s: float, ctx=None) -> datetime:
    dd = make_date(y, mo, d)
    t = make_time(h, mi, s)
    return datetime.combine(dd, t)


def make_timestamptz(y, mo, d, h, mi, s, ctx=None, zone: str | None = None) -> datetime:
    local = make_timestamp(y, mo, d, h, mi, s)
    tz = DT.zone_for(zone) if zone else (ctx.tzinfo if ctx is not None else UTC)
    return DT.local_to_utc(local, tz)


def make_interval(
    years=0, months=0, weeks=0, days=0, hours=0, mins=0, secs=0.0, ctx=None
) -> Interval:
    if isinstance(secs, float) and (secs != secs or math.isinf(secs)):
        raise DatetimeFieldOverflow("interval out of range")
    us = round((hours * 3600 + mins * 60) * USECS_PER_SEC + float(secs) * USECS_PER_SEC)
    return IV.checked(years * 12 + months, weeks * 7 + days, us)


F("make_date", (INT4, INT4, INT4), DATE, make_date)
F("make_time", (INT4, INT4, FLOAT8), TIME, make_time)
F("make_timestamp", (INT4, INT4, INT4, INT4, INT4, FLOAT8), TS, make_timestamp)
F(
    "make_timestamptz",
    (INT4, INT4, INT4, INT4, INT4, FLOAT8),
    TSTZ,
    make_timestamptz,
    volatility="s",
)
F(
    "make_timestamptz",
    (INT4, INT4, INT4, INT4, INT4, FLOAT8, TEXT),
    TSTZ,
    lambda y, mo, d, h, mi, s, z, ctx: make_timestamptz(y, mo, d, h, mi, s, ctx, z),
)
for _n in range(0, 8):
    _args = (INT4,) * min(_n, 6) + ((FLOAT8,) if _n == 7 else ())
    F("make_interval", _args, IVL, lambda *a: make_interval(*a[:-1]))


def to_timestamp_float(v: float, ctx=None) -> Any:
    if v != v:
        raise DatetimeFieldOverflow("timestamp cannot be NaN")
    if math.isinf(v):
        return v
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(v * 1e6))
    except OverflowError:
        raise DatetimeFieldOverflow(f'timestamp out of range: "{v}"') from None


F("to_timestamp", (FLOAT8,), TSTZ, to_timestamp_float)
F("justify_days", (IVL,), IVL, lambda v, ctx: IV.justify_days(v))
F("justify_hours", (IVL,), IVL, lambda v, ctx: IV.justify_hours(v))
F("justify_interval", (IVL,), IVL, lambda v, ctx: IV.justify_interval(v))
for _t in (DATE, TS, TSTZ):
    F("isfinite", (_t,), T.BOOL, lambda v, ctx: not isinstance(v, float))
F("isfinite", (IVL,), T.BOOL, lambda v, ctx: True)
F(
    "timezone",
    (TEXT, TSTZ),
    TS,
    lambda z, v, ctx: (
        v if isinstance(v, float) else v.astimezone(DT.zone_for(z)).replace(tzinfo=None)
    ),
)
F(
    "timezone",
    (TEXT, TS),
    TSTZ,
    lambda z, v, ctx: v if isinstance(v, float) else DT.local_to_utc(v, DT.zone_for(z)),
)


# --- generate_series over timestamps -----------------------------------------------------------


def _series(start: Any, stop: Any, step: Interval, add) -> list:
    if step.sort_value() == 0:
        raise InvalidParameterValue("step size cannot equal zero")
    if isinstance(start, float) or isinstance(stop, float):
        raise InvalidParameterValue("start and stop must be finite")
    out = []
    v = start
    up = step.sort_value() > 0
    while (v <= stop) if up else (v >= stop):
        out.append(v)
        v = add(v, step)
    return out


F(
    "generate_series",
    (TS, TS, IVL),
    TS,
    lambda a, b, s, ctx: _series(a, b, s, DT.timestamp_plus_interval),
    retset=True,
)
F(
    "generate_series",
    (TSTZ, TSTZ, IVL),
    TSTZ,
    lambda a, b, s, ctx: _series(a, b, s, lambda v, iv: DT.timestamptz_plus_interval(v, iv, ctx)),
    retset=True,
    volatility="s",
)
