from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed on retries."""

    # Who sent it: a hash of the API token, or the session's user id.
    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key")
        ]
