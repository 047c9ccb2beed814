"""The Strawberry ASGI view, wired to the per-request context the auth middleware made."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from gql.context import Principal, RequestContext
from gql.errors import ValidationError


class GraphQLView(GraphQL[RequestContext, None]):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The one request the auth middleware lets through without a key is a browser
        # asking for the GraphiQL page: serve it without building a context.
        if scope["type"] == "http" and "principal" not in scope.get("state", {}):
            response = await self.render_graphql_ide(Request(scope, receive))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        principal: Principal = request.scope["state"]["principal"]
        return RequestContext(principal=principal, db=request.app.state.db)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            # Strawberry would answer plain text; the contract wants the error envelope.
            raise ValidationError(f"Request body is not valid JSON: {error}") from None
