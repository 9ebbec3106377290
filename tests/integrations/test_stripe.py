"""The Stripe webhook: signatures verified by the stripe library with a 5-minute tolerance, each
event processed once, a payment recorded against the invoice named in the metadata."""

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from ruche.billing.models import Invoice, Payment
from ruche.billing.selectors import with_balance
from ruche.integrations.models import StripeEvent

SECRET = "whsec_test_ruche"
URL = "/api/v2/webhooks/stripe"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.RUCHE_STRIPE_WEBHOOK_SECRET = SECRET


def sign(body: str, secret: str = SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def event(invoice, kind="payment_intent.succeeded", amount=306575, event_id="evt_1", **extra):
    field = {
        "payment_intent.succeeded": "amount_received",
        "checkout.session.completed": "amount_total",
        "invoice.paid": "amount_paid",
    }.get(kind, "amount")
    obj = {
        "id": "pi_123",
        "object": "payment_intent",
        field: amount,
        "currency": "eur",
        "metadata": {"ruche_invoice_id": str(invoice.pk)},
    } | extra
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    )


def post(body: str, signature: str):
    return Client(enforce_csrf_checks=True).post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def balance(invoice) -> int:
    return with_balance(Invoice.objects.filter(pk=invoice.pk)).get().balance_minor


def test_a_signed_event_records_one_payment_even_delivered_twice(issued_invoice):
    body = event(issued_invoice, amount=100000)
    first = post(body, sign(body))
    assert first.status_code == 200
    assert first.json()["data"]["outcome"] == "payment"
    second = post(body, sign(body))
    assert second.status_code == 200
    assert second.json()["data"]["payment_id"] == first.json()["data"]["payment_id"]
    payment = Payment.objects.get()
    assert (payment.amount_minor, payment.method, payment.reference) == (
        100000,
        "card",
        "Stripe pi_123",
    )
    assert balance(issued_invoice) == 306575 - 100000
    assert StripeEvent.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        lambda body: sign(body, secret="whsec_wrong"),
        lambda body: sign(body, at=int(time.time()) - 301),
        lambda body: sign(body + " "),
        lambda body: "",
        lambda body: "t=abc,v1=zz",
    ],
    ids=["wrong-secret", "too-old", "other-body", "missing", "garbage"],
)
def test_a_bad_or_old_signature_is_refused_and_changes_nothing(issued_invoice, signature):
    body = event(issued_invoice)
    response = post(body, signature(body))
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert Payment.objects.count() == 0 and StripeEvent.objects.count() == 0
    assert balance(issued_invoice) == 306575


def test_a_four_minute_old_event_is_accepted(issued_invoice):
    body = event(issued_invoice)
    assert post(body, sign(body, at=int(time.time()) - 240)).status_code == 200
    assert balance(issued_invoice) == 0


def test_checkout_and_invoice_paid_by_number(issued_invoice):
    metadata = {"metadata": {"invoice_number": issued_invoice.number}}
    unpaid = event(
        issued_invoice,
        "checkout.session.completed",
        1000,
        "evt_a",
        payment_status="unpaid",
        **metadata,
    )
    assert post(unpaid, sign(unpaid)).json()["data"]["outcome"] == "ignored"
    paid = event(
        issued_invoice,
        "checkout.session.completed",
        1000,
        "evt_b",
        payment_status="paid",
        **metadata,
    )
    assert post(paid, sign(paid)).json()["data"]["outcome"] == "payment"
    body = event(issued_invoice, "invoice.paid", 2000, "evt_c", **metadata)
    assert post(body, sign(body)).json()["data"]["outcome"] == "payment"
    assert sorted(Payment.objects.values_list("amount_minor", flat=True)) == [1000, 2000]


def test_events_that_cannot_be_applied_are_stored_and_not_retried(issued_invoice):
    too_much = event(issued_invoice, amount=306576, event_id="evt_x")
    response = post(too_much, sign(too_much))
    assert response.status_code == 200
    assert response.json()["data"]["outcome"] == "refused"
    assert "amount" in response.json()["data"]["detail"]
    unknown = event(issued_invoice, event_id="evt_y", metadata={"ruche_invoice_id": "999999"})
    assert post(unknown, sign(unknown)).json()["data"]["outcome"] == "ignored"
    other = event(issued_invoice, "charge.refunded", event_id="evt_z")
    assert post(other, sign(other)).json()["data"]["outcome"] == "ignored"
    assert Payment.objects.count() == 0
    assert StripeEvent.objects.count() == 3


def test_without_a_configured_secret_everything_is_refused(issued_invoice, settings):
    settings.RUCHE_STRIPE_WEBHOOK_SECRET = ""
    body = event(issued_invoice)
    assert post(body, sign(body)).status_code == 400
    assert Payment.objects.count() == 0
