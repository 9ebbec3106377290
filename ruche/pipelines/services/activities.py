"""Activities and notes. A deal keeps its next open activity and the date of its last completed
one: completing an activity counts as activity on the deal and resets its rotting clock."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor
from ruche.core.permissions import restrict
from ruche.core.services import (
    create_recorded,
    lock,
    resolve,
    resolve_user,
    save_changes,
    soft_delete,
)
from ruche.forecasting.stage_tallies import take_writers_turn
from ruche.pipelines.models import Activity, Deal, Note
from ruche.pipelines.selectors import activity_queryset, deal_queryset, note_queryset

ACTIVITY_FIELDS = (
    "subject",
    "type",
    "owner",
    "deal",
    "person",
    "org",
    "due_date",
    "due_time",
    "duration_minutes",
    "done",
    "marked_as_done_time",
    "note",
)
INPUT_NAMES = {
    "deal": "deal_id",
    "person": "person_id",
    "org": "org_id",
    "owner": "owner_id",
    "duration_minutes": "duration",
}


def _links(data: dict, actor: Actor) -> dict:
    """The deal, person and organisation a record is attached to, each visible to the actor."""
    links = {}
    for field, queryset in (
        ("deal", deal_queryset(actor.user)),
        ("person", restrict(Person.objects, actor.user)),
        ("org", restrict(Organization.objects, actor.user)),
    ):
        if f"{field}_id" in data:
            links[field] = resolve(queryset, data[f"{field}_id"], field=f"{field}_id")
    return links


def _parse(parser, value: Any, field: str):
    if value is None or not isinstance(value, str):
        return value
    try:
        return parser(value)
    except ValueError:
        raise ValidationError({field: f"Not a valid value: {value!r}."}) from None


def _activity_values(data: dict, actor: Actor, activity: Activity | None) -> dict:
    values = {k: data[k] for k in ("subject", "type", "note") if k in data}
    values |= _links(data, actor)
    if "owner_id" in data or activity is None:
        values["owner"] = resolve_user(data.get("owner_id") or actor.user.pk)
    if "due_date" in data:
        values["due_date"] = _parse(dt.date.fromisoformat, data["due_date"], "due_date")
    if "due_time" in data:
        values["due_time"] = _parse(dt.time.fromisoformat, data["due_time"], "due_time")
        if values["due_time"] is not None and values["due_time"].tzinfo is not None:
            raise ValidationError({"due_time": "A local time (HH:MM) without a UTC offset."})
    if "duration" in data:
        values["duration_minutes"] = data["duration"]
    if "done" in data and data["done"] != (activity.done if activity else False):
        values["done"] = bool(data["done"])
        values["marked_as_done_time"] = timezone.now() if data["done"] else None
    return values


def copy_deal_visibility(deal: Deal) -> None:
    """After a change of the deal's owner or visibility: its activities' copy of them, which
    their visibility reads (Activity.deal_owner), follows."""
    deal.activities.update(**Activity.deal_copy(deal))


def refresh_deal_activity(deal_id: int | None) -> None:
    """Recompute a deal's next activity and last activity date from its activities."""
    if deal_id is None:
        return
    activities = Activity.objects.filter(deal_id=deal_id, is_deleted=False)
    # Undated activities come last on both databases (SQLite sorts NULL first by default).
    upcoming = (
        activities.filter(done=False)
        .order_by(F("due_date").asc(nulls_last=True), F("due_time").asc(nulls_last=True), "id")
        .first()
    )
    last_done = activities.filter(done=True).aggregate(last=Max("marked_as_done_time"))["last"]
    Deal.objects.filter(pk=deal_id).update(
        next_activity=upcoming,
        next_activity_date=upcoming.due_date if upcoming else None,
        last_activity_date=timezone.localdate(last_done) if last_done else None,
    )


# An activity write reads its deal (the copy of its owner and visibility) and writes it (its next
# activity): it takes the deal writers' turn first, as every deal write, so that a change of the
# deal's owner cannot come between, nor lock the two rows in the other order.


@transaction.atomic
def activity_create(*, actor: Actor, data: dict[str, Any]) -> Activity:
    take_writers_turn()
    activity = create_recorded(
        Activity(),
        entity="activity",
        actor=actor,
        values=_activity_values(data, actor, None),
        renamed=INPUT_NAMES,
    )
    refresh_deal_activity(activity.deal_id)
    return activity


@transaction.atomic
def activity_update(
    *, actor: Actor, activity_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Activity:
    take_writers_turn()
    activity = lock(
        activity_queryset(actor.user),
        activity_id,
        label="Activity",
        expected_version=expected_version,
    )
    previous_deal_id = activity.deal_id
    save_changes(
        activity,
        entity="activity",
        actor=actor,
        values=_activity_values(data, actor, activity),
        fields=ACTIVITY_FIELDS,
        renamed=INPUT_NAMES,
    )
    refresh_deal_activity(previous_deal_id)
    if activity.deal_id != previous_deal_id:
        refresh_deal_activity(activity.deal_id)
    return activity


def activity_complete(*, actor: Actor, activity_id: int) -> Activity:
    return activity_update(actor=actor, activity_id=activity_id, data={"done": True})


@transaction.atomic
def activity_delete(*, actor: Actor, activity_id: int) -> None:
    take_writers_turn()
    activity = soft_delete(
        activity_queryset(actor.user), activity_id, entity="activity", actor=actor
    )
    refresh_deal_activity(activity.deal_id)


def _note_values(data: dict, actor: Actor) -> dict:
    values = {k: data[k] for k in ("content",) if k in data} | _links(data, actor)
    return values


@transaction.atomic
def note_create(*, actor: Actor, data: dict[str, Any]) -> Note:
    values = _note_values(data, actor)
    if not any(values.get(link) for link in ("deal", "person", "org")):
        raise ValidationError({"deal_id": "A note belongs to a deal, a person or an organization."})
    return create_recorded(
        Note(owner=actor.user), entity="note", actor=actor, values=values, renamed=INPUT_NAMES
    )


@transaction.atomic
def note_update(*, actor: Actor, note_id: int, data: dict[str, Any]) -> Note:
    note = lock(note_queryset(actor.user), note_id, label="Note")
    save_changes(
        note,
        entity="note",
        actor=actor,
        values=_note_values(data, actor),
        fields=("content", "deal", "person", "org"),
        renamed=INPUT_NAMES,
    )
    return note


@transaction.atomic
def note_delete(*, actor: Actor, note_id: int) -> None:
    soft_delete(note_queryset(actor.user), note_id, entity="note", actor=actor)
