"""What the billing pages read from a form and show back: document lines as the services take
them, the labels of statuses, kinds, units and methods, and refusals named by field."""

from decimal import Decimal

from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from ruche.billing.models import VAT_RATES, DocumentLine, Invoice, Payment, Quote
from ruche.billing.totals import format_rate
from ruche.core.exceptions import RucheError
from ruche.core.money import to_major
from ruche.web.views.common import decimal_text

LINE_INPUTS = (
    "name",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "vat_rate",
    "exemption_reason",
)
NUMBER_INPUTS = ("quantity", "unit_price", "discount_percent", "vat_rate")
EMPTY_ROWS = 2

QUOTE_STATUS_LABELS = {
    Quote.Status.DRAFT: _("Draft"),
    Quote.Status.SENT: _("Sent"),
    Quote.Status.ACCEPTED: _("Accepted"),
    Quote.Status.DECLINED: _("Declined"),
    Quote.Status.EXPIRED: _("Expired"),
}
INVOICE_STATUS_LABELS = {
    Invoice.Status.DRAFT: _("Draft"),
    Invoice.Status.ISSUED: _("Issued"),
    Invoice.Status.PARTIALLY_PAID: _("Partly paid"),
    Invoice.Status.PAID: _("Paid"),
    Invoice.Status.OVERDUE: _("Overdue"),
    Invoice.Status.CREDITED: _("Credited"),
}
INVOICE_KIND_LABELS = {
    Invoice.Kind.INVOICE: _("Invoice"),
    Invoice.Kind.DEPOSIT: _("Deposit invoice"),
    Invoice.Kind.CREDIT_NOTE: _("Credit note"),
}
UNIT_LABELS = {
    DocumentLine.Unit.UNIT: _("unit"),
    DocumentLine.Unit.HOUR: _("hour"),
    DocumentLine.Unit.DAY: _("day"),
    DocumentLine.Unit.MONTH: _("month"),
    DocumentLine.Unit.YEAR: _("year"),
    DocumentLine.Unit.KILOGRAM: _("kg"),
    DocumentLine.Unit.METRE: _("m"),
    DocumentLine.Unit.LITRE: _("l"),
    DocumentLine.Unit.LUMP_SUM: _("lump sum"),
}
METHOD_LABELS = {
    Payment.Method.TRANSFER: _("Bank transfer"),
    Payment.Method.CARD: _("Card"),
    Payment.Method.CHEQUE: _("Cheque"),
    Payment.Method.CASH: _("Cash"),
    Payment.Method.DIRECT_DEBIT: _("Direct debit"),
    Payment.Method.OTHER: _("Other"),
}
VAT_RATE_CHOICES = [format_rate(rate) for rate in VAT_RATES]
FIELD_LABELS = {
    "name": _("Description"),
    "quantity": _("Quantity"),
    "unit": _("Unit"),
    "unit_price": _("Unit price excl. VAT"),
    "discount_percent": _("Discount (%)"),
    "vat_rate": _("VAT rate (%)"),
    "exemption_reason": _("VAT exemption mention"),
    "lines": _("Lines"),
    "org_id": _("Customer"),
    "deal_id": _("Deal"),
    "quote_id": _("Quote"),
    "mode": _("Invoice type"),
    "deposit_percent": _("Deposit (%)"),
    "amount": _("Amount"),
    "date": _("Date"),
    "method": _("Method"),
    "to_email": _("Email address"),
    "valid_until": _("Valid until"),
    "customer_name": _("Customer name"),
    "customer_address": _("Customer address"),
    "customer_postal_code": _("Customer postal code"),
    "customer_city": _("Customer city"),
    "customer_siren": _("Customer SIREN"),
}
# The services' fixed refusals, shown in the user's language (messages with values stay).
DOMAIN_MESSAGES = [
    gettext_noop("A line needs a name or a product."),
    gettext_noop("A unit price is required."),
    gettext_noop("A VAT rate is required."),
    gettext_noop("A 0% line needs its exemption mention."),
    gettext_noop("A unit price cannot be negative."),
    gettext_noop("An invoice needs at least one line."),
    gettext_noop("A quote needs at least one line to be sent."),
    gettext_noop("A quote needs a customer to be sent."),
    gettext_noop("Required on an invoice."),
    gettext_noop("Required on every invoice."),
    gettext_noop("A French business customer's SIREN is required (2026 reform)."),
    gettext_noop("A payment amount is positive."),
    gettext_noop("An amount is required."),
    gettext_noop("A payment cannot be dated in the future."),
    gettext_noop("Only a won deal is invoiced."),
    gettext_noop("The customer has no email address: give one."),
    gettext_noop("A credit note's total must be positive."),
]


def field_label(field: str) -> str:
    """ "lines[2].vat_rate" -> "Line 3 — VAT rate (%)"; "billing_profile.siren" as it is."""
    if field.startswith("lines[") and "]." in field:
        index, name = field[len("lines[") :].split("].", 1)
        label = FIELD_LABELS.get(name, name)
        return gettext("Line %(number)s — %(field)s") % {
            "number": int(index) + 1,
            "field": label,
        }
    return str(FIELD_LABELS.get(field, field))


def refusal(error: RucheError) -> dict:
    """A refusal for a page: its messages, each named by its field, in the user's language."""
    if error.field_errors:
        errors = [
            {"field": field, "label": field_label(field), "message": gettext(message)}
            for field, message in error.field_errors.items()
        ]
    else:
        errors = [{"field": "", "label": "", "message": gettext(error.message)}]
    return {"errors": errors, "error_fields": {error["field"] for error in errors}}


def posted_lines(request: HttpRequest) -> list[dict]:
    """The line rows of the form, as the services take them. A row without a description is
    left out: clearing a line's description removes it."""
    columns = {name: request.POST.getlist(name) for name in LINE_INPUTS}
    count = max((len(values) for values in columns.values()), default=0)
    lines = []
    for index in range(count):
        row = {name: _cell(columns[name], index) for name in LINE_INPUTS}
        if not row["name"]:
            continue
        item = {"name": row["name"], "unit": row["unit"] or DocumentLine.Unit.UNIT}
        for name in NUMBER_INPUTS:
            item[name] = decimal_text(row[name]) or ("0" if name == "discount_percent" else None)
        item["exemption_reason"] = row["exemption_reason"]
        lines.append({key: value for key, value in item.items() if value is not None})
    return lines


def _cell(values: list[str], index: int) -> str:
    return values[index].strip() if index < len(values) else ""


def line_rows(document, posted: list[dict] | None = None) -> list[dict]:
    """The rows the lines form shows: what was just posted (after a refusal) or the stored
    lines, then empty rows to add to."""
    if posted is None:
        posted = [
            {
                "name": line.name,
                "quantity": _plain(line.quantity),
                "unit": line.unit,
                "unit_price": _plain(to_major(line.unit_price_minor, document.currency)),
                "discount_percent": _plain(line.discount_percent),
                "vat_rate": format_rate(line.vat_rate),
                "exemption_reason": line.exemption_reason,
            }
            for line in document.lines.all()
        ]
    empty = {"unit": DocumentLine.Unit.UNIT, "vat_rate": "20", "quantity": "1"}
    return list(posted) + [empty] * EMPTY_ROWS


def _plain(number) -> str:
    text = format(Decimal(number), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
