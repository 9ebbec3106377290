"""The deal page: fields edited in place, won/lost/reopen, moves from the board, and the
history timeline. Every write is one service call, so rules and history apply."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ruche.billing.models import Invoice, Quote
from ruche.billing.selectors import deal_billing_documents
from ruche.contacts.selectors import organization_search, person_search
from ruche.core.exceptions import RucheError, ValidationError
from ruche.core.models import Lookup, Visibility
from ruche.core.money import to_major
from ruche.pipelines import services
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import access_deal_by_id, stage_list
from ruche.web import formatting
from ruche.web.views.board import PAYMENT_LABELS, is_rotting, set_payment_badges
from ruche.web.views.common import (
    STATUS_LABELS,
    VISIBILITY_LABELS,
    actor,
    decimal_text,
    error_text,
    int_or_none,
    web_view,
)
from ruche.web.views.deal_parts import lines_context
from ruche.web.views.records import Subject, record_blocks, timeline


@dataclass(frozen=True)
class EditableField:
    label: str
    kind: str  # text, textarea, date, number, money, select, org, person
    key: str  # the service's input name


FIELDS = {
    "title": EditableField(gettext_lazy("Title"), "text", "title"),
    "value": EditableField(gettext_lazy("Value"), "money", "value"),
    "stage": EditableField(gettext_lazy("Stage"), "select", "stage_id"),
    "owner": EditableField(gettext_lazy("Owner"), "select", "owner_id"),
    "org": EditableField(gettext_lazy("Organisation"), "org", "org_id"),
    "person": EditableField(gettext_lazy("Contact person"), "person", "person_id"),
    "expected_close_date": EditableField(
        gettext_lazy("Expected close date"), "date", "expected_close_date"
    ),
    "probability": EditableField(gettext_lazy("Probability (%)"), "number", "probability"),
    "labels": EditableField(gettext_lazy("Labels"), "labels", "label_ids"),
    "source": EditableField(gettext_lazy("Source"), "select", "source_id"),
    "visible_to": EditableField(gettext_lazy("Visible to"), "select", "visible_to"),
    "next_step": EditableField(gettext_lazy("Next step"), "text", "next_step"),
    "competitor": EditableField(gettext_lazy("Competitor"), "text", "competitor"),
    "description": EditableField(gettext_lazy("Description"), "textarea", "description"),
}

QUOTE_STATUS_LABELS = {
    Quote.Status.DRAFT: gettext_lazy("Draft"),
    Quote.Status.SENT: gettext_lazy("Sent"),
    Quote.Status.ACCEPTED: gettext_lazy("Accepted"),
    Quote.Status.DECLINED: gettext_lazy("Declined"),
    Quote.Status.EXPIRED: gettext_lazy("Expired"),
}
INVOICE_STATUS_LABELS = PAYMENT_LABELS | {
    Invoice.Status.DRAFT: gettext_lazy("Draft"),
    Invoice.Status.ISSUED: gettext_lazy("Issued"),
}
INVOICE_KIND_LABELS = {
    Invoice.Kind.INVOICE: gettext_lazy("Invoice"),
    Invoice.Kind.DEPOSIT: gettext_lazy("Deposit invoice"),
    Invoice.Kind.CREDIT_NOTE: gettext_lazy("Credit note"),
}


def billing_context(user, deal: Deal) -> dict:
    """The deal's quotes and invoices, with their PDF links, and its payment state."""
    documents = deal_billing_documents(user, deal.pk)
    invoices = documents["invoices"]
    for invoice in invoices:
        path = "credit_notes" if invoice.kind == Invoice.Kind.CREDIT_NOTE else "invoices"
        invoice.pdf_url = f"/api/v2/{path}/{invoice.pk}/pdf"
    for quote in documents["quotes"]:
        quote.pdf_url = f"/api/v2/quotes/{quote.pk}/pdf"
    deal.payment = None
    if any(i.issued_time and i.kind != Invoice.Kind.CREDIT_NOTE for i in invoices):
        set_payment_badges(user, [deal])
    return {
        "quotes": documents["quotes"],
        "invoices": invoices,
        "quote_status_labels": QUOTE_STATUS_LABELS,
        "invoice_status_labels": INVOICE_STATUS_LABELS,
        "invoice_kind_labels": INVOICE_KIND_LABELS,
    }


