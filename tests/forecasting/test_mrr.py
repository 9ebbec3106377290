"""MRR and ARR, with new, expansion, contraction and churned MRR, worked out by hand.

Rates (usd_rates): 1 USD = 0.9 EUR from 2026-01-01, 0.8 EUR from 2026-03-01. A month's
figures are converted at the rate in force on its first day.

    customer  contract                                    months active
    X         100/month, 3 months, won 01-10 (no start)   Jan Feb Mar
    X         renewal 150/month, 12 months, start 04-01   Apr ... Mar 2027   -> expansion 50
    Q         300/month, 2 months, won 01-02              Jan Feb
    Q         renewal 250/month, start 03-01              Mar ...            -> contraction 50
    Y         200/month, 2 months, start 02-01            Feb Mar
    Y         renewal lost                                                   -> churn 200 Apr
    Z (USD)   100 USD/month, 12 months, won 02-15         Feb ... Jan 2027   90 EUR, then 80
    (no org)  50/month, 1 month, won 03-05                Mar                -> churn 50 Apr
    V         100/month won, then lost: not counted; W one-off: not counted

    month  MRR                            new        expansion contraction churned
    Jan    100 + 300 = 400                400
    Feb    100 + 300 + 200 + 90 = 690     200 + 90
    Mar    100 + 250 + 200 + 80 + 50 = 680  50                 50
    Apr    150 + 250 + 80 = 480                      50                    200 + 50
"""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.core.exceptions import ValidationError
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.pipelines.services import deal_update
from tests.factories import FACTORY_ACTOR, OrganizationFactory
from tests.forecasting.conftest import set_times

pytestmark = pytest.mark.django_db

SPRING = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 4, 30)}


@pytest.fixture
def contract(make_deal, rep):
    def make(org, monthly, term, *, won, start=None, currency_code="EUR", status="won"):
        deal = make_deal(
            rep,
            str(Decimal(monthly) * (term or 1)),
            currency_code=currency_code,
            status=status,
            won=won,
            lost=won,
            org=org,
        )
        return set_times(
            deal,
            revenue_type="recurring",
            recurring_monthly_minor=int(Decimal(monthly) * 100),
            recurring_term_months=term,
            recurring_start_date=start,
        )

    return make


@pytest.fixture
def contracts(contract, make_deal, rep, usd_rates, loss_reason):
    x, q, y, z, v, w = (OrganizationFactory() for _ in range(6))
    contract(x, "100", 3, won="2026-01-10")
    contract(x, "150", 12, won="2026-03-20", start=dt.date(2026, 4, 1))
    contract(q, "300", 2, won="2026-01-02")
    contract(q, "250", 12, won="2026-02-20", start=dt.date(2026, 3, 1))
    contract(y, "200", 2, won="2026-01-25", start=dt.date(2026, 2, 1))
    contract(y, "220", 12, won="2026-03-25", status="lost")
    contract(z, "100", 12, won="2026-02-15", currency_code="USD")
    contract(None, "50", 1, won="2026-03-05")
    won_then_lost = contract(v, "100", 12, won="2026-01-05")
    deal_update(
        actor=FACTORY_ACTOR,
        deal_id=won_then_lost.pk,
        data={"status": "lost", "lost_reason_id": loss_reason.pk},
    )
    make_deal(rep, "5000", status="won", won="2026-01-15", org=w)


def _table(rows):
    columns = ("mrr", "arr", "new", "expansion", "contraction", "churned", "net_new")
    return {row["period_label"]: tuple(row[c] for c in columns) for row in rows}


def D(value):
    return Decimal(value).quantize(Decimal("0.01"))


def test_mrr_by_month_with_its_moves(contracts, admin):
    result = metric(admin, "mrr", MetricQuery(**SPRING))
    assert result.currency == "EUR"
    assert _table(result.rows) == {
        "2026-01": tuple(map(D, (400, 4800, 400, 0, 0, 0, 400))),
        "2026-02": tuple(map(D, (690, 8280, 290, 0, 0, 0, 290))),
        # The USD contract is worth 80 from March (rate 0.8): MRR moves by -10 with no move.
        "2026-03": tuple(map(D, (680, 8160, 50, 0, 50, 0, 0))),
        "2026-04": tuple(map(D, (480, 5760, 0, 50, 0, 250, -200))),
    }


def test_mrr_by_quarter_is_the_last_month_and_the_sum_of_moves(contracts, admin):
    rows = metric(admin, "mrr", MetricQuery(**SPRING, interval="quarter")).rows
    assert _table(rows) == {
        "FY2026-Q1": tuple(map(D, (680, 8160, 740, 0, 50, 0, 690))),
        "FY2026-Q2": tuple(map(D, (480, 5760, 0, 50, 0, 250, -200))),
    }


def test_mrr_in_one_currency_is_unconverted(contracts, admin):
    result = metric(admin, "mrr", MetricQuery(**SPRING, currency="USD"))
    assert result.currency == "USD"
    assert _table(result.rows) == {
        "2026-01": tuple(map(D, (0, 0, 0, 0, 0, 0, 0))),
        "2026-02": tuple(map(D, (100, 1200, 100, 0, 0, 0, 100))),
        "2026-03": tuple(map(D, (100, 1200, 0, 0, 0, 0, 0))),
        "2026-04": tuple(map(D, (100, 1200, 0, 0, 0, 0, 0))),
    }


def test_mrr_follows_visibility_and_filters(contracts, admin, other_rep):
    rows = metric(admin, "mrr", MetricQuery(**SPRING, owner_id=other_rep.pk)).rows
    assert {row["mrr"] for row in rows} == {D(0)}


def test_mrr_refuses_groups_and_day_intervals(admin):
    with pytest.raises(ValidationError) as grouped:
        metric(admin, "mrr", MetricQuery(group_by="owner"))
    assert "group_by" in grouped.value.field_errors
    with pytest.raises(ValidationError) as daily:
        metric(admin, "mrr", MetricQuery(interval="day"))
    assert "interval" in daily.value.field_errors


def test_mrr_api(api_as, admin, contracts):
    response = api_as(admin).get("/metrics/mrr?from=2026-01-01&to=2026-04-30&interval=quarter")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["additional_data"]["currency"] == "EUR"
    assert [(r["period_label"], r["mrr"], r["arr"], r["churned"]) for r in body["data"]] == [
        ("FY2026-Q1", 680, 8160, 0),
        ("FY2026-Q2", 480, 5760, 250),
    ]
