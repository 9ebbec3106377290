from decimal import Decimal

import pytest

from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.history import history_for
from ruche.core.models import ChangeRecord
from ruche.pipelines.lines import line_total_minor, line_vat_minor
from ruche.pipelines.models import Deal, DealLine
from ruche.pipelines.services import (
    deal_line_add,
    deal_line_remove,
    deal_line_update,
    deal_update,
)
from tests.factories import DealFactory, ProductFactory


@pytest.fixture
def deal(rep):
    return DealFactory(owner=rep, title="Lignes")


def add(actor, deal, **data):
    return deal_line_add(actor=actor, deal_id=deal.pk, data=data)


def value_of(deal):
    return Deal.objects.get(pk=deal.pk).value_minor


@pytest.mark.parametrize(
    ("quantity", "unit_price_minor", "discount", "total"),
    [
        ("1.5", 20, "10", 27),  # 1.5 x 0.20 = 0.30, less 10% = 0.27
        ("1.5", 15, "0", 23),  # 0.225 -> 0.23, half up
        ("1", 5, "10", 5),  # 0.045 -> 0.05
        ("1", 5, "30", 4),  # 0.035 -> 0.04
        ("1", 5, "50", 3),  # 0.025 -> 0.03
        ("3", 333, "0", 999),
        ("0.3333", 100, "0", 33),  # 0.33333 -> 0.33
        ("2", 1999, "100", 0),
    ],
)
def test_line_total_rounds_half_up_once(quantity, unit_price_minor, discount, total):
    assert line_total_minor(Decimal(quantity), unit_price_minor, Decimal(discount)) == total


@pytest.mark.parametrize(
    ("total", "rate", "vat"),
    [(27, "20", 5), (23, "5.5", 1), (1000, "20", 200), (1000, "5.5", 55), (45, "10", 5)],
)
def test_line_vat(total, rate, vat):
    assert line_vat_minor(total, Decimal(rate)) == vat


def test_value_is_the_sum_of_the_rounded_line_totals(rep_actor, deal):
    first = add(
        rep_actor, deal, name="Rubans", quantity="1.5", unit_price="0.20", discount_percent=10
    )
    second = add(rep_actor, deal, name="Clous", quantity="1.5", unit_price="0.15", vat_rate="5.5")
    third = add(rep_actor, deal, name="Pose", quantity="1.5", unit_price="0.15", vat_rate="20")
    lines = list(DealLine.objects.filter(deal=deal).values_list("pk", "total_minor", "vat_minor"))
    assert lines == [(first.pk, 27, 0), (second.pk, 23, 1), (third.pk, 23, 5)]
    # 0.27 + 0.23 + 0.23; one rounding of 0.27 + 0.225 + 0.225 would give 0.72.
    assert value_of(deal) == 73
    deal.refresh_from_db()
    assert deal.version == 4  # created, then one bump per line


def test_product_line_takes_price_name_and_vat_from_the_product(rep_actor, deal):
    product = ProductFactory(name="Licence", unit_price_minor=12_000, vat_rate=Decimal("20"))
    line = add(rep_actor, deal, product_id=product.pk, quantity=3)
    line.refresh_from_db()
    assert (line.name, line.unit_price_minor, line.vat_rate) == ("Licence", 12_000, Decimal("20"))
    assert (line.total_minor, line.vat_minor) == (36_000, 7_200)
    assert value_of(deal) == 36_000


def test_product_in_another_currency_needs_a_unit_price(rep_actor, deal, unchanged):
    product = ProductFactory(name="Support US", unit_price_minor=5_000, currency="USD")
    with unchanged(deal, product), pytest.raises(ValidationError) as error:
        add(rep_actor, deal, product_id=product.pk)
    assert error.value.field_errors == {
        "unit_price": "The product is priced in USD and the deal in EUR: give the unit price."
    }
    line = add(rep_actor, deal, product_id=product.pk, unit_price="47.10")
    assert (line.unit_price_minor, line.total_minor) == (4_710, 4_710)
    assert value_of(deal) == 4_710


def test_editing_a_line_recomputes_the_value_and_records_it(rep, rep_actor, deal):
    keep = add(rep_actor, deal, name="Fixe", unit_price="100.00")
    line = add(rep_actor, deal, name="Heures", quantity=10, unit_price="80.00", vat_rate=20)
    assert value_of(deal) == 90_000
    before = history_for("deal", deal.pk).count()
    deal_line_update(actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"quantity": "12.5"})
    line.refresh_from_db()
    assert (line.quantity, line.total_minor, line.vat_minor) == (Decimal("12.5"), 100_000, 20_000)
    assert value_of(deal) == 110_000
    new_rows = list(history_for("deal", deal.pk))[before:]
    assert [(r.event, r.field) for r in new_rows] == [
        ("line_updated", "lines"),
        ("updated", "value_minor"),
    ]
    assert new_rows[0].old_value["total_minor"] == 80_000
    assert new_rows[0].new_value["total_minor"] == 100_000
    assert (new_rows[1].old_value, new_rows[1].new_value) == (90_000, 110_000)
    assert all(r.actor_user_id == rep.pk for r in new_rows)

    deal_line_update(
        actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"discount_percent": 25}
    )
    assert value_of(deal) == 10_000 + 75_000

    deal_line_remove(actor=rep_actor, deal_id=deal.pk, line_id=keep.pk)
    assert value_of(deal) == 75_000
    assert list(DealLine.objects.filter(deal=deal).values_list("pk", flat=True)) == [line.pk]
    assert history_for("deal", deal.pk).last().event == ChangeRecord.Event.UPDATED

    deal_line_remove(actor=rep_actor, deal_id=deal.pk, line_id=line.pk)
    assert value_of(deal) == 0


