"""The calendar (week and month views) and the iCalendar feed at a secret URL."""

import datetime as dt

import pytest
from django.utils import timezone
from icalendar import Calendar

from ruche.accounts.models import CalendarFeed
from ruche.accounts.services import calendar_feed_for
from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Activity
from ruche.pipelines.services.activities import activity_create, activity_delete
from tests.factories import DealFactory

URL = "/calendar/"
# A Wednesday, so the week runs from Monday 2026-11-23 to Sunday 2026-11-29.
DAY = dt.date(2026, 11, 25)


def plan(actor, subject, due, **data):
    return activity_create(actor=actor, data={"subject": subject, "due_date": due} | data)


def shown(response) -> dict[str, list[str]]:
    return {
        cell["date"].isoformat(): [activity.subject for activity in cell["activities"]]
        for week in response.context["weeks"]
        for cell in week
        if cell["activities"]
    }


def test_week_view_shows_my_open_activities_of_the_week(web_as, rep, rep_actor, other_rep_actor):
    plan(rep_actor, "Lundi", "2026-11-23", due_time="09:00")
    plan(rep_actor, "Dimanche", "2026-11-29")
    plan(rep_actor, "Semaine suivante", "2026-11-30")
    plan(rep_actor, "Semaine précédente", "2026-11-22")
    plan(other_rep_actor, "Pas à moi", "2026-11-25")
    done = plan(rep_actor, "Fait", "2026-11-24")
    Activity.objects.filter(pk=done.pk).update(done=True)

    response = web_as(rep).get(URL, {"view": "week", "date": DAY.isoformat()})

    assert response.status_code == 200
    weeks = response.context["weeks"]
    assert (len(weeks), weeks[0][0]["date"], weeks[0][6]["date"]) == (
        1,
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 29),
    )
    assert shown(response) == {"2026-11-23": ["Lundi"], "2026-11-29": ["Dimanche"]}
    assert (response.context["previous"], response.context["following"]) == (
        "2026-11-18",
        "2026-12-02",
    )


def test_month_view_covers_whole_weeks(web_as, rep, rep_actor):
    plan(rep_actor, "Avant le mois", "2026-10-26")  # Monday of the grid's first week
    plan(rep_actor, "Début", "2026-11-01")
    plan(rep_actor, "Fin", "2026-11-30")
    plan(rep_actor, "Hors grille", "2026-10-25")
    plan(rep_actor, "Appel", "2026-11-12", type="call")

    response = web_as(rep).get(URL, {"view": "month", "date": DAY.isoformat()})

    weeks = response.context["weeks"]
    assert (len(weeks), weeks[0][0]["date"], weeks[-1][-1]["date"]) == (
        6,
        dt.date(2026, 10, 26),
        dt.date(2026, 12, 6),
    )
    assert weeks[0][0]["outside"] is True and weeks[1][0]["outside"] is False
    assert shown(response) == {
        "2026-10-26": ["Avant le mois"],
        "2026-11-01": ["Début"],
        "2026-11-12": ["Appel"],
        "2026-11-30": ["Fin"],
    }
    assert (response.context["previous"], response.context["following"]) == (
        "2026-10-01",
        "2026-12-01",
    )
    filtered = web_as(rep).get(URL, {"view": "month", "date": DAY.isoformat(), "type": "call"})
    assert shown(filtered) == {"2026-11-12": ["Appel"]}


@pytest.mark.parametrize(
    "params",
    [
        {"date": "31/02/2026"},
        {"date": "2026-02-31"},
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"view": "year"},
        {"date": ""},
    ],
)
def test_bad_parameters_fall_back_to_this_week(web_as, rep, params):
    response = web_as(rep).get(URL, params)
    assert response.status_code == 200
    assert (response.context["view"], response.context["anchor"]) == (
        "week",
        timezone.localdate(),
    )


def test_htmx_navigation_links(web_as, rep):
    response = web_as(rep).get(URL, {"view": "week", "date": DAY.isoformat()})
    html = response.content.decode()
    assert 'hx-get="?view=week&amp;date=2026-11-18&amp;type="' in html
    assert 'hx-get="?view=month&amp;date=2026-11-25&amp;type="' in html


def test_query_count_does_not_grow_with_activities(
    web_as, rep, rep_actor, django_assert_max_num_queries
):
    client = web_as(rep)
    client.get(URL)  # the feed secret is made on the first visit
    params = {"view": "month", "date": DAY.isoformat()}
    with django_assert_max_num_queries(8) as few:
        client.get(URL, params)
    for n in range(20):
        plan(rep_actor, f"A{n}", (DAY + dt.timedelta(days=n - 10)).isoformat())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, params)
    assert sum(len(v) for v in shown(response).values()) == 20


