"""Reminders (relances) against a real SMTP server (aiosmtpd): one email per due step however
often the job runs, none after payment, late interest and the flat fee stated, each reminder in
the invoice's and the deal's history, and the deal owner told about overdue invoices and
payments."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.billing import reminders, services
from ruche.billing.models import CustomerBilling, ReminderLog, ReminderStep
from ruche.billing.tasks import next_run_time, send_due_reminders
from ruche.core.models import ChangeRecord

CUSTOMER_EMAIL = "compta@dupont.test"
OWNER_EMAIL = "rep@ruche.test"
# 3 065,75 EUR incl. VAT (tests/billing/conftest.py MIXED_LINES).
TOTAL = 306575


@pytest.fixture
def invoice(issued_invoice, customer):
    CustomerBilling.objects.create(org=customer, email=CUSTOMER_EMAIL)
    return issued_invoice


def subject(message) -> str:
    # Encoded (non-ASCII) subjects come back folded with a leading space.
    return str(message["Subject"]).strip()


def run(on: dt.date, capture) -> dict:
    with capture(execute=True):
        return send_due_reminders.call(today=on.isoformat())


def test_default_sequence_is_three_days_before_then_7_15_30_after(db):
    reminders.ensure_default_steps()
    steps = list(ReminderStep.objects.values_list("offset_days", "name"))
    assert steps == [
        (-3, "Rappel avant échéance"),
        (7, "Première relance"),
        (15, "Deuxième relance"),
        (30, "Mise en demeure"),
    ]


def test_running_twice_a_day_sends_one_email_per_due_step(
    invoice, smtp, django_capture_on_commit_callbacks
):
    due = invoice.due_date
    assert run(due - dt.timedelta(days=4), django_capture_on_commit_callbacks)["reminders"] == 0
    for _ in range(2):
        run(due - dt.timedelta(days=3), django_capture_on_commit_callbacks)
    sent = smtp.to(CUSTOMER_EMAIL)
    assert [subject(m) for m in sent] == [
        f"Rappel : facture {invoice.number} à régler le {due:%d/%m/%Y}"
    ]
    assert "pénalités" not in sent[0].get_content()
    assert smtp.to(OWNER_EMAIL) == []

    for _ in range(2):
        run(due + dt.timedelta(days=7), django_capture_on_commit_callbacks)
    sent = smtp.to(CUSTOMER_EMAIL)
    assert [subject(m) for m in sent][1:] == [f"Facture {invoice.number} échue le {due:%d/%m/%Y}"]
    log = ReminderLog.objects.get(step__offset_days=7)
    # 3 065,75 x 12,15 % x 7 / 365 = 7,1436 -> 7,14 EUR; the 40 EUR fee (business customer).
    assert (log.balance_minor, log.days_late, log.interest_minor, log.fee_minor) == (
        TOTAL,
        7,
        714,
        4000,
    )
    body = sent[1].get_content()
    assert "retard de 7 jours" in body and "12,15 %" in body
    assert "7,14 €" in body and "40,00 €" in body and "3 112,89 €" in body
    assert log.status == "sent" and log.to_email == CUSTOMER_EMAIL and log.attempts == 1
    # The owner is told once that the invoice is overdue.
    assert [subject(m) for m in smtp.to(OWNER_EMAIL)] == [
        f"Facture {invoice.number} en retard de paiement"
    ]
    # Logged on the invoice and on the deal's timeline.
    for entity, entity_id in (("invoice", invoice.pk), ("deal", invoice.deal_id)):
        records = ChangeRecord.objects.filter(
            entity=entity, entity_id=entity_id, event="reminder_sent"
        )
        assert [r.new_value["offset_days"] for r in records.order_by("pk")] == [-3, 7]


def test_none_is_sent_after_payment(invoice, rep_actor, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_create(
            actor=rep_actor,
            data={"invoice_id": invoice.pk, "amount": Decimal("3065.75"), "date": None},
        )
    assert [subject(m) for m in smtp.to(OWNER_EMAIL)] == [
        f"Règlement reçu : facture {invoice.number}"
    ]
    for days in (-3, 7, 15, 30, 45):
        run(invoice.due_date + dt.timedelta(days=days), django_capture_on_commit_callbacks)
    assert smtp.to(CUSTOMER_EMAIL) == []
    assert ReminderLog.objects.count() == 0
    assert len(smtp.to(OWNER_EMAIL)) == 1


def test_a_credited_invoice_gets_no_reminder(
    invoice, rep_actor, smtp, django_capture_on_commit_callbacks
):
    note = services.credit_note_create(actor=rep_actor, data={"invoice_id": invoice.pk})
    services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    run(invoice.due_date + dt.timedelta(days=8), django_capture_on_commit_callbacks)
    assert smtp.messages == [] and ReminderLog.objects.count() == 0


def test_a_late_start_sends_only_the_latest_due_step_and_stops_after_payment(
    invoice, rep_actor, smtp, django_capture_on_commit_callbacks
):
    due = invoice.due_date
    run(due + dt.timedelta(days=16), django_capture_on_commit_callbacks)
    assert list(ReminderLog.objects.values_list("step__offset_days", flat=True)) == [15]
    log = ReminderLog.objects.get()
    # A partial payment lowers the balance the next step claims.
    services.payment_create(
        actor=rep_actor, data={"invoice_id": invoice.pk, "amount": Decimal("1000")}
    )
    run(due + dt.timedelta(days=30), django_capture_on_commit_callbacks)
    last = ReminderLog.objects.get(step__offset_days=30)
    assert (log.balance_minor, last.balance_minor) == (TOTAL, TOTAL - 100000)
    assert last.interest_minor == reminders.late_interest_minor(
        TOTAL - 100000, Decimal("12.15"), 30
    )
    services.payment_create(
        actor=rep_actor, data={"invoice_id": invoice.pk, "amount": Decimal("2065.75")}
    )
    run(due + dt.timedelta(days=60), django_capture_on_commit_callbacks)
    assert len(smtp.to(CUSTOMER_EMAIL)) == 2


def test_an_edited_template_and_rate_are_used(
    invoice, admin_actor, smtp, django_capture_on_commit_callbacks
):
    reminders.ensure_default_steps()
    ReminderStep.objects.filter(offset_days=7).update(
        subject_template="Relance {{ number }} : {{ total_claimed }}",
        body_template="Intérêts {{ interest }} au taux {{ rate }} %",
    )
    run(invoice.due_date + dt.timedelta(days=7), django_capture_on_commit_callbacks)
    (message,) = smtp.to(CUSTOMER_EMAIL)
    assert subject(message) == f"Relance {invoice.number} : 3 112,89 €"
    assert message.get_content().strip() == "Intérêts 7,14 € au taux 12,15 %"


def test_a_failed_send_is_kept_and_retried_once_smtp_is_back(
    invoice, settings, smtp, django_capture_on_commit_callbacks
):
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there
    run(invoice.due_date - dt.timedelta(days=3), django_capture_on_commit_callbacks)
    log = ReminderLog.objects.get()
    assert (log.status, log.attempts) == ("failed", 1)
    settings.EMAIL_PORT = port
    result = run(invoice.due_date - dt.timedelta(days=3), django_capture_on_commit_callbacks)
    assert result["reminders"] == 0 and result["retried"] == 1
    assert len(smtp.to(CUSTOMER_EMAIL)) == 1
    assert ReminderLog.objects.get().status == "sent"


def test_interest_rounding():
    assert reminders.late_interest_minor(100000, Decimal("12.15"), 365) == 12150
    assert reminders.late_interest_minor(100000, Decimal("12.15"), 0) == 0
    assert reminders.late_interest_minor(1, Decimal("12.15"), 1) == 0


def test_the_daily_run_is_tomorrow_morning():
    now = dt.datetime(2026, 3, 10, 15, 30, tzinfo=dt.UTC)
    assert next_run_time(now).isoformat() == "2026-03-11T08:00:00+01:00"


def test_reminder_steps_api(admin, rep, api_as, invoice, django_capture_on_commit_callbacks, smtp):
    steps = api_as(rep).get("/billing/reminder_steps").json()["data"]
    assert [s["offset_days"] for s in steps] == [-3, 7, 15, 30]
    first = steps[1]["id"]
    refused = api_as(rep).patch(f"/billing/reminder_steps/{first}", {"name": "X"})
    assert refused.status_code == 403
    bad = api_as(admin).patch(f"/billing/reminder_steps/{first}", {"body_template": "{% if %}"})
    assert bad.status_code == 422 and "body_template" in bad.content.decode()
    clash = api_as(admin).patch(f"/billing/reminder_steps/{first}", {"offset_days": 15})
    assert clash.status_code == 422 and "offset_days" in clash.content.decode()
    assert ReminderStep.objects.get(pk=first).name == "Première relance"
    changed = api_as(admin).patch(
        f"/billing/reminder_steps/{first}",
        {"offset_days": 5, "subject_template": "Relance {{ number }}"},
    )
    assert changed.status_code == 200 and changed.json()["data"]["offset_days"] == 5
    run(invoice.due_date + dt.timedelta(days=5), django_capture_on_commit_callbacks)
    sent = api_as(rep).get(f"/invoices/{invoice.pk}/reminders").json()["data"]
    assert [(r["subject"], r["days_late"], r["status"]) for r in sent] == [
        (f"Relance {invoice.number}", 5, "sent")
    ]
    assert sent[0]["fee"] == 40 and sent[0]["balance"] == 3065.75
