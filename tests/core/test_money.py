from decimal import Decimal

import pytest

from ruche.core.exceptions import ValidationError
from ruche.core.money import (
    MAX_MAJOR_AMOUNT,
    Money,
    round_half_up,
    to_major,
    to_minor,
    validate_currency,
)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.34", "EUR", 1234),
        ("0.01", "EUR", 1),
        ("-5.5", "EUR", -550),
        (Decimal("1000"), "EUR", 100_000),
        (7, "EUR", 700),
        ("1e3", "EUR", 100_000),
        ("1234", "JPY", 1234),
        ("1.234", "KWD", 1234),
        ("0.005", "BHD", 5),
        ("12.1", "BHD", 12_100),
    ],
)
def test_to_minor(amount, currency, minor):
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (1234, "EUR", Decimal("12.34")),
        (5, "EUR", Decimal("0.05")),
        (-550, "EUR", Decimal("-5.50")),
        (1234, "JPY", Decimal("1234")),
        (1234, "KWD", Decimal("1.234")),
        (5, "BHD", Decimal("0.005")),
    ],
)
def test_to_major(minor, currency, major):
    result = to_major(minor, currency)
    assert result == major
    # The exponent is the currency's: 0.05 EUR prints as 0.05, not 5E-2.
    assert str(result) == str(major)


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "BHD"])
def test_round_trip(currency):
    for minor in (0, 1, 999, 123_456_789, -42):
        assert to_minor(to_major(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "decimals"),
    [("0.001", "EUR", 2), ("12.345", "EUR", 2), ("1.5", "JPY", 0), ("0.0001", "KWD", 3)],
)
def test_sub_minor_input_is_refused_naming_the_field(amount, currency, decimals):
    with pytest.raises(ValidationError) as error:
        to_minor(amount, currency, field="unit_price")
    assert error.value.field_errors == {
        "unit_price": f"{currency} amounts have at most {decimals} decimals."
    }


@pytest.mark.parametrize("amount", ["abc", "", None, True, [1], "1,5"])
def test_non_numbers_are_refused(amount):
    with pytest.raises(ValidationError) as error:
        to_minor(amount, "EUR", field="value")
    assert list(error.value.field_errors) == ["value"]
    assert "Not a decimal number" in error.value.field_errors["value"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1000000000000", "-1e13"])
def test_out_of_range_is_refused(amount):
    with pytest.raises(ValidationError) as error:
        to_minor(amount, "EUR", field="value")
    assert error.value.field_errors == {"value": f"Amount out of range: {amount!r}."}


def test_the_largest_accepted_amount_fits_in_64_bits():
    minor = to_minor(MAX_MAJOR_AMOUNT, "KWD")
    assert minor == 999_999_999_999_000
    assert minor * 9_000 < 2**63  # thousands of such amounts can still be summed


@pytest.mark.parametrize("code", ["XYZ", "", None, 978, "EURO"])
def test_unknown_currency_names_the_field(code):
    with pytest.raises(ValidationError) as error:
        validate_currency(code, field="custom_fields.budget.currency")
    assert error.value.field_errors == {
        "custom_fields.budget.currency": f"Unknown ISO 4217 currency code: {code!r}."
    }


def test_currency_code_is_upper_cased():
    assert validate_currency("eur") == "EUR"


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Decimal("2.5"), 3),
        (Decimal("-2.5"), -3),  # half away from zero
        (Decimal("2.4999"), 2),
        (Decimal("22.5"), 23),
        (Decimal("0.5"), 1),
    ],
)
def test_round_half_up(value, rounded):
    assert round_half_up(value) == rounded


def test_money_value_object():
    price = Money.from_major("19.99", "eur")
    assert price == Money(1999, "EUR")
    assert price.amount == Decimal("19.99")
    assert price + Money(1, "EUR") == Money(2000, "EUR")
    assert str(Money(5, "KWD")) == "0.005 KWD"
    with pytest.raises(ValueError, match="Cannot add JPY to EUR"):
        price + Money(1, "JPY")
    with pytest.raises(ValidationError) as error:
        Money.from_major("1", "ABC")
    assert list(error.value.field_errors) == ["currency"]
