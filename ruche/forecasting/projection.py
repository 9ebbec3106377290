"""Revenue projection, month by month (docs/metrics.md, "Revenue projection").

Three parts, each computed from GROUP BY rows, never a loop over deals:

- won to date: revenue already won in the current month;
- the open pipeline weighted by win probabilities LEARNED from history: of the deals that were
  in stage S while aged A (age bucket) before the cutoff and had closed by then, the share won
  (`learned_probabilities`), spread over months by expected close date;
- a run-rate for deals not yet in the pipeline: Holt-Winters (statsmodels) on the monthly
  series of revenue won from deals created in the last h + 1 months, one series per horizon
  h, when there are at least 24 months of history (a trailing mean otherwise, stated).

Everything is read "as of" a cutoff, so the backtest (ruche.forecasting.backtest) replays the
same code in the past: a deal's status at the cutoff is the last won/lost/reopened change
record before it, its stage the last stage entry before it.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from ruche.core.models import ChangeRecord
from ruche.forecasting.metrics import (
    Converter,
    MetricQuery,
    _convert_groups,
    _money_groups,
    _rate_from,
    metric_deals,
)
from ruche.forecasting.periods import (
    add_months,
    bucket_expression,
    local_day_expression,
    local_tz,
    month_index,
)
from ruche.pipelines.models import Stage, StageEntry

# Age buckets in days since the deal was added: [0, 30), [30, 90), [90, 180), [180, ...).
AGE_BUCKETS = (0, 30, 90, 180)
AGE_LABELS = ("0-29 days", "30-89 days", "90-179 days", "180+ days")
MIN_SAMPLE = 20  # deals a (stage, age) cell needs before its own rate is used
MATURITY_DAYS = 120  # a past deal counts once it has had this long to close
HW_MIN_MONTHS = 24
HORIZON = 12
Z90 = 1.6449  # two-sided 90% interval
STATUS_EVENTS = (ChangeRecord.Event.WON, ChangeRecord.Event.LOST, ChangeRecord.Event.REOPENED)


def month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), local_tz())


# As of a cutoff ---------------------------------------------------------------------------------


def status_at(cutoff: dt.datetime, ref: str = "pk") -> Subquery:
    """The last status event (won, lost, reopened) of the deal before `cutoff`; None: open."""
    return Subquery(
        ChangeRecord.objects.filter(
            entity="deal", entity_id=OuterRef(ref), event__in=STATUS_EVENTS, time__lt=cutoff
        )
        .order_by("-time", "-id")
        .values("event")[:1]
    )


def stage_at(cutoff: dt.datetime, column: str = "stage_id") -> Subquery:
    return Subquery(
        StageEntry.objects.filter(deal=OuterRef("pk"), entered_at__lt=cutoff)
        .order_by("-entered_at", "-id")
        .values(column)[:1]
    )


def open_deals_at(user, cutoff: dt.datetime, query: MetricQuery | None = None):
    """The deals added before `cutoff` and open at it, with `stage_then`, their stage then."""
    deals = metric_deals(user, query or MetricQuery()).filter(add_time__lt=cutoff)
    return deals.annotate(status_then=status_at(cutoff), stage_then=stage_at(cutoff)).filter(
        Q(status_then__isnull=True) | Q(status_then=ChangeRecord.Event.REOPENED),
        stage_then__isnull=False,
    )


def _shifted(column: str, days: int) -> ExpressionWrapper:
    return ExpressionWrapper(
        F(column) + Value(dt.timedelta(days=days)), output_field=DateTimeField()
    )


def age_bucket_at(cutoff: dt.datetime) -> Case:
    """The deal's age bucket at `cutoff` (0..3)."""
    whens = [
        When(add_time__gt=cutoff - dt.timedelta(days=hi), then=Value(i))
        for i, hi in enumerate(AGE_BUCKETS[1:])
    ]
    return Case(*whens, default=Value(len(AGE_BUCKETS) - 1), output_field=IntegerField())


# Learned probabilities --------------------------------------------------------------------------


