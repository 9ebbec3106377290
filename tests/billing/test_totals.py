"""Exact totals to the cent: per line (half up), then VAT per rate (half up once per rate)."""

from decimal import Decimal
from types import SimpleNamespace

from ruche.billing import services
from ruche.billing.totals import compute_totals, format_rate, line_net_minor


def line(quantity, price_minor, discount, rate, reason=""):
    total = line_net_minor(Decimal(quantity), price_minor, Decimal(discount))
    return SimpleNamespace(
        quantity=Decimal(quantity),
        unit_price_minor=price_minor,
        discount_percent=Decimal(discount),
        vat_rate=Decimal(rate),
        exemption_reason=reason,
        total_minor=total,
    )


def test_line_net_rounds_half_up_once():
    assert line_net_minor(Decimal("2"), 123456, Decimal("10")) == 222221  # 2222.208
    assert line_net_minor(Decimal("3.5"), 9999, Decimal("0")) == 34997  # 349.965
    assert line_net_minor(Decimal("1"), 1999, Decimal("33")) == 1339  # 13.3933
    assert line_net_minor(Decimal("1"), 1, Decimal("50")) == 1  # 0.005 -> 0.01
    assert line_net_minor(Decimal("-1"), 1, Decimal("50")) == -1  # symmetric for deductions


def test_vat_is_computed_once_per_rate_not_per_line():
    # Three lines of 0.05 at 20 %: per line VAT would be 3 x 0.01 = 0.03; per rate 0.15 x 20 %
    # = 0.03 as well; with 0.025 lines the two rules differ, and the per-rate one holds.
    lines = [line("1", 3, 0, "20") for _ in range(3)]  # 0.03 each, 0.09 base -> VAT 0.018
    totals = compute_totals(lines)
    assert (totals.excl_vat_minor, totals.vat_minor, totals.incl_vat_minor) == (9, 2, 11)
    # per line it would have been 3 x round(0.006) = 0.03
    assert [g.vat_minor for g in totals.groups] == [2]


def test_several_rates_and_discounts():
    lines = [
        line("2", 123456, "10", "20"),
        line("3.5", 9999, "0", "10"),
        line("1", 1999, "33", "5.5"),
        line("7", 333, "12.5", "2.1"),  # 20.3962... -> 20.40
        line("1", 5000, "0", "0", "TVA non applicable, art. 293 B du CGI"),
    ]
    totals = compute_totals(lines)
    assert [
        (format_rate(g.rate), g.category, g.base_minor, g.vat_minor) for g in totals.groups
    ] == [
        ("20", "S", 222221, 44444),  # 444.4420 -> 444.44
        ("10", "S", 34997, 3500),  # 34.997 -> 35.00
        ("5.5", "S", 1339, 74),  # 0.73645 -> 0.74
        ("2.1", "S", 2040, 43),  # 0.4284 -> 0.43
        ("0", "E", 5000, 0),
    ]
    assert totals.groups[-1].exemption == "TVA non applicable, art. 293 B du CGI"
    assert totals.excl_vat_minor == 222221 + 34997 + 1339 + 2040 + 5000 == 265597
    assert totals.vat_minor == 44444 + 3500 + 74 + 43 == 48061
    assert totals.incl_vat_minor == 313658


def test_quote_totals_through_the_service(rep_actor, customer, profile):
    quote = services.quote_create(
        actor=rep_actor,
        data={
            "org_id": customer.pk,
            "lines": [
                {
                    "name": "A",
                    "quantity": "2",
                    "unit_price": "1234.56",
                    "discount_percent": "10",
                    "vat_rate": "20",
                },
                {"name": "B", "quantity": "3.5", "unit_price": "99.99", "vat_rate": "10"},
                {"name": "C", "unit_price": "19.99", "discount_percent": "33", "vat_rate": "5.5"},
                {"name": "D", "unit_price": "50", "vat_rate": "0"},
            ],
        },
    )
    assert quote.total_excl_vat_minor == 222221 + 34997 + 1339 + 5000
    assert quote.total_vat_minor == 44444 + 3500 + 74
    assert quote.total_incl_vat_minor == 263557 + 48018 == 311575
    assert quote.vat_breakdown[-1] == {
        "rate": "0",
        "category": "E",
        "base_minor": 5000,
        "vat_minor": 0,
        "exemption": "TVA non applicable, art. 293 B du CGI",
    }
    assert [line.total_minor for line in quote.lines.all()] == [222221, 34997, 1339, 5000]
