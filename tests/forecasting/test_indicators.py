"""Pipeline, expected revenue, forecast categories, conversion, cycle, velocity, and the
history-based figures (time in stage, stage-to-stage conversion)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from ruche.core import currency
from ruche.core.exceptions import ValidationError
from ruche.core.models import Lookup, Visibility
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.stage_tallies import tallies_follow
from ruche.pipelines.models import StageEntry
from ruche.pipelines.services import deal_move_to_stage, deal_update, pipeline_create_standard
from tests.factories import FACTORY_ACTOR
from tests.forecasting.conftest import PARIS, set_entries, set_times

YEAR = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 12, 31)}


def rows(user, indicator, **query):
    return metric(user, indicator, MetricQuery(**query)).rows


def category(name):
    return Lookup.objects.get(kind=Lookup.Kind.FORECAST_CATEGORY, name=name)


@pytest.fixture
def open_set(make_deal, rep, stages, admin_actor):
    """Open deals expected to close in 2026 (stage probabilities 10, 20, 40, 60, 80 %)."""
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2020-01-01", rate="0.5"
    )
    commit, best = category("Commit"), category("Best case")
    return [
        # 1000.00 at the Meeting stage's 40 % = 400.00
        make_deal(
            rep,
            "1000",
            stage=stages[2],
            expected_close_date="2026-02-10",
            forecast_category_id=commit.pk,
        ),
        # 333.33 at its own 10 % = 33.333 -> 33.33
        make_deal(
            rep,
            "333.33",
            stage=stages[4],
            probability=10,
            expected_close_date="2026-02-20",
            forecast_category_id=commit.pk,
        ),
        # 200.00 USD x 0.5 (today's rate) = 100.00 EUR, at the Lead stage's 10 % = 10.00
        make_deal(
            rep,
            "200",
            currency_code="USD",
            stage=stages[0],
            expected_close_date="2026-05-01",
            forecast_category_id=best.pk,
        ),
        # Outside the period, and a won deal: neither counts.
        make_deal(rep, "5000", stage=stages[1], expected_close_date="2027-01-01"),
        make_deal(rep, "7000", status="won", won="2026-02-01", expected_close_date="2026-02-01"),
    ]


def test_pipeline_and_expected_revenue(open_set, admin):
    pipeline_rows = rows(admin, "pipeline", **YEAR, interval="quarter")
    assert [
        (r["period_label"], r["deals"], r["value"], r["weighted_value"]) for r in pipeline_rows
    ] == [
        ("FY2026-Q1", 2, Decimal("1333.33"), Decimal("433.33")),
        ("FY2026-Q2", 1, Decimal("100.00"), Decimal("10.00")),
    ]
    expected = rows(admin, "expected_revenue", **YEAR)
    assert [(r["deals"], r["amount"]) for r in expected] == [(3, Decimal("443.33"))]
    # Without dates: every open deal, whatever its close date.
    assert rows(admin, "pipeline")[0]["value"] == Decimal("6433.33")


def test_forecast_category_totals(open_set, admin):
    totals = rows(admin, "forecast_categories", **YEAR)
    assert {r["group"]: (r["deals"], r["value"], r["weighted_value"]) for r in totals} == {
        category("Commit").pk: (2, Decimal("1333.33"), Decimal("433.33")),
        category("Best case").pk: (1, Decimal("100.00"), Decimal("10.00")),
    }
    with pytest.raises(ValidationError):
        rows(admin, "forecast_categories", **YEAR, group_by="owner")


def test_conversion_closed_in_period_and_cohort(make_deal, rep, admin):
    make_deal(rep, "1", status="won", won="2026-01-20", created="2025-12-01")
    make_deal(rep, "1", status="won", won="2026-02-20", created="2026-01-05")
    make_deal(rep, "1", status="lost", lost="2026-01-25", created="2026-01-06")
    make_deal(rep, "1", status="lost", lost="2026-02-25", created="2026-02-01")
    make_deal(rep, "1", created="2026-01-07")
    closed = rows(admin, "conversion_rate", **YEAR, interval="month")
    assert [(r["period_label"], r["won"], r["lost"], r["rate"]) for r in closed] == [
        ("2026-01", 1, 1, Decimal("50.00")),
        ("2026-02", 1, 1, Decimal("50.00")),
    ]
    whole = rows(
        admin, "conversion_rate", date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 2, 24)
    )
    assert (whole[0]["won"], whole[0]["lost"], whole[0]["rate"]) == (2, 1, Decimal("66.67"))
    cohort = rows(admin, "cohort_conversion", **YEAR, interval="month")
    assert [
        (r["period_label"], r["created"], r["won"], r["lost"], r["open"], r["rate"]) for r in cohort
    ] == [
        ("2026-01", 3, 1, 1, 1, Decimal("33.33")),
        ("2026-02", 1, 0, 1, 0, Decimal("0.00")),
    ]


def test_sales_cycle_is_the_median_of_days_from_creation_to_won(make_deal, rep, other_rep, admin):
    for created, won in (
        ("2026-01-01", "2026-01-11"),
        ("2026-01-01", "2026-01-04"),
        ("2025-12-01", "2026-01-31"),
    ):
        make_deal(rep, "1", status="won", won=won, created=created)  # 10, 3, 61 days
    for created, won in (("2026-02-01", "2026-02-05"), ("2026-02-01", "2026-02-08")):
        make_deal(other_rep, "1", status="won", won=won, created=created)  # 4, 7 days
    monthly = rows(admin, "sales_cycle", **YEAR, interval="month")
    assert [(r["period_label"], r["deals"], r["median_days"]) for r in monthly] == [
        ("2026-01", 3, Decimal("10.0")),
        ("2026-02", 2, Decimal("5.5")),
    ]
    # 3, 4, 7, 10, 61 -> 7
    assert rows(admin, "sales_cycle", **YEAR)[0]["median_days"] == Decimal("7.0")
    by_owner = {
        r["group"]: r["median_days"] for r in rows(admin, "sales_cycle", **YEAR, group_by="owner")
    }
    assert by_owner == {rep.pk: Decimal("10.0"), other_rep.pk: Decimal("5.5")}


def test_sales_velocity(make_deal, rep, admin):
    # Created in Q1: 4 deals. Closed in Q1: 2 won (300 and 500, 10 and 20 days), 1 lost.
    make_deal(rep, "300", status="won", won="2026-01-11", created="2026-01-01")
    make_deal(rep, "500", status="won", won="2026-01-21", created="2026-01-01")
    make_deal(rep, "1", status="lost", lost="2026-02-01", created="2026-01-02")
    make_deal(rep, "1", created="2026-01-03")
    velocity = rows(
        admin, "sales_velocity", date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 3, 31)
    )
    # 4 x 2/3 x 400.00 / 15 days = 71.111... -> 71.11 per day
    assert velocity == [
        {
            "period_start": dt.date(2026, 1, 1),
            "period_end": dt.date(2026, 3, 31),
            "period_label": None,
            "opportunities": 4,
            "win_rate": Decimal("66.67"),
            "average_value": Decimal("400.00"),
            "cycle_days": Decimal("15.0"),
            "velocity_per_day": Decimal("71.11"),
        }
    ]


def at(day, hour=0):
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), PARIS)


@pytest.fixture
def moved_set(make_deal, rep, stages):
    """Deal a: Lead 1.5 days, Prospect 3 days, then won. Deal b: Lead 2.5 days, Prospect, then
    lost after 1 day. Deal c: Lead, still there (open)."""
    a = make_deal(rep, "100")
    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=a.pk, stage_id=stages[1].pk)
    deal_update(actor=FACTORY_ACTOR, deal_id=a.pk, data={"status": "won"})
    set_entries(a, (at("2026-01-01"), at("2026-01-02", 12)), (at("2026-01-02", 12), None))
    set_times(a, won_time=at("2026-01-05", 12), close_time=at("2026-01-05", 12))
    b = make_deal(rep, "100")
    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=b.pk, stage_id=stages[1].pk)
    set_entries(b, (at("2026-01-01"), at("2026-01-03", 12)), (at("2026-01-03", 12), None))
    deal_update(
        actor=FACTORY_ACTOR, deal_id=b.pk, data={"status": "lost", "lost_reason": "Pas de budget"}
    )
    set_times(b, lost_time=at("2026-01-04", 12), close_time=at("2026-01-04", 12))
    c = make_deal(rep, "100")
    set_entries(c, (at("2026-01-10"), None))
    return a, b, c


def test_time_in_stage(moved_set, admin, stages):
    result = rows(admin, "time_in_stage", **YEAR)
    assert [(r["stage_id"], r["stays"], r["average_days"]) for r in result] == [
        (stages[0].pk, 2, Decimal("2.00")),  # (1.5 + 2.5) / 2
        (stages[1].pk, 2, Decimal("2.00")),  # (3 + 1) / 2
    ]
    # Stays are counted in the period they end in.
    second = rows(
        admin, "time_in_stage", date_from=dt.date(2026, 1, 3), date_to=dt.date(2026, 1, 31)
    )
    assert [(r["stage_id"], r["stays"], r["average_days"]) for r in second] == [
        (stages[0].pk, 1, Decimal("2.50")),
        (stages[1].pk, 2, Decimal("2.00")),
    ]


def test_stage_conversion(moved_set, admin, stages, rep, make_deal):
    # A fourth deal goes Lead -> Meeting (skipping Prospect) and stays open.
    d = make_deal(rep, "100")
    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=d.pk, stage_id=stages[2].pk)
    set_entries(d, (at("2026-01-11"), at("2026-01-12")), (at("2026-01-12"), None))
    result = rows(admin, "stage_conversion", **YEAR)
    assert [
        (r["stage_id"], r["entered"], r["reached_next"], r["won"], r["next_rate"], r["won_rate"])
        for r in result
    ] == [
        (stages[0].pk, 4, 3, 1, Decimal("75.00"), Decimal("25.00")),
        (stages[1].pk, 2, 1, 1, Decimal("50.00"), Decimal("50.00")),
        (stages[2].pk, 1, 0, 0, Decimal("0.00"), Decimal("0.00")),
    ]


def test_history_figures_keep_the_pipeline_of_the_time(moved_set, admin, stages, pipeline):
    a = moved_set[0]
    other = pipeline_create_standard(actor=FACTORY_ACTOR, name="Renewals")
    deal_update(actor=FACTORY_ACTOR, deal_id=a.pk, data={"pipeline_id": other.pk})
    with tallies_follow(Q(deal_id=a.pk)):
        StageEntry.objects.filter(deal=a, pipeline=other).update(entered_at=at("2026-02-01"))
    old = rows(admin, "stage_conversion", **YEAR, pipeline_id=pipeline.pk)
    # Deal a is now won in the other pipeline: it still reached Prospect from Lead here, but
    # it left this pipeline from Prospect, so Prospect converted none of its two deals.
    assert [(r["stage_id"], r["entered"], r["reached_next"], r["won"]) for r in old] == [
        (stages[0].pk, 3, 2, 0),
        (stages[1].pk, 2, 0, 0),
    ]
    new = rows(admin, "stage_conversion", **YEAR, pipeline_id=other.pk)
    assert [(r["entered"], r["won"]) for r in new] == [(1, 1)]
    # Its won revenue counts under its current pipeline.
    assert rows(admin, "won_revenue", pipeline_id=other.pk)[0]["deals"] == 1


def test_history_figures_follow_visibility(moved_set, rep, other_rep, admin, make_deal, stages):
    private = make_deal(other_rep, "1", visible_to=Visibility.OWNER)
    set_entries(private, (at("2026-01-01"), None))
    # The three deals of the fixture are visible to everyone; the fourth only to its owner.
    assert rows(other_rep, "stage_conversion", **YEAR)[0]["entered"] == 4
    assert rows(admin, "stage_conversion", **YEAR)[0]["entered"] == 4
    assert rows(rep, "stage_conversion", **YEAR)[0]["entered"] == 3


@pytest.mark.parametrize(
    ("indicator", "query", "field"),
    [
        ("won_revenue", {"interval": "week"}, "interval"),
        ("won_revenue", {"group_by": "colour"}, "group_by"),
        ("won_revenue", {"currency": "XXY"}, "currency"),
        ("conversion_rate", {"group_by": "product"}, "group_by"),
        ("won_revenue", {"date_from": dt.date(2026, 2, 1), "date_to": dt.date(2026, 1, 1)}, "from"),
        ("won_revenue", {"date_from": dt.date(1, 1, 1)}, "from"),
    ],
)
def test_bad_queries_are_refused_naming_the_field(admin, indicator, query, field):
    with pytest.raises(ValidationError) as error:
        metric(admin, indicator, MetricQuery(**query))
    assert field in error.value.field_errors


def test_pipeline_by_product_is_line_based(make_deal, rep, admin, stages):
    from ruche.catalog.models import Product
    from ruche.pipelines.services import deal_line_add

    boxes = Product.objects.create(name="Boîtes", unit_price_minor=1000, currency="EUR")
    deal = make_deal(rep, "0", stage=stages[2], expected_close_date="2026-02-01")  # 40 %
    deal_line_add(
        actor=FACTORY_ACTOR, deal_id=deal.pk, data={"product_id": boxes.pk, "quantity": "3"}
    )
    deal_line_add(
        actor=FACTORY_ACTOR, deal_id=deal.pk, data={"name": "Conseil", "unit_price": "12.34"}
    )
    make_deal(rep, "100", stage=stages[0], expected_close_date="2026-02-01")  # no lines, 10 %
    grouped = {
        r["group"]: (r["deals"], r["value"], r["weighted_value"])
        for r in rows(admin, "pipeline", **YEAR, group_by="product")
    }
    # Boxes: 30.00 x 40 % = 12.00. No product: the free-text line 12.34 x 40 % = 4.936 and the
    # bare deal's 100.00 x 10 % = 10.00, summed before rounding: 14.936 -> 14.94.
    assert grouped == {
        boxes.pk: (1, Decimal("30.00"), Decimal("12.00")),
        None: (2, Decimal("112.34"), Decimal("14.94")),
    }
