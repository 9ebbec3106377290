"""The deals list (search, filters, sort, keyset pages, CSV export) and the quick-add dialog."""

import csv
import io

import pytest

from ruche.contacts.models import Organization, Person
from ruche.core.models import Lookup, Visibility
from ruche.pipelines.models import Deal
from tests.factories import DealFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[str]:
    return [part.split('">')[1].split("<")[0] for part in html.split('<td><a href="/deals/')[1:]]


def test_search_uses_the_apis_selector(web_as, rep, other_rep):
    org = OrganizationFactory(name="Atelier Blanc", owner=rep)
    DealFactory(owner=rep, title="Site web", org=org)
    DealFactory(owner=rep, title="Blanchisserie")
    DealFactory(owner=rep, title="Autre")
    DealFactory(owner=other_rep, title="Blanc privé", visible_to=Visibility.OWNER)
    html = web_as(rep).get("/deals/?q=blanc&sort=title").content.decode()
    assert rows(html) == ["Blanchisserie", "Site web"]


def test_sort_and_keyset_pages(web_as, rep, django_assert_max_num_queries):
    for n in range(60):
        DealFactory(owner=rep, title=f"Affaire {n:02d}", value=str(1000 - n))
    client = web_as(rep)
    client.get("/deals/")
    with django_assert_max_num_queries(13):
        first = client.get("/deals/?sort=value_minor").content.decode()
    titles = rows(first)
    assert len(titles) == 50
    assert titles[:3] == ["Affaire 59", "Affaire 58", "Affaire 57"]
    cursor = first.split("cursor=")[1].split('"')[0]
    with django_assert_max_num_queries(7):
        second = client.get(
            f"/deals/?sort=value_minor&status=all&cursor={cursor}", HTTP_HX_REQUEST="true"
        ).content.decode()
    assert rows(second) == [f"Affaire {n:02d}" for n in range(9, -1, -1)]
    assert "cursor=" not in second
    descending = rows(client.get("/deals/?sort=-title").content.decode())
    assert descending[:2] == ["Affaire 59", "Affaire 58"]


def test_filters_by_owner_status_and_stage(web_as, rep, other_rep, manager, stages):
    DealFactory(owner=rep, title="A", stage=stages[0])
    DealFactory(owner=other_rep, title="B", stage=stages[1])
    DealFactory(owner=rep, title="C", stage=stages[1], status="won")
    client = web_as(manager)
    assert rows(client.get(f"/deals/?owner={rep.pk}&sort=title").content.decode()) == ["A", "C"]
    assert rows(client.get("/deals/?status=won").content.decode()) == ["C"]
    assert rows(client.get(f"/deals/?stage={stages[1].pk}&sort=title").content.decode()) == [
        "B",
        "C",
    ]


def test_csv_export_of_the_current_list_is_formula_safe(web_as, rep, other_rep):
    DealFactory(owner=rep, title="=HYPERLINK(1)", value="12.30")
    DealFactory(owner=rep, title="Gagnée", status="won")
    DealFactory(owner=other_rep, title="Privée", visible_to=Visibility.OWNER)
    response = web_as(rep).get("/deals/export/?status=open")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:3] == ["id", "title", "organization"]
    assert len(table) == 2
    assert table[1][1] == "'=HYPERLINK(1)"
    assert table[1][8:10] == ["12.30", "EUR"]


def test_quick_add_a_deal_creates_its_organisation_and_person(web_as, rep, stages):
    response = web_as(rep).post(
        "/quick-add/deal/",
        {
            "title": "Refonte du site",
            "org_name": "Garage Petit",
            "person_name": "Paul Petit",
            "value": "4 800,00",
            "stage_id": stages[1].pk,
            "expected_close_date": "2027-04-30",
        },
    )
    assert response.status_code == 200
    deal = Deal.objects.get(title="Refonte du site")
    assert "ruche:created" in response["HX-Trigger"]
    assert f'href="/deals/{deal.pk}/"' in response.content.decode()
    assert (deal.org.name, deal.person.name, deal.person.org_id) == (
        "Garage Petit",
        "Paul Petit",
        deal.org_id,
    )
    assert (deal.value_minor, deal.stage_id, deal.owner_id) == (480000, stages[1].pk, rep.pk)
    assert deal.expected_close_date.isoformat() == "2027-04-30"
    again = web_as(rep).post(
        "/quick-add/deal/",
        {"title": "Deuxième", "org_name": "garage petit", "stage_id": stages[0].pk},
    )
    assert again.status_code == 200
    assert Organization.objects.filter(name__iexact="garage petit").count() == 1


def test_a_refused_quick_add_leaves_nothing_behind(web_as, rep, stages):
    response = web_as(rep).post(
        "/quick-add/deal/",
        {"title": "X", "org_name": "Nouvelle SARL", "value": "abc", "stage_id": stages[0].pk},
    )
    assert response.status_code == 422
    assert "Not a decimal number: &#x27;abc&#x27;." in response.content.decode()
    assert 'value="Nouvelle SARL"' in response.content.decode()
    assert not Organization.objects.filter(name="Nouvelle SARL").exists()
    assert not Deal.objects.exists()


def test_quick_add_a_person_and_an_organisation(web_as, rep):
    client = web_as(rep)
    response = client.post(
        "/quick-add/person/",
        {"name": "Inès Garnier", "email": "ines@exemple.fr", "phone": "06 12 34 56 78"},
    )
    assert response.status_code == 200
    person = Person.objects.get(name="Inès Garnier")
    assert person.emails[0]["value"] == "ines@exemple.fr"
    bad = client.post("/quick-add/person/", {"name": "Bob", "email": "pas-un-email"})
    assert bad.status_code == 422
    assert not Person.objects.filter(name="Bob").exists()
    response = client.post("/quick-add/organization/", {"name": "Cave Dubois", "city": "Tours"})
    assert response.status_code == 200
    assert Organization.objects.get(name="Cave Dubois").city == "Tours"
    assert client.get("/quick-add/unknown/").status_code == 404


def test_the_deals_list_queries_do_not_grow_with_rows_or_columns(
    web_as, rep, django_assert_max_num_queries
):
    from ruche.core.custom_fields import custom_field_create

    helper = custom_field_create(
        user=None, entity="deal", data={"name": "Aide", "field_type": "user"}
    )
    label = Lookup.objects.filter(kind=Lookup.Kind.LABEL).first()
    client = web_as(rep)
    columns = ["title", "organization", "person", "labels", "forecast_category", f"cf:{helper.key}"]
    client.post("/lists/deals/columns/", {"columns": columns})

    def add(count):
        for _ in range(count):
            org = OrganizationFactory(owner=rep)
            DealFactory(
                owner=rep, org=org, label_ids=[label.pk], custom_fields={helper.key: rep.pk}
            )

    add(5)
    client.get("/deals/")
    with django_assert_max_num_queries(14) as few:
        html = client.get("/deals/").content.decode()
    assert len(rows(html)) == 5
    assert html.count(f"<td>{label.name}</td><td></td><td>{rep}</td>") == 5
    add(55)
    with django_assert_max_num_queries(len(few)):
        assert len(rows(client.get("/deals/").content.decode())) == 50
