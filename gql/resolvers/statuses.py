"""Order statuses and the lifecycle rules between them (SPEC §6)."""

from __future__ import annotations

from gql.errors import ConflictError, ValidationError

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


# Which statuses each status may move to. Setting the current status again is always
# allowed (and records nothing); every other move is a 409.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("confirmed", "processing", "shipped", "delivered", "completed", "cancelled"),
    "confirmed": ("processing", "shipped", "delivered", "completed", "cancelled"),
    "processing": ("shipped", "delivered", "completed", "cancelled"),
    "shipped": ("delivered", "completed", "cancelled"),
    "delivered": ("completed", "refunded"),
    "completed": ("refunded",),
    "cancelled": ("refunded",),
    "refunded": (),
}

# The timeline event type a move *to* each status records.
EVENT_TYPE_FOR_STATUS: dict[str, str] = {
    "pending": "pending",
    "confirmed": "success",
    "processing": "pending",
    "shipped": "info",
    "delivered": "success",
    "completed": "success",
    "cancelled": "error",
    "refunded": "error",
}


def check_transition(current: str, target: str) -> None:
    if target != current and target not in TRANSITIONS[current]:
        allowed = list(TRANSITIONS[current])
        raise ConflictError(
            f"Cannot change status from {current} to {target}"
            + (f"; allowed: {', '.join(allowed)}" if allowed else f"; {current} is final"),
            {"from": current, "to": target, "allowed": allowed},
        )
