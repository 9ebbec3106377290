"""CSV files in the import layouts of QuickBooks Online and Xero, one row per invoice line.

QuickBooks Online (Sales > Invoices > Import invoices, non-US companies with VAT codes): the
columns of its sample file, dates DD/MM/YYYY, amounts with a dot. Invoices and deposits only:
QuickBooks' invoice import takes no credit notes (enter them as credit memos).

Xero (Business > Invoices > Import, the sales invoice template): dates DD/MM/YYYY; a credit
note is imported as a sales credit note when its quantities are negative, so credit notes come
with negated quantities. Xero's AccountCode is the revenue account (706000 / 707000) and its
TaxType the name of the VAT rate, e.g. "TVA 20 %", which must exist in the Xero organisation.

Line amounts are the stored line totals excl. VAT (the rounding rule of docs/billing.md); the
unit amount is the exact net unit price (after discount), so quantity x unit amount rounded to
the cent is the same line total.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

from ruche.billing.exports import period_documents
from ruche.billing.exports.fec import REVENUE
from ruche.billing.models import Invoice, Nature
from ruche.billing.totals import format_rate
from ruche.core.money import to_major

QUICKBOOKS_COLUMNS = (
    "*InvoiceNo",
    "*Customer",
    "*InvoiceDate",
    "*DueDate",
    "Terms",
    "Location",
    "Memo",
    "Item(Product/Service)",
    "ItemDescription",
    "ItemQuantity",
    "ItemRate",
    "*ItemAmount",
    "*ItemTaxCode",
    "ItemTaxAmount",
    "Currency",
    "Service Date",
)
XERO_COLUMNS = (
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
)


def _dmy(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _major(minor: int, currency: str) -> str:
    return f"{to_major(minor, currency)}"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def tax_name(rate) -> str:
    return f"TVA {format_rate(Decimal(rate))} %"


def _unit_amount(line, currency: str) -> str:
    """The net unit price (after the line's discount), exact: quantity x unit price rounded
    half away from zero gives the stored line total."""
    unit = to_major(line.unit_price_minor, currency) * (1 - line.discount_percent / 100)
    return _number(unit)


def _line_vat(document: Invoice) -> dict:
    """Each line's share of its rate's VAT, the rounding difference on the rate's last line,
    so the per-line VAT adds up to the document's VAT."""
    shares = {}
    groups = {g["rate"]: g for g in document.vat_breakdown}
    lines = list(document.lines.all())
    for rate, group in groups.items():
        members = [line for line in lines if format_rate(line.vat_rate) == rate]
        left = group["vat_minor"]
        for index, line in enumerate(members):
            if index == len(members) - 1:
                share = left
            elif group["base_minor"]:
                share = int(
                    (Decimal(group["vat_minor"]) * line.total_minor / group["base_minor"]).quantize(
                        Decimal(1)
                    )
                )
            else:
                share = 0
            left -= share
            shares[line.pk] = share
    return shares


def _write(columns, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def export_quickbooks(user, start: dt.date, end: dt.date) -> str:
    rows = []
    for document in period_documents(user, start, end).exclude(kind=Invoice.Kind.CREDIT_NOTE):
        vat = _line_vat(document)
        for line in document.lines.all():
            rows.append(
                [
                    document.number,
                    document.customer_name,
                    _dmy(document.issue_date),
                    _dmy(document.due_date),
                    f"{document.payment_terms_days} jours",
                    "",
                    document.title,
                    line.name,
                    line.description,
                    _number(line.quantity),
                    _unit_amount(line, document.currency),
                    _major(line.total_minor, document.currency),
                    tax_name(line.vat_rate),
                    _major(vat.get(line.pk, 0), document.currency),
                    document.currency,
                    _dmy(document.delivery_date),
                ]
            )
    return _write(QUICKBOOKS_COLUMNS, rows)


def export_xero(user, start: dt.date, end: dt.date) -> str:
    rows = []
    for document in period_documents(user, start, end):
        sign = -1 if document.kind == Invoice.Kind.CREDIT_NOTE else 1
        account = REVENUE.get(document.nature, REVENUE[Nature.SERVICES])[0]
        vat = _line_vat(document)
        reference = document.credited_invoice.number if document.credited_invoice_id else ""
        for line in document.lines.all():
            rows.append(
                [
                    document.customer_name,
                    "",
                    document.customer_address,
                    "",
                    "",
                    "",
                    document.customer_city,
                    "",
                    document.customer_postal_code,
                    document.customer_country,
                    document.number,
                    reference or document.title,
                    _dmy(document.issue_date),
                    _dmy(document.due_date or document.issue_date),
                    "",
                    "",
                    line.name,
                    _number(line.quantity * sign),
                    _unit_amount(line, document.currency),
                    "",
                    account,
                    tax_name(line.vat_rate),
                    _major(vat.get(line.pk, 0) * sign, document.currency),
                    "",
                    "",
                    "",
                    "",
                    document.currency,
                    "",
                ]
            )
    return _write(XERO_COLUMNS, rows)