def _choices(deal: Deal, name: str) -> list[tuple[str, str]]:
    if name == "stage":
        return [(str(s.pk), s.name) for s in stage_list(deal.pipeline_id)]
    if name == "owner":
        users = get_user_model().objects.filter(is_active=True).order_by("name", "email")
        return [(str(u.pk), str(u)) for u in users]
    if name == "source":
        sources = Lookup.objects.filter(kind=Lookup.Kind.SOURCE, is_active=True)
        return [("", "—")] + [(str(s.pk), s.name) for s in sources]
    if name == "visible_to":
        return [(str(v), str(VISIBILITY_LABELS[v])) for v in Visibility.values]
    if name == "labels":
        labels = Lookup.objects.filter(kind=Lookup.Kind.LABEL, is_active=True)
        return [(str(label.pk), label.name) for label in labels]
    return []


def display(deal: Deal, name: str) -> str:
    if name == "value":
        return formatting.money(deal.value_minor, deal.currency)
    if name == "expected_close_date":
        return formatting.date(deal.expected_close_date)
    if name == "probability":
        probability = deal.probability
        return (
            f"{probability} %" if probability is not None else f"({deal.stage.deal_probability} %)"
        )
    if name == "visible_to":
        return str(VISIBILITY_LABELS.get(deal.visible_to, deal.visible_to))
    if name == "labels":
        return ", ".join(label.name for label in deal.labels.all())
    value = getattr(deal, name)
    return "" if value is None else str(value)


def current_input(deal: Deal, name: str) -> str | list[str]:
    if name == "labels":
        return [str(label.pk) for label in deal.labels.all()]
    if name == "value":
        return str(to_major(deal.value_minor, deal.currency))
    if name == "expected_close_date":
        return deal.expected_close_date.isoformat() if deal.expected_close_date else ""
    if name in {"stage", "owner", "source"}:
        return str(getattr(deal, f"{name}_id") or "")
    if name in {"org", "person"}:
        related = getattr(deal, name)
        return related.name if related else ""
    value = getattr(deal, name)
    return "" if value is None else str(value)


def _field_data(request: HttpRequest, deal: Deal, name: str) -> dict:
    """The service input for one edited field, from the posted text."""
    field = FIELDS[name]
    raw = request.POST.get("value", "")
    if field.kind == "labels":
        ids = [int_or_none(value) for value in request.POST.getlist("value")]
        return {field.key: [pk for pk in ids if pk is not None]}
    if field.kind == "money":
        return {"value": decimal_text(raw) or "0"}
    if field.kind == "number":
        return {field.key: decimal_text(raw)}
    if field.kind == "date":
        return {field.key: raw or None}
    if field.kind == "select":
        if name == "visible_to":
            return {field.key: int_or_none(raw) or raw}
        return {field.key: int_or_none(raw)} if raw or name == "source" else {field.key: raw}
    if field.kind in {"org", "person"}:
        name_text = raw.strip()
        if not name_text:
            return {field.key: None}
        search = organization_search if field.kind == "org" else person_search
        match = search(request.user, term=name_text, exact=True).order_by("id").first()
        if match is None:
            raise ValidationError({field.key: _("No record named “%(name)s”.") % {"name": raw}})
        return {field.key: match.pk}
    return {field.key: raw}


def _field_context(deal: Deal, name: str, **extra) -> dict:
    return {
        "deal": deal,
        "name": name,
        "field": FIELDS[name],
        "display": display(deal, name),
        "locked": name == "value" and deal.lines.exists(),
    } | extra


@web_view
def deal_field(request: HttpRequest, deal_id: int, name: str) -> HttpResponse:
    """GET: the field shown; POST: save it through deal_update and show it again."""
    if name not in FIELDS:
        return HttpResponse(status=404)
    deal = access_deal_by_id(request.user, deal_id)
    if request.method == "POST":
        try:
            deal = services.deal_update(
                actor=actor(request), deal_id=deal.pk, data=_field_data(request, deal, name)
            )
        except ValidationError as error:
            context = _field_context(
                deal,
                name,
                editing=True,
                error=error_text(error),
                current=request.POST.getlist("value")
                if FIELDS[name].kind == "labels"
                else request.POST.get("value", ""),
                choices=_choices(deal, name),
            )
            return render(request, "web/deals/field.html", context, status=422)
        response = render(request, "web/deals/field.html", _field_context(deal, name))
        response["HX-Trigger"] = "deal-changed"
        return response
    editing = request.GET.get("edit") == "1"
    context = _field_context(
        deal,
        name,
        editing=editing,
        current=current_input(deal, name) if editing else "",
        choices=_choices(deal, name) if editing else [],
    )
    return render(request, "web/deals/field.html", context)


