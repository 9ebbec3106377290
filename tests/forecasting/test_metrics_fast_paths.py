"""The shapes that keep the indicators fast give the same figures: buckets of a bounded range
found by comparing instants (periods.bucket_expression `within`), conversion rates found per
(currency, day) after grouping (metrics._money_groups), MRR from the window's changes and the
MRR before it, and the sales cycle's median from counts per number of days."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Case
from django.test import override_settings

from ruche.core import currency
from ruche.core.exceptions import ValidationError
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.periods import LocalDate, bucket_expression, company_cached, local_tz
from ruche.pipelines.models import Deal
from tests.forecasting.conftest import set_times
from tests.forecasting.test_mrr import D, _table, contract, contracts  # noqa: F401
from tests.forecasting.test_periods_sql import INSTANTS, KINDS, START_MONTH, python_bucket

pytestmark = pytest.mark.django_db

Q1 = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 3, 31)}


# Buckets of a bounded range -------------------------------------------------------------------

FIRST, LAST = dt.date(2025, 12, 1), dt.date(2026, 11, 30)  # the instants of 2025-2026 within


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_range_buckets_are_the_local_time_ones(make_deal, rep, zone):
    deal = make_deal(rep, "10", status="won", won="2026-03-01")
    with override_settings(TIME_ZONE=zone):
        assert local_tz() == ZoneInfo(zone)
        expressions = {
            kind: bucket_expression(
                "won_time", kind, is_datetime=True, start_month=START_MONTH, within=(FIRST, LAST)
            )
            for kind in KINDS
        }
        sql = str(Deal.objects.annotate(**expressions).query)
        assert "localtime" not in sql and "AT TIME ZONE" not in sql  # no conversion per row
        for instant in INSTANTS:
            local_day = instant.astimezone(ZoneInfo(zone)).date()
            if not FIRST <= local_day <= LAST:
                continue
            set_times(deal, won_time=instant)
            found = Deal.objects.annotate(**expressions).values(*expressions).get()
            assert found == {kind: python_bucket(kind, local_day) for kind in KINDS}, instant


def test_range_buckets_of_dates_and_of_nothing(make_deal, rep):
    deal = make_deal(rep, "10", expected_close_date=dt.date(2026, 3, 29))
    month = bucket_expression(
        "expected_close_date", "month", is_datetime=False, within=(FIRST, LAST)
    )
    assert Deal.objects.annotate(bucket=month).values_list("bucket", flat=True).get() == (
        2026 * 12 + 2
    )
    set_times(deal, expected_close_date=None)
    assert Deal.objects.annotate(bucket=month).values_list("bucket", flat=True).get() is None


def test_long_ranges_convert_every_row():
    six_years = (dt.date(2020, 1, 1), dt.date(2026, 1, 1))
    assert isinstance(
        bucket_expression("won_time", "day", is_datetime=True, within=six_years), LocalDate
    )
    assert isinstance(
        bucket_expression("won_time", "month", is_datetime=True, within=six_years), Case
    )


# Conversion at each day's rate, several currencies --------------------------------------------


@pytest.fixture
def rates(admin_actor, usd_rates):
    """USD 0.9 from 1 January, 0.8 from 1 March; GBP 1.15 from 1 January, 1.2 from 15
    February; JPY (no minor unit) 0.0061 from 1 January."""
    for code, day, rate in (
        ("GBP", "2026-01-01", "1.15"),
        ("GBP", "2026-02-15", "1.2"),
        ("JPY", "2026-01-01", "0.0061"),
    ):
        currency.exchange_rate_set(actor=admin_actor, currency=code, valid_from=day, rate=rate)


@pytest.fixture
def won_abroad(make_deal, rep, rates):
    make_deal(rep, "100", status="won", won="2026-01-15")
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-01-10")
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-02-20")
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-03-05")
    make_deal(rep, "10.01", currency_code="GBP", status="won", won="2026-02-14")
    make_deal(rep, "10.01", currency_code="GBP", status="won", won="2026-02-15")
    make_deal(rep, "1000", currency_code="JPY", status="won", won="2026-01-20")


def test_each_currency_and_rate_period_is_converted_and_rounded_once(won_abroad, admin):
    # The two USD deals of January and February share the 0.9 rate: 10 cents x 0.9 = 9,
    # not 4.5 + 4.5 rounded each to 5. March: 5 x 0.8 = 4. GBP: 1001 x 1.15 = 1151.15 and
    # 1001 x 1.2 = 1201.2. JPY: 1000 yen x 0.0061 = 6.10 EUR.
    query = MetricQuery(**Q1).validated()
    with company_cached():
        result = metric(admin, "won_revenue", query)
    assert result.rows[0]["amount"] == Decimal("129.75")  # 10000 + 9 + 4 + 1151 + 1201 + 610
    assert result.rows[0]["deals"] == 7


def test_by_month_each_month_groups_its_own_rows(won_abroad, admin):
    rows = metric(admin, "won_revenue", MetricQuery(**Q1, interval="month")).rows
    assert {row["period_label"]: row["amount"] for row in rows} == {
        "2026-01": Decimal("106.15"),  # 10000 + 5 (4.5 rounded up) + 610
        "2026-02": Decimal("23.57"),  # 5 + 1151 + 1201
        "2026-03": Decimal("0.04"),
    }


def test_the_rates_of_every_currency_and_day_are_read_in_one_query(
    won_abroad, admin, django_assert_num_queries
):
    query = MetricQuery(**Q1, group_by="owner").validated()
    with company_cached(), django_assert_num_queries(2):  # the group rows, then the rates
        rows = metric(admin, "won_revenue", query).rows
    assert [row["amount"] for row in rows] == [Decimal("129.75")]


def test_a_missing_rate_names_the_earliest_day_that_needed_it(
    make_deal, rep, admin, admin_actor, rates
):
    make_deal(rep, "1", currency_code="CHF", status="won", won="2026-02-03")
    make_deal(rep, "1", currency_code="CHF", status="won", won="2026-01-07")
    with pytest.raises(ValidationError) as error:
        metric(admin, "won_revenue", MetricQuery(**Q1))
    assert error.value.field_errors == {
        "currency": "No exchange rate CHF→EUR on or before 2026-01-07."
    }
    currency.exchange_rate_set(
        actor=admin_actor, currency="CHF", valid_from="2026-02-01", rate="1.05"
    )
    with pytest.raises(ValidationError, match="CHF→EUR on or before 2026-01-07"):
        metric(admin, "won_revenue", MetricQuery(**Q1))
    february = MetricQuery(date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 3, 31))
    assert metric(admin, "won_revenue", february).rows[0]["amount"] == Decimal("1.05")


# MRR over a window: the contracts running before it are its opening MRR -----------------------


@pytest.mark.usefixtures("contracts")
def test_mrr_of_a_later_window_starts_from_the_contracts_running_before_it(admin):
    spring = metric(admin, "mrr", MetricQuery(**Q1 | {"date_to": dt.date(2026, 4, 30)})).rows
    march = MetricQuery(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 4, 30))
    assert _table(metric(admin, "mrr", march).rows) == {
        label: row for label, row in _table(spring).items() if label in ("2026-03", "2026-04")
    }
    april = MetricQuery(
        date_from=dt.date(2026, 4, 1), date_to=dt.date(2026, 6, 30), interval="quarter"
    )
    assert _table(metric(admin, "mrr", april).rows) == {
        "FY2026-Q2": tuple(map(D, (480, 5760, 0, 50, 0, 250, -200)))
    }


@pytest.mark.usefixtures("contracts")
def test_mrr_long_after_the_contracts_began(admin):
    # January 2027: X 150 + Q 250 + Z 100 USD at 0.8; in February Z's 12 months are over.
    winter = MetricQuery(date_from=dt.date(2027, 1, 1), date_to=dt.date(2027, 2, 28))
    assert _table(metric(admin, "mrr", winter).rows) == {
        "2027-01": tuple(map(D, (480, 5760, 0, 0, 0, 0, 0))),
        "2027-02": tuple(map(D, (400, 4800, 0, 0, 0, 80, -80))),
    }


# The sales cycle's median -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cycles", "median"),
    [
        ([10], "10.0"),
        ([3, 10, 10, 40], "10.0"),
        ([3, 4, 10, 40], "7.0"),
        ([1, 2, 2, 2, 9], "2.0"),
        ([5, 6], "5.5"),
    ],
)
def test_sales_cycle_median_from_counts_per_day(make_deal, rep, admin, cycles, median):
    for days in cycles:
        created = dt.date(2026, 6, 1) - dt.timedelta(days=days)
        make_deal(rep, "1", status="won", won="2026-06-01", created=created.isoformat())
    rows = metric(admin, "sales_cycle", MetricQuery(**Q1 | {"date_to": dt.date(2026, 6, 30)}))
    assert [(row["deals"], row["median_days"]) for row in rows.rows] == [
        (len(cycles), Decimal(median))
    ]
