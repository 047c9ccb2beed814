"""GraphQL input types and their conversion to the REST-shaped mappings the resolver
functions validate (so both interfaces share one set of rules and messages)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from gql.enums import OrderSortField, OrderStatus, SortDirection, TimelineEventType

# Python attribute -> REST field name, where they differ.
_REST_NAMES = {"reference_id": "referenceId"}


@strawberry.input
class ProductItemInput:
    name: str
    quantity: int
    price: Decimal
    product_retailer_id: str | None = strawberry.UNSET
    sku: str | None = strawberry.UNSET


@strawberry.input
class GeoPointInput:
    lat: float
    lng: float


@strawberry.input
class DeliveryDetailsInput:
    recipient_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    alternate_phone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    location: GeoPointInput | None = strawberry.UNSET
    tracking_number: str | None = strawberry.UNSET
    estimated_delivery: datetime | None = strawberry.UNSET


@strawberry.input
class PaymentInfoInput:
    status: str | None = strawberry.UNSET
    amount: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    payment_id: str | None = strawberry.UNSET
    method: str | None = strawberry.UNSET


@strawberry.input
class CreateOrderInput:
    mobile: str
    product_items: list[ProductItemInput]
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    user_id: str | None = strawberry.UNSET
    status: OrderStatus | None = strawberry.UNSET
    final_amount: Decimal | None = strawberry.UNSET
    delivery_method: str | None = strawberry.UNSET
    delivery_details: DeliveryDetailsInput | None = strawberry.UNSET
    product_customizations: JSON | None = strawberry.UNSET
    payment_info: PaymentInfoInput | None = strawberry.UNSET
    payment_status: str | None = strawberry.UNSET
    reference_id: str | None = strawberry.UNSET
    external_order_source: str | None = strawberry.UNSET
    external_order_id: str | None = strawberry.UNSET
    external_order_number: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


@strawberry.input(
    description="Fields to change; omitted fields stay as they are, null clears an optional "
    "one. deliveryDetails and paymentInfo are merged key by key; productItems is replaced."
)
class UpdateOrderInput:
    status: OrderStatus | None = strawberry.UNSET
    mobile: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    user_id: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    delivery_method: str | None = strawberry.UNSET
    delivery_details: DeliveryDetailsInput | None = strawberry.UNSET
    payment_status: str | None = strawberry.UNSET
    payment_info: PaymentInfoInput | None = strawberry.UNSET
    product_items: list[ProductItemInput] | None = strawberry.UNSET
    final_amount: Decimal | None = strawberry.UNSET
    product_customizations: JSON | None = strawberry.UNSET
    external_order_source: str | None = strawberry.UNSET
    external_order_id: str | None = strawberry.UNSET
    external_order_number: str | None = strawberry.UNSET


@strawberry.input
class TimelineEventInput:
    title: str
    description: str | None = strawberry.UNSET
    type: TimelineEventType | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class CreateWebhookInput:
    url: str
    event_types: list[str] | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.input
class UpdateWebhookInput:
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.input
class OrderFilter:
    status: list[OrderStatus] | None = strawberry.UNSET
    start_date: datetime | None = strawberry.UNSET
    end_date: datetime | None = strawberry.UNSET
    search_term: str | None = strawberry.UNSET
    mobile: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="One customer's orders: the same mobile digits, whatever the punctuation.",
    )


@strawberry.input
class OrderSort:
    field: OrderSortField = OrderSortField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


def to_rest(value: Any) -> Any:
    """An input object as the REST-shaped mapping the resolvers validate."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _REST_NAMES.get(field.name, field.name): to_rest(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not strawberry.UNSET
        }
    if isinstance(value, list):
        return [to_rest(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value