@web_view
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = access_deal_by_id(request.user, deal_id)
    deal = (
        Deal.objects.select_related(
            "org", "person", "owner", "stage", "pipeline", "lost_reason", "source"
        )
        .prefetch_related("labels")
        .get(pk=deal.pk)
    )
    context = {
        "deal": deal,
        "fields": [_field_context(deal, name) for name in FIELDS],
        "stages": list(stage_list(deal.pipeline_id)),
        "status_labels": STATUS_LABELS,
        "rotting": is_rotting(deal, deal.stage, timezone.now()),
        "loss_reasons": list(Lookup.objects.filter(kind=Lookup.Kind.LOSS_REASON, is_active=True)),
    }
    context |= (
        lines_context(deal)
        | record_blocks(request.user, Subject("deal", deal), FIELD_LABELS)
        | billing_context(request.user, deal)
    )
    return render(request, "web/deals/detail.html", context)


def _back(request: HttpRequest, deal: Deal) -> str:
    next_url = request.POST.get("next") or reverse("web:deal", args=[deal.pk])
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return reverse("web:deal", args=[deal.pk])
    return next_url


def _is_script(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _refusal(request: HttpRequest, deal: Deal, error: RucheError) -> HttpResponse:
    if _is_script(request):
        return HttpResponse(error_text(error), status=422, content_type="text/plain")
    messages.error(request, error_text(error))
    return redirect(_back(request, deal))


@web_view
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """A card dropped on another stage (or moved with its stage menu): deal_update."""
    if request.method != "POST":
        return HttpResponse(status=405)
    deal = access_deal_by_id(request.user, deal_id)
    target = request.POST.get("target") or request.POST.get("stage_id", "")
    if target in {"won", "lost"}:
        return deal_status(request, deal_id)
    try:
        deal = services.deal_update(
            actor=actor(request), deal_id=deal.pk, data={"stage_id": int_or_none(target) or target}
        )
    except RucheError as error:
        return _refusal(request, deal, error)
    if _is_script(request):
        deal = Deal.objects.select_related("org", "owner", "next_activity", "stage").get(pk=deal.pk)
        deal.rotting = is_rotting(deal, deal.stage, timezone.now())
        set_payment_badges(request.user, [deal])
        return render(
            request,
            "web/board/card.html",
            {
                "deal": deal,
                "stages": list(stage_list(deal.pipeline_id)),
                "board_url": f"/pipelines/{deal.pipeline_id}/board/",
            },
        )
    messages.success(request, _("Moved to %(stage)s.") % {"stage": deal.stage.name})
    return redirect(_back(request, deal))


@web_view
def deal_status(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Won, lost (with a reason) or reopened: deal_update with the status."""
    if request.method != "POST":
        return HttpResponse(status=405)
    deal = access_deal_by_id(request.user, deal_id)
    status = request.POST.get("status") or request.POST.get("target", "")
    data = {"status": status}
    if status == Deal.Status.LOST:
        data["lost_reason_id"] = int_or_none(request.POST.get("lost_reason_id"))
    try:
        deal = services.deal_update(actor=actor(request), deal_id=deal.pk, data=data)
    except RucheError as error:
        return _refusal(request, deal, error)
    if _is_script(request):
        return HttpResponse(status=204)
    messages.success(
        request, _("The deal is now %(status)s.") % {"status": STATUS_LABELS[deal.status]}
    )
    return redirect(_back(request, deal))


# History --------------------------------------------------------------------------------------

FIELD_LABELS = {name: field.label for name, field in FIELDS.items()} | {
    "value_minor": gettext_lazy("Value"),
    "status": gettext_lazy("Status"),
    "lost_reason": gettext_lazy("Loss reason"),
    "labels": gettext_lazy("Labels"),
    "pipeline": gettext_lazy("Pipeline"),
    "currency": gettext_lazy("Currency"),
    "forecast_category": gettext_lazy("Forecast category"),
    "win_loss_report": gettext_lazy("Win/loss report"),
}


@web_view
def deal_history(request: HttpRequest, deal_id: int) -> HttpResponse:
    subject = Subject("deal", access_deal_by_id(request.user, deal_id))
    return render(request, "web/records/history.html", {"history": timeline(subject, FIELD_LABELS)})
