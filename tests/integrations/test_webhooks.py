"""Outgoing webhooks: subscriptions through the API; events written with the change and
delivered only after commit; HMAC-SHA256 signatures over "timestamp.body"; failed deliveries
retried with exponential backoff for 24 hours; every attempt logged."""

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from ruche.billing import services as billing_services
from ruche.core.history import Actor
from ruche.core.models import Visibility
from ruche.integrations import webhooks
from ruche.integrations.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from ruche.integrations.services import webhook_create
from ruche.integrations.tasks import deliver_webhook
from ruche.pipelines import services as deal_services
from ruche.pipelines.models import Deal

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that answers 500 to the first `failures` requests."""

    def __init__(self, failures: int):
        self.failures = failures
        self.requests: list[tuple[dict, bytes, int]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(receiver.requests) < receiver.failures else 200
                receiver.requests.append((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def accepted(self):
        return [(headers, body) for headers, body, status in self.requests if status == 200]


@pytest.fixture
def receiver():
    server = Receiver(failures=2)
    yield server
    server.stop()


def verify(headers: dict, body: bytes, secret: str) -> bool:
    parts = dict(item.split("=", 1) for item in headers["X-Ruche-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def make_due():
    WebhookDelivery.objects.update(next_attempt_time=timezone.now())


@override_settings(TASKS=IMMEDIATE)
def test_a_receiver_failing_twice_gets_the_event_once_with_a_valid_signature(
    receiver, rep, rep_actor, pipeline, stages, django_capture_on_commit_callbacks
):
    subscription = webhook_create(
        actor=rep_actor, data={"url": receiver.url, "events": ["deal.created", "deal.won"]}
    )
    with django_capture_on_commit_callbacks(execute=True):
        deal = deal_services.deal_create(
            actor=rep_actor, data={"title": "Audit", "stage_id": stages[0].pk}
        )
    # Delivered right after commit (immediate backend): the first attempt failed.
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    first_retry = delivery.next_attempt_time - WebhookAttempt.objects.get().time
    assert dt.timedelta(seconds=29) < first_retry < dt.timedelta(seconds=32)
    deliver_webhook.call(delivery.pk)  # not due yet: nothing is sent
    assert len(receiver.requests) == 1
    make_due()
    deliver_webhook.call(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert (
        dt.timedelta(seconds=59)
        < delivery.next_attempt_time - timezone.now()
        <= dt.timedelta(seconds=60)
    )
    make_due()
    deliver_webhook.call(delivery.pk)
    make_due()
    deliver_webhook.call(delivery.pk)  # safe to run twice: already delivered
    assert [status for _, _, status in receiver.requests] == [500, 500, 200]
    ((headers, body),) = receiver.accepted
    assert verify(headers, body, subscription.secret)
    assert not verify(headers, body, "whsec_other")
    payload = json.loads(body)
    assert payload["event"] == "deal.created" and payload["data"]["id"] == deal.pk
    assert payload["data"]["title"] == "Audit"
    assert headers["X-Ruche-Event"] == "deal.created"
    assert headers["X-Ruche-Event-Id"] == payload["id"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert list(WebhookAttempt.objects.values_list("number", "status_code", "success")) == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]


def test_nothing_is_queued_when_the_transaction_rolls_back(
    rep_actor, stages, django_capture_on_commit_callbacks
):
    webhook_create(
        actor=rep_actor, data={"url": "http://127.0.0.1:9/x", "events": ["deal.created"]}
    )
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        deal_services.deal_create(
            actor=rep_actor, data={"title": "Annulé", "stage_id": stages[0].pk}
        )
        raise RuntimeError("rollback")
    assert callbacks == []
    assert WebhookEvent.objects.count() == 0 and WebhookDelivery.objects.count() == 0


def test_deal_and_billing_events_reach_their_subscribers(
    rep_actor, other_rep, won_deal, django_capture_on_commit_callbacks
):
    everything = webhook_create(
        actor=rep_actor,
        data={"url": "http://127.0.0.1:9/x", "events": list(webhooks_events())},
    )
    # Another rep cannot see this deal: their subscription gets nothing about it.
    Deal.objects.filter(pk=won_deal.pk).update(visible_to=Visibility.OWNER)

    webhook_create(
        actor=Actor.for_user(other_rep),
        data={"url": "http://127.0.0.1:9/y", "events": ["invoice.issued", "deal.updated"]},
    )
    with django_capture_on_commit_callbacks():
        deal_services.deal_update(actor=rep_actor, deal_id=won_deal.pk, data={"title": "Bis"})
        invoice = billing_services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
        billing_services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
        billing_services.payment_create(
            actor=rep_actor, data={"invoice_id": invoice.pk, "amount": Decimal("3065.75")}
        )
    events = list(
        WebhookDelivery.objects.filter(subscription=everything)
        .values_list("event__type", flat=True)
        .order_by("pk")
    )
    assert events == ["deal.updated", "invoice.issued", "invoice.paid"]
    assert WebhookDelivery.objects.exclude(subscription=everything).count() == 0
    paid = WebhookEvent.objects.get(type="invoice.paid").payload["data"]
    assert (paid["status"], paid["balance"], paid["total_incl_vat"]) == ("paid", "0.00", "3065.75")


def webhooks_events():
    from ruche.integrations.models import EVENT_TYPES

    return EVENT_TYPES


def test_failures_stop_after_24_hours(rep_actor, stages, django_capture_on_commit_callbacks):
    webhook_create(
        actor=rep_actor, data={"url": "http://127.0.0.1:9/x", "events": ["deal.created"]}
    )
    with django_capture_on_commit_callbacks():
        deal_services.deal_create(actor=rep_actor, data={"title": "X", "stage_id": stages[0].pk})
    delivery = WebhookDelivery.objects.get()
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 10, 20)] == [
        30,
        60,
        120,
        14400,
        14400,
    ]
    WebhookDelivery.objects.update(created_time=timezone.now() - dt.timedelta(hours=23, minutes=59))
    assert webhooks.deliver(delivery.pk) is not None  # port 9: refused; one retry left
    make_due()
    WebhookDelivery.objects.update(created_time=timezone.now() - dt.timedelta(hours=24))
    assert webhooks.deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert WebhookAttempt.objects.filter(success=False).count() == 2
    assert WebhookAttempt.objects.first().error


def test_webhook_api(api_as, rep, other_rep, admin):
    client = api_as(rep)
    created = client.post(
        "/webhooks", {"url": "https://example.test/hook", "events": ["deal.won", "invoice.paid"]}
    )
    assert created.status_code == 200
    data = created.json()["data"]
    assert data["events"] == ["deal.won", "invoice.paid"] and data["secret"].startswith("whsec_")
    pk = data["id"]
    assert [w["id"] for w in client.get("/webhooks").json()["data"]] == [pk]
    assert api_as(other_rep).get(f"/webhooks/{pk}").status_code == 404
    assert [w["id"] for w in api_as(admin).get("/webhooks").json()["data"]] == [pk]
    bad = client.post("/webhooks", {"url": "ftp://example.test", "events": ["deal.won"]})
    assert bad.status_code == 422 and "url" in bad.content.decode()
    bad = client.post("/webhooks", {"url": "https://a.test", "events": ["deal.exploded"]})
    assert bad.status_code == 422 and "events" in bad.content.decode()
    assert WebhookSubscription.objects.count() == 1
    updated = client.patch(f"/webhooks/{pk}", {"is_active": False, "events": ["deal.lost"]})
    assert updated.status_code == 200
    assert (updated.json()["data"]["is_active"], updated.json()["data"]["events"]) == (
        False,
        ["deal.lost"],
    )
    assert client.get(f"/webhooks/{pk}/attempts").json()["data"] == []
    assert api_as(other_rep).delete(f"/webhooks/{pk}").status_code == 404
    assert client.delete(f"/webhooks/{pk}").status_code == 200
    assert WebhookSubscription.objects.count() == 0
