"""The indicators of docs/metrics.md, each computed in the database.

Every indicator starts from the deals the user may see (`ruche.pipelines.selectors.deal_list`,
the one visibility rule), narrows them with the filters, and runs one GROUP BY per indicator:
the period bucket (ruche.forecasting.periods), the group (owner, team, ...) and, for amounts,
the currency and the exchange-rate period. Only those group rows come back to Python, where
each is converted to the reporting currency once (ruche.core.currency) and the rows of one
(period, group) are added up. No loop ever runs over deals.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ruche.core.currency import MissingRate, rate_on
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.expressions import DaysBetween, microseconds_between
from ruche.core.models import ExchangeRate
from ruche.core.money import minor_exponent, round_half_up, to_major, validate_currency
from ruche.core.permissions import visibility_q
from ruche.core.selectors import filter_common
from ruche.forecasting import mrr_tallies
from ruche.forecasting.models import NO_EARLIER_ENTRY, StageEntryTally, StageStayTally
from ruche.forecasting.periods import (
    MONTHS_IN,
    bucket_expression,
    bucket_period,
    check_day,
    company,
    day_bounds,
    fiscal_start_month,
    local_day_expression,
    month_index,
    raw_day,
    validate_interval,
)
from ruche.forecasting.stage_tallies import (
    CLOSED_IN,
    FURTHEST_SQL,
    MOVED_OUT,
    REACHED_SQL,
    WON_HERE,
)
from ruche.pipelines.models import Deal, DealLine, Stage, StageEntry
from ruche.pipelines.selectors import deal_list

Status = Deal.Status

# group_by name -> the deal field it groups on.
GROUPS = {
    "owner": "owner_id",
    "team": "owner__team_id",
    "pipeline": "pipeline_id",
    "stage": "stage_id",
    "source": "source_id",
    "industry": "org__industry",
    "revenue_type": "revenue_type",
    "forecast_category": "forecast_category_id",
    "product": None,  # line-based: won_revenue, average_deal_value, pipeline, expected_revenue
}
LINE_BASED = {"won_revenue", "deals_won", "pipeline", "expected_revenue"}
MICROSECONDS_PER_DAY = Decimal(86_400_000_000)


@dataclass(frozen=True)
class MetricQuery:
    """The filters, interval and grouping every indicator accepts. Dates are inclusive days
    in the company's time zone; None leaves that side open."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    interval: str | None = None
    group_by: str | None = None
    pipeline_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    stage_id: int | None = None
    currency: str | None = None  # only deals in this currency, reported in it unconverted
    fiscal_start: int | None = None  # read from the company once, by validated()

    def validated(self) -> MetricQuery:
        validate_interval(self.interval)
        check_day(self.date_from, "from")
        check_day(self.date_to, "to")
        if self.group_by is not None and self.group_by not in GROUPS:
            raise ValidationError(
                {"group_by": f"One of {', '.join(GROUPS)}, not {self.group_by!r}."}
            )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationError({"from": "`from` is after `to`."})
        currency = None if self.currency is None else validate_currency(self.currency)
        return replace(self, currency=currency, fiscal_start=fiscal_start_month())


@dataclass
class MetricResult:
    indicator: str
    currency: str | None
    rows: list[dict] = field(default_factory=list)


# The deals -----------------------------------------------------------------------------------


def metric_deals(user, query: MetricQuery, *, history: bool = False) -> QuerySet[Deal]:
    """The deals an indicator reads: visible to `user` (deal_list), not deleted, filtered.
    History-based indicators filter pipeline and stage on the stage entries instead."""
    filters = {"owner_id": query.owner_id}
    if not history:
        filters |= {"pipeline_id": query.pipeline_id, "stage_id": query.stage_id}
    deals = deal_list(user, filters=filters).select_related(None).prefetch_related(None)
    if query.team_id is not None:
        deals = deals.filter(owner__team_id=query.team_id)
    if query.currency is not None:
        deals = deals.filter(currency=query.currency)
    return deals


def _in_range(field_name: str, query: MetricQuery, *, is_datetime: bool) -> Q:
    if is_datetime:
        start, end = day_bounds(query.date_from, query.date_to)
        lookups = {"gte": start, "lt": end}
    else:
        lookups = {"gte": query.date_from, "lte": query.date_to}
    return Q(**{f"{field_name}__{op}": v for op, v in lookups.items() if v is not None})


def _keys(query: MetricQuery, date_field: str, *, is_datetime: bool, prefix: str = "") -> dict:
    """The GROUP BY expressions: the period bucket and the group, as present."""
    keys = {}
    if query.interval:
        keys["bucket"] = bucket_expression(
            date_field,
            query.interval,
            is_datetime=is_datetime,
            start_month=query.fiscal_start,
            within=(query.date_from, query.date_to),  # the rows' range filter (_in_range)
        )
    if query.group_by:
        keys["grp"] = F(f"{prefix}{GROUPS[query.group_by]}")
    return keys


def _row_head(query: MetricQuery, key: tuple) -> dict:
    bucket, group = key
    if query.interval and bucket is None:
        start = end = label = None  # no date to bucket by (an open deal without a close date)
    elif query.interval:
        period = bucket_period(query.interval, bucket, query.fiscal_start or fiscal_start_month())
        start, end, label = period.start, period.end, period.label
    else:
        start, end, label = query.date_from, query.date_to, None
    head = {"period_start": start, "period_end": end, "period_label": label}
    if query.group_by:
        head["group_by"] = query.group_by
        head["group"] = group
    return head


def _sort_key(key: tuple):
    bucket, group = key
    return (bucket is not None, bucket or 0, group is not None, str(group or ""))


def _key_of(row: dict) -> tuple:
    """(bucket, group); with a second grouping ("grp2"), the group is the pair."""
    if "grp2" in row:
        return (row.get("bucket"), (row.get("grp"), row["grp2"]))
    return (row.get("bucket"), row.get("grp"))


# Money: sums per currency and rate period, converted once per group row ------------------------


