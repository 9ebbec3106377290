"""The SQL period buckets (ruche.forecasting.periods) equal the local-time buckets computed in
Python, around midnight and the DST changes, on whichever database runs; and the rate
lookups of the money indicators (metrics._money_groups, metrics.converted_totals)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import override_settings

from ruche.core.exceptions import ValidationError
from ruche.forecasting.metrics import MetricQuery, pipeline_totals
from ruche.forecasting.periods import (
    bucket_expression,
    company_cached,
    local_day_expression,
    local_tz,
    month_index,
    period_of,
)
from ruche.pipelines.models import Deal
from tests.forecasting.conftest import set_times

UTC = dt.UTC
# Instants in UTC around Paris midnights and DST changes (2026-03-29 02:00 -> 03:00 and
# 2026-10-25 03:00 -> 02:00), a new year and a month end, a Monday (ISO weeks), and days
# before 1970 and after 2037, where SQLite's own time zone conversion is not trusted.
INSTANTS = [
    dt.datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC),  # 23:59:59 on the 28th, UTC+1
    dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # midnight on the 29th
    dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # 01:59:59, just before the change
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 03:00, UTC+2
    dt.datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC),  # 23:59:59 on the 29th, UTC+2
    dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # midnight on Monday the 30th
    dt.datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC),  # 23:59:59 on 31 March
    dt.datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # midnight on 1 April
    dt.datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC),  # 23:59:59 on the 24th, UTC+2
    dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # midnight on the 25th
    dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30
    dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # the second 02:30, UTC+1
    dt.datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC),  # 23:59:59 on Sunday the 25th
    dt.datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # midnight on Monday the 26th
    dt.datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC),  # 23:59:59 on 31 October
    dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC),  # midnight on 1 November
    dt.datetime(2025, 12, 31, 22, 59, 59, 999999, tzinfo=UTC),  # the last instant of 2025
    dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC),  # 2026 begins
    dt.datetime(1965, 7, 1, 22, 30, tzinfo=UTC),  # no summer time in 1965: 23:30 on 1 July
    dt.datetime(1970, 1, 1, 23, 30, tzinfo=UTC),  # 00:30 on 2 January 1970
    dt.datetime(2051, 3, 25, 23, 30, tzinfo=UTC),  # 2051: summer time from the 26th only
    dt.datetime(2051, 3, 26, 22, 30, tzinfo=UTC),  # 00:30 on the 27th, UTC+2
]
DAYS = [dt.date(2026, 3, 29), dt.date(2026, 3, 30), dt.date(2026, 12, 31), dt.date(1965, 2, 28)]
KINDS = ("day", "week", "month", "quarter", "year")
START_MONTH = 4  # a fiscal year from April: quarters and years are not calendar ones


def python_bucket(kind: str, day: dt.date):
    """The bucket Python gives a local day: the day or the Monday, else the period's index."""
    period = period_of(kind, day, START_MONTH)
    if kind in ("day", "week"):
        return period.start
    offset = 0 if kind == "month" else START_MONTH - 1
    return (month_index(period.start) - offset) // {"month": 1, "quarter": 3, "year": 12}[kind]


def sql_buckets(field: str, *, is_datetime: bool) -> dict:
    """The buckets of every interval kind of the one deal's `field`, read in SQL."""
    expressions = {
        kind: bucket_expression(field, kind, is_datetime=is_datetime, start_month=START_MONTH)
        for kind in KINDS
    }
    if is_datetime:
        expressions["local_day"] = local_day_expression(field)
    return Deal.objects.annotate(**expressions).values(*expressions).get()


