"""/deals and /deals/{id}/products, as Pipedrive's API v2 has them, plus Ruche's fields
(forecast category, revenue type, next step, competitor, VAT on lines, version, history)."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db import transaction
from ninja import Field, Query, Router, Schema, Status

from ruche.api.auth import actor_of
from ruche.api.crud import Resource, add_crud_routes
from ruche.api.history import add_history_route
from ruche.api.pagination import PageParams, SortedPageParams, page_response, paginate
from ruche.api.schemas import (
    DeletedId,
    Id,
    UtcDatetime,
    comma_ids,
    envelope,
    ok,
    shown_custom_fields,
)
from ruche.core.exceptions import ValidationError
from ruche.core.money import to_major
from ruche.core.spreadsheets import download
from ruche.pipelines import services
from ruche.pipelines.models import Deal, DealLine
from ruche.pipelines.selectors import access_deal_by_id, deal_list
from ruche.transfer.exports import deal_rows

router = Router(tags=["Deals"])

Title = Field(None, min_length=1, max_length=255)
Text = Field(None, max_length=100_000)


class DealOut(Schema):
    id: int
    title: str
    creator_user_id: int | None
    owner_id: int
    person_id: int | None
    org_id: int | None
    pipeline_id: Id
    stage_id: int
    value: Decimal
    currency: str
    add_time: dt.datetime
    update_time: dt.datetime
    stage_change_time: dt.datetime | None
    is_deleted: bool
    is_archived: bool = False
    status: str
    probability: int | None
    lost_reason: str | None
    visible_to: int
    close_time: dt.datetime | None
    won_time: dt.datetime | None
    lost_time: dt.datetime | None
    expected_close_date: dt.date | None
    label_ids: list[int]
    origin: str = "API"
    mrr: Decimal | None
    arr: Decimal | None
    acv: Decimal | None
    custom_fields: dict[str, Any]
    # Ruche's additions
    lost_reason_id: int | None
    forecast_category_id: int | None
    source_id: int | None
    next_step: str
    competitor: str
    description: str
    win_loss_report: str
    revenue_type: str
    recurring_monthly: Decimal | None
    recurring_term_months: int | None
    recurring_start_date: dt.date | None
    next_activity_id: int | None
    next_activity_date: dt.date | None
    last_activity_date: dt.date | None
    version: int

    @staticmethod
    def resolve_creator_user_id(deal: Deal) -> int | None:
        return deal.creator_id

    @staticmethod
    def resolve_value(deal: Deal) -> Decimal:
        return to_major(deal.value_minor, deal.currency)

    @staticmethod
    def resolve_lost_reason(deal: Deal) -> str | None:
        return deal.lost_reason.name if deal.lost_reason_id else None

    @staticmethod
    def resolve_label_ids(deal: Deal) -> list[int]:
        return [label.pk for label in deal.labels.all()]

    @staticmethod
    def resolve_recurring_monthly(deal: Deal) -> Decimal | None:
        if deal.recurring_monthly_minor is None:
            return None
        return to_major(deal.recurring_monthly_minor, deal.currency)

    @staticmethod
    def resolve_mrr(deal: Deal) -> Decimal | None:
        return DealOut.resolve_recurring_monthly(deal)

    @staticmethod
    def resolve_arr(deal: Deal) -> Decimal | None:
        monthly = DealOut.resolve_recurring_monthly(deal)
        return None if monthly is None else monthly * 12

    @staticmethod
    def resolve_acv(deal: Deal) -> Decimal | None:
        """Annual contract value: the yearly share of the recurring amount over its term."""
        monthly = DealOut.resolve_recurring_monthly(deal)
        if monthly is None:
            return None
        return monthly * min(deal.recurring_term_months or 12, 12)

    @staticmethod
    def resolve_custom_fields(deal: Deal, context) -> dict:
        return shown_custom_fields("deal", deal.custom_fields, context)


class DealCreate(Schema):
    title: str | None = Title
    owner_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    value: Decimal | None = Field(None, ge=0)
    currency: str | None = Field(None, max_length=3)
    status: Literal["open", "won", "lost"] | None = None
    probability: Decimal | None = Field(None, ge=0, le=100)
    lost_reason: str | None = Field(None, max_length=255)
    visible_to: Literal[1, 3, 5, 7] | None = None
    expected_close_date: dt.date | None = None
    label_ids: list[Id] | None = Field(None, max_length=100)
    custom_fields: dict[str, Any] | None = None
    lost_reason_id: Id | None = None
    forecast_category_id: Id | None = None
    source_id: Id | None = None
    next_step: str | None = Field(None, max_length=500)
    competitor: str | None = Field(None, max_length=255)
    description: str | None = Text
    win_loss_report: str | None = Text
    revenue_type: Literal["one_off", "recurring", "services"] | None = None
    recurring_monthly: Decimal | None = Field(None, ge=0)
    recurring_term_months: int | None = Field(None, ge=1, le=600)
    recurring_start_date: dt.date | None = None


class DealUpdate(DealCreate):
    pass


class DealFilters(SortedPageParams):
    ids: str | None = Field(None, max_length=2000, description="Comma-separated deal ids")
    owner_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    status: str | None = Field(
        None, max_length=40, description="Comma-separated: open, won, lost, deleted"
    )
    updated_since: UtcDatetime | None = None
    updated_until: UtcDatetime | None = None


STATUS_FILTERS = {"open", "won", "lost", "deleted"}


def _selector_filters(values: dict) -> dict:
    """Query parameters as deal_list takes them: status and ids are comma-separated."""
    statuses = [s.strip() for s in (values.get("status") or "").split(",") if s.strip()]
    if set(statuses) - STATUS_FILTERS:
        raise ValidationError({"status": f"Each status is one of {sorted(STATUS_FILTERS)}."})
    return values | {"statuses": statuses, "ids": comma_ids(values.get("ids"))}


DEALS = Resource(
    singular="Deal",
    plural="Deals",
    path="/deals",
    out=DealOut,
    create_in=DealCreate,
    update_in=DealUpdate,
    filters=DealFilters,
    list_queryset=lambda user, values: deal_list(user, filters=_selector_filters(values)),
    load=lambda user, pk: access_deal_by_id(user, pk),
    create=lambda actor, data: services.deal_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.deal_update(
        actor=actor, deal_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.deal_delete(actor=actor, deal_id=pk),
)


# Deal products (lines) -----------------------------------------------------------------------


class DealProductOut(Schema):
    id: int
    deal_id: int
    product_id: int | None
    product_variation_id: Id | None = None
    name: str
    order_nr: int | None
    add_time: dt.datetime
    update_time: dt.datetime
    comments: str
    currency: str
    quantity: Decimal
    item_price: Decimal
    discount: Decimal
    discount_type: str = "percentage"
    tax: Decimal
    tax_method: str = "exclusive"
    sum: Decimal = Field(description="Quantity x item price less the discount, excluding VAT")
    is_enabled: bool = True
    billing_frequency: str = "one-time"
    billing_frequency_cycles: int | None = None
    billing_start_date: dt.date | None = None
    # Ruche's additions
    vat_amount: Decimal
    sum_incl_vat: Decimal

    @staticmethod
    def resolve_currency(line: DealLine) -> str:
        return line.deal.currency

    @staticmethod
    def resolve_item_price(line: DealLine) -> Decimal:
        return to_major(line.unit_price_minor, line.deal.currency)

    @staticmethod
    def resolve_discount(line: DealLine) -> Decimal:
        return line.discount_percent

    @staticmethod
    def resolve_tax(line: DealLine) -> Decimal:
        return line.vat_rate

    @staticmethod
    def resolve_sum(line: DealLine) -> Decimal:
        return to_major(line.total_minor, line.deal.currency)

    @staticmethod
    def resolve_vat_amount(line: DealLine) -> Decimal:
        return to_major(line.vat_minor, line.deal.currency)

    @staticmethod
    def resolve_sum_incl_vat(line: DealLine) -> Decimal:
        return to_major(line.total_minor + line.vat_minor, line.deal.currency)


class DealProductIn(Schema):
    product_id: Id | None = None
    name: str | None = Field(None, min_length=1, max_length=255)
    item_price: Decimal | None = Field(None, ge=0)
    quantity: Decimal | None = Field(None, gt=0, le=Decimal("99999999999"))
    discount: Decimal | None = Field(None, ge=0, le=100)
    discount_type: Literal["percentage"] | None = Field(
        None, description="Only percentage discounts: an amount would be rounded away."
    )
    tax: Decimal | None = Field(None, ge=0, le=100, description="VAT rate in percent")
    tax_method: Literal["exclusive", "none"] | None = Field(
        None, description="Prices exclude VAT; `none` means a 0% rate."
    )
    comments: str | None = Text
    order_nr: int | None = Field(None, ge=0, le=1_000_000)


class DealProductBulkIn(Schema):
    data: list[DealProductIn] = Field(..., min_length=1, max_length=100)


class DealProductFilters(PageParams):
    sort_by: Literal["id", "add_time", "update_time", "order_nr"] = "id"
    sort_direction: Literal["asc", "desc"] = "asc"


class DealsProductsFilters(PageParams):
    deal_ids: str = Field(..., max_length=2000, description="Comma-separated deal ids")


def _line_data(payload: DealProductIn) -> dict:
    given = payload.model_dump(exclude_unset=True)
    data = {
        key: given[key]
        for key in ("product_id", "name", "quantity", "comments", "order_nr")
        if key in given
    }
    for source, target in (
        ("item_price", "unit_price"),
        ("discount", "discount_percent"),
        ("tax", "vat_rate"),
    ):
        if source in given:
            data[target] = given[source]
    if given.get("tax_method") == "none":
        data["vat_rate"] = Decimal(0)
    return data


def _lines(user, deal_ids: list[int]):
    visible = deal_list(user, filters={"ids": deal_ids}).values("pk")
    return DealLine.objects.filter(deal__in=visible).select_related("deal")


@router.get(
    "/deals/products",
    response=envelope(DealProductOut, many=True),
    operation_id="getDealsProducts",
    summary="Get deal products of several deals",
)
def get_deals_products(request, filters: Query[DealsProductsFilters]):
    ids = comma_ids(filters.deal_ids, field="deal_ids") or []
    rows, cursor = paginate(_lines(request.auth, ids), limit=filters.limit, cursor=filters.cursor)
    return page_response(rows, cursor)


@router.get(
    "/deals/{int:id}/products",
    response=envelope(DealProductOut, many=True),
    operation_id="getDealProducts",
    summary="List products attached to a deal",
)
def get_deal_products(request, id: Id, filters: Query[DealProductFilters]):
    access_deal_by_id(request.auth, id)
    rows, cursor = paginate(
        _lines(request.auth, [id]),
        limit=filters.limit,
        cursor=filters.cursor,
        sort_by=filters.sort_by,
        sort_direction=filters.sort_direction,
    )
    return page_response(rows, cursor)


def _line_response(line: DealLine) -> dict:
    return ok(DealLine.objects.select_related("deal").get(pk=line.pk))


@router.post(
    "/deals/{int:id}/products",
    response={201: envelope(DealProductOut)},
    operation_id="addDealProduct",
    summary="Add a product to a deal",
)
def add_deal_product(request, id: Id, payload: DealProductIn):
    line = services.deal_line_add(actor=actor_of(request), deal_id=id, data=_line_data(payload))
    return Status(201, _line_response(line))


@router.post(
    "/deals/{int:id}/products/bulk",
    response={201: envelope(DealProductOut, many=True)},
    operation_id="addManyDealProducts",
    summary="Add several products to a deal",
)
def add_many_deal_products(request, id: Id, payload: DealProductBulkIn):
    with transaction.atomic():
        lines = [
            services.deal_line_add(actor=actor_of(request), deal_id=id, data=_line_data(item))
            for item in payload.data
        ]
    rows = list(DealLine.objects.select_related("deal").filter(pk__in=[x.pk for x in lines]))
    return Status(201, page_response(rows, None))


@router.patch(
    "/deals/{int:id}/products/{int:product_attachment_id}",
    response=envelope(DealProductOut),
    operation_id="updateDealProduct",
    summary="Update a product attached to a deal",
)
def update_deal_product(request, id: Id, product_attachment_id: Id, payload: DealProductIn):
    line = services.deal_line_update(
        actor=actor_of(request), deal_id=id, line_id=product_attachment_id, data=_line_data(payload)
    )
    return _line_response(line)


@router.delete(
    "/deals/{int:id}/products/{int:product_attachment_id}",
    response=envelope(DeletedId),
    operation_id="deleteDealProduct",
    summary="Delete a product attached to a deal",
)
def delete_deal_product(request, id: Id, product_attachment_id: Id):
    services.deal_line_remove(actor=actor_of(request), deal_id=id, line_id=product_attachment_id)
    return ok({"id": product_attachment_id})


@router.get(
    "/deals/export",
    operation_id="exportDeals",
    response={200: None},
    summary="Export the deals you may see, filtered as the list, to CSV",
)
def export_deals(request, filters: Query[DealFilters]):
    return download(deal_rows(request.auth, _selector_filters(filters.model_dump())), "deals")


add_crud_routes(router, DEALS)
add_history_route(router, path="/deals", entity="deal", load=access_deal_by_id)