def _rate_from(prefix: str, day, quote_currency: str | None = None) -> Subquery:
    """The first day of the exchange rate in force on `day` for the deal's currency, in the
    company currency (read here unless given)."""
    return Subquery(
        ExchangeRate.objects.filter(
            currency=OuterRef(f"{prefix}currency"),
            quote_currency=quote_currency or company().currency,
            valid_from__lte=OuterRef(day) if isinstance(day, str) else day,
        )
        .order_by("-valid_from")
        .values("valid_from")[:1]
    )


class Converter:
    """Converts grouped sums to the reporting currency: each (currency, rate period) group is
    multiplied by its rate and rounded half up once. A missing rate raises MissingRate naming
    the currency and the earliest day that needed it."""

    def __init__(self, report_currency: str | None):
        self.company_currency = company().currency
        self.quote = report_currency or self.company_currency
        self._rates: dict = {}

    def rate_periods(self, days: dict[str, set[dt.date]]) -> dict[tuple, dt.date | None]:
        """{(currency, day): first day of the rate in force that day, None without one}, for
        the days of each currency, from one query over the rates between them."""
        if not days:
            return {}
        condition = Q()
        for code, code_days in days.items():
            first, last = min(code_days), max(code_days)
            in_force_first = ExchangeRate.objects.filter(
                currency=code, quote_currency=self.quote, valid_from__lte=first
            ).order_by("-valid_from")
            condition |= Q(
                currency=code,
                valid_from__gte=Coalesce(Subquery(in_force_first.values("valid_from")[:1]), first),
                valid_from__lte=last,
            )
        starts: dict[str, list[dt.date]] = defaultdict(list)
        found = ExchangeRate.objects.filter(condition, quote_currency=self.quote)
        for code, valid_from, rate in found.order_by("valid_from").values_list(
            "currency", "valid_from", "rate"
        ):
            starts[code].append(valid_from)
            self._rates[(code, valid_from)] = Decimal(rate)
        periods = {}
        for code, code_days in days.items():
            for day in code_days:
                index = bisect_right(starts[code], day)
                periods[(code, day)] = starts[code][index - 1] if index else None
        return periods

    def minor(self, amount: int, currency: str, rate_from, first_day, divisor: int = 1) -> int:
        """`amount` / `divisor` minor units of `currency` in the reporting currency, rounded
        half up once: the arithmetic of ruche.core.currency.convert."""
        if currency == self.quote:
            return round_half_up(Decimal(amount) / divisor)
        if rate_from is None:
            raise MissingRate(currency, self.quote, first_day)
        key = (currency, rate_from)
        if key not in self._rates:
            self._rates[key] = rate_on(currency, rate_from, self.quote)
        scale = Decimal(10) ** (minor_exponent(self.quote) - minor_exponent(currency))
        return round_half_up(Decimal(amount) * self._rates[key] * scale / divisor)

    def major(self, amount_minor: int) -> Decimal:
        return to_major(amount_minor, self.quote)


def _money_groups(
    queryset: QuerySet,
    *,
    keys: dict,
    prefix: str,
    rate_day,
    sums: dict,
    counts: dict,
    converter: Converter,
) -> list[dict]:
    """The sums and counts per (period, group, currency, rate period). `rate_day` names the
    annotation holding each row's conversion day, or is that day itself.

    SQL groups by (period, group, currency) and, for the amounts to convert (a currency other
    than the reporting one), by their conversion day too; each (currency, day) gets its rate
    period here, from one query over the rates, and the day rows of one rate period are
    added up: the same groups as a GROUP BY on the rate period, without looking the rate up
    for every deal."""
    day_rows = _day_rows(queryset, keys, prefix, rate_day, sums | counts, converter.quote)
    return _by_rate_period(day_rows, [*keys, "cur"], [*sums, *counts], converter)


def _day_rows(
    queryset: QuerySet, keys: dict, prefix: str, rate_day, aggregates: dict, quote: str
) -> list[dict]:
    """The aggregates per (keys, currency, conversion day): the day is None for the amounts in
    the reporting currency `quote`, which are not converted."""
    grouped = queryset.annotate(**keys, cur=F(f"{prefix}currency"))
    if isinstance(rate_day, str):
        grouped = grouped.annotate(day=_conversion_day(prefix, rate_day, quote))
        return list(grouped.values(*keys, "cur", "day").annotate(**aggregates).order_by())
    day_rows = list(grouped.values(*keys, "cur").annotate(**aggregates).order_by())
    for row in day_rows:
        row["day"] = None if row["cur"] == quote else rate_day
    return day_rows


def _conversion_day(prefix: str, rate_day: str, quote: str) -> Case:
    return Case(
        When(**{f"{prefix}currency": quote}, then=Value(None)),
        default=F(rate_day),
        output_field=DateField(),
    )


def _by_rate_period(day_rows: list[dict], keys: list, columns: list, converter: Converter):
    """The day rows added up per (keys, rate period), each with the earliest of its days
    (`first_day`, which a missing rate is reported with)."""
    days: dict[str, set[dt.date]] = defaultdict(set)
    for row in day_rows:
        if row["day"] is not None:
            days[row["cur"]].add(row["day"])
    periods = converter.rate_periods(days)
    merged: dict[tuple, dict] = {}
    for row in day_rows:
        day = row.pop("day")
        row["rate_from"], row["first_day"] = periods.get((row["cur"], day)), day
        target = merged.setdefault((*(row[k] for k in keys), row["rate_from"]), row)
        if target is row:
            continue
        for column in columns:
            target[column] = (target[column] or 0) + (row[column] or 0)
        if day is not None and (target["first_day"] is None or day < target["first_day"]):
            target["first_day"] = day
    return list(merged.values())


def _convert_groups(
    rows: list[dict], converter: Converter, *, money: dict[str, int], counts: tuple
) -> dict[tuple, dict]:
    """Add up the converted group rows per (period, group). `money` maps each summed column
    to its divisor (100 for amounts weighted by a percentage)."""
    merged: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys([*money, *counts], 0))
    for row in rows:
        target = merged[_key_of(row)]
        for column, divisor in money.items():
            amount = row[column] or 0
            if amount:
                target[column] += converter.minor(
                    amount, row["cur"], row["rate_from"], row["first_day"], divisor
                )
        for column in counts:
            target[column] += row[column] or 0
    return merged


