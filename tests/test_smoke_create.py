from __future__ import annotations

from tests.conftest import Tenant
from tests.contract import DOCUMENTED_ORDER


async def test_documented_create_example_returns_exact_total(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/orders",
        json={key: DOCUMENTED_ORDER[key] for key in ("mobile", "name", "product_items")},
    )
    assert response.status_code == 201
    assert response.json()["order"]["final_amount"] == 2497.00
