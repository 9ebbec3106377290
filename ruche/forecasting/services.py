"""Writes for quotas and forecasts. Each writes its history in the same transaction.

Who may do what:
- quotas: an admin for anyone and any team; a manager for the members of their team (not
  themselves) and for their own team; a rep never;
- forecasts: every user submits and revises their own; a revision never replaces another;
- adjustments: an admin for anyone; a manager for the members of their team but themselves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ruche.accounts.models import Team
from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.money import to_minor, validate_currency
from ruche.core.services import lock, resolve
from ruche.forecasting.models import ForecastAdjustment, ForecastSubmission, Goal, Quota
from ruche.forecasting.periods import company, validate_period_start

MAX_NOTE = 5_000


def _day(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Not a valid date (YYYY-MM-DD): {value!r}."}) from None


def _period(period: Any, period_start: Any) -> tuple[str, dt.date]:
    start = _day(period_start, "period_start")
    validate_period_start(period, start)
    return period, start


def _amount(value: Any, currency: str, field: str) -> int:
    if value is None:
        raise ValidationError({field: "An amount is required."})
    minor = to_minor(value, currency, field=field)
    if minor < 0:
        raise ValidationError({field: "An amount cannot be negative."})
    return minor


def _currency(value: Any) -> str:
    return company().currency if value is None else validate_currency(value)


def _note(value: Any) -> str:
    note = value or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValidationError({"note": f"A text of at most {MAX_NOTE} characters."})
    return note


def _require_user(actor: Actor):
    if actor.user is None:
        raise PermissionDenied("A user is required.")
    return actor.user


def can_manage(manager, user) -> bool:
    """An admin manages everyone; a manager the other members of their team."""
    if manager is None or manager.is_admin:
        return True
    return (
        manager.is_manager
        and manager.team_id is not None
        and user.team_id == manager.team_id
        and user.pk != manager.pk
    )


def can_manage_team(manager, team_id: int) -> bool:
    if manager is None or manager.is_admin:
        return True
    return manager.is_manager and manager.team_id == team_id


# Quotas ----------------------------------------------------------------------------------------


def _quota_target(actor: Actor, user_id: Any, team_id: Any) -> dict:
    if (user_id is None) == (team_id is None):
        raise ValidationError({"user_id": "Give exactly one of user_id and team_id."})
    if user_id is not None:
        user = resolve(get_user_model().objects.filter(is_active=True), user_id, field="user_id")
        if not can_manage(actor.user, user):
            raise PermissionDenied("Only an admin, or the manager of their team, sets a quota.")
        return {"user": user, "team": None}
    team = resolve(Team.objects.all(), team_id, field="team_id")
    if not can_manage_team(actor.user, team.pk):
        raise PermissionDenied("Only an admin, or the team's manager, sets a team quota.")
    return {"user": None, "team": team}


@transaction.atomic
def quota_set(
    *,
    actor: Actor,
    period: str,
    period_start: Any,
    amount: Any,
    currency: str | None = None,
    user_id: int | None = None,
    team_id: int | None = None,
) -> Quota:
    """Create the quota of a rep or a team for a period, or change its amount and currency."""
    target = _quota_target(actor, user_id, team_id)
    period, start = _period(period, period_start)
    currency = _currency(currency)
    amount_minor = _amount(amount, currency, "amount")
    existing = Quota.objects.filter(**target, period=period, period_start=start)
    current = existing.select_for_update().first()
    if current is None:
        quota = Quota.objects.create(
            **target,
            period=period,
            period_start=start,
            amount_minor=amount_minor,
            currency=currency,
        )
        record_created(
            "quota",
            quota.pk,
            actor,
            {
                "user_id": quota.user_id,
                "team_id": quota.team_id,
                "period": period,
                "period_start": start,
                "amount_minor": amount_minor,
                "currency": currency,
            },
        )
        return quota
    changes = {}
    for field, new in (("amount_minor", amount_minor), ("currency", currency)):
        old = getattr(current, field)
        if old != new:
            changes[field] = (old, new)
            setattr(current, field, new)
    if changes:
        current.version += 1
        current.update_time = timezone.now()
        current.save()
        record_changes("quota", current.pk, actor, changes)
    return current


@transaction.atomic
def quota_delete(*, actor: Actor, quota_id: int) -> None:
    quota = lock(Quota.objects.select_related("user"), quota_id, label="Quota")
    allowed = (
        can_manage(actor.user, quota.user)
        if quota.user_id
        else can_manage_team(actor.user, quota.team_id)
    )
    if not allowed:
        raise PermissionDenied("Only an admin, or the manager of the team, removes a quota.")
    record_event("quota", quota.pk, Event.DELETED, actor, "amount_minor", quota.amount_minor, None)
    quota.delete()


# Forecasts -------------------------------------------------------------------------------------


def _lock_user(user_id: int):
    user = get_user_model().objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


@transaction.atomic
def forecast_submit(
    *,
    actor: Actor,
    period: str,
    period_start: Any,
    commit: Any,
    best_case: Any = None,
    currency: str | None = None,
    note: str | None = None,
) -> ForecastSubmission:
    """The acting user's forecast for a period: a new revision, the earlier ones kept."""
    user = _require_user(actor)
    period, start = _period(period, period_start)
    currency = _currency(currency)
    commit_minor = _amount(commit, currency, "commit")
    best_minor = None if best_case is None else _amount(best_case, currency, "best_case")
    if best_minor is not None and best_minor < commit_minor:
        raise ValidationError({"best_case": "The best case cannot be below the commit."})
    note = _note(note)
    _lock_user(user.pk)  # serialises revisions of the same user
    last = ForecastSubmission.objects.filter(
        user=user, period=period, period_start=start
    ).aggregate(last=Max("revision"))["last"]
    submission = ForecastSubmission.objects.create(
        user=user,
        period=period,
        period_start=start,
        revision=(last or 0) + 1,
        commit_minor=commit_minor,
        best_case_minor=best_minor,
        currency=currency,
        note=note,
    )
    record_created(
        "forecast",
        submission.pk,
        actor,
        {
            "period": period,
            "period_start": start,
            "revision": submission.revision,
            "commit_minor": commit_minor,
            "best_case_minor": best_minor,
            "currency": currency,
        },
    )
    return submission


