"""The evaluation context: the session settings and clocks that type I/O and functions read.

PostgreSQL's output of a timestamptz depends on the session's TimeZone, now() on the
transaction's start, random() on the session's seed. The lead's executor makes one
``EvalContext`` per session (and refreshes the statement and transaction times); nothing here is
global, so two sessions never see each other's settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass
class EvalContext:
    """Session settings (PostgreSQL's GUC names) and clocks for one session."""

    timezone: str = "UTC"  # TimeZone, an IANA name
    datestyle: str = "ISO, MDY"  # only ISO output with MDY input order is implemented
    intervalstyle: str = "postgres"
    extra_float_digits: int = 1  # >0 means shortest round-trip output, as PostgreSQL 12+
    transaction_timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    statement_timestamp: datetime | None = None
    rng: random.Random = field(default_factory=random.Random)
    settings: dict[str, str] = field(default_factory=dict)  # anything else (current_setting)

    @cached_property
    def tzinfo(self) -> ZoneInfo:
        return _zone(self.timezone)

    def set_timezone(self, name: str) -> None:
        """Change TimeZone (validates the name; ``InvalidParameterValue`` if unknown)."""
        zone = _zone(name)
        self.timezone = name
        self.__dict__["tzinfo"] = zone

    def statement_time(self) -> datetime:
        return self.statement_timestamp or self.transaction_timestamp


def _zone(name: str) -> ZoneInfo:
    from cairn.sql.errors import InvalidParameterValue

    key = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC"}.get(name.lower(), name)
    try:
        return ZoneInfo(key)
    except (ValueError, OSError, KeyError):
        raise InvalidParameterValue(f'invalid value for parameter "TimeZone": "{name}"') from None
