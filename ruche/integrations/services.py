"""Writes for webhook subscriptions: create, update, delete, each with its history. The secret
is generated here, shown on creation and by GET, and never written to the history."""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.services import lock
from ruche.core.validation import changed_fields
from ruche.integrations.models import EVENT_TYPES, WebhookSubscription
from ruche.integrations.selectors import webhook_queryset

FIELDS = ("url", "events", "description", "is_active")


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise ValidationError({"url": "An http(s) URL of at most 2000 characters is required."})
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "An http(s) URL with a host is required."})
    return value


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationError({"events": f"A non-empty list among {', '.join(EVENT_TYPES)}."})
    unknown = [item for item in value if item not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {"events": f"Unknown events {unknown}; known: {', '.join(EVENT_TYPES)}."}
        )
    return sorted(set(value), key=EVENT_TYPES.index)


def _values(data: dict) -> dict:
    values = {}
    if "url" in data:
        values["url"] = _url(data["url"])
    if "events" in data:
        values["events"] = _events(data["events"])
    if "description" in data:
        values["description"] = str(data["description"] or "")[:255]
    if data.get("is_active") is not None:
        values["is_active"] = bool(data["is_active"])
    return values


@transaction.atomic
def webhook_create(*, actor: Actor, data: dict[str, Any]) -> WebhookSubscription:
    if actor.user is None:
        raise ValidationError({"owner": "A webhook belongs to a user."})
    values = _values(data)
    for field in ("url", "events"):
        if field not in values:
            raise ValidationError({field: "Required."})
    subscription = WebhookSubscription.objects.create(
        owner=actor.user, secret=f"whsec_{secrets.token_urlsafe(32)}", **values
    )
    record_created("webhook", subscription.pk, actor, values)
    return subscription


@transaction.atomic
def webhook_update(
    *, actor: Actor, webhook_id: int, data: dict[str, Any], expected_version: int | None = None
) -> WebhookSubscription:
    subscription = lock(
        webhook_queryset(actor.user), webhook_id, label="Webhook", expected_version=expected_version
    )
    changes = changed_fields(subscription, _values(data), FIELDS)
    if changes:
        subscription.version += 1
        subscription.update_time = timezone.now()
        subscription.save()
        record_changes("webhook", subscription.pk, actor, changes)
    return subscription


@transaction.atomic
def webhook_delete(*, actor: Actor, webhook_id: int) -> None:
    subscription = lock(webhook_queryset(actor.user), webhook_id, label="Webhook")
    record_event("webhook", subscription.pk, Event.DELETED, actor)
    subscription.delete()
