"""GraphQL output types, each built from an ORM row with ``from_model``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from db import models
from gql.context import RequestContext
from gql.enums import OrderStatus, TimelineEventType
from gql.resolvers import bulk, customers, listing, orders, stats
from gql.resolvers.identifiers import event_id
from gql.resolvers.orders import OrderPage as OrderPageResult
from gql.resolvers.validation import timestamp


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(timestamp(value, "timestamp"))


@strawberry.type
class ProductItem:
    product_retailer_id: str | None
    sku: str | None
    name: str
    quantity: int
    price: Decimal
    line_total: Decimal

    @classmethod
    def from_model(cls, item: models.OrderItem) -> ProductItem:
        return cls(
            product_retailer_id=item.product_retailer_id,
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            price=item.price,
            line_total=item.price * item.quantity,
        )


@strawberry.type
class GeoPoint:
    lat: float
    lng: float


@strawberry.type
class DeliveryDetails:
    recipient_name: str | None = None
    email: str | None = None
    phone: str | None = None
    alternate_phone: str | None = None
    address: str | None = None
    notes: str | None = None
    location: GeoPoint | None = None
    tracking_number: str | None = None
    estimated_delivery: datetime | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DeliveryDetails | None:
        if data is None:
            return None
        location = data.get("location")
        return cls(
            recipient_name=data.get("recipient_name"),
            email=data.get("email"),
            phone=data.get("phone"),
            alternate_phone=data.get("alternate_phone"),
            address=data.get("address"),
            notes=data.get("notes"),
            location=GeoPoint(lat=location["lat"], lng=location["lng"]) if location else None,
            tracking_number=data.get("tracking_number"),
            estimated_delivery=_instant(data.get("estimated_delivery")),
        )


@strawberry.type
class PaymentInfo:
    status: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    payment_id: str | None = None
    method: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PaymentInfo | None:
        if data is None:
            return None
        return cls(
            status=data.get("status"),
            amount=_decimal(data.get("amount")),
            currency=data.get("currency"),
            payment_id=data.get("payment_id"),
            method=data.get("method"),
        )


@strawberry.type
class StatusChange:
    status: OrderStatus
    timestamp: datetime
    note: str | None

    @classmethod
    def from_model(cls, event: models.TimelineEvent) -> StatusChange:
        assert event.status is not None
        return cls(
            status=OrderStatus(event.status),
            timestamp=event.created_at,
            note=(event.metadata_ or {}).get("note"),
        )


@strawberry.type
class TimelineEvent:
    id: strawberry.ID
    title: str
    description: str | None
    type: TimelineEventType
    timestamp: datetime
    metadata: JSON | None
    actor: str

    @classmethod
    def from_model(cls, event: models.TimelineEvent) -> TimelineEvent:
        return cls(
            id=strawberry.ID(event_id(event.seq)),
            title=event.title,
            description=event.description,
            type=TimelineEventType(event.type),
            timestamp=event.created_at,
            metadata=JSON(event.metadata_) if event.metadata_ is not None else None,
            actor=event.actor,
        )


@strawberry.type
class Order:
    id: strawberry.ID
    reference_id: str
    status: OrderStatus
    mobile: str
    name: str | None
    email: str | None
    user_id: str | None
    final_amount: Decimal
    delivery_method: str
    delivery_details: DeliveryDetails | None
    product_customizations: JSON | None
    payment_info: PaymentInfo | None
    payment_status: str | None
    external_order_source: str | None
    external_order_id: str | None
    external_order_number: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(
        description="Bumped by every change; pass it as expectedVersion to mutations."
    )

    @strawberry.field
    async def product_items(self, info: strawberry.Info[RequestContext]) -> list[ProductItem]:
        items = await info.context.loaders.items.load(str(self.id))
        return [ProductItem.from_model(item) for item in items]

    @strawberry.field(
        description="Status changes, the initial status included (REST order_history)."
    )
    async def history(self, info: strawberry.Info[RequestContext]) -> list[StatusChange]:
        events = await info.context.loaders.history.load(str(self.id))
        return [StatusChange.from_model(event) for event in events]

    @strawberry.field(description="Every timeline event of the order, oldest first.")
    async def timeline(self, info: strawberry.Info[RequestContext]) -> list[TimelineEvent]:
        events = await info.context.loaders.timeline.load(str(self.id))
        return [TimelineEvent.from_model(event) for event in events]

    @classmethod
    def from_model(cls, order: models.Order) -> Order:
        return cls(
            id=strawberry.ID(order.id),
            reference_id=order.reference_id,
            status=OrderStatus(order.status),
            mobile=order.mobile,
            name=order.name,
            email=order.email,
            user_id=order.user_id,
            final_amount=order.final_amount,
            delivery_method=order.delivery_method,
            delivery_details=DeliveryDetails.from_json(order.delivery_details),
            product_customizations=(
                JSON(order.product_customizations)
                if order.product_customizations is not None
                else None
            ),
            payment_info=PaymentInfo.from_json(order.payment_info),
            payment_status=order.payment_status,
            external_order_source=order.external_order_source,
            external_order_id=order.external_order_id,
            external_order_number=order.external_order_number,
            notes=order.notes,
            created_at=order.created_at,
            updated_at=order.updated_at,
            version=order.version,
        )


@strawberry.type
class OrderPage:
    orders: list[Order]
    total: int
    total_pages: int
    page: int
    limit: int

    @classmethod
    def from_result(cls, result: OrderPageResult) -> OrderPage:
        return cls(
            orders=[Order.from_model(order) for order in result.orders],
            total=result.total,
            total_pages=result.total_pages,
            page=result.page,
            limit=result.limit,
        )


@strawberry.type
class StatsWindow:
    start: datetime | None = strawberry.field(description="First instant, UTC; null: all time.")
    end: datetime | None = strawberry.field(description="Last second, UTC; null: all time.")

    @classmethod
    def from_window(cls, window: stats.StatsWindow) -> StatsWindow:
        end = window.end - timedelta(seconds=1) if window.end else None
        return cls(start=window.start, end=end)


@strawberry.type
class StatusCount:
    status: OrderStatus
    count: int


@strawberry.type
class StatsBucket:
    start: datetime
    total_orders: int
    revenue: Decimal


@strawberry.type
class Stats:
    total_orders: int
    revenue: Decimal
    average_order_value: Decimal
    period: StatsWindow
    orders_by_status: list[StatusCount]
    _window: strawberry.Private[stats.StatsWindow]

    @strawberry.field(
        description="Per-day buckets (per month for ranges over 62 days, and for all time) "
        "in the window's time zone; they add up to the totals."
    )
    async def series(self, info: strawberry.Info[RequestContext]) -> list[StatsBucket]:
        buckets = await stats.stats_series(info.context, self._window)
        return [
            StatsBucket(start=b.start, total_orders=b.total_orders, revenue=b.revenue)
            for b in buckets
        ]

    @classmethod
    def from_summary(cls, summary: stats.StatsSummary) -> Stats:
        return cls(
            total_orders=summary.total_orders,
            revenue=summary.revenue,
            average_order_value=summary.average_order_value,
            period=StatsWindow.from_window(summary.window),
            orders_by_status=[
                StatusCount(status=OrderStatus(status), count=count)
                for status, count in summary.orders_by_status.items()
            ],
            _window=summary.window,
        )


@strawberry.type
class Customer:
    mobile: str
    name: str | None = strawberry.field(description="From the latest order that has one.")
    email: str | None = strawberry.field(description="From the latest order that has one.")
    order_count: int
    total_spent: Decimal = strawberry.field(description="Excludes cancelled and refunded orders.")
    first_order_at: datetime
    last_order_at: datetime
    _digits: strawberry.Private[str]

    @strawberry.field(description="The customer's orders, newest first.")
    async def orders(
        self, info: strawberry.Info[RequestContext], page: int = 1, limit: int = 10
    ) -> OrderPage:
        query = listing.OrderListQuery(mobile=self._digits, page=page, limit=limit).validated()
        return OrderPage.from_result(
            await orders.list_orders(info.context, query, with_items=False)
        )

    @classmethod
    def from_customer(cls, customer: customers.Customer) -> Customer:
        return cls(
            mobile=customer.mobile,
            name=customer.name,
            email=customer.email,
            order_count=customer.order_count,
            total_spent=customer.total_spent,
            first_order_at=customer.first_order_at,
            last_order_at=customer.last_order_at,
            _digits=customer.mobile_digits,
        )


@strawberry.type
class BulkError:
    code: str
    message: str
    details: JSON | None


@strawberry.type
class BulkCreateItem:
    index: int = strawberry.field(description="Position of the order in the request.")
    order_id: strawberry.ID | None
    reference_id: str | None
    error: BulkError | None


@strawberry.type
class BulkCreateResult:
    created: int
    failed: int
    results: list[BulkCreateItem]

    @classmethod
    def from_results(cls, results: list[bulk.BulkResult]) -> BulkCreateResult:
        items = [
            BulkCreateItem(
                index=result.index,
                order_id=strawberry.ID(result.order_id) if result.order_id else None,
                reference_id=result.reference_id,
                error=BulkError(
                    code=result.error.code,
                    message=result.error.message,
                    details=JSON(result.error.details) if result.error.details else None,
                )
                if result.error
                else None,
            )
            for result in results
        ]
        failed = sum(1 for item in items if item.error)
        return cls(created=len(items) - failed, failed=failed, results=items)


@strawberry.type
class Webhook:
    id: strawberry.ID
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the service switched it off (410 Gone, failing for days)."
    )
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, endpoint: models.WebhookEndpoint) -> Webhook:
        return cls(
            id=strawberry.ID(endpoint.id),
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failing_since=endpoint.failing_since,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


@strawberry.type
class WebhookWithSecret:
    webhook: Webhook
    secret: str = strawberry.field(description="Shown once: store it to verify signatures.")


@strawberry.type
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    message_id: str = strawberry.field(description="The webhook-id header, stable across retries.")
    event_type: str
    order_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[WebhookAttempt]

    @classmethod
    def from_model(
        cls,
        delivery: models.WebhookDelivery,
        event_type: str,
        attempts: list[models.WebhookAttempt],
    ) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(delivery.id)),
            message_id=delivery.message_id,
            event_type=event_type,
            order_id=delivery.order_id,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            attempt_log=[
                WebhookAttempt(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    error=a.error,
                )
                for a in attempts
            ],
        )


@strawberry.type
class WebhookDeliveryPage:
    deliveries: list[WebhookDelivery]
    total: int
    page: int
    limit: int
