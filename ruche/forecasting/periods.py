"""Periods: days, months, and fiscal quarters and years (Company.fiscal_year_start_month).

Every time is read in the company's time zone (settings.TIME_ZONE): a deal won at 23:30 UTC on
31 March is won on 1 April in Paris. In SQL a month is the integer `year * 12 + month - 1`; a
fiscal quarter is `(month_index - (start_month - 1)) / 3` and a fiscal year the same over 12, so
both databases bucket with plain integer arithmetic, and the bucket maps back to its first day
here.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Case, DateField, DateTimeField, F, IntegerField, Q, Value, When
from django.db.models.expressions import Expression, Func
from django.db.models.functions import ExtractMonth, ExtractYear, TruncDate, TruncWeek
from django.utils import timezone

from ruche.accounts.models import Company
from ruche.core.exceptions import ValidationError

INTERVALS = ("day", "month", "quarter", "year")
GOAL_INTERVALS = ("week", "month", "quarter", "year")
PERIOD_KINDS = ("month", "quarter", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


_company: ContextVar[Company | None] = ContextVar("ruche_forecasting_company", default=None)


def company() -> Company:
    """The company row, read once per `company_cached()` block (a page computing many
    indicators), else at each call."""
    return _company.get() or Company.current()


@contextmanager
def company_cached():
    token = _company.set(Company.current())
    try:
        yield
    finally:
        _company.reset(token)


def fiscal_start_month() -> int:
    return company().fiscal_year_start_month or 1


def local_tz():
    return timezone.get_default_timezone()


def validate_interval(value: str | None, *, field: str = "interval") -> str | None:
    if value is None or value in INTERVALS:
        return value
    raise ValidationError({field: f"One of {', '.join(INTERVALS)}, not {value!r}."})


def validate_period_kind(value: object, *, field: str = "period") -> str:
    if value in PERIOD_KINDS:
        return value
    raise ValidationError({field: f"One of {', '.join(PERIOD_KINDS)}, not {value!r}."})


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass(frozen=True)
class Period:
    kind: str  # day, month, quarter, year
    start: dt.date
    end: dt.date  # inclusive
    start_month: int = 1  # the fiscal year's first month

    @property
    def label(self) -> str:
        return period_label(self.kind, self.start, self.start_month)

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "label": self.label}


def period_of(kind: str, day: dt.date, start_month: int | None = None) -> Period:
    """The day, month, fiscal quarter or fiscal year containing `day`."""
    start_month = start_month or fiscal_start_month()
    if kind == "day":
        return Period("day", day, day, start_month)
    if kind == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return Period("week", monday, monday + dt.timedelta(days=6), start_month)
    size = MONTHS_IN[kind]
    offset = 0 if kind == "month" else start_month - 1
    bucket = (month_index(day) - offset) // size
    return bucket_period(kind, bucket, start_month)


def bucket_period(kind: str, bucket, start_month: int) -> Period:
    """The period a SQL bucket (a date for days, an integer otherwise) stands for."""
    if kind in ("day", "week"):
        return period_of(kind, bucket, start_month)
    size = MONTHS_IN[kind]
    offset = 0 if kind == "month" else start_month - 1
    index = bucket * size + offset
    start = dt.date(index // 12, index % 12 + 1, 1)
    return Period(kind, start, add_months(start, size) - dt.timedelta(days=1), start_month)


def period_label(kind: str, start: dt.date, start_month: int | None = None) -> str:
    """2026-03-14, 2026-03, FY2026-Q1, FY2026. A fiscal year is named after the calendar
    year it ends in (a year starting in April 2026 is FY2027), unless it starts in January."""
    if kind == "day":
        return start.isoformat()
    if kind == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    start_month = start_month or fiscal_start_month()
    year_start = period_of("year", start, start_month).start
    fiscal_year = year_start.year + (0 if start_month == 1 else 1)
    if kind == "year":
        return f"FY{fiscal_year}"
    quarter = (month_index(start) - month_index(year_start)) // 3 + 1
    return f"FY{fiscal_year}-Q{quarter}"


MIN_YEAR, MAX_YEAR = 1900, 2999


def check_day(day: dt.date | None, field: str) -> dt.date | None:
    """Days outside 1900-2999 are refused: no deal lives there, and edge years overflow."""
    if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationError({field: f"A day between {MIN_YEAR} and {MAX_YEAR} is expected."})
    return day


def validate_period_start(kind: str, start: dt.date, *, field: str = "period_start") -> Period:
    """A quota or forecast period is named by its first day, which must begin the period."""
    check_day(start, field)
    period = period_of(validate_period_kind(kind), start)
    if period.start != start:
        raise ValidationError(
            {field: f"A {kind} starts on {period.start.isoformat()}, not {start.isoformat()}."}
        )
    return period


# Native SQLite date functions -------------------------------------------------------------------
#
# Django computes time-zone-aware extracts and truncations on SQLite by calling a Python
# function per row (django_datetime_extract, ...): over a year of deals that is most of a
# dashboard's time. SQLite's own date functions give the same days with the 'localtime'
# modifier, which converts with the C library's zone: Django sets it to TIME_ZONE
# (os.environ["TZ"] and time.tzset()) at start-up and when a test overrides TIME_ZONE. SQLite
# converts with the real rules only between 1970 and 2037 (outside, it borrows those of a
# similar year, so the DST of e.g. 1965 or 2051 may differ): there the Python function stays.
# PostgreSQL and the other databases keep Django's SQL.

NATIVE_LOCALTIME_FROM, NATIVE_LOCALTIME_BEFORE = "1970-01-02", "2038-01-01"  # stored in UTC


def _sqlite_localtime_is(tzname: str | None, connection) -> bool:
    """Whether SQLite's 'localtime' modifier converts stored datetimes to `tzname`."""
    return (
        settings.USE_TZ
        and hasattr(time, "tzset")
        and connection.timezone_name == "UTC"
        and tzname is not None
        and os.environ.get("TZ") == tzname
    )


