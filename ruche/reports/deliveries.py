"""Scheduled report emails and alerts, sent by the daily job (ruche.reports.tasks) or by
`ruche reports_deliver`.

For each active schedule and alert, and each recipient, the job works out the delivery period
(ruche.reports.periods.delivery_period: the day, ISO week or month; for a quota-gap alert, its
day). If no delivery exists for (schedule or alert, recipient, period), the figures are
computed *as the recipient may see them* and a `Delivery` row is written: its unique constraint
means a second run, or a second worker, cannot decide the same email again. The email goes
after commit; the row is claimed (pending → sending) before sending, so it goes at most once.
A failed send is retried by the next run. An alert whose condition does not hold writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ruche.core.exceptions import RucheError
from ruche.core.money import to_major
from ruche.forecasting.periods import period_of
from ruche.forecasting.selectors import quota_attainment
from ruche.pipelines.models import Deal, Stage
from ruche.pipelines.selectors import deal_list
from ruche.reports.figures import report_data
from ruche.reports.models import Alert, Delivery, Schedule
from ruche.reports.periods import delivery_period
from ruche.reports.selectors import can_read
from ruche.reports.tables import header, span_text, text_rows
from ruche.web import formatting

logger = logging.getLogger(__name__)
Status = Delivery.Status
ROTTING_LISTED = 10


def _language(user) -> str:
    return user.locale or settings.LANGUAGE_CODE


# What a schedule sends ------------------------------------------------------------------------


def report_email(schedule: Schedule, recipient, today: dt.date) -> tuple[str, str]:
    with translation.override(_language(recipient)):
        data = report_data(recipient, schedule.report, today)
        subject = _("Report: %(name)s") % {"name": schedule.report.name}
        body = render_to_string(
            "reports/email/report.txt",
            {
                "report": schedule.report,
                "span": span_text(data),
                "header": header(data),
                "rows": text_rows(data),
            },
        )
    return subject, body


# What an alert checks ---------------------------------------------------------------------------


def _attainment_row(alert: Alert, recipient, day: dt.date) -> dict | None:
    """The quota row of the alert's rep or team for the period containing `day`, as the
    recipient may see it; None without a quota or when the recipient may not see the target."""
    span = period_of(alert.period, day)
    figures = quota_attainment(
        recipient, period=alert.period, period_start=span.start, team_id=alert.target_team_id
    )
    if alert.target_team_id is not None:
        rows = [r for r in figures["teams"] if r["team_id"] == alert.target_team_id]
    else:
        rows = [r for r in figures["reps"] if r["user_id"] == alert.target_user_id]
    if not rows or rows[0]["quota"] is None:
        return None
    return rows[0] | {"currency": figures["currency"], "period_label": span.label}


def _target_name(alert: Alert) -> str:
    return str(alert.target_team or alert.target_user)


def _coverage(alert: Alert, recipient, today: dt.date, now) -> str | None:
    """Open pipeline expected to close in the current period ÷ the quota gap, below the ratio."""
    row = _attainment_row(alert, recipient, today)
    if row is None or row["gap"] <= 0:
        return None  # no quota, or the quota is already met: nothing to cover
    ratio = (row["pipeline"] / row["gap"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if ratio >= alert.min_ratio:
        return None
    return _(
        "Pipeline coverage of %(target)s for %(period)s is %(ratio)s, below %(minimum)s: "
        "%(pipeline)s of open deals for a gap of %(gap)s."
    ) % {
        "target": _target_name(alert),
        "period": row["period_label"],
        "ratio": formatting.number(ratio),
        "minimum": formatting.number(alert.min_ratio),
        "pipeline": formatting.major_money(row["pipeline"], row["currency"]),
        "gap": formatting.major_money(row["gap"], row["currency"]),
    }


def _quota_gap(alert: Alert, recipient, today: dt.date, now) -> str | None:
    """On or after its day: the quota gap of the period containing that day, above the limit."""
    if today < alert.on_date:
        return None
    row = _attainment_row(alert, recipient, alert.on_date)
    if row is None:
        return None
    limit = to_major(alert.max_gap_minor or 0, row["currency"])
    if row["gap"] <= limit:
        return None
    return _(
        "On %(day)s, %(target)s has won %(won)s of a %(quota)s quota for %(period)s: "
        "a gap of %(gap)s."
    ) % {
        "day": formatting.date(alert.on_date),
        "target": _target_name(alert),
        "won": formatting.major_money(row["won"], row["currency"]),
        "quota": formatting.major_money(row["quota"], row["currency"]),
        "period": row["period_label"],
        "gap": formatting.major_money(row["gap"], row["currency"]),
    }


def rotting_condition(now: dt.datetime, pipeline_id: int | None) -> Q:
    """Open deals idle in their stage longer than it allows (ruche.web.views.board.is_rotting):
    since they entered it and since the start of their last activity's day. One condition
    per stage that rots, not per deal."""
    stages = Stage.objects.filter(is_deleted=False, days_to_rotten__isnull=False)
    if pipeline_id is not None:
        stages = stages.filter(pipeline_id=pipeline_id)
    condition = Q(pk__in=[])
    for stage_id, days in stages.values_list("pk", "days_to_rotten"):
        limit = timezone.localtime(now - dt.timedelta(days=days))
        last_day = Q(last_activity_date__lte=limit.date())
        if limit.time() == dt.time.min:
            last_day = Q(last_activity_date__lt=limit.date())
        condition |= Q(stage_id=stage_id, stage_change_time__lt=limit) & (
            Q(last_activity_date__isnull=True) | last_day
        )
    return condition


def _rotting(alert: Alert, recipient, today: dt.date, now) -> str | None:
    deals = deal_list(
        recipient,
        filters={"owner_id": alert.target_user_id, "pipeline_id": alert.pipeline_id},
    ).filter(rotting_condition(now, alert.pipeline_id), status=Deal.Status.OPEN)
    if alert.target_team_id is not None:
        deals = deals.filter(owner__team_id=alert.target_team_id)
    count = deals.count()
    if count < (alert.min_count or 1):
        return None
    titles = deals.order_by("stage_change_time", "pk").values_list("title", flat=True)
    lines = "\n".join(f"- {title}" for title in titles[:ROTTING_LISTED])
    more = count - min(count, ROTTING_LISTED)
    text = _("%(count)s deals are rotting (idle longer than their stage allows):") % {
        "count": count
    }
    return f"{text}\n{lines}" + (f"\n… (+{more})" if more else "")


CHECKS = {
    Alert.Kind.PIPELINE_COVERAGE: _coverage,
    Alert.Kind.ROTTING_DEALS: _rotting,
    Alert.Kind.QUOTA_GAP: _quota_gap,
}


def alert_email(alert: Alert, recipient, today: dt.date, now) -> tuple[str, str] | None:
    with translation.override(_language(recipient)):
        message = CHECKS[alert.kind](alert, recipient, today, now)
        if message is None:
            return None
        subject = _("Alert: %(name)s") % {"name": alert.name}
        body = render_to_string("reports/email/alert.txt", {"alert": alert, "message": message})
    return subject, body


def alert_period(alert: Alert, today: dt.date) -> str:
    if alert.kind == Alert.Kind.QUOTA_GAP:
        return alert.on_date.isoformat()
    return delivery_period(alert.frequency, today)


# The run ---------------------------------------------------------------------------------------


def _decide(recipient, period: str, subject: str, body: str, **source) -> int:
    """Write the delivery (unique per source, recipient and period), send after commit."""
    to_email = recipient.email or ""
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                recipient=recipient,
                period=period,
                to_email=to_email,
                subject=subject,
                body=body,
                status=Status.PENDING if to_email else Status.NO_EMAIL,
                **source,
            )
    except IntegrityError:
        return 0  # decided by a concurrent run
    if to_email:
        transaction.on_commit(lambda: deliver(delivery.pk))
    return 1


def _undecided(recipients, period: str, **source) -> list:
    """The active recipients without a delivery for this source and period."""
    done = set(
        Delivery.objects.filter(period=period, **source).values_list("recipient_id", flat=True)
    )
    return [r for r in recipients if r.is_active and r.pk not in done]


def _due(today: dt.date, now: dt.datetime) -> Iterator[tuple]:
    """(recipient, period, source, compose) for each delivery not decided yet; `compose()`
    gives (subject, body), or None for an alert whose condition does not hold."""
    schedules = Schedule.objects.filter(is_active=True, report__is_deleted=False)
    for schedule in schedules.select_related("report").prefetch_related("recipients"):
        period = delivery_period(schedule.frequency, today)
        for recipient in _undecided(schedule.recipients.all(), period, schedule=schedule):
            if can_read(schedule.report, recipient):  # else made private since
                compose = partial(report_email, schedule, recipient, today)
                yield recipient, period, {"schedule": schedule}, compose
    alerts = Alert.objects.filter(is_active=True).select_related("target_user", "target_team")
    for alert in alerts.prefetch_related("recipients"):
        period = alert_period(alert, today)
        for recipient in _undecided(alert.recipients.all(), period, alert=alert):
            yield (
                recipient,
                period,
                {"alert": alert},
                partial(alert_email, alert, recipient, today, now),
            )


def send_due_deliveries(today: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """Decide and send the schedules and alerts due on `today`. Safe to run any number of
    times: each (source, recipient, period) is decided once. Figures that cannot be computed
    (a missing exchange rate) are counted in `errors` and tried again by the next run."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    counts = {"reports": 0, "alerts": 0, "errors": 0}
    for recipient, period, source, compose in _due(today, now):
        try:
            email = compose()
        except RucheError as error:
            logger.warning("Delivery %s to %s not computed: %s", source, recipient.pk, error)
            counts["errors"] += 1
            continue
        if email is not None:
            kind = "reports" if "schedule" in source else "alerts"
            counts[kind] += _decide(recipient, period, *email, **source)
    return counts | {"retried": _retry_failed()}


def deliver(delivery_id: int, retry: bool = False) -> bool:
    """Claim the row (pending → sending; failed → sending on retry), send, mark it sent."""
    claimable = [Status.PENDING] + ([Status.FAILED] if retry else [])
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=claimable).update(
        status=Status.SENDING
    )
    if not claimed:
        return False
    delivery = Delivery.objects.get(pk=delivery_id)
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.to_email],
    )
    try:
        message.send(fail_silently=False)
    except Exception as error:  # any transport error: retried on the next run
        Delivery.objects.filter(pk=delivery_id).update(
            status=Status.FAILED, error=str(error)[:2000]
        )
        return False
    Delivery.objects.filter(pk=delivery_id).update(status=Status.SENT, sent_time=timezone.now())
    return True


def _retry_failed() -> int:
    failed = Delivery.objects.filter(status=Status.FAILED).values_list("pk", flat=True)
    return sum(deliver(pk, retry=True) for pk in list(failed))
