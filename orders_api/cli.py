"""``orders-api``: run the server, migrate, and manage tenants and API keys."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from db import migrate as migrations
from db.engine import Database
from gql.errors import DomainError
from gql.resolvers import bulk, housekeeping
from gql.resolvers.timestamps import format_utc
from orders_api import importer, tenants
from orders_api.config import get_settings
from orders_api.logs import log_config

app = typer.Typer(help="Order Management API: server and administration.", no_args_is_help=True)
tenant_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _run(action: Callable[[Database], Awaitable[T]], *, migrate_first: bool = True) -> T:
    """Run ``action`` against the configured database; domain errors exit with status 1."""

    async def main() -> T:
        settings = get_settings()
        db = Database.connect(settings.database_url)
        try:
            if migrate_first and settings.migrate_on_start:
                await migrations.upgrade(db.engine)
            return await action(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None


def _print(data: dict[str, Any] | list[dict[str, Any]], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2) if as_json else text)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the HTTP server. The embedded SQLite default migrates itself first."""
    settings = get_settings()
    # Workers read their settings from the environment: hand them the chosen address too.
    os.environ["HOST"], os.environ["PORT"] = host or settings.host, str(port or settings.port)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.migrate_on_start:
        # Once, before any worker starts, so workers never race to create tables.
        _run(lambda db: migrations.upgrade(db.engine), migrate_first=False)
    # uvicorn re-raises the SIGTERM it handled once the in-flight requests are done;
    # ending here makes a graceful stop exit with status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "rest.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        # orders_api.access logs one line per request, with request id and tenant.
        access_log=False,
        timeout_graceful_shutdown=30,
    )


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (alembic upgrade head)."""
    _run(lambda db: migrations.upgrade(db.engine), migrate_first=False)
    typer.echo(f"database at revision {migrations.head_revision()}")


class RateColumn(ProgressColumn):
    """Orders per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} orders/s")


@app.command()
def prune(as_json: JsonOption = False) -> None:
    """Delete expired idempotency keys and old finished webhook deliveries now (servers
    also do it every HOUSEKEEPING_INTERVAL_SECONDS)."""
    retention = get_settings().webhook_retention
    pruned = asdict(_run(lambda db: housekeeping.prune(db, retention)))
    _print(pruned, as_json, ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in pruned.items()))


@app.command("import")
def import_orders(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Annotated[str, typer.Option(help="Tenant name or id.")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by extension).")
    ] = None,
    failed_file: Annotated[
        Path | None, typer.Option(help="Write the lines that failed here, to fix and re-run.")
    ] = None,
    chunk: Annotated[
        int, typer.Option(min=1, max=bulk.MAX_ORDERS, help="Orders per transaction.")
    ] = 500,
) -> None:
    """Import orders from JSON Lines (one create-order body per line) or CSV (one column per
    field; product_items and other objects as JSON). Safe to re-run: orders already there
    (same external order or referenceId) are skipped."""
    kind = (file_format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")).lower()
    if kind not in ("jsonl", "csv"):
        raise typer.BadParameter("use jsonl or csv", param_hint="--format")
    total = importer.count_lines(file, kind)
    summary = importer.Summary()
    failed_lines: list[importer.Line] = []

    async def run(db: Database) -> None:
        ctx = await importer.import_context(db, tenant)
        pending: list[importer.Line] = []
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=total)
            for line in importer.read_lines(file, kind):
                pending.append(line)
                if len(pending) >= chunk:
                    failed_lines.extend(await importer.import_chunk(ctx, pending, summary))
                    progress.advance(task, len(pending))
                    pending = []
            if pending:
                failed_lines.extend(await importer.import_chunk(ctx, pending, summary))
                progress.advance(task, len(pending))

    _run(run)
    typer.echo(
        f"created {summary.created}, skipped {summary.skipped} (already imported), "
        f"failed {len(summary.failed)}"
    )
    for number, reason in summary.failed[:20]:
        typer.echo(f"  line {number}: {reason}")
    if len(summary.failed) > 20:
        typer.echo(f"  ... and {len(summary.failed) - 20} more")
    if summary.unkeyed:
        typer.echo(
            f"warning: {summary.unkeyed} orders have no external_order_source + "
            "external_order_id or referenceId; a re-run cannot recognise them and would "
            "create them again",
            err=True,
        )
    if failed_file is not None and failed_lines:
        with failed_file.open("w", encoding="utf-8") as out:
            if kind == "csv":
                with file.open(encoding="utf-8-sig") as source:
                    out.write(source.readline())
            out.writelines(line.raw + "\n" for line in failed_lines)
        typer.echo(f"failed lines written to {failed_file}")
    if summary.failed:
        raise typer.Exit(1)


@tenant_app.command("create")
def tenant_create(
    name: str,
    rate_limit: Annotated[
        str | None, typer.Option(help="Requests allowed, e.g. 500/minute (default: service's).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone for dates and stats.")] = "UTC",
    key_name: Annotated[str, typer.Option(help="Name of the first API key.")] = "default",
    as_json: JsonOption = False,
) -> None:
    """Create a tenant and its first API key (printed once)."""

    issued = _run(
        lambda db: tenants.create_tenant_with_key(
            db, name, rate_limit=rate_limit, timezone=timezone, key_name=key_name
        )
    )
    _print(
        {"tenant_id": issued.tenant_id, "key_id": issued.key_id, "api_key": issued.api_key},
        as_json,
        f"tenant {name} created ({issued.tenant_id})\nAPI key (shown only once): {issued.api_key}",
    )


@tenant_app.command("set-rate-limit")
def tenant_set_rate_limit(
    tenant: str,
    rate_limit: Annotated[str, typer.Argument(help="e.g. 500/minute, or 'default'.")],
) -> None:
    """Change a tenant's rate limit ('default' returns it to the service default)."""
    value = None if rate_limit == "default" else rate_limit
    _run(lambda db: tenants.set_rate_limit(db, tenant, value))
    typer.echo(f"tenant {tenant}: rate limit {rate_limit}")


@key_app.command("create")
def key_create(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id.")],
    name: Annotated[
        str, typer.Option(help="A name for the key; recorded as the actor.")
    ] = "default",
    as_json: JsonOption = False,
) -> None:
    """Create an API key for a tenant (printed once)."""
    issued = _run(lambda db: tenants.create_key(db, tenant, name))
    _print(
        {"tenant_id": issued.tenant_id, "key_id": issued.key_id, "api_key": issued.api_key},
        as_json,
        f"key {issued.key_id} ({name}) for tenant {issued.tenant_name}\n"
        f"API key (shown only once): {issued.api_key}",
    )


@key_app.command("list")
def key_list(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id.")],
    as_json: JsonOption = False,
) -> None:
    """List a tenant's keys (never their secrets)."""
    keys = _run(lambda db: tenants.list_keys(db, tenant))
    rows = [
        {
            "key_id": key.key_id,
            "name": key.name,
            "created_at": format_utc(key.created_at),
            "revoked_at": format_utc(key.revoked_at) if key.revoked_at else None,
        }
        for key in keys
    ]
    text = "\n".join(
        f"{row['key_id']}  {row['name']:<20} created {row['created_at']}"
        + (f"  REVOKED {row['revoked_at']}" if row["revoked_at"] else "")
        for row in rows
    )
    _print(rows, as_json, text or "no keys")


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke a key: requests with it fail within seconds on every worker."""
    _run(lambda db: tenants.revoke_key(db, key_id))
    typer.echo(f"key {key_id} revoked")
