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
from itertools import pairwise

from django.db.models import (
    Case,
    Count,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from ruche.core.models import ChangeRecord
from ruche.forecasting.metrics import (
    Converter,
    MetricQuery,
    _rate_from,
    converted_totals,
    metric_deals,
)
from ruche.forecasting.periods import (
    add_months,
    bucket_expression,
    local_tz,
    month_index,
)
from ruche.pipelines.models import Stage, StageEntry

# Age buckets in days since the deal was added: [0, 15), [15, 30), ..., [365, ...).
AGE_BUCKETS = (0, 15, 30, 60, 90, 180, 365)
AGE_LABELS = (
    *(f"{lo}-{hi - 1} days" for lo, hi in pairwise(AGE_BUCKETS)),
    f"{AGE_BUCKETS[-1]}+ days",
)
MIN_SAMPLE = 20  # deal-snapshots a (stage, age) cell needs before its own rates are used
LOOKBACK_MONTHS = 24  # monthly snapshots the rates are learned from
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


def not_closed_before(moment: dt.datetime, prefix: str = "") -> Q:
    """A cheap first filter: `close_time` is the last close (reopening clears it), so a deal
    closed before `moment` and not since was not open at it. The history decides the rest."""
    return Q(**{f"{prefix}close_time__isnull": True}) | Q(**{f"{prefix}close_time__gte": moment})


def open_deals_at(user, cutoff: dt.datetime, query: MetricQuery | None = None):
    """The deals added before `cutoff` and open at it, with `stage_then`, their stage then."""
    deals = metric_deals(user, query or MetricQuery()).filter(
        not_closed_before(cutoff), add_time__lt=cutoff
    )
    return deals.annotate(status_then=status_at(cutoff), stage_then=stage_at(cutoff)).filter(
        Q(status_then__isnull=True) | Q(status_then=ChangeRecord.Event.REOPENED),
        stage_then__isnull=False,
    )


def age_bucket_at(cutoff: dt.datetime, column: str = "add_time") -> Case:
    """The deal's age bucket at `cutoff` (an index into AGE_BUCKETS)."""
    whens = [
        When(**{f"{column}__gt": cutoff - dt.timedelta(days=hi)}, then=Value(i))
        for i, hi in enumerate(AGE_BUCKETS[1:])
    ]
    return Case(*whens, default=Value(len(AGE_BUCKETS) - 1), output_field=IntegerField())


def first_won_from(moment: dt.datetime, ref: str = "deal_id") -> Subquery:
    """The time of the deal's first `won` change record at or after `moment`."""
    return Subquery(
        ChangeRecord.objects.filter(
            entity="deal", entity_id=OuterRef(ref), event=ChangeRecord.Event.WON, time__gte=moment
        )
        .order_by("time", "id")
        .values("time")[:1]
    )


# Learned probabilities --------------------------------------------------------------------------


@dataclass
class Snapshots:
    """The open pipeline at each month's first day, read from the history: per (month, stage,
    age bucket) the deals open then, and per (month, stage, age bucket, k) how many of them
    were won k months later (k = 0: during that month)."""

    open: dict[tuple[int, int, int], int] = field(default_factory=dict)
    won: dict[tuple[int, int, int, int], int] = field(default_factory=dict)
    nominal: dict[int, int] = field(default_factory=dict)

    def learned(
        self, cutoff_month: int, *, horizon: int = HORIZON, min_sample: int = MIN_SAMPLE
    ) -> Learned:
        """The rates known at `cutoff_month`'s first day: for offset k, only the snapshots
        of months s with s + k < cutoff_month (the month of the outcome was over), among
        the last LOOKBACK_MONTHS."""
        first = cutoff_month - LOOKBACK_MONTHS
        learned = Learned(nominal=self.nominal, horizon=horizon, min_sample=min_sample)
        for (month, stage_id, bucket), n in self.open.items():
            for k in range(horizon):
                if first <= month < cutoff_month - k:
                    learned.add_trials((stage_id, bucket), k, n)
        for (month, stage_id, bucket, k), n in self.won.items():
            if k < horizon and first <= month < cutoff_month - k:
                learned.add_wins((stage_id, bucket), k, n)
        return learned


@dataclass
class Learned:
    """Per (stage, age bucket) cell and per stage over every age (bucket None): for each
    month offset k, deal-snapshots seen (trials) and how many were won in month k."""

    nominal: dict[int, int] = field(default_factory=dict)
    horizon: int = HORIZON
    min_sample: int = MIN_SAMPLE
    trials: dict[tuple, list[int]] = field(default_factory=dict)
    wins: dict[tuple, list[int]] = field(default_factory=dict)

    def _row(self, table: dict, key: tuple) -> list[int]:
        return table.setdefault(key, [0] * self.horizon)

    def add_trials(self, cell: tuple[int, int], k: int, n: int) -> None:
        for key in (cell, (cell[0], None)):
            self._row(self.trials, key)[k] += n

    def add_wins(self, cell: tuple[int, int], k: int, n: int) -> None:
        for key in (cell, (cell[0], None)):
            self._row(self.wins, key)[k] += n

    def rates(self, stage_id: int, bucket: int) -> tuple[list[Decimal] | None, str]:
        """P(won in month k | open in the stage at that age) for k = 0..horizon-1, from the
        cell when it has `min_sample` deal-snapshots, else from the stage over every age;
        None (use the nominal probability) when the stage has too few either."""
        for key, rule in (((stage_id, bucket), "stage_age"), ((stage_id, None), "stage")):
            trials = self.trials.get(key)
            if trials and trials[0] >= self.min_sample:
                wins = self.wins.get(key, [0] * self.horizon)
                return [
                    Decimal(w) / t if t else Decimal(0) for w, t in zip(wins, trials, strict=True)
                ], rule
        return None, "nominal"

    def as_rows(self) -> list[dict]:
        rows = []
        for (stage_id, bucket), trials in sorted(
            (key, value) for key, value in self.trials.items() if key[1] is not None
        ):
            rates, rule = self.rates(stage_id, bucket)
            within = sum(rates) if rates else Decimal(self.nominal.get(stage_id, 0)) / 100
            rows.append(
                {
                    "stage_id": stage_id,
                    "age": AGE_LABELS[bucket],
                    "snapshots": trials[0],
                    "probability": (100 * within).quantize(Decimal("0.01"), ROUND_HALF_UP),
                    "rule": rule,
                }
            )
        return rows


def _snapshot_rows(user, month: int, query: MetricQuery) -> list[dict]:
    """One GROUP BY over the stage entries open at the month's first day of the deals open
    then: (stage, age bucket, month of the first win from then on, None if none) -> deals."""
    moment = local_midnight(month_start(month))
    deals = metric_deals(user, query).filter(not_closed_before(moment), add_time__lt=moment)
    entries = (
        StageEntry.objects.filter(deal__in=deals.values("pk"), entered_at__lt=moment)
        .filter(Q(left_at__isnull=True) | Q(left_at__gte=moment))
        .annotate(status_then=status_at(moment, "deal_id"), won_at=first_won_from(moment))
        .filter(Q(status_then__isnull=True) | Q(status_then=ChangeRecord.Event.REOPENED))
    )
    return list(
        entries.annotate(
            age=age_bucket_at(moment, "deal__add_time"),
            won_month=bucket_expression("won_at", "month", is_datetime=True),
        )
        .values("stage_id", "age", "won_month")
        .annotate(n=Count("deal_id", distinct=True))
        .order_by()
    )


def snapshots(user, first_month: int, last_month: int, query: MetricQuery | None = None):
    """The Snapshots of months first_month..last_month (one query each, none before the
    first deal was added)."""
    query = query or MetricQuery()
    table = Snapshots(nominal=dict(Stage.objects.values_list("pk", "deal_probability")))
    first_added = metric_deals(user, query).aggregate(first=Min("add_time"))["first"]
    if first_added is None:
        return table
    first_month = max(first_month, month_index(first_added.astimezone(local_tz()).date()) + 1)
    for month in range(first_month, last_month + 1):
        for row in _snapshot_rows(user, month, query):
            cell = (month, row["stage_id"], row["age"])
            table.open[cell] = table.open.get(cell, 0) + row["n"]
            if row["won_month"] is not None:
                key = (*cell, row["won_month"] - month)
                table.won[key] = table.won.get(key, 0) + row["n"]
    return table


def learned_probabilities(
    user,
    cutoff: dt.datetime,
    *,
    horizon: int = HORIZON,
    min_sample: int = MIN_SAMPLE,
    query: MetricQuery | None = None,
) -> Learned:
    """The learned rates as of `cutoff`, from the snapshots of the LOOKBACK_MONTHS months
    before its month."""
    month = month_index(cutoff.astimezone(local_tz()).date())
    table = snapshots(user, month - LOOKBACK_MONTHS, month - 1, query)
    return table.learned(month, horizon=horizon, min_sample=min_sample)


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
    """{month index: PipelineMonth} of the deals open at `cutoff`. Deals, value and the
    nominal weighting go by expected close month (none or overdue: `first_month`; later than
    `last_month`: left out, counted in the second result); the learned part spreads each
    deal over the months by its cell's rates of winning k months after `first_month`. A
    cutoff within the first month keeps only the share of its rate for the days left."""
    converter = converter or Converter(query.currency if query else None)
    day = cutoff.astimezone(local_tz()).date()
    month_begins = local_midnight(month_start(first_month))
    month_ends = local_midnight(month_start(first_month + 1))
    first_share = Decimal((month_ends - cutoff) / (month_ends - month_begins))
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
        nominal = learned.nominal.get(row["stage_then"], 0)
        if use_deal_probability and row["probability"] is not None:
            nominal = row["probability"]
        rates, _ = learned.rates(row["stage_then"], row["age"])
        if rates is None:  # too little history: the nominal probability, by close month
            rates = [Decimal(0)] * learned.horizon
            if month - first_month < learned.horizon:
                rates[month - first_month] = Decimal(nominal) / 100
        else:
            rates = [rates[0] * first_share, *rates[1:]]
        scale = value / row["value"] if row["value"] else 0
        squared = (row["sq"] or 0.0) * scale * scale
        for k in range(min(learned.horizon, last_month - first_month + 1)):
            target = months[first_month + k]
            target.learned += value * rates[k]
            target.variance += float(rates[k] * (1 - rates[k])) * squared
        if month > last_month:
            later["deals"] += row["n"]
            later["value"] += value
            continue
        target = months[month]
        target.deals += row["n"]
        target.value += value
        target.nominal += Decimal(value * nominal) / 100
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
    merged = converted_totals(won, keys=keys, day_field="won_time", converter=converter)
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
    learned = learned_probabilities(user, now, horizon=months, min_sample=min_sample, query=query)
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
