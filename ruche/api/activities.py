"""/activities as in Pipedrive's API v2, and /notes (a Ruche addition in the same style)."""

import datetime as dt
import re
from typing import Literal

from ninja import Field, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.pagination import SortedPageParams
from ruche.api.schemas import Id, UtcDatetime, comma_ids
from ruche.core.exceptions import ValidationError
from ruche.pipelines import selectors, services
from ruche.pipelines.models import Activity

router = Router(tags=["Activities and notes"])

ActivityType = Literal["call", "meeting", "task", "email", "deadline"]
DURATION = re.compile(r"^(\d{1,3}):([0-5]\d)$")


class ActivityOut(Schema):
    id: int
    subject: str
    type: str
    owner_id: int
    is_deleted: bool
    add_time: dt.datetime
    update_time: dt.datetime
    deal_id: int | None
    person_id: int | None
    org_id: int | None
    due_date: dt.date | None
    due_time: str | None
    duration: str | None
    busy: bool = False
    done: bool
    marked_as_done_time: dt.datetime | None
    note: str
    version: int

    @staticmethod
    def resolve_due_time(activity: Activity) -> str | None:
        return activity.due_time.strftime("%H:%M") if activity.due_time else None

    @staticmethod
    def resolve_duration(activity: Activity) -> str | None:
        minutes = activity.duration_minutes
        return None if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


class ActivityIn(Schema):
    subject: str | None = Field(None, min_length=1, max_length=255)
    type: ActivityType | None = None
    owner_id: Id | None = None
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    due_date: dt.date | None = None
    due_time: dt.time | None = None
    duration: str | None = Field(None, max_length=6, description="HH:MM")
    done: bool | None = None
    note: str | None = Field(None, max_length=100_000)


class ActivityCreate(ActivityIn):
    subject: str = Field(..., min_length=1, max_length=255)


class ActivityFilters(SortedPageParams):
    ids: str | None = Field(None, max_length=2000)
    owner_id: Id | None = None
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    done: bool | None = None
    updated_since: UtcDatetime | None = None
    updated_until: UtcDatetime | None = None


def _activity_data(data: dict) -> dict:
    if data.get("duration") is not None:
        match = DURATION.match(data["duration"])
        if not match:
            raise ValidationError({"duration": "A duration is HH:MM."})
        data["duration"] = int(match[1]) * 60 + int(match[2])
    return data


class NoteOut(Schema):
    id: int
    content: str
    owner_id: int
    deal_id: int | None
    person_id: int | None
    org_id: int | None
    add_time: dt.datetime
    update_time: dt.datetime
    version: int


class NoteIn(Schema):
    content: str | None = Field(None, min_length=1, max_length=100_000)
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None


class NoteCreate(NoteIn):
    content: str = Field(..., min_length=1, max_length=100_000)


class NoteFilters(SortedPageParams):
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None


ACTIVITIES = Resource(
    singular="Activity",
    plural="Activities",
    path="/activities",
    out=ActivityOut,
    create_in=ActivityCreate,
    update_in=ActivityIn,
    filters=ActivityFilters,
    list_queryset=lambda user, values: selectors.activity_list(
        user, filters=values | {"ids": comma_ids(values.get("ids"))}
    ),
    load=selectors.access_activity_by_id,
    create=lambda actor, data: services.activity_create(actor=actor, data=_activity_data(data)),
    update=lambda actor, pk, data, version: services.activity_update(
        actor=actor, activity_id=pk, data=_activity_data(data), expected_version=version
    ),
    delete=lambda actor, pk: services.activity_delete(actor=actor, activity_id=pk),
)
NOTES = Resource(
    singular="Note",
    plural="Notes",
    path="/notes",
    out=NoteOut,
    create_in=NoteCreate,
    update_in=NoteIn,
    filters=NoteFilters,
    list_queryset=lambda user, values: selectors.note_list(user, filters=values),
    load=selectors.access_note_by_id,
    create=lambda actor, data: services.note_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.note_update(
        actor=actor, note_id=pk, data=data
    ),
    delete=lambda actor, pk: services.note_delete(actor=actor, note_id=pk),
)
add_crud_routes(router, ACTIVITIES)
add_crud_routes(router, NOTES)
