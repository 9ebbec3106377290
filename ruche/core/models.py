from django.conf import settings
from django.db import models
from django.utils import timezone


class Visibility(models.IntegerChoices):
    """Pipedrive's `visible_to` values."""

    OWNER = 1, "Owner only"
    TEAM = 3, "Owner's team"
    EVERYONE = 7, "Everyone"


class TimestampedModel(models.Model):
    add_time = models.DateTimeField(default=timezone.now, db_index=True)
    update_time = models.DateTimeField(default=timezone.now, db_index=True)
    # Bumped by every service write; the API sends it as the ETag for optimistic concurrency.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True


class OwnedModel(TimestampedModel):
    """A record with an owner and a visibility, restricted by `ruche.core.permissions`."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visible_to = models.PositiveSmallIntegerField(choices=Visibility.choices)
    custom_fields = models.JSONField(default=dict, blank=True)
    is_deleted = models.BooleanField(default=False)

    class Meta:
        abstract = True


class Lookup(models.Model):
    """An admin-editable list value: sources, loss reasons, forecast categories, labels."""

    class Kind(models.TextChoices):
        SOURCE = "source"
        LOSS_REASON = "loss_reason"
        FORECAST_CATEGORY = "forecast_category"
        LABEL = "label"
        INDUSTRY = "industry"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    name = models.CharField(max_length=255)
    order_nr = models.PositiveIntegerField(default=0)
    color = models.CharField(max_length=16, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "order_nr", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="lookup_unique_kind_name")
        ]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """An admin-defined field; values live in the entity's `custom_fields` JSON by `key`."""

    class Entity(models.TextChoices):
        DEAL = "deal"
        PERSON = "person"
        ORGANIZATION = "organization"
        PRODUCT = "product"
        ACTIVITY = "activity"

    class FieldType(models.TextChoices):
        TEXT = "text"
        NUMBER = "double"
        MONEY = "monetary"
        DATE = "date"
        SINGLE_CHOICE = "enum"
        MULTIPLE_CHOICE = "set"
        USER = "user"

    entity = models.CharField(max_length=16, choices=Entity.choices)
    key = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    field_type = models.CharField(max_length=16, choices=FieldType.choices)
    # For choice fields: [{"id": 1, "label": "..."}]
    options = models.JSONField(default=list, blank=True)
    is_required = models.BooleanField(default=False)
    order_nr = models.PositiveIntegerField(default=0)
    add_time = models.DateTimeField(default=timezone.now)
    update_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entity", "order_nr", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="customfield_unique_key")
        ]

    def __str__(self) -> str:
        return self.name


class ExchangeRate(models.Model):
    """1 unit of `currency` = `rate` units of `quote_currency` (the company currency), from
    `valid_from` until the next rate. Rates are not money, so a 12-decimal Decimal is fine."""

    currency = models.CharField(max_length=3)
    quote_currency = models.CharField(max_length=3)
    valid_from = models.DateField()
    rate = models.DecimalField(max_digits=24, decimal_places=12)

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "quote_currency", "valid_from"], name="exchangerate_unique_day"
            )
        ]


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes would bypass the instance guards below; refuse them too."""

    def update(self, **kwargs):
        raise RuntimeError("History is append-only.")

    def delete(self):
        raise RuntimeError("History is append-only.")


class ChangeRecord(models.Model):
    """One append-only history entry, written by a service in the same transaction."""

    class Event(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        STAGE_MOVED = "stage_moved"
        WON = "won"
        LOST = "lost"
        REOPENED = "reopened"
        OWNER_CHANGED = "owner_changed"
        LINE_ADDED = "line_added"
        LINE_UPDATED = "line_updated"
        LINE_REMOVED = "line_removed"
        DELETED = "deleted"
        REMINDER_SENT = "reminder_sent"

    class ActorKind(models.TextChoices):
        USER = "user"
        TOKEN = "token"
        IMPORT = "import"
        JOB = "job"

    entity = models.CharField(max_length=16)
    entity_id = models.BigIntegerField()
    event = models.CharField(max_length=16, choices=Event.choices)
    field = models.CharField(max_length=64, blank=True)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=255, blank=True)
    time = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["entity", "entity_id", "id"], name="history_by_record")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("History is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("History is append-only.")
