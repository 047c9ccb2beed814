"""REST endpoints: parse the request, call the shared resolver, shape the documented JSON.

No rule lives here; each endpoint is the REST face of one function in ``gql.resolvers``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response

from gql.context import RequestContext
from gql.errors import ValidationError
from gql.resolvers import listing, orders
from rest.representation import order_json
from rest.responses import JSONResponse


def context_of(request: Request) -> RequestContext:
    return RequestContext(principal=request.state.principal, db=request.app.state.db)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ValidationError("Request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValidationError(f"Request body is not valid JSON: {error}") from None


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
        order = await orders.create_order(context_of(request), await json_body(request))
        return JSONResponse(
            {"success": True, "message": "Order created successfully", "order": order_json(order)},
            status_code=201,
            headers={"Location": f"/v1/orders/{order.id}"},
        )


class OrderResource(HTTPEndpoint):
    """``/v1/orders/{order_id}`` (an ``_id`` or a ``referenceId``)"""

    async def get(self, request: Request) -> Response:
        ctx = context_of(request)
        order = await orders.get_order(ctx, request.path_params["order_id"])
        history = await orders.order_history(ctx, order.id)
        return JSONResponse(order_json(order, history), headers={"ETag": f'"{order.version}"'})
