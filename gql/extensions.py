"""Schema extensions the server adds: the contract's error codes in every GraphQL error."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gql.errors import DomainError

log = logging.getLogger("orders_api.graphql")

INTERNAL_MESSAGE = "Internal server error"


def with_code(error: GraphQLError) -> GraphQLError:
    """``error`` with ``extensions.code`` (and ``details``) of the contract's error table.

    Domain errors keep their message; errors the client caused before execution (syntax,
    unknown fields, bad variables) are ``ValidationError``; anything else is a bug, logged
    with its traceback and answered with a masked ``InternalServerError``.
    """
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, object] = {"code": original.code}
        if original.details is not None:
            extensions["details"] = original.details
        message = original.message
    elif original is None or isinstance(original, GraphQLError):
        extensions = {"code": "ValidationError"}
        message = error.message
    else:
        log.error("unhandled error in a resolver", exc_info=original)
        extensions = {"code": "InternalServerError"}
        message = INTERNAL_MESSAGE
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [with_code(error) for error in result.errors]
