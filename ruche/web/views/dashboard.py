"""The dashboard: KPI tiles, the funnel, won revenue per month, a leaderboard and the sales
grid per salesperson, all computed by ruche.forecasting.metrics.metric, the same entry point
as GET /api/v2/metrics/{indicator}, so the page shows exactly the API's numbers for the same
filters. The 12-month projection and its backtested error come from the latest cached run
(ruche.forecasting.projection_runs, computed by a background job), never per request."""

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from ruche.accounts.models import Team
from ruche.core.exceptions import RucheError
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.periods import company_cached
from ruche.forecasting.projection_runs import latest_run, request_run
from ruche.pipelines.selectors import pipeline_list, stage_list
from ruche.web import formatting
from ruche.web.filters import DealFilters
from ruche.web.views.common import error_text, int_or_none, web_view

CHART_MONTHS = 24
LEADERBOARD_SIZE = 10
GRID_INTERVALS = ("month", "quarter")


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_back(day: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - count
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class DashboardFilters:
    date_from: dt.date
    date_to: dt.date
    pipeline_id: int | None
    owner_id: int | None
    team_id: int | None
    grid: str
    errors: dict

    @classmethod
    def from_params(cls, params, today: dt.date) -> "DashboardFilters":
        errors = {}
        days = {}
        for name, default in (("from", today.replace(day=1)), ("to", month_end(today))):
            text = (params.get(name) or "").strip()
            try:
                days[name] = dt.date.fromisoformat(text) if text else default
            except ValueError:
                errors[name] = (
                    _("From: enter a valid date (YYYY-MM-DD).")
                    if name == "from"
                    else _("To: enter a valid date (YYYY-MM-DD).")
                )
                days[name] = default
        if not errors and days["from"] > days["to"]:
            errors["to"] = _("To: the end of the period is before its start.")
        grid = params.get("grid") or "month"
        if grid not in GRID_INTERVALS:
            errors["grid"] = _("Sales grid: by month or by quarter.")
            grid = "month"
        return cls(
            date_from=days["from"],
            date_to=days["to"],
            pipeline_id=int_or_none(params.get("pipeline")),
            owner_id=int_or_none(params.get("owner")),
            team_id=int_or_none(params.get("team")),
            grid=grid,
            errors=errors,
        )

    def query(self, **overrides) -> MetricQuery:
        values = {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "pipeline_id": self.pipeline_id,
            "owner_id": self.owner_id,
            "team_id": self.team_id,
        }
        return MetricQuery(**(values | overrides))


def _single(user, indicator: str, query: MetricQuery) -> tuple[dict, str | None]:
    """The one row of an ungrouped, un-bucketed indicator ({} when nothing matched)."""
    result = metric(user, indicator, query)
    return (result.rows[0] if result.rows else {}), result.currency


def kpis(user, filters: DashboardFilters) -> list[dict]:
    query = filters.query()
    won, currency = _single(user, "won_revenue", query)
    expected, expected_currency = _single(user, "expected_revenue", query)
    conversion, _currency = _single(user, "conversion_rate", query)
    average, _currency = _single(user, "average_deal_value", query)
    # The MRR at the end of the period is its last month's: asked for that month alone, MRR
    # ranks no other month's changes.
    recurring = metric(user, "mrr", replace(query, date_from=filters.date_to.replace(day=1)))
    mrr = recurring.rows[-1]["mrr"] if recurring.rows else 0
    return [
        {
            "key": "deals_won",
            "label": _("Deals won"),
            "text": formatting.number(won.get("deals", 0)),
        },
        {
            "key": "won_revenue",
            "label": _("Won revenue"),
            "text": formatting.major_money(won.get("amount", 0), currency),
        },
        {
            "key": "expected_revenue",
            "label": _("Expected revenue"),
            "text": formatting.major_money(expected.get("amount", 0), expected_currency),
        },
        {
            "key": "conversion_rate",
            "label": _("Conversion rate"),
            "text": formatting.percent(conversion.get("rate")) or "—",
        },
        {
            "key": "average_deal_value",
            "label": _("Average deal value"),
            "text": formatting.major_money(average.get("average"), currency) or "—",
        },
        {
            "key": "mrr",
            "label": _("MRR at the end of the period"),
            "text": formatting.major_money(mrr, recurring.currency),
        },
    ]


def funnel(user, filters: DashboardFilters, pipeline) -> list[dict]:
    """The open deals of `pipeline` per stage (any expected close date), each stage linking to
    the deals list filtered the same way."""
    if pipeline is None:
        return []
    result = metric(
        user,
        "pipeline",
        filters.query(date_from=None, date_to=None, pipeline_id=pipeline.pk, group_by="stage"),
    )
    by_stage = {row["group"]: row for row in result.rows}
    stages = list(stage_list(pipeline.pk).order_by("order_nr", "id"))
    widest = max((row["deals"] for row in by_stage.values()), default=0) or 1
    rows = []
    for stage in stages:
        row = by_stage.get(stage.pk, {})
        deals = row.get("deals", 0)
        link = DealFilters(
            owner_id=filters.owner_id,
            team_id=filters.team_id,
            status="open",
            pipeline_id=pipeline.pk,
            stage_id=stage.pk,
        ).querystring()
        rows.append(
            {
                "stage": stage,
                "deals": deals,
                "value": formatting.major_money(row.get("value", 0), result.currency),
                "width": round(100 * deals / widest),
                "link": link,
            }
        )
    return rows


def monthly_won(user, filters: DashboardFilters, today: dt.date) -> dict:
    """Won revenue per month over the last 24 months (this one included), zeros filled in."""
    start = months_back(today, CHART_MONTHS - 1)
    result = metric(
        user,
        "won_revenue",
        filters.query(date_from=start, date_to=month_end(today), interval="month"),
    )
    amounts = {row["period_start"]: row["amount"] for row in result.rows}
    months = [months_back(today, n) for n in range(CHART_MONTHS - 1, -1, -1)]
    return {
        "labels": [formatting.month(day) for day in months],
        "amounts": [float(amounts.get(day, 0)) for day in months],
        "texts": [formatting.major_money(amounts.get(day, 0), result.currency) for day in months],
        "label": _("Won revenue"),
    }


def _users(ids, known: dict) -> dict:
    """The users by id: those already loaded for the filters, one query for the others
    (owners no longer active)."""
    missing = {pk for pk in ids if pk is not None and pk not in known}
    extra = get_user_model().objects.in_bulk(missing) if missing else {}
    return {pk: known.get(pk) or extra.get(pk) for pk in ids if pk is not None}


def leaderboard(user, filters: DashboardFilters, known: dict) -> list[dict]:
    result = metric(user, "won_revenue", filters.query(group_by="owner"))
    rows = sorted(result.rows, key=lambda row: (-row["amount"], -row["deals"], row["group"]))
    rows = rows[:LEADERBOARD_SIZE]
    users = _users([row["group"] for row in rows], known)
    return [
        {
            "owner": users.get(row["group"]),
            "deals": row["deals"],
            "amount": formatting.major_money(row["amount"], result.currency),
        }
        for row in rows
    ]


def sales_grid(user, filters: DashboardFilters, known: dict) -> dict:
    """Per salesperson and month (or quarter) of the period: deals won and their value, and
    the open deals expected to close then and their value; two GROUP BY queries."""
    query = filters.query(group_by="owner", interval=filters.grid)
    won = metric(user, "won_revenue", query)
    pipe = metric(user, "pipeline", query)
    cells: dict = {}
    periods: dict = {}
    for kind, result in (("won", won), ("open", pipe)):
        for row in result.rows:
            if row["period_start"] is None:
                continue
            periods[row["period_start"]] = row["period_label"]
            cells[(row["group"], row["period_start"], kind)] = row
    owners = _users({owner for owner, _start, _kind in cells}, known)
    starts = sorted(periods)

    def cell(owner_id, start, kind, count_key, amount_key, currency):
        row = cells.get((owner_id, start, kind))
        if row is None:
            return {"count": 0, "text": "—"}
        return {"count": row[count_key], "text": formatting.major_money(row[amount_key], currency)}

    rows = [
        {
            "owner": owners.get(owner_id),
            "cells": [
                {
                    "won": cell(owner_id, start, "won", "deals", "amount", won.currency),
                    "open": cell(owner_id, start, "open", "deals", "value", pipe.currency),
                }
                for start in starts
            ],
        }
        for owner_id in sorted(owners, key=lambda pk: (str(owners[pk]).lower(), pk))
    ]
    return {"periods": [periods[start] for start in starts], "rows": rows}


def _money_text(value, currency: str) -> str:
    return formatting.major_money(Decimal(str(value)), currency)


def projection_panel(user) -> dict:
    """The latest cached company-wide projection, for those who see every deal; a stale or
    missing one is requested from the background job."""
    if not user.is_admin:
        return {"shown": False}
    run = latest_run()
    request_run(run)
    if run is None:
        return {"shown": True, "pending": True}
    if run.error:
        return {"shown": True, "error": run.error, "computed_at": run.computed_at}
    currency = run.projection["currency"]
    months = [
        {
            "label": formatting.month(dt.date.fromisoformat(row["month"] + "-01")),
            "projected": _money_text(row["projected"], currency),
            "low": _money_text(row["low"], currency),
            "high": _money_text(row["high"], currency),
            "won_to_date": _money_text(row["won_to_date"], currency),
            "pipeline": _money_text(row["expected_from_pipeline"], currency),
            "run_rate": _money_text(row["run_rate"], currency),
        }
        for row in run.projection["months"]
    ]
    mape = run.backtest["mape"]
    return {
        "shown": True,
        "computed_at": run.computed_at,
        "months": months,
        "total": _money_text(run.projection["total"]["projected"], currency),
        "error_rows": [
            {
                "method": label,
                "monthly": formatting.percent(mape["monthly"][method]) or "—",
                "quarterly": formatting.percent(mape["quarterly"][method]) or "—",
            }
            for method, label in (
                ("combined", _("Projection (pipeline + run-rate)")),
                ("nominal", _("Weighted pipeline, nominal probabilities")),
            )
        ],
        "chart": {
            "labels": [row["label"] for row in months],
            "projected": [float(row["projected"]) for row in run.projection["months"]],
            "low": [float(row["low"]) for row in run.projection["months"]],
            "high": [float(row["high"]) for row in run.projection["months"]],
            "label": _("Projected revenue"),
            "interval_label": _("90% interval"),
        },
    }


@web_view
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    filters = DashboardFilters.from_params(request.GET, today)
    pipelines = list(pipeline_list())
    pipeline = next((p for p in pipelines if p.pk == filters.pipeline_id), None)
    if pipeline is None and filters.pipeline_id is None and pipelines:
        pipeline = pipelines[0]
    context = {
        "filters": filters,
        "pipelines": pipelines,
        "funnel_pipeline": pipeline,
        "owners": list(get_user_model().objects.filter(is_active=True).order_by("name", "email")),
        "teams": list(Team.objects.order_by("name")),
        "errors": list(filters.errors.values()),
    }
    known = {owner.pk: owner for owner in context["owners"]}
    status = 200
    if not filters.errors:
        try:
            with company_cached():
                context |= {
                    "kpis": kpis(request.user, filters),
                    "funnel": funnel(request.user, filters, pipeline),
                    "chart": (chart := monthly_won(request.user, filters, today)),
                    "chart_rows": list(zip(chart["labels"], chart["texts"], strict=True)),
                    "leaderboard": leaderboard(request.user, filters, known),
                    "grid": sales_grid(request.user, filters, known),
                    "projection": projection_panel(request.user),
                }
        except RucheError as error:
            context["errors"] = [error_text(error)]
    if context["errors"]:
        status = 400
    return render(request, "web/dashboard/dashboard.html", context, status=status)
