"""Reads of quotes, invoices, credit notes and payments, restricted to what the user may see.

A billing document is seen through its deal; without a deal, through its organisation; without
either, by its owner (and the owner's manager). Payments are seen through their invoice.
An invoice's paid and credited amounts, balance and status are computed here, in the database,
by one expression used for lists, filters and single records alike.
"""

import datetime as dt

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ruche.billing.models import Invoice, Payment, Quote
from ruche.core.exceptions import NotFound
from ruche.core.permissions import owner_q, visibility_q

Status = Invoice.Status
Kind = Invoice.Kind


def document_q(user, prefix: str = "") -> Q:
    if user is None or user.is_admin:
        return Q()
    return (
        (Q(**{f"{prefix}deal__isnull": False}) & visibility_q(user, f"{prefix}deal__"))
        | (
            Q(**{f"{prefix}deal__isnull": True, f"{prefix}org__isnull": False})
            & visibility_q(user, f"{prefix}org__")
        )
        | (
            Q(**{f"{prefix}deal__isnull": True, f"{prefix}org__isnull": True})
            & owner_q(user, prefix)
        )
    )


def _sum(queryset: QuerySet, field: str) -> Subquery:
    return Subquery(
        queryset.order_by().values("invoice_ref").annotate(total=Sum(field)).values("total")[:1],
        output_field=BigIntegerField(),
    )


def with_balance(invoices: QuerySet, today: dt.date | None = None) -> QuerySet:
    """Annotate paid_minor, credited_minor, balance_minor and status (the computed one)."""
    today = today or timezone.localdate()
    paid = _sum(
        Payment.objects.filter(invoice=OuterRef("pk"), is_deleted=False).annotate(
            invoice_ref=F("invoice_id")
        ),
        "amount_minor",
    )
    credited = _sum(
        Invoice.objects.filter(
            credited_invoice=OuterRef("pk"), kind=Kind.CREDIT_NOTE, issued_time__isnull=False
        ).annotate(invoice_ref=F("credited_invoice_id")),
        "total_incl_vat_minor",
    )
    invoices = invoices.annotate(
        paid_minor=Coalesce(paid, Value(0), output_field=BigIntegerField()),
        credited_minor=Coalesce(credited, Value(0), output_field=BigIntegerField()),
    ).annotate(
        balance_minor=Case(
            When(issued_time__isnull=True, then=Value(0)),
            When(kind=Kind.CREDIT_NOTE, then=Value(0)),
            default=F("total_incl_vat_minor") - F("paid_minor") - F("credited_minor"),
            output_field=BigIntegerField(),
        )
    )
    return invoices.annotate(status=status_case(today))


def status_case(today: dt.date) -> Case:
    """The status rule, in order: draft; credited (credit notes cancel the whole invoice);
    paid (nothing left to pay, credit notes included); overdue (a balance past the due date);
    partially paid; issued. A credit note is `issued` once issued."""
    return Case(
        When(issued_time__isnull=True, then=Value(Status.DRAFT)),
        When(kind=Kind.CREDIT_NOTE, then=Value(Status.ISSUED)),
        When(credited_minor__gte=F("total_incl_vat_minor"), then=Value(Status.CREDITED)),
        When(balance_minor__lte=0, then=Value(Status.PAID)),
        When(due_date__lt=today, then=Value(Status.OVERDUE)),
        When(paid_minor__gt=0, then=Value(Status.PARTIALLY_PAID)),
        default=Value(Status.ISSUED),
    )


def invoice_queryset(user, *, kinds=(Kind.INVOICE, Kind.DEPOSIT)) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(document_q(user), kind__in=kinds)
    return with_balance(invoices).select_related("credited_invoice")


def credit_note_queryset(user) -> QuerySet[Invoice]:
    return invoice_queryset(user, kinds=(Kind.CREDIT_NOTE,))


def _access(queryset: QuerySet, pk, label: str):
    instance = queryset.filter(pk=pk).first() if isinstance(pk, int) else None
    if instance is None:
        raise NotFound(f"{label} {pk} not found.")
    return instance


def access_invoice_by_id(user, invoice_id: int) -> Invoice:
    return _access(invoice_queryset(user), invoice_id, "Invoice")


def access_credit_note_by_id(user, credit_note_id: int) -> Invoice:
    return _access(credit_note_queryset(user), credit_note_id, "Credit note")


def access_any_invoice_by_id(user, invoice_id: int) -> Invoice:
    kinds = (Kind.INVOICE, Kind.DEPOSIT, Kind.CREDIT_NOTE)
    return _access(invoice_queryset(user, kinds=kinds), invoice_id, "Invoice")


