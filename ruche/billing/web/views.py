"""The billing pages: lists of quotes, invoices and credit notes (filtered, exported), their
detail pages, and every action on them. Each action is one service call (ruche.billing.services);
a refusal shows the page again with a 4xx status and the error named by its field."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ruche.billing import selectors, services
from ruche.billing.einvoicing.cii import invoice_xml
from ruche.billing.einvoicing.pdf import invoice_pdf, quote_pdf
from ruche.billing.models import Invoice, Payment, Quote
from ruche.billing.web import forms
from ruche.billing.web.tables import invoice_rows, quote_rows
from ruche.contacts.selectors import organization_list
from ruche.core.exceptions import Conflict, RucheError
from ruche.core.spreadsheets import FORMATS, download
from ruche.pipelines.selectors import access_deal_by_id
from ruche.web.views.common import actor, decimal_text, int_or_none, web_view

PAGE_SIZE = 50
MAX_CUSTOMERS = 500
Kind = Invoice.Kind


def _customers(user) -> list:
    """The organisations offered as customers (a select), by name."""
    orgs = organization_list(user, filters={}).filter(is_deleted=False).order_by("name", "pk")
    return list(orgs.only("pk", "name")[:MAX_CUSTOMERS])


def _filters(request: HttpRequest, statuses: dict) -> dict:
    status = request.GET.get("status") or None
    return {
        "status": status if status in statuses else None,
        "org_id": int_or_none(request.GET.get("customer")),
    }


def _page(request: HttpRequest, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _list_page(request, *, template, queryset, statuses, export, filename, extra=None):
    file_format = request.GET.get("format")
    if file_format in FORMATS:
        return download(export(queryset), filename, file_format)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": _page(request, queryset),
        "filters": _filters(request, statuses),
        "status_labels": statuses,
        "customers": _customers(request.user),
        "query": query.urlencode(),
    }
    return render(request, template, context | (extra or {}))


# Lists ------------------------------------------------------------------------------------------


@web_view
def quote_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request, forms.QUOTE_STATUS_LABELS)
    quotes = selectors.quote_list(request.user, filters=filters).order_by("-issue_date", "-pk")
    return _list_page(
        request,
        template="billing/pages/quote_list.html",
        queryset=quotes,
        statuses=forms.QUOTE_STATUS_LABELS,
        export=quote_rows,
        filename="quotes",
    )


def _invoice_list(request: HttpRequest, *, credit_notes: bool) -> HttpResponse:
    filters = _filters(request, forms.INVOICE_STATUS_LABELS)
    invoices = selectors.invoice_list(request.user, filters=filters, credit_notes=credit_notes)
    invoices = invoices.order_by("-issue_date", "-pk")
    return _list_page(
        request,
        template="billing/pages/invoice_list.html",
        queryset=invoices,
        statuses=forms.INVOICE_STATUS_LABELS,
        export=invoice_rows,
        filename="credit_notes" if credit_notes else "invoices",
        extra={"credit_notes": credit_notes, "kind_labels": forms.INVOICE_KIND_LABELS},
    )


@web_view
def invoice_list(request: HttpRequest) -> HttpResponse:
    return _invoice_list(request, credit_notes=False)


@web_view
def credit_note_list(request: HttpRequest) -> HttpResponse:
    return _invoice_list(request, credit_notes=True)


# Quotes -----------------------------------------------------------------------------------------


def _quote(user, quote_id: int) -> Quote:
    quote = selectors.access_quote_by_id(user, quote_id)
    return (
        selectors.quote_queryset(user)
        .select_related("deal", "org", "owner")
        .prefetch_related("lines")
        .get(pk=quote.pk)
    )


def _quote_page(request, quote_id: int, *, status: int = 200, **extra) -> HttpResponse:
    quote = _quote(request.user, quote_id)
    context = {
        "doc": quote,
        "is_quote": True,
        "editable": quote.status == Quote.Status.DRAFT,
        "status_label": forms.QUOTE_STATUS_LABELS[quote.status],
        "rows": forms.line_rows(quote, extra.pop("posted", None)),
        "customers": _customers(request.user) if quote.status == Quote.Status.DRAFT else [],
    }
    return render(request, "billing/pages/quote.html", _common(context) | extra, status=status)


def _common(context: dict) -> dict:
    return context | {
        "unit_labels": forms.UNIT_LABELS,
        "vat_rates": forms.VAT_RATE_CHOICES,
        "method_labels": forms.METHOD_LABELS,
        "kind_labels": forms.INVOICE_KIND_LABELS,
        "invoice_status_labels": forms.INVOICE_STATUS_LABELS,
    }


@web_view
def quote_detail(request: HttpRequest, quote_id: int) -> HttpResponse:
    return _quote_page(request, quote_id)


def _document_url(document) -> str:
    name = "web:billing_quote" if isinstance(document, Quote) else "web:billing_invoice"
    return reverse(name, args=[document.pk])


def _act(request, document, write, done=None, *, after: str = "", **refused) -> HttpResponse:
    """Run one service on the document (`write(actor, document)`): then the page of what it
    returned (or `after`), or the document's page again with the refusal and its status."""
    page = _quote_page if isinstance(document, Quote) else _invoice_page
    try:
        result = write(actor(request), document)
    except RucheError as error:
        refusal = forms.refusal(error)
        return page(request, document.pk, status=error.status_code, **refusal, **refused)
    if done:
        messages.success(request, str(done))
    return redirect(after or _document_url(result if result is not None else document))


