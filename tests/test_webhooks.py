"""Webhook endpoints: REST ``/v1/webhooks`` and the GraphQL queries/mutations (create,
read, update, delete, secret rotation), validation, tenant scope and the SSRF guard at
registration (private networks refused by default; https required in production).

Contract: issue 7 ("Webhook notifications that are never lost"), items 1 and 6; SPEC §4
for the error envelope. Delivery is tested in ``test_webhook_delivery.py``."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, new_tenant
from tests.contract import UTC_TIMESTAMP
from tests.webhook_support import running_app

# A literal public address: accepted without DNS (the sandbox has none), nothing is sent.
PUBLIC_URL = "https://93.184.215.14/hooks/orders"
OTHER_PUBLIC_URL = "https://93.184.215.15/hooks/v2"
EVENT_TYPES = [
    "order.created",
    "order.updated",
    "order.status_changed",
    "order.timeline_event_added",
]
WEBHOOK_KEYS = {
    "id",
    "url",
    "event_types",
    "enabled",
    "disabled_reason",
    "failing_since",
    "created_at",
    "updated_at",
}
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")  # 32 random bytes, base64


async def patch(tenant: Tenant, url: str, body: Any) -> httpx.Response:
    return await tenant.http.patch(url, headers=tenant.headers, json=body)


async def delete(tenant: Tenant, url: str) -> httpx.Response:
    return await tenant.http.delete(url, headers=tenant.headers)


async def register(tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/webhooks", json={"url": PUBLIC_URL, **body})
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()["webhook"]
    return webhook


def assert_validation_error(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    for word in words:
        assert word in error["message"], (word, error["message"])


# --- REST CRUD ---------------------------------------------------------------------------


async def test_create_returns_201_with_secret_shown_once(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/webhooks", json={"url": PUBLIC_URL, "event_types": ["order.created"]}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    webhook = body["webhook"]
    assert set(webhook) == WEBHOOK_KEYS | {"secret"}
    assert SECRET.match(webhook["secret"]), webhook["secret"]
    assert webhook["id"].startswith("whk_")
    assert response.headers["location"] == f"/v1/webhooks/{webhook['id']}"
    assert webhook["url"] == PUBLIC_URL
    assert webhook["event_types"] == ["order.created"]
    assert webhook["enabled"] is True
    assert webhook["disabled_reason"] is None
    assert webhook["failing_since"] is None
    assert UTC_TIMESTAMP.match(webhook["created_at"])
    assert UTC_TIMESTAMP.match(webhook["updated_at"])

    one = await tenant.get(f"/v1/webhooks/{webhook['id']}")
    assert one.status_code == 200
    assert one.json() == {k: v for k, v in webhook.items() if k != "secret"}
    listed = await tenant.get("/v1/webhooks")
    assert listed.status_code == 200
    assert listed.json() == {"webhooks": [one.json()]}
    assert webhook["secret"] not in one.text + listed.text


async def test_create_defaults_to_all_events_and_enabled(tenant: Tenant) -> None:
    webhook = await register(tenant)

    assert webhook["event_types"] == ["*"]
    assert webhook["enabled"] is True


async def test_create_disabled_with_every_event_type(tenant: Tenant) -> None:
    webhook = await register(tenant, event_types=EVENT_TYPES, enabled=False)

    assert sorted(webhook["event_types"]) == sorted(EVENT_TYPES)
    assert webhook["enabled"] is False


async def test_two_endpoints_get_different_secrets_and_list_oldest_first(tenant: Tenant) -> None:
    first = await register(tenant)
    second = await register(tenant, url=OTHER_PUBLIC_URL)

    assert first["secret"] != second["secret"]
    listed = (await tenant.get("/v1/webhooks")).json()["webhooks"]
    assert [w["id"] for w in listed] == [first["id"], second["id"]]
    assert all("secret" not in w for w in listed)


async def test_patch_changes_url_event_types_and_enabled(tenant: Tenant) -> None:
    webhook = await register(tenant)

    response = await patch(
        tenant,
        f"/v1/webhooks/{webhook['id']}",
        {"url": OTHER_PUBLIC_URL, "event_types": ["order.status_changed"], "enabled": False},
    )

    assert response.status_code == 200, response.text
    changed = response.json()["webhook"]
    assert "secret" not in changed
    assert changed["url"] == OTHER_PUBLIC_URL
    assert changed["event_types"] == ["order.status_changed"]
    assert changed["enabled"] is False
    again = (await tenant.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert again == changed

    partial = await patch(tenant, f"/v1/webhooks/{webhook['id']}", {"enabled": True})
    assert partial.status_code == 200
    assert partial.json()["webhook"]["enabled"] is True
    assert partial.json()["webhook"]["url"] == OTHER_PUBLIC_URL
    assert partial.json()["webhook"]["event_types"] == ["order.status_changed"]


async def test_delete_removes_the_endpoint(tenant: Tenant) -> None:
    webhook = await register(tenant)

    response = await delete(tenant, f"/v1/webhooks/{webhook['id']}")

    assert response.status_code == 200
    assert response.json()["success"] is True
    missing = await tenant.get(f"/v1/webhooks/{webhook['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFoundError"
    assert (await tenant.get("/v1/webhooks")).json() == {"webhooks": []}
    assert (await delete(tenant, f"/v1/webhooks/{webhook['id']}")).status_code == 404


async def test_rotate_secret_returns_a_new_secret_once(tenant: Tenant) -> None:
    webhook = await register(tenant)

    response = await tenant.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")

    assert response.status_code == 200, response.text
    rotated = response.json()["webhook"]
    assert SECRET.match(rotated["secret"])
    assert rotated["secret"] != webhook["secret"]
    shown = await tenant.get(f"/v1/webhooks/{webhook['id']}")
    assert "secret" not in shown.json()
    assert rotated["secret"] not in shown.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"url": PUBLIC_URL, "secret": "whsec_mine"}, ("secret",)),
        ({"url": PUBLIC_URL, "events": ["order.created"]}, ("events",)),
        ({"url": PUBLIC_URL, "event_types": ["order.deleted"]}, ("event_types",)),
        ({"url": PUBLIC_URL, "event_types": []}, ("event_types",)),
        ({"url": PUBLIC_URL, "event_types": "order.created"}, ("event_types",)),
        ({"url": PUBLIC_URL, "event_types": [1]}, ("event_types",)),
        ({"url": PUBLIC_URL, "enabled": "yes"}, ("enabled",)),
        ({}, ("url",)),
        ({"url": ""}, ("url",)),
        ({"url": 42}, ("url",)),
        ({"url": "not a url"}, ("url",)),
        ({"url": "ftp://93.184.215.14/hooks"}, ("url",)),
        ({"url": "https://93.184.215.14/" + "a" * 2000}, ("url",)),
        (["not", "an", "object"], ()),
    ],
)
async def test_create_rejects_bad_input(tenant: Tenant, body: Any, words: tuple[str, ...]) -> None:
    response = await tenant.post("/v1/webhooks", json=body)

    assert_validation_error(response, *words)
    assert (await tenant.get("/v1/webhooks")).json() == {"webhooks": []}


async def test_create_rejects_malformed_json(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/webhooks", content=b"{url:", headers={"content-type": "application/json"}
    )

    assert_validation_error(response)


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "whsec_mine"},
        {"event_types": ["order.shipped"]},
        {"enabled": 1},
        {"url": "gopher://93.184.215.14/"},
        {"url": "http://10.0.0.1/hook"},
    ],
)
async def test_patch_rejects_bad_input_and_changes_nothing(tenant: Tenant, body: Any) -> None:
    webhook = await register(tenant)
    before = (await tenant.get(f"/v1/webhooks/{webhook['id']}")).json()

    response = await patch(tenant, f"/v1/webhooks/{webhook['id']}", body)

    assert_validation_error(response)
    assert (await tenant.get(f"/v1/webhooks/{webhook['id']}")).json() == before


async def test_another_tenants_webhook_is_not_found_on_every_route(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    webhook = await register(tenant)
    base = f"/v1/webhooks/{webhook['id']}"

    answers = {
        "get": await other_tenant.get(base),
        "patch": await patch(other_tenant, base, {"enabled": False}),
        "delete": await delete(other_tenant, base),
        "rotate": await other_tenant.post(f"{base}/rotate-secret"),
        "test": await other_tenant.post(f"{base}/test"),
        "deliveries": await other_tenant.get(f"{base}/deliveries"),
        "redeliver": await other_tenant.post(f"{base}/deliveries/1/redeliver"),
    }

    for route, response in answers.items():
        assert response.status_code == 404, (route, response.text)
        assert response.json()["error"]["code"] == "NotFoundError", route
    assert (await other_tenant.get("/v1/webhooks")).json() == {"webhooks": []}
    unchanged = (await tenant.get(base)).json()
    assert unchanged == {k: v for k, v in webhook.items() if k != "secret"}
    assert (await tenant.get(f"{base}/deliveries")).json()["total"] == 0


async def test_unknown_webhook_and_delivery_are_not_found(tenant: Tenant) -> None:
    webhook = await register(tenant)

    assert (await tenant.get("/v1/webhooks/whk_0000000000000000")).status_code == 404
    for delivery in ("999999999", "abc", "-1"):
        response = await tenant.post(
            f"/v1/webhooks/{webhook['id']}/deliveries/{delivery}/redeliver"
        )
        assert response.status_code == 404, (delivery, response.text)
        assert response.json()["error"]["code"] == "NotFoundError"


async def test_deliveries_rejects_bad_paging(tenant: Tenant) -> None:
    webhook = await register(tenant)
    base = f"/v1/webhooks/{webhook['id']}/deliveries"

    for query in ("?limit=0", "?limit=101", "?page=0", "?page=x", "?colour=red"):
        assert_validation_error(await tenant.get(base + query))
    empty = await tenant.get(base)
    assert empty.json() == {"deliveries": [], "total": 0, "page": 1, "limit": 20}


async def test_webhook_routes_need_an_api_key(client: httpx.AsyncClient) -> None:
    for method, url in (("GET", "/v1/webhooks"), ("POST", "/v1/webhooks")):
        response = await client.request(method, url, json={"url": PUBLIC_URL})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "AuthenticationError"


# --- SSRF at registration ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1.2.3/hook",
        "http://localhost/",
        "http://LOCALHOST:9000/x",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://2130706433/",
        "https://nonexistent-host.invalid/hook",
        "ftp://93.184.215.14/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "//93.184.215.14/hook",
    ],
)
async def test_private_and_non_http_destinations_are_refused(tenant: Tenant, url: str) -> None:
    response = await tenant.post("/v1/webhooks", json={"url": url})

    assert_validation_error(response, "url")
    assert response.json()["error"]["details"]["field"] == "url"
    assert (await tenant.get("/v1/webhooks")).json() == {"webhooks": []}


async def test_public_address_is_accepted_over_http_outside_production(tenant: Tenant) -> None:
    webhook = await register(tenant, url="http://93.184.215.14/hook")

    assert webhook["url"] == "http://93.184.215.14/hook"


async def test_private_destinations_allowed_when_configured(database_url: str) -> None:
    async with running_app(database_url, webhook_dispatcher=False) as (app, http):
        tenant = await new_tenant(app.state.db, http)
        for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.1/"):
            response = await tenant.post("/v1/webhooks", json={"url": url})
            assert response.status_code == 201, (url, response.text)
        bad_scheme = await tenant.post("/v1/webhooks", json={"url": "ftp://127.0.0.1/"})
        assert_validation_error(bad_scheme, "url")


async def test_production_requires_https(database_url: str) -> None:
    async with running_app(
        database_url,
        orders_api_env="production",
        webhook_dispatcher=False,
        webhook_allow_private_networks=False,
    ) as (app, http):
        tenant = await new_tenant(app.state.db, http)

        plain = await tenant.post("/v1/webhooks", json={"url": "http://93.184.215.14/hook"})
        assert_validation_error(plain, "https")
        secure = await tenant.post("/v1/webhooks", json={"url": PUBLIC_URL})
        assert secure.status_code == 201, secure.text
        webhook_id = secure.json()["webhook"]["id"]
        downgrade = await patch(
            tenant, f"/v1/webhooks/{webhook_id}", {"url": "http://93.184.215.14/hook"}
        )
        assert_validation_error(downgrade, "https")
        private = await tenant.post("/v1/webhooks", json={"url": "https://10.1.2.3/hook"})
        assert_validation_error(private, "url")


async def test_production_requires_https_even_for_allowed_private_networks(
    database_url: str,
) -> None:
    async with running_app(database_url, orders_api_env="production", webhook_dispatcher=False) as (
        app,
        http,
    ):
        tenant = await new_tenant(app.state.db, http)

        plain = await tenant.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert_validation_error(plain, "https")
        secure = await tenant.post("/v1/webhooks", json={"url": "https://127.0.0.1:9/hook"})
        assert secure.status_code == 201, secure.text


# --- GraphQL -----------------------------------------------------------------------------

WEBHOOK_FIELDS = "id url eventTypes enabled disabledReason failingSince createdAt updatedAt"
CREATE = f"""
mutation Create($input: CreateWebhookInput!) {{
  createWebhook(input: $input) {{ secret webhook {{ {WEBHOOK_FIELDS} }} }}
}}
"""
LIST = f"query {{ webhooks {{ {WEBHOOK_FIELDS} }} }}"
ONE = f"query One($id: ID!) {{ webhook(id: $id) {{ {WEBHOOK_FIELDS} }} }}"
UPDATE = f"""
mutation Update($id: ID!, $input: UpdateWebhookInput!) {{
  updateWebhook(id: $id, input: $input) {{ {WEBHOOK_FIELDS} }}
}}
"""
DELETE = "mutation Delete($id: ID!) { deleteWebhook(id: $id) }"
ROTATE = f"""
mutation Rotate($id: ID!) {{
  rotateWebhookSecret(id: $id) {{ secret webhook {{ {WEBHOOK_FIELDS} }} }}
}}
"""
TEST = "mutation Test($id: ID!) { testWebhook(id: $id) { id messageId eventType status } }"
DELIVERIES = """
query Deliveries($id: ID!) {
  webhookDeliveries(webhookId: $id) { total page limit deliveries { id eventType } }
}
"""
REDELIVER = """
mutation Redeliver($webhookId: ID!, $deliveryId: ID!) {
  redeliverWebhookDelivery(webhookId: $webhookId, deliveryId: $deliveryId) { id messageId }
}
"""


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_graphql_create_read_update_rotate_delete(tenant: Tenant) -> None:
    created = await tenant.graphql(
        CREATE, {"input": {"url": PUBLIC_URL, "eventTypes": ["order.status_changed"]}}
    )
    assert "errors" not in created, created
    result = created["data"]["createWebhook"]
    assert SECRET.match(result["secret"])
    webhook = result["webhook"]
    assert webhook["url"] == PUBLIC_URL
    assert webhook["eventTypes"] == ["order.status_changed"]
    assert webhook["enabled"] is True
    assert webhook["disabledReason"] is None
    rest_view = (await tenant.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert rest_view["url"] == PUBLIC_URL

    listed = await tenant.graphql(LIST)
    assert listed["data"]["webhooks"] == [webhook]
    one = await tenant.graphql(ONE, {"id": webhook["id"]})
    assert one["data"]["webhook"] == webhook

    updated = await tenant.graphql(
        UPDATE,
        {"id": webhook["id"], "input": {"url": OTHER_PUBLIC_URL, "enabled": False}},
    )
    assert "errors" not in updated, updated
    changed = updated["data"]["updateWebhook"]
    assert changed["url"] == OTHER_PUBLIC_URL
    assert changed["enabled"] is False
    assert changed["eventTypes"] == ["order.status_changed"]

    rotated = await tenant.graphql(ROTATE, {"id": webhook["id"]})
    assert SECRET.match(rotated["data"]["rotateWebhookSecret"]["secret"])
    assert rotated["data"]["rotateWebhookSecret"]["secret"] != result["secret"]

    deleted = await tenant.graphql(DELETE, {"id": webhook["id"]})
    assert deleted["data"] == {"deleteWebhook": True}
    assert (await tenant.graphql(LIST))["data"]["webhooks"] == []
    assert error_code(await tenant.graphql(ONE, {"id": webhook["id"]})) == "NotFoundError"


async def test_graphql_creates_with_all_events_by_default(tenant: Tenant) -> None:
    created = await tenant.graphql(CREATE, {"input": {"url": PUBLIC_URL}})

    assert created["data"]["createWebhook"]["webhook"]["eventTypes"] == ["*"]


@pytest.mark.parametrize(
    "webhook_input",
    [
        {"url": "http://127.0.0.1/hook"},
        {"url": "http://169.254.169.254/"},
        {"url": "ftp://93.184.215.14/"},
        {"url": PUBLIC_URL, "eventTypes": ["order.exploded"]},
        {"url": PUBLIC_URL, "eventTypes": []},
    ],
)
async def test_graphql_create_rejects_bad_input(
    tenant: Tenant, webhook_input: dict[str, Any]
) -> None:
    body = await tenant.graphql(CREATE, {"input": webhook_input})

    assert error_code(body) == "ValidationError"
    assert (await tenant.graphql(LIST))["data"]["webhooks"] == []


async def test_graphql_another_tenants_webhook_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    webhook = await register(tenant)
    ids = {"id": webhook["id"]}

    operations: list[tuple[str, dict[str, Any]]] = [
        (ONE, ids),
        (UPDATE, {**ids, "input": {"enabled": False}}),
        (DELETE, ids),
        (ROTATE, ids),
        (TEST, ids),
        (DELIVERIES, ids),
        (REDELIVER, {"webhookId": webhook["id"], "deliveryId": "1"}),
    ]
    for query, variables in operations:
        assert error_code(await other_tenant.graphql(query, variables)) == "NotFoundError", query
    assert (await other_tenant.graphql(LIST))["data"]["webhooks"] == []
    mine = (await tenant.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert mine["enabled"] is True
    assert (await tenant.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["total"] == 0
