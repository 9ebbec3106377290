"""Quotes sent by email, the PDF attached. The service decides and records the sending in its
transaction; the email itself goes after commit (ARCHITECTURE.md, side effects after commit)."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage

from ruche.billing.einvoicing.pdf import money, quote_pdf
from ruche.billing.models import BillingProfile, Quote

logger = logging.getLogger(__name__)


def quote_email_subject(quote: Quote) -> str:
    seller = quote.seller.get("legal_name") or BillingProfile.current().legal_name
    return f"Devis {quote.reference} — {seller}".strip(" —")


def quote_email_body(quote: Quote, message: str) -> str:
    """The customer reads French documents: the email is written like the PDF it carries."""
    lines = [
        message.strip() or "Bonjour,",
        "",
        f"Veuillez trouver ci-joint notre devis {quote.reference} d'un montant de "
        f"{money(quote.total_incl_vat_minor, quote.currency)} TTC "
        f"({money(quote.total_excl_vat_minor, quote.currency)} HT), "
        f"valable jusqu'au {quote.valid_until:%d/%m/%Y}.",
    ]
    return "\n".join(lines)


def deliver_quote_email(quote_id: int, to_email: str, message: str) -> bool:
    """Render the PDF and send it. A transport error is logged, not raised: the quote stays
    sent and the user can send it again."""
    quote = Quote.objects.prefetch_related("lines").get(pk=quote_id)
    reply_to = quote.seller.get("email") or ""
    email = EmailMessage(
        subject=quote_email_subject(quote),
        body=quote_email_body(quote, message),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_email],
        reply_to=[reply_to] if reply_to else None,
    )
    email.attach(f"{quote.reference}.pdf", quote_pdf(quote), "application/pdf")
    try:
        email.send(fail_silently=False)
    except Exception:  # any transport error: reported in the log, the action can be repeated
        logger.exception("Quote %s could not be emailed to %s", quote.reference, to_email)
        return False
    return True