def invoice_list(user, *, filters: dict, credit_notes: bool = False) -> QuerySet[Invoice]:
    invoices = credit_note_queryset(user) if credit_notes else invoice_queryset(user)
    for field in ("deal_id", "org_id", "kind", "status", "credited_invoice_id"):
        if filters.get(field) is not None:
            invoices = invoices.filter(**{field: filters[field]})
    return invoices


def quote_queryset(user) -> QuerySet[Quote]:
    return Quote.objects.filter(document_q(user))


def access_quote_by_id(user, quote_id: int) -> Quote:
    return _access(quote_queryset(user), quote_id, "Quote")


def quote_list(user, *, filters: dict) -> QuerySet[Quote]:
    quotes = quote_queryset(user)
    for field in ("deal_id", "org_id", "status", "number"):
        if filters.get(field) is not None:
            quotes = quotes.filter(**{field: filters[field]})
    return quotes


def payment_queryset(user) -> QuerySet[Payment]:
    return Payment.objects.filter(document_q(user, "invoice__"), is_deleted=False).select_related(
        "invoice"
    )


def access_payment_by_id(user, payment_id: int) -> Payment:
    return _access(payment_queryset(user), payment_id, "Payment")


def payment_list(user, *, filters: dict) -> QuerySet[Payment]:
    payments = payment_queryset(user)
    for field in ("invoice_id",):
        if filters.get(field) is not None:
            payments = payments.filter(**{field: filters[field]})
    if filters.get("deal_id") is not None:
        payments = payments.filter(invoice__deal_id=filters["deal_id"])
    return payments


# The deal's payment state ----------------------------------------------------------------------


def deal_payment_states(user, deal_ids: list[int], today: dt.date | None = None) -> dict:
    """{deal_id: state} for the deals among `deal_ids` the user may see, in one query: what was
    invoiced (issued invoices and deposits), paid, credited, still due and overdue, and a
    summary status: none, issued, partially_paid, paid, overdue, credited."""
    today = today or timezone.localdate()
    rows = (
        with_balance(
            Invoice.objects.filter(
                document_q(user),
                deal_id__in=deal_ids,
                kind__in=(Kind.INVOICE, Kind.DEPOSIT),
                issued_time__isnull=False,
            ),
            today,
        )
        .order_by()
        .values("deal_id", "currency")
        .annotate(
            count=Count("pk"),
            invoiced=Sum("total_incl_vat_minor"),
            paid=Sum("paid_minor"),
            credited=Sum("credited_minor"),
            balance=Sum("balance_minor"),
            overdue=Sum(
                Case(
                    When(status=Status.OVERDUE, then=F("balance_minor")),
                    default=Value(0),
                    output_field=BigIntegerField(),
                )
            ),
        )
    )
    states = {}
    for row in rows:
        states[row["deal_id"]] = {
            "currency": row["currency"],
            "invoice_count": row["count"],
            "invoiced_minor": row["invoiced"],
            "paid_minor": row["paid"],
            "credited_minor": row["credited"],
            "balance_minor": row["balance"],
            "overdue_minor": row["overdue"],
            "status": _summary(row),
        }
    return states


def _summary(row: dict) -> str:
    if row["overdue"] > 0:
        return Status.OVERDUE
    if row["balance"] <= 0:
        return Status.CREDITED if row["credited"] >= row["invoiced"] else Status.PAID
    return Status.PARTIALLY_PAID if row["paid"] > 0 else Status.ISSUED


def deal_payment_state(user, deal_id: int, today: dt.date | None = None) -> dict:
    state = deal_payment_states(user, [deal_id], today).get(deal_id)
    return state or {
        "currency": None,
        "invoice_count": 0,
        "invoiced_minor": 0,
        "paid_minor": 0,
        "credited_minor": 0,
        "balance_minor": 0,
        "overdue_minor": 0,
        "status": "none",
    }


def deal_billing_documents(user, deal_id: int) -> dict:
    """The deal's quotes and invoices (deposits and credit notes included) the user may see,
    invoices with their computed paid amount, balance and status: two queries."""
    quotes = quote_queryset(user).filter(deal_id=deal_id).order_by("issue_date", "pk")
    kinds = (Kind.INVOICE, Kind.DEPOSIT, Kind.CREDIT_NOTE)
    invoices = invoice_queryset(user, kinds=kinds).filter(deal_id=deal_id).order_by("pk")
    return {"quotes": list(quotes), "invoices": list(invoices)}
