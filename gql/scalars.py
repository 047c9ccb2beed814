"""Custom scalars: ``DateTime`` (ISO 8601 UTC with Z), ``Decimal`` (exact money as a
string) and ``JSON``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition

from gql.resolvers.timestamps import format_utc, parse_date_or_datetime


def _serialize_datetime(value: datetime) -> str:
    return format_utc(value)


def _parse_datetime(value: Any) -> date | datetime:
    # A date alone stays a ``date``: as a filter bound it means that whole day (see
    # gql.resolvers.timestamps). Values without an offset are read in the tenant's zone.
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    return parse_date_or_datetime(value, "DateTime")


def _serialize_decimal(value: Decimal) -> str:
    return f"{value:.2f}"


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("Decimal must be a number or a decimal string")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal number")
    return amount


DATETIME = strawberry.scalar(
    name="DateTime",
    description="An ISO 8601 instant in UTC, e.g. 2023-06-21T14:35:12Z",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)
DECIMAL = strawberry.scalar(
    name="Decimal",
    description='An exact decimal amount as a string, e.g. "2497.00"',
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: DATETIME, Decimal: DECIMAL}
