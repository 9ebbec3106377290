"""Won revenue by product as one join of the won deals to their lines: a deal counted once per
product, the deals without lines as every won deal less those with lines (per period,
currency and day), lines and deals without lines converted apart, as before."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.catalog.models import Product
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.pipelines.services import deal_line_add, deal_update
from tests.factories import FACTORY_ACTOR
from tests.forecasting.conftest import at, set_times

YEAR = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 12, 31)}


@pytest.fixture
def products():
    boxes = Product.objects.create(name="Boîtes", unit_price_minor=1000, currency="EUR")
    setup = Product.objects.create(name="Installation", unit_price_minor=5000, currency="EUR")
    return boxes, setup


def won_with_lines(make_deal, owner, day, lines, *, value="0", currency_code="EUR"):
    """A deal given its lines while open, then won at noon on `day`."""
    deal = make_deal(owner, value, currency_code=currency_code)
    for data in lines:
        deal_line_add(actor=FACTORY_ACTOR, deal_id=deal.pk, data=data)
    deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"status": "won"})
    return set_times(deal, won_time=at(day), close_time=at(day))


def by_group(user, indicator="won_revenue", **query):
    result = metric(user, indicator, MetricQuery(**query, group_by="product"))
    return {
        (row["period_label"], row["group"]): (row["deals"], row["amount"]) for row in result.rows
    }


@pytest.fixture
def lined_deals(make_deal, rep, other_rep, products, loss_reason):
    """January: two boxes lines (30.00 + 10.00) and a free-text line (12.34) on one deal.
    February: installation (50.00) on one deal, and a deal of 70.00 without lines. March: one
    boxes line (10.00) of other_rep. A lost and an open deal with lines count nowhere."""
    boxes, setup = products
    three_boxes = {"product_id": boxes.pk, "quantity": "3"}
    one_box = {"product_id": boxes.pk, "quantity": "1"}
    won_with_lines(
        make_deal,
        rep,
        "2026-01-10",
        [three_boxes, one_box, {"name": "Conseil", "unit_price": "12.34"}],
    )
    won_with_lines(make_deal, rep, "2026-02-10", [{"product_id": setup.pk}])
    make_deal(rep, "70", status="won", won="2026-02-20")
    won_with_lines(make_deal, other_rep, "2026-03-05", [one_box])
    lost = make_deal(rep, "0")
    deal_line_add(actor=FACTORY_ACTOR, deal_id=lost.pk, data=three_boxes)
    deal_update(
        actor=FACTORY_ACTOR,
        deal_id=lost.pk,
        data={"status": "lost", "lost_reason_id": loss_reason.pk},
    )
    open_deal = make_deal(rep, "0")
    deal_line_add(actor=FACTORY_ACTOR, deal_id=open_deal.pk, data=one_box)
    return boxes, setup


def test_a_deal_counts_once_per_product_and_deals_without_lines_under_none(lined_deals, admin):
    boxes, setup = lined_deals
    assert by_group(admin, **YEAR) == {
        (None, boxes.pk): (2, Decimal("50.00")),
        (None, setup.pk): (1, Decimal("50.00")),
        (None, None): (2, Decimal("82.34")),  # the free-text line and the deal without lines
    }
    assert by_group(admin, "deals_won", **YEAR) == by_group(admin, **YEAR)


def test_by_month_a_month_whose_won_deals_all_have_lines_has_no_group_none(lined_deals, admin):
    boxes, setup = lined_deals
    assert by_group(admin, **YEAR, interval="month") == {
        ("2026-01", None): (1, Decimal("12.34")),
        ("2026-01", boxes.pk): (1, Decimal("40.00")),
        ("2026-02", None): (1, Decimal("70.00")),
        ("2026-02", setup.pk): (1, Decimal("50.00")),
        ("2026-03", boxes.pk): (1, Decimal("10.00")),
    }


def test_the_filters_apply_to_the_lines_and_to_the_deals_without_them(
    lined_deals, admin, rep, other_rep
):
    boxes, setup = lined_deals
    assert by_group(admin, **YEAR, owner_id=other_rep.pk) == {
        (None, boxes.pk): (1, Decimal("10.00"))
    }
    assert by_group(admin, **YEAR, owner_id=rep.pk) == {
        (None, boxes.pk): (1, Decimal("40.00")),
        (None, setup.pk): (1, Decimal("50.00")),
        (None, None): (2, Decimal("82.34")),
    }
    assert by_group(admin, date_from=dt.date(2026, 2, 15), date_to=dt.date(2026, 12, 31)) == {
        (None, None): (1, Decimal("70.00")),
        (None, boxes.pk): (1, Decimal("10.00")),
    }


def test_lines_and_deals_without_lines_are_converted_apart(make_deal, rep, admin, usd_rates):
    """0.05 USD at 0.9 is 0.045, rounded half up to 0.05 EUR: a free-text line and a deal
    without lines won the same day each give 0.05 EUR (0.10), not 0.10 USD converted once
    (0.09)."""
    won_with_lines(
        make_deal,
        rep,
        "2026-01-15",
        [{"name": "Frais", "unit_price": "0.05"}],
        currency_code="USD",
    )
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-01-15")
    assert by_group(admin, **YEAR) == {(None, None): (2, Decimal("0.10"))}
    assert by_group(admin, **YEAR, currency="USD") == {(None, None): (2, Decimal("0.10"))}