@transaction.atomic
def forecast_adjust(
    *,
    actor: Actor,
    user_id: int,
    period: str,
    period_start: Any,
    amount: Any,
    currency: str | None = None,
    note: str | None = None,
) -> ForecastAdjustment:
    """A manager's (or admin's) figure for a rep's period, on top of the rep's own."""
    if actor.user is not None and not (actor.user.is_admin or actor.user.is_manager):
        raise PermissionDenied("Only a manager or an admin adjusts a forecast.")
    target = resolve(get_user_model().objects.all(), user_id, field="user_id")
    if not can_manage(actor.user, target):
        raise PermissionDenied("Only the manager of the rep's team, or an admin, adjusts it.")
    period, start = _period(period, period_start)
    currency = _currency(currency)
    amount_minor = _amount(amount, currency, "amount")
    note = _note(note)
    _lock_user(target.pk)
    last = ForecastAdjustment.objects.filter(
        user=target, period=period, period_start=start
    ).aggregate(last=Max("revision"))["last"]
    adjustment = ForecastAdjustment.objects.create(
        user=target,
        period=period,
        period_start=start,
        revision=(last or 0) + 1,
        amount_minor=amount_minor,
        currency=currency,
        note=note,
        adjusted_by=actor.user,
    )
    record_created(
        "adjustment",
        adjustment.pk,
        actor,
        {
            "user_id": target.pk,
            "period": period,
            "period_start": start,
            "revision": adjustment.revision,
            "amount_minor": amount_minor,
            "currency": currency,
        },
    )
    return adjustment


# Goals -----------------------------------------------------------------------------------------

GOAL_DEAL_TYPES = {Goal.Type.DEALS_ADDED, Goal.Type.DEALS_PROGRESSED, Goal.Type.DEALS_WON}
MAX_GOAL_DAYS = 5 * 366


def _choice(value: Any, choices, field: str) -> str:
    if value not in choices.values:
        raise ValidationError({field: f"One of {', '.join(choices.values)}, not {value!r}."})
    return value


def _goal_assignee(actor: Actor, data: dict) -> dict:
    assignee = _choice(data.get("assignee"), Goal.Assignee, "assignee")
    user, team = None, None
    manager = actor.user
    if assignee == Goal.Assignee.USER:
        user = resolve(
            get_user_model().objects.filter(is_active=True), data.get("user_id"), field="user_id"
        )
        if user is None:
            raise ValidationError({"user_id": "A user goal names its user."})
        allowed = manager is None or manager.pk == user.pk or can_manage(manager, user)
        if not allowed:
            raise PermissionDenied(
                "A goal is set for oneself, or by the team's manager or an admin."
            )
    elif assignee == Goal.Assignee.TEAM:
        team = resolve(Team.objects.all(), data.get("team_id"), field="team_id")
        if team is None:
            raise ValidationError({"team_id": "A team goal names its team."})
        if not can_manage_team(manager, team.pk):
            raise PermissionDenied("Only the team's manager or an admin sets a team goal.")
    elif manager is not None and not manager.is_admin:
        raise PermissionDenied("Only an admin sets a company goal.")
    return {"assignee": assignee, "user": user, "team": team}


