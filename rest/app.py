"""The ASGI application: ``/graphql``, the ``/v1`` REST layer, health checks, middleware,
and the lifespan that owns the database."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from db import migrate
from db.engine import Database
from gql.errors import DomainError
from gql.limits import limit_extensions
from gql.resolvers.dispatch import Dispatcher, DispatchSettings, parse_schedule
from gql.resolvers.housekeeping import Housekeeper
from gql.resolvers.webhooks import WebhookPolicy
from gql.schema import build_schema
from gql.view import GraphQLView
from orders_api import tenants
from orders_api.config import Settings, get_settings
from rest.errors import domain_error_handler, http_error_handler
from rest.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from rest.middleware import AuthMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from rest.ratelimit import RateLimiter, RateLimitMiddleware
from rest.routes import ROUTES

log = logging.getLogger("orders_api")


class StartupError(RuntimeError):
    """The server must not start; the message says what to do."""


def build_graphql_schema(settings: Settings) -> strawberry.Schema:
    limits = limit_extensions(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        introspection=settings.introspection_enabled,
    )
    return build_schema(extensions=limits)


async def prepare_database(db: Database, settings: Settings) -> None:
    """Migrate (embedded default) or verify the schema, then make the first tenant."""
    if settings.migrate_on_start:
        await migrate.upgrade(db.engine)
    current = await migrate.current_revision(db.engine)
    expected = migrate.head_revision()
    if current != expected:
        raise StartupError(
            f"The database schema is at revision {current or '(empty)'} but this version of "
            f"the service needs {expected}. Run `orders-api migrate` (alembic upgrade head) "
            "first, or set AUTO_MIGRATE=true."
        )
    if not settings.is_production:
        issued = await tenants.bootstrap_default_tenant(db)
        if issued is not None:
            print(
                "\n  First run: created tenant 'default'. Its API key (shown only once):\n\n"
                f"    {issued.api_key}\n\n"
                "  Try: curl -H 'x-tenant-api-key: <key>' "
                f"http://{settings.host}:{settings.port}/v1/orders\n",
                file=sys.stdout,
                flush=True,
            )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database.connect(settings.database_url)
        try:
            await prepare_database(db, settings)
        except BaseException:
            await db.dispose()
            raise
        app.state.db = db
        app.state.settings = settings
        app.state.rate_limiter = RateLimiter(
            settings.rate_limit_storage_uri,
            settings.rate_limit_default,
            settings.auth_failure_limit,
        )
        dispatcher = Dispatcher(
            db,
            DispatchSettings(
                policy=app.state.webhook_policy,
                schedule=parse_schedule(settings.webhook_retry_schedule),
                timeout_seconds=settings.webhook_timeout_seconds,
                disable_after=timedelta(hours=settings.webhook_disable_after_hours),
            ),
            poll_seconds=settings.webhook_poll_seconds,
        )
        if settings.webhook_dispatcher:
            dispatcher.start()
        app.state.dispatcher = dispatcher
        housekeeper = Housekeeper(
            db,
            interval=settings.housekeeping_interval_seconds,
            webhook_retention=settings.webhook_retention,
        )
        if settings.housekeeping_interval_seconds > 0:
            housekeeper.start()
        try:
            yield
        finally:
            await housekeeper.stop()
            await dispatcher.stop()
            await app.state.rate_limiter.close()
            await db.dispose()

    graphql = GraphQLView(
        build_graphql_schema(settings),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
    )
    handlers: dict[Any, Any] = {
        DomainError: domain_error_handler,
        HTTPException: http_error_handler,
    }
    routes = [*ROUTES, Route("/graphql", graphql, methods=["GET", "POST"])]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(MetricsMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(
                AuthMiddleware,
                cache_seconds=settings.auth_cache_seconds,
                graphiql_public=settings.graphiql_enabled,
            ),
            Middleware(RateLimitMiddleware),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    app.state.webhook_policy = WebhookPolicy(
        allow_private_networks=settings.webhook_allow_private_networks,
        require_https=settings.is_production,
    )
    return app
