"""Validation of order input, shared by create (and later update) on both interfaces.

Input arrives as a mapping with the REST (snake_case) field names; the GraphQL adapter
converts its input objects to the same shape. Every rule and message lives here once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from gql.errors import ValidationError
from gql.resolvers.identifiers import is_object_id
from gql.resolvers.statuses import parse_status
from gql.resolvers.timestamps import format_utc

MOBILE_REQUIRED = "Customer mobile number is required"
ITEMS_REQUIRED = "At least one product item is required"
ITEM_FIELDS_REQUIRED = "Each product item must have name, quantity, and price"

MAX_ITEMS = 500
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("9999999999.99")
MAX_JSON_OBJECT_BYTES = 16 * 1024
CENT = Decimal("0.01")

# Plain ASCII decimals only: Decimal() alone would also take "1_000" or other scripts' digits.
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Path segments that are routes of their own, so they can never name an order.
RESERVED_REFERENCE_IDS = frozenset({"stats", "export", "bulk"})


_NOT_A_DIGIT = re.compile(r"[^0-9]")


def digits_of(text: str) -> str:
    """The ASCII digits of a phone number, whatever its punctuation."""
    return _NOT_A_DIGIT.sub("", text)


def customer_digits(mobile: str, name: str = "mobile") -> str:
    """The digits that identify a customer, from a mobile number in any punctuation."""
    digits = digits_of(mobile)
    if not digits or len(digits) > 40:
        raise ValidationError(f"{name} must be a phone number with 1-40 digits", {"field": name})
    return digits


# --- single values ---------------------------------------------------------------------


def text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", {"field": name})
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; no real name or note contains one.
        raise ValidationError(f"{name} must not contain NUL characters", {"field": name})
    if len(value) > max_length:
        raise ValidationError(f"{name} must be at most {max_length} characters", {"field": name})
    return value


def money(value: Any, name: str) -> Decimal:
    """An exact amount: a JSON number or a decimal string, at least 0, at most 2 decimals."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{name} must be a number", {"field": name})
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidOperation
            # repr() is the shortest text that reads back as this float: the JSON literal.
            amount = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            amount = Decimal(value)
        elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
            amount = Decimal(value.strip())
        else:
            raise InvalidOperation
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{name} must be a number", {"field": name}) from None
    if amount < 0:
        raise ValidationError(f"{name} must be at least 0", {"field": name})
    if amount > MAX_AMOUNT:
        raise ValidationError(f"{name} must be at most {MAX_AMOUNT}", {"field": name})
    if amount != amount.quantize(CENT):
        raise ValidationError(f"{name} must have at most 2 decimal places", {"field": name})
    return amount.quantize(CENT)


