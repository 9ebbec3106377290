"""Opaque cursors: base64url JSON of the sort value and the id of the last row seen.
Kept free of Django and ninja imports so that tools (the benchmarks) can build one."""

import base64
import binascii
import datetime as dt
import json
from typing import Any

from ruche.core.exceptions import ValidationError


def encode_cursor(value: Any, pk: int) -> str:
    raw = json.dumps(
        {"v": value.isoformat() if isinstance(value, dt.datetime) else value, "id": pk}
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_by: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, pk = data["v"], int(data["id"])
        if sort_by != "id":
            value = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
        return value, pk
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": "Invalid cursor; use next_cursor as given."}) from None