@dataclass
class Learned:
    """Per (stage, age bucket) and per stage: (won, closed) distinct deals, and the rule."""

    cells: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    stages: dict[int, tuple[int, int]] = field(default_factory=dict)
    nominal: dict[int, int] = field(default_factory=dict)
    min_sample: int = MIN_SAMPLE

    def probability(self, stage_id: int, bucket: int) -> tuple[Decimal, str]:
        """The cell's share won when it has `min_sample` closed deals, else the stage's over
        every age, else the stage's nominal probability."""
        won, closed = self.cells.get((stage_id, bucket), (0, 0))
        if closed and closed >= self.min_sample:
            return Decimal(won) / closed, "stage_age"
        won, closed = self.stages.get(stage_id, (0, 0))
        if closed and closed >= self.min_sample:
            return Decimal(won) / closed, "stage"
        return Decimal(self.nominal.get(stage_id, 0)) / 100, "nominal"

    def as_rows(self) -> list[dict]:
        rows = []
        for (stage_id, bucket), (won, closed) in sorted(self.cells.items()):
            p, rule = self.probability(stage_id, bucket)
            rows.append(
                {
                    "stage_id": stage_id,
                    "age": AGE_LABELS[bucket],
                    "won": won,
                    "closed": closed,
                    "probability": (100 * p).quantize(Decimal("0.01"), ROUND_HALF_UP),
                    "rule": rule,
                }
            )
        return rows


def learned_probabilities(
    user,
    cutoff: dt.datetime,
    *,
    min_sample: int = MIN_SAMPLE,
    maturity_days: int = MATURITY_DAYS,
    query: MetricQuery | None = None,
) -> Learned:
    """One GROUP BY stage over the stage entries of the deals added before `cutoff`: for each
    age bucket [lo, hi), the distinct deals whose stay in the stage overlapped ages lo..hi
    at least `maturity_days` before the cutoff (so each had that long to close), and how many
    of them were won at the cutoff (status from the change records). A deal still open, or
    lost, counts as not won."""
    horizon = cutoff - dt.timedelta(days=maturity_days)
    deals = metric_deals(user, query or MetricQuery()).filter(add_time__lt=horizon)
    entries = StageEntry.objects.filter(
        deal__in=deals.values("pk"), entered_at__lt=horizon
    ).annotate(
        outcome=status_at(cutoff, "deal_id"),
        stay_end=Coalesce(
            "left_at", "deal__close_time", Value(cutoff, output_field=DateTimeField())
        ),
    )
    won = Q(outcome=ChangeRecord.Event.WON)
    aggregates = {
        "closed_all": Count("deal_id", distinct=True),
        "won_all": Count("deal_id", distinct=True, filter=won),
    }
    for i, lo in enumerate(AGE_BUCKETS):
        overlap = Q(stay_end__gt=_shifted("deal__add_time", lo)) & Q(
            deal__add_time__lt=horizon - dt.timedelta(days=lo)
        )
        if i + 1 < len(AGE_BUCKETS):
            overlap &= Q(entered_at__lt=_shifted("deal__add_time", AGE_BUCKETS[i + 1]))
        aggregates[f"closed_{i}"] = Count("deal_id", distinct=True, filter=overlap)
        aggregates[f"won_{i}"] = Count("deal_id", distinct=True, filter=overlap & won)
    learned = Learned(min_sample=min_sample)
    learned.nominal = dict(Stage.objects.values_list("pk", "deal_probability"))
    for row in entries.values("stage_id").annotate(**aggregates).order_by():
        stage_id = row["stage_id"]
        learned.stages[stage_id] = (row["won_all"], row["closed_all"])
        for i in range(len(AGE_BUCKETS)):
            if row[f"closed_{i}"]:
                learned.cells[(stage_id, i)] = (row[f"won_{i}"], row[f"closed_{i}"])
    return learned


# The open pipeline at a cutoff ------------------------------------------------------------------


@dataclass
class PipelineMonth:
    deals: int = 0
    value: int = 0  # minor units, reporting currency
    nominal: Decimal = Decimal(0)
    learned: Decimal = Decimal(0)
    variance: float = 0.0  # of the learned part, minor units squared