def converted_totals(
    deals: QuerySet, *, keys: dict, day_field: str, converter: Converter
) -> dict[tuple, dict]:
    """{(bucket, group): {"amount", "deals"}}: the deals' values and counts grouped by `keys`,
    each value converted at the rate of the local day of its `day_field`."""
    rows = _money_groups(
        deals.annotate(conversion_day=local_day_expression(day_field)),
        keys=keys,
        prefix="",
        rate_day="conversion_day",
        sums={"amount": Sum("value_minor")},
        counts={"deals": Count("pk")},
        converter=converter,
    )
    return _convert_groups(rows, converter, money={"amount": 1}, counts=("deals",))


# Won revenue ----------------------------------------------------------------------------------


def _won(user, query: MetricQuery) -> QuerySet[Deal]:
    return metric_deals(user, query).filter(
        _in_range("won_time", query, is_datetime=True), status=Status.WON
    )


def won_totals(user, query: MetricQuery) -> tuple[Converter, dict[tuple, dict]]:
    """{(bucket, group): {"deals": n, "amount": minor units}} of the deals won in the period,
    each converted at the rate of its won day."""
    converter = Converter(query.currency)
    won = _won(user, query)
    if query.group_by == "product":
        return converter, _won_by_product(won, query, converter)
    keys = _keys(query, "won_time", is_datetime=True)
    return converter, converted_totals(won, keys=keys, day_field="won_time", converter=converter)


# Per (deal, product) of the won deals with lines: the total of the deal's lines of that
# product, and the deal's value. Summed per (period, product, currency, day), each pair counts
# its deal once under its product (COUNT(DISTINCT) without a sort per group); the distinct
# deals (kind 1) give the value and count of the deals with lines per (period, currency, day).
_BY_PRODUCT_SQL = """
WITH pairs AS ({pairs})
SELECT 0, grp, {keys}, SUM(amount), COUNT(*) FROM pairs GROUP BY grp, {keys}
UNION ALL
SELECT 1, NULL, {keys}, SUM(value), COUNT(*)
FROM (SELECT DISTINCT deal, {keys}, value FROM pairs) AS deals GROUP BY {keys}
"""


def _won_by_product(won: QuerySet, query: MetricQuery, converter: Converter) -> dict:
    """Line-based: each line's total under its product; a deal without lines counts its
    value under no product (group None).

    The deals without lines are all the won deals less those with lines, per (period,
    currency, day): the lines are joined to the won deals once, and no second join looks for
    the deals without any (an anti-join of every line on a million deals)."""
    keys = _keys(replace(query, group_by=None), "won_time", is_datetime=True)
    won = won.annotate(won_day=local_day_expression("won_time"))
    line_rows, with_lines = _product_pairs(won, query, keys, converter.quote)
    sums = {"amount": Sum("value_minor"), "deals": Count("pk")}
    every_deal = _day_rows(won, keys, "", "won_day", sums, converter.quote)
    bare_rows = []
    for row in every_deal:
        lined = with_lines.get((*(row[k] for k in keys), row["cur"], row["day"]))
        if lined:
            row["amount"] -= lined["amount"]
            row["deals"] -= lined["deals"]
        if row["deals"]:
            bare_rows.append(row | {"grp": None})
    columns = ["amount", "deals"]
    rows = _by_rate_period(line_rows, [*keys, "grp", "cur"], columns, converter)
    rows += _by_rate_period(bare_rows, [*keys, "grp", "cur"], columns, converter)
    return _convert_groups(rows, converter, money={"amount": 1}, counts=("deals",))


def _product_pairs(
    won: QuerySet, query: MetricQuery, keys: dict, quote: str
) -> tuple[list[dict], dict]:
    """The day rows of the lines per product, and {(period, currency, day): {"amount",
    "deals"}} of the won deals with lines (their values), from one query (_BY_PRODUCT_SQL)."""
    columns = {
        **keys,
        "deal": F("pk"),
        "grp": F("lines__product_id"),
        "cur": F("currency"),
        "day": _conversion_day("", "won_day", quote),
        "value": F("value_minor"),
    }
    pairs = (
        won.filter(lines__isnull=False)
        .annotate(**columns)
        .values(*columns)
        .annotate(amount=Sum("lines__total_minor"))
        .order_by()
    )
    pairs_sql, params = pairs.query.sql_with_params()
    names = [*keys, "cur", "day"]
    with connection.cursor() as cursor:
        cursor.execute(_BY_PRODUCT_SQL.format(pairs=pairs_sql, keys=", ".join(names)), params)
        found = cursor.fetchall()
    line_rows, with_lines = [], {}
    for kind, grp, *key, amount, deals in found:
        # Raw rows: SQLite's days are text, PostgreSQL's sums numerics.
        *bucket, cur, day = key
        key = (*(_sql_bucket(query.interval, b) for b in bucket), cur, _sql_bucket("day", day))
        sums = {"amount": int(amount), "deals": deals}
        if kind == 0:
            line_rows.append(dict(zip(names, key, strict=True)) | sums | {"grp": grp})
        else:
            with_lines[key] = sums
    return line_rows, with_lines


def won_revenue(user, query: MetricQuery) -> MetricResult:
    converter, totals = won_totals(user, query)
    rows = [
        _row_head(query, key)
        | {"deals": value["deals"], "amount": converter.major(value["amount"])}
        for key, value in sorted(totals.items(), key=lambda item: _sort_key(item[0]))
    ]
    return MetricResult("won_revenue", converter.quote, rows)


