"""The deal page's lines block, which HTMX replaces on its own."""

from decimal import Decimal

from babel.numbers import get_decimal_symbol
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ruche.core.exceptions import RucheError
from ruche.core.money import minor_exponent, to_major
from ruche.pipelines import services
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import (
    access_deal_by_id,
    deal_lines,
)
from ruche.web import formatting
from ruche.web.views.common import (
    actor,
    decimal_text,
    error_text,
    web_view,
)

LINE_INPUTS = ("name", "quantity", "unit_price", "discount_percent", "vat_rate")


def _plain(number: Decimal) -> str:
    """A decimal as an input shows it, in the user's convention: 2; 1,5 in French."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", get_decimal_symbol(formatting.babel_locale()))


def _plain_amount(amount: Decimal) -> str:
    return format(amount, "f").replace(".", get_decimal_symbol(formatting.babel_locale()))


def lines_context(deal: Deal, **extra) -> dict:
    lines = list(deal_lines(deal))
    for line in lines:
        line.inputs = {
            "name": line.name,
            "quantity": _plain(line.quantity),
            "unit_price": _plain_amount(to_major(line.unit_price_minor, deal.currency)),
            "discount_percent": _plain(line.discount_percent),
            "vat_rate": _plain(line.vat_rate),
        }
    total = sum(line.total_minor for line in lines)
    vat = sum(line.vat_minor for line in lines)
    return {
        "deal": deal,
        "lines": lines,
        "lines_total": total,
        "lines_vat": vat,
        "lines_total_incl_vat": total + vat,
        "exponent": minor_exponent(deal.currency),
    } | extra


def _line_data(request: HttpRequest) -> dict:
    data = {"name": request.POST.get("name", "").strip()}
    for key in ("quantity", "unit_price", "discount_percent", "vat_rate"):
        data[key] = decimal_text(request.POST.get(key)) or "0"
    return data


def _lines_response(request, deal, *, status=200, **extra) -> HttpResponse:
    deal.refresh_from_db()
    response = render(request, "web/deals/lines.html", lines_context(deal, **extra), status=status)
    if status == 200:
        response["HX-Trigger"] = "deal-changed"
    return response


@web_view
def line_save(request: HttpRequest, deal_id: int, line_id: int | None = None) -> HttpResponse:
    """Add a line (no id) or change one; the service recomputes the totals and the value."""
    deal = access_deal_by_id(request.user, deal_id)
    if request.method != "POST":
        return render(request, "web/deals/lines.html", lines_context(deal))
    data = _line_data(request)
    try:
        if line_id is None:
            services.deal_line_add(actor=actor(request), deal_id=deal.pk, data=data)
        else:
            services.deal_line_update(
                actor=actor(request), deal_id=deal.pk, line_id=line_id, data=data
            )
    except RucheError as error:
        submitted = {key: request.POST.get(key, "") for key in LINE_INPUTS}
        return _lines_response(
            request,
            deal,
            status=422,
            error=error_text(error),
            failed_line=line_id or "new",
            submitted=submitted,
        )
    return _lines_response(request, deal)


@web_view
def line_remove(request: HttpRequest, deal_id: int, line_id: int) -> HttpResponse:
    deal = access_deal_by_id(request.user, deal_id)
    if request.method != "POST":
        return HttpResponse(status=405)
    try:
        services.deal_line_remove(actor=actor(request), deal_id=deal.pk, line_id=line_id)
    except RucheError as error:
        return _lines_response(request, deal, status=422, error=error_text(error))
    return _lines_response(request, deal)
