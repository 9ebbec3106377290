"""Organisation and person pages: their deals, activities, notes and history, behind the same
visibility rule as the deal page."""

import pytest

from ruche.contacts.services import organization_create, organization_update, person_create
from ruche.core.models import Visibility
from ruche.pipelines.models import Activity, Note
from tests.factories import DealFactory, OrganizationFactory, PersonFactory

pytestmark = pytest.mark.django_db


def test_the_organisation_page_shows_its_deals_people_and_history(
    web_as, rep, rep_actor, stages, django_assert_max_num_queries
):
    org = organization_create(actor=rep_actor, data={"name": "Fromagerie Martin"})
    organization_update(actor=rep_actor, organization_id=org.pk, data={"city": "Lille"})
    PersonFactory(name="Léa Martin", owner=rep, org=org)
    DealFactory(title="Tommes pour Noël", owner=rep, org=org, stage=stages[0])
    DealFactory(title="Affaire d'une autre société", owner=rep, stage=stages[0])
    client = web_as(rep)
    client.get(f"/organizations/{org.pk}/")
    with django_assert_max_num_queries(16):
        html = client.get(f"/organizations/{org.pk}/").content.decode()
    assert "Tommes pour Noël" in html
    assert "Affaire d'une autre société" not in html
    assert "Léa Martin" in html
    assert "a créé l\u2019organisation" in html
    assert "Lille" in html and "Ville" in html


def test_the_page_costs_the_same_queries_with_many_records(
    web_as, rep, rep_actor, stages, django_assert_max_num_queries
):
    org = OrganizationFactory(owner=rep)
    for index in range(30):
        DealFactory(owner=rep, org=org, stage=stages[index % 3])
        Activity.objects.create(owner=rep, org=org, subject=f"Appel {index}", type="call")
        Note.objects.create(owner=rep, org=org, content=f"Note {index}")
    client = web_as(rep)
    with django_assert_max_num_queries(16):
        assert client.get(f"/organizations/{org.pk}/").status_code == 200


def test_activities_and_notes_are_added_from_an_organisation(web_as, rep):
    org = OrganizationFactory(owner=rep)
    client = web_as(rep)
    response = client.post(
        f"/organizations/{org.pk}/activities/",
        {"type": "meeting", "subject": "Visite de la cave", "due_date": "2027-02-03"},
    )
    assert response.status_code == 200
    assert 'id="organization-activities"' in response.content.decode()
    activity = Activity.objects.get(org=org)
    assert (activity.subject, activity.type, activity.deal_id) == (
        "Visite de la cave",
        "meeting",
        None,
    )
    done = client.post(f"/activities/{activity.pk}/done/", {"kind": "organization"})
    assert done.status_code == 200 and 'id="organization-activities"' in done.content.decode()
    activity.refresh_from_db()
    assert activity.done
    note = client.post(f"/organizations/{org.pk}/notes/", {"content": "Préfère le mardi."})
    assert note.status_code == 200
    assert list(Note.objects.filter(org=org).values_list("content", flat=True)) == [
        "Préfère le mardi."
    ]


def test_a_person_page_shows_activities_notes_and_history(web_as, rep, rep_actor):
    person = person_create(actor=rep_actor, data={"name": "Léa Martin"})
    client = web_as(rep)
    client.post(f"/persons/{person.pk}/notes/", {"content": "Joignable le matin."})
    client.post(f"/persons/{person.pk}/activities/", {"type": "call", "subject": "Rappeler"})
    html = client.get(f"/persons/{person.pk}/").content.decode()
    assert "Joignable le matin." in html
    assert "Rappeler" in html
    assert "a créé la personne" in html
    history = client.get(f"/persons/{person.pk}/history/")
    assert "a créé la personne" in history.content.decode()


def test_another_teams_private_organisation_is_404_and_nothing_is_added(web_as, rep, other_rep):
    private = OrganizationFactory(owner=other_rep, visible_to=Visibility.OWNER)
    activity = Activity.objects.create(owner=other_rep, org=private, subject="Secret", type="call")
    client = web_as(rep)
    assert client.get(f"/organizations/{private.pk}/").status_code == 404
    assert client.get(f"/organizations/{private.pk}/history/").status_code == 404
    assert client.post(f"/organizations/{private.pk}/notes/", {"content": "x"}).status_code == 404
    refused = client.post(f"/organizations/{private.pk}/activities/", {"subject": "x"})
    assert refused.status_code == 404
    done = client.post(f"/activities/{activity.pk}/done/", {"kind": "organization"})
    assert done.status_code == 404
    assert Note.objects.count() == 0
    assert list(Activity.objects.values_list("subject", "done")) == [("Secret", False)]


def test_an_unknown_kind_on_completion_is_404_and_changes_nothing(web_as, rep):
    activity = Activity.objects.create(owner=rep, subject="Appel", type="call")
    response = web_as(rep).post(f"/activities/{activity.pk}/done/", {"kind": "invoice"})
    assert response.status_code == 404
    activity.refresh_from_db()
    assert not activity.done
