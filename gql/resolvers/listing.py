"""The order list query: its parameters, their validation, and the SQL they become.

REST passes raw query-string values through ``parse_list_params``; GraphQL builds an
``OrderListQuery`` from typed arguments. Both end in ``OrderListQuery.validated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from db.models import Order
from gql.errors import ValidationError
from gql.resolvers.statuses import parse_status
from gql.resolvers.timestamps import parse_date_or_datetime, window_end, window_start, zone
from gql.resolvers.validation import customer_digits, digits_of

MAX_LIMIT = 100
MAX_SEARCH_LENGTH = 200

# REST sortBy value -> column. The first is the default.
SORT_COLUMNS: dict[str, Any] = {
    "created_at": Order.created_at,
    "updated_at": Order.updated_at,
    "final_amount": Order.final_amount,
    "status": Order.status,
    "name": Order.name,
    "mobile": Order.mobile,
    "referenceId": Order.reference_id,
}

LIST_PARAMS = frozenset(
    {
        "page",
        "limit",
        "status",
        "startDate",
        "endDate",
        "searchTerm",
        "mobile",
        "sortBy",
        "sortDirection",
    }
)
# Export takes the same filters and sort, but streams every match instead of a page.
EXPORT_PARAMS = LIST_PARAMS - {"page", "limit"}

# Characters allowed around the digits of a phone-number search ("+91 98765-43210").
_PHONE_PUNCTUATION = set("+-() .")


@dataclass(frozen=True)
class OrderListQuery:
    statuses: tuple[str, ...] = ()
    start: date | datetime | None = None
    end: date | datetime | None = None
    search: str | None = None
    # An exact customer: orders whose mobile has these digits, whatever the punctuation.
    mobile: str | None = None
    sort_by: str = "created_at"
    descending: bool = True
    page: int = 1
    limit: int = 10

    def validated(self) -> OrderListQuery:
        if self.page < 1:
            raise ValidationError("page must be a whole number of at least 1", {"field": "page"})
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError(
                f"limit must be a whole number between 1 and {MAX_LIMIT}", {"field": "limit"}
            )
        if self.sort_by not in SORT_COLUMNS:
            raise ValidationError(
                f"sortBy must be one of: {', '.join(SORT_COLUMNS)}",
                {"field": "sortBy", "allowed": list(SORT_COLUMNS)},
            )
        search = self.search.strip() if self.search else None
        if search and "\x00" in search:
            raise ValidationError(
                "searchTerm must not contain NUL characters", {"field": "searchTerm"}
            )
        if search and len(search) > MAX_SEARCH_LENGTH:
            raise ValidationError(
                f"searchTerm must be at most {MAX_SEARCH_LENGTH} characters",
                {"field": "searchTerm"},
            )
        return replace(
            self,
            search=search or None,
            mobile=customer_digits(self.mobile) if self.mobile is not None else None,
            statuses=tuple(dict.fromkeys(self.statuses)),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def parse_list_params(
    params: Mapping[str, str], allowed: frozenset[str] = LIST_PARAMS
) -> OrderListQuery:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValidationError(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            {"fields": unknown, "allowed": sorted(allowed)},
        )
    for name, value in params.items():
        if "\x00" in value:
            raise ValidationError(f"{name} must not contain NUL characters", {"field": name})
    statuses: tuple[str, ...] = ()
    if params.get("status"):
        statuses = tuple(parse_status(part) for part in params["status"].split(",") if part.strip())
    direction = params.get("sortDirection", "desc").strip().lower()
    if direction not in ("asc", "desc"):
        raise ValidationError("sortDirection must be asc or desc", {"field": "sortDirection"})
    return OrderListQuery(
        statuses=statuses,
        start=_date_param(params, "startDate"),
        end=_date_param(params, "endDate"),
        search=params.get("searchTerm"),
        mobile=params.get("mobile"),
        sort_by=params.get("sortBy", "created_at").strip(),
        descending=direction == "desc",
        page=int_param(params, "page", 1),
        limit=int_param(params, "limit", 10),
    ).validated()


def int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ValidationError(f"{name} must be a whole number", {"field": name})
    return int(text)


def _date_param(params: Mapping[str, str], name: str) -> date | datetime | None:
    raw = params.get(name)
    return parse_date_or_datetime(raw, name) if raw and raw.strip() else None


# --- SQL -------------------------------------------------------------------------------


def filters(
    tenant_id: str, query: OrderListQuery, timezone: str, dialect: str
) -> list[ColumnElement[bool]]:
    tz = zone(timezone)
    conditions: list[ColumnElement[bool]] = [Order.tenant_id == tenant_id]
    if query.statuses:
        conditions.append(Order.status.in_(query.statuses))
    start = window_start(query.start, tz) if query.start is not None else None
    end = window_end(query.end, tz) if query.end is not None else None
    if start and end and start >= end:
        raise ValidationError("startDate must be before endDate", {"field": "startDate"})
    if start:
        conditions.append(Order.created_at >= start)
    if end:
        conditions.append(Order.created_at < end)
    if query.search:
        conditions.append(_search(query.search, dialect))
    if query.mobile:
        conditions.append(Order.mobile_digits == query.mobile)
    return conditions


def _search(term: str, dialect: str) -> ColumnElement[bool]:
    """``search_text`` contains the term. A phone-like term also matches by its digits
    alone ("+91 98765" finds "+919876543210"); ``search_text`` holds those digits too.

    On PostgreSQL a pg_trgm index answers it; SQLite scans the tenant's rows (see
    migration 0004 for why not FTS5).
    """
    patterns = [f"%{_escape_like(term.lower())}%"]
    digits = digits_of(term)
    if digits and all(ch.isdigit() or ch in _PHONE_PUNCTUATION for ch in term):
        patterns.append(f"%{digits}%")
    return or_(*(Order.search_text.like(pattern, escape="\\") for pattern in patterns))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ordering(query: OrderListQuery) -> list[UnaryExpression[Any]]:
    column = SORT_COLUMNS[query.sort_by]
    # NULLs (a missing name) sort as the largest value on both SQLite and PostgreSQL.
    primary = column.desc().nulls_first() if query.descending else column.asc().nulls_last()
    tie_breaker = Order.id.desc() if query.descending else Order.id.asc()
    return [primary, tie_breaker]


def page_statement(conditions: list[ColumnElement[bool]], query: OrderListQuery) -> Select[Any]:
    return (
        select(Order)
        .where(and_(*conditions))
        .order_by(*ordering(query))
        .limit(query.limit)
        .offset(query.offset)
    )


def count_statement(conditions: list[ColumnElement[bool]]) -> Select[Any]:
    return select(func.count()).select_from(Order).where(and_(*conditions))
