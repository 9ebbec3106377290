"""The lists of organisations, persons, products and activities: the API's selectors and
visibility, search, sort, keyset pages, links, bad input, and a query count that does not grow
with the rows shown."""

import base64
import re

import pytest

from ruche.catalog.models import Product
from ruche.contacts.models import Organization
from ruche.core.models import Visibility
from ruche.pipelines.models import Activity
from ruche.pipelines.services import activity_create
from tests.factories import DealFactory, OrganizationFactory, PersonFactory, ProductFactory

pytestmark = pytest.mark.django_db

ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
TAG = re.compile(r"<[^>]+>")


def table(html: str) -> list[list[str]]:
    """The body rows' cell texts (the header has no <td>)."""
    rows = [[TAG.sub("", cell).strip() for cell in CELL.findall(row)] for row in ROW.findall(html)]
    return [row for row in rows if row and "cursor=" not in row[0]]


def first_column(html: str) -> list[str]:
    return [row[0] for row in table(html)]


def next_cursor(html: str) -> str | None:
    found = re.search(r"cursor=([A-Za-z0-9_-]+)", html)
    return found.group(1) if found else None


def test_organisations_are_searched_sorted_and_linked(web_as, rep, other_rep):
    OrganizationFactory(name="Atelier Blanc", city="Tours", owner=rep)
    OrganizationFactory(name="Blanchisserie Roy", city="Angers", owner=rep)
    OrganizationFactory(name="Cave Dubois", city="Blois", owner=rep)
    hidden = OrganizationFactory(name="Blanc privé", owner=other_rep, visible_to=Visibility.OWNER)
    client = web_as(rep)
    html = client.get("/organizations/?q=blanc").content.decode()
    assert first_column(html) == ["Atelier Blanc", "Blanchisserie Roy"]
    assert hidden.name not in html
    org = Organization.objects.get(name="Atelier Blanc")
    assert f'<a href="/organizations/{org.pk}/">Atelier Blanc</a>' in html
    by_city = client.get("/organizations/?sort=-city").content.decode()
    assert first_column(by_city) == ["Atelier Blanc", "Cave Dubois", "Blanchisserie Roy"]
    mine = client.get(f"/organizations/?owner={other_rep.pk}").content.decode()
    assert first_column(mine) == ["Rien ne correspond."]


def test_persons_show_their_organisation_email_and_phone(web_as, rep, other_rep):
    org = OrganizationFactory(name="Garage Petit", owner=rep)
    paul = PersonFactory(
        name="Paul Petit",
        org=org,
        owner=rep,
        emails=[{"value": "paul@garage.fr", "primary": True}],
        phones=[{"value": "06 12 34 56 78"}],
    )
    PersonFactory(name="Anne Roy", owner=other_rep)
    PersonFactory(name="Secret", owner=other_rep, visible_to=Visibility.OWNER)
    client = web_as(rep)
    html = client.get("/persons/").content.decode()
    assert table(html)[:2] == [
        ["Anne Roy", "", "", "", str(other_rep), *table(html)[0][5:]],
        [
            "Paul Petit",
            "Garage Petit",
            "paul@garage.fr",
            "06 12 34 56 78",
            str(rep),
            *table(html)[1][5:],
        ],
    ]
    assert len(table(html)) == 2
    assert f'<a href="/persons/{paul.pk}/">Paul Petit</a>' in html
    assert f'<a href="/organizations/{org.pk}/">Garage Petit</a>' in html
    assert first_column(client.get("/persons/?q=garage.fr").content.decode()) == ["Paul Petit"]
    assert first_column(client.get(f"/persons/?org={org.pk}").content.decode()) == ["Paul Petit"]


def test_products_filter_active_and_sort_by_price(web_as, rep):
    ProductFactory(name="Audit", code="AUD", unit_price_minor=150_000)
    ProductFactory(name="Formation", code="FOR", unit_price_minor=90_000, is_active=False)
    ProductFactory(name="Maintenance", code="MNT", unit_price_minor=12_050)
    Product.objects.create(name="Supprimé", currency="EUR", is_deleted=True)
    client = web_as(rep)
    html = client.get("/products/?sort=-unit_price_minor").content.decode()
    assert first_column(html) == ["Audit", "Formation", "Maintenance"]
    assert "120,50\xa0€" in html
    active = client.get("/products/?active=yes&sort=unit_price_minor").content.decode()
    assert first_column(active) == ["Maintenance", "Audit"]
    assert first_column(client.get("/products/?q=for").content.decode()) == ["Formation"]


