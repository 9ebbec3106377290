"""Writes for billing: the seller's profile, customers' billing details, quotes, invoices,
credit notes and payments. Each service runs in one transaction and writes its history there.

Allowed status changes are data (QUOTE_TRANSITIONS, INVOICE_TRANSITIONS), enforced by
`_transition`, which also records the change. Only a draft invoice changes; issuing it takes the
next number of its series (ruche.billing.numbering) and freezes it for good.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ruche.accounts.models import Company
from ruche.billing.mail import deliver_quote_email
from ruche.billing.models import (
    MAX_PAYMENT_TERMS_DAYS,
    VAT_RATES,
    BillingProfile,
    CustomerBilling,
    DocumentLine,
    Invoice,
    InvoiceLine,
    Nature,
    NumberSeries,
    Payment,
    Quote,
    QuoteLine,
)
from ruche.billing.numbering import next_number
from ruche.billing.reminders import customer_email, notify_payment
from ruche.billing.selectors import (
    document_q,
    invoice_queryset,
    payment_queryset,
    quote_queryset,
    with_balance,
)
from ruche.billing.totals import HUNDRED, compute_totals, format_rate, line_net_minor
from ruche.billing.validation import clean_identifier, clean_identifiers
from ruche.catalog.models import Product
from ruche.contacts.models import Organization
from ruche.core.exceptions import Conflict, ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.money import MAX_MAJOR_AMOUNT, round_half_up, to_major, to_minor
from ruche.core.permissions import restrict
from ruche.core.services import lock, resolve
from ruche.core.validation import changed_fields, clean_model_fields
from ruche.forecasting.stage_tallies import take_writers_turn
from ruche.integrations.events import publish
from ruche.pipelines import services as pipeline_services
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import deal_queryset

QuoteStatus = Quote.Status
Kind = Invoice.Kind

# Which status a quote may take from each status. Accepting, declining and expiring are final;
# a new revision is made instead.
QUOTE_TRANSITIONS = {
    QuoteStatus.DRAFT: {QuoteStatus.SENT},
    QuoteStatus.SENT: {QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED},
    QuoteStatus.ACCEPTED: set(),
    QuoteStatus.DECLINED: set(),
    QuoteStatus.EXPIRED: set(),
}
# An invoice's stored state: a draft is issued once. Paid, partially paid, overdue and credited
# are computed from payments, credit notes and the due date (ruche.billing.selectors).
INVOICE_TRANSITIONS = {"draft": {"issued"}, "issued": set()}


def _parse_date(value: Any, field: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Not a valid date (YYYY-MM-DD): {value!r}."}) from None


def _decimal(value: Any, field: str, *, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = None if isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError({field: f"A number is expected, not {value!r}."})
    if not low <= number <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return number


# Seller and customers ---------------------------------------------------------------------------

PROFILE_FIELDS = (
    "legal_name",
    "trade_name",
    "address",
    "postal_code",
    "city",
    "country",
    "siren",
    "siret",
    "vat_number",
    "legal_form",
    "share_capital_minor",
    "rcs",
    "iban",
    "bic",
    "email",
    "phone",
    "payment_terms_days",
    "late_payment_rate",
    "recovery_fee_minor",
    "vat_on_debits",
    "quote_validity_days",
    "default_exemption_reason",
)


@transaction.atomic
def billing_profile_update(*, actor: Actor, data: dict[str, Any]) -> BillingProfile:
    profile = BillingProfile.current()
    profile = BillingProfile.objects.select_for_update().get(pk=profile.pk)
    values = {k: v for k, v in data.items() if k in PROFILE_FIELDS}
    currency = Company.current().currency
    if "share_capital" in data:
        values["share_capital_minor"] = (
            None
            if data["share_capital"] is None
            else to_minor(data["share_capital"], currency, field="share_capital")
        )
    if data.get("recovery_fee") is not None:
        values["recovery_fee_minor"] = to_minor(
            data["recovery_fee"], currency, field="recovery_fee"
        )
    if values.get("recovery_fee_minor") is not None and values["recovery_fee_minor"] < 4000:
        raise ValidationError({"recovery_fee": "The flat recovery fee is at least 40 EUR."})
    if "payment_terms_days" in values:
        terms = values["payment_terms_days"]
        if not isinstance(terms, int) or isinstance(terms, bool) or not 0 <= terms <= 60:
            raise ValidationError(
                {"payment_terms_days": f"Between 0 and {MAX_PAYMENT_TERMS_DAYS} days."}
            )
    if "late_payment_rate" in values:
        values["late_payment_rate"] = _decimal(
            values["late_payment_rate"], "late_payment_rate", low=Decimal(0), high=Decimal(100)
        )
    clean_identifiers(values)
    changes = changed_fields(profile, values, PROFILE_FIELDS)
    if changes:
        clean_model_fields(profile)
        profile.version += 1
        profile.update_time = timezone.now()
        profile.save()
        record_changes("billing_profile", profile.pk, actor, changes)
    return profile


CUSTOMER_FIELDS = tuple(f.name for f in CustomerBilling._meta.fields if f.name not in ("id", "org"))


@transaction.atomic
def customer_billing_update(*, actor: Actor, org_id: int, data: dict[str, Any]) -> CustomerBilling:
    org = lock(restrict(Organization.objects, actor.user), org_id, label="Organization")
    details, _ = CustomerBilling.objects.get_or_create(org=org)
    changes = changed_fields(details, data, CUSTOMER_FIELDS)
    if changes:
        clean_model_fields(details)
        details.save()
        record_changes(
            "organization", org.pk, actor, {f"billing.{k}": v for k, v in changes.items()}
        )
    return details


def _customer_values(org: Organization | None, data: dict) -> dict:
    """The customer snapshot: from the organisation and its billing details, then the fields
    the request gives."""
    values: dict[str, Any] = {}
    if org is not None:
        details = CustomerBilling.objects.filter(org=org).first() or CustomerBilling(org=org)
        values = {
            "org": org,
            "customer_name": details.billing_name or org.name,
            "customer_address": details.billing_address or org.address,
            "customer_postal_code": details.billing_postal_code or org.postal_code,
            "customer_city": details.billing_city or org.city,
            "customer_country": details.billing_country or org.country or "FR",
            "customer_siren": org.siren,
            "customer_vat_number": org.vat_number,
            "customer_is_business": details.is_business,
            "delivery_name": details.delivery_name,
            "delivery_address": details.delivery_address,
            "delivery_postal_code": details.delivery_postal_code,
            "delivery_city": details.delivery_city,
            "delivery_country": details.delivery_country,
        }
    for field in SNAPSHOT_FIELDS:
        if field in data:
            values[field] = data[field]
    for field in ("customer_siren", "customer_vat_number"):
        if field in values:
            values[field] = clean_identifier(field, values[field])
    return values


SNAPSHOT_FIELDS = (
    "customer_name",
    "customer_address",
    "customer_postal_code",
    "customer_city",
    "customer_country",
    "customer_siren",
    "customer_vat_number",
    "customer_is_business",
    "delivery_name",
    "delivery_address",
    "delivery_postal_code",
    "delivery_city",
    "delivery_country",
)
DOCUMENT_FIELDS = (*SNAPSHOT_FIELDS, "org", "title", "notes", "nature", "currency")


def _seller_snapshot() -> dict:
    return BillingProfile.current().snapshot()


# Lines ------------------------------------------------------------------------------------------

MAX_QUANTITY = Decimal("99999999999")


def _line_values(
    item: Any, index: int, currency: str, exemption_default: str, allow_negative: bool = False
) -> dict:
    def name(field: str) -> str:
        return f"lines[{index}].{field}"

    if not isinstance(item, dict):
        raise ValidationError({f"lines[{index}]": "An object is expected."})
    product = None
    if item.get("product_id") is not None:
        product = resolve(
            Product.objects.filter(is_deleted=False), item["product_id"], field=name("product_id")
        )
    values: dict[str, Any] = {
        "product": product,
        "name": item.get("name") or (product.name if product else ""),
        "description": item.get("description") or "",
        "order_nr": index,
        "unit": item.get("unit") or unit_code(product.unit if product else ""),
    }
    if not values["name"]:
        raise ValidationError({name("name"): "A line needs a name or a product."})
    if values["unit"] not in DocumentLine.Unit.values:
        raise ValidationError({name("unit"): f"One of {', '.join(DocumentLine.Unit.values)}."})
    quantity = item.get("quantity", 1)
    negative = allow_negative and not isinstance(quantity, bool) and _is_negative(quantity)
    values["quantity"] = _decimal(
        abs(Decimal(str(quantity))) if negative else quantity,
        name("quantity"),
        low=Decimal("0.0001"),
        high=MAX_QUANTITY,
    ) * (-1 if negative else 1)
    if item.get("unit_price") is not None:
        values["unit_price_minor"] = to_minor(
            item["unit_price"], currency, field=name("unit_price")
        )
    elif product is not None and product.currency == currency:
        values["unit_price_minor"] = product.unit_price_minor
    else:
        raise ValidationError({name("unit_price"): "A unit price is required."})
    if values["unit_price_minor"] < 0:
        raise ValidationError({name("unit_price"): "A unit price cannot be negative."})
    values["discount_percent"] = _decimal(
        item.get("discount_percent", 0), name("discount_percent"), low=Decimal(0), high=HUNDRED
    )
    rate = item.get("vat_rate", product.vat_rate if product else None)
    if rate is None:
        raise ValidationError({name("vat_rate"): "A VAT rate is required."})
    values["vat_rate"] = _vat_rate(rate, name("vat_rate"))
    values["exemption_reason"] = item.get("exemption_reason") or ""
    if values["vat_rate"] == 0 and not values["exemption_reason"]:
        values["exemption_reason"] = exemption_default
    if values["vat_rate"] == 0 and not values["exemption_reason"]:
        raise ValidationError({name("exemption_reason"): "A 0% line needs its exemption mention."})
    if values["vat_rate"] != 0:
        values["exemption_reason"] = ""
    return values


PRODUCT_UNITS = {
    "heure": "HUR",
    "h": "HUR",
    "jour": "DAY",
    "mois": "MON",
    "an": "ANN",
    "année": "ANN",
    "kg": "KGM",
    "m": "MTR",
    "l": "LTR",
    "forfait": "LS",
}


def unit_code(unit: str) -> str:
    """A product's free-text unit ("mois", "jour", "licence") as a UN/ECE rec. 20 code; units
    without a code (licence, personne, nuit) are counted as units (C62)."""
    unit = (unit or "").strip()
    if unit in DocumentLine.Unit.values:
        return unit
    return PRODUCT_UNITS.get(unit.lower(), "C62")


def _is_negative(value: Any) -> bool:
    try:
        return Decimal(str(value)) < 0
    except InvalidOperation:
        return False


def _vat_rate(value: Any, field: str) -> Decimal:
    rate = _decimal(value, field, low=Decimal(0), high=HUNDRED)
    if rate not in VAT_RATES:
        allowed = ", ".join(format_rate(r) for r in VAT_RATES)
        raise ValidationError({field: f"The VAT rate is one of {allowed}, not {value}."})
    return rate


def _build_lines(
    model, items: list, currency: str, parent: dict, *, allow_negative: bool = False
) -> list:
    if not isinstance(items, list):
        raise ValidationError({"lines": "A list of lines is expected."})
    if len(items) > 500:
        raise ValidationError({"lines": "At most 500 lines."})
    exemption = BillingProfile.current().default_exemption_reason
    lines = []
    for index, item in enumerate(items):
        line = model(**parent, **_line_values(item, index, currency, exemption, allow_negative))
        line.total_minor = line_net_minor(
            line.quantity, line.unit_price_minor, line.discount_percent
        )
        lines.append(line)
    _check_range(lines, currency)
    return lines


def _check_range(lines: list, currency: str) -> None:
    limit = to_minor(MAX_MAJOR_AMOUNT, currency)
    if sum(abs(line.total_minor) for line in lines) > limit:
        raise ValidationError({"lines": f"The total would exceed {MAX_MAJOR_AMOUNT} {currency}."})


def _line_snapshot(line) -> dict:
    return {
        "name": line.name,
        "quantity": str(line.quantity),
        "unit": line.unit,
        "unit_price_minor": line.unit_price_minor,
        "discount_percent": str(line.discount_percent),
        "vat_rate": format_rate(line.vat_rate),
        "exemption_reason": line.exemption_reason,
        "total_minor": line.total_minor,
    }


def _save_lines(document, lines: list, related: str) -> None:
    getattr(document, related).all().delete()
    for line in lines:
        setattr(line, f"{type(document).__name__.lower()}_id", document.pk)
        clean_model_fields(line)
        line.save()
    _apply_totals(document, lines)


def _apply_totals(document, lines: list) -> None:
    totals = compute_totals(lines)
    document.total_excl_vat_minor = totals.excl_vat_minor
    document.total_vat_minor = totals.vat_minor
    document.total_incl_vat_minor = totals.incl_vat_minor
    document.vat_breakdown = [group.as_json() for group in totals.groups]


def _deal_line_items(deal: Deal) -> list[dict]:
    return [
        {
            "product_id": line.product_id,
            "name": line.name,
            "description": line.comments,
            "quantity": line.quantity,
            "unit_price": to_major(line.unit_price_minor, deal.currency),
            "discount_percent": line.discount_percent,
            "vat_rate": line.vat_rate,
        }
        for line in deal.lines.all()
    ]


def _document_line_items(document, sign: int = 1) -> list[dict]:
    return [
        {
            "product_id": line.product_id,
            "name": line.name,
            "description": line.description,
            "quantity": line.quantity * sign,
            "unit": line.unit,
            "unit_price": to_major(line.unit_price_minor, document.currency),
            "discount_percent": line.discount_percent,
            "vat_rate": line.vat_rate,
            "exemption_reason": line.exemption_reason,
        }
        for line in document.lines.all()
    ]


def _document_values(data: dict, actor: Actor, deal: Deal | None, current=None) -> dict:
    org = deal.org if deal is not None else None
    if data.get("org_id") is not None:
        org = resolve(restrict(Organization.objects, actor.user), data["org_id"], field="org_id")
    values = {}
    if current is None or "org_id" in data:
        values = _customer_values(org, data)
    else:
        values = _customer_values(None, data)
    for field in ("title", "notes"):
        if field in data:
            values[field] = data[field] or ""
    if "nature" in data:
        if data["nature"] not in Nature.values:
            raise ValidationError({"nature": f"One of {', '.join(Nature.values)}."})
        values["nature"] = data["nature"]
    if current is None:
        values["currency"] = deal.currency if deal else Company.current().currency
        values.setdefault("title", deal.title if deal else "")
    return values


# Quotes -----------------------------------------------------------------------------------------


def _transition(document, new_status: str, actor: Actor, transitions: dict, entity: str) -> None:
    """The one place a status changes: refused unless declared, recorded when done."""
    old = document.status
    if new_status not in transitions.get(old, set()):
        raise Conflict(f"A {old} {entity.replace('_', ' ')} cannot become {new_status}.")
    document.status = new_status
    record_event(entity, document.pk, Event.UPDATED, actor, "status", old, new_status)


def _lock_quote(actor: Actor, quote_id: int, expected_version: int | None = None) -> Quote:
    return lock(
        quote_queryset(actor.user), quote_id, label="Quote", expected_version=expected_version
    )


def _owner(actor: Actor, deal: Deal | None):
    if actor.user is not None:
        return actor.user
    if deal is None:
        raise ValidationError(
            {"deal_id": "A system job bills a deal, whose owner owns the document."}
        )
    return deal.owner


def _deal_for(actor: Actor, deal_id: Any) -> Deal | None:
    return resolve(deal_queryset(actor.user), deal_id, field="deal_id")


@transaction.atomic
def quote_create(*, actor: Actor, data: dict[str, Any]) -> Quote:
    """A quote from a deal (its lines copied unless lines are given) or from scratch."""
    deal = _deal_for(actor, data.get("deal_id"))
    values = _document_values(data, actor, deal)
    today = timezone.localdate()
    valid_until = _parse_date(data.get("valid_until"), "valid_until") or (
        today + dt.timedelta(days=BillingProfile.current().quote_validity_days)
    )
    if valid_until < today:
        raise ValidationError({"valid_until": "The validity date cannot be in the past."})
    items = (
        data.get("lines")
        if data.get("lines") is not None
        else (_deal_line_items(deal) if deal else [])
    )
    quote = Quote(
        **values, deal=deal, owner=_owner(actor, deal), valid_until=valid_until, issue_date=today
    )
    lines = _build_lines(QuoteLine, items, quote.currency, {})
    quote.number = next_number(NumberSeries.Key.QUOTE, today)
    clean_model_fields(quote)
    quote.save()
    _save_lines(quote, lines, "lines")
    quote.save()
    record_created("quote", quote.pk, actor, _created_values(quote, lines))
    return quote


def _created_values(document, lines) -> dict:
    return {
        "number": document.number,
        "deal": document.deal_id,
        "org": document.org_id,
        "total_excl_vat_minor": document.total_excl_vat_minor,
        "total_incl_vat_minor": document.total_incl_vat_minor,
        "lines": [_line_snapshot(line) for line in lines],
    }


def _update_document(document, *, actor, entity, data, line_model) -> None:
    values = _document_values(data, actor, document.deal, current=document)
    before_lines = [_line_snapshot(line) for line in document.lines.all()]
    changes = changed_fields(document, values, DOCUMENT_FIELDS)
    if "payment_terms_days" in data and isinstance(document, Invoice):
        terms = data["payment_terms_days"]
        if terms is not None and (
            not isinstance(terms, int) or isinstance(terms, bool) or not 0 <= terms <= 60
        ):
            raise ValidationError({"payment_terms_days": "Between 0 and 60 days."})
        changes |= changed_fields(document, {"payment_terms_days": terms}, ["payment_terms_days"])
    if "delivery_date" in data and isinstance(document, Invoice):
        changes |= changed_fields(
            document,
            {"delivery_date": _parse_date(data["delivery_date"], "delivery_date")},
            ["delivery_date"],
        )
    if "valid_until" in data and isinstance(document, Quote):
        valid_until = _parse_date(data["valid_until"], "valid_until")
        if valid_until is None or valid_until < timezone.localdate():
            raise ValidationError({"valid_until": "A validity date, not in the past."})
        changes |= changed_fields(document, {"valid_until": valid_until}, ["valid_until"])
    if data.get("lines") is not None:
        lines = _build_lines(line_model, data["lines"], document.currency, {})
        _save_lines(document, lines, "lines")
        after = [_line_snapshot(line) for line in lines]
        if after != before_lines:
            changes["lines"] = (before_lines, after)
    if changes:
        clean_model_fields(document)
        document.version += 1
        document.update_time = timezone.now()
        document.save()
        record_changes(entity, document.pk, actor, changes)


@transaction.atomic
def quote_update(
    *, actor: Actor, quote_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Quote:
    quote = _lock_quote(actor, quote_id, expected_version)
    if quote.status != QuoteStatus.DRAFT:
        raise Conflict(f"Quote {quote.reference} is {quote.status}: make a new revision instead.")
    _update_document(quote, actor=actor, entity="quote", data=data, line_model=QuoteLine)
    return quote


def _set_quote_status(quote: Quote, status: str, actor: Actor) -> Quote:
    _transition(quote, status, actor, QUOTE_TRANSITIONS, "quote")
    now = timezone.now()
    if status == QuoteStatus.SENT:
        quote.sent_time = now
        quote.seller = _seller_snapshot()
    elif status == QuoteStatus.ACCEPTED:
        quote.accepted_time = now
    elif status == QuoteStatus.DECLINED:
        quote.declined_time = now
    quote.version += 1
    quote.update_time = now
    quote.save()
    return quote


@transaction.atomic
def quote_send(*, actor: Actor, quote_id: int) -> Quote:
    quote = _lock_quote(actor, quote_id)
    if quote.status == QuoteStatus.DRAFT and not quote.lines.exists():
        raise ValidationError({"lines": "A quote needs at least one line to be sent."})
    if quote.status == QuoteStatus.DRAFT and not quote.customer_name:
        raise ValidationError({"customer_name": "A quote needs a customer to be sent."})
    return _set_quote_status(quote, QuoteStatus.SENT, actor)


@transaction.atomic
def quote_email_send(
    *, actor: Actor, quote_id: int, to_email: str = "", message: str = ""
) -> Quote:
    """Email the quote with its PDF: a draft becomes sent; a sent quote may be sent again.
    Without `to_email`, the customer's billing email (or the deal contact's) is used."""
    quote = _lock_quote(actor, quote_id)
    if quote.status not in (QuoteStatus.DRAFT, QuoteStatus.SENT):
        raise Conflict(f"Quote {quote.reference} is {quote.status}: it is not sent again.")
    to_email = (to_email or "").strip() or customer_email(quote)
    if not to_email:
        raise ValidationError({"to_email": "The customer has no email address: give one."})
    try:
        validate_email(to_email)
    except DjangoValidationError:
        raise ValidationError({"to_email": f"Not a valid email address: {to_email!r}."}) from None
    if quote.status == QuoteStatus.DRAFT:
        quote = quote_send(actor=actor, quote_id=quote.pk)
    record_event("quote", quote.pk, Event.UPDATED, actor, "emailed_to", None, to_email)
    transaction.on_commit(lambda: deliver_quote_email(quote.pk, to_email, message or ""))
    return quote


@transaction.atomic
def quote_decline(*, actor: Actor, quote_id: int) -> Quote:
    return _set_quote_status(_lock_quote(actor, quote_id), QuoteStatus.DECLINED, actor)


@transaction.atomic
def quote_expire(*, actor: Actor, quote_id: int) -> Quote:
    return _set_quote_status(_lock_quote(actor, quote_id), QuoteStatus.EXPIRED, actor)


@transaction.atomic
def quote_accept(*, actor: Actor, quote_id: int) -> Quote:
    """Accept the quote and mark its deal won at the quote's amount: the deal's lines become
    the quote's lines, through the deal services, so the deal's value equals the quote's total
    excluding VAT and the deal's history records every step."""
    quote = _lock_quote(actor, quote_id)
    if quote.superseded_by_id is not None:
        raise Conflict(f"Quote {quote.reference} was revised: accept the latest revision.")
    if quote.status == QuoteStatus.SENT and quote.valid_until < timezone.localdate():
        raise Conflict(f"Quote {quote.reference} expired on {quote.valid_until}.")
    _set_quote_status(quote, QuoteStatus.ACCEPTED, actor)
    if quote.deal_id is not None:
        _win_deal_from_quote(quote, actor)
    publish("quote.accepted", "quote", quote.pk)
    return quote


