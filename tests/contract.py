"""The public contract as the tests restate it: statuses and the transition table, the
documented messages, the reference document's example order and the formats of ids and
timestamps.

Written out here, never read from the application (``gql``, ``rest``, ``db``): a test that
takes its expected value from the code under test can no longer fail. Contract: SPEC.md
and reference/order-management-api.txt."""

from __future__ import annotations

import json
import re
from typing import Any, Final

# --- statuses (SPEC §6) ----------------------------------------------------------------------

STATUSES: Final = (
    "pending",
    "confirmed",
    "processing",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "refunded",
)

# SPEC §6, verbatim: the statuses each status may move to.
ALLOWED_MOVES: Final[dict[str, tuple[str, ...]]] = {
    "pending": ("confirmed", "processing", "shipped", "delivered", "completed", "cancelled"),
    "confirmed": ("processing", "shipped", "delivered", "completed", "cancelled"),
    "processing": ("shipped", "delivered", "completed", "cancelled"),
    "shipped": ("delivered", "completed", "cancelled"),
    "delivered": ("completed", "refunded"),
    "completed": ("refunded",),
    "cancelled": ("refunded",),
    "refunded": (),
}

# --- documented messages (SPEC §4-§5, §8-§9) --------------------------------------------------

MOBILE_REQUIRED: Final = "Customer mobile number is required"
ITEMS_REQUIRED: Final = "At least one product item is required"
ITEM_FIELDS_REQUIRED: Final = "Each product item must have name, quantity, and price"

# The ``mobile`` filter of the list, the export and ``customer(mobile:)``.
MOBILE_MESSAGE: Final = "mobile must be a phone number with 1-40 digits"

# The date range of the export and the statistics.
BAD_START_DATE: Final = (
    "startDate must be an ISO 8601 date or date-time, e.g. 2024-06-01 or 2024-06-01T09:30:00Z"
)
BAD_END_DATE: Final = (
    "endDate must be an ISO 8601 date or date-time, e.g. 2024-06-01 or 2024-06-01T09:30:00Z"
)
START_AFTER_END: Final = "startDate must be before endDate"

# The whole answer to a request without a valid API key.
UNAUTHORIZED: Final[dict[str, Any]] = {
    "error": {"code": "AuthenticationError", "message": "Invalid or missing API key"}
}

# The keys an error of the envelope ``{"error": {...}}`` may have.
ERROR_FIELDS: Final = frozenset({"code", "message", "details"})

# --- formats -----------------------------------------------------------------------------------

OBJECT_ID: Final = re.compile(r"^[0-9a-f]{24}$")
GENERATED_REFERENCE_ID: Final = re.compile(r"^ORD(\d{10})[A-Z0-9]{4}$")
UTC_TIMESTAMP: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
API_KEY: Final = re.compile(r"oma_[0-9a-f]+_[A-Za-z0-9_-]{40,}")

# --- the reference document's example order ---------------------------------------------------

# "Create Order" → "Request Example", character for character.
DOCUMENTED_CREATE_REQUEST: Final = """{
"mobile": "+919876543210",
"name": "John Doe",
"email": "john@example.com",
"product_items": [
{
"product_retailer_id": "SKU-001",
"name": "Premium T-Shirt",
"quantity": 2,
"price": 599.00
},
{
"product_retailer_id": "SKU-002",
"name": "Classic Jeans",
"quantity": 1,
"price": 1299.00
}
],
"delivery_method": "Local Delivery",
"delivery_details": {
"recipient_name": "John Doe",
"phone": "+919876543210",
"address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001"
},
"external_order_source": "website",
"external_order_id": "WEB-12345",
"notes": "Please deliver before 6 PM"
}"""

# The same request as a JSON body to send (final amount 2 * 599.00 + 1299.00 = 2497.00).
# Shared by many modules: copy it (``{**DOCUMENTED_ORDER, ...}``), never change it in place.
DOCUMENTED_ORDER: Final[dict[str, Any]] = json.loads(DOCUMENTED_CREATE_REQUEST)

# Every field the reference document shows on an order (request table, response examples,
# Order Object table) plus payment_status (SPEC §5 Representation).
DOCUMENTED_ORDER_FIELDS: Final = frozenset(
    {
        "_id",
        "referenceId",
        "status",
        "mobile",
        "name",
        "email",
        "user_id",
        "final_amount",
        "delivery_method",
        "delivery_details",
        "product_items",
        "product_customizations",
        "payment_info",
        "payment_status",
        "external_order_source",
        "external_order_id",
        "external_order_number",
        "notes",
        "created_at",
        "updated_at",
    }
)