def average_deal_value(user, query: MetricQuery) -> MetricResult:
    """Won revenue ÷ deals won, rounded half up to the minor unit."""
    if query.group_by == "product":
        raise ValidationError({"group_by": "average_deal_value cannot be grouped by product."})
    converter, totals = won_totals(user, query)
    rows = [
        _row_head(query, key)
        | {
            "deals": value["deals"],
            "amount": converter.major(value["amount"]),
            "average": converter.major(round_half_up(Decimal(value["amount"]) / value["deals"])),
        }
        for key, value in sorted(totals.items(), key=lambda item: _sort_key(item[0]))
        if value["deals"]
    ]
    return MetricResult("average_deal_value", converter.quote, rows)


# Open pipeline and expected revenue --------------------------------------------------------------


def _probability():
    return Coalesce("probability", "stage__deal_probability")


def pipeline_totals(
    user, query: MetricQuery, *, on: dt.date | None = None, also_by: str | None = None
):
    """{(bucket, group): {"deals", "value", "weighted"}} of the open deals expected to close in
    the period (by expected_close_date), converted at the rate in force on `on` (today).
    `also_by` adds a second grouping: the group is then the pair (group, also_by value)."""
    on = on or timezone.localdate()
    converter = Converter(query.currency)
    open_deals = metric_deals(user, query).filter(
        _in_range("expected_close_date", query, is_datetime=False), status=Status.OPEN
    )
    if query.group_by == "product":
        lines = DealLine.objects.filter(deal__in=open_deals.values("pk"))
        keys = _keys(query, "deal__expected_close_date", is_datetime=False)
        keys["grp"] = F("product_id")
        rows = _money_groups(
            lines,
            keys=keys,
            prefix="deal__",
            rate_day=on,
            sums={
                "value": Sum("total_minor"),
                "weighted": Sum(
                    F("total_minor")
                    * Coalesce("deal__probability", "deal__stage__deal_probability")
                ),
            },
            counts={"deals": Count("deal", distinct=True)},
            converter=converter,
        )
        bare = open_deals.filter(lines__isnull=True)
        bare_keys = _keys(replace(query, group_by=None), "expected_close_date", is_datetime=False)
        bare_keys["grp"] = Value(None, output_field=BigIntegerField())
        rows += _pipeline_rows(bare, bare_keys, on, converter)
    else:
        keys = _keys(query, "expected_close_date", is_datetime=False)
        if also_by:
            keys["grp2"] = F(GROUPS[also_by])
        rows = _pipeline_rows(open_deals, keys, on, converter)
    merged = _convert_groups(
        rows, converter, money={"value": 1, "weighted": 100}, counts=("deals",)
    )
    return converter, merged


def _pipeline_rows(deals: QuerySet, keys: dict, on: dt.date, converter: Converter) -> list[dict]:
    return _money_groups(
        deals,
        keys=keys,
        prefix="",
        rate_day=on,
        sums={
            "value": Sum("value_minor"),
            "weighted": Sum(F("value_minor") * _probability()),
        },
        counts={"deals": Count("pk")},
        converter=converter,
    )


def pipeline(user, query: MetricQuery) -> MetricResult:
    converter, totals = pipeline_totals(user, query)
    rows = [
        _row_head(query, key)
        | {
            "deals": value["deals"],
            "value": converter.major(value["value"]),
            "weighted_value": converter.major(value["weighted"]),
        }
        for key, value in sorted(totals.items(), key=lambda item: _sort_key(item[0]))
    ]
    return MetricResult("pipeline", converter.quote, rows)


def expected_revenue(user, query: MetricQuery) -> MetricResult:
    converter, totals = pipeline_totals(user, query)
    rows = [
        _row_head(query, key)
        | {"deals": value["deals"], "amount": converter.major(value["weighted"])}
        for key, value in sorted(totals.items(), key=lambda item: _sort_key(item[0]))
    ]
    return MetricResult("expected_revenue", converter.quote, rows)


def forecast_categories(user, query: MetricQuery) -> MetricResult:
    """The open pipeline by forecast category (Commit, Best case, Pipeline, ...)."""
    if query.group_by not in (None, "forecast_category"):
        raise ValidationError({"group_by": "forecast_categories is grouped by category only."})
    result = pipeline(user, replace(query, group_by="forecast_category"))
    return MetricResult("forecast_categories", result.currency, result.rows)


