"""Revenue projection, month by month (docs/metrics.md, "Revenue projection").

Three parts, each computed from GROUP BY rows (the snapshots of 24 months in one query), never
a loop over deals:

- won to date: revenue already won in the current month;
- the open pipeline weighted by win probabilities LEARNED from history: of the deals that were
  in stage S while aged A (age bucket) before the cutoff and had closed by then, the share won
  (`learned_probabilities`), spread over the months by the learned time to close (the
  share won k months later);
- a run-rate for deals not added yet (`NewDeals`): the deals to be added each month
  (Holt-Winters from statsmodels on the monthly counts, with at least 24 complete months; a
  trailing mean otherwise, stated) x the revenue won k months after its month per deal added,
  learned from the recent cohorts. The pipeline part covers the deals added before the
  cutoff, the run-rate those added after: nothing is counted twice.

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

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
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
SIMULATED_PATHS = 500  # of the creations' Holt-Winters model, for the run-rate's interval
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


def _snapshot_sources(user, query: MetricQuery, first: dt.datetime, last: dt.datetime):
    """The deals (visible, filtered) that may be open in [first, last), with their won
    month, and the stage entries that may be open in it: the snapshot query's two sources."""
    deals = (
        metric_deals(user, query)
        .filter(not_closed_before(first), add_time__lt=last)
        .values(
            deal_id=F("pk"),
            added=F("add_time"),
            closed=F("close_time"),
            won_month=Case(
                When(status="won", then=bucket_expression("won_time", "month", is_datetime=True))
            ),
        )
        .order_by()
    )
    entries = (
        StageEntry.objects.filter(Q(left_at__isnull=True) | Q(left_at__gte=first))
        .filter(entered_at__lt=last)
        .values(
            entry_deal_id=F("deal_id"),
            entry_stage_id=F("stage_id"),
            entry_entered=F("entered_at"),
            entry_left=F("left_at"),
        )
        .order_by()
    )
    return deals.query.sql_with_params(), entries.query.sql_with_params()


def _snapshot_sql(deals_sql: str, entries_sql: str, months: int) -> str:
    """One GROUP BY over (month, deal open then, its stage entry open then): counts by
    (month, stage, age bucket, month of the first win from then on). A deal's status at a
    month's first moment is read from its row unless it changed status more than once
    (`reworked`: reopened, or won then lost...): then from its last status change record
    before, and its first win after from the records too. A deal's stage entries never
    overlap (the service closes one before it opens the next). The last of `months` only
    bounds the wins: no snapshot is taken in it. CROSS JOIN: SQLite then reads the deals
    and entries once, the months for each (PostgreSQL plans it as it likes)."""
    q = connection.ops.quote_name
    record = q(ChangeRecord._meta.db_table)
    statuses = ", ".join(f"'{event}'" for event in STATUS_EVENTS)
    thresholds = [f"a{i}" for i in range(1, len(AGE_BUCKETS))]
    row = "(" + ", ".join(["%s"] * (2 + len(thresholds))) + ")"
    age = " ".join(f"WHEN d.added > m.{name} THEN {i}" for i, name in enumerate(thresholds))
    time = f"c.{q('time')}"
    history = f"FROM {record} c WHERE c.entity = 'deal' AND c.entity_id = d.deal_id AND"
    return f"""
    WITH months (idx, moment, {", ".join(thresholds)}) AS (
        VALUES {", ".join([row] * months)}
    ),
    reworked AS (
        SELECT entity_id FROM {record} WHERE entity = 'deal' AND event IN ({statuses})
        GROUP BY entity_id HAVING COUNT(*) > 1
    )
    SELECT m.idx, e.entry_stage_id, CASE {age} ELSE {len(thresholds)} END,
        CASE WHEN r.entity_id IS NULL THEN d.won_month ELSE (
            SELECT MAX(w.idx) FROM months w WHERE w.moment <= (
                SELECT MIN({time}) {history} c.event = 'won' AND {time} >= m.moment)
        ) END,
        COUNT(*)
    FROM ({deals_sql}) d
    JOIN ({entries_sql}) e ON e.entry_deal_id = d.deal_id
    CROSS JOIN months m
    LEFT JOIN reworked r ON r.entity_id = d.deal_id
    WHERE m.idx < (SELECT MAX(idx) FROM months)
        AND d.added < m.moment AND (d.closed IS NULL OR d.closed >= m.moment)
        AND e.entry_entered < m.moment AND (e.entry_left IS NULL OR e.entry_left >= m.moment)
        AND (r.entity_id IS NULL OR COALESCE((
            SELECT c.event {history} c.event IN ({statuses}) AND {time} < m.moment
            ORDER BY {time} DESC, c.id DESC LIMIT 1), 'reopened') = 'reopened')
    GROUP BY 1, 2, 3, 4
    """


