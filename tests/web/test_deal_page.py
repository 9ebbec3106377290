"""The deal page: fields in place, lines with totals, activities, notes, history, status."""

import pytest

from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Activity, DealLine, Note
from tests.factories import DealFactory, OrganizationFactory, PersonFactory
from tests.web.test_board import eur

pytestmark = pytest.mark.django_db


def test_another_teams_private_deal_is_404(web_as, rep, other_rep, manager, stages):
    private = DealFactory(owner=other_rep, visible_to=Visibility.OWNER)
    response = web_as(rep).get(f"/deals/{private.pk}/")
    assert response.status_code == 404
    assert "Introuvable" in response.content.decode()
    assert private.title not in response.content.decode()
    assert web_as(rep).get("/deals/999999/").status_code == 404
    assert web_as(other_rep).get(f"/deals/{private.pk}/").status_code == 200
    team_deal = DealFactory(owner=rep, visible_to=Visibility.OWNER)
    assert web_as(manager).get(f"/deals/{team_deal.pk}/").status_code == 200


def test_the_page_shows_the_deal_and_links_its_org_and_person(
    web_as, rep, stages, django_assert_max_num_queries
):
    org = OrganizationFactory(name="Fromagerie Martin", owner=rep)
    person = PersonFactory(name="Léa Martin", owner=rep, org=org)
    deal = DealFactory(owner=rep, org=org, person=person, value="1234.50", stage=stages[2])
    client = web_as(rep)
    client.get(f"/deals/{deal.pk}/")
    with django_assert_max_num_queries(22):
        html = client.get(f"/deals/{deal.pk}/").content.decode()
    assert f'<a href="/organizations/{org.pk}/">Fromagerie Martin</a>' in html
    assert f'<a href="/persons/{person.pk}/">Léa Martin</a>' in html
    assert eur("1 234,50 €") in html
    assert "a créé l\u2019affaire" in html
    assert client.get(f"/organizations/{org.pk}/").status_code == 200
    assert "Léa Martin" in client.get(f"/organizations/{org.pk}/").content.decode()
    assert client.get(f"/persons/{person.pk}/").status_code == 200