class NativeOnSQLite:
    """A Django extract or truncation computed by SQLite's own date functions. In `native`,
    "{}" stands for the value (and 'localtime' for a date-time); '%' is doubled, as in any
    SQL sent with parameters."""

    native: str

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.lhs)
        if not isinstance(self.lhs.output_field, DateTimeField):
            return self.native.format(sql), params  # a date: no time zone
        if not _sqlite_localtime_is(self.get_tzname(), connection):
            return self.as_sql(compiler, connection)
        fallback, fallback_params = self.as_sql(compiler, connection)
        # SQLite rounds times to the millisecond (23:59:59.9999 would be the next day):
        # the seconds are enough.
        native = self.native.format(f"substr({sql}, 1, 19), 'localtime'")
        return (
            f"CASE WHEN {sql} < '{NATIVE_LOCALTIME_FROM}' OR {sql} >= '{NATIVE_LOCALTIME_BEFORE}'"
            f" THEN {fallback} ELSE {native} END",
            (*params, *params, *fallback_params, *params),
        )


class LocalYear(NativeOnSQLite, ExtractYear):
    native = "CAST(strftime('%%Y', {}) AS INTEGER)"


class LocalMonth(NativeOnSQLite, ExtractMonth):
    native = "CAST(strftime('%%m', {}) AS INTEGER)"


class LocalDate(NativeOnSQLite, TruncDate):
    native = "date({})"


class LocalWeek(NativeOnSQLite, TruncWeek):
    native = "date({}, '-6 days', 'weekday 1')"  # the Monday on or before


def bucket_expression(
    field: str,
    kind: str,
    *,
    is_datetime: bool,
    start_month: int | None = None,
    within: tuple[dt.date | None, dt.date | None] = (None, None),
) -> Expression:
    """The SQL bucket of `field` for an interval, in the company's time zone. `within`: the
    (first, last) days the rows are known to fall in, when the caller filters on them."""
    if kind in ("quarter", "year"):
        start_month = start_month or fiscal_start_month()
    first, last = within
    if _few_periods(kind, first, last) and (is_datetime or kind != "day"):
        periods = periods_between(kind, first, last, start_month or 1)
        return _range_bucket(field, kind, periods, is_datetime=is_datetime)
    tz = local_tz() if is_datetime else None
    if kind == "day":
        return LocalDate(field, tzinfo=tz) if is_datetime else F(field)
    if kind == "week":  # ISO weeks, from Monday
        return LocalWeek(field, tzinfo=tz, output_field=DateField())
    extra = {"tzinfo": tz} if is_datetime else {}
    if connection.vendor == "postgresql":
        index = PostgresMonthIndex(field, is_datetime=is_datetime)
    else:
        index = LocalYear(field, **extra) * Value(12) + LocalMonth(field, **extra) - Value(1)
    if kind == "month":
        return index
    offset = start_month - 1
    return (index - Value(offset)) / Value(MONTHS_IN[kind])