def _month_row(month: int) -> list:
    """A row of the snapshot query's `months`: index, first moment, and the lower bounds of
    the add time of each age bucket (AGE_BUCKETS days before)."""
    moment = local_midnight(month_start(month))
    moments = [moment, *(moment - dt.timedelta(days=days) for days in AGE_BUCKETS[1:])]
    return [month, *(connection.ops.adapt_datetimefield_value(m) for m in moments)]


def snapshots(user, first_month: int, last_month: int, query: MetricQuery | None = None):
    """The Snapshots of months first_month..last_month, from one query (none before the
    first deal was added). A win after the last month is left out: no cutoff reading these
    snapshots knows it."""
    query = query or MetricQuery()
    table = Snapshots(nominal=dict(Stage.objects.values_list("pk", "deal_probability")))
    first_added = metric_deals(user, query).aggregate(first=Min("add_time"))["first"]
    if first_added is None:
        return table
    first_month = max(first_month, month_index(first_added.astimezone(local_tz()).date()) + 1)
    if first_month > last_month:
        return table
    months = range(first_month, last_month + 2)
    (deals_sql, deals_params), (entries_sql, entries_params) = _snapshot_sources(
        user,
        query,
        local_midnight(month_start(first_month)),
        local_midnight(month_start(last_month + 1)),
    )
    params = [value for month in months for value in _month_row(month)]
    with connection.cursor() as cursor:
        cursor.execute(
            _snapshot_sql(deals_sql, entries_sql, len(months)),
            [*params, *deals_params, *entries_params],
        )
        rows = cursor.fetchall()
    for month, stage_id, age, won_month, n in rows:
        cell = (month, stage_id, age)
        table.open[cell] = table.open.get(cell, 0) + n
        if won_month is not None and won_month <= last_month:
            key = (*cell, int(won_month) - month)  # PostgreSQL: a Decimal
            table.won[key] = table.won.get(key, 0) + n
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


# Run-rate: deals not yet created ----------------------------------------------------------------


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


def created_counts(
    user, query: MetricQuery | None = None, *, before: dt.datetime | None = None
) -> dict[int, int]:
    """{month: deals added that month} (before `before`): one GROUP BY."""
    deals = metric_deals(user, query or MetricQuery())
    if before is not None:
        deals = deals.filter(add_time__lt=before)
    return dict(
        deals.annotate(month=bucket_expression("add_time", "month", is_datetime=True))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("month", "n")
    )


@dataclass
class Forecast:
    """Per future month, the expected deals added; their spread from simulated paths
    (repetitions x months) or, without, a standard deviation `sd` per month, independent."""

    mean: list[float]
    method: str
    paths: object = None
    sd: float = 0.0

    def spread(self, mixing):
        """The standard deviation of (deals added per month) @ mixing, per column."""
        import numpy as np

        if self.paths is not None:
            return np.std(self.paths @ mixing, axis=0)
        return self.sd * np.sqrt((mixing**2).sum(axis=0))


def creations_forecast(series: list[float], months: int, *, with_spread: bool) -> Forecast:
    """The deals to be added in each of the `months` months after the series: Holt-Winters
    (additive damped trend, multiplicative yearly seasonality: the seasonal swing grows with
    the flow) when the series has HW_MIN_MONTHS months, none empty, its spread from
    SIMULATED_PATHS paths of the fitted model; otherwise the mean of the last 12 months and
    their standard deviation."""
    import numpy as np

    if len(series) < HW_MIN_MONTHS or min(series) <= 0:
        recent = np.asarray(series[-12:], dtype=float)
        if not recent.size:
            return Forecast([0.0] * months, "none")
        return Forecast([float(recent.mean())] * months, "trailing_mean", sd=float(recent.std()))
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            np.asarray(series, dtype=float),
            trend="add",
            damped_trend=True,
            seasonal="mul",
            seasonal_periods=12,
            initialization_method="estimated",
        ).fit()
        mean = np.maximum(np.asarray(fit.forecast(months)), 0.0)
        paths = None
        if with_spread:
            simulated = fit.simulate(
                months, repetitions=SIMULATED_PATHS, error="add", anchor="end", random_state=42
            )
            paths = np.asarray(simulated).reshape(months, SIMULATED_PATHS).T
    return Forecast([float(x) for x in mean], "holt_winters", paths)