def test_a_field_is_edited_in_place(web_as, rep, stages):
    deal = DealFactory(owner=rep, title="Ancien titre")
    client = web_as(rep)
    form = client.get(f"/deals/{deal.pk}/fields/title/?edit=1").content.decode()
    assert 'value="Ancien titre"' in form and 'name="csrfmiddlewaretoken"' in form
    response = client.post(f"/deals/{deal.pk}/fields/title/", {"value": "Nouveau titre"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "deal-changed"
    assert "Nouveau titre" in response.content.decode()
    deal.refresh_from_db()
    assert deal.title == "Nouveau titre"
    change = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, field="title")
    assert (change.old_value, change.new_value) == ("Ancien titre", "Nouveau titre")
    response = client.post(f"/deals/{deal.pk}/fields/value/", {"value": "2 500,75"})
    deal.refresh_from_db()
    assert deal.value_minor == 250075
    assert eur("2 500,75 €") in response.content.decode()
    client.post(f"/deals/{deal.pk}/fields/stage/", {"value": str(stages[3].pk)})
    deal.refresh_from_db()
    assert deal.stage_id == stages[3].pk


def test_a_refused_field_says_why_and_changes_nothing(web_as, rep, unchanged):
    deal = DealFactory(owner=rep)
    with unchanged(deal):
        response = web_as(rep).post(f"/deals/{deal.pk}/fields/probability/", {"value": "150"})
    assert response.status_code == 422
    assert "Must be between 0 and 100." in response.content.decode()
    assert 'value="150"' in response.content.decode()
    with unchanged(deal):
        response = web_as(rep).post(f"/deals/{deal.pk}/fields/org/", {"value": "Inconnue SA"})
    assert response.status_code == 422
    assert "Aucune fiche nommée « Inconnue SA »." in response.content.decode()


def test_org_is_set_by_its_name(web_as, rep):
    org = OrganizationFactory(name="Menuiserie Roux", owner=rep)
    deal = DealFactory(owner=rep)
    web_as(rep).post(f"/deals/{deal.pk}/fields/org/", {"value": "menuiserie roux"})
    deal.refresh_from_db()
    assert deal.org_id == org.pk


def test_lines_are_added_changed_and_removed_with_exact_totals(web_as, rep):
    deal = DealFactory(owner=rep)
    client = web_as(rep)
    response = client.post(
        f"/deals/{deal.pk}/lines/",
        {
            "name": "Audit",
            "quantity": "3",
            "unit_price": "410,50",
            "discount_percent": "0",
            "vat_rate": "20",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    # 3 x 410.50 = 1231.50; VAT 246.30; incl. VAT 1477.80
    assert f'data-total="net">{eur("1 231,50 €")}<' in html
    assert f'data-total="vat">{eur("246,30 €")}<' in html
    assert f'data-total="gross">{eur("1 477,80 €")}<' in html
    line = DealLine.objects.get(deal=deal)
    deal.refresh_from_db()
    assert deal.value_minor == 123150
    response = client.post(
        f"/deals/{deal.pk}/lines/{line.pk}/",
        {
            "name": "Audit",
            "quantity": "2,5",
            "unit_price": "99.99",
            "discount_percent": "10",
            "vat_rate": "5,5",
        },
    )
    # 2.5 x 99.99 x 0.9 = 224.9775 -> 224.98; VAT 12.3739 -> 12.37
    html = response.content.decode()
    assert f'data-total="net">{eur("224,98 €")}<' in html
    assert f'data-total="gross">{eur("237,35 €")}<' in html
    deal.refresh_from_db()
    assert deal.value_minor == 22498
    events = list(
        ChangeRecord.objects.filter(entity="deal", entity_id=deal.pk, field="lines").values_list(
            "event", flat=True
        )
    )
    assert events == ["line_added", "line_updated"]
    client.post(f"/deals/{deal.pk}/lines/{line.pk}/remove/")
    deal.refresh_from_db()
    assert deal.value_minor == 0 and not DealLine.objects.filter(deal=deal).exists()


def test_a_refused_line_keeps_what_was_typed_and_changes_nothing(web_as, rep, unchanged):
    deal = DealFactory(owner=rep)
    with unchanged(deal):
        response = web_as(rep).post(
            f"/deals/{deal.pk}/lines/",
            {"name": "Audit", "quantity": "0", "unit_price": "10", "vat_rate": "20"},
        )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Must be between 0.0001 and 99999999999." in html
    assert 'name="quantity" value="0"' in html


def test_activities_are_planned_and_completed(web_as, rep):
    deal = DealFactory(owner=rep)
    client = web_as(rep)
    response = client.post(
        f"/deals/{deal.pk}/activities/",
        {"type": "call", "subject": "Appeler Léa", "due_date": "2027-02-03", "due_time": "09:30"},
    )
    assert response.status_code == 200
    assert "Appeler Léa" in response.content.decode()
    activity = Activity.objects.get(deal=deal)
    deal.refresh_from_db()
    assert deal.next_activity_id == activity.pk
    response = client.post(f"/activities/{activity.pk}/done/")
    assert response.status_code == 200
    activity.refresh_from_db()
    deal.refresh_from_db()
    assert activity.done and deal.next_activity_id is None
    assert deal.last_activity_date is not None


def test_notes_are_added(web_as, rep):
    deal = DealFactory(owner=rep)
    client = web_as(rep)
    response = client.post(f"/deals/{deal.pk}/notes/", {"content": "Client pressé."})
    assert "Client pressé." in response.content.decode()
    assert Note.objects.get(deal=deal).content == "Client pressé."
    empty = client.post(f"/deals/{deal.pk}/notes/", {"content": "  "})
    assert empty.status_code == 422 and Note.objects.filter(deal=deal).count() == 1


def test_won_lost_and_reopen_from_the_page(web_as, rep, loss_reason):
    deal = DealFactory(owner=rep)
    client = web_as(rep)
    response = client.post(f"/deals/{deal.pk}/status/", {"status": "lost"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.status == "open"
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Une raison de perte est requise pour marquer une affaire perdue." in page
    client.post(f"/deals/{deal.pk}/status/", {"status": "lost", "lost_reason_id": loss_reason.pk})
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason_id) == ("lost", loss_reason.pk)
    client.post(f"/deals/{deal.pk}/status/", {"status": "open"})
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason_id) == ("open", None)
    client.post(f"/deals/{deal.pk}/status/", {"status": "won"})
    deal.refresh_from_db()
    assert deal.status == "won"
    events = list(
        ChangeRecord.objects.filter(entity="deal", entity_id=deal.pk, field="status").values_list(
            "event", flat=True
        )
    )
    assert events == ["lost", "reopened", "won"]
    history = client.get(f"/deals/{deal.pk}/history/").content.decode()
    assert "a marqué l\u2019affaire gagnée" in history and "Perdue → En cours" in history


def test_labels_are_edited_in_place(web_as, rep):
    from ruche.core.models import Lookup

    first, second = Lookup.objects.filter(kind=Lookup.Kind.LABEL)[:2]
    deal = DealFactory(owner=rep, label_ids=[first.pk])
    client = web_as(rep)
    form = client.get(f"/deals/{deal.pk}/fields/labels/?edit=1").content.decode()
    assert f'value="{first.pk}" checked' in form and f'value="{second.pk}" checked' not in form
    response = client.post(f"/deals/{deal.pk}/fields/labels/", {"value": [second.pk]})
    assert response.status_code == 200 and second.name in response.content.decode()
    assert list(deal.labels.values_list("pk", flat=True)) == [second.pk]
    change = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, field="labels")
    assert (change.old_value, change.new_value) == ([first.pk], [second.pk])


def test_board_and_list_filter_by_team(web_as, rep, other_rep, admin, pipeline, stages, sud):
    north = DealFactory(owner=rep, title="Nord", stage=stages[0])
    south = DealFactory(owner=other_rep, title="Sud", stage=stages[0])
    client = web_as(admin)
    html = client.get(
        f"/pipelines/{pipeline.pk}/board/stages/{stages[0].pk}/?status=open&team={sud.pk}"
    ).content.decode()
    assert f'id="card-{south.pk}"' in html and f'id="card-{north.pk}"' not in html
    listing = client.get(f"/deals/?team={sud.pk}").content.decode()
    assert ">Sud</a>" in listing and ">Nord</a>" not in listing
