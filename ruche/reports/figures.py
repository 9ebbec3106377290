"""A report's figures: one table (columns and rows) and its chart, computed for the viewer.

Every kind reads through ruche.forecasting (metric, funnel, metric_deals) or the activity
selector, so the visibility rule (ruche.core.permissions) and the definitions of docs/metrics.md
apply unchanged: a rep reading a shared report sees only the deals they may see. Each figure is
one GROUP BY (or, for activities by period, one count of an index range per period);
Python only arranges group rows (and names them), never loops over deals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ruche.accounts.models import Team
from ruche.core.models import Lookup
from ruche.core.money import to_major
from ruche.forecasting.funnel import funnel
from ruche.forecasting.metrics import (
    Converter,
    MetricQuery,
    converted_totals,
    metric,
    metric_deals,
)
from ruche.forecasting.periods import (
    bucket_expression,
    bucket_period,
    day_bounds,
    fiscal_start_month,
    period_label,
    periods_between,
)
from ruche.pipelines.models import Activity, Deal, Pipeline, Stage
from ruche.pipelines.selectors import activity_parts
from ruche.reports.models import Report
from ruche.reports.periods import report_span

Kind = Report.Kind
TIME_GROUPINGS = ("month", "quarter", "year")
DIMENSIONS = ("owner", "team", "pipeline", "stage")
# The groupings each kind offers; the first is the default.
GROUPINGS = {
    Kind.REVENUE: (*TIME_GROUPINGS, *DIMENSIONS),
    Kind.FORECAST: (*TIME_GROUPINGS, *DIMENSIONS, "forecast_category"),
    Kind.FUNNEL: ("stage",),
    Kind.ACTIVITIES: (*TIME_GROUPINGS, "owner", "team", "type"),
    Kind.WIN_LOSS: ("reason", "competitor", "owner", "team", "pipeline", *TIME_GROUPINGS),
    Kind.DEALS_BY_STAGE: ("stage",),
}
GROUPING_LABELS = {
    "month": _("Month"),
    "quarter": _("Quarter"),
    "year": _("Year"),
    "owner": _("Owner"),
    "team": _("Team"),
    "pipeline": _("Pipeline"),
    "stage": _("Stage"),
    "forecast_category": _("Forecast category"),
    "type": _("Activity type"),
    "reason": _("Loss reason"),
    "competitor": _("Competitor"),
}
ACTIVITY_TYPES = {
    Activity.Type.CALL: _("Call"),
    Activity.Type.MEETING: _("Meeting"),
    Activity.Type.TASK: _("Task"),
    Activity.Type.EMAIL: _("Email"),
    Activity.Type.DEADLINE: _("Deadline"),
}
NONE_LABEL = _("(none)")
NO_DATE_LABEL = _("No date")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    type: str  # count, money, percent, days
    charted: bool = False


@dataclass
class ReportData:
    """The table of a report: `rows` are {"key", "label", <column key>: value}; money is a
    Decimal in major units of `currency`, rates are percentages with two decimals."""

    report: Report
    date_from: dt.date | None
    date_to: dt.date | None
    currency: str | None
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)

    def chart(self) -> dict:
        charted = [c for c in self.columns if c.charted]
        return {
            "type": self.report.chart,
            "labels": [str(row["label"]) for row in self.rows],
            "datasets": [
                {"label": str(c.label), "data": [float(row[c.key] or 0) for row in self.rows]}
                for c in charted
            ],
        }


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)


# What each kind computes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The report's filters and grouping, resolved for one reading."""

    grouping: str
    date_from: dt.date | None
    date_to: dt.date | None
    owner_id: int | None
    team_id: int | None
    pipeline_id: int | None
    start_month: int  # the fiscal year's, read once

    @property
    def is_time(self) -> bool:
        return self.grouping in TIME_GROUPINGS

    def query(self, *, grouped: bool = True) -> MetricQuery:
        time, dimension = self.is_time and grouped, not self.is_time and grouped
        return MetricQuery(
            date_from=self.date_from,
            date_to=self.date_to,
            interval=self.grouping if time else None,
            group_by=self.grouping if dimension else None,
            pipeline_id=self.pipeline_id,
            owner_id=self.owner_id,
            team_id=self.team_id,
        )

    def group_expression(self, date_field: str, fields: dict[str, str]):
        """The group of a row; for a time grouping, its period, among those of the span (the
        rows are filtered on it: in_span)."""
        if self.is_time:
            return bucket_expression(
                date_field,
                self.grouping,
                is_datetime=True,
                start_month=self.start_month,
                within=(self.date_from, self.date_to),
            )
        return F(fields[self.grouping])

    def key_of_bucket(self, bucket):
        """The period start a SQL bucket stands for (dimension keys pass through)."""
        if not self.is_time or bucket is None:
            return bucket
        return bucket_period(self.grouping, bucket, self.start_month).start

    def in_span(self, date_field: str) -> Q:
        start, end = day_bounds(self.date_from, self.date_to)
        bounds = {"gte": start, "lt": end}
        return Q(**{f"{date_field}__{op}": v for op, v in bounds.items() if v is not None})