def _win_deal_from_quote(quote: Quote, actor: Actor) -> None:
    take_writers_turn()  # before the deal's row lock, as every deal write (no deadlock)
    deal = lock(deal_queryset(actor.user), quote.deal_id, label="Deal")
    if deal.currency != quote.currency:
        raise ValidationError(
            {"currency": f"The deal is in {deal.currency}, the quote in {quote.currency}."}
        )
    for line in list(deal.lines.all()):
        pipeline_services.deal_line_remove(actor=actor, deal_id=deal.pk, line_id=line.pk)
    for line in quote.lines.all():
        pipeline_services.deal_line_add(
            actor=actor,
            deal_id=deal.pk,
            data={
                "product_id": line.product_id,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": to_major(line.unit_price_minor, quote.currency),
                "discount_percent": line.discount_percent,
                "vat_rate": line.vat_rate,
                "comments": line.description,
            },
        )
    deal.refresh_from_db()
    if deal.value_minor != quote.total_excl_vat_minor:  # the two rules are one; keep them so
        raise Conflict("The deal's value does not match the quote's total excluding VAT.")
    if deal.status != Deal.Status.WON:
        pipeline_services.deal_mark_won(actor=actor, deal_id=deal.pk)


@transaction.atomic
def quote_revise(*, actor: Actor, quote_id: int) -> Quote:
    """A new draft revision of a sent, declined or expired quote: same number, next revision."""
    quote = _lock_quote(actor, quote_id)
    if quote.status in (QuoteStatus.DRAFT, QuoteStatus.ACCEPTED):
        raise Conflict(f"A {quote.status} quote is not revised.")
    if quote.superseded_by_id is not None:
        raise Conflict(f"Quote {quote.reference} already has a newer revision.")
    lines = list(quote.lines.all())
    revision = Quote.objects.get(pk=quote.pk)
    revision.pk = None
    revision.revision = quote.revision + 1
    revision.status = QuoteStatus.DRAFT
    revision.version = 1
    revision.add_time = revision.update_time = timezone.now()
    revision.sent_time = revision.accepted_time = revision.declined_time = None
    today = timezone.localdate()
    revision.issue_date = today
    revision.valid_until = max(
        quote.valid_until, today + dt.timedelta(days=BillingProfile.current().quote_validity_days)
    )
    revision.owner = actor.user or quote.owner
    revision.save()
    for line in lines:
        line.pk = None
        line.quote = revision
        line.save()
    quote.superseded_by = revision
    quote.version += 1
    quote.save(update_fields=["superseded_by", "version"])
    record_created("quote", revision.pk, actor, _created_values(revision, lines))
    record_changes("quote", quote.pk, actor, {"superseded_by": (None, revision.pk)})
    return revision


