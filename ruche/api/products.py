"""/products, as in Pipedrive's API v2: one price per product, with its VAT rate as `tax`."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.pagination import PageParams
from ruche.api.schemas import Id, UtcDatetime, comma_ids, shown_custom_fields
from ruche.catalog import selectors, services
from ruche.catalog.models import Product
from ruche.core.exceptions import ValidationError
from ruche.core.money import to_major

router = Router(tags=["Products"])


class PriceOut(Schema):
    product_id: int
    price: Decimal
    currency: str
    cost: Decimal = Decimal(0)
    direct_cost: Decimal | None = None
    notes: str = ""


class ProductOut(Schema):
    id: int
    name: str
    code: str
    unit: str
    tax: Decimal
    is_deleted: bool
    is_linkable: bool
    visible_to: int = 7
    owner_id: int | None
    add_time: dt.datetime
    update_time: dt.datetime
    description: str
    category: str | None = None
    custom_fields: dict[str, Any]
    billing_frequency: str
    billing_frequency_cycles: int | None = None
    prices: list[PriceOut]
    # Ruche's additions
    is_recurring: bool
    version: int

    @staticmethod
    def resolve_tax(product: Product) -> Decimal:
        return product.vat_rate

    @staticmethod
    def resolve_is_linkable(product: Product) -> bool:
        return product.is_active

    @staticmethod
    def resolve_billing_frequency(product: Product) -> str:
        return "monthly" if product.is_recurring else "one-time"

    @staticmethod
    def resolve_prices(product: Product) -> list[dict]:
        return [
            {
                "product_id": product.pk,
                "currency": product.currency,
                "price": to_major(product.unit_price_minor, product.currency),
            }
        ]

    @staticmethod
    def resolve_custom_fields(product: Product, context) -> dict:
        return shown_custom_fields("product", product.custom_fields, context)


class PriceIn(Schema):
    price: Decimal = Field(..., ge=0)
    currency: str = Field(..., max_length=3)
    cost: Decimal | None = None
    direct_cost: Decimal | None = None


class ProductIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    code: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=100_000)
    unit: str | None = Field(None, max_length=32)
    tax: Decimal | None = Field(None, ge=0, le=100, description="VAT rate in percent")
    owner_id: Id | None = None
    is_linkable: bool | None = None
    visible_to: Literal[1, 3, 5, 7] | None = None
    prices: list[PriceIn] | None = Field(
        None, max_length=1, description="Ruche keeps one price per product."
    )
    custom_fields: dict[str, Any] | None = None
    billing_frequency: (
        Literal["one-time", "annually", "semi-annually", "quarterly", "monthly", "weekly"] | None
    ) = None


class ProductCreate(ProductIn):
    name: str = Field(..., min_length=1, max_length=255)


class ProductFilters(PageParams):
    ids: str | None = Field(None, max_length=2000)
    owner_id: Id | None = None
    updated_since: UtcDatetime | None = None
    sort_by: Literal["id", "add_time", "update_time"] = "id"
    sort_direction: Literal["asc", "desc"] = "asc"


def _product_data(data: dict) -> dict:
    """Pipedrive's names (tax, prices, is_linkable, billing_frequency) onto Ruche's."""
    prices = data.pop("prices", None)
    if prices:
        data |= {"unit_price": prices[0]["price"], "currency": prices[0]["currency"]}
    renames = {"tax": "vat_rate", "is_linkable": "is_active"}
    data = {renames.get(key, key): value for key, value in data.items()}
    frequency = data.pop("billing_frequency", None)
    if frequency is not None:
        if frequency not in ("one-time", "monthly"):
            raise ValidationError({"billing_frequency": "Ruche bills products once or monthly."})
        data["is_recurring"] = frequency == "monthly"
    data.pop("visible_to", None)
    return data


PRODUCTS = Resource(
    singular="Product",
    plural="Products",
    path="/products",
    out=ProductOut,
    create_in=ProductCreate,
    update_in=ProductIn,
    filters=ProductFilters,
    list_queryset=lambda user, values: selectors.product_list(
        filters=values | {"ids": comma_ids(values.get("ids"))}
    ),
    load=lambda user, pk: selectors.access_product_by_id(pk),
    create=lambda actor, data: services.product_create(actor=actor, data=_product_data(data)),
    update=lambda actor, pk, data, version: services.product_update(
        actor=actor, product_id=pk, data=_product_data(data), expected_version=version
    ),
    delete=lambda actor, pk: services.product_delete(actor=actor, product_id=pk),
    create_status=201,
)
add_crud_routes(router, PRODUCTS)
