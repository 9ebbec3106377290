"""Blocks that the deal, organisation and person pages share: activities, notes and the history
timeline. Each block hangs off a `Subject` and HTMX replaces it on its own."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ruche.contacts.selectors import access_organization_by_id, access_person_by_id
from ruche.core.exceptions import RucheError
from ruche.core.history import history_for
from ruche.core.models import ChangeRecord, Lookup
from ruche.pipelines import services
from ruche.pipelines.models import Activity, Stage
from ruche.pipelines.selectors import (
    access_activity_by_id,
    access_deal_by_id,
    activity_list,
    note_list,
)
from ruche.web import formatting
from ruche.web.views.common import ACTIVITY_TYPE_LABELS, STATUS_LABELS, actor, error_text, web_view

# kind → (visibility-checked getter, the activity/note field that points at it)
KINDS = {
    "deal": (access_deal_by_id, "deal_id"),
    "organization": (access_organization_by_id, "org_id"),
    "person": (access_person_by_id, "person_id"),
}


@dataclass(frozen=True)
class Subject:
    kind: str
    record: Model

    @classmethod
    def get(cls, user, kind: str, record_id: int) -> "Subject":
        """404 for an unknown kind or a record the user may not see, as for any page."""
        if kind not in KINDS:
            raise Http404
        access, _field = KINDS[kind]
        return cls(kind, access(user, record_id))

    @property
    def link_field(self) -> str:
        return KINDS[self.kind][1]

    @property
    def links(self) -> dict:
        return {self.link_field: self.record.pk}

    def url(self, block: str) -> str:
        return reverse(f"web:{self.kind}_{block}", args=[self.record.pk])


# Activities -----------------------------------------------------------------------------------


def activities_context(user, subject: Subject, **extra) -> dict:
    activities = list(
        activity_list(user, filters=subject.links)
        .select_related("owner")
        .order_by("done", "due_date", "due_time", "id")
    )
    return {
        "subject": subject,
        "activities_url": subject.url("activities"),
        "activities": activities,
        "activity_types": ACTIVITY_TYPE_LABELS,
    } | extra


def _activities_response(request, subject: Subject, *, status=200, **extra) -> HttpResponse:
    context = activities_context(request.user, subject, **extra)
    response = render(request, "web/records/activities.html", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "record-changed"
    return response


@web_view
def activity_add(request: HttpRequest, kind: str, record_id: int) -> HttpResponse:
    subject = Subject.get(request.user, kind, record_id)
    if request.method != "POST":
        return HttpResponse(status=405)
    activity_type = request.POST.get("type", Activity.Type.TASK)
    data = subject.links | {
        "subject": request.POST.get("subject", "").strip()
        or str(ACTIVITY_TYPE_LABELS.get(activity_type, activity_type)),
        "type": activity_type,
        "due_date": request.POST.get("due_date") or None,
        "due_time": request.POST.get("due_time") or None,
    }
    try:
        services.activity_create(actor=actor(request), data=data)
    except RucheError as error:
        return _activities_response(request, subject, status=422, error=error_text(error))
    return _activities_response(request, subject)


@web_view
def activity_done(request: HttpRequest, activity_id: int) -> HttpResponse:
    """Completes the activity, then redraws the block of the page it was ticked on."""
    if request.method != "POST":
        return HttpResponse(status=405)
    activity = access_activity_by_id(request.user, activity_id)
    kind = request.POST.get("kind", "deal")
    record_id = getattr(activity, KINDS[kind][1], None) if kind in KINDS else None
    if record_id is None:
        raise Http404
    subject = Subject.get(request.user, kind, record_id)
    try:
        services.activity_complete(actor=actor(request), activity_id=activity.pk)
    except RucheError as error:
        return _activities_response(request, subject, status=422, error=error_text(error))
    return _activities_response(request, subject)


# Notes ----------------------------------------------------------------------------------------


def notes_context(user, subject: Subject, **extra) -> dict:
    notes = list(note_list(user, filters=subject.links).select_related("owner").order_by("-id"))
    return {"subject": subject, "notes_url": subject.url("notes"), "notes": notes} | extra


@web_view
def note_add(request: HttpRequest, kind: str, record_id: int) -> HttpResponse:
    subject = Subject.get(request.user, kind, record_id)
    if request.method != "POST":
        return HttpResponse(status=405)
    content = request.POST.get("content", "").strip()
    status, extra = 200, {}
    if not content:
        status, extra = 422, {"error": _("Write something first.")}
    else:
        try:
            services.note_create(actor=actor(request), data=subject.links | {"content": content})
        except RucheError as error:
            status, extra = 422, {"error": error_text(error), "draft": content}
    context = notes_context(request.user, subject, **extra)
    response = render(request, "web/records/notes.html", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "record-changed"
    return response


# History --------------------------------------------------------------------------------------

CREATED_LABELS = {
    "deal": gettext_lazy("created the deal"),
    "organization": gettext_lazy("created the organisation"),
    "person": gettext_lazy("created the person"),
}
DELETED_LABELS = {
    "deal": gettext_lazy("deleted the deal"),
    "organization": gettext_lazy("deleted the organisation"),
    "person": gettext_lazy("deleted the person"),
}
EVENT_LABELS = {
    ChangeRecord.Event.UPDATED: gettext_lazy("changed"),
    ChangeRecord.Event.STAGE_MOVED: gettext_lazy("moved the deal"),
    ChangeRecord.Event.WON: gettext_lazy("marked the deal won"),
    ChangeRecord.Event.LOST: gettext_lazy("marked the deal lost"),
    ChangeRecord.Event.REOPENED: gettext_lazy("reopened the deal"),
    ChangeRecord.Event.OWNER_CHANGED: gettext_lazy("changed the owner"),
    ChangeRecord.Event.LINE_ADDED: gettext_lazy("added a line"),
    ChangeRecord.Event.LINE_UPDATED: gettext_lazy("changed a line"),
    ChangeRecord.Event.LINE_REMOVED: gettext_lazy("removed a line"),
}
LOOKUP_FIELDS = {"lost_reason", "source", "forecast_category"}


def _event_label(kind: str, event: str) -> str:
    if event == ChangeRecord.Event.CREATED:
        return CREATED_LABELS[kind]
    if event == ChangeRecord.Event.DELETED:
        return DELETED_LABELS[kind]
    return EVENT_LABELS.get(event, event)


class _Names:
    """Ids in history shown as names; one query per kind of name, only when one is needed."""

    def __init__(self, currency: str):
        self.currency = currency
        self._loaded: dict[str, dict] = {}

    def _of(self, what: str) -> dict:
        if what not in self._loaded:
            if what == "stage":
                rows = Stage.objects.values_list("pk", "name")
            elif what == "owner":
                rows = ((u.pk, str(u)) for u in get_user_model().objects.only("name", "email"))
            else:
                rows = Lookup.objects.values_list("pk", "name")
            self._loaded[what] = dict(rows)
        return self._loaded[what]

    def shown(self, field: str, value):
        if value is None or value == "":
            return "—"
        if field in {"stage", "owner"}:
            return self._of(field).get(value, value)
        if field in LOOKUP_FIELDS:
            return self._of("lookup").get(value, value)
        if field == "status":
            return str(STATUS_LABELS.get(value, value))
        if field == "value_minor":
            return formatting.money(value, self.currency)
        if field == "lines" and isinstance(value, dict):
            total = formatting.money(value.get("total_minor"), self.currency)
            return f"{value.get('name', '')} ({total})"
        return value


def timeline(subject: Subject, field_labels: dict) -> list[dict]:
    """The record's history, newest first, with ids shown as names."""
    records = list(history_for(subject.kind, subject.record.pk).order_by("-id")[:200])
    names = _Names(getattr(subject.record, "currency", ""))
    return [
        {
            "time": record.time,
            "who": str(record.actor_user) if record.actor_user else record.actor_label,
            "event": record.event,
            "what": _event_label(subject.kind, record.event),
            "field": field_labels.get(record.field, record.field)
            if record.event == ChangeRecord.Event.UPDATED
            else "",
            "old": names.shown(record.field, record.old_value),
            "new": names.shown(record.field, record.new_value),
        }
        for record in records
    ]


def record_blocks(user, subject: Subject, field_labels: dict) -> dict:
    """Everything the activities, notes and history blocks of a record page need."""
    return (
        activities_context(user, subject)
        | notes_context(user, subject)
        | {"history": timeline(subject, field_labels), "history_url": subject.url("history")}
    )
