"""REST endpoints: parse the request, call the shared resolver, shape the documented JSON.

No rule lives here; each endpoint is the REST face of one function in ``gql.resolvers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from db.models import Order, TimelineEvent
from gql.context import RequestContext
from gql.errors import NotFoundError, PreconditionFailedError, ValidationError
from gql.resolvers import (
    bulk,
    export,
    idempotency,
    lifecycle,
    listing,
    orders,
    stats,
    webhooks,
)
from gql.resolvers.identifiers import event_id
from gql.resolvers.shapes import event_json, order_json
from gql.resolvers.validation import reject_unknown
from rest.representation import bulk_result_json, delivery_json, stats_json, webhook_json
from rest.responses import JSONResponse

T = TypeVar("T")
REPLAYED = {"Idempotent-Replayed": "true"}


def context_of(request: Request) -> RequestContext:
    return RequestContext(
        principal=request.state.principal,
        db=request.app.state.db,
        webhook_policy=request.app.state.webhook_policy,
    )


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ValidationError("Request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValidationError(f"Request body is not valid JSON: {error}") from None


async def json_object_body(request: Request, known: tuple[str, ...], required: str) -> Any:
    """A JSON object body with only the ``known`` keys, where ``required`` is present."""
    body = await json_body(request)
    if not isinstance(body, dict) or body.get(required) is None:
        raise ValidationError(
            f"Request body must be a JSON object with {required!r}", {"field": required}
        )
    reject_unknown(body, dict.fromkeys(known), "")
    return body


def expected_version(request: Request) -> int | None:
    """The version an ``If-Match`` header asks for (None: no precondition).

    Our ETags are strong (``"3"``), so a weak tag (``W/"3"``) never matches (RFC 9110);
    of a list of tags, the first that names a version counts.
    """
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    for tag in (part.strip() for part in raw.split(",")):
        value = tag.strip('"')
        if not tag.startswith("W/") and value.isascii() and value.isdigit() and len(value) < 10:
            return int(value)
    raise PreconditionFailedError(
        f"If-Match {raw!r} matches no version of this order: send the ETag of a GET",
        {"ifMatch": raw},
    )


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    return idempotency.check_key(key.strip()) if key is not None else None


async def idempotent_response(
    ctx: RequestContext,
    key: str | None,
    outcome: idempotency.Outcome[T],
    render: Callable[[T], Response],
) -> Response:
    """The first answer for ``key`` byte for byte on a retry; a new answer is stored."""
    replay = outcome.replay
    if replay is not None and replay.body is not None and replay.status is not None:
        return Response(
            replay.body,
            status_code=replay.status,
            media_type="application/json",
            headers=REPLAYED,
        )
    response = render(outcome.value)
    if replay is not None:
        response.headers.update(REPLAYED)
    elif key is not None:
        await idempotency.remember_response(ctx, key, response.status_code, bytes(response.body))
    return response


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def query_params(request: Request) -> dict[str, str]:
    """Query parameters; a repeated ``status`` means several statuses, like a comma list."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        params[key] = f"{params[key]},{value}" if key == "status" and key in params else value
    return params


class OrderCollection(HTTPEndpoint):
    """``/v1/orders``"""

    async def get(self, request: Request) -> Response:
        query = listing.parse_list_params(query_params(request))
        page = await orders.list_orders(context_of(request), query)
        return JSONResponse(
            {
                "orders": [order_json(order) for order in page.orders],
                "total": page.total,
                "totalPages": page.total_pages,
                "page": page.page,
                "limit": page.limit,
            }
        )

    async def post(self, request: Request) -> Response:
        ctx, key = context_of(request), idempotency_key(request)
        outcome = await orders.create_order(ctx, await json_body(request), key)

        def render(order: Order) -> Response:
            return JSONResponse(
                {
                    "success": True,
                    "message": "Order created successfully",
                    "order": order_json(order),
                },
                status_code=201,
                headers={"Location": f"/v1/orders/{order.id}"},
            )

        return await idempotent_response(ctx, key, outcome, render)


