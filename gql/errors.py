"""Domain errors. Each class is one error code of the contract; both interfaces turn them
into the same envelope (REST: ``rest/errors.py``; GraphQL: ``gql/graphql_errors.py``).

    DomainError
    ├── ValidationError            400  bad field, parameter or body
    ├── AuthenticationError        401  missing, unknown or revoked API key
    ├── NotFoundError              404  unknown order (or another tenant's), unknown route
    ├── MethodNotAllowedError      405  wrong method on a known route
    ├── PreconditionFailedError    412  If-Match no longer matches
    ├── PayloadTooLargeError       413  body over the limit
    ├── ConflictError              409  disallowed transition, duplicate, key in flight
    ├── IdempotencyKeyReusedError  422  idempotency key reused with another request
    ├── RateLimitError             429  over the tenant's limit
    └── ServiceUnavailableError    503  database unreachable or not migrated
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "InternalServerError"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The inside of the error envelope: ``{code, message, details?}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationError(DomainError):
    code = "ValidationError"
    http_status = 400


class AuthenticationError(DomainError):
    code = "AuthenticationError"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("Invalid or missing API key")


class NotFoundError(DomainError):
    code = "NotFoundError"
    http_status = 404


class MethodNotAllowedError(DomainError):
    code = "MethodNotAllowedError"
    http_status = 405


class ConflictError(DomainError):
    code = "ConflictError"
    http_status = 409


class PreconditionFailedError(DomainError):
    code = "PreconditionFailedError"
    http_status = 412


class PayloadTooLargeError(DomainError):
    code = "PayloadTooLargeError"
    http_status = 413


class IdempotencyKeyReusedError(DomainError):
    code = "IdempotencyKeyReusedError"
    http_status = 422


class RateLimitError(DomainError):
    code = "RateLimitError"
    http_status = 429


class ServiceUnavailableError(DomainError):
    code = "ServiceUnavailableError"
    http_status = 503


def order_not_found(order_id: str) -> NotFoundError:
    return NotFoundError(f"Order not found: {order_id}", {"orderId": order_id})


_OUTAGE_SIGNS = (
    "database is locked",
    "unable to open database",
    "disk i/o error",
    "connection",
    "server closed",
    "cannot connect",
    "shutting down",
    "timeout",
)


def unavailable(error: BaseException) -> ServiceUnavailableError | None:
    """The 503 for an error that means the database cannot be reached (or stayed locked
    past its busy timeout); None for anything else, which is a bug."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    infrastructure = (
        isinstance(error, (InterfaceError, OSError))
        or (isinstance(error, DBAPIError) and error.connection_invalidated)
        # OperationalError also covers SQL mistakes on SQLite: only these are outages.
        or (
            isinstance(error, OperationalError)
            and any(sign in str(error.orig).lower() for sign in _OUTAGE_SIGNS)
        )
    )
    if not infrastructure:
        return None
    return ServiceUnavailableError("The database is unavailable; try again shortly")
