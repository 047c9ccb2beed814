"""The one place the service asks for the current time (tests may replace ``now``)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