def open_pipeline(
    user,
    cutoff: dt.datetime,
    learned: Learned,
    *,
    first_month: int,
    last_month: int,
    use_deal_probability: bool = False,
    query: MetricQuery | None = None,
    converter: Converter | None = None,
) -> tuple[dict[int, PipelineMonth], dict]:
    """{month index: PipelineMonth} of the deals open at `cutoff`, by expected close month;
    a deal without a close date or overdue counts in `first_month`; one later than
    `last_month` is left out (counted in the second result)."""
    converter = converter or Converter(query.currency if query else None)
    day = cutoff.astimezone(local_tz()).date()
    deals = open_deals_at(user, cutoff, query).annotate(
        age=age_bucket_at(cutoff),
        close_month=bucket_expression("expected_close_date", "month", is_datetime=False),
        squared=Cast("value_minor", FloatField()) * Cast("value_minor", FloatField()),
    )
    keys = ["close_month", "stage_then", "age", "currency"]
    if use_deal_probability:
        keys.append("probability")
    rows = list(
        deals.annotate(rate_from=_rate_from("", day))
        .values(*keys, "rate_from")
        .annotate(n=Count("pk"), value=Sum("value_minor"), sq=Sum("squared"))
        .order_by()
    )
    months: dict[int, PipelineMonth] = defaultdict(PipelineMonth)
    later = {"deals": 0, "value": 0}
    for row in rows:
        month = row["close_month"]
        month = first_month if month is None or month < first_month else month
        value = converter.minor(row["value"] or 0, row["currency"], row["rate_from"], day)
        if month > last_month:
            later["deals"] += row["n"]
            later["value"] += value
            continue
        nominal = learned.nominal.get(row["stage_then"], 0)
        if use_deal_probability and row["probability"] is not None:
            nominal = row["probability"]
        p, _ = learned.probability(row["stage_then"], row["age"])
        scale = value / row["value"] if row["value"] else 0
        target = months[month]
        target.deals += row["n"]
        target.value += value
        target.nominal += Decimal(value * nominal) / 100
        target.learned += value * p
        target.variance += float(p * (1 - p)) * (row["sq"] or 0.0) * scale * scale
    return months, later


# Run-rate ----------------------------------------------------------------------------------------


def won_matrix(
    user,
    query: MetricQuery | None = None,
    converter: Converter | None = None,
    *,
    before: dt.datetime | None = None,
):
    """{(won month, created month): minor units} of the deals won (before `before`), each
    converted at the rate of its won day: one GROUP BY."""
    query = query or MetricQuery()
    converter = converter or Converter(query.currency)
    won = metric_deals(user, query).filter(status="won", won_time__isnull=False)
    if before is not None:
        won = won.filter(won_time__lt=before)
    keys = {
        "bucket": bucket_expression("won_time", "month", is_datetime=True),
        "grp": bucket_expression("add_time", "month", is_datetime=True),
    }
    rows = _money_groups(
        won.annotate(won_day=local_day_expression("won_time")),
        keys=keys,
        prefix="",
        rate_day="won_day",
        sums={"amount": Sum("value_minor")},
        counts={"deals": Count("pk")},
    )
    merged = _convert_groups(rows, converter, money={"amount": 1}, counts=("deals",))
    return {key: value["amount"] for key, value in merged.items()}


def fresh_series(matrix: dict, horizon: int, first: int, last: int) -> list[float]:
    """S_h[t] for t in first..last: revenue won in month t from deals created in months
    t - h .. t (what a cutoff h months before t could not see yet)."""
    series = defaultdict(int)
    for (won_m, created_m), amount in matrix.items():
        if created_m is not None and 0 <= won_m - created_m <= horizon:
            series[won_m] += amount
    return [float(series.get(t, 0)) for t in range(first, last + 1)]


@dataclass
class RunRate:
    mean: float
    sd: float
    method: str


def run_rate(series: list[float], horizon: int, *, simulate: bool = True) -> RunRate:
    """The forecast `horizon` months after the series' last month (0: the next month):
    Holt-Winters (additive damped trend, additive yearly seasonality) with >= 24 months, its
    interval from 500 simulated paths of the fitted model; otherwise the mean of the last 12
    months, with their standard deviation."""
    if len(series) >= HW_MIN_MONTHS and any(series):
        import numpy as np
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(
                np.asarray(series),
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=12,
                initialization_method="estimated",
            ).fit()
            mean = float(fit.forecast(horizon + 1)[horizon])
            if simulate:
                paths = fit.simulate(
                    horizon + 1, repetitions=500, error="add", anchor="end", random_state=42
                )
                sd = float(np.std(np.asarray(paths)[horizon]))
            else:
                sd = float(np.std(fit.resid))
        return RunRate(max(mean, 0.0), sd, "holt_winters")
    recent = series[-12:]
    if not recent:
        return RunRate(0.0, 0.0, "none")
    mean = sum(recent) / len(recent)
    sd = math.sqrt(sum((x - mean) ** 2 for x in recent) / len(recent))
    return RunRate(mean, sd, "trailing_mean")


