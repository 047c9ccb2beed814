"""Timestamps in the contract's one format, and the parsing of date filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gql.errors import ValidationError


def format_utc(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z`` and whole seconds: ``2023-06-21T14:35:12Z``."""
    # isoformat pads the year to four digits (strftime's %Y does not below 1000).
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown {field} {name!r}: use an IANA name such as UTC or Asia/Kolkata",
            {"field": field},
        ) from None


def parse_date_or_datetime(raw: str, field: str) -> date | datetime:
    """An ISO 8601 date (``2024-06-01``) or date-time; a date stays a ``date``."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field} must be an ISO 8601 date or date-time, e.g. 2024-06-01 or "
            "2024-06-01T09:30:00Z",
            {"field": field},
        ) from None


def window_start(value: date | datetime, tz: ZoneInfo) -> datetime:
    """The first instant a ``startDate`` admits. Values without an offset are local to
    ``tz`` (the tenant's time zone)."""
    try:
        return _window_start(value, tz)
    except OverflowError:
        raise ValidationError(f"Date {value.isoformat()} is out of range") from None


def _window_start(value: date | datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=tz).astimezone(UTC)
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


def window_end(value: date | datetime, tz: ZoneInfo) -> datetime:
    """The first instant an ``endDate`` no longer admits: the end is inclusive at the
    precision it was given in (a date includes that whole day, a time its whole second)."""
    try:
        if not isinstance(value, datetime):
            # The next local midnight, not +24 h: days around a DST change are 23 or 25 h.
            return _window_start(value + timedelta(days=1), tz)
        moment = _window_start(value, tz)
        step = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
        return moment + step
    except OverflowError:
        raise ValidationError(f"Date {value.isoformat()} is out of range") from None
