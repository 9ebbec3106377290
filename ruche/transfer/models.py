from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportRun(models.Model):
    """One import: its file, mapping, progress, report, and what it needs to be undone."""

    class Status(models.TextChoices):
        DRAFT = "draft"  # uploaded from the web or the API, its mapping still being chosen
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        INVALID = "invalid"  # validation found errors and the mapping says "abort"
        FAILED = "failed"
        CANCELLED = "cancelled"
        UNDONE = "undone"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    entity = models.CharField(max_length=16)
    file_path = models.CharField(max_length=1000)
    file_name = models.CharField(max_length=255, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    errors_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # {"rows": n, "created": n, "updated": n, "skipped": n, "errors": [{line, column, reason}],
    #  "bad_rows_file": path, ...}
    report = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    # Whether the user who started it was told it ended (a message on their next page).
    notified = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    FINISHED = (
        Status.DONE,
        Status.INVALID,
        Status.FAILED,
        Status.CANCELLED,
        Status.UNDONE,
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "notified"], name="import_runs_to_notify")]

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.entity})"


class ImportedRecord(models.Model):
    """A record an import created or updated; `before` holds the fields it changed, as they
    were, so that undoing the import restores them."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="records")
    entity = models.CharField(max_length=16)
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "entity", "action"], name="imported_by_run")]


class SavedMapping(models.Model):
    """The column and value mapping last chosen for a file of this entity with these headers,
    proposed again for the next such file."""

    entity = models.CharField(max_length=16)
    headers_key = models.CharField(max_length=64)  # sha256 of the sorted headers
    columns = models.JSONField(default=dict, blank=True)
    values = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "headers_key"], name="one_mapping_per_headers"
            )
        ]
