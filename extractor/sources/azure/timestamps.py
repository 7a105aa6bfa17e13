"""Feed timestamps as integer 100-ns ticks since 0001-01-01T00:00:00Z.

The service writes up to 7 fractional digits (the .NET and SQL Server resolution); Python's
datetime keeps 6. Ticks keep the 7th, so a window can start exactly at an entry's timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

TICKS_PER_SECOND = 10_000_000
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
MIN_TICKS = 0
# 9999-12-31T23:59:59.9999999Z, the spec's default endTime.
MAX_TICKS = (date(9999, 12, 31).toordinal()) * TICKS_PER_DAY - 1

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(text: str) -> int:
    """Parse ISO-8601 with a mandatory zone and up to 7 fractional digits into UTC ticks.

    Raises ValueError with a reason a client can act on.
    """
    match = _ISO_RE.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not an ISO-8601 date-time")
    tz = match.group("tz")
    if tz is None:
        raise ValueError(f"'{text}' has no time zone (add 'Z' or an offset like '+00:00')")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = (match.group(7) or "").ljust(7, "0")
    try:
        days = date(year, month, day).toordinal() - 1
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid date: {exc}") from None
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"'{text}' is not a valid time of day")
    offset_seconds = 0
    if tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset_hours, offset_minutes = int(digits[:2]), int(digits[2:])
        if offset_hours > 14 or offset_minutes > 59:
            raise ValueError(f"'{text}' has an invalid offset")
        offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60)
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds
    return seconds * TICKS_PER_SECOND + int(fraction)


def datetime_to_ticks(value: datetime) -> int:
    """A datetime (naive means UTC) as ticks; microseconds become whole ticks."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    days = value.toordinal() - 1
    seconds = days * 86_400 + value.hour * 3600 + value.minute * 60 + value.second
    return seconds * TICKS_PER_SECOND + value.microsecond * 10


def format_ticks(ticks: int) -> str:
    """The wire form: 7 fractional digits and '+00:00', like .NET's DateTimeOffset 'o'."""
    days, rest = divmod(ticks, TICKS_PER_DAY)
    seconds, fraction = divmod(rest, TICKS_PER_SECOND)
    hour, rem = divmod(seconds, 3600)
    minute, second = divmod(rem, 60)
    day = date.fromordinal(days + 1)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}.{fraction:07d}+00:00"


def ticks_to_datetime(ticks: int) -> datetime:
    """Ticks as a UTC datetime, cut to microseconds (the landing column's precision)."""
    return datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