# The iCalendar feed ---------------------------------------------------------------------


def feed_url(user) -> str:
    return f"/calendar/feed/{calendar_feed_for(user).token}.ics"


def events(response) -> dict[str, dict]:
    calendar = Calendar.from_ical(response.content)
    return {
        str(event["uid"]): {
            "summary": str(event["summary"]),
            "start": event.decoded("dtstart"),
            "end": event.decoded("dtend"),
        }
        for event in calendar.walk("VEVENT")
    }


def test_feed_lists_exactly_my_dated_activities(client, rep, rep_actor, other_rep_actor):
    today = timezone.localdate()
    deal = DealFactory(owner=rep, title="Contrat")
    timed = plan(
        rep_actor,
        "Rendez-vous",
        (today + dt.timedelta(days=2)).isoformat(),
        due_time="14:30",
        duration=45,
        deal_id=deal.pk,
        note="Apporter le devis",
    )
    all_day = plan(rep_actor, "Relance", today.isoformat())
    done = plan(rep_actor, "Appel passé", (today - dt.timedelta(days=1)).isoformat())
    Activity.objects.filter(pk=done.pk).update(done=True)
    plan(rep_actor, "Trop ancien", (today - dt.timedelta(days=91)).isoformat())
    plan(rep_actor, "Sans date", None)
    deleted = plan(rep_actor, "Supprimé", today.isoformat())
    activity_delete(actor=rep_actor, activity_id=deleted.pk)
    plan(other_rep_actor, "Pas à moi", today.isoformat())

    response = client.get(feed_url(rep))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    start = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=2), dt.time(14, 30)))
    assert events(response) == {
        f"activity-{timed.pk}@ruche": {
            "summary": "Rendez-vous",
            "start": start,
            "end": start + dt.timedelta(minutes=45),
        },
        f"activity-{all_day.pk}@ruche": {
            "summary": "Relance",
            "start": today,
            "end": today + dt.timedelta(days=1),
        },
        f"activity-{done.pk}@ruche": {
            "summary": "✓ Appel passé",
            "start": today - dt.timedelta(days=1),
            "end": today,
        },
    }
    calendar = Calendar.from_ical(response.content)
    event = next(e for e in calendar.walk("VEVENT") if e["uid"] == f"activity-{timed.pk}@ruche")
    assert str(event["description"]) == "Apporter le devis"
    assert str(event["url"]) == f"http://testserver/deals/{deal.pk}/"
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


def test_feed_leaves_out_activities_on_deals_i_can_no_longer_see(
    client, rep, rep_actor, other_rep, other_rep_actor
):
    from ruche.pipelines.services import deal_update

    deal = DealFactory(owner=rep, visible_to=Visibility.EVERYONE)
    plan(rep_actor, "Sur l'affaire", timezone.localdate().isoformat(), deal_id=deal.pk)
    deal_update(
        actor=rep_actor,
        deal_id=deal.pk,
        data={"owner_id": other_rep.pk, "visible_to": Visibility.OWNER},
    )
    assert events(client.get(feed_url(rep))) == {}


def test_regenerate_makes_the_old_address_404(web_as, client, rep):
    old = feed_url(rep)
    assert client.get(old).status_code == 200
    response = web_as(rep).post("/calendar/feed/regenerate/")
    assert (response.status_code, response["Location"]) == (302, URL)
    new = feed_url(rep)
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    record = ChangeRecord.objects.filter(entity="user", entity_id=rep.pk).last()
    assert (record.field, record.old_value, record.new_value, record.actor_user_id) == (
        "calendar_feed",
        None,
        None,
        rep.pk,
    )
    # The page shows the current address only.
    page = web_as(rep).get(URL).content.decode()
    assert new in page and old not in page


def test_feed_refusals(client, rep):
    assert client.get("/calendar/feed/not-a-secret.ics").status_code == 404
    url = feed_url(rep)
    rep.is_active = False
    rep.save()
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 405
    assert CalendarFeed.objects.count() == 1


def test_regenerate_needs_post_and_sign_in(web_as, client, rep):
    token = calendar_feed_for(rep).token
    assert web_as(rep).get("/calendar/feed/regenerate/").status_code == 405
    assert client.post("/calendar/feed/regenerate/").status_code == 302
    assert CalendarFeed.objects.get(user=rep).token == token


def test_feed_query_count_does_not_grow(client, rep, rep_actor, django_assert_max_num_queries):
    url = feed_url(rep)
    plan(rep_actor, "Une", timezone.localdate().isoformat())
    with django_assert_max_num_queries(3) as few:
        client.get(url)
    for n in range(10):
        plan(rep_actor, f"A{n}", timezone.localdate().isoformat(), due_time="10:00")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(events(client.get(url))) == 11
