"""The per-request context that both adapters build and every resolver function takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from db.engine import Database

if TYPE_CHECKING:
    from gql.loaders import Loaders
    from gql.resolvers.webhooks import WebhookPolicy


def _default_policy() -> WebhookPolicy:
    from gql.resolvers.webhooks import WebhookPolicy

    return WebhookPolicy()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and the API key that authenticated the request."""

    tenant_id: str
    tenant_timezone: str
    key_id: str
    key_name: str
    rate_limit: str | None = None


@dataclass
class RequestContext:
    principal: Principal
    db: Database
    webhook_policy: WebhookPolicy = field(default_factory=lambda: _default_policy())
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def actor(self) -> str:
        """The name recorded on timeline events this request causes."""
        return self.principal.key_name

    @property
    def loaders(self) -> Loaders:
        # Created on first use, once per request: DataLoader caches must never outlive it.
        if self._loaders is None:
            from gql.loaders import Loaders

            self._loaders = Loaders(self)
        return self._loaders
