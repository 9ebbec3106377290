"""How customers pay and what cash is expected, computed by hand (docs/billing.md):

invoice  customer  issued  due    paid (last payment)  days to pay  days late  incl. VAT
inv1     A         01-05   02-04  01-25                20           0          120.00
inv2     A         01-12   02-11  02-01 + 02-21        40           10         240.00
inv3     B         01-19   02-18  03-05                45           15         360.00
inv4     C         02-02   03-04  unpaid (overdue on 03-05)                    600.00
inv5     A         01-26   02-25  200.00 on 02-10, 1 000.00 due (overdue)      1 200.00
inv6     C         02-02   03-04  02-12                10           0          60.00
inv7     A         03-05   04-04  due in the week of 03-30                     10.55 (5.5 %)
inv8     B         03-05   03-05  due this week (terms 0)                      40.00
inv9     B         03-05   05-04  due in the week of 05-04 (terms 60)          1.20

A and B are in the industry "Industrie"; C has none. Today is Thursday 2026-03-05."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from ruche.billing import selectors, services
from ruche.core.models import Visibility
from tests.factories import OrganizationFactory

D = Decimal
TODAY = dt.date(2026, 3, 5)


@pytest.fixture
def on_day(monkeypatch):
    """`on_day(date)`: the services and selectors see `date` as today."""

    def move(day: dt.date) -> None:
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return move


@pytest.fixture
def ledger(profile, rep, rep_actor, on_day):
    orgs = {
        name: OrganizationFactory(
            owner=rep,
            name=name,
            industry=industry,
            address="1 rue A",
            postal_code="69001",
            city="Lyon",
            siren="552100554",
            visible_to=Visibility.TEAM,
        )
        for name, industry in (("A", "Industrie"), ("B", "Industrie"), ("C", ""))
    }

    def issue(org, day, price, rate=20, terms=None):
        on_day(day)
        data = {
            "org_id": orgs[org].pk,
            "lines": [{"name": "Prestation", "unit_price": D(price), "vat_rate": rate}],
        }
        if terms is not None:
            data["payment_terms_days"] = terms
        invoice = services.invoice_create(actor=rep_actor, data=data)
        return services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)

    def pay(invoice, day, amount):
        on_day(day)
        services.payment_create(
            actor=rep_actor, data={"invoice_id": invoice.pk, "amount": D(amount), "date": day}
        )

    inv1 = issue("A", dt.date(2026, 1, 5), "100")
    inv2 = issue("A", dt.date(2026, 1, 12), "200")
    inv3 = issue("B", dt.date(2026, 1, 19), "300")
    inv5 = issue("A", dt.date(2026, 1, 26), "1000")
    inv4 = issue("C", dt.date(2026, 2, 2), "500")
    inv6 = issue("C", dt.date(2026, 2, 2), "50")
    pay(inv1, dt.date(2026, 1, 25), "120")
    pay(inv2, dt.date(2026, 2, 1), "100")
    pay(inv5, dt.date(2026, 2, 10), "200")
    pay(inv6, dt.date(2026, 2, 12), "60")
    pay(inv2, dt.date(2026, 2, 21), "140")
    pay(inv3, dt.date(2026, 3, 5), "360")
    issue("A", TODAY, "10", rate="5.5")
    issue("B", TODAY, "33.33", terms=0)
    issue("B", TODAY, "1", terms=60)
    assert inv4.total_incl_vat_minor == 60000
    on_day(TODAY)
    return orgs


def test_days_to_pay_and_late_per_customer(ledger, rep):
    rows = selectors.payment_delays(rep, group_by="customer")
    assert [
        (
            row["customer_name"],
            row["invoice_count"],
            row["late_count"],
            row["average_days_to_pay"],
            row["average_days_late"],
        )
        for row in rows
    ] == [
        ("B", 1, 1, D("45.0"), D("15.0")),
        ("A", 2, 1, D("30.0"), D("5.0")),
        ("C", 1, 0, D("10.0"), D("0.0")),
    ]
    assert [row["org_id"] for row in rows] == [ledger[name].pk for name in "BAC"]


def test_days_to_pay_and_late_per_segment(ledger, rep):
    rows = selectors.payment_delays(rep, group_by="segment")
    assert [
        (row["segment"], row["invoice_count"], row["average_days_to_pay"], row["average_days_late"])
        for row in rows
    ] == [("Industrie", 3, D("35.0"), D("8.3")), ("", 1, D("10.0"), D("0.0"))]


def test_expected_cash_in_per_week(ledger, rep):
    assert selectors.expected_cash_in(rep, weeks=12) == {
        "overdue": [{"currency": "EUR", "amount_minor": 160000, "invoice_count": 2}],
        "weeks": [
            {
                "week_start": dt.date(2026, 3, 2),
                "currency": "EUR",
                "amount_minor": 4000,
                "invoice_count": 1,
            },
            {
                "week_start": dt.date(2026, 3, 30),
                "currency": "EUR",
                "amount_minor": 1055,
                "invoice_count": 1,
            },
            {
                "week_start": dt.date(2026, 5, 4),
                "currency": "EUR",
                "amount_minor": 120,
                "invoice_count": 1,
            },
        ],
        "later": [],
    }
    four_weeks = selectors.expected_cash_in(rep, weeks=4)
    assert [row["week_start"] for row in four_weeks["weeks"]] == [dt.date(2026, 3, 2)]
    assert four_weeks["later"] == [{"currency": "EUR", "amount_minor": 1175, "invoice_count": 2}]


def test_other_teams_invoices_are_not_counted(ledger, other_rep):
    assert selectors.payment_delays(other_rep) == []
    assert selectors.expected_cash_in(other_rep) == {"overdue": [], "weeks": [], "later": []}


def test_the_api_endpoints(ledger, rep, api_as):
    api = api_as(rep)
    response = api.get("/billing/payment_delays?group_by=segment")
    assert response.status_code == 200, response.json()
    assert [
        (row["segment"], row["average_days_to_pay"], row["average_days_late"])
        for row in response.json()["data"]
    ] == [("Industrie", 35.0, 8.3), ("", 10.0, 0.0)]
    assert api.get("/billing/payment_delays?group_by=size").status_code == 422
    response = api.get("/billing/expected_cash_in?weeks=4")
    assert response.json()["data"] == {
        "overdue": [{"currency": "EUR", "amount": 1600.0, "invoice_count": 2}],
        "weeks": [
            {"currency": "EUR", "amount": 40.0, "invoice_count": 1, "week_start": "2026-03-02"}
        ],
        "later": [{"currency": "EUR", "amount": 11.75, "invoice_count": 2}],
    }
    assert api.get("/billing/expected_cash_in?weeks=0").status_code == 422


def test_the_page(ledger, rep, client, django_assert_max_num_queries):
    client.force_login(rep)
    client.get("/billing/cash-in/")
    with django_assert_max_num_queries(8):
        html = client.get("/billing/cash-in/?group=segment").content.decode()
    assert '<td>Industrie</td><td class="amount">3</td>' in html
    assert "8,3" in html
