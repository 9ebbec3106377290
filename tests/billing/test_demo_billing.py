"""The demo's billing step: documents for the deals won in the last 12 months, consistent with
the billing rules (gapless numbers per series and year, balances, statuses)."""

import datetime as dt
import re
from collections import Counter, defaultdict

import pytest
from django.db.models import Sum
from django.utils import timezone

from ruche.billing import services
from ruche.billing.models import Invoice, InvoiceLine, NumberSeries, Payment, Quote
from ruche.billing.selectors import with_balance
from ruche.core.history import Actor
from ruche.demo.generator import generate
from ruche.pipelines.models import Deal

TODAY = dt.date(2025, 6, 30)


@pytest.fixture
def demo(db):
    return generate(deals=3000, seed=5, today=TODAY)


def numbers_are_gapless(numbers: list[str], prefix: str) -> None:
    by_year = defaultdict(list)
    for number in numbers:
        match = re.fullmatch(rf"{prefix}(\d{{4}})-(\d{{5}})", number)
        assert match, number
        by_year[match[1]].append(int(match[2]))
    for values in by_year.values():
        assert sorted(values) == list(range(1, len(values) + 1))


def test_billing_documents_follow_the_rules(demo):
    since = timezone.make_aware(dt.datetime(2024, 6, 30))
    won = Deal.objects.filter(status="won", won_time__gte=since, lines__isnull=False).distinct()
    invoices = Invoice.objects.filter(kind="invoice")
    assert invoices.count() == won.count() == demo.counts["invoices"] > 60
    assert Quote.objects.filter(status="accepted").count() == demo.counts["quotes"]
    numbers_are_gapless(list(invoices.values_list("number", flat=True)), "F")
    numbers_are_gapless(list(Quote.objects.values_list("number", flat=True)), "D")
    notes = Invoice.objects.filter(kind="credit_note")
    numbers_are_gapless(list(notes.values_list("number", flat=True)), "AV")
    # Chronological: numbers in the order of the issue dates.
    ordered = list(invoices.order_by("issue_date", "number").values_list("number", flat=True))
    assert ordered == sorted(ordered)
    # Each invoice equals its deal's value excl. VAT and its lines.
    for invoice in invoices.select_related("deal")[:50]:
        assert invoice.total_excl_vat_minor == invoice.deal.value_minor
        lines = InvoiceLine.objects.filter(invoice=invoice).aggregate(t=Sum("total_minor"))["t"]
        assert lines == invoice.total_excl_vat_minor
    statuses = Counter(with_balance(invoices, TODAY).values_list("status", flat=True))
    assert {"paid", "overdue", "credited"} <= set(statuses)
    balances = with_balance(invoices, TODAY)
    partly = balances.filter(paid_minor__gt=0, balance_minor__gt=0)
    assert partly.exists()  # partly paid (shown overdue once past the due date)
    assert all(p.amount_minor > 0 for p in Payment.objects.all())
    assert not with_balance(invoices, TODAY).filter(balance_minor__lt=0).exists()
    series = NumberSeries.objects.get(key="invoice")
    assert series.last_date == invoices.order_by("-issue_date").first().issue_date


def test_the_next_invoice_continues_the_series(demo):
    series = NumberSeries.objects.get(key="invoice")
    deal = (
        Deal.objects.filter(status="won", org__siren__gt="", lines__isnull=False)
        .exclude(pk__in=Invoice.objects.exclude(deal=None).values("deal_id"))
        .order_by("-won_time")
        .first()
    )
    admin = deal.owner
    actor = Actor.for_user(admin)
    invoice = services.invoice_create(actor=actor, data={"deal_id": deal.pk})
    issued = services.invoice_issue(actor=actor, invoice_id=invoice.pk)
    year = timezone.localdate().year
    expected = series.last_number + 1 if series.year == year else 1
    assert issued.number == f"F{year}-{expected:05d}"
