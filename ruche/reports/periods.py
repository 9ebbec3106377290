"""A report's period (relative to the day it is read, so a scheduled "this month" report moves
with time) and the keys of delivery periods (one email per day, ISO week or month)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Min
from django.utils import timezone

from ruche.forecasting.periods import add_months, period_of
from ruche.pipelines.selectors import deal_list
from ruche.reports.models import Frequency, Report

Period = Report.Period


def _previous(kind: str, today: dt.date) -> tuple[dt.date, dt.date]:
    current = period_of(kind, today)
    previous = period_of(kind, current.start - dt.timedelta(days=1))
    return previous.start, previous.end


def _months_back(today: dt.date, months: int) -> tuple[dt.date, dt.date]:
    this_month = period_of("month", today)
    return add_months(this_month.start, -(months - 1)), this_month.end


def first_deal_day(user) -> dt.date | None:
    """The creation day of the first deal the user may see: where "all time" starts."""
    first = deal_list(user, filters={}).select_related(None).prefetch_related(None)
    first = first.order_by().aggregate(first=Min("add_time"))["first"]
    return None if first is None else timezone.localdate(first)


def report_span(report: Report, user, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The inclusive days the report covers when `user` reads it on `today`. "All time" runs
    from the first deal to today; a forecast over all time is open-ended (every open deal)."""
    period = report.period
    if period == Period.CUSTOM:
        return report.date_from, report.date_to
    if period == Period.ALL_TIME:
        if report.kind == Report.Kind.FORECAST:
            return None, None
        return first_deal_day(user) or today, today
    if period in (Period.THIS_MONTH, Period.THIS_QUARTER, Period.THIS_YEAR):
        current = period_of(period.removeprefix("this_"), today)
        return current.start, current.end
    if period in (Period.LAST_MONTH, Period.LAST_QUARTER, Period.LAST_YEAR):
        return _previous(period.removeprefix("last_"), today)
    return _months_back(today, 12 if period == Period.LAST_12_MONTHS else 24)


def delivery_period(frequency: str, today: dt.date) -> str:
    """ "2026-11-25", "2026-W48" (ISO week) or "2026-11": one delivery per key."""
    if frequency == Frequency.DAILY:
        return today.isoformat()
    if frequency == Frequency.WEEKLY:
        year, week, _ = today.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{today.year:04d}-{today.month:02d}"
