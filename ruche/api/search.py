"""Search, as Pipedrive's /deals/search, /persons/search, /organizations/search,
/products/search and /itemSearch, through the same visibility rule as every list."""

import base64
import binascii
from collections.abc import Callable
from typing import Any, Literal

from django.db.models import QuerySet
from ninja import Field, Query, Router, Schema

from ruche.api.schemas import Id
from ruche.catalog.selectors import product_search
from ruche.contacts.selectors import organization_search, person_search
from ruche.core.exceptions import ValidationError
from ruche.core.money import to_major
from ruche.pipelines.selectors import deal_search

router = Router(tags=["Search"])


class SearchParams(Schema):
    term: str = Field(..., min_length=1, max_length=255)
    exact_match: bool = False
    limit: int = Field(100, ge=1, le=500)
    cursor: str | None = Field(None, max_length=100)


class DealSearchParams(SearchParams):
    person_id: Id | None = None
    organization_id: Id | None = None
    status: Literal["open", "won", "lost"] | None = None


class ItemSearchParams(SearchParams):
    item_types: str | None = Field(
        None, max_length=100, description="Comma-separated: deal, person, organization, product"
    )
    limit: int = Field(100, ge=1, le=100)


class SearchHit(Schema):
    result_score: float
    item: dict[str, Any]


class SearchResults(Schema):
    items: list[SearchHit]


class SearchPage(Schema):
    success: bool = True
    data: SearchResults
    additional_data: dict[str, str | None]


def _deal_item(deal) -> dict:
    return {
        "id": deal.pk,
        "type": "deal",
        "title": deal.title,
        "value": to_major(deal.value_minor, deal.currency),
        "currency": deal.currency,
        "status": deal.status,
        "visible_to": deal.visible_to,
        "owner": {"id": deal.owner_id},
        "stage": {"id": deal.stage_id, "name": deal.stage.name},
        "person": {"id": deal.person.pk, "name": deal.person.name} if deal.person else None,
        "organization": {"id": deal.org.pk, "name": deal.org.name} if deal.org else None,
        "custom_fields": [],
        "notes": [],
        "is_archived": False,
    }


def _person_item(person) -> dict:
    return {
        "id": person.pk,
        "type": "person",
        "name": person.name,
        "phones": [p["value"] for p in person.phones],
        "emails": [e["value"] for e in person.emails],
        "visible_to": person.visible_to,
        "owner": {"id": person.owner_id},
        "organization": {"id": person.org.pk, "name": person.org.name} if person.org else None,
        "custom_fields": [],
        "notes": [],
    }


def _organization_item(org) -> dict:
    return {
        "id": org.pk,
        "type": "organization",
        "name": org.name,
        "address": org.address,
        "visible_to": org.visible_to,
        "owner": {"id": org.owner_id},
        "custom_fields": [],
        "notes": [],
    }


def _product_item(product) -> dict:
    return {
        "id": product.pk,
        "type": "product",
        "name": product.name,
        "code": product.code,
        "visible_to": 7,
        "owner": {"id": product.owner_id},
        "custom_fields": [],
    }


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": "Invalid cursor; use next_cursor as given."}) from None


def _check_term(params: SearchParams) -> str:
    term = params.term.strip()
    if len(term) < (1 if params.exact_match else 2):
        raise ValidationError({"term": "At least 2 characters (1 with exact_match)."})
    return term


def _page(
    sources: list[tuple[QuerySet, Callable[[Any], dict], str]], term: str, params: SearchParams
) -> dict:
    """Hits of every source in turn, paged by offset; an exact name match scores 1."""
    start = _offset(params.cursor)
    counts = [queryset.count() for queryset, _, _ in sources]
    hits, source_start = [], 0
    for (queryset, present, name_field), count in zip(sources, counts, strict=True):
        skip = max(start + len(hits) - source_start, 0)
        room = params.limit - len(hits)
        if room and skip < count:
            for row in queryset.order_by("id")[skip : skip + room]:
                exact = str(getattr(row, name_field)).lower() == term.lower()
                hits.append({"result_score": 1.0 if exact else 0.5, "item": present(row)})
        source_start += count
    end = start + len(hits)
    next_cursor = None
    if end < sum(counts):
        next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode().rstrip("=")
    return {
        "success": True,
        "data": {"items": hits},
        "additional_data": {"next_cursor": next_cursor},
    }


@router.get(
    "/deals/search", response=SearchPage, operation_id="searchDeals", summary="Search deals"
)
def search_deals(request, params: Query[DealSearchParams]):
    term = _check_term(params)
    filters = {
        "person_id": params.person_id,
        "org_id": params.organization_id,
        "statuses": [params.status] if params.status else [],
    }
    deals = deal_search(request.auth, term=term, exact=params.exact_match, filters=filters)
    return _page([(deals, _deal_item, "title")], term, params)


def _add_search_route(entity: str, operation_id: str, search, present) -> None:
    @router.get(
        f"/{entity}s/search",
        response=SearchPage,
        operation_id=operation_id,
        summary=f"Search {entity}s",
    )
    def search_entity(request, params: Query[SearchParams]):
        term = _check_term(params)
        found = search(request.auth, term=term, exact=params.exact_match)
        return _page([(found, present, "name")], term, params)


_add_search_route("person", "searchPersons", person_search, _person_item)
_add_search_route("organization", "searchOrganization", organization_search, _organization_item)
_add_search_route(
    "product", "searchProducts", lambda user, **kw: product_search(**kw), _product_item
)


ITEM_TYPES = ("deal", "person", "organization", "product")


@router.get(
    "/itemSearch",
    response=SearchPage,
    operation_id="searchItem",
    summary="Search deals, persons, organizations and products at once",
)
def search_items(request, params: Query[ItemSearchParams]):
    term = _check_term(params)
    types = [t.strip() for t in (params.item_types or ",".join(ITEM_TYPES)).split(",")]
    if set(types) - set(ITEM_TYPES):
        raise ValidationError({"item_types": f"Each type is one of {', '.join(ITEM_TYPES)}."})
    user, exact = request.auth, params.exact_match
    sources = {
        "deal": (deal_search(user, term=term, exact=exact), _deal_item, "title"),
        "person": (person_search(user, term=term, exact=exact), _person_item, "name"),
        "organization": (
            organization_search(user, term=term, exact=exact),
            _organization_item,
            "name",
        ),
        "product": (product_search(term=term, exact=exact), _product_item, "name"),
    }
    return _page([sources[t] for t in ITEM_TYPES if t in types], term, params)
