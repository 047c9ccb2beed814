"""Column types that behave the same on SQLite and PostgreSQL.

- ``UTCDateTime``: always timezone-aware UTC in Python. SQLite has no time zones, so values
  are stored as naive UTC there and given their zone back on the way out.
- ``Money``: exact amounts with two decimals, stored as integer minor units (cents). Integer
  storage keeps ``SUM`` exact on SQLite too, whose NUMERIC affinity would otherwise store
  binary floats.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        cents = (value if isinstance(value, Decimal) else Decimal(value)) * 100
        whole = int(cents)
        if whole != cents:
            raise ValueError(f"amount {value} has more than two decimals")
        return whole

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(CENT)
