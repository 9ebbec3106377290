"""My activities: overdue, today and upcoming, a type filter, marking done in place."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Activity
from ruche.pipelines.services.activities import activity_create
from tests.factories import DealFactory

URL = "/my-activities/"


@pytest.fixture
def today():
    return timezone.localdate()


def plan(actor, subject, due=None, **data):
    data = {"subject": subject, "due_date": due.isoformat() if due else None} | data
    return activity_create(actor=actor, data=data)


def section_ids(response, key):
    section = next(s for s in response.context["sections"] if s["key"] == key)
    return [activity.subject for activity in section["rows"]], section["count"]


def test_sections_split_by_due_date_in_time_order(web_as, rep, rep_actor, other_rep_actor, today):
    plan(rep_actor, "Relancer", today - dt.timedelta(days=3))
    plan(rep_actor, "Appeler tôt", today, due_time="08:30", type="call")
    plan(rep_actor, "Sans heure", today)
    plan(rep_actor, "Appeler tard", today, due_time="17:00", type="call")
    plan(rep_actor, "Rendez-vous", today + dt.timedelta(days=2), type="meeting")
    plan(rep_actor, "Un jour", None)
    done = plan(rep_actor, "Déjà fait", today - dt.timedelta(days=1))
    Activity.objects.filter(pk=done.pk).update(done=True)
    plan(other_rep_actor, "Pas à moi", today)

    response = web_as(rep).get(URL)

    assert response.status_code == 200
    assert section_ids(response, "overdue") == (["Relancer"], 1)
    assert section_ids(response, "today") == (["Sans heure", "Appeler tôt", "Appeler tard"], 3)
    assert section_ids(response, "upcoming") == (["Rendez-vous"], 1)
    assert section_ids(response, "undated") == (["Un jour"], 1)
    assert "Pas à moi" not in response.content.decode()


def test_filter_by_type(web_as, rep, rep_actor, today):
    plan(rep_actor, "Appel", today, type="call")
    plan(rep_actor, "Réunion", today, type="meeting")
    response = web_as(rep).get(URL, {"type": "call"})
    assert section_ids(response, "today") == (["Appel"], 1)
    # An unknown type is no filter rather than an error.
    response = web_as(rep).get(URL, {"type": "dance"})
    assert section_ids(response, "today") == (["Appel", "Réunion"], 2)


def test_mark_done_records_history_and_refreshes_the_deal(web_as, rep, rep_actor, today):
    deal = DealFactory(owner=rep)
    first = plan(rep_actor, "Premier", today, deal_id=deal.pk)
    second = plan(rep_actor, "Second", today + dt.timedelta(days=1), deal_id=deal.pk)

    response = web_as(rep).post(f"/my-activities/{first.pk}/complete/", {"type": "task"})

    assert (response.status_code, response["Location"]) == (302, "/my-activities/?type=task")
    first.refresh_from_db()
    deal.refresh_from_db()
    assert (first.done, first.version) == (True, 2)
    assert (deal.next_activity_id, deal.last_activity_date) == (second.pk, today)
    record = ChangeRecord.objects.get(entity="activity", entity_id=first.pk, field="done")
    assert (record.old_value, record.new_value, record.actor_user_id) == (False, True, rep.pk)


def test_htmx_mark_done_swaps_the_list(web_as, rep, rep_actor, today):
    activity = plan(rep_actor, "Appeler", today)
    client = web_as(rep)
    response = client.post(
        f"/my-activities/{activity.pk}/complete/", HTTP_HX_REQUEST="true", follow=True
    )
    assert response.status_code == 200
    assert section_ids(response, "today") == ([], 0)


def test_an_invisible_activity_is_404_and_unchanged(
    web_as, rep, other_rep, other_rep_actor, unchanged, today
):
    private = DealFactory(owner=other_rep, visible_to=Visibility.OWNER)
    activity = plan(other_rep_actor, "Secret", today, deal_id=private.pk)
    with unchanged(activity):
        response = web_as(rep).post(f"/my-activities/{activity.pk}/complete/")
    assert response.status_code == 404
    assert web_as(rep).post("/my-activities/999999/complete/").status_code == 404


def test_get_is_not_allowed_to_complete(web_as, rep, rep_actor, today):
    activity = plan(rep_actor, "Appeler", today)
    assert web_as(rep).get(f"/my-activities/{activity.pk}/complete/").status_code == 405
    activity.refresh_from_db()
    assert activity.done is False


def test_signed_out_goes_to_sign_in(client):
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/my-activities/")


def test_query_count_does_not_grow_with_rows(
    web_as, rep, rep_actor, today, django_assert_max_num_queries
):
    client = web_as(rep)
    plan(rep_actor, "Seule", today)
    with django_assert_max_num_queries(12) as few:
        client.get(URL)
    for n in range(15):
        deal = DealFactory(owner=rep)
        plan(rep_actor, f"A{n}", today + dt.timedelta(days=n - 5), deal_id=deal.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert sum(section["count"] for section in response.context["sections"]) == 16
