"""The rows of the quote and invoice exports (ruche.core.spreadsheets.download): one header
row, then one row per document, amounts in major units so a spreadsheet can sum them."""

from collections.abc import Iterator

from django.db.models import QuerySet

from ruche.core.money import to_major

QUOTE_HEADER = (
    "number",
    "revision",
    "status",
    "issue_date",
    "valid_until",
    "customer",
    "deal_id",
    "currency",
    "total_excl_vat",
    "total_vat",
    "total_incl_vat",
)
INVOICE_HEADER = (
    "number",
    "kind",
    "status",
    "issue_date",
    "due_date",
    "customer",
    "deal_id",
    "currency",
    "total_excl_vat",
    "total_vat",
    "total_incl_vat",
    "paid",
    "credited",
    "balance",
)


def _totals(document) -> list:
    currency = document.currency
    return [
        currency,
        to_major(document.total_excl_vat_minor, currency),
        to_major(document.total_vat_minor, currency),
        to_major(document.total_incl_vat_minor, currency),
    ]


def quote_rows(quotes: QuerySet) -> Iterator[list]:
    yield list(QUOTE_HEADER)
    for quote in quotes.iterator():
        yield [
            quote.number,
            quote.revision,
            quote.status,
            quote.issue_date,
            quote.valid_until,
            quote.customer_name,
            quote.deal_id,
            *_totals(quote),
        ]


def invoice_rows(invoices: QuerySet) -> Iterator[list]:
    yield list(INVOICE_HEADER)
    for invoice in invoices.iterator():
        currency = invoice.currency
        yield [
            invoice.number,
            invoice.kind,
            invoice.status,
            invoice.issue_date,
            invoice.due_date,
            invoice.customer_name,
            invoice.deal_id,
            *_totals(invoice),
            to_major(invoice.paid_minor, currency),
            to_major(invoice.credited_minor, currency),
            to_major(invoice.balance_minor, currency),
        ]
