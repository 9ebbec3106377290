"""Publishing outgoing webhook events.

Services call `publish(type, entity, entity_id)` inside their transaction. When an active
subscription wants that type and its owner may see the record, one `WebhookEvent` (with the
payload) and one `WebhookDelivery` per subscription are written in that same transaction, and
the delivery task is enqueued only after it commits (`transaction.on_commit`), with ids only. A
rolled-back change therefore sends nothing. Without any subscription, publishing costs one query.
"""

import uuid

from django.db import transaction
from django.utils import timezone

from ruche.core.money import to_major
from ruche.integrations.models import (
    EVENT_TYPES,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _amount(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(to_major(minor, currency))


def deal_payload(deal_id: int) -> tuple[dict, object]:
    from ruche.pipelines.models import Deal

    deal = Deal.objects.get(pk=deal_id)
    return {
        "id": deal.pk,
        "title": deal.title,
        "status": deal.status,
        "value": _amount(deal.value_minor, deal.currency),
        "currency": deal.currency,
        "owner_id": deal.owner_id,
        "org_id": deal.org_id,
        "person_id": deal.person_id,
        "pipeline_id": deal.pipeline_id,
        "stage_id": deal.stage_id,
        "expected_close_date": _iso(deal.expected_close_date),
        "update_time": _iso(deal.update_time),
    }, deal


def quote_payload(quote_id: int) -> tuple[dict, object]:
    from ruche.billing.models import Quote

    quote = Quote.objects.get(pk=quote_id)
    return {
        "id": quote.pk,
        "number": quote.number,
        "revision": quote.revision,
        "status": quote.status,
        "deal_id": quote.deal_id,
        "org_id": quote.org_id,
        "total_excl_vat": _amount(quote.total_excl_vat_minor, quote.currency),
        "total_incl_vat": _amount(quote.total_incl_vat_minor, quote.currency),
        "currency": quote.currency,
    }, quote


def invoice_payload(invoice_id: int) -> tuple[dict, object]:
    from ruche.billing.models import Invoice
    from ruche.billing.selectors import with_balance

    invoice = with_balance(Invoice.objects.filter(pk=invoice_id)).get()
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "deal_id": invoice.deal_id,
        "org_id": invoice.org_id,
        "issue_date": _iso(invoice.issue_date),
        "due_date": _iso(invoice.due_date),
        "total_incl_vat": _amount(invoice.total_incl_vat_minor, invoice.currency),
        "paid": _amount(invoice.paid_minor, invoice.currency),
        "balance": _amount(invoice.balance_minor, invoice.currency),
        "currency": invoice.currency,
    }, invoice


PAYLOADS = {"deal": deal_payload, "quote": quote_payload, "invoice": invoice_payload}


def _visible(user, entity: str, entity_id: int) -> bool:
    if user.is_admin:
        return True
    if entity == "deal":
        from ruche.pipelines.selectors import deal_queryset

        return deal_queryset(user).filter(pk=entity_id).exists()
    from ruche.billing import selectors

    queryset = (
        selectors.quote_queryset(user)
        if entity == "quote"
        else selectors.invoice_queryset(user, kinds=("invoice", "deposit", "credit_note"))
    )
    return queryset.filter(pk=entity_id).exists()


def publish(event_type: str, entity: str, entity_id: int) -> WebhookEvent | None:
    """Record `event_type` about one record for its subscribers; deliver after commit."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event {event_type!r}.")
    subscriptions = [
        sub
        for sub in WebhookSubscription.objects.filter(is_active=True).select_related("owner")
        if event_type in (sub.events or [])
    ]
    subscriptions = [
        sub
        for sub in subscriptions
        if sub.owner.is_active and _visible(sub.owner, entity, entity_id)
    ]
    if not subscriptions:
        return None
    data, _ = PAYLOADS[entity](entity_id)
    now = timezone.now()
    uid = f"evt_{uuid.uuid4().hex}"
    event = WebhookEvent.objects.create(
        uid=uid,
        type=event_type,
        entity=entity,
        entity_id=entity_id,
        payload={"id": uid, "event": event_type, "created": now.isoformat(), "data": data},
        created_time=now,
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=sub, event=event, next_attempt_time=now, created_time=now)
        for sub in subscriptions
    )
    ids = [delivery.pk for delivery in deliveries]
    if None in ids:  # backends that do not return ids from bulk_create
        ids = list(event.deliveries.values_list("pk", flat=True))
    transaction.on_commit(lambda: _enqueue(ids))
    return event


def _enqueue(delivery_ids: list[int]) -> None:
    from ruche.integrations.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.enqueue(delivery_id)


__all__ = ["publish"]