# Counts: conversion ---------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> Decimal | None:
    """A percentage with two decimals, rounded half up; None when nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _count_rows(queryset: QuerySet, keys: dict, counts: dict) -> dict[tuple, dict]:
    if not keys:
        totals = queryset.aggregate(**counts)
        return {(None, None): totals} if any(totals.values()) else {}
    rows = queryset.annotate(**keys).values(*keys).annotate(**counts).order_by()
    return {_key_of(row): row for row in rows}


def _product_refused(indicator: str, query: MetricQuery) -> None:
    if query.group_by == "product":
        raise ValidationError({"group_by": f"{indicator} cannot be grouped by product."})


def conversion_totals(user, query: MetricQuery) -> dict[tuple, dict]:
    closed = metric_deals(user, query).filter(
        _in_range("close_time", query, is_datetime=True), status__in=[Status.WON, Status.LOST]
    )
    return _count_rows(
        closed,
        _keys(query, "close_time", is_datetime=True),
        {
            "won": Count("pk", filter=Q(status=Status.WON)),
            "lost": Count("pk", filter=Q(status=Status.LOST)),
        },
    )


def conversion_rate(user, query: MetricQuery) -> MetricResult:
    """won ÷ (won + lost) among the deals closed in the period (their current status)."""
    _product_refused("conversion_rate", query)
    rows = [
        _row_head(query, key)
        | {"won": v["won"], "lost": v["lost"], "rate": _rate(v["won"], v["won"] + v["lost"])}
        for key, v in sorted(conversion_totals(user, query).items(), key=lambda i: _sort_key(i[0]))
    ]
    return MetricResult("conversion_rate", None, rows)


def cohort_totals(user, query: MetricQuery) -> dict[tuple, dict]:
    created = metric_deals(user, query).filter(_in_range("add_time", query, is_datetime=True))
    return _count_rows(
        created,
        _keys(query, "add_time", is_datetime=True),
        {
            "created": Count("pk"),
            "won": Count("pk", filter=Q(status=Status.WON)),
            "lost": Count("pk", filter=Q(status=Status.LOST)),
            "open": Count("pk", filter=Q(status=Status.OPEN)),
        },
    )


def cohort_conversion(user, query: MetricQuery) -> MetricResult:
    """Of the deals created in the period, the share won by now: won ÷ created."""
    _product_refused("cohort_conversion", query)
    rows = [
        _row_head(query, key)
        | {
            "created": v["created"],
            "won": v["won"],
            "lost": v["lost"],
            "open": v["open"],
            "rate": _rate(v["won"], v["created"]),
        }
        for key, v in sorted(cohort_totals(user, query).items(), key=lambda i: _sort_key(i[0]))
    ]
    return MetricResult("cohort_conversion", None, rows)


# Sales cycle: median days from creation to won ------------------------------------------------


def _days(delta) -> Decimal:
    if isinstance(delta, dt.timedelta):
        micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return Decimal(micro) / MICROSECONDS_PER_DAY
    return Decimal(delta)


def cycle_totals(user, query: MetricQuery) -> dict[tuple, dict]:
    """{(bucket, group): {"deals", "median_days"}}: SQL counts the deals per group and number
    of days from creation to won (whole local days, so a few hundred values); the median is
    read from those counts here: the middle value, or the mean of the middle two."""
    keys = _keys(query, "won_time", is_datetime=True)
    won = _won(user, query).annotate(
        **keys,
        won_day=local_day_expression("won_time"),
        add_day=local_day_expression("add_time"),
    )
    counted = (
        won.annotate(days=DaysBetween("won_day", "add_day"))
        .values(*keys, "days")
        .annotate(deals=Count("pk"))
        .order_by()
    )
    histograms: dict[tuple, list] = defaultdict(list)
    for row in counted:
        histograms[_key_of(row)].append((_days(row["days"]), row["deals"]))
    return {key: _median(histogram) for key, histogram in histograms.items()}


def _median(histogram: list[tuple[Decimal, int]]) -> dict:
    """{"deals", "median_days"} of (days, deals) counts."""
    histogram.sort()
    total = sum(count for _days_value, count in histogram)
    positions = sorted({(total + 1) // 2, (total + 2) // 2})  # the middle one or two, from 1
    middle, seen = [], 0
    for days, count in histogram:
        seen += count
        while positions and positions[0] <= seen:
            middle.append(days)
            positions.pop(0)
    return {"deals": total, "median_days": sum(middle) / len(middle)}


def sales_cycle(user, query: MetricQuery) -> MetricResult:
    _product_refused("sales_cycle", query)
    rows = [
        _row_head(query, key)
        | {"deals": v["deals"], "median_days": v["median_days"].quantize(Decimal("0.1"))}
        for key, v in sorted(cycle_totals(user, query).items(), key=lambda i: _sort_key(i[0]))
    ]
    return MetricResult("sales_cycle", None, rows)


# Sales velocity --------------------------------------------------------------------------------


def sales_velocity(user, query: MetricQuery) -> MetricResult:
    """opportunities x win rate x average deal value ÷ cycle length: revenue per day.
    Opportunities are the deals created in the period; the win rate, average value and cycle
    are those of the deals closed (won) in the period. Each part is one of the queries above;
    only their group rows are combined here."""
    _product_refused("sales_velocity", query)
    cohorts = cohort_totals(user, query)
    conversions = conversion_totals(user, query)
    converter, won = won_totals(user, query)
    cycles = cycle_totals(user, query)
    rows = []
    for key in sorted(set(cohorts) | set(conversions) | set(won), key=_sort_key):
        opportunities = cohorts.get(key, {}).get("created", 0)
        closed = conversions.get(key, {"won": 0, "lost": 0})
        decided = closed["won"] + closed["lost"]
        won_here = won.get(key, {"deals": 0, "amount": 0})
        cycle = cycles.get(key, {}).get("median_days")
        velocity = None
        if decided and won_here["deals"] and cycle:
            per_day = (
                Decimal(opportunities)
                * closed["won"]
                * won_here["amount"]
                / (decided * won_here["deals"] * cycle)
            )
            velocity = converter.major(round_half_up(per_day))
        rows.append(
            _row_head(query, key)
            | {
                "opportunities": opportunities,
                "win_rate": _rate(closed["won"], decided),
                "average_value": converter.major(
                    round_half_up(Decimal(won_here["amount"]) / won_here["deals"])
                )
                if won_here["deals"]
                else None,
                "cycle_days": None if cycle is None else cycle.quantize(Decimal("0.1")),
                "velocity_per_day": velocity,
            }
        )
    return MetricResult("sales_velocity", converter.quote, rows)


# History: time in stage and stage-to-stage conversion -------------------------------------------


def _entries(user, query: MetricQuery) -> QuerySet[StageEntry]:
    entries = StageEntry.objects.filter(
        deal__in=metric_deals(user, query, history=True).values("pk")
    )
    if query.pipeline_id is not None:
        entries = entries.filter(pipeline_id=query.pipeline_id)
    if query.stage_id is not None:
        entries = entries.filter(stage_id=query.stage_id)
    return entries


def _history_keys(query: MetricQuery, date_field: str) -> dict:
    keys = {"stage_key": F("stage_id")}
    if query.interval:
        keys["bucket"] = bucket_expression(
            date_field,
            query.interval,
            is_datetime=True,
            start_month=query.fiscal_start,
            within=(query.date_from, query.date_to),
        )
    if query.group_by:
        keys["grp"] = F(f"deal__{GROUPS[query.group_by]}")
    return keys


# The groupings the stage tallies carry (ruche.forecasting.stage_tallies): the deal's owner,
# and through the owner the team. The others read the stage entries themselves.
TALLY_GROUPS = {None: None, "owner": "owner_id", "team": "owner__team_id"}


def _tally_rows(model, user, query: MetricQuery) -> QuerySet:
    """The tally rows of the period the user may see (the one visibility rule reads the same
    owner, team and visible_to as on the deals), filtered as _entries filters the entries;
    stage conversion's running maximum is in the tallies, so its stage filter is one too."""
    filters = {
        "owner_id": query.owner_id,
        "owner__team_id": query.team_id,
        "currency": query.currency,
        "pipeline_id": query.pipeline_id,
        "stage_id": query.stage_id,
        "day__gte": query.date_from,
        "day__lte": query.date_to,
    }
    return filter_common(model.objects.filter(visibility_q(user)), filters, filters)


