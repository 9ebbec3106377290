"""The five routes every Pipedrive resource has (list, get, add, update, delete), written once.

Each route stays thin: parse, load through the visibility rule, call one service, render.
Records carry their `version` as a strong ETag; a PATCH whose If-Match is stale answers 412.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from ruche.api.auth import actor_of
from ruche.api.pagination import page_response, paginate
from ruche.api.schemas import DeletedId, Id, envelope, ok
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor


def etag(instance) -> str:
    return f'"{instance.version}"'


def expected_version(request: HttpRequest) -> int | None:
    """The version named by If-Match, None when absent or `*`."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    tag = header.split(",")[0].strip()
    try:
        return int(tag.removeprefix("W/").strip('"'))
    except ValueError:
        raise ValidationError({"If-Match": f"Not an ETag this API issued: {tag!r}."}) from None


@dataclass(frozen=True)
class Resource:
    """What the generic routes need to know about one resource."""

    singular: str  # "Deal": used in operation ids and summaries
    plural: str  # "Deals"
    path: str  # "/deals"
    out: type[Schema]
    create_in: type[Schema]
    update_in: type[Schema]
    filters: type[Schema]
    list_queryset: Callable[[Any, dict], QuerySet]
    load: Callable[[Any, int], Any]
    create: Callable[[Actor, dict], Any]
    update: Callable[[Actor, int, dict, int | None], Any]
    delete: Callable[..., None]  # (actor, pk, **delete_params)
    create_status: int = 200
    delete_params: type[Schema] | None = None


def _with_etag(response: HttpResponse, instance) -> dict:
    response["ETag"] = etag(instance)
    return ok(instance)


def add_crud_routes(router: Router, resource: Resource) -> None:
    r = resource
    item_path = f"{r.path}/{{int:id}}"

    @router.get(
        r.path,
        response=envelope(r.out, many=True),
        operation_id=f"get{r.plural}",
        summary=f"Get all {r.plural.lower()}",
    )
    def list_records(request, filters: Query[r.filters]):
        values = filters.model_dump()
        rows, next_cursor = paginate(
            r.list_queryset(request.auth, values),
            limit=values["limit"],
            cursor=values["cursor"],
            sort_by=values.get("sort_by", "id"),
            sort_direction=values.get("sort_direction", "asc"),
        )
        return page_response(rows, next_cursor)

    @router.get(
        item_path,
        response=envelope(r.out),
        operation_id=f"get{r.singular}",
        summary=f"Get one {r.singular.lower()}",
    )
    def get_record(request, id: Id, response: HttpResponse):
        return _with_etag(response, r.load(request.auth, id))

    @router.post(
        r.path,
        response={r.create_status: envelope(r.out)},
        operation_id=f"add{r.singular}",
        summary=f"Add a {r.singular.lower()}",
    )
    def add_record(request, payload: r.create_in, response: HttpResponse):
        instance = r.create(actor_of(request), payload.model_dump(exclude_unset=True))
        return _with_etag(response, r.load(request.auth, instance.pk))

    @router.patch(
        item_path,
        response=envelope(r.out),
        operation_id=f"update{r.singular}",
        summary=f"Update a {r.singular.lower()} (If-Match: its ETag)",
    )
    def update_record(request, id: Id, payload: r.update_in, response: HttpResponse):
        r.update(
            actor_of(request), id, payload.model_dump(exclude_unset=True), expected_version(request)
        )
        return _with_etag(response, r.load(request.auth, id))

    delete_route = router.delete(
        item_path,
        response=envelope(DeletedId),
        operation_id=f"delete{r.singular}",
        summary=f"Delete a {r.singular.lower()}",
    )
    if r.delete_params is None:

        @delete_route
        def delete_record(request, id: Id):
            r.delete(actor_of(request), id)
            return ok({"id": id})

    else:

        @delete_route
        def delete_record_with(request, id: Id, params: Query[r.delete_params]):
            r.delete(actor_of(request), id, **params.model_dump())
            return ok({"id": id})
