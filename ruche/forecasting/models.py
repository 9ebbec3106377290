"""Quotas (targets per rep or team and period) and forecasts (a rep's own call for a period,
every revision kept, and managers' adjustments, also kept). Amounts are integer minor units."""

import datetime as dt

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ruche.accounts.models import Team
from ruche.core.models import AppendOnlyQuerySet, TimestampedModel


class PeriodKind(models.TextChoices):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Quota(TimestampedModel):
    """A target for one rep or one team over one month, fiscal quarter or fiscal year, named by
    the period's first day."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="quotas"
    )
    period = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["period_start", "period", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, team__isnull=True))
                | (Q(user__isnull=True, team__isnull=False)),
                name="quota_user_or_team",
            ),
            models.UniqueConstraint(
                fields=["user", "period", "period_start"],
                condition=Q(user__isnull=False),
                name="quota_unique_user_period",
            ),
            models.UniqueConstraint(
                fields=["team", "period", "period_start"],
                condition=Q(team__isnull=False),
                name="quota_unique_team_period",
            ),
        ]


class ForecastSubmission(models.Model):
    """One revision of a rep's forecast for a period: append-only, numbered from 1."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_submissions"
    )
    period = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    revision = models.PositiveIntegerField()
    commit_minor = models.BigIntegerField()
    best_case_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    note = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "period_start", "revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "period_start", "revision"],
                name="forecast_unique_revision",
            )
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Forecast revisions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Forecast revisions are append-only.")


class ForecastAdjustment(models.Model):
    """A manager's adjustment of a rep's forecast for a period: append-only; the latest one
    counts. Seen by managers and admins only, never by the rep."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_adjustments"
    )
    period = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField()
    revision = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    note = models.TextField(blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    adjusted_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "period_start", "revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "period_start", "revision"],
                name="adjustment_unique_revision",
            )
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Forecast adjustments are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Forecast adjustments are append-only.")


class Goal(TimestampedModel):
    """Pipedrive's goals: deals added, progressed to a stage or won (by count or by value),
    activities added or completed, for a user, a team or the company, with a target per
    interval (week, month, quarter, year) between two days."""

    class Type(models.TextChoices):
        DEALS_ADDED = "deals_added"
        DEALS_PROGRESSED = "deals_progressed"
        DEALS_WON = "deals_won"
        ACTIVITIES_ADDED = "activities_added"
        ACTIVITIES_COMPLETED = "activities_completed"

    class Measure(models.TextChoices):
        COUNT = "count"
        VALUE = "value"

    class Assignee(models.TextChoices):
        USER = "user"
        TEAM = "team"
        COMPANY = "company"

    class Interval(models.TextChoices):
        WEEK = "week"
        MONTH = "month"
        QUARTER = "quarter"
        YEAR = "year"

    title = models.CharField(max_length=255)
    type = models.CharField(max_length=24, choices=Type.choices)
    measure = models.CharField(max_length=8, choices=Measure.choices, default=Measure.COUNT)
    assignee = models.CharField(max_length=8, choices=Assignee.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    pipeline = models.ForeignKey(
        "pipelines.Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stage = models.ForeignKey(
        "pipelines.Stage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activity_type = models.CharField(max_length=16, blank=True)
    interval = models.CharField(max_length=8, choices=Interval.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    # A count, or minor units of `currency` for a value goal; per interval.
    target = models.BigIntegerField()
    currency = models.CharField(max_length=3, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee="user", user__isnull=False, team__isnull=True)
                | Q(assignee="team", user__isnull=True, team__isnull=False)
                | Q(assignee="company", user__isnull=True, team__isnull=True),
                name="goal_assignee",
            )
        ]


class ScoringModel(models.Model):
    """One training of the deal-scoring model (ruche.forecasting.scoring): its test figures on a
    time-ordered split, and the pickled scikit-learn estimator (None for the fallback)."""

    trained_at = models.DateTimeField(default=timezone.now)
    fallback = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    train_examples = models.PositiveIntegerField(default=0)
    test_examples = models.PositiveIntegerField(default=0)
    auc = models.FloatField(null=True, blank=True)
    brier = models.FloatField(null=True, blank=True)
    reliability = models.JSONField(default=list, blank=True)
    blob = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-trained_at", "-id"]


class DealScore(models.Model):
    """An open deal's win score (0-100) and its top reasons, from the latest model."""

    deal = models.OneToOneField("pipelines.Deal", on_delete=models.CASCADE, related_name="score")
    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="scores")
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    scored_at = models.DateTimeField(default=timezone.now)


class ProjectionRun(models.Model):
    """The company-wide revenue projection and its backtest, computed by a background job
    (ruche.forecasting.tasks.refresh_projection) so that pages read them in one query. A row
    without `computed_at` is a requested run."""

    requested_at = models.DateTimeField(default=timezone.now)
    computed_at = models.DateTimeField(null=True, blank=True)
    projection = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    backtest = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]


# The stage history summed per day (ruche.forecasting.stage_tallies keeps them in step with the
# deals and their entries, in the same transaction): time in stage and stage conversion read a
# few thousand of these rows instead of every entry of the period. A tally row is keyed by what
# the indicators filter on (the entry's pipeline and stage) and by what the one visibility rule
# reads (the deal's owner, and through the owner the team, and visible_to), so that both stay
# exact. Days are local days of the company's time zone.
NO_EARLIER_ENTRY = dt.date(1, 1, 1)


class StageTally(models.Model):
    day = models.DateField()
    pipeline = models.ForeignKey("pipelines.Pipeline", on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey("pipelines.Stage", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    visible_to = models.PositiveSmallIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        abstract = True


class StageEntryTally(StageTally):
    """The entries made on `day`. `prev_day` is the day of the deal's previous entry into the
    same stage (NO_EARLIER_ENTRY: none), so that a deal entering a stage twice in a period
    counts once. `reached`: of the entries, those whose deal later entered a further stage of
    the pipeline or is won in it; `won`: those whose deal is won in the pipeline; `to_won_us`:
    their total microseconds from the entry to the win."""

    prev_day = models.DateField()
    entries = models.IntegerField()
    reached = models.IntegerField()
    won = models.IntegerField()
    to_won_us = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "pipeline",
                    "stage",
                    "owner",
                    "visible_to",
                    "currency",
                    "prev_day",
                ],
                name="stageentrytally_key",
            )
        ]


class StageStayTally(StageTally):
    """The stays that ended on `day` (a move out, or the deal's close for the stage it was won
    or lost in): their count and total length in microseconds."""

    stays = models.IntegerField()
    stay_us = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "pipeline", "stage", "owner", "visible_to", "currency"],
                name="stagestaytally_key",
            )
        ]


class MrrTally(models.Model):
    """The MRR moves of the shared customers (every recurring contract of theirs visible to
    everyone) in a month and currency, summed (ruche.forecasting.mrr_tallies keeps them in step
    with the deals, in the same transaction). `month` is a month index (year x 12 + month - 1);
    `change` = new + expansion - contraction - churned, so the MRR at a month is the sum of
    the changes up to it."""

    month = models.IntegerField()
    currency = models.CharField(max_length=3)
    change = models.BigIntegerField()
    new = models.BigIntegerField()
    expansion = models.BigIntegerField()
    contraction = models.BigIntegerField()
    churned = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "currency"], name="mrrtally_key")]
