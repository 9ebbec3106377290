"""The calendar of my activities (week and month views, navigated with HTMX) and the iCalendar
feed any calendar app can subscribe to at a secret URL."""

import calendar as month_grid
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from icalendar import Calendar, Event

from ruche.accounts.models import CalendarFeed
from ruche.accounts.services import calendar_feed_for, calendar_feed_regenerate
from ruche.pipelines.models import Activity
from ruche.pipelines.selectors import activity_list
from ruche.web.views.activities import activity_type, my_open_activities
from ruche.web.views.common import ACTIVITY_TYPE_LABELS, actor, web_view

VIEWS = ("week", "month")
# The feed covers what a calendar app shows: from this far back, and everything ahead.
FEED_PAST_DAYS = 90
DEFAULT_DURATION = dt.timedelta(minutes=30)


def _anchor(request: HttpRequest) -> dt.date:
    """The day asked for, or today; far-off years too (their neighbours may not exist)."""
    try:
        day = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return timezone.localdate()
    return day if 1900 <= day.year <= 2999 else timezone.localdate()


def _period(view: str, anchor: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """First and last day shown (whole weeks, Monday first), and the previous and next anchors."""
    if view == "week":
        first = anchor - dt.timedelta(days=anchor.weekday())
        return (
            first,
            first + dt.timedelta(days=6),
            anchor - dt.timedelta(7),
            anchor + dt.timedelta(7),
        )
    month_start = anchor.replace(day=1)
    month_end = anchor.replace(day=month_grid.monthrange(anchor.year, anchor.month)[1])
    first = month_start - dt.timedelta(days=month_start.weekday())
    last = month_end + dt.timedelta(days=6 - month_end.weekday())
    previous = (month_start - dt.timedelta(days=1)).replace(day=1)
    return first, last, previous, month_end + dt.timedelta(days=1)


def _weeks(first: dt.date, last: dt.date, activities, anchor: dt.date, view: str) -> list[list]:
    by_day = defaultdict(list)
    for activity in activities:
        by_day[activity.due_date].append(activity)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    cells = [
        {
            "date": day,
            "activities": by_day[day],
            "outside": view == "month" and day.month != anchor.month,
        }
        for day in days
    ]
    return [cells[n : n + 7] for n in range(0, len(cells), 7)]


@web_view
def calendar_page(request: HttpRequest) -> HttpResponse:
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "week"
    anchor = _anchor(request)
    kind = activity_type(request)
    first, last, previous, following = _period(view, anchor)
    activities = (
        my_open_activities(request.user, kind)
        .filter(due_date__range=(first, last))
        .order_by("due_date", "due_time", "id")
    )
    feed = calendar_feed_for(request.user)
    context = {
        "view": view,
        "anchor": anchor,
        "first": first,
        "last": last,
        "previous": previous.isoformat(),
        "following": following.isoformat(),
        "today": timezone.localdate(),
        "weeks": _weeks(first, last, activities, anchor, view),
        "types": list(ACTIVITY_TYPE_LABELS.items()),
        "type_labels": ACTIVITY_TYPE_LABELS,
        "current_type": kind or "",
        "feed_url": request.build_absolute_uri(reverse("web:calendar_feed", args=[feed.token])),
    }
    return render(request, "web/activities/calendar.html", context)


@web_view
@require_POST
def feed_regenerate(request: HttpRequest) -> HttpResponse:
    calendar_feed_regenerate(actor=actor(request), user=request.user)
    messages.success(request, _("New calendar address made; the old one no longer works."))
    return redirect("web:calendar")


# The feed -----------------------------------------------------------------------------------


def _event(activity: Activity, zone: ZoneInfo, base_url: str) -> Event:
    event = Event()
    event.add("uid", f"activity-{activity.pk}@ruche")
    event.add("dtstamp", activity.update_time)
    # Calendar apps have no "done" for events: a tick in the title says it.
    event.add("summary", f"✓ {activity.subject}" if activity.done else activity.subject)
    event.add("categories", [activity.type])
    if activity.due_time is None:
        event.add("dtstart", activity.due_date)
        event.add("dtend", activity.due_date + dt.timedelta(days=1))
    else:
        start = dt.datetime.combine(activity.due_date, activity.due_time, tzinfo=zone)
        minutes = activity.duration_minutes
        event.add("dtstart", start)
        event.add("dtend", start + (dt.timedelta(minutes=minutes) if minutes else DEFAULT_DURATION))
    if activity.deal_id:
        event.add("url", base_url + reverse("web:deal", args=[activity.deal_id]))
    if activity.note:
        event.add("description", activity.note)
    return event


def feed_activities(user):
    """The user's own activities the feed lists: dated, not deleted, from FEED_PAST_DAYS ago."""
    since = timezone.localdate() - dt.timedelta(days=FEED_PAST_DAYS)
    return (
        activity_list(user, filters={"owner_id": user.pk})
        .filter(due_date__gte=since)
        .order_by("due_date", "due_time", "id")
    )


@require_GET
def ical_feed(request: HttpRequest, token: str) -> HttpResponse:
    """No session: the secret in the URL is the credential. A deactivated user's feed, and a
    replaced secret, are 404."""
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token=token, user__is_active=True)
        .first()
    )
    if feed is None:
        raise Http404
    zone = ZoneInfo(settings.TIME_ZONE)
    calendar = Calendar()
    calendar.add("prodid", "-//Ruche//Activities//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Ruche · {feed.user}")
    base_url = request.build_absolute_uri("/").rstrip("/")
    for activity in feed_activities(feed.user).iterator():
        calendar.add_component(_event(activity, zone, base_url))
    calendar.add_missing_timezones()
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
