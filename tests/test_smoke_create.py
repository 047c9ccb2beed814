from __future__ import annotations

from tests.conftest import Tenant


async def test_documented_create_example_returns_exact_total(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/orders",
        json={
            "mobile": "+919876543210",
            "name": "John Doe",
            "product_items": [
                {
                    "product_retailer_id": "SKU-001",
                    "name": "Premium T-Shirt",
                    "quantity": 2,
                    "price": 599.00,
                },
                {
                    "product_retailer_id": "SKU-002",
                    "name": "Classic Jeans",
                    "quantity": 1,
                    "price": 1299.00,
                },
            ],
        },
    )
    assert response.status_code == 201
    assert response.json()["order"]["final_amount"] == 2497.00
