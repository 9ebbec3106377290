"""The demo's billing step: quotes, invoices, credit notes and payments for recently won deals.

Only the deals won in the last 12 months are billed, at most MAX_BILLED_DEALS of them (the most
recent), so the step takes a few seconds whatever the number of deals. For each: an accepted
quote (sent a few days before the win, with the deal's lines), an invoice issued on the day the
deal was won (30 days' terms) and, drawn from the seeded generator, one of: paid in full,
partly paid, credited by a credit note, or unpaid (overdue once its due date has passed).

Numbers follow the billing rules: per series (D, F, AV) and year, continuous from 1 in
chronological order of the document dates, and each series row records its last number and date
so the next document issued by the services continues without gap. Rows are inserted with
`bulk_create` (which bypasses the frozen-invoice guards of `Invoice.save`, on purpose here).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from ruche.billing.models import (
    BillingProfile,
    Invoice,
    InvoiceLine,
    NumberSeries,
    Payment,
    Quote,
    QuoteLine,
)
from ruche.billing.numbering import DEFAULT_PREFIXES, format_number
from ruche.billing.services import unit_code
from ruche.billing.totals import compute_totals
from ruche.catalog.models import Product
from ruche.contacts.models import Organization
from ruche.pipelines.models import Deal, DealLine

MAX_BILLED_DEALS = 1500
TERMS_DAYS = 30
# Outcome weights: paid, partly paid, credited, unpaid.
OUTCOMES = (("paid", 62), ("partial", 12), ("credited", 6), ("unpaid", 20))
EXEMPTION = "TVA non applicable, art. 293 B du CGI"


def _profile(company, address: str) -> BillingProfile:
    lines = [part.strip() for part in address.split("\n") if part.strip()]
    street = lines[0] if lines else ""
    postal, _, city = (lines[1] if len(lines) > 1 else "").partition(" ")
    profile = BillingProfile.current()
    profile.legal_name = company.name
    profile.address, profile.postal_code, profile.city = street, postal, city
    profile.siren = company.siren
    profile.siret = ""
    profile.vat_number = company.vat_number
    profile.legal_form = "SAS"
    profile.share_capital_minor = 5_000_000
    profile.rcs = f"RCS Lyon {company.siren}"
    profile.iban = "FR7630006000011234567890189"
    profile.bic = "AGRIFRPP"
    profile.email = "factures@alveole.example"
    profile.save()
    return profile


class _Numbers:
    """Numbers per series and year, handed out in date order."""

    def __init__(self):
        self.series = {}
        for key in NumberSeries.Key.values:
            self.series[key], _ = NumberSeries.objects.get_or_create(
                key=key, defaults={"prefix": DEFAULT_PREFIXES[key]}
            )

    def assign(self, key: str, documents: list, date_of) -> None:
        series = self.series[key]
        documents.sort(key=lambda doc: (date_of(doc), doc.pk))
        counters: dict[int, int] = defaultdict(int)
        for doc in documents:
            year = date_of(doc).year if series.restart_yearly else 0
            counters[year] += 1
            doc.number = format_number(series, counters[year], date_of(doc).year)
        if documents:
            last = date_of(documents[-1])
            series.year = last.year
            series.last_number = counters[last.year if series.restart_yearly else 0]
            series.last_date = last
            series.save()


def generate_billing(*, seed: int, today: dt.date, company, company_address: str) -> dict:
    """Create the demo's billing documents; returns counts by kind. Skipped (empty counts) when
    billing documents already exist."""
    if Invoice.objects.exists() or Quote.objects.exists():
        return {}
    rng = random.Random(f"ruche-demo:{seed}:billing")
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=365), dt.time()))
    deals = list(
        Deal.objects.filter(status=Deal.Status.WON, won_time__gte=since, org__isnull=False)
        .select_related("org")
        .order_by("-won_time", "-pk")[:MAX_BILLED_DEALS]
    )
    if not deals:
        return {}
    profile = _profile(company, company_address)
    seller = profile.snapshot()
    lines_by_deal = defaultdict(list)
    for line in DealLine.objects.filter(deal__in=deals).order_by("deal_id", "order_nr", "pk"):
        lines_by_deal[line.deal_id].append(line)
    deals = [deal for deal in deals if lines_by_deal[deal.pk]]
    deals.reverse()  # chronological
    units = dict(Product.objects.values_list("pk", "unit"))
    orgs = {org.pk: org for org in Organization.objects.filter(pk__in={d.org_id for d in deals})}

    quotes, invoices, notes, payments = [], [], [], []
    plans = []
    for deal in deals:
        org = orgs[deal.org_id]
        won = timezone.localtime(deal.won_time)
        issue = won.date()
        customer = {
            "org_id": org.pk,
            "customer_name": org.name,
            "customer_address": org.address,
            "customer_postal_code": org.postal_code,
            "customer_city": org.city,
            "customer_country": org.country or "FR",
            "customer_siren": org.siren,
            "customer_vat_number": org.vat_number,
        }
        doc_lines = [
            dict(
                order_nr=index,
                product_id=line.product_id,
                name=line.name,
                unit=unit_code(units.get(line.product_id, "")),
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
                exemption_reason=EXEMPTION if not line.vat_rate else "",
                total_minor=line.total_minor,
            )
            for index, line in enumerate(lines_by_deal[deal.pk])
        ]
        totals = compute_totals(InvoiceLine(**values) for values in doc_lines)
        amounts = {
            "total_excl_vat_minor": totals.excl_vat_minor,
            "total_vat_minor": totals.vat_minor,
            "total_incl_vat_minor": totals.incl_vat_minor,
            "vat_breakdown": [group.as_json() for group in totals.groups],
        }
        sent = issue - dt.timedelta(days=rng.randint(2, 12))
        quote = Quote(
            **customer,
            **amounts,
            deal_id=deal.pk,
            owner_id=deal.owner_id,
            title=deal.title,
            status=Quote.Status.ACCEPTED,
            issue_date=sent,
            valid_until=sent + dt.timedelta(days=30),
            sent_time=won - dt.timedelta(days=(issue - sent).days),
            accepted_time=won,
            seller=seller,
            add_time=won,
            update_time=won,
        )
        invoice = Invoice(
            **customer,
            **amounts,
            deal_id=deal.pk,
            owner_id=deal.owner_id,
            title=deal.title,
            kind=Invoice.Kind.INVOICE,
            issued_time=won,
            issue_date=issue,
            due_date=issue + dt.timedelta(days=TERMS_DAYS),
            payment_terms_days=TERMS_DAYS,
            delivery_date=issue,
            seller=seller,
            add_time=won,
            update_time=won,
        )
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        quotes.append(quote)
        invoices.append(invoice)
        plans.append((quote, invoice, doc_lines, outcome))

    with transaction.atomic():
        numbers = _Numbers()
        numbers.assign(NumberSeries.Key.QUOTE, quotes, lambda q: q.issue_date)
        numbers.assign(NumberSeries.Key.INVOICE, invoices, lambda i: i.issue_date)
        Quote.objects.bulk_create(quotes, batch_size=500)
        Invoice.objects.bulk_create(invoices, batch_size=500)
        if any(q.pk is None for q in quotes) or any(i.pk is None for i in invoices):
            by_number = dict(Quote.objects.values_list("number", "pk"))
            for quote in quotes:
                quote.pk = by_number[quote.number]
            by_number = dict(Invoice.objects.values_list("number", "pk"))
            for invoice in invoices:
                invoice.pk = by_number[invoice.number]
        quote_lines, invoice_lines = [], []
        for quote, invoice, doc_lines, outcome in plans:
            quote_lines += [QuoteLine(quote_id=quote.pk, **values) for values in doc_lines]
            invoice_lines += [InvoiceLine(invoice_id=invoice.pk, **values) for values in doc_lines]
            total = invoice.total_incl_vat_minor
            paid_on = invoice.issue_date + dt.timedelta(days=rng.randint(5, 50))
            if outcome == "paid" and paid_on <= today:
                payments.append(_payment(invoice, paid_on, total, rng))
            elif outcome == "partial" and paid_on <= today:
                part = total * rng.choice((30, 40, 50)) // 100
                payments.append(_payment(invoice, paid_on, part, rng))
            elif outcome == "credited":
                credited_on = min(invoice.issue_date + dt.timedelta(days=rng.randint(3, 20)), today)
                notes.append(_credit_note(invoice, credited_on, doc_lines))
        QuoteLine.objects.bulk_create(quote_lines, batch_size=1000)
        numbers.assign(NumberSeries.Key.CREDIT_NOTE, notes, lambda n: n.issue_date)
        Invoice.objects.bulk_create(notes, batch_size=500)
        lines_of = {invoice.pk: doc_lines for _, invoice, doc_lines, _ in plans}
        note_lines = []
        for pk, credited in Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).values_list(
            "pk", "credited_invoice_id"
        ):
            note_lines += [InvoiceLine(invoice_id=pk, **values) for values in lines_of[credited]]
        InvoiceLine.objects.bulk_create(invoice_lines + note_lines, batch_size=1000)
        Payment.objects.bulk_create(payments, batch_size=1000)
    return {
        "quotes": len(quotes),
        "invoices": len(invoices),
        "credit notes": len(notes),
        "payments": len(payments),
    }


def _payment(invoice: Invoice, day: dt.date, amount: int, rng: random.Random) -> Payment:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
    method = rng.choices(
        (Payment.Method.TRANSFER, Payment.Method.CARD, Payment.Method.CHEQUE), (75, 15, 10)
    )[0]
    return Payment(
        invoice_id=invoice.pk,
        date=day,
        amount_minor=amount,
        method=method,
        reference=f"VIR {invoice.number}" if method == Payment.Method.TRANSFER else "",
        owner_id=invoice.owner_id,
        add_time=moment,
        update_time=moment,
    )


def _credit_note(invoice: Invoice, day: dt.date, doc_lines: list) -> Invoice:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(11)))
    fields = {
        name: getattr(invoice, name)
        for name in (
            "org_id",
            "customer_name",
            "customer_address",
            "customer_postal_code",
            "customer_city",
            "customer_country",
            "customer_siren",
            "customer_vat_number",
            "deal_id",
            "owner_id",
            "total_excl_vat_minor",
            "total_vat_minor",
            "total_incl_vat_minor",
            "vat_breakdown",
            "seller",
        )
    }
    return Invoice(
        **fields,
        kind=Invoice.Kind.CREDIT_NOTE,
        credited_invoice_id=invoice.pk,
        title=f"Avoir sur la facture {invoice.number}",
        issued_time=moment,
        issue_date=day,
        due_date=day,
        payment_terms_days=0,
        delivery_date=day,
        add_time=moment,
        update_time=moment,
    )


__all__ = ["generate_billing"]
