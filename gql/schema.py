"""The GraphQL schema: thin Query and Mutation fields that delegate to ``gql.resolvers``.

``schema`` is what ``strawberry export-schema gql.schema:schema`` prints into
``schema.graphql``; the server uses ``build_schema`` to add its limits and error handling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from db import models
from gql.context import RequestContext
from gql.enums import OrderStatus, StatsPeriod
from gql.errors import NotFoundError
from gql.inputs import (
    CreateOrderInput,
    CreateWebhookInput,
    OrderFilter,
    OrderSort,
    TimelineEventInput,
    UpdateOrderInput,
    UpdateWebhookInput,
    to_rest,
)
from gql.resolvers import bulk, customers, lifecycle, listing, orders, stats, webhooks
from gql.scalars import SCALAR_MAP
from gql.types import (
    BulkCreateResult,
    Customer,
    Order,
    OrderPage,
    Stats,
    TimelineEvent,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookWithSecret,
)

Info = strawberry.Info[RequestContext]


@strawberry.type
class Query:
    @strawberry.field(description="An order by its id or referenceId; null when not found.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        found = await orders.find_order(info.context, str(id))
        if found is None:
            return None
        info.context.loaders.items.prime(found.id, found.items)
        return Order.from_model(found)

    @strawberry.field(description="A page of orders, filtered, searched and sorted.")
    async def orders(
        self,
        info: Info,
        filter: OrderFilter | None = None,
        sort: OrderSort | None = None,
        page: int = 1,
        limit: int = 10,
    ) -> OrderPage:
        query = _list_query(filter or OrderFilter(), sort or OrderSort(), page, limit)
        result = await orders.list_orders(info.context, query, with_items=False)
        return OrderPage.from_result(result)

    @strawberry.field(description="An order's timeline, oldest first (REST GET .../timeline).")
    async def order_timeline(self, info: Info, order_id: strawberry.ID) -> list[TimelineEvent]:
        events = await lifecycle.order_timeline(info.context, str(order_id))
        return [TimelineEvent.from_model(event) for event in events]

    @strawberry.field(description="Sales statistics (REST: GET /v1/orders/stats).")
    async def order_stats(
        self,
        info: Info,
        period: StatsPeriod | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        timezone: str | None = None,
    ) -> Stats:
        # DateTime inputs may be plain dates (a whole day); see gql.scalars.
        start: date | datetime | None = start_date
        end: date | datetime | None = end_date
        window = stats.resolve_window(
            info.context,
            period=period.value if period else None,
            start=start,
            end=end,
            timezone=timezone,
        )
        return Stats.from_summary(await stats.order_stats(info.context, window))

    @strawberry.field(description="The tenant's webhook endpoints (REST: GET /v1/webhooks).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        return [Webhook.from_model(e) for e in await webhooks.list_endpoints(info.context)]

    @strawberry.field(description="One webhook endpoint.")
    async def webhook(self, info: Info, id: strawberry.ID) -> Webhook:
        return Webhook.from_model(await webhooks.get_endpoint(info.context, str(id)))

    @strawberry.field(description="An endpoint's delivery log, newest first.")
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, page: int = 1, limit: int = 20
    ) -> WebhookDeliveryPage:
        records, total = await webhooks.list_deliveries(info.context, str(webhook_id), page, limit)
        return WebhookDeliveryPage(
            deliveries=[
                WebhookDelivery.from_model(r.delivery, r.message_type, r.attempts) for r in records
            ],
            total=total,
            page=page,
            limit=limit,
        )

    @strawberry.field(description="A customer by mobile number (digits only are compared).")
    async def customer(self, info: Info, mobile: str) -> Customer | None:
        found = await customers.find_customer(info.context, mobile)
        return Customer.from_customer(found) if found else None


def _list_query(
    filter: OrderFilter, sort: OrderSort, page: int, limit: int
) -> listing.OrderListQuery:
    given = {key: value for key, value in vars(filter).items() if value is not strawberry.UNSET}
    statuses: Sequence[OrderStatus] = given.get("status") or ()
    # DateTime inputs may be plain dates (a whole day); see gql.scalars.
    start: date | datetime | None = given.get("start_date")
    end: date | datetime | None = given.get("end_date")
    return listing.OrderListQuery(
        statuses=tuple(status.value for status in statuses),
        start=start,
        end=end,
        search=given.get("search_term"),
        mobile=given.get("mobile"),
        sort_by=sort.field.value,
        descending=sort.direction.value == "desc",
        page=page,
        limit=limit,
    ).validated()


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an order (REST: POST /v1/orders).")
    async def create_order(
        self, info: Info, input: CreateOrderInput, idempotency_key: str | None = None
    ) -> Order:
        outcome = await orders.create_order(info.context, to_rest(input), idempotency_key)
        return _changed(info, outcome.value)

    @strawberry.mutation(
        description="Create up to 1,000 orders, each on its own unless atomic "
        "(REST: POST /v1/orders/bulk)."
    )
    async def bulk_create_orders(
        self,
        info: Info,
        orders: list[CreateOrderInput],
        atomic: bool = False,
        idempotency_key: str | None = None,
    ) -> BulkCreateResult:
        outcome = await bulk.bulk_create(
            info.context,
            [to_rest(order) for order in orders],
            atomic=atomic,
            idempotency_key=idempotency_key,
        )
        return BulkCreateResult.from_results(outcome.value)

    @strawberry.mutation(description="Register a webhook endpoint (REST: POST /v1/webhooks).")
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> WebhookWithSecret:
        created = await webhooks.create_endpoint(info.context, to_rest(input))
        return WebhookWithSecret(
            webhook=Webhook.from_model(created.endpoint), secret=created.secret
        )

    @strawberry.mutation(description="Change an endpoint (REST: PATCH /v1/webhooks/{id}).")
    async def update_webhook(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookInput
    ) -> Webhook:
        endpoint = await webhooks.update_endpoint(info.context, str(id), to_rest(input))
        return Webhook.from_model(endpoint)

    @strawberry.mutation(description="Remove an endpoint (REST: DELETE /v1/webhooks/{id}).")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        await webhooks.delete_endpoint(info.context, str(id))
        return True

    @strawberry.mutation(description="A new signing secret; the old one signs too for 24 h.")
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookWithSecret:
        rotated = await webhooks.rotate_secret(info.context, str(id))
        return WebhookWithSecret(
            webhook=Webhook.from_model(rotated.endpoint), secret=rotated.secret
        )

    @strawberry.mutation(description="Send a webhook.test ping (REST: POST .../test).")
    async def test_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        delivery = await webhooks.send_test(info.context, str(id))
        return WebhookDelivery.from_model(delivery, webhooks.TEST_EVENT, [])

    @strawberry.mutation(description="Deliver a message again, with the same webhook-id.")
    async def redeliver_webhook_delivery(
        self, info: Info, webhook_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> WebhookDelivery:
        raw = str(delivery_id)
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise NotFoundError(f"Delivery not found: {raw}", {"deliveryId": raw})
        delivery = await webhooks.redeliver(info.context, str(webhook_id), int(raw))
        event_type = await webhooks.message_type(info.context, delivery.message_id)
        return WebhookDelivery.from_model(delivery, event_type, [])

    @strawberry.mutation(description="Change order fields (REST: PUT /v1/orders/{id}).")
    async def update_order(
        self,
        info: Info,
        id: strawberry.ID,
        updates: UpdateOrderInput,
        expected_version: int | None = None,
    ) -> Order:
        updated = await lifecycle.update_order(
            info.context, str(id), to_rest(updates), expected_version
        )
        return _changed(info, updated)

    @strawberry.mutation(description="Move an order to a status (REST: PUT .../status).")
    async def update_order_status(
        self,
        info: Info,
        id: strawberry.ID,
        status: OrderStatus,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Order:
        updated = await lifecycle.change_status(
            info.context, str(id), status.value, note, expected_version
        )
        return _changed(info, updated)

    @strawberry.mutation(description="Add a custom timeline event (REST: POST .../timeline).")
    async def add_timeline_event(
        self,
        info: Info,
        order_id: strawberry.ID,
        event: TimelineEventInput,
        idempotency_key: str | None = None,
    ) -> TimelineEvent:
        outcome = await lifecycle.add_timeline_event(
            info.context, str(order_id), to_rest(event), idempotency_key
        )
        return TimelineEvent.from_model(outcome.value)


def _changed(info: Info, order: models.Order) -> Order:
    # The mutation already holds the items: spare the loader a query.
    info.context.loaders.items.prime(order.id, order.items)
    return Order.from_model(order)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # gql.graphql_errors.with_code logs the unexpected errors with their tracebacks;
        # client errors are answers, not incidents.
        return None


def build_schema(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=list(extensions),
    )


schema = build_schema()
