from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from ruche.accounts.models import Company
from ruche.catalog.models import Product
from ruche.core.custom_fields import clean_custom_fields
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor
from ruche.core.money import to_major, to_minor, validate_currency
from ruche.core.services import create_recorded, lock, resolve_user, save_changes, soft_delete

PRODUCT_FIELDS = (
    "name",
    "code",
    "description",
    "unit",
    "unit_price_minor",
    "currency",
    "vat_rate",
    "is_recurring",
    "is_active",
    "owner",
    "custom_fields",
)
INPUT_NAMES = {"unit_price_minor": "unit_price", "owner": "owner_id"}


def _vat_rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        rate = None
    if isinstance(value, bool) or rate is None or not Decimal(0) <= rate <= Decimal(100):
        raise ValidationError({"vat_rate": f"A rate between 0 and 100 is expected, not {value!r}."})
    return rate


def _product_values(data: dict[str, Any], actor: Actor, product: Product | None) -> dict:
    values = {
        k: data[k]
        for k in ("name", "code", "description", "unit", "is_recurring", "is_active")
        if k in data
    }
    currency = product.currency if product else Company.current().currency
    if data.get("currency") is not None or product is None:
        currency = values["currency"] = validate_currency(data.get("currency") or currency)
    if product is not None and currency != product.currency and data.get("unit_price") is None:
        # The price keeps its meaning in major units: 1500.00 EUR becomes 1500 JPY.
        major = to_major(product.unit_price_minor, product.currency)
        values["unit_price_minor"] = to_minor(major, currency, field="unit_price")
    if data.get("unit_price") is not None:
        values["unit_price_minor"] = to_minor(data["unit_price"], currency, field="unit_price")
        if values["unit_price_minor"] < 0:
            raise ValidationError({"unit_price": "A price cannot be negative."})
    if data.get("vat_rate") is not None:
        values["vat_rate"] = _vat_rate(data["vat_rate"])
    if "owner_id" in data or product is None:
        # A job or an import without a user may leave the product without owner.
        values["owner"] = resolve_user(data.get("owner_id") or (actor.user and actor.user.pk))
    if "custom_fields" in data:
        values["custom_fields"] = clean_custom_fields(
            "product", data["custom_fields"] or {}, product.custom_fields if product else None
        )
    return values


@transaction.atomic
def product_create(*, actor: Actor, data: dict[str, Any]) -> Product:
    return create_recorded(
        Product(),
        entity="product",
        actor=actor,
        values=_product_values(data, actor, None),
        renamed=INPUT_NAMES,
    )


@transaction.atomic
def product_update(
    *, actor: Actor, product_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Product:
    product = lock(
        Product.objects.filter(is_deleted=False),
        product_id,
        label="Product",
        expected_version=expected_version,
    )
    save_changes(
        product,
        entity="product",
        actor=actor,
        values=_product_values(data, actor, product),
        fields=PRODUCT_FIELDS,
        renamed=INPUT_NAMES,
    )
    return product


@transaction.atomic
def product_delete(*, actor: Actor, product_id: int) -> None:
    soft_delete(Product.objects.filter(is_deleted=False), product_id, entity="product", actor=actor)
