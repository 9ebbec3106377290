"""Reads of quotes, invoices, credit notes and payments, restricted to what the user may see.

A billing document is seen through its deal; without a deal, through its organisation; without
either, by its owner (and the owner's manager). Payments are seen through their invoice.
An invoice's paid and credited amounts, balance and status are computed here, in the database,
by one expression used for lists, filters and single records alike.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from ruche.billing.models import Invoice, Payment, Quote
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.expressions import DaysBetween
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
    summary status: none, issued, partially_paid, paid, overdue, credited.

    Amounts in different currencies are never added: `by_currency` has one entry per currency;
    the top-level amounts are those in the deal's currency (else the first currency), and the
    top-level status sums up every currency (one overdue currency makes the deal overdue)."""
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
        .values("deal_id", "currency", "deal__currency")
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
    by_deal: dict[int, list[dict]] = {}
    main_currency: dict[int, str] = {}
    for row in sorted(rows, key=lambda row: row["currency"]):
        by_deal.setdefault(row["deal_id"], []).append(_currency_state(row))
        main_currency[row["deal_id"]] = row["deal__currency"]
    return {
        deal_id: _deal_state(states, main_currency[deal_id]) for deal_id, states in by_deal.items()
    }


def _currency_state(row: dict) -> dict:
    return {
        "currency": row["currency"],
        "invoice_count": row["count"],
        "invoiced_minor": row["invoiced"],
        "paid_minor": row["paid"],
        "credited_minor": row["credited"],
        "balance_minor": row["balance"],
        "overdue_minor": row["overdue"],
        "status": _summary(row),
    }


def _summary(row: dict) -> str:
    if row["overdue"] > 0:
        return Status.OVERDUE
    if row["balance"] <= 0:
        return Status.CREDITED if row["credited"] >= row["invoiced"] else Status.PAID
    return Status.PARTIALLY_PAID if row["paid"] > 0 else Status.ISSUED


def _deal_state(states: list[dict], deal_currency: str) -> dict:
    main = next((s for s in states if s["currency"] == deal_currency), states[0])
    statuses = {state["status"] for state in states}
    if Status.OVERDUE in statuses:
        status = Status.OVERDUE
    elif len(statuses) == 1:
        status = main["status"]
    elif statuses <= {Status.PAID, Status.CREDITED}:
        status = Status.PAID
    elif statuses & {Status.PAID, Status.PARTIALLY_PAID, Status.CREDITED}:
        status = Status.PARTIALLY_PAID
    else:
        status = Status.ISSUED
    return main | {
        "invoice_count": sum(state["invoice_count"] for state in states),
        "status": status,
        "by_currency": states,
    }


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
        "by_currency": [],
    }


def deal_billing_documents(user, deal_id: int) -> dict:
    """The deal's quotes and invoices (deposits and credit notes included) the user may see,
    invoices with their computed paid amount, balance and status: two queries."""
    quotes = quote_queryset(user).filter(deal_id=deal_id).order_by("issue_date", "pk")
    kinds = (Kind.INVOICE, Kind.DEPOSIT, Kind.CREDIT_NOTE)
    invoices = invoice_queryset(user, kinds=kinds).filter(deal_id=deal_id).order_by("pk")
    return {"quotes": list(quotes), "invoices": list(invoices)}


# Payment behaviour and expected cash-in (docs/billing.md gives each formula) ------------------


SEGMENT_UNSPECIFIED = ""
GROUPINGS = {"customer": ("org_id", "customer_name"), "segment": ("segment",)}


def _average(total: int, count: int) -> Decimal | None:
    """Days to one decimal, half up: 31 days over 2 invoices is 15.5."""
    if not count:
        return None
    return (Decimal(total) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def paid_invoices(user) -> QuerySet[Invoice]:
    """Issued invoices and deposits fully paid by payments (not cancelled by a credit note),
    each with `paid_date` (its last payment), `days_to_pay` (paid date - issue date) and
    `days_late` (paid date - due date, 0 when paid on time)."""
    last_payment = Subquery(
        Payment.objects.filter(invoice=OuterRef("pk"), is_deleted=False)
        .order_by("-date")
        .values("date")[:1]
    )
    return (
        invoice_queryset(user)
        .filter(issued_time__isnull=False)
        .annotate(paid_date=last_payment)
        .filter(status=Status.PAID, credited_minor=0, paid_date__isnull=False)
        .annotate(
            days_to_pay=DaysBetween(F("paid_date"), F("issue_date")),
            days_late=Case(
                When(paid_date__gt=F("due_date"), then=DaysBetween(F("paid_date"), F("due_date"))),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
    )


def payment_delays(user, *, group_by: str = "customer") -> list:
    """Per customer (organisation) or per segment (the organisation's industry): how many
    invoices were paid, the average days to pay and the average days late. One GROUP BY query;
    rows ordered by the longest average delay first."""
    if group_by not in GROUPINGS:
        raise ValidationError({"group_by": f"One of {', '.join(GROUPINGS)}."})
    invoices = paid_invoices(user).annotate(
        segment=Coalesce(F("org__industry"), Value(SEGMENT_UNSPECIFIED))
    )
    keys = GROUPINGS[group_by]
    rows = (
        invoices.order_by()
        .values(*keys)
        .annotate(
            invoice_count=Count("pk"),
            days_to_pay_total=Sum("days_to_pay"),
            days_late_total=Sum("days_late"),
            late_count=Sum(Case(When(days_late__gt=0, then=1), default=0)),
        )
    )
    result = [
        {
            **{key: row[key] for key in keys},
            "invoice_count": row["invoice_count"],
            "late_count": row["late_count"],
            "average_days_to_pay": _average(row["days_to_pay_total"], row["invoice_count"]),
            "average_days_late": _average(row["days_late_total"], row["invoice_count"]),
        }
        for row in rows
    ]
    return sorted(result, key=lambda row: (-row["average_days_to_pay"], str(row[keys[-1]])))


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def expected_cash_in(user, *, weeks: int = 12, today: dt.date | None = None) -> dict:
    """What remains due on issued invoices, per currency: `overdue` (due before today), then
    by the week (Monday) of the due date for `weeks` weeks from this one, then `later`.
    One GROUP BY query."""
    today = today or timezone.localdate()
    first = week_start(today)
    end = first + dt.timedelta(weeks=weeks)
    rows = (
        invoice_queryset(user, kinds=(Kind.INVOICE, Kind.DEPOSIT))
        .filter(issued_time__isnull=False, balance_minor__gt=0)
        .annotate(
            bucket=Case(
                When(due_date__lt=today, then=Value("overdue")),
                When(due_date__gte=end, then=Value("later")),
                default=Value("week"),
            ),
            week=Case(
                When(due_date__gte=today, due_date__lt=end, then=TruncWeek("due_date")),
                default=None,
                output_field=DateField(),
            ),
        )
        .order_by()
        .values("bucket", "week", "currency")
        .annotate(amount_minor=Sum("balance_minor"), invoice_count=Count("pk"))
    )
    result = {"overdue": [], "weeks": [], "later": []}
    for row in sorted(rows, key=lambda row: row["currency"]):
        entry = {
            "currency": row["currency"],
            "amount_minor": row["amount_minor"],
            "invoice_count": row["invoice_count"],
        }
        if row["bucket"] == "week":
            result["weeks"].append({"week_start": _as_date(row["week"])} | entry)
        else:
            result[row["bucket"]].append(entry)
    result["weeks"].sort(key=lambda row: (row["week_start"], row["currency"]))
    return result


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
