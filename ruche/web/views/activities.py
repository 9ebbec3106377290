"""My activities: what is overdue, due today and coming up, filtered by type, each marked done
in place. Reads through the activity selector (visibility applies), writes through the
activity service (history applies)."""

import datetime as dt

from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ruche.core.exceptions import RucheError
from ruche.pipelines.models import Activity
from ruche.pipelines.selectors import access_activity_by_id, activity_list
from ruche.pipelines.services import activities as activity_services
from ruche.web.views.common import ACTIVITY_TYPE_LABELS, actor, error_text, web_view

# Each section shows at most this many rows; the count says how many there are in all.
SECTION_SIZE = 100


def activity_type(request: HttpRequest) -> str | None:
    """The `type` filter when it names an activity type, else no filter."""
    value = request.GET.get("type") or request.POST.get("type") or ""
    return value if value in Activity.Type.values else None


def my_open_activities(user, kind: str | None) -> QuerySet[Activity]:
    activities = activity_list(user, filters={"owner_id": user.pk, "done": False})
    if kind:
        activities = activities.filter(type=kind)
    return activities.select_related("deal", "person", "org")


def _sections(user, kind: str | None, today: dt.date) -> list[dict]:
    activities = my_open_activities(user, kind)
    by_time = (F("due_date").asc(), F("due_time").asc(nulls_first=True), "id")
    sections = [
        ("overdue", activities.filter(due_date__lt=today).order_by(*by_time)),
        ("today", activities.filter(due_date=today).order_by(*by_time)),
        ("upcoming", activities.filter(due_date__gt=today).order_by(*by_time)),
        ("undated", activities.filter(due_date__isnull=True).order_by("id")),
    ]
    counts = activities.order_by().aggregate(
        overdue=Count("id", filter=Q(due_date__lt=today)),
        today=Count("id", filter=Q(due_date=today)),
        upcoming=Count("id", filter=Q(due_date__gt=today)),
        undated=Count("id", filter=Q(due_date__isnull=True)),
    )
    return [
        {"key": key, "rows": list(rows[:SECTION_SIZE]), "count": counts[key]}
        for key, rows in sections
    ]


def _page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    kind = activity_type(request)
    context = {
        "sections": _sections(request.user, kind, timezone.localdate()),
        "types": list(ACTIVITY_TYPE_LABELS.items()),
        "type_labels": ACTIVITY_TYPE_LABELS,
        "current_type": kind or "",
        "error": error,
    }
    return render(request, "web/activities/list.html", context, status=status)


@web_view
def my_activities(request: HttpRequest) -> HttpResponse:
    return _page(request)


@web_view
@require_POST
def activity_complete(request: HttpRequest, activity_id: int) -> HttpResponse:
    """Mark done, then show the list again (HTMX swaps it in; without script, a redirect)."""
    activity = access_activity_by_id(request.user, activity_id)  # NotFound is a 404
    try:
        activity_services.activity_complete(actor=actor(request), activity_id=activity.pk)
    except RucheError as error:
        return _page(request, error=error_text(error), status=422)
    kind = activity_type(request)
    url = reverse("web:my_activities") + (f"?type={kind}" if kind else "")
    return redirect(url)