def quantity(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number", {"field": name})
    if not 1 <= value <= MAX_QUANTITY:
        raise ValidationError(f"{name} must be between 1 and {MAX_QUANTITY}", {"field": name})
    return value


def email(value: Any, name: str) -> str:
    address = text(value, name, 254)
    if not _EMAIL.match(address):
        raise ValidationError(f"{name} must be an email address", {"field": name})
    return address


def timestamp(value: Any, name: str) -> str:
    """An ISO 8601 date-time, stored in the canonical UTC form ``2023-06-25T18:00:00Z``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):  # GraphQL's DateTime scalar gives a date for "2023-06-23"
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raw = text(value, name, 64)
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValidationError(
                f"{name} must be an ISO 8601 date-time", {"field": name}
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return format_utc(moment)
    except OverflowError:
        raise ValidationError(f"{name} is out of range", {"field": name}) from None


def json_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be a JSON object", {"field": name})
    if _has_non_finite(value):
        # Python's json module reads NaN and Infinity (the importer, GraphQL variables);
        # JSON has no such numbers, and they could not be stored or answered faithfully.
        raise ValidationError(
            f"{name} must not contain NaN or Infinity (not JSON numbers)", {"field": name}
        )
    try:
        size = len(orjson.dumps(value, default=str))
    except TypeError:
        raise ValidationError(f"{name} must be a JSON object", {"field": name}) from None
    if size > MAX_JSON_OBJECT_BYTES:
        raise ValidationError(
            f"{name} must be at most {MAX_JSON_OBJECT_BYTES} bytes as JSON", {"field": name}
        )
    return value


def _has_non_finite(value: Any) -> bool:
    # A loop, not recursion: JSON may nest deeper than Python's recursion limit.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def reference_id(value: Any, name: str = "referenceId") -> str:
    ref = text(value, name, 64)
    if not _REFERENCE_ID.match(ref) or ref.lower() in RESERVED_REFERENCE_IDS:
        raise ValidationError(
            f"{name} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, and not a reserved word (stats, export, bulk)",
            {"field": name},
        )
    if is_object_id(ref):
        raise ValidationError(
            f"{name} must not look like an order _id (24 hex characters)", {"field": name}
        )
    return ref


def mobile(value: Any, name: str = "mobile") -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(MOBILE_REQUIRED, {"field": name})
    number = text(value, name, 40)
    if not digits_of(number):
        raise ValidationError(f"{name} must contain digits", {"field": name})
    return number


# --- objects ---------------------------------------------------------------------------


def reject_unknown(data: Mapping[str, Any], known: Mapping[str, object], where: str) -> None:
    if data.keys() <= known.keys():  # the usual case, without building a list
        return
    unknown = sorted(key for key in data if key not in known)
    if unknown:
        place = f" in {where}" if where else ""
        raise ValidationError(
            f"Unknown field{'s' if len(unknown) > 1 else ''}{place}: {', '.join(unknown)}",
            {"fields": unknown, "allowed": sorted(known)},
        )


Rule = Callable[[Any, str], Any]


def _short(max_length: int) -> Rule:
    return lambda value, name: text(value, name, max_length)


def _location(value: Any, name: str) -> dict[str, float]:
    if not isinstance(value, dict) or set(value) != {"lat", "lng"}:
        raise ValidationError(f"{name} must be an object with lat and lng", {"field": name})
    point: dict[str, float] = {}
    for axis, bound in (("lat", 90), ("lng", 180)):
        coordinate = value[axis]
        if (
            isinstance(coordinate, bool)
            or not isinstance(coordinate, (int, float))
            or not -bound <= coordinate <= bound
        ):
            raise ValidationError(
                f"{name}.{axis} must be a number between -{bound} and {bound}",
                {"field": f"{name}.{axis}"},
            )
        point[axis] = float(coordinate)
    return point


def _sub_object(rules: Mapping[str, Rule], *, keep_nulls: bool = False) -> Rule:
    """A JSON object with known keys. ``keep_nulls`` keeps ``null`` values: in an update
    they mean "remove this key" when the object is merged into the stored one."""

    def parse(value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError(f"{name} must be a JSON object", {"field": name})
        reject_unknown(value, rules, name)
        return {
            key: None if item is None else rules[key](item, f"{name}.{key}")
            for key, item in value.items()
            if item is not None or keep_nulls
        }

    return parse


def _money_as_json(value: Any, name: str) -> str:
    # Kept inside a JSON column, so stored as exact decimal text.
    return str(money(value, name))


DELIVERY_DETAILS_RULES: dict[str, Rule] = {
    "recipient_name": _short(200),
    "email": email,
    "phone": _short(40),
    "alternate_phone": _short(40),
    "address": _short(1000),
    "notes": _short(5000),
    "location": _location,
    "tracking_number": _short(200),
    "estimated_delivery": timestamp,
}

PAYMENT_INFO_RULES: dict[str, Rule] = {
    "status": _short(50),
    "amount": _money_as_json,
    "currency": _short(10),
    "payment_id": _short(200),
    "method": _short(100),
}

ITEM_FIELDS = dict.fromkeys(("product_retailer_id", "sku", "name", "quantity", "price"))


@dataclass(frozen=True)
class ItemInput:
    name: str
    quantity: int
    price: Decimal
    product_retailer_id: str | None = None
    sku: str | None = None

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.price


def product_items(value: Any, name: str = "product_items") -> list[ItemInput]:
    if not isinstance(value, list) or not value:
        raise ValidationError(ITEMS_REQUIRED, {"field": name})
    if len(value) > MAX_ITEMS:
        raise ValidationError(f"{name} must have at most {MAX_ITEMS} items", {"field": name})
    return [_item(raw, f"{name}[{index}]") for index, raw in enumerate(value)]


def _item(raw: Any, where: str) -> ItemInput:
    if not isinstance(raw, dict):
        raise ValidationError(ITEM_FIELDS_REQUIRED, {"field": where})
    reject_unknown(raw, ITEM_FIELDS, where)
    for required in ("name", "quantity", "price"):
        value = raw.get(required)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValidationError(ITEM_FIELDS_REQUIRED, {"field": f"{where}.{required}"})
    optional = {
        key: text(raw[key], f"{where}.{key}", 200)
        for key in ("product_retailer_id", "sku")
        if raw.get(key) is not None
    }
    return ItemInput(
        name=text(raw["name"], f"{where}.name", 200),
        quantity=quantity(raw["quantity"], f"{where}.quantity"),
        price=money(raw["price"], f"{where}.price"),
        **optional,
    )


# Optional order fields: REST name -> rule. Create and update both use this table.
OPTIONAL_FIELD_RULES: dict[str, Rule] = {
    "name": _short(200),
    "email": email,
    "user_id": _short(200),
    "status": lambda value, name: parse_status(value, name),
    "final_amount": money,
    "delivery_method": _short(100),
    "delivery_details": _sub_object(DELIVERY_DETAILS_RULES),
    "product_customizations": json_object,
    "payment_info": _sub_object(PAYMENT_INFO_RULES),
    "payment_status": _short(50),
    "external_order_source": _short(100),
    "external_order_id": _short(200),
    "external_order_number": _short(200),
    "notes": _short(5000),
}

CREATE_FIELDS = dict.fromkeys(("mobile", "product_items", "referenceId", *OPTIONAL_FIELD_RULES))


@dataclass(frozen=True)
class NewOrder:
    mobile: str
    items: list[ItemInput]
    final_amount: Decimal
    reference_id: str | None = None
    # The other validated optional fields, by REST name.
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.fields.get("status", "pending"))


def sum_items(items: list[ItemInput]) -> Decimal:
    total = sum((item.line_total for item in items), Decimal("0.00")).quantize(CENT)
    if total > MAX_AMOUNT:
        raise ValidationError(
            f"The items add up to {total}, over the maximum order amount {MAX_AMOUNT}",
            {"field": "product_items"},
        )
    return total


def parse_new_order(payload: Any) -> NewOrder:
    if not isinstance(payload, Mapping):
        raise ValidationError("Request body must be a JSON object")
    reject_unknown(payload, CREATE_FIELDS, "")
    number = mobile(payload.get("mobile"))
    items = product_items(payload.get("product_items"))
    ref = payload.get("referenceId")
    fields = {
        key: OPTIONAL_FIELD_RULES[key](value, key)
        for key, value in payload.items()
        if key in OPTIONAL_FIELD_RULES and value is not None
    }
    if "payment_status" not in fields and "status" in fields.get("payment_info", {}):
        fields["payment_status"] = fields["payment_info"]["status"]
    given_amount = fields.pop("final_amount", None)
    return NewOrder(
        mobile=number,
        items=items,
        final_amount=sum_items(items) if given_amount is None else given_amount,
        reference_id=reference_id(ref) if ref is not None else None,
        fields=fields,
    )


# --- updates ---------------------------------------------------------------------------

IMMUTABLE_FIELDS = ("_id", "referenceId", "created_at", "updated_at")
UPDATE_FIELDS = {"mobile", "product_items", *OPTIONAL_FIELD_RULES}
# Fields an update merges key by key into the stored object instead of replacing it.
MERGED_FIELDS: dict[str, Rule] = {
    "delivery_details": _sub_object(DELIVERY_DETAILS_RULES, keep_nulls=True),
    "payment_info": _sub_object(PAYMENT_INFO_RULES, keep_nulls=True),
}
# Fields that always have a value: ``null`` cannot clear them.
_NOT_NULLABLE = ("status", "final_amount", "delivery_method")


def parse_updates(updates: Any) -> dict[str, Any]:
    """Validated changes, by REST field name. ``None`` clears an optional field; the
    objects of ``MERGED_FIELDS`` hold ``None`` for keys to remove."""
    if not isinstance(updates, Mapping):
        raise ValidationError("updates must be a JSON object of fields to change")
    immutable = [key for key in IMMUTABLE_FIELDS if key in updates]
    if immutable:
        raise ValidationError(
            f"Field{'s' if len(immutable) > 1 else ''} cannot be updated: {', '.join(immutable)}",
            {"fields": immutable},
        )
    reject_unknown(updates, dict.fromkeys(UPDATE_FIELDS), "updates")
    if not updates:
        raise ValidationError("updates is empty: name at least one field to change")
    changes: dict[str, Any] = {}
    for key, value in updates.items():
        if key == "mobile":
            changes[key] = mobile(value)
        elif key == "product_items":
            changes[key] = product_items(value)
        elif value is None:
            if key in _NOT_NULLABLE:
                raise ValidationError(f"{key} cannot be null", {"field": key})
            changes[key] = None
        else:
            rule = MERGED_FIELDS.get(key) or OPTIONAL_FIELD_RULES[key]
            changes[key] = rule(value, key)
    return changes


def note(value: Any, name: str = "note") -> str | None:
    return None if value is None else text(value, name, 1000) or None
