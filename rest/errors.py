"""Domain errors as HTTP responses: one envelope, ``{"error": {code, message, details?}}``."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gql.errors import DomainError, MethodNotAllowedError, NotFoundError
from rest.responses import JSONResponse


def envelope(error: DomainError) -> dict[str, Any]:
    return {"error": error.body()}


def error_response(error: DomainError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(envelope(error), status_code=error.http_status, headers=headers)


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no route, wrong method) in the contract's envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error: DomainError = MethodNotAllowedError(
            f"Method {request.method} is not allowed on {request.url.path}",
            {"allowed": [method.strip() for method in allowed.split(",") if method.strip()]},
        )
        return error_response(error, headers={"Allow": allowed} if allowed else None)
    error = NotFoundError(f"No route {request.method} {request.url.path}")
    return error_response(error)
