"""The contract's error codes in every GraphQL error (applied by ``gql.view``)."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from gql.errors import DomainError, unavailable

log = logging.getLogger("orders_api.graphql")

INTERNAL_MESSAGE = "Internal server error"


def with_code(error: GraphQLError, request_id: str | None = None) -> GraphQLError:
    """``error`` with ``extensions.code`` (and ``details``) of the contract's error table.

    Domain errors keep their message. Errors before execution (no ``path``: syntax,
    unknown fields, bad literals or variables, limits) are the client's:
    ``ValidationError``. A database that cannot be reached is ``ServiceUnavailableError``.
    Anything else is a bug, logged with its traceback and the request id, and answered
    with a masked ``InternalServerError``.
    """
    original = error.original_error
    extensions: dict[str, object]
    if isinstance(original, DomainError):
        extensions = {"code": original.code}
        if original.details is not None:
            extensions["details"] = original.details
        message = original.message
    elif original is None or isinstance(original, GraphQLError) or error.path is None:
        extensions = {"code": "ValidationError"}
        message = error.message
    elif service_error := unavailable(original):
        log.error("database unavailable [%s]: %s", request_id, original)
        extensions = {"code": service_error.code}
        message = service_error.message
    else:
        log.error("unhandled error in a resolver [%s]", request_id, exc_info=original)
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
