"""Ruche's additions: users (for owner ids), the admin's lookup lists (sources, loss reasons,
forecast categories, labels) and the dated exchange rates used for totals."""

from decimal import Decimal
from typing import Literal

from ninja import Field, Query, Router, Schema

from ruche.accounts.models import User
from ruche.api.auth import actor_of
from ruche.api.pagination import PageParams, page_response, paginate
from ruche.api.schemas import envelope, ok
from ruche.core import currency
from ruche.core.models import ExchangeRate, Lookup

router = Router(tags=["Users, lists and exchange rates"])

LookupKind = Literal["source", "loss_reason", "forecast_category", "label", "industry"]


class UserOut(Schema):
    id: int
    name: str
    email: str
    role: str
    team_id: int | None
    active_flag: bool

    @staticmethod
    def resolve_active_flag(user: User) -> bool:
        return user.is_active


class LookupOut(Schema):
    id: int
    kind: str
    name: str
    order_nr: int
    color: str
    is_active: bool


class LookupFilters(PageParams):
    kind: LookupKind | None = None


class ExchangeRateOut(Schema):
    id: int
    currency: str
    quote_currency: str
    valid_from: str
    rate: Decimal

    @staticmethod
    def resolve_valid_from(rate: ExchangeRate) -> str:
        return rate.valid_from.isoformat()


class ExchangeRateIn(Schema):
    currency: str = Field(..., max_length=3)
    valid_from: str = Field(..., max_length=10, description="YYYY-MM-DD")
    rate: Decimal = Field(..., gt=0, max_digits=24, decimal_places=12)


@router.get(
    "/users",
    response=envelope(UserOut, many=True),
    operation_id="getUsers",
    summary="Get all users",
)
def list_users(request, page: Query[PageParams]):
    rows, cursor = paginate(
        User.objects.filter(is_active=True), limit=page.limit, cursor=page.cursor
    )
    return page_response(rows, cursor)


@router.get(
    "/lookups",
    response=envelope(LookupOut, many=True),
    operation_id="getLookups",
    summary="Get the configurable lists: sources, loss reasons, forecast categories, labels",
)
def list_lookups(request, filters: Query[LookupFilters]):
    lookups = Lookup.objects.all()
    if filters.kind:
        lookups = lookups.filter(kind=filters.kind)
    rows, cursor = paginate(lookups, limit=filters.limit, cursor=filters.cursor)
    return page_response(rows, cursor)


@router.get(
    "/exchangeRates",
    response=envelope(ExchangeRateOut, many=True),
    operation_id="getExchangeRates",
    summary="Get the dated exchange rates",
)
def list_rates(request, page: Query[PageParams]):
    rows, cursor = paginate(ExchangeRate.objects.all(), limit=page.limit, cursor=page.cursor)
    return page_response(rows, cursor)


@router.post(
    "/exchangeRates",
    response=envelope(ExchangeRateOut),
    operation_id="addExchangeRate",
    summary="Set the rate of a currency into the company currency from a date",
)
def add_rate(request, payload: ExchangeRateIn):
    rate = currency.exchange_rate_set(
        actor=actor_of(request),
        currency=payload.currency,
        valid_from=payload.valid_from,
        rate=payload.rate,
    )
    return ok(rate)
