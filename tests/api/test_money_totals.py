"""Exchange rates and totals across currencies: exact, dated, and never a silent sum."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.core import currency
from ruche.core.exceptions import PermissionDenied, ValidationError
from ruche.core.models import ExchangeRate
from ruche.core.money import Money


@pytest.fixture
def rates(admin_actor):
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2026-01-01", rate="0.9"
    )
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2026-06-01", rate="0.85"
    )
    currency.exchange_rate_set(
        actor=admin_actor, currency="JPY", valid_from="2026-01-01", rate="0.0061"
    )


def test_total_converts_each_amount_at_the_rate_of_its_date(rates, company):
    amounts = [
        ("EUR", dt.date(2026, 3, 1), 100_00),
        ("USD", dt.date(2026, 3, 1), 100_00),
        ("USD", dt.date(2026, 7, 1), 100_00),
        ("JPY", dt.date(2026, 7, 1), 10_000),
    ]
    # 100.00 + 100.00 x 0.9 + 100.00 x 0.85 + 10,000 JPY (no decimals) x 0.0061 = 336.00 EUR
    assert currency.total(amounts) == Money(336_00, "EUR")


def test_a_missing_rate_is_an_error_naming_it(rates, company):
    with pytest.raises(ValidationError) as error:
        currency.total([("EUR", dt.date(2026, 3, 1), 1), ("GBP", dt.date(2026, 3, 1), 1)])
    assert error.value.field_errors == {
        "currency": "No exchange rate GBP→EUR on or before 2026-03-01."
    }
    with pytest.raises(ValidationError, match="USD→EUR on or before 2025-12-31"):
        currency.total([("USD", dt.date(2025, 12, 31), 1)])


def test_conversion_rounds_half_up_once(rates, company):
    # 0.05 USD x 0.9 = 0.045 EUR -> 0.05 (half up); 0.01 USD x 0.85 = 0.0085 -> 0.01
    assert currency.convert(Money(5, "USD"), dt.date(2026, 3, 1)) == Money(5, "EUR")
    assert currency.convert(Money(1, "USD"), dt.date(2026, 7, 1)) == Money(1, "EUR")


def test_rates_import_from_csv_all_or_nothing(admin_actor, company):
    count = currency.exchange_rates_import_csv(
        actor=admin_actor,
        text="currency,valid_from,rate\nUSD,2026-01-01,0.9\nGBP,2026-01-01,1.17\n",
    )
    assert count == 2
    with pytest.raises(ValidationError) as error:
        currency.exchange_rates_import_csv(
            actor=admin_actor, text="CHF,2026-01-01,1.05\nXXX1,2026-01-01,2\n"
        )
    assert list(error.value.field_errors) == ["line 2"]
    assert sorted(ExchangeRate.objects.values_list("currency", "rate")) == [
        ("GBP", Decimal("1.17")),
        ("USD", Decimal("0.9")),
    ]


def test_only_admins_set_rates(rep_actor, company):
    with pytest.raises(PermissionDenied):
        currency.exchange_rate_set(
            actor=rep_actor, currency="USD", valid_from="2026-01-01", rate="0.9"
        )
    assert ExchangeRate.objects.count() == 0


def test_rates_through_the_api(api_as, admin, rep, company):
    created = api_as(admin).post(
        "/exchangeRates", {"currency": "USD", "valid_from": "2026-01-01", "rate": 0.9}
    )
    assert created.status_code == 200
    assert created.json()["data"]["rate"] == 0.9
    refused = api_as(rep).post(
        "/exchangeRates", {"currency": "USD", "valid_from": "2026-02-01", "rate": 0.8}
    )
    assert refused.status_code == 403
    assert ExchangeRate.objects.count() == 1
