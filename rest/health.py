"""Health checks for deploys and load balancers (no API key needed)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from db import migrate
from gql.errors import ServiceUnavailableError
from rest.errors import error_response
from rest.responses import JSONResponse

log = logging.getLogger("orders_api.health")


async def healthz(request: Request) -> Response:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers and is migrated to the revision this code expects."""
    expected = migrate.head_revision()
    try:
        current = await migrate.current_revision(request.app.state.db.engine)
    except Exception as error:  # any driver error means "not ready", never a 500
        log.warning("readiness check: database unreachable: %s", error)
        return error_response(ServiceUnavailableError("Database is unreachable"))
    if current != expected:
        return error_response(
            ServiceUnavailableError(
                "Database is not migrated to the current schema",
                {"current": current, "expected": expected},
            )
        )
    return JSONResponse({"status": "ready", "database": "ok", "revision": current})