def _tally_keys(query: MetricQuery) -> dict:
    keys = {"stage_key": F("stage_id")}
    if query.interval:
        keys["bucket"] = bucket_expression(
            "day",
            query.interval,
            is_datetime=False,
            start_month=query.fiscal_start,
            within=(query.date_from, query.date_to),
        )
    if query.group_by:
        keys["grp"] = F(TALLY_GROUPS[query.group_by])
    return keys


def _stage_sort(stage_orders: dict) -> Callable:
    def key(item):
        (bucket, group, stage_id), _ = item
        return (*_sort_key((bucket, group)), stage_orders.get(stage_id, (0, 0)), stage_id)

    return key


def _stage_orders(stage_ids) -> dict:
    return {
        pk: (pipeline_id, order_nr)
        for pk, pipeline_id, order_nr in Stage.objects.filter(pk__in=stage_ids).values_list(
            "pk", "pipeline_id", "order_nr"
        )
    }


def _in_days(microseconds) -> Decimal:
    return Decimal(microseconds) / MICROSECONDS_PER_DAY


def _stays(user, query: MetricQuery) -> dict[tuple, dict]:
    """{(bucket, group, stage): {"stays", "total"}} of the stays that ended in the period, their
    total length in microseconds."""
    if query.group_by in TALLY_GROUPS:
        rows = (
            _tally_rows(StageStayTally, user, query)
            .annotate(**(keys := _tally_keys(query)))
            .values(*keys)
            .annotate(stays=Sum("stays"), total=Sum("stay_us"))
            .order_by()
        )
        return {
            (row.get("bucket"), row.get("grp"), row["stage_key"]): {
                "stays": row["stays"],
                "total": int(row["total"]),
            }
            for row in rows
        }
    return _stays_from_entries(user, query)


def _stays_from_entries(user, query: MetricQuery) -> dict[tuple, dict]:
    """_stays from the entries themselves, for the groupings the tallies do not carry. A stay
    ends when the deal moves out (left_at), or, for the stage a deal is won or lost in (its
    entry left open), when it closes: one GROUP BY each, each narrowed by its own indexed
    date."""
    entries = _entries(user, query)
    moved_out = entries.filter(MOVED_OUT, _in_range("left_at", query, is_datetime=True))
    closed_in = entries.filter(CLOSED_IN, _in_range("deal__close_time", query, is_datetime=True))
    found: dict[tuple, dict] = {}
    for stays, ended in ((moved_out, "left_at"), (closed_in, "deal__close_time")):
        keys = _history_keys(query, ended)
        rows = (
            stays.annotate(**keys)
            .values(*keys)
            .annotate(stays=Count("pk"), total=Sum(microseconds_between(ended, "entered_at")))
            .order_by()
        )
        for row in rows:
            entry = found.setdefault(
                (row.get("bucket"), row.get("grp"), row["stage_key"]), {"stays": 0, "total": 0}
            )
            entry["stays"] += row["stays"]
            entry["total"] += row["total"]
    return found


def time_in_stage(user, query: MetricQuery) -> MetricResult:
    """Per stage: the stays that ended in the period (a move out, or the deal's close for the
    stage it was won or lost in) and their average length in days (two decimals)."""
    _product_refused("time_in_stage", query)
    found = _stays(user, query)
    orders = _stage_orders({key[2] for key in found})
    result = [
        _row_head(query, (bucket, group))
        | {
            "stage_id": stage_id,
            "stays": row["stays"],
            "average_days": (_in_days(row["total"]) / row["stays"]).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            ),
        }
        for (bucket, group, stage_id), row in sorted(found.items(), key=_stage_sort(orders))
    ]
    return MetricResult("time_in_stage", None, result)


# Stage conversion, set-based. For each entry since the period began, `furthest` is the highest
# stage order its deal entered in the same pipeline at that moment or later: a running maximum
# over the deal's entries (a window function; entries after the period count as later moves).
# The entries of the period ("counted") are then reduced to one row per deal and group, since
# the figures count deals, and those rows are counted per group.
_CONVERSION_SQL = f"""
WITH entries AS ({{entries}}),
ranked AS (SELECT entries.*, {FURTHEST_SQL} AS furthest FROM entries),
deals AS (
    SELECT {{keys}}, deal_key,
        MAX({REACHED_SQL}) AS reached,
        MAX(won_here) AS won,
        SUM(won_here) AS won_entries,
        SUM(to_won) AS to_won
    FROM ranked WHERE counted = 1
    GROUP BY deal_key, {{keys}}
)
SELECT {{keys}}, COUNT(*), SUM(reached), SUM(won), SUM(won_entries), SUM(to_won)
FROM deals GROUP BY {{keys}}
"""


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0))


def _sql_bucket(interval: str, value):
    """A bucket read by a raw query (SQLite: dates as text; PostgreSQL: numerics), as the ORM
    would return it."""
    if value is None:
        return None
    if interval in ("day", "week"):
        return raw_day(value)
    return int(value)


