"""Accounting exports for a period: the French FEC (fec.py), and CSV files in the import
layouts of QuickBooks Online and Xero (csv_layouts.py). Documents and payments are read through
`period_documents`, restricted to what the user may see."""

import datetime as dt

from ruche.billing.models import Invoice, Payment
from ruche.billing.selectors import document_q
from ruche.core.exceptions import PermissionDenied, ValidationError

MAX_PERIOD_DAYS = 3 * 366


def check_period(start, end) -> tuple[dt.date, dt.date]:
    days = []
    for field, value in (("from", start), ("to", end)):
        if isinstance(value, dt.date):
            days.append(value)
            continue
        try:
            days.append(dt.date.fromisoformat(str(value)))
        except (TypeError, ValueError):
            raise ValidationError(
                {field: f"A date (YYYY-MM-DD) is expected, not {value!r}."}
            ) from None
    start, end = days
    if end < start:
        raise ValidationError({"to": "The end of the period is before its start."})
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationError({"to": f"A period is at most {MAX_PERIOD_DAYS} days."})
    return start, end


def check_exporter(user) -> None:
    if user is not None and not (user.is_admin or user.is_manager):
        raise PermissionDenied("Accounting exports are for admins and managers.")


def period_documents(user, start: dt.date, end: dt.date):
    """Issued invoices, deposits and credit notes dated in the period, with their lines."""
    return (
        Invoice.objects.filter(
            document_q(user), issued_time__isnull=False, issue_date__range=(start, end)
        )
        .select_related("credited_invoice")
        .prefetch_related("lines")
        .order_by("issue_date", "issued_time", "pk")
    )


def period_payments(user, start: dt.date, end: dt.date):
    return (
        Payment.objects.filter(
            document_q(user, "invoice__"), is_deleted=False, date__range=(start, end)
        )
        .select_related("invoice")
        .order_by("date", "pk")
    )