@dataclass
class NewDeals:
    """Revenue won from deals added after a cutoff (month c): Σ_j C(c + j) x R_(h - j) for
    the month c + h, C the deals added in a month (forecast), R_k the revenue won k months
    after the month a deal was added, per deal added (learned). The pipeline part covers
    the deals added before the cutoff, so nothing is counted twice."""

    matrix: dict  # won_matrix
    created: dict[int, int]  # created_counts

    @property
    def first_month(self) -> int | None:
        """The first complete month: the one after the first deal's (history starts within it)."""
        return min(self.created) + 1 if self.created else None

    def conversion(self, cutoff_month: int, horizon: int) -> list[float]:
        """R_k for k < horizon, over the LOOKBACK_MONTHS cohorts (complete months) whose
        month + k was over before `cutoff_month`."""
        rates = []
        for k in range(horizon):
            cohorts = range(
                max(self.first_month, cutoff_month - k - LOOKBACK_MONTHS), cutoff_month - k
            )
            added = sum(self.created.get(month, 0) for month in cohorts)
            won = sum(self.matrix.get((month + k, month), 0) for month in cohorts)
            rates.append(won / added if added else 0.0)
        return rates

    def residual_sd(self, cutoff_month: int, rates: list[float]) -> list[float]:
        """Per lag h, the spread of the revenue around Σ_j C R with the actual C, over the
        cohort months: what knowing the creations exactly would still leave."""
        sds = []
        for h in range(len(rates)):
            months = range(max(self.first_month + h, cutoff_month - LOOKBACK_MONTHS), cutoff_month)
            squares = [
                (self._won_from_recent(month, h) - self._expected(month, h, rates)) ** 2
                for month in months
            ]
            sds.append(math.sqrt(sum(squares) / len(squares)) if squares else 0.0)
        return sds

    def _won_from_recent(self, month: int, h: int) -> float:
        return sum(self.matrix.get((month, month - lag), 0) for lag in range(h + 1))

    def _expected(self, month: int, h: int, rates: list[float]) -> float:
        return sum(self.created.get(month - lag, 0) * rates[lag] for lag in range(h + 1))

    def forecast(
        self, cutoff_month: int, horizon: int, *, first_share: float = 1.0, with_spread: bool
    ) -> tuple[list[float], list[float], str]:
        """Per month cutoff_month + h (h < horizon): the expected revenue from deals still to
        be added, its standard deviation (0 without `with_spread`) and the creations' method.
        `first_share`: the part of the cutoff's month whose deals are still to be added."""
        import numpy as np

        if self.first_month is None or self.first_month >= cutoff_month:
            return [0.0] * horizon, [0.0] * horizon, "none"
        series = [self.created.get(m, 0) for m in range(self.first_month, cutoff_month)]
        creations = creations_forecast(series, horizon, with_spread=with_spread)
        rates = self.conversion(cutoff_month, horizon)
        # mixing[j, h]: the revenue in month h per deal added in month j.
        mixing = np.zeros((horizon, horizon))
        for j in range(horizon):
            mixing[j, j:] = rates[: horizon - j]
        mixing[0] *= first_share
        mean = (np.asarray(creations.mean) @ mixing).tolist()
        if not with_spread:
            return mean, [0.0] * horizon, creations.method
        from_creations = creations.spread(mixing)
        from_conversion = np.asarray(self.residual_sd(cutoff_month, rates))
        sd = np.sqrt(from_creations**2 + from_conversion**2).tolist()
        return mean, sd, creations.method


def new_deals(
    user,
    query: MetricQuery | None = None,
    converter: Converter | None = None,
    *,
    before: dt.datetime | None = None,
) -> NewDeals:
    return NewDeals(
        won_matrix(user, query, converter, before=before),
        created_counts(user, query, before=before),
    )


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
    history = new_deals(user, query, converter, before=now)
    history_months = max(current - history.first_month, 0) if history.created else 0
    month_begins = local_midnight(month_start(current))
    month_ends = local_midnight(month_start(current + 1))
    fresh, fresh_sd, method = history.forecast(
        current,
        months,
        first_share=(month_ends - now) / (month_ends - month_begins),
        with_spread=True,
    )
    rows = []
    for offset in range(months):
        month = current + offset
        first_day = month_start(month)
        won_to_date = sum(
            amount for (won_m, _), amount in history.matrix.items() if won_m == month
        )  # only the current month has any
        part = pipeline.get(month, PipelineMonth())
        total = Decimal(won_to_date) + part.learned + Decimal(fresh[offset])
        # The two parts' errors add up, not in quadrature: both are won in the same calendar
        # month, and a slow month slows both (on the demo data, in quadrature, the 90%
        # interval held 79% of the backtested months; added, 91%).
        sd = math.sqrt(part.variance) + fresh_sd[offset]
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
                "run_rate": _money(converter, fresh[offset]),
                "run_rate_method": method,
                "projected": _money(converter, total),
                "low": _money(converter, low),
                "high": _money(converter, high),
            }
        )
    return {
        "currency": converter.quote,
        "as_of": now,
        "history_months": history_months,
        "run_rate_method": method,
        "note": None
        if method == "holt_winters"
        else f"Only {history_months} months of history (Holt-Winters needs {HW_MIN_MONTHS}"
        " with deals added every month): the run-rate uses the mean of the last 12 months.",
        "interval": "90%",
        "months": rows,
        "total": {
            key: sum((row[key] for row in rows), Decimal(0))
            for key in ("won_to_date", "expected_from_pipeline", "run_rate", "projected")
        },
        "beyond_horizon": {"deals": later["deals"], "value": converter.major(later["value"])},
        "probabilities": learned.as_rows(),
    }
