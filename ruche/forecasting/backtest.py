"""The projection's backtest (docs/metrics.md, "Backtest").

At the first day of each of the last N complete months (local midnight), it rebuilds what was
known then from the history (a deal's status from its last won/lost/reopened change record
before the cutoff, its stage from its last stage entry before it, probabilities learned only
from deals closed before it, the run-rate fitted only on months before it) and forecasts:

- the month that starts at the cutoff;
- at each fiscal quarter's first day, the quarter.

Each method is compared with the revenue actually won in that month or quarter:

- nominal: the open deals expected to close in the period x their stage's nominal probability;
- learned: the same deals x the probabilities learned by stage and age;
- combined: learned + the run-rate of deals not yet created at the cutoff.

MAPE = mean over periods of |forecast - actual| / actual x 100 (periods with no revenue won are
left out).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from ruche.forecasting.metrics import Converter
from ruche.forecasting.periods import fiscal_start_month, month_index
from ruche.forecasting.projection import (
    LOOKBACK_MONTHS,
    MIN_SAMPLE,
    local_midnight,
    month_start,
    new_deals,
    open_pipeline,
    snapshots,
)

METHODS = ("nominal", "learned", "combined")


def _round(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _mape(rows: list[dict], method: str) -> Decimal | None:
    errors = [abs(row[method] - row["actual"]) / row["actual"] for row in rows if row["actual"] > 0]
    if not errors:
        return None
    return _round(100 * sum(errors) / len(errors))


def backtest(user=None, *, months: int = 12, today=None, min_sample: int = MIN_SAMPLE) -> dict:
    """Replay the last `months` complete months (the current one is left out)."""
    today = today or timezone.localdate()
    converter = Converter(None)
    history = new_deals(user, converter=converter)
    current = month_index(today)
    actual = {}
    for (won_m, _), amount in history.matrix.items():
        actual[won_m] = actual.get(won_m, 0) + amount
    offset = fiscal_start_month() - 1
    table = snapshots(user, current - months - LOOKBACK_MONTHS, current - 1)
    monthly, quarterly = [], []
    for cutoff_month in range(current - months, current):
        cutoff = local_midnight(month_start(cutoff_month))
        is_quarter = (cutoff_month - offset) % 3 == 0 and cutoff_month + 2 < current
        horizon = 3 if is_quarter else 1
        learned = table.learned(cutoff_month, horizon=horizon, min_sample=min_sample)
        pipeline, _ = open_pipeline(
            user,
            cutoff,
            learned,
            first_month=cutoff_month,
            last_month=cutoff_month + horizon - 1,
            converter=converter,
        )
        fresh, _, method = history.forecast(cutoff_month, horizon, with_spread=False)
        rows = []
        for h in range(horizon):
            month = cutoff_month + h
            part = pipeline.get(month)
            nominal = part.nominal if part else Decimal(0)
            learned_part = part.learned if part else Decimal(0)
            rows.append(
                {
                    "actual": Decimal(actual.get(month, 0)),
                    "nominal": nominal,
                    "learned": learned_part,
                    "combined": learned_part + Decimal(fresh[h]),
                }
            )
        label = f"{month_start(cutoff_month):%Y-%m}"
        monthly.append(_period_row(converter, label, rows[0], method))
        if is_quarter:
            total = {key: sum((row[key] for row in rows), Decimal(0)) for key in rows[0]}
            quarterly.append(_period_row(converter, f"{label} (3 months)", total, method))
    return {
        "currency": converter.quote,
        "as_of": today,
        "cutoffs": months,
        "history_start": None
        if history.first_month is None
        else f"{month_start(history.first_month):%Y-%m}",
        "mape": {
            "monthly": {m: _mape(monthly, m) for m in METHODS},
            "quarterly": {m: _mape(quarterly, m) for m in METHODS},
        },
        "monthly": [_public(row, converter) for row in monthly],
        "quarterly": [_public(row, converter) for row in quarterly],
    }


def _period_row(converter, label: str, values: dict, method: str) -> dict:
    return {"period": label, "run_rate_method": method, **values}


def _public(row: dict, converter: Converter) -> dict:
    out = {"period": row["period"], "run_rate_method": row["run_rate_method"]}
    for key in ("actual", *METHODS):
        out[key] = converter.major(int(row[key].to_integral_value(ROUND_HALF_UP)))
    for method in METHODS:
        out[f"{method}_error_percent"] = (
            None
            if row["actual"] <= 0
            else _round(100 * (row[method] - row["actual"]) / row["actual"])
        )
    return out
