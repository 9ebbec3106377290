"""The one place billing amounts are computed (docs/billing.md).

1. A line's net amount (excl. VAT) is quantity x unit price x (1 - discount %), rounded half
   up to the minor unit once: the same rule as deal lines (ruche.pipelines.lines), so a deal
   won from a quote is worth exactly the quote's total excluding VAT.
2. Lines are grouped by VAT rate (and category). Each group's base is the exact sum of its
   lines' net amounts; its VAT is base x rate, rounded half up once per rate.
3. Total excl. VAT = sum of bases; total VAT = sum of the per-rate VAT; total incl. VAT = the two
   added. Nothing else is rounded, so the PDF, the Factur-X XML and the API show the same
   numbers, and EN 16931 rules BR-CO-10/13/14/15 and BR-S-08/BR-E-08 hold by construction.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ruche.core.money import round_half_up
from ruche.pipelines.lines import line_total_minor

HUNDRED = Decimal(100)


def vat_category(rate: Decimal) -> str:
    """EN 16931 VAT category: S (standard or reduced rate) or E (exempt, with its mention)."""
    return "S" if Decimal(rate) > 0 else "E"


def line_net_minor(quantity: Decimal, unit_price_minor: int, discount_percent: Decimal) -> int:
    return line_total_minor(Decimal(quantity), unit_price_minor, Decimal(discount_percent))


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    category: str
    base_minor: int
    vat_minor: int
    exemption: str

    def as_json(self) -> dict:
        return {
            "rate": format_rate(self.rate),
            "category": self.category,
            "base_minor": self.base_minor,
            "vat_minor": self.vat_minor,
            "exemption": self.exemption,
        }


@dataclass(frozen=True)
class Totals:
    excl_vat_minor: int
    vat_minor: int
    incl_vat_minor: int
    groups: tuple[VatGroup, ...]


def format_rate(rate: Decimal) -> str:
    """20.00 -> "20", 5.50 -> "5.5": the rate as people write it."""
    text = f"{Decimal(rate):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def compute_totals(lines: Iterable) -> Totals:
    """`lines` have quantity, unit_price_minor, discount_percent, vat_rate, exemption_reason and
    an up-to-date total_minor."""
    bases: dict[Decimal, int] = {}
    exemptions: dict[Decimal, str] = {}
    for line in lines:
        rate = Decimal(line.vat_rate).normalize()
        bases[rate] = bases.get(rate, 0) + line.total_minor
        if line.exemption_reason and not exemptions.get(rate):
            exemptions[rate] = line.exemption_reason
    groups = tuple(
        VatGroup(
            rate=rate,
            category=vat_category(rate),
            base_minor=base,
            vat_minor=round_half_up(Decimal(base) * rate / HUNDRED),
            exemption=exemptions.get(rate, "") if rate == 0 else "",
        )
        for rate, base in sorted(bases.items(), key=lambda item: -item[0])
    )
    excl = sum(group.base_minor for group in groups)
    vat = sum(group.vat_minor for group in groups)
    return Totals(excl, vat, excl + vat, groups)
