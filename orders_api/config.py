"""Every setting of the service, read from the environment (and an optional ``.env``) in one place.

The README's "Settings" table documents each field below; the environment variable is the
field name in upper case.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./orders.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    orders_api_env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # ``None`` means: migrate on start when the database is the embedded SQLite default.
    auto_migrate: bool | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_storage_uri: str = "memory://"
    rate_limit_default: str = "100/minute"
    # Failed authentications allowed per client address before it gets 429s.
    auth_failure_limit: str = "20/minute"
    # How long a successful API-key lookup is trusted per process (revocation delay).
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    metrics_enabled: bool = True
    # Webhooks: private/loopback destinations only where allowed (tests, on-premise).
    webhook_allow_private_networks: bool = False
    webhook_dispatcher: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds between attempts; the last one ends the retries (about three days).
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,50400,72000,86400"
    webhook_disable_after_hours: float = Field(default=72.0, gt=0)
    # Finished webhook deliveries, their attempts and messages are kept this long.
    webhook_retention_days: float = Field(default=30.0, gt=0)
    # How often each server process deletes expired rows; 0 turns it off (`orders-api prune`).
    housekeeping_interval_seconds: float = Field(default=3600.0, ge=0)
    graphql_max_depth: int = Field(default=10, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=2000, ge=10)
    graphql_introspection: bool | None = None
    graphql_ide: bool | None = None

    @field_validator("rate_limit_default", "auth_failure_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError with the reason
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # People paste the URL their other tools use; pick the async driver for them.
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.split(":///", 1)[1]
        return value

    @property
    def is_production(self) -> bool:
        return self.orders_api_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is None:
            return not self.is_production
        return self.graphql_introspection

    @property
    def webhook_retention(self) -> timedelta:
        return timedelta(days=self.webhook_retention_days)

    @property
    def graphiql_enabled(self) -> bool:
        return not self.is_production if self.graphql_ide is None else self.graphql_ide


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