def test_activities_follow_their_deal_visibility_and_sort_by_due_date(
    web_as, rep, rep_actor, other_rep, other_rep_actor
):
    deal = DealFactory(owner=rep, title="Refonte")
    private = DealFactory(owner=other_rep, visible_to=Visibility.OWNER)
    activity_create(
        actor=rep_actor,
        data={"deal_id": deal.pk, "subject": "Rappeler", "due_date": "2027-02-01", "type": "call"},
    )
    activity_create(actor=rep_actor, data={"subject": "Sans date"})
    activity_create(
        actor=rep_actor,
        data={"subject": "Relancer le devis", "due_date": "2027-01-10", "done": True},
    )
    activity_create(actor=other_rep_actor, data={"deal_id": private.pk, "subject": "Caché"})
    client = web_as(rep)
    html = client.get("/activities/").content.decode()
    assert first_column(html) == ["Relancer le devis", "Rappeler", "Sans date"]
    assert f'<a href="/deals/{deal.pk}/">Refonte</a>' in html
    late_first = client.get("/activities/?sort=-due").content.decode()
    assert first_column(late_first) == ["Sans date", "Rappeler", "Relancer le devis"]
    assert first_column(client.get("/activities/?done=no&type=call").content.decode()) == [
        "Rappeler"
    ]
    assert first_column(client.get("/activities/?q=devis").content.decode()) == [
        "Relancer le devis"
    ]
    assert Activity.objects.count() == 4


def test_keyset_pages_walk_every_row_once_even_with_equal_sort_values(web_as, rep):
    for n in range(120):
        OrganizationFactory(
            name=f"Org {n:03d}", city=("Tours", "Blois", "Angers")[n % 3], owner=rep
        )
    client = web_as(rep)
    seen, query = [], "/organizations/?sort=city"
    html = client.get(query).content.decode()
    seen += first_column(html)
    while cursor := next_cursor(html):
        html = client.get(f"{query}&cursor={cursor}", HTTP_HX_REQUEST="true").content.decode()
        seen += first_column(html)
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen[:2] == ["Org 002", "Org 005"]  # Angers first, then by id
    assert seen[-1] == "Org 117"


@pytest.mark.parametrize(
    "path", ["/deals/", "/organizations/", "/persons/", "/products/", "/activities/"]
)
def test_bad_input_is_said_not_a_server_error(web_as, rep, path):
    client = web_as(rep)
    unknown_sort = client.get(f"{path}?sort=password")
    assert unknown_sort.status_code == 200
    assert (
        "« password » n\u2019est pas une colonne selon laquelle cette liste peut être triée."
        in unknown_sort.content.decode()
    )
    bad_cursor = client.get(f"{path}?cursor=not-a-cursor!")
    assert bad_cursor.status_code == 400
    forged = client.get(f"{path}?cursor=eyJ2Ijp7fSwiaWQiOjF9")  # {"v": {}, "id": 1}
    assert forged.status_code == 400
    huge_id = base64.urlsafe_b64encode(b'{"v": "a", "id": 1e400}').decode().rstrip("=")
    assert client.get(f"{path}?sort=add_time&cursor={huge_id}").status_code == 400
    huge = base64.urlsafe_b64encode(b'{"v": 99999999999999999999999, "id": 1}').decode()
    assert client.get(f"{path}?cursor={huge.rstrip('=')}").status_code == 400
    bad_filter = client.get(f"{path}?owner=abc&active=maybe&done=perhaps&cf_nope=1")
    assert bad_filter.status_code == 200
    ignored = re.findall(
        r"« (\w+) » n\u2019est pas une valeur valable pour « (\w+) »", bad_filter.content.decode()
    )
    assert (
        ignored
        == {
            "/deals/": [("abc", "owner"), ("1", "cf_nope")],
            "/organizations/": [("abc", "owner"), ("1", "cf_nope")],
            "/persons/": [("abc", "owner"), ("1", "cf_nope")],
            "/products/": [("maybe", "active"), ("1", "cf_nope")],
            "/activities/": [("abc", "owner"), ("perhaps", "done"), ("1", "cf_nope")],
        }[path]
    )
    assert client.get(f"{path.rstrip('/')}/export/?format=pdf").status_code == 400


def _make_rows(path: str, count: int, rep, rep_actor) -> None:
    for n in range(count):
        if path == "/organizations/":
            OrganizationFactory(owner=rep)
        elif path == "/persons/":
            PersonFactory(owner=rep, org=OrganizationFactory(owner=rep))
        elif path == "/products/":
            ProductFactory()
        else:
            deal = DealFactory(owner=rep, org=OrganizationFactory(owner=rep))
            activity_create(actor=rep_actor, data={"deal_id": deal.pk, "subject": f"Appel {n}"})


@pytest.mark.parametrize("path", ["/organizations/", "/persons/", "/products/", "/activities/"])
def test_queries_do_not_grow_with_the_rows(
    web_as, rep, rep_actor, path, django_assert_max_num_queries
):
    client = web_as(rep)
    client.get(path)
    _make_rows(path, 5, rep, rep_actor)
    with django_assert_max_num_queries(8) as few:
        assert len(table(client.get(path).content.decode())) == 5
    _make_rows(path, 55, rep, rep_actor)
    with django_assert_max_num_queries(8) as many:
        assert len(table(client.get(path).content.decode())) == 50
    assert len(many) == len(few)
