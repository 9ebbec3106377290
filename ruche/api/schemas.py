"""Shapes shared by every resource: the envelopes, and input helpers."""

import datetime as dt
from functools import cache
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, create_model

from ruche.core.custom_fields import definitions, present_custom_fields
from ruche.core.exceptions import ValidationError
from ruche.core.validation import MAX_ID


class NextCursor(Schema):
    next_cursor: str | None = None


class DeletedId(Schema):
    id: int


@cache
def envelope(item: Any, *, many: bool = False) -> type[Schema]:
    """`{success, data}` (single) or `{success, data: [...], additional_data}` (list)."""
    name = getattr(item, "__name__", "Item")
    if many:
        return create_model(
            f"{name}ListResponse",
            __base__=Schema,
            success=(bool, True),
            data=(list[item], ...),
            additional_data=(NextCursor, ...),
        )
    return create_model(f"{name}Response", __base__=Schema, success=(bool, True), data=(item, ...))


def ok(data: Any) -> dict:
    return {"success": True, "data": data}


def comma_ids(raw: str | None, *, field: str = "ids", maximum: int = 100) -> list[int] | None:
    """Pipedrive's comma-separated id lists ("1,2,3")."""
    if raw is None:
        return None
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValidationError({field: "Comma-separated integer ids are expected."}) from None
    if len(ids) > maximum:
        raise ValidationError({field: f"At most {maximum} ids."})
    return ids


def shown_custom_fields(entity: str, stored: dict, context) -> dict:
    """Custom field values as the API shows them, definitions read once per request."""
    request = context["request"]
    cache_ = request.__dict__.setdefault("custom_field_definitions", {})
    if entity not in cache_:
        cache_[entity] = definitions(entity)
    return present_custom_fields(cache_[entity], stored)


# A larger id is refused by name instead of overflowing the database.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _in_utc(moment: dt.datetime) -> dt.datetime:
    """RFC 3339 times in any offset (pydantic accepts up to ±24 h; PostgreSQL ±15:59) as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("out of the supported date range") from None


UtcDatetime = Annotated[dt.datetime, AfterValidator(_in_utc)]
