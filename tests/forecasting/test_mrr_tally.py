"""The MRR tally (ruche.forecasting.mrr_tallies): the moves of the shared customers kept in step
with every write, the private customers read from their contracts, and the same figures for
every reader as when every customer is read from the contracts.

The contracts are those of tests/forecasting/test_mrr.py (month index 24312 = January 2026).
"""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from ruche.contacts.models import Organization
from ruche.core.exceptions import ValidationError
from ruche.core.models import Visibility
from ruche.forecasting import mrr_tallies
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.models import MrrTally
from ruche.pipelines.models import Deal
from ruche.pipelines.services import deal_delete, deal_update
from ruche.transfer.undo import undo_import
from tests.factories import FACTORY_ACTOR, OrganizationFactory
from tests.forecasting.test_mrr import SPRING, D, _table, contract, contracts  # noqa: F401
from tests.transfer.conftest import run_import  # noqa: F401

pytestmark = pytest.mark.django_db

JAN, FEB, MAR, APR = 24312, 24313, 24314, 24315
# (month, currency): (change, new, expansion, contraction, churned), in cents.
ALL_SHARED = {
    (JAN, "EUR"): (40000, 40000, 0, 0, 0),  # X 100, Q 300
    (FEB, "EUR"): (20000, 20000, 0, 0, 0),  # Y 200
    (FEB, "USD"): (10000, 10000, 0, 0, 0),  # Z 100 USD
    (MAR, "EUR"): (0, 5000, 0, 5000, 0),  # no org 50; Q 300 -> 250
    (APR, "EUR"): (-20000, 0, 5000, 0, 25000),  # X 100 -> 150; Y and no org end
    (APR + 10, "USD"): (-10000, 0, 0, 0, 10000),  # Z ends (February 2027)
    (MAR + 12, "EUR"): (-25000, 0, 0, 0, 25000),  # Q's renewal ends
    (APR + 12, "EUR"): (-15000, 0, 0, 0, 15000),  # X's renewal ends
}


def tally() -> dict:
    return {
        (month, cur): tuple(amounts)
        for month, cur, *amounts in MrrTally.objects.values_list(
            "month", "currency", *mrr_tallies.MEASURES
        )
    }


def deal_of(org, monthly_minor: int) -> Deal:
    return Deal.objects.get(org=org, recurring_monthly_minor=monthly_minor)


@pytest.fixture
def orgs(contracts):  # noqa: F811
    """The contracts' organisations by their letter in test_mrr's table, found by the monthly
    amount of their first contract (won)."""
    won = Deal.objects.filter(status="won")
    first_contract = {"X": 10000, "Q": 30000, "Y": 20000}
    found = {
        name: won.get(recurring_monthly_minor=minor, currency="EUR").org
        for name, minor in first_contract.items()
    }
    return found | {"Z": won.get(currency="USD").org}


def update(deal: Deal, **data) -> None:
    deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data=data)


def test_the_tally_holds_every_shared_customers_moves(contracts):  # noqa: F811
    assert tally() == ALL_SHARED
    assert mrr_tallies.drift() == 0


def test_a_private_customer_leaves_the_tally_and_is_read_from_its_contracts(
    orgs, admin, rep, other_rep
):
    renewal = deal_of(orgs["X"], 15000)
    update(renewal, visible_to=Visibility.OWNER)
    without_x = dict(ALL_SHARED)
    without_x[(JAN, "EUR")] = (30000, 30000, 0, 0, 0)
    without_x[(APR, "EUR")] = (-25000, 0, 0, 0, 25000)
    del without_x[(APR + 12, "EUR")]
    assert tally() == without_x
    # The admin sees both of X's contracts: the figures of test_mrr.
    assert _table(metric(admin, "mrr", MetricQuery(**SPRING)).rows)["2026-04"] == tuple(
        map(D, (480, 5760, 0, 50, 0, 250, -200))
    )
    # Another rep does not see X's renewal: X churns 100 in April.
    assert _table(metric(other_rep, "mrr", MetricQuery(**SPRING)).rows)["2026-04"] == tuple(
        map(D, (330, 3960, 0, 0, 0, 350, -350))
    )
    update(renewal, visible_to=Visibility.EVERYONE)
    assert tally() == ALL_SHARED


def test_moving_a_contract_to_another_organisation(orgs):
    renewal = deal_of(orgs["Q"], 25000)
    update(renewal, org_id=OrganizationFactory().pk)
    # Q churns 300 in March; the new organisation's 250 is new MRR.
    assert tally()[(MAR, "EUR")] == (0, 30000, 0, 0, 30000)
    update(renewal, org_id=None)  # its own customer: still new MRR in March
    assert tally()[(MAR, "EUR")] == (0, 30000, 0, 0, 30000)
    update(renewal, org_id=orgs["Q"].pk)
    assert tally() == ALL_SHARED


