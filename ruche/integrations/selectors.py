"""Reads of webhook subscriptions: an admin sees all of them, anyone else their own."""

from django.db.models import QuerySet

from ruche.core.exceptions import NotFound
from ruche.integrations.models import WebhookAttempt, WebhookSubscription


def webhook_queryset(user) -> QuerySet[WebhookSubscription]:
    subscriptions = WebhookSubscription.objects.all()
    if user is not None and not user.is_admin:
        subscriptions = subscriptions.filter(owner=user)
    return subscriptions


def webhook_list(user, *, filters: dict) -> QuerySet[WebhookSubscription]:
    subscriptions = webhook_queryset(user)
    if filters.get("is_active") is not None:
        subscriptions = subscriptions.filter(is_active=filters["is_active"])
    return subscriptions


def access_webhook_by_id(user, webhook_id: int) -> WebhookSubscription:
    subscription = webhook_queryset(user).filter(pk=webhook_id).first()
    if subscription is None:
        raise NotFound(f"Webhook {webhook_id} not found.")
    return subscription


def webhook_attempts(user, webhook_id: int) -> QuerySet[WebhookAttempt]:
    subscription = access_webhook_by_id(user, webhook_id)
    return WebhookAttempt.objects.filter(delivery__subscription=subscription).select_related(
        "delivery__event"
    )