@pytest.fixture
def deal(make_deal, rep):
    return make_deal(rep, "10", status="won", won="2026-03-01")


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_datetime_buckets_are_the_local_time_ones(deal, zone):
    with override_settings(TIME_ZONE=zone):
        assert local_tz() == ZoneInfo(zone)
        for instant in INSTANTS:
            set_times(deal, won_time=instant)
            local_day = instant.astimezone(ZoneInfo(zone)).date()
            expected = {kind: python_bucket(kind, local_day) for kind in KINDS}
            assert sql_buckets("won_time", is_datetime=True) == expected | {
                "local_day": local_day
            }, instant


def test_date_buckets_are_the_days_ones(deal):
    for day in DAYS:
        Deal.objects.filter(pk=deal.pk).update(expected_close_date=day)
        expected = {kind: python_bucket(kind, day) for kind in KINDS}
        assert sql_buckets("expected_close_date", is_datetime=False) == expected, day


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own date functions")
def test_sqlite_uses_its_own_date_functions_when_its_zone_is_the_company_one(deal, monkeypatch):
    def sql():
        query = Deal.objects.annotate(
            bucket=bucket_expression("won_time", "month", is_datetime=True),
            day=local_day_expression("won_time"),
            close=bucket_expression("expected_close_date", "month", is_datetime=False),
        )
        return str(query.query)

    native = sql()
    won_time = 'substr("pipelines_deal"."won_time", 1, 19)'
    assert f"strftime('%Y', {won_time}, 'localtime')" in native
    assert f"date({won_time}, 'localtime')" in native
    assert 'strftime(\'%Y\', "pipelines_deal"."expected_close_date")' in native
    # Outside 1970-2037, and whenever the process zone is not the company's, Django's
    # per-row functions convert.
    assert "django_datetime_extract" in native
    monkeypatch.setenv("TZ", "UTC")
    converted = sql()
    assert "'localtime'" not in converted
    assert "django_datetime_cast_date" in converted
    set_times(deal, won_time=dt.datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    assert Deal.objects.annotate(day=local_day_expression("won_time")).values_list(
        "day", flat=True
    ).get() == dt.date(2026, 4, 1)


# The rate of one conversion day is looked up per currency, after grouping -------------------


def test_open_deals_are_converted_at_the_rate_in_force_on_the_day(
    make_deal, rep, admin, usd_rates, django_assert_num_queries
):
    make_deal(rep, "100", currency_code="USD", expected_close_date=dt.date(2026, 4, 10))
    make_deal(rep, "50", currency_code="USD", expected_close_date=dt.date(2026, 5, 10))
    make_deal(rep, "7.25", expected_close_date=dt.date(2026, 4, 20))
    query = MetricQuery(interval="month").validated()
    with company_cached(), django_assert_num_queries(2):  # the group rows, their rates
        _, totals = pipeline_totals(admin, query, on=dt.date(2026, 2, 15))
    # 0.9 from 1 January: 100 USD = 90 EUR.
    assert {key: value["value"] for key, value in totals.items()} == {
        (month_index(dt.date(2026, 4, 1)), None): 9000 + 725,
        (month_index(dt.date(2026, 5, 1)), None): 4500,
    }
    _, later = pipeline_totals(admin, query, on=dt.date(2026, 3, 1))  # 0.8 from 1 March
    assert sum(value["value"] for value in later.values()) == 8000 + 725 + 4000


def test_an_open_deal_without_a_rate_is_reported_not_guessed(make_deal, rep, admin, usd_rates):
    make_deal(rep, "100", currency_code="USD", expected_close_date=dt.date(2026, 4, 10))
    query = MetricQuery().validated()
    with pytest.raises(ValidationError) as error:
        pipeline_totals(admin, query, on=dt.date(2025, 12, 31))  # before the first USD rate
    assert error.value.field_errors == {
        "currency": "No exchange rate USD→EUR on or before 2025-12-31."
    }
    make_deal(rep, "1", currency_code="GBP", expected_close_date=dt.date(2026, 4, 10))
    with pytest.raises(ValidationError, match="GBP→EUR on or before 2026-06-01"):
        pipeline_totals(admin, query, on=dt.date(2026, 6, 1))
