import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ruche.contacts.models import Organization, Person
from ruche.core.models import Lookup, OwnedModel, TimestampedModel, Visibility


class Pipeline(TimestampedModel):
    name = models.CharField(max_length=255)
    order_nr = models.PositiveIntegerField(default=0)
    is_deal_probability_enabled = models.BooleanField(default=True)
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["order_nr", "id"]

    def __str__(self) -> str:
        return self.name


class Stage(TimestampedModel):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="stages")
    name = models.CharField(max_length=255)
    order_nr = models.PositiveIntegerField(default=0)
    definition = models.TextField(blank=True, help_text="What must be true for a deal here.")
    deal_probability = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    # None: deals never rot in this stage.
    days_to_rotten = models.PositiveIntegerField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline_id", "order_nr", "id"]

    def __str__(self) -> str:
        return self.name


class Deal(OwnedModel):
    class Status(models.TextChoices):
        OPEN = "open"
        WON = "won"
        LOST = "lost"

    class RevenueType(models.TextChoices):
        ONE_OFF = "one_off"
        RECURRING = "recurring"
        SERVICES = "services"

    title = models.CharField(max_length=255)
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    value_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    expected_close_date = models.DateField(null=True, blank=True)
    # None: the stage's default probability applies.
    probability = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    forecast_category = models.ForeignKey(
        Lookup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    next_step = models.CharField(max_length=500, blank=True)
    source = models.ForeignKey(
        Lookup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    competitor = models.CharField(max_length=255, blank=True)
    lost_reason = models.ForeignKey(
        Lookup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.TextField(blank=True)
    win_loss_report = models.TextField(blank=True)
    revenue_type = models.CharField(
        max_length=12, choices=RevenueType.choices, default=RevenueType.ONE_OFF
    )
    recurring_monthly_minor = models.BigIntegerField(null=True, blank=True)
    recurring_term_months = models.PositiveIntegerField(null=True, blank=True)
    recurring_start_date = models.DateField(null=True, blank=True)
    labels = models.ManyToManyField(Lookup, blank=True, related_name="labelled_deals")
    stage_change_time = models.DateTimeField(default=timezone.now)
    won_time = models.DateTimeField(null=True, blank=True)
    lost_time = models.DateTimeField(null=True, blank=True)
    close_time = models.DateTimeField(null=True, blank=True)
    last_activity_date = models.DateField(null=True, blank=True)
    next_activity = models.ForeignKey(
        "Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_activity_date = models.DateField(null=True, blank=True)
    external_id = models.CharField(max_length=120, blank=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["pipeline", "stage", "status"], name="deal_board"),
            # A board column and its summary (open deals of a pipeline, newest first), and the
            # dashboard funnel (open deals of a pipeline by stage).
            models.Index(fields=["pipeline", "status", "stage", "id"], name="deal_pipeline_open"),
            models.Index(fields=["owner", "status"], name="deal_owner_status"),
            # The indicators (ruche.forecasting.metrics) by won, close, expected close and
            # creation time: each index holds every column they read, so both databases
            # answer from it alone (index-only scans), without fetching a row per deal.
            models.Index(
                fields=[
                    *("status", "won_time", "is_deleted", "owner", "pipeline", "visible_to"),
                    *("currency", "value_minor", "add_time", "org", "revenue_type"),
                    *("recurring_monthly_minor", "recurring_term_months", "recurring_start_date"),
                    "id",
                ],
                name="deal_won_metrics",
            ),
            models.Index(
                fields=[
                    *("status", "close_time", "is_deleted", "owner", "pipeline", "visible_to"),
                    *("currency", "value_minor", "lost_reason", "id"),
                ],
                name="deal_closed_metrics",
            ),
            models.Index(
                fields=[
                    *("status", "expected_close_date", "is_deleted", "owner", "pipeline"),
                    *("visible_to", "stage", "currency", "value_minor", "probability"),
                    *("forecast_category", "id"),
                ],
                name="deal_open_metrics",
            ),
            models.Index(
                fields=[
                    *("add_time", "is_deleted", "owner", "pipeline", "visible_to", "status"),
                    *("currency", "value_minor", "id"),
                ],
                name="deal_added_metrics",
            ),
            models.Index(fields=["expected_close_date"], name="deal_close_date"),
            # The deals list's sorts, keyset-paged on (column, id).
            models.Index(fields=["value_minor", "id"], name="deal_by_value"),
            models.Index(fields=["title", "id"], name="deal_by_title"),
            models.Index(fields=["stage_change_time", "id"], name="deal_by_stage_time"),
        ]

    def __str__(self) -> str:
        return self.title


class DealLine(models.Model):
    """A product or free-text line. Amounts are minor units of the deal's currency; `total_minor`
    is quantity x unit price less the discount, excluding VAT, rounded half up once."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=15, decimal_places=4)
    unit_price_minor = models.BigIntegerField()
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    total_minor = models.BigIntegerField()
    vat_minor = models.BigIntegerField()
    order_nr = models.PositiveIntegerField(default=0)
    comments = models.TextField(blank=True)
    add_time = models.DateTimeField(default=timezone.now)
    update_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_nr", "id"]


class StageEntry(models.Model):
    """Every entry of a deal into a stage, closed when it leaves: the basis of time in stage,
    stage conversion and velocity."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_entries")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="entries")
    from_stage = models.ForeignKey(Stage, null=True, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["entered_at", "id"]
        indexes = [
            models.Index(fields=["stage", "entered_at"], name="stageentry_stage_time"),
            # A deal's entries in the same pipeline in order (stage conversion's running
            # maximum), with their stage: the entries are read from the index alone.
            models.Index(
                fields=["deal", "pipeline", "entered_at", "stage"], name="stageentry_deal_later"
            ),
        ]


# The activities of a deal visible to everyone, which every reader sees, and the others, which
# the visibility rule sorts out by what it reads of them (VISIBILITY_COLUMNS). A flag, not a
# value: SQLite uses a partial index only when the query writes its condition's constants as
# the index does, and a compared value is sent as a parameter.
PUBLIC_ACTIVITY = Q(deal_public=True)
OTHER_ACTIVITY = Q(deal_public=False)
VISIBILITY_COLUMNS = ("deal", "deal_owner", "deal_visible_to", "person", "org")


class Activity(TimestampedModel):
    class Type(models.TextChoices):
        CALL = "call"
        MEETING = "meeting"
        TASK = "task"
        EMAIL = "email"
        DEADLINE = "deadline"

    subject = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.TASK)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    due_date = models.DateField(null=True, blank=True)
    due_time = models.TimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    done = models.BooleanField(default=False)
    marked_as_done_time = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    is_deleted = models.BooleanField(default=False)
    # A copy of the deal's owner and visibility (None without a deal), kept by save() and by
    # deal_update: the visibility rule reads them here instead of joining every activity to its
    # deal (ruche.core.permissions.linked_record_q).
    deal_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    deal_visible_to = models.PositiveSmallIntegerField(null=True, blank=True)
    deal_public = models.BooleanField(default=False)  # deal_visible_to is everyone

    class Meta:
        indexes = [
            models.Index(fields=["deal", "done", "due_date"], name="activity_deal_next"),
            # The activities list's default order: due date, undated last (its sort key in
            # ruche/web/views/lists.py). PostgreSQL matches it as is; SQLite only when the
            # list's ORDER BY writes that date as a SQL literal, not as a bound parameter.
            models.Index(
                Coalesce("due_date", Value(dt.date(9999, 12, 31))), "id", name="activity_by_due"
            ),
            # The activities report: added, and completed, in a span, by period, owner or type.
            # Each index holds every column it reads, so it is answered from the index alone;
            # partial, as every reading skips deleted (and undone) ones. The activities of deals
            # visible to everyone (most) are counted without the visibility rule, from narrow
            # indexes; the others with it, from indexes holding what it reads.
            *(
                models.Index(
                    fields=[date_field, "owner", "type", *columns],
                    condition=Q(is_deleted=False, **done) & part,
                    name=f"activity_{name}_{part_name}",
                )
                for date_field, name, done in (
                    ("add_time", "added", {}),
                    ("marked_as_done_time", "completed", {"done": True}),
                )
                for part_name, part, columns in (
                    ("public", PUBLIC_ACTIVITY, ()),
                    ("private", OTHER_ACTIVITY, VISIBILITY_COLUMNS),
                )
            ),
        ]

    @staticmethod
    def deal_copy(deal: Deal | None) -> dict:
        """What an activity keeps of its deal (nothing without one), as attribute values."""
        visible_to = deal.visible_to if deal else None
        return {
            "deal_owner_id": deal.owner_id if deal else None,
            "deal_visible_to": visible_to,
            "deal_public": visible_to == Visibility.EVERYONE,
        }

    def save(self, *args, update_fields=None, **kwargs):
        # Whatever writes the activity's deal writes the copy of its owner and visibility.
        if update_fields is None or "deal" in update_fields or "deal_id" in update_fields:
            copy = self.deal_copy(self.deal if self.deal_id else None)
            for name, value in copy.items():
                setattr(self, name, value)
            if update_fields is not None:
                update_fields = {*update_fields, *copy}
        super().save(*args, update_fields=update_fields, **kwargs)


class Note(TimestampedModel):
    content = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_deleted = models.BooleanField(default=False)
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