class OrderBulk(HTTPEndpoint):
    """``/v1/orders/bulk``: up to 1,000 orders; ``?atomic=true`` for all or nothing."""

    async def post(self, request: Request) -> Response:
        ctx, key = context_of(request), idempotency_key(request)
        params = query_params(request)
        reject_unknown(params, {"atomic": None}, "the query")
        atomic = params.get("atomic", "false").strip().lower()
        if atomic not in ("true", "false"):
            raise ValidationError("atomic must be true or false", {"field": "atomic"})
        body = await json_object_body(request, ("orders",), "orders")
        outcome = await bulk.bulk_create(
            ctx, body["orders"], atomic=atomic == "true", idempotency_key=key
        )

        def render(results: list[bulk.BulkResult]) -> Response:
            failed = sum(1 for result in results if result.error)
            return JSONResponse(
                {
                    "success": failed == 0,
                    "created": len(results) - failed,
                    "failed": failed,
                    "results": [bulk_result_json(result) for result in results],
                },
                status_code=201 if failed == 0 else 207,
            )

        return await idempotent_response(ctx, key, outcome, render)


class OrderStats(HTTPEndpoint):
    """``/v1/orders/stats``"""

    async def get(self, request: Request) -> Response:
        ctx = context_of(request)
        window = stats.resolve_window(ctx, **stats.parse_stats_params(query_params(request)))
        return JSONResponse(stats_json(await stats.order_stats(ctx, window)))


class OrderExport(HTTPEndpoint):
    """``/v1/orders/export``: CSV, streamed."""

    async def get(self, request: Request) -> Response:
        ctx = context_of(request)
        query = listing.parse_list_params(query_params(request), listing.EXPORT_PARAMS)
        filename = export.export_filename(ctx)
        return StreamingResponse(
            await export.export_csv(ctx, query),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename={filename}"},
        )


class OrderResource(HTTPEndpoint):
    """``/v1/orders/{order_id}`` (an ``_id`` or a ``referenceId``)"""

    async def get(self, request: Request) -> Response:
        order, history = await orders.get_order_with_history(
            context_of(request), request.path_params["order_id"]
        )
        return JSONResponse(order_json(order, history), headers=etag(order.version))

    async def put(self, request: Request) -> Response:
        ctx = context_of(request)
        body = await json_object_body(request, ("updates",), "updates")
        order = await lifecycle.update_order(
            ctx, request.path_params["order_id"], body["updates"], expected_version(request)
        )
        history = await orders.order_history(ctx, order.id)
        return JSONResponse(
            {
                "success": True,
                "message": "Order updated successfully",
                "order": order_json(order, history),
            },
            headers=etag(order.version),
        )


class OrderStatus(HTTPEndpoint):
    """``/v1/orders/{order_id}/status``"""

    async def put(self, request: Request) -> Response:
        body = await json_object_body(request, ("status", "note"), "status")
        order = await lifecycle.change_status(
            context_of(request),
            request.path_params["order_id"],
            body["status"],
            body.get("note"),
            expected_version(request),
        )
        return JSONResponse(
            {"success": True, "message": f"Order status updated to {order.status}"},
            headers=etag(order.version),
        )


class OrderTimeline(HTTPEndpoint):
    """``/v1/orders/{order_id}/timeline``"""

    async def get(self, request: Request) -> Response:
        events = await lifecycle.order_timeline(
            context_of(request), request.path_params["order_id"]
        )
        return JSONResponse([event_json(event) for event in events])

    async def post(self, request: Request) -> Response:
        ctx, key = context_of(request), idempotency_key(request)
        body = await json_object_body(request, ("event",), "event")
        outcome = await lifecycle.add_timeline_event(
            ctx, request.path_params["order_id"], body["event"], key
        )

        def render(event: TimelineEvent) -> Response:
            return JSONResponse(
                {
                    "success": True,
                    "message": "Timeline event added successfully",
                    "eventId": event_id(event.seq),
                },
                status_code=201,
            )

        return await idempotent_response(ctx, key, outcome, render)


