"""Integrations: Stripe events received (each processed once) and outgoing webhooks
(subscriptions, events, delivery attempts)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class StripeEvent(models.Model):
    """A Stripe event, stored when first received: its unique id makes each event processed
    once, however many times Stripe delivers it."""

    class Outcome(models.TextChoices):
        PAYMENT = "payment"
        IGNORED = "ignored"
        REFUSED = "refused"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    received_time = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-received_time"]


# Outgoing webhooks ------------------------------------------------------------------------------

EVENT_TYPES = (
    "deal.created",
    "deal.updated",
    "deal.won",
    "deal.lost",
    "quote.accepted",
    "invoice.issued",
    "invoice.paid",
    "invoice.overdue",
)


class WebhookSubscription(models.Model):
    """A URL a user subscribed to some events. Payloads are signed with its `secret`."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80)
    description = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    add_time = models.DateTimeField(default=timezone.now)
    update_time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class WebhookEvent(models.Model):
    """An event, written in the transaction that caused it (so it exists only if that
    transaction commits); its payload is what every subscriber receives."""

    uid = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=32)
    entity = models.CharField(max_length=16)
    entity_id = models.BigIntegerField()
    payload = models.JSONField()
    created_time = models.DateTimeField(default=timezone.now)


class WebhookDelivery(models.Model):
    """One event to one subscription: pending until a 2xx answer, retried with exponential
    backoff, failed after 24 hours."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_time = models.DateTimeField(default=timezone.now)
    created_time = models.DateTimeField(default=timezone.now)
    delivered_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_time"], name="webhook_due")]


class WebhookAttempt(models.Model):
    """Every delivery attempt, with the receiver's answer or the error."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveSmallIntegerField()
    time = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    success = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "number"]
