"""Orders and timeline events in the REST shape of the reference document. Shared by the
REST layer and webhook payloads (which carry the order "in its REST shape")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from db.models import Order, OrderItem, TimelineEvent
from gql.resolvers.identifiers import event_id
from gql.resolvers.timestamps import format_utc


def item_json(item: OrderItem) -> dict[str, Any]:
    return {
        "product_retailer_id": item.product_retailer_id,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "price": item.price,
    }


def order_json(order: Order, history: list[TimelineEvent] | None = None) -> dict[str, Any]:
    """Every documented field, ``null`` when unset; ``order_history`` when given."""
    body: dict[str, Any] = {
        "_id": order.id,
        "referenceId": order.reference_id,
        "status": order.status,
        "mobile": order.mobile,
        "name": order.name,
        "email": order.email,
        "user_id": order.user_id,
        "final_amount": order.final_amount,
        "delivery_method": order.delivery_method,
        "delivery_details": order.delivery_details,
        "product_items": [item_json(item) for item in order.items],
        "product_customizations": order.product_customizations,
        "payment_info": payment_info_json(order.payment_info),
        "payment_status": order.payment_status,
        "external_order_source": order.external_order_source,
        "external_order_id": order.external_order_id,
        "external_order_number": order.external_order_number,
        "notes": order.notes,
        "created_at": format_utc(order.created_at),
        "updated_at": format_utc(order.updated_at),
    }
    if history is not None:
        body["order_history"] = [history_entry_json(event) for event in history]
    return body


def payment_info_json(info: dict[str, Any] | None) -> dict[str, Any] | None:
    # The amount is kept as exact decimal text inside the JSON column; REST shows numbers.
    if info is None or info.get("amount") is None:
        return info
    return {**info, "amount": Decimal(info["amount"])}


def history_entry_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "status": event.status,
        "timestamp": format_utc(event.created_at),
        "note": (event.metadata_ or {}).get("note"),
    }


def event_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event_id(event.seq),
        "title": event.title,
        "description": event.description,
        "type": event.type,
        "timestamp": format_utc(event.created_at),
        "metadata": event.metadata_,
        "actor": event.actor,
    }


def json_default(value: Any) -> Any:
    """Amounts (``Decimal``) as JSON numbers: two decimals print back exactly."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