def history_start(matrix: dict) -> int | None:
    months = [won_m for won_m, _ in matrix if won_m is not None]
    return min(months) if months else None


# The projection ---------------------------------------------------------------------------------


def _money(converter: Converter, amount) -> Decimal:
    return converter.major(int(Decimal(amount).to_integral_value(ROUND_HALF_UP)))


def projection(
    user,
    *,
    now: dt.datetime | None = None,
    months: int = HORIZON,
    min_sample: int = MIN_SAMPLE,
    query: MetricQuery | None = None,
) -> dict:
    """The next `months` months from the current one: won to date + learned pipeline +
    run-rate, each with a 90% interval."""
    query = (query or MetricQuery()).validated()
    now = now or timezone.now()
    today = now.astimezone(local_tz()).date()
    current = month_index(today)
    last = current + months - 1
    converter = Converter(query.currency)
    learned = learned_probabilities(user, now, min_sample=min_sample, query=query)
    pipeline, later = open_pipeline(
        user,
        now,
        learned,
        first_month=current,
        last_month=last,
        use_deal_probability=True,
        query=query,
        converter=converter,
    )
    matrix = won_matrix(user, query, converter, before=now)
    start = history_start(matrix)
    history_months = 0 if start is None else max(current - start, 0)
    rows = []
    methods = set()
    for offset in range(months):
        month = current + offset
        first_day = month_start(month)
        end = local_midnight(add_months(first_day, 1))
        won_to_date = sum(
            amount for (won_m, _), amount in matrix.items() if won_m == month
        )  # only the current month has any
        rate = RunRate(0.0, 0.0, "none")
        if start is not None and history_months:
            series = fresh_series(matrix, offset, start, current - 1)
            rate = run_rate(series, offset)
        # The share of the creation window [start of this month's cutoff month, end of the
        # target month] still ahead of `now`: new deals can only come from there.
        window_start = local_midnight(month_start(current))
        share = (end - now) / (end - window_start)
        fresh = rate.mean * share
        fresh_sd = rate.sd * share
        methods.add(rate.method)
        part = pipeline.get(month, PipelineMonth())
        total = Decimal(won_to_date) + part.learned + Decimal(fresh)
        sd = math.sqrt(part.variance + fresh_sd**2)
        low = max(Decimal(won_to_date), total - Decimal(Z90 * sd))
        high = total + Decimal(Z90 * sd)
        rows.append(
            {
                "month": f"{first_day:%Y-%m}",
                "won_to_date": converter.major(won_to_date),
                "open_deals": part.deals,
                "pipeline_value": converter.major(part.value),
                "nominal_weighted": _money(converter, part.nominal),
                "expected_from_pipeline": _money(converter, part.learned),
                "run_rate": _money(converter, fresh),
                "run_rate_method": rate.method,
                "projected": _money(converter, total),
                "low": _money(converter, low),
                "high": _money(converter, high),
            }
        )
    return {
        "currency": converter.quote,
        "as_of": now,
        "history_months": history_months,
        "run_rate_method": "holt_winters"
        if methods == {"holt_winters"}
        else ("trailing_mean" if "trailing_mean" in methods else "none"),
        "note": None
        if history_months >= HW_MIN_MONTHS
        else f"Only {history_months} months of history (Holt-Winters needs {HW_MIN_MONTHS}):"
        " the run-rate is the mean of the last 12 months.",
        "interval": "90%",
        "months": rows,
        "total": {
            key: sum((row[key] for row in rows), Decimal(0))
            for key in ("won_to_date", "expected_from_pipeline", "run_rate", "projected")
        },
        "beyond_horizon": {"deals": later["deals"], "value": converter.major(later["value"])},
        "probabilities": learned.as_rows(),
    }