def test_every_write_to_a_contract_keeps_the_tally(orgs, loss_reason):
    renewal = deal_of(orgs["X"], 15000)
    update(renewal, recurring_monthly="50")  # X 100 -> 50 in April: a contraction
    assert tally()[(APR, "EUR")] == (-30000, 0, 0, 5000, 25000)
    update(renewal, status="lost", lost_reason_id=loss_reason.pk)  # X churns 100
    assert tally()[(APR, "EUR")] == (-35000, 0, 0, 0, 35000)
    update(renewal, status="won")  # won again today: its start date still says April
    assert tally()[(APR, "EUR")] == (-30000, 0, 0, 5000, 25000)
    update(renewal, currency="USD")  # X in USD is another customer: new MRR
    assert tally()[(APR, "USD")] == (5000, 5000, 0, 0, 0)
    update(renewal, revenue_type="one_off")
    assert (APR, "USD") not in tally()
    assert mrr_tallies.drift() == 0
    deal_delete(actor=FACTORY_ACTOR, deal_id=deal_of(orgs["Y"], 20000).pk)
    assert (FEB, "EUR") not in tally()  # Y was February's only move in euros
    assert mrr_tallies.drift() == 0


def test_a_refused_write_changes_nothing(orgs, unchanged):
    renewal = deal_of(orgs["X"], 15000)
    with unchanged(renewal), pytest.raises(ValidationError) as term:
        update(renewal, recurring_term_months=-1)
    assert "recurring_term_months" in term.value.field_errors
    with unchanged(renewal), pytest.raises(ValidationError) as monthly:
        update(renewal, recurring_monthly="-10")
    assert "recurring_monthly" in monthly.value.field_errors
    assert tally() == ALL_SHARED


def test_many_customers_at_once_compute_the_whole_tally(orgs, monkeypatch):
    monkeypatch.setattr(mrr_tallies, "MAX_FOLLOWED", 1)
    with mrr_tallies.follow(Deal.objects.filter(revenue_type="recurring")):
        Deal.objects.filter(org=orgs["Y"]).update(recurring_monthly_minor=1000)
    assert mrr_tallies.drift() == 0
    assert tally()[(FEB, "EUR")] == (1000, 1000, 0, 0, 0)


READERS = ("admin", "rep", "other_rep", "manager")
QUERIES = (
    MetricQuery(**SPRING),
    MetricQuery(**SPRING, interval="quarter"),
    MetricQuery(**SPRING, currency="USD"),
    MetricQuery(date_from=SPRING["date_from"], interval="year"),
)


@pytest.mark.parametrize("private", [Visibility.OWNER, Visibility.TEAM])
def test_every_reader_gets_the_figures_of_the_contracts_alone(request, orgs, private, monkeypatch):
    for name, monthly in (("X", 15000), ("Q", 30000)):
        update(deal_of(orgs[name], monthly), visible_to=private)
    readers = [request.getfixturevalue(name) for name in READERS]
    with_tally = [metric(user, "mrr", query).rows for user in readers for query in QUERIES]
    monkeypatch.setattr(mrr_tallies, "uses_tally", lambda filters: False)
    alone = [metric(user, "mrr", query).rows for user in readers for query in QUERIES]
    assert with_tally == alone
    assert len({str(rows) for rows in alone}) > len(QUERIES)  # the readers differ


def test_the_tallies_command_mends_the_mrr_tally(orgs):
    Deal.objects.filter(org=orgs["Y"]).update(recurring_monthly_minor=1000)  # no tally follows
    out = StringIO()
    call_command("forecast", "tallies", stdout=out)
    assert out.getvalue() == "4 tally amounts (stage, MRR) differed: computed again.\n"
    assert tally()[(FEB, "EUR")] == (1000, 1000, 0, 0, 0)


def test_an_import_undone_follows_the_deals_on_its_organisations(
    run_import,  # noqa: F811
    contract,  # noqa: F811
    admin,
    other_rep,
):
    run, report = run_import("organizations", "Nom\nAcme\n")
    assert report.created == 1, report.errors
    acme = Organization.objects.get(name="Acme")
    contract(acme, "100", None, won="2026-01-10")
    later = contract(acme, "50", None, won="2026-03-05")  # an expansion of Acme's MRR
    update(later, visible_to=Visibility.OWNER)  # Acme is private, then loses its contracts
    undo_import(run=run, user=admin)
    # Without their organisation, the two contracts are two customers: March's 50 is new.
    assert Deal.objects.filter(org__isnull=True, revenue_type="recurring").count() == 2
    assert tally()[(JAN, "EUR")] == (10000, 10000, 0, 0, 0)
    assert mrr_tallies.drift() == 0
    figures = _table(metric(admin, "mrr", MetricQuery(**SPRING)).rows)
    assert figures["2026-03"] == tuple(map(D, (150, 1800, 50, 0, 0, 0, 50)))


def test_a_month_of_shared_and_private_moves_is_converted_once(contract, usd_rates, admin):  # noqa: F811
    private = contract(OrganizationFactory(), "100.03", None, won="2026-02-10", currency_code="USD")
    contract(OrganizationFactory(), "100.03", None, won="2026-02-12", currency_code="USD")
    update(private, visible_to=Visibility.OWNER)
    rows = metric(
        admin, "mrr", MetricQuery(date_from=dt.date(2026, 2, 1), date_to=SPRING["date_to"])
    ).rows
    # 200.06 USD at 0.9, rounded once: 180.05 (twice, 90.03 + 90.03 = 180.06).
    assert (rows[0]["mrr"], rows[0]["new"], rows[0]["net_new"]) == (D("180.05"),) * 3
