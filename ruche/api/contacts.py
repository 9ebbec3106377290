"""/persons and /organizations, as in Pipedrive's API v2, plus SIREN/SIRET/VAT numbers."""

import datetime as dt
from typing import Any, Literal

from ninja import Field, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.history import add_history_route
from ruche.api.pagination import SortedPageParams
from ruche.api.schemas import Id, UtcDatetime, comma_ids, shown_custom_fields
from ruche.contacts import selectors, services
from ruche.contacts.models import Organization, Person

router = Router(tags=["Persons and organizations"])

Name = Field(None, min_length=1, max_length=255)
Visibility = Literal[1, 3, 5, 7]


class ContactPoint(Schema):
    value: str = Field(..., max_length=255)
    primary: bool = False
    label: str = Field("work", max_length=32)


class Address(Schema):
    value: str | None = Field(None, max_length=500)
    country: str | None = Field(None, max_length=2, description="ISO 3166 alpha-2 code")
    locality: str | None = Field(None, max_length=120)
    postal_code: str | None = Field(None, max_length=20)
    route: str | None = Field(None, max_length=255)
    street_number: str | None = Field(None, max_length=20)
    admin_area_level_1: str | None = Field(None, max_length=120)
    admin_area_level_2: str | None = Field(None, max_length=120)
    sublocality: str | None = Field(None, max_length=120)
    subpremise: str | None = Field(None, max_length=60)


class OwnedOut(Schema):
    id: int
    name: str
    owner_id: int
    add_time: dt.datetime
    update_time: dt.datetime
    is_deleted: bool
    visible_to: int
    label_ids: list[int] = []
    custom_fields: dict[str, Any]
    version: int


class PersonOut(OwnedOut):
    first_name: str
    last_name: str
    org_id: int | None
    emails: list[ContactPoint]
    phones: list[ContactPoint]
    job_title: str

    @staticmethod
    def resolve_custom_fields(person: Person, context) -> dict:
        return shown_custom_fields("person", person.custom_fields, context)


class OrganizationOut(OwnedOut):
    address: Address
    siren: str
    siret: str
    vat_number: str
    industry: str
    size: str
    source_id: int | None

    @staticmethod
    def resolve_address(org: Organization) -> dict:
        return {
            "value": org.address,
            "country": org.country,
            "locality": org.city,
            "postal_code": org.postal_code,
        }

    @staticmethod
    def resolve_custom_fields(org: Organization, context) -> dict:
        return shown_custom_fields("organization", org.custom_fields, context)


class OwnedIn(Schema):
    owner_id: Id | None = None
    visible_to: Visibility | None = None
    custom_fields: dict[str, Any] | None = None


class PersonIn(OwnedIn):
    name: str | None = Name
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    org_id: Id | None = None
    emails: list[ContactPoint | str] | None = Field(None, max_length=20)
    phones: list[ContactPoint | str] | None = Field(None, max_length=20)
    job_title: str | None = Field(None, max_length=255)


class OrganizationIn(OwnedIn):
    name: str | None = Name
    address: Address | None = None
    siren: str | None = Field(None, max_length=20)
    siret: str | None = Field(None, max_length=20)
    vat_number: str | None = Field(None, max_length=20)
    industry: str | None = Field(None, max_length=120)
    size: Literal["1-9", "10-49", "50-249", "250-4999", "5000+", ""] | None = None
    source_id: Id | None = None


class OrganizationCreate(OrganizationIn):
    name: str = Field(..., min_length=1, max_length=255)


class ContactFilters(SortedPageParams):
    ids: str | None = Field(None, max_length=2000)
    owner_id: Id | None = None
    updated_since: UtcDatetime | None = None
    updated_until: UtcDatetime | None = None


class PersonFilters(ContactFilters):
    org_id: Id | None = None
    deal_id: Id | None = None


def _organization_data(data: dict) -> dict:
    """Pipedrive's address object onto Ruche's address columns."""
    address = data.pop("address", None)
    if address is not None:
        data |= {
            "address": address.get("value") or "",
            "city": address.get("locality") or "",
            "postal_code": address.get("postal_code") or "",
            "country": address.get("country") or "",
        }
    return data


def _filters(values: dict) -> dict:
    return values | {"ids": comma_ids(values.get("ids"))}


PERSONS = Resource(
    singular="Person",
    plural="Persons",
    path="/persons",
    out=PersonOut,
    create_in=PersonIn,
    update_in=PersonIn,
    filters=PersonFilters,
    list_queryset=lambda user, values: selectors.person_list(user, filters=_filters(values)),
    load=selectors.access_person_by_id,
    create=lambda actor, data: services.person_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.person_update(
        actor=actor, person_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.person_delete(actor=actor, person_id=pk),
)
ORGANIZATIONS = Resource(
    singular="Organization",
    plural="Organizations",
    path="/organizations",
    out=OrganizationOut,
    create_in=OrganizationCreate,
    update_in=OrganizationIn,
    filters=ContactFilters,
    list_queryset=lambda user, values: selectors.organization_list(user, filters=_filters(values)),
    load=selectors.access_organization_by_id,
    create=lambda actor, data: services.organization_create(
        actor=actor, data=_organization_data(data)
    ),
    update=lambda actor, pk, data, version: services.organization_update(
        actor=actor, organization_id=pk, data=_organization_data(data), expected_version=version
    ),
    delete=lambda actor, pk: services.organization_delete(actor=actor, organization_id=pk),
)

add_crud_routes(router, PERSONS)
add_crud_routes(router, ORGANIZATIONS)
add_history_route(router, path="/persons", entity="person", load=selectors.access_person_by_id)
add_history_route(
    router, path="/organizations", entity="organization", load=selectors.access_organization_by_id
)