@transaction.atomic
def quote_delete(*, actor: Actor, quote_id: int) -> None:
    quote = _lock_quote(actor, quote_id)
    if quote.status != QuoteStatus.DRAFT or quote.revision != 1:
        raise Conflict("Only a first draft is deleted; decline or revise a sent quote.")
    if Quote.objects.filter(number=quote.number).exclude(pk=quote.pk).exists():
        raise Conflict("This quote has revisions.")
    record_event("quote", quote.pk, Event.DELETED, actor)
    quote.delete()


def expire_quotes(*, actor: Actor, today: dt.date | None = None) -> int:
    """The daily job: sent quotes past their validity date become expired."""
    today = today or timezone.localdate()
    count = 0
    for pk in Quote.objects.filter(status=QuoteStatus.SENT, valid_until__lt=today).values_list(
        "pk", flat=True
    ):
        quote_expire(actor=actor, quote_id=pk)
        count += 1
    return count


# Invoices ---------------------------------------------------------------------------------------


def _lock_invoice(actor: Actor, invoice_id: int, expected_version: int | None = None) -> Invoice:
    return lock(
        Invoice.objects.filter(document_q(actor.user)),
        invoice_id,
        label="Invoice",
        expected_version=expected_version,
    )


def _lock_draft(actor: Actor, invoice_id: int, expected_version: int | None = None) -> Invoice:
    invoice = _lock_invoice(actor, invoice_id, expected_version)
    if invoice.issued_time is not None:
        raise Conflict(
            f"Invoice {invoice.number} is issued and cannot change: correct it with a credit note."
        )
    return invoice