def test_an_update_changing_nothing_keeps_version_and_history(rep_actor, deal):
    line = add(rep_actor, deal, name="Fixe", unit_price="100.00")
    deal.refresh_from_db()
    version, count = deal.version, ChangeRecord.objects.count()
    deal_line_update(
        actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"unit_price": "100", "quantity": 1}
    )
    deal.refresh_from_db()
    assert (deal.version, ChangeRecord.objects.count()) == (version, count)


def test_setting_the_value_of_a_deal_with_lines_is_refused(rep_actor, deal, unchanged):
    add(rep_actor, deal, name="Fixe", unit_price="100.00")
    deal.refresh_from_db()
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"value": "150.00", "title": "X"})
    assert error.value.field_errors == {
        "value": "The value is the sum of the deal's lines; change the lines instead."
    }
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"currency": "USD"})
    assert list(error.value.field_errors) == ["currency"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "unit_price": "1", "quantity": "-1"}, "quantity"),
        ({"name": "x", "unit_price": "1", "quantity": 0}, "quantity"),
        ({"name": "x", "unit_price": "1", "quantity": "abc"}, "quantity"),
        ({"name": "x", "unit_price": "1", "quantity": True}, "quantity"),
        ({"name": "x", "unit_price": "1", "quantity": "1.23456"}, "quantity"),
        ({"name": "x", "unit_price": "-1"}, "unit_price"),
        ({"name": "x", "unit_price": "0.001"}, "unit_price"),
        ({"name": "x"}, "unit_price"),
        ({"unit_price": "1"}, "name"),
        ({"name": "x", "unit_price": "1", "discount_percent": "100.01"}, "discount_percent"),
        ({"name": "x", "unit_price": "1", "discount_percent": "10.125"}, "discount_percent"),
        ({"name": "x", "unit_price": "1", "vat_rate": "-5"}, "vat_rate"),
        ({"name": "x", "unit_price": "1", "product_id": 10**9}, "product_id"),
        ({"name": "x" * 256, "unit_price": "1"}, "name"),
    ],
)
def test_invalid_lines_are_refused_naming_the_field(rep_actor, deal, unchanged, data, field):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        add(rep_actor, deal, **data)
    assert list(error.value.field_errors) == [field]


def test_refused_line_update_changes_nothing(rep_actor, deal, unchanged):
    line = add(rep_actor, deal, name="Fixe", unit_price="100.00")
    deal.refresh_from_db()
    with unchanged(deal, line), pytest.raises(ValidationError) as error:
        deal_line_update(actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"quantity": "-2"})
    assert list(error.value.field_errors) == ["quantity"]


def test_a_line_of_another_deal_is_not_found(rep, rep_actor, deal, unchanged):
    other = DealFactory(owner=rep)
    line = add(rep_actor, other, name="Ailleurs", unit_price="5")
    with unchanged(deal, other, line), pytest.raises(NotFound):
        deal_line_remove(actor=rep_actor, deal_id=deal.pk, line_id=line.pk)


@pytest.mark.parametrize(
    ("currency", "unit_price", "minor", "refused"),
    [
        ("JPY", "1500", 1500, "1500.5"),
        ("KWD", "1.234", 1234, "1.2345"),
        ("EUR", "1.23", 123, "1.234"),
    ],
)
def test_lines_use_the_deal_currency(rep, rep_actor, currency, unit_price, minor, refused):
    deal = DealFactory(owner=rep, currency=currency)
    line = add(rep_actor, deal, name="x", quantity=2, unit_price=unit_price)
    assert (line.unit_price_minor, value_of(deal)) == (minor, 2 * minor)
    with pytest.raises(ValidationError) as error:
        add(rep_actor, deal, name="y", unit_price=refused)
    assert list(error.value.field_errors) == ["unit_price"]


def test_a_deal_value_beyond_the_largest_amount_is_refused(rep_actor, deal, unchanged):
    """Each line fits, but their sum would overflow 64-bit sums: refused as input, not a
    database error."""
    huge = {"name": "x", "quantity": "1", "unit_price": "600000000000"}
    line = add(rep_actor, deal, **huge)
    assert value_of(deal) == 60_000_000_000_000
    deal.refresh_from_db()
    with unchanged(deal), pytest.raises(ValidationError) as error:
        add(rep_actor, deal, **huge)
    assert error.value.field_errors == {
        "quantity": "The deal's value would exceed 999999999999 EUR."
    }
    with unchanged(deal, line), pytest.raises(ValidationError):
        deal_line_update(
            actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"quantity": "1.7"}
        )
    deal_line_update(actor=rep_actor, deal_id=deal.pk, line_id=line.pk, data={"quantity": "1.5"})
    assert value_of(deal) == 90_000_000_000_000