# Buckets of a bounded range ------------------------------------------------------------------
#
# Over a known range of days, the bucket of a date-time is found by comparing it with the
# instants the periods begin at (local midnights, as the range filters of day_bounds): a
# binary search written as nested CASEs, a few comparisons of the stored value per row. The
# time zone conversion of every row (SQLite: a C library call; PostgreSQL: AT TIME ZONE and
# numeric EXTRACTs) was most of a bucketed indicator's time.

MAX_RANGE_BUCKETS = 400  # a bit over a year of days; longer ranges convert every row
SHORTEST_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365}


def _few_periods(kind: str, first: dt.date | None, last: dt.date | None) -> bool:
    if first is None or last is None:
        return False
    return (last - first).days // SHORTEST_DAYS[kind] + 2 <= MAX_RANGE_BUCKETS


def _period_bucket(period: Period):
    """The SQL value bucket_expression gives the rows of `period`."""
    if period.kind in ("day", "week"):
        return period.start
    offset = 0 if period.kind == "month" else period.start_month - 1
    return (month_index(period.start) - offset) // MONTHS_IN[period.kind]


def _range_bucket(field: str, kind: str, periods: list[Period], *, is_datetime: bool):
    output = DateField() if kind in ("day", "week") else IntegerField()

    def begins(period: Period):
        return day_bounds(period.start, None)[0] if is_datetime else period.start

    def search(low: int, high: int) -> Expression:
        if low == high:
            return Value(_period_bucket(periods[low]), output_field=output)
        middle = (low + high + 1) // 2
        return Case(
            When(Q(**{f"{field}__lt": begins(periods[middle])}), then=search(low, middle - 1)),
            default=search(middle, high),
            output_field=output,
        )

    return Case(
        When(Q(**{f"{field}__isnull": True}), then=Value(None, output_field=output)),
        default=search(0, len(periods) - 1),
        output_field=output,
    )


def periods_between(kind: str, first: dt.date, last: dt.date, start_month: int) -> list[Period]:
    """Every period of `kind` that overlaps [first, last], in order."""
    periods = []
    day = first
    while day <= last:
        period = period_of(kind, day, start_month)
        periods.append(period)
        day = period.end + dt.timedelta(days=1)
    return periods


class PostgresMonthIndex(Func):
    """year x 12 + month - 1 of a date, or of a date-time in the company's time zone, as an
    integer from date_part (a float): EXTRACT's numerics are several times slower over the
    hundreds of thousands of rows an open range (MRR, for one) buckets."""

    output_field = IntegerField()

    def __init__(self, field: str, *, is_datetime: bool):
        super().__init__(F(field))
        self.is_datetime = is_datetime

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if self.is_datetime:
            sql, params = (
                f"({sql} AT TIME ZONE %s)",
                (*params, timezone.get_default_timezone_name()),
            )
        parts = f"date_part('year', {sql})::integer * 12 + date_part('month', {sql})::integer"
        return f"({parts} - 1)", (*params, *params)


def raw_day(value) -> dt.date:
    """A day read by a raw SQL query: SQLite returns text, PostgreSQL a date."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def local_day_expression(field: str) -> Expression:
    return LocalDate(field, tzinfo=local_tz(), output_field=DateField())


def day_bounds(date_from: dt.date | None, date_to: dt.date | None):
    """Aware datetimes [from 00:00, the day after `to` 00:00) in the company's time zone."""
    tz = local_tz()
    start = None if date_from is None else dt.datetime.combine(date_from, dt.time(), tz)
    end = (
        None
        if date_to is None
        else dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
    )
    return start, end