class WebhookCollection(HTTPEndpoint):
    """``/v1/webhooks``"""

    async def get(self, request: Request) -> Response:
        endpoints = await webhooks.list_endpoints(context_of(request))
        return JSONResponse({"webhooks": [webhook_json(endpoint) for endpoint in endpoints]})

    async def post(self, request: Request) -> Response:
        created = await webhooks.create_endpoint(context_of(request), await json_body(request))
        return JSONResponse(
            {"success": True, "webhook": webhook_json(created.endpoint, created.secret)},
            status_code=201,
            headers={"Location": f"/v1/webhooks/{created.endpoint.id}"},
        )


class WebhookResource(HTTPEndpoint):
    """``/v1/webhooks/{webhook_id}``"""

    async def get(self, request: Request) -> Response:
        endpoint = await webhooks.get_endpoint(
            context_of(request), request.path_params["webhook_id"]
        )
        return JSONResponse(webhook_json(endpoint))

    async def patch(self, request: Request) -> Response:
        endpoint = await webhooks.update_endpoint(
            context_of(request), request.path_params["webhook_id"], await json_body(request)
        )
        return JSONResponse({"success": True, "webhook": webhook_json(endpoint)})

    async def delete(self, request: Request) -> Response:
        await webhooks.delete_endpoint(context_of(request), request.path_params["webhook_id"])
        return JSONResponse({"success": True, "message": "Webhook deleted"})


class WebhookSecret(HTTPEndpoint):
    """``/v1/webhooks/{webhook_id}/rotate-secret``"""

    async def post(self, request: Request) -> Response:
        rotated = await webhooks.rotate_secret(
            context_of(request), request.path_params["webhook_id"]
        )
        return JSONResponse(
            {"success": True, "webhook": webhook_json(rotated.endpoint, rotated.secret)}
        )


class WebhookTest(HTTPEndpoint):
    """``/v1/webhooks/{webhook_id}/test``: a ``webhook.test`` ping."""

    async def post(self, request: Request) -> Response:
        delivery = await webhooks.send_test(context_of(request), request.path_params["webhook_id"])
        return JSONResponse(
            {"success": True, "delivery": delivery_json(delivery, webhooks.TEST_EVENT, [])},
            status_code=202,
        )


class WebhookDeliveries(HTTPEndpoint):
    """``/v1/webhooks/{webhook_id}/deliveries``: the delivery log, newest first."""

    async def get(self, request: Request) -> Response:
        params = query_params(request)
        reject_unknown(params, {"page": None, "limit": None}, "the query")
        page = listing.int_param(params, "page", 1)
        limit = listing.int_param(params, "limit", 20)
        records, total = await webhooks.list_deliveries(
            context_of(request), request.path_params["webhook_id"], page, limit
        )
        return JSONResponse(
            {
                "deliveries": [
                    delivery_json(r.delivery, r.message_type, r.attempts) for r in records
                ],
                "total": total,
                "page": page,
                "limit": limit,
            }
        )


class WebhookRedelivery(HTTPEndpoint):
    """``/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver``"""

    async def post(self, request: Request) -> Response:
        raw = request.path_params["delivery_id"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise NotFoundError(f"Delivery not found: {raw}", {"deliveryId": raw})
        delivery = await webhooks.redeliver(
            context_of(request), request.path_params["webhook_id"], int(raw)
        )
        record_type = await webhooks.message_type(context_of(request), delivery.message_id)
        return JSONResponse(
            {"success": True, "delivery": delivery_json(delivery, record_type, [])},
            status_code=202,
        )
