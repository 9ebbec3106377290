"""The FEC (Fichier des Écritures Comptables, LPF art. L47 A, BOI-CF-IOR-60-40-20): one line
per accounting line, the 18 columns below in this order, tab-separated, dates YYYYMMDD, amounts
with a comma as decimal separator and no thousands separator, UTF-8.

Entries (one per document, each balanced: debit = credit):

- invoice or deposit, journal VT (ventes): debit 411000 (auxiliary account of the customer,
  C + organisation id) incl. VAT; credit 706000 (services, mixed) or 707000 (goods) with each
  VAT rate's base; credit 445710 with each rate's VAT;
- credit note, journal VT: the same accounts, debit and credit swapped;
- payment, journal BQ (banque): debit 512000, credit 411000 (the customer's auxiliary account).

Amounts are in euros; a document in another currency is converted at the rate of its date
(ruche.core.currency) and its own amount and currency go in Montantdevise / Idevise. Entries are
numbered per journal in date order (VT000001, BQ000001). The validation date is the issue date
(or the payment date): an issued invoice is never modified.
"""

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from ruche.billing.exports import period_documents, period_payments
from ruche.billing.models import Invoice, Nature
from ruche.core.currency import convert
from ruche.core.money import Money, to_major

COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
JOURNALS = {"VT": "Journal des ventes", "BQ": "Journal de banque"}
CUSTOMERS = ("411000", "Clients")
REVENUE = {
    Nature.SERVICES: ("706000", "Prestations de services"),
    Nature.MIXED: ("706000", "Prestations de services"),
    Nature.GOODS: ("707000", "Ventes de marchandises"),
}
VAT_COLLECTED = ("445710", "TVA collectée")
BANK = ("512000", "Banque")
EUR = "EUR"


@dataclass
class Line:
    account: tuple[str, str]
    label: str
    debit: int = 0
    credit: int = 0
    aux: tuple[str, str] = ("", "")
    foreign: int | None = None


def amount(minor: int) -> str:
    """Cents to '1234,56' (no thousands separator)."""
    return f"{to_major(minor, EUR):.2f}".replace(".", ",")


def ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def clean(text: str) -> str:
    """No tab or line break inside a field."""
    return " ".join(str(text or "").split())


def _aux(document: Invoice) -> tuple[str, str]:
    code = f"C{document.org_id:06d}" if document.org_id else "CDIVERS"
    return code, document.customer_name


def _eur(minor: int, currency: str, on: dt.date) -> int:
    if currency == EUR:
        return minor
    return convert(Money(minor, currency), on, EUR).amount_minor


def document_lines(document: Invoice) -> list[Line]:
    on, currency = document.issue_date, document.currency
    kind = {"invoice": "Facture", "deposit": "Facture d'acompte", "credit_note": "Avoir"}
    label = clean(f"{kind[document.kind]} {document.number} {document.customer_name}")
    revenue = REVENUE.get(document.nature, REVENUE[Nature.SERVICES])
    lines = []
    for group in document.vat_breakdown:
        rate = group["rate"]
        lines.append(
            Line(
                revenue,
                clean(f"{label} HT {rate} %"),
                credit=_eur(group["base_minor"], currency, on),
                foreign=group["base_minor"],
            )
        )
        if group["vat_minor"]:
            lines.append(
                Line(
                    VAT_COLLECTED,
                    clean(f"{label} TVA {rate} %"),
                    credit=_eur(group["vat_minor"], currency, on),
                    foreign=group["vat_minor"],
                )
            )
    # The customer line balances the entry (conversions are rounded per line).
    total = sum(line.credit for line in lines)
    lines.insert(
        0,
        Line(
            CUSTOMERS, label, debit=total, aux=_aux(document), foreign=document.total_incl_vat_minor
        ),
    )
    if document.kind == Invoice.Kind.CREDIT_NOTE:
        for line in lines:
            line.debit, line.credit = line.credit, line.debit
    return lines


def payment_lines(payment) -> list[Line]:
    invoice = payment.invoice
    value = _eur(payment.amount_minor, invoice.currency, payment.date)
    label = clean(f"Règlement {invoice.number} {invoice.customer_name} {payment.reference}")
    return [
        Line(BANK, label, debit=value, foreign=payment.amount_minor),
        Line(CUSTOMERS, label, credit=value, aux=_aux(invoice), foreign=payment.amount_minor),
    ]


def rows(user, start: dt.date, end: dt.date) -> Iterator[list[str]]:
    """The FEC rows (without the header) for the period, VT entries first, then BQ."""
    entries = []
    for document in period_documents(user, start, end):
        entries.append(
            (
                "VT",
                document.issue_date,
                document.number,
                document.issue_date,
                document.currency,
                document_lines(document),
            )
        )
    for payment in period_payments(user, start, end):
        reference = payment.reference or f"REG{payment.pk}"
        entries.append(
            (
                "BQ",
                payment.date,
                clean(reference)[:40],
                payment.date,
                payment.invoice.currency,
                payment_lines(payment),
            )
        )
    counters = {"VT": 0, "BQ": 0}
    for journal, day, piece, piece_date, currency, lines in entries:
        counters[journal] += 1
        number = f"{journal}{counters[journal]:06d}"
        for line in lines:
            foreign = currency != EUR and line.foreign is not None
            yield [
                journal,
                JOURNALS[journal],
                number,
                ymd(day),
                line.account[0],
                line.account[1],
                line.aux[0],
                clean(line.aux[1]),
                piece,
                ymd(piece_date),
                line.label,
                amount(line.debit),
                amount(line.credit),
                "",
                "",
                ymd(day),
                f"{to_major(line.foreign, currency)}".replace(".", ",") if foreign else "",
                currency if foreign else "",
            ]


def export_fec(user, start: dt.date, end: dt.date) -> str:
    out = io.StringIO()
    out.write("\t".join(COLUMNS) + "\r\n")
    for row in rows(user, start, end):
        out.write("\t".join(row) + "\r\n")
    return out.getvalue()


def filename(siren: str, end: dt.date) -> str:
    """The name the administration expects: <SIREN>FEC<closing date YYYYMMDD>.txt."""
    return f"{siren or '000000000'}FEC{ymd(end)}.txt"
