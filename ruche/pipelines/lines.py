"""Deal line arithmetic. The rule (docs/metrics.md): a line's total excluding VAT is
quantity x unit price x (1 - discount %), rounded half up to the minor unit once; its VAT is
that total x VAT rate, rounded the same way. A deal's value is the exact sum of its line totals."""

from decimal import Decimal

from ruche.core.money import round_half_up

HUNDRED = Decimal(100)


def line_total_minor(quantity: Decimal, unit_price_minor: int, discount_percent: Decimal) -> int:
    return round_half_up(quantity * unit_price_minor * (HUNDRED - discount_percent) / HUNDRED)


def line_vat_minor(total_minor: int, vat_rate: Decimal) -> int:
    return round_half_up(Decimal(total_minor) * vat_rate / HUNDRED)