def _metric_key(spec: Spec, row: dict):
    return row["period_start"] if spec.is_time else row.get("group")


def _revenue(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    result = metric(user, "won_revenue", spec.query())
    columns = [
        Column("deals", _("Deals won"), "count"),
        Column("amount", _("Won revenue"), "money", charted=True),
    ]
    values = {
        _metric_key(spec, r): {"deals": r["deals"], "amount": r["amount"]} for r in result.rows
    }
    return result.currency, columns, values


def _forecast(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    result = metric(user, "pipeline", spec.query())
    columns = [
        Column("deals", _("Open deals"), "count"),
        Column("value", _("Pipeline"), "money", charted=True),
        Column("weighted_value", _("Weighted pipeline"), "money", charted=True),
    ]
    values = {_metric_key(spec, r): {c.key: r[c.key] for c in columns} for r in result.rows}
    return result.currency, columns, values


def _funnel(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    result = funnel(user, spec.query(grouped=False))
    columns = [
        Column("entered", _("Entered"), "count", charted=True),
        Column("reached_next", _("Reached the next stage"), "count"),
        Column("won", _("Won"), "count", charted=True),
        Column("next_rate", _("Conversion to next (%)"), "percent"),
        Column("won_rate", _("Conversion to won (%)"), "percent"),
        Column("average_days_in_stage", _("Average days in stage"), "days"),
        Column("open_now", _("Open now"), "count"),
    ]
    values = {r["stage_id"]: {c.key: r[c.key] for c in columns} for r in result["stages"]}
    return result["currency"], columns, values


# Counting by range pays for a span of a few periods; past this, one GROUP BY scans once.
MAX_RANGE_COUNTS = 36


def _activities(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    """Activities added in the period (by their creation) and completed in it (by the time they
    were marked done), grouped alike.

    Most activities, those of deals visible to everyone, are read without the visibility rule;
    unfiltered by pipeline (no join to the deals), each period is one count of an index range,
    without the per-row bucket and hash of a GROUP BY. The others, fewer, go through the rule,
    grouped."""
    filters = _activity_filters(spec)
    public, others = (_counted(part, filters) for part in activity_parts(user))
    periods = _span_periods(spec) if spec.pipeline_id is None else None
    if periods:
        rows = [*_period_counts(public, periods), *_grouped_counts(others, spec)]
    else:
        rows = _grouped_counts(public + others, spec)
    values: dict = {}
    for column, key, n in rows:
        entry = values.setdefault(key, {"added": 0, "completed": 0})
        entry[column] += n
    columns = [
        Column("added", _("Added"), "count", charted=True),
        Column("completed", _("Completed"), "count", charted=True),
    ]
    return None, columns, values


def _activity_filters(spec: Spec) -> Q:
    filters = Q()
    if spec.owner_id is not None:
        filters &= Q(owner_id=spec.owner_id)
    if spec.team_id is not None:
        filters &= Q(owner__team_id=spec.team_id)
    if spec.pipeline_id is not None:
        filters &= Q(deal__pipeline_id=spec.pipeline_id)
    return filters


def _counted(activities: QuerySet, filters: Q) -> list[tuple]:
    """(column, date field, rows) of the activities added and of those completed."""
    return [
        ("added", "add_time", activities.filter(filters)),
        ("completed", "marked_as_done_time", activities.filter(filters, done=True)),
    ]


def _span_periods(spec: Spec) -> list[tuple] | None:
    """(key, start, end) instants of each period of a bounded span, clipped to the span: the
    rows of the span in each period, as the bucket expression of the GROUP BY assigns them."""
    if not spec.is_time or spec.date_from is None or spec.date_to is None:
        return None
    periods = periods_between(spec.grouping, spec.date_from, spec.date_to, spec.start_month)
    if len(periods) > MAX_RANGE_COUNTS:
        return None
    span_start, span_end = day_bounds(spec.date_from, spec.date_to)
    starts = [span_start, *(day_bounds(p.start, None)[0] for p in periods[1:])]
    ends = [*starts[1:], span_end]
    return [(p.start, start, end) for p, start, end in zip(periods, starts, ends, strict=True)]


def _period_counts(counted, periods: list[tuple]):
    """(column, period start, count) of each column, part and period: one statement, a UNION
    ALL of range counts, each read from an index (Activity's partial ones)."""
    parts = [
        rows.filter(**{f"{date_field}__gte": start, f"{date_field}__lt": end})
        .annotate(column=Value(column), part=Value(index))
        .values("column", "part")
        .annotate(n=Count("*"))
        .order_by()
        for column, date_field, rows in counted
        for index, (_key, start, end) in enumerate(periods)
    ]
    for row in parts[0].union(*parts[1:], all=True):
        yield row["column"], periods[row["part"]][0], row["n"]


def _grouped_counts(counted, spec: Spec):
    """(column, group, count) of each column: one GROUP BY each. By team, the counts are
    grouped by owner, then each owner's counts go to their team: the few users are read once
    instead of joined to every activity."""
    fields = {"owner": "owner_id", "team": "owner_id", "type": "type"}
    counts = []
    for column, date_field, rows in counted:
        grouped = (
            rows.filter(spec.in_span(date_field))
            .annotate(grp=spec.group_expression(date_field, fields))
            .values("grp")
            .annotate(n=Count("*"))  # not the id: the covering indexes do without it
            .order_by()
        )
        counts += [(column, spec.key_of_bucket(row["grp"]), row["n"]) for row in grouped]
    if spec.grouping == "team":
        owners = {owner for _column, owner, _n in counts}
        team_of = dict(get_user_model().objects.filter(pk__in=owners).values_list("pk", "team_id"))
        counts = [(column, team_of[owner], n) for column, owner, n in counts]
    return counts


def _closed_totals(spec: Spec, deals: QuerySet, key_fields: dict) -> tuple[Converter, dict]:
    """{(group, status): {"deals", "amount"}} of `deals` closed (won or lost) in the period,
    each amount converted at the rate of its close day."""
    closed = deals.filter(
        spec.in_span("close_time"), status__in=[Deal.Status.WON, Deal.Status.LOST]
    )
    keys = {"grp": spec.group_expression("close_time", key_fields), "grp2": F("status")}
    converter = Converter(None)
    merged = converted_totals(closed, keys=keys, day_field="close_time", converter=converter)
    return converter, {
        (spec.key_of_bucket(group), status): value
        for (_bucket, (group, status)), value in merged.items()
    }


def _win_loss(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    """Deals closed in the period: won and lost per group (owner, competitor, month, ...), or,
    by loss reason, the lost deals and each reason's share of the losses."""
    fields = {
        "reason": "lost_reason_id",
        "competitor": "competitor",
        "owner": "owner_id",
        "team": "owner__team_id",
        "pipeline": "pipeline_id",
    }
    deals = metric_deals(user, spec.query(grouped=False))
    if spec.grouping == "reason":
        deals = deals.filter(status=Deal.Status.LOST)  # by reason, only the losses are shown
    converter, totals = _closed_totals(spec, deals, fields)
    money = converter.major
    if spec.grouping == "reason":
        lost = {group: v for (group, status), v in totals.items() if status == Deal.Status.LOST}
        all_lost = sum(v["deals"] for v in lost.values())
        values = {
            group: {
                "lost": v["deals"],
                "lost_value": money(v["amount"]),
                "share": _percent(v["deals"], all_lost),
            }
            for group, v in lost.items()
        }
        columns = [
            Column("lost", _("Deals lost"), "count", charted=True),
            Column("lost_value", _("Value lost"), "money"),
            Column("share", _("Share of losses (%)"), "percent"),
        ]
        return converter.quote, columns, values
    values: dict = {}
    for (group, status), v in totals.items():
        entry = values.setdefault(group, {"won": 0, "lost": 0, "won_minor": 0, "lost_minor": 0})
        entry[status] += v["deals"]
        entry[f"{status}_minor"] += v["amount"]
    for entry in values.values():
        entry |= {
            "win_rate": _percent(entry["won"], entry["won"] + entry["lost"]),
            "won_value": money(entry.pop("won_minor")),
            "lost_value": money(entry.pop("lost_minor")),
        }
    columns = [
        Column("won", _("Deals won"), "count", charted=True),
        Column("lost", _("Deals lost"), "count", charted=True),
        Column("win_rate", _("Win rate (%)"), "percent"),
        Column("won_value", _("Won revenue"), "money"),
        Column("lost_value", _("Value lost"), "money"),
    ]
    return converter.quote, columns, values


def _deals_by_stage(user, spec: Spec) -> tuple[str | None, list[Column], dict]:
    """The deals created in the period, by their current stage and status; open values at
    today's rate, as the open pipeline is converted. One rate per currency, so the sums are
    grouped by currency and each is converted (and rounded) once."""
    deals = metric_deals(user, spec.query(grouped=False)).filter(spec.in_span("add_time"))
    rows = (
        deals.values("stage_id", "status", "currency")
        .annotate(deals=Count("pk"), amount=Sum("value_minor", filter=Q(status=Deal.Status.OPEN)))
        .order_by()
    )
    converter, today = Converter(None), timezone.localdate()
    values: dict = {}
    for row in rows:
        entry = values.setdefault(row["stage_id"], {"open": 0, "won": 0, "lost": 0, "minor": 0})
        entry[row["status"]] += row["deals"]
        if row["amount"]:
            entry["minor"] += converter.minor(row["amount"], row["currency"], today, today)
    for entry in values.values():
        entry["open_value"] = converter.major(entry.pop("minor"))
    columns = [
        Column("open", _("Open"), "count", charted=True),
        Column("won", _("Won"), "count", charted=True),
        Column("lost", _("Lost"), "count", charted=True),
        Column("open_value", _("Open value"), "money"),
    ]
    return converter.quote, columns, values


COMPUTE = {
    Kind.REVENUE: _revenue,
    Kind.FORECAST: _forecast,
    Kind.FUNNEL: _funnel,
    Kind.ACTIVITIES: _activities,
    Kind.WIN_LOSS: _win_loss,
    Kind.DEALS_BY_STAGE: _deals_by_stage,
}


# Naming and ordering the groups -----------------------------------------------------------------


def _named(model, keys) -> dict:
    return {obj.pk: str(obj) for obj in model.objects.filter(pk__in=[k for k in keys if k])}


def _dimension_rows(grouping: str, values: dict) -> list[tuple]:
    """(key, label) for each group, in a stable order: stages in pipeline order, others by
    name; the group of none last."""
    keys = list(values)
    if grouping == "stage":
        stages = Stage.objects.filter(pk__in=[k for k in keys if k]).select_related("pipeline")
        order = {s.pk: (s.pipeline.order_nr, s.pipeline_id, s.order_nr, s.pk) for s in stages}
        names = {s.pk: s.name for s in stages}
        keys.sort(key=lambda k: (k is None, order.get(k, ())))
        return [(k, names.get(k, NONE_LABEL)) for k in keys]
    if grouping == "competitor":
        names = {k: k for k in keys if k}
    elif grouping == "type":
        names = {k: ACTIVITY_TYPES.get(k, k) for k in keys if k}
    else:
        model = {
            "owner": get_user_model(),
            "team": Team,
            "pipeline": Pipeline,
            "forecast_category": Lookup,
            "reason": Lookup,
        }[grouping]
        names = _named(model, keys)
    keys.sort(key=lambda k: (k in (None, ""), str(names.get(k, "")).lower(), str(k)))
    return [(k, names.get(k, NONE_LABEL)) for k in keys]


def _time_rows(spec: Spec, values: dict) -> list[tuple]:
    """Every period of the span, empty ones included (when the span is bounded)."""
    start_month = spec.start_month
    if spec.date_from is not None and spec.date_to is not None:
        periods = periods_between(spec.grouping, spec.date_from, spec.date_to, start_month)
    else:
        periods = []
    labels = {p.start: p.label for p in periods}
    for key in values:
        if key is not None and key not in labels:
            labels[key] = period_label(spec.grouping, key, start_month)
    rows = [(key, labels[key]) for key in sorted(labels)]
    if None in values:
        rows.append((None, NO_DATE_LABEL))
    return rows


def report_data(user, report: Report, today: dt.date) -> ReportData:
    """The report's table and chart as `user` may see them, read on `today`."""
    date_from, date_to = report_span(report, user, today)
    spec = Spec(
        grouping=report.grouping,
        date_from=date_from,
        date_to=date_to,
        owner_id=report.filter_owner_id,
        team_id=report.filter_team_id,
        pipeline_id=report.filter_pipeline_id,
        start_month=fiscal_start_month(),
    )
    currency, columns, values = COMPUTE[report.kind](user, spec)
    named = _time_rows(spec, values) if spec.is_time else _dimension_rows(spec.grouping, values)
    zero_money = to_major(0, currency) if currency else Decimal(0)
    zeros = {"count": 0, "money": zero_money}
    empty = {c.key: zeros.get(c.type) for c in columns}
    rows = [{"key": key, "label": label} | empty | values.get(key, {}) for key, label in named]
    return ReportData(report, date_from, date_to, currency, columns, rows)
