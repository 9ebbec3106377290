from decimal import Decimal

import pytest

from ruche.catalog.models import Product
from ruche.catalog.services import product_create, product_delete, product_update
from ruche.core.exceptions import NotFound, PreconditionFailed, ValidationError
from ruche.core.history import Actor, history_for
from ruche.core.models import CustomField


def test_create_with_company_defaults(rep, rep_actor):
    product = product_create(actor=rep_actor, data={"name": "Licence", "unit_price": "49.90"})
    product.refresh_from_db()
    assert (product.unit_price_minor, product.currency, product.vat_rate) == (
        4990,
        "EUR",
        Decimal("20.00"),
    )
    assert (product.owner, product.version, product.is_active) == (rep, 1, True)
    [created] = history_for("product", product.pk)
    assert created.new_value["unit_price_minor"] == 4990


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"unit_price": "-1"}, "unit_price"),
        ({"unit_price": "0.999"}, "unit_price"),
        ({"unit_price": "1.5", "currency": "JPY"}, "unit_price"),
        ({"currency": "ECU"}, "currency"),
        ({"vat_rate": "120"}, "vat_rate"),
        ({"vat_rate": "vingt"}, "vat_rate"),
        ({"vat_rate": True}, "vat_rate"),
        ({"vat_rate": "5.555"}, "vat_rate"),
        ({"name": ""}, "name"),
        ({"owner_id": 10**9}, "owner_id"),
        ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ],
)
def test_invalid_products_are_refused_naming_the_field(rep_actor, unchanged, data, field):
    with unchanged(), pytest.raises(ValidationError) as error:
        product_create(actor=rep_actor, data={"name": "P", "unit_price": "1"} | data)
    assert list(error.value.field_errors) == [field]


def test_update_records_and_versions(rep, rep_actor, unchanged):
    product = product_create(
        actor=rep_actor, data={"name": "Licence", "unit_price": "49.90", "currency": "KWD"}
    )
    assert product.unit_price_minor == 49_900
    product_update(
        actor=rep_actor,
        product_id=product.pk,
        data={"unit_price": "59.995", "vat_rate": "5.5"},
        expected_version=1,
    )
    product.refresh_from_db()
    assert (product.unit_price_minor, product.vat_rate, product.version) == (
        59_995,
        Decimal("5.5"),
        2,
    )
    assert [(r.field, r.old_value, r.new_value) for r in history_for("product", product.pk)][
        1:
    ] == [("unit_price_minor", 49_900, 59_995), ("vat_rate", "20.00", "5.5")]
    with unchanged(product), pytest.raises(PreconditionFailed):
        product_update(
            actor=rep_actor, product_id=product.pk, data={"name": "X"}, expected_version=1
        )


def test_changing_the_currency_keeps_the_price(rep_actor, unchanged):
    product = product_create(actor=rep_actor, data={"name": "Licence", "unit_price": "1500"})
    product_update(actor=rep_actor, product_id=product.pk, data={"currency": "JPY"})
    product.refresh_from_db()
    assert (product.currency, product.unit_price_minor) == ("JPY", 1500)
    cents = product_create(actor=rep_actor, data={"name": "Option", "unit_price": "9.99"})
    with unchanged(cents), pytest.raises(ValidationError) as error:
        product_update(actor=rep_actor, product_id=cents.pk, data={"currency": "JPY"})
    assert error.value.field_errors == {"unit_price": "JPY amounts have at most 0 decimals."}


def test_a_job_can_create_a_product_without_owner(db):
    product = product_create(
        actor=Actor.for_job("catalog sync"), data={"name": "Importé", "unit_price": "10"}
    )
    assert (product.owner, product.unit_price_minor) == (None, 1000)


def test_custom_fields_on_products(rep_actor):
    CustomField.objects.create(entity="product", key="ean", name="EAN", field_type="text")
    product = product_create(
        actor=rep_actor, data={"name": "Boîte", "custom_fields": {"ean": "3017620422003"}}
    )
    assert product.custom_fields == {"ean": "3017620422003"}


def test_delete_is_soft(rep_actor):
    product = product_create(actor=rep_actor, data={"name": "Ancien"})
    product_delete(actor=rep_actor, product_id=product.pk)
    assert Product.objects.get(pk=product.pk).is_deleted
    with pytest.raises(NotFound):
        product_update(actor=rep_actor, product_id=product.pk, data={"name": "Revenu"})
    with pytest.raises(NotFound):
        product_delete(actor=rep_actor, product_id=product.pk)