def _deposit_items(deal: Deal, percent: Decimal) -> list[dict]:
    """One line per VAT rate of the deal: that rate's base x the deposit percentage."""
    exemption = BillingProfile.current().default_exemption_reason
    bases: dict[Decimal, int] = {}
    for line in deal.lines.all():
        rate = Decimal(line.vat_rate).normalize()
        bases[rate] = bases.get(rate, 0) + line.total_minor
    if not bases and deal.value_minor:
        raise ValidationError({"deal_id": "The deal has no lines to take the VAT rates from."})
    label = f"Acompte de {format_rate(percent)} % — {deal.title}"
    return [
        {
            "name": label if len(bases) == 1 else f"{label} (TVA {format_rate(rate)} %)",
            "quantity": 1,
            "unit_price": to_major(round_half_up(base * percent / HUNDRED), deal.currency),
            "vat_rate": rate,
            "exemption_reason": exemption if rate == 0 else "",
        }
        for rate, base in sorted(bases.items(), key=lambda item: -item[0])
    ]


def _invoiced_field(data: dict, quote: Quote | None, kind: str) -> str:
    """The input an over-invoicing refusal names: what made the amount."""
    if quote is not None:
        return "quote_id"
    if data.get("lines") is not None:
        return "lines"
    return "deposit_percent" if kind == Kind.DEPOSIT else "deal_id"


