"""The Strawberry ASGI view, wired to the per-request context the auth middleware made."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException as StrawberryHTTPError  # what strawberry.asgi raises
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gql.context import Principal, RequestContext
from gql.errors import DomainError, MethodNotAllowedError, ValidationError
from gql.graphql_errors import with_code
from rest.errors import error_response


class GraphQLView(GraphQL[RequestContext, None]):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The one request the auth middleware lets through without a key is a browser
        # asking for the GraphiQL page: serve it without building a context.
        if scope["type"] == "http" and "principal" not in scope.get("state", {}):
            response = await self.render_graphql_ide(Request(scope, receive))
            await response(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except StrawberryHTTPError as error:
            # Strawberry answers malformed requests (no query, batching, content type,
            # a mutation over GET) in plain text; the contract wants the envelope.
            domain: DomainError = (
                MethodNotAllowedError(error.reason)
                if error.status_code == 405
                else ValidationError(error.reason)
            )
            response = error_response(domain)
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        principal: Principal = request.scope["state"]["principal"]
        return RequestContext(
            principal=principal,
            db=request.app.state.db,
            webhook_policy=request.app.state.webhook_policy,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Here rather than in a schema extension: errors raised while parsing (by the
        # parser cache or the token limit) never reach an extension's on_operation.
        if result.errors:
            request_id = request.scope.get("state", {}).get("request_id")
            result.errors = [with_code(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            # Strawberry would answer plain text; the contract wants the error envelope.
            raise ValidationError(f"Request body is not valid JSON: {error}") from None
