"""Money as integer minor units plus an ISO 4217 code.

Rounding rule (docs/metrics.md): amounts are exact integers of minor units everywhere inside
Ruche. A computed amount that falls between two minor units (a line's quantity x price minus a
discount, a conversion at an exchange rate) is rounded once, half away from zero, at the point it
is stored. Totals are sums of stored amounts and so never need rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies

from ruche.core.exceptions import ValidationError

KNOWN_CURRENCIES = frozenset(list_currencies())
# Largest amount accepted at the edges, in major units: keeps every sum inside a 64-bit integer.
MAX_MAJOR_AMOUNT = Decimal("999999999999")


def validate_currency(code: object, *, field: str = "currency") -> str:
    if not isinstance(code, str) or code.upper() not in KNOWN_CURRENCIES:
        raise ValidationError({field: f"Unknown ISO 4217 currency code: {code!r}."})
    return code.upper()


def minor_exponent(currency: str) -> int:
    return get_currency_precision(currency)


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(amount: Decimal | int | str, currency: str, *, field: str = "value") -> int:
    """Major units (the API's decimal numbers) to integer minor units, refusing sub-cent input."""
    try:
        decimal_amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"Not a decimal number: {amount!r}."}) from None
    if not decimal_amount.is_finite() or abs(decimal_amount) > MAX_MAJOR_AMOUNT:
        raise ValidationError({field: f"Amount out of range: {amount!r}."})
    scaled = decimal_amount.scaleb(minor_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValidationError(
            {field: f"{currency} amounts have at most {minor_exponent(currency)} decimals."}
        )
    return int(scaled)


def to_major(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-minor_exponent(currency))


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    @classmethod
    def from_major(cls, amount: Decimal | int | str, currency: str) -> Money:
        currency = validate_currency(currency)
        return cls(to_minor(amount, currency), currency)

    @property
    def amount(self) -> Decimal:
        return to_major(self.amount_minor, self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"Cannot add {other.currency} to {self.currency}.")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