def _check_deal_not_overinvoiced(invoice: Invoice, *, field: str) -> None:
    """A deal is invoiced at most for its value excluding VAT: its invoices and deposits, drafts
    included, less what issued credit notes cancelled. The deal row is locked first, so two
    invoices made at once for the same deal are checked one after the other."""
    if invoice.deal_id is None or invoice.kind == Kind.CREDIT_NOTE:
        return
    deal = Deal.objects.select_for_update().get(pk=invoice.deal_id)
    invoices = Invoice.objects.filter(deal_id=deal.pk, kind__in=(Kind.INVOICE, Kind.DEPOSIT))
    others = invoices.exclude(pk=invoice.pk).aggregate(total=Sum("total_excl_vat_minor"))
    invoiced = (others["total"] or 0) + invoice.total_excl_vat_minor
    credited = (
        Invoice.objects.filter(
            credited_invoice__in=invoices, kind=Kind.CREDIT_NOTE, issued_time__isnull=False
        ).aggregate(total=Sum("total_excl_vat_minor"))["total"]
        or 0
    )
    excess = invoiced - credited - deal.value_minor
    if excess > 0:
        currency = deal.currency
        raise ValidationError(
            {
                field: f"Deal {deal.pk} is worth {to_major(deal.value_minor, currency)} {currency} "
                f"excl. VAT; with this invoice it would be invoiced "
                f"{to_major(invoiced - credited, currency)} {currency}, "
                f"{to_major(excess, currency)} {currency} too much."
            }
        )


