"""GraphQL enums. Values are upper case in the schema and lower case in the domain."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class OrderStatus(Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@strawberry.enum
class TimelineEventType(Enum):
    SUCCESS = "success"
    PENDING = "pending"
    ERROR = "error"
    INFO = "info"


@strawberry.enum
class StatsPeriod(Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@strawberry.enum
class OrderSortField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    FINAL_AMOUNT = "final_amount"
    STATUS = "status"
    NAME = "name"
    MOBILE = "mobile"
    REFERENCE_ID = "referenceId"


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"