def _goal_scope(data: dict, goal_type: str) -> dict:
    from ruche.pipelines.models import Activity, Pipeline, Stage

    pipeline = resolve(
        Pipeline.objects.filter(is_deleted=False), data.get("pipeline_id"), field="pipeline_id"
    )
    stage = resolve(Stage.objects.filter(is_deleted=False), data.get("stage_id"), field="stage_id")
    activity_type = data.get("activity_type") or ""
    if goal_type == Goal.Type.DEALS_PROGRESSED and stage is None:
        raise ValidationError({"stage_id": "A deals-progressed goal names the stage to reach."})
    if goal_type != Goal.Type.DEALS_PROGRESSED and stage is not None:
        raise ValidationError({"stage_id": "Only a deals-progressed goal names a stage."})
    if stage is not None:
        if pipeline is not None and stage.pipeline_id != pipeline.pk:
            raise ValidationError(
                {"stage_id": f"Stage {stage.pk} is not in pipeline {pipeline.pk}."}
            )
        pipeline = stage.pipeline
    if goal_type not in GOAL_DEAL_TYPES and pipeline is not None:
        raise ValidationError({"pipeline_id": "An activity goal has no pipeline."})
    if activity_type:
        if goal_type in GOAL_DEAL_TYPES:
            raise ValidationError({"activity_type": "Only an activity goal names a type."})
        _choice(activity_type, Activity.Type, "activity_type")
    return {"pipeline": pipeline, "stage": stage, "activity_type": activity_type}


def _goal_target(data: dict, goal_type: str) -> dict:
    measure = _choice(data.get("measure") or Goal.Measure.COUNT, Goal.Measure, "measure")
    if measure == Goal.Measure.VALUE and goal_type not in GOAL_DEAL_TYPES:
        raise ValidationError({"measure": "Activities are counted, not valued."})
    target = data.get("target")
    if measure == Goal.Measure.COUNT:
        currency = ""
        if (
            isinstance(target, bool)
            or not isinstance(target, int | Decimal)
            or target != int(target)
            or not 0 < target <= 10**9
        ):
            raise ValidationError({"target": "A whole number of at least 1 is expected."})
        target = int(target)
    else:
        currency = _currency(data.get("currency"))
        target = _amount(target, currency, "target")
        if target == 0:
            raise ValidationError({"target": "A positive amount is expected."})
    return {"measure": measure, "target": target, "currency": currency}


def _goal_dates(data: dict) -> dict:
    from ruche.forecasting.periods import check_day

    start = check_day(_day(data.get("start_date"), "start_date"), "start_date")
    end = check_day(_day(data.get("end_date"), "end_date"), "end_date")
    if end < start:
        raise ValidationError({"end_date": "The end is before the start."})
    if (end - start).days > MAX_GOAL_DAYS:
        raise ValidationError({"end_date": "A goal lasts at most five years."})
    return {"start_date": start, "end_date": end}


def _goal_title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise ValidationError({"title": "A title of 1 to 255 characters is required."})
    return value.strip()


@transaction.atomic
def goal_create(*, actor: Actor, data: dict[str, Any]) -> Goal:
    goal_type = _choice(data.get("type"), Goal.Type, "type")
    values = (
        {"title": _goal_title(data.get("title")), "type": goal_type}
        | _goal_assignee(actor, data)
        | _goal_scope(data, goal_type)
        | _goal_target(data, goal_type)
        | {"interval": _choice(data.get("interval"), Goal.Interval, "interval")}
        | _goal_dates(data)
    )
    goal = Goal.objects.create(**values, created_by=actor.user)
    record_created("goal", goal.pk, actor, values)
    return goal


def _check_goal_writer(actor: Actor, goal: Goal) -> None:
    _goal_assignee(
        actor, {"assignee": goal.assignee, "user_id": goal.user_id, "team_id": goal.team_id}
    )


@transaction.atomic
def goal_update(*, actor: Actor, goal_id: int, data: dict[str, Any]) -> Goal:
    """Change a goal's title, target or dates; its type and assignee stay."""
    goal = lock(Goal.objects.filter(is_deleted=False), goal_id, label="Goal")
    _check_goal_writer(actor, goal)
    values = {}
    if "title" in data:
        values["title"] = _goal_title(data["title"])
    if "target" in data or "currency" in data:
        target = _goal_target(
            {
                "measure": goal.measure,
                "target": data.get("target", goal.target if goal.measure == "count" else None),
                "currency": data.get("currency", goal.currency or None),
            },
            goal.type,
        )
        if goal.measure == Goal.Measure.VALUE and "target" not in data:
            raise ValidationError({"target": "Give the target with its currency."})
        values |= {"target": target["target"], "currency": target["currency"]}
    if "start_date" in data or "end_date" in data:
        values |= _goal_dates(
            {
                "start_date": data.get("start_date", goal.start_date),
                "end_date": data.get("end_date", goal.end_date),
            }
        )
    changes = {}
    for field, new in values.items():
        if getattr(goal, field) != new:
            changes[field] = (getattr(goal, field), new)
            setattr(goal, field, new)
    if changes:
        goal.version += 1
        goal.update_time = timezone.now()
        goal.save()
        record_changes("goal", goal.pk, actor, changes)
    return goal


@transaction.atomic
def goal_delete(*, actor: Actor, goal_id: int) -> None:
    goal = lock(Goal.objects.filter(is_deleted=False), goal_id, label="Goal")
    _check_goal_writer(actor, goal)
    goal.is_deleted = True
    goal.version += 1
    goal.update_time = timezone.now()
    goal.save(update_fields=["is_deleted", "version", "update_time"])
    record_event("goal", goal.pk, Event.DELETED, actor)
