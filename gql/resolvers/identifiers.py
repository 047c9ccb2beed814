"""Order identifiers: ObjectId-like ``_id`` and human-readable ``referenceId``."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import string
import threading
from datetime import datetime

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_REFERENCE_ALPHABET = string.ascii_uppercase + string.digits

# As in MongoDB's ObjectId: 4 bytes of seconds, 5 random bytes fixed per process, and a
# 3-byte counter, so ids made by one process in one second still sort in creation order.
_PROCESS_BYTES = os.urandom(5)
_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_counter_lock = threading.Lock()


def new_object_id(at: datetime) -> str:
    with _counter_lock:
        count = next(_counter) % 0xFFFFFF
    seconds = int(at.timestamp()) & 0xFFFFFFFF
    return (seconds.to_bytes(4, "big") + _PROCESS_BYTES + count.to_bytes(3, "big")).hex()


def is_object_id(value: str) -> bool:
    return bool(_OBJECT_ID.match(value))


def new_reference_id(at: datetime) -> str:
    """``ORD`` + 10-digit Unix seconds + 4 random upper-case letters or digits."""
    # One draw of 64 random bits, read as four base-36 digits (one urandom call, not four).
    number = int.from_bytes(secrets.token_bytes(8), "big")
    suffix = ""
    for _ in range(4):
        number, digit = divmod(number, 36)
        suffix += _REFERENCE_ALPHABET[digit]
    return f"ORD{int(at.timestamp()):010d}{suffix}"


def event_id(seq: int) -> str:
    return f"evt_{seq:03d}"
