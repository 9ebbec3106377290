"""Cursor pagination on (sort field, id): a page costs the same at any depth, and rows added
or changed meanwhile never shift a page. Cursors are opaque base64url JSON."""

from typing import Literal

from django.db.models import Q, QuerySet
from ninja import Field, Schema

from ruche.api.cursors import decode_cursor, encode_cursor

MAX_LIMIT = 500


class PageParams(Schema):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="Entries per page, at most 500.")
    cursor: str | None = Field(None, max_length=500, description="Opaque marker of the page.")


class SortedPageParams(PageParams):
    sort_by: Literal["id", "update_time", "add_time"] = "id"
    sort_direction: Literal["asc", "desc"] = "asc"


def paginate(
    queryset: QuerySet,
    *,
    limit: int,
    cursor: str | None,
    sort_by: str = "id",
    sort_direction: str = "asc",
) -> tuple[list, str | None]:
    """One page of `queryset` and the cursor of the next page (None on the last one)."""
    descending = sort_direction == "desc"
    prefix = "-" if descending else ""
    order = [f"{prefix}{sort_by}"] + ([] if sort_by == "id" else [f"{prefix}id"])
    if cursor:
        value, pk = decode_cursor(cursor, sort_by)
        after = "lt" if descending else "gt"
        if sort_by == "id":
            queryset = queryset.filter(**{f"id__{after}": pk})
        else:
            queryset = queryset.filter(
                Q(**{f"{sort_by}__{after}": value}) | Q(**{sort_by: value, f"id__{after}": pk})
            )
    rows = list(queryset.order_by(*order)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, sort_by), last.pk)


def page_response(rows: list, next_cursor: str | None) -> dict:
    return {"success": True, "data": rows, "additional_data": {"next_cursor": next_cursor}}
