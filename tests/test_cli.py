"""SPEC §2 and §10: the ``orders-api`` command line (migrate, tenants, keys) and what the
server does to its database on start (first-run tenant, refusing an unmigrated schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from db import migrate
from db.engine import Database
from db.models import ApiKey, Tenant
from gql.context import Principal
from orders_api import tenants
from orders_api.cli import app as cli
from orders_api.config import get_settings
from rest.app import StartupError, create_app, prepare_database
from tests.conftest import make_settings
from tests.contract import API_KEY
from tests.databases import on_database


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``DATABASE_URL`` pointing at a new SQLite file; the CLI's cached settings reset."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("DATABASE_URL", url)
    for name in ("ORDERS_API_ENV", "AUTO_MIGRATE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def authenticate(url: str, api_key: str) -> Principal | None:
    return on_database(url, lambda db: tenants.authenticate(db, api_key))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def invoke_ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def create_tenant_json(name: str, *extra: str) -> dict[str, Any]:
    output: dict[str, Any] = json.loads(
        invoke_ok("tenant", "create", name, "--json", *extra).stdout
    )
    return output


# --- migrate -------------------------------------------------------------------------------


def test_migrate_brings_an_empty_database_to_head(cli_database: str) -> None:
    assert on_database(cli_database, lambda db: migrate.current_revision(db.engine)) is None

    result = invoke_ok("migrate")

    head = migrate.head_revision()
    assert head in result.stdout
    assert on_database(cli_database, lambda db: migrate.current_revision(db.engine)) == head


def test_migrate_twice_is_harmless(cli_database: str) -> None:
    invoke_ok("migrate")
    invoke_ok("migrate")

    head = migrate.head_revision()
    assert on_database(cli_database, lambda db: migrate.current_revision(db.engine)) == head


# --- tenants -------------------------------------------------------------------------------


def test_tenant_create_json_prints_a_key_that_authenticates(cli_database: str) -> None:
    invoke_ok("migrate")

    created = create_tenant_json("acme")

    assert set(created) == {"tenant_id", "key_id", "api_key"}
    assert API_KEY.fullmatch(created["api_key"])
    principal = authenticate(cli_database, created["api_key"])
    assert principal is not None
    assert principal.tenant_id == created["tenant_id"]
    assert principal.key_id == created["key_id"]
    assert principal.tenant_timezone == "UTC"
    assert principal.rate_limit is None


def test_tenant_create_text_output_shows_the_key_once(cli_database: str) -> None:
    result = invoke_ok("tenant", "create", "plain-text")

    keys = API_KEY.findall(result.stdout)
    assert len(keys) == 1
    assert authenticate(cli_database, keys[0]) is not None


def test_tenant_create_keeps_rate_limit_and_timezone(cli_database: str) -> None:
    created = create_tenant_json(
        "tuned", "--rate-limit", "500/minute", "--timezone", "Asia/Kolkata"
    )

    principal = authenticate(cli_database, created["api_key"])
    assert principal is not None
    assert principal.rate_limit == "500/minute"
    assert principal.tenant_timezone == "Asia/Kolkata"


def test_key_is_stored_only_as_a_hash(cli_database: str) -> None:
    created = create_tenant_json("hashed")
    secret = created["api_key"].split("_", 2)[2]

    async def stored_hashes(db: Database) -> list[str]:
        async with db.reader() as session:
            return list(await session.scalars(select(ApiKey.secret_hash)))

    hashes = on_database(cli_database, stored_hashes)
    assert len(hashes) == 1
    assert secret not in hashes[0]
    assert created["api_key"] not in hashes[0]


def test_duplicate_tenant_name_exits_1_with_a_message(cli_database: str) -> None:
    create_tenant_json("twice")

    result = invoke("tenant", "create", "twice")

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "twice" in result.output
    assert API_KEY.search(result.output) is None


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--rate-limit", "lots", "rate limit"),
        ("--rate-limit", "100/fortnight", "rate limit"),
        ("--timezone", "Mars/Olympus_Mons", "timezone"),
        ("--timezone", "../etc/passwd", "timezone"),
    ],
)
def test_bad_tenant_option_exits_1_and_creates_nothing(
    cli_database: str, option: str, value: str, expected: str
) -> None:
    invoke_ok("migrate")

    result = invoke("tenant", "create", "badly-configured", option, value)

    assert result.exit_code == 1, result.output
    assert expected in result.output.lower()
    assert value in result.output

    async def tenant_count(db: Database) -> int:
        async with db.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(Tenant)) or 0)

    assert on_database(cli_database, tenant_count) == 0


# --- keys ----------------------------------------------------------------------------------


def test_key_create_adds_a_second_working_key(cli_database: str) -> None:
    first = create_tenant_json("rotating")

    second = json.loads(invoke_ok("key", "create", "rotating", "--json").stdout)

    assert set(second) == {"tenant_id", "key_id", "api_key"}
    assert second["tenant_id"] == first["tenant_id"]
    assert second["key_id"] != first["key_id"]
    assert second["api_key"] != first["api_key"]
    for issued in (first, second):
        principal = authenticate(cli_database, issued["api_key"])
        assert principal is not None
        assert principal.key_id == issued["key_id"]


def test_key_create_accepts_the_tenant_id_and_a_key_name(cli_database: str) -> None:
    first = create_tenant_json("by-id")

    second = json.loads(
        invoke_ok("key", "create", first["tenant_id"], "--name", "ci-bot", "--json").stdout
    )

    principal = authenticate(cli_database, second["api_key"])
    assert principal is not None
    assert principal.tenant_id == first["tenant_id"]
    assert principal.key_name == "ci-bot"


def test_key_create_for_unknown_tenant_exits_1(cli_database: str) -> None:
    invoke_ok("migrate")

    result = invoke("key", "create", "nobody")

    assert result.exit_code == 1
    assert "nobody" in result.output


def test_key_list_json_shows_keys_without_secrets(cli_database: str) -> None:
    first = create_tenant_json("listed")
    second = json.loads(invoke_ok("key", "create", "listed", "--name", "backup", "--json").stdout)

    result = invoke_ok("key", "list", "listed", "--json")

    rows = json.loads(result.stdout)
    assert [row["key_id"] for row in rows] == [first["key_id"], second["key_id"]]
    assert [row["name"] for row in rows] == ["default", "backup"]
    assert all(row["revoked_at"] is None for row in rows)
    assert all(set(row) == {"key_id", "name", "created_at", "revoked_at"} for row in rows)
    for issued in (first, second):
        assert issued["api_key"] not in result.output
        assert issued["api_key"].split("_", 2)[2] not in result.output


def test_key_list_text_output_shows_no_secrets(cli_database: str) -> None:
    first = create_tenant_json("listed-text")

    result = invoke_ok("key", "list", "listed-text")

    assert first["key_id"] in result.stdout
    assert first["api_key"].split("_", 2)[2] not in result.output


def test_key_revoke_stops_the_key_and_leaves_the_others(cli_database: str) -> None:
    first = create_tenant_json("revoking")
    second = json.loads(invoke_ok("key", "create", "revoking", "--json").stdout)

    invoke_ok("key", "revoke", first["key_id"])

    assert authenticate(cli_database, first["api_key"]) is None
    assert authenticate(cli_database, second["api_key"]) is not None
    rows = json.loads(invoke_ok("key", "list", "revoking", "--json").stdout)
    revoked = {row["key_id"]: row["revoked_at"] for row in rows}
    assert revoked[first["key_id"]] is not None
    assert revoked[first["key_id"]].endswith("Z")
    assert revoked[second["key_id"]] is None


def test_key_revoke_unknown_key_exits_1(cli_database: str) -> None:
    invoke_ok("migrate")

    result = invoke("key", "revoke", "000000000000")

    assert result.exit_code == 1
    assert "000000000000" in result.output


# --- server start-up -----------------------------------------------------------------------


async def count_tenants(db: Database) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Tenant)) or 0)


async def test_first_start_migrates_and_prints_the_default_tenant_key_once(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(empty_database_url, auto_migrate=True)
    db = Database.connect(empty_database_url)
    try:
        await prepare_database(db, settings)
        first_output = capsys.readouterr().out

        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        keys = API_KEY.findall(first_output)
        assert len(keys) == 1, first_output
        assert "default" in first_output
        principal = await tenants.authenticate(db, keys[0])
        assert principal is not None
        default = await tenants.find_tenant(db, "default")
        assert principal.tenant_id == default.id

        await prepare_database(db, settings)
        assert capsys.readouterr().out == ""
        assert await count_tenants(db) == 1
    finally:
        await db.dispose()


async def test_first_start_makes_no_tenant_when_one_exists(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database.connect(empty_database_url)
    try:
        await migrate.upgrade(db.engine)
        await tenants.create_tenant(db, "existing")

        await prepare_database(db, make_settings(empty_database_url))

        assert capsys.readouterr().out == ""
        assert await count_tenants(db) == 1
    finally:
        await db.dispose()


async def test_production_start_creates_no_tenant(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(empty_database_url, auto_migrate=True, orders_api_env="production")
    db = Database.connect(empty_database_url)
    try:
        await prepare_database(db, settings)

        assert capsys.readouterr().out == ""
        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        assert await count_tenants(db) == 0
    finally:
        await db.dispose()


async def test_production_app_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    settings = make_settings(empty_database_url, auto_migrate=False, orders_api_env="production")
    application = create_app(settings)

    with pytest.raises(StartupError, match="orders-api migrate"):
        async with application.router.lifespan_context(application):
            pytest.fail("the app started on an unmigrated database")

    db = Database.connect(empty_database_url)
    try:
        assert await migrate.current_revision(db.engine) is None
    finally:
        await db.dispose()
