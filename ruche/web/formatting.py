"""Amounts and dates in the active language's conventions ("1 234,50 €", "25 nov. 2026"),
through Babel. Amounts arrive as integer minor units and are converted once, exactly."""

import datetime as dt
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from django.utils import timezone, translation

from ruche.core.money import to_major


def babel_locale() -> str:
    return (translation.get_language() or "fr").replace("-", "_")


def money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return ""
    return format_currency(to_major(amount_minor, currency), currency, locale=babel_locale())


def number(value) -> str:
    return "" if value is None else format_decimal(value, locale=babel_locale())


def date(value: dt.date | None) -> str:
    return "" if value is None else format_date(value, format="medium", locale=babel_locale())


def datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_datetime(local, format="medium", tzinfo=local.tzinfo, locale=babel_locale())


def major_money(amount, currency: str) -> str:
    """An amount already in major units (the metrics' Decimal), e.g. "1 234,50 €"."""
    if amount is None:
        return ""
    return format_currency(amount, currency, locale=babel_locale())


def percent(value) -> str:
    """A percentage given as a number of hundredths ("33.33") with two decimals: "33,33 %"."""
    if value is None:
        return ""
    locale = Locale.parse(babel_locale())
    pattern = locale.percent_formats[None].pattern.replace("#,##0", "#,##0.00", 1)
    return format_percent(Decimal(value) / 100, format=pattern, locale=locale)


def month(value: dt.date) -> str:
    """The month as "nov. 2026" (French) or "Nov 2026" (English)."""
    return format_date(value, format="MMM y", locale=babel_locale())
