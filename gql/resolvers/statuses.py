"""Order statuses and the lifecycle rules between them (SPEC §6)."""

from __future__ import annotations

from gql.errors import ValidationError

STATUSES: tuple[str, ...] = (
    "pending",
    "confirmed",
    "processing",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "refunded",
)


def parse_status(value: object, field: str = "status") -> str:
    """Accept a status in any letter case; answer it in lower case."""
    if isinstance(value, str) and value.strip().lower() in STATUSES:
        return value.strip().lower()
    raise ValidationError(
        f"Invalid {field} {value!r}. Allowed: {', '.join(STATUSES)}",
        {"field": field, "allowed": list(STATUSES)},
    )
