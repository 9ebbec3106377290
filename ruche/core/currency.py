"""Dated exchange rates into the company currency, and totals across currencies.

A total never sums different currencies silently: each amount is converted at the rate in force
on its date (the latest rate dated on or before it), and a missing rate is an error naming it.
Converted amounts are rounded half up to the minor unit once, per currency and date group.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import transaction

from ruche.accounts.models import Company
from ruche.core.exceptions import PermissionDenied, ValidationError
from ruche.core.history import Actor
from ruche.core.models import ExchangeRate
from ruche.core.money import Money, minor_exponent, round_half_up, validate_currency


class MissingRate(ValidationError):
    def __init__(self, currency: str, quote: str, on: dt.date):
        super().__init__(
            {"currency": f"No exchange rate {currency}→{quote} on or before {on.isoformat()}."}
        )


def _parse_day(value, field: str = "valid_from") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Not a valid date (YYYY-MM-DD): {value!r}."}) from None


@transaction.atomic
def exchange_rate_set(*, actor: Actor, currency: str, valid_from, rate) -> ExchangeRate:
    if actor.user is not None and not actor.user.is_admin:
        raise PermissionDenied("Only an admin can set exchange rates.")
    quote = Company.current().currency
    currency = validate_currency(currency)
    if currency == quote:
        raise ValidationError({"currency": f"{quote} is the company currency."})
    try:
        rate = Decimal(str(rate))
    except InvalidOperation:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        raise ValidationError({"rate": "A positive number is expected."})
    exchange_rate, _ = ExchangeRate.objects.update_or_create(
        currency=currency,
        quote_currency=quote,
        valid_from=_parse_day(valid_from),
        defaults={"rate": rate},
    )
    return exchange_rate


@transaction.atomic
def exchange_rates_import_csv(*, actor: Actor, text: str) -> int:
    """Rows `currency,valid_from,rate` (a header row is allowed); all or nothing."""
    count = 0
    for line_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (line_number == 1 and row[0].strip().lower() == "currency"):
            continue
        if len(row) != 3:
            raise ValidationError({f"line {line_number}": "Expected currency,valid_from,rate."})
        try:
            exchange_rate_set(
                actor=actor, currency=row[0].strip(), valid_from=row[1].strip(), rate=row[2].strip()
            )
        except ValidationError as error:
            raise ValidationError({f"line {line_number}": error.message}) from None
        count += 1
    return count


def rate_on(currency: str, on: dt.date, quote: str) -> Decimal:
    if currency == quote:
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, quote_currency=quote, valid_from__lte=on)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise MissingRate(currency, quote, on)
    return Decimal(rate)


def convert(money: Money, on: dt.date, quote: str | None = None) -> Money:
    quote = quote or Company.current().currency
    scale = Decimal(10) ** (minor_exponent(quote) - minor_exponent(money.currency))
    converted = Decimal(money.amount_minor) * rate_on(money.currency, on, quote) * scale
    return Money(round_half_up(converted), quote)


def total(amounts: Iterable[tuple[str, dt.date, int]], quote: str | None = None) -> Money:
    """Sum of (currency, date, amount_minor) groups, as produced by a GROUP BY in the
    database, in `quote` (the company currency by default)."""
    quote = quote or Company.current().currency
    result = Money(0, quote)
    for currency, on, amount_minor in amounts:
        result += convert(Money(amount_minor, currency), on, quote)
    return result
