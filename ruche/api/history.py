"""GET /{resource}/{id}/history: a record's append-only change log (a Ruche addition)."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from ninja import Query, Router, Schema

from ruche.api.pagination import PageParams, page_response, paginate
from ruche.api.schemas import Id, envelope
from ruche.core.history import history_for


class ChangeOut(Schema):
    id: int
    time: dt.datetime
    event: str
    field: str
    old_value: Any
    new_value: Any
    actor_kind: str
    actor_user_id: int | None
    actor_label: str


def add_history_route(
    router: Router, *, path: str, entity: str, load: Callable[[Any, int], Any]
) -> None:
    @router.get(
        f"{path}/{{int:id}}/history",
        response=envelope(ChangeOut, many=True),
        operation_id=f"get{entity.capitalize()}History",
        summary=f"Get the change history of a {entity}",
    )
    def get_history(request, id: Id, page: Query[PageParams]):
        load(request.auth, id)
        rows, cursor = paginate(history_for(entity, id), limit=page.limit, cursor=page.cursor)
        return page_response(rows, cursor)
