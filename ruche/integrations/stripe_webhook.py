"""The Stripe webhook: POST /api/v2/webhooks/stripe.

Each request's `Stripe-Signature` is verified with `stripe.Webhook.construct_event` and the
endpoint secret (setting RUCHE_STRIPE_WEBHOOK_SECRET, or the environment variable of that name),
with a tolerance of 5 minutes: a wrong signature or an older timestamp is refused (400) and
nothing is stored. A verified event is stored once (unique event id) in the same transaction as
what it does, so a second delivery changes nothing.

A payment is recorded (ruche.billing.services.payment_create, actor "stripe") for
`payment_intent.succeeded` (amount_received), `checkout.session.completed` (amount_total, when
payment_status is "paid") and `invoice.paid` (amount_paid), against the invoice named in the
object's metadata: `ruche_invoice_id` / `invoice_id` (Ruche's id) or `ruche_invoice_number` /
`invoice_number`. The payment is dated the event's day, method card, reference the Stripe
object's id. Events of other types, or naming no known invoice, or refused by the billing rules
(another currency, more than the balance) are stored with their outcome and answered 200, so
Stripe does not retry them.
"""

import datetime as dt
import os

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ruche.billing import services as billing_services
from ruche.billing.models import Invoice, Payment
from ruche.core.exceptions import RucheError, ValidationError
from ruche.core.history import Actor
from ruche.core.money import to_major
from ruche.integrations.models import StripeEvent

TOLERANCE_SECONDS = 300
ACTOR = Actor.for_job("stripe")
AMOUNT_FIELDS = {
    "payment_intent.succeeded": "amount_received",
    "checkout.session.completed": "amount_total",
    "invoice.paid": "amount_paid",
}
Outcome = StripeEvent.Outcome


class BadSignature(RucheError):
    status_code = 400


def webhook_secret() -> str:
    return getattr(settings, "RUCHE_STRIPE_WEBHOOK_SECRET", "") or os.environ.get(
        "RUCHE_STRIPE_WEBHOOK_SECRET", ""
    )


def verify(payload: bytes, signature: str):
    secret = webhook_secret()
    if not secret:
        raise BadSignature("The Stripe webhook secret is not configured.")
    try:
        return stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        raise BadSignature(f"Stripe-Signature: {error.user_message or error}") from None
    except ValueError:
        raise BadSignature("The body is not a Stripe event.") from None


def _invoice_for(metadata: dict) -> Invoice | None:
    kinds = (Invoice.Kind.INVOICE, Invoice.Kind.DEPOSIT)
    issued = Invoice.objects.filter(kind__in=kinds, issued_time__isnull=False)
    for key in ("ruche_invoice_id", "invoice_id"):
        value = str(metadata.get(key) or "")
        if value.isdigit() and len(value) < 19:
            return issued.filter(pk=int(value)).first()
    for key in ("ruche_invoice_number", "invoice_number"):
        if metadata.get(key):
            return issued.filter(number=str(metadata[key])[:40]).first()
    return None


def _plain(value):
    return value.to_dict() if hasattr(value, "to_dict") else dict(value or {})


def process(event) -> StripeEvent:
    """Store the event and do what it says, once. Returns the stored row (for a duplicate
    delivery: the row stored the first time)."""
    event = _plain(event)
    event_id = str(event.get("id") or "")
    if not event_id:
        raise ValidationError({"id": "A Stripe event has an id."})
    known = StripeEvent.objects.filter(event_id=event_id).first()
    if known is not None:
        return known
    try:
        with transaction.atomic():
            return _process(event, event_id)
    except IntegrityError:  # a concurrent delivery stored it first
        return StripeEvent.objects.get(event_id=event_id)


def _process(event: dict, event_id: str) -> StripeEvent:
    kind = str(event.get("type") or "")[:100]
    row = StripeEvent.objects.create(
        event_id=event_id[:255],
        type=kind,
        livemode=bool(event.get("livemode")),
        outcome=Outcome.IGNORED,
    )
    field = AMOUNT_FIELDS.get(kind)
    obj = _plain((event.get("data") or {}).get("object"))
    if field is None:
        row.detail = "Event type not handled."
    elif kind == "checkout.session.completed" and obj.get("payment_status") != "paid":
        row.detail = f"Checkout session not paid ({obj.get('payment_status')})."
    else:
        _record_payment(row, obj, field, event)
    row.save()
    return row


def _record_payment(row: StripeEvent, obj: dict, field: str, event: dict) -> None:
    invoice = _invoice_for(_plain(obj.get("metadata")))
    if invoice is None:
        row.detail = "No issued Ruche invoice named in the metadata."
        return
    row.invoice = invoice
    currency = str(obj.get("currency") or "").upper()
    amount = obj.get(field)
    if currency != invoice.currency or not isinstance(amount, int) or amount <= 0:
        row.outcome = Outcome.REFUSED
        row.detail = f"Amount {amount} {currency} does not match invoice {invoice.number}."
        return
    created = event.get("created")
    day = (
        timezone.localtime(dt.datetime.fromtimestamp(created, dt.UTC)).date()
        if isinstance(created, int)
        else timezone.localdate()
    )
    try:
        with transaction.atomic():
            payment = billing_services.payment_create(
                actor=ACTOR,
                data={
                    "invoice_id": invoice.pk,
                    "amount": to_major(amount, currency),
                    "date": min(day, timezone.localdate()),
                    "method": Payment.Method.CARD,
                    "reference": f"Stripe {obj.get('id') or row.event_id}"[:255],
                },
            )
    except RucheError as error:
        row.outcome = Outcome.REFUSED
        row.detail = str(error)
        return
    row.outcome = Outcome.PAYMENT
    row.payment = payment
