"""What it takes (funnel math), from the history of stage moves over a window.

For one pipeline: each stage's conversion to the next stage and to won, and the days from
entering it to winning (stage_conversion and the stage entries); then, for a target (a number
of deals won, or an amount such as the quota gap, divided by the average won deal value), how
many deals each stage needs now, how many new leads are needed and by when, whether the open
pipeline can reach the target, and where deals stall. Every figure comes from a GROUP BY; the
arithmetic on the per-stage rows is exact (integers and Decimals).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.db.models import Count
from django.utils import timezone

from ruche.core.exceptions import ValidationError
from ruche.core.money import to_minor
from ruche.forecasting.metrics import (
    MetricQuery,
    _in_days,
    metric,
    metric_deals,
    stage_conversion_totals,
    won_totals,
)
from ruche.pipelines.models import Deal, Stage
from ruche.pipelines.selectors import pipeline_list


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _percent(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


def funnel(
    user,
    query: MetricQuery,
    *,
    target_deals: int | None = None,
    target_amount=None,
    deadline: dt.date | None = None,
    today: dt.date | None = None,
) -> dict:
    """The funnel of `query.pipeline_id` (the first pipeline when None) over the window
    [query.date_from, query.date_to], and what a target takes."""
    query = query.validated()
    if query.group_by or query.interval:
        raise ValidationError({"group_by": "The funnel is neither grouped nor split by period."})
    if target_deals is not None and target_amount is not None:
        raise ValidationError({"target_deals": "Give target_deals or target_amount, not both."})
    if target_deals is not None and (isinstance(target_deals, bool) or target_deals < 1):
        raise ValidationError({"target_deals": "At least 1."})
    pipeline = (
        pipeline_list().filter(pk=query.pipeline_id).first()
        if query.pipeline_id is not None
        else pipeline_list().first()
    )
    if pipeline is None:
        raise ValidationError({"pipeline_id": f"No such pipeline: {query.pipeline_id}."})
    query = replace(query, pipeline_id=pipeline.pk, stage_id=None)
    today = today or timezone.localdate()

    stages = list(
        Stage.objects.filter(pipeline=pipeline, is_deleted=False).order_by("order_nr", "id")
    )
    # One pass over the window's entries: conversion, and the days from each stage to the win.
    totals = stage_conversion_totals(user, query)
    conversion = {stage: v for (_, _, stage), v in totals.items()}
    stay = {r["stage_id"]: r["average_days"] for r in metric(user, "time_in_stage", query).rows}
    to_close = {
        stage: _in_days(v["to_won"]) / v["won_entries"]
        for stage, v in conversion.items()
        if v["won_entries"]
    }
    open_now = dict(
        metric_deals(user, replace(query, date_from=None, date_to=None))
        .filter(status=Deal.Status.OPEN)
        .values("stage_id")
        .annotate(n=Count("pk"))
        .values_list("stage_id", "n")
    )
    converter, won = won_totals(user, query)
    won_deals = sum(v["deals"] for v in won.values())
    won_amount = sum(v["amount"] for v in won.values())
    average_minor = (
        None
        if not won_deals
        else int((Decimal(won_amount) / won_deals).to_integral_value(ROUND_HALF_UP))
    )

    # The target in deals won.
    needed_won = target_deals
    if target_amount is not None:
        amount_minor = to_minor(target_amount, converter.quote, field="target_amount")
        if amount_minor <= 0:
            raise ValidationError({"target_amount": "A positive amount is expected."})
        if not average_minor:
            raise ValidationError(
                {"target_amount": "No deal won in the window: the average deal value is unknown."}
            )
        needed_won = _ceil_div(amount_minor, average_minor)

    rows = []
    expected_wins = Decimal(0)
    for stage in stages:
        c = conversion.get(stage.pk, {"entered": 0, "reached_next": 0, "won": 0})
        entered, won_from = c["entered"], c["won"]
        open_here = open_now.get(stage.pk, 0)
        if entered:
            expected_wins += Decimal(open_here * won_from) / entered
        row = {
            "stage_id": stage.pk,
            "name": stage.name,
            "entered": entered,
            "reached_next": c["reached_next"],
            "won": won_from,
            "next_rate": _percent(c["reached_next"], entered),
            "won_rate": _percent(won_from, entered),
            "average_days_in_stage": stay.get(stage.pk),
            "days_to_close": None
            if stage.pk not in to_close
            else to_close[stage.pk].quantize(Decimal("0.1"), ROUND_HALF_UP),
            "open_now": open_here,
        }
        if needed_won is not None:
            needed = _ceil_div(needed_won * entered, won_from) if won_from else None
            row["needed_now"] = needed
            row["shortfall"] = None if needed is None else max(needed - open_here, 0)
        rows.append(row)

    result = {
        "pipeline_id": pipeline.pk,
        "window": {"from": query.date_from, "to": query.date_to},
        "currency": converter.quote,
        "won_in_window": won_deals,
        "average_deal_value": None if average_minor is None else converter.major(average_minor),
        "open_deals": sum(open_now.get(stage.pk, 0) for stage in stages),
        "expected_wins_from_open": expected_wins.quantize(Decimal("0.01"), ROUND_HALF_UP),
        "stages": rows,
        "stall": _stall(rows),
    }
    if needed_won is not None:
        result["target"] = _target(result, rows, needed_won, expected_wins, deadline, today)
    return result


def _stall(rows: list[dict]) -> dict:
    """The stage with the longest average stay, and the one with the largest drop-off (the
    lowest share of entries reaching the next stage), among stages with history."""
    with_stay = [r for r in rows if r["average_days_in_stage"] is not None]
    with_rate = [r for r in rows if r["next_rate"] is not None]
    longest = max(with_stay, key=lambda r: r["average_days_in_stage"], default=None)
    drop = min(with_rate, key=lambda r: r["next_rate"], default=None)
    return {
        "longest_stay_stage_id": None if longest is None else longest["stage_id"],
        "longest_stay_days": None if longest is None else longest["average_days_in_stage"],
        "largest_drop_off_stage_id": None if drop is None else drop["stage_id"],
        "largest_drop_off_percent": None if drop is None else Decimal(100) - drop["next_rate"],
    }


def _target(result, rows, needed_won, expected_wins, deadline, today) -> dict:
    """How many new leads the target needs beyond what the open deals should bring, by when,
    and the shortfall alert."""
    first = next((r for r in rows if r["entered"]), None)
    missing = Decimal(needed_won) - expected_wins
    leads = None
    if missing > 0 and first is not None and first["won"]:
        leads = int((missing * first["entered"] / first["won"]).to_integral_value(ROUND_CEILING))
    add_by = None
    if leads and deadline is not None and first["days_to_close"] is not None:
        add_by = deadline - dt.timedelta(
            days=int(first["days_to_close"].to_integral_value(ROUND_CEILING))
        )
    opportunities_needed = (
        _ceil_div(needed_won * first["entered"], first["won"])
        if first is not None and first["won"]
        else None
    )
    alert = None
    if missing > 0:
        have = result["open_deals"]
        if opportunities_needed is not None and have < opportunities_needed:
            alert = (
                f"{have} opportunities in the pipeline, {opportunities_needed} needed: "
                "lead generation is the bottleneck"
            )
        else:
            stage = result["stall"]["largest_drop_off_stage_id"]
            name = next((r["name"] for r in rows if r["stage_id"] == stage), "?")
            alert = (
                f"The open pipeline should bring {result['expected_wins_from_open']} of "
                f"{needed_won} deals: conversion at {name} is the bottleneck"
            )
    return {
        "deals_to_win": needed_won,
        "opportunities_needed": opportunities_needed,
        "new_leads_needed": leads or 0,
        "add_leads_by": add_by,
        "late": add_by is not None and add_by < today,
        "shortfall_alert": alert,
    }