def _deducted_deposits(deal: Deal) -> list[Invoice]:
    """The deal's issued deposit invoices that no credit note cancelled."""
    deposits = with_balance(
        Invoice.objects.filter(deal=deal, kind=Kind.DEPOSIT, issued_time__isnull=False)
    )
    return [deposit for deposit in deposits if deposit.credited_minor == 0]


def _deduction_items(deposits: list[Invoice]) -> list[dict]:
    """Each deposit's lines, with a negative quantity, deducted from the balance invoice."""
    items = []
    for deposit in deposits:
        for item in _document_line_items(deposit, sign=-1):
            item["name"] = f"Déduction de l'acompte {deposit.number} du {deposit.issue_date}"
            items.append(item)
    return items


@transaction.atomic
def invoice_create(*, actor: Actor, data: dict[str, Any]) -> Invoice:
    """A draft invoice from an accepted quote (`quote_id`), from a won deal (`deal_id` with
    `mode` full, deposit with `deposit_percent`, or balance), or from scratch (`lines`)."""
    quote = None
    if data.get("quote_id") is not None:
        quote = resolve(quote_queryset(actor.user), data["quote_id"], field="quote_id")
        if quote.status != QuoteStatus.ACCEPTED:
            raise ValidationError({"quote_id": f"Quote {quote.reference} is not accepted."})
        invoiced = with_balance(Invoice.objects.filter(quote=quote, kind=Kind.INVOICE))
        taken = [inv for inv in invoiced if inv.credited_minor < inv.total_incl_vat_minor]
        if taken:
            raise ValidationError(
                {
                    "quote_id": f"Quote {quote.reference} is already invoiced (invoice id "
                    f"{taken[0].pk}); credit that invoice first."
                }
            )
    deal = _deal_for(actor, data.get("deal_id") if quote is None else quote.deal_id)
    mode = data.get("mode") or "full"
    if mode not in ("full", "deposit", "balance"):
        raise ValidationError({"mode": "One of full, deposit, balance."})
    kind, percent, deposits = Kind.INVOICE, None, []
    if quote is not None:
        items = _document_line_items(quote)
    elif deal is not None and data.get("lines") is None:
        if deal.status != Deal.Status.WON:
            raise ValidationError({"deal_id": "Only a won deal is invoiced."})
        items = _deal_line_items(deal)
        if mode == "deposit":
            kind = Kind.DEPOSIT
            percent = _decimal(
                data.get("deposit_percent"),
                "deposit_percent",
                low=Decimal("0.01"),
                high=Decimal("99.99"),
            )
            items = _deposit_items(deal, percent)
        elif mode == "balance":
            deposits = _deducted_deposits(deal)
            items = items + _deduction_items(deposits)
    else:
        items = data.get("lines") or []
    # Only lines Ruche builds (deductions of deposits) may have negative quantities.
    internal = quote is not None or (deal is not None and data.get("lines") is None)
    values = _document_values(data, actor, deal)
    if quote is not None:
        values = {field: getattr(quote, field) for field in (*SNAPSHOT_FIELDS, "org", "nature")} | {
            k: v for k, v in values.items() if k in data
        }
        values["currency"] = quote.currency
        values.setdefault("title", quote.title)
    invoice = Invoice(**values, deal=deal, quote=quote, owner=_owner(actor, deal), kind=kind)
    invoice.deposit_percent = percent
    invoice.vat_on_debits = BillingProfile.current().vat_on_debits
    lines = _build_lines(InvoiceLine, items, invoice.currency, {}, allow_negative=internal)
    clean_model_fields(invoice)
    invoice.save()
    _save_lines(invoice, lines, "lines")
    _check_deal_not_overinvoiced(invoice, field=_invoiced_field(data, quote, kind))
    invoice.deducted_deposits.set(deposits)
    extra = {k: data[k] for k in ("payment_terms_days", "delivery_date") if k in data}
    if extra:
        _update_document(invoice, actor=actor, entity="invoice", data=extra, line_model=InvoiceLine)
    invoice.save()
    record_created("invoice", invoice.pk, actor, _created_values(invoice, lines) | {"kind": kind})
    return invoice


