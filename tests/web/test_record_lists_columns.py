"""Exports of every list (CSV and XLSX, formula-safe, numbers kept numbers) and the column
chooser with custom fields, remembered per user and per list."""

import csv
import datetime as dt
import io

import openpyxl
import pytest

from ruche.core.custom_fields import custom_field_create
from ruche.core.models import Visibility
from ruche.pipelines.services import activity_create
from ruche.web.models import ListColumns
from tests.factories import DealFactory, OrganizationFactory, PersonFactory, ProductFactory

pytestmark = pytest.mark.django_db


def xlsx_rows(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return list(sheet.iter_rows(values_only=True))


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_deals_xlsx_export_neutralises_formulas_and_keeps_numbers(web_as, rep, other_rep):
    budget = custom_field_create(
        user=None, entity="deal", data={"name": "Budget", "field_type": "monetary"}
    )
    deal = DealFactory(
        owner=rep,
        title='=HYPERLINK("http://evil.example","clic")',
        value="1234.56",
        custom_fields={budget.key: {"value": "99.90", "currency": "EUR"}},
    )
    DealFactory(owner=rep, title="Gagnée", status="won")
    DealFactory(owner=other_rep, title="Privée", visible_to=Visibility.OWNER)
    response = web_as(rep).get("/deals/export/?status=open&format=xlsx")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = xlsx_rows(response)
    assert rows[0][:3] == ("id", "title", "organization")
    assert rows[0][-1] == "Budget"
    assert len(rows) == 2
    assert rows[1][0] == deal.pk
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","clic")'
    assert rows[1][8:10] == (1234.56, "EUR")
    assert isinstance(rows[1][8], float)
    assert rows[1][-1] == 99.9


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_every_list_exports_what_it_shows(web_as, rep, rep_actor, other_rep, file_format):
    org = OrganizationFactory(name="=1+1", city="Tours", owner=rep)
    OrganizationFactory(name="Cachée", owner=other_rep, visible_to=Visibility.OWNER)
    PersonFactory(name="@Paul", org=org, owner=rep, emails=[{"value": "paul@a.fr"}])
    ProductFactory(name="-Remise", code="R1", unit_price_minor=12_345)
    activity_create(
        actor=rep_actor, data={"subject": "+Appel", "due_date": "2027-03-04", "org_id": org.pk}
    )
    client = web_as(rep)

    def export(path):
        response = client.get(f"{path}?format={file_format}")
        assert response.status_code == 200
        return xlsx_rows(response) if file_format == "xlsx" else csv_rows(response)

    orgs = export("/organizations/export/")
    assert list(orgs[0][:5]) == ["id", "name", "address", "postal_code", "city"]
    assert [row[1] for row in orgs[1:]] == ["'=1+1"]
    persons = export("/persons/export/")
    assert [(row[1], row[2], row[3]) for row in persons[1:]] == [("'@Paul", "'=1+1", "paul@a.fr")]
    products = export("/products/export/")
    price = products[1][list(products[0]).index("unit_price")]
    assert products[1][1] == "'-Remise"
    assert price == (123.45 if file_format == "xlsx" else "123.45")
    activities = export("/activities/export/")
    due = activities[1][list(activities[0]).index("due_date")]
    assert activities[1][1] == "'+Appel"
    assert due == (dt.datetime(2027, 3, 4) if file_format == "xlsx" else "2027-03-04")


def test_the_column_chooser_shows_custom_fields_per_user_and_per_list(web_as, rep, other_rep):
    size = custom_field_create(
        user=None,
        entity="organization",
        data={"name": "Taille", "field_type": "enum", "options": [{"label": "PME"}]},
    )
    score = custom_field_create(
        user=None, entity="organization", data={"name": "Score", "field_type": "double"}
    )
    OrganizationFactory(
        name="Cave Dubois", owner=rep, custom_fields={size.key: 1, score.key: "1234.5"}
    )
    client = web_as(rep)
    page = client.get("/organizations/").content.decode()
    assert f'value="cf:{size.key}"> Taille' in page
    assert "<th" in page and ">Taille<" not in page
    response = client.post(
        "/lists/organizations/columns/",
        {
            "columns": ["name", f"cf:{size.key}", f"cf:{score.key}", "unknown"],
            "next": "/organizations/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/organizations/"
    assert ListColumns.objects.get(user=rep, list_key="organizations").columns == [
        "name",
        f"cf:{size.key}",
        f"cf:{score.key}",
    ]
    page = client.get("/organizations/").content.decode()
    assert 'Cave Dubois</a></td><td>PME</td><td class="num">1\u202f234,5</td>' in page
    # Another user, and another list, keep their defaults.
    other_page = web_as(other_rep).get("/organizations/").content.decode()
    assert ">PME<" not in other_page
    assert client.get("/persons/").status_code == 200
    assert not ListColumns.objects.filter(list_key="persons").exists()
    client.post("/lists/organizations/columns/", {"reset": "1", "columns": ["name"]})
    assert not ListColumns.objects.filter(user=rep).exists()
    assert client.post("/lists/unknown/columns/", {"columns": ["name"]}).status_code == 404
    outside = client.post(
        "/lists/persons/columns/", {"columns": ["name"], "next": "https://evil.example/"}
    )
    assert outside["Location"] == "/persons/"


def test_a_custom_money_column_shows_the_amount(web_as, rep):
    budget = custom_field_create(
        user=None, entity="deal", data={"name": "Budget", "field_type": "monetary"}
    )
    DealFactory(
        owner=rep, title="A", custom_fields={budget.key: {"value": "1500.5", "currency": "EUR"}}
    )
    client = web_as(rep)
    client.post("/lists/deals/columns/", {"columns": ["title", f"cf:{budget.key}"]})
    page = client.get("/deals/").content.decode()
    assert '<td class="num">1\u202f500,50\xa0€</td>' in page
