"""Dates as feeds write them: ISO 8601, RFC 822 (RSS), GDELT's compact stamps, day-first tables.

One tolerant reader so that every connector treats odd formats the same way: a value that is
present but unreadable is an error the caller turns into a quarantine reason, never a silent None.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

from biotracker.errors import RecordError
from biotracker.schema import UTC, as_utc

#: Dates outside these years are not plausible for event reports (typos, epoch zero, 9999).
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})Z?)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")


def parse_when(value: object, *, field: str = "date", day_first: bool = True) -> dt.datetime | None:
    """Aware UTC datetime of ``value``; None when empty; ``RecordError`` when present but unreadable.

    Accepts datetimes/dates, ISO 8601 (``2024-05-01``, ``2024-05-01T10:00:00Z``), RFC 822
    (``Thu, 10 Dec 2020 13:00:00 +0100``), compact stamps (``20240501T101500Z``, ``20240501``)
    and day-first numeric dates (``17/08/2017``, as FAO and many ministries write them).
    """
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        try:
            return _plausible(as_utc(value), field, value)
        except OverflowError:
            raise RecordError(f"{field} {str(value)[:60]!r} is outside the range of dates") from None
    if not isinstance(value, str):
        raise RecordError(f"{field} is a {type(value).__name__}, not a date written as text")
    text = value.strip()
    if not text:
        return None
    try:
        when = _parse_text(text, day_first)
    except (OverflowError, ValueError):  # "0001-01-01T00:00+01:00" overflows on conversion to UTC
        when = None
    if when is None:
        raise RecordError(
            f"{field} {text[:60]!r} is not a date this project can read (ISO 8601, RFC 822, "
            "YYYYMMDDTHHMMSSZ, YYYY/MM/DD or DD/MM/YYYY)"
        )
    return _plausible(when, field, text)


def _parse_text(text: str, day_first: bool) -> dt.datetime | None:
    try:
        return as_utc(text)
    except ValueError:
        pass
    match = _COMPACT.match(text)
    if match:
        year, month, day, hour, minute, second = (int(p) if p else 0 for p in match.groups())
        try:
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            return None
    match = _YEAR_FIRST.match(text)
    if match:
        year, month, day = (int(p) for p in match.groups())
        try:
            return dt.datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            return None
    match = _DAY_FIRST.match(text)
    if match:
        a, b, year = (int(p) for p in match.groups())
        day, month = (a, b) if day_first else (b, a)
        try:
            return dt.datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            return None
    try:
        return as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _plausible(when: dt.datetime, field: str, raw: object) -> dt.datetime:
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise RecordError(
            f"{field} {str(raw)[:60]!r} is outside {EARLIEST_YEAR}-{LATEST_YEAR}: not a plausible date"
        )
    return when


def not_after(
    when: dt.datetime | None, limit: dt.datetime | None, *, field: str, slack_hours: int = 24
) -> None:
    """Reject a date later than the payload's own build date (plus slack for time zones).

    ``to_report`` must not read the clock, so "in the future" is judged against a date the
    payload itself carries (an RSS channel's ``lastBuildDate``, an API's response time).
    """
    if when is not None and limit is not None and when > limit + dt.timedelta(hours=slack_hours):
        raise RecordError(
            f"{field} {when.isoformat()} is after the payload was built ({limit.isoformat()}): "
            "a date in the future"
        )
