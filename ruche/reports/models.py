"""Saved reports, their scheduled email deliveries, alerts, and the log of every delivery.

A report stores what to compute (kind, filters, period, grouping) and how to show it (chart);
its figures are computed at read time for the viewer, under the viewer's visibility. A
`Delivery` row is written before any email goes out, unique per (schedule or alert, recipient,
period): running the job twice in a period can never send twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ruche.accounts.models import Team
from ruche.core.models import TimestampedModel
from ruche.pipelines.models import Pipeline


class Report(TimestampedModel):
    class Kind(models.TextChoices):
        REVENUE = "revenue"
        FORECAST = "forecast"
        FUNNEL = "funnel"
        ACTIVITIES = "activities"
        WIN_LOSS = "win_loss"
        DEALS_BY_STAGE = "deals_by_stage"

    class Period(models.TextChoices):
        THIS_MONTH = "this_month"
        LAST_MONTH = "last_month"
        THIS_QUARTER = "this_quarter"
        LAST_QUARTER = "last_quarter"
        THIS_YEAR = "this_year"
        LAST_YEAR = "last_year"
        LAST_12_MONTHS = "last_12_months"
        LAST_24_MONTHS = "last_24_months"
        ALL_TIME = "all_time"
        CUSTOM = "custom"

    class Chart(models.TextChoices):
        BAR = "bar"
        LINE = "line"
        PIE = "pie"
        TABLE = "table"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    shared = models.BooleanField(default=False)
    # Filters: None means every owner, team or pipeline the viewer may see.
    filter_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filter_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filter_pipeline = models.ForeignKey(
        Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    period = models.CharField(max_length=16, choices=Period.choices, default=Period.THIS_MONTH)
    date_from = models.DateField(null=True, blank=True)  # custom period only
    date_to = models.DateField(null=True, blank=True)
    grouping = models.CharField(max_length=20)
    chart = models.CharField(max_length=8, choices=Chart.choices, default=Chart.BAR)
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["owner", "is_deleted"], name="report_owner")]

    def __str__(self) -> str:
        return self.name


class Frequency(models.TextChoices):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Schedule(models.Model):
    """Email `report` to its `recipients` once a day, week (ISO) or month: the first run of the
    job in each period sends it."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="schedules")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    is_active = models.BooleanField(default=True)
    add_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class Alert(models.Model):
    """A condition checked by the same job; when it holds, its recipients get one email per
    period of `frequency` (a quota-gap alert: once, on or after `on_date`)."""

    class Kind(models.TextChoices):
        PIPELINE_COVERAGE = "pipeline_coverage"
        ROTTING_DEALS = "rotting_deals"
        QUOTA_GAP = "quota_gap"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    # Whose figures: a rep or a team (coverage and quota gap need one); rotting: any filter.
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    pipeline = models.ForeignKey(
        Pipeline, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # month, quarter or year: the current one on the day of the check.
    period = models.CharField(max_length=8, default="quarter")
    # Coverage: alert when open pipeline ÷ gap is below this ratio (e.g. 3.00).
    min_ratio = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # Rotting: alert when at least this many deals rot.
    min_count = models.PositiveIntegerField(null=True, blank=True)
    # Quota gap: the day to check, and the gap (minor units, company currency) that alerts.
    on_date = models.DateField(null=True, blank=True)
    max_gap_minor = models.BigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    add_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One email decided for one recipient of a schedule or an alert in one period ("2026-11-25",
    "2026-W48", "2026-11"). Claimed (pending → sending) before sending: sent at most once."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        NO_EMAIL = "no_email"

    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    period = models.CharField(max_length=16)
    to_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_time = models.DateTimeField(default=timezone.now)
    sent_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(schedule__isnull=False, alert__isnull=True)
                | Q(schedule__isnull=True, alert__isnull=False),
                name="delivery_schedule_or_alert",
            ),
            models.UniqueConstraint(
                fields=["schedule", "recipient", "period"],
                condition=Q(schedule__isnull=False),
                name="delivery_once_per_schedule_period",
            ),
            models.UniqueConstraint(
                fields=["alert", "recipient", "period"],
                condition=Q(alert__isnull=False),
                name="delivery_once_per_alert_period",
            ),
        ]