def stage_conversion_totals(user, query: MetricQuery) -> dict[tuple, dict]:
    """{(bucket, group, stage): counts} of the entries in the period: "entered" (deals),
    "reached_next" (of those, the deals that later entered a further stage of the same
    pipeline or were won in it), "won" (deals won in that pipeline), and, over the entries of
    those won deals, "won_entries" and "to_won" (their total microseconds from entry to the
    win)."""
    if query.group_by not in TALLY_GROUPS:
        return _conversion_from_entries(user, query)
    keys = _tally_keys(query)
    # A deal entering a stage twice in a period counts once: only an entry whose previous
    # entry into the stage was before the period (or the row's bucket) counts as a deal. Its
    # "reached" is the deal's: later entries of the same stage cannot reach further.
    first_in = Q(prev_day__lt=query.date_from) if query.date_from else Q(prev_day=NO_EARLIER_ENTRY)
    prior = {}
    if query.interval:
        prior["prev_bucket"] = bucket_expression(
            "prev_day", query.interval, is_datetime=False, start_month=query.fiscal_start
        )
        first_in |= Q(prev_bucket__lt=F("bucket"))
    rows = (
        _tally_rows(StageEntryTally, user, query)
        .annotate(**keys, **prior)
        .values(*keys)
        .annotate(
            deals=Sum("entries", filter=first_in),
            deals_reached=Sum("reached", filter=first_in),
            deals_won=Sum("won", filter=first_in),
            won_entries=Sum("won"),
            won_us=Sum("to_won_us"),
        )
        .order_by()
    )
    return {
        (row.get("bucket"), row.get("grp"), row["stage_key"]): {
            "entered": row["deals"] or 0,
            "reached_next": row["deals_reached"] or 0,
            "won": row["deals_won"] or 0,
            "won_entries": row["won_entries"],
            "to_won": int(row["won_us"]),
        }
        for row in rows
    }


def _conversion_from_entries(user, query: MetricQuery) -> dict[tuple, dict]:
    """stage_conversion_totals from the entries themselves, for the groupings the tallies do
    not carry: one running-maximum pass (_CONVERSION_SQL)."""
    start, end = day_bounds(query.date_from, query.date_to)
    keys = _history_keys(query, "entered_at")
    counted = Q(entered_at__lt=end) if end is not None else Q()
    if query.stage_id is not None:
        counted &= Q(stage_id=query.stage_id)
    # Every stage's entries: a later move to any stage counts.
    entries = _entries(user, replace(query, stage_id=None))
    if start is not None:
        entries = entries.filter(entered_at__gte=start)
    columns = {
        **keys,
        "deal_key": F("deal_id"),
        "pipeline_key": F("pipeline_id"),
        "order_key": F("stage__order_nr"),
        "entered": F("entered_at"),
        "won_here": _flag(WON_HERE),
        "counted": _flag(counted) if counted else Value(1),
        "to_won": Case(When(WON_HERE, then=microseconds_between("deal__won_time", "entered_at"))),
    }
    entries_sql, params = (
        entries.annotate(**columns).values(*columns).order_by().query.sql_with_params()
    )
    names = ", ".join(keys)
    with connection.cursor() as cursor:
        cursor.execute(_CONVERSION_SQL.format(entries=entries_sql, keys=names), params)
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        values = dict(zip(keys, row, strict=False))
        bucket = _sql_bucket(query.interval, values.get("bucket"))
        entered, reached, won, won_entries, to_won = row[len(keys) :]
        found[(bucket, values.get("grp"), values["stage_key"])] = {
            "entered": entered,
            "reached_next": int(reached),
            "won": int(won),
            "won_entries": int(won_entries),
            "to_won": int(to_won or 0),
        }
    return found


def stage_conversion(user, query: MetricQuery) -> MetricResult:
    """Per stage, among the deals that entered it in the period: how many later entered a
    further stage of the same pipeline (or were won in it), and how many are won."""
    _product_refused("stage_conversion", query)
    found = stage_conversion_totals(user, query)
    orders = _stage_orders({key[2] for key in found})
    result = [
        _row_head(query, (bucket, group))
        | {
            "stage_id": stage_id,
            "entered": row["entered"],
            "reached_next": row["reached_next"],
            "won": row["won"],
            "next_rate": _rate(row["reached_next"], row["entered"]),
            "won_rate": _rate(row["won"], row["entered"]),
        }
        for (bucket, group, stage_id), row in sorted(found.items(), key=_stage_sort(orders))
    ]
    return MetricResult("stage_conversion", None, result)


# Recurring revenue: MRR and its movements ---------------------------------------------------------


def mrr_changes(user, query: MetricQuery, first: int, last: int) -> list[tuple]:
    """The MRR moves of mrr_tallies.moves for the contracts `user` may see, filtered, in
    month and currency order. Without a filter inside customers, the shared customers' moves
    are read from the tally and only the private customers' computed, in the same query."""
    deals = metric_deals(user, query)
    if not mrr_tallies.uses_tally(query):
        return mrr_tallies.moves(deals, first, last)
    private = deals.filter(mrr_tallies.private_customers())
    return mrr_tallies.moves(private, first, last, tallied=True, currency=query.currency)


def _mrr_months(query: MetricQuery) -> tuple[int, int]:
    today = timezone.localdate()
    last = month_index(query.date_to or today)
    first = month_index(query.date_from) if query.date_from else last - 11
    return first, last