@transaction.atomic
def invoice_update(
    *, actor: Actor, invoice_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Invoice:
    invoice = _lock_draft(actor, invoice_id, expected_version)
    if invoice.kind == Kind.CREDIT_NOTE and data.get("lines") is not None:
        _check_credit_lines(invoice.credited_invoice, data["lines"])
    _update_document(invoice, actor=actor, entity="invoice", data=data, line_model=InvoiceLine)
    if data.get("lines") is not None:
        _check_deal_not_overinvoiced(invoice, field="lines")
    return invoice


@transaction.atomic
def invoice_delete(*, actor: Actor, invoice_id: int) -> None:
    invoice = _lock_draft(actor, invoice_id)
    record_event("invoice", invoice.pk, Event.DELETED, actor)
    invoice.lines.all().delete()
    invoice.deducted_deposits.clear()
    invoice.delete()


def _check_issuable(invoice: Invoice) -> None:
    profile = BillingProfile.current()
    missing = [
        field
        for field in ("legal_name", "address", "postal_code", "city", "siren", "vat_number")
        if not getattr(profile, field)
    ]
    if missing:
        raise ValidationError(
            {f"billing_profile.{field}": "Required on every invoice." for field in missing}
        )
    errors = {
        field: "Required on an invoice."
        for field in ("customer_name", "customer_address", "customer_postal_code", "customer_city")
        if not getattr(invoice, field)
    }
    if (
        invoice.customer_is_business
        and invoice.customer_country == "FR"
        and not (invoice.customer_siren)
    ):
        errors["customer_siren"] = "A French business customer's SIREN is required (2026 reform)."
    if not invoice.lines.exists():
        errors["lines"] = "An invoice needs at least one line."
    if errors:
        raise ValidationError(errors)
    if invoice.kind == Kind.CREDIT_NOTE:
        _check_credit_total(invoice)
    elif invoice.total_incl_vat_minor < 0:
        raise ValidationError({"lines": "An invoice total cannot be negative; make a credit note."})


@transaction.atomic
def invoice_issue(*, actor: Actor, invoice_id: int, expected_version: int | None = None) -> Invoice:
    """Number the draft with the next number of its series, date it today, set its due date and
    freeze it. Invoices and deposits share the invoice series; credit notes have their own."""
    invoice = _lock_draft(actor, invoice_id, expected_version)
    _transition_issue(invoice, actor)
    _check_issuable(invoice)
    profile = BillingProfile.current()
    today = timezone.localdate()
    key = (
        NumberSeries.Key.CREDIT_NOTE
        if invoice.kind == Kind.CREDIT_NOTE
        else (NumberSeries.Key.INVOICE)
    )
    invoice.number = next_number(key, today)
    invoice.issue_date = today
    # The date of the sale or service (a mandatory mention): the issue date unless given.
    invoice.delivery_date = invoice.delivery_date or today
    terms = invoice.payment_terms_days
    if terms is None:
        terms = profile.payment_terms_days
    invoice.payment_terms_days = terms
    invoice.due_date = today + dt.timedelta(days=terms)
    invoice.vat_on_debits = profile.vat_on_debits
    invoice.seller = _seller_snapshot()
    invoice.issued_time = timezone.now()
    invoice.version += 1
    invoice.update_time = invoice.issued_time
    invoice.save()
    record_changes(
        "invoice",
        invoice.pk,
        actor,
        {
            "number": ("", invoice.number),
            "issue_date": (None, today),
            "due_date": (None, invoice.due_date),
        },
    )
    if invoice.kind != Kind.CREDIT_NOTE:
        publish("invoice.issued", "invoice", invoice.pk)
    return invoice


def _transition_issue(invoice: Invoice, actor: Actor) -> None:
    old = "issued" if invoice.issued_time else "draft"
    if "issued" not in INVOICE_TRANSITIONS[old]:
        raise Conflict(f"A {old} invoice cannot be issued.")
    record_event("invoice", invoice.pk, Event.UPDATED, actor, "status", old, "issued")


# Credit notes -----------------------------------------------------------------------------------


def _credited_so_far(invoice: Invoice, exclude_pk: int | None = None) -> int:
    notes = Invoice.objects.filter(
        credited_invoice=invoice, kind=Kind.CREDIT_NOTE, issued_time__isnull=False
    ).exclude(pk=exclude_pk)
    return notes.aggregate(total=Sum("total_incl_vat_minor"))["total"] or 0


def _check_credit_lines(invoice: Invoice, items: list) -> None:
    if not isinstance(items, list) or not items:
        raise ValidationError({"lines": "A credit note needs at least one line."})


def _check_credit_total(note: Invoice) -> None:
    invoice = note.credited_invoice
    remaining = invoice.total_incl_vat_minor - _credited_so_far(invoice, exclude_pk=note.pk)
    if note.total_incl_vat_minor <= 0:
        raise ValidationError({"lines": "A credit note's total must be positive."})
    if note.total_incl_vat_minor > remaining:
        raise ValidationError(
            {
                "lines": f"The credit note ({to_major(note.total_incl_vat_minor, note.currency)}) "
                f"exceeds what remains of invoice {invoice.number} "
                f"({to_major(remaining, note.currency)})."
            }
        )


@transaction.atomic
def credit_note_create(*, actor: Actor, data: dict[str, Any]) -> Invoice:
    """A draft credit note for an issued invoice: all its lines unless `lines` are given."""
    invoice = (
        resolve(invoice_queryset(actor.user), data.get("invoice_id"), field="invoice_id")
        if data.get("invoice_id") is not None
        else None
    )
    if invoice is None:
        raise ValidationError({"invoice_id": "The invoice this credit note corrects is required."})
    invoice = Invoice.objects.get(pk=invoice.pk)
    if invoice.issued_time is None:
        raise ValidationError({"invoice_id": "Only an issued invoice is credited; edit the draft."})
    items = data.get("lines")
    copied = items is None
    if copied:
        items = _document_line_items(invoice)
    else:
        _check_credit_lines(invoice, items)
    lines = _build_lines(InvoiceLine, items, invoice.currency, {}, allow_negative=copied)
    note = Invoice(
        **{field: getattr(invoice, field) for field in (*SNAPSHOT_FIELDS, "org", "nature")},
        deal=invoice.deal,
        owner=actor.user or invoice.owner,
        currency=invoice.currency,
        kind=Kind.CREDIT_NOTE,
        credited_invoice=invoice,
        title=data.get("title") or f"Avoir sur la facture {invoice.number}",
        notes=data.get("notes") or "",
        payment_terms_days=0,
    )
    clean_model_fields(note)
    note.save()
    _save_lines(note, lines, "lines")
    note.save()
    _check_credit_total(note)
    record_created(
        "invoice",
        note.pk,
        actor,
        _created_values(note, lines) | {"kind": Kind.CREDIT_NOTE, "credited_invoice": invoice.pk},
    )
    return note


# Payments ---------------------------------------------------------------------------------------

PAYMENT_FIELDS = ("date", "amount_minor", "method", "reference", "note")


def _payment_values(data: dict, invoice: Invoice, current: Payment | None) -> dict:
    values = {k: data[k] or "" for k in ("reference", "note") if k in data}
    if "date" in data or current is None:
        values["date"] = _parse_date(data.get("date"), "date") or timezone.localdate()
        if values["date"] > timezone.localdate():
            raise ValidationError({"date": "A payment cannot be dated in the future."})
    if "method" in data or current is None:
        method = data.get("method") or Payment.Method.TRANSFER
        if method not in Payment.Method.values:
            raise ValidationError({"method": f"One of {', '.join(Payment.Method.values)}."})
        values["method"] = method
    if "amount" in data or current is None:
        if data.get("amount") is None:
            raise ValidationError({"amount": "An amount is required."})
        values["amount_minor"] = to_minor(data["amount"], invoice.currency, field="amount")
        if values["amount_minor"] <= 0:
            raise ValidationError({"amount": "A payment amount is positive."})
    return values


def _check_not_overpaid(invoice_id: int, extra_minor: int, exclude_pk: int | None = None) -> None:
    invoice = with_balance(Invoice.objects.filter(pk=invoice_id)).get()
    others = invoice.paid_minor
    if exclude_pk is not None:
        others -= Payment.objects.get(pk=exclude_pk).amount_minor
    due = invoice.total_incl_vat_minor - invoice.credited_minor - others
    if extra_minor > due:
        raise ValidationError(
            {
                "amount": f"The payment exceeds the balance due ({to_major(due, invoice.currency)} "
                f"{invoice.currency})."
            }
        )


@transaction.atomic
def payment_create(*, actor: Actor, data: dict[str, Any]) -> Payment:
    invoice = resolve(invoice_queryset(actor.user), data.get("invoice_id"), field="invoice_id")
    if invoice is None:
        raise ValidationError({"invoice_id": "The invoice paid is required."})
    invoice = lock(Invoice.objects.all(), invoice.pk, label="Invoice")  # serialises payments
    if invoice.issued_time is None:
        raise ValidationError({"invoice_id": "A draft invoice is not paid; issue it first."})
    values = _payment_values(data, invoice, None)
    _check_not_overpaid(invoice.pk, values["amount_minor"])
    payment = Payment(invoice=invoice, owner=actor.user or invoice.owner, **values)
    clean_model_fields(payment)
    payment.save()
    record_created("payment", payment.pk, actor, values | {"invoice": invoice.pk})
    record_event("invoice", invoice.pk, Event.UPDATED, actor, "payments", None, payment.pk)
    notify_payment(payment)
    if with_balance(Invoice.objects.filter(pk=invoice.pk)).get().balance_minor <= 0:
        publish("invoice.paid", "invoice", invoice.pk)
    return payment


@transaction.atomic
def payment_update(
    *, actor: Actor, payment_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Payment:
    payment = lock(
        payment_queryset(actor.user).select_related(None),
        payment_id,
        label="Payment",
        expected_version=expected_version,
    )
    invoice = lock(Invoice.objects.all(), payment.invoice_id, label="Invoice")
    values = _payment_values(data, invoice, payment)
    if "amount_minor" in values:
        _check_not_overpaid(invoice.pk, values["amount_minor"], exclude_pk=payment.pk)
    changes = changed_fields(payment, values, PAYMENT_FIELDS)
    if changes:
        clean_model_fields(payment)
        payment.version += 1
        payment.update_time = timezone.now()
        payment.save()
        record_changes("payment", payment.pk, actor, changes)
    return payment


@transaction.atomic
def payment_delete(*, actor: Actor, payment_id: int) -> None:
    payment = lock(payment_queryset(actor.user).select_related(None), payment_id, label="Payment")
    payment.is_deleted = True
    payment.version += 1
    payment.update_time = timezone.now()
    payment.save(update_fields=["is_deleted", "version", "update_time"])
    record_event("payment", payment.pk, Event.DELETED, actor)
    record_event("invoice", payment.invoice_id, Event.UPDATED, actor, "payments", payment.pk, None)
