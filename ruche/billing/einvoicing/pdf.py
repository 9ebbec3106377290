"""PDF documents: an HTML template rendered by WeasyPrint as PDF/A-3b; for an issued invoice
or credit note, the Factur-X XML embedded with the factur-x library (XSD-checked on the way,
AFRelationship "Alternative" as Factur-X asks for the EN 16931 profile, and the XMP metadata
identifying PDF/A-3 and the Factur-X document)."""

from decimal import Decimal

import facturx
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from ruche.billing.einvoicing.cii import (
    invoice_xml,
    legal_notes,
    payment_terms_text,
    seller_description,
    seller_of,
)
from ruche.billing.models import Invoice, Nature, Quote
from ruche.billing.totals import format_rate
from ruche.core.money import to_major

# The XML of an EN 16931 invoice is the whole invoice, an alternative representation of the
# PDF: /AFRelationship /Alternative (Factur-X 1.07.2 / ZUGFeRD 2.3.2, section 6.2.2 "Data
# relationship"; /Data is for MINIMUM and BASIC WL, whose XML does not carry the full invoice).
# The factur-x library accepts data, source or alternative for the XML (facturx.facturx.
# XML_AFRelationship) and defaults to data, so the value is given here. docs/billing.md.
AF_RELATIONSHIP = "alternative"


def money(minor: int, currency: str) -> str:
    """1234567 EUR -> "12 345,67 €" as French documents write amounts."""
    value = f"{to_major(minor, currency):,.2f}".replace(",", " ").replace(".", ",")
    return f"{value} €" if currency == "EUR" else f"{value} {currency}"


def _quantity(value: Decimal) -> str:
    text = f"{Decimal(value):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text.replace(".", ",")


def _lines(document) -> list[dict]:
    currency = document.currency
    return [
        {
            "name": line.name,
            "description": line.description,
            "quantity": _quantity(line.quantity),
            "unit": line.get_unit_display(),
            "unit_price": money(line.unit_price_minor, currency),
            "discount": format_rate(line.discount_percent) if line.discount_percent else "",
            "vat_rate": format_rate(line.vat_rate),
            "total": money(line.total_minor, currency),
        }
        for line in document.lines.all()
    ]


def _context(document, title: str, number: str) -> dict:
    seller = seller_of(document)
    currency = document.currency
    return {
        "doc": document,
        "title": title,
        "number": number,
        "seller": seller,
        "seller_legal": seller_description(seller, currency),
        "lines": _lines(document),
        "nature": Nature(document.nature).label,
        "groups": [
            {
                "rate": group["rate"],
                "base": money(group["base_minor"], currency),
                "vat": money(group["vat_minor"], currency),
                "exemption": group["exemption"],
            }
            for group in document.vat_breakdown
        ],
        "total_excl": money(document.total_excl_vat_minor, currency),
        "total_vat": money(document.total_vat_minor, currency),
        "total_incl": money(document.total_incl_vat_minor, currency),
        "exemptions": sorted({g["exemption"] for g in document.vat_breakdown if g["exemption"]}),
    }


def _render(template: str, context: dict) -> bytes:
    html = render_to_string(template, context)
    return HTML(string=html).write_pdf(pdf_variant="pdf/a-3b")


def quote_pdf(quote: Quote) -> bytes:
    context = _context(quote, "Devis", quote.reference)
    return _render("billing/quote.html", context)


def invoice_title(invoice: Invoice) -> str:
    return {
        Invoice.Kind.INVOICE: "Facture",
        Invoice.Kind.DEPOSIT: "Facture d'acompte",
        Invoice.Kind.CREDIT_NOTE: "Avoir",
    }[invoice.kind]


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as Factur-X (PDF/A-3b with its XML) once issued; a draft is a plain PDF/A-3b
    marked as a draft."""
    seller = seller_of(invoice)
    context = _context(invoice, invoice_title(invoice), invoice.number or "BROUILLON") | {
        "is_draft": invoice.issued_time is None,
        "notes": [text for _, text in legal_notes(invoice, seller)],
        "payment_terms": payment_terms_text(invoice),
        "credited": invoice.credited_invoice if invoice.kind == Invoice.Kind.CREDIT_NOTE else None,
    }
    pdf = _render("billing/invoice.html", context)
    if invoice.issued_time is None:
        return pdf
    return facturx.generate_from_binary(
        pdf,
        invoice_xml(invoice),
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata={
            "author": seller.get("legal_name") or "",
            "keywords": "Factur-X, EN 16931",
            "title": f"{invoice_title(invoice)} {invoice.number}",
            "subject": f"{invoice_title(invoice)} {invoice.number} — {invoice.customer_name}",
        },
        lang="fr-FR",
        afrelationship=AF_RELATIONSHIP,
    )


def generated_at() -> str:
    return timezone.now().isoformat()
