"""Reads for quotas and forecasts, restricted to what the user may see.

- an admin sees every user and team;
- a manager sees the members of their team (themselves included) and their team;
- a rep sees themselves and their team's quota.
Forecast adjustments are shown to managers and admins only.
Amounts are converted to the company currency; a quota or forecast at the rate in force on
the first day of its period (docs/metrics.md).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from ruche.accounts.models import Team
from ruche.core.currency import convert
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.money import Money, to_major
from ruche.forecasting.metrics import MetricQuery, goal_actuals, pipeline_totals, won_totals
from ruche.forecasting.models import ForecastAdjustment, ForecastSubmission, Goal, Quota
from ruche.forecasting.periods import (
    Period,
    company,
    fiscal_start_month,
    periods_between,
    validate_period_start,
)


def visible_users(user) -> QuerySet:
    users = get_user_model().objects.filter(is_active=True)
    if user is None or user.is_admin:
        return users
    if user.is_manager and user.team_id is not None:
        return users.filter(team_id=user.team_id)
    return users.filter(pk=user.pk)


def visible_teams(user) -> QuerySet:
    if user is None or user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(pk=user.team_id)


def sees_adjustments(user) -> bool:
    return user is None or user.is_admin or user.is_manager


def quota_queryset(user) -> QuerySet[Quota]:
    quotas = Quota.objects.all()
    if user is None or user.is_admin:
        return quotas
    return quotas.filter(
        Q(user__in=visible_users(user).values("pk")) | Q(team_id=user.team_id, team__isnull=False)
    )


def access_quota_by_id(user, quota_id: int) -> Quota:
    quota = quota_queryset(user).filter(pk=quota_id).first()
    if quota is None:
        raise NotFound(f"Quota {quota_id} not found.")
    return quota


def quota_list(user, *, filters: dict) -> QuerySet[Quota]:
    quotas = quota_queryset(user)
    for field in ("period", "period_start", "user_id", "team_id"):
        if filters.get(field) is not None:
            quotas = quotas.filter(**{field: filters[field]})
    return quotas


def _period(period: str, period_start: Any) -> Period:
    if not isinstance(period_start, dt.date):
        try:
            period_start = dt.date.fromisoformat(period_start)
        except (TypeError, ValueError):
            raise ValidationError(
                {"period_start": f"Not a valid date (YYYY-MM-DD): {period_start!r}."}
            ) from None
    return validate_period_start(period, period_start)


def _to_company(amount_minor: int, currency: str, on: dt.date, quote: str) -> int:
    return convert(Money(amount_minor, currency), on, quote).amount_minor


def quota_attainment(
    user,
    *,
    period: str,
    period_start: Any,
    team_id: int | None = None,
    currency: str | None = None,
) -> dict:
    """Per rep and per team the user may see, for one period: quota, won, gap = quota - won,
    the open pipeline expected to close in the period, its weighted value and its totals by
    forecast category; for a team, the sum of its members' quotas and whether it differs.
    With `currency`, only the deals and quotas in that currency, unconverted."""
    span = _period(period, period_start)
    quote = currency or company().currency
    users = visible_users(user)
    teams = visible_teams(user)
    if team_id is not None:
        users, teams = users.filter(team_id=team_id), teams.filter(pk=team_id)
    people = list(users.order_by("name", "pk").values("pk", "name", "team_id"))
    team_rows = list(teams.order_by("name", "pk").values("pk", "name"))
    quotas = Quota.objects.filter(period=period, period_start=span.start).filter(
        Q(user__in=[p["pk"] for p in people]) | Q(team__in=[t["pk"] for t in team_rows])
    )
    if currency is not None:
        quotas = quotas.filter(currency=currency)
    user_quota, team_quota = {}, {}
    for quota in quotas:
        converted = _to_company(quota.amount_minor, quota.currency, span.start, quote)
        entry = {"minor": converted, "amount": quota.amount_minor, "currency": quota.currency}
        (user_quota if quota.user_id else team_quota)[quota.user_id or quota.team_id] = entry
    members_quota: dict = defaultdict(int)
    for person in people:
        if person["team_id"] is not None and person["pk"] in user_quota:
            members_quota[person["team_id"]] += user_quota[person["pk"]]["minor"]

    query = MetricQuery(date_from=span.start, date_to=span.end, team_id=team_id, currency=currency)
    by_owner = _figures(user, query, "owner")
    by_team = _figures(user, query, "team")

    def money(minor: int | None):
        return None if minor is None else to_major(minor, quote)

    def row(figures: dict, quota: dict | None) -> dict:
        quota_minor = None if quota is None else quota["minor"]
        return {
            "quota": money(quota_minor),
            "quota_in_currency": None
            if quota is None
            else {
                "amount": to_major(quota["amount"], quota["currency"]),
                "currency": quota["currency"],
            },
            "won": money(figures["won"]),
            "deals_won": figures["deals_won"],
            "gap": money(None if quota_minor is None else quota_minor - figures["won"]),
            "pipeline": money(figures["pipeline"]),
            "open_deals": figures["open_deals"],
            "weighted_pipeline": money(figures["weighted"]),
            "forecast_categories": [
                {
                    "forecast_category_id": category,
                    "value": money(v["value"]),
                    "weighted_value": money(v["weighted"]),
                    "deals": v["deals"],
                }
                for category, v in sorted(
                    figures["categories"].items(), key=lambda item: (item[0] is None, item[0] or 0)
                )
            ],
        }

    reps = [
        {"user_id": p["pk"], "name": p["name"], "team_id": p["team_id"]}
        | row(by_owner[p["pk"]], user_quota.get(p["pk"]))
        for p in people
    ]
    team_out = []
    for team in team_rows:
        quota = team_quota.get(team["pk"])
        members = members_quota.get(team["pk"], 0)
        team_out.append(
            {"team_id": team["pk"], "name": team["name"]}
            | row(by_team[team["pk"]], quota)
            | {
                "members_quota": money(members),
                "target_mismatch": None if quota is None else quota["minor"] != members,
            }
        )
    return {
        "period": span.as_dict() | {"kind": period},
        "currency": quote,
        "reps": reps,
        "teams": team_out,
    }


def _figures(user, query: MetricQuery, group_by: str) -> dict:
    """Won, pipeline, weighted pipeline and category totals per owner or team: two GROUP BYs."""
    figures: dict = defaultdict(
        lambda: {
            "won": 0,
            "deals_won": 0,
            "pipeline": 0,
            "weighted": 0,
            "open_deals": 0,
            "categories": {},
        }
    )
    grouped = MetricQuery(**{**query.__dict__, "group_by": group_by})
    _, won = won_totals(user, grouped)
    for (_, group), value in won.items():
        figures[group]["won"] += value["amount"]
        figures[group]["deals_won"] += value["deals"]
    _, open_ = pipeline_totals(user, grouped, also_by="forecast_category")
    for (_, (group, category)), value in open_.items():
        entry = figures[group]
        entry["pipeline"] += value["value"]
        entry["weighted"] += value["weighted"]
        entry["open_deals"] += value["deals"]
        entry["categories"][category] = {
            "value": value["value"],
            "weighted": value["weighted"],
            "deals": value["deals"],
        }
    return figures


# Forecasts -------------------------------------------------------------------------------------


def _latest(
    model, period: str, start: dt.date, user_ids: list[int], currency: str | None = None
) -> dict[int, Any]:
    """Each user's latest revision (in `currency`, when given: the latest one is left out
    when it is in another currency)."""
    latest_revision = Subquery(
        model.objects.filter(user=OuterRef("user"), period=period, period_start=start)
        .order_by("-revision")
        .values("revision")[:1]
    )
    rows = model.objects.filter(period=period, period_start=start, user__in=user_ids).annotate(
        latest=latest_revision
    )
    rows = rows.filter(revision=F("latest"))
    if currency is not None:
        rows = rows.filter(currency=currency)
    return {row.user_id: row for row in rows}


def forecast_rollup(
    user,
    *,
    period: str,
    period_start: Any,
    team_id: int | None = None,
    currency: str | None = None,
) -> dict:
    """Each visible user's latest forecast for the period (commit, best case, how many
    revisions), the managers' latest adjustment where the viewer may see it, and the totals,
    in the company currency at the rate of the period's first day. With `currency`, only the
    forecasts and adjustments made in that currency count, unconverted."""
    span = _period(period, period_start)
    quote = currency or company().currency
    users = visible_users(user)
    if team_id is not None:
        users = users.filter(team_id=team_id)
    people = list(users.order_by("name", "pk").values("pk", "name", "team_id"))
    ids = [p["pk"] for p in people]
    submissions = _latest(ForecastSubmission, period, span.start, ids, currency)
    counts = dict(
        ForecastSubmission.objects.filter(period=period, period_start=span.start, user__in=ids)
        .values("user")
        .annotate(n=Count("pk"))
        .values_list("user", "n")
    )
    show_adjustments = sees_adjustments(user)
    adjustments = (
        _latest(ForecastAdjustment, period, span.start, ids, currency) if show_adjustments else {}
    )
    totals = {"commit": 0, "best_case": 0}
    if show_adjustments:
        totals["adjusted"] = 0
    rows = []
    for person in people:
        submission = submissions.get(person["pk"])
        entry: dict[str, Any] = {
            "user_id": person["pk"],
            "name": person["name"],
            "team_id": person["team_id"],
            "revisions": counts.get(person["pk"], 0),
            "commit": None,
            "best_case": None,
            "currency": None,
            "submitted_at": None,
            "note": "",
        }
        commit_minor = None
        if submission is not None:
            commit_minor = _to_company(
                submission.commit_minor, submission.currency, span.start, quote
            )
            best_minor = (
                commit_minor
                if submission.best_case_minor is None
                else _to_company(submission.best_case_minor, submission.currency, span.start, quote)
            )
            totals["commit"] += commit_minor
            totals["best_case"] += best_minor
            entry |= {
                "commit": to_major(submission.commit_minor, submission.currency),
                "best_case": None
                if submission.best_case_minor is None
                else to_major(submission.best_case_minor, submission.currency),
                "currency": submission.currency,
                "submitted_at": submission.submitted_at,
                "note": submission.note,
            }
        if show_adjustments:
            adjustment = adjustments.get(person["pk"])
            adjusted_minor = commit_minor
            entry["adjustment"] = None
            if adjustment is not None:
                adjusted_minor = _to_company(
                    adjustment.amount_minor, adjustment.currency, span.start, quote
                )
                entry["adjustment"] = {
                    "amount": to_major(adjustment.amount_minor, adjustment.currency),
                    "currency": adjustment.currency,
                    "note": adjustment.note,
                    "adjusted_by_id": adjustment.adjusted_by_id,
                    "adjusted_at": adjustment.adjusted_at,
                    "revision": adjustment.revision,
                }
            entry["final"] = None if adjusted_minor is None else to_major(adjusted_minor, quote)
            totals["adjusted"] += adjusted_minor or 0
        rows.append(entry)
    return {
        "period": span.as_dict() | {"kind": period},
        "currency": quote,
        "users": rows,
        "totals": {name: to_major(value, quote) for name, value in totals.items()},
    }


def forecast_revisions(user, *, user_id: int, period: str, period_start: Any) -> dict:
    """Every revision of one user's forecast for a period, and (for managers and admins) every
    adjustment; NotFound for a user the viewer may not see."""
    span = _period(period, period_start)
    target = visible_users(user).filter(pk=user_id).first()
    if target is None:
        raise NotFound(f"User {user_id} not found.")
    filters = {"user": target, "period": period, "period_start": span.start}
    result = {
        "period": span.as_dict() | {"kind": period},
        "user_id": target.pk,
        "revisions": list(ForecastSubmission.objects.filter(**filters).order_by("revision")),
    }
    if sees_adjustments(user):
        result["adjustments"] = list(
            ForecastAdjustment.objects.filter(**filters).order_by("revision")
        )
    return result


# Goals -----------------------------------------------------------------------------------------


def goal_queryset(user) -> QuerySet[Goal]:
    """Company goals are seen by everyone; a team's by its members (and managers); a user's
    by those who see the user (themselves, their manager, an admin)."""
    goals = Goal.objects.filter(is_deleted=False)
    if user is None or user.is_admin:
        return goals
    return goals.filter(
        Q(assignee=Goal.Assignee.COMPANY)
        | Q(assignee=Goal.Assignee.TEAM, team_id=user.team_id)
        | Q(assignee=Goal.Assignee.USER, user__in=visible_users(user).values("pk"))
    )


def access_goal_by_id(user, goal_id: int) -> Goal:
    goal = goal_queryset(user).filter(pk=goal_id).first()
    if goal is None:
        raise NotFound(f"Goal {goal_id} not found.")
    return goal


def goal_list(user, *, filters: dict) -> QuerySet[Goal]:
    goals = goal_queryset(user)
    for field in ("type", "assignee", "user_id", "team_id"):
        if filters.get(field) is not None:
            goals = goals.filter(**{field: filters[field]})
    if filters.get("active_on") is not None:
        goals = goals.filter(
            start_date__lte=filters["active_on"], end_date__gte=filters["active_on"]
        )
    return goals


def goal_progress(user, goal_id: int) -> dict:
    """Per period of the goal's interval from its start to its end day: the actual figure,
    the target and the share reached (percent, two decimals); and the totals. A value goal's
    target is converted to the company currency at the rate of its start day."""
    goal = access_goal_by_id(user, goal_id)
    quote, actuals = goal_actuals(user, goal)
    start_month = fiscal_start_month()
    is_value = goal.measure == Goal.Measure.VALUE
    target = (
        _to_company(goal.target, goal.currency, goal.start_date, quote) if is_value else goal.target
    )

    def shown(value: int):
        return to_major(value, quote) if is_value else value

    periods = []
    for span in periods_between(goal.interval, goal.start_date, goal.end_date, start_month):
        actual = actuals.get(span.start, 0)
        periods.append(
            {
                "start": max(span.start, goal.start_date),
                "end": min(span.end, goal.end_date),
                "label": span.label,
                "actual": shown(actual),
                "target": shown(target),
                "progress": _percent(actual, target),
                "reached": actual >= target,
            }
        )
    total_actual = sum(actuals.values())
    total_target = target * len(periods)
    return {
        "goal_id": goal.pk,
        "currency": quote if is_value else None,
        "periods": periods,
        "total": {
            "actual": shown(total_actual),
            "target": shown(total_target),
            "progress": _percent(total_actual, total_target),
        },
    }


def _percent(actual: int, target: int) -> Decimal:
    return (Decimal(100 * actual) / target).quantize(Decimal("0.01"), ROUND_HALF_UP)
