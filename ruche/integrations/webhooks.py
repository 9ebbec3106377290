"""Delivering outgoing webhooks: signed POSTs, every attempt logged, exponential backoff.

Signature (like Stripe's): header `X-Ruche-Signature: t=<unix time>,v1=<hex>` where hex is
HMAC-SHA256, keyed with the subscription's secret, of "<t>.<raw body>". Receivers recompute it
and refuse timestamps older than a few minutes. Other headers: `X-Ruche-Event` (the type),
`X-Ruche-Event-Id` (unique per event: receivers deduplicate on it), `X-Ruche-Delivery`.

A delivery is attempted until the receiver answers 2xx. After a failure (an error, a timeout,
any other status) the next attempt waits 30 s x 2^(attempts - 1), at most 4 hours, and never
later than 24 hours after the event; a failure at or past 24 hours ends it (status failed).
A delivery is claimed before each attempt (its next attempt time is pushed a lease ahead in one
conditional UPDATE), so two workers never send it at once, and running the task again after
success sends nothing.
"""

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from django.utils import timezone

from ruche.integrations.models import WebhookAttempt, WebhookDelivery

Status = WebhookDelivery.Status
TIMEOUT_SECONDS = 10
LEASE = dt.timedelta(seconds=TIMEOUT_SECONDS * 3)
RETRY_WINDOW = dt.timedelta(hours=24)
FIRST_DELAY_SECONDS = 30
MAX_DELAY = dt.timedelta(hours=4)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(seconds=FIRST_DELAY_SECONDS * 2 ** (attempts - 1)), MAX_DELAY)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(1000).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as error:
        return error.code, error.read(1000).decode("utf-8", "replace"), f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, "", str(getattr(error, "reason", error))[:2000]


def deliver(delivery_id: int) -> dt.datetime | None:
    """One attempt, if the delivery is pending and due. Returns when to try again, or None."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_time__lte=now
    ).update(next_attempt_time=now + LEASE)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Ruche-Webhooks/1",
        "X-Ruche-Event": event.type,
        "X-Ruche-Event-Id": event.uid,
        "X-Ruche-Delivery": str(delivery.pk),
        "X-Ruche-Signature": signature(subscription.secret, stamp, body),
    }
    started = time.monotonic()
    if subscription.is_active:
        status_code, text, error = _post(subscription.url, body, headers)
    else:
        status_code, text, error = None, "", "The subscription is inactive."
    success = status_code is not None and 200 <= status_code < 300
    attempts = delivery.attempts + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        time=now,
        status_code=status_code,
        error=error,
        response_body=text,
        duration_ms=int((time.monotonic() - started) * 1000),
        success=success,
    )
    done = timezone.now()
    if success:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.DELIVERED, attempts=attempts, delivered_time=done
        )
        return None
    deadline = delivery.created_time + RETRY_WINDOW
    if done >= deadline or not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.FAILED, attempts=attempts
        )
        return None
    retry_at = min(done + backoff(attempts), deadline)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts, next_attempt_time=retry_at
    )
    return retry_at


def due_deliveries(now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING, next_attempt_time__lte=now
        ).values_list("pk", flat=True)[:1000]
    )