def _first_day(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def _month_rates(converter: Converter, currencies: set[str], first: int, last: int) -> Callable:
    """rate_from(currency, day): the rate period in force on the first day of each month from
    `first` to `last`, for the currencies to convert, read in one query."""
    days = {_first_day(month) for month in range(first, last + 1)}
    periods = converter.rate_periods({cur: days for cur in currencies if cur != converter.quote})
    return lambda cur, day: periods.get((cur, day))


def mrr(user, query: MetricQuery) -> MetricResult:
    """MRR at the end of each period, ARR = 12 x MRR, and the period's new, expansion,
    contraction and churned MRR (docs/metrics.md, "MRR and ARR"). Each month's figures are
    converted at the rate in force on its first day."""
    if query.group_by is not None:
        raise ValidationError({"group_by": "mrr cannot be grouped."})
    if query.interval not in (None, "month", "quarter", "year"):
        raise ValidationError({"interval": "mrr: month, quarter or year."})
    kind = query.interval or "month"
    size, offset = MONTHS_IN[kind], (0 if kind == "month" else query.fiscal_start - 1)
    converter = Converter(query.currency)
    first, last = _mrr_months(query)
    first -= (first - offset) % size  # whole periods
    # The (month, currency) group rows, in month order: MRR by currency after each month
    # with a change, and the converted moves per period.
    change_months: list[int] = []
    states: list[dict[str, int]] = []
    running: dict[str, int] = defaultdict(int)
    moves: dict[int, dict] = defaultdict(lambda: dict.fromkeys(mrr_tallies.MOVES, 0))
    changes = mrr_changes(user, query, first, last)
    rate_from = _month_rates(converter, {cur for _month, cur, *_sums in changes}, first, last)
    for month, cur, net, *amounts in changes:
        running[cur] += net
        if change_months and change_months[-1] == month:
            states[-1] = dict(running)
        else:
            change_months.append(month)
            states.append(dict(running))
        if first <= month <= last:
            day = _first_day(month)
            target = moves[(month - offset) // size]
            for name, amount in zip(mrr_tallies.MOVES, amounts, strict=True):
                target[name] += (
                    converter.minor(amount, cur, rate_from(cur, day), day) if amount else 0
                )
    rows = []
    for month in range(first, last + 1):
        bucket = (month - offset) // size
        if month < last and (month + 1 - offset) // size == bucket:
            continue  # a period's MRR is its last month's
        found = bisect_right(change_months, month)
        day = _first_day(month)
        state = states[found - 1] if found else {}
        total = sum(
            converter.minor(v, cur, rate_from(cur, day), day) for cur, v in state.items() if v
        )
        period_moves = moves.get(bucket, dict.fromkeys(mrr_tallies.MOVES, 0))
        net = sum(period_moves[n] for n in ("new", "expansion"))
        net -= sum(period_moves[n] for n in ("contraction", "churned"))
        period = bucket_period(kind, bucket, query.fiscal_start)
        rows.append(
            {"period_start": period.start, "period_end": period.end, "period_label": period.label}
            | {"mrr": converter.major(total), "arr": converter.major(12 * total)}
            | {name: converter.major(amount) for name, amount in period_moves.items()}
            | {"net_new": converter.major(net)}
        )
    return MetricResult("mrr", converter.quote, rows)


# The catalogue ---------------------------------------------------------------------------------

INDICATORS: dict[str, Callable[..., MetricResult]] = {
    "won_revenue": won_revenue,
    "deals_won": won_revenue,
    "average_deal_value": average_deal_value,
    "expected_revenue": expected_revenue,
    "pipeline": pipeline,
    "forecast_categories": forecast_categories,
    "conversion_rate": conversion_rate,
    "cohort_conversion": cohort_conversion,
    "sales_cycle": sales_cycle,
    "sales_velocity": sales_velocity,
    "time_in_stage": time_in_stage,
    "stage_conversion": stage_conversion,
    "mrr": mrr,
}


def metric(user, indicator: str, query: MetricQuery) -> MetricResult:
    """The one entry point the API, the web app and exports call."""
    compute = INDICATORS.get(indicator)
    if compute is None:
        raise NotFound(f"Unknown indicator {indicator!r}. Known: {', '.join(INDICATORS)}.")
    result = compute(user, query.validated())
    result.indicator = indicator
    return result


# Goals -----------------------------------------------------------------------------------------


def goal_actuals(user, goal) -> tuple[str, dict[dt.date, int]]:
    """What a goal counts, per period of its interval between its start and end days: a count,
    or an amount in minor units of the company currency. (reporting currency, {period start:
    actual}). The user's visibility applies, as everywhere."""
    from ruche.forecasting.models import Goal
    from ruche.pipelines.selectors import activity_queryset

    start_month = fiscal_start_month()
    query = MetricQuery(
        date_from=goal.start_date,
        date_to=goal.end_date,
        interval=goal.interval,
        owner_id=goal.user_id,
        team_id=goal.team_id,
        pipeline_id=goal.pipeline_id if goal.type != Goal.Type.DEALS_PROGRESSED else None,
        fiscal_start=start_month,
    )
    converter = Converter(None)
    by_value = goal.measure == Goal.Measure.VALUE
    if goal.type == Goal.Type.DEALS_WON:
        converter, totals = won_totals(user, query)
        merged = {key: v["amount" if by_value else "deals"] for key, v in totals.items()}
    elif goal.type == Goal.Type.DEALS_ADDED:
        added = metric_deals(user, query).filter(_in_range("add_time", query, is_datetime=True))
        keys = _keys(query, "add_time", is_datetime=True)
        totals = converted_totals(added, keys=keys, day_field="add_time", converter=converter)
        merged = {key: v["amount" if by_value else "deals"] for key, v in totals.items()}
    elif goal.type == Goal.Type.DEALS_PROGRESSED:
        entries = StageEntry.objects.filter(
            deal__in=metric_deals(user, query, history=True).values("pk"),
            stage_id=goal.stage_id,
        ).filter(_in_range("entered_at", query, is_datetime=True))
        rows = _money_groups(
            entries.annotate(entry_day=local_day_expression("entered_at")),
            keys=_keys(query, "entered_at", is_datetime=True),
            prefix="deal__",
            rate_day="entry_day",
            sums={"amount": Sum("deal__value_minor")},
            counts={"moves": Count("pk")},
            converter=converter,
        )
        totals = _convert_groups(rows, converter, money={"amount": 1}, counts=("moves",))
        merged = {key: v["amount" if by_value else "moves"] for key, v in totals.items()}
    else:
        activities = activity_queryset(user)
        if goal.user_id is not None:
            activities = activities.filter(owner_id=goal.user_id)
        if goal.team_id is not None:
            activities = activities.filter(owner__team_id=goal.team_id)
        if goal.activity_type:
            activities = activities.filter(type=goal.activity_type)
        field = "add_time"
        if goal.type == Goal.Type.ACTIVITIES_COMPLETED:
            field = "marked_as_done_time"
            activities = activities.filter(done=True)
        activities = activities.filter(_in_range(field, query, is_datetime=True))
        merged = {
            key: row["n"]
            for key, row in _count_rows(
                activities, _keys(query, field, is_datetime=True), {"n": Count("pk")}
            ).items()
        }
    actuals = {
        bucket_period(goal.interval, bucket, start_month).start: value
        for (bucket, _), value in merged.items()
        if bucket is not None
    }
    return converter.quote, actuals
