"""Writes: saved reports (with history), their email schedules and alerts.

Only a report's owner changes or deletes it; another user who may read it (shared) is refused
with 403 and nothing changes, one who may not is answered 404. Refusal messages are fixed
sentences (listed in MESSAGES) so the web app shows them translated; they name the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext_noop

from ruche.accounts.models import Company, Team
from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.history import Actor, record_event
from ruche.core.models import ChangeRecord
from ruche.core.money import to_minor
from ruche.core.services import create_recorded, lock, resolve, save_changes
from ruche.forecasting.periods import check_day
from ruche.forecasting.selectors import visible_teams, visible_users
from ruche.pipelines.selectors import pipeline_list
from ruche.reports.figures import GROUPINGS
from ruche.reports.models import Alert, Frequency, Report, Schedule
from ruche.reports.selectors import access_report_by_id, can_read, report_queryset

MESSAGES = {
    "name": gettext_noop("A name is required (at most 120 characters)."),
    "kind": gettext_noop("Choose a kind of report."),
    "grouping": gettext_noop("This grouping is not offered for this kind of report."),
    "chart": gettext_noop("Choose a chart: bar, line, pie or table."),
    "period": gettext_noop("Choose a period."),
    "date": gettext_noop("A day (YYYY-MM-DD) is required for a custom period."),
    "date_order": gettext_noop("The end of the period is before its start."),
    "shared": gettext_noop("true or false is expected."),
    "owner": gettext_noop("Only the report's owner can change it."),
    "frequency": gettext_noop("Choose daily, weekly or monthly."),
    "recipients": gettext_noop("Each recipient must be someone you may send figures to."),
    "recipient_reads": gettext_noop("A private report can only be sent to its owner."),
    "alert_kind": gettext_noop("Choose a kind of alert."),
    "target": gettext_noop("Choose one rep or one team."),
    "alert_period": gettext_noop("Choose month, quarter or year."),
    "min_ratio": gettext_noop("A ratio above 0 (e.g. 3) is required."),
    "min_count": gettext_noop("At least 1."),
    "on_date": gettext_noop("A day (YYYY-MM-DD) is required."),
    "max_gap": gettext_noop("An amount of 0 or more is expected."),
    "schedule_owner": gettext_noop("Only who set it up can remove it."),
}
REPORT_FIELDS = (
    "name",
    "kind",
    "shared",
    "filter_owner",
    "filter_team",
    "filter_pipeline",
    "period",
    "date_from",
    "date_to",
    "grouping",
    "chart",
)
# API and form names of the relations.
RENAMED = {
    "filter_owner": "filter_owner_id",
    "filter_team": "filter_team_id",
    "filter_pipeline": "filter_pipeline_id",
}


def _refuse(field: str, message_key: str | None = None) -> ValidationError:
    return ValidationError({field: MESSAGES[message_key or field]})


def _day(value: Any, field: str, message_key: str = "date") -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise _refuse(field, message_key) from None
    if not isinstance(value, dt.date):
        raise _refuse(field, message_key)
    return check_day(value, field)


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 120:
        raise _refuse("name")
    return name


def _choice(value: Any, choices, field: str, message_key: str | None = None) -> str:
    if value not in choices:
        raise _refuse(field, message_key)
    return value


def _filters(data: dict, values: dict) -> None:
    relations = (
        ("filter_owner", get_user_model().objects.filter(is_active=True)),
        ("filter_team", Team.objects.all()),
        ("filter_pipeline", pipeline_list()),
    )
    for name, queryset in relations:
        field = RENAMED[name]
        if field in data:
            values[name] = resolve(queryset, data[field], field=field)


def _report_values(data: dict, current: Report | None) -> dict:
    """The model values `data` sets, checked field by field and as a whole."""
    values: dict[str, Any] = {}
    if "name" in data or current is None:
        values["name"] = _name(data.get("name"))
    if "kind" in data or current is None:
        values["kind"] = _choice(data.get("kind"), Report.Kind.values, "kind")
    kind = values.get("kind", current.kind if current else None)
    grouping = data.get("grouping") or (current.grouping if current else None)
    if grouping is None or ("kind" in values and "grouping" not in data):
        grouping = grouping if grouping in GROUPINGS[kind] else GROUPINGS[kind][0]
    values["grouping"] = _choice(grouping, GROUPINGS[kind], "grouping")
    for field, choices, default in (
        ("chart", Report.Chart.values, Report.Chart.BAR),
        ("period", Report.Period.values, Report.Period.THIS_MONTH),
    ):
        if field in data or current is None:
            values[field] = _choice(data.get(field) or default, choices, field)
    if "shared" in data or current is None:
        shared = data.get("shared", False)
        if not isinstance(shared, bool):
            raise _refuse("shared")
        values["shared"] = shared
    _filters(data, values)
    _period_days(data, values, current)
    return values


def _period_days(data: dict, values: dict, current: Report | None) -> None:
    period = values.get("period", current.period if current else None)
    if period != Report.Period.CUSTOM:
        values["date_from"] = values["date_to"] = None
        return
    days = {}
    for field in ("date_from", "date_to"):
        given = data.get(field, getattr(current, field, None) if current else None)
        if given is None:
            raise _refuse(field, "date")
        days[field] = values[field] = _day(given, field)
    if days["date_from"] > days["date_to"]:
        raise _refuse("date_to", "date_order")


def report_create(*, actor: Actor, data: dict[str, Any]) -> Report:
    values = _report_values(data, None)
    with transaction.atomic():
        report = Report(owner=actor.user)
        return create_recorded(report, entity="report", actor=actor, values=values, renamed=RENAMED)


def _lock_own(actor: Actor, report_id: int, expected_version: int | None = None) -> Report:
    """The report, locked; 404 if the actor may not read it, 403 if not theirs."""
    report = lock(
        report_queryset(actor.user), report_id, label="Report", expected_version=expected_version
    )
    if report.owner_id != actor.user.pk:
        raise PermissionDenied(MESSAGES["owner"])
    return report


def report_update(
    *, actor: Actor, report_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Report:
    with transaction.atomic():
        report = _lock_own(actor, report_id, expected_version)
        values = _report_values(data, report)
        save_changes(
            report,
            entity="report",
            actor=actor,
            values=values,
            fields=REPORT_FIELDS,
            renamed=RENAMED,
        )
        return report


def report_delete(*, actor: Actor, report_id: int) -> None:
    """Soft delete: its schedules stop with it; its delivery log stays."""
    with transaction.atomic():
        report = _lock_own(actor, report_id)
        report.is_deleted = True
        report.version += 1
        report.save(update_fields=["is_deleted", "version"])
        record_event("report", report.pk, ChangeRecord.Event.DELETED, actor)


# Schedules and alerts ---------------------------------------------------------------------------


def _recipients(actor: Actor, ids: Any) -> list:
    """The recipients, each one the actor may send figures to (themselves; a manager, the
    members of their team; an admin, anyone); the actor by default."""
    if ids is None:
        return [actor.user]
    if not isinstance(ids, list | tuple) or not ids:
        raise _refuse("recipient_ids", "recipients")
    allowed = visible_users(actor.user).filter(pk__in=[i for i in ids if isinstance(i, int)])
    found = list(allowed)
    if len(found) != len(set(ids)):
        raise _refuse("recipient_ids", "recipients")
    return found


def schedule_create(
    *, actor: Actor, report_id: int, frequency: str, recipient_ids: list[int] | None = None
) -> Schedule:
    report = access_report_by_id(actor.user, report_id)
    frequency = _choice(frequency, Frequency.values, "frequency")
    recipients = _recipients(actor, recipient_ids)
    if any(not can_read(report, person) for person in recipients):
        raise _refuse("recipient_ids", "recipient_reads")
    with transaction.atomic():
        schedule = Schedule.objects.create(report=report, owner=actor.user, frequency=frequency)
        schedule.recipients.set(recipients)
    return schedule


def schedule_delete(*, actor: Actor, schedule_id: int) -> None:
    _delete_own(Schedule, actor, schedule_id, "Schedule")


def _delete_own(model, actor: Actor, pk: int, label: str) -> None:
    instance = model.objects.filter(pk=pk).first()
    if instance is None:
        raise NotFound(f"{label} {pk} not found.")
    if instance.owner_id != actor.user.pk:
        raise PermissionDenied(MESSAGES["schedule_owner"])
    instance.delete()


def _target(actor: Actor, data: dict, values: dict, *, required: bool) -> None:
    user_id, team_id = data.get("target_user_id"), data.get("target_team_id")
    if (user_id is None) == (team_id is None) and (required or user_id is not None):
        raise _refuse("target_user_id", "target")
    values["target_user"] = resolve(visible_users(actor.user), user_id, field="target_user_id")
    values["target_team"] = resolve(visible_teams(actor.user), team_id, field="target_team_id")


def _positive_decimal(value: Any, field: str, *, allow_zero: bool) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _refuse(field) from None
    if not number.is_finite() or number < 0 or (number == 0 and not allow_zero):
        raise _refuse(field)
    return number


def _alert_values(actor: Actor, data: dict) -> dict:
    kind = _choice(data.get("kind"), Alert.Kind.values, "kind", "alert_kind")
    values: dict[str, Any] = {
        "name": _name(data.get("name")),
        "kind": kind,
        "frequency": _choice(
            data.get("frequency") or Frequency.DAILY, Frequency.values, "frequency"
        ),
        "period": _choice(
            data.get("period") or "quarter", ("month", "quarter", "year"), "period", "alert_period"
        ),
        "pipeline": resolve(pipeline_list(), data.get("pipeline_id"), field="pipeline_id"),
    }
    _target(actor, data, values, required=kind != Alert.Kind.ROTTING_DEALS)
    if kind == Alert.Kind.PIPELINE_COVERAGE:
        ratio = _positive_decimal(data.get("min_ratio"), "min_ratio", allow_zero=False)
        values["min_ratio"] = ratio.quantize(Decimal("0.01"))
    elif kind == Alert.Kind.ROTTING_DEALS:
        count = data.get("min_count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _refuse("min_count")
        values["min_count"] = count
    else:
        values["on_date"] = _day(data.get("on_date"), "on_date", "on_date")
        gap = _positive_decimal(data.get("max_gap", 0), "max_gap", allow_zero=True)
        values["max_gap_minor"] = to_minor(gap, Company.current().currency, field="max_gap")
    return values


def alert_create(*, actor: Actor, data: dict[str, Any]) -> Alert:
    values = _alert_values(actor, data)
    recipients = _recipients(actor, data.get("recipient_ids"))
    with transaction.atomic():
        alert = Alert.objects.create(owner=actor.user, **values)
        alert.recipients.set(recipients)
    return alert


def alert_delete(*, actor: Actor, alert_id: int) -> None:
    _delete_own(Alert, actor, alert_id, "Alert")
