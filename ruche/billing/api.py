"""/quotes, /invoices, /credit_notes and /payments, in the API's conventions (envelope, cursor
pages, ETag/If-Match), plus the actions (send, accept, decline, revise, issue) and the documents
(PDF, Factur-X XML). Every route loads through the billing selectors' visibility rule."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from ruche.api.auth import actor_of
from ruche.api.crud import Resource, _with_etag, add_crud_routes, expected_version
from ruche.api.history import add_history_route
from ruche.api.pagination import SortedPageParams, page_response
from ruche.api.schemas import Id, envelope, ok
from ruche.billing import reminders, selectors, services
from ruche.billing.einvoicing.cii import invoice_xml
from ruche.billing.einvoicing.pdf import invoice_pdf, quote_pdf
from ruche.billing.exports import api as exports_api
from ruche.billing.models import (
    BillingProfile,
    CustomerBilling,
    DocumentLine,
    Invoice,
    Payment,
    Quote,
)
from ruche.contacts.selectors import access_organization_by_id
from ruche.core.exceptions import Conflict, PermissionDenied
from ruche.core.money import to_major
from ruche.pipelines.selectors import access_deal_by_id

router = Router(tags=["Quotes, invoices and payments"])

Text = Field(None, max_length=100_000)
Short = Field(None, max_length=255)
Amount = Field(None, ge=0, le=Decimal("999999999999"))
Rate = Literal["20", "10", "5.5", "2.1", "0"]


class VatGroupOut(Schema):
    rate: str
    category: str
    base: Decimal
    vat: Decimal
    exemption: str


def _money(document, minor: int) -> Decimal:
    return to_major(minor, document.currency)


def _lines(document) -> list[dict]:
    return [
        {
            "id": line.pk,
            "product_id": line.product_id,
            "name": line.name,
            "description": line.description,
            "quantity": line.quantity,
            "unit": line.unit,
            "unit_price": _money(document, line.unit_price_minor),
            "discount_percent": line.discount_percent,
            "vat_rate": line.vat_rate,
            "exemption_reason": line.exemption_reason,
            "total": _money(document, line.total_minor),
        }
        for line in document.lines.all()
    ]


class PlainLineOut(Schema):
    id: int
    product_id: int | None
    name: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    exemption_reason: str
    total: Decimal


class DocumentOut(Schema):
    id: int
    deal_id: int | None
    org_id: int | None
    owner_id: int
    currency: str
    nature: str
    title: str
    notes: str
    customer_name: str
    customer_address: str
    customer_postal_code: str
    customer_city: str
    customer_country: str
    customer_siren: str
    customer_vat_number: str
    customer_is_business: bool
    delivery_name: str
    delivery_address: str
    delivery_postal_code: str
    delivery_city: str
    delivery_country: str
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    vat_breakdown: list[VatGroupOut]
    lines: list[PlainLineOut]
    add_time: dt.datetime
    update_time: dt.datetime
    version: int

    @staticmethod
    def resolve_total_excl_vat(doc) -> Decimal:
        return _money(doc, doc.total_excl_vat_minor)

    @staticmethod
    def resolve_total_vat(doc) -> Decimal:
        return _money(doc, doc.total_vat_minor)

    @staticmethod
    def resolve_total_incl_vat(doc) -> Decimal:
        return _money(doc, doc.total_incl_vat_minor)

    @staticmethod
    def resolve_vat_breakdown(doc) -> list[dict]:
        return [
            {
                "rate": group["rate"],
                "category": group["category"],
                "base": _money(doc, group["base_minor"]),
                "vat": _money(doc, group["vat_minor"]),
                "exemption": group["exemption"],
            }
            for group in doc.vat_breakdown
        ]

    @staticmethod
    def resolve_lines(doc) -> list[dict]:
        return _lines(doc)


class QuoteOut(DocumentOut):
    number: str
    revision: int
    reference: str
    status: str
    issue_date: dt.date
    valid_until: dt.date
    superseded_by_id: int | None


class InvoiceOut(DocumentOut):
    kind: str
    number: str
    status: str
    issue_date: dt.date | None
    due_date: dt.date | None
    delivery_date: dt.date | None
    payment_terms_days: int | None
    quote_id: int | None
    credited_invoice_id: int | None
    deposit_percent: Decimal | None
    vat_on_debits: bool
    is_issued: bool
    paid: Decimal
    credited: Decimal
    balance: Decimal

    @staticmethod
    def resolve_is_issued(doc) -> bool:
        return doc.issued_time is not None

    @staticmethod
    def resolve_paid(doc) -> Decimal:
        return _money(doc, doc.paid_minor)

    @staticmethod
    def resolve_credited(doc) -> Decimal:
        return _money(doc, doc.credited_minor)

    @staticmethod
    def resolve_balance(doc) -> Decimal:
        return _money(doc, doc.balance_minor)


class LineIn(Schema):
    product_id: Id | None = None
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Text
    quantity: Decimal = Field(Decimal(1), gt=0, le=Decimal("99999999999"))
    unit: Literal[tuple(DocumentLine.Unit.values)] | None = None  # type: ignore[valid-type]
    unit_price: Decimal | None = Amount
    discount_percent: Decimal = Field(Decimal(0), ge=0, le=100)
    vat_rate: Rate | None = None
    exemption_reason: str | None = Short


class CustomerIn(Schema):
    org_id: Id | None = None
    title: str | None = Short
    notes: str | None = Text
    nature: Literal["goods", "services", "mixed"] | None = None
    customer_name: str | None = Short
    customer_address: str | None = Field(None, max_length=500)
    customer_postal_code: str | None = Field(None, max_length=20)
    customer_city: str | None = Field(None, max_length=120)
    customer_country: str | None = Field(None, min_length=2, max_length=2)
    customer_siren: str | None = Field(None, max_length=20)
    customer_vat_number: str | None = Field(None, max_length=20)
    customer_is_business: bool | None = None
    delivery_name: str | None = Short
    delivery_address: str | None = Field(None, max_length=500)
    delivery_postal_code: str | None = Field(None, max_length=20)
    delivery_city: str | None = Field(None, max_length=120)
    delivery_country: str | None = Field(None, min_length=2, max_length=2)
    lines: list[LineIn] | None = Field(None, max_length=500)


class QuoteCreate(CustomerIn):
    deal_id: Id | None = None
    valid_until: dt.date | None = None


class QuoteUpdate(CustomerIn):
    valid_until: dt.date | None = None


class InvoiceCreate(CustomerIn):
    deal_id: Id | None = None
    quote_id: Id | None = None
    mode: Literal["full", "deposit", "balance"] | None = None
    deposit_percent: Decimal | None = Field(None, gt=0, lt=100)
    payment_terms_days: int | None = Field(None, ge=0, le=60)
    delivery_date: dt.date | None = None


class InvoiceUpdate(CustomerIn):
    payment_terms_days: int | None = Field(None, ge=0, le=60)
    delivery_date: dt.date | None = None


class CreditNoteCreate(Schema):
    invoice_id: Id
    title: str | None = Short
    notes: str | None = Text
    lines: list[LineIn] | None = Field(None, min_length=1, max_length=500)


class CreditNoteUpdate(Schema):
    title: str | None = Short
    notes: str | None = Text
    lines: list[LineIn] | None = Field(None, min_length=1, max_length=500)


class PaymentOut(Schema):
    id: int
    invoice_id: int
    date: dt.date
    amount: Decimal
    currency: str
    method: str
    reference: str
    note: str
    owner_id: int
    add_time: dt.datetime
    update_time: dt.datetime
    version: int

    @staticmethod
    def resolve_amount(payment: Payment) -> Decimal:
        return to_major(payment.amount_minor, payment.invoice.currency)

    @staticmethod
    def resolve_currency(payment: Payment) -> str:
        return payment.invoice.currency


class PaymentCreate(Schema):
    invoice_id: Id
    date: dt.date | None = None
    amount: Decimal = Field(..., gt=0, le=Decimal("999999999999"))
    method: Literal[tuple(Payment.Method.values)] | None = None  # type: ignore[valid-type]
    reference: str | None = Short
    note: str | None = Text


class PaymentUpdate(Schema):
    date: dt.date | None = None
    amount: Decimal | None = Field(None, gt=0, le=Decimal("999999999999"))
    method: Literal[tuple(Payment.Method.values)] | None = None  # type: ignore[valid-type]
    reference: str | None = Short
    note: str | None = Text


class DocumentFilters(SortedPageParams):
    deal_id: Id | None = None
    org_id: Id | None = None


class QuoteFilters(DocumentFilters):
    status: Literal[tuple(Quote.Status.values)] | None = None  # type: ignore[valid-type]


class InvoiceFilters(DocumentFilters):
    status: Literal[tuple(Invoice.Status.values)] | None = None  # type: ignore[valid-type]
    kind: Literal["invoice", "deposit"] | None = None


class CreditNoteFilters(DocumentFilters):
    credited_invoice_id: Id | None = None


class PaymentFilters(SortedPageParams):
    invoice_id: Id | None = None
    deal_id: Id | None = None


def _data(values: dict) -> dict:
    """Pydantic models to the plain values the services take (lines as dicts)."""
    if values.get("lines") is not None:
        values["lines"] = [
            {k: v for k, v in line.items() if v is not None} for line in values["lines"]
        ]
    return values


def _load_quote(user, pk):
    return (
        selectors.quote_queryset(user)
        .prefetch_related("lines")
        .get(pk=selectors.access_quote_by_id(user, pk).pk)
    )


QUOTES = Resource(
    singular="Quote",
    plural="Quotes",
    path="/quotes",
    out=QuoteOut,
    create_in=QuoteCreate,
    update_in=QuoteUpdate,
    filters=QuoteFilters,
    list_queryset=lambda user, values: selectors.quote_list(user, filters=values).prefetch_related(
        "lines"
    ),
    load=_load_quote,
    create=lambda actor, data: services.quote_create(actor=actor, data=_data(data)),
    update=lambda actor, pk, data, version: services.quote_update(
        actor=actor, quote_id=pk, data=_data(data), expected_version=version
    ),
    delete=lambda actor, pk: services.quote_delete(actor=actor, quote_id=pk),
)

INVOICES = Resource(
    singular="Invoice",
    plural="Invoices",
    path="/invoices",
    out=InvoiceOut,
    create_in=InvoiceCreate,
    update_in=InvoiceUpdate,
    filters=InvoiceFilters,
    list_queryset=lambda user, values: selectors.invoice_list(
        user, filters=values
    ).prefetch_related("lines"),
    load=lambda user, pk: selectors.access_invoice_by_id(user, pk),
    create=lambda actor, data: services.invoice_create(actor=actor, data=_data(data)),
    update=lambda actor, pk, data, version: services.invoice_update(
        actor=actor,
        invoice_id=_kind_checked(actor, pk, False),
        data=_data(data),
        expected_version=version,
    ),
    delete=lambda actor, pk: services.invoice_delete(
        actor=actor, invoice_id=_kind_checked(actor, pk, False)
    ),
)

CREDIT_NOTES = Resource(
    singular="CreditNote",
    plural="CreditNotes",
    path="/credit_notes",
    out=InvoiceOut,
    create_in=CreditNoteCreate,
    update_in=CreditNoteUpdate,
    filters=CreditNoteFilters,
    list_queryset=lambda user, values: selectors.invoice_list(
        user, filters=values, credit_notes=True
    ).prefetch_related("lines"),
    load=lambda user, pk: selectors.access_credit_note_by_id(user, pk),
    create=lambda actor, data: services.credit_note_create(actor=actor, data=_data(data)),
    update=lambda actor, pk, data, version: services.invoice_update(
        actor=actor,
        invoice_id=_kind_checked(actor, pk, True),
        data=_data(data),
        expected_version=version,
    ),
    delete=lambda actor, pk: services.invoice_delete(
        actor=actor, invoice_id=_kind_checked(actor, pk, True)
    ),
)

PAYMENTS = Resource(
    singular="Payment",
    plural="Payments",
    path="/payments",
    out=PaymentOut,
    create_in=PaymentCreate,
    update_in=PaymentUpdate,
    filters=PaymentFilters,
    list_queryset=lambda user, values: selectors.payment_list(user, filters=values),
    load=lambda user, pk: selectors.access_payment_by_id(user, pk),
    create=lambda actor, data: services.payment_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.payment_update(
        actor=actor, payment_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.payment_delete(actor=actor, payment_id=pk),
)


def _kind_checked(actor, pk: int, credit_note: bool) -> int:
    """/invoices/{id} names an invoice or deposit, /credit_notes/{id} a credit note."""
    if credit_note:
        return selectors.access_credit_note_by_id(actor.user, pk).pk
    return selectors.access_invoice_by_id(actor.user, pk).pk


# Actions ------------------------------------------------------------------------------------


def _quote_action(path: str, service, summary: str) -> None:
    @router.post(
        f"/quotes/{{int:id}}/{path}",
        response=envelope(QuoteOut),
        operation_id=f"{path}Quote",
        summary=summary,
    )
    def action(request, id: Id, response: HttpResponse):
        quote = service(actor=actor_of(request), quote_id=id)
        return _with_etag(response, _load_quote(request.auth, quote.pk))


_quote_action("send", services.quote_send, "Mark a draft quote sent")
_quote_action("accept", services.quote_accept, "Accept a sent quote: its deal is won")
_quote_action("decline", services.quote_decline, "Decline a sent quote")
_quote_action("revise", services.quote_revise, "Make the next revision of a quote (a draft)")


def _issue_route(path: str, credit_note: bool) -> None:
    @router.post(
        f"{path}/{{int:id}}/issue",
        response=envelope(InvoiceOut),
        operation_id=f"issue{'CreditNote' if credit_note else 'Invoice'}",
        summary="Issue the draft: number it, date it and freeze it",
    )
    def issue(request, id: Id, response: HttpResponse):
        actor = actor_of(request)
        services.invoice_issue(
            actor=actor,
            invoice_id=_kind_checked(actor, id, credit_note),
            expected_version=expected_version(request),
        )
        load = selectors.access_credit_note_by_id if credit_note else selectors.access_invoice_by_id
        return _with_etag(response, load(request.auth, id))


_issue_route("/invoices", False)
_issue_route("/credit_notes", True)


def _file(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _document_routes(path: str, credit_note: bool) -> None:
    name = "CreditNote" if credit_note else "Invoice"
    load = selectors.access_credit_note_by_id if credit_note else selectors.access_invoice_by_id

    @router.get(
        f"{path}/{{int:id}}/pdf",
        response={200: None},
        operation_id=f"get{name}Pdf",
        summary="The PDF: Factur-X (PDF/A-3b with its XML) once issued",
    )
    def pdf(request, id: Id):
        invoice = load(request.auth, id)
        return _file(invoice_pdf(invoice), "application/pdf", f"{invoice.number or 'draft'}.pdf")

    @router.get(
        f"{path}/{{int:id}}/xml",
        response={200: None},
        operation_id=f"get{name}Xml",
        summary="The Factur-X XML (CII, EN 16931) of an issued document",
    )
    def xml(request, id: Id):
        invoice = load(request.auth, id)
        if invoice.issued_time is None:
            raise Conflict("A draft has no Factur-X XML; issue it first.")
        return _file(invoice_xml(invoice), "application/xml", f"{invoice.number}.xml")


_document_routes("/invoices", False)
_document_routes("/credit_notes", True)


@router.get(
    "/quotes/{int:id}/pdf",
    response={200: None},
    operation_id="getQuotePdf",
    summary="The quote as a PDF",
)
def get_quote_pdf(request, id: Id):
    quote = _load_quote(request.auth, id)
    return _file(quote_pdf(quote), "application/pdf", f"{quote.reference}.pdf")


class CurrencyPaymentStateOut(Schema):
    status: str
    currency: str
    invoice_count: int
    invoiced: Decimal
    paid: Decimal
    credited: Decimal
    balance: Decimal
    overdue: Decimal


class PaymentStateOut(CurrencyPaymentStateOut):
    deal_id: int
    currency: str | None
    by_currency: list[CurrencyPaymentStateOut]


STATE_AMOUNTS = ("invoiced", "paid", "credited", "balance", "overdue")


def _state_out(state: dict, currency: str) -> dict:
    return {
        "status": state["status"],
        "currency": currency,
        "invoice_count": state["invoice_count"],
        **{key: to_major(state[f"{key}_minor"], currency) for key in STATE_AMOUNTS},
    }


@router.get(
    "/deals/{int:id}/payment_state",
    response=envelope(PaymentStateOut),
    operation_id="getDealPaymentState",
    summary="What the deal's issued invoices amount to, and what is paid, due and overdue",
)
def deal_payment_state(request, id: Id):
    deal = access_deal_by_id(request.auth, id)
    state = selectors.deal_payment_state(request.auth, deal.pk)
    return ok(
        _state_out(state, state["currency"] or deal.currency)
        | {
            "deal_id": deal.pk,
            "by_currency": [_state_out(row, row["currency"]) for row in state["by_currency"]],
        }
    )


# Payment behaviour and expected cash-in ----------------------------------------------------


class PaymentDelayOut(Schema):
    org_id: int | None = None
    customer_name: str | None = None
    segment: str | None = None
    invoice_count: int
    late_count: int
    average_days_to_pay: Decimal
    average_days_late: Decimal


@router.get(
    "/billing/payment_delays",
    response=envelope(list[PaymentDelayOut]),
    operation_id="getPaymentDelays",
    summary="Average days to pay and days late of paid invoices, per customer or per segment",
)
def get_payment_delays(request, group_by: Literal["customer", "segment"] = "customer"):
    return ok(selectors.payment_delays(request.auth, group_by=group_by))


class CashInOut(Schema):
    currency: str
    amount: Decimal
    invoice_count: int


class CashInWeekOut(CashInOut):
    week_start: dt.date


class ExpectedCashInOut(Schema):
    overdue: list[CashInOut]
    weeks: list[CashInWeekOut]
    later: list[CashInOut]


def _cash_in_out(row: dict) -> dict:
    return row | {"amount": to_major(row["amount_minor"], row["currency"])}


@router.get(
    "/billing/expected_cash_in",
    response=envelope(ExpectedCashInOut),
    operation_id="getExpectedCashIn",
    summary="What remains due on issued invoices, per week of their due date and currency",
)
def get_expected_cash_in(request, weeks: int = Query(12, ge=1, le=104)):
    cash_in = selectors.expected_cash_in(request.auth, weeks=weeks)
    return ok({bucket: [_cash_in_out(row) for row in rows] for bucket, rows in cash_in.items()})


# The seller's billing profile ----------------------------------------------------------------


class ProfileOut(Schema):
    legal_name: str
    trade_name: str
    address: str
    postal_code: str
    city: str
    country: str
    siren: str
    siret: str
    vat_number: str
    legal_form: str
    share_capital_minor: int | None
    rcs: str
    iban: str
    bic: str
    email: str
    phone: str
    payment_terms_days: int
    late_payment_rate: Decimal
    recovery_fee_minor: int
    vat_on_debits: bool
    quote_validity_days: int
    default_exemption_reason: str
    version: int


class ProfileIn(Schema):
    legal_name: str | None = Short
    trade_name: str | None = Short
    address: str | None = Field(None, max_length=500)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    country: str | None = Field(None, min_length=2, max_length=2)
    siren: str | None = Field(None, max_length=20)
    siret: str | None = Field(None, max_length=20)
    vat_number: str | None = Field(None, max_length=20)
    legal_form: str | None = Field(None, max_length=64)
    share_capital: Decimal | None = Amount
    rcs: str | None = Field(None, max_length=120)
    iban: str | None = Field(None, max_length=42)
    bic: str | None = Field(None, max_length=11)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    payment_terms_days: int | None = Field(None, ge=0, le=60)
    late_payment_rate: Decimal | None = Field(None, ge=0, le=100)
    recovery_fee: Decimal | None = Field(None, ge=40, le=Decimal("1000000"))
    vat_on_debits: bool | None = None
    quote_validity_days: int | None = Field(None, ge=1, le=365)
    default_exemption_reason: str | None = Short


@router.get(
    "/billing/profile",
    response=envelope(ProfileOut),
    operation_id="getBillingProfile",
    summary="The seller's billing details",
)
def get_profile(request):
    return ok(BillingProfile.current())


@router.patch(
    "/billing/profile",
    response=envelope(ProfileOut),
    operation_id="updateBillingProfile",
    summary="Change the seller's billing details (admins)",
)
def update_profile(request, payload: ProfileIn):
    if not request.auth.is_admin:
        raise PermissionDenied("Only an admin changes the billing profile.")
    data: dict[str, Any] = payload.model_dump(exclude_unset=True)
    return ok(services.billing_profile_update(actor=actor_of(request), data=data))


# A customer's billing details ---------------------------------------------------------------


class CustomerBillingOut(Schema):
    org_id: int
    billing_name: str
    billing_address: str
    billing_postal_code: str
    billing_city: str
    billing_country: str
    delivery_name: str
    delivery_address: str
    delivery_postal_code: str
    delivery_city: str
    delivery_country: str
    is_business: bool
    email: str


class CustomerBillingIn(Schema):
    billing_name: str | None = Short
    billing_address: str | None = Field(None, max_length=500)
    billing_postal_code: str | None = Field(None, max_length=20)
    billing_city: str | None = Field(None, max_length=120)
    billing_country: str | None = Field(None, max_length=2)
    delivery_name: str | None = Short
    delivery_address: str | None = Field(None, max_length=500)
    delivery_postal_code: str | None = Field(None, max_length=20)
    delivery_city: str | None = Field(None, max_length=120)
    delivery_country: str | None = Field(None, max_length=2)
    is_business: bool | None = None
    email: str | None = Field(None, max_length=254)


@router.get(
    "/organizations/{int:id}/billing",
    response=envelope(CustomerBillingOut),
    operation_id="getOrganizationBilling",
    summary="An organisation's billing and delivery addresses",
)
def get_customer_billing(request, id: Id):
    org = access_organization_by_id(request.auth, id)
    return ok(CustomerBilling.objects.filter(org=org).first() or CustomerBilling(org=org))


@router.patch(
    "/organizations/{int:id}/billing",
    response=envelope(CustomerBillingOut),
    operation_id="updateOrganizationBilling",
    summary="Change an organisation's billing and delivery addresses",
)
def update_customer_billing(request, id: Id, payload: CustomerBillingIn):
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items()}
    if data.get("is_business") is None:
        data.pop("is_business", None)
    return ok(services.customer_billing_update(actor=actor_of(request), org_id=id, data=data))


add_crud_routes(router, QUOTES)
add_crud_routes(router, INVOICES)
add_crud_routes(router, CREDIT_NOTES)
add_crud_routes(router, PAYMENTS)
for _path, _entity, _load in (
    ("/quotes", "quote", selectors.access_quote_by_id),
    ("/invoices", "invoice", selectors.access_invoice_by_id),
    ("/payments", "payment", selectors.access_payment_by_id),
):
    add_history_route(router, path=_path, entity=_entity, load=_load)


router.add_router("/", exports_api.router)


# Reminders --------------------------------------------------------------------------------------


class ReminderStepOut(Schema):
    id: int
    offset_days: int
    name: str
    subject_template: str
    body_template: str
    is_active: bool


class ReminderStepIn(Schema):
    offset_days: int | None = Field(None, ge=-60, le=365)
    name: str | None = Field(None, min_length=1, max_length=120)
    subject_template: str | None = Field(None, min_length=1, max_length=500)
    body_template: str | None = Field(None, min_length=1, max_length=20_000)
    is_active: bool | None = None


class ReminderOut(Schema):
    id: int
    invoice_id: int
    step_id: int
    step_name: str
    date: dt.date
    to_email: str
    subject: str
    body: str
    balance: Decimal
    days_late: int
    interest: Decimal
    fee: Decimal
    status: str
    sent_time: dt.datetime | None

    @staticmethod
    def resolve_step_name(log) -> str:
        return log.step.name

    @staticmethod
    def resolve_balance(log) -> Decimal:
        return to_major(log.balance_minor, log.invoice.currency)

    @staticmethod
    def resolve_interest(log) -> Decimal:
        return to_major(log.interest_minor, log.invoice.currency)

    @staticmethod
    def resolve_fee(log) -> Decimal:
        return to_major(log.fee_minor, log.invoice.currency)


@router.get(
    "/billing/reminder_steps",
    response=envelope(ReminderStepOut, many=True),
    operation_id="getReminderSteps",
    summary="The reminder sequence (relances) and its email templates",
)
def get_reminder_steps(request):
    return page_response(reminders.reminder_steps(), None)


@router.patch(
    "/billing/reminder_steps/{int:id}",
    response=envelope(ReminderStepOut),
    operation_id="updateReminderStep",
    summary="Change a reminder step: delay, name, subject and body templates (admins)",
)
def update_reminder_step(request, id: Id, payload: ReminderStepIn):
    data = payload.model_dump(exclude_unset=True)
    return ok(reminders.reminder_step_update(actor=actor_of(request), step_id=id, data=data))


@router.get(
    "/invoices/{int:id}/reminders",
    response=envelope(ReminderOut, many=True),
    operation_id="getInvoiceReminders",
    summary="The reminders sent for an invoice",
)
def get_invoice_reminders(request, id: Id):
    invoice = selectors.access_invoice_by_id(request.auth, id)
    logs = invoice.reminders.select_related("step", "invoice").order_by("date", "id")
    return page_response(list(logs), None)