def _org_input(request: HttpRequest):
    return int_or_none(request.POST.get("org_id")) or request.POST.get("org_id")


@web_view
@require_POST
def quote_lines(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = selectors.access_quote_by_id(request.user, quote_id)
    lines = forms.posted_lines(request)
    data = {"lines": lines, "title": request.POST.get("title", quote.title)}
    if request.POST.get("valid_until"):
        data["valid_until"] = request.POST["valid_until"]

    def write(who, quote):
        return services.quote_update(actor=who, quote_id=quote.pk, data=data)

    return _act(request, quote, write, _("Quote saved; totals recalculated."), posted=lines)


@web_view
@require_POST
def quote_customer(request: HttpRequest, quote_id: int) -> HttpResponse:
    data = {"org_id": _org_input(request)}

    def write(who, quote):
        return services.quote_update(actor=who, quote_id=quote.pk, data=data)

    return _act(request, selectors.access_quote_by_id(request.user, quote_id), write)


QUOTE_ACTIONS = {
    "send": (services.quote_send, gettext_lazy("Quote marked as sent.")),
    "accept": (
        services.quote_accept,
        gettext_lazy("Quote accepted; the deal is won at its amount."),
    ),
    "decline": (services.quote_decline, gettext_lazy("Quote declined.")),
    "revise": (services.quote_revise, gettext_lazy("New revision created.")),
}


@web_view
@require_POST
def quote_action(request: HttpRequest, quote_id: int, action: str) -> HttpResponse:
    quote = selectors.access_quote_by_id(request.user, quote_id)
    if action not in QUOTE_ACTIONS:
        return HttpResponse(status=404)
    service, done = QUOTE_ACTIONS[action]
    return _act(request, quote, lambda who, quote: service(actor=who, quote_id=quote.pk), done)


@web_view
@require_POST
def quote_email(request: HttpRequest, quote_id: int) -> HttpResponse:
    def write(who, quote):
        return services.quote_email_send(
            actor=who,
            quote_id=quote.pk,
            to_email=request.POST.get("to_email", ""),
            message=request.POST.get("message", ""),
        )

    quote = selectors.access_quote_by_id(request.user, quote_id)
    return _act(request, quote, write, _("Quote sent by email."))


@web_view
@require_POST
def quote_delete(request: HttpRequest, quote_id: int) -> HttpResponse:
    def write(who, quote):
        return services.quote_delete(actor=who, quote_id=quote.pk)

    quote = selectors.access_quote_by_id(request.user, quote_id)
    after = reverse("web:billing_quotes")
    return _act(request, quote, write, _("Quote deleted."), after=after)


@web_view
@require_POST
def quote_invoice(request: HttpRequest, quote_id: int) -> HttpResponse:
    def write(who, quote):
        return services.invoice_create(actor=who, data={"quote_id": quote.pk})

    return _act(request, selectors.access_quote_by_id(request.user, quote_id), write)


@web_view
def quote_pdf_download(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = _quote(request.user, quote_id)
    return _file(quote_pdf(quote), "application/pdf", f"{quote.reference}.pdf")


def _file(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# New documents ----------------------------------------------------------------------------------


@web_view
def document_new(request: HttpRequest, kind: str) -> HttpResponse:
    """A quote or an invoice from scratch: its customer first, then its lines on its page."""
    if kind not in ("quote", "invoice"):
        return HttpResponse(status=404)
    context = {"kind": kind, "customers": _customers(request.user)}
    if request.method == "GET":
        return render(request, "billing/pages/new.html", context)
    data = {
        "org_id": int_or_none(request.POST.get("org_id")) or request.POST.get("org_id"),
        "title": request.POST.get("title", ""),
        "lines": [],
    }
    create = services.quote_create if kind == "quote" else services.invoice_create
    try:
        document = create(actor=actor(request), data=data)
    except RucheError as error:
        context |= forms.refusal(error) | {"posted": request.POST}
        return render(request, "billing/pages/new.html", context, status=error.status_code)
    return redirect(_document_url(document))


@web_view
@require_POST
def deal_quote(request: HttpRequest, deal_id: int) -> HttpResponse:
    """A quote from the deal, its lines copied."""
    deal = access_deal_by_id(request.user, deal_id)
    try:
        quote = services.quote_create(actor=actor(request), data={"deal_id": deal.pk})
    except RucheError as error:
        return _deal_refused(request, deal.pk, error)
    return redirect(_document_url(quote))


@web_view
@require_POST
def deal_invoice(request: HttpRequest, deal_id: int) -> HttpResponse:
    """An invoice of the won deal: in full, a deposit percentage, or the balance."""
    deal = access_deal_by_id(request.user, deal_id)
    data = {"deal_id": deal.pk, "mode": request.POST.get("mode") or "full"}
    if data["mode"] == "deposit":
        data["deposit_percent"] = decimal_text(request.POST.get("deposit_percent"))
    try:
        invoice = services.invoice_create(actor=actor(request), data=data)
    except RucheError as error:
        return _deal_refused(request, deal.pk, error)
    return redirect(_document_url(invoice))


def _deal_refused(request, deal_id: int, error: RucheError) -> HttpResponse:
    context = forms.refusal(error) | {"deal_url": reverse("web:deal", args=[deal_id])}
    return render(request, "billing/pages/refused.html", context, status=error.status_code)


# Invoices and credit notes ----------------------------------------------------------------------


def _invoice(user, invoice_id: int) -> Invoice:
    invoice = selectors.access_any_invoice_by_id(user, invoice_id)
    kinds = (Kind.INVOICE, Kind.DEPOSIT, Kind.CREDIT_NOTE)
    return (
        selectors.invoice_queryset(user, kinds=kinds)
        .select_related("deal", "org", "owner", "quote")
        .prefetch_related("lines")
        .get(pk=invoice.pk)
    )


def _invoice_page(request, invoice_id: int, *, status: int = 200, **extra) -> HttpResponse:
    invoice = _invoice(request.user, invoice_id)
    draft = invoice.issued_time is None
    kinds = (Kind.CREDIT_NOTE,) if invoice.kind != Kind.CREDIT_NOTE else ()
    context = {
        "doc": invoice,
        "is_quote": False,
        "editable": draft,
        "status_label": forms.INVOICE_STATUS_LABELS[invoice.status],
        "rows": forms.line_rows(invoice, extra.pop("posted", None)),
        "customers": _customers(request.user) if draft else [],
        "payments": list(
            selectors.payment_list(request.user, filters={"invoice_id": invoice.pk})
            .select_related(None)
            .order_by("date", "pk")
        )
        if not draft and invoice.kind != Kind.CREDIT_NOTE
        else [],
        "credit_notes": list(
            selectors.invoice_queryset(request.user, kinds=kinds)
            .filter(credited_invoice=invoice)
            .order_by("pk")
        )
        if kinds and not draft
        else [],
    }
    return render(request, "billing/pages/invoice.html", _common(context) | extra, status=status)


@web_view
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    return _invoice_page(request, invoice_id)


def _access_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    return selectors.access_any_invoice_by_id(request.user, invoice_id)


@web_view
@require_POST
def invoice_lines(request: HttpRequest, invoice_id: int) -> HttpResponse:
    lines = forms.posted_lines(request)

    def write(who, invoice):
        data = {"lines": lines, "title": request.POST.get("title", invoice.title)}
        return services.invoice_update(actor=who, invoice_id=invoice.pk, data=data)

    invoice = _access_invoice(request, invoice_id)
    done = _("Invoice saved; totals recalculated.")
    return _act(request, invoice, write, done, posted=lines)


@web_view
@require_POST
def invoice_customer(request: HttpRequest, invoice_id: int) -> HttpResponse:
    data = {"org_id": _org_input(request)}

    def write(who, invoice):
        return services.invoice_update(actor=who, invoice_id=invoice.pk, data=data)

    return _act(request, _access_invoice(request, invoice_id), write, _("Customer changed."))


@web_view
@require_POST
def invoice_delete(request: HttpRequest, invoice_id: int) -> HttpResponse:
    def write(who, invoice):
        return services.invoice_delete(actor=who, invoice_id=invoice.pk)

    invoice = _access_invoice(request, invoice_id)
    after = reverse("web:billing_invoices")
    return _act(request, invoice, write, _("Draft deleted."), after=after)


@web_view
@require_POST
def invoice_issue(request: HttpRequest, invoice_id: int) -> HttpResponse:
    def write(who, invoice):
        return services.invoice_issue(actor=who, invoice_id=invoice.pk)

    invoice = _access_invoice(request, invoice_id)
    return _act(request, invoice, write, _("Issued: the number is final."))


@web_view
@require_POST
def invoice_payment(request: HttpRequest, invoice_id: int) -> HttpResponse:
    data = {
        "amount": decimal_text(request.POST.get("amount")),
        "date": request.POST.get("date") or None,
        "method": request.POST.get("method") or Payment.Method.TRANSFER,
        "reference": request.POST.get("reference", ""),
    }

    def write(who, invoice):
        services.payment_create(actor=who, data=data | {"invoice_id": invoice.pk})
        return invoice

    invoice = _access_invoice(request, invoice_id)
    return _act(request, invoice, write, _("Payment recorded."))


@web_view
@require_POST
def invoice_credit_note(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """A draft credit note for all of the invoice; its lines can be changed before issuing."""

    def write(who, invoice):
        return services.credit_note_create(actor=who, data={"invoice_id": invoice.pk})

    invoice = _access_invoice(request, invoice_id)
    return _act(request, invoice, write, _("Draft credit note created."))


@web_view
def invoice_pdf_download(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request.user, invoice_id)
    return _file(invoice_pdf(invoice), "application/pdf", f"{invoice.number or 'draft'}.pdf")


@web_view
def invoice_xml_download(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice(request.user, invoice_id)
    if invoice.issued_time is None:
        refusal = forms.refusal(Conflict("A draft has no Factur-X XML; issue it first."))
        return _invoice_page(request, invoice.pk, status=409, **refusal)
    return _file(invoice_xml(invoice), "application/xml", f"{invoice.number}.xml")


# Payment behaviour and expected cash-in ---------------------------------------------------------


@web_view
def cash_in(request: HttpRequest) -> HttpResponse:
    group_by = "segment" if request.GET.get("group") == "segment" else "customer"
    context = {
        "group_by": group_by,
        "delays": selectors.payment_delays(request.user, group_by=group_by),
        "cash_in": selectors.expected_cash_in(request.user),
    }
    return render(request, "billing/pages/cash_in.html", context)
